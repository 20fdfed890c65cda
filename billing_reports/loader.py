"""From the monthly cache to :class:`~billing_reports.usage.OnDemandUsage`.

The loader reads one cache file at a time (streaming month by month), keeps
only aggregates per ``(month, user, model)`` and drops each file's events
before reading the next. It applies the on-demand filter again (a hand-edited
file must not smuggle included usage into the totals) and counts everything odd
it sees for the data-quality page: a malformed *event* is counted, never a
crash; a malformed *file* is a :class:`~billing_reports.errors.CacheError`
naming it.

Speed matters (a million events load in seconds):

- a well-formed file (what ``fetch`` writes) is decoded by msgspec straight
  into typed structs, its types and field names checked in C; any surprise
  sends the file down the general path (``read_cached_month``, plain dicts);
- ordinary events go through one tight loop of look-ups and integer sums into
  a dict keyed by ``(user, model)`` tuples; anything unusual falls back to
  :func:`_inspect`, which decides carefully and counts what it finds; both
  paths give the same sums and counts (the tests compare them);
- a big cache is spread over one process per CPU, a month at a time;
- a month is decoded once: its result is kept as a summary (``month_summary``)
  and read instead while the cache file is unchanged.
"""

from __future__ import annotations

import gc
import math
import multiprocessing
import os
import re
import time
from concurrent.futures import ProcessPoolExecutor
from contextlib import contextmanager
from functools import lru_cache
from itertools import repeat
from operator import attrgetter, is_not
from pathlib import Path
from typing import Any, Iterable, Iterator, Sequence, Union

import msgspec

from .cache import cache_path, read_cached_month
from .errors import CacheError
from .money import MICROCENTS_PER_CENT, microcents
from .month_summary import keep_summary, read_summary
from .months import Month, parse_isoformat_z
from .on_demand import NOT_CHARGEABLE, NOT_TOKEN_BASED, ON_DEMAND_KIND
from .settings import Settings
from .usage import REMOVED_USER, UNKNOWN_MODEL, DataQuality, MonthFacts, OnDemandUsage, UsageTotals

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
#: Set to a number of processes to override that choice (``1``: always in this process).
LOAD_WORKERS_VARIABLE = "BILLING_REPORTS_LOAD_WORKERS"
#: An amount of this many cents or more (10 billion dollars) is not believed: not a number.
AMOUNT_LIMIT_CENTS = 1e12

#: ``(user, model) -> [cost, requests, input, output, cache write, cache read]`` of one month
#: (tuples when they come from a month summary).
MonthCells = dict[tuple[str, str], Sequence[int]]
#: ``(user, model, cost, input, output, cache write, cache read)`` of one kept event.
EventValues = tuple[str, str, int, int, int, int, int]


def load_usage(settings: Settings, months: Sequence[Month], *, data_dir: Path | None = None) -> OnDemandUsage:
    """Load the cached months of ``months`` (oldest first) from ``data_dir`` (default: the config's).

    A month without a cache file is recorded as missing (its totals are zero);
    a cache file that cannot be read or has the wrong shape raises ``CacheError``.
    """
    directory = Path(data_dir if data_dir is not None else settings.data_dir)
    ordered = sorted(set(months))
    totals: dict[tuple[Month, str, str], UsageTotals] = {}
    facts: dict[Month, MonthFacts] = {}
    month_cells: dict[Month, dict[tuple[str, str], UsageTotals]] = {}
    # Trick: the collector stays paused while the results are unpickled and regrouped too:
    # the ~100,000 tuples made here form no cycles, and its passes over them cost ~0.1 s.
    with _collector_paused():
        for month, (month_facts, cells) in zip(ordered, _load_months(directory, ordered)):
            facts[month] = month_facts
            month_cells[month] = {key: UsageTotals(*values) for key, values in cells.items()}
            totals.update(((month, user, model), t) for (user, model), t in month_cells[month].items())
    return OnDemandUsage(months=ordered, totals=totals, month_facts=facts, data_dir=directory, month_cells=month_cells)


def _load_months(data_dir: Path, months: list[Month]) -> Iterator[tuple[MonthFacts, MonthCells]]:
    """``load_month`` for each month, in order: in worker processes when the cache is big.

    Months whose cache file is unchanged since it was last decoded come from their
    summaries (``month_summary``). Decoding the others is the bulk of the work and
    months are independent, so a big cache is spread over one process per CPU (each
    returns only its month's aggregates); a small one is read here, where starting
    processes would cost more.
    """
    summarised: dict[Month, tuple[MonthFacts, MonthCells]] = {}  # (and the months without a file)
    for month in months:
        found = _without_decoding(data_dir, month)
        if found is not None:
            summarised[month] = found
    to_decode = [month for month in months if month not in summarised]
    workers = load_workers(data_dir, to_decode)
    if workers <= 1:
        # one month at a time, in order: only one month's cells are alive beside the caller's totals
        for month in months:
            yield summarised.pop(month) if month in summarised else decode_month(data_dir, month)
        return
    with ProcessPoolExecutor(workers, mp_context=multiprocessing.get_context("fork")) as pool:
        decoded = dict(zip(to_decode, pool.map(decode_month, repeat(data_dir), to_decode)))
    for month in months:
        yield summarised.pop(month) if month in summarised else decoded.pop(month)


def load_workers(data_dir: Path, months: Sequence[Month]) -> int:
    """How many processes decode ``months``: 1 unless their cache is big (``LOAD_WORKERS_VARIABLE`` overrides)."""
    sizes = [path.stat().st_size for path in (cache_path(data_dir, m) for m in months) if path.is_file()]
    forced = os.environ.get(LOAD_WORKERS_VARIABLE, "").strip()
    if forced.isdigit() and int(forced) > 0:
        wanted = int(forced)
    elif sum(sizes) >= PARALLEL_MIN_BYTES and "fork" in multiprocessing.get_all_start_methods():
        wanted = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)
    else:
        wanted = 1
    return max(1, min(wanted, len(sizes)))


def load_month(data_dir: Path, month: Month) -> tuple[MonthFacts, MonthCells]:
    """One month's facts and its aggregates ``(user, model) -> [cost, requests, in, out, cw, cr]``:
    from its summary when the cache file is unchanged since it was decoded, else decoded."""
    found = _without_decoding(data_dir, month)
    return found if found is not None else decode_month(data_dir, month)


def _without_decoding(data_dir: Path, month: Month) -> tuple[MonthFacts, MonthCells] | None:
    """The month from its summary, or as missing when it has no cache file; ``None``: decode it."""
    path = cache_path(data_dir, month)
    try:
        stat = path.stat()
    except OSError:  # (as ``Path.exists()`` says: any trouble finding the file is no file)
        return MonthFacts(month, path=path, cached=False), {}
    return read_summary(data_dir, month, path, stat)


def decode_month(data_dir: Path, month: Month) -> tuple[MonthFacts, dict[tuple[str, str], list[int]]]:
    """:func:`load_month` from the cache file's events, always; then keeps the month's summary."""
    path = cache_path(data_dir, month)
    checked_at = time.time()
    try:
        stat = path.stat()  # before reading: a change while decoding makes the summary not match
    except OSError:  # (as ``Path.exists()`` says: any trouble finding the file is no file)
        return MonthFacts(month, path=path, cached=False), {}
    with _collector_paused():
        typed = _read_typed(path)
        cells: dict[tuple[str, str], list[int]] = {}
        if typed is not None:
            month_facts = _month_facts(typed, path, month)
            aggregate_typed_events(typed["events"], month, month_facts.quality, cells, typed["extra_fields"])
        else:
            payload = read_cached_month(path)
            month_facts = _month_facts(payload, path, month)
            events = payload["events"]
            del payload  # only the events list stays alive, and only until this month is summed
            aggregate_events(events, month, month_facts.quality, cells)
            del events
        del typed
    keep_summary(data_dir, month, stat, checked_at, month_facts, cells)
    return month_facts, cells


# --- the typed fast path ------------------------------------------------------------------
#
# A cache file written by ``fetch`` has one shape; msgspec decodes it straight into
# typed structs, checking every type and refusing unknown fields in C, about twice
# as fast as decoding to dicts, and leaving the per-event loop little to check.
# An undocumented field is learnt and counted; any other surprise (a string where a
# number belongs, a broken file) sends the whole file down the general path above,
# which reports or counts it.


class _TypedTokenUsage(msgspec.Struct):
    totalCents: float
    inputTokens: int = 0
    outputTokens: int = 0
    cacheWriteTokens: int = 0
    cacheReadTokens: int = 0


class _TypedEvent(msgspec.Struct, forbid_unknown_fields=True):
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
    chargedCents: Any = None
    isFreeBugbot: Any = None
    serviceAccountId: Any = None
    serviceAccountName: Any = None
    cloudAgentId: Any = None
    automationId: Any = None
    conversationId: Any = None
    owningUser: Any = None
    owningTeam: Any = None
    userId: Any = None


def _cache_file_type(event_type: type) -> type:
    return msgspec.defstruct(
        "_TypedCacheFile",
        [
            ("month", str),
            ("fetched_at", str),
            ("total_events", int),
            ("events", list[event_type]),
            ("complete", bool, False),
            ("fetch", dict, msgspec.field(default_factory=dict)),
        ],
    )


#: Undocumented event fields a file may carry and still take the typed path.
MAX_EXTRA_FIELDS = 16
_UNKNOWN_EVENT_FIELD = re.compile(r"^Object contains unknown field `(.*)` - at `\$\.events\[\d+\]`$")


@lru_cache(maxsize=32)
def _typed_decoder(extra_fields: tuple[str, ...] = ()) -> msgspec.json.Decoder:
    """A decoder for cache files whose events may also carry ``extra_fields`` (undocumented ones).

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
            rename={f"extra_{index}": name for index, name in enumerate(extra_fields)},
        )
    return msgspec.json.Decoder(_cache_file_type(event_type))


def _read_typed(path: Path) -> dict[str, Any] | None:
    """The cache file as a payload of typed events, or ``None`` when it needs the general path.

    An undocumented event field does not send the file away: the decoder learns
    it (``extra_fields`` of the payload) and decodes again, up to ``MAX_EXTRA_FIELDS``.
    """
    try:
        raw = path.read_bytes()
    except OSError:
        return None
    extra_fields: tuple[str, ...] = ()
    while True:
        try:
            typed = _typed_decoder(extra_fields).decode(raw)
            break
        except msgspec.ValidationError as error:  # (a kind of DecodeError: catch it first)
            unknown = _UNKNOWN_EVENT_FIELD.match(str(error))
            if unknown is None or len(extra_fields) >= MAX_EXTRA_FIELDS or unknown[1] in extra_fields:
                return None
            extra_fields += (unknown[1],)
        except msgspec.DecodeError:  # not JSON: the general path names the file
            return None
    if typed.total_events != len(typed.events):
        return None
    return {"month": typed.month, "fetched_at": typed.fetched_at, "total_events": typed.total_events,
            "events": typed.events, "complete": typed.complete, "fetch": typed.fetch,
            "extra_fields": extra_fields}


def aggregate_typed_events(
    events: list[_TypedEvent],
    month: Month,
    quality: DataQuality,
    cells: dict[tuple[str, str], list[int]],
    extra_fields: tuple[str, ...] = (),
) -> None:
    """:func:`aggregate_events` for typed events: the same sums and counts, fewer checks per event.

    ``extra_fields``: the undocumented fields the decoder learnt (``_read_typed``);
    the events carrying each are counted as unknown fields.
    """
    for index, name in enumerate(extra_fields):
        carrying = sum(map(is_not, map(attrgetter(f"extra_{index}"), events), repeat(msgspec.UNSET)))
        if carrying:
            quality.unknown_fields[name] = quality.unknown_fields.get(name, 0) + carrying
    start_ms, end_ms = month.start_ms, month.end_ms
    # Trick: the API's timestamps are 13-digit strings of milliseconds; two such strings
    # compare like the numbers they spell, so an ASCII-digit string of the bounds' length
    # is compared as text against the bounds (no ``int()`` per event). Any other string
    # (another length, a sign, spaces, underscores, non-ASCII digits) takes ``int()`` as before.
    start_text, end_text = str(start_ms), str(end_ms)
    text_length = len(start_text) if len(start_text) == len(end_text) else -1
    scale = MICROCENTS_PER_CENT
    removed_user = REMOVED_USER
    get_cell = cells.get
    on_demand = ON_DEMAND_KIND
    limit = AMOUNT_LIMIT_CENTS
    kept = 0
    without_email = 0
    for event in events:
        try:
            if event.kind == on_demand and event.isChargeable and event.isTokenBasedCall:
                model = event.model
                usage = event.tokenUsage
                cents = usage.totalCents
                fee = event.cursorTokenFee
                timestamp = event.timestamp
                if (
                    model
                    and -limit < cents < limit
                    and -limit < fee < limit
                    and (
                        start_text <= timestamp < end_text
                        if len(timestamp) == text_length and timestamp.isascii() and timestamp.isdigit()
                        else start_ms <= int(timestamp) < end_ms
                    )
                ):
                    # Trick: ``microcents`` inlined (a call per event costs more than the rounding).
                    cost = round((cents + fee) * scale)
                    if cost > 0:
                        kept += 1
                        user = event.userEmail
                        # Trick: an event of a removed user (no email, ~1.5 %) is otherwise
                        # ordinary: it is summed here under REMOVED_USER and counted exactly as
                        # ``_inspect`` would, instead of taking the slow plain-dict path.
                        if not user:
                            user = removed_user
                            without_email += 1
                        cell = get_cell((user, model))
                        if cell is None:
                            cells[(user, model)] = [cost, 1, usage.inputTokens, usage.outputTokens,
                                                    usage.cacheWriteTokens, usage.cacheReadTokens]
                        else:
                            cell[0] += cost
                            cell[1] += 1
                            cell[2] += usage.inputTokens
                            cell[3] += usage.outputTokens
                            cell[4] += usage.cacheWriteTokens
                            cell[5] += usage.cacheReadTokens
                        continue
        except (ValueError, OverflowError):
            pass
        # unusual: the careful path decides on the event as a plain dict (absent fields as
        # defaults; the extra fields are counted above already)
        plain = msgspec.to_builtins(event)
        for name in extra_fields:
            plain.pop(name, None)
        values = _inspect(plain, start_ms, end_ms, quality)
        if values is None:
            continue
        kept += 1
        _add_event(cells, values)
    quality.events_kept += kept
    quality.without_email += without_email


@contextmanager
def _collector_paused() -> Iterator[None]:
    """Pause the cyclic garbage collector: decoding creates millions of containers and none
    of them form cycles, so its passes would only cost time (it halves the decoding time)."""
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            gc.enable()


def _month_facts(payload: dict[str, Any], path: Path, month: Month) -> MonthFacts:
    if payload["month"] != month.cache_stem:
        raise CacheError(
            f"Cache file {path} says it holds month {payload['month']!r}, not {month.cache_stem!r}; "
            f"run `billing-reports fetch --refresh {month.key}` to download it again."
        )
    try:
        fetched_at = parse_isoformat_z(payload["fetched_at"])
    except ValueError:
        raise CacheError(
            f"Cache file {path} has a 'fetched_at' that is not an ISO date-time "
            f"({payload['fetched_at']!r}); run `billing-reports fetch --refresh {month.key}`."
        ) from None
    fetch = dict(payload.get("fetch") or {})
    quality = DataQuality(events_in_file=len(payload["events"]))
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
        complete=bool(payload.get("complete", False)),
        fetch=fetch,
        quality=quality,
    )


def aggregate_events(
    events: Iterable[Any],
    month: Month,
    quality: DataQuality,
    cells: dict[tuple[str, str], list[int]],
) -> None:
    """Add ``events`` (one month's cached events) into ``cells`` and count what is odd in ``quality``.

    ``cells`` maps ``(user, model)`` to ``[cost, requests, input, output,
    cache write, cache read]`` (cost in micro-cents).
    """
    start_ms, end_ms = month.start_ms, month.end_ms
    known_fields = KNOWN_FIELDS
    to_microcents = microcents
    get_cell = cells.get
    # Field names are checked once per distinct key order (cheaper than a set test per event).
    known_shapes: dict[tuple[str, ...], bool] = {}
    shape_is_known = known_shapes.get
    on_demand = ON_DEMAND_KIND
    limit = AMOUNT_LIMIT_CENTS
    kept = 0
    for event in events:
        try:
            usage = event["tokenUsage"]
            cents = usage["totalCents"]
            fee = event.get("cursorTokenFee", 0)
            input_tokens = usage.get("inputTokens", 0)
            output_tokens = usage.get("outputTokens", 0)
            write_tokens = usage.get("cacheWriteTokens", 0)
            read_tokens = usage.get("cacheReadTokens", 0)
            user = event["userEmail"]
            model = event["model"]
            if (
                event["kind"] == on_demand
                and event["isChargeable"] is True
                and event["isTokenBasedCall"] is True
                and (type(cents) is float or type(cents) is int)
                and (type(fee) is float or type(fee) is int)
                and type(input_tokens) is int
                and type(output_tokens) is int
                and type(write_tokens) is int
                and type(read_tokens) is int
                and type(user) is str
                and user
                and type(model) is str
                and model
                and start_ms <= int(event["timestamp"]) < end_ms
            ):
                shape = tuple(event)
                known = shape_is_known(shape)
                if known is None:
                    known = known_shapes[shape] = known_fields.issuperset(shape)
                # The API's amounts have at most a few decimals: rounding their sum
                # to micro-cents is as exact as converting each one.
                cost = to_microcents(cents + fee)
                if cost > 0 and known and -limit < cents < limit and -limit < fee < limit:
                    kept += 1
                    cell = get_cell((user, model))
                    if cell is None:
                        cells[(user, model)] = [cost, 1, input_tokens, output_tokens, write_tokens, read_tokens]
                    else:
                        cell[0] += cost
                        cell[1] += 1
                        cell[2] += input_tokens
                        cell[3] += output_tokens
                        cell[4] += write_tokens
                        cell[5] += read_tokens
                    continue
        except (KeyError, TypeError, ValueError, AttributeError, OverflowError):
            pass
        values = _inspect(event, start_ms, end_ms, quality)
        if values is None:
            continue
        kept += 1
        _add_event(cells, values)
    quality.events_kept += kept


def _add_event(cells: dict[tuple[str, str], list[int]], values: EventValues) -> None:
    """Add one event that ``_inspect`` kept to its ``(user, model)`` cell (the rare, careful path;
    the fast loops above do the same inline, where a call per event would cost)."""
    user, model, cost, *tokens = values
    cell = cells.get((user, model))
    if cell is None:
        cells[(user, model)] = [cost, 1, *tokens]
        return
    cell[0] += cost
    cell[1] += 1
    for index, count in enumerate(tokens, start=2):
        cell[index] += count


def _inspect(event: Any, start_ms: int, end_ms: int, quality: DataQuality) -> EventValues | None:
    """Decide about an unusual event carefully: its values if it counts, else ``None``; count the oddities."""
    if not isinstance(event, dict):
        quality.non_numeric_cost += 1
        return None
    for name in event.keys() - KNOWN_FIELDS:
        quality.unknown_fields[name] = quality.unknown_fields.get(name, 0) + 1
    kind = event.get("kind")
    kind_name = kind if isinstance(kind, str) else repr(kind)
    if kind_name not in KNOWN_KINDS:
        quality.unknown_kinds[kind_name] = quality.unknown_kinds.get(kind_name, 0) + 1
    reason = None
    if kind != ON_DEMAND_KIND:
        reason = kind_name
    elif event.get("isChargeable") is not True:
        reason = NOT_CHARGEABLE
    elif event.get("isTokenBasedCall") is not True:
        reason = NOT_TOKEN_BASED
    if reason is not None:
        quality.not_on_demand[reason] = quality.not_on_demand.get(reason, 0) + 1
        return None

    usage = event.get("tokenUsage")
    fee = event.get("cursorTokenFee")
    fee = 0 if fee is None else fee
    if not isinstance(usage, dict) or not _is_amount(usage.get("totalCents")) or not _is_amount(fee):
        quality.non_numeric_cost += 1
        return None
    tokens = [usage.get(name, 0) for name in ("inputTokens", "outputTokens", "cacheWriteTokens", "cacheReadTokens")]
    tokens = [0 if count is None else count for count in tokens]
    if not all(type(count) is int for count in tokens):
        quality.non_numeric_cost += 1
        return None
    cost = microcents(usage["totalCents"] + fee)
    if cost == 0:
        quality.zero_cost += 1
    elif cost < 0:
        quality.negative_cost += 1

    user = event.get("userEmail")
    if not isinstance(user, str) or not user:
        user = REMOVED_USER
        quality.without_email += 1
    model = event.get("model")
    if not isinstance(model, str) or not model:
        model = UNKNOWN_MODEL
        quality.without_model += 1
    try:
        timestamp = int(event["timestamp"])
    except (KeyError, TypeError, ValueError, OverflowError):
        quality.bad_timestamp += 1
    else:
        if isinstance(event["timestamp"], bool):
            quality.bad_timestamp += 1
        elif not start_ms <= timestamp < end_ms:
            quality.outside_month += 1
    return (user, model, cost, *tokens)  # type: ignore[return-value]


def _is_amount(value: Any) -> bool:
    return type(value) in (int, float) and math.isfinite(value) and abs(value) < AMOUNT_LIMIT_CENTS


def iter_kept_events(data_dir: Path, months: Iterable[Month]) -> Iterator[tuple[Month, dict[str, Any]]]:
    """Stream ``(month, event)`` for each event that counts in the totals, one cache file at a time.

    Months without a cache file are skipped; the rule is exactly the loader's.
    """
    for month in months:
        path = cache_path(data_dir, month)
        if not path.exists():
            continue
        events = read_cached_month(path)["events"]
        start_ms, end_ms = month.start_ms, month.end_ms
        scratch = DataQuality()
        for event in events:
            if _inspect(event, start_ms, end_ms, scratch) is not None:
                yield month, event


__all__ = [
    "KNOWN_FIELDS",
    "KNOWN_KINDS",
    "ON_DEMAND_KIND",
    "aggregate_events",
    "iter_kept_events",
    "decode_month",
    "load_month",
    "load_usage",
]
