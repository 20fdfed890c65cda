"""Fetch progress: a progress bar on a terminal, log lines otherwise."""

import dataclasses
import io
import math
import re

import pytest
from conftest import FakeClock, utc

from billing_reports.cache import cache_path, read_cached_month
from billing_reports.fakeapi import FakeCursorApi, SyntheticTeam
from billing_reports.fetching import fetch_months
from billing_reports.months import Month
from billing_reports.progress import LogReporter, ProgressBarReporter, describe_time_left, make_reporter
from billing_reports.settings import Settings

JANUARY, FEBRUARY = Month(2026, 1), Month(2026, 2)
#: What the bar says beside itself: ``12/21+ pages, about 30 s left``.
STATUS = re.compile(r"(\d+)/(\d+)(\+?) pages(?:, (?:under 1 s|about (?:(\d+) h )?(\d+) (s|min)) left)?")


class Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def _shown(screen: Terminal) -> list[re.Match]:
    """Every state of the bar drawn on the screen, in order."""
    return list(STATUS.finditer(screen.getvalue()))


def _seconds(match: re.Match) -> float | None:
    if "under 1 s" in match[0]:
        return 0.0
    if match[6] is None:
        return None
    return int(match[5]) * (60 if match[6] == "min" else 1) + int(match[4] or 0) * 3600


def test_a_terminal_gets_a_progress_bar_and_a_pipe_gets_log_lines():
    assert isinstance(make_reporter(Terminal()), ProgressBarReporter)
    piped = make_reporter(io.StringIO())
    assert isinstance(piped, LogReporter) and not isinstance(piped, ProgressBarReporter)


def test_the_bar_shows_the_months_pages_once_known_and_the_time_the_pacing_leaves():
    screen, clock = Terminal(), FakeClock()
    reporter = ProgressBarReporter(screen, clock=clock)
    reporter.fetch_started([JANUARY], 3.0)
    windows = JANUARY.windows()  # 30 days, then 1
    reporter.month_started(JANUARY, windows)
    assert reporter.status() == "counting pages..."  # no count before the API gives one: no "0/2"
    reporter.page_fetched(JANUARY, 1, 2, 1, 20)
    # Window 2 not asked yet: at window 1's rate for its one day, at least one page.
    rate = 20 / (windows[0].end_ms - windows[0].start_ms + 1)
    estimated = max(1, math.ceil(rate * (windows[1].end_ms - windows[1].start_ms + 1)))
    assert reporter.status() == f"1/20+ pages, {describe_time_left((19 + estimated) * 3.0)}"
    for page in range(2, 21):
        clock.sleep(3.0)
        reporter.page_fetched(JANUARY, 1, 2, page, 20)
    clock.sleep(3.0)
    reporter.page_fetched(JANUARY, 2, 2, 1, 2)
    assert reporter.status() == f"21/22 pages, {describe_time_left(3.0)}"
    clock.sleep(3.0)
    reporter.page_fetched(JANUARY, 2, 2, 2, 2)
    assert reporter.status() == "22/22 pages"  # nothing left: no estimate
    reporter.month_finished(JANUARY, 1234, complete=False)
    shown = screen.getvalue()
    assert "January 2026" in shown and "22/22 pages" in shown
    assert not re.search(r"(?<!\d)0/2(?!\d)", shown)
    assert shown.rstrip().endswith(
        "January 2026: 1,234 on-demand events kept (month not over yet: marked incomplete, fetched again next run)")


def test_the_estimate_follows_the_pace_seen_when_the_api_is_slower_than_the_pacing():
    clock = FakeClock()
    reporter = ProgressBarReporter(Terminal(), clock=clock)
    reporter.fetch_started([FEBRUARY], 1.0)
    reporter.month_started(FEBRUARY, FEBRUARY.windows())
    clock.sleep(10.0)  # a 429 and its backoff, say
    reporter.page_fetched(FEBRUARY, 1, 1, 1, 7)
    assert reporter.status() == f"1/7 pages, {describe_time_left(6 * 10.0)}"


def test_a_window_fetched_again_is_not_counted_twice():
    reporter = ProgressBarReporter(Terminal(), clock=FakeClock())
    reporter.month_started(FEBRUARY, FEBRUARY.windows())
    for page in (1, 2, 3, 1, 2, 3):  # its events did not add up: the window again from page 1
        reporter.page_fetched(FEBRUARY, 1, 1, page, 3)
    assert reporter.status() == "3/3 pages"


@pytest.mark.server
@pytest.mark.parametrize("events", [2000, 35], ids=["many pages", "one page per window"])
def test_a_real_fetch_shows_totals_that_never_go_back_and_the_time_left(tmp_path, fake_clock, events):
    """Against the fake API: every total drawn is at least the one before, the last is the requests
    made, and while pages are left an estimate is shown; once every window's count is known it is the
    pages left times the pacing."""
    team = SyntheticTeam(seed=5, events_per_month=events, months=[JANUARY, FEBRUARY],
                         now=lambda: utc("2026-03-05T00:00:00"))
    screen = Terminal()
    reporter = ProgressBarReporter(screen, clock=fake_clock)
    with FakeCursorApi(team, rate_limit_per_minute=None, clock=fake_clock) as api:
        settings = dataclasses.replace(Settings(config_path=tmp_path / "config.yaml"), data_dir=tmp_path / "cache",
                                       api_base_url=api.base_url, page_size=100, request_delay_seconds=3.0)
        fetch_months(settings, [JANUARY, FEBRUARY], api_key=api.api_key, reporter=reporter,
                     now=lambda: utc("2026-03-05T00:00:00"), clock=fake_clock, sleep=fake_clock.sleep)
    months = screen.getvalue().split("January 2026: ")  # January's bar, then February's
    assert len(months) == 2
    for month, drawn in zip((JANUARY, FEBRUARY), months[0:1] + months[1:]):
        requests = read_cached_month(cache_path(tmp_path / "cache", month))["fetch"]["requests"]
        states = _shown(Terminal(drawn))
        assert states, drawn
        done = [int(state[1]) for state in states]
        totals = [int(state[2]) for state in states]
        assert done == sorted(done) and totals == sorted(totals)
        assert (done[-1], totals[-1], states[-1][3]) == (requests, requests, "")
        for state in states:
            left = int(state[2]) - int(state[1])
            if state[3] == "" and left:  # every count known: the estimate is exact
                assert _seconds(state) == pytest.approx(left * 3.0, abs=0.5 if left * 3 < 90 else 30)
            elif state[3] == "+":
                assert _seconds(state) is not None  # more to come: always an estimate
    assert not re.search(r"(?<!\d)0/\d", screen.getvalue())  # nothing drawn before a count is known


def test_log_lines_name_the_window_only_when_a_month_has_several():
    lines = []
    reporter = LogReporter(lines.append)
    reporter.page_requested(JANUARY, 1, 2, 3, 12)
    reporter.page_fetched(JANUARY, 1, 2, 3, 12)  # (a line as it is requested, none when it arrives)
    reporter.page_requested(Month(2026, 2), 1, 1, 1, None)  # the first page: the count is not known yet
    reporter.page_requested(Month(2026, 2), 1, 1, 3, 12)
    reporter.month_cached(JANUARY)
    assert lines == [
        "Fetching page 3/12 for January 2026 (window 1/2)...",
        "Fetching page 1 for February 2026...",
        "Fetching page 3/12 for February 2026...",
        "January 2026: already cached",
    ]


def test_the_examples_in_the_docstrings_hold():
    import doctest

    from billing_reports import progress

    assert doctest.testmod(progress).failed == 0
