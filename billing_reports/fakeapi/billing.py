"""The fake API's billing side: ``POST /teams/spend`` and ``GET /teams/groups`` for a fake team.

Cursor's figures are derived from the team's own events, as Cursor derives them, with the
differences a real team meets: a member whose figure differs from the events (a late event, an
adjustment), members with spend limits (one near theirs), removed members, and billing groups with
a member who moved between groups mid-cycle. A team whose ``billing`` has no groups answers
``/teams/groups`` as a team without the feature does (403).

Shapes follow ``cursor-admin-api.md``: fractional cents, ``subscriptionCycleStart`` in epoch ms,
1-based pages, groups with current and former members and daily spend.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Iterator, Protocol, Sequence

from billing_reports.money import MICROCENTS_PER_CENT
from billing_reports.fakeapi.team import event_money
from billing_reports.on_demand import charged_microcents, is_on_demand
from billing_reports.periods import cycle_containing, date_of_day, day_of_ms, parse_day

DEFAULT_SPEND_PAGE_SIZE = 50
MAX_SPEND_PAGE_SIZE = 1000


class BilledTeam(Protocol):
    members: Sequence[Any]

    def events_between(self, start_ms: int, end_ms: int, email: str | None = None) -> list[dict[str, Any]]: ...

    def now(self) -> datetime: ...


@dataclass(frozen=True)
class GroupPlan:
    """A billing group: ``members`` by email; ``moves`` (email, YYYY-MM-DD): that member joined this
    group on that day, having been in ``moved_from`` before (their spend follows them by day)."""

    id: str
    name: str
    members: tuple[str, ...]
    directory_group_id: str | None = None


@dataclass(frozen=True)
class Billing:
    """How Cursor bills a fake team.

    :param cycle_anchor: any day a billing cycle starts (``YYYY-MM-DD``); cycles start on its day of month.
    :param limits: email -> effective per-user spend limit in dollars (others have none).
    :param adjustments: email -> cents Cursor counts beyond the member's events this cycle.
    :param groups: the billing groups; ``None``: the team has no billing groups (403).
    :param moves: (email, from group id, to group id, YYYY-MM-DD): a member who changed group.
    :param default_limit: the team's per-user limit in dollars for everyone without their own.
    :param near_limit: members whose limit sits just above what they spent this cycle so far
        (about 88 % used, rounded up to the dollar, at least $5): someone near their limit.
    """

    cycle_anchor: str = "2026-01-17"
    limits: dict[str, float] = field(default_factory=dict)
    default_limit: float | None = None
    near_limit: tuple[str, ...] = ()
    adjustments: dict[str, float] = field(default_factory=dict)
    groups: tuple[GroupPlan, ...] | None = None
    moves: tuple[tuple[str, str, str, str], ...] = ()

    @property
    def anchor_day(self) -> int:
        return parse_day(self.cycle_anchor)


def spend_answer(team: BilledTeam, billing: Billing, body: Any) -> tuple[int, dict[str, Any]]:
    """``POST /teams/spend``: every member's spend in the current cycle, a page of them."""
    body = body if body is not None else {}
    if not isinstance(body, dict):
        return 400, {"error": "Bad Request", "message": "Request body must be a JSON object"}
    page = body.get("page", 1)
    page_size = body.get("pageSize", DEFAULT_SPEND_PAGE_SIZE)
    if not _is_int(page) or page < 1:
        return 400, {"error": "Bad Request", "message": "page must be a positive integer (pages start at 1)"}
    if not _is_int(page_size) or not 1 <= page_size <= MAX_SPEND_PAGE_SIZE:
        return 400, {"error": "Bad Request", "message": f"pageSize must be between 1 and {MAX_SPEND_PAGE_SIZE}"}
    now = team.now()
    cycle = cycle_containing(day_of_ms(_ms(now)), billing.anchor_day)
    on_demand, overall = spend_by_member(team, cycle.first_day * 86_400_000, _ms(now))
    rows = []
    for member in team.members:
        email = member.email
        adjustment = round(billing.adjustments.get(email, 0) * MICROCENTS_PER_CENT)
        limit = billing.limits.get(email, billing.default_limit)
        if email in billing.near_limit:
            spent_dollars = (on_demand.get(email, 0) + adjustment) / MICROCENTS_PER_CENT / 100
            limit = float(max(5, math.ceil(spent_dollars / 0.88)))
        rows.append({
            "userId": _user_id(member),
            "name": member.name,
            "email": email,
            "role": member.role,
            "spendCents": _cents(on_demand.get(email, 0) + adjustment),
            "overallSpendCents": _cents(overall.get(email, 0) + adjustment),
            "fastPremiumRequests": 0,
            "hardLimitOverrideDollars": billing.limits.get(email, 0),
            "monthlyLimitDollars": limit,
            "effectivePerUserLimitDollars": limit,
        })
    rows.sort(key=lambda row: (-row["spendCents"], row["email"]))
    pages = max(1, math.ceil(len(rows) / page_size))
    first = (page - 1) * page_size
    return 200, {
        "teamMemberSpend": rows[first:first + page_size],
        "subscriptionCycleStart": cycle.first_day * 86_400_000,
        "totalMembers": len(rows),
        "totalPages": pages,
    }


def groups_answer(team: BilledTeam, billing: Billing, query: str) -> tuple[int, dict[str, Any]]:
    """``GET /teams/groups[?billingCycle=YYYY-MM-DD]``: the groups of the current or a past cycle."""
    if billing.groups is None:
        return 403, {"error": "Forbidden", "message": "Billing groups require an Enterprise plan"}
    params = dict(part.split("=", 1) for part in query.split("&") if "=" in part)
    now = team.now()
    today = day_of_ms(_ms(now))
    if "billingCycle" in params:
        try:
            asked = parse_day(params["billingCycle"])
        except ValueError:
            return 400, {"error": "Bad Request", "message": "billingCycle must be a date (YYYY-MM-DD)"}
        if asked > today:
            return 400, {"error": "Bad Request", "message": "billingCycle is in the future"}
        cycle = cycle_containing(asked, billing.anchor_day)
    else:
        cycle = cycle_containing(today, billing.anchor_day)
    start_ms = cycle.first_day * 86_400_000
    end_ms = min((cycle.last_day + 1) * 86_400_000 - 1, _ms(now))
    by_day = _spend_by_member_day(team, start_ms, end_ms)
    names = {member.email: member.name for member in team.members}
    ids = {member.email: _user_id(member) for member in team.members}
    placed = {email for group in billing.groups for email in group.members}
    everyone = [member.email for member in team.members]
    unassigned = GroupPlan("group_unassigned", "Unassigned", tuple(e for e in everyone if e not in placed))
    cycle_start = date_of_day(cycle.first_day)
    cycle_end = date_of_day(cycle.last_day + 1)

    def group_json(group: GroupPlan) -> dict[str, Any]:
        current, former, daily = [], [], {}
        memberships = [(email, None, None) for email in group.members]
        for email, source, target, day in billing.moves:
            moved = parse_day(day)
            if target == group.id:
                memberships = [m for m in memberships if m[0] != email] + [(email, moved, None)]
            elif source == group.id:
                memberships = [m for m in memberships if m[0] != email] + [(email, None, moved)]
        total = 0
        for email, joined, left in memberships:
            spent = 0
            for day, amount in by_day.get(email, {}).items():
                if (joined is None or day >= joined) and (left is None or day < left):
                    spent += amount
                    daily[day] = daily.get(day, 0) + amount
            total += spent
            row = {
                "userId": ids.get(email, email), "name": names.get(email, ""), "email": email,
                "joinedAt": _iso_day(joined if joined is not None else cycle.first_day),
                "leftAt": _iso_day(left) if left is not None else None,
                "spendCents": _cents(spent),
            }
            (former if left is not None and left <= today else current).append(row)
        return {
            "id": group.id, "name": group.name, "type": "BILLING",
            "directoryGroupId": group.directory_group_id, "memberCount": len(current),
            "createdAt": "2025-06-01T00:00:00.000Z", "updatedAt": "2025-06-01T00:00:00.000Z",
            "spendCents": _cents(total), "currentMembers": current, "formerMembers": former,
            "dailySpend": [{"date": date_of_day(day).isoformat(), "spendCents": _cents(amount)}
                           for day, amount in sorted(daily.items())],
        }

    return 200, {
        "groups": [group_json(group) for group in billing.groups],
        "unassignedGroup": group_json(unassigned),
        "billingCycle": {"cycleStart": f"{cycle_start.isoformat()}T00:00:00.000Z",
                         "cycleEnd": f"{cycle_end.isoformat()}T00:00:00.000Z"},
    }


def spend_by_member(team: BilledTeam, start_ms: int, end_ms: int) -> tuple[dict[str, int], dict[str, int]]:
    """Micro-cents per email between the two instants (inclusive): on-demand (the cost rule) and
    overall (every charged event: on-demand plus the ``chargedCents`` of the others)."""
    on_demand: dict[str, int] = {}
    overall: dict[str, int] = {}
    for email, event in _members_events(team, start_ms, end_ms):
        if is_on_demand(event):
            amount = event_money(event).charged
            on_demand[email] = on_demand.get(email, 0) + amount
        else:
            amount = charged_microcents(event) or 0
        overall[email] = overall.get(email, 0) + amount
    return on_demand, overall


def _spend_by_member_day(team: BilledTeam, start_ms: int, end_ms: int) -> dict[str, dict[int, int]]:
    spend: dict[str, dict[int, int]] = {}
    for email, event in _members_events(team, start_ms, end_ms):
        if is_on_demand(event):
            days = spend.setdefault(email, {})
            day = day_of_ms(int(event["timestamp"]))
            days[day] = days.get(day, 0) + event_money(event).charged
    return spend


def _members_events(team: BilledTeam, start_ms: int, end_ms: int) -> Iterator[tuple[str, dict[str, Any]]]:
    """``(email, event)`` for each event between the instants whose member Cursor knows (a removed
    member's too, where the team says whose it is)."""
    member_of = getattr(team, "member_of", None) or (lambda event: event.get("userEmail"))
    for event in team.events_between(start_ms, end_ms):
        email = member_of(event)
        if isinstance(email, str):
            yield email, event


def _cents(amount: int) -> float:
    """Micro-cents as the API's fractional cents (six decimals at most)."""
    return round(amount / MICROCENTS_PER_CENT, 6)


def _user_id(member: Any) -> str:
    return member.id if isinstance(member.id, str) else f"user_{member.id:06d}"


def _iso_day(day: int) -> str:
    return f"{date_of_day(day).isoformat()}T00:00:00.000Z"


def _ms(moment: datetime) -> int:
    return math.floor(moment.timestamp() * 1000)


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


__all__ = ["Billing", "GroupPlan", "groups_answer", "spend_answer", "spend_by_member"]
