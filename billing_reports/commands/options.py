"""Options shared by several commands: the config file and the month range."""

from __future__ import annotations

import dataclasses
import functools
from pathlib import Path

import click

from ..cache import cached_months
from ..errors import BillingReportsError
from ..months import Month, current_month, months_in_range, today
from ..periods import GRAINS, ReportRange, date_of_day, parse_day
from ..settings import Settings, load_settings

DEFAULT_CONFIG = "config.yaml"


def _month(value: str) -> Month:
    try:
        return Month.parse(value)
    except ValueError:
        raise click.BadParameter(f"expected a month as YYYY-MM (for example 2026-01), got {value!r}") from None


def _parse_month(ctx: click.Context, param: click.Parameter, value: str | None) -> Month | None:
    return None if value is None else _month(value)


def parse_months(ctx: click.Context, param: click.Parameter, values: tuple[str, ...]) -> tuple[Month, ...]:
    """Click callback of a repeatable ``YYYY-MM`` option (``--refresh``)."""
    return tuple(_month(value) for value in values)


def config_option(command):
    """``--config PATH``; the command receives ``settings`` instead."""

    @click.option(
        "--config",
        "config_path",
        type=click.Path(dir_okay=False, path_type=Path),
        default=None,
        help="The config file (default: ./config.yaml). Paths in it are relative to it.",
    )
    @functools.wraps(command)
    def wrapper(*args, config_path: Path | None, **kwargs):
        settings = load_settings(config_path or DEFAULT_CONFIG, must_exist=config_path is not None)
        return command(*args, settings=settings, **kwargs)

    return wrapper


def demo_settings(settings: Settings, report_range: ReportRange) -> tuple[Settings, ReportRange]:
    """``--demo`` of a command that reads the cache (``report``, ``export``, ``check``): the demo cache
    (under ``paths.demo_dir``, which ``build --demo`` fetched) and the range within it: every month it
    holds, or the range the command line gave, which must lie within the demo months."""
    data_dir = Path(settings.demo_dir) / "monthly_usage_data"
    found = cached_months(data_dir)
    if not found:
        raise click.UsageError(f"no demo data in {data_dir}; run `billing-reports build --demo` first")
    settings = dataclasses.replace(settings, data_dir=data_dir, demo=True)
    whole = ReportRange.of_months(found, report_range.grain, report_range.cycle_start)  # type: ignore[arg-type]
    if not range_given():
        return settings, whole
    if report_range.first_day < whole.first_day or report_range.last_day > whole.last_day:
        covered = found[0].label if len(found) == 1 else f"{found[0].label} – {found[-1].label}"
        raise click.UsageError(f"the demo data covers {covered}; give a range within it "
                               f"(not {report_range.label}), or drop the range options for all of it")
    return settings, report_range


#: The options that choose a range; without any, ``--demo`` covers every demo month.
RANGE_OPTIONS = ("months_back", "end_month", "since", "until")


def range_given() -> bool:
    """Whether the command line gave a range option (``--months-back``, ``--end-month``, ``--since``, ``--until``)."""
    ctx = click.get_current_context()
    return any(ctx.get_parameter_source(name) == click.core.ParameterSource.COMMANDLINE for name in RANGE_OPTIONS)


def month_range_options(command):
    """``--months-back N`` and ``--end-month YYYY-MM``; the command receives ``months``."""

    @click.option(
        "--months-back",
        type=click.IntRange(1, 120),
        default=None,
        help="How many months to cover, ending with --end-month (default: billing.months_back).",
    )
    @click.option(
        "--end-month",
        callback=_parse_month,
        metavar="YYYY-MM",
        default=None,
        help="The last month to cover (default: the current UTC month).",
    )
    @functools.wraps(command)
    def wrapper(*args, settings: Settings, months_back: int | None, end_month: Month | None, **kwargs):
        months = months_in_range(end_month or current_month(), months_back or settings.months_back)
        return command(*args, settings=settings, months=months, **kwargs)

    return wrapper




#: The days a range may cover: from 2000 (long before any Cursor usage) and at most ten years long,
#: as --months-back allows; anything else is a typo, and would only make a huge, empty report.
EARLIEST_DAY = parse_day("2000-01-01")
MAX_RANGE_DAYS = 3_660


def _parse_day(ctx: click.Context, param: click.Parameter, value: str | None) -> int | None:
    if value is None:
        return None
    try:
        day = parse_day(value)
    except ValueError as problem:
        raise click.BadParameter(str(problem)) from None
    if day < EARLIEST_DAY:
        raise click.BadParameter(f"{value} is before {date_of_day(EARLIEST_DAY)}; give a day of your team's usage")
    return day


def report_range_options(command):
    """The range options of ``build`` and ``report``: ``--months-back``/``--end-month``, or
    ``--since``/``--until`` (days), and ``--by`` (the trend's grain). The command receives
    ``months`` (the cache months the range touches) and ``report_range``."""
    by = click.option("--by", "grain", type=click.Choice([g for g in GRAINS if g != "range"]), default=None,
                      help="The trend's grain: day, ISO week, calendar month, or billing cycle (billing.cycle_start, "
                      "else Cursor's, kept by a fetch). Default: billing.period (month).")
    return _range_options(by(command))


def day_range_options(command):
    """``--months-back``/``--end-month`` or ``--since``/``--until``, without a trend (``export``): the
    command receives ``months`` and ``report_range`` (by month)."""
    return _range_options(command, default_grain="month")


def _range_options(command, default_grain: str | None = None):
    @click.option("--since", callback=_parse_day, metavar="YYYY-MM-DD", default=None,
                  help="The first UTC day to cover (with --until; instead of --months-back/--end-month).")
    @click.option("--until", callback=_parse_day, metavar="YYYY-MM-DD", default=None,
                  help="The last UTC day to cover, inclusive (default with --since: today).")
    @month_range_options
    @functools.wraps(command)
    def wrapper(*args, settings: Settings, months: list[Month], since: int | None, until: int | None,
                grain: str | None = None, **kwargs):
        ctx = click.get_current_context()
        by_months = any(ctx.get_parameter_source(name) == click.core.ParameterSource.COMMANDLINE
                        for name in ("months_back", "end_month"))
        if (since is not None or until is not None) and by_months:
            raise click.UsageError("give either --since/--until (days) or --months-back/--end-month (months)")
        if until is not None and since is None:
            raise click.UsageError("--until needs --since (the first day to cover)")
        # (cycles without billing.cycle_start are cut from the cycle a fetch kept: see analysis.with_cycle_anchor,
        # which runs after build's fetch, so that a first fetch can bring it)
        grain = grain or default_grain or settings.period
        today_day = today()
        if since is not None:
            last = until if until is not None else max(today_day, since)
            if last < since:
                raise click.UsageError(f"--until {date_of_day(last)} is before --since {date_of_day(since)}")
            if last - since >= MAX_RANGE_DAYS:
                raise click.UsageError(f"--since {date_of_day(since)} to {date_of_day(last)} is over ten years; "
                                       "give a shorter range")
            report_range = ReportRange(since, last, grain, settings.cycle_start)  # type: ignore[arg-type]
        else:
            report_range = ReportRange.of_months(months, grain, settings.cycle_start)  # type: ignore[arg-type]
        if report_range.first_day > today_day:
            raise BillingReportsError(
                f"{report_range.label} lies wholly in the future (today is {date_of_day(today_day)}, UTC): "
                "nothing has been used yet; choose a range that has begun."
            )
        return command(*args, settings=settings, months=report_range.months, report_range=report_range, **kwargs)

    return wrapper
