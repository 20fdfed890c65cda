"""``billing-reports serve``: preview the built site on 127.0.0.1."""

from __future__ import annotations

import click

from ..serving import DEFAULT_PORT, PreviewServer, site_index
from ..settings import Settings
from .options import config_option


@click.command()
@click.option(
    "--port",
    type=click.IntRange(0, 65535),
    default=DEFAULT_PORT,
    show_default=True,
    help="The port on 127.0.0.1; 0 picks any free port.",
)
@click.option("--demo", is_flag=True, help="Serve the demo site that `build --demo` made.")
@config_option
def serve(settings: Settings, port: int, demo: bool) -> None:
    """Preview the built site at http://127.0.0.1:PORT/ (Ctrl-C stops it).

    \b
    Examples:
      billing-reports serve
      billing-reports serve --demo --port 0      # the demo site, on any free port
    """
    site_dir = settings.demo_dir / "site" if demo else settings.site_dir
    hint = "billing-reports build --demo" if demo else "billing-reports build"
    index = site_index(site_dir, fallback=settings.output_filename, build_hint=hint)
    server = PreviewServer(site_dir, port, index=index)
    click.echo(f"Serving {site_dir} at {server.url}")
    click.echo("Press Ctrl-C to stop.", err=True)
    server.serve_forever()
    click.echo("Stopped.", err=True)
