"""Inline SVG charts: proportional, escaped, marking incomplete months, hidden from assistive
technology (the table of numbers is their text), laid out for the larger text of a phone."""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET

import pytest

from billing_reports.sections import Chart, Series
from billing_reports.site.charts import (
    CHAR_EM, PHONE_FONT, WIDTH, axis_label_classes, chart_rows, legend_keys, nice_ticks, render_chart,
)

SVG = "{http://www.w3.org/2000/svg}"
DOLLAR = 100_000_000  # micro-cents


def _svg(chart: Chart, incomplete=()) -> ET.Element:
    return ET.fromstring(str(render_chart(chart, id_prefix="c1", incomplete=incomplete)))


def test_a_bar_chart_is_hidden_from_screen_readers_and_has_proportional_bars_under_their_labels():
    chart = Chart("top", "Top users", "Spend per user", "bar", ["ann", "bob", "cy"],
                  [Series("Spend", [200 * DOLLAR, 100 * DOLLAR, 50 * DOLLAR])])
    svg = _svg(chart)
    # a picture for the eye: the page's table of its numbers is what a screen reader reads
    assert svg.get("aria-hidden") == "true" and svg.get("role") is None
    widths = [float(rect.get("width")) for rect in svg.iter(f"{SVG}rect")]
    assert widths[0] == pytest.approx(2 * widths[1]) and widths[1] == pytest.approx(2 * widths[2])
    labels = [t for t in svg.iter(f"{SVG}text") if t.get("class") == "axis-label"]
    bars = list(svg.iter(f"{SVG}rect"))
    # each label above its own bar, starting where the bar starts
    for label, bar, next_label in zip(labels, bars, labels[1:] + [None]):
        assert float(label.get("x")) == float(bar.get("x")) == 0
        assert float(label.get("y")) < float(bar.get("y"))
        if next_label is not None:
            assert float(bar.get("y")) + float(bar.get("height")) < float(next_label.get("y")) - PHONE_FONT * 0.75
    tooltips = [g.find(f"{SVG}title").text for g in svg.iter(f"{SVG}g")]
    assert tooltips == ["ann: $200.00", "bob: $100.00", "cy: $50.00"]
    # the longest bar leaves room for its amount at the phone size
    values = [t for t in svg.iter(f"{SVG}text") if t.get("class") == "bar-value"]
    assert float(values[0].get("x")) + len("$200.00") * CHAR_EM * PHONE_FONT <= WIDTH


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


def test_a_long_series_name_is_cut_in_the_key_and_whole_in_the_table():
    name = "m" * 3000
    chart = Chart("t", "T", "d", "line", ["a"], [Series(name, [DOLLAR]), Series("b", [DOLLAR])])
    (_, shown), (_, other) = legend_keys(chart)
    assert len(shown) == 60 and shown.endswith("…") and other == "b"
    assert chart_rows(chart)[0][1] == name  # the table beside the chart, which screen readers read


def test_several_series_get_a_key_and_distinct_colours():
    chart = Chart("t", "T", "d", "line", ["a", "b"], [Series(f"user{i}", [i * DOLLAR, DOLLAR]) for i in range(4)])
    svg = _svg(chart)
    colours = [re.search(r"s\d", p.get("class")).group() for p in svg.iter(f"{SVG}polyline")]
    assert colours == ["s0", "s1", "s2", "s3"]
    # the key is the page's (text that wraps at any width), in the lines' colours
    assert legend_keys(chart) == [("s0", "user0"), ("s1", "user1"), ("s2", "user2"), ("s3", "user3")]
    assert not [t for t in svg.iter(f"{SVG}text") if t.text and t.text.startswith("user")]
    assert legend_keys(Chart("t", "T", "d", "line", ["a"], [Series("Spend", [DOLLAR])])) == []


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


def test_bar_labels_link_where_a_page_exists_for_the_mouse_only():
    chart = Chart("t", "T", "d", "bar", ["ann", "nobody"], [Series("s", [2 * DOLLAR, DOLLAR])])
    svg = ET.fromstring(str(render_chart(
        chart, id_prefix="c", href_of=lambda label: "users/ann.html" if label == "ann" else None)))
    links = list(svg.iter(f"{SVG}a"))
    assert [(a.get("href"), a.find(f"{SVG}text").text) for a in links] == [("users/ann.html", "ann")]
    # out of the tab order: the table beside the chart has the same link, for the keyboard
    assert [a.get("tabindex") for a in links] == ["-1"]


def _phone_extent(text: ET.Element) -> tuple[float, float]:
    """Where a centred axis label runs at the phone size."""
    half = len(text.text) * CHAR_EM * PHONE_FONT / 2
    return float(text.get("x")) - half, float(text.get("x")) + half


@pytest.mark.parametrize("months", [2, 6, 12, 24])
def test_month_labels_that_would_overlap_on_a_phone_are_minor(months):
    labels = [f"M{i:02d} 2026" for i in range(months)]
    chart = Chart("t", "T", "d", "line", labels, [Series("s", [DOLLAR * (i + 1) for i in range(months)])])
    svg = _svg(chart, incomplete={labels[-1]})
    axis = [t for t in svg.iter(f"{SVG}text") if (t.get("class") or "").startswith("axis-label") and "M" in t.text]
    phone = [_phone_extent(t) for t in axis if "minor" not in t.get("class")]
    assert axis[-1].text == labels[-1] + "*" and "minor" not in axis[-1].get("class")  # the last month shows
    assert all(right < next_left for (_, right), (next_left, _) in zip(phone, phone[1:]))
    assert phone[0][0] >= 0 and phone[-1][1] <= WIDTH  # inside the drawing
    assert len(axis) >= min(months, 6)  # a wide chart still labels months every so often


def test_axis_labels_keep_the_last_one_and_every_other_that_fits():
    xs = [index * 60.0 for index in range(7)]
    classes = axis_label_classes(xs, ["12 Nov"] * 7, 1)
    assert classes[-1] == "axis-label" and classes[0] == "axis-label"
    assert all(c in ("axis-label", "axis-label minor") for c in classes)
    assert classes.count("axis-label") < 7  # 79 units wide, 60 apart: not all fit at the phone size
    assert axis_label_classes(xs, ["1"] * 7, 3) == [
        "axis-label", None, None, "axis-label", None, None, "axis-label"]


def test_tick_labels_fit_left_of_the_plot_at_the_phone_size():
    chart = Chart("t", "T", "d", "line", ["a", "b"], [Series("s", [0, 123_456 * DOLLAR])])
    svg = _svg(chart)
    ticks = [t for t in svg.iter(f"{SVG}text") if t.get("text-anchor") == "end"]
    assert ticks and ticks[-1].text.startswith("$1") and "," in ticks[-1].text
    for tick in ticks:  # right-aligned at x: its start stays inside the drawing
        assert float(tick.get("x")) - len(tick.text) * CHAR_EM * PHONE_FONT >= 0


def _stacked(values_by_series: dict[str, list], labels=("Jan 2026", "Feb 2026", "Mar 2026")) -> Chart:
    return Chart("models", "Spend per model", "Stacked", "stacked", list(labels),
                 [Series(name, values) for name, values in values_by_series.items()])


def _stacked_svg(chart: Chart, incomplete=()) -> tuple[list[tuple[str, str]], ET.Element]:
    """The key the page shows with it (:func:`legend_keys`) and the parsed ``<svg>``."""
    markup = str(render_chart(chart, id_prefix="c1", incomplete=incomplete))
    return legend_keys(chart), ET.fromstring(markup)


def test_a_stacked_chart_stacks_each_months_segments_in_proportion():
    chart = _stacked({"opus": [200 * DOLLAR, 100 * DOLLAR, 0], "gpt-5": [100 * DOLLAR, 100 * DOLLAR, 50 * DOLLAR],
                      "Other (2 models)": [0, 100 * DOLLAR, 50 * DOLLAR]})
    legend, svg = _stacked_svg(chart)
    assert svg.get("aria-hidden") == "true"  # a picture: the table of its numbers is what is read
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
    assert legend == [("stack0", "opus"), ("stack1", "gpt-5"), ("stack-other", "Other (2 models)")]
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


def test_a_stacked_charts_tooltips_are_escaped():
    chart = _stacked({"<b>&model</b>": [1 * DOLLAR]}, labels=("Jan 2026",))
    markup = str(render_chart(chart, id_prefix="c1"))
    assert "&lt;b&gt;&amp;model&lt;/b&gt;" in markup and "<b>" not in markup
    _, svg = _stacked_svg(chart)
    assert [t.text for t in svg.iter(f"{SVG}title")][-1] == "<b>&model</b>, Jan 2026: $1.00"
