"""One measurement in a fresh process, so that its peak memory is its own.

``python -m benchmarks.worker build CONFIG END_MONTH MONTHS_BACK [rebuild]`` builds
the site from the cache alone (load, analyse, render; no fetch; with ``rebuild``
the timed build replaces a site built just before) and
``python -m benchmarks.worker duckdb DATA_DIR`` runs the DuckDB yardstick. Each
prints one JSON object on its last stdout line: the phase times in seconds, the
figures it computed (so the harness can check that everyone agrees) and the
process's own peak resident memory (``ru_maxrss``, KiB; its children's largest
separately; the harness samples the whole process tree itself) plus its memory
after imports, before any work. CPU seconds include finished children.
"""

from __future__ import annotations

import os
import resource
import sys
import time
from pathlib import Path
from typing import Any

import orjson


def peak_rss_kib() -> int:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss


def cpu_seconds() -> float:
    """User plus system CPU time of this process and its finished children (a loader's worker pool):
    less disturbed than wall time by other work on the machine."""
    total = 0.0
    for who in (resource.RUSAGE_SELF, resource.RUSAGE_CHILDREN):
        usage = resource.getrusage(who)
        total += usage.ru_utime + usage.ru_stime
    return total


def children_peak_rss_kib() -> int:
    """The largest ``ru_maxrss`` of this process's finished children (0 without children)."""
    return resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss


def current_rss_kib() -> int:
    """This process's memory now (PSS, like the harness's samples of the process tree)."""
    from benchmarks.memory import process_memory_kib

    return process_memory_kib(os.getpid())


def measure_build(config_path: Path, end_month: str, months_back: int, *, rebuild: bool = False) -> dict[str, Any]:
    """Time ``pipeline.build(offline=True)`` and its phases: load, analyse, render.

    The real build function runs; its three steps are wrapped (in this process
    only) to time each of them. ``rebuild``: build once untimed first, then time
    a second build that replaces the first site, as every build after the first does.
    """
    from billing_reports import analysis, pipeline, site
    from billing_reports.months import Month, months_in_range
    from billing_reports.settings import load_settings

    import_rss = current_rss_kib()
    settings = load_settings(config_path)
    months = months_in_range(Month.parse(end_month), months_back)
    #: Seconds per phase; ``None`` when the build never called that step (the pipeline changed).
    phases: dict[str, float | None] = {"load": None, "analyse": None, "render": None}

    def timed(phase: str, function):
        def wrapper(*args, **kwargs):
            started = time.perf_counter()
            try:
                return function(*args, **kwargs)
            finally:
                phases[phase] = (phases[phase] or 0.0) + time.perf_counter() - started

        return wrapper

    # Wrap each step where the build looks it up: the pipeline's own namespace when it
    # imported the name, else the module that calls it (analysis.prepared_usage loads). The render
    # is what the site takes once the plugins are done (SiteUnderWay.finish): the user and model
    # pages are begun by a second process while they run.
    for phase, name, owner in (("load", "load_usage", analysis), ("analyse", "run_sections", analysis),
                               ("render", "finish", site.SiteUnderWay)):
        namespace = pipeline if hasattr(pipeline, name) else owner
        setattr(namespace, name, timed(phase, getattr(namespace, name)))

    if rebuild:
        pipeline.build(settings, months, offline=True)
        phases.update(dict.fromkeys(phases))
    cpu_before = cpu_seconds()
    started = time.perf_counter()
    result = pipeline.build(settings, months, offline=True)
    seconds = time.perf_counter() - started
    cpu = cpu_seconds() - cpu_before
    total = result.usage.total
    site_files = [path for path in Path(settings.site_dir).rglob("*") if path.is_file()]
    return {
        "phases": phases,
        "seconds": seconds,
        "cpu_seconds": cpu,
        "requests": total.requests,
        "cost": total.cost,
        "users": len(result.usage.user_names),
        "models": len(result.usage.model_names),
        "sections": result.section_count,
        "site_files": len(site_files),
        "site_bytes": sum(path.stat().st_size for path in site_files),
        "import_rss_kib": import_rss,
        "peak_rss_kib": peak_rss_kib(),
        "children_peak_rss_kib": children_peak_rss_kib(),
    }


def measure_duckdb(data_dir: Path) -> dict[str, Any]:
    from benchmarks.duckdb_yardstick import run_yardstick

    import_rss = current_rss_kib()
    result = run_yardstick(data_dir)
    return {
        "seconds": result.seconds,
        "requests": result.requests,
        "cost": result.cost,
        "day_rows": result.day_rows,
        "user_month_rows": result.user_month_rows,
        "model_month_rows": result.model_month_rows,
        "import_rss_kib": import_rss,
        "peak_rss_kib": peak_rss_kib(),
    }


def main(argv: list[str]) -> int:
    if len(argv) in (4, 5) and argv[0] == "build" and argv[4:] in ([], ["rebuild"]):
        result = measure_build(Path(argv[1]), argv[2], int(argv[3]), rebuild=argv[4:] == ["rebuild"])
    elif len(argv) == 2 and argv[0] == "duckdb":
        result = measure_duckdb(Path(argv[1]))
    else:
        print(
            "usage: python -m benchmarks.worker build CONFIG END_MONTH MONTHS_BACK [rebuild]\n"
            "       python -m benchmarks.worker duckdb DATA_DIR",
            file=sys.stderr,
        )
        return 2
    sys.stdout.write(orjson.dumps(result).decode() + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
