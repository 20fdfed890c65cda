"""Cursor's own figures (issue 14): members, the current cycle's spend (every page), billing groups,
fetched through the real client from the fake API and kept as snapshots per cycle."""

import orjson
import pytest
from conftest import FakeClock, Now, usage_event, utc

from billing_reports import team_fetch
from billing_reports.client import CursorAdminClient
from billing_reports.errors import ApiError, CacheError
from billing_reports.fakeapi import FakeCursorApi, StaticTeam
from billing_reports.fakeapi.billing import Billing, GroupPlan
from billing_reports.fakeapi.team import TeamMember
from billing_reports.months import Month
from billing_reports.periods import parse_day
from billing_reports.team_fetch import fetch_team_figures
from billing_reports.team_snapshots import (
    Snapshot, cycle_path, keep, kept_cycles, kept_members, read_snapshot,
)

pytestmark = pytest.mark.server

MEMBERS = tuple(
    TeamMember(id=index, email=f"{name}@example.com", name=name.title(), role="member", is_removed=False, activity=1.0)
    for index, name in enumerate(["ann", "bob", "cy", "dee", "eve", "fay", "gus"], start=1)
)
#: Cycles start on the 17th: the cycle of 30 Nov 2026 is 17 Nov - 16 Dec.
BILLING = Billing(
    cycle_anchor="2026-01-17",
    limits={"ann@example.com": 50.0},
    adjustments={"bob@example.com": 12.5},
    groups=(GroupPlan("group_platform", "Platform", ("ann@example.com", "bob@example.com")),
            GroupPlan("group_data", "Data", ("cy@example.com",))),
    moves=(("cy@example.com", "group_data", "group_platform", "2026-11-20"),),
)


def events():
    return [
        usage_event("2026-11-16T23:59:59.999", email="ann@example.com", total_cents=1000.0),  # the cycle before
        usage_event("2026-11-17T00:00:00.000", email="ann@example.com", total_cents=10.25, fee=1.0),
        usage_event("2026-11-18T10:00:00", email="ann@example.com", total_cents=4.0, chargedCents=3.5,
                    tokenUsage={"totalCents": 4.0, "discountPercentOff": 12.5}),
        usage_event("2026-11-19T10:00:00", email="bob@example.com", total_cents=2.0),
        usage_event("2026-11-19T11:00:00", email="bob@example.com", kind="Included in Business",
                    chargeable=False, chargedCents=8.0),
        usage_event("2026-11-19T12:00:00", email="cy@example.com", total_cents=7.0),   # in Data then
        usage_event("2026-11-21T12:00:00", email="cy@example.com", total_cents=5.0),   # in Platform now
        usage_event("2026-11-22T12:00:00", email=None, total_cents=3.0),               # a removed member
    ]


@pytest.fixture
def now():
    return Now(utc("2026-11-30T12:00:00"))


def api_for(now, billing=BILLING, members=MEMBERS, events_list=None):
    team = StaticTeam(events() if events_list is None else events_list, members=members, now=now)
    return FakeCursorApi(team, rate_limit_per_minute=None, billing=billing)


def client_for(api):
    clock = FakeClock()
    return CursorAdminClient(api.base_url, api.api_key, sleep=clock.sleep)


def test_spend_is_fetched_page_by_page_and_kept_for_its_cycle(tmp_path, now, monkeypatch):
    monkeypatch.setattr(team_fetch, "SPEND_PAGE_SIZE", 2)  # 7 members: 4 pages
    with api_for(now) as api, client_for(api) as client:
        figures = fetch_team_figures(client, tmp_path, [Month(2026, 11)], now=now)
        spend_requests = [r for r in api.requests if r.path == "/teams/spend"]
    assert [r.body["page"] for r in spend_requests] == [1, 2, 3, 4]
    assert figures.cycle_start == parse_day("2026-11-17")
    kept = read_snapshot(cycle_path(tmp_path, "spend", parse_day("2026-11-17")))
    rows = {row["email"]: row for row in kept.answer["teamMemberSpend"]}
    assert sorted(rows) == sorted(member.email for member in MEMBERS)  # every page joined, once each
    # ann: 10.25 + 1.0 fee (no chargedCents) + 3.5 (chargedCents); the 1000 of the cycle before is not in it
    assert rows["ann@example.com"]["spendCents"] == pytest.approx(14.75)
    assert rows["ann@example.com"]["effectivePerUserLimitDollars"] == 50.0
    # bob: 2.0 on demand + the 12.5 Cursor counts beyond his events; overall adds the 8.0 included
    assert rows["bob@example.com"]["spendCents"] == pytest.approx(14.5)
    assert rows["bob@example.com"]["overallSpendCents"] == pytest.approx(22.5)
    assert kept.taken_at == now()


def test_a_past_cycles_spend_survives_the_rollover(tmp_path, now):
    with api_for(now) as api, client_for(api) as client:
        fetch_team_figures(client, tmp_path, [Month(2026, 11)], now=now)
        november = cycle_path(tmp_path, "spend", parse_day("2026-11-17"))
        before = november.read_bytes()
        now.moment = utc("2026-12-17T01:00:00")  # the next cycle: Cursor has forgotten November's
        figures = fetch_team_figures(client, tmp_path, [Month(2026, 12)], now=now)
    assert figures.cycle_start == parse_day("2026-12-17")
    assert november.read_bytes() == before
    cycles = [snapshot.cycle_start for snapshot in kept_cycles(tmp_path, "spend")]
    assert cycles == [parse_day("2026-11-17"), parse_day("2026-12-17")]


def test_a_later_snapshot_of_the_same_cycle_replaces_the_earlier_never_the_reverse(tmp_path):
    cycle = parse_day("2026-11-17")
    early = Snapshot("spend", utc("2026-11-20T00:00:00"), {"v": 1}, cycle_start=cycle)
    late = Snapshot("spend", utc("2026-11-20T02:00:00"), {"v": 2}, cycle_start=cycle)
    assert keep(tmp_path, early)[1] is True
    assert keep(tmp_path, late)[1] is True
    assert keep(tmp_path, early)[1] is False  # a slow run finishing late does not undo a newer one
    assert read_snapshot(cycle_path(tmp_path, "spend", cycle)).answer == {"v": 2}


def test_a_snapshot_from_a_clock_far_ahead_does_not_freeze_its_cycle(tmp_path):
    cycle = parse_day("2026-11-17")
    ahead = Snapshot("spend", utc("2026-12-01T00:00:00"), {"v": "hand-edited"}, cycle_start=cycle)
    now = Snapshot("spend", utc("2026-11-20T00:00:00"), {"v": "now"}, cycle_start=cycle)
    keep(tmp_path, ahead)
    assert keep(tmp_path, now)[1] is True
    assert read_snapshot(cycle_path(tmp_path, "spend", cycle)).answer == {"v": "now"}


def test_a_team_without_billing_groups_is_a_fact_not_a_failure(tmp_path, now):
    with api_for(now, billing=Billing(cycle_anchor="2026-01-17")) as api, client_for(api) as client:
        figures = fetch_team_figures(client, tmp_path, [Month(2026, 11)], now=now)
        groups_requests = [r for r in api.requests if r.path == "/teams/groups"]
    assert figures.has_groups is False
    assert len(groups_requests) == 1  # asked once, not per cycle
    assert "no billing groups" in figures.describe()
    assert not (tmp_path / "groups").exists()
    assert kept_members(tmp_path).answer["teamMembers"][0]["email"] == "ann@example.com"


@pytest.mark.parametrize("status", [401, 500])
def test_other_refusals_of_groups_stop_the_fetch(tmp_path, now, status):
    with api_for(now) as api, client_for(api) as client:
        client.max_retries = 0
        api.fail_next(status, after=2)  # members and spend answer; groups fail
        with pytest.raises(ApiError) as raised:
            fetch_team_figures(client, tmp_path, [Month(2026, 11)], now=now)
        assert [r.path for r in api.requests][-1] == "/teams/groups"
    assert "billing groups" in raised.value.message


def test_groups_of_the_current_and_past_cycles_in_range(tmp_path, now):
    with api_for(now) as api, client_for(api) as client:
        figures = fetch_team_figures(client, tmp_path, [Month(2026, 10), Month(2026, 11)], now=now)
        asked = [r.path for r in api.requests]
    assert figures.has_groups is True
    # the range Oct-Nov touches the cycles from 17 Sep, 17 Oct and 17 Nov (the current)
    assert figures.group_cycles == [parse_day(d) for d in ("2026-11-17", "2026-09-17", "2026-10-17")]
    assert asked.count("/teams/groups") == 3
    current = read_snapshot(cycle_path(tmp_path, "groups", parse_day("2026-11-17"))).answer
    platform = next(group for group in current["groups"] if group["id"] == "group_platform")
    # cy moved to Platform on 20 Nov: the 5.0 of the 21st is Platform's, the 7.0 of the 19th Data's
    cy = next(member for member in platform["currentMembers"] if member["email"] == "cy@example.com")
    assert cy["spendCents"] == pytest.approx(5.0)
    data = next(group for group in current["groups"] if group["id"] == "group_data")
    assert [member["email"] for member in data["formerMembers"]] == ["cy@example.com"]
    assert data["spendCents"] == pytest.approx(7.0)
    unassigned = current["unassignedGroup"]
    assert {m["email"] for m in unassigned["currentMembers"]} == {m.email for m in MEMBERS[3:]}


def test_a_past_cycles_groups_are_fetched_again_only_until_final(tmp_path, now):
    with api_for(now) as api, client_for(api) as client:
        fetch_team_figures(client, tmp_path, [Month(2026, 10), Month(2026, 11)], now=now)
        api.clear_requests()
        fetch_team_figures(client, tmp_path, [Month(2026, 10), Month(2026, 11)], now=now)
        again = [r.path for r in api.requests].count("/teams/groups")
    assert again == 1  # the current cycle only: the past ones were taken after they ended


def test_a_spend_answer_that_repeats_a_member_is_refused(tmp_path, now):
    twin = TeamMember(id=1, email="ann@example.com", name="Ann", role="member", is_removed=False, activity=1.0)
    with api_for(now, members=(*MEMBERS, twin)) as api, client_for(api) as client:
        with pytest.raises(ApiError, match="a member appears on two pages"):
            fetch_team_figures(client, tmp_path, [Month(2026, 11)], now=now)


@pytest.mark.parametrize("content, problem", [
    (b"{not json", "is not valid JSON"),
    (b"[]", "is not a JSON object"),
    (orjson.dumps({"format": 99, "kind": "spend"}), "newer billing-reports"),
    (orjson.dumps({"format": 1, "kind": "spend", "taken_at": "2026-11-20T00:00:00Z", "answer": {}}),
     "no cycle_start"),
    (orjson.dumps({"format": 1, "kind": "spend", "taken_at": None, "cycle_start": "2026-11-17", "answer": {}}),
     "no taken_at"),
])
def test_a_broken_snapshot_is_named_in_one_line(tmp_path, content, problem):
    path = cycle_path(tmp_path, "spend", parse_day("2026-11-17"))
    path.parent.mkdir(parents=True)
    path.write_bytes(content)
    with pytest.raises(CacheError) as raised:
        kept_cycles(tmp_path, "spend")
    message = raised.value.message
    assert str(path) in message and problem in message and "\n" not in message


def test_files_in_the_snapshot_folder_that_are_not_ours_are_left_alone(tmp_path):
    folder = tmp_path / "spend"
    folder.mkdir()
    (folder / "notes.txt").write_text("mine")
    keep(tmp_path, Snapshot("spend", utc("2026-11-20T00:00:00"), {}, cycle_start=parse_day("2026-11-17")))
    assert (folder / "notes.txt").read_text() == "mine"
    assert len(kept_cycles(tmp_path, "spend")) == 1


def test_the_fetch_keeps_what_left_out_events_charged_per_hour_user_and_kind(tmp_path, now):
    import dataclasses

    from billing_reports.cache import cache_path, read_cached_month
    from billing_reports.fetching import fetch_months
    from billing_reports.settings import Settings

    left_out = [
        usage_event("2026-11-19T11:00:00", email="bob@example.com", kind="Included in Business",
                    chargeable=False, chargedCents=8.0),
        usage_event("2026-11-19T15:00:00", email="bob@example.com", kind="Included in Business",
                    chargeable=False, chargedCents=0.125),
        usage_event("2026-11-20T01:00:00", email=None, kind="Included in Business", chargeable=False,
                    chargedCents=2.5),
        usage_event("2026-11-20T02:00:00", email="ann@example.com", kind="Errored, Not Charged",
                    chargeable=False, chargedCents=0),                                    # nothing charged
        usage_event("2026-11-20T03:00:00", email="ann@example.com", kind="Included in Business",
                    chargeable=False, chargedCents="8"),                                  # not a number
    ]
    with api_for(now, events_list=events() + left_out) as api:
        settings = dataclasses.replace(Settings(config_path=tmp_path / "config.yaml"), data_dir=tmp_path / "cache",
                                       api_base_url=api.base_url, request_delay_seconds=0.0)
        clock = FakeClock()
        summary = fetch_months(settings, [Month(2026, 11)], api_key=api.api_key, now=now, clock=clock,
                               sleep=clock.sleep, team_figures=True)
    payload = read_cached_month(cache_path(settings.data_dir, Month(2026, 11)))
    charged = [row for window in payload["fetch"]["windows"] for row in window.get("left_out_charged", [])]
    assert charged == [
        ["2026-11-19T11", "bob@example.com", "Included in Business", 16_000_000],  # 8.0 (events()) + 8.0
        ["2026-11-19T15", "bob@example.com", "Included in Business", 125_000],
        ["2026-11-20T01", "", "Included in Business", 2_500_000],
    ]
    assert summary.team is not None and summary.team.members == len(MEMBERS)
    assert (settings.data_dir / "groups").is_dir()


@pytest.mark.parametrize("cycle_start_ms, shown", [
    (10**17, "day "),                      # beyond the calendar
    (0, "1970-01-01"),                     # the epoch: no Cursor cycle began then
    (1_800_000_000_000, "2027-01-15"),     # in the future
])
def test_a_spend_answer_with_an_impossible_cycle_start_is_one_line(tmp_path, now, cycle_start_ms, shown, monkeypatch):
    from billing_reports.fakeapi import billing as fake_billing

    real = fake_billing.spend_answer

    def lying(team, billing, body):
        status, answer = real(team, billing, body)
        return status, {**answer, "subscriptionCycleStart": cycle_start_ms}

    monkeypatch.setattr("billing_reports.fakeapi.server.spend_answer", lying)
    with api_for(now) as api, client_for(api) as client:
        with pytest.raises(ApiError) as raised:
            fetch_team_figures(client, tmp_path, [Month(2026, 11)], now=now)
    assert "subscriptionCycleStart says a billing cycle began on " + shown in raised.value.message
    assert not (tmp_path / "spend").exists()


def test_a_groups_answer_of_an_impossible_cycle_is_refused_not_kept(tmp_path, now, monkeypatch):
    from billing_reports.fakeapi import billing as fake_billing

    real = fake_billing.groups_answer

    def lying(team, billing, query):
        status, answer = real(team, billing, query)
        return status, {**answer, "billingCycle": {"cycleStart": "9999-12-31T00:00:00.000Z", "cycleEnd": "x"}}

    monkeypatch.setattr("billing_reports.fakeapi.server.groups_answer", lying)
    with api_for(now) as api, client_for(api) as client:
        with pytest.raises(ApiError, match="billingCycle.cycleStart says a billing cycle began on 9999-12-31"):
            fetch_team_figures(client, tmp_path, [Month(2026, 11)], now=now)
    assert not (tmp_path / "groups").exists()


def test_a_broken_snapshot_stops_the_analysis_in_one_line_naming_it(tmp_path):
    from billing_reports.analysis import analyse
    from billing_reports.settings import load_settings
    from conftest import copy_analysis_cache

    data_dir = copy_analysis_cache(tmp_path / "cache")
    (tmp_path / "config.yaml").write_text(f"paths:\n  data_dir: {data_dir}\n")
    (data_dir / "members.json").write_text("garbage")
    with pytest.raises(CacheError) as raised:
        analyse(load_settings(tmp_path / "config.yaml"), [Month(2026, 1)])
    message = raised.value.message
    assert message.count("members.json") == 1 and "plugin" not in message and "past cycle" not in message


def test_what_a_killed_write_of_a_snapshot_left_is_removed_a_day_later_and_nothing_else(tmp_path):
    import os
    import time

    folder = tmp_path / "spend"
    folder.mkdir()
    old, fresh = folder / ".cycle-2026-11-17.json.abc123.tmp", folder / ".cycle-2026-11-17.json.def456.tmp"
    foreign = folder / ".cycle-2026-11-17.json.mine"
    for path in (old, fresh, foreign):
        path.write_text("x")
    two_days_ago = time.time() - 2 * 86400
    for path in (old, foreign):
        os.utime(path, (two_days_ago, two_days_ago))
    keep(tmp_path, Snapshot("spend", utc("2026-11-20T00:00:00"), {}, cycle_start=parse_day("2026-11-17")))
    assert not old.exists() and fresh.exists() and foreign.exists()
