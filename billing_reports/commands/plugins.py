"""``billing-reports plugins``: every plugin, built-in or not, with its settings and what it adds."""

from __future__ import annotations

import click
import orjson

from ..months import current_month
from ..plugin_manager import describe_plugins
from ..settings import Settings
from ..untrusted import printable
from ..usage import OnDemandUsage
from .options import config_option


@click.command(name="plugins")
@config_option
@click.option("--format", "output_format", type=click.Choice(["text", "json"]), default="text", show_default=True,
              help="text: one line per plugin; json: everything, with each setting's type, default and help.")
def plugins_command(settings: Settings, output_format: str) -> None:
    """List the plugins: the built-ins, then those installed or in paths.plugins_dir.

    For each: whether it is built in, the name of its settings block (its key
    under plugins: in config.yaml), its hooks, and the sections, pages,
    commands and publish targets it adds. A plugin that failed to load is
    listed with its error.

    \b
    Examples:
      billing-reports plugins
      billing-reports plugins --format json      # with each setting's type, default and help
    """
    manager, failures = settings.loaded_plugins()
    empty = OnDemandUsage(months=[current_month()])
    described = describe_plugins(manager, usage=empty, settings=settings)
    described += [{"name": f.name, "builtin": False, "version": None, "settings": None, "hooks": [],
                   "error": f.error} for f in failures]
    if output_format == "json":
        click.echo(orjson.dumps(described, option=orjson.OPT_INDENT_2, default=str).decode())
        return
    rows = [("NAME", "BUILT-IN", "SETTINGS", "HOOKS", "ADDS")]
    for plugin in described:
        adds = [*(s["slug"] for s in plugin.get("sections", [])), *(f"page {p}" for p in plugin.get("pages", [])),
                *(f"command {c}" for c in plugin.get("commands", [])),
                *(f"publish {t}" for t in plugin.get("publish_targets", []))]
        rows.append((
            printable(plugin["name"]), "yes" if plugin["builtin"] else "no",
            plugin["settings"]["name"] if plugin["settings"] else "-",
            ", ".join(hook.removeprefix("register_") for hook in plugin["hooks"]) or "-",
            printable(f"error: {plugin['error']}") if "error" in plugin else ", ".join(map(printable, adds)) or "-",
        ))
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]) - 1)]
    for row in rows:
        click.echo("  ".join(cell.ljust(width) for cell, width in zip(row, widths)) + "  " + row[-1])
