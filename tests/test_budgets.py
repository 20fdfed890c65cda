"""Budgets and the budget alert rule on the hand-computed cache (tests/fixtures/analysis/cache).

March 2026, fetched at 00:00 on Wed 11 March (incomplete): c spent 15c on Mon 2 March, a 15c on Tue 3
March. The 28 days before the fetch (11 Feb - 10 Mar) hold 20 weekdays and 8 weekend days, with
nothing at the weekends (a weekend day is 0 weekdays). The team's level: March's 30c over its 7
weekdays, weighed with the 28 days' 30c / 20 = 1.5c as 7 more weekdays: (30c + 7 x 1.5c) / 14 =
40.5c / 14 = 2.8929c a weekday; a's and c's (15c + 7 x 0.75c) / 14 = 20.25c / 14 = 1.4464c.
11-31 March leaves 15 weekdays and 6 weekend days: the team is projected at 30c + 15 x 40.5c / 14 =
73.3929c, a and c each at 15c + 15 x 20.25c / 14 = 36.6964c. (The range is over, so the budget month
is March.)
"""

from __future__ import annotations

import pytest

from billing_reports.analysis import run_sections
from billing_reports.plugin_manager import get_plugin_manager
from billing_reports.settings import load_settings
from billing_reports.errors import ConfigError

BUDGETS = """  budgets:
    team_usd: 0.5
    groups_usd: {Platform: 0.25}
    user_default_usd: 0.2
    users_usd: {"a@example.com": 0.1}
  chargeback:
    mapping: groups.csv
"""


@pytest.fixture
def budget_settings(analysis_config):
    (analysis_config.parent / "groups.csv").write_text("email,group\nc@example.com,Platform\n", encoding="utf-8")
    analysis_config.write_text(analysis_config.read_text(encoding="utf-8") + BUDGETS, encoding="utf-8")
    return load_settings(analysis_config)


@pytest.fixture
def budget_usage(budget_settings):
    from billing_reports.loader import load_usage
    from billing_reports.months import Month, months_in_range

    return load_usage(budget_settings, months_in_range(Month(2026, 3), 5))


def alerts_of(usage, settings):
    found = []
    get_plugin_manager(load_entry_points=False).hook.register_alert_rules(
        register=found.append, usage=usage, settings=settings)
    return [alert for alert in found if alert.rule == "budget"]


def test_budget_alerts_with_the_day_each_budget_passed_or_is_projected_to(budget_usage, budget_settings):
    alerts = {alert.key: alert for alert in alerts_of(budget_usage, budget_settings)}
    assert sorted(alerts) == ["budget/group/Platform/2026-03", "budget/team/team/2026-03",
                              "budget/user/a@example.com/2026-03", "budget/user/c@example.com/2026-03"]
    team = alerts["budget/team/team/2026-03"]
    # 73.39c projected against 50c: 30c, then 2.8929c a weekday: 50.25c on the 7th, Thu 19 March
    # the level in steps of 10 % of the budget (146.8 % is 1.4): a few cents more is not sent again
    assert (team.severity, team.subject_kind, team.subject, team.level) == ("warning", "team", "", 1.4)
    assert {f.label: f.value for f in team.figures} == {
        "Budget": 50_000_000, "Spent": 30_000_000, "Projected end": 73_392_857, "Projected of budget": 146.8,
        "Projected to pass on": "2026-03-19"}
    assert team.link == "budgets.html" and team.period == "2026-03"
    # a's own budget, 10c, passed by the 15c of Tue 3 March: critical, at 150 % of it
    a = alerts["budget/user/a@example.com/2026-03"]
    assert (a.severity, a.level, a.figures[-1].label, a.figures[-1].value) == ("critical", 1.5, "Passed on", "2026-03-03")
    # c at the default 20c: 15c + 1.4464c on each of 4 weekdays (11-13, 16 March) = 20.79c on Mon 16
    c = alerts["budget/user/c@example.com/2026-03"]
    assert (c.severity, c.figures[-1].value) == ("warning", "2026-03-16")
    # Platform (c) at 25c: 15c + 7 weekdays x 1.4464c = 25.125c on Thu 19 March
    platform = alerts["budget/group/Platform/2026-03"]
    assert (platform.severity, platform.subject_kind, platform.figures[-1].value) == ("warning", "group", "2026-03-19")


def test_within_budget_no_alert(analysis_config):
    analysis_config.write_text(analysis_config.read_text(encoding="utf-8") + "  budgets:\n    team_usd: 0.74\n",
                               encoding="utf-8")
    settings = load_settings(analysis_config)
    from billing_reports.loader import load_usage
    from billing_reports.months import Month, months_in_range

    usage = load_usage(settings, months_in_range(Month(2026, 3), 5))
    assert alerts_of(usage, settings) == []  # 73.39c projected, 74c budget


def test_the_budgets_section_and_the_trend_read_the_same_projection(budget_usage, budget_settings):
    found, failures = run_sections(get_plugin_manager(load_entry_points=False), budget_usage, budget_settings)
    assert failures == []
    sections = {section.slug: section for section in found}
    budgets = sections["budgets"]
    assert {"summary-cards", "dashboard-preview"} <= set(budgets.roles)
    projected_card = next(f for f in budgets.figures if f.label == "Projected of the team budget")
    assert projected_card.value == 146.8 and projected_card.note.startswith("$0.73, projected to pass on Thu 19 Mar")
    trend = sections["monthly-trend"]
    assert trend.table("months").rows[-1][6] == 73_392_857  # the same 73.39c
    # the trend draws the team's budget per month
    assert list(trend.charts[0].series[-1].values) == [50_000_000] * 5
    people = budgets.table("users")
    assert [row[0] for row in people.rows] == ["a@example.com", "c@example.com"]  # passed first; b spent nothing
    assert [row[4] for row in people.rows] == [36_696_429, 36_696_429]


@pytest.mark.parametrize("block, message", [
    ("    team_usd: -5\n", "plugins.budgets.team_usd"),
    ("    period: week\n", "plugins.budgets.period"),
    ("    users_usd: {a@example.com: abc}\n", "plugins.budgets.users_usd"),
    ("    monthly: 5\n", "monthly"),
])
def test_budgets_are_validated_with_the_rest_of_the_config(analysis_config, block, message):
    analysis_config.write_text(analysis_config.read_text(encoding="utf-8") + "  budgets:\n" + block, encoding="utf-8")
    with pytest.raises(ConfigError) as raised:
        load_settings(analysis_config)
    assert message in str(raised.value)


def test_each_bad_budget_of_a_mapping_is_named_with_every_other_problem(analysis_config):
    analysis_config.write_text(analysis_config.read_text(encoding="utf-8") + "  budgets:\n"
                               "    groups_usd: {Platform: lots, Nope: 10, Data: 0}\n"
                               "    users_usd: {a@example.com: 0.5, b@example.com: abc}\n"
                               "    period: week\n", encoding="utf-8")
    with pytest.raises(ConfigError) as raised:
        load_settings(analysis_config)
    problems = str(raised.value)
    dollars = "a number from 0.01 to 1000000000"
    assert f"plugins.budgets.groups_usd.Platform: expected {dollars}, found 'lots'" in problems
    assert f"plugins.budgets.groups_usd.Data: expected {dollars}, found 0" in problems
    assert f"plugins.budgets.users_usd.b@example.com: expected {dollars}, found 'abc'" in problems
    assert "plugins.budgets.period: expected one of cycle, month, found 'week'" in problems
    assert "Nope" not in problems and "a@example.com" not in problems and "expected a mapping" not in problems


@pytest.mark.parametrize("block", ["    team_usd: 0.000000001\n", "    groups_usd: {Platform: 0.001}\n",
                                   "    user_default_usd: 0.009\n"])
def test_a_budget_under_a_cent_is_refused(analysis_config, block):
    # (a billionth of a dollar was 0 micro-cents, and the projection divided by it)
    analysis_config.write_text(analysis_config.read_text(encoding="utf-8") + "  budgets:\n" + block, encoding="utf-8")
    with pytest.raises(ConfigError) as raised:
        load_settings(analysis_config)
    assert "a number from 0.01 to 1000000000" in str(raised.value)


def test_a_budget_of_a_cent_is_fine(analysis_config):
    from billing_reports.loader import load_usage
    from billing_reports.months import Month, months_in_range

    analysis_config.write_text(analysis_config.read_text(encoding="utf-8") + "  budgets:\n    team_usd: 0.01\n",
                               encoding="utf-8")
    settings = load_settings(analysis_config)
    usage = load_usage(settings, months_in_range(Month(2026, 3), 5))
    found, failures = run_sections(get_plugin_manager(load_entry_points=False), usage, settings)
    assert failures == []
    (team,) = [alert for alert in alerts_of(usage, settings) if alert.subject_kind == "team"]
    assert {f.label: f.value for f in team.figures}["Budget"] == 1_000_000  # a cent in micro-cents
