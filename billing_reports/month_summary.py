"""What the loader made of one month's cache file, kept so an unchanged file is decoded only once.

Decoding a month of events is most of a build's work, yet a complete month's
cache file never changes. After the loader has read one, it writes the result
(the month's facts, data-quality counts and its ledger cells: sums per ``(day,
user, model, max mode)``, kept as columns as ``ledger.MonthCells`` holds them) to
``<data_dir>/.summaries/MM-YYYY.json``; a later build reads that instead of the events
while the cache file is the very same file.

"The very same file" is checked without reading it: its size, modification and
change times and inode number, as recorded before it was decoded. A fetch
replaces the file (a new inode and times); editing it by hand changes its change
time, which no tool can set back. A file changed less than :data:`SETTLE_SECONDS`
before it was looked at gets no summary yet, so two changes within the clock's
granularity cannot look alike. A summary of other loader rules (another version,
edited loader code, other decoding libraries) or a damaged one is ignored and
written again: it only ever saves time.
"""

from __future__ import annotations

import hashlib
import os
import re
import sys
from array import array
from functools import lru_cache
from pathlib import Path
from typing import Any, Optional, Sequence

import msgspec

from . import __version__
from .cache import write_atomically
from .abandoned_work import remove_abandoned_work
from .months import DAY_MS, Month, parse_isoformat_z
from .ledger import SUM_COUNT, ModelModeSums, MonthCells, MonthSums
from .model_prices import PriceEvidence
from .usage import DataQuality, MonthFacts, UsageTotals

#: The folder of summaries inside the data directory (hidden: the cache files are what users read).
SUMMARY_DIR = ".summaries"
#: The temp files of summary writes (``.01-2026.json.XXXX.tmp``).
SUMMARY_TEMP_FILES = ".[0-9][0-9]-[0-9][0-9][0-9][0-9].json.*.tmp"
#: A cache file changed this recently gets no summary yet (see the module's notes).
SETTLE_SECONDS = 2.0
#: The modules whose code decides the sums and counts: a summary made by other code is not used.
RULE_MODULES = ("loader.py", "on_demand.py", "money.py", "usage.py", "months.py", "cache.py", "month_summary.py",
                "ledger.py", "event_slices.py", "model_prices.py")


class _Facts(msgspec.Struct, forbid_unknown_fields=True):
    fetched_at: Optional[str]
    complete: bool
    fetch: dict[str, Any]
    quality: DataQuality


# Trick: every column of integers is stored as the bytes of an ``array('q')`` (base64 in the
# JSON): reading a month's hundred thousand cells is then a copy, not a parse (a rebuild of
# 1M events read its summaries in 0.7 s as JSON lists of numbers, in well under 0.1 s so).
# The machine's byte order is part of ``rules_fingerprint``.


class _Cells(msgspec.Struct, forbid_unknown_fields=True):
    """The month's cells as columns (``ledger.MonthCells``): cell ``i`` is ``(day[i],
    users[user[i]], models[model[i]], max_mode[i] == 1)`` with the sums ``sums[0][i]`` (charged)
    to ``sums[7][i]`` (token fee), in the order of ``UsageTotals`` (checked on reading)."""

    users: list[str]
    models: list[str]
    day: bytes
    user: bytes
    model: bytes
    max_mode: bytes
    sums: list[bytes]


class _Sums(msgspec.Struct, forbid_unknown_fields=True):
    """The sums derived from the cells (``ledger.MonthSums``), so a rebuild need not derive them
    again: per ``(users[pair_user[i]], models[pair_model[i]])`` and per ``days[i]`` the eight
    sums (columns, as the cells'); per ``(users[user_day_user[i]], user_day_day[i])`` and per
    model and day the cost. Checked against the cells on reading (each adds up to the cells')."""

    pair_user: bytes
    pair_model: bytes
    pair_sums: list[bytes]
    days: bytes
    day_sums: list[bytes]
    user_day: list[bytes]  # user, day, cost
    model_day: list[bytes]  # model, day, cost
    #: per ``(models[model_mode_model[i]], model_mode_max[i] == 1)``: the eight sums, and the price
    #: fit's evidence as one row of integers (``PriceEvidence`` field by field: its sums of squares
    #: leave 64 bits, so JSON numbers)
    model_mode_model: bytes
    model_mode_max: bytes
    model_mode_sums: list[bytes]
    evidence: list[list[int]]


def _pack(column: Sequence[int]) -> bytes:
    """A column as the bytes of an ``array('q')`` (``OverflowError`` for a sum beyond 64 bits)."""
    return (column if isinstance(column, array) and column.typecode == "q" else array("q", column)).tobytes()


def _unpack(data: bytes) -> array:
    if len(data) % 8:
        raise ValueError("a column cut short")
    column = array("q")
    column.frombytes(data)
    return column


class _Summary(msgspec.Struct, forbid_unknown_fields=True):
    rules: str
    source: list[int]
    facts: _Facts
    cells: _Cells
    sums: _Sums


_DECODER = msgspec.json.Decoder(_Summary)


def summary_path(data_dir: Path, month: Month) -> Path:
    return Path(data_dir) / SUMMARY_DIR / f"{month.cache_stem}.json"


def file_stamp(stat: os.stat_result) -> list[int]:
    """What identifies one version of a file without reading it."""
    return [stat.st_size, stat.st_mtime_ns, stat.st_ctime_ns, stat.st_ino]


@lru_cache(maxsize=1)
def rules_fingerprint() -> str | None:
    """A digest of the version, the code that makes the sums and the decoding libraries;
    ``None`` where that code cannot be read (then no summary is written or used)."""
    import orjson

    digest = hashlib.blake2b(f"{__version__} {msgspec.__version__} {orjson.__version__} {sys.byteorder}".encode(),
                             digest_size=12)
    package = Path(__file__).parent
    try:
        for name in RULE_MODULES:
            digest.update((package / name).read_bytes())
    except OSError:  # a frozen or zipped install
        return None
    return digest.hexdigest()


#: A summary's first bytes as :func:`keep_summary` writes them (msgspec keeps the fields' order; a file's
#: times may lie before 1970, negative).
_HEAD = re.compile(rb'\{"rules":"([0-9a-f]{1,64})","source":\[(-?\d{1,20}),(-?\d{1,20}),(-?\d{1,20}),(-?\d{1,20})\]')


def looks_current(data_dir: Path, month: Month, stat: os.stat_result) -> bool:
    """Whether the month's summary says, in its first bytes, that it was made of this very cache file
    (``stat``) by these rules: so the loader knows at once which months to decode, and decodes them
    while it reads the summaries (:func:`read_summary` checks a summary whole)."""
    rules = rules_fingerprint()
    if rules is None:
        return False
    try:
        with open(summary_path(data_dir, month), "rb") as file:
            found = _HEAD.match(file.read(256))
    except OSError:
        return False
    return (found is not None and found[1].decode() == rules
            and list(map(int, found.groups()[1:])) == file_stamp(stat))


def read_summary(data_dir: Path, month: Month, path: Path, stat: os.stat_result
                 ) -> tuple[MonthFacts, MonthCells] | None:
    """The month's facts and sums if a summary of exactly this cache file (``path``, ``stat``) exists."""
    rules = rules_fingerprint()
    if rules is None:
        return None
    try:
        summary = _DECODER.decode(summary_path(data_dir, month).read_bytes())
        if summary.rules != rules or summary.source != file_stamp(stat):
            return None
        facts = summary.facts
        month_facts = MonthFacts(
            month,
            path=path,
            cached=True,
            fetched_at=parse_isoformat_z(facts.fetched_at) if facts.fetched_at is not None else None,
            complete=facts.complete,
            fetch=facts.fetch,
            quality=facts.quality,
        )
        cells = _month_cells(summary.cells, month)
        cells.set_sums(_month_sums(summary.sums, cells))
    except (OSError, ValueError, IndexError, RecursionError):  # none yet, or damaged (msgspec's errors are
        return None                                            # ValueErrors; nested too deep): decode the file
    return month_facts, cells


def _month_cells(cells: _Cells, month: Month) -> MonthCells:
    """The columns of a summary as ``MonthCells``, or ``ValueError`` where they do not fit together."""
    day, user, model, max_mode = (_unpack(column) for column in (cells.day, cells.user, cells.model, cells.max_mode))
    sums = [_unpack(column) for column in cells.sums]
    count = len(day)
    if len(sums) != SUM_COUNT or any(len(column) != count for column in (user, model, max_mode, *sums)):
        raise ValueError("columns of different lengths")
    if len(set(cells.users)) != len(cells.users) or len(set(cells.models)) != len(cells.models):
        raise ValueError("a user or model named twice")  # (its sums, keyed by name, would hide one another)
    first_day, end_day = month.start_ms // DAY_MS, month.end_ms // DAY_MS
    for column, low, high in ((day, first_day, end_day - 1), (user, 0, len(cells.users) - 1),
                              (model, 0, len(cells.models) - 1), (max_mode, 0, 1)):
        if count and not (low <= min(column) and max(column) <= high):
            raise ValueError("a cell out of its month, or naming no user or model")
    return MonthCells(users=cells.users, models=cells.models, day=day, user=user, model=model,
                      max_mode=array("b", max_mode), sums=sums)


def _month_sums(stored: _Sums, cells: MonthCells) -> MonthSums:
    """The stored sums as ``MonthSums``, or ``ValueError`` where they do not add up to the cells."""
    users, models = cells.users, cells.models
    pair_user, pair_model, days = _unpack(stored.pair_user), _unpack(stored.pair_model), _unpack(stored.days)
    pair_sums = [_unpack(column) for column in stored.pair_sums]
    day_sums = [_unpack(column) for column in stored.day_sums]
    user_day = [_unpack(column) for column in stored.user_day]
    model_day = [_unpack(column) for column in stored.model_day]
    totals = [sum(column) for column in cells.columns]
    if (len(pair_sums) != SUM_COUNT or len(day_sums) != SUM_COUNT or len(user_day) != 3 or len(model_day) != 3
            or any(len(column) != len(pair_user) for column in (pair_model, *pair_sums))
            or any(len(column) != len(days) for column in day_sums)
            or any(len(column) != len(user_day[0]) for column in user_day)
            or any(len(column) != len(model_day[0]) for column in model_day)
            or [sum(column) for column in pair_sums] != totals
            or [sum(column) for column in day_sums] != totals
            or sum(user_day[2]) != totals[0] or sum(model_day[2]) != totals[0]
            or min(min(column, default=0) for column in (pair_user, pair_model, user_day[0], model_day[0])) < 0):
        raise ValueError("sums that do not add up to the cells")
    make = UsageTotals._make
    user_days: dict[str, dict[int, int]] = {}
    for user, day, cost in zip(*user_day):
        found = user_days.get(users[user])
        if found is None:
            user_days[users[user]] = {day: cost}
        else:
            found[day] = cost
    model_days: dict[str, dict[int, int]] = {}
    for model, day, cost in zip(*model_day):
        model_days.setdefault(models[model], {})[day] = cost
    return MonthSums(
        user_models=dict(zip(zip(map(users.__getitem__, pair_user), map(models.__getitem__, pair_model)),
                             map(make, zip(*pair_sums)))),
        days=dict(zip(days, map(make, zip(*day_sums)))),
        user_days=user_days,
        model_days=model_days,
        model_modes=_model_modes(stored, cells, totals, model_day),
    )


def _model_modes(stored: _Sums, cells: MonthCells, totals: list[int], model_day: list[array]
                 ) -> dict[tuple[str, bool], ModelModeSums]:
    """The stored sums per model and max mode, or ``ValueError`` where they do not add up to the cells
    or to the model's days, or name a model and mode twice. (What a fit reads beyond its row's sums,
    the sums of products, is not checked: that takes the cells' work the summary saves. A summary
    is the loader's own file, hidden in the data folder; see the module's notes.)"""
    model, max_mode = _unpack(stored.model_mode_model), _unpack(stored.model_mode_max)
    sums = [_unpack(column) for column in stored.model_mode_sums]
    evidence = [_evidence(row) for row in stored.evidence]
    if (len(sums) != SUM_COUNT or any(len(column) != len(model) for column in (max_mode, *sums, evidence))
            or [sum(column) for column in sums] != totals
            or not all(0 <= code < len(cells.models) for code in model) or not set(max_mode) <= {0, 1}
            or sum(e.cells for e in evidence) != len(cells) or sum(e.cost for e in evidence) != totals[6] - totals[7]
            or [sum(e.tokens[kind] for e in evidence) for kind in range(4)] != totals[2:6]):
        raise ValueError("model sums that do not add up to the cells")
    rows = list(zip(*sums))
    found_cost = dict.fromkeys(range(len(cells.models)), 0)
    for code, row, fit in zip(model, rows, evidence):
        found_cost[code] += row[0]
        # each row's evidence is of its own cells: their list cost less the fee, their tokens by kind
        if fit.cost != row[6] - row[7] or list(fit.tokens) != list(row[2:6]):
            raise ValueError("price evidence of other cells than its row")
    model_cost = dict.fromkeys(range(len(cells.models)), 0)
    for code, cost in zip(model_day[0], model_day[2]):
        model_cost[code] += cost
    if len(set(zip(model, max_mode))) != len(model) or found_cost != model_cost:
        raise ValueError("model sums that name the models otherwise than the days' sums")
    make = UsageTotals._make
    return {(cells.models[code], bool(mode)): ModelModeSums(make(row), fit)
            for code, mode, row, fit in zip(model, max_mode, rows, evidence)}


#: The integers of one ``PriceEvidence`` in a summary: cells, gram, moments, cost squares, cost, tokens.
_EVIDENCE_LENGTH = 1 + 10 + 4 + 1 + 1 + 4


def _evidence(row: list[int]) -> PriceEvidence:
    if len(row) != _EVIDENCE_LENGTH:
        raise ValueError("price evidence of another shape")
    return PriceEvidence(row[0], tuple(row[1:11]), tuple(row[11:15]), row[15], row[16], tuple(row[17:21]))


def _evidence_row(evidence: PriceEvidence) -> list[int]:
    return [evidence.cells, *evidence.gram, *evidence.moments, evidence.cost_squares, evidence.cost, *evidence.tokens]


def _sums_columns(sums: MonthSums, cells: MonthCells) -> _Sums:
    user_codes = {user: code for code, user in enumerate(cells.users)}
    model_codes = {model: code for code, model in enumerate(cells.models)}
    pairs = list(sums.user_models)
    pair_totals = list(sums.user_models.values())
    user_day = [(user_codes[user], day, cost) for user, costs in sums.user_days.items() for day, cost in costs.items()]
    model_day = [(model_codes[model], day, cost) for model, costs in sums.model_days.items()
                 for day, cost in costs.items()]
    empty = [()] * SUM_COUNT
    model_mode_totals = [found.totals for found in sums.model_modes.values()]
    return _Sums(
        pair_user=_pack([user_codes[user] for user, _ in pairs]),
        pair_model=_pack([model_codes[model] for _, model in pairs]),
        pair_sums=[_pack(column) for column in (list(zip(*pair_totals)) or empty)],
        days=_pack(list(sums.days)),
        day_sums=[_pack(column) for column in (list(zip(*sums.days.values())) or empty)],
        user_day=[_pack(column) for column in (list(zip(*user_day)) or [()] * 3)],
        model_day=[_pack(column) for column in (list(zip(*model_day)) or [()] * 3)],
        model_mode_model=_pack([model_codes[model] for model, _ in sums.model_modes]),
        model_mode_max=_pack([int(mode) for _, mode in sums.model_modes]),
        model_mode_sums=[_pack(column) for column in (list(zip(*model_mode_totals)) or empty)],
        evidence=[_evidence_row(found.evidence) for found in sums.model_modes.values()],
    )


def keep_summary(
    data_dir: Path, month: Month, stat: os.stat_result, checked_at: float, facts: MonthFacts, cells: MonthCells
) -> bool:
    """Write the summary of a just-decoded cache file; ``stat`` was taken at ``checked_at`` (a
    ``time.time()``), before reading it.

    Returns whether one was written: not for a file changed in the :data:`SETTLE_SECONDS`
    before ``checked_at`` (or in the future), nor where the data directory cannot be written.
    """
    rules = rules_fingerprint()
    if rules is None or min(checked_at - stat.st_mtime, checked_at - stat.st_ctime) < SETTLE_SECONDS:
        return False
    path = summary_path(data_dir, month)
    try:
        summary = _Summary(
            rules=rules,
            source=file_stamp(stat),
            facts=_Facts(
                fetched_at=facts.fetched_at.isoformat() if facts.fetched_at else None,  # (to the microsecond)
                complete=facts.complete,
                fetch=facts.fetch,
                quality=facts.quality,
            ),
            cells=_Cells(users=cells.users, models=cells.models, day=_pack(cells.day), user=_pack(cells.user),
                         model=_pack(cells.model), max_mode=_pack(cells.max_mode),
                         sums=[_pack(column) for column in cells.columns]),
            sums=_sums_columns(cells.sums(), cells),
        )
        data = msgspec.json.encode(summary)
        path.parent.mkdir(exist_ok=True)
        remove_abandoned_work(path.parent, (SUMMARY_TEMP_FILES,))  # what a killed write left, once a day old
        write_atomically(path, [data], durable=False)
    except (OSError, TypeError, ValueError, OverflowError):  # a read-only cache, a sum beyond 64 bits
        return False
    return True


__all__ = ["SUMMARY_DIR", "keep_summary", "looks_current", "read_summary", "rules_fingerprint", "summary_path"]
