"""``billing-reports plugins``: the installed plugins as JSON."""

from __future__ import annotations

import click
import orjson

from ..months import current_month
from ..plugins import PluginFailure, describe_plugins, get_plugin_manager
from ..settings import Settings
from ..usage import OnDemandUsage
from .options import config_option


@click.command(name="plugins")
@config_option
@click.option("--all", "include_builtins", is_flag=True, help="Include the built-in plugins.")
def plugins_command(settings: Settings, include_builtins: bool) -> None:
    """List plugins as JSON: name, version, hooks and the sections each adds.

    Third-party plugins come from the `billing_reports` entry-point group and
    from the .py files of paths.plugins_dir; --all adds the built-ins. A plugin
    that failed to load is listed with its error.
    """
    failures: list[PluginFailure] = []
    manager = get_plugin_manager(settings.plugins_dir, failures=failures)
    empty = OnDemandUsage(months=[current_month()])
    described = describe_plugins(manager, include_builtins=include_builtins, usage=empty, settings=settings)
    described += [{"name": f.name, "hooks": [], "error": f.error} for f in failures]
    click.echo(orjson.dumps(described, option=orjson.OPT_INDENT_2).decode())
