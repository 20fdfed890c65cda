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

from .cache import cache_path, cached_complete, read_cached_month, refuse_demo_data
from .errors import CacheError
from .folders import existing_folder
from .money import MICROCENTS_PER_CENT
from .month_summary import keep_summary, read_summary
from .months import DAY_MS, Month, parse_isoformat_z
from .periods import ReportRange
from .on_demand import (
    CHARGED_TOLERANCE, NOT_CHARGEABLE, NOT_TOKEN_BASED, ON_DEMAND_KIND, charged_differs, event_cost, is_on_demand,
    left_out_label,
)
from .settings import Settings
from .usage import REMOVED_USER, UNKNOWN_MODEL, DataQuality, LedgerKey, MonthFacts, OnDemandUsage, UsageTotals

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

#: Events whose ``chargedCents`` differs from their parts that the data-quality page lists.
CHARGED_EXAMPLES = 5

#: One month's ledger: ``(day, user, model, max mode) -> [charged, requests, input, output,
#: cache write, cache read, list cost, token fee]`` (the order of ``UsageTotals``; tuples when
#: they come from a month summary).
LedgerCells = dict[LedgerKey, Sequence[int]]
#: One kept event: its ledger key and its sums (as in ``LedgerCells``).
EventValues = tuple[LedgerKey, tuple[int, ...]]


def load_usage(settings: Settings, months: Sequence[Month], *, data_dir: Path | None = None,
               report_range: ReportRange | None = None) -> OnDemandUsage:
    """Load the cached months of ``months`` (oldest first) from ``data_dir`` (default: the config's);
    with ``report_range``, keep only its days (``months`` are then the months it touches).

    A month without a cache file is recorded as missing (its totals are zero);
    a cache file that cannot be read or has the wrong shape raises ``CacheError``.
    """
    directory = Path(data_dir if data_dir is not None else settings.data_dir)
    existing_folder(directory, "paths.data_dir")  # a file there is named, not read as "nothing cached"
    demo = settings is not None and settings.demo
    ordered = sorted(set(months))
    ledger: dict[LedgerKey, UsageTotals] = {}
    facts: dict[Month, MonthFacts] = {}
    # Trick: the collector stays paused while the results are unpickled and regrouped too:
    # the ~100,000 tuples made here form no cycles, and its passes over them cost ~0.1 s.
    with _collector_paused():
        for month, (month_facts, cells) in zip(ordered, _load_months(directory, ordered)):
            refuse_demo_data(month_facts.path, month_facts.fetch, demo=demo)  # (summaries keep fetch)
            facts[month] = month_facts
            ledger.update(zip(cells, map(UsageTotals._make, cells.values())))
    if report_range is not None and not report_range.whole_months:
        first_day, last_day = report_range.first_day, report_range.last_day
        ledger = {key: totals for key, totals in ledger.items() if first_day <= key[0] <= last_day}
    return OnDemandUsage(months=ordered, ledger=ledger, month_facts=facts, data_dir=directory,
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


def _load_months(data_dir: Path, months: list[Month]) -> Iterator[tuple[MonthFacts, LedgerCells]]:
    """``load_month`` for each month, in order: in worker processes when the cache is big.

    Months whose cache file is unchanged since it was last decoded come from their
    summaries (``month_summary``). Decoding the others is the bulk of the work and
    months are independent, so a big cache is spread over one process per CPU (each
    returns only its month's aggregates); a small one is read here, where starting
    processes would cost more.
    """
    summarised: dict[Month, tuple[MonthFacts, LedgerCells]] = {}  # (and the months without a file)
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


def load_month(data_dir: Path, month: Month) -> tuple[MonthFacts, LedgerCells]:
    """One month's facts and its aggregates ``(user, model) -> [cost, requests, in, out, cw, cr]``:
    from its summary when the cache file is unchanged since it was decoded, else decoded."""
    found = _without_decoding(data_dir, month)
    return found if found is not None else decode_month(data_dir, month)


def _without_decoding(data_dir: Path, month: Month) -> tuple[MonthFacts, LedgerCells] | None:
    """The month from its summary, or as missing when it has no cache file; ``None``: decode it."""
    path = cache_path(data_dir, month)
    try:
        stat = path.stat()
    except OSError:  # (as ``Path.exists()`` says: any trouble finding the file is no file)
        return MonthFacts(month, path=path, cached=False), {}
    return read_summary(data_dir, month, path, stat)


def decode_month(data_dir: Path, month: Month) -> tuple[MonthFacts, dict[LedgerKey, list[int]]]:
    """:func:`load_month` from the cache file's events, always; then keeps the month's summary."""
    path = cache_path(data_dir, month)
    checked_at = time.time()
    try:
        stat = path.stat()  # before reading: a change while decoding makes the summary not match
    except OSError:  # (as ``Path.exists()`` says: any trouble finding the file is no file)
        return MonthFacts(month, path=path, cached=False), {}
    with _collector_paused():
        typed = _read_typed(path)
        cells: dict[LedgerKey, list[int]] = {}
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
    discountPercentOff: float = 0.0
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


def _cache_file_type(event_type: type) -> type:
    return msgspec.defstruct(
        "_TypedCacheFile",
        [
            ("month", str),
            ("fetched_at", str),
            ("total_events", int),
            ("events", list[event_type]),
            ("complete", Union[bool, None], None),  # (absent from a file in the seed's own format)
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
    cells: LedgerCells,
    extra_fields: tuple[str, ...] = (),
) -> None:
    """:func:`aggregate_events` for typed events: the same cells and counts, fewer checks per event.

    An ordinary event (on-demand, believable amounts, a timestamp in the month,
    a positive cost) is priced and summed inline here; any other takes
    :func:`_inspect`, the careful path, exactly as :func:`aggregate_events` would.
    ``extra_fields``: the undocumented fields the decoder learnt (``_read_typed``);
    the events carrying each are counted as unknown fields.
    """
    for index, name in enumerate(extra_fields):
        carrying = sum(map(is_not, map(attrgetter(f"extra_{index}"), events), repeat(msgspec.UNSET)))
        if carrying:
            quality.unknown_fields[name] = quality.unknown_fields.get(name, 0) + carrying
    start_ms, end_ms = month.start_ms, month.end_ms
    scale = MICROCENTS_PER_CENT
    tolerance = CHARGED_TOLERANCE
    removed_user = REMOVED_USER
    get_cell = cells.get
    on_demand = ON_DEMAND_KIND
    limit = AMOUNT_LIMIT_CENTS
    kept = 0
    without_email = 0
    with_charged = 0
    for event in events:
        try:
            if event.kind == on_demand and event.isChargeable and event.isTokenBasedCall:
                model = event.model
                usage = event.tokenUsage
                cents = usage.totalCents
                fee = event.cursorTokenFee
                discount = usage.discountPercentOff
                charged_cents = event.chargedCents
                timestamp = int(event.timestamp)
                if (
                    model
                    and -limit < cents < limit
                    and -limit < fee < limit
                    and 0 <= discount <= 100
                    and (charged_cents is None or -limit < charged_cents < limit)
                    and start_ms <= timestamp < end_ms
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
                        key = (timestamp // DAY_MS, user, model, event.maxMode is True)
                        cell = get_cell(key)
                        if cell is None:
                            cells[key] = [charged, 1, usage.inputTokens, usage.outputTokens, usage.cacheWriteTokens,
                                          usage.cacheReadTokens, list_cost, round(fee * scale)]
                        else:
                            cell[0] += charged
                            cell[1] += 1
                            cell[2] += usage.inputTokens
                            cell[3] += usage.outputTokens
                            cell[4] += usage.cacheWriteTokens
                            cell[5] += usage.cacheReadTokens
                            cell[6] += list_cost
                            cell[7] += round(fee * scale)
                        continue
        except (ValueError, OverflowError):
            pass
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
            _add_event(cells, values)
    quality.events_kept += kept
    quality.without_email += without_email
    quality.with_charged += with_charged
    quality.without_charged = quality.events_kept - quality.with_charged


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
        complete=cached_complete(month, payload),
        fetch=fetch,
        quality=quality,
    )


def aggregate_events(events: Iterable[Any], month: Month, quality: DataQuality, cells: LedgerCells) -> None:
    """Add ``events`` (one month's cached events, plain dicts) into the ledger ``cells`` and
    count what is odd in ``quality``: every event decided by :func:`_inspect`.

    ``cells`` maps ``(day, user, model, max mode)`` to ``[charged, requests, input,
    output, cache write, cache read, list cost, token fee]`` (money in micro-cents).
    """
    kept = 0
    for event in events:
        values = _inspect(event, month, quality)
        if values is not None:
            kept += 1
            _add_event(cells, values)
    quality.events_kept += kept
    quality.without_charged = quality.events_kept - quality.with_charged


def _add_event(cells: LedgerCells, values: EventValues) -> None:
    """Add one event that ``_inspect`` kept to its ledger cell (the careful path; the typed
    loop above does the same inline, where a call per event would cost)."""
    key, sums = values
    cell = cells.get(key)
    if cell is None:
        cells[key] = list(sums)
        return
    for index, amount in enumerate(sums):
        cell[index] += amount


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
    fee = event.get("cursorTokenFee")
    fee = 0 if fee is None else fee
    discount = usage.get("discountPercentOff") if isinstance(usage, dict) else None
    discount = 0 if discount is None else discount
    charged_cents = event.get("chargedCents")
    if (
        not isinstance(usage, dict)
        or not _is_amount(usage.get("totalCents"))
        or not _is_amount(fee)
        or not _is_amount(discount)
        or not (charged_cents is None or _is_amount(charged_cents))
    ):
        quality.non_numeric_cost += 1
        return None
    tokens = [usage.get(name, 0) for name in ("inputTokens", "outputTokens", "cacheWriteTokens", "cacheReadTokens")]
    tokens = [0 if count is None else count for count in tokens]
    if not all(type(count) is int for count in tokens):
        quality.non_numeric_cost += 1
        return None
    cost = event_cost(usage["totalCents"], fee, discount, charged_cents)
    if cost.charged == 0:
        quality.zero_cost += 1
    elif cost.charged < 0:
        quality.negative_cost += 1

    user = event.get("userEmail")
    if not isinstance(user, str) or not user:
        user = REMOVED_USER
        quality.without_email += 1
    model = event.get("model")
    if not isinstance(model, str) or not model:
        model = UNKNOWN_MODEL
        quality.without_model += 1
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
        scratch = DataQuality()
        for event in events:
            if _inspect(event, month, scratch) is not None:
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
    "require_cached_data",
]
