"""Monthly model breakdown: per month, per model tokens, requests and cost (Cursor's dashboard layout)."""

from __future__ import annotations

from billing_reports import Chart, Column, Section, Series, Table, hookimpl
from billing_reports.usage import OnDemandUsage
from billing_reports.wording import counted

from ._common import fetched_costs, month_note, other_label

SLUG = "monthly-model-breakdown"
ORDER = 50
#: Models the stacked chart shows a segment each (the costliest over the period); the rest are "Other".
CHART_MODELS = 6

COLUMNS = [
    Column("model", "Model", "model"),
    Column("input_tokens", "Input", "count"),
    Column("output_tokens", "Output", "count"),
    Column("cache_write_tokens", "Cache write", "count"),
    Column("cache_read_tokens", "Cache read", "count"),
    Column("total_tokens", "Total tokens", "count"),
    Column("requests", "Requests", "count"),
    Column("cost", "Cost", "money"),
]


@hookimpl
def register_sections(register, usage: OnDemandUsage) -> None:
    register(monthly_model_breakdown_section(usage))


def monthly_model_breakdown_section(usage: OnDemandUsage) -> Section:
    """One table per month (newest first), models by cost (ties: A to Z), with a total row."""
    tables = []
    for month in reversed(usage.months):
        rows = []
        for entry in usage.month_models(month):
            t = entry.totals
            rows.append([entry.name, t.input_tokens, t.output_tokens, t.cache_write_tokens,
                         t.cache_read_tokens, t.total_tokens, t.requests, t.cost])
        t = usage.month_total(month)
        tables.append(Table(
            slug=month.key,
            title=month.label,
            columns=COLUMNS,
            rows=rows,
            total=["Total", t.input_tokens, t.output_tokens, t.cache_write_tokens, t.cache_read_tokens,
                   t.total_tokens, t.requests, t.cost] if usage.facts(month).cached else None,  # unknown: no $0
            description=month_note(usage, month),
        ))
    return Section(
        slug=SLUG,
        title="Monthly model breakdown",
        order=ORDER,
        roles=("dashboard-preview",),
        intro="For each month, each model's tokens, requests and cost: the layout of Cursor's usage dashboard.",
        tables=tables,
        charts=[spend_by_model_chart(usage)] if usage.models() else [],
    )


def spend_by_model_chart(usage: OnDemandUsage) -> Chart:
    """Stacked columns, oldest month first: the :data:`CHART_MODELS` costliest models of the period
    a segment each, every other model in one "Other" segment, so that a month's column adds up to its
    total exactly; a month not fetched has no column."""
    ranked = usage.models()
    named = [entry.name for entry in ranked[:CHART_MODELS]]
    months = usage.months
    costs = {name: usage.model_cost_by_month(name) for name in named}
    series = [Series(name, fetched_costs(usage, months, costs[name].__getitem__)) for name in named]
    if len(ranked) > len(named):
        def rest_of(month) -> int:
            return usage.month_total(month).cost - sum(cost[month] for cost in costs.values())
        series.append(Series(other_label(len(ranked) - len(named), "models"), fetched_costs(usage, months, rest_of)))
    return Chart(
        slug="spend-by-model",
        title="Spend per model per month",
        description=(f"On-demand spend of each month, stacked by model: the {counted(len(named), 'costliest model')} "
                     "of the period, the others together." if len(ranked) > len(named) else
                     "On-demand spend of each month, stacked by model."),
        kind="stacked",
        labels=[month.key for month in months],
        series=series,
    )

