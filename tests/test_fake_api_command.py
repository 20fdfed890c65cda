"""``billing-reports fake-api``: a real server process, fetched from with the real client through the
config it prints, stopped with Ctrl-C."""

from __future__ import annotations

import os
import re
import signal
import socket
import subprocess
import textwrap

import orjson
import pytest
import requests
from servers import BILLING_REPORTS, run_cli

from billing_reports.cache import cache_path
from billing_reports.fakeapi import demo_team
from billing_reports.months import current_month
from billing_reports.on_demand import is_on_demand
from billing_reports.settings import API_KEY_VARIABLE, BASE_URL_VARIABLE

pytestmark = pytest.mark.server


def start_fake_api(cwd, *arguments) -> tuple[subprocess.Popen, str]:
    """The process and everything it printed on stdout up to its last line of instructions."""
    process = subprocess.Popen(
        [str(BILLING_REPORTS), "fake-api", *arguments], cwd=cwd, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
        text=True, stdin=subprocess.DEVNULL,
    )
    lines = []
    while not lines or not lines[-1].startswith("(Or set"):
        line = process.stdout.readline()
        if not line:
            break
        lines.append(line.rstrip("\n"))
    return process, "\n".join(lines)


def stop(process, how=signal.SIGINT) -> tuple[int, str]:
    process.send_signal(how)
    _, stderr = process.communicate(timeout=20)
    return process.returncode, stderr


def _environment(**variables) -> dict[str, str]:
    ours = (API_KEY_VARIABLE, BASE_URL_VARIABLE)
    environment = {name: value for name, value in os.environ.items() if name not in ours}
    return {**environment, **variables}


def test_it_prints_the_url_the_key_and_a_config_that_fetch_uses(tmp_path):
    process, printed = start_fake_api(tmp_path, "--port", "0", "--rate-limit", "0")
    try:
        first = re.fullmatch(r"Fake Cursor Admin API at (http://127\.0\.0\.1:(\d+)) \(the demo team, .+\)",
                             printed.splitlines()[0])
        assert first, printed
        url, port = first[1], int(first[2])
        key = re.search(r"^API key: (\S+)$", printed, re.MULTILINE)[1]
        # The config block it prints, saved as it says.
        block = printed.split("team's cache:\n\n", 1)[1].split("\n\nthen run:", 1)[0]
        (tmp_path / "fake-api.yaml").write_text(textwrap.dedent(block), encoding="utf-8")
        assert f'base_url: "{url}"' in block
        assert f"{API_KEY_VARIABLE}={key} billing-reports fetch --config fake-api.yaml" in printed

        month = current_month().previous()  # a whole month: the fake serves all of it
        fetched = subprocess.run(
            [str(BILLING_REPORTS), "fetch", "--config", "fake-api.yaml", "--end-month", month.key,
             "--months-back", "1"],
            cwd=tmp_path, env=_environment(**{API_KEY_VARIABLE: key}), capture_output=True, text=True, timeout=120,
        )
        assert fetched.returncode == 0, fetched.stderr
        assert fetched.stdout.startswith("Fetched 1 month")
        cached = orjson.loads(cache_path(tmp_path / "fake-api-data" / "monthly_usage_data", month).read_bytes())
        expected = [event for event in demo_team().month_events(month) if is_on_demand(event)]
        assert expected and cached["events"] == expected
        assert "demo" not in cached["fetch"]  # fetched as any API's months are
        # Nothing outside the folders the printed config names.
        assert sorted(path.name for path in tmp_path.iterdir()) == ["fake-api-data", "fake-api.yaml"]
    finally:
        code, stderr = stop(process)
    assert code == 0 and "Traceback" not in stderr
    assert stderr.strip().splitlines() == ["Press Ctrl-C to stop.", "Stopped."]
    with pytest.raises(OSError):  # the port is closed
        socket.create_connection(("127.0.0.1", port), timeout=1).close()


def test_it_answers_429_over_its_rate_limit_and_sigterm_stops_it(tmp_path):
    process, printed = start_fake_api(tmp_path, "--port", "0", "--rate-limit", "2")
    try:
        url = re.search(r"at (http://\S+) ", printed)[1]
        key = re.search(r"^API key: (\S+)$", printed, re.MULTILINE)[1]
        assert "2 requests/minute" in printed and "request_delay_seconds: 30" in printed
        statuses = [requests.post(url + "/teams/filtered-usage-events", json={}, auth=(key, ""), timeout=10).status_code
                    for _ in range(5)]  # within two clock minutes at most: a 429 whatever the second
        assert statuses[:1] == [200] and 429 in statuses
        assert requests.get(url + "/teams/members", auth=("key_wrong", ""), timeout=10).status_code == 401
    finally:
        code, stderr = stop(process, signal.SIGTERM)
    assert code == 0 and stderr.strip().endswith("Stopped.") and "Traceback" not in stderr


def test_a_port_in_use_is_one_clear_line(tmp_path):
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        result = run_cli("fake-api", "--port", str(port), cwd=tmp_path, timeout=30)
    assert result.returncode == 1 and result.stdout == ""
    assert result.stderr == (f"Error: port {port} on 127.0.0.1 is already in use; pass --port N for another port, "
                             "or --port 0 for any free one\n")


def test_an_address_it_cannot_listen_on_is_one_clear_line(tmp_path):
    result = run_cli("fake-api", "--host", "192.0.2.1", "--port", "8799", cwd=tmp_path, timeout=30)  # TEST-NET
    assert result.returncode == 1 and result.stdout == ""
    lines = result.stderr.splitlines()
    assert len(lines) == 1 and lines[0].startswith("Error: cannot listen on 192.0.2.1:8799 (")
    assert lines[0].endswith("); check --host, or try --port 0")
    # with --port 0 already, "try --port 0" would send the user round in a circle
    result = run_cli("fake-api", "--host", "192.0.2.1", "--port", "0", cwd=tmp_path, timeout=30)
    lines = result.stderr.splitlines()
    assert result.returncode == 1 and len(lines) == 1 and lines[0].endswith("); check --host")


def test_help_says_what_it_serves_and_how_to_use_it(tmp_path):
    result = run_cli("fake-api", "--help", cwd=tmp_path, timeout=30)
    assert result.returncode == 0
    for text in ("--port", "0 picks any free port", "--host", "--rate-limit", "--seed", "Ctrl-C",
                 "POST /teams/filtered-usage-events", "GET /teams/members", "POST /teams/spend",
                 "GET /teams/groups", "billing-reports fake-api --port 0"):
        assert text in " ".join(result.stdout.split()), text  # (click rewraps the help)
    assert "fake-api" in run_cli("--help", cwd=tmp_path, timeout=30).stdout
