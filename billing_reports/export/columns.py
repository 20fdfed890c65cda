"""What an export is made of: named, typed columns and rows of plain values in their order.

A row is a tuple of Python values, one per column, each of its column's kind: the writers
(:mod:`billing_reports.export.writers`) turn them into CSV text or typed Parquet columns, so every
format of the same export says the same thing. Money stays integer micro-cents until it is
written, so nothing is rounded and no float comes near it.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Iterator, Literal, Sequence

#: ``text``: a string; ``money``: micro-cents, written as exact dollars; ``cents``: micro-cents,
#: written as exact cents (amounts as the API sent them); ``quantity``: a whole number that FOCUS
#: types as a decimal; ``count``: a whole number; ``number``: a float as sent (a percentage);
#: ``bool``; ``date``: an epoch day; ``timestamp``: epoch milliseconds (UTC).
Kind = Literal["text", "money", "cents", "quantity", "count", "number", "bool", "date", "timestamp"]


@dataclass(frozen=True)
class ExportColumn:
    name: str
    kind: Kind
    #: Whether a row may leave it empty (``None``: NULL in Parquet, an empty field in CSV).
    nullable: bool = False


@dataclass
class Export:
    """The columns of one export and its rows (a generator: rows are made as they are written);
    ``cost_index``: the column of each row's billed cost (micro-cents), summed for the summary line."""

    kind: str
    columns: Sequence[ExportColumn]
    rows: Iterator[tuple[Any, ...]]
    cost_index: int

    @property
    def names(self) -> list[str]:
        return [column.name for column in self.columns]


__all__ = ["Export", "ExportColumn", "Kind"]
