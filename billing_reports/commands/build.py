"""``billing-reports build``: fetch what is missing, analyse, and render the static site."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import click

from ..months import Month, describe_months
from ..periods import ReportRange
from ..pipeline import BuildResult, build as run_build
from ..progress import make_reporter
from ..settings import Settings, with_site_dir
from ..wording import site_audience
from .options import config_option, parse_months, report_range_options




def _months(months: list[Month]) -> str:
    return describe_months(months) if len(months) > 6 else ", ".join(month.label for month in months)


def _replaced_note(demo: bool) -> str:
    """What a pseudonymised build that replaced a site naming people says: how to have both."""
    if demo:  # the demo has one site folder, paths.demo_dir/site
        return ("; it replaced the demo site that named people (`billing-reports build --demo` brings that one "
                "back)")
    return ("; it replaced the site that named people there (build that one again, or give the pseudonymised "
            "one its own --site-dir)")


def report(result: BuildResult, *, offline: bool, demo: bool = False) -> None:
    """Tell the user what was built and where the index is."""
    for failure in result.plugin_failures:
        click.echo(f"Warning: plugin {failure.name} failed and its section is missing: {failure.error}", err=True)
    if result.missing_months:
        hint = "run `billing-reports fetch` or build without --offline" if offline else "they have no data yet"
        click.echo(f"Missing from the cache (shown as not fetched, never $0): {_months(result.missing_months)}; "
                   f"{hint}.", err=True)
    if result.incomplete_months:
        click.echo(
            f"Incomplete (fetched before the month was over; marked on the site): {_months(result.incomplete_months)}.",
            err=True,
        )
    site = result.site
    click.echo(
        f"Built {site.page_count} pages ({result.section_count} sections, "
        f"{result.usage.period_label}) into {site.directory}; {site_audience(result.usage.pseudonymised)}"
        + (_replaced_note(demo) if result.usage.pseudonymised and result.replaced_pseudonymised is False else "")
    )
    click.echo(f"Open the dashboard: {site.index_path.resolve().as_uri()}")


@click.command()
@click.option("--offline", is_flag=True, help="Build from the cache alone; never contact the API (no key needed).")
@click.option(
    "--refresh", multiple=True, metavar="YYYY-MM", callback=parse_months,
    help="Fetch this month again even if it is cached (repeat for several).",
)
@click.option(
    "--demo", is_flag=True,
    help="Build a demo site from the built-in fake API's synthetic team (its six months, ending with "
    "the current one): no key, no set-up. "
    "Writes only under paths.demo_dir (default data/demo).",
)
@click.option(
    "--skip-broken-plugins", is_flag=True, default=False,
    help="Build without a failing plugin's section and show the failure on the site (plugins.skip_broken).",
)
@click.option(
    "--pseudonymise", is_flag=True, default=False,
    help="Show every person under a stable pseudonym (privacy.pseudonymise); the key comes from "
    "BILLING_REPORTS_PSEUDONYM_KEY in the environment or .env.",
)
@click.option(
    "--site-dir", type=click.Path(file_okay=False, path_type=Path), default=None,
    help="Build into this folder instead of paths.site_dir (a second site from the same cache).",
)
@config_option
@report_range_options
def build(settings: Settings, months: list[Month], report_range: ReportRange, offline: bool,
          refresh: tuple[Month, ...], demo: bool, skip_broken_plugins: bool, pseudonymise: bool,
          site_dir: Path | None) -> None:
    """Fetch missing months, analyse them and build the static site.

    Months not cached yet (or cached before they were over) are fetched first;
    then every plugin computes its section and the site is rendered into
    paths.site_dir, replacing the previous site only when the new one is
    complete. The index is billing.output_filename.

    \b
    Examples:
      billing-reports build --demo
      billing-reports build
      billing-reports build --offline --months-back 6
      billing-reports build --since 2026-01-17 --until 2026-02-16 --by day
      billing-reports build --offline --pseudonymise --site-dir data/site-company
    """
    if offline and refresh:
        raise click.UsageError("--refresh fetches months again; --offline never fetches: use one or the other.")
    if skip_broken_plugins:
        settings = dataclasses.replace(settings, skip_broken_plugins=True)
    if pseudonymise:
        settings = dataclasses.replace(settings, pseudonymise=True)
    if site_dir is not None:
        if demo:
            raise click.UsageError("--demo builds into paths.demo_dir; drop --site-dir.")
        settings = with_site_dir(settings, site_dir)
    if demo:
        if offline or refresh:
            raise click.UsageError("--demo fetches from the built-in fake API; drop --offline and --refresh.")
        from ..demo import build_demo

        click.echo("Demo: serving a synthetic team from the built-in fake Cursor API on 127.0.0.1...", err=True)
        result = build_demo(settings, reporter=make_reporter(), say=lambda line: click.echo(line, err=True),
                            grain=report_range.grain)
    else:
        result = run_build(
            settings, months, report_range=report_range, offline=offline,
            api_key=None if offline else settings.api_key,
            refresh=refresh, reporter=make_reporter(), say=lambda line: click.echo(line, err=True),
        )
    report(result, offline=offline, demo=demo)
