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
from itertools import repeat
from operator import add, mul
from typing import Annotated

import msgspec

from billing_reports import Chart, Column, Figure, Section, Series, Table, TextView, hookimpl
from billing_reports.ledger import cells_evidence, grouped_columns
from billing_reports.model_families import DEFAULT_STRIP_RULES, ModelFamilies, StripRuleError
from billing_reports.model_prices import MILLION, TOKEN_KINDS, PriceEvidence, PriceFit, fit_prices
from billing_reports.money import half_up
from billing_reports.periods import Period
from billing_reports.settings import MAX_COUNT, Settings
from billing_reports.usage import OnDemandUsage, UsageTotals
from billing_reports.wording import counted

from ._common import other_label, share
from .users_x_expensive_models import SETTINGS_NAME as EXPENSIVE_MODELS, expensive_models, how_chosen

SLUG = "model-economics"
ORDER = 35
SETTINGS_NAME = "model-economics"
#: Models the price chart follows a line each (the costliest in range).
CHART_MODELS = 8
#: The label of a ledger cell's max mode in the per-kind table.
MODES = {False: "normal", True: "max mode"}
#: The grains the section reads at (a day or a week is too short a sample: those read month by month).
GRAINS = {"month": "month", "cycle": "billing cycle"}


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
    register(model_economics_section(usage, settings.plugin(SETTINGS_NAME), settings.plugin(EXPENSIVE_MODELS),
                                     settings.top_spenders_count))


def economics_periods(usage: OnDemandUsage) -> list[Period]:
    """The periods the section compares: the ``--by`` grain's, months for a finer one (:data:`GRAINS`)."""
    return usage.periods() if usage.grain in GRAINS else usage.range.periods_of("month")


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
    mode. A month that lies in one period (a month, a cycle's part) adds the sums per model and max
    mode its decoding process derived (``MonthSums.model_modes``, kept in its summary); one that
    periods cut is grouped a column at a time (:func:`~billing_reports.ledger.grouped_columns`)."""
    period_of_day = {day: index for index, period in enumerate(periods)
                     for day in range(period.first_day, period.last_day + 1)}
    found: dict[tuple[int, str], ModelPeriod] = {}

    def add_to(index: int, model: str, mode: bool, totals: UsageTotals, evidence: PriceEvidence) -> None:
        entry = found.get((index, model))
        if entry is None:
            entry = found[(index, model)] = ModelPeriod()
        entry.totals = list(map(add, entry.totals, totals))
        if mode:
            entry.max_mode_cost += totals.cost
        entry.evidence[mode] = entry.evidence[mode] + evidence if mode in entry.evidence else evidence

    for cells in usage.cell_columns():
        if not cells.model:
            continue
        indices = set(map(period_of_day.get, set(cells.day), repeat(-1)))
        if len(indices) == 1:
            index = indices.pop()
            if index < 0:  # (the ledger holds the range's days only)
                continue
            for (model, mode), sums in cells.sums().model_modes.items():  # (in the order of the model codes)
                add_to(index, model, mode, sums.totals, sums.evidence)
            continue
        # each cell's group as one integer, (period x models + model) x 2 + max mode, made column-wise
        models = len(cells.models)
        groups = list(map(add, map(mul, map(add, map(mul, map(period_of_day.get, cells.day, repeat(-1)),
                                                          repeat(models)), cells.model), repeat(2)),
                          cells.max_mode))
        for group, columns in grouped_columns(groups, cells.columns):
            index, model, max_mode = group // (2 * models), group // 2 % models, group % 2
            if index >= 0:
                add_to(index, cells.models[model], bool(max_mode), UsageTotals._make(map(sum, columns)),
                       cells_evidence(columns))
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


def model_economics_section(usage: OnDemandUsage, chosen: ModelEconomicsSettings, rule,
                            limit: int = Settings.top_spenders_count) -> Section:
    periods = economics_periods(usage)
    found = model_periods(usage, periods)
    families = ModelFamilies.compile(chosen.family_rules).families(usage.model_names)
    tolerance = Fraction(str(chosen.fit_tolerance_percent)) / 100
    fits = {(index, model, mode): fit_prices(evidence, min_cells=chosen.fit_min_cells, tolerance=tolerance)
            for (index, model), entry in found.items() for mode, evidence in entry.evidence.items()}
    models = model_table(usage, periods, found, families, limit)
    kinds = token_price_table(periods, found, fits, limit)
    drifts = price_drifts(periods, found, fits, chosen)
    family_spend = family_table(usage, families)
    expensive = expensive_models(usage, rule)
    savings = savings_table(usage, expensive, limit)
    total = usage.total
    saving = savings.total[-1] if savings.rows else 0
    threshold = f"{chosen.drift_threshold_percent:g}%"
    list_moves = sum(1 for row in (drifts.full or drifts).rows if row[7] == LIST_PRICES)
    span = _span(usage, periods)
    figures = [
        Figure("Effective price per million tokens", price_per_million(total), "unit_price",
               "all models, charged cost over all tokens in range"),
        Figure("List price moves flagged", list_moves, "count",
               f"a model's fitted list prices, at the earlier period's token mix, moving more than {threshold} "
               f"between consecutive periods; {counted(len(drifts.rows), 'effective-price move')} in all (the "
               "rest: mix, discounts, or prices not attributed)"),
        Figure("Model families", len(family_spend.rows), "count", f"of {counted(len(usage.model_names), 'model')}"),
        Figure("Difference at cheaper models (estimate)", saving, "money",
               f"{span}: the expensive models' requests against the same requests at the user's cheaper models' "
               "average cost; an estimate, not a bill"),
    ]
    return Section(
        slug=SLUG,
        title="Model economics",
        order=ORDER,
        roles=("dashboard-preview", "report-text"),
        text_view=TextView(tables=("models", "drift", "families", "savings"), columns=(
            "in_period", "model", "spend", "requests", "price_per_mtok", "cache_read_share", "tokens_per_request",
            "max_mode_share", "from_period", "to_period", "price_before", "price_after", "change", "family",
            "family_models", "share", "user", "expensive_requests", "expensive_spend", "cheaper_average", "basis", "at_cheaper",
            "saving")),
        intro=_intro(usage, periods, chosen, rule, expensive),
        figures=figures,
        tables=[models, kinds, drifts, family_spend, savings],
        charts=_charts(usage, periods, found, family_spend),
    )


def _span(usage: OnDemandUsage, periods: list[Period]) -> str:
    """What the range's sums cover, in the words of the page header (``usage.period_label``):
    ``August 2025 – January 2026``, and ``(January 2026 to date)`` after it when the last period is not over."""
    if not periods:
        return "no period"
    to_date = f" ({periods[-1].label} to date)" if usage.period_partial(periods[-1]) else ""
    return usage.period_label + to_date


def _intro(usage: OnDemandUsage, periods: list[Period], chosen: ModelEconomicsSettings, rule,
           expensive: list[str]) -> str:
    partial = bool(periods) and usage.period_partial(periods[-1])
    finer = usage.grain not in GRAINS
    paragraphs = [
        "What a token of each model costs and how that moves, "
        + ("month by month (a " + usage.grain + " is too short a sample: read by month)" if finer
           else f"{GRAINS[usage.grain]} by {GRAINS[usage.grain]}") + ". "
        "**Effective price**: the charged cost (after discounts, with the token fee) over all tokens, per million.",
        "**Per token kind**: the ledger keeps no cost per kind, so the list prices are estimated by a "
        "least-squares fit, per model, period and max mode; the table says where that cannot be trusted.",
        f"**Price drift**: a model whose effective price moved by more than {chosen.drift_threshold_percent:g}% "
        "between consecutive periods, told apart from a move of its fitted list prices (compared at the earlier "
        "period's token mix): a higher cache-read share lowers the effective price with no price change.",
        "**Families**: a model's name less what the `family_rules` strip (thinking and effort variants, max "
        "and fast modes, dated versions).",
        "**Difference at cheaper models** (an estimate, not a bill): for each user of the expensive models ("
        f"{', '.join(expensive) or 'none'}: {how_chosen(rule, code='`')}), "
        "what their requests on them cost against the same number of requests at the average cost per request "
        "of the cheaper models they also used.",
        "**How these are computed**: each table's note below gives its method; settings under "
        f"`plugins.{SETTINGS_NAME}`." + (" The last period is to date: it was not over when it was fetched."
                                          if partial else ""),
    ]
    return "\n\n".join(paragraphs)


def latest_first(periods: list[Period], found: dict[tuple[int, str], ModelPeriod]):
    """``(index, model, ModelPeriod)`` the latest period first, in each the costliest model first
    (ties: A to Z): the order of the tables' rows."""
    return ((index, model, entry) for (index, model), entry in
            sorted(found.items(), key=lambda item: (-item[0][0], -item[1].totals[0], item[0][1])))


def _model_row(label: str, model: str | None, family: str | None, t: UsageTotals, max_mode_cost: int) -> list:
    return [label, model, family, t.cost, t.requests, t.total_tokens, price_per_million(t),
            share(t.cache_read_tokens, t.total_tokens), tokens_per_request(t), share(max_mode_cost, t.cost)]


def model_table(usage: OnDemandUsage, periods: list[Period], found: dict[tuple[int, str], ModelPeriod],
                families: dict[str, str], limit: int) -> Table:
    """A row per model and period, the latest period first, costliest models first (ties: A to Z); on
    the page, when longer than ``limit``, the latest period's top ``limit`` models and the rest summed."""
    columns = [
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
    ]
    method = ("Its charged cost per million tokens (all kinds), the share of its tokens read from the cache, its "
              "average tokens per request and the share of its spend in max mode.")
    rows = [_model_row(periods[index].label, model, families.get(model, model), entry.usage, entry.max_mode_cost)
            for index, model, entry in latest_first(periods, found)]
    total = usage.total
    max_mode_cost = sum(entry.max_mode_cost for entry in found.values())
    full = Table(slug="models", title="Per model and period", columns=columns, rows=rows,
                 total=_model_row("Total", None, None, total, max_mode_cost)[:1] + [None, None]
                 + _model_row("Total", None, None, total, max_mode_cost)[3:],
                 description="Each model in each period, the latest first. " + method)
    if len(rows) <= limit:
        return full
    last = len(periods) - 1
    latest = [(model, entry) for index, model, entry in latest_first(periods, found) if index == last]
    shown, rest = latest[:limit], latest[limit:]
    page = [_model_row(periods[last].label, model, families.get(model, model), entry.usage, entry.max_mode_cost)
            for model, entry in shown]
    if rest:
        page.append(_model_row(other_label(len(rest), "models"), None, None,
                               UsageTotals.sum(entry.usage for _, entry in rest),
                               sum(entry.max_mode_cost for _, entry in rest)))
    in_latest = UsageTotals.sum(entry.usage for _, entry in latest)
    return Table(
        slug="models", title=f"Per model, {periods[last].label}", columns=columns, rows=page,
        total=["Total", None, None, *_model_row("", None, None, in_latest,
                                                sum(entry.max_mode_cost for _, entry in latest))[3:]],
        description=(f"Each model in {periods[last].label}" + (f", the top {counted(len(shown), 'model')} and the "
                     "rest summed" if rest else "") + ". " + method + " The CSV and JSON hold every model in every "
                     "period; the price chart follows the costliest over time."),
        full=full,
    )


def token_price_table(periods: list[Period], found: dict[tuple[int, str], ModelPeriod],
                      fits: dict[tuple[int, str, bool], PriceFit], limit: int) -> Table:
    """The fitted list price of each token kind, per model, period and max mode (where trusted); on the
    page, when longer than ``limit``, the latest period's first ``limit`` rows."""
    rows, latest = [], []
    for index, model, entry in latest_first(periods, found):
        for max_mode in sorted(entry.evidence):
            fit = fits[(index, model, max_mode)]
            row = [periods[index].label, model, MODES[max_mode], fit.cells, *fit.per_million(),
                   None if fit.unexplained is None else round(fit.unexplained * 100, 4), fit_note(fit)]
            rows.append(row)
            if index == len(periods) - 1:
                latest.append(row)
    columns = [
        Column("in_period", "Period", "text"),
        Column("model", "Model", "model"),
        Column("pricing_mode", "Mode", "text"),
        Column("fit_cells", "Cells", "count"),
        *(Column(f"{kind.replace(' ', '_')}_per_mtok", f"{kind.capitalize()} / Mtok", "unit_price")
          for kind in TOKEN_KINDS),
        Column("unexplained", "Unexplained", "percent"),
        Column("fit", "Fit", "text"),
    ]
    method = (
        "List prices (before discounts, without the token fee) per million tokens of each kind: the ledger keeps "
        "no cost per kind, so they come from a least-squares fit of each cell's list cost (less the token fee) on "
        "its input, output, cache-write and cache-read tokens, over the model's ledger cells (each a day of one "
        "user) in the period, max mode apart (it may be priced apart). A price is shown from enough cells, when "
        "the fit explains their cost within the set tolerance, each price is that sure and none is negative. "
        "Unexplained: the residuals' root-sum-square as a share of the cells' list costs'. An empty price: not "
        "attributed, the Fit column says why."
    )
    full = Table(slug="token-prices", title="List price per token kind (estimated)", columns=columns, rows=rows,
                 description=method)
    if len(rows) <= limit:
        return full
    shown = latest[:limit]
    which = (f"{periods[-1].label}'s first {counted(len(shown), 'row')} (costliest models first) of {len(latest)}"
             if len(shown) < len(latest) else f"{periods[-1].label} alone (costliest models first)")
    return Table(
        slug="token-prices", title=f"List price per token kind (estimated), {periods[-1].label}", columns=columns,
        rows=shown, full=full,
        description=method + f" Shown: {which}; the CSV and JSON hold every period, model and mode ({len(rows)} rows).",
    )


def fit_note(fit: PriceFit) -> str:
    """The Fit column: ``fitted`` (and the kinds no cell used), or ``— not attributed: why``."""
    absent = f"; no {' or '.join(fit.absent)} tokens" if fit.absent else ""
    return ("fitted" + absent) if fit.attributed else f"— not attributed: {fit.reason}{absent}"


#: The drift table's "Why" when the fitted list prices moved past the threshold.
LIST_PRICES = "list prices moved"


def list_price_change(before: ModelPeriod, after: ModelPeriod, fits_before: dict[bool, PriceFit],
                      fits_after: dict[bool, PriceFit]) -> Fraction | None:
    """How much the fitted list prices moved at a fixed token mix, the earlier period's tokens (of each
    max mode) priced at each period's prices; ``None`` when a price that mix needs was not attributed."""
    old = new = Fraction(0)
    for mode, evidence in before.evidence.items():
        then, now = fits_before.get(mode), fits_after.get(mode)
        if then is None or now is None or not (then.attributed and now.attributed):
            return None
        for tokens, price_then, price_now in zip(evidence.tokens, then.prices, now.prices):
            if tokens:
                if price_then is None or price_now is None:
                    return None
                old += tokens * price_then
                new += tokens * price_now
    return new / old - 1 if old > 0 else None


def price_drifts(periods: list[Period], found: dict[tuple[int, str], ModelPeriod],
                 fits: dict[tuple[int, str, bool], PriceFit], chosen: ModelEconomicsSettings) -> Table:
    """Models whose effective price per token, or whose fitted list prices at a fixed token mix, moved by
    more than the threshold between consecutive periods, both with enough requests and tokens; the exact
    prices are compared."""
    threshold = Fraction(str(chosen.drift_threshold_percent)) / 100

    def enough(entry: ModelPeriod | None) -> bool:
        return (entry is not None and entry.usage.requests >= chosen.drift_min_requests
                and entry.usage.total_tokens >= chosen.drift_min_tokens and entry.usage.cost > 0)

    def fits_of(index: int, model: str) -> dict[bool, PriceFit]:
        return {mode: fit for (i, m, mode), fit in fits.items() if (i, m) == (index, model)}

    rows = []
    models = sorted({model for _, model in found})
    for index in range(1, len(periods)):
        for model in models:
            before, after = found.get((index - 1, model)), found.get((index, model))
            if not (enough(before) and enough(after)):
                continue
            old, new = before.usage, after.usage  # type: ignore[union-attr]
            change = Fraction(new.cost, new.total_tokens) / Fraction(old.cost, old.total_tokens) - 1
            listed = list_price_change(before, after, fits_of(index - 1, model), fits_of(index, model))  # type: ignore[arg-type]
            if abs(change) <= threshold and (listed is None or abs(listed) <= threshold):
                continue
            if listed is None:
                why = "list prices not attributed: may be mix (cache reads, max mode) or discounts"
            elif abs(listed) > threshold:
                why = LIST_PRICES
            else:
                why = "mix or discounts: list prices within the threshold"
            share_before, share_after = (share(old.cache_read_tokens, old.total_tokens),
                                         share(new.cache_read_tokens, new.total_tokens))
            rows.append([model, periods[index - 1].label, periods[index].label, price_per_million(old),
                         price_per_million(new), round(float(change) * 100, 1),
                         None if listed is None else round(float(listed) * 100, 1), why, share_before, share_after,
                         None if share_before is None or share_after is None else round(share_after - share_before, 1),
                         old.requests, new.requests])
    rows.sort(key=lambda row: (-periods_order(periods, row[2]), -abs(row[5]), row[0]))
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
            Column("list_price_change", "List prices at the earlier mix", "growth"),
            Column("why", "Why", "text"),
            Column("cache_read_share_before", "Cache-read share before", "percent"),
            Column("cache_read_share_after", "Cache-read share after", "percent"),
            Column("cache_read_share_change", "Cache-read share change (points)", "decimal"),
            Column("requests_before", "Requests before", "count"),
            Column("requests_after", "Requests after", "count"),
        ],
        rows=rows,
        description=(
            f"Models whose effective price per token, or whose fitted list prices, moved by more than "
            f"{chosen.drift_threshold_percent:g}% from one period to the next, both periods with at least "
            f"{counted(chosen.drift_min_requests, 'request')} and {chosen.drift_min_tokens:,} tokens of it (smaller "
            "samples are not compared). The effective price moves with the cache-read share, max mode and "
            "discounts as much as with a list price; the list prices are compared at a fixed mix (the earlier "
            "period's tokens of each kind and mode, priced at each period's fitted prices), where both fits were "
            "attributed (else the move may be mix)."
        ),
    )


def periods_order(periods: list[Period], label: str) -> int:
    """Where the period labelled ``label`` stands (the drift rows: latest first)."""
    return next(index for index, period in enumerate(periods) if period.label == label)


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


def savings_table(usage: OnDemandUsage, expensive: list[str], limit: int) -> Table:
    """Per user of the expensive models: their requests there at the cheaper models' average cost; on
    the page, when longer than ``limit``, the top ``limit`` users and the rest summed."""
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

    def summed(label: str, lines: list[list]) -> list:
        return [label, sum(row[1] for row in lines), sum(row[2] for row in lines), None, "",
                sum(row[5] or 0 for row in lines), sum(row[6] or 0 for row in lines)]

    columns = [
        Column("user", "User", "user"),
        Column("expensive_requests", "Requests on expensive models", "count"),
        Column("expensive_spend", "Spend on them", "money"),
        Column("cheaper_average", "Cheaper models' avg / request", "unit_price"),
        Column("basis", "Average of", "text"),
        Column("at_cheaper", "Same requests at that average", "money"),
        Column("saving", "Difference at cheaper models", "money"),
    ]
    method = (
        f"{_span(usage, economics_periods(usage))}. An estimate, not a bill: each user's requests on the expensive "
        "models priced at the average cost per request of the cheaper models the same user used in range (without "
        "any: the team's), and the difference. It assumes a cheaper model would have served the same requests, as "
        "well, at its usual size. A negative difference: the user's requests on the expensive models cost less "
        "than their average request elsewhere (short requests), so moving them would not have saved."
    )
    title = "What the costliest choices cost (estimate)"
    full = Table(slug="savings", title=title, columns=columns, rows=rows, total=summed("Total", rows),
                 description=method)
    if len(rows) <= limit:
        return full
    shown, rest = rows[:limit], rows[limit:]
    return Table(slug="savings", title=title, columns=columns, rows=[*shown, summed(other_label(len(rest)), rest)],
                 total=summed("Total", rows), full=full,
                 description=method + f" Shown: the top {counted(len(shown), 'user')} by difference, the rest summed; "
                 "the CSV and JSON hold every user.")


def family_label(family: str, models: list[str]) -> str:
    """A family's bar: a family of one model by that model's name (so it links to the model's page, and
    never reads ``opus (1 model)``); a family of several by its name and how many (a family named like one
    of its models must not link to that model's page alone)."""
    return models[0] if len(models) == 1 else f"{family} ({counted(len(models), 'model')})"


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
            labels=[period.short_label for period in periods],
            series=[Series(model, [price_per_million(found[(index, model)].usage) if (index, model) in found
                                   else None for index in range(len(periods))]) for model in followed],
            unit="unit_price",
        ))
    if families.rows:
        charts.append(Chart(
            slug="families",
            title="Spend per model family",
            description=("On-demand spend per model family in range (a family of several models says how many; "
                         "a family of one model is shown by that model's name, its bar that model's spend)."),
            kind="bar",
            labels=[family_label(row[0], row[1].split(", ")) for row in families.rows],
            series=[Series("Spend", [row[2] for row in families.rows])],
        ))
    return charts
