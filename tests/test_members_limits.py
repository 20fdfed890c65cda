"""Issue 14: members' names beside emails, spend limits, the cycle on the data-quality page, the
fetch's word when it takes Cursor's figures. Figures are worked out by hand in the comments."""

from __future__ import annotations

import re
from datetime import datetime, timezone

import pytest

from billing_reports.cursor_figures import Member, MemberSpend, SpendSnapshot
from billing_reports.money import microcents
from billing_reports.periods import cycle_containing, parse_day
from billing_reports.progress import TEAM_FIGURES_LINE, LogReporter
from billing_reports.site.names import PageNames
from billing_reports.site.quality import data_quality_section
from billing_reports.site.views import CellRenderer, SiteMap
from billing_reports.team_snapshots import Snapshot, keep
from billing_reports.builtin_plugins.spend_limits import SpendLimitSettings, spend_limits_section

TAKEN = datetime(2026, 11, 30, 12, tzinfo=timezone.utc)
CYCLE = cycle_containing(parse_day("2026-11-17"), parse_day("2026-11-17"))
HOSTILE = '<script>alert(1)</script> "><img src=x onerror=alert(2)>'


def dollars(amount: float) -> int:
    return microcents(amount * 100)


def snapshot(*members: MemberSpend) -> SpendSnapshot:
    return SpendSnapshot(CYCLE, TAKEN, tuple(members))


def test_members_at_80_percent_exactly_are_near_their_limit_and_those_just_under_are_not():
    section = spend_limits_section(snapshot(
        MemberSpend("ann@x.com", "Ann", spend=dollars(80), overall=dollars(90), limit=dollars(100)),     # 80 % exactly
        MemberSpend("bob@x.com", "Bob", spend=dollars(79.99), overall=dollars(80), limit=dollars(100)),  # 79.99 %
        MemberSpend("cy@x.com", "Cy", spend=dollars(12), overall=dollars(12), limit=dollars(10)),        # 120 %: over
        MemberSpend("dee@x.com", "Dee", spend=dollars(500), overall=dollars(500), limit=None),           # no limit
    ), SpendLimitSettings())
    near, every = section.tables
    assert [row[0] for row in near.rows] == ["cy@x.com", "ann@x.com"]
    # cy: $12 of $10 = 120.0 %, $2 over; ann: $80 of $100 = 80.0 %, $20 left
    assert near.rows[0][1:] == [dollars(10), dollars(12), 120.0, -dollars(2)]
    assert near.rows[1][1:] == [dollars(100), dollars(80), 80.0, dollars(20)]
    assert [row[0] for row in every.rows] == ["cy@x.com", "ann@x.com", "bob@x.com"]  # dee has no limit
    assert every.rows[2][3] == 80.0  # 79.99 % shows rounded to 80.0 %, yet is not "at or above"
    assert section.roles == ("dashboard-preview",)
    assert section.figures[0].value == 2
    assert "Cycle 17 Nov – 16 Dec 2026" in section.intro and "30 Nov 2026, 12:00 UTC" in section.intro


def test_no_member_near_the_limit_keeps_the_section_off_the_dashboard():
    section = spend_limits_section(snapshot(
        MemberSpend("ann@x.com", "Ann", spend=dollars(80), overall=dollars(80), limit=dollars(100)),
    ), SpendLimitSettings(threshold_percent=80.5))
    assert section.roles == () and section.tables[0].rows == [] and len(section.tables[1].rows) == 1


def test_the_threshold_is_validated_in_its_plugins_block(tmp_path):
    from billing_reports.errors import ConfigError
    from billing_reports.settings import load_settings

    config = tmp_path / "config.yaml"
    config.write_text("plugins:\n  spend-limits:\n    threshold_percent: 90\n", encoding="utf-8")
    assert load_settings(config).plugin("spend-limits").threshold_percent == 90
    config.write_text("plugins:\n  spend-limits:\n    threshold_percent: 0\n", encoding="utf-8")
    with pytest.raises(ConfigError, match=r"spend-limits"):
        load_settings(config)


def _renderer(members: dict[str, Member]) -> CellRenderer:
    emails = list(members)
    site = SiteMap(index="billing_dashboard.html", users=PageNames(emails, fallback="user"),
                   models=PageNames([], fallback="model"), members=members)
    return CellRenderer(site, "../")


def test_a_users_cell_names_them_beside_the_email_escaped_and_marks_the_removed():
    cells = _renderer({
        "ann@x.com": Member("ann@x.com", HOSTILE, "member", removed=False),
        "old@x.com": Member("old@x.com", "Old Timer", "member", removed=True),
        "anon@x.com": Member("anon@x.com", "", "member", removed=False),
    })
    ann = str(cells.html("ann@x.com", "user"))
    assert ann.startswith('<a href="../users/ann-x.com.html">ann@x.com</a> <span class="member-name">')
    assert "<script>" not in ann and "<img" not in ann
    assert "&lt;script&gt;alert(1)&lt;/script&gt; &#34;&gt;&lt;img src=x onerror=alert(2)&gt;" in ann
    old = str(cells.html("old@x.com", "user"))
    assert '<span class="member-name">Old Timer</span>' in old and ">removed</span>" in old
    assert str(cells.html("anon@x.com", "user")) == '<a href="../users/anon-x.com.html">anon@x.com</a>'
    # the sort key and the chart labels stay the email: one identity
    assert cells.sort_key("ann@x.com", "user") == "ann@x.com"
    assert str(cells.name_link("ann@x.com")) == '<a href="../users/ann-x.com.html">ann@x.com</a>'


def test_the_built_site_names_members_escaped_on_the_users_page_and_their_own(analysis_settings, tmp_path):
    from billing_reports.months import Month, months_in_range
    from billing_reports.pipeline import build

    members = {"teamMembers": [{"email": "a@example.com", "name": HOSTILE, "role": "member"},
                               {"email": "b@example.com", "name": "Bea Removed", "role": "member", "isRemoved": True}]}
    keep(analysis_settings.data_dir, Snapshot("members", TAKEN, members))
    result = build(analysis_settings, months_in_range(Month(2026, 3), 3), offline=True)
    site = result.site.directory
    users = (site / "users.html").read_text(encoding="utf-8")
    assert "<script>alert" not in users and "&lt;script&gt;alert(1)&lt;/script&gt;" in users
    assert re.search(r'>b@example\.com</a> <span class="member-name">Bea Removed</span> <span class="flag"[^>]*>'
                     r'removed</span>', users)
    page = next(path for path in (site / "users").iterdir() if path.name.startswith("a-example"))
    heading = re.search(r'<h1 class="entity">(.*?)</h1>', page.read_text(encoding="utf-8"), re.S).group(1)
    assert heading.startswith('a@example.com<span class="member-heading"> <span class="member-name">&lt;script&gt;')
    assert "<script>" not in heading


def _usage_with_cursor_cycle(analysis_settings, cycle_start: str):
    from billing_reports.loader import load_usage
    from billing_reports.months import Month, months_in_range

    day = parse_day(cycle_start)
    answer = {"teamMemberSpend": [{"email": "a@example.com", "spendCents": 5}, {"spendCents": 7}],
              "subscriptionCycleStart": day * 86_400_000}
    keep(analysis_settings.data_dir, Snapshot("spend", TAKEN, answer, cycle_start=day))
    return load_usage(analysis_settings, months_in_range(Month(2026, 3), 2))


def test_a_configured_cycle_start_on_another_day_than_cursors_is_shown_on_the_data_quality_page(analysis_settings):
    usage = _usage_with_cursor_cycle(analysis_settings, "2026-11-17")
    section = data_quality_section(usage, parse_day("2026-01-15"))
    assert "**Billing cycle mismatch:** billing.cycle_start (2026-01-15) starts billing cycles on day 15" in section.intro
    assert "Cursor's subscriptionCycleStart is 17 Nov 2026" in section.intro
    table = {t.slug: t for t in section.tables}["cursor-figures"]
    checks = {row[0]: row[1] for row in table.rows}
    assert "Billing cycle (billing.cycle_start): mismatch" in checks
    # and the member line Cursor sent without an email is listed, not guessed
    assert any("a member line without an email (left out)" in found for found in checks.values())
    # named by its place in the cache folder, never by the server's absolute path (the site is published)
    assert not any(str(analysis_settings.data_dir) in found for found in checks.values())


def test_a_configured_cycle_start_of_any_cycle_on_cursors_day_agrees(analysis_settings):
    usage = _usage_with_cursor_cycle(analysis_settings, "2026-11-17")
    section = data_quality_section(usage, parse_day("2025-03-17"))  # another cycle, the same day of month
    assert "mismatch" not in section.intro
    table = {t.slug: t for t in section.tables}["cursor-figures"]
    assert ["Billing cycle (billing.cycle_start)", "2025-03-17: agrees with Cursor's"] in table.rows


def test_the_fetch_says_when_it_takes_cursors_figures():
    lines: list[str] = []
    LogReporter(lines.append).team_figures_started()
    assert lines == [TEAM_FIGURES_LINE]
    assert TEAM_FIGURES_LINE.startswith("Taking Cursor's own figures")


def test_the_fetch_takes_cursors_figures_after_the_months_and_says_so(tmp_path):
    from billing_reports.demo import build_demo
    from billing_reports.settings import Settings

    lines: list[str] = []
    settings = Settings(config_path=tmp_path / "config.yaml", demo_dir=tmp_path / "demo")
    result = build_demo(settings, reporter=LogReporter(lines.append), grain="cycle")
    assert lines.count(TEAM_FIGURES_LINE) == 1
    assert lines.index(TEAM_FIGURES_LINE) > max(i for i, line in enumerate(lines) if "on-demand event" in line)
    # and the demo's cycles come from the snapshot that fetch kept (no billing.cycle_start): from the 17th
    assert result.usage.range.cycle_start is not None
    assert all(p.full_first_day == cycle_containing(p.first_day, parse_day("2026-11-17")).first_day
               for p in result.usage.periods())
