"""Charts as inline SVG, drawn at build time: no JavaScript, no external request.

``bar`` charts rank categories with horizontal bars, each label above its bar
(long e-mails and model names stay readable); ``line`` charts follow months,
one line per series; ``stacked`` charts a column per month, a segment per series
(see :func:`stacked_chart`); ``waterfall`` charts a starting total, the steps from it and the
ending total, a row each (see :func:`waterfall_chart`). A chart is a picture for the eye: hidden from screen
readers (``aria-hidden``), its links out of the tab order, as the table of its
numbers the page shows with it says the same, with the links. Each bar and
point has a native tooltip; colours come from CSS classes so that the light and
dark themes both apply; the key of a chart of several series is HTML, beside
the drawing (:func:`legend_keys`).

Text is drawn for two sizes: 12 units where the chart is wide, :data:`PHONE_FONT`
units on a phone (``site.css``), where the 640-unit chart is only ~340 px wide:
every label is placed with room for the larger size, and axis labels that would
crowd each other there are marked ``minor`` (hidden on a phone).
"""

from __future__ import annotations

import calendar
import math
from functools import lru_cache
from datetime import date
from typing import Callable, Collection, NamedTuple, Sequence

from markupsafe import Markup, escape

from ..money import MICROCENTS_PER_DOLLAR, format_money
from ..periods import day_text
from ..sections import MONEY_KINDS, Chart, format_value
from ..untrusted import shortened

WIDTH = 640
#: A bar's row: its label, then the bar (room for a phone-sized label).
BAR_ROW = 54
BAR_HEIGHT = 16
LINE_HEIGHT = 260
#: How far below the plot the month or day labels' baseline is: clear of the lowest tick label
#: (centred on the axis) at the phone size.
X_LABEL_DROP = 36
#: The font size (SVG units) site.css gives chart text on a phone: 11.5 px at a 340 px wide chart.
PHONE_FONT = 22
#: The width of a character in ems (system-ui digits and lower case, generously).
CHAR_EM = 0.6
#: Characters of a category label shown above a bar; the tooltip has the whole label.
LABEL_CHARS = int(WIDTH / (CHAR_EM * PHONE_FONT))
#: Marks an incomplete month in axis labels; the caption explains it.
INCOMPLETE_MARK = "*"


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
    if chart.kind == "waterfall":
        return waterfall_chart(chart, id_prefix)
    return _line_chart(chart, id_prefix, incomplete)


def _scaled(value: int | float | None, unit: str) -> float | None:
    """A value in display units (dollars for money of any kind: micro-cents) for drawing."""
    if value is None:
        return None
    if unit in MONEY_KINDS:
        return value / MICROCENTS_PER_DOLLAR
    return float(value)


def _shown(value: int | float | None, unit: str) -> str:
    return format_value(value, unit) if value is not None else "—"


def _shown_as(unit: str) -> Callable[[int | float | None], str]:
    """:func:`_shown` for the values of one unit (a chart's): money, most charts' unit, made directly."""
    if unit == "money":
        return lambda value: format_money(value) if value is not None else "—"
    return lambda value: format_value(value, unit) if value is not None else "—"


def shown_values(chart: Chart) -> list[list[str]]:
    """Each series' values as text: money rounded to the cent on its own, exactly as every
    table shows the same amount (a waterfall's steps with their sign: ``+$4.30``)."""
    if chart.kind == "waterfall":
        return [_waterfall_texts(series.values, chart.unit) for series in chart.series]
    shown = _shown_as(chart.unit)
    return [[shown(value) for value in series.values] for series in chart.series]


def _label(label: str, incomplete: Collection[str]) -> str:
    return f"{label}{INCOMPLETE_MARK}" if label in incomplete else label


def _open_svg(chart: Chart, id_prefix: str, height: float) -> list[str]:
    """The ``<svg>`` start tag: hidden from assistive technology, which reads the table of its numbers."""
    return [
        f'<svg class="chart chart-{chart.kind}" id="{id_prefix}-svg" viewBox="0 0 {WIDTH} {height:.0f}" '
        f'aria-hidden="true" focusable="false" preserveAspectRatio="xMinYMin meet" '
        f'xmlns="http://www.w3.org/2000/svg">',
    ]


def _text_width(text: str, size: float = PHONE_FONT) -> float:
    """About how wide ``text`` is drawn at ``size`` units (the phone size unless told)."""
    return len(text) * CHAR_EM * size


def _link(href: str | None, content: str) -> str:
    """``content`` as a link for the mouse (out of the tab order: the table beside has the same link)."""
    return f'<a href="{escape(href)}" tabindex="-1">{content}</a>' if href else content


def axis_label_classes(xs: Sequence[float], texts: Sequence[str], every: int) -> list[str | None]:
    """Each x-axis label's class, or ``None`` for no label: every ``every``-th and the last one
    (the newest, instead of the one before it when they would crowd each other), and among those,
    ``minor`` the ones that would overlap at the phone size.

    >>> axis_label_classes([0, 100, 200, 300, 400], ["Jan 2026"] * 5, 1)
    ['axis-label', 'axis-label minor', 'axis-label', 'axis-label minor', 'axis-label']
    """
    count = len(xs)
    shown = [i for i in range(count) if i % every == 0]
    if shown and shown[-1] != count - 1:
        if count - 1 - shown[-1] < every:
            shown.pop()
        shown.append(count - 1)
    classes: list[str | None] = [None] * count
    last_right = -math.inf
    for position, index in enumerate(shown):
        half = _text_width(texts[index]) / 2
        fits = xs[index] - half >= last_right + PHONE_FONT / 2
        if index == shown[-1] and position and not fits:  # the last label wins over the one before it
            classes[shown[position - 1]] = "axis-label minor"
            fits = True
        classes[index] = "axis-label" if fits else "axis-label minor"
        if fits:
            last_right = xs[index] + half
    return classes


def _y_axis(ticks: Sequence[float], unit: str) -> tuple[list[str], float]:
    """Tick texts, and the left margin that holds the widest at the phone size."""
    step = ticks[1] - ticks[0] if len(ticks) > 1 else 1.0
    texts = [_tick_text(tick, unit, step) for tick in ticks]
    return texts, max(56.0, max(_text_width(text) for text in texts) + 10)


def _bar_chart(chart: Chart, id_prefix: str, incomplete: Collection[str],
               href_of: Callable[[str], str | None]) -> Markup:
    values = list(chart.series[0].values) if chart.series else []
    texts = shown_values(chart)[0] if chart.series else []
    rows = list(zip(chart.labels, values))
    scaled = [_scaled(value, chart.unit) or 0.0 for _, value in rows]
    top = max([v for v in scaled if v > 0], default=1.0)
    height = max(len(rows), 1) * BAR_ROW + 6
    plot = WIDTH - 8 - max((_text_width(text) for text in texts), default=0.0)
    parts = _open_svg(chart, id_prefix, height)
    if not rows:
        parts.append(f'<text class="chart-empty" x="{WIDTH / 2}" y="24" text-anchor="middle">No data</text>')
    for index, ((label, value), amount) in enumerate(zip(rows, scaled)):
        y = index * BAR_ROW
        width = max(amount, 0.0) / top * plot
        href = href_of(str(label))
        label = _label(str(label), incomplete)
        short = label if len(label) <= LABEL_CHARS else label[: LABEL_CHARS - 1] + "\u2026"
        shown = texts[index]
        name = _link(href, f'<text class="axis-label" x="0" y="{y + 21}">{escape(short)}</text>')
        bar_y = y + 31
        parts.append(
            f'<g class="bar-row"><title>{escape(label)}: {escape(shown)}</title>{name}'
            f'<rect class="bar s0" x="0" y="{bar_y}" width="{width:.1f}" height="{BAR_HEIGHT}" rx="2"/>'
            f'<text class="bar-value" x="{width + 6:.1f}" y="{bar_y + BAR_HEIGHT / 2:.1f}" '
            f'dominant-baseline="central">{escape(shown)}</text></g>'
        )
    parts.append("</svg>")
    return Markup("".join(parts))


@lru_cache(maxsize=64)
def _month_axis(texts: tuple[str, ...], left: float, right: float) -> tuple[tuple[float, ...], str]:
    """A line chart's x axis between the margins: each label's x (the first and last at the plot's
    ends) and the labels under the plot, as SVG. The same months head a thousand pages' charts."""
    plot_w = WIDTH - left - right
    if len(texts) == 1:
        xs: tuple[float, ...] = (left + plot_w / 2,)
    else:
        xs = tuple(left + index * plot_w / (len(texts) - 1) for index in range(len(texts)))
    every = max(1, math.ceil(len(texts) / 8))
    drop = LINE_HEIGHT - (X_LABEL_DROP + 10) + X_LABEL_DROP
    return xs, "".join(f'<text class="{classes}" x="{x:.1f}" y="{drop}" text-anchor="middle">{escape(text)}</text>'
                       for x, text, classes in zip(xs, texts, axis_label_classes(xs, texts, every)) if classes)


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
    if unit in MONEY_KINDS:
        return f"${value:,.{decimals}f}"
    if unit == "percent":
        return f"{value:,.{decimals}f}%"
    return f"{value:,.{decimals}f}"


def _line_chart(chart: Chart, id_prefix: str, incomplete: Collection[str]) -> Markup:
    labels = [str(label) for label in chart.labels]
    axis_texts = [_label(label, incomplete) for label in labels]
    series = list(chart.series)
    scaled = [[_scaled(v, chart.unit) for v in s.values] for s in series]
    texts = shown_values(chart)
    present = [v for values in scaled for v in values if v is not None]
    ticks = nice_ticks(max(present, default=0.0))
    low = min(0.0, min(present, default=0.0))
    high = ticks[-1]
    span = (high - low) or 1.0
    tick_texts, left = _y_axis(ticks, chart.unit)
    # the first and last month labels are centred on the plot's ends: room for half of each
    if axis_texts:
        left = max(left, _text_width(axis_texts[0]) / 2 + 4)
    right = max(24.0, _text_width(axis_texts[-1]) / 2 + 4) if axis_texts else 24.0
    top_margin, bottom = 20, X_LABEL_DROP + 10
    height = LINE_HEIGHT
    plot_h = height - top_margin - bottom

    def y_of(value: float) -> float:
        return top_margin + plot_h - (value - low) / span * plot_h

    parts = _open_svg(chart, id_prefix, height)
    for tick, text in zip(ticks, tick_texts):
        y = y_of(tick)
        parts.append(
            f'<line class="grid" x1="{left:.1f}" x2="{WIDTH - right:.1f}" y1="{y:.1f}" y2="{y:.1f}"/>'
            f'<text class="axis-label" x="{left - 6:.1f}" y="{y:.1f}" text-anchor="end" '
            f'dominant-baseline="central">{escape(text)}</text>'
        )
    xs, axis = _month_axis(tuple(axis_texts), left, right)
    parts.append(axis)
    escaped = [escape(label) for label in labels]
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
            point = (xs[index], y_of(value))
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
        name = escape(line.name)
        for index, value in enumerate(values):
            if value is None:
                continue
            hollow = " hollow" if labels[index] in incomplete else ""
            shown = texts[number][index]
            note = " (incomplete month)" if hollow else ""
            parts.append(
                f'<circle class="point {colour}{hollow}" cx="{xs[index]:.1f}" cy="{y_of(value):.1f}" r="4">'
                f"<title>{name}, {escaped[index]}: {escape(shown)}{note}</title></circle>"
            )
        parts.append("</g>")
    parts.append("</svg>")
    return Markup("".join(parts))


#: A day column's note by (weekend, in progress).
_DAY_NOTES = {
    (False, False): "", (True, False): " (weekend)",
    (False, True): " (in progress: the day was not over when fetched)",
    (True, True): " (weekend; in progress: the day was not over when fetched)",
}

#: A day column's classes by (weekend, in progress).
_DAY_CLASSES = {
    (weekend, in_progress): "day-bar s0" + (" weekend" if weekend else "") + (" partial" if in_progress else "")
    for weekend in (False, True) for in_progress in (False, True)
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
    # (each day's text is its tooltip's: a compact chart has none)
    texts = (shown_values(chart)[0] if chart.series else []) if not compact else [""] * len(values)
    scaled = [_scaled(value, chart.unit) for value in values]
    ticks = nice_ticks(max([v for v in scaled if v is not None], default=0.0))
    high = ticks[-1] or 1.0
    tick_texts, left = _y_axis(ticks, chart.unit)
    axis = _day_axis(tuple(labels), left)
    right, bar = axis.right, axis.bar
    top_margin, plot_h = 20, LINE_HEIGHT - 20 - (X_LABEL_DROP + 10)
    parts = _open_svg(chart, id_prefix, LINE_HEIGHT)
    for tick, text in zip(ticks, tick_texts):
        y = top_margin + plot_h - tick / high * plot_h
        parts.append(
            f'<line class="grid" x1="{left:.1f}" x2="{WIDTH - right:.1f}" y1="{y:.1f}" y2="{y:.1f}"/>'
            f'<text class="axis-label" x="{left - 6:.1f}" y="{y:.1f}" text-anchor="end" '
            f'dominant-baseline="central">{escape(text)}</text>'
        )
    parts.append(axis.labels)
    base = top_margin + plot_h
    if compact:
        parts += _compact_columns(labels, scaled, partial, axis, base, high, plot_h)
    for index, (label, value, amount, shown) in enumerate(zip(labels, values, scaled, texts)):
        if compact:
            break
        x = axis.xs[index]
        title, _, weekend = _day_parts(label)
        if value is None:
            parts.append(f'<g class="day missing"><title>{title}: not fetched</title>'
                         f'<rect class="missing" x="{x:.1f}" y="{base - 2:.1f}" width="{bar:.1f}" height="2"/></g>')
            continue
        in_progress = label in partial
        column = max(amount or 0.0, 0.0) / high * plot_h
        parts.append(
            f'<g class="day"><title>{title}: {shown}{_DAY_NOTES[weekend, in_progress]}</title>'  # (money text needs no escaping)
            f'<rect class="{_DAY_CLASSES[weekend, in_progress]}" x="{x:.1f}" y="{base - column:.1f}" '
            f'width="{bar:.1f}" height="{max(column, 0.5):.1f}"/></g>'
        )
    parts.append("</svg>")
    return Markup("".join(parts))


class _DayAxis(NamedTuple):
    """A daily chart's x axis: what the days and the left margin (the width of the scale's texts) decide."""

    right: float
    #: A column's width.
    bar: float
    #: The day labels under the plot (every few days), as SVG.
    labels: str
    #: Each day's column: its left edge, and as a compact chart's path starts it (``M12.3 ``).
    xs: tuple[float, ...]
    starts: tuple[str, ...]
    weekends: tuple[bool, ...]


@lru_cache(maxsize=64)
def _day_axis(labels: tuple[str, ...], left: float) -> _DayAxis:
    """The x axis of a daily chart of ``labels`` whose plot starts at ``left``: the same for every page's
    chart of the same days and scale width (a few widths among a thousand pages), so worked out once."""
    axis = [_day_parts(label)[1] for label in labels]
    right = max(16.0, _text_width(axis[-1]) / 2 + 4) if axis else 16.0
    bottom = X_LABEL_DROP + 10
    slot = (WIDTH - left - right) / max(len(labels), 1)
    bar = max(slot * 0.72, 1.0)
    every = max(1, math.ceil(len(labels) / 8))
    centres = [left + (index + 0.5) * slot for index in range(len(labels))]
    texts = "".join(f'<text class="{classes}" x="{x:.1f}" y="{LINE_HEIGHT - bottom + X_LABEL_DROP}" '
                    f'text-anchor="middle">{text}</text>'
                    for x, text, classes in zip(centres, axis, axis_label_classes(centres, axis, every)) if classes)
    xs = tuple(left + index * slot + (slot - bar) / 2 for index in range(len(labels)))
    return _DayAxis(right, bar, texts, xs, tuple(f"M{x:.1f} " for x in xs),
                    tuple(_day_parts(label)[2] for label in labels))


def _compact_columns(labels: Sequence[str], scaled: Sequence[float | None], partial: Collection[str],
                     axis: _DayAxis, base: float, high: float, plot_h: float) -> list[str]:
    """A compact daily chart's columns: one ``<path>`` per shade, in the order the shades first appear;
    a quiet day a sliver, a day not fetched a line on the axis."""
    shapes: dict[str, list[str]] = {}
    across, back = f"h{axis.bar:.1f}v", f"h{-axis.bar:.1f}z"  # (the same for every column)
    missing = f"{base - 2:.1f}{across}2{back}"
    for label, amount, start, weekend in zip(labels, scaled, axis.starts, axis.weekends):
        if amount is None:
            shapes.setdefault("missing", []).append(start + missing)
            continue
        column = max(amount, 0.0) / high * plot_h
        drawn = max(column, 0.5)
        shapes.setdefault(_DAY_CLASSES[weekend, label in partial], []).append(
            f"{start}{base - drawn:.1f}{across}{drawn:.1f}{back}")
    return [f'<path class="{classes}" d="{"".join(segments)}"/>' for classes, segments in shapes.items()]


#: The key of a daily chart: what its shades mean.
DAILY_KEY = (("day-bar s0", "weekday"), ("day-bar s0 weekend", "weekend"), ("day-bar s0 partial", "in progress"))


#: A series name in a chart's key is cut to this many characters (the key is for the eye alone: the
#: table of the chart's numbers beside it, which assistive technology reads, has every name whole).
LEGEND_NAME_LIMIT = 60


def legend_keys(chart: Chart) -> list[tuple[str, str]]:
    """The chart's key as (CSS classes of a swatch, name), for the page to show beside the drawing
    (as text that wraps at any width; a long name cut, :data:`LEGEND_NAME_LIMIT`): a daily chart's
    shades, a line chart's series (when there are several), nothing for a bar chart."""
    if chart.kind == "daily":
        return list(DAILY_KEY)
    if chart.kind == "line" and len(chart.series) > 1:
        return [(f"s{number % 8}", shortened(series.name, LEGEND_NAME_LIMIT)) for number, series in enumerate(chart.series)]
    if chart.kind == "stacked":
        return [(stack_class(number, series.name), shortened(series.name, LEGEND_NAME_LIMIT))
                for number, series in enumerate(chart.series)]
    if chart.kind == "waterfall":
        return list(WATERFALL_KEY)
    return []


def chart_rows(chart: Chart, indices: Sequence[int] | None = None) -> tuple[list[str], list[list[str]]]:
    """The chart's numbers as a small table: a header and one row per label (a stacked chart's
    rows end in their total, :func:`stacked_totals`); ``indices``: only the rows of those labels
    (a compact daily chart's days with spend), each value's text made only for them."""
    header = [""] + [series.name for series in chart.series]
    picked = range(len(chart.labels)) if indices is None else indices
    if chart.kind == "waterfall":  # (a step's text depends on its place among the values)
        texts = [[values[index] if index < len(values) else "" for index in picked] for values in shown_values(chart)]
    else:
        shown = _shown_as(chart.unit)
        texts = [[shown(series.values[index]) if index < len(series.values) else "" for index in picked]
                 for series in chart.series]
    rows = [[str(chart.labels[index])] + [column[number] for column in texts] for number, index in enumerate(picked)]
    if chart.kind == "stacked":
        header.append("Total")
        totals = stacked_totals(chart)
        for row, index in zip(rows, picked):
            row.append(_shown(totals[index], chart.unit))
    return header, rows


# --- stacked columns -------------------------------------------------------------------------
#
# A stacked chart is drawn for the width it is shown at: its x positions are percentages of the
# page's width, its y positions pixels, and it has no viewBox, so nothing scales its text (12 px
# on a phone as on a desktop). Its key is the page's HTML list (:func:`legend_keys`), which wraps like text.

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
    """A column per label, a segment per series from the bottom up (its key: :func:`legend_keys`).

    A column's tooltip gives its total and
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

    parts = [  # hidden from assistive technology, which reads the table of its numbers (its key: legend_keys)
        f'<svg class="chart chart-stacked" id="{id_prefix}-svg" width="100%" height="{STACKED_HEIGHT}" '
        f'aria-hidden="true" focusable="false" xmlns="http://www.w3.org/2000/svg">',
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


# --- waterfall ---------------------------------------------------------------------------------
#
# Drawn as the bar chart is, a row per label (the label above its bar: long names stay readable on a
# phone), each bar floating from where the one before it ended.

#: The key of a waterfall: what its colours mean (classes of the palette every theme sets).
WATERFALL_KEY = (("s0", "total"), ("s1", "rise"), ("s2", "fall"))


def _waterfall_texts(values: Sequence[int | float | None], unit: str) -> list[str]:
    """The first and last values (totals) as every table shows them, the steps between with their sign."""
    texts = []
    for index, value in enumerate(values):
        text = _shown(value, unit)
        if 0 < index < len(values) - 1 and value is not None and value > 0 and unit != "change":
            text = "+" + text
        texts.append(text)
    return texts


def waterfall_spans(values: Sequence[int | float | None]) -> list[tuple[float, float, str]]:
    """Each bar's ``(start, end, colour class)``: the first and last values are totals, drawn from
    zero; each value between is a step from the running total (``None``: a step of nothing). A step
    of nothing has no colour (``""``): no bar is drawn for it, only its value.

    >>> waterfall_spans([10, 5, -3, 0, 12])
    [(0, 10, 's0'), (10, 15, 's1'), (15, 12, 's2'), (12, 12, ''), (0, 12, 's0')]
    """
    spans: list[tuple[float, float, str]] = []
    running: float = 0
    for index, value in enumerate(values):
        amount = value or 0
        if index in (0, len(values) - 1):
            spans.append((0, amount, "s0"))
            running = amount
        else:
            spans.append((running, running + amount, "s1" if amount > 0 else "s2" if amount < 0 else ""))
            running += amount
    return spans


def waterfall_chart(chart: Chart, id_prefix: str) -> Markup:
    """A row per label: the first value (a starting total) and the last (the ending total) as bars
    from zero, the steps between as bars from the running total (rises and falls in their colours,
    :data:`WATERFALL_KEY`), a thin line carrying each bar's end to the next; every bar has its value
    beside it, which the plot leaves room for at the phone size. A step of nothing draws no bar (a
    sliver in the totals' colour would read as a total), only its value."""
    values = list(chart.series[0].values) if chart.series else []
    texts = shown_values(chart)[0] if chart.series else []
    labels = [str(label) for label in chart.labels]
    spans = [(_scaled(start, chart.unit) or 0.0, _scaled(end, chart.unit) or 0.0, colour)
             for start, end, colour in waterfall_spans(values)]
    low = min([0.0, *(min(start, end) for start, end, _ in spans)])
    high = max([0.0, *(max(start, end) for start, end, _ in spans)])
    span = (high - low) or 1.0
    plot = WIDTH - 8 - max((_text_width(text) for text in texts), default=0.0)

    def x_of(amount: float) -> float:
        return (amount - low) / span * plot

    height = max(len(labels), 1) * BAR_ROW + 6
    parts = _open_svg(chart, id_prefix, height)
    if not labels:
        parts.append(f'<text class="chart-empty" x="{WIDTH / 2}" y="24" text-anchor="middle">No data</text>')
    if low < 0:
        parts.append(f'<line class="grid" x1="{x_of(0):.1f}" x2="{x_of(0):.1f}" y1="0" y2="{height:.0f}"/>')
    for index, (label, (start, end, colour), shown) in enumerate(zip(labels, spans, texts)):
        y = index * BAR_ROW
        left, right = x_of(min(start, end)), x_of(max(start, end))
        short = label if len(label) <= LABEL_CHARS else label[: LABEL_CHARS - 1] + "\u2026"
        bar_y = y + 31
        bar = (f'<rect class="bar {colour}" x="{left:.1f}" y="{bar_y}" width="{max(right - left, 1.5):.1f}" '
               f'height="{BAR_HEIGHT}" rx="2"/>' if colour else "")
        parts.append(
            f'<g class="waterfall-row"><title>{escape(label)}: {escape(shown)}</title>'
            f'<text class="axis-label" x="0" y="{y + 21}">{escape(short)}</text>{bar}'
            f'<text class="bar-value" x="{max(right, left + 1.5) + 6:.1f}" y="{bar_y + BAR_HEIGHT / 2:.1f}" '
            f'dominant-baseline="central">{escape(shown)}</text></g>'
        )
        if index + 1 < len(spans):  # the running total carried down to the next bar
            carried = x_of(end)
            parts.append(f'<line class="waterfall-link" x1="{carried:.1f}" x2="{carried:.1f}" '
                         f'y1="{bar_y + BAR_HEIGHT}" y2="{bar_y + BAR_ROW}"/>')
    parts.append("</svg>")
    return Markup("".join(parts))


__all__ = ["WATERFALL_KEY", "axis_label_classes", "chart_rows", "legend_keys", "nice_ticks", "render_chart",
           "stacked_chart", "stacked_totals", "waterfall_chart", "waterfall_spans"]
