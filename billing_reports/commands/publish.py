"""``billing-reports publish [NAME]``: send the built site to a publish target."""

from __future__ import annotations

from pathlib import Path

import click

from ..publish.publisher import PublishReport, publish_config, publish_site, rollback_site
from ..settings import Settings, with_site_dir
from ..wording import counted, site_audience
from .options import config_option


@click.command()
@click.argument("name", required=False)
@click.option("--dry-run", is_flag=True, help="List what would be added, updated and deleted; change nothing.")
@click.option("--rollback", is_flag=True, help="Serve the previously published site again (directory and git targets).")
@click.option("--demo", is_flag=True, help="Publish the demo site that `build --demo` made.")
@click.option("--list", "list_targets", is_flag=True, help="List the configured targets and exit.")
@click.option("--site-dir", type=click.Path(file_okay=False, path_type=Path), default=None,
              help="Publish the site built into this folder (build --site-dir) instead of paths.site_dir.")
@config_option
def publish(settings: Settings, name: str | None, dry_run: bool, rollback: bool, demo: bool, list_targets: bool,
            site_dir: Path | None) -> None:
    """Publish the built site to NAME (default: publish.default in config.yaml).

    Targets are configured under publish.targets; credentials come only from
    the environment or .env and are never printed. The site directory must
    hold a complete build (its build-manifest.json and every file it lists).

    \b
    Examples:
      billing-reports publish --dry-run          # what the default target would change
      billing-reports publish intranet
      billing-reports publish intranet --rollback
      billing-reports publish company --site-dir data/site-company
    """
    if list_targets:
        _list(settings)
        return
    if rollback:
        if dry_run:
            raise click.UsageError("--rollback and --dry-run cannot be combined")
        target, outcome = rollback_site(settings, name)
        click.echo(f"Rolled back {target.name}: {outcome}")
        return
    if demo and site_dir is not None:
        raise click.UsageError("--demo publishes the demo site; drop --site-dir.")
    hint = "billing-reports build --demo" if demo else "billing-reports build"
    if site_dir is not None:
        hint = f"billing-reports build --site-dir {site_dir}"
        settings = with_site_dir(settings, site_dir)
        site_dir = settings.site_dir
    else:
        site_dir = settings.demo_dir / "site" if demo else settings.site_dir
    report = publish_site(settings, name, dry_run=dry_run, site_dir=site_dir, build_hint=hint, demo=demo)
    _print_report(report)


def _print_report(report: PublishReport) -> None:
    target, site = report.target, report.site
    where = f"{target.name} ({target.describe()})"
    counts = report.counts()
    summary = f"{counts['add']} added, {counts['update']} updated, {counts['delete']} deleted"
    if report.dry_run:
        changes = counted(len(report.changes), 'file')
        click.echo(f"Dry run: publishing {site.period} ({site_audience(site.pseudonymised)}) to {where} would change {changes}:")
        for change in report.changes:
            click.echo(f"  {change}")
        click.echo(f"Nothing was changed ({counts['add']} to add, {counts['update']} to update, {counts['delete']} to delete).")
        return
    click.echo(f"Published {site.period} ({counted(len(site.all_files), 'file')}; {site_audience(site.pseudonymised)}) "
               f"to {where}: {summary}.")


def _list(settings: Settings) -> None:
    config = publish_config(settings)
    if not config.targets:
        click.echo("No publish targets configured; add a publish: section to config.yaml (see the README).")
        return
    for name, entry in sorted(config.targets.items()):
        marker = " (default)" if name == config.default else ""
        click.echo(f"{name}{marker}: {entry.kind} {entry.create(settings).describe()}")
