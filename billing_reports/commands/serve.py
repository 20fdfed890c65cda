"""``billing-reports serve``: preview the built site on 127.0.0.1."""

from __future__ import annotations

from pathlib import Path

import click

from ..serving import DEFAULT_PORT, PreviewServer, site_index
from ..settings import Settings, with_site_dir
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
@click.option("--site-dir", type=click.Path(file_okay=False, path_type=Path), default=None,
              help="Serve the site built into this folder (build --site-dir) instead of paths.site_dir.")
@config_option
def serve(settings: Settings, port: int, demo: bool, site_dir: Path | None) -> None:
    """Preview the built site at http://127.0.0.1:PORT/ (Ctrl-C stops it).

    \b
    Examples:
      billing-reports serve
      billing-reports serve --demo --port 0      # the demo site, on any free port
      billing-reports serve --site-dir data/site-company   # a pseudonymised site built apart
    """
    if demo and site_dir is not None:
        raise click.UsageError("--demo serves the demo site; drop --site-dir.")
    if site_dir is not None:
        hint = f"billing-reports build --site-dir {site_dir}"
        site_dir = with_site_dir(settings, site_dir).site_dir
    else:
        site_dir = settings.demo_dir / "site" if demo else settings.site_dir
        hint = "billing-reports build --demo" if demo else "billing-reports build"
    index = site_index(site_dir, fallback=settings.output_filename, build_hint=hint)
    server = PreviewServer(site_dir, port, index=index)
    click.echo(f"Serving {site_dir} at {server.url}")
    click.echo("Press Ctrl-C to stop.", err=True)
    server.serve_forever()
    click.echo("Stopped.", err=True)
