"""The offline fake Admin API is faithful to the reference page (../shared/reference/cursor-admin-api.md)."""

from collections import Counter

import pytest
import requests
from conftest import epoch_ms, hand_made_events, utc

from billing_reports.fakeapi import DEFAULT_MODELS, FakeCursorApi, StaticTeam, SyntheticTeam, on_demand_totals
from billing_reports.money import microcents
from billing_reports.months import Month
from billing_reports.on_demand import is_on_demand

pytestmark = pytest.mark.server

URL = "/teams/filtered-usage-events"
JANUARY = Month(2026, 1)


@pytest.fixture
def api(fake_clock):
    team = StaticTeam(hand_made_events(), now=lambda: utc("2026-03-01T00:00:00"))
    with FakeCursorApi(team, rate_limit_per_minute=20, clock=fake_clock) as api:
        yield api


def post(api, body, key=None):
    return requests.post(api.base_url + URL, json=body, auth=(key or api.api_key, ""), timeout=5)


def test_basic_auth_with_the_key_as_user_name(api):
    window = {"startDate": JANUARY.start_ms, "endDate": JANUARY.start_ms + 1000}
    assert post(api, window).status_code == 200
    wrong = post(api, window, key="key_wrong")
    assert wrong.status_code == 401
    assert wrong.json() == {"error": "Unauthorized", "message": "Invalid API key"}
    anonymous = requests.post(api.base_url + URL, json=window, timeout=5)
    assert anonymous.status_code == 401


def test_a_key_without_enterprise_access_gets_403(fake_clock):
    with FakeCursorApi(StaticTeam([]), forbidden_keys=("key_basic",), clock=fake_clock) as api:
        answer = post(api, {}, key="key_basic")
    assert answer.status_code == 403
    assert answer.json() == {"error": "Forbidden", "message": "Enterprise access required"}


def test_both_bounds_are_inclusive(api):
    last_of_first_window = epoch_ms("2026-01-30T23:59:59.999")
    answer = post(api, {"startDate": epoch_ms("2026-01-01T00:00:00"), "endDate": last_of_first_window}).json()
    stamps = [int(event["timestamp"]) for event in answer["usageEvents"]]
    assert stamps[0] == JANUARY.start_ms
    assert stamps[-1] == last_of_first_window
    assert answer["totalUsageEventsCount"] == 9
    one_ms = post(api, {"startDate": last_of_first_window, "endDate": last_of_first_window}).json()
    assert [int(e["timestamp"]) for e in one_ms["usageEvents"]] == [last_of_first_window]


def test_pagination_fields_and_period(api):
    body = {"startDate": JANUARY.start_ms, "endDate": epoch_ms("2026-01-30T23:59:59.999"), "pageSize": 4}
    pages = [post(api, {**body, "page": page}).json() for page in (1, 2, 3, 4)]
    assert [len(p["usageEvents"]) for p in pages] == [4, 4, 1, 0]
    assert pages[0]["pagination"] == {"numPages": 3, "currentPage": 1, "pageSize": 4,
                                      "hasNextPage": True, "hasPreviousPage": False}
    assert pages[2]["pagination"]["hasNextPage"] is False
    assert pages[2]["pagination"]["hasPreviousPage"] is True
    assert pages[0]["period"] == {"startDate": body["startDate"], "endDate": body["endDate"]}
    served = [e for p in pages for e in p["usageEvents"]]
    assert served == [e for e in hand_made_events() if JANUARY.start_ms <= int(e["timestamp"]) <= body["endDate"]]


def test_default_page_size_is_100_and_more_than_1000_is_refused(api):
    ok = post(api, {"startDate": JANUARY.start_ms, "endDate": JANUARY.start_ms + 10}).json()
    assert ok["pagination"]["pageSize"] == 100
    assert post(api, {"startDate": JANUARY.start_ms, "endDate": JANUARY.start_ms + 10, "pageSize": 1000}).status_code == 200
    refused = post(api, {"startDate": JANUARY.start_ms, "endDate": JANUARY.start_ms + 10, "pageSize": 1001})
    assert refused.status_code == 400
    assert refused.json() == {"error": "Bad Request", "message": "pageSize must be between 1 and 1000"}
    assert post(api, {"startDate": JANUARY.start_ms, "endDate": JANUARY.start_ms + 10, "page": 0}).status_code == 400


def test_a_range_over_30_days_is_a_400_with_the_documented_body(api):
    thirty_days = 30 * 24 * 3600 * 1000
    assert post(api, {"startDate": JANUARY.start_ms, "endDate": JANUARY.start_ms + thirty_days - 1}).status_code == 200
    too_long = post(api, {"startDate": JANUARY.start_ms, "endDate": JANUARY.start_ms + thirty_days})
    assert too_long.status_code == 400
    assert too_long.json() == {"error": "Bad Request", "message": "Date range cannot exceed 30 days"}


def test_the_rate_limit_answers_429_until_the_next_minute(api, fake_clock):
    fake_clock.now = 60 * 1000.0  # the start of a clock minute
    body = {"startDate": JANUARY.start_ms, "endDate": JANUARY.start_ms + 10}
    statuses = [post(api, body).status_code for _ in range(21)]
    assert statuses == [200] * 20 + [429]
    limited = post(api, body)
    assert limited.json() == {"error": "Too Many Requests", "message": "Rate limit exceeded. Please try again later."}
    assert "Retry-After" not in limited.headers
    fake_clock.now += 60
    assert post(api, body).status_code == 200
    log = api.requests
    assert [r.status for r in log[-3:]] == [429, 429, 200]
    assert log[-1].at == fake_clock.now


def test_retry_after_is_sent_on_request(fake_clock):
    fake_clock.now = 60 * 1000.0 + 45
    with FakeCursorApi(StaticTeam([]), rate_limit_per_minute=1, retry_after_on_429=True, clock=fake_clock) as api:
        post(api, {})
        limited = post(api, {})
    assert limited.status_code == 429
    assert limited.headers["Retry-After"] == "15"


def test_injected_faults_answer_the_next_requests_in_order(api):
    body = {"startDate": JANUARY.start_ms, "endDate": JANUARY.start_ms + 10}
    api.fail_next(429, retry_after=3)
    api.fail_next(503)
    api.truncate_next()
    api.short_page_next()
    limited = post(api, body)
    assert (limited.status_code, limited.headers["Retry-After"]) == (429, "3")
    assert post(api, body).json() == {"error": "Service Unavailable", "message": "Service Unavailable"}
    truncated = post(api, body)
    with pytest.raises(ValueError):
        truncated.json()
    last_day = JANUARY.windows()[1]
    short = post(api, {"startDate": last_day.start_ms, "endDate": last_day.end_ms, "pageSize": 2}).json()
    assert (short["totalUsageEventsCount"], len(short["usageEvents"])) == (3, 1)
    api.drop_next()
    with pytest.raises(requests.ConnectionError):
        post(api, body)
    assert [r.fault for r in api.requests] == ["status 429", "status 503", "truncate", "short_page", "drop"]
    assert post(api, body).status_code == 200


def test_a_slow_answer_times_a_client_out(api):
    api.slow_next(5)
    with pytest.raises(requests.Timeout):
        requests.post(api.base_url + URL, json={}, auth=(api.api_key, ""), timeout=0.2)


def test_members_endpoint_lists_removed_members(fake_clock):
    team = SyntheticTeam(users=4, removed_users=1, events_per_month=0, months=[JANUARY])
    with FakeCursorApi(team, clock=fake_clock) as api:
        members = requests.get(api.base_url + "/teams/members", auth=(api.api_key, ""), timeout=5).json()
    assert [m["isRemoved"] for m in members["teamMembers"]] == [False, False, False, True]


# --- the synthetic team ------------------------------------------------------------------------


def test_the_synthetic_team_is_deterministic_and_seeded():
    make = lambda seed: SyntheticTeam(seed=seed, events_per_month=300, months=[JANUARY],  # noqa: E731
                                      now=lambda: utc("2026-06-01T00:00:00"))
    assert make(7).month_events(JANUARY) == make(7).month_events(JANUARY)
    assert make(7).month_events(JANUARY) != make(8).month_events(JANUARY)


def test_the_synthetic_team_has_what_the_reports_must_cope_with():
    team = SyntheticTeam(users=10, removed_users=2, events_per_month=3000, months=[JANUARY],
                         now=lambda: utc("2026-06-01T00:00:00"))
    events = team.month_events(JANUARY)
    assert len(events) == 3000
    stamps = [int(e["timestamp"]) for e in events]
    assert stamps == sorted(stamps) and all(isinstance(e["timestamp"], str) for e in events)
    first_of_second_window = JANUARY.windows()[1].start_ms
    for edge in (JANUARY.start_ms, JANUARY.end_ms - 1, first_of_second_window - 1, first_of_second_window):
        assert edge in stamps
    assert set(Counter(e["kind"] for e in events)) == {
        "Usage-based", "Included in Business", "Errored, Not Charged", "Aborted, Not Charged", "Free",
        "Included in Pro"}
    on_demand = [e for e in events if e["kind"] == "Usage-based" and e["isChargeable"] and e["isTokenBasedCall"]]
    assert any("userEmail" not in e for e in on_demand)
    assert any("cursorTokenFee" not in e for e in on_demand) and any("cursorTokenFee" in e for e in on_demand)
    assert any(e["tokenUsage"]["totalCents"] != round(e["tokenUsage"]["totalCents"], 2) for e in on_demand)
    assert any("experimentalRoutingTier" in e for e in events)
    assert len({e["model"] for e in events}) >= 5
    assert len({e.get("userEmail") for e in events}) == 10 - 2 + 1  # removed users share "no email"


def test_no_event_is_later_than_now():
    now = utc("2026-01-10T12:00:00")
    team = SyntheticTeam(events_per_month=3000, months=[JANUARY], now=lambda: now)
    events = team.month_events(JANUARY)
    assert events and max(int(e["timestamp"]) for e in events) <= epoch_ms("2026-01-10T12:00:00")
    full = SyntheticTeam(events_per_month=3000, months=[JANUARY], now=lambda: utc("2026-03-01T00:00:00"))
    assert events == [e for e in full.month_events(JANUARY) if int(e["timestamp"]) <= epoch_ms("2026-01-10T12:00:00")]


# --- the newest event format, mixed with the older one (reference: "Cost, discounts and chargedCents") ---


@pytest.fixture(scope="module")
def mixed_month() -> list[dict]:
    team = SyntheticTeam(users=10, removed_users=2, events_per_month=6000, months=[JANUARY],
                         now=lambda: utc("2026-06-01T00:00:00"))
    return team.month_events(JANUARY)


def _on_demand(events: list[dict]) -> list[dict]:
    return [e for e in events if e["kind"] == "Usage-based" and e["isChargeable"] and e["isTokenBasedCall"]]


def _formula_cents(event: dict) -> float:
    """``totalCents x (1 - discountPercentOff/100) + cursorTokenFee``, written out here, not imported."""
    usage = event["tokenUsage"]
    return usage["totalCents"] * (1 - usage.get("discountPercentOff", 0) / 100) + event.get("cursorTokenFee", 0)


def test_most_on_demand_events_carry_charged_cents_the_rest_are_in_the_older_format(mixed_month):
    on_demand = _on_demand(mixed_month)
    newest = [e for e in on_demand if "chargedCents" in e]
    older = [e for e in on_demand if "chargedCents" not in e]
    # 20 % of events in the older format by default.
    assert 0.72 <= len(newest) / len(on_demand) <= 0.88
    assert older
    assert not any("discountPercentOff" in e["tokenUsage"] or "serviceAccountId" in e for e in older)
    # isFreeBugbot is gone from the newest docs: only older-format events carry it.
    assert any("isFreeBugbot" in e for e in older)
    assert not any("isFreeBugbot" in e for e in mixed_month if "chargedCents" in e)


def test_charged_cents_is_the_formula_rounded_to_the_cent(mixed_month):
    charged = [e for e in mixed_month if "chargedCents" in e]
    assert charged
    for event in charged:
        assert abs(event["chargedCents"] - _formula_cents(event)) < 0.01, event
        assert event["chargedCents"] == round(event["chargedCents"], 2), event
    # Rounded, not copied: most differ from the unrounded formula (5-decimal totals).
    assert sum(e["chargedCents"] != _formula_cents(e) for e in charged) > len(charged) / 2


def test_some_events_are_discounted_and_billed_below_list(mixed_month):
    discounted = [e for e in _on_demand(mixed_month) if "discountPercentOff" in e["tokenUsage"]]
    assert len(discounted) >= 0.05 * len(_on_demand(mixed_month))
    assert {e["tokenUsage"]["discountPercentOff"] for e in discounted} == {10, 20}
    assert all("chargedCents" in e for e in discounted)
    list_cents = lambda e: e["tokenUsage"]["totalCents"] + e.get("cursorTokenFee", 0)  # noqa: E731
    assert all(e["chargedCents"] < list_cents(e) for e in discounted if e["tokenUsage"]["totalCents"] >= 0.1)


def test_service_account_events_are_headless_and_carry_an_email(mixed_month):
    team = SyntheticTeam(users=10, removed_users=2, events_per_month=0, months=[JANUARY])
    owners = {account.id: account.owner.email for account in team.service_accounts}
    current = {m.email for m in team.members if not m.is_removed}
    headless = [e for e in mixed_month if "serviceAccountId" in e]
    assert len(headless) >= 50
    assert {e["serviceAccountId"] for e in headless} == set(owners)
    for event in headless:
        assert event["isHeadless"] is True
        assert event["serviceAccountName"]
        assert event["userEmail"] == owners[event["serviceAccountId"]] in current
    # A newest-format field: every on-demand one is billed with chargedCents.
    assert _on_demand(headless) and all("chargedCents" in e for e in _on_demand(headless))


def test_the_token_fee_is_sent_for_third_party_models_only(mixed_month):
    composer = _on_demand([e for e in mixed_month if e["model"] == "composer-1"])
    assert len(composer) >= 50
    assert not any("cursorTokenFee" in e for e in composer)
    assert any("cursorTokenFee" in e for e in _on_demand(mixed_month) if e["model"] == "claude-4.5-sonnet")
    assert next(m for m in DEFAULT_MODELS if m.name == "composer-1").token_fee is False


def test_not_chargeable_events_can_carry_charged_cents_too(mixed_month):
    included = [e for e in mixed_month if e["kind"] == "Included in Business" and "chargedCents" in e]
    assert len(included) >= 50
    assert not any(is_on_demand(e) for e in included)
    assert not any("cursorTokenFee" in e for e in included)
    for event in included:
        assert abs(event["chargedCents"] - _formula_cents(event)) < 0.01
    # Errored, aborted and free requests are not billed: no chargedCents.
    unbilled = [e for e in mixed_month if e["kind"] in ("Errored, Not Charged", "Aborted, Not Charged", "Free")]
    assert unbilled and not any("chargedCents" in e for e in unbilled)


def test_on_demand_totals_follow_the_cost_rule(mixed_month):
    totals = on_demand_totals(mixed_month)
    on_demand = _on_demand(mixed_month)
    cost = sum(microcents(e["chargedCents"]) if "chargedCents" in e else
               microcents(e["tokenUsage"]["totalCents"] + e.get("cursorTokenFee", 0)) for e in on_demand)
    list_cost = sum(microcents(e["tokenUsage"]["totalCents"] + e.get("cursorTokenFee", 0)) for e in on_demand)
    assert totals == (len(on_demand), cost, list_cost)
    assert totals.cost < totals.list_cost  # the discounts
    team = SyntheticTeam(users=10, removed_users=2, events_per_month=6000, months=[JANUARY],
                         now=lambda: utc("2026-06-01T00:00:00"))
    assert team.on_demand_totals(JANUARY) == totals


def test_the_format_mix_is_a_parameter():
    make = lambda **shares: SyntheticTeam(events_per_month=2000, months=[JANUARY],  # noqa: E731
                                          now=lambda: utc("2026-06-01T00:00:00"), **shares).month_events(JANUARY)
    older = make(older_format_share=1.0)
    assert not any("chargedCents" in e or "serviceAccountId" in e or "discountPercentOff" in e.get("tokenUsage", {})
                   for e in older)
    newest = _on_demand(make(older_format_share=0.0, discount_share=0.0, service_account_share=0.0))
    assert all("chargedCents" in e for e in newest)
    assert not any("discountPercentOff" in e["tokenUsage"] or "serviceAccountId" in e for e in newest)
    # Without a discount, chargedCents is the seed's totalCents + cursorTokenFee, to the cent.
    assert all(e["chargedCents"] == round(_formula_cents(e), 2) for e in newest)
