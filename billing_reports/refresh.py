"""Which part of a month one fetch requests, and which part of its cache file it keeps.

A cache file records every request window it was built from, with when that window was fetched and
what it held (``fetch.windows``; see docs/architecture.md, "The cache file"). The next fetch of an
incomplete month requests only from its *cut-off* on: the start of the latest window that begins at
least ``fetch.overlap_hours`` before the last fetch started, so late events of the overlap are
caught. Every window record and every cached event from the cut-off on is dropped and the fetched
ones take their place (events have no id: the span is replaced whole, never merged).

A fetch of an incomplete month ends a window exactly ``overlap_hours`` before it started, so that
the next fetch can cut there. Everything that cannot be cut safely is fetched whole: a month without
a cache file, a month ``--refresh`` names, the fetch that makes a month complete (a correction
anywhere in it is caught once), and a cache file whose window records are missing (the seed's
format, older versions) or do not add up (edited by hand).
"""

from __future__ import annotations

import bisect
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any

from billing_reports.months import Month, Window, epoch_ms, parse_isoformat_z, windows_between


@dataclass(frozen=True)
class FetchScope:
    """What one fetch of ``month`` requests, and what it keeps of the month's cache file."""

    month: Month
    #: When the fetch started, to the second (its ``fetched_at``).
    started: datetime
    #: Whether the fetch makes the month complete (it started a day after the month ended).
    complete: bool
    #: ``fetch.overlap_hours``: a window ends this long before ``started`` (where the next fetch cuts).
    overlap_hours: float
    #: The first millisecond requested: the cut-off, or the month's start for a whole fetch.
    since_ms: int
    #: The request windows, from ``since_ms`` to the month's end.
    windows: list[Window]
    #: The cached window records before ``since_ms``, kept as they are.
    kept_windows: list[dict[str, Any]]
    #: The cached events before ``since_ms``, in the file's order.
    kept_events: list[dict[str, Any]]
    #: Why a cached month is fetched whole (``None``: a refresh, or a month not cached yet).
    whole_reason: str | None = None

    @property
    def whole(self) -> bool:
        return self.since_ms == self.month.start_ms

    @property
    def since(self) -> datetime:
        return datetime.fromtimestamp(self.since_ms / 1000, tz=timezone.utc)


def plan_scope(
    month: Month,
    cached: dict[str, Any] | None,
    *,
    started: datetime,
    complete: bool,
    overlap_hours: float,
    refresh: bool = False,
) -> FetchScope:
    """The scope of a fetch of ``month`` that starts at ``started`` (to the second).

    ``cached`` is the month's checked cache payload (``None``: no file, or not to be read);
    ``complete`` whether this fetch makes the month complete (``cache.is_complete``);
    ``refresh`` whether ``--refresh`` names the month. Never raises for what a cache file holds:
    whatever cannot be cut safely is fetched whole.
    """
    overlap_ms = round(overlap_hours * 3_600_000)
    cut_ms, reason = month.start_ms, None
    if refresh:
        reason = "--refresh names it"
    elif cached is not None and complete:
        reason = "it has ended, and one whole fetch catches a correction anywhere in it"
    elif cached is not None:
        cut_ms, reason = _cut_off(month, cached, overlap_ms=overlap_ms, now_ms=epoch_ms(started))
    kept_windows, kept_events = [], []
    if cached is not None and cut_ms > month.start_ms:
        kept_windows = [record for record in cached["fetch"]["windows"] if record["startDate"] < cut_ms]
        kept_events = [event for event in cached["events"] if _event_ms(event) < cut_ms]
    # A complete month is never cut again; otherwise a window ends where the next fetch will cut.
    windows = month.windows() if complete else _request_windows(month, cut_ms, epoch_ms(started) - overlap_ms)
    return FetchScope(month, started, complete, overlap_hours, cut_ms, windows, kept_windows, kept_events, reason)


def _request_windows(month: Month, since_ms: int, split_ms: int) -> list[Window]:
    """Windows from ``since_ms`` to the month's end, one of them ending 1 ms before ``split_ms``."""
    if since_ms < split_ms < month.end_ms:
        return windows_between(since_ms, split_ms) + windows_between(split_ms, month.end_ms)
    return windows_between(since_ms, month.end_ms)


def _cut_off(month: Month, cached: dict[str, Any], *, overlap_ms: int, now_ms: int) -> tuple[int, str | None]:
    """``(cut-off, None)`` for a refresh, or ``(month start, why the month is fetched whole)``."""
    fetch = cached.get("fetch")
    records = fetch.get("windows") if isinstance(fetch, dict) else None
    if not isinstance(records, list) or not records or not all(
        isinstance(record, dict) and "fetched_at" in record for record in records
    ):
        return month.start_ms, "its cache file does not record what each window held"
    problem = _records_problem(month, cached, records, now_ms)
    if problem:
        return month.start_ms, f"its cache file's window records cannot be trusted ({problem})"
    wanted_ms = epoch_ms(parse_isoformat_z(cached["fetched_at"])) - overlap_ms
    if wanted_ms <= month.start_ms:
        overlap = f"{overlap_ms / 3_600_000:g} h"
        return month.start_ms, f"the overlap of {overlap} before its last fetch reaches back to its start"
    cut_ms = max(record["startDate"] for record in records if record["startDate"] <= wanted_ms)
    for number, record in enumerate(records, start=1):
        if record["startDate"] >= cut_ms:
            break
        if epoch_ms(parse_isoformat_z(record["fetched_at"])) <= record["endDate"]:
            # it may lack events of its end: it is fetched again too
            if number == 1:
                return month.start_ms, "its window 1 was fetched before it was over"
            return record["startDate"], None
    return cut_ms, None


def _records_problem(month: Month, cached: dict[str, Any], records: list[Any], now_ms: int) -> str | None:
    """What makes the window records of ``cached`` unfit to cut by, or ``None``."""
    expected_start = month.start_ms
    latest_fetch: datetime | None = None
    for number, record in enumerate(records, start=1):
        where = f"window {number}"
        start, end = record.get("startDate"), record.get("endDate")
        if not _is_count(start) or start != expected_start:
            return f"{where} does not start where the one before it ended"
        if not _is_count(end) or not start <= end < month.end_ms:
            return f"{where} does not end inside the month"
        expected_start = end + 1
        fetched_at = _moment(record.get("fetched_at"))
        if fetched_at is None or epoch_ms(fetched_at) > now_ms:
            return f"{where} has a fetched_at that is not a past ISO date-time"
        latest_fetch = fetched_at if latest_fetch is None else max(latest_fetch, fetched_at)
        left_out = record.get("left_out")
        counts = [record.get(key) for key in ("api_total", "kept", "requests")]
        if not all(_is_count(count) for count in counts) or not isinstance(left_out, dict) or not all(
            isinstance(kind, str) and _is_count(count) for kind, count in left_out.items()
        ):
            return f"{where} has counts that are not whole numbers"
        if record["api_total"] != record["kept"] + sum(left_out.values()):
            return f"{where}: api_total is not kept plus left_out"
    if expected_start != month.end_ms:
        return "the windows do not cover the month"
    if _moment(cached.get("fetched_at")) != latest_fetch:
        return "fetched_at is not when its latest window was fetched"
    starts = [record["startDate"] for record in records]
    held = [0] * len(records)
    for event in cached["events"]:
        stamp = _event_ms(event)
        if not month.start_ms <= stamp < month.end_ms:
            return "an event's timestamp is not a millisecond of the month"
        held[bisect.bisect_right(starts, stamp) - 1] += 1
    for number, (record, count) in enumerate(zip(records, held), start=1):
        if record["kept"] != count:
            return f"window {number} holds {count} cached events, its record says {record['kept']}"
    return None


def _event_ms(event: dict[str, Any]) -> int:
    """An event's ``timestamp`` in epoch ms (-1 when it is not a string or integer of them)."""
    stamp = event.get("timestamp")
    if isinstance(stamp, str) and stamp.isascii() and stamp.isdigit():
        return int(stamp)
    if _is_count(stamp):
        return stamp
    return -1


def _moment(value: Any) -> datetime | None:
    if not isinstance(value, str):
        return None
    try:
        return parse_isoformat_z(value)
    except ValueError:
        return None


def _is_count(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and value >= 0


__all__ = ["FetchScope", "plan_scope"]
