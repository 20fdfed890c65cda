"""The billing trend: total per period (month by default; day, ISO week or billing cycle with
``--by``), the signed change from the period before, a period in progress projected."""

from __future__ import annotations

import calendar

from billing_reports import Chart, Column, Figure, Section, Series, Table, hookimpl
from billing_reports.months import DAY_MS, Month, today
from billing_reports.periods import Period, date_of_day
from billing_reports.usage import OnDemandUsage

from ._common import period_projection, projection_note
from .budgets import team_budget

SLUG = "monthly-trend"
ORDER = 40

#: Per grain: the section's title, the period's noun and its column heading.
GRAIN_WORDS = {
    "month": ("Monthly billing trend", "month", "Month"),
    "week": ("Weekly billing trend", "week", "Week"),
    "day": ("Daily billing trend", "day", "Day"),
    "cycle": ("Billing-cycle trend", "billing cycle", "Billing cycle"),
}


@hookimpl
def register_sections(register, usage: OnDemandUsage, settings) -> None:
    register(monthly_trend_section(usage, team_budget(settings, usage.grain)))


def period_status(usage: OnDemandUsage, period: Period) -> str:
    """``not begun``, ``not fetched``, ``to date`` (its last day was not over when fetched),
    ``part: 5–10 Jan 2026`` (cut by the range), or ``complete``."""
    if period.first_day > today():
        return "not begun"
    if not usage.period_fetched(period):
        return "not fetched"
    if usage.period_partial(period):
        if period.first_day != period.full_first_day:  # the range began inside it
            return f"part: from {period.covered_label.split(' – ')[0]}, to date"
        return "month to date" if period.grain == "month" else "to date"
    if period.clipped:
        return f"part: {period.covered_label}"
    return "complete"


def chart_label(usage: OnDemandUsage, period: Period, before: Period | None = None) -> str:
    """A period's label on the chart's axis: ``W48 2026 (to date)``, ``17 May (part)``: a billing cycle's
    first day, its year only where it changes from the cycle ``before`` (``17 Jan 2027``), so that
    seven cycles' labels fit side by side (the chart's caption and the page say the years)."""
    text = period.short_label
    if period.grain == "cycle":
        first = date_of_day(period.full_first_day)
        text = f"{first.day} {calendar.month_abbr[first.month]}"
        if before is not None and date_of_day(before.full_first_day).year != first.year:
            text += f" {first.year}"
    if usage.period_partial(period):
        return f"{text} (to date)"
    return f"{text} (part)" if period.clipped else text


def monthly_trend_section(usage: OnDemandUsage, budget: int | None = None) -> Section:
    """One row per period: spend, signed change and growth against the period before, requests,
    status, and for a period in progress its projected end and the change at that projection;
    with the team's ``budget`` per period (the budgets section's), a line of it on the chart.

    Change and growth compare two complete, whole periods only: a period in progress
    or cut by the range would read as a fall. The change of a period in progress is
    given at its projection, in a column that says so.
    """
    title, noun, heading = GRAIN_WORDS[usage.grain]
    periods = usage.periods()
    by_month = usage.grain == "month" and usage.range.whole_months
    rows, spends, projections, forecasts = [], [], [], []
    previous: int | None = None
    for period in periods:
        totals = usage.period_total(period)
        fetched = usage.period_fetched(period)
        cost = totals.cost if fetched else None
        forecast = period_projection(usage, period) if fetched else None
        projected = forecast.projected if forecast is not None else None
        forecasts.append(forecast)
        whole = fetched and not period.clipped and not usage.period_partial(period)
        change = cost - previous if whole and previous is not None else None
        growth = round(change * 100 / previous, 1) if change is not None and previous else None
        change_at_projection = projected - previous if projected is not None and previous is not None else None
        if by_month:
            named = [period.key]
        elif period.grain == "day":
            named = [date_of_day(period.first_day).isoformat()]
        else:  # the label, and the days covered (sortable in a spreadsheet)
            named = [period.label, date_of_day(period.first_day).isoformat(), date_of_day(period.last_day).isoformat()]
        rows.append([*named, cost, change, growth, totals.requests if fetched else None,
                     period_status(usage, period), projected, change_at_projection])
        spends.append(cost)
        projections.append(projected)
        previous = cost if whole else None
    total = usage.total
    if by_month:
        named_columns = [Column("month", heading, "month")]
    elif usage.grain == "day":
        named_columns = [Column("day", heading, "day")]
    else:
        named_columns = [Column("period", heading, "text"), Column("from", "From", "day"), Column("to", "To", "day")]
    blank = [None] * (len(named_columns) - 1)
    table = Table(
        slug="months" if by_month else "periods",
        title=f"On-demand spend per {noun}",
        columns=[
            *named_columns,
            Column("spend", "Spend", "money"),
            Column("change", f"Change from the {noun} before", "change"),
            Column("growth", "Growth", "growth"),
            Column("requests", "Requests", "count"),
            Column("status", "Status", "text"),
            Column("projected", f"Projected {noun} end", "money"),
            Column("change_at_projection", "Change at the projection", "change"),
        ],
        rows=rows,
        total=["Total", *blank, total.cost, None, None, total.requests, None, None, None],
        description=(
            f"Change and growth: a complete {noun} against the complete {noun} before (none beside a "
            f"{noun} not fetched, in progress or cut short by the range). A {noun} in progress (its last "
            f"day was not over when the data was fetched) shows its spend to date and where it is heading by "
            f"the whole {noun}'s end: the spend so far plus, for each day left, the mean spend of a weekday "
            f"or of a weekend day over the 28 days before the fetch (the about page measures how close such "
            f"projections came); \u201cChange at the projection\u201d compares "
            f"that projection with the {noun} before. A period not fetched is blank, never $0; \u201cpart\u201d "
            "marks a period the range covers only in part."
        ),
    )
    figures = []
    whole = [p for p, spend in zip(periods, spends)
             if spend is not None and not p.clipped and not usage.period_partial(p)]
    if whole:
        # a period still in progress would drag the average down: whole, complete periods only
        amounts = [usage.period_total(p).cost for p in whole]
        average = (2 * sum(amounts) + len(amounts)) // (2 * len(amounts))
        figures.append(Figure(f"Average per {noun}", average, "money",
                              f"over {len(amounts)} complete {noun}{'s' if len(amounts) != 1 else ''}"))
    for period, forecast in zip(periods, forecasts):
        if forecast is not None:
            fetched_at = usage.facts(Month.of_ms(period.last_day * DAY_MS)).fetched_at
            figures.append(Figure(f"Projected {period.label}", forecast.projected, "money",
                                  f"{projection_note(forecast)}; fetched {fetched_at:%-d %b %Y, %H:%M} UTC"))
    labels = [p.key if by_month else chart_label(usage, p, periods[i - 1] if i else None)
              for i, p in enumerate(periods)]
    series = [Series("Spend", spends)]
    if any(p is not None for p in projections):
        series.append(Series(f"Projected {noun} end", projections))
    if budget is not None:
        series.append(Series("Team budget", [budget] * len(periods)))
    return Section(
        slug=SLUG,
        title=title,
        order=ORDER,
        roles=("headline-trend", "dashboard-preview"),
        intro=f"Total on-demand spend per {noun} with the change from the {noun} before.",
        figures=figures,
        tables=[table],
        charts=[Chart("months" if by_month else "periods", f"On-demand spend per {noun}",
                      f"Total on-demand spend in each {noun}."
                      + (f" Each cycle is named by its first day ({usage.range.label})." if usage.grain == "cycle" else ""),
                      "line", labels, series)],
    )
