"""``--format ledger``: the day-grained ledger as it is, one row per UTC day x user x model x max
mode, in our own column names (those of the site's downloads: ``spend_usd``, ``requests``...)."""

from __future__ import annotations

from operator import itemgetter
from typing import Callable, Iterator, Optional

from ..usage import LedgerKey, OnDemandUsage, UsageTotals
from .columns import Export, ExportColumn

#: ``group_of(user, day)``: the group a cell is charged to, or ``None`` where no groups are known.
GroupOf = Callable[[str, int], Optional[str]]

#: The token counts by kind, named as the ledger's totals name them (``input_tokens``...).
TOKEN_COLUMNS = tuple(ExportColumn(name, "count") for name in UsageTotals._fields[2:6])

LEDGER_COLUMNS = (
    ExportColumn("day", "date"),
    ExportColumn("user", "text"),
    ExportColumn("model", "text"),
    ExportColumn("max_mode", "bool"),
    ExportColumn("group", "text", nullable=True),
    ExportColumn("spend_usd", "money"),
    ExportColumn("list_cost_usd", "money"),
    ExportColumn("token_fee_usd", "money"),
    ExportColumn("requests", "count"),
    *TOKEN_COLUMNS,
)


def ledger_cells(usage: OnDemandUsage) -> Iterator[tuple[LedgerKey, UsageTotals]]:
    """Every cell of the usage's ledger (its range only), ordered by day, user, model, max mode; one
    month's cells sorted at a time."""
    by_month = getattr(usage.ledger, "months", None)
    if by_month is None:  # a ledger made by hand: a plain mapping
        yield from sorted(usage.ledger.items(), key=itemgetter(0))
        return
    for month in sorted(by_month):
        yield from sorted(by_month[month].totals(), key=itemgetter(0))


def ledger_export(usage: OnDemandUsage, group_of: GroupOf) -> Export:
    def rows() -> Iterator[tuple]:
        for (day, user, model, max_mode), t in ledger_cells(usage):
            yield (day, user, model, max_mode, group_of(user, day), t.cost, t.list_cost, t.token_fee, t.requests,
                   t.input_tokens, t.output_tokens, t.cache_write_tokens, t.cache_read_tokens)

    return Export("ledger", LEDGER_COLUMNS, rows(), cost_index=5)


__all__ = ["GroupOf", "LEDGER_COLUMNS", "TOKEN_COLUMNS", "ledger_cells", "ledger_export"]
