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


# --- bounds: no answer can hold a request for ever or fill the memory (issue 11) ---------------

import base64  # noqa: E402
import time  # noqa: E402


def retry_reasons(client):
    reasons = []
    client.on_retry = lambda where, reason, delay: reasons.append(reason)
    return reasons


@pytest.mark.parametrize("body_only", [False, True], ids=["headers and body trickled", "body trickled"])
def test_the_timeout_bounds_a_whole_request_not_each_read(api, fake_clock, body_only):
    # every piece arrives 0.1 s after the one before, well within the timeout of each read; the
    # whole answer would take 2 s
    api.trickle_next(2.0, pieces=21, body_only=body_only)
    client = make_client(api, fake_clock, timeout=0.5)
    reasons = retry_reasons(client)
    began = time.monotonic()
    assert first_page(client)["totalUsageEventsCount"] == 3
    assert time.monotonic() - began < 1.5
    assert reasons == ["no answer within 0.5 s"] and fake_clock.sleeps == [1]


@pytest.mark.parametrize("compressed", [False, True], ids=["plain", "gzip bomb"])
def test_an_answer_bigger_than_the_limit_once_decompressed_is_refused(api, fake_clock, compressed):
    api.oversize_next(3 * 1024 * 1024, gzip=compressed)  # 3 MiB of spaces: gzip sends about 3 KB
    client = make_client(api, fake_clock)
    client.max_body_bytes = 1024 * 1024
    with pytest.raises(ApiError) as raised:
        first_page(client)
    assert raised.value.message == (
        "January 2026, window 2/2, page 1: the answer is larger than 1 MiB (decompressed), more than a page of "
        "usage events can be: check api.base_url / CURSOR_API_BASE_URL, or lower billing.page_size"
    )
    assert len(api.requests) == 1  # not retried: the same answer would come again


def test_an_answer_within_the_limit_is_read_whole_even_compressed(api, fake_clock):
    api.oversize_next(200_000, gzip=True)
    client = make_client(api, fake_clock)
    client.max_body_bytes = 1024 * 1024
    assert len(first_page(client)["usageEvents"]) == 3


def test_a_redirect_to_another_host_is_not_followed(api, fake_clock):
    team = StaticTeam(hand_made_events(), now=lambda: utc("2026-03-01T00:00:00"))
    with FakeCursorApi(team, rate_limit_per_minute=None, clock=fake_clock, api_key=api.api_key) as elsewhere:
        api.redirect_next(elsewhere.base_url + "/teams/filtered-usage-events?token=abc", status=307)
        with pytest.raises(ApiError) as raised:
            first_page(make_client(api, fake_clock))
        assert elsewhere.requests == []
        where = elsewhere.base_url
    assert raised.value.message == (
        f"January 2026, window 2/2, page 1: the API answered 307, a redirect to {where}; API calls "
        "follow no redirect (an answer from elsewhere is not our usage): point api.base_url or "
        "CURSOR_API_BASE_URL at the API itself"
    )


# --- untrusted text: what a server says is shown clean, short, and without the key -------------


def test_a_server_that_echoes_the_credentials_never_gets_them_shown(api, fake_clock):
    key = "key_secret_do_not_print_123"
    basic = base64.b64encode(f"{key}:".encode()).decode()
    api.fail_next(403, message=f"no access for {key} (Authorization: Basic {basic}) or {basic.rstrip('=')}")
    with pytest.raises(ApiError) as raised:
        first_page(make_client(api, fake_clock, key=key))
    message = raised.value.message
    assert key not in message and basic.rstrip("=") not in message
    assert "no access for *** (Authorization: Basic ***) or ***" in message


def test_the_fake_echoing_the_header_is_scrubbed_in_retried_errors_too(api, fake_clock):
    api.echo_credentials_next(500, times=3)
    client = make_client(api, fake_clock, max_retries=2)
    reasons = retry_reasons(client)
    with pytest.raises(ApiError) as raised:
        first_page(client)
    shown = "\n".join([raised.value.message, *reasons])
    basic = base64.b64encode(f"{api.api_key}:".encode()).decode()
    assert api.api_key not in shown and basic not in shown and basic.rstrip("=") not in shown
    assert "Invalid API key '***'; the request said Authorization: Basic ***" in shown


def test_a_server_message_loses_its_escape_sequences_and_line_breaks_and_is_cut_short(api, fake_clock):
    api.fail_next(400, message="bad \x1b[2J\x1b]0;owned\x07range\r\nJanuary 2026: 0 on-demand events kept"
                               + " and more" * 100)
    with pytest.raises(ApiError) as raised:
        first_page(make_client(api, fake_clock))
    message = raised.value.message
    assert message.isprintable() and "\x1b" not in message
    assert message.startswith("January 2026, window 2/2, page 1: the API refused the request (400 Bad Request: "
                              "bad range  January 2026: 0 on-demand events kept and more")
    assert message.endswith("…)") and len(message) < 300


def test_a_cut_never_leaves_part_of_the_key_behind(api, fake_clock):
    key = "key_" + "k" * 60
    api.fail_next(400, message="x" * 170 + key)  # the key straddles the cut
    with pytest.raises(ApiError) as raised:
        first_page(make_client(api, fake_clock, key=key))
    assert "kkkk" not in raised.value.message


def test_a_negative_retry_after_is_no_delay_and_the_backoff_applies(api, fake_clock):
    assert retry_after_seconds("-5") is None and retry_after_seconds("-0.5") is None
    api.fail_next(429, retry_after=-5)
    api.fail_next(429, retry_after="-1")
    first_page(make_client(api, fake_clock))
    assert fake_clock.sleeps == [1, 2]  # never a negative sleep, never a retry at once
