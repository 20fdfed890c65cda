"""``billing-reports export``: the range's usage as a FOCUS 1.2, ledger or events file."""

from __future__ import annotations

from pathlib import Path

import click

from ..export import FORMATS, export_usage
from ..money import format_money
from ..months import Month
from ..periods import ReportRange
from ..settings import Settings
from ..untrusted import printable
from .options import config_option, day_range_options

WHAT = {"focus": "FOCUS 1.2 rows", "ledger": "ledger rows", "events": "events"}


@click.command()
@config_option
@day_range_options
@click.option("--format", "output_format", type=click.Choice(FORMATS), default="focus", show_default=True,
              help="focus: FOCUS 1.2 rows (day x user x model x max mode); ledger: the same cells in our own "
              "column names; events: every kept event, one row each, for auditing.")
@click.option("--output", "-o", "output", type=click.Path(path_type=Path), required=True, metavar="PATH",
              help="The file to write: CSV, gzip CSV when it ends in .gz, Parquet when it ends in .parquet "
              "(pip install 'billing-reports[parquet]'). Replaced atomically.")
@click.option("--account-id", default=None, metavar="ID",
              help="FOCUS BillingAccountId (default: the team's e-mail domain, the one most members share).")
@click.option("--account-name", default=None, metavar="NAME",
              help="FOCUS BillingAccountName (default: the account id).")
def export(settings: Settings, months: list[Month], report_range: ReportRange, output_format: str, output: Path,
           account_id: str | None, account_name: str | None) -> None:
    """Write the cached usage of a range as a file for a warehouse or a FinOps tool.

    Reads the cache only (run `billing-reports fetch` first). Amounts are exact
    (unrounded decimal dollars); days and times are UTC. FOCUS billing periods are
    the team's billing cycles where they are known (billing.cycle_start, else
    Cursor's, kept by a fetch), else calendar months. A CSV text cell that a
    spreadsheet would run as a formula starts with ' (Parquet keeps names as sent).

    \b
    Examples:
      billing-reports export --output focus.csv
      billing-reports export --since 2026-01-01 --until 2026-03-31 -o q1.parquet
      billing-reports export --format events --months-back 1 -o events.csv.gz
    """
    result = export_usage(settings, report_range, output_format, output, account_id=account_id,
                          account_name=account_name)
    click.echo(f"Exported {result.rows:,} {WHAT[output_format]} ({format_money(result.cost)}, "
               f"{result.usage.period_label}) to {printable(str(result.path))}")
