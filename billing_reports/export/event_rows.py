"""``--format events``: every kept (on-demand) event of the range, flattened, one row each, for
auditing: what the API sent beside what the billing rule made of it and the ledger cell it counts in.

Events are streamed from the cache a slice at a time (``loader.iter_kept_event_values``): an export of
millions of events holds a few thousand at once.
"""

from __future__ import annotations

from typing import Any, Iterator

from ..loader import iter_kept_event_values
from ..on_demand import amount_microcents
from ..usage import OnDemandUsage
from .columns import Export, ExportColumn
from .ledger_rows import TOKEN_COLUMNS, GroupOf

EVENT_COLUMNS = (
    ExportColumn("timestamp", "timestamp", nullable=True),
    ExportColumn("day", "date"),
    ExportColumn("user", "text"),
    ExportColumn("user_email", "text", nullable=True),
    ExportColumn("model", "text"),
    ExportColumn("max_mode", "bool"),
    ExportColumn("kind", "text"),
    ExportColumn("group", "text", nullable=True),
    ExportColumn("spend_usd", "money"),
    ExportColumn("list_cost_usd", "money"),
    ExportColumn("token_fee_usd", "money"),
    ExportColumn("charged_cents", "cents", nullable=True),
    ExportColumn("total_cents", "cents", nullable=True),
    ExportColumn("cursor_token_fee", "cents", nullable=True),
    ExportColumn("discount_percent_off", "number", nullable=True),
    *TOKEN_COLUMNS,
)


def events_export(usage: OnDemandUsage, group_of: GroupOf) -> Export:
    """The events of the usage's cached months whose (ledger) day lies in its range: ``user``,
    ``model`` and ``day`` are the ledger's (a removed user, a service account, a timestamp outside
    its file's month counted on the month's nearer day); ``user_email``, ``charged_cents``,
    ``total_cents``, ``cursor_token_fee`` and ``discount_percent_off`` are as the API sent them (empty
    where it sent none, or not a number); ``spend_usd``, ``list_cost_usd`` and ``token_fee_usd`` what
    the billing rule made of them."""
    first_day, last_day = usage.range.first_day, usage.range.last_day
    cached = [month for month in usage.months if usage.facts(month).cached]

    def rows() -> Iterator[tuple]:
        for _month, event, ((day, user, model, max_mode), sums) in iter_kept_event_values(usage.data_dir, cached):
            if not first_day <= day <= last_day:
                continue
            charged, _requests, input_tokens, output_tokens, cache_write, cache_read, list_cost, token_fee = sums
            token_usage = event.get("tokenUsage")
            token_usage = token_usage if isinstance(token_usage, dict) else {}
            discount = token_usage.get("discountPercentOff")
            email = event.get("userEmail")
            yield (
                _timestamp(event.get("timestamp")), day, user, email if isinstance(email, str) and email else None,
                model, max_mode, event.get("kind"), group_of(user, day), charged, list_cost, token_fee,
                amount_microcents(event.get("chargedCents")), amount_microcents(token_usage.get("totalCents")),
                amount_microcents(event.get("cursorTokenFee")),
                float(discount) if type(discount) in (int, float) else None,
                input_tokens, output_tokens, cache_write, cache_read,
            )

    return Export("events", EVENT_COLUMNS, rows() if usage.data_dir is not None else iter(()), cost_index=8)


def _timestamp(value: Any) -> int | None:
    """The event's epoch milliseconds (the API sends a string of digits), ``None`` where it is not one."""
    if isinstance(value, bool):
        return None
    try:
        moment = int(value)
    except (TypeError, ValueError, OverflowError):
        return None
    return moment if 0 <= moment < LATEST_MS else None


#: The first millisecond of the year 10000: no timestamp format reaches it.
LATEST_MS = 253_402_300_800_000


__all__ = ["EVENT_COLUMNS", "events_export"]
