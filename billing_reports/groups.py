"""Who belongs to which group on which day: the chargeback's directory.

Groups come from Cursor's billing groups (Enterprise teams: the kept ``/teams/groups`` snapshots,
each member's ``joinedAt``/``leftAt`` within a cycle), or, for teams without them, from a mapping
file the team keeps: a CSV with the header ``email,group`` and optionally a third column
``start`` (``YYYY-MM-DD``, the first day the membership holds), so that a person who moves team is
charged to the right one for each day::

    email,group,start
    ann@example.com,Platform,
    bob@example.com,Platform,
    bob@example.com,Data,2026-03-16
    nightly-ci,Platform,

A service account is placed by its name. Whoever no group holds on a day is :data:`UNASSIGNED`.
"""

from __future__ import annotations

import bisect
import csv
import io
from dataclasses import dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING, Callable, Iterable

from .cursor_figures import CursorFigures
from .errors import ConfigError
from .periods import parse_day
from .untrusted import printable, shortened
from .usage import SERVICE_ACCOUNT_MARK, normalised

if TYPE_CHECKING:
    from .usage import OnDemandUsage

UNASSIGNED = "Unassigned"
#: The largest mapping file read (a team's mapping is a few kilobytes; this is far beyond it).
MAX_MAPPING_BYTES = 16 * 1024 * 1024
#: The longest group name kept.
GROUP_NAME_LIMIT = 120


@dataclass(frozen=True)
class Membership:
    """``user`` is in ``group`` from ``first_day`` (``None``: always before) to ``last_day``
    (``None``: still), epoch days, both inclusive."""

    user: str
    group: str
    first_day: int | None = None
    last_day: int | None = None

    def holds_on(self, day: int) -> bool:
        return (self.first_day is None or self.first_day <= day) and (self.last_day is None or day <= self.last_day)


class GroupDirectory:
    """Memberships by user; ``group_of(user, day)`` answers a day's group."""

    def __init__(self, memberships: Iterable[Membership], *, source: str) -> None:
        self.source = source
        self._by_user: dict[str, list[Membership]] = {}
        for membership in memberships:  # e-mails match whatever their case (Maya.Chen@ = maya.chen@)
            self._by_user.setdefault(normalised(membership.user), []).append(membership)
        for kept in self._by_user.values():
            kept.sort(key=lambda m: (m.first_day if m.first_day is not None else -(10**9)))
        self._starts = {user: [m.first_day if m.first_day is not None else -(10**9) for m in kept]
                        for user, kept in self._by_user.items()}

    def group_of(self, user: str, day: int) -> str:
        """The group ``user`` is charged to on ``day`` (a service account by its name)."""
        user = normalised(user)
        kept = self._by_user.get(user)
        if kept is None and user.endswith(SERVICE_ACCOUNT_MARK):
            user = user[: -len(SERVICE_ACCOUNT_MARK)]
            kept = self._by_user.get(user)
        if not kept:
            return UNASSIGNED
        # the latest membership begun by that day that still holds on it
        index = bisect.bisect_right(self._starts[user], day) - 1
        while index >= 0:
            if kept[index].holds_on(day):
                return kept[index].group
            index -= 1
        return UNASSIGNED

    @property
    def groups(self) -> list[str]:
        """Every group named, in name order (:data:`UNASSIGNED` not among them)."""
        return sorted({m.group for kept in self._by_user.values() for m in kept})

    def renamed(self, person: Callable[[str], str], group_name: Callable[[str], str] = str) -> "GroupDirectory":
        """The directory with each member named by ``person`` (``usage.person``: the ledger's
        spelling, or a pseudonymised report's pseudonyms), so that it places the usage's users, and
        each group by ``group_name`` (``usage.group_name``: an email in it pseudonymised)."""
        memberships = [replace(m, user=person(m.user), group=group_name(m.group))
                       for kept in self._by_user.values() for m in kept]
        return GroupDirectory(memberships, source=self.source)

    def members(self, group: str) -> list[Membership]:
        return sorted((m for kept in self._by_user.values() for m in kept if m.group == group),
                      key=lambda m: (m.user, m.first_day or 0))


def read_mapping(path: Path) -> GroupDirectory:
    """The mapping file at ``path``; ``ConfigError`` naming the file, the line and the fix."""
    path = Path(path)
    try:
        with path.open("rb") as handle:
            data = handle.read(MAX_MAPPING_BYTES + 1)
    except OSError as error:
        raise ConfigError(f"Cannot read the group mapping {path} ({error.strerror or error}); "
                          "check the path in the chargeback plugin's mapping setting.") from None
    if len(data) > MAX_MAPPING_BYTES:
        raise ConfigError(f"Group mapping {path} is larger than {MAX_MAPPING_BYTES // 2**20} MiB; "
                          "a mapping holds one line per person: check the path.")
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise ConfigError(f"Group mapping {path} is not UTF-8 text; save it as CSV UTF-8.") from None
    return parse_mapping(text, str(path))


def parse_mapping(text: str, where: str) -> GroupDirectory:
    rows = csv.reader(io.StringIO(text))
    header = next(rows, None)
    names = [cell.strip().lower() for cell in header] if header else []
    if names[:2] != ["email", "group"] or len(names) > 3 or (len(names) == 3 and names[2] != "start"):
        raise ConfigError(f"Group mapping {where}: the first line must be the header email,group "
                          "(or email,group,start); found " + (",".join(header)[:80] if header else "nothing"))
    memberships: list[Membership] = []
    starts: dict[tuple[str, int | None], int] = {}
    for line_number, row in enumerate(rows, start=2):
        if not any(cell.strip() for cell in row):
            continue
        if len(row) not in (2, 3) or len(row) > len(names):
            raise ConfigError(f"Group mapping {where}, line {line_number}: expected {len(names)} columns "
                              f"({','.join(names)}), found {len(row)}")
        user, group = row[0].strip(), _group_name(row[1])
        if not user or not group:
            raise ConfigError(f"Group mapping {where}, line {line_number}: an email (or service account) and a "
                              "group are both needed")
        start = None
        if len(row) == 3 and row[2].strip():
            try:
                start = parse_day(row[2])
            except ValueError as error:
                raise ConfigError(f"Group mapping {where}, line {line_number}: start {error}") from None
        key = (normalised(user), start)
        if key in starts:
            # (the line, not the email: the error may reach the log of a pseudonymised build)
            raise ConfigError(f"Group mapping {where}, line {line_number}: the person of this line already has a "
                              f"group from that start on line {starts[key]}; keep one of the two lines")
        starts[key] = line_number
        memberships.append(Membership(user, group, start))
    return GroupDirectory(_close(memberships), source=f"mapping file {where}")


def from_cursor(figures: CursorFigures) -> GroupDirectory | None:
    """The directory of Cursor's billing groups (``None`` when no groups snapshot was kept).

    Within a kept cycle, a membership runs from its ``joinedAt`` (or the cycle's start) to the day
    before its ``leftAt``; a day in no kept cycle takes the memberships of the nearest kept one.
    """
    if not figures.groups:
        return None
    snapshots = sorted(figures.groups, key=lambda snapshot: snapshot.cycle.first_day)
    memberships: list[Membership] = []
    for index, snapshot in enumerate(snapshots):
        first = None if index == 0 else snapshot.cycle.first_day
        last = None if index == len(snapshots) - 1 else snapshot.cycle.last_day
        for group in snapshot.groups:
            if group.id == "group_unassigned":
                continue
            for member in group.members:
                joined = member.joined if member.joined is not None and member.joined > snapshot.cycle.first_day else first
                left = member.left - 1 if member.left is not None and member.left <= snapshot.cycle.last_day else last
                if joined is not None and left is not None and left < joined:
                    continue
                memberships.append(Membership(member.email, _group_name(group.name), joined, left))
    return GroupDirectory(memberships, source="Cursor's billing groups")


def service_account_owners(usage: "OnDemandUsage") -> dict[str, str]:
    """Each service account of the usage -> the member who owns it (the ``userEmail`` of its first event)."""
    owners: dict[str, str] = {}
    for month in usage.months:
        for account, owner in usage.facts(month).quality.service_account_owners.items():
            owners.setdefault(account, owner)
    return owners


def group_charger(directory: GroupDirectory, owners: dict[str, str]) -> Callable[[str, int], str]:
    """``group_on(user, day)``: the group a ledger user's spend of that day is charged to: their own,
    or, for a service account no group places, its owner's that day (Cursor counts a service
    account's spend as its owner's); :data:`UNASSIGNED` when no group holds them."""

    def group_on(user: str, day: int) -> str:
        group = directory.group_of(user, day)
        if group == UNASSIGNED and user in owners:
            group = directory.group_of(owners[user], day)
        return group

    return group_on


def _close(memberships: list[Membership]) -> list[Membership]:
    """Each membership of a person ends the day before their next one starts."""
    by_user: dict[str, list[Membership]] = {}
    for membership in memberships:
        by_user.setdefault(normalised(membership.user), []).append(membership)
    closed = []
    for kept in by_user.values():
        kept.sort(key=lambda m: m.first_day if m.first_day is not None else -(10**9))
        for current, following in zip(kept, kept[1:] + [None]):
            last = following.first_day - 1 if following is not None and following.first_day is not None else None
            closed.append(Membership(current.user, current.group, current.first_day, last))
    return closed


def _group_name(text: str) -> str:
    return shortened(printable(text).strip(), GROUP_NAME_LIMIT)


__all__ = ["GroupDirectory", "Membership", "UNASSIGNED", "from_cursor", "group_charger", "parse_mapping", "read_mapping",
           "service_account_owners"]
