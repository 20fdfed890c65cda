"""Spend limits: each member's effective limit in Cursor and how much of it this cycle has used.

From the newest ``/teams/spend`` snapshot a fetch kept (``usage.cursor.spend[-1]``): Cursor's
own figures at the snapshot's time, not a sum of our events (the reconciliation section compares
the two). Members at or above the threshold (``plugins.spend-limits.threshold_percent``, default
80 %) head the page, and the dashboard when there are any.
"""

from __future__ import annotations

from fractions import Fraction
from typing import Annotated

import msgspec

from billing_reports import Column, Figure, Section, Table, hookimpl
from billing_reports.cursor_figures import MemberSpend, SpendSnapshot
from billing_reports.settings import Settings
from billing_reports.site.quality import when
from billing_reports.usage import OnDemandUsage

SLUG = "spend-limits"
SETTINGS_NAME = "spend-limits"
ORDER = 45


class SpendLimitSettings(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    """When a member counts as near their spend limit."""

    threshold_percent: Annotated[float, msgspec.Meta(ge=1, le=1000, description=(
        "a member who has used at least this share of their limit this cycle is listed as near it"))] = 80


@hookimpl
def register_settings(register) -> None:
    register(SETTINGS_NAME, SpendLimitSettings)


@hookimpl
def register_sections(register, usage: OnDemandUsage, settings: Settings) -> None:
    if usage.cursor.spend:  # (no snapshot kept: no fetch with a key yet; nothing to say)
        register(spend_limits_section(usage.cursor.spend[-1], settings.plugin(SETTINGS_NAME)))


def used_percent(member: MemberSpend) -> float:
    """How much of the limit the cycle's spend has used, in percent (one decimal)."""
    assert member.limit
    return round(member.spend * 100 / member.limit, 1)


def at_or_above(member: MemberSpend, threshold_percent: float) -> bool:
    """Exactly: spend / limit >= threshold (no rounding lets 79.96 % count as 80 %)."""
    assert member.limit
    return Fraction(member.spend) * 100 >= Fraction(str(threshold_percent)) * member.limit


def _table(slug: str, title: str, members: list[MemberSpend], description: str) -> Table:
    return Table(
        slug, title,
        [Column("member", "Member", "user"), Column("limit", "Limit", "money"),
         Column("spend", "Cursor's spend this cycle", "money"), Column("used", "Used", "percent"),
         Column("left", "Left", "money")],
        [[m.email, m.limit, m.spend, used_percent(m), m.limit - m.spend] for m in members],  # type: ignore[operator]
        description=description,
    )


def spend_limits_section(snapshot: SpendSnapshot, rule: SpendLimitSettings) -> Section:
    threshold = rule.threshold_percent
    shown = f"{threshold:g} %"
    # (a member whose spendCents Cursor sent as no number cannot be measured: left out, named on the
    # data-quality page)
    limited = sorted((m for m in snapshot.members if m.limit and m.spend is not None),
                     key=lambda m: (-Fraction(m.spend, m.limit), m.email))
    near = [m for m in limited if at_or_above(m, threshold)]
    taken = f"taken {when(snapshot.taken_at)}"
    tables = [
        _table("near-limit", f"At or above {shown} of their limit", near,
               f"Members whose spend this cycle ({snapshot.cycle.label}) has reached {shown} of their limit, "
               f"by Cursor's spend snapshot {taken}." + ("" if near else " None has.")),
        _table("limits", "Every member with a limit", limited,
               "Limit: the member's effective per-user limit in Cursor (effectivePerUserLimitDollars). Cursor's "
               "spend: on-demand spend this cycle up to the snapshot (spendCents). Left: limit minus spend "
               "(negative: over it)."),
    ]
    without = sum(1 for m in snapshot.members if not m.limit)
    return Section(
        slug=SLUG,
        title="Spend limits",
        order=ORDER,
        roles=("dashboard-preview",) if near else (),
        intro=(
            f"Each member's spend limit and how much of it they have used in {snapshot.cycle.label}, from Cursor's own "
            f"figures (`/teams/spend`, {taken}). These are Cursor's amounts at that time, not a sum of the "
            "events on this site. Members at or above "
            f"{shown} (`plugins.spend-limits.threshold_percent`) are listed first."
            + (f" Members without a limit ({without}) are left out." if without else "")
        ),
        figures=[
            Figure(f"At or above {shown}", len(near), "count", f"of {len(limited)} members with a limit"),
            Figure("Snapshot", when(snapshot.taken_at), "text", snapshot.cycle.label),
        ],
        tables=tables,
    )
