"""``billing-reports export``: the range's usage as a FOCUS 1.2, ledger or events file."""

from __future__ import annotations

import dataclasses

import click

from ..export import FORMATS, export_usage
from ..money import format_money
from ..months import Month
from ..periods import ReportRange
from ..settings import Settings
from ..untrusted import printable
from .options import config_option, day_range_options, demo_settings

WHAT = {"focus": "FOCUS 1.2 rows", "ledger": "ledger rows", "events": "events"}


@click.command()
@config_option
@day_range_options
@click.option("--format", "output_format", type=click.Choice(FORMATS), default="focus", show_default=True,
              help="focus: FOCUS 1.2 rows (day x user x model x max mode); ledger: the same cells in our own "
              "column names; events: every kept event, one row each, for auditing.")
@click.option("--output", "-o", "output", required=True, metavar="PATH",
              help="The file to write: a name ending in .csv, .csv.gz (gzip CSV) or .parquet "
              "(pip install 'billing-reports[parquet]'). Replaced atomically; a new file is readable by you alone.")
@click.option("--account-id", default=None, metavar="ID",
              help="FOCUS BillingAccountId (default: billing.account_id, else the e-mail domain most of the "
              "team's members share).")
@click.option("--account-name", default=None, metavar="NAME",
              help="FOCUS BillingAccountName (default: billing.account_name, else the account id).")
@click.option("--demo", is_flag=True, default=False,
              help="Export the demo data that `billing-reports build --demo` fetched (all its months, "
              "or the range given within them).")
@click.option("--pseudonymise", is_flag=True, default=False,
              help="Every person under their pseudonym, as on a pseudonymised site (privacy.pseudonymise).")
@click.option("--force", is_flag=True, default=False,
              help="Replace an existing file at PATH even if it is not an earlier export.")
def export(settings: Settings, months: list[Month], report_range: ReportRange, output_format: str, output: str,
           account_id: str | None, account_name: str | None, demo: bool, pseudonymise: bool, force: bool) -> None:
    """Write the cached usage of a range as a file for a warehouse or a FinOps tool.

    Reads the cache only (run `billing-reports fetch` first). Amounts are exact
    (unrounded decimal dollars); days and times are UTC. FOCUS billing periods are
    the team's billing cycles where they are known (billing.cycle_start, else
    Cursor's, kept by a fetch), else calendar months. A CSV text cell that a
    spreadsheet would run as a formula starts with ' (Parquet keeps names as sent).
    With privacy.pseudonymise (or --pseudonymise) every person is under the
    pseudonym the site shows.

    \b
    Examples:
      billing-reports export --output focus.csv
      billing-reports export --since 2026-01-01 --until 2026-03-31 -o q1.parquet
      billing-reports export --format events --months-back 1 -o events.csv.gz
      billing-reports export --demo -o demo-focus.csv
    """
    if pseudonymise:
        settings = dataclasses.replace(settings, pseudonymise=True)
    if demo:
        settings, report_range = demo_settings(settings, report_range)
        months = report_range.months
    result = export_usage(settings, report_range, output_format, output, account_id=account_id,
                          account_name=account_name, force=force)
    usage = result.usage
    what = (f"{result.rows:,} {WHAT[output_format]} ({format_money(result.cost)}, {usage.period_label})"
            if result.rows else f"no rows: no on-demand usage in {usage.period_label}")
    incomplete = usage.incomplete_months
    if incomplete:
        what += f" ({', '.join(month.label for month in incomplete)} incomplete)"  # (fetched before it ended)
    click.echo(f"Exported {what} to {printable(str(result.path))}")
    if result.account_source is not None:
        click.echo(f"Note: BillingAccountId {printable(result.account.id)} is {result.account_source}; set "
                   "billing.account_id (and account_name) in config.yaml to keep one id for the team.", err=True)
