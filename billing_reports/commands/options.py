"""Options shared by several commands: the config file and the month range."""

from __future__ import annotations

import functools
from pathlib import Path

import click

from ..months import Month, current_month, months_in_range
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


