"""Model economics: what a token of each model costs, how that moves, families, and the costliest choices.

Per model and period (the ``--by`` grain): the effective price per million tokens (charged cost over
all tokens), the cache-read share of the tokens, tokens per request, the max-mode share of the
spend; per token kind, the list prices a least-squares fit over the ledger's cells finds
(:mod:`billing_reports.model_prices`), where it can be trusted; models whose effective price moved
more than a set share between consecutive periods; spend per model family
(:mod:`billing_reports.model_families`); and, for the users of the expensive models (the users x
expensive models section's, ``plugins.expensive-models``), an estimate of what the same requests
would have cost at the cheaper models' average cost per request.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from fractions import Fraction
from collections import Counter
from itertools import repeat
from operator import add, itemgetter, mul, sub
from typing import Annotated

import msgspec

from billing_reports import Chart, Column, Figure, Section, Series, Table, TextView, hookimpl
from billing_reports.model_families import DEFAULT_STRIP_RULES, ModelFamilies, StripRuleError
from billing_reports.model_prices import MILLION, TOKEN_KINDS, PriceEvidence, PriceFit, fit_prices, half_up
from billing_reports.periods import Period
from billing_reports.settings import MAX_COUNT, Settings
from billing_reports.usage import OnDemandUsage, UsageTotals
from billing_reports.wording import counted

from ._common import share
from .users_x_expensive_models import SETTINGS_NAME as EXPENSIVE_MODELS, expensive_models, how_chosen

SLUG = "model-economics"
ORDER = 35
SETTINGS_NAME = "model-economics"
#: Models the price chart follows a line each (the costliest in range).
CHART_MODELS = 8
#: The label of a ledger cell's max mode in the per-kind table.
MODES = {False: "normal", True: "max mode"}


class ModelEconomicsSettings(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    """``plugins.model-economics`` in config.yaml."""

    drift_threshold_percent: Annotated[float, msgspec.Meta(gt=0, le=10_000, description=(
        "flag a model whose effective price per token moved by more than this share between consecutive "
        "periods"))] = 20.0
    drift_min_requests: Annotated[int, msgspec.Meta(ge=1, le=MAX_COUNT, description=(
        "...only when both periods hold at least this many of its requests"))] = 100
    drift_min_tokens: Annotated[int, msgspec.Meta(ge=1, le=10**15, description=(
        "...and at least this many of its tokens"))] = 1_000_000
    fit_min_cells: Annotated[int, msgspec.Meta(ge=5, le=MAX_COUNT, description=(
        "attribute per-kind prices from at least this many ledger cells (day x user) of a model"))] = 8
    fit_tolerance_percent: Annotated[float, msgspec.Meta(gt=0, le=50, description=(
        "...when the fitted prices explain the cells' list cost within this share, each price as sure"))] = 1.0
    family_rules: Annotated[tuple[Annotated[str, msgspec.Meta(min_length=1)], ...], msgspec.Meta(description=(
        "regular expressions (RE2) a model's name loses, in order, until none matches: what is left is "
        "its family"))] = DEFAULT_STRIP_RULES

    def __post_init__(self) -> None:
        try:
            ModelFamilies.compile(self.family_rules)
        except StripRuleError as error:
            raise ValueError(f"family_rules: {error}; fix or remove it (RE2 syntax: no backreferences "
                             "or lookaround)") from None


@hookimpl
def register_settings(register) -> None:
    register(SETTINGS_NAME, ModelEconomicsSettings)


@hookimpl
def register_sections(register, usage: OnDemandUsage, settings: Settings) -> None:
    register(model_economics_section(usage, settings.plugin(SETTINGS_NAME), settings.plugin(EXPENSIVE_MODELS)))


# --- what the ledger holds per model and period ------------------------------------------------


@dataclass
class ModelPeriod:
    """One model in one period: its totals, its max-mode spend, and the cells' evidence per mode."""

    totals: list[int] = field(default_factory=lambda: [0] * len(UsageTotals._fields))
    max_mode_cost: int = 0
    evidence: dict[bool, PriceEvidence] = field(default_factory=dict)

    @property
    def usage(self) -> UsageTotals:
        return UsageTotals(*self.totals)


def model_periods(usage: OnDemandUsage, periods: list[Period]) -> dict[tuple[int, str], ModelPeriod]:
    """``(period index, model) -> ModelPeriod``: the ledger's cells grouped by period, model and max
    mode, each group summed a column at a time (:meth:`OnDemandUsage.cell_columns`)."""
    period_of_day = {day: index for index, period in enumerate(periods)
                     for day in range(period.first_day, period.last_day + 1)}
    found: dict[tuple[int, str], ModelPeriod] = {}
    for cells in usage.cell_columns():
        # each cell's group as one integer, (period x models + model) x 2 + max mode, made column-wise
        models = len(cells.models)
        if not cells.model:
            continue
        indices = set(map(period_of_day.get, set(cells.day), repeat(-1)))
        if len(indices) == 1:  # the month lies in one period (a month, a cycle's part): two columns' work
            base = 2 * models * indices.pop()
            groups = list(map(add, map(mul, cells.model, repeat(2)), cells.max_mode))
        else:
            base = 0
            groups = list(map(add, map(mul, map(add, map(mul, map(period_of_day.get, cells.day, repeat(-1)),
                                                              repeat(models)), cells.model), repeat(2)),
                              cells.max_mode))
        # the cells in group order (one sort), each column gathered in that order once: a group's cells
        # are then one slice of each column (no per-cell Python work but the sort's key)
        order = sorted(range(len(groups)), key=groups.__getitem__)
        if len(order) == 1:
            gathered = [(column[0],) for column in cells.columns]
        else:
            pick = itemgetter(*order)
            gathered = [pick(column) for column in cells.columns]
        start = 0
        for group, size in sorted(Counter(groups).items()):
            end = start + size
            group += base
            index, model, max_mode = group // (2 * models), group // 2 % models, group % 2
            if index < 0:  # (the ledger holds the range's days only)
                start = end
                continue
            columns = [column[start:end] for column in gathered]
            start = end
            cost, _requests, input_tokens, output_tokens, cache_write, cache_read, list_cost, token_fee = columns
            entry = found.get((index, cells.models[model]))
            if entry is None:
                entry = found[(index, cells.models[model])] = ModelPeriod()
            entry.totals = list(map(add, entry.totals, map(sum, columns)))
            mode = bool(max_mode)
            if mode:
                entry.max_mode_cost += sum(cost)
            evidence = PriceEvidence.of_columns((input_tokens, output_tokens, cache_write, cache_read),
                                                list(map(sub, list_cost, token_fee)))
            entry.evidence[mode] = entry.evidence[mode] + evidence if mode in entry.evidence else evidence
    return found


def price_per_million(totals: UsageTotals) -> int | None:
    """Charged cost per million tokens (micro-cents, rounded half up); ``None`` without tokens."""
    tokens = totals.total_tokens
    if tokens <= 0:
        return None
    return (2 * totals.cost * MILLION + tokens) // (2 * tokens)


def tokens_per_request(totals: UsageTotals) -> int | None:
    """Average tokens per request (rounded half up); ``None`` without requests."""
    if totals.requests <= 0:
        return None
    return (2 * totals.total_tokens + totals.requests) // (2 * totals.requests)


# --- the section ------------------------------------------------------------------------------


def model_economics_section(usage: OnDemandUsage, chosen: ModelEconomicsSettings, rule) -> Section:
    periods = usage.periods()
    found = model_periods(usage, periods)
    families = ModelFamilies.compile(chosen.family_rules).families(usage.model_names)
    tolerance = Fraction(str(chosen.fit_tolerance_percent)) / 100
    models = model_table(usage, periods, found, families)
    kinds = token_price_table(periods, found, chosen.fit_min_cells, tolerance)
    drifts = price_drifts(periods, found, chosen)
    family_spend = family_table(usage, families)
    expensive = expensive_models(usage, rule)
    savings = savings_table(usage, expensive)
    total = usage.total
    saving = savings.total[-1] if savings.rows else 0
    figures = [
        Figure("Effective price per million tokens", price_per_million(total), "unit_price",
               "all models, charged cost over all tokens in range"),
        Figure("Price moves flagged", len(drifts.rows), "count",
               f"a model's price per token moving more than {chosen.drift_threshold_percent:g}% between "
               "consecutive periods"),
        Figure("Model families", len(family_spend.rows), "count", f"of {counted(len(usage.model_names), 'model')}"),
        Figure("Estimated saving at cheaper models", saving, "money",
               "an estimate: the expensive models' requests at the user's cheaper models' average cost"),
    ]
    return Section(
        slug=SLUG,
        title="Model economics",
        order=ORDER,
        roles=("dashboard-preview", "report-text"),
        text_view=TextView(tables=("models", "drift", "families", "savings"), columns=(
            "in_period", "model", "spend", "requests", "price_per_mtok", "cache_read_share", "tokens_per_request",
            "max_mode_share", "from_period", "to_period", "price_before", "price_after", "change", "family",
            "family_models", "share", "expensive_requests", "expensive_spend", "cheaper_average", "basis", "at_cheaper",
            "saving")),
        intro=_intro(usage, chosen, rule, expensive),
        figures=figures,
        tables=[models, kinds, drifts, family_spend, savings],
        charts=_charts(usage, periods, found, family_spend),
    )


def _intro(usage: OnDemandUsage, chosen: ModelEconomicsSettings, rule, expensive: list[str]) -> str:
    partial = usage.periods() and usage.period_partial(usage.periods()[-1])
    return (
        "What a token of each model costs and how that moves. **Effective price**: the charged cost (after "
        "discounts, with the token fee) over all tokens, per million. **Per token kind**: the ledger keeps no "
        "cost per kind, so the list prices are estimated by a least-squares fit of each cell's list cost "
        "(before discount, less the token fee) on its input, output, cache-write and cache-read tokens, per "
        "model, period and max mode (max mode may be priced apart, so its cells are fitted on their own); "
        f"a price is shown only from at least {chosen.fit_min_cells} cells, when the fit explains their cost "
        f"within {chosen.fit_tolerance_percent:g}% and each price is that sure, and is non-negative: otherwise "
        "the cells stay empty and the note says why. **Price drift**: a model whose effective price moved by "
        f"more than {chosen.drift_threshold_percent:g}% between consecutive periods, each with at least "
        f"{counted(chosen.drift_min_requests, 'request')} and {chosen.drift_min_tokens:,} tokens "
        f"(`plugins.{SETTINGS_NAME}`). **Families**: a model's name less what the `family_rules` strip "
        "(thinking and effort variants, max and fast modes, dated versions). "
        "**Estimated saving** (an estimate, not a bill): for each user of the expensive models "
        f"({', '.join(expensive) or 'none'}: {how_chosen(rule, code='`')}), their requests on them priced at the "
        "average cost per request of the cheaper models the same user used in range (a user with none: the "
        "team's cheaper models' average), against what they cost. It assumes the same requests would have "
        "been sent, and answered as well, by a cheaper model, at that model's usual request size."
        + (" The last period is to date: it was not over when it was fetched." if partial else "")
    )


def latest_first(periods: list[Period], found: dict[tuple[int, str], ModelPeriod]):
    """``(period, model, ModelPeriod)`` the latest period first, in each the costliest model first
    (ties: A to Z): the order of the tables' rows."""
    return ((periods[index], model, entry) for (index, model), entry in
            sorted(found.items(), key=lambda item: (-item[0][0], -item[1].totals[0], item[0][1])))


def model_table(usage: OnDemandUsage, periods: list[Period], found: dict[tuple[int, str], ModelPeriod],
                families: dict[str, str]) -> Table:
    """A row per model and period, the latest period first, costliest models first (ties: A to Z)."""
    rows = []
    for period, model, entry in latest_first(periods, found):
        t = entry.usage
        rows.append([
            period.key, model, families.get(model, model), t.cost, t.requests, t.total_tokens,
            price_per_million(t), share(t.cache_read_tokens, t.total_tokens), tokens_per_request(t),
            share(entry.max_mode_cost, t.cost),
        ])
    total = usage.total
    max_mode_cost = sum(entry.max_mode_cost for entry in found.values())
    return Table(
        slug="models",
        title="Per model and period",
        columns=[
            Column("in_period", "Period", "text"),
            Column("model", "Model", "model"),
            Column("family", "Family", "text"),
            Column("spend", "Spend", "money"),
            Column("requests", "Requests", "count"),
            Column("tokens", "Tokens", "count"),
            Column("price_per_mtok", "Price / Mtok", "unit_price"),
            Column("cache_read_share", "Cache-read share", "percent"),
            Column("tokens_per_request", "Tokens / request", "count"),
            Column("max_mode_share", "Max-mode share of spend", "percent"),
        ],
        rows=rows,
        total=["Total", None, None, total.cost, total.requests, total.total_tokens, price_per_million(total),
               share(total.cache_read_tokens, total.total_tokens), tokens_per_request(total),
               share(max_mode_cost, total.cost)],
        description=(
            "Each model in each period, the latest first: its charged cost per million tokens (all kinds), "
            "the share of its tokens read from the cache, its average tokens per request and the share of its "
            "spend in max mode."
        ),
    )


def token_price_table(periods: list[Period], found: dict[tuple[int, str], ModelPeriod], min_cells: int,
                      tolerance: Fraction) -> Table:
    """The fitted list price of each token kind, per model, period and max mode (where trusted)."""
    rows = []
    for period, model, entry in latest_first(periods, found):
        for max_mode in sorted(entry.evidence):
            fit = fit_prices(entry.evidence[max_mode], min_cells=min_cells, tolerance=tolerance)
            rows.append([period.key, model, MODES[max_mode], fit.cells, *fit.per_million(),
                         None if fit.unexplained is None else round(fit.unexplained * 100, 4), fit_note(fit)])
    return Table(
        slug="token-prices",
        title="List price per token kind (estimated)",
        columns=[
            Column("in_period", "Period", "text"),
            Column("model", "Model", "model"),
            Column("pricing_mode", "Mode", "text"),
            Column("fit_cells", "Cells", "count"),
            *(Column(f"{kind.replace(' ', '_')}_per_mtok", f"{kind.capitalize()} / Mtok", "unit_price")
              for kind in TOKEN_KINDS),
            Column("unexplained", "Unexplained", "percent"),
            Column("fit", "Fit", "text"),
        ],
        rows=rows,
        description=(
            "List prices (before discounts, without the token fee) per million tokens of each kind, found by a "
            "least-squares fit over the model's ledger cells (each a day of one user) in the period, max mode "
            "apart. Unexplained: the residuals' root-sum-square as a share of the cells' list costs'. An empty "
            "price: not attributed, the Fit column says why."
        ),
    )


def fit_note(fit: PriceFit) -> str:
    """The Fit column: ``fitted`` (and the kinds no cell used), or ``— not attributed: why``."""
    absent = f"; no {' or '.join(fit.absent)} tokens" if fit.absent else ""
    return ("fitted" + absent) if fit.attributed else f"— not attributed: {fit.reason}{absent}"


def price_drifts(periods: list[Period], found: dict[tuple[int, str], ModelPeriod],
                 chosen: ModelEconomicsSettings) -> Table:
    """Models whose effective price per token moved by more than the threshold between consecutive
    periods, both with enough requests and tokens; the exact prices are compared."""
    threshold = Fraction(str(chosen.drift_threshold_percent)) / 100

    def enough(entry: ModelPeriod | None) -> bool:
        return (entry is not None and entry.usage.requests >= chosen.drift_min_requests
                and entry.usage.total_tokens >= chosen.drift_min_tokens and entry.usage.cost > 0)

    rows = []
    models = sorted({model for _, model in found})
    for index in range(1, len(periods)):
        for model in models:
            before, after = found.get((index - 1, model)), found.get((index, model))
            if not (enough(before) and enough(after)):
                continue
            old, new = before.usage, after.usage  # type: ignore[union-attr]
            old_price = Fraction(old.cost, old.total_tokens)
            change = Fraction(new.cost, new.total_tokens) / old_price - 1
            if abs(change) <= threshold:
                continue
            rows.append([model, periods[index - 1].key, periods[index].key, price_per_million(old),
                         price_per_million(new), round(float(change) * 100, 1),
                         share(old.cache_read_tokens, old.total_tokens), share(new.cache_read_tokens, new.total_tokens),
                         old.requests, new.requests])
    rows.sort(key=lambda row: (row[2], -abs(row[5]), row[0]))
    return Table(
        slug="drift",
        title="Price drift",
        columns=[
            Column("model", "Model", "model"),
            Column("from_period", "From", "text"),
            Column("to_period", "To", "text"),
            Column("price_before", "Price / Mtok before", "unit_price"),
            Column("price_after", "Price / Mtok after", "unit_price"),
            Column("change", "Change", "growth"),
            Column("cache_read_share_before", "Cache-read share before", "percent"),
            Column("cache_read_share_after", "Cache-read share after", "percent"),
            Column("requests_before", "Requests before", "count"),
            Column("requests_after", "Requests after", "count"),
        ],
        rows=rows,
        description=(
            f"Models whose effective price per token moved by more than {chosen.drift_threshold_percent:g}% from "
            f"one period to the next, both periods with at least {counted(chosen.drift_min_requests, 'request')} "
            f"and {chosen.drift_min_tokens:,} tokens of it (smaller samples are not compared). A move in the "
            "cache-read share, max mode or discounts moves the effective price as much as a list price does."
        ),
    )


def family_table(usage: OnDemandUsage, families: dict[str, str]) -> Table:
    """Spend per family over the range, costliest first (ties: A to Z), with its models."""
    members: dict[str, list[str]] = {}
    sums: dict[str, UsageTotals] = {}
    for ranked in usage.models():
        family = families.get(ranked.name, ranked.name)
        members.setdefault(family, []).append(ranked.name)
        sums[family] = sums.get(family, UsageTotals()) + ranked.totals
    total = usage.total
    order = sorted(sums, key=lambda family: (-sums[family].cost, family))
    return Table(
        slug="families",
        title="Spend per model family",
        columns=[
            Column("family", "Family", "text"),
            Column("family_models", "Models", "text"),
            Column("spend", "Spend", "money"),
            Column("share", "Share", "percent"),
            Column("requests", "Requests", "count"),
            Column("price_per_mtok", "Price / Mtok", "unit_price"),
        ],
        rows=[[family, ", ".join(members[family]), sums[family].cost, share(sums[family].cost, total.cost),
               sums[family].requests, price_per_million(sums[family])] for family in order],
        total=["Total", "", total.cost, 100.0 if total.cost else None, total.requests, price_per_million(total)],
        description="Each family's on-demand spend in range and its models (costliest first).",
    )


def savings_table(usage: OnDemandUsage, expensive: list[str]) -> Table:
    """Per user of the expensive models: their requests there at the cheaper models' average cost."""
    chosen = set(expensive)
    team_cheaper = UsageTotals.sum(r.totals for r in usage.models() if r.name not in chosen)
    rows = []
    for user in usage.user_names:
        used = usage.user_models(user)
        on_expensive = UsageTotals.sum(r.totals for r in used if r.name in chosen)
        if on_expensive.requests <= 0:
            continue
        cheaper = UsageTotals.sum(r.totals for r in used if r.name not in chosen)
        if cheaper.requests > 0:
            rate, basis = Fraction(cheaper.cost, cheaper.requests), "own cheaper models"
        elif team_cheaper.requests > 0:
            rate = Fraction(team_cheaper.cost, team_cheaper.requests)
            basis = "team average (no cheaper model of their own)"
        else:
            rate, basis = None, "no cheaper model in use: no estimate"
        at_cheaper = None if rate is None else half_up(rate * on_expensive.requests)
        rows.append([user, on_expensive.requests, on_expensive.cost, None if rate is None else half_up(rate),
                     basis, at_cheaper, None if at_cheaper is None else on_expensive.cost - at_cheaper])
    rows.sort(key=lambda row: (-(row[6] or 0), row[0]))
    return Table(
        slug="savings",
        title="What the costliest choices cost (estimate)",
        columns=[
            Column("user", "User", "user"),
            Column("expensive_requests", "Requests on expensive models", "count"),
            Column("expensive_spend", "Spend on them", "money"),
            Column("cheaper_average", "Cheaper models' avg / request", "unit_price"),
            Column("basis", "Average of", "text"),
            Column("at_cheaper", "Same requests at that average", "money"),
            Column("saving", "Estimated saving", "money"),
        ],
        rows=rows,
        total=["Total", sum(row[1] for row in rows), sum(row[2] for row in rows), None, "",
               sum(row[5] or 0 for row in rows), sum(row[6] or 0 for row in rows)],
        description=(
            "An estimate, not a bill: each user's requests on the expensive models priced at the average cost "
            "per request of the cheaper models the same user used in range (without any: the team's), and "
            "the difference. It assumes a cheaper model would have served the same requests at its usual size."
        ),
    )


def _charts(usage: OnDemandUsage, periods: list[Period], found: dict[tuple[int, str], ModelPeriod],
            families: Table) -> list[Chart]:
    charts = []
    if len(periods) > 1:
        followed = [r.name for r in usage.models()[:CHART_MODELS]]
        charts.append(Chart(
            slug="price-per-mtok",
            title="Effective price per million tokens",
            description="Each of the costliest models' charged cost per million tokens, period by period.",
            kind="line",
            labels=[period.key for period in periods],
            series=[Series(model, [price_per_million(found[(index, model)].usage) if (index, model) in found
                                   else None for index in range(len(periods))]) for model in followed],
            unit="unit_price",
        ))
    if families.rows:
        charts.append(Chart(
            slug="families",
            title="Spend per model family",
            description="On-demand spend per model family in range.",
            kind="bar",
            labels=[row[0] for row in families.rows],
            series=[Series("Spend", [row[2] for row in families.rows])],
        ))
    return charts
