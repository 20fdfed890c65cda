"""``python -m benchmarks``: the benchmark harness's command line.

    .venv/bin/python -m benchmarks run --quick     # 100k events only, about a minute
    .venv/bin/python -m benchmarks run             # 100k, 1M and 5M events
    .venv/bin/python -m benchmarks run --skip-fetch --months 1 --events 2M   # one month of 2M events
    .venv/bin/python -m benchmarks generate DIR --events 1M --months 6
    .venv/bin/python -m benchmarks forecast        # the forecast against the flat run rate, many histories
    .venv/bin/python -m benchmarks export DIR --months 6    # billing-reports export on that cache
"""

from __future__ import annotations

import importlib.util
import shutil
import sys
import tempfile
from pathlib import Path

import click

from billing_reports.months import Month, months_in_range

from .build_benchmark import WorkerFailed
from .figures import parse_size, size_label
from .report import build_report, fetch_report

QUICK_SIZES = "100k"
FULL_SIZES = "100k,1M,5M"


def _sizes(ctx: click.Context, param: click.Parameter, value: str | None) -> list[int] | None:
    if value is None:
        return None
    try:
        return [parse_size(part) for part in value.split(",") if part.strip()]
    except ValueError as error:
        raise click.BadParameter(str(error)) from None


def _size(ctx: click.Context, param: click.Parameter, value: str) -> int:
    try:
        return parse_size(value)
    except ValueError as error:
        raise click.BadParameter(str(error)) from None


def _month(ctx: click.Context, param: click.Parameter, value: str) -> Month:
    try:
        return Month.parse(value)
    except ValueError as error:
        raise click.BadParameter(str(error)) from None


@click.group(context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100})
def cli() -> None:
    """Benchmarks of billing-reports: fetch efficiency, build time and memory, DuckDB yardstick."""


@cli.command()
@click.option("--quick", is_flag=True, help=f"Build sizes {QUICK_SIZES} only (default: {FULL_SIZES}).")
@click.option("--sizes", "--events", callback=_sizes, default=None, metavar="N,N,...",
              help="Build sizes in events, e.g. 100k,1M,5M (overrides --quick); with --months 1, "
                   "--events 2M measures a single month of 2M events.")
@click.option("--repeat", type=click.IntRange(1, 20), default=1, show_default=True,
              help="Run each build and DuckDB measurement N times; keep the fastest (a shared machine is noisy).")
@click.option("--months", type=click.IntRange(1, 24), default=6, show_default=True,
              help="Months the generated events spread over.")
@click.option("--users", type=click.IntRange(1), default=1000, show_default=True,
              help="Team members in the generated caches (each gets a page on the site).")
@click.option("--models", type=click.IntRange(1), default=30, show_default=True,
              help="Models in the generated caches (each gets a page on the site).")
@click.option("--fetch-events", callback=_size, default="50k", show_default=True,
              help="Events in the month fetched from the fake API.")
@click.option("--rate-limit", type=click.IntRange(1), default=600, show_default=True,
              help="The fake API's requests per minute.")
@click.option("--delay", type=click.FloatRange(0), default=0.1, show_default=True,
              help="billing.request_delay_seconds for the fetch.")
@click.option("--page-size", type=click.IntRange(1, 1000), default=1000, show_default=True,
              help="billing.page_size for the fetch.")
@click.option("--skip-fetch", is_flag=True, help="Leave out the fetch benchmark.")
@click.option("--skip-build", is_flag=True, help="Leave out the build benchmark.")
@click.option("--skip-duckdb", is_flag=True, help="Leave out the DuckDB yardstick.")
@click.option("--rebuild", is_flag=True,
              help="Time a build that replaces an existing site (as every build after the first does).")
@click.option("--work-dir", type=click.Path(file_okay=False, path_type=Path), default=None,
              help="Where caches and sites are generated (default: a temporary directory, removed).")
@click.option("--keep", is_flag=True, help="Keep the generated caches and sites in --work-dir.")
def run(
    quick: bool,
    sizes: list[int] | None,
    repeat: int,
    months: int,
    users: int,
    models: int,
    fetch_events: int,
    rate_limit: int,
    delay: float,
    page_size: int,
    skip_fetch: bool,
    skip_build: bool,
    skip_duckdb: bool,
    rebuild: bool,
    work_dir: Path | None,
    keep: bool,
) -> None:
    """Run the benchmarks and print a small table of figures."""
    if not skip_build and not skip_duckdb and importlib.util.find_spec("duckdb") is None:
        raise click.ClickException(
            "DuckDB (the yardstick) is not installed: run .venv/bin/pip install -e '.[bench]', "
            "or pass --skip-duckdb"
        )
    build_sizes = sizes or [parse_size(part) for part in (QUICK_SIZES if quick else FULL_SIZES).split(",")]
    temporary = work_dir is None
    work_dir = Path(tempfile.mkdtemp(prefix="billing-reports-bench-")) if temporary else work_dir
    work_dir.mkdir(parents=True, exist_ok=True)

    def progress(message: str) -> None:
        click.echo(f"... {message}", err=True)

    try:
        sections = []
        if not skip_fetch:
            sections.append(
                fetch_report(work_dir, events=fetch_events, rate_limit=rate_limit, delay=delay,
                             page_size=page_size, progress=progress)
            )
        if not skip_build:
            sections.append(
                build_report(work_dir, build_sizes, repeat=repeat, months=months, users=users, models=models,
                             with_duckdb=not skip_duckdb, rebuild=rebuild, keep=keep, progress=progress)
            )
    except WorkerFailed as error:
        raise click.ClickException(str(error)) from None
    finally:
        if temporary and not keep:
            shutil.rmtree(work_dir, ignore_errors=True)
    click.echo("\n\n".join(sections))
    if keep:
        click.echo(f"\nCaches and sites kept in {work_dir}", err=True)


@cli.command()
@click.argument("data_dir", type=click.Path(file_okay=False, path_type=Path))
@click.option("--events", callback=_size, default="1M", show_default=True)
@click.option("--months", type=click.IntRange(1, 120), default=6, show_default=True)
@click.option("--end-month", callback=_month, default="2026-01", show_default=True, metavar="YYYY-MM")
@click.option("--users", type=click.IntRange(1), default=1000, show_default=True)
@click.option("--models", type=click.IntRange(1), default=30, show_default=True)
@click.option("--stray-fraction", type=click.FloatRange(0, 1, max_open=True), default=0.0, show_default=True,
              help="Share of events in the files that are not on-demand (an old seed-era cache).")
@click.option("--unknown-field-share", type=click.FloatRange(0, 1), default=0.0, show_default=True,
              help="Share of on-demand events with a field no API documentation names.")
@click.option("--older-format-share", type=click.FloatRange(0, 1), default=0.2, show_default=True,
              help="Share of on-demand events in the older API format (no chargedCents, no discount).")
@click.option("--discount-share", type=click.FloatRange(0, 1), default=0.15, show_default=True,
              help="Share of the newest-format events with a discountPercentOff.")
@click.option("--seed", type=int, default=2026, show_default=True)
def generate(data_dir: Path, events: int, months: int, end_month: Month, users: int, models: int,
             stray_fraction: float, unknown_field_share: float, older_format_share: float,
             discount_share: float, seed: int) -> None:
    """Write a synthetic cache of EVENTS events into DATA_DIR (for a build: paths.data_dir)."""
    from .synthetic_cache import generate_cache

    generated = generate_cache(
        data_dir, months_in_range(end_month, months), events,
        users=users, models=models, stray_fraction=stray_fraction,
        unknown_field_share=unknown_field_share, older_format_share=older_format_share,
        discount_share=discount_share, seed=seed,
    )
    click.echo(
        f"Wrote {size_label(generated.events)} events ({generated.size_bytes / 1e6:,.0f} MB) "
        f"in {len(generated.months)} cache files to {data_dir}"
    )


@cli.command()
@click.option("--calendars", type=click.IntRange(1, 60), default=18, show_default=True,
              help="Demo companies, each ending a month later (from January 2026).")
@click.option("--teams", type=click.IntRange(1, 10_000), default=150, show_default=True,
              help="Synthetic teams (one seed each).")
def forecast(calendars: int, teams: int) -> None:
    """The forecast's backtest over many histories, beside the flat run rate."""
    from .forecast_accuracy import run as run_forecast

    click.echo(run_forecast(calendars, teams))


@cli.command("export")
@click.argument("data_dir", type=click.Path(file_okay=False, exists=True, path_type=Path))
@click.option("--months", type=click.IntRange(1, 120), default=6, show_default=True)
@click.option("--end-month", callback=_month, default="2026-01", show_default=True, metavar="YYYY-MM")
def export_command(data_dir: Path, months: int, end_month: Month) -> None:
    """Time `billing-reports export` (FOCUS, ledger, events; CSV, gzip, Parquet) on the cache in DATA_DIR
    (made by `generate`, with the same --months and --end-month); the files go beside it, in exports/."""
    from .export_benchmark import export_report

    click.echo(export_report(data_dir, months_in_range(end_month, months),
                             progress=lambda message: click.echo(f"... {message}", err=True)))


if __name__ == "__main__":
    sys.exit(cli.main(prog_name="python -m benchmarks"))
