"""Reconciliation (issue 14): Cursor's spend figures against our events, hand-computed."""

import dataclasses

import pytest
from conftest import FakeClock, Now, usage_event, utc

from billing_reports.cursor_figures import CursorFigures, MemberSpend, SpendSnapshot, load_cursor_figures
from billing_reports.fakeapi import FakeCursorApi, StaticTeam
from billing_reports.fakeapi.billing import Billing
from billing_reports.fakeapi.team import TeamMember
from billing_reports.fetching import fetch_months
from billing_reports.months import Month
from billing_reports.periods import cycle_containing, parse_day
from billing_reports.reconciliation import Tolerance, reconcile, reconcile_snapshot
from billing_reports.settings import Settings
from billing_reports.usage import REMOVED_USER

pytestmark = pytest.mark.server

M = 1_000_000  # micro-cents per cent
MEMBERS = tuple(
    TeamMember(id=index, email=f"{name}@example.com", name=name.title(), role="member", is_removed=False, activity=1.0)
    for index, name in enumerate(["ann", "bob", "cy", "dee"], start=1)
)
BILLING = Billing(cycle_anchor="2026-01-17", adjustments={"bob@example.com": 250.0})


def events():
    return [
        usage_event("2026-11-16T23:59:59.999", email="ann@example.com", total_cents=1000.0),  # cycle before
        usage_event("2026-11-17T00:00:00.000", email="ann@example.com", total_cents=10.25, fee=1.0),
        usage_event("2026-11-18T10:00:00", email="ann@example.com", total_cents=4.0, chargedCents=3.5),
        usage_event("2026-11-19T10:00:00", email="bob@example.com", total_cents=2.0),
        usage_event("2026-11-19T11:00:00", email="bob@example.com", kind="Included in Business",
                    chargeable=False, chargedCents=8.0),
        usage_event("2026-11-30T09:00:00", email="cy@example.com", total_cents=12.0),
        usage_event("2026-11-30T11:59:59.999", email="cy@example.com", total_cents=0.5),
        usage_event("2026-11-30T13:00:00", email="cy@example.com", total_cents=100.0),   # after 12:00
        usage_event("2026-11-22T12:00:00", email=None, total_cents=3.0),                 # a removed member
        usage_event("2026-11-23T12:00:00", email="zed@example.com", total_cents=2.0),    # not a member
        usage_event("2026-11-24T12:00:00", email="dee@example.com", total_cents=0.75,    # dee's service account
                    serviceAccountName="nightly-ci", serviceAccountId="sa_1"),
    ]


def fetched(tmp_path, moment, billing=BILLING):
    now = Now(utc(moment))
    team = StaticTeam(events(), members=MEMBERS, now=now)
    with FakeCursorApi(team, rate_limit_per_minute=None, billing=billing) as api:
        settings = dataclasses.replace(Settings(config_path=tmp_path / "config.yaml"), data_dir=tmp_path / "cache",
                                       api_base_url=api.base_url, request_delay_seconds=0.0)
        clock = FakeClock()
        fetch_months(settings, [Month(2026, 11)], api_key=api.api_key, now=now, clock=clock, sleep=clock.sleep,
                     team_figures=True)
    return settings.data_dir


def test_each_member_against_cursors_figure_at_the_snapshot(tmp_path):
    data_dir = fetched(tmp_path, "2026-11-30T12:00:00")
    figures = load_cursor_figures(data_dir)
    [cycle] = reconcile(figures, data_dir)
    assert cycle.snapshot.cycle.first_day == parse_day("2026-11-17")
    lines = {line.email: line for line in cycle.on_demand}
    # ann: 10.25 + 1.0 fee + 3.5 charged, both sides; the 1000 of the cycle before on neither
    assert (lines["ann@example.com"].cursor, lines["ann@example.com"].ours) == (14_750_000, 14_750_000)
    assert not lines["ann@example.com"].flagged
    # bob: Cursor counts $2.50 more than his 2.0 cents of events: flagged (beyond $1)
    assert (lines["bob@example.com"].cursor, lines["bob@example.com"].ours) == (252 * M, 2 * M)
    assert lines["bob@example.com"].difference == -250 * M and lines["bob@example.com"].flagged
    assert lines["bob@example.com"].percent == pytest.approx(-250 / 252 * 100)
    # cy: the 30th up to 12:00 only (12.0 + 0.5); the 100.0 at 13:00 came after the snapshot
    assert (lines["cy@example.com"].cursor, lines["cy@example.com"].ours) == (12_500_000, 12_500_000)
    # dee: only her service account spent; Cursor counts it as hers, and so does the comparison
    dee = lines["dee@example.com"]
    assert (dee.cursor, dee.ours, dee.flagged) == (750_000, 750_000, False)
    assert "nightly-ci (service account)" not in lines
    # overall: bob's included 8.0 joins his on-demand 2.0 against Cursor's 260.0
    overall = {line.email: line for line in cycle.overall}
    assert (overall["bob@example.com"].cursor, overall["bob@example.com"].ours) == (260 * M, 10 * M)
    assert cycle.events_without_member == {"zed@example.com": 2 * M, REMOVED_USER: 3 * M}
    assert cycle.on_demand_total.cursor == (14.75 + 252 + 12.5 + 0.75) * M
    assert cycle.on_demand_total.flagged and not cycle.on_demand[0].email.startswith("ann")
    assert cycle.on_demand_total.ours == (14.75 + 2.0 + 12.5 + 3.0 + 2.0 + 0.75) * M
    assert cycle.missing_months == [] and cycle.fetched_before_snapshot == []


def test_the_snapshots_own_day_counts_only_up_to_its_instant(tmp_path):
    data_dir = fetched(tmp_path, "2026-11-30T18:00:00")  # every event of the 30th is cached
    figures = load_cursor_figures(data_dir)
    taken_earlier = dataclasses.replace(figures.spend[0], taken_at=utc("2026-11-30T12:00:00"))
    cycle = reconcile_snapshot(taken_earlier, data_dir, figures)
    cy = next(line for line in cycle.on_demand if line.email == "cy@example.com")
    assert cy.ours == 12_500_000  # not the 100.0 of 13:00
    later = reconcile_snapshot(figures.spend[0], data_dir, figures)
    assert next(line for line in later.on_demand if line.email == "cy@example.com").ours == 112_500_000


def test_the_tolerance_is_the_larger_of_an_amount_and_a_share():
    tolerance = Tolerance(amount=100 * M, percent=1.0)  # $1 and 1 %
    assert tolerance.allows(50 * 100 * M, 100 * M)            # $1 off $50: within $1
    assert not tolerance.allows(50 * 100 * M, 100 * M + 1)    # a micro-cent more
    assert tolerance.allows(500 * 100 * M, 500 * M)           # $5 off $500: within 1 %
    assert not tolerance.allows(500 * 100 * M, 501 * M)


def test_a_month_not_fetched_is_said_not_taken_for_zero(tmp_path):
    snapshot = SpendSnapshot(cycle_containing(parse_day("2026-10-17"), parse_day("2026-10-17")),
                             utc("2026-11-16T20:00:00"), (MemberSpend("ann@example.com", "Ann", 5 * M, 5 * M, None),))
    (tmp_path / "cache").mkdir()
    cycle = reconcile_snapshot(snapshot, tmp_path / "cache", CursorFigures())
    assert cycle.missing_months == [Month(2026, 10), Month(2026, 11)]
    assert cycle.spend_without_events == ["ann@example.com"]


def test_the_demo_company_shows_what_reconciliation_is_for(tmp_path):
    from billing_reports.fakeapi.demo_team import demo_team
    from billing_reports.groups import from_cursor

    now = Now(utc("2026-11-30T08:00:00"))
    team = demo_team(now)
    with FakeCursorApi(team, rate_limit_per_minute=None) as api:
        settings = dataclasses.replace(Settings(config_path=tmp_path / "config.yaml"), data_dir=tmp_path / "cache",
                                       api_base_url=api.base_url, request_delay_seconds=0.0)
        clock = FakeClock()
        fetch_months(settings, [Month(2026, 10), Month(2026, 11)], api_key=api.api_key, now=now, clock=clock,
                     sleep=clock.sleep, team_figures=True)
    figures = load_cursor_figures(settings.data_dir)
    [cycle] = reconcile(figures, settings.data_dir)
    assert cycle.snapshot.cycle.first_day == parse_day("2026-11-17")
    flagged = {line.email for line in cycle.on_demand if line.flagged}
    assert flagged == {"dmitri.volkov@example.com"}  # Cursor's late adjustment of $4.20
    dmitri = next(line for line in cycle.on_demand if line.email == "dmitri.volkov@example.com")
    assert dmitri.difference == -420 * M
    # the removed members left months ago: neither side has spend of theirs in this cycle
    removed = {member.email for member in team.members if member.is_removed}
    assert all(line.cursor == line.ours == 0 for line in cycle.on_demand if line.email in removed)
    assert REMOVED_USER not in cycle.events_without_member
    # the service account's spend is its owner's, as Cursor counts it
    sam = next(line for line in cycle.on_demand if line.email == "sam.okafor@example.com")
    assert sam.ours == sam.cursor
    # someone near their limit, and the group directory from Cursor's groups
    priya = next(member for member in figures.spend[0].members if member.email == "priya.raman@example.com")
    assert priya.limit and 0.8 <= priya.spend / priya.limit < 1
    directory = from_cursor(figures)
    assert directory.group_of("nora.lindqvist@example.com", parse_day("2026-11-18")) == "Product"
    assert directory.group_of("nora.lindqvist@example.com", parse_day("2026-11-25")) == "Data & ML"
    assert directory.group_of("arjun.nair@example.com", parse_day("2026-11-25")) == "Unassigned"


def test_the_section_puts_the_flagged_first_and_lists_what_matches_no_one(tmp_path):
    from billing_reports.builtin_plugins.reconciliation import FLAG, reconciliation_section
    from billing_reports.loader import load_usage

    data_dir = fetched(tmp_path, "2026-11-30T12:00:00")
    settings = Settings(config_path=tmp_path / "config.yaml", data_dir=data_dir)
    usage = load_usage(settings, [Month(2026, 11)])
    section = reconciliation_section(usage, Tolerance())
    on_demand, overall, unmatched = section.tables
    assert on_demand.slug == "cycle-2026-11-17" and on_demand.rows[0][0] == "bob@example.com"
    assert on_demand.rows[0][4:] == [-250 * M, pytest.approx(-250 / 252 * 100), FLAG]
    assert all(row[6] == "" for row in on_demand.rows[1:])
    assert on_demand.total[:5] == ["Total", "", (14.75 + 252 + 12.5 + 0.75) * M,
                                   (14.75 + 2.0 + 12.5 + 3.0 + 2.0 + 0.75) * M, (-250 + 5.0) * M]
    assert overall.rows[0][:4] == ["bob@example.com", "Bob", 260 * M, 10 * M]
    assert [row[1:] for row in unmatched.rows] == [[REMOVED_USER, 3 * M], ["zed@example.com", 2 * M]]
    cards = {figure.label: figure.value for figure in section.figures}
    assert cards == {"Cursor's on-demand figure, this cycle": (14.75 + 252 + 12.5 + 0.75) * M,
                     "Members beyond tolerance": 1}
    assert "summary-cards" in section.roles


def test_without_cursors_figures_the_section_says_how_to_get_them(tmp_path):
    from billing_reports.builtin_plugins.reconciliation import reconciliation_section
    from billing_reports.usage import OnDemandUsage

    section = reconciliation_section(OnDemandUsage(months=[Month(2026, 11)], data_dir=tmp_path), Tolerance())
    assert not section.tables and not section.roles and "run a fetch before each cycle ends" in section.intro


def test_a_figure_cursor_sent_as_no_number_is_unreadable_never_zero(tmp_path):
    from billing_reports.builtin_plugins.reconciliation import INCOMPLETE, UNREADABLE, _cycle_tables

    data_dir = fetched(tmp_path, "2026-11-30T12:00:00")
    figures = load_cursor_figures(data_dir)
    snapshot = figures.spend[0]
    broken = dataclasses.replace(snapshot, members=tuple(
        dataclasses.replace(m, spend=None, overall=None) if m.email == "ann@example.com" else m
        for m in snapshot.members))
    cycle = reconcile_snapshot(broken, data_dir, figures)
    ann = next(line for line in cycle.on_demand if line.email == "ann@example.com")
    assert (ann.cursor, ann.difference, ann.flagged) == (None, None, False)
    assert "ann@example.com" not in cycle.events_without_member and cycle.unreadable == ["ann@example.com"]
    assert cycle.on_demand_total.incomplete and cycle.on_demand_total.cursor == (252 + 12.5 + 0.75) * M
    on_demand = _cycle_tables(cycle, Tolerance())[0]
    assert on_demand.rows[0][0] == "ann@example.com" and on_demand.rows[0][6] == UNREADABLE
    assert on_demand.total[6].startswith(INCOMPLETE)
