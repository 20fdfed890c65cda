"""Runs the benchmarks and turns their figures into the printed tables and verdicts."""

from __future__ import annotations

from pathlib import Path
from typing import Callable

from .build_benchmark import BuildRun, run_build_benchmark
from .figures import (
    MEGABYTE,
    Verdict,
    format_number,
    format_table,
    marginal_seconds_per_million,
    kilobytes_to_megabytes,
    ratio,
    seconds_per_million,
    size_label,
    steepening,
)

#: The issue's targets on the 2-core benchmark machine. A cold build of 1M events over several
#: months (every event decoded, the site rendered) against DuckDB aggregating the same files per
#: (UTC day, user, model) in the same run, and its peak memory (the whole process tree):
TARGET_EVENTS = 1_000_000
TARGET_BUILD_PER_DUCKDB = 0.6
TARGET_PEAK_MB = 300.0
#: The same 1M events built again from the month summaries the cold build left.
TARGET_AGAIN_SECONDS = 2.0
#: One month of 2M events (``--months 1 --sizes 2M``): a month file is decoded in slices, so
#: peak memory does not grow with a month's size.
MONTH_TARGET_EVENTS = 2_000_000
MONTH_TARGET_PEAK_MB = 400.0
#: Time "grows linearly" when no size costs more than this much more per event than another.
LINEAR_SPREAD = 1.25

Progress = Callable[[str], None]


def build_table(runs: list[BuildRun]) -> str:
    """The build figures, one row per size."""
    headers = ["events", "cache MB", "users", "files", "load s", "analyse s", "render s", "build s", "CPU s", "s per 1M",
               "peak MB", "again s", "DuckDB s", "DuckDB MB", "load/DuckDB", "build/DuckDB", "sums agree"]
    rows = []
    for run in runs:
        duck = run.duckdb
        rows.append([
            size_label(run.events),
            format_number(run.cache_bytes / MEGABYTE, 0),
            format_number(run.build.get("users")),
            format_number(run.build.get("site_files")),
            format_number(run.phase.get("load")),
            format_number(run.phase.get("analyse")),
            format_number(run.phase.get("render")),
            format_number(run.build_seconds),
            format_number(run.build.get("cpu_seconds")),
            format_number(seconds_per_million(run.build_seconds, run.events)),
            format_number(kilobytes_to_megabytes(run.build["peak_rss_kib"]), 0),
            format_number(run.again["seconds"]) if run.again else "-",
            format_number(duck["seconds"]) if duck else "-",
            format_number(kilobytes_to_megabytes(duck["peak_rss_kib"]), 0) if duck else "-",
            format_number(ratio(run.phase.get("load") or 0.0, duck["seconds"])) if duck else "-",
            format_number(ratio(run.build_seconds, duck["seconds"])) if duck else "-",
            "yes" if run.agree else "NO",
        ])
    return format_table(headers, rows)


def build_verdicts(runs: list[BuildRun]) -> list[Verdict]:
    """The issue's targets, for the sizes that were run."""
    verdicts = []
    for run in runs:
        peak = kilobytes_to_megabytes(run.build["peak_rss_kib"])
        if run.events == TARGET_EVENTS and run.months > 1:
            if run.duckdb:
                per_duckdb = ratio(run.build_seconds, run.duckdb["seconds"])
                verdicts.append(Verdict(
                    f"1M events built in at most {TARGET_BUILD_PER_DUCKDB:g} x DuckDB's (day, user, model) "
                    "aggregation", f"{run.build_seconds:.2f} s vs {run.duckdb['seconds']:.2f} s (x{per_duckdb:.2f})",
                    per_duckdb <= TARGET_BUILD_PER_DUCKDB,
                ))
            verdicts.append(Verdict(f"1M events in at most {TARGET_PEAK_MB:,.0f} MB peak", f"{peak:,.0f} MB",
                                    peak <= TARGET_PEAK_MB))
            if run.again:
                again = run.again["seconds"]
                verdicts.append(Verdict(f"1M events rebuilt from month summaries in at most {TARGET_AGAIN_SECONDS:g} s",
                                        f"{again:.2f} s", again <= TARGET_AGAIN_SECONDS))
        if run.events == MONTH_TARGET_EVENTS and run.months == 1:
            verdicts.append(Verdict(f"one month of 2M events in at most {MONTH_TARGET_PEAK_MB:,.0f} MB peak",
                                    f"{peak:,.0f} MB", peak <= MONTH_TARGET_PEAK_MB))
    ordered = sorted(runs, key=lambda run: run.events)
    if len(ordered) > 2:
        marginals = marginal_seconds_per_million([(run.events, run.cpu_seconds) for run in ordered])
        verdicts.append(Verdict(
            f"time at most linear in events (CPU s per extra 1M never rises over x{LINEAR_SPREAD:g})",
            "CPU s per extra 1M: " + ", ".join(
                f"{size_label(a.events)}->{size_label(b.events)} {m:.2f}"
                for a, b, m in zip(ordered, ordered[1:], marginals)
            ) + f" (x{steepening(marginals):.2f})",
            steepening(marginals) <= LINEAR_SPREAD,
        ))
    verdicts.append(Verdict(
        "every run adds up to the generated requests and cost",
        ", ".join(f"{size_label(run.events)} {'yes' if run.agree else 'NO'}" for run in runs),
        all(run.agree for run in runs),
    ))
    return verdicts


def build_report(
    work_dir: Path,
    sizes: list[int],
    *,
    repeat: int,
    months: int,
    users: int,
    models: int,
    with_duckdb: bool,
    rebuild: bool,
    keep: bool,
    progress: Progress,
) -> str:
    runs = run_build_benchmark(sizes, work_dir, repeat=repeat, months=months, users=users, models=models,
                               with_duckdb=with_duckdb, rebuild=rebuild, keep=keep, progress=progress)
    what = "Rebuild over an existing site" if rebuild else "Build from the cache"
    title = (f"{what}, fetch skipped ({months} months, {users:,} users, {models} models; "
             f"each size and DuckDB in a fresh process, best of {repeat})")
    lines = [title, "", build_table(runs),
             "build s: no month summaries, every event decoded; again s: the same build once more, every month "
             "read from the summary the first left (a monthly build whose past months did not change)", ""]
    lines += [verdict.line() for verdict in build_verdicts(runs)]
    return "\n".join(lines)


def fetch_report(work_dir: Path, *, events: int, rate_limit: int, delay: float, page_size: int,
                 progress: Progress) -> str:
    from .fetch_benchmark import fetch_table

    return fetch_table(work_dir, events=events, rate_limit=rate_limit, delay=delay,
                       page_size=page_size, progress=progress)
