"""Incremental refresh of an incomplete month, against the fake API with a controlled clock.

March 2026 holds one event every 2 hours (on the hour), every third of them "Included in Business"
(left out); the fake serves the events up to "now". The first fetch on March 20 at 10:00 is whole
and ends a window at 2026-03-19 10:00 (24 h overlap); the next, on March 21 at 10:00, requests
only from there: the span [Mar 19 10:00, month end] of the cache file is replaced.
"""

import dataclasses
import math

import pytest
from conftest import Now, epoch_ms, usage_event, utc

from billing_reports.cache import cache_path, read_cached_month, write_cached_month
from billing_reports.errors import ApiError
from billing_reports.fakeapi import FakeCursorApi, StaticTeam
from billing_reports.fetching import fetch_months
from billing_reports.months import DAY_MS, Month
from billing_reports.on_demand import is_on_demand
from billing_reports.progress import LogReporter
from billing_reports.settings import Settings

pytestmark = pytest.mark.server

MARCH = Month(2026, 3)
FIRST_FETCH = utc("2026-03-20T10:00:00")
NEXT_DAY = utc("2026-03-21T10:00:00")
CUT = epoch_ms("2026-03-19T10:00:00")  # the first fetch's start minus 24 h
COMPLETING = utc("2026-04-02T00:00:00")
PAGE_SIZE = 5


def march_events() -> list[dict]:
    events = []
    for hour in range(0, 31 * 24, 2):
        when = f"2026-03-{1 + hour // 24:02d}T{hour % 24:02d}:00:00"
        left_out = len(events) % 3 == 2
        events.append(usage_event(when, kind="Included in Business" if left_out else "Usage-based",
                                  chargeable=not left_out, total_cents=float(hour)))
    return events


@pytest.fixture
def now():
    return Now(FIRST_FETCH)


@pytest.fixture
def api(fake_clock, now):
    with FakeCursorApi(StaticTeam(march_events(), now=now), rate_limit_per_minute=None, clock=fake_clock) as api:
        yield api


@pytest.fixture
def settings(tmp_path, api):
    return dataclasses.replace(Settings(config_path=tmp_path / "config.yaml"), data_dir=tmp_path / "cache",
                               api_base_url=api.base_url, page_size=PAGE_SIZE, request_delay_seconds=0.0,
                               max_retries=1)


def fetch(settings, api, clock, now, **options):
    return fetch_months(settings, [MARCH], api_key=api.api_key, now=now, clock=clock, sleep=clock.sleep, **options)


def cached(settings):
    return read_cached_month(cache_path(settings.data_dir, MARCH))


def serve(api, events):
    """The API's events from now on: late arrivals, corrections, deletions."""
    api.team = StaticTeam(events, now=api.team.now)


def served(api, now):
    """Every event the API serves for March up to now, oldest first."""
    return api.team.events_between(MARCH.start_ms, MARCH.end_ms - 1)


def assert_adds_up(payload, api, now):
    """The file is what a whole fetch now would hold, and its counts add up, file and windows."""
    events = served(api, now)
    fetch_facts = payload["fetch"]
    assert payload["events"] == [e for e in events if is_on_demand(e)]
    assert payload["total_events"] == len(payload["events"])
    assert fetch_facts["api_total"] == len(events)
    assert fetch_facts["api_total"] == payload["total_events"] + sum(fetch_facts["left_out"].values())
    assert fetch_facts["left_out"] == {"Included in Business": sum(not is_on_demand(e) for e in events)}
    windows = fetch_facts["windows"]
    assert windows[0]["startDate"] == MARCH.start_ms and windows[-1]["endDate"] == MARCH.end_ms - 1
    assert all(b["startDate"] == a["endDate"] + 1 for a, b in zip(windows, windows[1:]))
    for window in windows:
        inside = [e for e in events if window["startDate"] <= int(e["timestamp"]) <= window["endDate"]]
        assert window["api_total"] == len(inside) == window["kept"] + sum(window["left_out"].values())
        assert window["kept"] == sum(map(is_on_demand, inside))
        assert window["endDate"] - window["startDate"] < 30 * DAY_MS
    assert fetch_facts["api_total"] == sum(w["api_total"] for w in windows)
    assert fetch_facts["requests"] == sum(w["requests"] for w in windows)
    assert payload["fetched_at"] == max(w["fetched_at"] for w in windows)


def pages(count):
    return max(1, math.ceil(count / PAGE_SIZE))


def requested(api):
    return [(r.body["startDate"], r.body["endDate"], r.body["page"]) for r in api.requests]


def test_a_refresh_requests_only_the_pages_since_the_cut_off(settings, api, fake_clock, now):
    fetch(settings, api, fake_clock, now)
    first = cached(settings)
    assert first["complete"] is False
    assert [(w["startDate"], w["endDate"]) for w in first["fetch"]["windows"]] == [
        (MARCH.start_ms, CUT - 1), (CUT, MARCH.end_ms - 1)]  # a window ends where the next fetch cuts
    whole_requests = len(api.requests)
    before_cut = sum(int(e["timestamp"]) < CUT for e in served(api, now))
    assert whole_requests == pages(before_cut) + pages(len(served(api, now)) - before_cut)

    api.clear_requests()
    now.moment = NEXT_DAY
    lines = []
    summary = fetch(settings, api, fake_clock, now, reporter=LogReporter(lines.append))
    second_cut = epoch_ms("2026-03-20T10:00:00")
    in_first = sum(CUT <= int(e["timestamp"]) < second_cut for e in served(api, now))
    in_second = sum(int(e["timestamp"]) >= second_cut for e in served(api, now))
    assert (in_first, in_second) == (12, 13)  # one event every 2 hours, both ends of a day included
    assert requested(api) == (
        [(CUT, second_cut - 1, page) for page in range(1, pages(in_first) + 1)]
        + [(second_cut, MARCH.end_ms - 1, page) for page in range(1, pages(in_second) + 1)]
    )
    assert len(api.requests) == 6 < whole_requests == 48
    assert lines[0] == "Refreshing March 2026 from 2026-03-19 10:00 UTC (overlap 24 h)..."
    assert summary.months_refreshed == [MARCH] and summary.requests == 6
    assert "1 refreshed since the last fetch" in summary.describe()
    payload = cached(settings)
    assert payload["fetched_at"] == "2026-03-21T10:00:00Z" and payload["complete"] is False
    assert [w["fetched_at"] for w in payload["fetch"]["windows"]] == [
        "2026-03-20T10:00:00Z", "2026-03-21T10:00:00Z", "2026-03-21T10:00:00Z"]
    assert payload["fetch"]["windows"][0] == first["fetch"]["windows"][0]  # kept as it was
    assert payload["fetch"]["requests"] == pages(before_cut) + 6
    assert_adds_up(payload, api, now)
    assert list(payload)[:4] == ["month", "fetched_at", "total_events", "events"]


@pytest.mark.parametrize("hours, since", [(6, "04:00"), (0.5, "09:30"), (0, "10:00")])
def test_the_overlap_comes_from_fetch_overlap_hours(settings, api, fake_clock, now, hours, since):
    settings = dataclasses.replace(settings, fetch_overlap_hours=hours)
    fetch(settings, api, fake_clock, now)
    api.clear_requests()
    now.moment = NEXT_DAY
    lines = []
    fetch(settings, api, fake_clock, now, reporter=LogReporter(lines.append))
    assert lines[0] == f"Refreshing March 2026 from 2026-03-20 {since} UTC (overlap {hours:g} h)..."
    assert {r.body["startDate"] for r in api.requests if r.body["page"] == 1} == {
        epoch_ms(f"2026-03-20T{since}:00"), epoch_ms(f"2026-03-21T{since}:00")}
    assert_adds_up(cached(settings), api, now)


def test_late_events_inside_the_overlap_are_caught_and_those_before_it_wait_for_the_completing_fetch(
        settings, api, fake_clock, now):
    fetch(settings, api, fake_clock, now)
    inside_overlap = usage_event("2026-03-19T21:30:00", email="late@example.com")  # after the cut-off
    at_the_cut = usage_event("2026-03-19T10:00:00.000", email="edge@example.com")  # the cut-off's very ms
    before_cut = usage_event("2026-03-19T09:59:59.999", email="too-late@example.com")
    after_last_fetch = usage_event("2026-03-20T17:00:00", email="new@example.com")
    serve(api, march_events() + [inside_overlap, at_the_cut, before_cut, after_last_fetch])

    now.moment = NEXT_DAY
    fetch(settings, api, fake_clock, now)
    emails = {e.get("userEmail") for e in cached(settings)["events"]}
    assert {"late@example.com", "edge@example.com", "new@example.com"} <= emails
    # Before the cut-off the refresh keeps the cache as it was: that late event is not there yet...
    assert "too-late@example.com" not in emails
    assert cached(settings)["total_events"] == len([e for e in served(api, now) if is_on_demand(e)]) - 1

    now.moment = COMPLETING  # ...the fetch that makes the month complete, whole, catches it
    fetch(settings, api, fake_clock, now)
    payload = cached(settings)
    assert "too-late@example.com" in {e.get("userEmail") for e in payload["events"]}
    assert payload["complete"] is True
    assert_adds_up(payload, api, now)


def test_an_event_corrected_or_deleted_inside_the_overlap_is_replaced_not_duplicated(settings, api, fake_clock, now):
    parallel = usage_event("2026-03-19T15:00:00", email="twin@example.com")
    events = march_events() + [dict(parallel), dict(parallel)]  # two parallel calls: no id tells them apart
    serve(api, events)
    fetch(settings, api, fake_clock, now)
    corrected_at, deleted_at = str(epoch_ms("2026-03-19T12:00:00")), str(epoch_ms("2026-03-19T14:00:00"))
    assert {corrected_at, deleted_at} <= {e["timestamp"] for e in cached(settings)["events"]}

    changed = []
    for event in events:
        if event["timestamp"] == deleted_at:
            continue
        if event["timestamp"] == corrected_at:
            event = {**event, "tokenUsage": {**event["tokenUsage"], "totalCents": 0.5}}
        changed.append(event)
    serve(api, changed)
    now.moment = NEXT_DAY
    fetch(settings, api, fake_clock, now)
    payload = cached(settings)
    stamps = [e["timestamp"] for e in payload["events"]]
    assert deleted_at not in stamps
    assert [e["tokenUsage"]["totalCents"] for e in payload["events"] if e["timestamp"] == corrected_at] == [0.5]
    assert sum(e.get("userEmail") == "twin@example.com" for e in payload["events"]) == 2
    assert len(stamps) == len(set(stamps)) + 1  # only the parallel pair shares a timestamp
    assert_adds_up(payload, api, now)


class FailOnWindow(LogReporter):
    """Runs ``fail`` when page 1 of refresh window 2 is requested (window 1 has arrived)."""

    def __init__(self, fail):
        super().__init__(lambda line: None)
        self.fail = fail

    def page_requested(self, month, window_index, window_count, page, num_pages):
        if window_index == 2 and page == 1:
            self.fail()


@pytest.mark.parametrize("failure", ["500 beyond retries", "dropped connections", "ctrl-c"])
def test_an_interrupted_refresh_leaves_the_file_byte_identical_and_the_next_run_completes_it(
        settings, api, fake_clock, now, failure):
    fetch(settings, api, fake_clock, now)
    path = cache_path(settings.data_dir, MARCH)
    before = path.read_bytes()
    serve(api, march_events() + [usage_event("2026-03-19T23:00:00", email="late@example.com")])
    now.moment = NEXT_DAY
    fail, raised = {
        "500 beyond retries": (lambda: api.fail_next(500, times=2), ApiError),
        "dropped connections": (lambda: api.drop_next(times=2), ApiError),
        "ctrl-c": (lambda: (_ for _ in ()).throw(KeyboardInterrupt), KeyboardInterrupt),
    }[failure]
    with pytest.raises(raised):
        fetch(settings, api, fake_clock, now, reporter=FailOnWindow(fail))
    assert path.read_bytes() == before
    assert sorted(p.name for p in settings.data_dir.iterdir()) == [path.name]  # no temp file left

    api.clear_requests()
    fetch(settings, api, fake_clock, now)
    assert {r.body["startDate"] for r in api.requests} == {CUT, epoch_ms("2026-03-20T10:00:00")}
    assert "late@example.com" in {e.get("userEmail") for e in cached(settings)["events"]}
    assert_adds_up(cached(settings), api, now)


def test_the_completing_fetch_fetches_the_month_whole_once(settings, api, fake_clock, now):
    fetch(settings, api, fake_clock, now)
    now.moment = NEXT_DAY
    fetch(settings, api, fake_clock, now)
    api.clear_requests()
    now.moment = utc("2026-04-01T12:00:00")  # over, but not for a day: one more refresh
    fetch(settings, api, fake_clock, now)
    assert min(r.body["startDate"] for r in api.requests) == epoch_ms("2026-03-20T10:00:00")
    assert cached(settings)["complete"] is False

    api.clear_requests()
    now.moment = COMPLETING
    lines = []
    summary = fetch(settings, api, fake_clock, now, reporter=LogReporter(lines.append))
    windows = MARCH.windows()
    assert [(r.body["startDate"], r.body["endDate"]) for r in api.requests if r.body["page"] == 1] == [
        (w.start_ms, w.end_ms) for w in windows]
    assert len(api.requests) == pages(30 * 12) + pages(12)
    assert lines[0] == ("Fetching March 2026 whole: it has ended, and one whole fetch catches a correction "
                        "anywhere in it...")
    assert summary.months_refreshed == []
    payload = cached(settings)
    assert payload["complete"] is True
    assert [(w["startDate"], w["fetched_at"]) for w in payload["fetch"]["windows"]] == [
        (w.start_ms, "2026-04-02T00:00:00Z") for w in windows]
    assert_adds_up(payload, api, now)

    api.clear_requests()
    assert fetch(settings, api, fake_clock, now).months_cached == [MARCH] and api.requests == []


def test_refresh_option_fetches_an_incomplete_month_whole(settings, api, fake_clock, now):
    fetch(settings, api, fake_clock, now)
    api.clear_requests()
    now.moment = NEXT_DAY
    lines = []
    fetch(settings, api, fake_clock, now, refresh=[MARCH], reporter=LogReporter(lines.append))
    assert lines[0] == "Fetching March 2026 whole: --refresh names it..."
    assert min(r.body["startDate"] for r in api.requests) == MARCH.start_ms
    assert {w["fetched_at"] for w in cached(settings)["fetch"]["windows"]} == {"2026-03-21T10:00:00Z"}
    assert_adds_up(cached(settings), api, now)


def _seed_format(payload):
    return {key: payload[key] for key in ("month", "fetched_at", "total_events", "events")}


def _edit_window(index, **changes):
    def edit(payload):
        payload["fetch"]["windows"][index].update(changes)
        return payload
    return edit


def _edit_fetch(**changes):
    def edit(payload):
        payload["fetch"].update(changes)
        return payload
    return edit


def _later_fetched_at(payload):
    payload["fetched_at"] = "2026-03-20T20:00:00Z"  # a fetch no window record knows of
    return payload


def _kept_plus_one(payload):
    window = payload["fetch"]["windows"][0]
    window["kept"] += 1
    window["api_total"] += 1
    return payload


def _drop_last_window(payload):
    del payload["fetch"]["windows"][-1]
    return payload


def _bad_timestamp(payload):
    payload["events"][0]["timestamp"] = "soon"
    return payload


HAND_EDITS = {
    "seed format": (_seed_format, "its cache file does not record what each window held"),
    "windows not a list": (_edit_fetch(windows="oops"), "its cache file does not record what each window held"),
    "start a string": (_edit_window(1, startDate=str(CUT)), "window 2 does not start where the one before it ended"),
    "fetched_at in the future": (_edit_window(1, fetched_at="2027-01-01T00:00:00Z"),
                                 "window 2 has a fetched_at that is not a past ISO date-time"),
    "fetched_at not a date": (_edit_window(0, fetched_at="yesterday"),
                              "window 1 has a fetched_at that is not a past ISO date-time"),
    "fetched before the month": (_edit_window(0, fetched_at="2026-02-01T00:00:00Z"),
                                 "window 1 was fetched before it was over"),
    "latest fetch edited": (_later_fetched_at, "fetched_at is not when its latest window was fetched"),
    "count a bool": (_edit_window(0, requests=True), "window 1 has counts that are not whole numbers"),
    "negative left out": (_edit_window(0, left_out={"Included in Business": -1}),
                          "window 1 has counts that are not whole numbers"),
    "totals disagree": (_edit_window(0, api_total=1), "window 1: api_total is not kept plus left_out"),
    "kept disagrees with the events": (_kept_plus_one, "window 1 holds 148 cached events, its record says 149"),
    "a window missing": (_drop_last_window, "the windows do not cover the month"),
    "a timestamp not ms": (_bad_timestamp, "an event's timestamp is not a millisecond of the month"),
}


@pytest.mark.parametrize("edit, reason", HAND_EDITS.values(), ids=HAND_EDITS.keys())
def test_a_seed_format_or_hand_edited_file_is_fetched_whole(settings, api, fake_clock, now, edit, reason):
    fetch(settings, api, fake_clock, now)
    path = cache_path(settings.data_dir, MARCH)
    write_cached_month(path, edit(read_cached_month(path)))
    api.clear_requests()
    now.moment = NEXT_DAY
    lines = []
    fetch(settings, api, fake_clock, now, reporter=LogReporter(lines.append))
    assert lines[0].startswith("Fetching March 2026 whole: ")
    assert reason in lines[0]
    assert min(r.body["startDate"] for r in api.requests) == MARCH.start_ms
    assert_adds_up(cached(settings), api, now)


def test_a_window_fetched_before_it_was_over_is_fetched_again(settings, api, fake_clock, now):
    fetch(settings, api, fake_clock, now)
    path = cache_path(settings.data_dir, MARCH)
    payload = read_cached_month(path)
    # as if window 1 (up to Mar 19 10:00) had been fetched at Mar 19 08:00, by an edit: the refresh
    # cannot start after it, or the events of its last two hours could be missing
    payload["fetch"]["windows"][0]["fetched_at"] = "2026-03-19T08:00:00Z"
    write_cached_month(path, payload)
    api.clear_requests()
    now.moment = NEXT_DAY
    fetch(settings, api, fake_clock, now)
    assert min(r.body["startDate"] for r in api.requests) == MARCH.start_ms
    assert_adds_up(cached(settings), api, now)


def test_an_overlap_reaching_back_to_the_month_start_fetches_whole(settings, api, fake_clock, now):
    fetch(settings, api, fake_clock, now)
    api.clear_requests()
    now.moment = NEXT_DAY
    lines = []
    fetch(dataclasses.replace(settings, fetch_overlap_hours=24 * 40), api, fake_clock, now,
          reporter=LogReporter(lines.append))
    assert lines[0] == ("Fetching March 2026 whole: the overlap of 960 h before its last fetch reaches back "
                        "to its start...")
    assert [r.body["startDate"] for r in api.requests][0] == MARCH.start_ms
    assert_adds_up(cached(settings), api, now)


def test_daily_runs_request_two_days_each_and_the_file_stays_whole(settings, api, fake_clock, now):
    """A scheduled daily run over ten days: each requests the last two days' pages, never the month's."""
    fetch(settings, api, fake_clock, now)
    for day in range(21, 31):
        api.clear_requests()
        now.moment = utc(f"2026-03-{day}T10:00:00")
        fetch(settings, api, fake_clock, now)
        assert min(r.body["startDate"] for r in api.requests) == epoch_ms(f"2026-03-{day - 2}T10:00:00")
        assert len(api.requests) == 6
        assert_adds_up(cached(settings), api, now)
    assert len(cached(settings)["fetch"]["windows"]) == 12
