"""The API client: request-start spacing, backoff, retries and errors that name where they happened."""

import pytest
from conftest import hand_made_events, utc

from billing_reports.client import CursorAdminClient, backoff_seconds, retry_after_seconds
from billing_reports.errors import ApiError
from billing_reports.fakeapi import FakeCursorApi, StaticTeam
from billing_reports.months import Month
from billing_reports.ratelimit import RequestStartLimiter

pytestmark = pytest.mark.server

WINDOW = Month(2026, 1).windows()[1]  # January 31: three events
WHERE = "January 2026, window 2/2"


@pytest.fixture
def api(fake_clock):
    team = StaticTeam(hand_made_events(), now=lambda: utc("2026-03-01T00:00:00"))
    with FakeCursorApi(team, rate_limit_per_minute=None, clock=fake_clock) as api:
        yield api


def make_client(api, clock, *, key=None, delay=0.0, max_retries=5, timeout=5.0):
    limiter = RequestStartLimiter(delay, clock=clock, sleep=clock.sleep)
    return CursorAdminClient(api.base_url, key or api.api_key, timeout=timeout, max_retries=max_retries,
                             limiter=limiter, sleep=clock.sleep)


def first_page(client, page_size=1000):
    return client.filtered_usage_events(start_ms=WINDOW.start_ms, end_ms=WINDOW.end_ms, page=1,
                                        page_size=page_size, context=WHERE)


def test_a_page_comes_back_decoded(api, fake_clock):
    answer = first_page(make_client(api, fake_clock), page_size=2)
    assert answer["totalUsageEventsCount"] == 3
    assert len(answer["usageEvents"]) == 2
    assert api.requests[0].body == {"startDate": WINDOW.start_ms, "endDate": WINDOW.end_ms, "page": 1, "pageSize": 2}


def test_the_backoff_steps_are_1_2_4_8_16_seconds():
    assert [backoff_seconds(n) for n in range(1, 6)] == [1, 2, 4, 8, 16]


def test_429s_are_retried_with_exponential_backoff(api, fake_clock):
    api.fail_next(429, times=3)
    client = make_client(api, fake_clock)
    assert first_page(client)["totalUsageEventsCount"] == 3
    assert fake_clock.sleeps == [1, 2, 4]
    assert (client.stats.requests, client.stats.rate_limited, client.stats.retries) == (4, 3, 3)


def test_retry_after_is_honoured(api, fake_clock):
    api.fail_next(429, retry_after=7)
    api.fail_next(429, retry_after="not-a-number")
    first_page(make_client(api, fake_clock))
    assert fake_clock.sleeps == [7, 2]
    assert retry_after_seconds("0") == 0 and retry_after_seconds("Wed, 21 Oct 2015 07:28:00 GMT") == 0


def test_a_retry_after_that_is_not_a_finite_number_falls_back_to_the_backoff(api, fake_clock):
    api.fail_next(429, retry_after="inf")
    api.fail_next(429, retry_after="nan")
    first_page(make_client(api, fake_clock))
    assert fake_clock.sleeps == [1, 2]


def test_a_retry_after_too_long_for_a_scheduled_job_stops_the_run(api, fake_clock):
    api.fail_next(429, retry_after=100_000)
    with pytest.raises(ApiError) as raised:
        first_page(make_client(api, fake_clock))
    assert raised.value.message == (
        "January 2026, window 2/2, page 1: rate limited (429); the API asks to wait 100,000 s "
        "(Retry-After) before the next request; run the command again later"
    )
    assert fake_clock.sleeps == []


def test_it_gives_up_after_max_retries_naming_month_window_and_page(api, fake_clock):
    api.fail_next(429, times=6)
    client = make_client(api, fake_clock, max_retries=5)
    with pytest.raises(ApiError) as raised:
        first_page(client)
    assert raised.value.message == (
        "January 2026, window 2/2, page 1: gave up after 5 retries (rate limited (429)); "
        "wait a few minutes and run the command again"
    )
    assert fake_clock.sleeps == [1, 2, 4, 8, 16]
    assert len(api.requests) == 6


@pytest.mark.parametrize(
    "inject",
    [
        lambda api: api.fail_next(500),
        lambda api: api.fail_next(503),
        lambda api: api.drop_next(),
        lambda api: api.truncate_next(),
    ],
    ids=["500", "503", "dropped connection", "truncated JSON"],
)
def test_server_errors_and_broken_answers_are_retried(api, fake_clock, inject):
    inject(api)
    inject(api)
    client = make_client(api, fake_clock)
    assert first_page(client)["totalUsageEventsCount"] == 3
    assert fake_clock.sleeps == [1, 2]
    assert client.stats.rate_limited == 0


def test_a_timeout_is_retried(api, fake_clock):
    api.slow_next(5)
    client = make_client(api, fake_clock, timeout=0.2)
    assert first_page(client)["totalUsageEventsCount"] == 3
    assert fake_clock.sleeps == [1]


def test_a_wrong_key_stops_at_once_and_never_shows_the_key(api, fake_clock):
    secret = "key_secret_do_not_print_123"
    with pytest.raises(ApiError) as raised:
        first_page(make_client(api, fake_clock, key=secret))
    message = raised.value.message
    assert message.startswith("January 2026, window 2/2, page 1: the Cursor API rejected the API key (401")
    assert "CURSOR_API_KEY" in message and secret not in message
    assert len(api.requests) == 1 and fake_clock.sleeps == []


def test_403_says_the_key_lacks_admin_access(api, fake_clock):
    api.fail_next(403)
    with pytest.raises(ApiError, match=r"lacks access \(403 Forbidden: Enterprise access required\).*Admin API key"):
        first_page(make_client(api, fake_clock))
    assert len(api.requests) == 1


def test_400_stops_with_the_api_message(api, fake_clock):
    client = make_client(api, fake_clock)
    with pytest.raises(ApiError) as raised:
        client.filtered_usage_events(start_ms=0, end_ms=WINDOW.end_ms, page=1, page_size=10, context=WHERE)
    assert raised.value.message == (
        "January 2026, window 2/2, page 1: the API refused the request (400 Bad Request: "
        "Date range cannot exceed 30 days)"
    )
    assert fake_clock.sleeps == []


def test_request_starts_are_spaced_by_the_delay_not_after_each_response(api, fake_clock):
    client = make_client(api, fake_clock, delay=3.0)
    for _ in range(3):
        first_page(client)
    starts = [r.at for r in api.requests]
    assert [b - a for a, b in zip(starts, starts[1:])] == [3.0, 3.0]
    # Time spent elsewhere (a slow response, processing) counts towards the spacing.
    fake_clock.now += 2.0
    first_page(client)
    assert api.requests[-1].at - starts[-1] == 3.0
    assert fake_clock.sleeps == [3.0, 3.0, 1.0]


def test_the_client_never_shows_its_key(api):
    assert "***" in repr(CursorAdminClient(api.base_url, "key_hidden_42")) and "key_hidden_42" not in repr(
        CursorAdminClient(api.base_url, "key_hidden_42"))
