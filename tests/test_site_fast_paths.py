"""The site's fast paths give exactly what the general ones give.

The thousand user and model pages are rendered through shortcuts (a table column's cells made
by a maker picked once per kind, a compact daily chart's table made only for its days with spend,
what every page shares worked out once): each is checked here against the general way on many
values, hostile and odd ones included.
"""

from __future__ import annotations

import pytest

from billing_reports.cursor_figures import Member
from billing_reports.sections import Chart, Series
from billing_reports.site import drilldown
from billing_reports.site.charts import chart_rows
from billing_reports.site.names import PageNames
from billing_reports.site.views import CellRenderer, SiteMap

from conftest import SITE_NASTY_USER, SITE_PATHLIKE_MODEL, SITE_PATHLIKE_USER

MONEY = [0, 1, -1, 5, 99, 100, -100, 101, -150, 123_456, -123_456, 10**15, -(10**15), 2**70, -(2**70)]
#: Micro-cents of a price per request: halves, fractions of a hundredth of a cent, huge and negative.
UNIT_PRICES = [0, 1, -1, 49, 50, 5_000, 4_999, 5_001, -5_000, 7_344_999, 7_345_000, 123_456_789_000,
               -123_456_789_000, 10**20, -(10**20)]
COUNTS = [0, 1, -1, 999, 1_000, -1_000, 1_234_567, 2**64, -(2**64)]
PERCENTS = [0.0, -0.0, 0.04, 0.05, 0.06, 12.5, -12.5, 99.95, 100.0, 1e20, -3.14159, float("inf"), float("nan")]
#: Values a plugin's column may hold besides its kind's usual type.
ODD = [None, True, False, 1.5, -0.25, "n/a", "<b>x</b>", "", 0, 2.0]
NAMES = ["ann@example.com", "Ann@Example.com", SITE_NASTY_USER, SITE_PATHLIKE_USER, SITE_PATHLIKE_MODEL,
         "gpt-5", "2026-01", "2026-02", "2026-03", "2026-13", "2026-02-10", "2026-02-11", "not a day",
         "=HYPERLINK(\"x\")", "zoë\u202e@exämple.com", "(removed user)", ""]


@pytest.fixture
def cells() -> CellRenderer:
    users = [SITE_NASTY_USER, "ann@example.com", SITE_PATHLIKE_USER]
    site = SiteMap(
        index="billing_dashboard.html",
        users=PageNames(users, fallback="user"),
        models=PageNames(["gpt-5", SITE_PATHLIKE_MODEL], fallback="model"),
        incomplete=frozenset({"2026-02"}),
        missing=frozenset({"2026-03"}),
        partial_days=frozenset({"2026-02-10"}),
        members={"ann@example.com": Member("ann@example.com", "<img src=x onerror=alert(1)>", "member", removed=True)},
    )
    return CellRenderer(site, "../")


@pytest.mark.parametrize("kind, values", [
    ("money", MONEY), ("change", MONEY), ("unit_price", UNIT_PRICES), ("count", COUNTS), ("percent", PERCENTS),
    ("growth", PERCENTS), ("decimal", PERCENTS), ("text", NAMES), ("user", NAMES), ("model", NAMES),
    ("month", NAMES), ("day", NAMES),
])
def test_a_columns_cells_are_the_general_cells(cells, kind, values):
    made = cells.column_cells(kind)
    for value in [*values, *ODD, *values]:  # twice: the names' cells come from the cache the second time
        expected = _outcome(cells._td, value, kind)
        assert _outcome(made, value) == expected, (kind, value)
        assert _outcome(cells.td, value, kind) == expected, (kind, value)


def _outcome(function, *arguments):
    """What ``function`` returns, or the kind of error it raises (a float in a money column has no
    whole cents either way)."""
    try:
        return function(*arguments)
    except (TypeError, ValueError) as error:
        return type(error)


def test_text_in_any_column_is_escaped(cells):
    # (the shortcuts are taken only for numbers, whose text and repr hold nothing to escape)
    for kind in ("text", "user", "model", "month", "day"):
        cell = cells.column_cells(kind)
        assert "<b>" not in cell("<b>x</b>") and "&lt;b&gt;" in cell("<b>x</b>"), kind
        assert "<b>" not in cell(SITE_NASTY_USER), kind


def _charts() -> list[Chart]:
    days = ["2026-02-08", "2026-02-09", "2026-02-10", "2026-02-11", "2026-02-12"]
    months = ["2026-01", "2026-02", "2026-03", "2026-04"]
    return [
        Chart("d", "Daily", "", "daily", days, [Series("Spend", [5_000_000, 0, None, -1, 2**70])]),
        Chart("d2", "Daily, short series", "", "daily", days, [Series("Spend", [1, 0])]),
        Chart("l", "Line", "", "line", months, [Series("A", [1, None, 3_500_000, 0]), Series("B", [7])]),
        Chart("s", "Stacked", "", "stacked", months,
              [Series("A", [1, None, 3_500_000, -5]), Series("Other", [2, None, 1, 0])]),
        Chart("w", "Waterfall", "", "waterfall", ["Before", "Up", "Down", "Flat", "After"],
              [Series("Change", [1_000_000_000, 500_000_000, -300_000_000, 0, 1_200_000_000])]),
        Chart("p", "Percent", "", "bar", ["x", "y"], [Series("Share", [12.5, None])], unit="percent"),
        Chart("e", "Empty", "", "daily", [], []),
    ]


@pytest.mark.parametrize("chart", _charts(), ids=lambda chart: chart.slug)
def test_a_charts_rows_of_some_labels_are_those_rows_of_the_whole(chart):
    header, rows = chart_rows(chart)
    count = len(chart.labels)
    for indices in ([], list(range(count)), list(range(0, count, 2)), list(range(count))[::-1], [count - 1] * 2):
        indices = [index for index in indices if 0 <= index < count]
        assert chart_rows(chart, indices) == (header, [rows[index] for index in indices]), indices


def test_the_page_frame_is_what_the_usage_says(site_usage):
    days = site_usage.days  # a month not fetched (March) among them
    frame = drilldown.PageFrame.of(site_usage, days)
    assert frame.unfetched  # (the test covers a day not fetched)
    assert frame.period_label == site_usage.period_label
    assert frame.cached == [site_usage.facts(month).cached for month in site_usage.months]
    assert frame.day_labels == [drilldown.date_of_day(day).isoformat() for day in days]
    for user in ["ann@example.com", SITE_NASTY_USER, "nobody"]:
        costs = site_usage.user_cost_by_day(user)
        assert frame.daily_costs(costs) == site_usage.daily_costs(days, costs)
    assert drilldown.PageFrame.of(site_usage).days == site_usage.chart_days(drilldown.DAILY_CHART_DAYS)


def test_the_ready_made_navigation_is_the_one_each_page_would_include(site_settings, site_usage, site_sections):
    from dataclasses import replace
    from datetime import datetime, timezone

    from markupsafe import Markup

    from billing_reports.site.environment import template_environment
    from billing_reports.site.render import SiteRenderer

    renderer = SiteRenderer(template_environment(), site_settings, site_usage,
                            built_at=datetime(2026, 3, 1, tzinfo=timezone.utc))
    for sections in (site_sections, site_sections[1:]):  # the navigation changes with the plugins' results
        renderer.add_results(sections)
        for path, current in (("users/ann.html", "users"), ("models/gpt-5.html", "models"), ("about.html", "about")):
            root = "../" * path.count("/")
            included = renderer.page_html(path, "section.html", current, title="T", intro="", figures=[], charts=[], tables=[])
            ready = renderer.page_html(path, "section.html", current, site=renderer.site_with_nav(root, current),
                                       title="T", intro="", figures=[], charts=[], tables=[])
            assert ready == included
            assert f'<a href="{root}{current}.html" aria-current="page">' in ready
        assert ("Top cost users" in ready) == (len(sections) == 2)
    # while the navigation is not known, the marker stands for it
    renderer.info = replace(renderer.info, nav_marker=Markup("<!-- marker -->"))
    assert renderer.site_with_nav("../", "users") is renderer.info


def test_a_nav_html_of_ones_own_is_still_included_on_each_page(site_settings, site_usage, site_sections, tmp_path):
    # it may read anything of the page's (here its path), which a navigation rendered once has not
    from dataclasses import replace
    from datetime import datetime, timezone

    from billing_reports.site.environment import template_environment
    from billing_reports.site.render import SiteRenderer

    templates = tmp_path / "templates"
    templates.mkdir()
    (templates / "_nav.html").write_text('<li><a href="{{ root }}users.html">{{ page_path }}</a></li>\n')
    settings = replace(site_settings, templates_dir=templates)
    renderer = SiteRenderer(template_environment(templates), settings, site_usage,
                            built_at=datetime(2026, 3, 1, tzinfo=timezone.utc))
    renderer.add_results(site_sections)
    assert renderer.site_with_nav("../", "users") is renderer.info
    page = renderer.page_html("users/ann.html", "section.html", "users", site=renderer.site_with_nav("../", "users"),
                              title="T", intro="", figures=[], charts=[], tables=[])
    assert '<a href="../users.html">users/ann.html</a>' in page


def _reference_export_rows(table):
    """Table.export_rows as it was written first (each cell through one conditional)."""
    from billing_reports.money import exact_dollars
    from billing_reports.sections import MONEY_KINDS

    keys = [key for key, _ in table.export_columns()]
    money = [column.kind in MONEY_KINDS for column in table.columns]
    lines = table.rows if table.total is None else [*table.rows, table.total]
    return [dict(zip(keys, [exact_dollars(value) if is_money and value is not None else value
                            for is_money, value in zip(money, line)])) for line in lines]


def _reference_csv(table):
    import csv
    import io

    from billing_reports.sections import MONEY_KINDS, spreadsheet_text

    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow([spreadsheet_text(heading) for _, heading in table.export_columns()])
    text = [column.kind not in MONEY_KINDS for column in table.columns]
    writer.writerows([["" if value is None else spreadsheet_text(value) if is_text and isinstance(value, str) else value
                       for value, is_text in zip(row.values(), text)] for row in _reference_export_rows(table)])
    return buffer.getvalue()


def _odd_tables():
    from billing_reports.sections import Column, Table

    columns = [Column("user", "=User", "user"), Column("cost", "Cost", "money"), Column("n", "N", "count"),
               Column("avg", "Avg", "unit_price"), Column("note", "Note"), Column("change", "+Change", "change")]
    rows = [[SITE_NASTY_USER, 1_234_567_891, 3, 411_522_630, "=HYPERLINK(\"x\")", -5_000_000],
            ["ann@example.com", -1, 0, None, "a\rb\r\nc", 0],
            [None, None, None, None, None, None],
            ["+1", 2**70, -(2**64), -1, "@x", 10**15],
            ["short row", 5],                                   # fewer values than columns
            ["long row", 1, 2, 3, "t", 4, "extra", 99_000_000],  # more
            ["-x", 5, 1.5, 2, 3, True]]                          # odd types where a plugin puts them
    same_keys = [Column("a", "A", "money"), Column("a", "A again"), Column("b", "B", "count")]
    return [
        Table("odd", "Odd", columns, rows, total=["Total", 1_234_567_890, 3, None, None, 4]),
        Table("odd-no-total", "Odd", columns, rows[:3]),
        Table("same-keys", "Keys twice", same_keys, [[1_000_000, "=x", 3], [None, None, None], [2, "y"]],
              total=[3, "Total", 3]),
        Table("empty", "Empty", columns, []),
    ]


@pytest.mark.parametrize("table", _odd_tables(), ids=lambda table: table.slug)
def test_a_tables_downloads_are_what_the_first_way_of_writing_them_made(table):
    from billing_reports.sections import json_bytes

    assert table.export_rows() == _reference_export_rows(table)
    csv_text, json_data = table.downloads()
    assert csv_text == _reference_csv(table)
    assert json_data == json_bytes(_reference_export_rows(table))


@pytest.mark.parametrize("unit", ["money", "change", "unit_price", "count", "percent", "growth", "decimal", "text"])
def test_a_charts_value_texts_are_the_general_ones(unit):
    from billing_reports.site.charts import _shown, _shown_as

    numbers = MONEY + UNIT_PRICES + COUNTS + [None] if unit not in ("percent", "growth", "decimal") else PERCENTS + [None]
    shown = _shown_as(unit)
    for value in numbers + [None, True, 0.0, -2.5]:
        assert _outcome(shown, value) == _outcome(_shown, value, unit), (unit, value)


def test_a_compact_daily_chart_is_drawn_as_the_full_one_places_its_days():
    # the x axis worked out once per (days, left margin) puts each day where the full chart puts it
    import re

    from billing_reports.site.charts import render_chart

    days = [f"2026-11-{day:02d}" for day in range(1, 31)]
    for values in ([5_000_000 * (day % 7) for day in range(30)], [None] * 3 + [10**12] * 27, [0] * 30):
        chart = Chart("d", "Daily", "", "daily", days, [Series("Spend", values)])
        full = str(render_chart(chart, id_prefix="c", incomplete={"2026-11-30"}))
        compact = str(render_chart(chart, id_prefix="c", incomplete={"2026-11-30"}, compact=True))
        xs_full = re.findall(r'<rect class="[^"]*" x="([\d.]+)"', full)
        xs_compact = re.findall(r"M([\d.]+) ", compact)
        assert sorted(xs_full, key=float) == sorted(xs_compact, key=float) and len(xs_full) == 30
        assert full.split('<g class="day')[0] == compact.split("<path")[0]  # the same axes and labels
