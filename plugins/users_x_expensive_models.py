"""Priority 2, users x expensive models: who uses the costliest models, and how consistently."""

from __future__ import annotations

from dataclasses import replace
from fractions import Fraction
from typing import Annotated

import msgspec

from billing_reports import Chart, Column, Figure, Section, Series, Table, hookimpl
from billing_reports.settings import MAX_COUNT, Settings
from billing_reports.usage import OnDemandUsage, Ranked, UsageTotals
from billing_reports.wording import counted

from ._common import cut, other_label, share, slug_of

SLUG = "users-x-expensive-models"
ORDER = 20
#: Models the matrix of spend shows a column each (the costliest); the rest share an "Other models" column.
MATRIX_MODELS = 6
#: This plugin's block of config.yaml: ``plugins.expensive-models``.
SETTINGS_NAME = "expensive-models"


class ExpensiveModelRule(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    """Which models count as "expensive" for the users x expensive models section."""

    count: Annotated[int, msgspec.Meta(ge=1, le=MAX_COUNT, description=(
        "the costliest models by average cost per request..."))] = 3
    min_requests: Annotated[int, msgspec.Meta(ge=1, le=MAX_COUNT, description=(
        "...among models with at least this many requests in range"))] = 1
    models: Annotated[tuple[Annotated[str, msgspec.Meta(min_length=1)], ...], msgspec.Meta(description=(
        "or name them outright (overrides the rule when not empty)"))] = ()


@hookimpl
def register_settings(register) -> None:
    register(SETTINGS_NAME, ExpensiveModelRule)


@hookimpl
def register_sections(register, usage: OnDemandUsage, settings: Settings) -> None:
    register(users_x_expensive_models_section(usage, settings.plugin(SETTINGS_NAME), settings.top_spenders_count))


def expensive_models(usage: OnDemandUsage, rule: ExpensiveModelRule) -> list[str]:
    """The expensive models: named in the config, else the costliest ``rule.count`` by cost per request.

    Only models with at least ``rule.min_requests`` requests in range compete;
    ties in cost per request go to the name (A to Z). Named models are kept in
    the config's order, also when they have no usage.
    """
    if rule.models:
        return list(rule.models)
    candidates = [
        (model, totals) for model, totals in usage.by_model().items()
        if totals.requests >= rule.min_requests and totals.requests > 0
    ]
    # exact cost per request (a Fraction), so near-equal averages never swap by float rounding
    candidates.sort(key=lambda item: (-Fraction(item[1].cost, item[1].requests), item[0]))
    return [model for model, _ in candidates[: rule.count]]


def users_x_expensive_models_section(usage: OnDemandUsage, rule: ExpensiveModelRule, limit: int) -> Section:
    models = expensive_models(usage, rule)
    chosen = set(models)
    tables = []
    used: set[str] = set()
    for model in models:
        base = slug = f"model-{slug_of(model)}"
        copy = 1
        while slug in used:  # two names that slug alike ("GPT 5", "gpt-5") still get two tables
            copy += 1
            slug = f"{base}-{copy}"
        used.add(slug)
        tables.append(_model_users_table(usage, model, limit, slug))
    cross = _cross_reference_table(usage, chosen, limit)
    tables += [cross, spend_matrix(usage, limit)]

    expensive_cost = sum(usage.model_total(model).cost for model in models)
    total = usage.total.cost
    figures = [
        Figure("Expensive models", ", ".join(models) if models else "none", "text", how_chosen(rule)),
        Figure("Spend on expensive models", expensive_cost, "money",
               f"{share(expensive_cost, total) or 0:.1f}% of all on-demand spend"),
    ]
    shown_rows = [row for row in cross.rows if row[0] is not None]
    charts = [
        Chart(
            slug="expensive-share",
            title="Share of each user's spend on expensive models",
            description="Percentage of each user's on-demand spend that went to the expensive models.",
            kind="bar",
            labels=[row[1] for row in shown_rows],
            series=[Series("Share of spend", [row[5] for row in shown_rows])],
            unit="percent",
        )
    ] if shown_rows and models else []
    return Section(
        slug=SLUG,
        title="Users × expensive models",
        order=ORDER,
        roles=("dashboard-preview",),
        intro=(
            f"The expensive models are {how_chosen(rule, code='`')}. For each, its users ranked by spend; "
            "then, for every user, how much of their spend and requests went to the expensive models "
            "rather than cheaper alternatives, and in how many of their active months they used them; "
            "last, every user's spend on every model."
        ),
        figures=figures,
        tables=tables,
        charts=charts,
    )


def how_chosen(rule: ExpensiveModelRule, code: str = "") -> str:
    """How the expensive models were chosen, as plain text (a card's note) or, with ``code="`"``,
    Markdown (the section's intro) that sets the configuration keys as code."""
    if rule.models:
        return f"named in {code}plugins.{SETTINGS_NAME}.models{code} (config.yaml)"
    costliest = "the costliest model" if rule.count == 1 else f"the {rule.count} costliest"
    return (f"{costliest} by average cost per request among models with at least "
            f"{counted(rule.min_requests, 'request')} ({code}plugins.{SETTINGS_NAME}{code} in config.yaml)")


def spend_matrix(usage: OnDemandUsage, limit: int) -> Table:
    """Every user's spend on every model: users as rows, models as columns, costliest first (ties:
    A to Z) both ways.

    The page shows the top ``limit`` users (the rest in an "Other" row) and the
    :data:`MATRIX_MODELS` costliest models (the rest in an "Other models" column); its
    downloads hold the whole matrix. Each row's cells add up to the user's total, each
    column's to the model's, exactly (micro-cents).
    """
    users, models = usage.users(), usage.models()
    spend = {user.name: {model: totals.cost for model, totals in usage.user_model_totals(user.name).items()}
             for user in users}

    def matrix(user_rows: list[tuple[str, dict[str, int], int]], named: list[str], label: str) -> Table:
        """A row per ``(name, spend per model, total)``: ``named`` models, the others summed."""
        others = len(named) < len(models)
        columns = [Column("user", "User", "user"), *(Column(f"model:{name}", name, "money") for name in named)]
        columns += [Column("other_models", other_label(len(models) - len(named), "models"), "money")] if others else []
        columns.append(Column("total", "Total", "money"))

        def cells(by_model: dict[str, int], total: int) -> list[int]:
            shown = [by_model.get(name, 0) for name in named]
            return [*shown, total - sum(shown)] if others else shown

        return Table(
            slug="matrix",
            title="Spend per user and model",
            columns=columns,
            rows=[[name, *cells(by_model, total), total] for name, by_model, total in user_rows],
            total=["Total", *cells({m.name: m.cost for m in models}, usage.total.cost), usage.total.cost],
            description=label,
        )

    whole = [(user.name, spend[user.name], user.cost) for user in users]
    named = [model.name for model in models[:MATRIX_MODELS]]
    shown_users, rest = cut(users, limit)
    rows = whole[: len(shown_users)]
    if rest:
        rest_spend: dict[str, int] = {}
        for user in rest:
            for model, cost in spend[user.name].items():
                rest_spend[model] = rest_spend.get(model, 0) + cost
        rows.append((other_label(len(rest)), rest_spend, sum(user.cost for user in rest)))
    full = matrix(whole, [model.name for model in models], "Every user's on-demand spend on every model.")
    if len(named) == len(models) and not rest:
        return full
    shown = matrix(rows, named, (
        "Each user's on-demand spend on each model, users and models costliest first (ties: A to Z). "
        f"Shown: the top {counted(len(shown_users), 'user')} and {counted(len(named), 'model')}, the rest "
        "summed; the CSV and JSON hold every user and every model."
    ))
    return replace(shown, full=full)


def _model_users_table(usage: OnDemandUsage, model: str, limit: int, slug: str) -> Table:
    ranked = usage.model_users(model)
    shown, rest = cut(ranked, limit)
    model_total = usage.model_total(model)
    rows = [
        [position, r.name, r.cost, share(r.cost, model_total.cost), r.requests, r.totals.average_cost]
        for position, r in enumerate(shown, start=1)
    ]
    if rest:
        rest_totals = UsageTotals.sum(r.totals for r in rest)
        rows.append([None, other_label(len(rest)), rest_totals.cost, share(rest_totals.cost, model_total.cost),
                     rest_totals.requests, rest_totals.average_cost])
    return Table(
        slug=slug,
        title=model,
        columns=[
            Column("rank", "#", "count"),
            Column("user", "User", "user"),
            Column("spend", "Spend", "money"),
            Column("share", "Share of model", "percent"),
            Column("requests", "Requests", "count"),
            Column("average_cost", "Avg cost / request", "unit_price"),
        ],
        rows=rows,
        total=[None, "Total", model_total.cost, 100.0 if model_total.cost else None, model_total.requests, None],
        description=f"Users of {model}, highest spend first (ties: A to Z).",
    )


def _cross_reference_table(usage: OnDemandUsage, chosen: set[str], limit: int) -> Table:
    entries = []
    for user in usage.user_names:
        on_expensive = UsageTotals.sum(totals for model, totals in usage.user_model_totals(user).items()
                                       if model in chosen)
        entries.append(Ranked(user, on_expensive))
    # highest spend on expensive models first, then the user's total, then name
    entries.sort(key=lambda r: (-r.cost, -usage.user_total(r.name).cost, r.name))
    shown, rest = cut(entries, limit)
    rows = []
    for position, entry in enumerate(shown, start=1):
        user_total = usage.user_total(entry.name)
        active = [m for m, t in usage.user_by_month(entry.name).items() if t.requests]
        expensive_months = [
            m for m in active if any(model in chosen for model in usage.user_model_totals(entry.name, m))
        ]
        rows.append([
            position, entry.name, user_total.cost, entry.cost, user_total.cost - entry.cost,
            share(entry.cost, user_total.cost), entry.requests, share(entry.requests, user_total.requests),
            f"{len(expensive_months)} of {len(active)}",
        ])
    totals_all = usage.total
    expensive_all = UsageTotals.sum(e.totals for e in entries)
    if rest:
        rest_expensive = UsageTotals.sum(e.totals for e in rest)
        rest_total = UsageTotals.sum(usage.user_total(e.name) for e in rest)
        rows.append([
            None, other_label(len(rest)), rest_total.cost, rest_expensive.cost,
            rest_total.cost - rest_expensive.cost, share(rest_expensive.cost, rest_total.cost),
            rest_expensive.requests, share(rest_expensive.requests, rest_total.requests), "",
        ])
    return Table(
        slug="cross-reference",
        title="Expensive models versus cheaper alternatives, per user",
        columns=[
            Column("rank", "#", "count"),
            Column("user", "User", "user"),
            Column("spend", "Total spend", "money"),
            Column("expensive_spend", "On expensive models", "money"),
            Column("cheaper_spend", "On cheaper models", "money"),
            Column("expensive_spend_share", "Share of spend", "percent"),
            Column("expensive_requests", "Expensive requests", "count"),
            Column("expensive_request_share", "Share of requests", "percent"),
            Column("expensive_months", "Months on expensive models", "text"),
        ],
        rows=rows,
        total=[
            None, "Total", totals_all.cost, expensive_all.cost, totals_all.cost - expensive_all.cost,
            share(expensive_all.cost, totals_all.cost), expensive_all.requests,
            share(expensive_all.requests, totals_all.requests), None,
        ],
        description=(
            "Every user, highest spend on the expensive models first (then total spend, then A to Z). "
            "Months on expensive models: of the months the user was active, how many included an "
            "expensive model (consistently = every month)."
        ),
    )
