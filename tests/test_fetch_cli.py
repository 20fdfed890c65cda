"""``billing-reports fetch`` as a user runs it."""

import os
import signal
import subprocess
import sys
import time

import pytest
from click.testing import CliRunner
from conftest import hand_made_events

from billing_reports.cache import cache_path, read_cached_month, write_cached_month
from billing_reports.cli import cli
from billing_reports.fakeapi import FakeCursorApi, StaticTeam
from billing_reports.months import Month

pytestmark = pytest.mark.server

JANUARY, FEBRUARY = Month(2026, 1), Month(2026, 2)
CONFIG = """\
billing:
  months_back: 2
  page_size: {page_size}
  request_delay_seconds: 0
api:
  max_retries: 1
paths:
  data_dir: cache
"""


@pytest.fixture
def api():
    with FakeCursorApi(StaticTeam(hand_made_events()), rate_limit_per_minute=None) as api:
        yield api


@pytest.fixture
def config(tmp_path):
    path = tmp_path / "config.yaml"
    path.write_text(CONFIG.format(page_size=1000))
    return path


def run(config, *args, env=None):
    return CliRunner().invoke(cli, ["fetch", "--config", str(config), "--end-month", "2026-02", *args], env=env)


def api_env(api, key=None):
    return {"CURSOR_API_BASE_URL": api.base_url, "CURSOR_API_KEY": key or api.api_key}


def test_fetch_writes_the_months_in_range_and_prints_a_summary(config, api):
    result = run(config, env=api_env(api))
    assert result.exit_code == 0, result.output
    assert result.stdout.startswith("Fetched 2 months (8 on-demand events), 0 already cached; 3 requests, ")
    assert result.stderr.splitlines() == [
        "Fetching page 1 for January 2026 (window 1/2)...",
        "Fetching page 1 for January 2026 (window 2/2)...",
        "January 2026: 7 on-demand events kept",
        "Fetching page 1 for February 2026...",
        "February 2026: 1 on-demand event kept",
        "Taking Cursor's own figures: members, this cycle's spend and limits, billing groups...",
    ]
    data_dir = config.parent / "cache"
    # the usage months, and Cursor's own figures beside them (this team has no billing groups)
    assert sorted(os.listdir(data_dir)) == [
        "01-2026-usage-based-data.json", "02-2026-usage-based-data.json", "members.json", "spend"]
    assert result.stdout.splitlines()[1].startswith("Cursor's figures (3 requests): 0 members, spend of 0 in the cycle")
    assert read_cached_month(cache_path(data_dir, JANUARY))["complete"] is True
    again = run(config, env=api_env(api))
    assert again.stdout.startswith("Fetched 0 months (0 on-demand events), 2 already cached; 0 requests")
    assert "Cursor's figures (3 requests)" in again.stdout  # taken again: they change by the hour
    assert again.stderr.splitlines() == ["January 2026: already cached", "February 2026: already cached",
                                         "Taking Cursor's own figures: members, this cycle's spend and limits, "
                                         "billing groups..."]


def test_months_back_and_refresh(config, api):
    run(config, env=api_env(api))
    result = run(config, "--months-back", "1", "--refresh", "2026-01", "--refresh", "2026-02", env=api_env(api))
    assert result.exit_code == 0, result.output
    assert result.stdout.startswith("Fetched 2 months (8 on-demand events), 0 already cached; 3 requests")


def test_the_key_can_come_from_a_dotenv_file_next_to_the_config(config, api):
    (config.parent / ".env").write_text(f"CURSOR_API_KEY={api.api_key}\n")
    result = run(config, env={"CURSOR_API_BASE_URL": api.base_url})
    assert result.exit_code == 0, result.output
    assert api.api_key not in result.output


def test_a_missing_key_is_one_line(config, api, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    result = run(config, env={"CURSOR_API_BASE_URL": api.base_url})
    assert result.exit_code == 1
    assert result.stderr == (
        "Error: No Cursor API key: set CURSOR_API_KEY in the environment or in a .env file next to config.yaml "
        "(or in the current directory); `billing-reports build --demo` needs none.\n"
    )
    assert api.requests == []


def test_a_wrong_key_is_one_line_without_the_key(config, api):
    result = run(config, env=api_env(api, key="key_wrong_secret_77"))
    assert result.exit_code == 1
    error_lines = [line for line in result.stderr.splitlines() if line.startswith("Error:")]
    assert error_lines == [
        "Error: January 2026, window 1/2 (2026-01-01T00:00:00.000Z to 2026-01-30T23:59:59.999Z), page 1: "
        "the Cursor API rejected the API key (401 Unauthorized); check CURSOR_API_KEY (an Admin API key "
        "from the team's dashboard settings)"
    ]
    assert "key_wrong_secret_77" not in result.output
    assert not (config.parent / "cache").exists() or os.listdir(config.parent / "cache") == []


def test_a_broken_cache_file_is_named_with_its_fix(config, api):
    path = cache_path(config.parent / "cache", JANUARY)
    path.parent.mkdir()
    path.write_text("{not json")
    result = run(config, env=api_env(api))
    assert result.exit_code == 1
    assert result.stderr.startswith(f"Error: Cache file {path} is not valid JSON")
    assert result.stderr.rstrip().endswith("run `billing-reports fetch --refresh 2026-01` to download it again.")
    assert path.read_text() == "{not json"


def test_a_bad_refresh_month_is_a_usage_error(config):
    result = run(config, "--refresh", "January")
    assert result.exit_code == 2
    assert "expected a month as YYYY-MM (for example 2026-01), got 'January'" in result.stderr


def test_ctrl_c_midway_ends_with_one_line_and_leaves_the_cache_as_it_was(tmp_path):
    config = tmp_path / "config.yaml"
    config.write_text(CONFIG.format(page_size=1000))
    february = cache_path(tmp_path / "cache", FEBRUARY)
    write_cached_month(february, {"month": "02-2026", "fetched_at": "2026-02-10T00:00:00Z", "total_events": 0,
                                  "events": [], "complete": False})
    before = february.read_bytes()
    command = [sys.executable, "-c", "from billing_reports.cli import main; main()"]  # the console script's code
    with FakeCursorApi(StaticTeam(hand_made_events()), rate_limit_per_minute=None) as api:
        api.slow_next(30, after=2)  # January's two windows answer; February's request hangs
        process = subprocess.Popen(
            [*command, "fetch", "--config", str(config), "--end-month", "2026-02"],
            env={**os.environ, **api_env(api)}, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        )
        january = cache_path(tmp_path / "cache", JANUARY)

        def february_asked() -> bool:  # February's (hanging) request has reached the server
            return any(isinstance(r.body, dict) and (r.body.get("startDate") or 0) >= FEBRUARY.start_ms
                       for r in api.requests)

        deadline = time.monotonic() + 20
        while not (january.exists() and february_asked()) and time.monotonic() < deadline and process.poll() is None:
            time.sleep(0.05)
        process.send_signal(signal.SIGINT)
        stdout, stderr = process.communicate(timeout=20)
    assert process.returncode == 130
    assert stderr.splitlines()[-1] == "Interrupted: nothing half-written was kept; run the command again to resume."
    assert "Traceback" not in stderr
    assert read_cached_month(january)["total_events"] == 7
    assert february.read_bytes() == before
    assert sorted(os.listdir(tmp_path / "cache")) == ["01-2026-usage-based-data.json", "02-2026-usage-based-data.json"]
