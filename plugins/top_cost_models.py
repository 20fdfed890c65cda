"""Priority 3, top cost models: which models cost the most overall."""

from __future__ import annotations

from billing_reports import Chart, Column, Section, Series, Table, TextView, hookimpl
from billing_reports.usage import OnDemandUsage

from ._common import fetched_costs, month_columns, monthly_spend_chart, share

SLUG = "top-cost-models"
ORDER = 30
#: How many of the top models the monthly line chart follows.
CHART_MODELS = 8


@hookimpl
def register_sections(register, usage: OnDemandUsage) -> None:
    register(top_cost_models_section(usage))


def top_cost_models_section(usage: OnDemandUsage) -> Section:
    """Every model ranked by cumulative spend, with tokens, requests, cost per request, users; and per month."""
    ranked = usage.models()
    total = usage.total
    rows = []
    for position, entry in enumerate(ranked, start=1):
        t = entry.totals
        rows.append([
            position, entry.name, t.cost, share(t.cost, total.cost), t.requests, t.average_cost,
            t.input_tokens, t.output_tokens, t.cache_write_tokens, t.cache_read_tokens, t.total_tokens,
            usage.model_user_count(entry.name),
        ])
    ranking = Table(
        slug="ranking",
        title="Models by on-demand spend",
        columns=[
            Column("rank", "#", "count"),
            Column("model", "Model", "model"),
            Column("spend", "Spend", "money"),
            Column("share", "Share", "percent"),
            Column("requests", "Requests", "count"),
            Column("average_cost", "Avg cost / request", "unit_price"),
            Column("input_tokens", "Input tokens", "count"),
            Column("output_tokens", "Output tokens", "count"),
            Column("cache_write_tokens", "Cache write tokens", "count"),
            Column("cache_read_tokens", "Cache read tokens", "count"),
            Column("total_tokens", "Total tokens", "count"),
            Column("users", "Unique users", "count"),
        ],
        rows=rows,
        total=[
            None, "Total", total.cost, 100.0 if total.cost else None, total.requests, None,
            total.input_tokens, total.output_tokens, total.cache_write_tokens, total.cache_read_tokens,
            total.total_tokens, len(usage.user_names),
        ],
        description=(
            f"Cumulative spend from {usage.period_label}, highest first (ties: A to Z). "
            "Unique users in the total row: distinct users across all models."
        ),
    )

    months = usage.months
    month_rows = []
    for entry in ranked:
        by_month = usage.model_cost_by_month(entry.name)
        month_rows.append([entry.name, *fetched_costs(usage, months, by_month.__getitem__), entry.cost])
    per_month = Table(
        slug="per-month",
        title="Spend per model per month",
        columns=[Column("model", "Model", "model"), *month_columns(months, usage), Column("total", "Total", "money")],
        rows=month_rows,
        total=["Total", *fetched_costs(usage, months, lambda m: usage.month_total(m).cost), total.cost],
        description="Is a model's cost growing? Each model's on-demand spend in each month.",
    )
    charts = []
    if ranked:
        charts.append(Chart(
            slug="ranking",
            title="Spend per model",
            description="Cumulative on-demand spend per model.",
            kind="bar",
            labels=[e.name for e in ranked],
            series=[Series("Spend", [e.cost for e in ranked])],
        ))
    if ranked and len(months) > 1:
        followed = [e.name for e in ranked[:CHART_MODELS]]
        charts.append(monthly_spend_chart("models", months, followed, usage.model_cost_by_month, usage))
    return Section(
        slug=SLUG,
        title="Top cost models",
        order=ORDER,
        roles=("dashboard-preview", "report-text"),
        # the models' token kinds stay in --format json/csv: the terminal gets their total
        text_view=TextView(tables=("ranking",), columns=("rank", "model", "spend", "share", "requests",
                                                     "average_cost", "total_tokens", "users")),
        intro="Which models cost the most overall, how much they are used and by how many people.",
        tables=[ranking, per_month],
        charts=charts,
    )

