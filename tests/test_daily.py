"""Day-level detail: the Daily page's tables and chart, daily charts, on the hand-computed cache.

See tests/test_report_range.py for the cache's events by day. November 2025 has no file; March
2026 was fetched at 00:00 on 11 March, so 11 March is in progress and later days had not begun.
"""

from __future__ import annotations

import xml.etree.ElementTree as ET

from billing_reports.builtin_plugins.daily_spend import daily_section
from billing_reports.sections import Chart, Series
from billing_reports.site.charts import render_chart

SVG = "{http://www.w3.org/2000/svg}"


def test_every_day_that_had_begun_with_its_spend(analysis_usage):
    section = daily_section(analysis_usage, 2)
    days = section.table("days")
    # 30 + 31 + 31 + 28 days, and 1-11 March (the later days had not begun when March was fetched)
    assert len(days.rows) == 131
    by_day = {row[0]: row for row in days.rows}
    assert by_day["2025-11-01"] == ["2025-11-01", None, None, None, "not fetched"]  # unknown, not $0
    assert by_day["2026-01-01"] == ["2026-01-01", 110_750_000, 1, "opus", ""]
    assert by_day["2026-01-08"] == ["2026-01-08", 0, 1, "sonnet", ""]  # a zero-cost request
    assert by_day["2026-01-31"] == ["2026-01-31", 55_125_000, 1, "opus", ""]  # its last millisecond
    assert by_day["2026-03-10"][4] == "" and by_day["2026-03-11"] == ["2026-03-11", 0, 0, None, "in progress"]
    assert days.total == ["Total", 419_808_330, 12, None, None]
    assert sum(row[1] or 0 for row in days.rows) == days.total[1]


def test_the_biggest_user_days_name_their_top_model(analysis_usage):
    spikes = daily_section(analysis_usage, 2).table("user-days")
    assert spikes.rows == [
        [1, "a@example.com", "2026-01-01", 110_750_000, 1, "opus"],
        [2, "b@example.com", "2026-02-01", 100_000_000, 1, "opus"],
    ]


def test_the_daily_chart_leaves_days_not_fetched_blank(analysis_usage):
    chart = daily_section(analysis_usage, 2).charts[0]
    assert chart.kind == "daily" and len(chart.labels) == 131
    values = dict(zip(chart.labels, chart.series[0].values))
    assert values["2025-11-30"] is None and values["2025-12-01"] == 0 and values["2026-01-04"] == 30_333_330


def test_a_daily_chart_tells_weekends_and_days_in_progress_apart():
    # Fri 27, Sat 28, Sun 29 (not fetched), Mon 30 Nov 2026 (in progress)
    chart = Chart("d", "Daily", "d", "daily", ["2026-11-27", "2026-11-28", "2026-11-29", "2026-11-30"],
                  [Series("Spend", [100_000_000, 50_000_000, None, 10_000_000])])
    svg = ET.fromstring(str(render_chart(chart, id_prefix="c", incomplete={"2026-11-30"})))
    bars = [(group.find(f"{SVG}title").text, group.find(f"{SVG}rect").get("class"))
            for group in svg.iter(f"{SVG}g")]
    assert bars == [
        ("Fri 27 Nov 2026: $1.00", "day-bar s0"),
        ("Sat 28 Nov 2026: $0.50 (weekend)", "day-bar s0 weekend"),
        ("Sun 29 Nov 2026: not fetched", "missing"),
        ("Mon 30 Nov 2026: $0.10 (in progress: the day was not over when fetched)", "day-bar s0 partial"),
    ]


def test_a_compact_daily_chart_draws_one_path_per_shade_and_lists_only_days_with_spend():
    from billing_reports.site.views import CellRenderer, SiteMap, chart_view
    from billing_reports.site.names import PageNames

    chart = Chart("d", "Daily", "d", "daily", ["2026-11-27", "2026-11-28", "2026-11-29", "2026-11-30"],
                  [Series("Spend", [100_000_000, 0, None, 10_000_000])])
    svg = ET.fromstring(str(render_chart(chart, id_prefix="c", incomplete={"2026-11-30"}, compact=True)))
    paths = {path.get("class"): path.get("d").count("M") for path in svg.iter(f"{SVG}path")}
    # Friday, the quiet Saturday (a sliver), the day not fetched, Monday in progress
    assert paths == {"day-bar s0": 1, "day-bar s0 weekend": 1, "missing": 1, "day-bar s0 partial": 1}
    assert not list(svg.iter(f"{SVG}g"))  # no tooltip group per day
    site = SiteMap(index="i.html", users=PageNames([], fallback="user"), models=PageNames([], fallback="model"),
                   partial_days=frozenset({"2026-11-30"}))
    view = chart_view(chart, CellRenderer(site, ""), chart_id="c", compact=True)
    assert [str(row[0]).split(" <")[0] for row in view.rows] == [
        "Fri 27 Nov 2026", "Sun 29 Nov 2026", "Mon 30 Nov 2026"]  # the quiet Saturday left out
