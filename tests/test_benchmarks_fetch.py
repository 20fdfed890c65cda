"""The fetch-efficiency benchmark: its minimums and verdicts, and one small run against the fake API."""

from __future__ import annotations

import pytest

from benchmarks.fetch_benchmark import FetchRun, fetch_verdicts, run_fetch_benchmark


def _run(**changes) -> FetchRun:
    figures = dict(events=50_000, page_size=1000, rate_limit=600, delay=0.1,
                   window_events=(48_388, 1_612), requests=51, rate_limited=0, seconds=5.1,
                   kept_events=36_000, expected_kept=36_000)
    figures.update(changes)
    return FetchRun(**figures)


def test_minimums_follow_windows_page_size_and_pacing():
    run = _run()
    assert run.minimum_requests == 49 + 2
    assert run.interval == 0.1
    assert run.minimum_seconds == pytest.approx(5.0)
    # A stricter limit than the delay sets the pace: 60 / 20 = 3 s between starts.
    assert _run(rate_limit=20, delay=1.0).minimum_seconds == pytest.approx(150.0)


def test_verdicts_for_a_clean_fetch_all_hold():
    verdicts = fetch_verdicts(_run())
    assert [verdict.met for verdict in verdicts] == [True, True, True, True]
    assert verdicts[2].measured == "5.10 s vs 5.00 s (x1.020)"


def test_verdicts_catch_extra_requests_429s_slowness_and_lost_events():
    verdicts = fetch_verdicts(_run(requests=53, rate_limited=2, seconds=5.5, kept_events=35_999))
    assert [verdict.met for verdict in verdicts] == [False, False, False, False]


@pytest.mark.server
def test_a_small_fetch_against_the_fake_api_is_measured(tmp_path):
    messages: list[str] = []
    run = run_fetch_benchmark(tmp_path, events=2500, rate_limit=6000, delay=0.01, page_size=500,
                              progress=messages.append)
    assert sum(run.window_events) == 2500
    assert run.requests == run.minimum_requests == sum(-(-count // 500) for count in run.window_events)
    assert run.rate_limited == 0
    assert run.complete and 0 < run.kept_events < 2500
    assert run.seconds >= run.minimum_seconds
    assert len(messages) == 2
