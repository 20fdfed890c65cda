"""Daily spend: every UTC day's total as a chart and a table, and the biggest user-days (spikes)."""

from __future__ import annotations

from billing_reports import Chart, Column, Section, Series, Table, hookimpl
from billing_reports.periods import date_of_day
from billing_reports.settings import Settings
from billing_reports.usage import OnDemandUsage

SLUG = "daily"
ORDER = 45


@hookimpl
def register_sections(register, usage: OnDemandUsage, settings: Settings) -> None:
    register(daily_section(usage, settings.top_spenders_count))


def day_status(usage: OnDemandUsage, day: int) -> str:
    if not usage.day_fetched(day):
        return "not fetched"
    return "in progress" if usage.day_partial(day) else ""


def top_model_by_day(usage: OnDemandUsage) -> dict[int, str]:
    """The model with the most spend on each day (ties: name A to Z)."""
    best: dict[int, tuple[int, str]] = {}
    for model in usage.model_names:
        for day, cost in usage.model_cost_by_day(model).items():
            found = best.get(day)
            if found is None or (-cost, model) < (-found[0], found[1]):
                best[day] = (cost, model)
    return {day: model for day, (_, model) in best.items()}


def daily_section(usage: OnDemandUsage, biggest: int) -> Section:
    """Every covered day that had begun when fetched: spend, requests, top model; the ``biggest``
    user-days with each one's top model."""
    days = usage.chart_days(limit=len(usage.days))
    top_models = top_model_by_day(usage)
    rows = []
    for day in days:
        fetched = usage.day_fetched(day)
        totals = usage.day_total(day)
        when = date_of_day(day)
        rows.append([when.isoformat(), totals.cost if fetched else None, totals.requests if fetched else None,
                     top_models.get(day), day_status(usage, day)])
    total = usage.total
    days_table = Table(
        "days", "Spend per day",
        [Column("day", "Day (UTC)", "day"), Column("spend", "Spend", "money"),
         Column("requests", "Requests", "count"), Column("top_model", "Top model by spend", "model"),
         Column("status", "Status")],
        rows,
        total=["Total", total.cost, total.requests, None, None],
        description="Every UTC day of the period. A day not fetched is blank, never $0; a day in progress "
        "was not over when its data was fetched.",
    )
    spikes = usage.biggest_user_days(biggest)
    spikes_table = Table(
        "user-days", "Biggest user-days",
        [Column("rank", "#", "count"), Column("user", "User", "user"), Column("day", "Day (UTC)", "day"),
         Column("spend", "Spend", "money"), Column("requests", "Requests", "count"),
         Column("top_model", "Top model by spend", "model")],
        [[position, d.user, date_of_day(d.day).isoformat(), d.cost, d.totals.requests, d.top_model]
         for position, d in enumerate(spikes, start=1)],
        description="The days one person spent most on, costliest first: where a spike came from.",
    )
    chart = Chart("daily", "On-demand spend per day",
                  "Total on-demand spend of each UTC day; weekends lighter, a day in progress hollow.",
                  "daily", [date_of_day(day).isoformat() for day in days],
                  [Series("Spend", usage.daily_costs(days, {day: usage.day_total(day).cost for day in days}))])
    return Section(
        slug=SLUG,
        title="Daily spend",
        order=ORDER,
        roles=("dashboard-preview",),
        intro="What each UTC day cost, and the biggest days of single users: which day a user spiked.",
        charts=[chart],
        tables=[days_table, spikes_table],
    )
