"""Does it match Cursor's bill? Each kept spend snapshot against our events, per member and for the
team (:mod:`billing_reports.reconciliation` does the sums; this section shows them)."""

from __future__ import annotations

from typing import Annotated

import msgspec

from billing_reports import Column, Figure, Section, Table, hookimpl
from billing_reports.money import MICROCENTS_PER_DOLLAR, format_money
from billing_reports.periods import date_of_day
from billing_reports.reconciliation import CycleReconciliation, Line, Tolerance, reconcile
from billing_reports.usage import REMOVED_USER, OnDemandUsage
from billing_reports.wording import counted

SLUG = "reconciliation"
ORDER = 70
#: This plugin's block of config.yaml: ``plugins.reconciliation``.
SETTINGS_NAME = "reconciliation"
FLAG = "beyond tolerance"
UNREADABLE = "Cursor's figure unreadable"
INCOMPLETE = "Cursor's total lacks the unreadable figures"


class ReconciliationSettings(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    """When a difference between Cursor's figure and our events is flagged."""

    tolerance_usd: Annotated[float, msgspec.Meta(ge=0, le=1_000_000, description=(
        "flag a member's difference beyond the larger of this many dollars..."))] = 1.0
    tolerance_percent: Annotated[float, msgspec.Meta(ge=0, le=100, description=(
        "...and this share of Cursor's figure"))] = 1.0

    @property
    def tolerance(self) -> Tolerance:
        return Tolerance(round(self.tolerance_usd * MICROCENTS_PER_DOLLAR), self.tolerance_percent)


@hookimpl
def register_settings(register) -> None:
    register(SETTINGS_NAME, ReconciliationSettings)


@hookimpl
def register_sections(register, usage: OnDemandUsage, settings) -> None:
    register(reconciliation_section(usage, settings.plugin(SETTINGS_NAME).tolerance))


WHY = (
    "Small differences are expected: Cursor aggregates its figures hourly, and events of the last hours "
    "can still arrive after a fetch (the next fetch brings them). A difference beyond the tolerance on a "
    "cycle whose last snapshot was taken after its events were all fetched is not expected: a charge "
    "Cursor made that no usage event explains (an adjustment, a refund, a price change), or events "
    "missing from the cache (a month not fetched is named below)."
)


def reconciliation_section(usage: OnDemandUsage, tolerance: Tolerance) -> Section:
    """Every kept spend snapshot whose cycle overlaps the usage's range, newest first."""
    figures = usage.cursor
    first, last = usage.range.first_day, usage.range.last_day
    wanted = [snapshot.cycle.first_day for snapshot in figures.spend
              if snapshot.cycle.first_day <= last and snapshot.cycle.last_day >= first]
    if usage.data_dir is None or not wanted:
        return Section(
            slug=SLUG, title="Reconciliation with Cursor", order=ORDER,
            intro=("No spend figures of Cursor's are kept for this period yet. Every `billing-reports fetch` "
                   "(and `build`) with an API key takes `/teams/spend`, each member's spend in the current "
                   "billing cycle, and keeps it beside the cache, one file per cycle: Cursor forgets a "
                   "cycle's figures when it rolls over, so run a fetch before each cycle ends. " + WHY),
        )
    cycles = list(reversed(reconcile(figures, usage.data_dir, tolerance=tolerance, cycles=wanted)))
    tables: list[Table] = []
    for cycle in cycles:
        tables += _cycle_tables(cycle, tolerance)
    newest = cycles[0]
    flagged = sum(line.flagged for line in newest.on_demand)
    total = newest.on_demand_total
    cards = [
        Figure("Cursor's on-demand figure, this cycle", total.cursor, "money",
               f"{newest.snapshot.cycle.label}, taken {_when(newest)}; our events: {format_money(total.ours)}"),
        Figure("Members beyond tolerance", flagged, "count",
               f"of {counted(len(newest.on_demand), 'member')}; tolerance {tolerance.describe()}"),
    ]
    return Section(
        slug=SLUG,
        title="Reconciliation with Cursor",
        order=ORDER,
        roles=("summary-cards", "dashboard-preview"),
        intro=(
            "Cursor's own figures (`/teams/spend`, per member, for the billing cycle) against the sum of our "
            "events from the cycle's first day (00:00 UTC) to the moment the figures were taken: on-demand "
            "spend against `spendCents`, and all charged events (the on-demand ones and what the events the "
            "fetch leaves out charged) against `overallSpendCents`. A service account's events count as its "
            "owner's, as Cursor bills them. Differences are ours minus Cursor's; beyond "
            f"{tolerance.describe()} they are flagged. " + WHY
        ),
        figures=cards,
        tables=tables,
    )


def _cycle_tables(cycle: CycleReconciliation, tolerance: Tolerance) -> list[Table]:
    key = date_of_day(cycle.snapshot.cycle.first_day).isoformat()
    label = cycle.snapshot.cycle.label
    caveats = []
    if cycle.missing_months:
        caveats.append("not fetched, so our side is short of them: " + ", ".join(m.label for m in cycle.missing_months))
    if cycle.fetched_before_snapshot:
        caveats.append("fetched before Cursor's figures were taken (later events are not ours yet): "
                       + ", ".join(m.label for m in cycle.fetched_before_snapshot))
    span = f"{label}: Cursor's figures taken {_when(cycle)}; our events from the cycle's first day to then."
    span += "".join(f" Months {caveat}." for caveat in caveats)
    columns = [
        Column("member", "Member", "user"), Column("name", "Name"),
        Column("cursor", "Cursor's figure", "money"), Column("ours", "Our events", "money"),
        Column("difference", "Difference", "change"), Column("difference_percent", "Difference %", "growth"),
        Column("flag", "Flag"),
    ]
    tables = [
        Table(f"cycle-{key}", f"On-demand spend, {label}", columns, _rows(cycle.on_demand),
              total=_row(cycle.on_demand_total, "Total"),
              description=f"{span} Cursor's spendCents against our on-demand events, flagged first."),
        Table(f"cycle-{key}-overall", f"All charged spend, {label}", columns, _rows(cycle.overall),
              total=_row(cycle.overall_total, "Total"),
              description="Cursor's overallSpendCents (on-demand and included usage) against every charged "
                          "event: the on-demand ones and what the events the fetch left out charged "
                          "(their chargedCents, kept by the hour)."),
    ]
    unmatched = [["Cursor charged them, we have no events", email, _member_spend(cycle, email)]
                 for email in cycle.spend_without_events]
    unmatched += [["Events of no member" if user != REMOVED_USER else "Events without an email (removed members)",
                   user, amount] for user, amount in sorted(cycle.events_without_member.items())]
    if unmatched:
        tables.append(Table(
            f"cycle-{key}-unmatched", f"Not matched, {label}",
            [Column("what", "What"), Column("who", "Who", "user"), Column("amount", "Amount", "money")],
            unmatched,
            description="Members Cursor charged this cycle whose events we do not have, and spend of ours "
                        "Cursor lists under no member (removed members' events arrive without an email).",
        ))
    return tables


def _rows(lines: list[Line]) -> list[list]:
    ordered = sorted(lines, key=lambda line: (line.cursor is not None, not line.flagged, -abs(line.difference or 0),
                                              -(line.cursor or 0), line.email))
    return [_row(line, line.email) for line in ordered]


def _row(line: Line | None, who: str) -> list:
    if line is None:
        return [who, "", 0, 0, 0, None, ""]
    name = "" if who == "Total" else line.name
    if line.cursor is None:
        flag = UNREADABLE
    elif line.incomplete:
        flag = INCOMPLETE + ("; " + FLAG if line.flagged else "")
    else:
        flag = FLAG if line.flagged else ""
    return [who, name, line.cursor, line.ours, line.difference, line.percent, flag]


def _member_spend(cycle: CycleReconciliation, email: str) -> int:
    return next((member.spend for member in cycle.snapshot.members if member.email == email), 0)


def _when(cycle: CycleReconciliation) -> str:
    return cycle.snapshot.taken_at.strftime("%-d %b %Y, %H:%M UTC")


__all__ = ["ReconciliationSettings", "reconciliation_section"]
