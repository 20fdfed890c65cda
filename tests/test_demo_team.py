"""The demo company (``billing-reports build --demo``, ``billing-reports fake-api``) is a believable
team: every figure here is computed from the events it serves, none copied from an earlier run."""

from collections import Counter, defaultdict
from datetime import datetime, timezone
from statistics import median

import pytest
from conftest import utc

from billing_reports.fakeapi import DEMO_MODELS, demo_team, on_demand_totals
from billing_reports.fakeapi.demo_team import (
    DEMO_SERVICE_ACCOUNT, NEW_MODEL, NEW_MODEL_RELEASE, NEWEST_FORMAT_FROM, SPIKE_MONTH,
)
from billing_reports.months import DAY_MS, Month, months_in_range
from billing_reports.on_demand import is_on_demand

REMOVED = "(removed user)"


#: Late on a month's last day: all six months are (nearly) whole; February and August, so that the
#: team's shape holds for any six months (short and long, the dip in December or in May).
@pytest.fixture(scope="module", params=["2026-02-28T23:00:00", "2026-08-31T22:00:00"])
def now(request):
    return utc(request.param)


@pytest.fixture(scope="module")
def team(now):
    return demo_team(now=lambda: now)


@pytest.fixture(scope="module")
def by_month(team) -> dict[Month, list[dict]]:
    return {month: team.month_events(month) for month in team.months}


@pytest.fixture(scope="module")
def on_demand(by_month) -> list[dict]:
    return [event for events in by_month.values() for event in events if is_on_demand(event)]


def _who(event: dict) -> str:
    return event.get("userEmail", REMOVED)


def _cost(events) -> int:
    return on_demand_totals(events).cost


def _spend_by(events, key) -> dict:
    groups = defaultdict(list)
    for event in events:
        groups[key(event)].append(event)
    return {name: _cost(group) for name, group in groups.items()}


def _month_index(team, event: dict) -> int:
    return team.months.index(Month.of_ms(int(event["timestamp"])))


def test_the_demo_team_is_seeded_and_covers_the_six_months_ending_now(now, team, by_month):
    assert team.months == tuple(months_in_range(Month.of(now), 6))
    assert 25 <= len(team.members) <= 40
    assert len({member.email for member in team.members}) == len(team.members)
    last = team.months[-1]
    assert demo_team(now=lambda: now).month_events(last) == by_month[last]
    assert demo_team(now=lambda: now, seed=7).month_events(last) != by_month[last]
    for events in by_month.values():
        stamps = [int(event["timestamp"]) for event in events]
        assert stamps == sorted(stamps) and all(isinstance(event["timestamp"], str) for event in events)
    # No event after now, and a month cut at now is the start of the whole month.
    earlier = now.replace(day=10, hour=12)
    cut = demo_team(now=lambda: earlier).month_events(last)
    last_ms = int(earlier.timestamp() * 1000)
    assert cut and cut == [e for e in by_month[last] if int(e["timestamp"]) <= last_ms]


def test_people_have_their_own_favourite_models_and_models_their_own_following(on_demand):
    spend = _spend_by(on_demand, _who)
    top_users = sorted(spend, key=spend.get, reverse=True)[:10]
    favourites = {}
    for user in top_users:
        by_model = _spend_by([e for e in on_demand if _who(e) == user], lambda e: e["model"])
        favourites[user] = max(by_model, key=by_model.get)
    assert len(set(favourites.values())) >= 3, favourites
    users_per_model = Counter(model for model, _ in {(e["model"], _who(e)) for e in on_demand})
    assert len(set(users_per_model.values())) >= 4, users_per_model
    # Heavy and light: the top spender spends far more than the median person.
    assert spend[top_users[0]] > 20 * median(spend.values())


def test_the_costliest_models_have_a_few_heavy_users_in_max_mode(on_demand):
    requests = Counter(e["model"] for e in on_demand)
    cost = _spend_by(on_demand, lambda e: e["model"])
    costliest = max(cost, key=lambda model: cost[model] / requests[model])
    assert DEMO_MODELS[costliest].thinking and DEMO_MODELS[costliest].max_mode
    users = _spend_by([e for e in on_demand if e["model"] == costliest], _who)
    assert 2 <= len(users) <= 8
    two_heaviest = sorted(users.values(), reverse=True)[:2]
    assert sum(two_heaviest) > 0.6 * sum(users.values())
    heavy_max_mode = [e for e in on_demand if e["model"] == costliest and e["maxMode"]]
    assert len(heavy_max_mode) > 0.3 * requests[costliest]
    # Max mode and thinking make a request dearer than the same model's ordinary ones.
    plain = [e for e in on_demand if e["model"] == costliest and not e["maxMode"]]
    assert _cost(heavy_max_mode) / len(heavy_max_mode) > _cost(plain) / len(plain)


def test_a_model_is_adopted_mid_period_and_grows(team, by_month):
    month_of_release, day = NEW_MODEL_RELEASE
    release_ms = team.months[month_of_release].start_ms + (day - 1) * DAY_MS
    adopted = [e for events in by_month.values() for e in events if e["model"] == NEW_MODEL]
    assert adopted and min(int(e["timestamp"]) for e in adopted) >= release_ms
    shares = [sum(e["model"] == NEW_MODEL for e in events) / len(events) for events in by_month.values()]
    assert shares[:month_of_release] == [0.0] * month_of_release and shares[month_of_release] > 0
    assert shares[month_of_release:] == sorted(shares[month_of_release:])  # more each month
    users = [len({_who(e) for e in events if e["model"] == NEW_MODEL and is_on_demand(e)})
             for events in by_month.values()]
    assert users[-1] > users[month_of_release] > 0


def test_one_persons_day_spikes_far_above_their_usual(team, on_demand):
    per_day = _spend_by(on_demand, lambda e: (_who(e), int(e["timestamp"]) // DAY_MS))
    (person, day), biggest = max(per_day.items(), key=lambda item: item[1])
    usual = median(cost for (who, _), cost in per_day.items() if who == person)
    assert biggest > 20 * usual
    assert Month.of_ms(day * DAY_MS) == team.months[SPIKE_MONTH] and day * DAY_MS == team.spike_day
    # It moves the team's day too: the team's biggest day of the period.
    team_days = _spend_by(on_demand, lambda e: int(e["timestamp"]) // DAY_MS)
    assert max(team_days, key=team_days.get) == day


def test_people_join_and_leave(team, on_demand):
    months_active = defaultdict(set)
    for event in on_demand:
        months_active[_who(event)].add(_month_index(team, event))
    named = {who: months for who, months in months_active.items() if who != REMOVED}
    assert sum(min(months) > 0 for months in named.values()) >= 3  # joined after the first month
    assert sum(max(months) < len(team.months) - 1 for months in named.values()) >= 2  # stopped before the last
    members = {member.email: member for member in team.members}
    assert set(named) <= set(members)
    # Listed members who stopped are still listed, not removed; one listed member never used on-demand.
    assert all(not members[who].is_removed for who in named)
    assert {email for email, member in members.items() if not member.is_removed} - set(named)


def test_removed_members_events_arrive_without_an_email_and_stop_when_they_left(team, by_month, on_demand):
    removed = [member for member in team.members if member.is_removed]
    assert removed
    anonymous = [e for events in by_month.values() for e in events if "userEmail" not in e]
    assert anonymous and any(is_on_demand(e) for e in anonymous)
    # Those who left stopped before the period ended: no anonymous event in the last months.
    assert max(_month_index(team, e) for e in anonymous) < len(team.months) - 2
    emails = {e.get("userEmail") for events in by_month.values() for e in events}
    assert not emails & {member.email for member in removed}


def test_a_service_account_runs_at_night_on_its_owners_email(team, by_month):
    account = team.service_accounts[0]
    headless = [e for events in by_month.values() for e in events if "serviceAccountId" in e]
    assert len(headless) > 100
    first_month, first_day = DEMO_SERVICE_ACCOUNT.joins
    starts = team.months[first_month].start_ms + (first_day - 1) * DAY_MS
    first_hour, last_hour = DEMO_SERVICE_ACCOUNT.hours
    for event in headless:
        assert event["serviceAccountId"] == account.id and event["serviceAccountName"] == account.name
        assert event["isHeadless"] is True and event["userEmail"] == account.owner.email
        moment = datetime.fromtimestamp(int(event["timestamp"]) / 1000, tz=timezone.utc)
        assert int(event["timestamp"]) >= starts and first_hour <= moment.hour < last_hour
        assert moment.weekday() < 5
    assert any(is_on_demand(e) and "chargedCents" in e for e in headless)


def test_older_format_before_the_cut_over_newest_with_discounts_after(team, on_demand):
    month, day = NEWEST_FORMAT_FROM
    cut_over = team.months[month].start_ms + (day - 1) * DAY_MS
    older = [e for e in on_demand if "chargedCents" not in e]
    newest = [e for e in on_demand if "chargedCents" in e]
    assert older and newest
    assert max(int(e["timestamp"]) for e in older) < cut_over <= min(int(e["timestamp"]) for e in newest)
    discounted = [e for e in newest if "discountPercentOff" in e["tokenUsage"]]
    assert 0.05 * len(newest) < len(discounted) < 0.25 * len(newest)
    totals = on_demand_totals(discounted)
    assert totals.cost < totals.list_cost


def test_month_volumes_vary_with_a_dip_and_a_weekday_rhythm(by_month, on_demand):
    counts = [sum(is_on_demand(e) for e in events) for events in by_month.values()]
    assert len(set(counts)) == len(counts)
    assert counts[-1] > counts[0]  # growth over the period
    assert any(later < earlier for earlier, later in zip(counts, counts[1:]))  # and a dip
    workdays, weekends = Counter(), Counter()
    for event in on_demand:
        moment = datetime.fromtimestamp(int(event["timestamp"]) / 1000, tz=timezone.utc)
        (workdays if moment.weekday() < 5 else weekends)[moment.date()] += 1
    assert sum(workdays.values()) / len(workdays) > 4 * sum(weekends.values()) / len(weekends)


def test_costs_are_token_based_at_each_models_prices(by_month):
    seen = set()
    for events in by_month.values():
        for event in events:
            usage = event.get("tokenUsage")
            if usage is None:
                continue
            price = DEMO_MODELS[event["model"]]
            expected = (usage["inputTokens"] * price.input + usage["outputTokens"] * price.output
                        + usage["cacheWriteTokens"] * price.cache_write
                        + usage["cacheReadTokens"] * price.cache_read) / 1e6
            assert abs(usage["totalCents"] - expected) < 1e-5, event
            if not price.token_fee:
                assert "cursorTokenFee" not in event, event
            seen.add(event["model"])
    assert seen == set(DEMO_MODELS)
