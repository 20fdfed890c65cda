"""``billing-reports fetch``: download the months in range that are not cached yet."""

from __future__ import annotations

import click

from ..fetching import fetch_months
from ..months import Month
from ..progress import make_reporter
from ..settings import Settings
from .options import config_option, month_range_options, parse_months




@click.command()
@click.option(
    "--refresh",
    multiple=True,
    metavar="YYYY-MM",
    callback=parse_months,
    help="Fetch this month again even if it is cached (repeat for several; "
    "a month outside the range is fetched too). Also replaces a broken cache file.",
)
@config_option
@month_range_options
def fetch(settings: Settings, months: list[Month], refresh: tuple[Month, ...]) -> None:
    """Fetch usage events from the Cursor Admin API into the monthly cache.

    Every month in range that is not cached yet, or was cached before it ended
    (incomplete), is downloaded and written to
    data_dir/MM-YYYY-usage-based-data.json; complete months are never fetched
    again unless --refresh names them. Cursor's own figures are taken too, every
    run: the member list, each member's spend in the current billing cycle, and
    the billing groups (Enterprise teams), kept in data_dir/members.json,
    data_dir/spend/ and data_dir/groups/ (one file per cycle: the current cycle's
    spend is gone from the API once the cycle rolls over, so it is kept here).
    Needs CURSOR_API_KEY (environment or .env).

    \b
    Examples:
      billing-reports fetch
      billing-reports fetch --months-back 6 --end-month 2026-02
      billing-reports fetch --refresh 2026-01
    """
    summary = fetch_months(settings, months, api_key=settings.api_key, refresh=refresh, reporter=make_reporter(),
                           team_figures=True)
    click.echo(summary.describe())
