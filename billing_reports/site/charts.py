"""Charts as inline SVG, drawn at build time: no JavaScript, no external request.

``bar`` charts rank categories with horizontal bars (long e-mails and model
names stay readable); ``line`` charts follow months, one line per series;
``stacked`` charts a column per month, a segment per series (see
:func:`stacked_chart`).
Every chart carries a ``<title>`` and ``<desc>`` for screen readers, a native
tooltip per bar and point, and colours from CSS classes so that the light and
dark themes both apply. The page shows the chart's numbers in a table beside it.
"""

from __future__ import annotations

import calendar
import math
from functools import lru_cache
from datetime import date
from typing import Callable, Collection, Sequence

from markupsafe import Markup, escape

from ..money import MICROCENTS_PER_DOLLAR
from ..periods import day_text
from ..sections import Chart, format_value

WIDTH = 640
BAR_ROW = 26
BAR_LABEL_WIDTH = 210
LINE_HEIGHT = 260
#: Characters of a category label shown beside a bar; the tooltip has the whole label.
LABEL_CHARS = 30
#: Marks an incomplete month in axis labels; the caption explains it.
INCOMPLETE_MARK = "*"
#: Width of one character of a 12px legend label (generous for system-ui), and of a swatch and its gap.
LEGEND_CHAR = 6.6
LEGEND_SWATCH = 17
LEGEND_ROW = 18


def render_chart(
    chart: Chart, *, id_prefix: str, incomplete: Collection[str] = (),
    href_of: Callable[[str], str | None] = lambda label: None, compact: bool = False,
) -> Markup:
    """The chart as an ``<svg>`` element.

    ``incomplete`` lists labels of incomplete months; ``href_of`` gives the page a bar's
    label links to (a user's or a model's), or ``None``. ``compact``: a daily chart's columns
    drawn as one path per shade, without a tooltip each (the numbers are in the table beside).
    """
    if chart.kind == "bar":
        return _bar_chart(chart, id_prefix, incomplete, href_of)
    if chart.kind == "daily":
        return _daily_chart(chart, id_prefix, incomplete, compact=compact)
    if chart.kind == "stacked":
        return stacked_chart(chart, id_prefix, incomplete)
    return _line_chart(chart, id_prefix, incomplete, href_of)


def _scaled(value: int | float | None, unit: str) -> float | None:
    """A value in display units (dollars for money) for drawing."""
    if value is None:
        return None
    if unit == "money":
        return value / MICROCENTS_PER_DOLLAR
    return float(value)


def _shown(value: int | float | None, unit: str) -> str:
    return format_value(value, unit) if value is not None else "—"


def shown_values(chart: Chart) -> list[list[str]]:
    """Each series' values as text: money rounded to the cent on its own, exactly as every
    table shows the same amount."""
    return [[_shown(value, chart.unit) for value in series.values] for series in chart.series]


def _label(label: str, incomplete: Collection[str]) -> str:
    return f"{label}{INCOMPLETE_MARK}" if label in incomplete else label


def _open_svg(chart: Chart, id_prefix: str, height: float) -> list[str]:
    title_id, desc_id = f"{id_prefix}-title", f"{id_prefix}-desc"
    return [
        f'<svg class="chart chart-{chart.kind}" viewBox="0 0 {WIDTH} {height:.0f}" '
        f'role="img" aria-labelledby="{title_id} {desc_id}" preserveAspectRatio="xMinYMin meet" '
        f'xmlns="http://www.w3.org/2000/svg">',
        f'<title id="{title_id}">{escape(chart.title)}</title>',
        f'<desc id="{desc_id}">{escape(chart.description)}</desc>',
    ]


def _bar_chart(chart: Chart, id_prefix: str, incomplete: Collection[str],
               href_of: Callable[[str], str | None]) -> Markup:
    values = list(chart.series[0].values) if chart.series else []
    texts = shown_values(chart)[0] if chart.series else []
    rows = list(zip(chart.labels, values))
    scaled = [_scaled(value, chart.unit) or 0.0 for _, value in rows]
    top = max([v for v in scaled if v > 0], default=1.0)
    height = max(len(rows), 1) * BAR_ROW + 8
    plot = WIDTH - BAR_LABEL_WIDTH - 90
    parts = _open_svg(chart, id_prefix, height)
    if not rows:
        parts.append(f'<text class="chart-empty" x="{WIDTH / 2}" y="20" text-anchor="middle">No data</text>')
    for index, ((label, value), amount) in enumerate(zip(rows, scaled)):
        y = 4 + index * BAR_ROW
        width = max(amount, 0.0) / top * plot
        href = href_of(str(label))
        label = _label(str(label), incomplete)
        short = label if len(label) <= LABEL_CHARS else label[: LABEL_CHARS - 1] + "\u2026"
        shown = texts[index]
        name = (
            f'<text class="axis-label" x="{BAR_LABEL_WIDTH - 8}" y="{y + BAR_ROW / 2 + 4:.1f}" '
            f'text-anchor="end">{escape(short)}</text>'
        )
        if href:
            name = f'<a href="{escape(href)}">{name}</a>'
        parts.append(
            f'<g class="bar-row"><title>{escape(label)}: {escape(shown)}</title>{name}'
            f'<rect class="bar s0" x="{BAR_LABEL_WIDTH}" y="{y + 3}" width="{width:.1f}" '
            f'height="{BAR_ROW - 8}" rx="2"/>'
            f'<text class="bar-value" x="{BAR_LABEL_WIDTH + width + 6:.1f}" '
            f'y="{y + BAR_ROW / 2 + 4:.1f}">{escape(shown)}</text></g>'
        )
    parts.append("</svg>")
    return Markup("".join(parts))


def nice_ticks(top: float, count: int = 5) -> list[float]:
    """Round tick values from 0 to at least ``top``.

    >>> nice_ticks(930)
    [0, 200, 400, 600, 800, 1000]
    """
    if top <= 0:
        return [0.0, 1.0]
    rough = top / count
    power = 10 ** math.floor(math.log10(rough))
    step = next(m * power for m in (1, 2, 2.5, 5, 10) if m * power >= rough)
    return [round(i * step, 10) for i in range(int(math.ceil(top / step - 1e-9)) + 1)]


def _tick_text(value: float, unit: str, step: float) -> str:
    decimals = 0 if step >= 1 else 2
    if unit == "money":
        return f"${value:,.{decimals}f}"
    if unit == "percent":
        return f"{value:,.{decimals}f}%"
    return f"{value:,.{decimals}f}"


def _line_chart(chart: Chart, id_prefix: str, incomplete: Collection[str],
                href_of: Callable[[str], str | None] = lambda label: None) -> Markup:
    labels = [str(label) for label in chart.labels]
    series = list(chart.series)
    left, right, bottom = 74, 36, 40
    plot_w = WIDTH - left - right
    legend_columns, legend_chars = _legend_layout([line.name for line in series], plot_w)
    legend_rows = math.ceil(len(series) / legend_columns) if len(series) > 1 else 0
    top_margin = 14 + legend_rows * LEGEND_ROW
    height = LINE_HEIGHT + legend_rows * LEGEND_ROW
    plot_h = height - top_margin - bottom
    scaled = [[_scaled(v, chart.unit) for v in s.values] for s in series]
    texts = shown_values(chart)
    present = [v for values in scaled for v in values if v is not None]
    ticks = nice_ticks(max(present, default=0.0))
    low = min(0.0, min(present, default=0.0))
    high = ticks[-1]
    span = (high - low) or 1.0

    def x_of(index: int) -> float:
        if len(labels) == 1:
            return left + plot_w / 2
        return left + index * plot_w / (len(labels) - 1)

    def y_of(value: float) -> float:
        return top_margin + plot_h - (value - low) / span * plot_h

    parts = _open_svg(chart, id_prefix, height)
    step = ticks[1] - ticks[0] if len(ticks) > 1 else 1.0
    for tick in ticks:
        y = y_of(tick)
        parts.append(
            f'<line class="grid" x1="{left}" x2="{WIDTH - right}" y1="{y:.1f}" y2="{y:.1f}"/>'
            f'<text class="axis-label" x="{left - 6}" y="{y + 4:.1f}" text-anchor="end">'
            f"{escape(_tick_text(tick, chart.unit, step))}</text>"
        )
    every = max(1, math.ceil(len(labels) / 8))
    for index, label in enumerate(labels):
        if index % every and index != len(labels) - 1:
            continue
        parts.append(
            f'<text class="axis-label" x="{x_of(index):.1f}" y="{height - bottom + 18}" '
            f'text-anchor="middle">{escape(_label(label, incomplete))}</text>'
        )
    for number, (line, values) in enumerate(zip(series, scaled)):
        colour = f"s{number % 8}"
        segments: list[list[str]] = [[]]
        dashed: list[str] = []
        previous: tuple[float, float] | None = None
        for index, value in enumerate(values):
            if value is None:
                segments.append([])
                previous = None
                continue
            point = (x_of(index), y_of(value))
            if labels[index] in incomplete and previous is not None:
                dashed.append(
                    f'<line class="line {colour} partial" x1="{previous[0]:.1f}" y1="{previous[1]:.1f}" '
                    f'x2="{point[0]:.1f}" y2="{point[1]:.1f}"/>'
                )
                segments.append([])
            segments[-1].append(f"{point[0]:.1f},{point[1]:.1f}")
            previous = point
        parts.append(f'<g class="series {colour}">')
        for segment in segments:
            if len(segment) > 1:
                parts.append(f'<polyline class="line {colour}" points="{" ".join(segment)}"/>')
        parts.extend(dashed)
        for index, value in enumerate(values):
            if value is None:
                continue
            hollow = " hollow" if labels[index] in incomplete else ""
            shown = texts[number][index]
            note = " (incomplete month)" if hollow else ""
            parts.append(
                f'<circle class="point {colour}{hollow}" cx="{x_of(index):.1f}" cy="{y_of(value):.1f}" r="4">'
                f"<title>{escape(line.name)}, {escape(labels[index])}: {escape(shown)}{note}</title></circle>"
            )
        parts.append("</g>")
    if legend_rows:
        for number, line in enumerate(series):
            x = left + (number % legend_columns) * (plot_w / legend_columns)
            y = 12 + (number // legend_columns) * LEGEND_ROW
            name = escape(line.name)
            if len(line.name) > legend_chars:  # only past a whole row's width; the tooltip has it all
                name = escape(line.name[: legend_chars - 1] + "\u2026") + Markup(f"<title>{name}</title>")
            text = f'<text class="legend" x="{x + LEGEND_SWATCH:.1f}" y="{y + 1}">{name}</text>'
            href = href_of(line.name)
            if href:  # a series of a user or a model: its name links to its page, as a bar's label does
                text = f'<a href="{escape(href)}">{text}</a>'
            parts.append(
                f'<rect class="swatch s{number % 8}" x="{x:.1f}" y="{y - 9}" width="12" height="12" rx="2"/>{text}'
            )
    parts.append("</svg>")
    return Markup("".join(parts))


#: A day column's note by (weekend, in progress).
_DAY_NOTES = {
    (False, False): "", (True, False): " (weekend)",
    (False, True): " (in progress: the day was not over when fetched)",
    (True, True): " (weekend; in progress: the day was not over when fetched)",
}


@lru_cache(maxsize=4096)
def _day_parts(label: str) -> tuple[str, str, bool]:
    """A day label's escaped tooltip text (``Sun 29 Nov 2026``), axis text (``29 Nov``) and whether it
    is a weekend: the same days recur on every page's daily chart, so each is worked out once."""
    try:
        day = date.fromisoformat(label)
    except ValueError:
        return str(escape(label)), str(escape(label)), False
    return str(escape(day_text(label))), f"{day.day} {calendar.month_abbr[day.month]}", day.weekday() >= 5


def _daily_chart(chart: Chart, id_prefix: str, partial: Collection[str], *, compact: bool = False) -> Markup:
    """One column per UTC day of the first series: weekends in their own shade, a day still in
    progress (``partial``: its figures may grow) hollow, a day not fetched left blank. ``compact``:
    the columns of each shade as one ``<path>``, no tooltip per day."""
    labels = [str(label) for label in chart.labels]
    values = list(chart.series[0].values) if chart.series else []
    texts = shown_values(chart)[0] if chart.series else []
    left, right, bottom, top_margin = 74, 16, 40, 30
    height = LINE_HEIGHT
    plot_w, plot_h = WIDTH - left - right, height - top_margin - bottom
    scaled = [_scaled(value, chart.unit) for value in values]
    ticks = nice_ticks(max([v for v in scaled if v is not None], default=0.0))
    high = ticks[-1] or 1.0
    slot = plot_w / max(len(labels), 1)
    bar = max(slot * 0.72, 1.0)
    parts = _open_svg(chart, id_prefix, height)
    step = ticks[1] - ticks[0] if len(ticks) > 1 else 1.0
    for tick in ticks:
        y = top_margin + plot_h - tick / high * plot_h
        parts.append(
            f'<line class="grid" x1="{left}" x2="{WIDTH - right}" y1="{y:.1f}" y2="{y:.1f}"/>'
            f'<text class="axis-label" x="{left - 6}" y="{y + 4:.1f}" text-anchor="end">'
            f"{escape(_tick_text(tick, chart.unit, step))}</text>"
        )
    every = max(1, math.ceil(len(labels) / 8))
    base = top_margin + plot_h
    shapes: dict[str, list[str]] = {}  # compact: the columns of each shade, as path segments
    for index, (label, value, amount, shown) in enumerate(zip(labels, values, scaled, texts)):
        x = left + index * slot + (slot - bar) / 2
        title, axis, weekend = _day_parts(label)
        # every ``every``-th day, and the last one unless it would crowd the one before
        if index % every == 0 or (index == len(labels) - 1 and index % every > every / 2):
            anchor = "end" if index == len(labels) - 1 and index else "middle"  # the last one stays inside
            parts.append(f'<text class="axis-label" x="{x + (bar if anchor == "end" else bar / 2):.1f}" '
                         f'y="{height - bottom + 18}" text-anchor="{anchor}">{axis}</text>')
        if value is None:
            if compact:
                shapes.setdefault("missing", []).append(f"M{x:.1f} {base - 2:.1f}h{bar:.1f}v2h{-bar:.1f}z")
                continue
            parts.append(f'<g class="day missing"><title>{title}: not fetched</title>'
                         f'<rect class="missing" x="{x:.1f}" y="{base - 2:.1f}" width="{bar:.1f}" height="2"/></g>')
            continue
        in_progress = label in partial
        classes = "day-bar s0" + (" weekend" if weekend else "") + (" partial" if in_progress else "")
        note = _DAY_NOTES[weekend, in_progress]
        column = max(amount or 0.0, 0.0) / high * plot_h
        if compact:
            height_drawn = max(column, 0.5)
            shapes.setdefault(classes, []).append(
                f"M{x:.1f} {base - height_drawn:.1f}h{bar:.1f}v{height_drawn:.1f}h{-bar:.1f}z")
            continue
        parts.append(
            f'<g class="day"><title>{title}: {shown}{note}</title>'  # (money text needs no escaping)
            f'<rect class="{classes}" x="{x:.1f}" y="{base - column:.1f}" '
            f'width="{bar:.1f}" height="{max(column, 0.5):.1f}"/></g>'
        )
    for classes, segments in shapes.items():
        parts.append(f'<path class="{classes}" d="{"".join(segments)}"/>')
    # the key: what the shades mean
    key = [("day-bar s0", "weekday"), ("day-bar s0 weekend", "weekend"), ("day-bar s0 partial", "in progress")]
    x = left
    for classes, name in key:
        parts.append(f'<rect class="{classes}" x="{x}" y="8" width="12" height="12" rx="2"/>'
                     f'<text class="legend" x="{x + LEGEND_SWATCH}" y="18">{name}</text>')
        x += LEGEND_SWATCH + len(name) * LEGEND_CHAR + 18
    parts.append("</svg>")
    return Markup("".join(parts))


def _legend_layout(names: Sequence[str], width: float) -> tuple[int, int]:
    """Legend columns (3, 2 or 1) so that every name shows whole, and the characters a column holds.

    >>> _legend_layout(["gpt-5", "auto"], 530)
    (3, 22)
    >>> _legend_layout(["claude-4.6-opus-high-thinking", "gpt-5"], 530)
    (2, 36)
    """
    longest = max((len(name) for name in names), default=0)
    for columns in (3, 2, 1):
        fits = int((width / columns - LEGEND_SWATCH - 8) / LEGEND_CHAR)
        if longest <= fits or columns == 1:
            return columns, fits
    raise AssertionError("unreachable")


def chart_rows(chart: Chart) -> tuple[list[str], list[list[str]]]:
    """The chart's numbers as a small table: a header and one row per label (a stacked chart's
    rows end in their total, :func:`stacked_totals`)."""
    header = [""] + [series.name for series in chart.series]
    texts = shown_values(chart)
    rows = [
        [str(label)] + [values[index] if index < len(values) else "" for values in texts]
        for index, label in enumerate(chart.labels)
    ]
    if chart.kind == "stacked":
        header.append("Total")
        for row, total in zip(rows, stacked_totals(chart)):
            row.append(_shown(total, chart.unit))
    return header, rows


# --- stacked columns -------------------------------------------------------------------------
#
# A stacked chart is drawn for the width it is shown at: its x positions are percentages of the
# page's width, its y positions pixels, and it has no viewBox, so nothing scales its text (12 px
# on a phone as on a desktop). Its legend is an HTML list above it, which wraps like text.

#: The drawing's height in pixels (site.css gives ``svg.chart-stacked`` the same height).
STACKED_HEIGHT = 280
#: Colours for the segments (``stack0``...): the series past them repeat them; "Other" is grey.
STACK_COLOURS = 6
#: A column's share of its slot (the rest is the gap between months).
STACK_COLUMN = 0.62
#: The left margin the scale's labels sit in, in percent of the width (on a phone they may reach over
#: the first column's gap, haloed in the background colour).
STACK_SCALE = 8.0
_STACK_TOP, _STACK_BOTTOM = 22, 40


def stacked_totals(chart: Chart) -> list[int | float | None]:
    """Each column's total: the exact sum of its segments (``None`` where every segment is ``None``,
    a month not fetched), shown as every table shows the same month's total."""
    totals: list[int | float | None] = []
    for index in range(len(chart.labels)):
        values = [series.values[index] for series in chart.series if index < len(series.values)]
        present = [value for value in values if value is not None]
        totals.append(sum(present) if present else None)
    return totals


def stack_class(number: int, name: str) -> str:
    """The colour class of the ``number``-th series: ``stack-other`` for the "Other..." one."""
    return "stack-other" if name.startswith("Other") else f"stack{number % STACK_COLOURS}"


def _axis_lines(label: str, incomplete: Collection[str]) -> tuple[str, str]:
    """A column's label in two short lines: ``Jan`` (``Nov*`` when incomplete) and ``2026``."""
    month, _, year = label.partition(" ")
    if not year:
        return _label(label, incomplete), ""
    return month + (INCOMPLETE_MARK if label in incomplete else ""), year


def stacked_chart(chart: Chart, id_prefix: str, incomplete: Collection[str] = ()) -> Markup:
    """A column per label, a segment per series from the bottom up, and its legend.

    The legend (an HTML list) comes before the ``<svg>``; a column's tooltip gives its total and
    each segment's its series' value. A negative value is left out of the drawing (the table
    beside has it); a column with no value at all (a month not fetched) is a grey line.
    """
    labels = [str(label) for label in chart.labels]
    series = list(chart.series)
    texts = shown_values(chart)
    totals = stacked_totals(chart)
    heights = [sum(max(_scaled(s.values[i], chart.unit) or 0.0, 0.0) for s in series if i < len(s.values))
               for i in range(len(labels))]
    ticks = nice_ticks(max(heights, default=0.0))
    high = ticks[-1] or 1.0
    step = ticks[1] - ticks[0] if len(ticks) > 1 else 1.0
    plot_h = STACKED_HEIGHT - _STACK_TOP - _STACK_BOTTOM
    base = _STACK_TOP + plot_h

    def y_of(amount: float) -> float:
        return base - amount / high * plot_h

    legend = "".join(
        f'<li><span class="swatch {stack_class(number, line.name)}"></span>{escape(line.name)}</li>'
        for number, line in enumerate(series)
    )
    title_id, desc_id = f"{id_prefix}-title", f"{id_prefix}-desc"
    parts = [
        f'<ul class="chart-legend">{legend}</ul>' if series else "",
        f'<svg class="chart chart-stacked" width="100%" height="{STACKED_HEIGHT}" role="img" '
        f'aria-labelledby="{title_id} {desc_id}" xmlns="http://www.w3.org/2000/svg">',
        f'<title id="{title_id}">{escape(chart.title)}</title>',
        f'<desc id="{desc_id}">{escape(chart.description)}</desc>',
    ]
    for tick in ticks:
        y = y_of(tick)
        parts.append(f'<line class="grid" x1="0" x2="100%" y1="{y:.1f}" y2="{y:.1f}"/>')
    slot = (100 - STACK_SCALE) / max(len(labels), 1)
    width = slot * STACK_COLUMN
    every = max(1, math.ceil(len(labels) / 12))  # about 26 px a label on a phone
    for index, label in enumerate(labels):
        x = STACK_SCALE + index * slot + (slot - width) / 2
        centre = STACK_SCALE + index * slot + slot / 2
        name = escape(_label(label, incomplete))
        month, year = _axis_lines(label, incomplete)
        if index % every == 0:
            parts.append(f'<text class="axis-label" x="{centre:.2f}%" y="{base + 16}" '
                         f'text-anchor="middle">{escape(month)}</text>')
            if year and (index == 0 or month.startswith("Jan")):
                parts.append(f'<text class="axis-label" x="{centre:.2f}%" y="{base + 30}" '
                             f'text-anchor="middle">{escape(year)}</text>')
        if totals[index] is None:
            parts.append(f'<g class="stack-column missing"><title>{name}: not fetched</title>'
                         f'<rect class="missing" x="{x:.2f}%" y="{base - 2}" width="{width:.2f}%" height="2"/></g>')
            continue
        total = _shown(totals[index], chart.unit)
        parts.append(f'<g class="stack-column"><title>{name}: {escape(total)} in total</title>')
        bottom = 0.0
        for number, (line, shown) in enumerate(zip(series, texts)):
            value = line.values[index] if index < len(line.values) else None
            amount = max(_scaled(value, chart.unit) or 0.0, 0.0)
            if amount <= 0:
                continue
            top = y_of(bottom + amount)
            parts.append(
                f'<rect class="stack {stack_class(number, line.name)}" x="{x:.2f}%" y="{top:.1f}" '
                f'width="{width:.2f}%" height="{y_of(bottom) - top:.1f}">'
                f"<title>{escape(line.name)}, {name}: {escape(shown[index])}</title></rect>"
            )
            bottom += amount
        parts.append("</g>")
    # the scale last, over the columns (each label haloed in the background colour)
    for tick in ticks:
        parts.append(f'<text class="axis-label tick" x="2" y="{y_of(tick) - 4:.1f}">'
                     f"{escape(_tick_text(tick, chart.unit, step))}</text>")
    parts.append("</svg>")
    return Markup("".join(parts))


__all__ = ["chart_rows", "nice_ticks", "render_chart", "stacked_chart", "stacked_totals"]
