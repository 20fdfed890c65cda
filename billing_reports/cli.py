"""The ``billing-reports`` command line: a thin click group over the core."""

from __future__ import annotations

import importlib
import sys

import click

from . import __version__

#: Subcommands in the order of the workflow: name -> (module, attribute). Each module is
#: imported only when its command runs (or --help lists it), so a command loads only what it uses.
COMMANDS = {
    "fetch": ("billing_reports.commands.fetch", "fetch"),
    "report": ("billing_reports.commands.report", "report"),
    "build": ("billing_reports.commands.build", "build"),
    "serve": ("billing_reports.commands.serve", "serve"),
    "publish": ("billing_reports.commands.publish", "publish"),
    "check": ("billing_reports.commands.check", "check"),
    "export": ("billing_reports.commands.export", "export"),
    "plugins": ("billing_reports.commands.plugins", "plugins_command"),
    "fake-api": ("billing_reports.commands.fake_api", "fake_api"),
}


class WorkflowGroup(click.Group):
    """A group that lists its commands in workflow order and imports each one on demand; the
    plugins' commands (``register_commands``) follow, loaded only when a name is not a built-in
    command or the commands are listed."""

    plugin_commands_added = False

    def list_commands(self, ctx: click.Context) -> list[str]:
        self.add_plugin_commands()
        return [*COMMANDS, *sorted(set(self.commands) - set(COMMANDS))]

    def get_command(self, ctx: click.Context, name: str) -> click.Command | None:
        if name in COMMANDS:  # (a plugin's command of the same name never replaces it)
            module_name, attribute = COMMANDS[name]
            command = getattr(importlib.import_module(module_name), attribute)
            self.commands[name] = command
            return command
        if name not in self.commands:
            self.add_plugin_commands()
        return self.commands.get(name)

    def add_plugin_commands(self) -> None:
        """Let each built-in and installed plugin add its commands, once. A plugin that fails to load
        or to add them is said on stderr; the other commands still work."""
        if self.plugin_commands_added:
            return
        self.plugin_commands_added = True
        from .analysis import call_with
        from .plugin_manager import PluginFailure, get_plugin_manager

        failures: list[PluginFailure] = []
        manager = get_plugin_manager(failures=failures)
        for hookimpl in manager.hook.register_commands.get_hookimpls():
            try:
                call_with(hookimpl, cli=self)
            except Exception as error:  # a plugin's bug must not take the command line down
                failures.append(PluginFailure(hookimpl.plugin_name, f"{type(error).__name__}: {error}"))
        for failure in failures:
            click.echo(f"Warning: plugin {failure.name} could not add its commands: {failure.error}", err=True)


@click.group(
    cls=WorkflowGroup,
    context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100},
)
@click.version_option(__version__, prog_name="billing-reports")
def cli() -> None:
    """Where does our AI-coding money go?

    Fetches Cursor on-demand usage events from the Admin API into a monthly
    cache, analyses them with plugins (one per report section) and builds a
    static HTML site to publish for finance and engineering managers.

    The API key comes from CURSOR_API_KEY, in the environment or in a .env file
    next to config.yaml or in the current directory. Start with:

        billing-reports build --demo
    """


def main() -> None:
    """Console entry point: Ctrl-C ends with one line, no traceback."""
    try:
        cli.main(prog_name="billing-reports", standalone_mode=False)
    except (click.exceptions.Abort, KeyboardInterrupt):
        click.echo("Interrupted: nothing half-written was kept; run the command again to resume.", err=True)
        sys.exit(130)
    except click.ClickException as error:
        error.show()
        sys.exit(error.exit_code)
    except click.exceptions.Exit as done:
        sys.exit(done.exit_code)
