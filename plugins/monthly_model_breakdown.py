"""Monthly model breakdown: per month, per model tokens, requests and cost (Cursor's dashboard layout)."""

from __future__ import annotations

from billing_reports import Column, Section, Table, hookimpl
from billing_reports.usage import OnDemandUsage

from ._common import month_note

SLUG = "monthly-model-breakdown"
ORDER = 50

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
    )

