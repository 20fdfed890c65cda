"""Chargeback by group (issue 14): each day's spend charged to one group, hand-computed to the micro-cent."""

from __future__ import annotations

import dataclasses
from datetime import datetime, timezone

import pytest
from click.testing import CliRunner
from conftest import FakeClock, Now, site_day, utc

from billing_reports.analysis import analyse
from billing_reports.builtin_plugins import chargeback
from billing_reports.cli import cli
from billing_reports.errors import ConfigError
from billing_reports.months import Month
from billing_reports.sections import DASHBOARD_PREVIEW
from billing_reports.settings import Settings, load_settings
from billing_reports.usage import REMOVED_USER, DataQuality, MonthFacts, OnDemandUsage, UsageTotals

FEB, MAR = Month(2026, 2), Month(2026, 3)
ANN, BOB, CY = "ann@example.com", "bob@example.com", "cy@example.com"
NIGHTLY, OTHER_CI = "nightly-ci (service account)", "ci-other (service account)"
#: Bob moves from Platform to Data on 16 March; the nightly-ci service account is placed by its name.
MAPPING = """email,group,start
ann@example.com,Platform,
bob@example.com,Platform,
bob@example.com,Data,2026-03-16
nightly-ci,Data,
"""


def cost(microcents: int) -> UsageTotals:
    return UsageTotals(cost=microcents, requests=1)


def hand_made_usage() -> OnDemandUsage:
    """Odd micro-cent amounts, so that a cent's rounding anywhere would show."""
    fetched = datetime(2026, 4, 3, tzinfo=timezone.utc)
    return OnDemandUsage(
        months=[FEB, MAR],
        ledger={
            (site_day(2026, 2, 10), ANN, "gpt-5", False): cost(1_000_001),
            (site_day(2026, 3, 15), BOB, "opus", False): cost(2_000_003),   # Bob's last day in Platform
            (site_day(2026, 3, 16), BOB, "opus", True): cost(3_000_005),    # his first in Data
            (site_day(2026, 3, 16), BOB, "gpt-5", False): cost(7),
            (site_day(2026, 3, 1), CY, "gpt-5", False): cost(11),           # in no group
            (site_day(2026, 2, 20), REMOVED_USER, "gpt-5", False): cost(13),
            (site_day(2026, 3, 2), NIGHTLY, "gpt-5", False): cost(17),      # the mapping places it
            (site_day(2026, 3, 3), OTHER_CI, "gpt-5", False): cost(19),     # not mapped: its owner Ann's group
        },
        month_facts={
            FEB: MonthFacts(FEB, cached=True, complete=True, fetched_at=fetched),
            MAR: MonthFacts(MAR, cached=True, complete=True, fetched_at=fetched,
                            quality=DataQuality(service_account_owners={OTHER_CI: ANN, NIGHTLY: BOB})),
        },
    )


def config(tmp_path, block: str = "    mapping: groups.csv\n", mapping: str | None = MAPPING):
    if mapping is not None:
        (tmp_path / "groups.csv").write_text(mapping, encoding="utf-8")
    (tmp_path / "config.yaml").write_text(f"plugins:\n  chargeback:\n{block}", encoding="utf-8")
    return load_settings(tmp_path / "config.yaml")


def sections_of(usage, settings):
    found = []
    chargeback.register_sections(register=found.append, usage=usage, settings=settings)
    return {section.slug: section for section in found}


def rows_by(table, width=1):
    return {tuple(row[:width]) if width > 1 else row[0]: row for row in table.rows}


def test_a_mid_period_team_change_charges_each_day_to_its_group_and_the_groups_add_up(tmp_path):
    usage = hand_made_usage()
    sections = sections_of(usage, config(tmp_path))
    table = sections["chargeback"].table("by-period")
    assert [column.key for column in table.columns] == ["group_name", "2026-02", "2026-03", "total", "share"]
    rows = rows_by(table)
    # by hand: Platform = Ann's 1_000_001 (Feb), Bob's 2_000_003 before his move and ci-other's 19 (Mar)
    assert rows["Platform"][1:4] == [1_000_001, 2_000_003 + 19, 3_000_023]
    # Data = Bob's 3_000_005 + 7 from the 16th, and nightly-ci's 17
    assert rows["Data"][1:4] == [0, 3_000_029, 3_000_029]
    assert rows["Unassigned"][1:4] == [13, 11, 24]
    assert [row[0] for row in table.rows] == ["Data", "Platform", "Unassigned"]  # costliest first, Unassigned last
    total = 1_000_001 + 2_000_003 + 3_000_005 + 7 + 11 + 13 + 17 + 19
    assert usage.total.cost == total and table.total[1:4] == [1_000_001 + 13, total - 1_000_001 - 13, total]
    for index in (1, 2, 3):  # every column adds up exactly: nothing nudged, nothing lost
        assert sum(row[index] for row in table.rows) == table.total[index]

    ranked = sections["chargeback"].table("by-group")
    assert [row[:2] for row in ranked.rows] == [["Data", 3_000_029], ["Platform", 3_000_023], ["Unassigned", 24]]
    assert ranked.total[1] == total and [row[3] for row in ranked.rows] == [2, 3, 1]  # Data: Bob, nightly-ci

    members = rows_by(sections["chargeback"].table("by-member"), 2)
    feb_1, mar_15, mar_16, mar_31 = "2026-02-01", "2026-03-15", "2026-03-16", "2026-03-31"
    assert members[("Platform", BOB)][2:] == [feb_1, mar_15, 28 + 15, 2_000_003]
    assert members[("Data", BOB)][2:] == [mar_16, mar_31, 16, 3_000_005 + 7]
    models = rows_by(sections["chargeback"].table("by-model"), 2)
    assert models[("Data", "opus")][2] == 3_000_005 and models[("Platform", "opus")][2] == 2_000_003


def test_service_accounts_are_their_own_rows_placed_by_the_mapping_or_by_their_owner(tmp_path):
    sections = sections_of(hand_made_usage(), config(tmp_path))
    members = rows_by(sections["chargeback"].table("by-member"), 2)
    assert members[("Data", NIGHTLY)][-1] == 17             # the mapping names nightly-ci
    assert members[("Platform", OTHER_CI)][-1] == 19        # unmapped: its owner Ann's group that day
    listed = [row[1] for row in sections["chargeback"].table("by-member").rows]
    assert "nightly-ci" not in listed and listed.count(NIGHTLY) == 1


def test_the_unassigned_group_holds_whoever_no_group_holds_removed_users_included(tmp_path):
    sections = sections_of(hand_made_usage(), config(tmp_path))
    unassigned = sections["chargeback-unassigned"]
    assert {row[0]: row[-1] for row in unassigned.table("by-member").rows} == {CY: 11, REMOVED_USER: 13}
    assert unassigned.table("by-period").total[1] == 24
    assert "Unassigned" in sections["chargeback"].intro and "removed users" in sections["chargeback"].intro


def test_each_group_has_a_page_out_of_the_navigation_linked_from_the_tables(tmp_path):
    sections = sections_of(hand_made_usage(), config(tmp_path))
    assert set(sections) == {"chargeback", "chargeback-data", "chargeback-platform", "chargeback-unassigned"}
    data = sections["chargeback-data"]
    assert not data.nav and sections["chargeback"].nav
    assert [row[1] for row in data.table("by-period").rows] == [0, 3_000_029]
    assert data.table("by-period").total[1:3] == [3_000_029, hand_made_usage().total.cost]
    assert sections["chargeback"].table("by-period").columns[0].links == {
        "Data": "chargeback-data", "Platform": "chargeback-platform", "Unassigned": "chargeback-unassigned"}
    assert DASHBOARD_PREVIEW in sections["chargeback"].roles


def test_without_groups_the_section_says_how_to_get_them_with_everything_unassigned(tmp_path):
    usage = hand_made_usage()
    sections = sections_of(usage, config(tmp_path, block="    source: auto\n", mapping=None))
    assert list(sections) == ["chargeback"]  # no group pages
    section = sections["chargeback"]
    assert "Enterprise" in section.intro and "plugins.chargeback.mapping" in section.intro
    assert [row[0] for row in section.table("by-period").rows] == ["Unassigned"]
    assert section.table("by-period").rows[0][3] == usage.total.cost
    assert DASHBOARD_PREVIEW not in section.roles  # one Unassigned row says nothing on the dashboard


def test_a_mapping_that_cannot_be_read_stops_the_run_in_one_line_naming_it(tmp_path, analysis_config):
    text = analysis_config.read_text() + "  skip_broken: true\n  chargeback:\n    mapping: teams/missing.csv\n"
    analysis_config.write_text(text)
    settings = load_settings(analysis_config)
    with pytest.raises(ConfigError) as raised:  # a config problem, not a broken plugin to skip
        analyse(settings, [Month(2026, 1)])
    message = raised.value.message
    assert str(analysis_config.parent / "teams" / "missing.csv") in message and "\n" not in message
    result = CliRunner().invoke(cli, ["report", "--config", str(analysis_config), "--since", "2026-01-01", "--until", "2026-01-31"])
    assert result.exit_code != 0 and "missing.csv" in result.output and "Traceback" not in result.output


def test_the_source_mapping_needs_a_mapping_file(tmp_path):
    (tmp_path / "config.yaml").write_text("plugins:\n  chargeback:\n    source: mapping\n")
    with pytest.raises(ConfigError, match="plugins.chargeback: source is mapping but no mapping file"):
        load_settings(tmp_path / "config.yaml")


def test_hostile_group_names_are_escaped_on_their_pages(tmp_path):
    from billing_reports.site import build_site

    mapping = 'email,group\nann@example.com,"<script>alert(""g"")</script>"\nbob@example.com,Q&A <b>team</b>\n'
    settings = dataclasses.replace(config(tmp_path, mapping=mapping), site_dir=tmp_path / "site")
    usage = hand_made_usage()
    sections = list(sections_of(usage, settings).values())
    site = build_site(settings, usage, sections).directory
    overview = (site / "chargeback.html").read_text()
    pages = sorted(path.name for path in site.glob("chargeback-*.html"))
    assert len(pages) == 3
    for name in ["chargeback.html", *pages]:
        html = (site / name).read_text()
        assert "<script>alert" not in html and "<b>team</b>" not in html
    assert "&lt;script&gt;alert(&#34;g&#34;)&lt;/script&gt;" in overview
    for page in pages:  # each group's page is linked from the overview's table, and is no nav item
        assert f'href="{page}"' in overview
        assert f'href="{page}"' not in (site / "about.html").read_text()
    assert "Q&amp;A &lt;b&gt;team&lt;/b&gt;" in "".join((site / page).read_text() for page in pages)


def test_cursors_groups_on_the_demo_company_move_nora_on_her_day(tmp_path):
    from billing_reports.fakeapi import FakeCursorApi
    from billing_reports.fakeapi.demo_team import DEMO_MOVE_AFTER_DAYS, demo_team
    from billing_reports.fetching import fetch_months
    from billing_reports.periods import date_of_day, parse_day

    now = Now(utc("2026-11-30T08:00:00"))
    with FakeCursorApi(demo_team(now), rate_limit_per_minute=None) as api:
        settings = dataclasses.replace(Settings(config_path=tmp_path / "config.yaml"), data_dir=tmp_path / "cache",
                                       api_base_url=api.base_url, request_delay_seconds=0.0)
        clock = FakeClock()
        fetch_months(settings, [Month(2026, 10), Month(2026, 11)], api_key=api.api_key, now=now, clock=clock,
                     sleep=clock.sleep, team_figures=True)
    analysis = analyse(settings, [Month(2026, 10), Month(2026, 11)])
    usage = analysis.usage
    section = next(s for s in analysis.sections if s.slug == "chargeback")
    assert "Cursor's billing groups" in section.intro and "1 of them synced" in section.intro
    groups = section.table("by-period")
    assert [row[0] for row in groups.rows][-1] == "Unassigned"
    assert {row[0] for row in groups.rows} == {"Platform", "Product", "Data & ML", "Mobile", "Unassigned"}
    assert sum(row[-2] for row in groups.rows) == groups.total[-2] == usage.total.cost

    nora = "nora.lindqvist@example.com"
    moved = parse_day("2026-11-17") + DEMO_MOVE_AFTER_DAYS  # the current cycle began on the 17th
    members = rows_by(section.table("by-member"), 2)
    product, data = members[("Product", nora)], members[("Data & ML", nora)]
    assert (product[3], data[2]) == (date_of_day(moved - 1).isoformat(), date_of_day(moved).isoformat())
    by_day = usage.user_cost_by_day(nora)  # her own spend, summed by day from the ledger
    assert data[-1] == sum(amount for day, amount in by_day.items() if day >= moved)
    assert product[-1] == sum(amount for day, amount in by_day.items() if day < moved)
    assert ("Unassigned", "arjun.nair@example.com") in members
    unassigned = {row[1] for row in section.table("by-member").rows if row[0] == "Unassigned"}
    assert not unassigned & {row[1] for row in section.table("by-member").rows if row[0] != "Unassigned"}


@pytest.mark.parametrize("usage", ["hand-made", "analysis"])
def test_without_groups_the_sums_are_what_visiting_every_cell_with_no_group_finds(usage, analysis_usage):
    from billing_reports.groups import GroupDirectory

    usage = hand_made_usage() if usage == "hand-made" else analysis_usage
    nobody = GroupDirectory([], source="no one")  # every cell visited, every one Unassigned
    assert dataclasses.asdict(chargeback.charge(usage, None)) == dataclasses.asdict(chargeback.charge(usage, nobody))
    assert chargeback.charge(usage, None).total("Unassigned") == usage.total.cost
