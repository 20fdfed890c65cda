"""``billing-reports report``: the analysis in the terminal, as JSON, or one table as CSV."""

from __future__ import annotations

import dataclasses
import sys
from pathlib import Path

import click

from ..analysis import analyse
from ..errors import ConfigError
from ..months import Month, describe_months
from ..periods import ReportRange, date_of_day
from ..cursor_figures import load_cursor_figures
from ..pseudonym_table import pseudonym_table
from ..sections import HEADLINE_TREND, REPORT_TEXT, Section, Table, json_bytes, with_role
from ..settings import Settings
from ..terminal import render_section, render_table
from ..untrusted import printable
from .options import config_option, demo_settings, report_range_options

@click.command()
@config_option
@report_range_options
@click.option("--format", "output_format", type=click.Choice(["text", "json", "csv"]), default="text",
              show_default=True, help="text: aligned tables; json: every section in full; csv: one table.")
@click.option("--section", "section_slug", metavar="SLUG", default=None,
              help="Only this section (required with --format csv); see `--format json` for the slugs.")
@click.option("--table", "table_slug", metavar="SLUG", default=None,
              help="With --format csv: which table of the section (default: its first).")
@click.option("--skip-broken-plugins", is_flag=True, default=False,
              help="Report a failing plugin and go on without its section (plugins.skip_broken).")
@click.option("--demo", is_flag=True, default=False,
              help="Report on the demo data that `billing-reports build --demo` fetched (all its months, "
              "or the range given within them).")
@click.option("--pseudonymise", is_flag=True, default=False,
              help="Every person under their pseudonym, as on a pseudonymised site (privacy.pseudonymise).")
@click.option("--pseudonyms", "list_pseudonyms", is_flag=True, default=False,
              help="Print each pseudonym of the range with the email (or service account) and display name it "
              "stands for: for whoever holds BILLING_REPORTS_PSEUDONYM_KEY. Never put this on the site.")
def report(settings: Settings, months: list[Month], report_range: ReportRange, output_format: str,
           section_slug: str | None, table_slug: str | None, skip_broken_plugins: bool, demo: bool,
           pseudonymise: bool, list_pseudonyms: bool) -> None:
    """Print the analysis of the cached months: summary, top users and top models.

    Reads the cache only (run `billing-reports fetch` first). Money is in
    dollars, each amount rounded to the cent (CSV and JSON: exact). With --by
    day, week or cycle, the trend at that grain is printed too.

    \b
    Examples:
      billing-reports report --months-back 3
      billing-reports report --since 2026-11-01 --by day
      billing-reports report --format csv --section top-cost-models
      billing-reports report --pseudonyms            # who is Person 4F7A-91C2-B3D5?
    """
    if list_pseudonyms and (section_slug or table_slug):
        raise click.UsageError("--pseudonyms prints the pseudonyms alone; drop --section and --table")
    if output_format == "csv" and section_slug is None and not list_pseudonyms:
        raise click.UsageError("--format csv needs --section SLUG (and --table SLUG for a section with several tables)")
    if skip_broken_plugins:
        settings = dataclasses.replace(settings, skip_broken_plugins=True)
    if pseudonymise or list_pseudonyms:
        settings = dataclasses.replace(settings, pseudonymise=True)
    if demo:
        settings, report_range = demo_settings(settings, report_range)
        months = report_range.months
    analysis = analyse(settings, months, report_range=report_range, say=lambda line: click.echo(line, err=True))
    if list_pseudonyms:
        _print_table(pseudonym_table(analysis.usage, load_cursor_figures(settings.data_dir)), output_format)
        return
    usage, sections, failures = analysis.usage, analysis.sections, analysis.failures
    _warn_about_months(usage)
    for failure in failures:
        click.echo(f"Warning: plugin {failure.name} skipped: {failure.error}", err=True)
    if section_slug is not None:
        sections = [_find_section(sections, section_slug)]

    if output_format == "json":
        document = {
            "period": {"first": usage.first_month.key, "last": usage.last_month.key},
            "range": {"since": date_of_day(usage.range.first_day).isoformat(),
                      "until": date_of_day(usage.range.last_day).isoformat(), "by": usage.grain},
            "months": [usage.facts(m).to_dict() for m in usage.months],
            "sections": [section.to_dict() for section in sections],
            "failures": [dataclasses.asdict(f) for f in failures],
        }
        click.echo(json_bytes(document, default=str, indent=True).decode())
    elif output_format == "csv":
        _print_table(_find_table(sections[0], table_slug), "csv")
    else:
        click.echo(f"On-demand usage, {usage.period_label}\n")
        if section_slug is not None:
            blocks = [render_section(sections[0], intro=True, members=usage.cursor.members)]
        else:  # the sections that ask for the text view; with --by, the headline trend at that grain
            chosen = with_role(sections, REPORT_TEXT)
            if report_range.grain != "month":
                chosen += [s for s in with_role(sections, HEADLINE_TREND) if s.slug not in {c.slug for c in chosen}]
            blocks = [render_section(s, tables=s.text_view.tables, columns=s.text_view.columns,
                                     members=usage.cursor.members) for s in chosen]
        click.echo("\n\n".join(blocks))


def _print_table(table: Table, output_format: str) -> None:
    """One table as CSV, JSON or aligned text."""
    if output_format == "csv":
        text = table.to_csv()
        if stdout_is_terminal():  # on a terminal: no name may move the cursor or retitle the window
            text = "".join(printable(line) + "\n" for line in text.splitlines())
        click.echo(text, nl=False)
    elif output_format == "json":
        click.echo(table.to_json().decode())
    else:
        click.echo(render_table(table))


def stdout_is_terminal() -> bool:
    return sys.stdout.isatty()


def _warn_about_months(usage) -> None:
    missing = usage.missing_months
    if missing:
        click.echo(f"Warning: no cache file for {describe_months(missing)}; run `billing-reports fetch` to include "
                   "it (shown as not fetched, never $0).", err=True)
    if usage.future_months:
        click.echo(f"Note: {describe_months(usage.future_months)} has not begun yet.", err=True)
    for month in usage.incomplete_months:
        click.echo(f"Note: {month.key} is month to date (fetched before it was over).", err=True)


def _find_section(sections: list[Section], slug: str) -> Section:
    for section in sections:
        if section.slug == slug:
            return section
    choices = ", ".join(s.slug for s in sections)
    raise ConfigError(f"--section {slug}: no such section; choose one of {choices}")


def _find_table(section: Section, slug: str | None):
    if not section.tables:
        raise ConfigError(f"--section {section.slug}: this section has no table to write as CSV")
    if slug is None:
        return section.tables[0]
    for table in section.tables:
        if table.slug == slug:
            return table
    choices = ", ".join(t.slug for t in section.tables)
    raise ConfigError(f"--table {slug}: section {section.slug} has no such table; choose one of {choices}")
