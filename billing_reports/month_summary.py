"""What the loader made of one month's cache file, kept so an unchanged file is decoded only once.

Decoding a month of events is most of a build's work, yet a complete month's
cache file never changes. After the loader has read one, it writes the result
(the month's facts, data-quality counts and its ledger cells: sums per ``(day,
user, model, max mode)``) to ``<data_dir>/.summaries/MM-YYYY.json``; a later build reads
that instead of the events while the cache file is the very same file.

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
from functools import lru_cache
from pathlib import Path
from typing import Any, Optional, Sequence

import msgspec

from . import __version__
from .cache import write_atomically
from .months import Month, parse_isoformat_z
from .usage import DataQuality, LedgerKey, MonthFacts

#: The folder of summaries inside the data directory (hidden: the cache files are what users read).
SUMMARY_DIR = ".summaries"
#: A cache file changed this recently gets no summary yet (see the module's notes).
SETTLE_SECONDS = 2.0
#: The modules whose code decides the sums and counts: a summary made by other code is not used.
RULE_MODULES = ("loader.py", "on_demand.py", "money.py", "usage.py", "months.py", "cache.py", "month_summary.py")

#: ``(day, user, model, max mode) -> [charged, requests, input, output, cache write, cache read,
#: list cost, token fee]``: the loader's ledger cells of one month.
Cells = dict[LedgerKey, Sequence[int]]


class _Facts(msgspec.Struct, forbid_unknown_fields=True):
    fetched_at: Optional[str]
    complete: bool
    fetch: dict[str, Any]
    quality: DataQuality


class _Summary(msgspec.Struct, forbid_unknown_fields=True):
    rules: str
    source: list[int]
    facts: _Facts
    #: ``[day, user, model, max mode, charged, requests, input, output, cache write, cache read,
    #: list cost, token fee]`` (types checked on reading).
    cells: list[tuple[int, str, str, bool, int, int, int, int, int, int, int, int]]


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

    digest = hashlib.blake2b(f"{__version__} {msgspec.__version__} {orjson.__version__}".encode(), digest_size=12)
    package = Path(__file__).parent
    try:
        for name in RULE_MODULES:
            digest.update((package / name).read_bytes())
    except OSError:  # a frozen or zipped install
        return None
    return digest.hexdigest()


def read_summary(data_dir: Path, month: Month, path: Path, stat: os.stat_result) -> tuple[MonthFacts, Cells] | None:
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
    except (OSError, ValueError):  # none yet, or damaged (msgspec's errors are ValueErrors): decode the file
        return None
    return month_facts, {row[:4]: row[4:] for row in summary.cells}


def keep_summary(
    data_dir: Path, month: Month, stat: os.stat_result, checked_at: float, facts: MonthFacts, cells: Cells
) -> bool:
    """Write the summary of a just-decoded cache file; ``stat`` was taken at ``checked_at`` (a
    ``time.time()``), before reading it.

    Returns whether one was written: not for a file changed in the :data:`SETTLE_SECONDS`
    before ``checked_at`` (or in the future), nor where the data directory cannot be written.
    """
    rules = rules_fingerprint()
    if rules is None or min(checked_at - stat.st_mtime, checked_at - stat.st_ctime) < SETTLE_SECONDS:
        return False
    summary = _Summary(
        rules=rules,
        source=file_stamp(stat),
        facts=_Facts(
            fetched_at=facts.fetched_at.isoformat() if facts.fetched_at else None,  # (to the microsecond)
            complete=facts.complete,
            fetch=facts.fetch,
            quality=facts.quality,
        ),
        cells=[(*key, *sums) for key, sums in cells.items()],  # type: ignore[misc]
    )
    path = summary_path(data_dir, month)
    try:
        data = msgspec.json.encode(summary)
        path.parent.mkdir(exist_ok=True)
        write_atomically(path, [data], durable=False)
    except (OSError, TypeError, ValueError, OverflowError):  # a read-only cache, a sum beyond 64 bits
        return False
    return True


__all__ = ["SUMMARY_DIR", "keep_summary", "read_summary", "rules_fingerprint", "summary_path"]
