"""Monthly billing trend: total per month, month-over-month change, an incomplete month projected."""

from __future__ import annotations

from billing_reports import Chart, Column, Figure, Section, Series, Table, hookimpl
from billing_reports.usage import OnDemandUsage

from ._common import elapsed_days, run_rate_projection

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

    Change and growth compare a month with the month before. For an incomplete
    month they compare its projected month-end, so a month still in progress
    does not read as a fall; its spend column stays the month-to-date amount.
    """
    rows = []
    previous: int | None = None
    projections: list[int | None] = []
    for month in usage.months:
        totals = usage.month_total(month)
        cost = totals.cost
        facts = usage.facts(month)
        projected = run_rate_projection(usage, month, cost)
        projections.append(projected)
        compared = projected if projected is not None else cost
        # a month without a cache file is not a fall to zero: no change to or from it, and
        # an incomplete month without a projection has nothing comparable yet
        comparable = facts.cached and (facts.complete or projected is not None)
        change = None if previous is None or not comparable else compared - previous
        growth = None if not previous or not comparable else round((compared - previous) * 100 / previous, 1)
        rows.append([month.key, cost, change, growth, totals.requests, month_status(usage, month), projected])
        previous = cost if facts.cached else None
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
            "An incomplete month (fetched before it was over) shows its month-to-date spend and a "
            "projection at the run rate so far: spend divided by the time from the month's start to "
            "when the data was fetched, times the whole month; its change and growth compare that "
            "projection, so a month in progress does not look like a fall."
        ),
    )
    figures = []
    complete = [m for m in usage.months if usage.facts(m).cached and usage.facts(m).complete]
    if complete:
        # a month still in progress would drag the average down: complete months only
        average = (2 * sum(usage.month_total(m).cost for m in complete) + len(complete)) // (2 * len(complete))
        figures.append(Figure("Average per month", average, "money", f"over {len(complete)} complete month(s)"))
    for month, projected in zip(usage.months, projections):
        if projected is not None:
            fetched_at = usage.facts(month).fetched_at
            figures.append(Figure(
                f"Projected {month.label}", projected, "money",
                f"at the run rate of {elapsed_days(month, fetched_at):.1f} of {month.days} days, "
                f"fetched {fetched_at:%-d %b %Y, %H:%M} UTC",
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
