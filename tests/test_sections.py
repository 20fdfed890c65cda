"""Every figure of every built-in section, computed by hand from tests/fixtures/analysis/cache.

The cache (micro-cents in brackets):
  2025-11  no file
  2025-12  an empty file
  2026-01  a: opus 110.75c + sonnet 20c; b: opus 55.125c + sonnet 20.5c; (removed user): sonnet 30.33333c;
           c: sonnet 41.1c + 0c, haiku 2c                                   = 279.80833c, 8 requests
  2026-02  b only: opus 100c + sonnet 10c                                   = 110c, 2 requests
  2026-03  incomplete, fetched 2026-03-11 (10 of 31 days): a sonnet 15c, c sonnet 15c (a tie) = 30c
Per user: b 185.625c (4 req), a 145.75c (3), c 58.1c (4), (removed user) 30.33333c (1); total 419.80833c.
top_spenders_count = 2; the expensive model is the 1 costliest per request: opus (265.875c / 3).
Displayed money is each amount rounded half up to the cent on its own (never apportioned).
"""

from __future__ import annotations

import pytest

from billing_reports.analysis import run_sections
from billing_reports.plugin_manager import get_plugin_manager
from billing_reports.sections import format_value


@pytest.fixture
def sections(analysis_usage, analysis_settings):
    found, failures = run_sections(get_plugin_manager(load_entry_points=False), analysis_usage, analysis_settings)
    assert failures == []
    return {section.slug: section for section in found}


def shown(table):
    """Rows and total as shown (money as dollar strings, each rounded to the cent on its own; a price
    per request as the site shows it, ``$0.4641``)."""
    rows, total = table.display_rows()
    kinds = [column.kind for column in table.columns]

    def text(value, kind):
        if value is None:
            return None
        if kind in ("money", "change"):
            return f"{value / 100:.2f}"
        return format_value(value, kind) if kind == "unit_price" else str(value)

    return [[text(value, kind) for value, kind in zip(row, kinds)]
            for row in (rows if total is None else [*rows, total])]


def test_built_in_slugs_in_order(sections):
    assert list(sections) == [
        "summary", "top-cost-users", "users-x-expensive-models", "top-cost-models", "model-economics",
        "monthly-trend", "change-explained", "daily", "monthly-model-breakdown", "monthly-user-breakdown",
        "reconciliation", "chargeback",
    ]
    assert [s.order for s in sections.values()] == [0, 10, 20, 30, 35, 40, 42, 45, 50, 60, 70, 75]


def test_summary_cards(sections):
    figures = [(f.label, f.display(), f.note) for f in sections["summary"].figures]
    assert figures == [
        ("Total on-demand spend", "$4.20", "November 2025 – March 2026"),
        # the range ends before this month: the card says it is the last month in range
        ("Last month in range", "$0.30", "March 2026, month to date"),
        ("Months analysed", "5", "November 2025 – March 2026 (1 not fetched)"),
        ("Costliest model", "opus", "$2.66 in total"),
        ("Top spender", "b@example.com", "$1.86 in total"),
    ]


def test_top_cost_users(sections):
    section = sections["top-cost-users"]
    assert shown(section.table("ranking")) == [
        # rank, user, spend, share, requests, avg/request (185.625c / 4 = 46.40625c; 145.75c / 3 =
        # 48.583c; 88.43333c / 5 = 17.687c: to a hundredth of a cent), top model by spend (a: opus
        # 110.75c against sonnet 35c), by requests (a: sonnet 2 against opus 1), trend, its change and
        # growth: b 110c in February, nothing in March; a nothing in February, 15c in March to date
        # (Tue 3 Mar) over March's 7 weekdays, weighed with the 28 days before the fetch (11 Feb - 10
        # Mar: 20 weekdays, 8 weekend days; 15c / 20 = 0.75c a weekday, 0 a weekend day) as 7 more
        # weekdays: (15c + 7 x 0.75c) / 14 a weekday; 11-31 Mar left: 15 weekdays, so 15c + 15 x
        # 20.25c / 14 = 36.70c, +$0.37 from nothing (the flat run rate said 46.5c)
        ["1", "b@example.com", "1.86", "44.2", "4", "$0.4641", "opus", "opus", "stopped", "-1.10", "-100.0"],
        ["2", "a@example.com", "1.46", "34.7", "3", "$0.4858", "opus", "sonnet", "new", "0.37", None],
        [None, "Other (2 users)", "0.88", "21.1", "5", "$0.1769", None, None, "", None, None],
        [None, "Total", "4.20", "100.0", "12", None, None, None, None, None, None],
    ]
    assert "(March 2026 at its projected month-end against February 2026)" in section.table("ranking").description
    # November 2025 has no cache file: unknown (blank), never $0.00
    assert shown(section.table("per-month")) == [
        ["b@example.com", None, "0.00", "0.76", "1.10", "0.00", "1.86"],
        ["a@example.com", None, "0.00", "1.31", "0.00", "0.15", "1.46"],
        ["Other (2 users)", None, "0.00", "0.73", "0.00", "0.15", "0.88"],
        ["Total", None, "0.00", "2.80", "1.10", "0.30", "4.20"],
    ]
    assert section.table("per-month").columns[1].label == "Nov 2025 (not fetched)"
    bar, line = section.charts
    assert (bar.kind, list(bar.labels), list(bar.series[0].values)) == (
        "bar", ["b@example.com", "a@example.com"], [185_625_000, 145_750_000])
    assert line.kind == "line" and list(line.labels) == ["2025-11", "2025-12", "2026-01", "2026-02", "2026-03"]
    assert list(line.series[1].values) == [None, 0, 130_750_000, 0, 15_000_000]  # a gap for November


def test_users_x_expensive_models(sections):
    section = sections["users-x-expensive-models"]
    assert [(f.label, f.display(), f.note) for f in section.figures][1] == (
        "Spend on expensive models", "$2.66", "63.3% of all on-demand spend")
    assert section.figures[0].value == "opus"
    # the card's note is plain text (no Markdown backticks); the intro, rendered as Markdown, sets the key as code
    assert section.figures[0].note == ("the costliest model by average cost per request among models with at "
                                       "least 1 request (plugins.expensive-models in config.yaml)")
    assert "(`plugins.expensive-models` in config.yaml)" in section.intro
    opus = section.table("model-opus")
    assert shown(opus) == [
        ["1", "b@example.com", "1.55", "58.3", "2", "$0.7756"],   # 155.125c / 2 = 77.5625c
        ["2", "a@example.com", "1.11", "41.7", "1", "$1.1075"],
        [None, "Total", "2.66", "100.0", "3", None],
    ]
    assert shown(section.table("cross-reference")) == [
        # user, total, on expensive, on cheaper, share of spend, expensive requests, share of requests, months
        ["1", "b@example.com", "1.86", "1.55", "0.31", "83.6", "2", "50.0", "2 of 2"],
        ["2", "a@example.com", "1.46", "1.11", "0.35", "76.0", "1", "33.3", "1 of 2"],
        [None, "Other (2 users)", "0.88", "0.00", "0.88", "0.0", "0", "0.0", ""],
        [None, "Total", "4.20", "2.66", "1.54", "63.3", "3", "25.0", None],
    ]


def test_top_cost_models(sections):
    section = sections["top-cost-models"]
    assert shown(section.table("ranking")) == [
        # model, spend, share, requests, avg, in, out, cache write, cache read, tokens, users
        ["1", "opus", "2.66", "63.3", "3", "$0.8863", "25", "35", "45", "55", "160", "2"],  # 88.625c
        ["2", "sonnet", "1.52", "36.2", "8", "$0.1899", "8", "9", "10", "11", "38", "4"],  # 151.93333c / 8
        ["3", "haiku", "0.02", "0.5", "1", "$0.0200", "1", "0", "0", "0", "1", "1"],
        [None, "Total", "4.20", "100.0", "12", None, "34", "44", "55", "66", "199", "4"],
    ]
    assert shown(section.table("per-month")) == [
        ["opus", None, "0.00", "1.66", "1.00", "0.00", "2.66"],
        ["sonnet", None, "0.00", "1.12", "0.10", "0.30", "1.52"],
        ["haiku", None, "0.00", "0.02", "0.00", "0.00", "0.02"],
        ["Total", None, "0.00", "2.80", "1.10", "0.30", "4.20"],
    ]
    assert [c.kind for c in section.charts] == ["bar", "line"]


def test_monthly_trend_with_a_projected_incomplete_month(sections):
    section = sections["monthly-trend"]
    assert shown(section.table("months")) == [
        # month, spend, change, growth, requests, status, projected month end, change at the projection
        ["2025-11", None, None, None, None, "not fetched", None, None],  # unknown, never $0
        ["2025-12", "0.00", None, None, "0", "complete", None, None],    # no change from a month not fetched
        ["2026-01", "2.80", "2.80", None, "8", "complete", None, None],  # no growth from nothing
        ["2026-02", "1.10", "-1.70", "-60.7", "2", "complete", None, None],
        # 30c to date (Mon 2 and Tue 3 Mar) over March's 7 weekdays; the 28 days before the fetch (11
        # Feb - 10 Mar) hold 20 weekdays (30c: 1.5c a weekday) and 8 weekend days (nothing: a weekend
        # day is 0 weekdays), weighed as 7 more weekdays: (30c + 7 x 1.5c) / 14 a weekday; 11-31 Mar
        # left: 15 weekdays and 6 weekend days, so 30c + 15 x 40.5c / 14 = 73.39c (the flat run rate
        # said 93c); only the column that says so compares that projection with February: -36.61c
        ["2026-03", "0.30", None, None, "2", "month to date", "0.73", "-0.37"],
        ["Total", "4.20", None, None, "12", None, None, None],
    ]
    assert [column.label for column in section.table("months").columns][2:] == [
        "Change from the month before", "Growth", "Requests", "Status", "Projected month end",
        "Change at the projection"]
    assert [(f.label, f.display()) for f in section.figures] == [
        ("Average per month", "$1.30"),          # (0 + 279.80833 + 110)c / 3 complete months = 129.94c
        ("Projected March 2026", "$0.73"),
    ]
    chart = section.charts[0]
    assert [s.name for s in chart.series] == ["Spend", "Projected month end"]
    assert list(chart.series[0].values) == [None, 0, 279_808_330, 110_000_000, 30_000_000]
    assert list(chart.series[1].values) == [None, None, None, None, 73_392_857]


def test_monthly_model_breakdown(sections):
    section = sections["monthly-model-breakdown"]
    assert [t.slug for t in section.tables] == ["2026-03", "2026-02", "2026-01", "2025-12", "2025-11"]
    assert shown(section.table("2026-01")) == [
        # model, input, output, cache write, cache read, tokens, requests, cost
        ["opus", "15", "25", "35", "45", "120", "2", "1.66"],
        ["sonnet", "4", "5", "6", "7", "22", "5", "1.12"],
        ["haiku", "1", "0", "0", "0", "1", "1", "0.02"],
        ["Total", "20", "30", "41", "52", "143", "8", "2.80"],
    ]
    assert shown(section.table("2026-02")) == [
        ["opus", "10", "10", "10", "10", "40", "1", "1.00"],
        ["sonnet", "2", "2", "2", "2", "8", "1", "0.10"],
        ["Total", "12", "12", "12", "12", "48", "2", "1.10"],
    ]
    assert shown(section.table("2026-03")) == [
        ["sonnet", "2", "2", "2", "2", "8", "2", "0.30"],
        ["Total", "2", "2", "2", "2", "8", "2", "0.30"],
    ]
    assert shown(section.table("2025-12")) == [["Total", "0", "0", "0", "0", "0", "0", "0.00"]]
    assert section.table("2025-12").description == "No on-demand usage this month."
    assert section.table("2025-11").description.startswith("Not fetched yet")
    assert section.table("2025-11").total is None and shown(section.table("2025-11")) == []  # no $0.00 total
    assert section.table("2026-03").description.startswith("Month to date")
    # the chart: a column per month, a segment per model, adding up to the month's total exactly
    (chart,) = section.charts
    assert (chart.kind, list(chart.labels)) == ("stacked", ["2025-11", "2025-12", "2026-01", "2026-02", "2026-03"])
    assert {s.name: list(s.values) for s in chart.series} == {
        "opus": [None, 0, 165_875_000, 100_000_000, 0],          # November not fetched: no column, never $0
        "sonnet": [None, 0, 111_933_330, 10_000_000, 30_000_000],
        "haiku": [None, 0, 2_000_000, 0, 0],
    }


def test_the_stacked_chart_sums_the_models_past_its_segments_into_other(analysis_usage, monkeypatch):
    from billing_reports.builtin_plugins import monthly_model_breakdown as plugin
    from billing_reports.site.charts import chart_rows, stacked_totals

    monkeypatch.setattr(plugin, "CHART_MODELS", 1)
    chart = plugin.spend_by_model_chart(analysis_usage)
    assert [s.name for s in chart.series] == ["opus", "Other (2 models)"]
    assert list(chart.series[1].values) == [None, 0, 113_933_330, 10_000_000, 30_000_000]
    months = analysis_usage.months
    assert stacked_totals(chart) == [None] + [analysis_usage.month_total(m).cost for m in months[1:]]
    # the data table beside the chart reads each month's total as the month's table does
    section = plugin.monthly_model_breakdown_section(analysis_usage)
    totals = {t.slug: format_value(t.total[-1], "money") for t in section.tables if t.total is not None}
    assert [row[-1] for row in chart_rows(chart)[1]] == ["—", totals["2025-12"], totals["2026-01"],
                                                          totals["2026-02"], totals["2026-03"]]
    assert totals["2026-01"] == "$2.80"


def test_monthly_user_breakdown(sections):
    section = sections["monthly-user-breakdown"]
    assert shown(section.table("2026-01")) == [
        # rank, user, cost, share, requests, top model by spend, by requests (opus wins the 1-1 tie on cost)
        ["1", "a@example.com", "1.31", "46.7", "2", "opus", "opus"],
        ["2", "b@example.com", "0.76", "27.0", "2", "opus", "opus"],
        [None, "Other (2 users)", "0.73", "26.2", "4", None, None],
        [None, "Total", "2.80", "100.0", "8", None, None],
    ]
    # a month with one user
    assert shown(section.table("2026-02")) == [
        ["1", "b@example.com", "1.10", "100.0", "2", "opus", "opus"],
        [None, "Total", "1.10", "100.0", "2", None, None],
    ]
    # a tie: 15c each, ranked by name
    assert shown(section.table("2026-03")) == [
        ["1", "a@example.com", "0.15", "50.0", "1", "sonnet", "sonnet"],
        ["2", "c@example.com", "0.15", "50.0", "1", "sonnet", "sonnet"],
        [None, "Total", "0.30", "100.0", "2", None, None],
    ]
    assert shown(section.table("2025-12")) == [[None, "Total", "0.00", None, "0", None, None]]


def test_every_section_is_json_and_every_table_csv(sections):
    import orjson

    for section in sections.values():
        orjson.dumps(section.to_dict(), default=str)
        for table in section.tables:
            headings = [f"{c.label} (USD)" if c.kind in ("money", "change", "unit_price") else c.label
                        for c in (table.full or table).columns]
            assert table.to_csv().splitlines()[0] == ",".join(headings)


def test_expensive_models_by_rule_and_by_name(analysis_usage):
    from billing_reports.builtin_plugins.users_x_expensive_models import (
        ExpensiveModelRule, expensive_models, users_x_expensive_models_section)

    # cost per request: opus 88.625c (3 requests), sonnet 18.99c (8), haiku 2c (1)
    assert expensive_models(analysis_usage, ExpensiveModelRule(count=3)) == ["opus", "sonnet", "haiku"]
    assert expensive_models(analysis_usage, ExpensiveModelRule(count=3, min_requests=2)) == ["opus", "sonnet"]
    assert expensive_models(analysis_usage, ExpensiveModelRule(count=1, min_requests=9)) == []
    named = users_x_expensive_models_section(analysis_usage, ExpensiveModelRule(models=("haiku", "HAIKU")), 2)
    assert [t.slug for t in named.tables] == ["model-haiku", "model-haiku-2", "cross-reference", "matrix"]
    # a named model nobody used: an empty table that still has its (zero) total
    assert shown(named.tables[1]) == [[None, "Total", "0.00", None, "0", None]]
    assert shown(named.table("cross-reference"))[0] == [
        "1", "c@example.com", "0.58", "0.02", "0.56", "3.4", "1", "25.0", "1 of 2"]


def test_how_the_expensive_models_were_chosen_reads_in_the_singular_and_the_plural():
    from billing_reports.builtin_plugins.users_x_expensive_models import ExpensiveModelRule, how_chosen

    assert how_chosen(ExpensiveModelRule(count=1, min_requests=1)).startswith(
        "the costliest model by average cost per request among models with at least 1 request (")
    assert how_chosen(ExpensiveModelRule(count=2, min_requests=2)) == (
        "the 2 costliest by average cost per request among models with at least 2 requests "
        "(plugins.expensive-models in config.yaml)")
    assert how_chosen(ExpensiveModelRule(models=("opus",)), code="`") == (
        "named in `plugins.expensive-models.models` (config.yaml)")


def test_the_matrix_of_spend_per_user_and_model(sections, analysis_usage):
    import csv
    import io

    matrix = sections["users-x-expensive-models"].table("matrix")
    assert [c.label for c in matrix.columns] == ["User", "opus", "sonnet", "haiku", "Total"]
    assert shown(matrix) == [
        # b: opus 55.125c + 100c, sonnet 20.5c + 10c; a: opus 110.75c, sonnet 20c + 15c;
        # the other two: c sonnet 41.1c + 15c, haiku 2c; (removed user) sonnet 30.33333c
        ["b@example.com", "1.55", "0.31", "0.00", "1.86"],
        ["a@example.com", "1.11", "0.35", "0.00", "1.46"],
        ["Other (2 users)", "0.00", "0.86", "0.02", "0.88"],
        ["Total", "2.66", "1.52", "0.02", "4.20"],
    ]
    # every row's cells add up to its total exactly (micro-cents), and the columns to the total row
    for row in [*matrix.rows, matrix.total]:
        assert sum(row[1:-1]) == row[-1]
    assert [sum(row[i] for row in matrix.rows) for i in range(1, 5)] == list(matrix.total[1:])
    # the download holds every user (the shown table only the top 2)
    lines = list(csv.reader(io.StringIO(matrix.to_csv())))
    assert lines[0] == ["User", "opus (USD)", "sonnet (USD)", "haiku (USD)", "Total (USD)"]
    assert lines[3:] == [
        ["c@example.com", "0.00000000", "0.56100000", "0.02000000", "0.58100000"],
        ["(removed user)", "0.00000000", "0.30333330", "0.00000000", "0.30333330"],
        ["Total", "2.65875000", "1.51933330", "0.02000000", "4.19808330"],
    ]
    assert sections["users-x-expensive-models"].to_dict()["tables"][-1]["rows"][3]["user"] == "(removed user)"


def test_the_matrix_sums_the_models_past_its_columns_into_other_models(analysis_usage, monkeypatch):
    from billing_reports.builtin_plugins import users_x_expensive_models as plugin

    monkeypatch.setattr(plugin, "MATRIX_MODELS", 1)
    matrix = plugin.spend_matrix(analysis_usage, limit=10)
    assert [c.label for c in matrix.columns] == ["User", "opus", "Other (2 models)", "Total"]
    assert [row[:-1] for row in matrix.rows] == [
        ["b@example.com", 155_125_000, 30_500_000],
        ["a@example.com", 110_750_000, 35_000_000],
        ["c@example.com", 0, 58_100_000],
        ["(removed user)", 0, 30_333_330],
    ]
    assert all(sum(row[1:-1]) == row[-1] == analysis_usage.user_total(row[0]).cost for row in matrix.rows)
    assert matrix.total == ["Total", 265_875_000, 153_933_330, 419_808_330]
    assert "Shown: the top 4 users and 1 model, the rest summed" in matrix.description
    assert [c.label for c in matrix.full.columns] == ["User", "opus", "sonnet", "haiku", "Total"]
    monkeypatch.setattr(plugin, "MATRIX_MODELS", 3)
    assert plugin.spend_matrix(analysis_usage, limit=10).full is None  # nothing cut: the table is whole


def test_trend_signal(analysis_usage):
    from billing_reports.builtin_plugins._common import trend_signal
    from billing_reports.months import Month

    feb, mar = Month(2026, 2), Month(2026, 3)
    # March is incomplete (10 of 31 days): it is compared at 3.1 times its month to date
    assert trend_signal(analysis_usage, {feb: 31_000_000, mar: 10_000_000}) == "steady"   # 31c vs 31c
    assert trend_signal(analysis_usage, {feb: 28_200_000, mar: 10_000_000}) == "steady"   # 31 <= 28.2 * 1.1
    assert trend_signal(analysis_usage, {feb: 28_100_000, mar: 10_000_000}) == "rising"   # 31 > 28.1 * 1.1
    assert trend_signal(analysis_usage, {feb: 34_400_000, mar: 10_000_000}) == "steady"   # 31 >= 34.4 * 0.9
    assert trend_signal(analysis_usage, {feb: 34_500_000, mar: 10_000_000}) == "falling"  # 31 < 34.5 * 0.9
    assert trend_signal(analysis_usage, {feb: 0, mar: 10_000_000}) == "new"
    assert trend_signal(analysis_usage, {feb: 10_000_000, mar: 0}) == "stopped"
    assert trend_signal(analysis_usage, {}) == ""


def test_a_trend_says_by_how_much(analysis_usage):
    from billing_reports.builtin_plugins._common import Trend, trend_of
    from billing_reports.months import Month

    feb, mar = Month(2026, 2), Month(2026, 3)
    # March at its run rate: 10c to date over 10 of 31 days = 31c; 31c - 28.1c = +2.9c, 2.9 / 28.1 = +10.3 %
    assert trend_of(analysis_usage, {feb: 28_100_000, mar: 10_000_000}) == Trend("rising", 2_900_000, 10.3)
    assert trend_of(analysis_usage, {feb: 34_500_000, mar: 10_000_000}) == Trend("falling", -3_500_000, -10.1)
    assert trend_of(analysis_usage, {feb: 0, mar: 10_000_000}) == Trend("new", 31_000_000, None)  # from nothing
    assert trend_of(analysis_usage, {feb: 10_000_000, mar: 0}) == Trend("stopped", -10_000_000, -100.0)
    assert trend_of(analysis_usage, {}) == Trend("", None, None)


def test_months_not_fetched_are_no_evidence_of_a_fall(analysis_settings):
    from billing_reports.builtin_plugins._common import trend_signal
    from billing_reports.builtin_plugins.monthly_trend import monthly_trend_section
    from billing_reports.loader import load_usage
    from billing_reports.months import Month, months_in_range

    # January to April 2026: April has no cache file
    usage = load_usage(analysis_settings, months_in_range(Month(2026, 4), 4))
    assert trend_signal(usage, usage.user_cost_by_month("b@example.com")) == "stopped"  # Feb 110c, Mar 0c
    rows = shown(monthly_trend_section(usage).table("months"))
    assert rows[3] == ["2026-04", None, None, None, None, "not fetched", None, None]  # unknown, not $0
    one_fetched = load_usage(analysis_settings, [Month(2025, 12), Month(2026, 5)])  # May has no file
    assert trend_signal(one_fetched, one_fetched.user_cost_by_month("a@example.com")) == ""


def test_rows_are_never_nudged_and_a_footnote_says_when_they_do_not_add_up():
    from decimal import Decimal

    from billing_reports.sections import ROUNDED_SEPARATELY, Column, Table
    from billing_reports.terminal import render_table

    # 0.4 + 0.4 + 0.7 cents = 1.5 cents: shown 0, 0 and 1 cent, the total 2 cents
    table = Table("t", "T", [Column("user", "User", "user"), Column("spend", "Spend", "money")],
                  [["a", 400_000], ["b", 400_000], ["c", 700_000]], total=["Total", 1_500_000])
    assert table.display_rows() == ([["a", 0], ["b", 0], ["c", 1]], ["Total", 2])
    assert table.rounded_separately()
    assert render_table(table).splitlines()[-1] == ROUNDED_SEPARATELY
    # the download carries exact amounts: a spreadsheet's SUM is the total, to the micro-cent
    lines = [line.split(",") for line in table.to_csv().splitlines()]
    assert lines[0] == ["User", "Spend (USD)"]
    assert sum(Decimal(amount) for _, amount in lines[1:-1]) == Decimal(lines[-1][1]) == Decimal("0.015")

    adding_up = Table("t", "T", table.columns, [["a", 1_000_000], ["b", 2_000_000]], total=["Total", 3_000_000])
    assert not adding_up.rounded_separately()
    assert ROUNDED_SEPARATELY not in render_table(adding_up)


# --- negative rows, and text from outside (issue 11) ------------------------------------------


def test_negative_rows_are_each_rounded_on_their_own_and_the_footnote_tells():
    from billing_reports.sections import ROUNDED_SEPARATELY, Column, Table
    from billing_reports.terminal import render_table

    # credits: -0.4, -0.4 and -0.7 cents are shown -$0.00, -$0.00 and -$0.01; their total -1.5 cents -$0.02
    columns = [Column("user", "User", "user"), Column("spend", "Spend", "money"), Column("change", "Change", "change")]
    table = Table("t", "T", columns, [["a", -400_000, -400_000], ["b", -400_000, 2_500_000], ["c", -700_000, -500_000]],
                  total=["Total", -1_500_000, 1_600_000])
    assert table.display_rows() == ([["a", 0, 0], ["b", 0, 3], ["c", -1, -1]], ["Total", -2, 2])
    assert table.rounded_separately()
    assert render_table(table).splitlines() == [
        "User    Spend  Change",
        "-----  ------  ------",
        "a       $0.00   $0.00",
        "b       $0.00  +$0.03",
        "c      -$0.01  -$0.01",
        "-----  ------  ------",
        "Total  -$0.02  +$0.02",
        ROUNDED_SEPARATELY,
    ]
    # downloads: the exact amounts, with their sign, never quoted as formulas
    assert table.to_csv().splitlines()[1:] == ["a,-0.00400000,-0.00400000", "b,-0.00400000,0.02500000",
                                               "c,-0.00700000,-0.00500000", "Total,-0.01500000,0.01600000"]
    # rows and total of opposite signs that add up once rounded: no footnote
    mixed = Table("t", "T", columns[:2], [["a", 1_500_000], ["b", -500_000]], total=["Total", 1_000_000])
    assert mixed.display_rows() == ([["a", 2], ["b", -1]], ["Total", 1]) and not mixed.rounded_separately()


def test_csv_text_cells_that_would_start_a_formula_are_quoted_numbers_and_json_are_not():
    import csv
    import io

    import orjson

    from billing_reports.sections import Column, Table

    names = ["=HYPERLINK(\"http://evil\",\"x\")", "+1", "-2+3", "@SUM(A1)", "\tx", "\rx", "ann@example.com", "a=b"]
    table = Table("t", "T", [Column("user", "User", "user"), Column("model", "=cmd|' /C calc'!A0", "model"),
                             Column("spend", "Spend", "money"), Column("requests", "Requests", "count"),
                             Column("growth", "Growth", "growth")],
                  [[name, "-model", -500_000, -3, -1.5] for name in names])
    rows = list(csv.reader(io.StringIO(table.to_csv(), newline="")))
    assert rows[0] == ["User", "'=cmd|' /C calc'!A0", "Spend (USD)", "Requests", "Growth"]
    assert [row[0] for row in rows[1:]] == [
        "'=HYPERLINK(\"http://evil\",\"x\")", "'+1", "'-2+3", "'@SUM(A1)", "'\tx", "'\nx", "ann@example.com", "a=b"]
    assert rows[1][1:] == ["'-model", "-0.00500000", "-3", "-1.5"]  # money and numbers stay numbers
    assert [row["user"] for row in orjson.loads(table.to_json())] == names  # JSON: the names as sent


def test_the_terminal_shows_no_escape_sequence_and_a_line_break_fakes_no_row():
    from billing_reports.sections import Column, Figure, Section, Table
    from billing_reports.terminal import render_section

    hostile = "mallory\x1b[2J\x1b]0;pwned\x07@example.com\n1  ceo@example.com  $0.00"
    table = Table("ranking", "Users \x1b[31mby spend", [Column("user", "User", "user"),
                                                       Column("spend", "Spend", "money")],
                  [[hostile, 1_000_000], ["bob@example.com", 2_000_000]])
    text = render_section(Section("s", "Summary\x1b[5m", 0, figures=[Figure("Top spender", hostile, "user")],
                                  tables=[table]))
    assert "\x1b" not in text and "\x07" not in text
    shown = "mallory@example.com 1  ceo@example.com  $0.00"  # the line break is a space: still one row
    assert text.splitlines() == [
        "Summary",
        "=======",
        f"Top spender: {shown}",
        "",
        "Users by spend",
        "User                                           Spend",
        "---------------------------------------------  -----",
        f"{shown}  $0.01",
        "bob@example.com                                $0.02",
    ]
