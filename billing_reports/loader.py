"""From the monthly cache to :class:`~billing_reports.usage.OnDemandUsage`.

The loader reads one cache file at a time (streaming month by month), keeps
only the ledger (sums per ``(day, user, model, max mode)``) and never holds a
file's events: it applies the on-demand filter again (a hand-edited file must
not smuggle included usage into the totals) and counts everything odd it sees
for the data-quality page: a malformed *event* is counted, never a crash; a
malformed *file* is a :class:`~billing_reports.errors.CacheError` naming it.

Speed and memory matter (a million events load in about a second, a month of
millions in a few hundred megabytes):

- a well-formed file (what ``fetch`` writes) is read a slice of events at a time
  (``event_slices``) and each slice decoded by msgspec straight into typed structs,
  its types and field names checked in C; any surprise sends the file down the
  general path (``read_cached_month``, plain dicts);
- ordinary events go through one tight loop of look-ups and integer sums into the
  month's cells, kept as columns (``ledger.CellsBuilder``); anything unusual falls back
  to :func:`_inspect`, which decides carefully and counts what it finds; both paths
  give the same sums and counts (the tests compare them);
- a big cache is spread over one process per CPU, a month at a time, a big month in
  pieces (joined by ``ledger.join_parts``); each process also derives the sums the reports
  read (``ledger.derive_sums``), and they decode while this one reads the summaries;
- a month is decoded once: its result is kept as a summary (``month_summary``)
  and read instead while the cache file is unchanged.
"""

from __future__ import annotations

import hashlib
import math
import multiprocessing
import os
import time
from concurrent.futures import ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass
from functools import lru_cache
from itertools import repeat
from operator import attrgetter, is_not
from pathlib import Path
from stat import S_ISREG
from typing import Annotated, Any, Callable, Iterable, Iterator, Sequence, Union

import click
import msgspec
import orjson

from . import collector, event_slices
from .child_processes import end_with_parent, usable_cpus
from .cache import cache_path, cached_complete, read_cached_month, refuse_demo_data
from .errors import CacheError
from .folders import existing_folder
from .ledger import MODEL_BITS, CellsBuilder, Ledger, MonthCells, join_parts
from .money import MICROCENTS_PER_CENT, microcents
from .month_summary import file_stamp, keep_summary, looks_current, read_summary
from .months import DAY_MS, Month, parse_isoformat_z
from .periods import ReportRange
from .on_demand import (
    AMOUNT_LIMIT_CENTS, CHARGED_TOLERANCE, NOT_CHARGEABLE, NOT_TOKEN_BASED, ON_DEMAND_KIND, EventCost, charged_differs,
    event_cost, is_amount, is_on_demand, left_out_label,
)
from .settings import Settings
from .untrusted import printable, shortened
from .usage import (
    CHARGED_EXAMPLES, REMOVED_USER, SERVICE_ACCOUNT_MARK, UNKNOWN_MODEL, DataQuality, LedgerKey, MonthFacts,
    OnDemandUsage, one_spelling, service_account_user,
)
from .wording import counted

#: Kinds the Cursor API is known to send; any other is counted as unknown.
KNOWN_KINDS = frozenset(
    {
        "Usage-based",
        "Included in Business",
        "Included in Pro",
        "Included in Ultra",
        "Free",
        "Errored, Not Charged",
        "Aborted, Not Charged",
        "User API Key",
    }
)
#: Event fields seen across versions of the API documentation; others are counted as unknown.
KNOWN_FIELDS = frozenset(
    {
        "timestamp",
        "userEmail",
        "model",
        "kind",
        "maxMode",
        "requestsCosts",
        "isTokenBasedCall",
        "isChargeable",
        "isHeadless",
        "tokenUsage",
        "cursorTokenFee",
        "chargedCents",
        "isFreeBugbot",
        "serviceAccountId",
        "serviceAccountName",
        "cloudAgentId",
        "automationId",
        "conversationId",
        "owningUser",
        "owningTeam",
        "userId",
    }
)
#: A cache at least this big is loaded by several processes (one month each at a time).
PARALLEL_MIN_BYTES = 64 * 1024 * 1024
#: A load that decodes this much of the cache says so first (a second of work and more).
SAY_DECODING_BYTES = 32 * 1024 * 1024
#: Set to a number of processes to override that choice (``1``: always in this process).
LOAD_WORKERS_VARIABLE = "BILLING_REPORTS_LOAD_WORKERS"
#: A user or model name longer than this (an e-mail address has at most 254 characters) is cut
#: short and counted: one name of megabytes would otherwise fill every page of the site.
NAME_LIMIT = 320
#: A token count of one event this big (ten billion) or negative is not believed: it counts 0, and
#: millions of events' sums still fit the 64 bits that summaries and downloads carry.
TOKEN_LIMIT = 10_000_000_000


#: One month's ledger as the careful path sums it: ``(day, user, model, max mode) -> [charged,
#: requests, input, output, cache write, cache read, list cost, token fee]`` (the order of
#: ``UsageTotals``). The loader keeps a month's cells as ``ledger.MonthCells`` (the same
#: mapping, stored as columns).
LedgerCells = dict[LedgerKey, Sequence[int]]
#: One kept event: its ledger key and its sums (as in ``LedgerCells``).
EventValues = tuple[LedgerKey, tuple[int, ...]]


def load_usage(settings: Settings, months: Sequence[Month], *, data_dir: Path | None = None,
               report_range: ReportRange | None = None, say: Callable[[str], None] | None = None) -> OnDemandUsage:
    """Load the cached months of ``months`` (oldest first) from ``data_dir`` (default: the config's);
    with ``report_range``, keep only its days (``months`` are then the months it touches). ``say``:
    where a line goes before decoding :data:`SAY_DECODING_BYTES` of the cache or more.

    A month without a cache file is recorded as missing (its totals are zero);
    a cache file that cannot be read or has the wrong shape raises ``CacheError``.
    """
    directory = Path(data_dir if data_dir is not None else settings.data_dir)
    existing_folder(directory, "paths.data_dir")  # a file there is named, not read as "nothing cached"
    demo = settings is not None and settings.demo
    ordered = sorted(set(months))
    month_cells: dict[Month, MonthCells] = {}
    facts: dict[Month, MonthFacts] = {}
    with collector.paused():
        for month, (month_facts, cells) in zip(ordered, _load_months(directory, ordered, say)):
            refuse_demo_data(month_facts.path, month_facts.fetch, demo=demo)  # (summaries keep fetch)
            facts[month] = month_facts
            month_cells[month] = cells
    if report_range is not None and not report_range.whole_months:
        first_day, last_day = report_range.first_day, report_range.last_day
        month_cells = {month: cells.within_days(first_day, last_day) for month, cells in month_cells.items()}
    spelling = one_spelling({user for cells in month_cells.values() for user in cells.users})
    if spelling is not None:  # one person in two cases (Ann@ and ann@): one user, as a pseudonym would be
        month_cells = {month: cells.renamed(spelling.__getitem__, str, month.start_ms // DAY_MS)
                       for month, cells in month_cells.items()}
    return OnDemandUsage(months=ordered, ledger=Ledger(month_cells), month_facts=facts, data_dir=directory,
                         report_range=report_range)


def require_cached_data(usage: OnDemandUsage) -> None:
    """Refuse a report of a range without a single cached month (its figures would read $0)."""
    if any(usage.facts(month).cached for month in usage.months):
        return
    first, last = usage.months[0], usage.months[-1]
    months = first.label if first == last else f"{first.label} – {last.label}"
    if len(usage.months) == 1 and not usage.range.whole_months:
        months = f"{usage.range.label} ({first.label})"
    raise CacheError(
        f"No cached data for {months}: run `billing-reports fetch --end-month {last.key} "
        f"--months-back {len(usage.months)}` (or `billing-reports build` without --offline) first."
    )


def _load_months(data_dir: Path, months: list[Month], say: Callable[[str], None] | None = None
                 ) -> Iterator[tuple[MonthFacts, MonthCells]]:
    """``load_month`` for each month, in order: in worker processes when the cache is big.

    Months whose cache file is unchanged since it was last decoded come from their
    summaries (``month_summary``). Decoding the others is the bulk of the work, so a big
    cache is spread over one process per CPU (:func:`_plan`: a month each, a big month in
    pieces; each returns only its part's cells and sums), which decode while the summaries
    are read here; a small one is read here, where starting processes would cost more.
    """
    to_decode = [month for month in months if _needs_decoding(data_dir, month)]
    size = sum(_cache_sizes(data_dir, to_decode))
    if say is not None and size >= SAY_DECODING_BYTES:
        say(f"Decoding {counted(len(to_decode), 'cached month')} ({size / 1e6:,.0f} MB) into the ledger; "
            "later runs read what is made of them until a month changes...")
    workers = load_workers(data_dir, to_decode)
    if workers <= 1:
        # one month at a time, in order: only one month's events are alive beside the cells
        yield from (load_month(data_dir, month) for month in months)
        return
    tasks, spans = _plan(data_dir, to_decode, workers)
    summarised: dict[Month, Any] = {}
    with ProcessPoolExecutor(workers, mp_context=multiprocessing.get_context("fork"),
                             initializer=end_with_parent, initargs=(os.getpid(),)) as pool:
        try:
            running = pool.map(_decode_task, tasks)  # (all submitted now)
            summarised = {month: _without_decoding(data_dir, month) for month in months if month not in to_decode}
            results: list[Any] | None = list(running)
        except BrokenProcessPool:  # a process killed (the out-of-memory killer, a signal): see below
            _stop_now(pool)
            results = None
        except BaseException:  # (Ctrl-C, a broken cache file): no waiting for the months still queued
            _stop_now(pool)
            raise
    if results is None:
        click.echo("Note: a process decoding the cache ended unexpectedly (killed, perhaps for want of memory); "
                   "the months it had are decoded in this process, one at a time.", err=True)
        yield from (summarised.get(month) or load_month(data_dir, month) for month in months)
        return
    decoded = _joined_results(data_dir, tasks, results, spans)
    for month in months:
        found = decoded.get(month) or summarised.get(month)
        # (a summary whose head said it was current and whose body was damaged: decoded here)
        yield found if found is not None else decode_month(data_dir, month)


def _stop_now(pool: ProcessPoolExecutor) -> None:
    """End ``pool``'s processes and drop its queued tasks: leaving the pool's block would otherwise wait
    until every month still queued had been decoded. (A process ended while it writes a summary leaves
    only a temp file, removed later: ``keep_summary``.)"""
    processes = list((getattr(pool, "_processes", None) or {}).values())  # (Python 3.14: kill_workers())
    pool.shutdown(wait=False, cancel_futures=True)
    for process in processes:
        process.kill()  # (SIGKILL: no signal handler inherited from this process keeps it decoding)
    for process in processes:
        process.join()


def _cache_sizes(data_dir: Path, months: Sequence[Month]) -> list[int]:
    """The sizes in bytes of the months' cache files (of those there are, as files)."""
    sizes = []
    for month in months:
        try:
            found = cache_path(data_dir, month).stat()
        except OSError:  # (none, or gone meanwhile: the load says what it finds)
            continue
        if S_ISREG(found.st_mode):
            sizes.append(found.st_size)
    return sizes


def _needs_decoding(data_dir: Path, month: Month) -> bool:
    """Whether the month has a cache file and no summary that looks current (``looks_current``)."""
    try:
        stat = cache_path(data_dir, month).stat()
    except OSError:
        return False
    return not looks_current(data_dir, month, stat)


def load_workers(data_dir: Path, months: Sequence[Month]) -> int:
    """How many processes decode ``months``: 1 unless their cache is big (``LOAD_WORKERS_VARIABLE``
    overrides); no more than the months, unless a month is big enough to be cut in pieces."""
    sizes = _cache_sizes(data_dir, months)
    forced = os.environ.get(LOAD_WORKERS_VARIABLE, "").strip()
    if forced.isdigit() and int(forced) > 0:
        wanted = int(forced)
    elif sum(sizes) >= PARALLEL_MIN_BYTES and "fork" in multiprocessing.get_all_start_methods():
        wanted = usable_cpus()
    else:
        wanted = 1
    most = max(len(sizes), min(wanted, sum(sizes) // event_slices.SLICE_BYTES))
    return max(1, min(wanted, most))


def load_month(data_dir: Path, month: Month) -> tuple[MonthFacts, MonthCells]:
    """One month's facts and its ledger cells: from its summary when the cache file is unchanged
    since it was decoded, else decoded."""
    found = _without_decoding(data_dir, month)
    return found if found is not None else decode_month(data_dir, month)


def _without_decoding(data_dir: Path, month: Month) -> tuple[MonthFacts, MonthCells] | None:
    """The month from its summary, or as missing when it has no cache file; ``None``: decode it."""
    path = cache_path(data_dir, month)
    try:
        stat = path.stat()
    except OSError:  # (as ``Path.exists()`` says: any trouble finding the file is no file)
        return MonthFacts(month, path=path, cached=False), MonthCells.empty()
    return read_summary(data_dir, month, path, stat)


def decode_month(data_dir: Path, month: Month) -> tuple[MonthFacts, MonthCells]:
    """:func:`load_month` from the cache file's events, always (in this process); then keeps the
    month's summary. The cells read as a dict ``key -> [charged, requests, ...]``."""
    path = cache_path(data_dir, month)
    checked_at = time.time()
    try:
        stat = path.stat()  # before reading: a change while decoding makes the summary not match
    except OSError:  # (as ``Path.exists()`` says: any trouble finding the file is no file)
        return MonthFacts(month, path=path, cached=False), MonthCells.empty()
    with collector.paused():
        typed = _read_typed(path)
        if typed is not None:
            month_facts = _month_facts(typed, path, month, typed["events_in_file"])
            month_facts.quality.add(typed["quality"])
            cells = typed["cells"]
        else:
            month_facts, cells = _decode_general(path, month)
        del typed
    keep_summary(data_dir, month, stat, checked_at, month_facts, cells)
    return month_facts, cells


def _decode_general(path: Path, month: Month) -> tuple[MonthFacts, MonthCells]:
    """The month by the general path: the whole file as plain dicts, every event through ``_inspect``."""
    payload = read_cached_month(path)
    events = payload.pop("events")  # only the events list stays alive, and only until this month is summed
    for wide in (False, True):
        month_facts = _month_facts(payload, path, month, len(events))
        builder = CellsBuilder(month.start_ms // DAY_MS, wide=wide)
        try:
            aggregate_events(events, month, month_facts.quality, builder)
        except OverflowError:  # a sum beyond 64 bits (absurd, but a file may say so): in Python integers
            continue
        break
    return month_facts, builder.finish()


# --- decoding in worker processes -------------------------------------------------------
#
# Months are independent, and so are the slices of one month: a big cache is decoded by
# one process per CPU. Each task is a whole month (decoded as ``decode_month`` does,
# summary included) or, where there are fewer months than processes, a piece of a big
# month's events (``event_slices.split``); the pieces of a month are joined here
# (``ledger.join_parts``) and the month summarised here. Each task derives its sums
# (``MonthCells.sums``, per model and max mode too) before returning them, so that work is
# spread over the processes too.


@dataclass(frozen=True)
class _Task:
    """A month to decode in a worker: whole (``start`` is ``None``: as ``decode_month`` does, its
    summary included) or bytes ``start`` to ``end`` of its file's events."""

    data_dir: Path
    month: Month
    start: int | None = None
    end: int | None = None


@dataclass
class _PieceSums:
    """What the typed path made of a piece of a month's events: its cells and counts, how many
    events it held and the undocumented fields it learnt."""

    cells: MonthCells
    quality: DataQuality
    events: int
    extra_fields: tuple[str, ...] = ()


def _joined_results(data_dir: Path, tasks: list[_Task], results: list[Any], spans: dict[Month, Any]
                    ) -> dict[Month, tuple[MonthFacts, MonthCells]]:
    """The months the workers decoded, each month cut in pieces joined (and summarised) here."""
    decoded: dict[Month, tuple[MonthFacts, MonthCells]] = {}
    pieces: dict[Month, list[_PieceSums | None]] = {}
    for task, result in zip(tasks, results):
        if task.start is None:
            decoded[task.month] = result
        else:
            pieces.setdefault(task.month, []).append(result)
    for month, parts in pieces.items():
        decoded[month] = _join_pieces(data_dir, month, parts, *spans[month])
    return decoded


def _decode_task(task: _Task) -> Any:
    """One task in a worker process; the sums the reports read are derived here too."""
    if task.start is None:
        month_facts, cells = decode_month(task.data_dir, task.month)
        cells.sums()
        return month_facts, cells
    assert task.end is not None
    with collector.paused():
        found = _decode_piece(cache_path(task.data_dir, task.month), task.month, task.start, task.end)
        if found is not None:
            found.cells.sums()
    return found


def _plan(data_dir: Path, months: list[Month], workers: int
          ) -> tuple[list[_Task], dict[Month, tuple[Any, float, event_slices.EventsSpan]]]:
    """The tasks that decode ``months``: a month each, unless there are fewer months than workers:
    then a month is cut in about as many pieces as it holds shares of ``1 / workers`` of the bytes
    (its file's stat, the time of that stat and its events' span kept for joining them)."""
    sizes = {}
    for month in months:
        try:
            sizes[month] = cache_path(data_dir, month).stat().st_size
        except OSError:
            sizes[month] = 0
    share = max(1, sum(sizes.values()) // workers)
    pieces: list[_Task] = []
    whole: list[_Task] = []
    spans = {}
    for month in months:
        count = min(workers, math.ceil(sizes[month] / share)) if len(months) < workers else 1
        path = cache_path(data_dir, month)
        checked_at = time.time()
        try:
            stat = path.stat()  # before reading (see ``decode_month``)
        except OSError:
            count = 1
        span = event_slices.locate(path, _header_decodes) if count > 1 else None
        if span is None:
            whole.append(_Task(data_dir, month))
            continue
        spans[month] = (stat, checked_at, span)
        pieces += [_Task(data_dir, month, start, end)
                   for start, end in event_slices.split(path, span.start, span.end, count)]
    return pieces + whole, spans


def _join_pieces(data_dir: Path, month: Month, parts: list[_PieceSums | None], stat: Any, checked_at: float,
                 span: event_slices.EventsSpan) -> tuple[MonthFacts, MonthCells]:
    """A month decoded in pieces: their cells, sums and counts added up, the facts from the file's
    header; the general path where a piece needed it; decoded again here where the file was replaced
    meanwhile (each piece's process opens it anew: the pieces may hold events of both versions)."""
    path = cache_path(data_dir, month)
    try:
        unchanged = file_stamp(path.stat()) == file_stamp(stat)
    except OSError:
        unchanged = False
    if not unchanged:
        return decode_month(data_dir, month)
    header = _HEADER_DECODER.decode(span.header)
    events = sum(part.events for part in parts if part is not None)
    if any(part is None for part in parts) or header.total_events != events:
        month_facts, cells = _decode_general(path, month)
    else:
        month_facts = _month_facts(_header_payload(header), path, month, events)
        found = [part for part in parts if part is not None]
        cells = join_parts([part.cells for part in found], month.start_ms // DAY_MS)
        for part in found:
            month_facts.quality.add(part.quality)
    keep_summary(data_dir, month, stat, checked_at, month_facts, cells)
    return month_facts, cells


# --- the typed fast path ------------------------------------------------------------------
#
# A cache file written by ``fetch`` has one shape; msgspec decodes it straight into
# typed structs, checking every type and refusing unknown fields in C, about twice
# as fast as decoding to dicts, and leaving the per-event loop little to check.
# The file is read a slice of events at a time (``event_slices``), so a month's events
# are never all alive at once. An undocumented field is learnt and counted; any other
# surprise (a string where a number belongs, a broken file) sends the whole file down
# the general path above, which reports or counts it.


#: A believable token count (see ``TOKEN_LIMIT``); any other sends the file down the careful path.
_TokenCount = Annotated[int, msgspec.Meta(ge=0, lt=TOKEN_LIMIT)]


class _TypedTokenUsage(msgspec.Struct, gc=False):
    totalCents: float
    discountPercentOff: float = 0.0
    inputTokens: _TokenCount = 0
    outputTokens: _TokenCount = 0
    cacheWriteTokens: _TokenCount = 0
    cacheReadTokens: _TokenCount = 0


# (gc=False: decoded events never form reference cycles, and leaving them untracked by the
# cyclic collector makes creating and freeing a million of them measurably cheaper)
class _TypedEvent(msgspec.Struct, forbid_unknown_fields=True, gc=False):
    """One cached event whose fields all have the documented types (see ``KNOWN_FIELDS``)."""

    timestamp: str
    model: str
    kind: str
    isChargeable: bool
    isTokenBasedCall: bool
    tokenUsage: _TypedTokenUsage
    userEmail: Union[str, None] = None
    cursorTokenFee: float = 0.0
    maxMode: Any = None
    requestsCosts: Any = None
    isHeadless: Any = None
    chargedCents: Union[float, None] = None
    isFreeBugbot: Any = None
    serviceAccountId: Any = None
    serviceAccountName: Any = None
    cloudAgentId: Any = None
    automationId: Any = None
    conversationId: Any = None
    owningUser: Any = None
    owningTeam: Any = None
    userId: Any = None


class _TypedHeader(msgspec.Struct):
    """A cache file without its events (``event_slices.locate`` puts ``[]`` in their place)."""

    month: str
    fetched_at: str
    total_events: int
    events: msgspec.Raw
    complete: Union[bool, None] = None  # (absent from a file in the seed's own format)
    fetch: dict = msgspec.field(default_factory=dict)


_HEADER_DECODER = msgspec.json.Decoder(_TypedHeader)


def _header_decodes(header: bytes) -> bool:
    """Whether ``header`` is a cache file whose events array is the ``[]`` put in their place."""
    try:
        return bytes(_HEADER_DECODER.decode(header).events) == b"[]"
    except (msgspec.DecodeError, RecursionError):  # (ValidationError included; nested too deep)
        return False


def _header_payload(header: _TypedHeader) -> dict[str, Any]:
    return {"month": header.month, "fetched_at": header.fetched_at, "total_events": header.total_events,
            "complete": header.complete, "fetch": header.fetch}


#: Undocumented event fields a file may carry and still take the typed path.
MAX_EXTRA_FIELDS = 16
#: The event fields the typed decoder knows by name.
_TYPED_EVENT_FIELDS = frozenset(field.encode_name for field in msgspec.structs.fields(_TypedEvent))
_JSON_DECODER = msgspec.json.Decoder()


def _undocumented_fields(data: bytes, learnt: tuple[str, ...]) -> tuple[str, ...]:
    """The fields of the events in ``data`` (a slice: a JSON array of events) that neither the typed
    event nor ``learnt`` has, in order of first appearance; none when ``data`` is not an array of
    objects. Read from the slice decoded as plain JSON (the rare path of a slice the typed decoder
    refused), never from the wording of the decoder's error. A name msgspec cannot rename a field to
    (a quote, a backslash, a control character) is not learnt: the general path counts it."""
    try:
        events = _JSON_DECODER.decode(data)
    except (msgspec.DecodeError, RecursionError):
        return ()
    found: dict[str, None] = {}
    for event in events if isinstance(events, list) else ():
        if not isinstance(event, dict):
            return ()
        for name in event:
            if name not in _TYPED_EVENT_FIELDS and name not in learnt:
                if '"' in name or "\\" in name or any(character < " " for character in name):
                    return ()
                found[name] = None
    return tuple(found)


@lru_cache(maxsize=32)
def _typed_decoder(extra_fields: tuple[str, ...] = ()) -> msgspec.json.Decoder:
    """A decoder for a slice of events (a JSON array) that may also carry ``extra_fields``
    (undocumented ones).

    Each extra field becomes an attribute ``extra_N`` that stays ``msgspec.UNSET``
    where an event lacks it, so the loader can count the events that carry it.
    """
    event_type = _TypedEvent
    if extra_fields:
        event_type = msgspec.defstruct(
            "_TypedEventWithExtras",
            [(f"extra_{index}", Any, msgspec.UNSET) for index in range(len(extra_fields))],
            bases=(_TypedEvent,),
            forbid_unknown_fields=True,
            gc=False,
            rename={f"extra_{index}": name for index, name in enumerate(extra_fields)},
        )
    return msgspec.json.Decoder(list[event_type])


def _read_typed(path: Path) -> dict[str, Any] | None:
    """The cache file decoded on the typed path, a slice of events at a time: its header (``month``,
    ``fetched_at``, ``total_events``, ``complete``, ``fetch``) and its events already summed
    (``cells``, ``quality``, ``events_in_file``; ``extra_fields``: the undocumented event fields
    learnt, up to ``MAX_EXTRA_FIELDS``), or ``None`` when the file needs the general path.
    """
    span = event_slices.locate(path, _header_decodes)
    if span is None:
        return None
    header = _HEADER_DECODER.decode(span.header)
    try:
        month = Month.from_cache_stem(header.month)  # (another month than asked: refused by the caller)
    except ValueError:
        return None
    piece = _decode_piece(path, month, span.start, span.end)
    if piece is None or piece.events != header.total_events:
        return None
    return {**_header_payload(header), "events_in_file": piece.events, "cells": piece.cells,
            "quality": piece.quality, "extra_fields": piece.extra_fields}


def _decode_piece(path: Path, month: Month, start: int, end: int) -> _PieceSums | None:
    """The events between bytes ``start`` and ``end`` of ``path`` summed on the typed path, or
    ``None`` when a slice of them does not decode as typed events."""
    try:
        return _sum_piece(path, month, start, end, wide=False)
    except OverflowError:  # a sum beyond 64 bits (absurd, but a file may say so): in Python integers
        return _sum_piece(path, month, start, end, wide=True)


def _sum_piece(path: Path, month: Month, start: int, end: int, *, wide: bool) -> _PieceSums | None:
    builder = CellsBuilder(month.start_ms // DAY_MS, wide=wide)
    quality = DataQuality()
    count = 0
    extra_fields: tuple[str, ...] = ()
    try:
        for data in event_slices.read_slices(path, start, end):
            while True:
                try:
                    events = _typed_decoder(extra_fields).decode(data)
                    break
                except msgspec.ValidationError:  # (a kind of DecodeError: caught first)
                    # undocumented fields (learnt, and the slice decoded again with them), or a value
                    # of another type (no new field: the general path reports or counts it)
                    unknown = _undocumented_fields(data, extra_fields)
                    if not unknown or len(extra_fields) + len(unknown) > MAX_EXTRA_FIELDS:
                        return None
                    extra_fields += unknown
                except (msgspec.DecodeError, RecursionError):  # not JSON, not cut between events, or
                    return None                                 # nested too deep: the general path
            del data
            count += len(events)
            aggregate_typed_events(events, month, quality, builder, extra_fields)
            del events
    except OSError:  # gone or shorter meanwhile: the general path names the file
        return None
    return _PieceSums(builder.finish(), quality, count, extra_fields)


def aggregate_typed_events(
    events: list[_TypedEvent],
    month: Month,
    quality: DataQuality,
    cells: CellsBuilder,
    extra_fields: tuple[str, ...] = (),
) -> None:
    """:func:`aggregate_events` for typed events: the same cells and counts, fewer checks per event.

    An ordinary event (on-demand, believable amounts, a timestamp in the month,
    a positive cost) is priced and summed inline here; any other takes
    :func:`_inspect`, the careful path, exactly as :func:`aggregate_events` would.
    ``extra_fields``: the undocumented fields the decoder learnt (``_typed_decoder``);
    the events carrying each are counted as unknown fields. A sum beyond 64 bits raises
    ``OverflowError`` (the caller starts again with ``wide`` cells).
    """
    for index, name in enumerate(extra_fields):
        carrying = sum(map(is_not, map(attrgetter(f"extra_{index}"), events), repeat(msgspec.UNSET)))
        if carrying:
            quality.unknown_fields[name] = quality.unknown_fields.get(name, 0) + carrying
    start_ms, end_ms = month.start_ms, month.end_ms
    first_day = cells.first_day
    scale = MICROCENTS_PER_CENT
    tolerance = CHARGED_TOLERANCE
    removed_user = REMOVED_USER
    on_demand = ON_DEMAND_KIND
    limit = AMOUNT_LIMIT_CENTS
    name_limit = NAME_LIMIT
    account_mark = SERVICE_ACCOUNT_MARK
    account_limit = NAME_LIMIT - len(SERVICE_ACCOUNT_MARK)
    account_owners = quality.service_account_owners
    model_bits = MODEL_BITS
    # Trick: the builder's containers as locals, and users and models as numbers packed with
    # the day into one integer key: a look-up of two short strings and one small integer per
    # event instead of a tuple of four (about a fifth less time, and ~100 bytes a cell).
    user_code, model_code = cells.users.get, cells.models.get
    rows = cells.rows
    row_of = rows.get
    keys = cells.keys
    new_key = keys.append
    charged_sums, request_counts, input_sums, output_sums, write_sums, read_sums, list_sums, fee_sums = cells.sums
    kept = 0
    without_email = 0
    with_charged = 0
    for event in events:
        if event.kind == on_demand and event.isChargeable and event.isTokenBasedCall:
            model = event.model
            usage = event.tokenUsage
            cents = usage.totalCents
            fee = event.cursorTokenFee
            discount = usage.discountPercentOff
            charged_cents = event.chargedCents
            account = event.serviceAccountName
            try:
                timestamp = int(event.timestamp)
            except ValueError:
                timestamp = end_ms  # (not a number: outside the month, the careful path counts it)
            if (
                model
                and len(model) <= name_limit
                and (not event.userEmail or len(event.userEmail) <= name_limit)
                and -limit < cents < limit
                and -limit < fee < limit
                and 0 <= discount <= 100
                and (charged_cents is None or -limit < charged_cents < limit)
                and start_ms <= timestamp < end_ms
                and (not account or type(account) is str and account == account.strip()
                     and len(account) <= account_limit)
            ):
                # Trick: the cost rule (``on_demand.event_cost``) inlined, a call per event
                # costing more than the arithmetic; the tests hold both to the same figures.
                list_cost = round((cents + fee) * scale)
                formula = round((cents * (1 - discount / 100) + fee) * scale) if discount else list_cost
                charged = formula if charged_cents is None else round(charged_cents * scale)
                if charged > 0:
                    kept += 1
                    if charged_cents is not None:
                        with_charged += 1
                        if not -tolerance <= charged - formula <= tolerance:
                            _note_charged_difference(quality, event.timestamp, event.userEmail, model,
                                                     charged, formula)
                    user = event.userEmail
                    # Trick: an event of a removed user (no email, ~1.5 %) is otherwise
                    # ordinary: it is summed here under REMOVED_USER and counted exactly as
                    # ``_inspect`` would, instead of taking the careful path.
                    if not user:
                        user = removed_user
                        without_email += 1
                    if account:  # a service account is its own row (its owner's email is noted)
                        owner, user = user, account + account_mark
                        if user not in account_owners:
                            account_owners[user] = owner
                    user_number = user_code(user)
                    if user_number is None:
                        user_number = cells.user_code(user)
                    model_number = model_code(model)
                    if model_number is None:
                        model_number = cells.model_code(model)
                    key = ((user_number << model_bits | model_number) << 6
                           | (timestamp // DAY_MS - first_day) << 1 | (event.maxMode is True))
                    row = row_of(key)
                    if row is None:
                        rows[key] = len(keys)
                        new_key(key)
                        charged_sums.append(charged)
                        request_counts.append(1)
                        input_sums.append(usage.inputTokens)
                        output_sums.append(usage.outputTokens)
                        write_sums.append(usage.cacheWriteTokens)
                        read_sums.append(usage.cacheReadTokens)
                        list_sums.append(list_cost)
                        fee_sums.append(round(fee * scale))
                    else:
                        charged_sums[row] += charged
                        request_counts[row] += 1
                        input_sums[row] += usage.inputTokens
                        output_sums[row] += usage.outputTokens
                        write_sums[row] += usage.cacheWriteTokens
                        read_sums[row] += usage.cacheReadTokens
                        list_sums[row] += list_cost
                        fee_sums[row] += round(fee * scale)
                    continue
        # unusual: the careful path decides on the event as a plain dict (absent fields as
        # defaults; the extra fields are counted above already)
        plain = msgspec.to_builtins(event)
        for name in extra_fields:
            plain.pop(name, None)
        if plain.get("chargedCents", 0) is None:
            del plain["chargedCents"]  # (the typed default: the event has none)
        values = _inspect(plain, month, quality)
        if values is not None:
            kept += 1
            cells.add(*values)
    quality.events_kept += kept
    quality.without_email += without_email
    quality.with_charged += with_charged
    quality.without_charged = quality.events_kept - quality.with_charged


def _month_facts(payload: dict[str, Any], path: Path, month: Month, events_in_file: int) -> MonthFacts:
    if payload["month"] != month.cache_stem:
        raise CacheError(
            f"Cache file {path} says it holds month {shortened(printable(repr(payload['month'])), 40)}, "
            f"not {month.cache_stem!r}; "
            f"run `billing-reports fetch --refresh {month.key}` to download it again."
        )
    try:
        fetched_at = parse_isoformat_z(payload["fetched_at"])
    except ValueError:
        raise CacheError(
            f"Cache file {path} has a 'fetched_at' that is not an ISO date-time "
            f"({shortened(printable(repr(payload['fetched_at'])), 40)}); "
            f"run `billing-reports fetch --refresh {month.key}`."
        ) from None
    fetch = dict(payload.get("fetch") or {})
    quality = DataQuality(events_in_file=events_in_file)
    # kinds the fetch left out that this version does not know: a new kind may be new spend
    left_out = fetch.get("left_out")
    for kind, count in (left_out.items() if isinstance(left_out, dict) else ()):
        if kind not in KNOWN_KINDS and kind not in (NOT_CHARGEABLE, NOT_TOKEN_BASED) and type(count) is int:
            quality.unknown_kinds[kind] = quality.unknown_kinds.get(kind, 0) + count
    return MonthFacts(
        month,
        path=path,
        cached=True,
        fetched_at=fetched_at,
        complete=cached_complete(month, payload),
        fetch=fetch,
        quality=quality,
    )


def aggregate_events(events: Iterable[Any], month: Month, quality: DataQuality,
                     cells: LedgerCells | CellsBuilder) -> None:
    """Add ``events`` (one month's cached events, plain dicts) into the ledger ``cells`` and
    count what is odd in ``quality``: every event decided by :func:`_inspect`.

    ``cells`` maps ``(day, user, model, max mode)`` to ``[charged, requests, input,
    output, cache write, cache read, list cost, token fee]`` (money in micro-cents): a dict,
    or the loader's ``CellsBuilder``.
    """
    add = cells.add if isinstance(cells, CellsBuilder) else _cell_adder(cells)
    kept = 0
    for event in events:
        values = _inspect(event, month, quality)
        if values is not None:
            kept += 1
            add(*values)
    quality.events_kept += kept
    quality.without_charged = quality.events_kept - quality.with_charged


def _cell_adder(cells: LedgerCells):
    def add(key: LedgerKey, sums: Sequence[int]) -> None:
        cell = cells.get(key)
        if cell is None:
            cells[key] = list(sums)
            return
        for index, amount in enumerate(sums):
            cell[index] += amount  # type: ignore[index]

    return add


def _inspect(event: Any, month: Month, quality: DataQuality) -> EventValues | None:
    """Decide about one event carefully: its ledger key and sums if it counts, else ``None``;
    count the oddities in ``quality``.

    The on-demand rule and the cost rule are :mod:`billing_reports.on_demand`'s. A kept
    event whose timestamp is missing or outside the file's month still counts in that
    month (the month's total is the file's): on the month's first or last day, the
    nearer one, and the data-quality page counts it.
    """
    if not isinstance(event, dict):
        quality.non_numeric_cost += 1
        return None
    for name in event.keys() - KNOWN_FIELDS:
        quality.unknown_fields[name] = quality.unknown_fields.get(name, 0) + 1
    kind = event.get("kind")
    kind_name = kind if isinstance(kind, str) else repr(kind)
    if kind_name not in KNOWN_KINDS:
        quality.unknown_kinds[kind_name] = quality.unknown_kinds.get(kind_name, 0) + 1
    if not is_on_demand(event):
        reason = left_out_label(event)
        quality.not_on_demand[reason] = quality.not_on_demand.get(reason, 0) + 1
        return None

    usage = event.get("tokenUsage")
    usage = usage if isinstance(usage, dict) else {}
    fee = event.get("cursorTokenFee")
    fee = 0 if fee is None else fee
    discount = usage.get("discountPercentOff")
    discount = 0 if discount is None else discount
    charged_cents = event.get("chargedCents")
    total_cents = usage.get("totalCents")
    parts_known = is_amount(total_cents) and is_amount(fee) and is_amount(discount)
    if not (charged_cents is None or is_amount(charged_cents)) or (charged_cents is None and not parts_known):
        quality.non_numeric_cost += 1  # no number says what it cost: it cannot be priced
        return None
    tokens = [usage.get(name) for name in ("inputTokens", "outputTokens", "cacheWriteTokens", "cacheReadTokens")]
    if not all(count is None or (type(count) is int and 0 <= count < TOKEN_LIMIT) for count in tokens):
        quality.bad_tokens += 1  # still priced: only its token counts are unknown
    tokens = [count if type(count) is int and 0 <= count < TOKEN_LIMIT else 0 for count in tokens]
    if parts_known:
        if not 0 <= discount <= 100:
            quality.odd_discount += 1
        cost = event_cost(total_cents, fee, discount, charged_cents)
    else:  # what Cursor billed is known, its parts are not: the charge is its list cost too
        quality.parts_unknown += 1
        charged = microcents(charged_cents)
        cost = EventCost(charged, charged, microcents(fee) if is_amount(fee) else 0)
    if cost.charged == 0:
        quality.zero_cost += 1
    elif cost.charged < 0:
        quality.negative_cost += 1

    user = event.get("userEmail")
    if not isinstance(user, str) or not user:
        user = REMOVED_USER
        quality.without_email += 1
    account = event.get("serviceAccountName")
    if isinstance(account, str) and account.strip():
        owner, user = user, service_account_user(account)
        quality.service_account_owners.setdefault(bounded_name(user), owner)
    model = event.get("model")
    if not isinstance(model, str) or not model:
        model = UNKNOWN_MODEL
        quality.without_model += 1
    if len(user) > NAME_LIMIT or len(model) > NAME_LIMIT:
        quality.long_names += 1
        user, model = bounded_name(user), bounded_name(model)
    if charged_cents is not None:
        quality.with_charged += 1
        if charged_differs(cost):
            _note_charged_difference(quality, event.get("timestamp"), event.get("userEmail"), model,
                                     cost.charged, cost.formula)
    first_day, last_day = month.start_ms // DAY_MS, month.end_ms // DAY_MS - 1
    try:
        timestamp = event["timestamp"]
        if isinstance(timestamp, bool):
            raise TypeError
        day = int(timestamp) // DAY_MS
    except (KeyError, TypeError, ValueError, OverflowError):
        quality.bad_timestamp += 1
        day = first_day
    else:
        if not first_day <= day <= last_day:
            quality.outside_month += 1
            day = first_day if day < first_day else last_day
    key = (day, user, model, event.get("maxMode") is True)
    return key, (cost.charged, 1, *tokens, cost.list, cost.token_fee)


def bounded_name(name: str) -> str:
    """A name of at most ``NAME_LIMIT`` characters: a longer one cut short, with a digest of the
    whole so that two long names stay apart (its spend still counts, under this name)."""
    if len(name) <= NAME_LIMIT:
        return name
    digest = hashlib.blake2b(name.encode("utf-8", "surrogatepass"), digest_size=6).hexdigest()
    return f"{name[:NAME_LIMIT - 20]}\u2026 ({digest})"


def _note_charged_difference(quality: DataQuality, timestamp: Any, user: Any, model: str,
                             charged: int, formula: int) -> None:
    """Count an event whose ``chargedCents`` is further than 0.01 cent from its parts' formula,
    keeping the first few for the data-quality page."""
    quality.charged_differs += 1
    if len(quality.charged_differs_examples) < CHARGED_EXAMPLES:
        quality.charged_differs_examples.append({
            "timestamp": str(timestamp), "user": user if isinstance(user, str) and user else REMOVED_USER,
            "model": model, "charged": charged, "formula": formula,
        })


def iter_kept_events(data_dir: Path, months: Iterable[Month]) -> Iterator[tuple[Month, dict[str, Any]]]:
    """Stream ``(month, event)`` for each event that counts in the totals, one cache file at a time.

    Months without a cache file are skipped; the rule is exactly the loader's.
    """
    return ((month, event) for month, event, _values in iter_kept_event_values(data_dir, months))


def iter_kept_charges(data_dir: Path, months: Iterable[Month]) -> Iterator[tuple[int, str, int]]:
    """``(timestamp ms, user, charged micro-cents)`` of each event that counts, by the loader's rule
    and the cost rule (events without ``userEmail``: :data:`REMOVED_USER`)."""
    for _month, event, ((_day, user, _model, _max), sums) in iter_kept_event_values(data_dir, months):
        yield int(event["timestamp"]), user, sums[0]


def iter_kept_event_values(data_dir: Path, months: Iterable[Month]) -> Iterator[tuple[Month, dict[str, Any], EventValues]]:
    """``(month, event, (ledger key, sums))`` for each event that counts, by the loader's rule: the
    event as cached (a dict), the ledger cell it adds to and what it adds (charged cost, requests,
    input, output, cache-write and cache-read tokens, list cost, token fee). Months without a cache
    file are skipped; a month's events are read a slice at a time (:func:`_month_events`)."""
    for month in months:
        path = cache_path(data_dir, month)
        if not path.exists():
            continue
        scratch = DataQuality()
        for event in _month_events(path):
            values = _inspect(event, month, scratch)
            if values is not None:
                yield month, event, values


def _month_events(path: Path) -> Iterator[Any]:
    """A cache file's events in order: a slice of them decoded at a time where the file is laid out
    as ``fetch`` writes it (``event_slices``), else, or from the first slice that does not decode as
    an array of events, the rest of them from the whole file, read and checked."""
    done = 0
    span = event_slices.locate(path, _header_decodes)
    if span is not None:
        try:
            for piece in event_slices.read_slices(path, span.start, span.end):
                events = orjson.loads(piece)
                if not isinstance(events, list):
                    break
                yield from events
                done += len(events)
            else:
                return
        except orjson.JSONDecodeError:
            pass
    yield from read_cached_month(path)["events"][done:]


__all__ = [
    "KNOWN_FIELDS",
    "KNOWN_KINDS",
    "ON_DEMAND_KIND",
    "aggregate_events",
    "iter_kept_charges",
    "iter_kept_event_values",
    "iter_kept_events",
    "decode_month",
    "load_month",
    "load_usage",
    "require_cached_data",
]
