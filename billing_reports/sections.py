"""What an analysis plugin returns: a small, typed, JSON-serialisable section.

A section never holds HTML. The site, the terminal report and the CSV/JSON
exports all render the same objects.

Money values in tables, figures and charts are ``int`` micro-cents (see
:mod:`billing_reports.money`); the column, figure or chart ``kind`` says so.
"""

from __future__ import annotations

import csv
import io
import json
from dataclasses import dataclass, field
from typing import Any, Callable, Literal, Mapping, Sequence

import orjson

from .money import exact_dollars, format_cents, format_unit_price, round_to_cents
from .periods import day_text

#: How a value is shown. ``user`` and ``model`` cells link to their pages on the site;
#: ``month`` cells hold a ``YYYY-MM`` key; ``percent`` cells hold a float (12.5 = 12.5 %);
#: ``change`` is money and ``growth`` a percentage shown with their sign (``+$4.30``, ``-1.2%``);
#: ``unit_price`` is money per request (micro-cents), too small for whole cents: shown to a
#: hundredth of a cent (``$0.0734``, :func:`~billing_reports.money.format_unit_price`);
#: ``day`` cells hold a UTC day ``YYYY-MM-DD`` (shown ``Sun 29 Nov 2026``).
ValueKind = Literal["text", "money", "change", "unit_price", "count", "percent", "growth", "decimal", "month",
                    "day", "user", "model"]
#: The kinds whose values are micro-cents (exact dollars in downloads, headed ``(USD)``).
MONEY_KINDS = frozenset({"money", "change", "unit_price"})
#: The money kinds shown rounded to the cent (a table's rows and total each on its own).
CENT_KINDS = frozenset({"money", "change"})
#: The kinds shown as numbers (right-aligned, sorted as numbers) on the site and in the terminal.
NUMERIC_KINDS = frozenset({*MONEY_KINDS, "count", "percent", "growth", "decimal"})
#: ``bar``: ranked categories; ``line``: months, a line per series; ``daily``: a column per UTC day;
#: ``stacked``: a column per month, each series a segment (the columns' heights are the months' totals);
#: ``waterfall``: a starting total, the steps from it and the ending total (the first series' values).
ChartKind = Literal["bar", "line", "daily", "stacked", "waterfall"]

#: What a section is to the pages and views that pick sections (the core never asks for a slug):
#:
#: - ``summary-cards``: its figures are cards at the top of the dashboard. A section of figures
#:   only (no table, no chart) has no page of its own: the dashboard shows its intro too.
#: - ``headline-trend``: its first line chart is the dashboard's trend chart, and ``report --by``
#:   prints the section after the text view.
#: - ``dashboard-preview``: the first rows of its first table are previewed on the dashboard,
#:   linking to its page.
#: - ``report-text``: ``report`` shows it in its default text view (in ``order``; ``text_view``
#:   may narrow it to some tables and columns).
SectionRole = Literal["summary-cards", "headline-trend", "dashboard-preview", "report-text"]
SUMMARY_CARDS: SectionRole = "summary-cards"
HEADLINE_TREND: SectionRole = "headline-trend"
DASHBOARD_PREVIEW: SectionRole = "dashboard-preview"
REPORT_TEXT: SectionRole = "report-text"
ROLES: frozenset[str] = frozenset({SUMMARY_CARDS, HEADLINE_TREND, DASHBOARD_PREVIEW, REPORT_TEXT})


def json_bytes(value: Any, *, indent: bool = False, default: Callable[[Any], Any] | None = None) -> bytes:
    """``value`` as JSON (UTF-8), exactly: orjson, or the standard library where a number exceeds
    what orjson can write (an integer beyond 64 bits, such as a sum of absurd token counts).

    ``indent``: two spaces per level, as ``report --format json`` prints; ``default``: as orjson's.
    """
    try:
        return orjson.dumps(value, default=default, option=orjson.OPT_INDENT_2 if indent else None)
    except orjson.JSONEncodeError as error:
        if "64-bit" not in str(error):
            raise
    separators = (",", ": ") if indent else (",", ":")
    return json.dumps(value, default=default, indent=2 if indent else None, separators=separators,
                      ensure_ascii=False).encode()

@dataclass(frozen=True)
class Column:
    key: str
    label: str
    kind: ValueKind = "text"
    #: Cell text -> the slug of a section whose page the site links that cell to (a group's name to
    #: its group's page, say); downloads and the terminal show the text alone.
    links: Mapping[str, str] = field(default_factory=dict, compare=False)


#: The footnote under a table whose rounded rows do not add up to its rounded total.
ROUNDED_SEPARATELY = "Amounts are rounded to the cent one by one, so the rows may not add up to the total exactly."

#: What a spreadsheet takes for the start of a formula in a CSV cell (OWASP, "CSV Injection").
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def spreadsheet_text(text: str) -> str:
    """A text cell of a CSV as a spreadsheet must show it: as text, never run as a formula (a user or
    model name comes from the API: ``=HYPERLINK(...)`` is a name like any other). A cell that would
    start a formula gets a leading single quote, as OWASP recommends. A carriage return becomes a
    line feed: the CSV writer quotes a field holding the one, not the other, and a reader would take
    a bare carriage return for the end of a row.

    >>> spreadsheet_text("=1+2"), spreadsheet_text("ann@example.com")
    ("'=1+2", 'ann@example.com')
    """
    if text.startswith(FORMULA_STARTS):
        text = "'" + text
    return text.replace("\r", "\n") if "\r" in text else text


@dataclass(frozen=True)
class Table:
    """Rows of values in ``columns`` order, optionally closed by a total row.

    Every money value is shown as its exact amount rounded half up to the cent,
    the total too: rows are never nudged to make a column add up (where they do
    not, :meth:`rounded_separately` says so and a footnote tells the reader).
    Downloads (:meth:`to_csv`, :meth:`to_json`) carry the exact amounts.
    """

    slug: str
    title: str
    columns: Sequence[Column]
    rows: Sequence[Sequence[Any]]
    total: Sequence[Any] | None = None
    description: str = ""
    #: The whole table, when this one is cut to be read on a page (a matrix's columns capped, the rest
    #: summed): its downloads (CSV, JSON, ``report --format json``) carry the whole one.
    full: Table | None = None

    def display_rows(self) -> tuple[list[list[Any]], list[Any] | None]:
        """Rows and total with money as whole cents, each rounded on its own."""
        money = [index for index, column in enumerate(self.columns) if column.kind in CENT_KINDS]
        rows = [list(row) for row in self.rows]
        total = list(self.total) if self.total is not None else None
        for line in (rows if total is None else [*rows, total]):
            for index in money:
                if line[index] is not None:
                    line[index] = round_to_cents(line[index])
        return rows, total

    def rounded_separately(self, display: tuple[list[list[Any]], list[Any] | None] | None = None) -> bool:
        """Whether a money column's shown rows do not add up to its shown total (``display``:
        :meth:`display_rows`, when the caller has it)."""
        rows, total = display if display is not None else self.display_rows()
        if total is None:
            return False
        return any(
            total[index] is not None and sum(row[index] or 0 for row in rows) != total[index]
            for index, column in enumerate(self.columns)
            if column.kind in CENT_KINDS
        )

    def export_columns(self) -> list[tuple[str, str]]:
        """``(JSON key, CSV heading)`` per column; money columns name their unit (``spend_usd``,
        ``Spend (USD)``)."""
        return [
            (f"{column.key}_usd", f"{column.label} (USD)") if column.kind in MONEY_KINDS
            else (column.key, column.label)
            for column in self.columns
        ]

    def export_rows(self) -> list[dict[str, Any]]:
        """Rows (then the total row, if any) as dicts; money as exact dollars, unrounded
        (``"1234.56789012"``), so a spreadsheet's SUM lands on the shown total."""
        keys = [key for key, _ in self.export_columns()]
        money = [index for index, column in enumerate(self.columns) if column.kind in MONEY_KINDS]
        lines = self.rows if self.total is None else [*self.rows, self.total]
        exported = []
        for line in lines:  # (each money cell converted in place: most cells are not money)
            values = list(line)
            for index in money:
                if index < len(values) and values[index] is not None:
                    values[index] = exact_dollars(values[index])
            exported.append(dict(zip(keys, values)))
        return exported

    def downloads(self) -> tuple[str, bytes]:
        """:meth:`to_csv` and :meth:`to_json` from one export of the rows.

        In the CSV, text that a spreadsheet would run as a formula is quoted (:func:`spreadsheet_text`):
        headings and the text cells, never a number or an exact-dollar amount (``-0.50000000`` is a
        number to a spreadsheet, and stays one). The JSON keeps every value as it is: a program reading
        it wants the names the API sent, and runs no formula. A cut table downloads as its :attr:`full`.
        """
        if self.full is not None:
            return self.full.downloads()
        exported = self.export_rows()
        buffer = io.StringIO()
        writer = csv.writer(buffer, lineterminator="\n")
        writer.writerow([spreadsheet_text(heading) for _, heading in self.export_columns()])
        text = [index for index, column in enumerate(self.columns) if column.kind not in MONEY_KINDS]
        lines = []
        for row in exported:  # (a blank for None; the text cells made safe in place)
            values = ["" if value is None else value for value in row.values()]
            for index in text:
                if index < len(values) and isinstance(values[index], str):
                    values[index] = spreadsheet_text(values[index])
            lines.append(values)
        writer.writerows(lines)
        return buffer.getvalue(), json_bytes(exported)

    def to_csv(self) -> str:
        """The table as CSV for a spreadsheet: a header of column labels, money in exact dollars, text
        that would start a formula quoted."""
        return self.downloads()[0]

    def to_json(self) -> bytes:
        """The table as a JSON array of row objects (money as exact dollar strings, text as it is)."""
        return self.downloads()[1]


@dataclass(frozen=True)
class Figure:
    """One headline number (a summary card)."""

    label: str
    value: Any
    kind: ValueKind = "text"
    note: str = ""

    def display(self) -> str:
        return format_value(self.value, self.kind)


@dataclass(frozen=True)
class Series:
    name: str
    values: Sequence[int | float | None]


@dataclass(frozen=True)
class Chart:
    """A chart the site draws as inline SVG; ``labels`` are the x categories.

    ``bar`` charts rank categories (one series), ``line`` charts follow
    months (one line per series), ``daily`` charts draw one column per UTC day
    (labels ``YYYY-MM-DD``, the first series; weekends and days still in progress
    told apart; ``None``: a day not fetched, left blank), ``stacked`` charts draw
    one column per month with a segment per series (the column is the month's
    total: give an "Other" series so that the series add up to it; ``None``: a
    month not fetched), ``waterfall`` charts draw a row per label: the first value a starting
    total, the last the ending total, each value between a step from the running total (shown
    with its sign; the steps should add up to the difference of the totals). ``unit`` is the kind
    of every value.
    """

    slug: str
    title: str
    description: str
    kind: ChartKind
    labels: Sequence[str]
    series: Sequence[Series]
    unit: ValueKind = "money"


@dataclass(frozen=True)
class TextView:
    """What the ``report`` text view shows of a ``report-text`` section: the tables (by slug) and
    their columns (by key), in the section's order; ``None``: all of them. The JSON and CSV
    formats always carry everything."""

    tables: Sequence[str] | None = None
    columns: Sequence[str] | None = None


@dataclass(frozen=True)
class Section:
    """One report section: a page of the site, a block of the terminal report.

    ``roles`` (see :data:`SectionRole`) say where else it appears: the dashboard's cards, its
    trend chart, its previews, the default text report. The core picks sections by role only.
    """

    slug: str
    title: str
    order: int
    intro: str = ""
    figures: Sequence[Figure] = ()
    tables: Sequence[Table] = ()
    charts: Sequence[Chart] = ()
    #: Name of a template the site renders this section with, instead of the generic one.
    template: str | None = None
    #: Free JSON-serialisable facts for a custom template.
    extra: dict[str, Any] = field(default_factory=dict)
    #: Where else the section appears (:data:`SectionRole` values).
    roles: Sequence[SectionRole] = ()
    #: With the ``report-text`` role: which of its tables and columns the text view shows.
    text_view: TextView = TextView()
    #: Whether every page's navigation links its page; ``False`` for a page reached from another
    #: section's table (see :attr:`Column.links`), such as one of many groups' pages.
    nav: bool = True

    def has_role(self, role: SectionRole) -> bool:
        return role in self.roles

    @property
    def has_own_page(self) -> bool:
        """Whether the site gives it a page: every section but one of summary cards alone (figures
        only), whose page the dashboard is."""
        return not (self.has_role(SUMMARY_CARDS) and not self.tables and not self.charts)

    def table(self, slug: str) -> Table:
        for table in self.tables:
            if table.slug == slug:
                return table
        raise KeyError(f"section {self.slug!r} has no table {slug!r}")

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready: tables as exported rows (money in dollars), figures as shown."""
        return {
            "slug": self.slug,
            "title": self.title,
            "order": self.order,
            "intro": self.intro,
            "figures": [
                {"label": f.label, "value": _json_value(f.value, f.kind), "display": f.display(),
                 "kind": f.kind, "note": f.note}
                for f in self.figures
            ],
            "tables": [_table_dict(t) for t in self.tables],
            "charts": [
                {
                    "slug": c.slug, "title": c.title, "description": c.description,
                    "kind": c.kind, "unit": c.unit, "labels": list(c.labels),
                    "series": [
                        {"name": s.name, "values": [_json_value(v, c.unit) for v in s.values]}
                        for s in c.series
                    ],
                }
                for c in self.charts
            ],
            "template": self.template,
            "extra": self.extra,
            "roles": list(self.roles),
        }


def _table_dict(shown: Table) -> dict[str, Any]:
    """The table as JSON: the whole table (:attr:`Table.full`) under the shown one's slug and title."""
    table = shown.full or shown
    rows = table.export_rows()
    return {
        "slug": shown.slug,
        "title": shown.title,
        "description": shown.description,
        "columns": [{"key": c.key, "label": c.label, "kind": c.kind} for c in table.columns],
        "rows": rows[: len(table.rows)],
        "total": rows[-1] if table.total is not None else None,
        "rounded_separately": table.rounded_separately(),
    }


def _json_value(value: Any, kind: str) -> Any:
    if kind in MONEY_KINDS and isinstance(value, int):
        return exact_dollars(value)
    return value


def format_value(value: Any, kind: str, *, whole_cents: bool = False) -> str:
    """Text of a value for people: ``$1,234.56``, ``12,345``, ``12.5%``.

    ``whole_cents``: a money value already rounded to cents (from ``display_rows``); any other
    money value is micro-cents, shown rounded half up to the cent (a ``unit_price`` to a hundredth
    of a cent, whole cents or not: ``display_rows`` leaves it as it is).
    """
    if value is None:
        return ""
    if kind == "money":
        return format_cents(value if whole_cents else round_to_cents(value))
    if kind == "change":
        cents = value if whole_cents else round_to_cents(value)
        return ("+" if cents > 0 else "") + format_cents(cents)
    if kind == "unit_price":  # never rounded to whole cents: micro-cents, shown to a hundredth of a cent
        return format_unit_price(value)
    if kind == "growth":
        return f"{value:+,.1f}%" if value else "0.0%"
    if kind == "day":
        return day_text(str(value))
    if kind == "count":
        return f"{value:,}"
    if kind == "percent":
        return f"{value:,.1f}%"
    if kind == "decimal":
        return f"{value:,.2f}"
    return str(value)


def with_role(sections: Sequence[Section], role: SectionRole) -> list[Section]:
    """The sections that declare ``role``, in the order given."""
    return [section for section in sections if section.has_role(role)]


__all__ = ["CENT_KINDS", "DASHBOARD_PREVIEW", "HEADLINE_TREND", "MONEY_KINDS", "NUMERIC_KINDS", "REPORT_TEXT", "ROLES", "SUMMARY_CARDS", "Chart",
           "Column", "Figure", "Section", "SectionRole", "Series", "Table", "TextView", "format_value",
           "spreadsheet_text", "with_role"]
