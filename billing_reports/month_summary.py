"""What the loader made of one month's cache file, kept so an unchanged file is decoded only once.

Decoding a month of events is most of a build's work, yet a complete month's
cache file never changes. After the loader has read one, it writes the result
(the month's facts, data-quality counts and ``(user, model)`` sums, about 1 MB
for 15,000 cells) to ``<data_dir>/.summaries/MM-YYYY.json``; a later build reads
that instead of the events while the cache file is the very same file.

"The very same file" is checked without reading it: its size, modification and
change times and inode number, as recorded when it was decoded. A fetch replaces
the file (a new inode and times); editing it by hand changes its change time,
which no tool can set back. A file changed less than :data:`SETTLE_SECONDS` ago
gets no summary yet, so two changes within the clock's granularity cannot look
alike. A summary of other loader rules (another version, an edited loader) or a
damaged summary is ignored and written again: it only ever saves time.
"""

from __future__ import annotations

import hashlib
import os
import time
from datetime import datetime
from functools import lru_cache
from pathlib import Path
from typing import Any

import orjson

from . import __version__
from .cache import write_atomically
from .months import Month, parse_isoformat_z
from .usage import DataQuality, MonthFacts

#: The folder of summaries inside the data directory (hidden: the cache files are what users read).
SUMMARY_DIR = ".summaries"
#: A cache file changed this recently gets no summary yet (see the module's notes).
SETTLE_SECONDS = 2.0
#: The modules whose code decides the sums and counts: a summary made by other code is not used.
RULE_MODULES = ("loader.py", "on_demand.py", "money.py", "usage.py", "month_summary.py")

#: ``(user, model) -> [cost, requests, input, output, cache write, cache read]``: the loader's sums.
Cells = dict[tuple[str, str], list[int]]
_COUNTS = ("events_in_file", "events_kept", "without_email", "without_model", "zero_cost",
           "negative_cost", "non_numeric_cost", "bad_timestamp", "outside_month")
_TALLIES = ("not_on_demand", "unknown_kinds", "unknown_fields")


def summary_path(data_dir: Path, month: Month) -> Path:
    return Path(data_dir) / SUMMARY_DIR / f"{month.cache_stem}.json"


def file_stamp(stat: os.stat_result) -> list[int]:
    """What identifies one version of a file without reading it."""
    return [stat.st_size, stat.st_mtime_ns, stat.st_ctime_ns, stat.st_ino]


@lru_cache(maxsize=1)
def rules_fingerprint() -> str:
    """The version and a digest of the code that makes the sums (an edited loader makes new ones)."""
    digest = hashlib.blake2b(__version__.encode(), digest_size=12)
    package = Path(__file__).parent
    for name in RULE_MODULES:
        digest.update((package / name).read_bytes())
    return digest.hexdigest()


def read_summary(data_dir: Path, month: Month, path: Path, stat: os.stat_result) -> tuple[MonthFacts, Cells] | None:
    """The month's facts and sums if a summary of exactly this cache file (``path``, ``stat``) exists."""
    try:
        summary = orjson.loads(summary_path(data_dir, month).read_bytes())
        if summary["rules"] != rules_fingerprint() or summary["source"] != file_stamp(stat):
            return None
        facts = _facts_from_json(summary["facts"], month, path)
        cells = {(user, model): sums for user, model, *sums in summary["cells"]}
    except (OSError, orjson.JSONDecodeError, KeyError, TypeError, ValueError):
        return None  # none yet, or damaged: the cache file is decoded (and summarised) again
    return facts, cells


def keep_summary(data_dir: Path, month: Month, stat: os.stat_result, facts: MonthFacts, cells: Cells) -> bool:
    """Write the summary of a just-decoded cache file (``stat`` taken before reading it).

    Returns whether one was written: not for a file changed in the last
    :data:`SETTLE_SECONDS`, nor where the data directory cannot be written.
    """
    if time.time() - stat.st_mtime < SETTLE_SECONDS or time.time() - stat.st_ctime < SETTLE_SECONDS:
        return False
    summary = {
        "rules": rules_fingerprint(),
        "source": file_stamp(stat),
        "facts": _facts_to_json(facts),
        "cells": [[user, model, *sums] for (user, model), sums in cells.items()],
    }
    path = summary_path(data_dir, month)
    try:
        data = orjson.dumps(summary)
        path.parent.mkdir(exist_ok=True)
        write_atomically(path, [data], durable=False)
    except (OSError, orjson.JSONEncodeError):  # read-only cache, a sum beyond 64 bits: no summary
        return False
    return True


def _facts_to_json(facts: MonthFacts) -> dict[str, Any]:
    quality = facts.quality
    return {
        "fetched_at": facts.fetched_at.isoformat() if facts.fetched_at else None,  # (to the microsecond)
        "complete": facts.complete,
        "fetch": facts.fetch,
        "quality": {name: getattr(quality, name) for name in _COUNTS + _TALLIES},
    }


def _facts_from_json(data: dict[str, Any], month: Month, path: Path) -> MonthFacts:
    quality = data["quality"]
    fetched_at: datetime | None = parse_isoformat_z(data["fetched_at"]) if data["fetched_at"] else None
    return MonthFacts(
        month,
        path=path,
        cached=True,
        fetched_at=fetched_at,
        complete=bool(data["complete"]),
        fetch=dict(data["fetch"]),
        quality=DataQuality(**{name: quality[name] for name in _COUNTS + _TALLIES}),
    )


__all__ = ["SUMMARY_DIR", "keep_summary", "read_summary", "rules_fingerprint", "summary_path"]
