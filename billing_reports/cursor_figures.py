"""Cursor's own figures as the analysis reads them: members, spend per cycle, billing groups.

Read from the snapshots a fetch keeps (:mod:`billing_reports.team_snapshots`). The API's answers
are not trusted field by field: an entry without a usable email or amount is left out and
counted in ``problems`` (shown on the data-quality page), never guessed. Amounts are micro-cents.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field, replace
from datetime import datetime
from pathlib import Path
from typing import Any, Callable, Iterable

from .money import microcents
from .on_demand import amount_microcents
from .periods import Period, cycle_containing, day_of_ms, parse_day
from .team_snapshots import GROUPS_FOLDER, SPEND_FOLDER, Snapshot, kept_cycles, kept_members
from .untrusted import printable, shortened

#: The longest name or email kept from Cursor's answers (the loader's limit for names in events).
NAME_LIMIT = 320


@dataclass(frozen=True)
class Member:
    email: str
    name: str
    role: str
    removed: bool


@dataclass(frozen=True)
class MemberSpend:
    """One member's line of ``/teams/spend``: this cycle's spend up to the snapshot."""

    email: str
    name: str
    #: On-demand spend (``spendCents``) and all spend (``overallSpendCents``), micro-cents; ``None``
    #: where Cursor's answer held no number there (shown as unreadable, never as $0).
    spend: int | None
    overall: int | None
    #: The member's effective spend limit in micro-cents (``None``: no limit).
    limit: int | None


@dataclass(frozen=True)
class SpendSnapshot:
    """``/teams/spend`` as taken at ``taken_at``, for the billing ``cycle``."""

    cycle: Period
    taken_at: datetime
    members: tuple[MemberSpend, ...]

    @property
    def taken_ms(self) -> int:
        return int(self.taken_at.timestamp() * 1000)


@dataclass(frozen=True)
class GroupMembership:
    email: str
    name: str
    #: The first and last day (epoch days) of the membership within the cycle (``None``: open).
    joined: int | None
    left: int | None
    spend: int


@dataclass(frozen=True)
class BillingGroup:
    id: str
    name: str
    spend: int
    members: tuple[GroupMembership, ...]
    #: Synced from the identity provider (SCIM): read-only in Cursor.
    synced: bool = False


@dataclass(frozen=True)
class GroupsSnapshot:
    cycle: Period
    taken_at: datetime
    groups: tuple[BillingGroup, ...]


@dataclass
class CursorFigures:
    """Everything kept of Cursor's own figures; empty when nothing was fetched with a key."""

    members: dict[str, Member] = field(default_factory=dict)
    members_taken_at: datetime | None = None
    spend: list[SpendSnapshot] = field(default_factory=list)
    groups: list[GroupsSnapshot] = field(default_factory=list)
    #: What could not be read from an answer: ``(file, what)``.
    problems: list[tuple[str, str]] = field(default_factory=list)
    #: How these figures name the user of a cached event (``None``: as the event does; on a
    #: pseudonymised report, :meth:`billing_reports.pseudonyms.Pseudonyms.user`): what reads the
    #: cache beside them (the reconciliation) names its users so.
    person: Callable[[str], str] | None = None

    @property
    def any(self) -> bool:
        return bool(self.members or self.spend or self.groups)

    def name_of(self, email: str) -> str | None:
        """The member's display name (``None`` when Cursor's list does not name them)."""
        member = self.members.get(email)
        return member.name if member is not None and member.name else None

    def spelled(self, person: Callable[[str], str]) -> "CursorFigures":
        """These figures with every member's email as ``person`` writes it (``usage.person``: the
        ledger's spelling, so that ``Ann@X.test`` on Cursor's list meets the events' ``ann@x.test``),
        and ``person`` naming what reads the cache beside them."""
        members: dict[str, Member] = {}
        for email, member in self.members.items():
            members.setdefault(person(email), replace(member, email=person(email)))
        spend = [replace(snapshot, members=tuple(replace(line, email=person(line.email)) for line in snapshot.members))
                 for snapshot in self.spend]
        groups = [replace(snapshot, groups=tuple(
            replace(group, members=tuple(replace(member, email=person(member.email)) for member in group.members))
            for group in snapshot.groups)) for snapshot in self.groups]
        return CursorFigures(members=members, members_taken_at=self.members_taken_at, spend=spend, groups=groups,
                             problems=list(self.problems), person=person)

    def cycle_anchor(self) -> int | None:
        """The first day of the newest cycle Cursor reported (its ``subscriptionCycleStart``)."""
        return self.spend[-1].cycle.first_day if self.spend else None


def load_cursor_figures(data_dir: Path) -> CursorFigures:
    """What the fetches kept under ``data_dir`` (``CacheError`` for a file that cannot be read)."""
    figures = CursorFigures()
    members = kept_members(data_dir)
    if members is not None:
        figures.members_taken_at = members.taken_at
        for entry in _objects(members, "teamMembers", figures):
            email = _text(entry.get("email"))
            if not email:
                figures.problems.append((_where(members), "a member without an email"))
                continue
            figures.members[email] = Member(email, _text(entry.get("name")), _text(entry.get("role")),
                                            entry.get("isRemoved") is True)
    for snapshot in kept_cycles(data_dir, SPEND_FOLDER):
        figures.spend.append(_spend(snapshot, figures))
    for snapshot in kept_cycles(data_dir, GROUPS_FOLDER):
        figures.groups.append(_groups(snapshot, figures))
    return figures


def _spend(snapshot: Snapshot, figures: CursorFigures) -> SpendSnapshot:
    rows = []
    for entry in _objects(snapshot, "teamMemberSpend", figures):
        email = _text(entry.get("email"))
        spend, overall = amount_microcents(entry.get("spendCents")), amount_microcents(entry.get("overallSpendCents"))
        if not email:
            figures.problems.append((_where(snapshot), "a member line without an email (left out)"))
            continue
        if spend is None:
            figures.problems.append((_where(snapshot), f"{email}: spendCents is not a number (shown as unreadable)"))
        elif overall is None:
            figures.problems.append((_where(snapshot), f"{email}: overallSpendCents is not a number (shown as unreadable)"))
        limit = entry.get("effectivePerUserLimitDollars")
        rows.append(MemberSpend(
            email=email, name=_text(entry.get("name")), spend=spend,
            overall=overall if spend is not None else None,
            limit=microcents(limit * 100) if _finite(limit) and limit > 0 else None,
        ))
    cycle_start = snapshot.cycle_start if snapshot.cycle_start is not None else day_of_ms(snapshot.answer["subscriptionCycleStart"])
    return SpendSnapshot(cycle_containing(cycle_start, cycle_start), snapshot.taken_at, tuple(rows))


def _groups(snapshot: Snapshot, figures: CursorFigures) -> GroupsSnapshot:
    cycle = cycle_containing(snapshot.cycle_start, snapshot.cycle_start)
    answer = snapshot.answer
    entries = list(_objects(snapshot, "groups", figures))
    if isinstance(answer.get("unassignedGroup"), dict):
        entries.append(answer["unassignedGroup"])
    groups = []
    for entry in entries:
        group_id, name = _text(entry.get("id")), _text(entry.get("name"))
        if not group_id or not name:
            figures.problems.append((_where(snapshot), "a billing group without an id or name"))
            continue
        memberships = []
        for key in ("currentMembers", "formerMembers"):
            listed = entry.get(key)
            if listed is not None and not isinstance(listed, list):
                figures.problems.append((_where(snapshot), f"group {name}: {key} is not a list"))
                continue
            for member in listed or []:
                email = _text(member.get("email")) if isinstance(member, dict) else ""
                if not email:
                    figures.problems.append((_where(snapshot), f"a member of group {name} without an email"))
                    continue
                memberships.append(GroupMembership(
                    email, _text(member.get("name")), _day(member.get("joinedAt")), _day(member.get("leftAt")),
                    amount_microcents(member.get("spendCents")) or 0,
                ))
        groups.append(BillingGroup(group_id, name, amount_microcents(entry.get("spendCents")) or 0, tuple(memberships),
                                   synced=entry.get("directoryGroupId") not in (None, "")))
    return GroupsSnapshot(cycle, snapshot.taken_at, tuple(groups))


def _objects(snapshot: Snapshot, key: str, figures: CursorFigures) -> Iterable[dict[str, Any]]:
    items = snapshot.answer.get(key)
    if not isinstance(items, list):
        figures.problems.append((_where(snapshot), f"no {key} list"))
        return []
    return [item for item in items if isinstance(item, dict)]


def _where(snapshot: Snapshot) -> str:
    """A kept file as the site may name it: relative to the cache folder (``spend/cycle-2026-11-17.json``),
    never the server's absolute path."""
    path = snapshot.path
    if path is None:
        return snapshot.kind
    return f"{path.parent.name}/{path.name}" if path.parent.name in (SPEND_FOLDER, GROUPS_FOLDER) else path.name


def _text(value: Any) -> str:
    return shortened(printable(value).strip(), NAME_LIMIT) if isinstance(value, str) else ""


def _finite(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)


def _day(value: Any) -> int | None:
    if not isinstance(value, str) or len(value) < 10:
        return None
    try:
        return parse_day(value[:10])
    except ValueError:
        return None


__all__ = ["BillingGroup", "CursorFigures", "GroupMembership", "GroupsSnapshot", "Member", "MemberSpend",
           "SpendSnapshot", "load_cursor_figures"]
