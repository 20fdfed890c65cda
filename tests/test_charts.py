"""Inline SVG charts: accessible, proportional, escaped, marking incomplete months."""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET

import pytest

from billing_reports.sections import Chart, Series
from billing_reports.site.charts import BAR_LABEL_WIDTH, chart_rows, nice_ticks, render_chart

SVG = "{http://www.w3.org/2000/svg}"
DOLLAR = 100_000_000  # micro-cents


def _svg(chart: Chart, incomplete=()) -> ET.Element:
    return ET.fromstring(str(render_chart(chart, id_prefix="c1", incomplete=incomplete)))


def test_a_bar_chart_has_a_title_a_description_and_proportional_bars():
    chart = Chart("top", "Top users", "Spend per user", "bar", ["ann", "bob", "cy"],
                  [Series("Spend", [200 * DOLLAR, 100 * DOLLAR, 50 * DOLLAR])])
    svg = _svg(chart)
    assert svg.get("role") == "img" and svg.get("aria-labelledby") == "c1-title c1-desc"
    assert svg.find(f"{SVG}title").text == "Top users"
    assert svg.find(f"{SVG}desc").text == "Spend per user"
    widths = [float(rect.get("width")) for rect in svg.iter(f"{SVG}rect")]
    assert widths[0] == pytest.approx(2 * widths[1]) and widths[1] == pytest.approx(2 * widths[2])
    assert all(float(rect.get("x")) == BAR_LABEL_WIDTH for rect in svg.iter(f"{SVG}rect"))
    tooltips = [g.find(f"{SVG}title").text for g in svg.iter(f"{SVG}g")]
    assert tooltips == ["ann: $200.00", "bob: $100.00", "cy: $50.00"]


def test_a_line_chart_draws_one_point_per_month_and_marks_the_incomplete_one():
    chart = Chart("trend", "Trend", "Per month", "line", ["Jan 2026", "Feb 2026", "Mar 2026"],
                  [Series("Total", [100 * DOLLAR, 300 * DOLLAR, 50 * DOLLAR])])
    svg = _svg(chart, incomplete={"Mar 2026"})
    points = list(svg.iter(f"{SVG}circle"))
    ys = [float(p.get("cy")) for p in points]
    assert ys[1] < ys[0] < ys[2]  # higher spend is higher up
    base = max(float(line.get("y1")) for line in svg.iter(f"{SVG}line") if line.get("class") == "grid")
    # $0 is the bottom grid line; $300 reaches the top tick ($300): heights are proportional.
    assert (base - ys[0]) * 3 == pytest.approx(base - ys[1], abs=0.2)
    assert "hollow" in points[2].get("class") and "hollow" not in points[1].get("class")
    assert [p.find(f"{SVG}title").text for p in points][2] == "Total, Mar 2026: $50.00 (incomplete month)"
    labels = [t.text for t in svg.iter(f"{SVG}text") if t.get("y") and "$" not in (t.text or "")]
    assert "Mar 2026*" in labels and "Feb 2026" in labels
    assert any("partial" in (line.get("class") or "") for line in svg.iter(f"{SVG}line"))


def test_a_missing_value_breaks_the_line():
    chart = Chart("t", "T", "d", "line", ["a", "b", "c", "d"], [Series("s", [1 * DOLLAR, None, 2 * DOLLAR, 3 * DOLLAR])])
    svg = _svg(chart)
    assert len(list(svg.iter(f"{SVG}circle"))) == 3
    polylines = [p.get("points").split() for p in svg.iter(f"{SVG}polyline")]
    assert [len(points) for points in polylines] == [2]  # only c-d is a segment; a stands alone


def test_labels_are_escaped():
    chart = Chart("t", "<i>T</i>", "a & b", "bar", ["<b>bob</b>&'x"], [Series("s", [DOLLAR])])
    text = str(render_chart(chart, id_prefix="x"))
    assert "<b>" not in text and "<i>" not in text
    assert "&lt;b&gt;bob&lt;/b&gt;&amp;&#39;x" in text
    ET.fromstring(text)  # still well-formed


def test_several_series_get_a_legend_and_distinct_colours():
    chart = Chart("t", "T", "d", "line", ["a", "b"], [Series(f"user{i}", [i * DOLLAR, DOLLAR]) for i in range(4)])
    svg = _svg(chart)
    legend = [t.text for t in svg.iter(f"{SVG}text") if t.get("class") == "legend"]
    assert legend == ["user0", "user1", "user2", "user3"]
    colours = {re.search(r"s\d", p.get("class")).group() for p in svg.iter(f"{SVG}polyline")}
    assert colours == {"s0", "s1", "s2", "s3"}


def test_an_empty_chart_says_so():
    svg = _svg(Chart("t", "T", "d", "bar", [], [Series("s", [])]))
    assert "No data" in [t.text for t in svg.iter(f"{SVG}text")]


@pytest.mark.parametrize(("top", "expected"), [
    (930, [0, 200, 400, 600, 800, 1000]),
    (100, [0, 20, 40, 60, 80, 100]),
    (0.5, [0, 0.1, 0.2, 0.3, 0.4, 0.5]),
    (0, [0.0, 1.0]),
    (12, [0, 2.5, 5, 7.5, 10, 12.5]),
])
def test_nice_ticks(top, expected):
    assert nice_ticks(top) == pytest.approx(expected)


def test_chart_rows_are_the_numbers_beside_the_chart():
    chart = Chart("t", "T", "d", "line", ["Jan", "Feb"], [Series("A", [DOLLAR, None]), Series("B", [0, 2 * DOLLAR])])
    assert chart_rows(chart) == (["", "A", "B"], [["Jan", "$1.00", "$0.00"], ["Feb", "—", "$2.00"]])


def test_money_is_rounded_one_by_one_so_the_chart_shows_the_cents_every_table_shows():
    # 0.5 + 0.5 + 0.4 cents: each rounds half up on its own (1, 1, 0), never apportioned
    half_cent = 500_000
    chart = Chart("t", "T", "d", "line", ["Jan", "Feb", "Mar"], [Series("A", [half_cent, half_cent, 400_000])])
    assert chart_rows(chart)[1] == [["Jan", "$0.01"], ["Feb", "$0.01"], ["Mar", "$0.00"]]
    titles = [c.find(f"{SVG}title").text for c in _svg(chart).iter(f"{SVG}circle")]
    assert titles == ["A, Jan: $0.01", "A, Feb: $0.01", "A, Mar: $0.00"]


def test_bar_labels_link_where_a_page_exists():
    chart = Chart("t", "T", "d", "bar", ["ann", "nobody"], [Series("s", [2 * DOLLAR, DOLLAR])])
    svg = ET.fromstring(str(render_chart(
        chart, id_prefix="c", href_of=lambda label: "users/ann.html" if label == "ann" else None)))
    links = list(svg.iter(f"{SVG}a"))
    assert [(a.get("href"), a.find(f"{SVG}text").text) for a in links] == [("users/ann.html", "ann")]


def test_the_legend_shows_long_model_names_whole():
    names = ["claude-4.6-opus-high-thinking", "claude-4.5-sonnet", "gpt-5", "auto", "gpt-5-codex"]
    chart = Chart("t", "T", "d", "line", ["a", "b"], [Series(name, [DOLLAR, DOLLAR]) for name in names])
    svg = _svg(chart)
    legend = [t for t in svg.iter(f"{SVG}text") if t.get("class") == "legend"]
    assert [t.text for t in legend] == names
    # Fewer columns, so that a column is wide enough for the longest name at ~6.6 px a character.
    xs = sorted({float(t.get("x")) for t in legend})
    assert len(xs) == 2 and xs[1] - xs[0] >= 17 + 6.6 * len(names[0])
    # The plot moves down to make room for the extra legend rows.
    assert min(float(c.get("cy")) for c in svg.iter(f"{SVG}circle")) > max(float(t.get("y")) for t in legend)


def test_a_name_too_long_for_any_legend_row_is_cut_with_a_tooltip():
    name = "a-model-with-a-name-that-goes-on-and-on-" * 3
    svg = _svg(Chart("t", "T", "d", "line", ["a"], [Series(name, [DOLLAR]), Series("b", [DOLLAR])]))
    legend = [t for t in svg.iter(f"{SVG}text") if t.get("class") == "legend"]
    assert legend[0].text.endswith("\u2026") and legend[0].find(f"{SVG}title").text == name
    assert legend[1].text == "b"


def test_legend_names_of_users_or_models_link_to_their_pages():
    chart = Chart("t", "T", "d", "line", ["a"], [Series("gpt-5", [DOLLAR]), Series("Everyone else", [DOLLAR])])
    svg = ET.fromstring(str(render_chart(
        chart, id_prefix="c", href_of=lambda name: "models/gpt-5.html" if name == "gpt-5" else None)))
    links = [(a.get("href"), a.find(f"{SVG}text").text) for a in svg.iter(f"{SVG}a")]
    assert links == [("models/gpt-5.html", "gpt-5")]
    assert "Everyone else" in [t.text for t in svg.iter(f"{SVG}text") if t.get("class") == "legend"]


def _stacked(values_by_series: dict[str, list], labels=("Jan 2026", "Feb 2026", "Mar 2026")) -> Chart:
    return Chart("models", "Spend per model", "Stacked", "stacked", list(labels),
                 [Series(name, values) for name, values in values_by_series.items()])


def _stacked_svg(chart: Chart, incomplete=()) -> tuple[str, ET.Element]:
    """The legend (HTML before the ``<svg>``) and the parsed ``<svg>``."""
    markup = str(render_chart(chart, id_prefix="c1", incomplete=incomplete))
    start = markup.index("<svg")
    return markup[:start], ET.fromstring(markup[start:])


def test_a_stacked_chart_stacks_each_months_segments_in_proportion():
    chart = _stacked({"opus": [200 * DOLLAR, 100 * DOLLAR, 0], "gpt-5": [100 * DOLLAR, 100 * DOLLAR, 50 * DOLLAR],
                      "Other (2 models)": [0, 100 * DOLLAR, 50 * DOLLAR]})
    legend, svg = _stacked_svg(chart)
    assert svg.get("role") == "img" and svg.find(f"{SVG}title").text == "Spend per model"
    # drawn at the width shown (no viewBox): its 12 px text is never scaled down on a phone
    assert svg.get("viewBox") is None and svg.get("width") == "100%"
    columns = [g for g in svg.iter(f"{SVG}g") if g.get("class") == "stack-column"]
    assert [g.find(f"{SVG}title").text for g in columns] == [
        "Jan 2026: $300.00 in total", "Feb 2026: $300.00 in total", "Mar 2026: $100.00 in total"]
    heights = [[float(r.get("height")) for r in g.iter(f"{SVG}rect")] for g in columns]
    assert heights[0][0] == pytest.approx(2 * heights[0][1], abs=0.15)          # opus on the bottom, twice gpt-5
    assert sum(heights[0]) == pytest.approx(sum(heights[1]), abs=0.3)           # both months $300
    assert sum(heights[0]) == pytest.approx(3 * sum(heights[2]), abs=0.3)       # March $100
    assert len(heights[2]) == 2                                                 # opus's $0 draws nothing
    tops = [[float(r.get("y")) for r in g.iter(f"{SVG}rect")] for g in columns]
    assert tops[0][0] > tops[0][1]                                              # later series stack higher
    classes = [r.get("class") for r in columns[1].iter(f"{SVG}rect")]
    assert classes == ["stack stack0", "stack stack1", "stack stack-other"]     # "Other" is grey
    assert [t.text for t in columns[1].iter(f"{SVG}title")][1:] == [
        "opus, Feb 2026: $100.00", "gpt-5, Feb 2026: $100.00", "Other (2 models), Feb 2026: $100.00"]
    assert legend.count("<li>") == 3 and "Other (2 models)</li>" in legend and 'class="swatch stack1"' in legend
    assert all(x.endswith("%") for x in (r.get("x") for r in svg.iter(f"{SVG}rect")))


def test_a_stacked_chart_marks_the_incomplete_month_and_leaves_one_not_fetched_blank():
    chart = _stacked({"opus": [None, 1 * DOLLAR, 2 * DOLLAR], "Other (1 model)": [None, 1 * DOLLAR, 0]})
    _, svg = _stacked_svg(chart, incomplete={"Mar 2026"})
    labels = [t.text for t in svg.iter(f"{SVG}text") if "$" not in (t.text or "")]
    assert labels == ["Jan", "2026", "Feb", "Mar*"]  # the year once, under the first month
    missing = [g for g in svg.iter(f"{SVG}g") if g.get("class") == "stack-column missing"]
    assert [g.find(f"{SVG}title").text for g in missing] == ["Jan 2026: not fetched"]
    header, rows = chart_rows(chart)
    assert header == ["", "opus", "Other (1 model)", "Total"] and rows[0] == ["Jan 2026", "—", "—", "—"]


def test_a_stacked_charts_totals_are_the_exact_sums_shown_as_every_table_shows_them():
    # 0.4 c + 0.4 c: each segment shows $0.00, the month's total (0.8 c) $0.01, as its table's total row does
    chart = _stacked({"a": [400_000, 3 * DOLLAR], "b": [400_000, -1 * DOLLAR]}, labels=("Jan 2026", "Feb 2026"))
    header, rows = chart_rows(chart)
    assert rows == [["Jan 2026", "$0.00", "$0.00", "$0.01"], ["Feb 2026", "$3.00", "-$1.00", "$2.00"]]
    _, svg = _stacked_svg(chart)
    feb = [g for g in svg.iter(f"{SVG}g") if g.get("class") == "stack-column"][1]
    assert [r.get("class") for r in feb.iter(f"{SVG}rect")] == ["stack stack0"]  # a negative segment is not drawn


def test_a_stacked_charts_legend_and_tooltips_are_escaped():
    chart = _stacked({"<b>&model</b>": [1 * DOLLAR]}, labels=("Jan 2026",))
    legend, svg = _stacked_svg(chart)
    assert "&lt;b&gt;&amp;model&lt;/b&gt;" in legend and "<b>" not in legend
    assert [t.text for t in svg.iter(f"{SVG}title")][-1] == "<b>&model</b>, Jan 2026: $1.00"
