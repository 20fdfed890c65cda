"""``billing-reports fake-api``: run the offline fake Cursor Admin API with the demo team."""

from __future__ import annotations

import signal
import threading

import click

from ..fakeapi import DemoTeam, FakeCursorApi, demo_team
from ..serving import listen_error
from ..settings import API_KEY_VARIABLE, BASE_URL_VARIABLE

DEFAULT_FAKE_API_PORT = 8787
#: The newest docs' limit of the endpoint (older ones: 20 a minute).
DEFAULT_RATE_LIMIT = 60


@click.command("fake-api")
@click.option("--port", type=click.IntRange(0, 65535), default=DEFAULT_FAKE_API_PORT, show_default=True,
              help="The port to listen on; 0 picks any free port.")
@click.option("--host", default="127.0.0.1", show_default=True,
              help="The address to listen on. Keep 127.0.0.1 unless another machine must reach it.")
@click.option("--rate-limit", type=click.IntRange(0, None), default=DEFAULT_RATE_LIMIT, show_default=True,
              help="Requests answered per clock minute before 429 Too Many Requests, as the real API "
                   "limits them (the newest docs say 60, older ones 20); 0: no limit.")
@click.option("--seed", type=int, default=2026, show_default=True,
              help="Another seed draws other days for the same demo team.")
def fake_api(port: int, host: str, rate_limit: int, seed: int) -> None:
    """Run the offline fake Cursor Admin API until Ctrl-C, with the demo team.

    For trying `fetch` and for plugin authors who need data: no key, no
    network. It serves POST /teams/filtered-usage-events, GET /teams/members,
    POST /teams/spend and GET /teams/groups as the reference documents them
    (Basic auth with the printed key, pages of at most 1000 events, windows of
    at most 30 days, 429 over the rate limit)
    with the synthetic company of `build --demo`: 33 people and a service
    account over the six months ending with the current one.

    It prints the URL, the key and a config that points `fetch` (or `build`)
    at it, with folders of their own: the fake's months must never land in
    your team's cache.

    \b
    Examples:
      billing-reports fake-api
      billing-reports fake-api --port 0 --rate-limit 20
    """
    team = demo_team(seed=seed)
    api = FakeCursorApi(team, rate_limit_per_minute=rate_limit or None, host=host, port=port)
    try:
        api.start()
    except OSError as error:
        raise listen_error(host, port, error, hint="check --host" if port == 0 else "check --host, or try --port 0") from None
    try:
        click.echo(_instructions(api, team, rate_limit))
        click.echo("Press Ctrl-C to stop.", err=True)
        _wait_for_interrupt()
    finally:
        api.stop()
    click.echo("Stopped.", err=True)


def _instructions(api: FakeCursorApi, team: DemoTeam, rate_limit: int) -> str:
    period = f"{team.months[0].label} to {team.months[-1].label}"
    limit = f"{rate_limit} requests/minute" if rate_limit else "no rate limit"
    delay = f"{60 / rate_limit:g}" if rate_limit else "0"
    return f"""\
Fake Cursor Admin API at {api.base_url} (the demo team, {period}; {limit})
API key: {api.api_key}

To fetch from it, save this as fake-api.yaml; its own folders keep the synthetic months out of your
team's cache:

  api:
    base_url: "{api.base_url}"
  billing:
    months_back: {len(team.months)}
    request_delay_seconds: {delay}
  paths:
    data_dir: "fake-api-data/monthly_usage_data"
    site_dir: "fake-api-data/site"
    demo_dir: "fake-api-data/demo"

then run:

  {API_KEY_VARIABLE}={api.api_key} billing-reports fetch --config fake-api.yaml
  {API_KEY_VARIABLE}={api.api_key} billing-reports build --config fake-api.yaml

(Or set {BASE_URL_VARIABLE}={api.base_url}, with a config whose paths are not your team's.)"""


def _wait_for_interrupt() -> None:
    """Block until Ctrl-C or SIGTERM."""
    previous = signal.signal(signal.SIGTERM, _interrupt)
    try:
        threading.Event().wait()
    except KeyboardInterrupt:
        pass
    finally:
        signal.signal(signal.SIGTERM, previous)


def _interrupt(signum, frame) -> None:
    raise KeyboardInterrupt
