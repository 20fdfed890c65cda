"""The normal path, replayed from vcrpy cassettes in cassettes/ (no server, no network, no key).

The cassettes were recorded from the offline fake API. To record them again::

    BILLING_REPORTS_RECORD_CASSETTES=fake .venv/bin/python -m pytest tests/test_fetch_cassettes.py

To record a month of the real API (README, "Fetching"): ``BILLING_REPORTS_RECORD_CASSETTES=real``
with ``CURSOR_API_KEY`` set; that writes ``cassettes/real_api_YYYY-MM.yaml``, which later runs
replay with checks that hold for any data. The ``Authorization`` header is never recorded.
"""

import dataclasses
import os
import time
from pathlib import Path

import pytest
import vcr
from conftest import FakeClock, hand_made_events, utc

from billing_reports.cache import cache_path, read_cached_month
from billing_reports.fakeapi import FakeCursorApi, StaticTeam, SyntheticTeam, on_demand_totals
from billing_reports.fetching import fetch_months
from billing_reports.on_demand import is_on_demand
from billing_reports.months import Month
from billing_reports.settings import DEFAULT_BASE_URL, Settings

CASSETTES = Path(__file__).resolve().parent.parent / "cassettes"
RECORD = os.environ.get("BILLING_REPORTS_RECORD_CASSETTES", "")  # "", "fake" or "real"
REPLAY_KEY = "key_replay_dummy"  # replay needs no real key; the header is not in the cassettes
JANUARY, FEBRUARY = Month(2026, 1), Month(2026, 2)
NOW = utc("2026-03-05T00:00:00")
SYNTHETIC = dict(seed=7, users=12, removed_users=2, events_per_month=800, months=[Month(2025, 12)])


def _official_host(request):
    """Record every request as sent to the real API's host, whatever served it."""
    request.uri = DEFAULT_BASE_URL + request.path
    return request


def cassette_vcr(record: bool) -> vcr.VCR:
    return vcr.VCR(
        cassette_library_dir=str(CASSETTES),
        record_mode="all" if record else "none",
        filter_headers=["authorization"],
        match_on=["method", "path", "body"],
        before_record_request=_official_host,
        decode_compressed_response=True,
    )


def settings_for(tmp_path, base_url, **changes) -> Settings:
    return dataclasses.replace(Settings(config_path=tmp_path / "config.yaml"), data_dir=tmp_path / "cache",
                               api_base_url=base_url, request_delay_seconds=0.0, **changes)


def fetch_from_cassette(tmp_path, name, team, months, **changes):
    """Fetch ``months`` through cassette ``name`` (recorded from a fake serving ``team`` when asked)."""
    clock = FakeClock()
    now = lambda: NOW  # noqa: E731
    if RECORD == "fake":
        with FakeCursorApi(team, rate_limit_per_minute=None) as api, cassette_vcr(True).use_cassette(name):
            return fetch_months(settings_for(tmp_path, api.base_url, **changes), months, api_key=api.api_key,
                                now=now, clock=clock, sleep=clock.sleep)
    if not (CASSETTES / name).exists():
        pytest.fail(f"cassettes/{name} is missing; record it with BILLING_REPORTS_RECORD_CASSETTES=fake")
    with cassette_vcr(False).use_cassette(name) as cassette:
        summary = fetch_months(settings_for(tmp_path, DEFAULT_BASE_URL, **changes), months, api_key=REPLAY_KEY,
                               now=now, clock=clock, sleep=clock.sleep)
        assert cassette.all_played
    return summary


@pytest.mark.skipif(RECORD == "real", reason="recording the real API")
def test_hand_made_months_replayed(tmp_path):
    summary = fetch_from_cassette(tmp_path, "fetch_hand_made_2026-01_2026-02.yaml",
                                  StaticTeam(hand_made_events(), now=lambda: NOW), [JANUARY, FEBRUARY], page_size=2)
    assert (summary.requests, summary.events_kept, summary.months_fetched) == (8, 8, [JANUARY, FEBRUARY])
    january = read_cached_month(cache_path(tmp_path / "cache", JANUARY))
    events = hand_made_events()
    assert january["events"] == [events[i] for i in (1, 2, 3, 4, 9, 10, 12)]
    assert january["fetch"]["api_total"] == 12
    assert sum(january["fetch"]["left_out"].values()) == 5
    assert read_cached_month(cache_path(tmp_path / "cache", FEBRUARY))["events"] == [events[13]]


@pytest.mark.skipif(RECORD == "real", reason="recording the real API")
def test_a_synthetic_month_replayed_matches_the_generator(tmp_path):
    december = Month(2025, 12)
    team = SyntheticTeam(**SYNTHETIC, now=lambda: NOW)
    summary = fetch_from_cassette(tmp_path, "fetch_synthetic_2025-12.yaml", team, [december], page_size=300)
    served = team.month_events(december)
    payload = read_cached_month(cache_path(tmp_path / "cache", december))
    assert payload["events"] == [e for e in served if is_on_demand(e)]
    assert payload["fetch"]["api_total"] == len(served) == 800
    # December: 31 days, so two windows; 800 events at 300 a page.
    assert [w["api_total"] for w in payload["fetch"]["windows"]] == [
        sum(int(e["timestamp"]) <= december.windows()[0].end_ms for e in served),
        sum(int(e["timestamp"]) > december.windows()[0].end_ms for e in served),
    ]
    assert summary.requests == sum(max(1, -(-w["api_total"] // 300)) for w in payload["fetch"]["windows"])
    # Recorded from the fake as it is now: both event formats, kept exactly as sent.
    kept = payload["events"]
    assert any("chargedCents" in e for e in kept) and any("chargedCents" not in e for e in kept)
    assert any("discountPercentOff" in e["tokenUsage"] for e in kept)
    assert any("serviceAccountId" in e and e["isHeadless"] and "userEmail" in e for e in kept)
    assert on_demand_totals(kept) == team.on_demand_totals(december)


def test_no_cassette_holds_a_key_or_an_authorization_header():
    texts = {path.name: path.read_text() for path in CASSETTES.glob("*.yaml")}
    assert texts, "no cassettes recorded"
    for name, text in texts.items():
        assert "authorization" not in text.lower(), name
        assert "key_fake_" not in text and "crsr_" not in text, name


REAL_MONTH = Month.parse(os.environ.get("BILLING_REPORTS_CASSETTE_MONTH", "2026-01"))
REAL_CASSETTES = sorted(CASSETTES.glob("real_api_*.yaml")) if RECORD != "real" else [
    CASSETTES / f"real_api_{REAL_MONTH.key}.yaml"]


@pytest.mark.parametrize("cassette", REAL_CASSETTES, ids=[p.name for p in REAL_CASSETTES])
def test_a_real_api_month(tmp_path, cassette):
    """Checks that hold for any data: only runs when a real_api_YYYY-MM.yaml cassette exists."""
    month = Month.parse(cassette.stem.removeprefix("real_api_"))
    if RECORD == "real":
        key = os.environ.get("CURSOR_API_KEY") or pytest.fail("recording the real API needs CURSOR_API_KEY")
        settings = settings_for(tmp_path, os.environ.get("CURSOR_API_BASE_URL", DEFAULT_BASE_URL),
                                request_delay_seconds=3.0)
        timing = dict(clock=time.monotonic, sleep=time.sleep)
    else:
        key, settings = REPLAY_KEY, settings_for(tmp_path, DEFAULT_BASE_URL)
        clock = FakeClock()
        timing = dict(clock=clock, sleep=clock.sleep)
    with cassette_vcr(RECORD == "real").use_cassette(cassette.name) as played:
        summary = fetch_months(settings, [month], api_key=key, **timing)
    payload = read_cached_month(cache_path(tmp_path / "cache", month))
    assert all(is_on_demand(e) for e in payload["events"])
    assert all(month.start_ms <= int(e["timestamp"]) < month.end_ms for e in payload["events"])
    assert payload["fetch"]["api_total"] == payload["total_events"] + sum(payload["fetch"]["left_out"].values())
    assert summary.requests == len(played.requests)
