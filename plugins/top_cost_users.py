"""Priority 1, top cost users: who created the most on-demand cost."""

from __future__ import annotations

from billing_reports import Chart, Column, Section, Series, Table, TextView, hookimpl
from billing_reports.settings import Settings
from billing_reports.usage import OnDemandUsage, UsageTotals
from billing_reports.wording import counted

from ._common import (
    comparable_last_months, cut, fetched_costs, month_columns, monthly_spend_chart, other_label, share,
    top_model_by_spend, trend_of,
)

SLUG = "top-cost-users"
ORDER = 10
#: How many of the top users the monthly line chart follows.
CHART_USERS = 5


@hookimpl
def register_sections(register, usage: OnDemandUsage, settings: Settings) -> None:
    register(top_cost_users_section(usage, settings.top_spenders_count))


def top_cost_users_section(usage: OnDemandUsage, limit: int) -> Section:
    """Users ranked by cumulative spend (top ``limit`` and an "Other" row), and their spend per month."""
    ranked = usage.users()
    shown, rest = cut(ranked, limit)
    total = usage.total
    rest_totals = UsageTotals.sum(r.totals for r in rest)

    ranking_rows = []
    for position, entry in enumerate(shown, start=1):
        trend = trend_of(usage, usage.user_cost_by_month(entry.name), usage.user_cost_by_day(entry.name))
        ranking_rows.append([
            position,
            entry.name,
            entry.cost,
            share(entry.cost, total.cost),
            entry.requests,
            entry.totals.average_cost,
            top_model_by_spend(usage, entry.name),
            usage.top_model_of_user(entry.name),
            trend.signal,
            trend.change,
            trend.growth,
        ])
    if rest:
        ranking_rows.append([
            None, other_label(len(rest)), rest_totals.cost, share(rest_totals.cost, total.cost),
            rest_totals.requests, rest_totals.average_cost, None, None, "", None, None,
        ])
    pair = comparable_last_months(usage)
    compared = ""
    if pair is not None:
        previous, latest = pair
        at = " at its projected month-end" if not usage.facts(latest).complete else ""
        compared = f" ({latest.label}{at} against {previous.label})"
    ranking = Table(
        slug="ranking",
        title="Users by on-demand spend",
        columns=[
            Column("rank", "#", "count"),
            Column("user", "User", "user"),
            Column("spend", "Spend", "money"),
            Column("share", "Share", "percent"),
            Column("requests", "Requests", "count"),
            Column("average_cost", "Avg cost / request", "unit_price"),
            Column("top_model_by_spend", "Top model by spend", "model"),
            Column("top_model", "Top model by requests", "model"),
            Column("trend", "Trend", "text"),
            Column("trend_change", "Change", "change"),
            Column("trend_growth", "Growth", "growth"),
        ],
        rows=ranking_rows,
        total=[None, "Total", total.cost, 100.0 if total.cost else None, total.requests, None, None, None,
               None, None, None],
        description=(
            f"Cumulative spend from {usage.period_label}, highest first (ties: A to Z). "
            "Top model by spend: the model the user spent most on; by requests: the one they sent most "
            f"requests to. Trend, change and growth: the latest month against the one before{compared}; "
            "more than 10 % up or down is rising or falling."
        ),
    )

    months = usage.months
    month_rows = []
    for entry in shown:
        by_month = usage.user_cost_by_month(entry.name)
        month_rows.append([entry.name, *fetched_costs(usage, months, by_month.__getitem__), entry.cost])
    if rest:
        rest_by_month = [0] * len(months)
        for r in rest:
            for i, cost in enumerate(usage.user_cost_by_month(r.name).values()):
                rest_by_month[i] += cost
        rest_of_month = dict(zip(months, rest_by_month))
        month_rows.append([other_label(len(rest)), *fetched_costs(usage, months, rest_of_month.__getitem__),
                           rest_totals.cost])
    per_month = Table(
        slug="per-month",
        title="Spend per user per month",
        columns=[Column("user", "User", "user"), *month_columns(months, usage), Column("total", "Total", "money")],
        rows=month_rows,
        total=["Total", *fetched_costs(usage, months, lambda m: usage.month_total(m).cost), total.cost],
        description="Is a user's spend growing? Each user's on-demand spend in each month.",
    )

    charts = [
        Chart(
            slug="ranking",
            title="Top users by spend",
            description=f"Cumulative on-demand spend of the top {counted(len(shown), 'user')}.",
            kind="bar",
            labels=[entry.name for entry in shown],
            series=[Series("Spend", [entry.cost for entry in shown])],
        ),
    ]
    if len(months) > 1 and shown:
        followed = [e.name for e in shown[:CHART_USERS]]
        charts.append(monthly_spend_chart("users", months, followed, usage.user_cost_by_month, usage))
    return Section(
        slug=SLUG,
        title="Top cost users",
        order=ORDER,
        roles=("dashboard-preview", "report-text"),
        text_view=TextView(tables=("ranking",), columns=("rank", "user", "spend", "share", "requests", "average_cost",
                                                          "top_model_by_spend", "trend", "trend_change")),
        intro=(
            "Which users created the most on-demand cost. Events of users since removed from the "
            "team have no email; they are counted as *(removed user)* so that the rows add up to the total."
        ),
        tables=[ranking, per_month],
        charts=charts,
    )
