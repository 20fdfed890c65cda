"""Sections as aligned plain-text tables for the terminal (``billing-reports report``).

Every text shown goes through :func:`~billing_reports.untrusted.printable`: a user or model name
comes from the API or a cache file, and an escape sequence or a line break in it must neither
drive the terminal nor fake a row of a table.
"""

from __future__ import annotations

import re
import textwrap
from typing import Any, Mapping, Sequence

from .sections import NUMERIC_KINDS, ROUNDED_SEPARATELY, Section, Table, format_value
from .untrusted import printable

#: Value kinds shown right-aligned (numbers line up on their last digit): ``sections.NUMERIC_KINDS``.

#: A Markdown backslash escape (``\\*`` is a plain asterisk), a code span, strong and plain emphasis:
#: an intro is Markdown (the site renders it), the terminal shows the words without the marks.
_ESCAPE = re.compile(r"\\([\\`*_{}\[\]()#+\-.!])")
_CODE = re.compile(r"`([^`]+)`")
_STRONG = re.compile(r"(\*\*|__)(?=\S)(.+?)(?<=\S)\1")
_EMPHASIS = re.compile(r"(?<![\w*])\*(?=[^\s*])(.+?)(?<=[^\s*])\*(?![\w*])")


def plain_text(markdown: str) -> str:
    """An intro paragraph's Markdown as plain words: ``**People**`` reads People, ``*and*`` and, a code
    span its text without the backticks (emphasis marks inside it kept), ``\\*`` a plain asterisk."""
    escaped: list[str] = []

    def keep(match: re.Match) -> str:
        escaped.append(match.group(1))
        return f"\0{len(escaped) - 1}\0"

    text = _ESCAPE.sub(keep, markdown.replace("\0", ""))  # (NUL marks what is kept aside)
    text = _CODE.sub(keep, text)
    text = _EMPHASIS.sub(r"\1", _STRONG.sub(r"\2", text))
    return re.sub("\0(\\d+)\0", lambda match: escaped[int(match.group(1))], text)


def render_table(table: Table, columns: Sequence[str] | None = None, members: Mapping[str, Any] | None = None) -> str:
    """``table`` as aligned text: a header, a rule, the rows, a rule and the total row.

    Money is shown as each amount rounded to the cent (``Table.display_rows``), the
    same cents as on the site; where the rows then do not add up to the total, a
    footnote says so. ``columns``: keys of the columns to show, in the table's
    order (default: all). ``members``: Cursor's member list by e-mail (``usage.cursor.members``):
    a user is shown with their display name, and marked when removed.
    """
    display = table.display_rows()
    rows, total = display
    keep = [i for i, column in enumerate(table.columns) if columns is None or column.key in columns]
    rows = [[row[i] for i in keep] for row in rows]
    total = [total[i] for i in keep] if total is not None else None
    shown = [table.columns[i] for i in keep]
    kinds = [column.kind for column in shown]
    lines = [[printable(column.label) for column in shown]]
    body = [_cells(row, kinds, members) for row in rows]
    footer = [_cells(total, kinds, members)] if total is not None else []
    widths = [max(len(line[i]) for line in lines + body + footer) for i in range(len(kinds))]

    def fmt(cells: Sequence[str]) -> str:
        return "  ".join(
            cell.rjust(width) if kind in NUMERIC_KINDS else cell.ljust(width)
            for cell, width, kind in zip(cells, widths, kinds)
        ).rstrip()

    rule = "  ".join("-" * width for width in widths)
    out = [fmt(lines[0]), rule, *(fmt(row) for row in body)]
    if not body:
        out.append("(no rows)")
    if footer:
        out += [rule, fmt(footer[0])]
    if table.rounded_separately(display):
        out.append(ROUNDED_SEPARATELY)
    return "\n".join(out)


def _cells(row: Sequence, kinds: Sequence[str], members: Mapping[str, Any] | None = None) -> list[str]:
    cells = [printable(format_value(value, kind, whole_cents=True)) for value, kind in zip(row, kinds)]
    if members:
        for index, (value, kind) in enumerate(zip(row, kinds)):
            member = members.get(value) if kind == "user" and isinstance(value, str) else None
            if member is not None and (member.name or member.removed):
                about = ", ".join(part for part in (printable(member.name), "removed" if member.removed else "") if part)
                cells[index] += f" ({about})"
    return cells


def render_section(
    section: Section,
    *,
    tables: Sequence[str] | None = None,
    columns: Sequence[str] | None = None,
    intro: bool = False,
    members: Mapping[str, Any] | None = None,
) -> str:
    """A section: its title, its intro (with ``intro``, or when it has nothing else to
    show), its figures as ``label: value (note)``, then its tables.

    ``tables``: slugs of the tables to show (default: all); ``columns``: keys of
    the columns to show in them (default: all).
    """
    title = printable(section.title)
    out = [title, "=" * len(title)]
    if section.intro and (intro or not (section.figures or section.tables)):
        paragraphs = [printable(plain_text(" ".join(p.split()))) for p in section.intro.split("\n\n") if p.strip()]
        out += [textwrap.fill(paragraph, width=100) for paragraph in paragraphs] + [""]
    if section.figures:
        labels = [printable(figure.label) for figure in section.figures]
        width = max(len(label) for label in labels)
        for label, figure in zip(labels, section.figures):
            note = f"  ({printable(figure.note)})" if figure.note else ""
            out.append(f"{label + ':':<{width + 1}} {printable(figure.display()) or '-'}{note}")
    for table in section.tables:
        if tables is not None and table.slug not in tables:
            continue
        out += ["", printable(table.title), render_table(table, columns, members)]
    return "\n".join(out)


__all__ = ["NUMERIC_KINDS", "plain_text", "render_section", "render_table"]
