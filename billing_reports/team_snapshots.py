"""Cursor's own figures about the team, kept beside the usage cache as dated snapshots.

``/teams/spend`` answers for the **current** billing cycle only and forgets a member's figures
when the cycle rolls over; ``/teams/groups`` does the same for a group's members unless asked for
a past cycle. What a fetch takes of them is kept here, so reconciliation has Cursor's side of
every cycle we saw:

    DATA_DIR/members.json                  the newest member list (taken_at inside)
    DATA_DIR/spend/cycle-YYYY-MM-DD.json   the last spend snapshot taken in the cycle that starts then
    DATA_DIR/groups/cycle-YYYY-MM-DD.json  the billing groups of that cycle (Enterprise teams)

A snapshot is the API's answer as it came (the pages of ``/teams/spend`` joined), with when it
was taken and, for spend, the cycle it belongs to. A later snapshot of the same cycle replaces
an earlier one; a later cycle's never touches an earlier cycle's file. Every file is written
atomically (:func:`billing_reports.cache.write_atomically`).
"""

from __future__ import annotations

import glob
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import orjson

from .abandoned_work import remove_abandoned_work
from .cache import write_atomically
from .errors import CacheError
from .months import isoformat_z, parse_isoformat_z
from .periods import date_of_day, day_of_ms, parse_day

#: The kinds of snapshot, each the name of its folder (``spend``, ``groups``) or file (``members.json``).
SNAPSHOT_KINDS = ("members", "spend", "groups")
MEMBERS_FILE = f"{SNAPSHOT_KINDS[0]}.json"
SPEND_FOLDER = SNAPSHOT_KINDS[1]
GROUPS_FOLDER = SNAPSHOT_KINDS[2]
#: What a snapshot file's name is made of: ``cycle-2026-11-17.json``.
CYCLE_FILE_PREFIX = "cycle-"
#: The cycle starts a snapshot may have (2000-01-01 to 2999-12-31): another is a hand edit or a bug.
EARLIEST_DAY, LATEST_DAY = 10_957, 376_199
#: How far ahead of a new snapshot a kept one of the same cycle may be and still be believed newer.
NEWER_BY_AT_MOST = timedelta(hours=6)
#: The format of the files this module writes (a reader refuses a newer one, naming it).
SNAPSHOT_FORMAT = 1


@dataclass(frozen=True)
class Snapshot:
    """One kept answer: what the API said (``answer``), when (``taken_at``), and for spend and
    groups the first day of the billing cycle it speaks of (an epoch day, see ``periods``)."""

    kind: str
    taken_at: datetime
    answer: dict[str, Any]
    cycle_start: int | None = None
    demo: bool = False
    path: Path | None = None

    def to_json(self) -> dict[str, Any]:
        kept: dict[str, Any] = {"format": SNAPSHOT_FORMAT, "kind": self.kind, "taken_at": isoformat_z(self.taken_at)}
        if self.cycle_start is not None:
            kept["cycle_start"] = date_of_day(self.cycle_start).isoformat()
        if self.demo:
            kept["demo"] = True
        kept["answer"] = self.answer
        return kept


def members_path(data_dir: Path) -> Path:
    return Path(data_dir) / MEMBERS_FILE


def cycle_path(data_dir: Path, folder: str, cycle_start: int) -> Path:
    """Where the snapshot of ``folder`` (``spend`` or ``groups``) for the cycle starting on
    epoch day ``cycle_start`` is kept."""
    return Path(data_dir) / folder / f"{CYCLE_FILE_PREFIX}{date_of_day(cycle_start).isoformat()}.json"


def cycle_of_spend(answer: dict[str, Any]) -> int:
    """The first day of the cycle a ``/teams/spend`` answer speaks of (``subscriptionCycleStart``)."""
    return day_of_ms(answer["subscriptionCycleStart"])


def keep(data_dir: Path, snapshot: Snapshot) -> tuple[Path, bool]:
    """Write ``snapshot`` where its kind and cycle belong; ``(path, written)``.

    A snapshot older than the one already kept for its cycle (a slow run that finished after a
    newer one) is not written: the kept one says more. One kept from more than
    :data:`NEWER_BY_AT_MOST` ahead of the new one (a clock set wrong, a hand edit) is replaced.
    """
    if snapshot.kind == "members":
        path = members_path(data_dir)
    else:
        if snapshot.cycle_start is None:
            raise ValueError(f"a {snapshot.kind} snapshot needs its cycle start")
        path = cycle_path(data_dir, snapshot.kind, snapshot.cycle_start)
    if path.exists():
        try:
            kept = read_snapshot(path)
        except CacheError:
            kept = None  # a broken file is replaced by a good one: it holds nothing we can use
        # a run that finished after a newer one (minutes apart) does not undo it; a kept snapshot
        # from further ahead than that is a clock set wrong or a hand edit, and is replaced
        if kept is not None and snapshot.taken_at < kept.taken_at <= snapshot.taken_at + NEWER_BY_AT_MOST:
            return path, False
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        remove_abandoned_work(path.parent, (f".{glob.escape(path.name)}.*.tmp",))  # what a killed write of it left, once a day old
        write_atomically(path, [orjson.dumps(snapshot.to_json())])
    except OSError as error:
        raise CacheError(
            f"Cannot write {path} ({error.strerror or error}); free some space or check the permissions of "
            f"{path.parent}, then run the command again (the file is as it was before).",
            path=path,
        ) from None
    return path, True


def read_snapshot(path: Path) -> Snapshot:
    """A kept snapshot; ``CacheError`` naming the file and what to do when it cannot be used."""
    past = "" if Path(path).name == MEMBERS_FILE else " (a past cycle's figures cannot be fetched again)"
    fix = f"restore it from a backup, or delete it and run `billing-reports fetch` to take a new one{past}"
    try:
        raw = orjson.loads(Path(path).read_bytes())
    except OSError as error:
        raise CacheError(f"Cannot read {path} ({error.strerror or error}); check its permissions.", path=path) from None
    except orjson.JSONDecodeError:
        raise CacheError(f"Snapshot {path} is not valid JSON; {fix}.", path=path, problem="is not valid JSON") from None
    problem = _snapshot_problem(raw)
    if problem:
        raise CacheError(f"Snapshot {path} {problem}; {fix}.", path=path, problem=problem)
    cycle = raw.get("cycle_start")
    return Snapshot(
        kind=raw["kind"],
        taken_at=parse_isoformat_z(raw["taken_at"]),
        answer=raw["answer"],
        cycle_start=parse_day(cycle) if cycle is not None else None,
        demo=raw.get("demo") is True,
        path=Path(path),
    )


def kept_cycles(data_dir: Path, folder: str) -> list[Snapshot]:
    """Every kept snapshot of ``folder`` (``spend`` or ``groups``), oldest cycle first. Files whose
    names are not ours are left alone."""
    directory = Path(data_dir) / folder
    if not directory.is_dir():
        return []
    snapshots = []
    for path in sorted(directory.glob(f"{CYCLE_FILE_PREFIX}????-??-??.json")):
        snapshots.append(read_snapshot(path))
    return snapshots


def newest_cycle_start(data_dir: Path, folder: str = SPEND_FOLDER) -> int | None:
    """The first day of the newest cycle with a kept snapshot of ``folder`` (for spend: Cursor's
    ``subscriptionCycleStart`` as the last fetch saw it), read from the file's name; ``None``: none kept."""
    directory = Path(data_dir) / folder
    if not directory.is_dir():
        return None
    for path in sorted(directory.glob(f"{CYCLE_FILE_PREFIX}????-??-??.json"), reverse=True):
        try:
            return parse_day(path.stem.removeprefix(CYCLE_FILE_PREFIX))
        except ValueError:
            continue
    return None


def kept_members(data_dir: Path) -> Snapshot | None:
    path = members_path(data_dir)
    return read_snapshot(path) if path.exists() else None


def _text(value: Any) -> str:
    if not isinstance(value, str):
        raise ValueError("not a string")
    return value


def _snapshot_problem(raw: Any) -> str | None:
    if not isinstance(raw, dict):
        return "is not a JSON object"
    if not isinstance(raw.get("format"), int) or isinstance(raw.get("format"), bool):
        return "has no format number"
    if raw["format"] > SNAPSHOT_FORMAT:
        return f"was written by a newer billing-reports (format {raw['format']})"
    if raw.get("kind") not in SNAPSHOT_KINDS:
        return "has no kind (members, spend or groups)"
    try:
        parse_isoformat_z(_text(raw.get("taken_at")))
    except ValueError:
        return "has no taken_at time (YYYY-MM-DDTHH:MM:SSZ)"
    if raw["kind"] != "members":
        try:
            day = parse_day(_text(raw.get("cycle_start")))
        except ValueError:
            return "has no cycle_start date (YYYY-MM-DD)"
        if not EARLIEST_DAY <= day <= LATEST_DAY:
            return f"has a cycle_start of {raw['cycle_start']}, which no billing cycle has"
    if not isinstance(raw.get("answer"), dict):
        return "holds no answer object"
    return None


__all__ = [
    "GROUPS_FOLDER",
    "MEMBERS_FILE",
    "SNAPSHOT_KINDS",
    "SPEND_FOLDER",
    "Snapshot",
    "cycle_of_spend",
    "cycle_path",
    "keep",
    "kept_cycles",
    "kept_members",
    "members_path",
    "newest_cycle_start",
    "read_snapshot",
]
