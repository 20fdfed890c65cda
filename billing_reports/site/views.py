"""What templates iterate over: tables, charts and figures turned into ready cells.

Cells are rendered here, in Python, once per value: a user or model name
becomes a link to its page, a month key its label (marked when incomplete),
money ``$1,234.56``. Each cell also carries the value the table sorts by.
"""

from __future__ import annotations

import base64
from dataclasses import dataclass, field, replace
from functools import cached_property, lru_cache
from typing import Any, Callable, Collection, Mapping, Sequence

from markupsafe import Markup, escape

from ..cursor_figures import Member
from ..money import format_cents, format_unit_price
from ..months import Month
from ..sections import NUMERIC_KINDS, ROUNDED_SEPARATELY, Chart, Column, Figure, Table, format_value
from ..periods import day_text
from .charts import INCOMPLETE_MARK, chart_rows, legend_keys, render_chart
from .names import PageNames, slugify

NAMED_KINDS = {"user", "model", "month", "day"}
#: Cells of these kinds never break inside a name (``claude-4.6-`` / ``opus-`` ...): a wide table scrolls instead.
UNBROKEN_KINDS = {"user", "model"}
#: The ``class`` attribute of a table cell by its column's kind (with its leading space).
CELL_CLASSES = {**dict.fromkeys(NUMERIC_KINDS, ' class="num"'), **dict.fromkeys(UNBROKEN_KINDS, ' class="name"')}
INCOMPLETE_NOTE = "fetched before the month ended: its figures may still grow"


@dataclass
class SiteMap:
    """Where every page of the site is, as paths relative to the site root."""

    index: str
    users: PageNames
    models: PageNames
    sections: dict[str, str] = field(default_factory=dict)
    #: Month keys (``2026-02``) of incomplete months.
    incomplete: frozenset[str] = frozenset()
    #: Month keys of months in range without a cache file (their figures are unknown).
    missing: frozenset[str] = frozenset()
    #: Days (``2026-02-14``) not over when their month was last fetched: their figures may grow.
    partial_days: frozenset[str] = frozenset()
    #: Cursor's member list (``/teams/members``) by email: a user's display name and whether removed.
    members: Mapping[str, Member] = field(default_factory=dict)

    def user_path(self, name: str) -> str | None:
        return f"users/{self.users.slug(name)}.html" if name in self.users else None

    def model_path(self, name: str) -> str | None:
        return f"models/{self.models.slug(name)}.html" if name in self.models else None

    @cached_property
    def incomplete_labels(self) -> frozenset[str]:
        """Every way a chart may label an incomplete month (key, label, short label)."""
        labels: set[str] = set()
        for key in self.incomplete:
            month = Month.parse(key)
            labels |= {key, month.label, month.short_label}
        return frozenset(labels)


def _month_text(value: Any) -> tuple[str, bool]:
    """A month key's short label (``Jan 2026``) and ``True``; anything else as text and ``False``."""
    return _month_text_of(str(value))


@lru_cache(maxsize=4096)
def _month_text_of(text: str) -> tuple[str, bool]:
    # (the same few months label every page's charts and tables)
    try:
        month = Month.parse(text)
    except ValueError:
        return text, False
    return month.short_label, True


#: Beside a month without a cache file: its blank figures are unknown, not zero.
NOT_FETCHED_FLAG = Markup(' <span class="flag" title="no cache file for this month: its figures are unknown, not '
                          'zero; run billing-reports fetch">not fetched</span>')
#: Beside a day that was not over when its data was fetched.
IN_PROGRESS_FLAG = Markup(' <span class="flag" title="the day was not over when its data was fetched: its figures '
                          'may still grow">in progress</span>')


#: Beside a user Cursor's member list marks as removed from the team.
REMOVED_FLAG = Markup(' <span class="flag" title="removed from the team in Cursor: their spend stays in every '
                      'total">removed</span>')


def member_note(member: Member | None) -> Markup:
    """What follows a user's email wherever the site names them: Cursor's display name (untrusted
    text, escaped) and a flag if removed; nothing for a user Cursor's list does not know."""
    if member is None:
        return Markup("")
    name = Markup(' <span class="member-name">{}</span>').format(member.name) if member.name else Markup("")
    return name + (REMOVED_FLAG if member.removed else Markup(""))


def incomplete_flag() -> Markup:
    return Markup(f' <span class="flag" title="{INCOMPLETE_NOTE}">incomplete</span>')


#: The common numbers of a table's body, by their column's kind: the type they come as and their
#: text (as :func:`~billing_reports.sections.format_value` writes it for display rows: money in
#: whole cents). A number's text and its ``repr`` (the sort key) hold nothing to escape.
_PLAIN_NUMBERS: dict[str, tuple[type, Callable[[Any], str]]] = {
    "money": (int, format_cents),
    "count": (int, "{:,}".format),
    "unit_price": (int, format_unit_price),
    "percent": (float, "{:,.1f}%".format),
}


class CellRenderer:
    """Renders values of any kind for pages at one depth (``root`` is ``""`` or ``"../"``)."""

    def __init__(self, site: SiteMap, root: str) -> None:
        self.site = site
        self.root = root
        #: Cells of names and months, rendered once per value: the same thousand names fill every page.
        self._named: dict[tuple[Any, str], Markup] = {}
        #: Each kind's cell maker (:meth:`column_cells`).
        self._column_cells: dict[str, Callable[[Any], str]] = {}
        self._row_headings: dict[str, Markup] = {}

    def link(self, path: str | None, text: str) -> Markup:
        if path is None:
            return escape(text)
        return Markup(f'<a href="{escape(self.root + path)}">{escape(text)}</a>')

    def name_href(self, label: str) -> str | None:
        """The page of the user or model a chart label names, relative to this page (or ``None``)."""
        path = self.site.user_path(label) or self.site.model_path(label)
        return self.root + path if path else None

    def name_link(self, label: str) -> Markup:
        """A chart label: a link when it names a user or a model of the site, else text."""
        path = self.site.user_path(label) or self.site.model_path(label)
        return self.link(path, label)

    def row_heading(self, label: str) -> Markup:
        """A row's heading in the table of a chart's numbers: :meth:`name_link`, flagged when it is an
        incomplete month (made once per label: the same months head every page's chart)."""
        found = self._row_headings.get(label)
        if found is None:
            flag = incomplete_flag() if label in self.site.incomplete_labels else Markup("")
            found = self._row_headings[label] = self.name_link(label) + flag
        return found

    def html(self, value: Any, kind: str, *, whole_cents: bool = False) -> Markup:
        if value is None:
            return Markup("")
        if kind in NUMERIC_KINDS:
            # Formatted numbers ($1,234.56, 12.5%) hold no character that needs escaping.
            return Markup(format_value(value, kind, whole_cents=whole_cents))
        if kind in NAMED_KINDS and type(value) is str:
            key = (value, kind)
            cell = self._named.get(key)
            if cell is None:
                cell = self._named[key] = self._named_html(value, kind)
            return cell
        return escape(format_value(value, kind, whole_cents=whole_cents))

    def _named_html(self, value: Any, kind: str) -> Markup:
        if kind == "user":
            return self.link(self.site.user_path(str(value)), str(value)) + member_note(self.site.members.get(str(value)))
        if kind == "model":
            return self.link(self.site.model_path(str(value)), str(value))
        if kind == "month":
            text, is_month = _month_text(value)
            flag = incomplete_flag() if is_month and str(value) in self.site.incomplete else Markup("")
            if is_month and str(value) in self.site.missing:
                flag = NOT_FETCHED_FLAG
            return escape(text) + flag
        if kind == "day":
            flag = IN_PROGRESS_FLAG if str(value) in self.site.partial_days else Markup("")
            return escape(day_text(str(value))) + flag
        raise ValueError(kind)

    def td(self, value: Any, kind: str) -> str:
        """A body cell of display rows (money in whole cents): its ``<td>`` with the sort key."""
        return self.column_cells(kind)(value)

    def column_cells(self, kind: str) -> Callable[[Any], str]:
        """:meth:`td` for the cells of one column (of ``kind``): the common values made directly
        (a number's text needs no escaping; the same names recur on every page), any other
        the general way (:meth:`_td`). A table's body is most of a page's cells: each column
        picks its way once."""
        found = self._column_cells.get(kind)
        if found is None:
            found = self._column_cells[kind] = self._column_cells_of(kind)
        return found

    def _column_cells_of(self, kind: str) -> Callable[[Any], str]:
        general = self._td
        blank = f'<td{CELL_CLASSES.get(kind, "")} data-sort=""></td>'

        if kind in NAMED_KINDS:
            named: dict[str, str] = {}

            def cell(value: Any) -> str:
                if type(value) is not str:
                    return blank if value is None else general(value, kind)
                found = named.get(value)
                if found is None:
                    found = named[value] = general(value, kind)
                return found
            return cell
        plain = _PLAIN_NUMBERS.get(kind)
        if plain is None:
            return lambda value: blank if value is None else general(value, kind)
        number_type, text = plain

        def cell(value: Any) -> str:
            if type(value) is number_type:
                return f'<td class="num" data-sort="{value!r}">{text(value)}</td>'
            return blank if value is None else general(value, kind)
        return cell

    def linked_td(self, value: Any, kind: str, links: Mapping[str, str]) -> str:
        """:meth:`td`, the text linked to the page of the section ``links`` names for it (if any)."""
        path = self.site.sections.get(links.get(value, "")) if links and type(value) is str else None
        if path is None:
            return self.td(value, kind)
        return f'<td{CELL_CLASSES.get(kind, "")} data-sort="{escape(self.sort_key(value, kind))}">{self.link(path, value)}</td>'

    def _td(self, value: Any, kind: str) -> str:
        sort = escape(self.sort_key(value, kind))
        return f'<td{CELL_CLASSES.get(kind, "")} data-sort="{sort}">{self.html(value, kind, whole_cents=True)}</td>'

    @staticmethod
    def sort_key(value: Any, kind: str) -> str:
        if value is None:
            return ""
        if kind in NUMERIC_KINDS and isinstance(value, (int, float)):
            return repr(value)
        return str(value).lower()


@dataclass(frozen=True)
class ColumnView:
    label: str
    kind: str
    #: The column holds an incomplete month (a month-by-month table).
    incomplete: bool = False
    #: ``ascending``/``descending``: the table's rows are already in order of this column (``aria-sort``).
    aria_sort: str | None = None

    @property
    def numeric(self) -> bool:
        return self.kind in NUMERIC_KINDS


@dataclass(frozen=True)
class TableView:
    id: str
    title: str
    description: str
    columns: list[ColumnView]
    #: The ``<tr>`` rows of ``<tbody>``, each cell with its ``data-sort`` key.
    body: Markup
    row_count: int
    #: The total row's ``<tr>`` (``None`` without a total).
    footer: Markup | None
    csv_href: str | None
    json_href: str | None
    #: The table is one incomplete month's (its title is the month).
    incomplete: bool = False
    #: The names the downloads are saved under (``download`` attributes).
    csv_name: str | None = None
    json_name: str | None = None
    #: The footnote under the table when its rounded rows do not add up to its rounded total.
    rounding_note: str | None = None
    #: The column the rows are already in order of, and how (``aria-sort``): ``(index, "ascending")``.
    sorted_by: tuple[int, str] | None = None
    #: The 1-based column kept in view when the table scrolls sideways (the name, or the first).
    sticky_column: int = 1

    def aria_sort(self, index: int) -> str | None:
        """``ascending``/``descending`` for the column the rows are in order of, else ``None``."""
        return self.sorted_by[1] if self.sorted_by and self.sorted_by[0] == index else None


@dataclass(frozen=True)
class Downloads:
    """Where a table's CSV and JSON are: files of the site, or (for a small table) in the page itself."""

    csv_href: str
    json_href: str
    csv_name: str
    json_name: str

    @classmethod
    def files(cls, root: str, stem: str) -> "Downloads":
        """``data/models/opus--users.csv`` and ``.json`` (``stem``), from a page ``root`` deep."""
        name = stem.rsplit("/", 1)[-1]
        return cls(f"{root}{stem}.csv", f"{root}{stem}.json", f"{name}.csv", f"{name}.json")

    @classmethod
    def embedded(cls, stem: str, csv_text: str, json_bytes: bytes) -> "Downloads":
        """``data:`` links holding the files that would be at ``stem`` (saved under the same names):
        no file to write."""
        name = stem.rsplit("/", 1)[-1]
        return cls(
            "data:text/csv;charset=utf-8;base64," + base64.b64encode(csv_text.encode("utf-8")).decode("ascii"),
            "data:application/json;base64," + base64.b64encode(json_bytes).decode("ascii"),
            f"{name}.csv", f"{name}.json",
        )


def table_view(
    table: Table, cells: CellRenderer, *, table_id: str, downloads: Downloads | None = None,
    limit: int | None = None, max_columns: int | None = None,
    display: tuple[list[list[Any]], list[Any] | None] | None = None,
) -> TableView:
    """A table ready for ``_table.html``, with links to its CSV/JSON ``downloads``;
    ``display``: ``table.display_rows()`` when the caller has it already. ``limit`` keeps the first
    rows, or the last ones of a table by month (first column of kind ``month``, oldest first)."""
    display = display if display is not None else table.display_rows()
    rows, total = display
    rounding_note = ROUNDED_SEPARATELY if limit is None and table.rounded_separately(display) else None
    if limit is not None:
        # Months and days run oldest first: a preview keeps the newest (the ones a reader wants), in order.
        by_month = bool(table.columns) and table.columns[0].kind in ("month", "day")
        rows = (rows[-limit:] if limit else []) if by_month else rows[:limit]
    keep = glance_columns(table.columns, max_columns) if max_columns else list(range(len(table.columns)))
    if len(keep) < len(table.columns):
        rows = [[row[i] for i in keep] for row in rows]
        total = [total[i] for i in keep] if total is not None else None
    columns = [table.columns[i] for i in keep]
    kinds = [column.kind for column in columns]
    incomplete = cells.site.incomplete_labels
    # The hot path of the big tables: each row in one pass, each cell one string.
    links = [column.links for column in columns]
    if any(links):  # cells naming another section's page link to it
        body = "\n".join(["<tr>" + "".join(map(cells.linked_td, row, kinds, links)) + "</tr>" for row in rows])
    else:
        makers = [cells.column_cells(kind) for kind in kinds]
        body = "\n".join(["<tr>" + "".join([cell(value) for cell, value in zip(makers, row)]) + "</tr>"
                          for row in rows])
    footer = None
    if total is not None and limit is None:
        footer = Markup("<tr>" + "".join(
            f'<td{CELL_CLASSES.get(kind, "")}>{cells.html(value, kind, whole_cents=True)}</td>'
            for value, kind in zip(total, kinds)) + "</tr>")
    order = sorted_by(rows, kinds)
    column_views = [_column_view(column, incomplete) for column in columns]
    if order is not None:
        column_views[order[0]] = replace(column_views[order[0]], aria_sort=order[1])
    return TableView(
        sorted_by=order,
        sticky_column=sticky_column(kinds),
        id=table_id,
        title=table.title,
        description=table.description,
        columns=column_views,
        body=Markup(body),
        row_count=len(rows),
        footer=footer,
        csv_href=downloads.csv_href if downloads else None,
        json_href=downloads.json_href if downloads else None,
        incomplete=table.title in incomplete,
        csv_name=downloads.csv_name if downloads else None,
        json_name=downloads.json_name if downloads else None,
        rounding_note=rounding_note,
    )


#: Columns whose order a reader takes for the table's order: numbers, months and days.
ORDERED_KINDS = NUMERIC_KINDS | {"month", "day"}


def sorted_by(rows: Sequence[Sequence[Any]], kinds: Sequence[str]) -> tuple[int, str] | None:
    """The first column (of numbers, months or days) the rows are already in order of, and whether
    up or down: what ``aria-sort`` says before anyone sorts. Blank cells and one value throughout
    say nothing.

    >>> sorted_by([[1, "b", 30], [2, "a", 20], [3, "c", 20]], ["count", "user", "money"])
    (0, 'ascending')
    >>> sorted_by([["a", 30], ["b", 20]], ["user", "money"])
    (1, 'descending')
    >>> sorted_by([["a", 1], ["b", 3], ["c", 2]], ["user", "money"]) is None
    True
    """
    for index, kind in enumerate(kinds):
        if kind not in ORDERED_KINDS:
            continue
        values = [row[index] for row in rows]
        if len(values) < 2 or any(value is None for value in values) or len(set(values)) < 2:
            continue
        try:
            pairs = list(zip(values, values[1:]))
            if all(a <= b for a, b in pairs):
                return index, "ascending"
            if all(a >= b for a, b in pairs):
                return index, "descending"
        except TypeError:  # values that do not compare (a plugin's mixed column)
            continue
    return None


def sticky_column(kinds: Sequence[str]) -> int:
    """The 1-based column that stays in view when a wide table scrolls sideways: the name after
    a rank (``#``, User), else the first.

    >>> sticky_column(["count", "user", "money"]), sticky_column(["model", "money"])
    (2, 1)
    """
    return 2 if len(kinds) > 1 and kinds[0] in NUMERIC_KINDS and kinds[1] not in NUMERIC_KINDS else 1


def _column_view(column: Column, incomplete: Collection[str]) -> ColumnView:
    """A column's header; one of an incomplete month is flagged once, even if its label carries the mark."""
    label = column.label
    flagged = bool({column.key, label, label.removesuffix(INCOMPLETE_MARK)} & incomplete)
    if flagged:
        label = label.removesuffix(INCOMPLETE_MARK).rstrip()
    return ColumnView(label, column.kind, flagged)


def glance_columns(columns: Sequence[Column], limit: int) -> list[int]:
    """Which columns a short preview keeps: the leading labels (a rank, a name), the first money
    column, shares, other money, then the rest.

    >>> kinds = ["model", "count", "count", "money", "count"]
    >>> glance_columns([Column(str(i), str(i), kind) for i, kind in enumerate(kinds)], 4)
    [0, 1, 2, 3]
    >>> kinds = ["count", "user", "money", "money", "percent"]
    >>> glance_columns([Column(str(i), str(i), kind) for i, kind in enumerate(kinds)], 4)
    [0, 1, 2, 4]
    """
    leading = [i for i in range(min(2, len(columns))) if i == 0 or columns[i].kind not in NUMERIC_KINDS]
    money = [i for i, column in enumerate(columns) if column.kind == "money" and i not in leading]
    percent = [i for i, column in enumerate(columns) if column.kind == "percent" and i not in leading]
    rest = [i for i in range(len(columns)) if i not in leading + money + percent]
    return sorted((leading + money[:1] + percent + money[1:] + rest)[:limit])


@dataclass(frozen=True)
class ChartView:
    id: str
    title: str
    description: str
    svg: Markup
    #: The data table's column heads: series names, linked when they name a user or model of the site.
    header: list[Markup]
    rows: list[list[Markup]]
    has_incomplete: bool
    #: The key shown with the drawing: (CSS classes of a swatch, name) per series or shade.
    legend: list[tuple[str, str]] = field(default_factory=list)

    @cached_property
    def body(self) -> Markup:
        """The data table's ``<tr>`` rows in one string (each row a heading cell, then numbers)."""
        return Markup("\n".join([
            f'<tr><th scope="row">{row[0]}</th>' + "".join([f'<td class="num">{cell}</td>' for cell in row[1:]])
            + "</tr>" for row in self.rows]))

    @property
    def stacked(self) -> bool:
        """More than two series, or more rows than sit beside the drawing: the data table goes
        under the chart, where all its columns fit; beside it, it is shown whole."""
        return len(self.header) > 3 or len(self.rows) > BESIDE_ROWS

    @property
    def folded(self) -> bool:
        """A long table of numbers (a daily chart's days) under the chart, folded: open, it shows whole."""
        return len(self.rows) > BESIDE_ROWS


#: The most rows of numbers shown beside a chart (about its height); more go under it, folded.
BESIDE_ROWS = 12


def _corner(labels: Sequence[Any], cells: "CellRenderer") -> str:
    """The heading of a chart table's first column: what its labels are."""
    if labels and all(_month_text(label)[1] for label in labels):
        return "Month"
    if labels and all(cells.site.user_path(str(label)) for label in labels):
        return "User"
    if labels and all(cells.site.model_path(str(label)) for label in labels):
        return "Model"
    return "Item"


def _value_html(chart: Chart) -> Callable[[str], Markup]:
    """How the texts of a chart's values (:func:`~.charts.chart_rows`) become HTML: a number's text (a
    chart of a numeric unit) holds nothing to escape, as in a table's cells; any other is escaped."""
    return Markup if chart.unit in NUMERIC_KINDS else escape


def _readable_months(chart: Chart) -> Chart:
    """The chart with ``2026-01`` labels shown as ``Jan 2026``."""
    labels = [_month_text(label)[0] for label in chart.labels]
    return replace(chart, labels=labels) if labels != list(chart.labels) else chart


def chart_view(chart: Chart, cells: CellRenderer, *, chart_id: str, compact: bool = False) -> ChartView:
    """``compact``: a daily chart drawn lean, its table listing only the days with spend (on the
    thousand user and model pages, where each chart's full detail costs render time and bytes)."""
    if chart.kind == "daily":
        return _daily_chart_view(chart, cells, chart_id=chart_id, compact=compact)
    incomplete = cells.site.incomplete_labels
    corner = _corner(chart.labels, cells)
    chart = _readable_months(chart)
    header, rows = chart_rows(chart)
    html = _value_html(chart)
    marked = [[cells.row_heading(row[0])] + [html(value) for value in row[1:]] for row in rows]
    return ChartView(
        id=chart_id,
        title=chart.title,
        description=chart.description,
        svg=render_chart(chart, id_prefix=chart_id, incomplete=incomplete, href_of=cells.name_href),
        # A Chart says not what its series are: a series named like a user or model page links to it.
        header=[escape(corner)] + [cells.name_link(name) for name in header[1:]],
        rows=marked,
        has_incomplete=any(str(label) in incomplete for label in chart.labels),
        legend=legend_keys(chart),
    )


def _daily_chart_view(chart: Chart, cells: CellRenderer, *, chart_id: str, compact: bool = False) -> ChartView:
    """A daily chart: its days in the table as ``Sun 29 Nov 2026``, a day in progress flagged;
    ``compact``: only the days with spend (or not fetched) in the table."""
    partial = cells.site.partial_days
    if compact:
        values = chart.series[0].values if chart.series else []
        header, rows = chart_rows(chart, [index for index, (label, value) in enumerate(zip(chart.labels, values))
                                          if value != 0 or str(label) in partial])
    else:
        header, rows = chart_rows(chart)
    html = _value_html(chart)
    marked = [[cells.html(row[0], "day")] + [html(value) for value in row[1:]] for row in rows]
    return ChartView(
        id=chart_id,
        title=chart.title,
        description=chart.description,
        svg=render_chart(chart, id_prefix=chart_id, incomplete=partial, compact=compact),
        header=[escape("Day (UTC)")] + [escape(name) for name in header[1:]],
        rows=marked,
        has_incomplete=False,
        legend=legend_keys(chart),
    )


@dataclass(frozen=True)
class FigureView:
    label: str
    html: Markup
    note: str
    #: Text wraps between words (a list of model names); an amount or a count never breaks.
    words: bool = False


def figure_view(figure: Figure, cells: CellRenderer) -> FigureView:
    return FigureView(figure.label, cells.html(figure.value, figure.kind), figure.note, words=figure.kind == "text")


def unique_ids(slugs: Collection[str], prefix: str) -> list[str]:
    """Element ids for a page's tables or charts, unique even when slugs repeat."""
    seen: set[str] = set()
    ids = []
    for slug in slugs:
        base = f"{prefix}-{slugify(slug, 'item')}"
        candidate, counter = base, 2
        while candidate in seen:
            candidate = f"{base}-{counter}"
            counter += 1
        seen.add(candidate)
        ids.append(candidate)
    return ids


__all__ = ["CellRenderer", "Downloads", "SiteMap", "chart_view", "figure_view", "table_view", "INCOMPLETE_MARK"]
