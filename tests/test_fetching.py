"""fetch_months: months x windows x pages, completeness, the cache file it writes, failures.

The hand-made January 2026 (tests/conftest.py) has 12 events: 9 in window 1 (Jan 1-30) and 3 in
window 2 (Jan 31). Kept (on-demand): the first ms, the removed user, the two parallel calls, both
sides of the window edge and the last ms = 7. Left out: one each of Included in Business,
Usage-based not chargeable, Usage-based not token-based, Some Future Kind, Errored = 5.
With page size 2: window 1 takes 5 pages, window 2 takes 2 pages = 7 requests.
"""

import dataclasses
import os

import orjson
import pytest
from conftest import FakeClock, Now, hand_made_events, utc
from conftest import usage_event as conftest_usage_event

from billing_reports.cache import cache_path, read_cached_month, write_cached_month
from billing_reports.errors import ApiError, CacheError, ConfigError
from billing_reports.fakeapi import FakeCursorApi, StaticTeam
from billing_reports.cache import is_complete
from billing_reports.fetching import fetch_months
from billing_reports.months import Month
from billing_reports.progress import LogReporter
from billing_reports.settings import Settings

pytestmark = pytest.mark.server

JANUARY, FEBRUARY = Month(2026, 1), Month(2026, 2)
AFTER_FEBRUARY = utc("2026-03-05T00:00:00")


@pytest.fixture
def now():
    return Now(AFTER_FEBRUARY)


@pytest.fixture
def api(fake_clock, now):
    with FakeCursorApi(StaticTeam(hand_made_events(), now=now), rate_limit_per_minute=None, clock=fake_clock) as api:
        yield api


@pytest.fixture
def settings(tmp_path, api):
    return dataclasses.replace(
        Settings(config_path=tmp_path / "config.yaml"),
        data_dir=tmp_path / "cache",
        api_base_url=api.base_url,
        page_size=2,
        request_delay_seconds=0.0,
    )


def fetch(settings, api, clock, now, months=(JANUARY,), **options):
    return fetch_months(settings, list(months), api_key=api.api_key, now=now, clock=clock,
                        sleep=clock.sleep, **options)


def test_a_month_is_fetched_window_by_window_and_page_by_page(settings, api, fake_clock, now):
    summary = fetch(settings, api, fake_clock, now)
    payload = read_cached_month(cache_path(settings.data_dir, JANUARY))
    january = hand_made_events()[1:13]
    expected_kept = [january[i] for i in (0, 1, 2, 3, 8, 9, 11)]
    assert payload["events"] == expected_kept  # exactly as sent: removed user, unknown field and all
    assert payload["month"] == "01-2026"
    assert payload["fetched_at"] == "2026-03-05T00:00:00Z"
    assert payload["total_events"] == 7
    assert payload["complete"] is True
    assert payload["fetch"] == {
        "windows": [
            {"startDate": JANUARY.start_ms, "endDate": JANUARY.windows()[0].end_ms,
             "fetched_at": "2026-03-05T00:00:00Z", "api_total": 9, "kept": 5,
             "left_out": {"Included in Business": 1, "Some Future Kind": 1, "Usage-based, not chargeable": 1,
                          "Usage-based, not token-based": 1},
             "requests": 5},
            {"startDate": JANUARY.windows()[1].start_ms, "endDate": JANUARY.end_ms - 1,
             "fetched_at": "2026-03-05T00:00:00Z", "api_total": 3, "kept": 2,
             "left_out": {"Errored, Not Charged": 1}, "requests": 2},
        ],
        "api_total": 12,
        "left_out": {"Errored, Not Charged": 1, "Included in Business": 1, "Some Future Kind": 1,
                     "Usage-based, not chargeable": 1, "Usage-based, not token-based": 1},
        "requests": 7,
        "page_size": 2,
    }
    assert [(r.body["startDate"], r.body["page"]) for r in api.requests] == (
        [(JANUARY.start_ms, page) for page in (1, 2, 3, 4, 5)] + [(JANUARY.windows()[1].start_ms, p) for p in (1, 2)]
    )
    assert (summary.months_fetched, summary.months_cached, summary.events_kept, summary.requests) == (
        [JANUARY], [], 7, 7)


def test_a_complete_cached_month_is_not_fetched_again(settings, api, fake_clock, now):
    fetch(settings, api, fake_clock, now, months=(JANUARY, FEBRUARY))
    api.clear_requests()
    summary = fetch(settings, api, fake_clock, now, months=(JANUARY, FEBRUARY))
    assert api.requests == []
    assert summary.months_cached == [JANUARY, FEBRUARY] and summary.months_fetched == []
    assert summary.describe().startswith("Fetched 0 months (0 on-demand events), 2 already cached; 0 requests")


def test_no_key_is_needed_when_everything_is_cached(settings, api, fake_clock, now):
    fetch(settings, api, fake_clock, now)
    summary = fetch_months(settings, [JANUARY], api_key=None, now=now, clock=fake_clock, sleep=fake_clock.sleep)
    assert summary.months_cached == [JANUARY]


def test_a_missing_key_is_one_line_saying_where_to_put_it(settings, fake_clock, now):
    with pytest.raises(ConfigError) as raised:
        fetch_months(settings, [JANUARY], api_key=None, now=now, clock=fake_clock, sleep=fake_clock.sleep)
    assert raised.value.message == (
        "No Cursor API key: set CURSOR_API_KEY in the environment or in a .env file next to config.yaml "
        "(or in the current directory); `billing-reports build --demo` needs none."
    )


@pytest.mark.parametrize(
    "fetched_at, complete",
    [("2026-01-20T10:00:00", False), ("2026-02-01T23:59:59", False), ("2026-02-02T00:00:00", True)],
)
def test_a_month_is_complete_only_a_day_after_it_ended(fetched_at, complete):
    assert is_complete(JANUARY, utc(fetched_at)) is complete


def test_an_incomplete_month_is_fetched_again_on_the_next_run(settings, api, fake_clock, now):
    now.moment = utc("2026-01-31T06:00:00")
    fetch(settings, api, fake_clock, now)
    first = read_cached_month(cache_path(settings.data_dir, JANUARY))
    assert first["complete"] is False
    assert first["total_events"] == 6  # up to Jan 31 06:00: the last-ms event has not happened yet
    now.moment = utc("2026-02-01T12:00:00")
    summary = fetch(settings, api, fake_clock, now)
    assert summary.months_incomplete == [JANUARY]
    now.moment = utc("2026-02-02T00:00:00")
    summary = fetch(settings, api, fake_clock, now)
    assert summary.months_fetched == [JANUARY] and summary.months_incomplete == []
    assert read_cached_month(cache_path(settings.data_dir, JANUARY))["complete"] is True


def test_a_seed_format_file_is_judged_by_its_fetched_at(settings, api, fake_clock, now):
    path = cache_path(settings.data_dir, JANUARY)
    write_cached_month(path, {"month": "01-2026", "fetched_at": "2026-02-24T16:30:00Z", "total_events": 0, "events": []})
    assert fetch(settings, api, fake_clock, now).months_cached == [JANUARY]
    write_cached_month(path, {"month": "01-2026", "fetched_at": "2026-01-24T16:30:00Z", "total_events": 0, "events": []})
    assert fetch(settings, api, fake_clock, now).months_fetched == [JANUARY]


def test_refresh_fetches_a_cached_month_again_even_outside_the_range(settings, api, fake_clock, now):
    fetch(settings, api, fake_clock, now, months=(JANUARY, FEBRUARY))
    api.clear_requests()
    summary = fetch(settings, api, fake_clock, now, months=(FEBRUARY,), refresh=(JANUARY,))
    assert summary.months_fetched == [JANUARY] and summary.months_cached == [FEBRUARY]
    assert len(api.requests) == 7


def test_a_month_that_has_not_started_is_not_requested(settings, api, fake_clock, now):
    now.moment = utc("2026-02-10T00:00:00")
    summary = fetch(settings, api, fake_clock, now, months=(Month(2026, 3),))
    assert summary.months_not_started == [Month(2026, 3)] and api.requests == []


def test_a_broken_cache_file_stops_the_run_before_any_request_and_is_kept(settings, api, fake_clock, now):
    path = cache_path(settings.data_dir, FEBRUARY)
    path.parent.mkdir(parents=True)
    path.write_bytes(b'{"month": "02-2026", "events": [')
    with pytest.raises(CacheError) as raised:
        fetch(settings, api, fake_clock, now, months=(JANUARY, FEBRUARY))
    assert str(path) in raised.value.message and "billing-reports fetch --refresh 2026-02" in raised.value.message
    assert api.requests == []
    assert path.read_bytes() == b'{"month": "02-2026", "events": ['
    fetch(settings, api, fake_clock, now, months=(JANUARY, FEBRUARY), refresh=(FEBRUARY,))
    assert read_cached_month(path)["total_events"] == 1


def test_a_window_short_of_events_is_fetched_again_once_saying_why(settings, api, fake_clock, now):
    api.short_page_next(1)
    lines = []
    fetch(settings, api, fake_clock, now, reporter=LogReporter(lines.append))
    assert read_cached_month(cache_path(settings.data_dir, JANUARY))["total_events"] == 7
    assert len(api.requests) == 5 + 5 + 2  # window 1 twice
    assert (
        "January 2026, window 1/2 (2026-01-01T00:00:00.000Z to 2026-01-30T23:59:59.999Z): the API reported "
        "9 events but sent 8; retrying now..."
    ) in lines


def test_a_window_short_twice_fails_naming_month_and_window_and_writes_nothing(settings, api, fake_clock, now):
    fetch(settings, api, fake_clock, now, months=(FEBRUARY,))
    api.short_page_next(100)
    with pytest.raises(ApiError) as raised:
        fetch(settings, api, fake_clock, now, months=(JANUARY,))
    assert raised.value.message == (
        "January 2026, window 1/2 (2026-01-01T00:00:00.000Z to 2026-01-30T23:59:59.999Z): the API reported "
        "9 events but sent 4, twice in a row; events may still be arriving: run the command again later"
    )
    assert sorted(os.listdir(settings.data_dir)) == ["02-2026-usage-based-data.json"]


def test_api_errors_name_the_month_and_window(settings, api, fake_clock, now):
    api.fail_next(403)
    with pytest.raises(ApiError, match=r"^January 2026, window 1/2 \(2026-01-01T00:00:00.000Z to .*\), page 1: "):
        fetch(settings, api, fake_clock, now)


def test_rate_limits_are_respected_by_spacing_request_starts(settings, fake_clock, now):
    team = StaticTeam(hand_made_events(), now=now)
    paced = dataclasses.replace(settings, request_delay_seconds=3.0, page_size=1)
    with FakeCursorApi(team, rate_limit_per_minute=20, clock=fake_clock) as api:
        summary = fetch(dataclasses.replace(paced, api_base_url=api.base_url), api, fake_clock, now)
        starts = [r.at for r in api.requests]
    assert summary.requests == 9 + 3 == len(starts)  # page size 1: one request per event
    assert summary.rate_limited == 0
    assert min(b - a for a, b in zip(starts, starts[1:])) == 3.0


def test_without_spacing_429s_are_met_and_waited_out(settings, now):
    clock = FakeClock(start=60 * 1000.0)
    team = StaticTeam(hand_made_events(), now=now)
    unpaced = dataclasses.replace(settings, request_delay_seconds=0.0, page_size=1, max_retries=10)
    with FakeCursorApi(team, rate_limit_per_minute=5, clock=clock) as api:
        summary = fetch(dataclasses.replace(unpaced, api_base_url=api.base_url), api, clock, now)
    assert summary.rate_limited > 0
    assert read_cached_month(cache_path(settings.data_dir, JANUARY))["total_events"] == 7
    assert summary.requests == 12 + summary.rate_limited


def test_an_interrupted_fetch_keeps_finished_months_and_leaves_no_temp_file(settings, api, fake_clock, now):
    class InterruptInFebruary(LogReporter):
        def page_fetched(self, month, *args):
            if month == FEBRUARY:
                raise KeyboardInterrupt

    lines = []
    with pytest.raises(KeyboardInterrupt):
        fetch(settings, api, fake_clock, now, months=(JANUARY, FEBRUARY), reporter=InterruptInFebruary(lines.append))
    assert sorted(os.listdir(settings.data_dir)) == ["01-2026-usage-based-data.json"]
    assert "January 2026: 7 on-demand events kept" in lines


def test_progress_lines_and_the_key_stays_out_of_output_and_cache(settings, api, fake_clock, now):
    lines = []
    api.fail_next(429)
    fetch(settings, api, fake_clock, now, months=(JANUARY, FEBRUARY), reporter=LogReporter(lines.append))
    assert lines == [
        # each line as the page is requested: the retry follows the page it is about
        "Fetching page 1 for January 2026 (window 1/2)...",
        "January 2026, window 1/2 (2026-01-01T00:00:00.000Z to 2026-01-30T23:59:59.999Z), page 1: "
        "rate limited (429); retrying in 1 s...",
        *[f"Fetching page {page}/5 for January 2026 (window 1/2)..." for page in range(2, 6)],
        "Fetching page 1 for January 2026 (window 2/2)...",
        "Fetching page 2/2 for January 2026 (window 2/2)...",
        "January 2026: 7 on-demand events kept",
        "Fetching page 1 for February 2026...",
        "February 2026: 1 on-demand event kept",
    ]
    everything = "\n".join(lines).encode() + b"".join(p.read_bytes() for p in settings.data_dir.iterdir())
    assert api.api_key.encode() not in everything


def test_february_has_one_window_and_keeps_its_first_millisecond_event(settings, api, fake_clock, now):
    fetch(settings, api, fake_clock, now, months=(FEBRUARY,))
    payload = orjson.loads(cache_path(settings.data_dir, FEBRUARY).read_bytes())
    assert payload["events"] == [hand_made_events()[13]]
    assert [w["api_total"] for w in payload["fetch"]["windows"]] == [1]


# --- bounds: pages that lie (issue 11) -----------------------------------------------------------
# January's window 1 holds 9 events: 5 pages of 2; window 2 holds 3: 2 pages.

EXPECTED_JANUARY = [hand_made_events()[i] for i in (1, 2, 3, 4, 9, 10, 12)]


def january_requests(api):
    return [(r.body["startDate"] == JANUARY.start_ms and 1 or 2, r.body["page"]) for r in api.requests]


def test_pagination_ends_at_the_pages_the_total_announces_whatever_has_next_page_says(settings, api, fake_clock, now):
    api.endless_pages_next(100)  # every answer says more pages follow
    fetch(settings, api, fake_clock, now)
    assert read_cached_month(cache_path(settings.data_dir, JANUARY))["events"] == EXPECTED_JANUARY
    assert january_requests(api) == [(1, page) for page in range(1, 6)] + [(2, 1), (2, 2)]


class _PagesForEver:
    """An API that says more pages follow, for ever: ``per_page`` new events a page, the total and the
    page count it announces as functions of how many pages were asked for so far."""

    def __init__(self, per_page, *, total, num_pages):
        self.stats = type("Stats", (), {"requests": 0})()
        self.pages = []
        self.per_page, self.total, self.num_pages = per_page, total, num_pages

    def filtered_usage_events(self, *, start_ms, end_ms, page, page_size, context):
        self.stats.requests += 1
        self.pages.append(page)
        assert len(self.pages) < 40, "pagination does not end"
        events = [{"timestamp": str(start_ms + len(self.pages) * 10 + i), "kind": "Free"}
                  for i in range(self.per_page)]
        asked = len(self.pages)
        return {"totalUsageEventsCount": self.total(asked), "usageEvents": events,
                "pagination": {"hasNextPage": True, "numPages": self.num_pages(asked)}}


@pytest.mark.parametrize("per_page, pages, sent", [(2, 5, 10), (1, 6, 6)])
def test_pages_that_never_end_stop_one_page_beyond_the_announced_ones_at_most(per_page, pages, sent):
    from billing_reports.fetching import fetch_month
    from billing_reports.refresh import plan_scope

    # says 9 events (5 pages of 2), then sends ``per_page`` new events a page, for ever
    client = _PagesForEver(per_page, total=lambda asked: 9, num_pages=lambda asked: 5)
    scope = plan_scope(FEBRUARY, None, started=AFTER_FEBRUARY, complete=True, overlap_hours=24)
    with pytest.raises(ApiError) as raised:
        fetch_month(client, scope, page_size=2)
    # the 5 announced pages, a sixth only while events are missing; then the window once again
    assert client.pages == list(range(1, pages + 1)) * 2
    assert raised.value.message.endswith(
        f"the API reported 9 events but sent {sent}, twice in a row; events may still be arriving: run the command "
        "again later")


def test_a_window_with_more_events_than_its_total_is_fetched_again_not_double_counted(settings, api, fake_clock,
                                                                                       now):
    api.extra_event_next(1)  # page 1 holds one event twice: 10 events where the API says 9
    lines = []
    fetch(settings, api, fake_clock, now, reporter=LogReporter(lines.append))
    payload = read_cached_month(cache_path(settings.data_dir, JANUARY))
    assert payload["events"] == EXPECTED_JANUARY and payload["total_events"] == 7
    assert payload["fetch"]["windows"][0]["api_total"] == 9
    assert (
        "January 2026, window 1/2 (2026-01-01T00:00:00.000Z to 2026-01-30T23:59:59.999Z): the API reported "
        "9 events but sent 10; retrying now..."
    ) in lines


def test_a_window_with_more_events_than_its_total_twice_fails_and_writes_nothing(settings, api, fake_clock, now):
    api.extra_event_next(100)
    with pytest.raises(ApiError, match=r"window 1/2 .*: the API reported 9 events but sent 14, twice in a row"):
        fetch(settings, api, fake_clock, now)
    assert not cache_path(settings.data_dir, JANUARY).exists()


def test_an_empty_page_that_says_more_follow_stops_the_run_at_once(settings, api, fake_clock, now):
    api.empty_page_next(1)
    with pytest.raises(ApiError) as raised:
        fetch(settings, api, fake_clock, now)
    assert raised.value.message == (
        "January 2026, window 1/2 (2026-01-01T00:00:00.000Z to 2026-01-30T23:59:59.999Z): page 1 came back empty "
        "although the API says more pages follow; run the command again later"
    )
    assert len(api.requests) == 1 and not cache_path(settings.data_dir, JANUARY).exists()


def test_a_page_repeated_in_place_of_another_is_caught_and_the_window_fetched_again(settings, api, fake_clock, now):
    # page 3 comes back as page 2 again: 9 events as announced, but 2 of them twice and 2 never sent
    api.repeat_previous_page_next(1, after=2)
    lines = []
    fetch(settings, api, fake_clock, now, reporter=LogReporter(lines.append))
    payload = read_cached_month(cache_path(settings.data_dir, JANUARY))
    assert payload["events"] == EXPECTED_JANUARY
    assert "repeated" not in payload["fetch"]["windows"][0]  # the second fetch of the window was clean
    assert (
        "January 2026, window 1/2 (2026-01-01T00:00:00.000Z to 2026-01-30T23:59:59.999Z): the API reported 9 events "
        "but sent 7 different ones (page 3 repeated page 2 (2 events)); retrying now..."
    ) in lines


def test_a_page_repeated_twice_in_a_row_fails_naming_the_repeat(settings, api, fake_clock, now):
    api.repeat_previous_page_next(1, after=2)
    api.repeat_previous_page_next(1, after=4)  # the same again in the window's second fetch
    with pytest.raises(ApiError) as raised:
        fetch(settings, api, fake_clock, now)
    assert raised.value.message.endswith(
        "the API reported 9 events but sent 7 different ones (page 3 repeated page 2 (2 events)), twice in a row; "
        "events may still be arriving: run the command again later")


def test_a_repeated_page_beyond_the_total_is_left_out_counted_and_reported(settings, api, fake_clock, now):
    # pages 3 to 6 come back one behind: page 2 twice, then pages 3 to 5; the 9 events all arrive
    api.repeat_previous_page_next(4, after=2)
    lines = []
    fetch(settings, api, fake_clock, now, reporter=LogReporter(lines.append))
    payload = read_cached_month(cache_path(settings.data_dir, JANUARY))
    assert payload["events"] == EXPECTED_JANUARY and payload["total_events"] == 7  # counted once
    window = payload["fetch"]["windows"][0]
    assert (window["api_total"], window["kept"], window["repeated"], window["requests"]) == (9, 5, 2, 6)
    assert payload["fetch"]["repeated"] == 2 and "repeated" not in payload["fetch"]["windows"][1]
    assert (
        "Warning: January 2026, window 1/2 (2026-01-01T00:00:00.000Z to 2026-01-30T23:59:59.999Z): page 3 repeated "
        "page 2 (2 events); left out: the other pages hold the 9 events the API reported"
    ) in lines
    # the data-quality page shows the count
    from billing_reports.loader import load_usage
    from billing_reports.site.quality import fetches_table

    table = fetches_table(load_usage(settings, [JANUARY]))
    assert table.columns[-1].label == "Repeated events left out" and table.rows[0][-1] == 2


def test_identical_events_on_pages_of_one_are_no_evidence_of_a_repeat(settings, api, fake_clock, now):
    # the two parallel calls are identical; with one event a page they make two identical pages
    fetch(dataclasses.replace(settings, page_size=1), api, fake_clock, now)
    payload = read_cached_month(cache_path(settings.data_dir, JANUARY))
    assert payload["events"] == EXPECTED_JANUARY and "repeated" not in payload["fetch"]


def test_an_event_nested_deeper_than_a_cache_file_can_hold_stops_the_fetch_in_one_line(settings, fake_clock, now):
    deep = hand_made_events()[:14]
    deep[2] = {**deep[2], "experimentalField": orjson.loads(b"[" * 300 + b"]" * 300)}  # JSON reads it, cannot write it
    with FakeCursorApi(StaticTeam(deep, now=now), rate_limit_per_minute=None, clock=fake_clock) as api:
        with pytest.raises(ApiError) as raised:
            fetch(dataclasses.replace(settings, api_base_url=api.base_url), api, fake_clock, now)
    assert raised.value.message == (
        "January 2026, window 1/2 (2026-01-01T00:00:00.000Z to 2026-01-30T23:59:59.999Z), page 1: the API answered "
        "in an unexpected shape (events nested deeper than a cache file can hold); the API may have changed")
    assert not cache_path(settings.data_dir, JANUARY).exists()


def test_a_cached_event_too_deep_to_write_again_names_the_file_and_the_fix(settings, api, fake_clock, now):
    now.moment = utc("2026-01-20T10:00:00")
    fetch(settings, api, fake_clock, now)
    path = cache_path(settings.data_dir, JANUARY)
    cached = read_cached_month(path)
    cached["events"][0]["edited"] = orjson.loads(b"[" * 300 + b"]" * 300)  # a hand edit
    path.write_text(__import__("json").dumps(cached))
    now.moment = utc("2026-01-21T10:00:00")  # a refresh keeps the cached events before its cut
    with pytest.raises(CacheError) as raised:
        fetch(settings, api, fake_clock, now)
    assert raised.value.message == (
        f"Cache file {path} holds an event nested too deep to be written again; run "
        "`billing-reports fetch --refresh 2026-01` to download the month whole.")
    fetch(settings, api, fake_clock, now, refresh=(JANUARY,))
    assert read_cached_month(path)["total_events"] == 4


def test_the_fetch_counts_not_chargeable_and_not_token_based_apart(settings, fake_clock, now):
    # January has one of each: a swap of the two labels would go unseen there
    events = hand_made_events() + [conftest_usage_event("2026-02-10T08:00:00", chargeable=False),
                                   conftest_usage_event("2026-02-11T08:00:00", chargeable=False, token_based=False),
                                   conftest_usage_event("2026-02-12T08:00:00", token_based=False)]
    with FakeCursorApi(StaticTeam(events, now=now), rate_limit_per_minute=None, clock=fake_clock) as api:
        fetch(dataclasses.replace(settings, api_base_url=api.base_url), api, fake_clock, now, months=(FEBRUARY,))
    payload = read_cached_month(cache_path(settings.data_dir, FEBRUARY))
    assert payload["fetch"]["left_out"] == {"Usage-based, not chargeable": 2, "Usage-based, not token-based": 1}


def test_a_total_that_grows_on_every_page_ends_the_window_instead_of_paging_for_ever():
    from billing_reports.fetching import fetch_month
    from billing_reports.refresh import plan_scope

    # announces 10 more events with every page it sends (2 a page): the pages would never end
    client = _PagesForEver(2, total=lambda asked: 10 * asked, num_pages=lambda asked: 5 * asked)
    scope = plan_scope(FEBRUARY, None, started=AFTER_FEBRUARY, complete=True, overlap_hours=24)
    with pytest.raises(ApiError) as raised:
        fetch_month(client, scope, page_size=2)
    # page 2 says the total moved: the window is fetched once more (2 pages), then the run stops
    assert client.pages == [1, 2, 1, 2]
    assert "twice in a row" in raised.value.message and len(raised.value.message) < 400
