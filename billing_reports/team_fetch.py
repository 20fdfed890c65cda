"""Fetch Cursor's own figures about the team with every fetch: members, the current cycle's spend
(every page), and the billing groups of the cycles in range (Enterprise teams); keep each as a
snapshot (:mod:`billing_reports.team_snapshots`).

The same client as the usage events: one rate limiter, the same retries, errors and key hygiene.
A team without billing groups answers ``/teams/groups`` with an error status (403 or 404): that is
a fact about the team, reported once, not a failure.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Callable, Sequence

from .client import CursorAdminClient
from .errors import ApiError
from . import months as _months
from .months import Month
from .periods import Period, cut_periods, date_of_day, day_of_ms
from .untrusted import printable
from .team_snapshots import GROUPS_FOLDER, SPEND_FOLDER, Snapshot, cycle_path, keep, read_snapshot

#: Members per ``/teams/spend`` page asked for.
SPEND_PAGE_SIZE = 100
#: The most ``/teams/spend`` pages followed (100,000 members): an answer announcing more is refused.
MAX_SPEND_PAGES = 1000
#: The statuses with which a team without billing groups answers ``/teams/groups``.
NO_GROUPS_STATUSES = frozenset({403, 404})
#: A past cycle's groups are final once fetched this long after the cycle ended (events arrive late).
FINAL_AFTER = timedelta(days=1)


@dataclass
class TeamFigures:
    """What a fetch took of Cursor's own figures."""

    members: int = 0
    #: The cycle the spend snapshot speaks of (its first day, an epoch day).
    cycle_start: int | None = None
    spend_members: int = 0
    #: ``False``: the team has no billing groups (``/teams/groups`` answered an error status).
    has_groups: bool | None = None
    #: First days of the cycles whose groups were fetched.
    group_cycles: list[int] = field(default_factory=list)
    kept: list[Path] = field(default_factory=list)
    #: Requests these figures took (the fetch's summary counts the usage events' apart).
    requests: int = 0

    def describe(self) -> str:
        parts = [f"{self.members:,} member{'s' if self.members != 1 else ''}"]
        if self.cycle_start is not None:
            parts.append(f"spend of {self.spend_members:,} in the cycle from {date_of_day(self.cycle_start):%-d %b %Y}")
        if self.has_groups is False:
            parts.append("no billing groups (not an Enterprise team: groups come from a mapping file instead)")
        elif self.group_cycles:
            parts.append(f"billing groups of {len(self.group_cycles)} cycle{'s' if len(self.group_cycles) != 1 else ''}")
        asked = f" ({self.requests:,} request{'s' if self.requests != 1 else ''})" if self.requests else ""
        return f"Cursor's figures{asked}: " + ", ".join(parts)


def fetch_team_figures(
    client: CursorAdminClient,
    data_dir: Path,
    months: Sequence[Month],
    *,
    cycle_start: int | None = None,
    demo: bool = False,
    now: Callable[[], datetime] = lambda: _months.utc_now(),  # the clock tests set, read at each call
) -> TeamFigures:
    """Fetch members, spend and groups; keep each snapshot under ``data_dir``.

    ``months``: the report's range (the past cycles whose groups are fetched are those touching it);
    ``cycle_start``: the configured ``billing.cycle_start`` (any cycle's first day), which wins over
    the API's ``subscriptionCycleStart`` for choosing cycles.
    """
    figures = TeamFigures()
    members = client.team_members()
    figures.members = len(members["teamMembers"])
    figures.kept.append(keep(data_dir, Snapshot("members", now(), members, demo=demo))[0])

    spend = fetch_spend(client)
    taken = now()
    figures.cycle_start = _believable_cycle_start(
        spend["subscriptionCycleStart"] // 86_400_000, taken, "team spend: subscriptionCycleStart")
    figures.spend_members = len(spend["teamMemberSpend"])
    figures.kept.append(keep(data_dir, Snapshot(SPEND_FOLDER, taken, spend, cycle_start=figures.cycle_start, demo=demo))[0])

    anchor = cycle_start if cycle_start is not None else figures.cycle_start
    try:
        current = client.billing_groups()
    except ApiError as error:
        if error.status not in NO_GROUPS_STATUSES:
            raise
        figures.has_groups = False
        return figures
    figures.has_groups = True
    current_start = _groups_cycle_start(current, anchor, now())
    figures.kept.append(keep(data_dir, Snapshot("groups", now(), current, cycle_start=current_start, demo=demo))[0])
    figures.group_cycles.append(current_start)
    for cycle in past_cycles(months, anchor, before=current_start):
        if _final(data_dir, cycle, now()):
            continue
        answer = client.billing_groups(billing_cycle=date_of_day(cycle.full_first_day).isoformat())
        # filed under the cycle Cursor says the answer is of (a configured cycle_start may differ)
        answered = _groups_cycle_start(answer, anchor, now())
        snapshot = Snapshot("groups", now(), answer, cycle_start=answered, demo=demo)
        figures.kept.append(keep(data_dir, snapshot)[0])
        figures.group_cycles.append(answered)
    return figures


def fetch_spend(client: CursorAdminClient) -> dict:
    """Every page of ``/teams/spend`` joined into one answer (the first page's fields, every member).

    Fetched again from the first page once when the cycle rolls over between pages; an answer that
    repeats a member, or announces more than :data:`MAX_SPEND_PAGES` pages, is refused.
    """
    for attempt in (1, 2):
        first = client.team_spend(page=1, page_size=SPEND_PAGE_SIZE)
        pages = first["totalPages"]
        if pages > MAX_SPEND_PAGES:
            raise ApiError(
                f"team spend: the API announces {pages:,} pages of members, more than the {MAX_SPEND_PAGES:,} "
                "a team can have; the API may have changed"
            )
        members = list(first["teamMemberSpend"])
        rolled_over = False
        for page in range(2, pages + 1):
            answer = client.team_spend(page=page, page_size=SPEND_PAGE_SIZE)
            if answer["subscriptionCycleStart"] != first["subscriptionCycleStart"]:
                rolled_over = True
                break
            members.extend(answer["teamMemberSpend"])
        if not rolled_over:
            _refuse_repeats(members)
            return {**first, "teamMemberSpend": members}
    raise ApiError("team spend: the billing cycle rolled over twice while its pages were fetched; run the command again")


def past_cycles(months: Sequence[Month], anchor: int | None, *, before: int) -> list[Period]:
    """The billing cycles (anchored on epoch day ``anchor``) that touch ``months`` and begin before ``before``."""
    if anchor is None or not months:
        return []
    first = day_of_ms(min(months).start_ms)
    last = day_of_ms(max(months).end_ms - 1)
    return [cycle for cycle in cut_periods("cycle", first, last, cycle_start=anchor) if cycle.full_first_day < before]


def _groups_cycle_start(answer: dict, anchor: int | None, now: datetime) -> int:
    """The first day of the cycle a ``/teams/groups`` answer speaks of (``billingCycle.cycleStart``)."""
    text = answer["billingCycle"]["cycleStart"]
    try:
        moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
        if moment.tzinfo is None:
            moment = moment.replace(tzinfo=timezone.utc)
        day = day_of_ms(int(moment.timestamp() * 1000))
    except (ValueError, OverflowError, OSError):
        raise ApiError(f"billing groups: billingCycle.cycleStart {printable(text)[:40]!r} is not a time; "
                       "the API may have changed") from None
    return _believable_cycle_start(day, now, "billing groups: billingCycle.cycleStart")


#: The earliest cycle start believed (Cursor's Admin API is years younger).
EARLIEST_CYCLE_DAY = 10_957  # 2000-01-01


def _believable_cycle_start(day: int, now: datetime, what: str) -> int:
    """``day`` when it can be a cycle's first day seen ``now``: not in the future and not before
    2000; else a one-line ``ApiError`` (an answer that would be kept as history must not be nonsense)."""
    today = day_of_ms(int(now.timestamp() * 1000))
    if not EARLIEST_CYCLE_DAY <= day <= today:
        shown = date_of_day(day).isoformat() if 0 <= day < 2_932_897 else f"day {day}"
        raise ApiError(f"{what} says a billing cycle began on {shown}, which cannot be "
                       f"(today is {date_of_day(today).isoformat()}); the API may have changed")
    return day


def _final(data_dir: Path, cycle: Period, now: datetime) -> bool:
    """Whether the kept groups snapshot of ``cycle`` was taken long enough after it ended to be final."""
    path = cycle_path(data_dir, GROUPS_FOLDER, cycle.full_first_day)
    if not path.exists():
        return False
    kept = read_snapshot(path)
    ended = datetime.combine(date_of_day(cycle.full_last_day + 1), datetime.min.time(), tzinfo=timezone.utc)
    return kept.taken_at >= ended + FINAL_AFTER


def _refuse_repeats(members: list[dict]) -> None:
    seen: set[str] = set()
    for member in members:
        key = str(member.get("userId") or member.get("email") or "")
        if key and key in seen:
            raise ApiError(
                "team spend: a member appears on two pages (the list changed while it was fetched); "
                "run the command again"
            )
        seen.add(key)


__all__ = ["TeamFigures", "fetch_spend", "fetch_team_figures", "past_cycles"]
