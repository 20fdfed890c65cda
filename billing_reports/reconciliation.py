"""Does it match Cursor's bill? Our events against Cursor's own spend figures, per member and cycle.

For a spend snapshot taken at instant T in the billing cycle that began on day C, our side is
every kept on-demand event from C 00:00 UTC to T, by the cost rule (the ledger's whole days,
and the events of T's own day up to T), against Cursor's ``spendCents``; and those plus what the
events the fetch left out charged (kept per hour, ``fetch.windows[].left_out_charged``) against
``overallSpendCents``. A difference beyond the tolerance (the larger of an amount and a share of
Cursor's figure) is flagged.

A service account's events are its owner's here, as their ``userEmail`` says and Cursor counts them.

Small differences are expected: Cursor aggregates hourly, and events of the last hours can still
arrive after a fetch. A flagged difference on a cycle that ended days before its last fetch is not.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Iterable

from .cache import cache_path
from .cursor_figures import CursorFigures, SpendSnapshot
from .loader import iter_kept_charges, load_month
from .money import MICROCENTS_PER_DOLLAR
from .months import Month
from .months import DAY_MS
from .periods import day_of_ms, months_touched, parse_day
from .usage import REMOVED_USER

#: The default tolerance: a difference is flagged beyond the larger of $1 and 1 % of Cursor's figure.
DEFAULT_TOLERANCE_MICROCENTS = MICROCENTS_PER_DOLLAR
DEFAULT_TOLERANCE_PERCENT = 1.0
HOUR_MS = 3_600_000
#: A month fetched this shortly before Cursor's figures were taken counts as fetched with them (a fetch
#: takes the events first, then the figures; Cursor aggregates hourly anyway).
FETCH_GRACE_MS = HOUR_MS


@dataclass(frozen=True)
class Tolerance:
    amount: int = DEFAULT_TOLERANCE_MICROCENTS
    percent: float = DEFAULT_TOLERANCE_PERCENT

    def allows(self, cursor: int, difference: int) -> bool:
        return abs(difference) <= max(self.amount, abs(cursor) * self.percent / 100)

    def describe(self) -> str:
        from .money import format_money

        return f"the larger of {format_money(self.amount)} and {self.percent:g} % of Cursor's figure"


@dataclass(frozen=True)
class Line:
    """One member (or the team) in one comparison: Cursor's figure, ours, ours minus Cursor's."""

    email: str
    name: str
    #: ``None``: Cursor's answer held no number for this member (unreadable; never taken for $0).
    cursor: int | None
    ours: int
    flagged: bool
    #: The team line: some members' figures were unreadable, so Cursor's total is short of them.
    incomplete: bool = False

    @property
    def difference(self) -> int | None:
        return None if self.cursor is None else self.ours - self.cursor

    @property
    def percent(self) -> float | None:
        """The difference as a share of Cursor's figure (``None`` when Cursor's is zero or unreadable)."""
        return self.difference * 100 / self.cursor if self.cursor else None


@dataclass
class CycleReconciliation:
    """One spend snapshot against our events."""

    snapshot: SpendSnapshot
    #: On-demand: ``spendCents`` against our on-demand events; overall: ``overallSpendCents``
    #: against every charged event (on-demand plus what the left-out ones charged).
    on_demand: list[Line] = field(default_factory=list)
    overall: list[Line] = field(default_factory=list)
    on_demand_total: Line | None = None
    overall_total: Line | None = None
    #: Members Cursor charged this cycle whose events we do not have (emails).
    spend_without_events: list[str] = field(default_factory=list)
    #: Our spend by users Cursor does not list as members (emails; ``REMOVED_USER`` for events
    #: without ``userEmail``) -> micro-cents.
    events_without_member: dict[str, int] = field(default_factory=dict)
    #: Members whose figure Cursor sent as no number (their lines say so; the team's total lacks them).
    unreadable: list[str] = field(default_factory=list)
    #: Months of the cycle up to the snapshot that have no cache file (our side is short of them).
    missing_months: list[Month] = field(default_factory=list)
    #: Months whose last fetch was over an hour before the snapshot (events after it are not ours yet).
    fetched_before_snapshot: list[Month] = field(default_factory=list)

    @property
    def flagged(self) -> int:
        return sum(line.flagged for line in self.on_demand) + sum(line.flagged for line in self.overall)


def reconcile(figures: CursorFigures, data_dir: Path, *, tolerance: Tolerance = Tolerance(),
              cycles: Iterable[int] | None = None) -> list[CycleReconciliation]:
    """Each kept spend snapshot (only those of the cycles starting on the epoch days ``cycles``,
    when given) against the events cached under ``data_dir``, oldest cycle first."""
    wanted = None if cycles is None else set(cycles)
    return [reconcile_snapshot(snapshot, data_dir, figures, tolerance)
            for snapshot in figures.spend if wanted is None or snapshot.cycle.first_day in wanted]


def reconcile_snapshot(snapshot: SpendSnapshot, data_dir: Path, figures: CursorFigures,
                       tolerance: Tolerance = Tolerance()) -> CycleReconciliation:
    result = CycleReconciliation(snapshot)
    on_demand, overall = _our_side(snapshot, Path(data_dir), result, figures.person)
    cursor_lines = {member.email: member for member in snapshot.members}
    emails = sorted(set(cursor_lines) | {user for user in on_demand if user != REMOVED_USER})
    for email in emails:
        member = cursor_lines.get(email)
        name = (member.name if member else "") or figures.name_of(email) or ""
        cursor_spend = member.spend if member else 0
        cursor_overall = member.overall if member else 0
        if member is not None and member.spend is None:
            result.unreadable.append(email)
        ours, ours_overall = on_demand.get(email, 0), overall.get(email, 0)
        if member is None:
            result.events_without_member[email] = ours
        elif cursor_spend and not ours:
            result.spend_without_events.append(email)
        if member is None and not ours and not ours_overall:
            continue
        result.on_demand.append(Line(email, name, cursor_spend, ours, _beyond(tolerance, cursor_spend, ours)))
        result.overall.append(Line(email, name, cursor_overall, ours_overall,
                                   _beyond(tolerance, cursor_overall, ours_overall)))
    if on_demand.get(REMOVED_USER):
        result.events_without_member[REMOVED_USER] = on_demand[REMOVED_USER]
    cursor_total = sum(member.spend or 0 for member in snapshot.members)
    cursor_overall_total = sum(member.overall or 0 for member in snapshot.members)
    ours_total, ours_overall_total = sum(on_demand.values()), sum(overall.values())
    incomplete = bool(result.unreadable)
    result.on_demand_total = Line("", "Team", cursor_total, ours_total,
                                  _beyond(tolerance, cursor_total, ours_total), incomplete)
    result.overall_total = Line("", "Team", cursor_overall_total, ours_overall_total,
                                _beyond(tolerance, cursor_overall_total, ours_overall_total), incomplete)
    result.on_demand.sort(key=lambda line: (-abs(line.difference or 0), line.email))
    result.overall.sort(key=lambda line: (-abs(line.difference or 0), line.email))
    return result


def _beyond(tolerance: Tolerance, cursor: int | None, ours: int) -> bool:
    """Flagged: the difference is beyond the tolerance (never for an unreadable figure)."""
    return cursor is not None and not tolerance.allows(cursor, ours - cursor)


def _our_side(snapshot: SpendSnapshot, data_dir: Path, result: CycleReconciliation,
              person: Callable[[str], str] | None = None) -> tuple[dict[str, int], dict[str, int]]:
    """Micro-cents per user from the cycle's first day to the snapshot's instant: on-demand, and
    overall (on-demand plus the left-out events' charges); each user named by ``person`` (the
    figures' pseudonyms), when given."""
    first_day = snapshot.cycle.first_day
    end_ms = min(snapshot.taken_ms, (snapshot.cycle.last_day + 1) * DAY_MS - 1)
    last_day = day_of_ms(end_ms)
    #: The snapshot's own day is summed event by event up to its instant; the days before from the ledger.
    whole_days_end = last_day if end_ms < (last_day + 1) * DAY_MS - 1 else last_day + 1
    on_demand: dict[str, int] = {}
    overall: dict[str, int] = {}
    owners: dict[str, str] = {}
    for month in months_touched(first_day, last_day):
        if not cache_path(data_dir, month).exists():
            result.missing_months.append(month)
            continue
        facts, cells = load_month(data_dir, month)
        for account, owner in facts.quality.service_account_owners.items():
            owners.setdefault(account, owner)
        if facts.fetched_at is not None and facts.fetched_at.timestamp() * 1000 < end_ms - FETCH_GRACE_MS:
            result.fetched_before_snapshot.append(month)
        for (day, user, _model, _max), sums in cells.items():
            if first_day <= day < whole_days_end:
                on_demand[user] = on_demand.get(user, 0) + sums[0]
        for window in facts.fetch.get("windows") or []:
            for row in (window.get("left_out_charged") or []) if isinstance(window, dict) else []:
                if _left_out_in(row, first_day * DAY_MS, end_ms):
                    user = row[1] or REMOVED_USER
                    overall[user] = overall.get(user, 0) + row[3]
    if whole_days_end == last_day and cache_path(data_dir, Month.of_ms(end_ms)).exists():
        for stamp, user, charged in iter_kept_charges(data_dir, [Month.of_ms(end_ms)]):
            if last_day * DAY_MS <= stamp <= end_ms:
                on_demand[user] = on_demand.get(user, 0) + charged
    if person is not None:
        on_demand, overall = _renamed(on_demand, person), _renamed(overall, person)
        owners = {person(account): person(owner) for account, owner in owners.items()}
    # A service account's events carry its owner's email: Cursor counts them in the owner's spend.
    for account, owner in owners.items():
        if account in on_demand:
            on_demand[owner] = on_demand.get(owner, 0) + on_demand.pop(account)
    for user, amount in on_demand.items():
        overall[user] = overall.get(user, 0) + amount
    return on_demand, overall


def _renamed(amounts: dict[str, int], person: Callable[[str], str]) -> dict[str, int]:
    renamed: dict[str, int] = {}
    for user, amount in amounts.items():
        name = person(user)
        renamed[name] = renamed.get(name, 0) + amount
    return renamed


def _left_out_in(row: object, start_ms: int, end_ms: int) -> bool:
    """Whether a ``left_out_charged`` row ``[YYYY-MM-DDTHH, user, kind, micro-cents]`` lies in the
    span, by its hour (an hour that began by ``end_ms`` counts whole: Cursor aggregates hourly)."""
    if not (isinstance(row, list) and len(row) == 4 and isinstance(row[0], str) and isinstance(row[1], str)
            and isinstance(row[3], int) and not isinstance(row[3], bool)):
        return False
    hour = row[0]
    if len(hour) != 13 or hour[10] != "T" or not hour[11:].isdigit() or int(hour[11:]) > 23:
        return False
    try:
        hour_ms = parse_day(hour[:10]) * DAY_MS + int(hour[11:]) * HOUR_MS
    except ValueError:
        return False
    return start_ms <= hour_ms <= end_ms


__all__ = ["CycleReconciliation", "Line", "Tolerance", "reconcile", "reconcile_snapshot"]
