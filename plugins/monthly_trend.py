"""Monthly billing trend: total per month, month-over-month change, an incomplete month projected."""

from __future__ import annotations

from billing_reports import Chart, Column, Figure, Section, Series, Table, hookimpl
from billing_reports.usage import OnDemandUsage

from ._common import run_rate_projection

SLUG = "monthly-trend"
ORDER = 40


@hookimpl
def register_sections(register, usage: OnDemandUsage) -> None:
    register(monthly_trend_section(usage))


def month_status(usage: OnDemandUsage, month) -> str:
    facts = usage.facts(month)
    if not facts.cached:
        return "not fetched"
    return "complete" if facts.complete else "month to date"


def monthly_trend_section(usage: OnDemandUsage) -> Section:
    """One row per month in range: spend, change and growth against the month before, status, projection.

    Change and growth compare the amounts as they are (month to date for an
    incomplete month); the projected month-end is beside them, never mixed in.
    """
    rows = []
    previous: int | None = None
    projections: list[int | None] = []
    for month in usage.months:
        totals = usage.month_total(month)
        cost = totals.cost
        fetched = usage.facts(month).cached
        # a month without a cache file is not a fall to zero: no change to or from it
        change = None if previous is None or not fetched else cost - previous
        growth = None if not previous or not fetched else round((cost - previous) * 100 / previous, 1)
        projected = run_rate_projection(usage, month, cost)
        projections.append(projected)
        rows.append([month.key, cost, change, growth, totals.requests, month_status(usage, month), projected])
        previous = cost if fetched else None
    total = usage.total
    table = Table(
        slug="months",
        title="On-demand spend per month",
        columns=[
            Column("month", "Month", "month"),
            Column("spend", "Spend", "money"),
            Column("change", "Change", "money"),
            Column("growth", "Growth", "percent"),
            Column("requests", "Requests", "count"),
            Column("status", "Status", "text"),
            Column("projected", "Projected month-end", "money"),
        ],
        rows=rows,
        total=["Total", total.cost, None, None, total.requests, None, None],
        description=(
            "Change and growth: against the month before (none next to a month not fetched). "
            "An incomplete month (fetched before it "
            "was over) shows its month-to-date spend and a projection at the run rate so far: spend "
            "divided by the time from the month's start to when the data was fetched, times the "
            "whole month."
        ),
    )
    figures = []
    cached = [m for m in usage.months if usage.facts(m).cached]
    if cached:
        average = (2 * sum(usage.month_total(m).cost for m in cached) + len(cached)) // (2 * len(cached))
        figures.append(Figure("Average per month", average, "money", f"over {len(cached)} fetched month(s)"))
    for month, projected in zip(usage.months, projections):
        if projected is not None:
            fetched_at = usage.facts(month).fetched_at
            figures.append(Figure(
                f"Projected {month.label}", projected, "money",
                f"month to date at the run rate up to {fetched_at:%Y-%m-%d %H:%M} UTC",
            ))
    labels = [m.key for m in usage.months]
    series = [Series("Spend", [usage.month_total(m).cost for m in usage.months])]
    if any(p is not None for p in projections):
        series.append(Series("Projected month-end", projections))
    return Section(
        slug=SLUG,
        title="Monthly billing trend",
        order=ORDER,
        intro="Total on-demand spend per month with the change from the month before.",
        figures=figures,
        tables=[table],
        charts=[Chart("months", "On-demand spend per month", "Total on-demand spend in each month.",
                      "line", labels, series)],
    )
