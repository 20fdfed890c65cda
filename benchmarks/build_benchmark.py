"""The build benchmark: time and peak memory of an offline build at several sizes.

For each size a synthetic cache is generated (:mod:`benchmarks.synthetic_cache`),
then the build (load, analyse, render; fetch skipped) runs in a fresh Python
process and so does the DuckDB yardstick, each reporting its own peak resident
memory. The figures all three computed (on-demand requests and exact cost) are
compared: a fast build that adds up wrong is no result.

Each build is measured twice: first with no month summaries (every event
decoded, as the first build after a fetch of every month), then again with the
summaries that build left (as the next monthly build, where the past months'
cache files have not changed).
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable

import orjson

from billing_reports import month_summary
from billing_reports.months import Month, months_in_range

from .memory import TreeMemorySampler
from .synthetic_cache import generate_cache

REPOSITORY = Path(__file__).resolve().parent.parent
#: Cache months end here: long past, so every month is complete.
END_MONTH = Month(2026, 1)


class WorkerFailed(RuntimeError):
    """A measuring subprocess exited with an error."""


@dataclass(frozen=True)
class BuildRun:
    """One size: what was generated, what the build and DuckDB measured and computed."""

    events: int
    months: int
    generate_seconds: float
    cache_bytes: int
    largest_month_bytes: int
    expected_requests: int
    expected_cost: int
    build: dict[str, Any]
    duckdb: dict[str, Any] | None
    #: The same build again, every month read from the summary the first one left.
    again: dict[str, Any] | None = None

    @property
    def build_seconds(self) -> float:
        return self.build["seconds"]

    @property
    def cpu_seconds(self) -> float:
        """CPU seconds of the build (wall seconds when the worker did not say)."""
        return self.build.get("cpu_seconds", self.build["seconds"])

    @property
    def working_memory_kib(self) -> int:
        """Peak resident memory above what the process held after its imports."""
        return self.build["peak_rss_kib"] - self.build.get("import_rss_kib", 0)

    @property
    def phase(self) -> dict[str, float | None]:
        return self.build["phases"]

    @property
    def agree(self) -> bool:
        """Both builds (and DuckDB, when run) found exactly the generated requests and cost."""
        runs = [self.build] + [run for run in (self.again, self.duckdb) if run]
        return all(
            run["requests"] == self.expected_requests and run["cost"] == self.expected_cost
            for run in runs
        )


def write_config(work_dir: Path, data_dir: Path, site_dir: Path) -> Path:
    """A config.yaml for an offline build of ``data_dir`` into ``site_dir``."""
    config = work_dir / "config.yaml"
    config.write_text(
        f"paths:\n  data_dir: {orjson.dumps(str(data_dir)).decode()}\n"
        f"  site_dir: {orjson.dumps(str(site_dir)).decode()}\n",
        encoding="utf-8",
    )
    return config


def run_worker(*arguments: str) -> dict[str, Any]:
    """Run ``python -m benchmarks.worker ARGUMENTS`` in a fresh process; return its JSON line.

    ``peak_rss_kib`` becomes the peak PSS of the worker's whole process tree (the loader may decode
    in worker processes), sampled from /proc. The worker's own ``ru_maxrss`` is kept as
    ``self_peak_rss_kib`` for information only: Linux carries the high-water mark across fork and
    exec, so it starts at this harness's resident size and overstates a small build.
    """
    environment = dict(os.environ)
    environment["PYTHONPATH"] = os.pathsep.join(
        [str(REPOSITORY), *filter(None, [environment.get("PYTHONPATH")])]
    )
    process = subprocess.Popen(
        [sys.executable, "-m", "benchmarks.worker", *arguments],
        cwd=REPOSITORY,
        env=environment,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    with TreeMemorySampler(process.pid) as sampler:
        stdout, stderr = process.communicate()
    lines = stdout.strip().splitlines()
    if process.returncode != 0 or not lines:
        detail = (stderr.strip().splitlines() or ["no output"])[-1]
        raise WorkerFailed(f"benchmark worker {arguments[0]} failed ({process.returncode}): {detail}")
    result = orjson.loads(lines[-1])
    result["self_peak_rss_kib"] = result["peak_rss_kib"]
    result["peak_rss_kib"] = sampler.peak_kib
    return result


def _start_clean(site_dir: Path, rebuild: bool) -> None:
    """Each build into an empty site directory (unless ``rebuild``), with no other writes pending:
    the cache just generated and the sites just removed are flushed first, not during the build."""
    if not rebuild:
        shutil.rmtree(site_dir, ignore_errors=True)
    os.sync()


def _stamps(directory: Path) -> dict[str, int]:
    return {path.name: path.stat().st_mtime_ns for path in directory.glob("*.json")}


def _wait_until_settled(data_dir: Path) -> None:
    """Wait until the cache files just written are old enough to be summarised."""
    newest = max(max(stat.st_mtime, stat.st_ctime) for stat in (path.stat() for path in data_dir.glob("*.json")))
    time.sleep(max(0.0, newest + month_summary.SETTLE_SECONDS + 0.1 - time.time()))


def best_of(results: list[dict[str, Any]]) -> dict[str, Any]:
    """The fastest of repeated measurements, with the highest peak memory any of them reached.

    On a shared machine the fastest run is the one least disturbed by others;
    memory does not get better by being lucky, so its worst case is kept.
    """
    fastest = dict(min(results, key=lambda result: result["seconds"]))
    fastest["peak_rss_kib"] = max(result["peak_rss_kib"] for result in results)
    fastest["repeats"] = len(results)
    return fastest


def run_build_benchmark(
    sizes: list[int],
    work_dir: Path,
    *,
    repeat: int = 1,
    months: int = 6,
    users: int = 1000,
    models: int = 30,
    with_duckdb: bool = True,
    rebuild: bool = False,
    keep: bool = False,
    progress: Callable[[str], None] = lambda message: None,
) -> list[BuildRun]:
    """Generate, build and measure each size in turn (a size's cache is removed after it unless ``keep``).

    Each measurement runs ``repeat`` times in fresh processes; :func:`best_of` keeps the fastest.
    ``rebuild``: time a build that replaces an existing site (the old one is removed) instead of
    the first build into an empty ``site_dir``.
    """
    if repeat < 1:
        raise ValueError("repeat must be at least 1")
    month_range = months_in_range(END_MONTH, months)
    runs = []
    for events in sizes:
        size_dir = work_dir / f"build-{events}"
        data_dir, site_dir = size_dir / "monthly_usage_data", size_dir / "site"
        shutil.rmtree(size_dir, ignore_errors=True)
        size_dir.mkdir(parents=True)
        progress(f"generating {events:,} events over {months} months")
        started = time.perf_counter()
        generated = generate_cache(data_dir, month_range, events, users=users, models=models)
        generate_seconds = time.perf_counter() - started
        config = write_config(size_dir, data_dir, site_dir)
        _wait_until_settled(data_dir)
        summaries = data_dir / month_summary.SUMMARY_DIR
        build_arguments = ("build", str(config), END_MONTH.key, str(months), *(["rebuild"] if rebuild else []))
        builds, agains, duckdbs = [], [], []
        for attempt in range(1, repeat + 1):
            of = f" ({attempt}/{repeat})" if repeat > 1 else ""
            progress(f"building {events:,} events in a fresh process{of}")
            shutil.rmtree(summaries, ignore_errors=True)
            _start_clean(site_dir, rebuild)
            builds.append(run_worker(*build_arguments))
            left = _stamps(summaries)
            if len(left) != months:
                raise WorkerFailed(f"the build left {len(left)} month summaries, not {months}")
            progress(f"building {events:,} events again, from the month summaries{of}")
            _start_clean(site_dir, rebuild)
            agains.append(run_worker(*build_arguments))
            if _stamps(summaries) != left:
                raise WorkerFailed("the build again decoded a month instead of reading its summary")
            if with_duckdb:
                progress(f"DuckDB over {events:,} events in a fresh process{of}")
                duckdbs.append(run_worker("duckdb", str(data_dir)))
        build = best_of(builds)
        duckdb = best_of(duckdbs) if duckdbs else None
        runs.append(
            BuildRun(
                events=events,
                months=months,
                generate_seconds=generate_seconds,
                cache_bytes=generated.size_bytes,
                largest_month_bytes=max(month.size_bytes for month in generated.months),
                expected_requests=generated.on_demand_events,
                expected_cost=generated.on_demand_cost,
                build=build,
                duckdb=duckdb,
                again=best_of(agains),
            )
        )
        if not keep:
            shutil.rmtree(size_dir, ignore_errors=True)
    return runs
