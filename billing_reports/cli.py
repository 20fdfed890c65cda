"""The ``billing-reports`` command line: a thin click group over the core."""

from __future__ import annotations

import sys

import click

from . import __version__


@click.group(context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100})
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


from .commands.publish import publish as publish_command  # noqa: E402
from .commands.serve import serve as serve_command  # noqa: E402

cli.add_command(publish_command)
cli.add_command(serve_command)

from .commands.fetch import fetch as fetch_command  # noqa: E402

cli.add_command(fetch_command)

from .commands.build import build as build_command  # noqa: E402

cli.add_command(build_command)

from .commands.report import report as report_command  # noqa: E402
from .commands.plugins import plugins_command  # noqa: E402

cli.add_command(report_command)
cli.add_command(plugins_command)
