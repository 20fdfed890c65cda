"""Monthly user breakdown: per month, each user's cost, requests and top models (by spend, by requests)."""

from __future__ import annotations

from billing_reports import Column, Section, Table, hookimpl
from billing_reports.settings import Settings
from billing_reports.usage import OnDemandUsage, UsageTotals

from ._common import cut, month_note, other_label, share, top_model_by_spend

SLUG = "monthly-user-breakdown"
ORDER = 60


@hookimpl
def register_sections(register, usage: OnDemandUsage, settings: Settings) -> None:
    register(monthly_user_breakdown_section(usage, settings.top_spenders_count))


def monthly_user_breakdown_section(usage: OnDemandUsage, limit: int) -> Section:
    """One table per month (newest first): the top ``limit`` spenders, an "Other" row, the total."""
    tables = []
    for month in reversed(usage.months):
        month_total = usage.month_total(month)
        shown, rest = cut(usage.month_users(month), limit)
        rows = [
            [position, r.name, r.cost, share(r.cost, month_total.cost), r.requests,
             top_model_by_spend(usage, r.name, month), usage.top_model_of_user(r.name, month)]
            for position, r in enumerate(shown, start=1)
        ]
        if rest:
            rest_totals = UsageTotals.sum(r.totals for r in rest)
            rows.append([None, other_label(len(rest)), rest_totals.cost,
                         share(rest_totals.cost, month_total.cost), rest_totals.requests, None, None])
        tables.append(Table(
            slug=month.key,
            title=month.label,
            columns=[
                Column("rank", "#", "count"),
                Column("user", "User", "user"),
                Column("cost", "Cost", "money"),
                Column("share", "Share", "percent"),
                Column("requests", "Requests", "count"),
                Column("top_model_by_spend", "Top model by spend", "model"),
                Column("top_model", "Top model by requests", "model"),
            ],
            rows=rows,
            total=[None, "Total", month_total.cost, 100.0 if month_total.cost else None,
                   month_total.requests, None, None] if usage.facts(month).cached else None,  # unknown: no $0
            description=month_note(usage, month),
        ))
    return Section(
        slug=SLUG,
        title="Monthly user breakdown",
        order=ORDER,
        roles=("dashboard-preview",),
        intro=(
            "For each month, the top spenders with the model each spent most on and the one each sent "
            "most requests to that month; "
            "everyone else is summed in the *Other* row so that the rows add up to the month's total."
        ),
        tables=tables,
    )
