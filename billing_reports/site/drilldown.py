"""The pages the site adds to the plugins' sections, built from the loaded usage.

User and model pages, the user and model directories and the data-quality
tables are ordinary :class:`~billing_reports.sections.Section` objects, so the
generic section template renders them (and a user's override restyles them all).

One pass over the ``(month, user, model)`` totals indexes everything, so the
work is linear in their number however many users and models there are.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from ..months import Month
from ..periods import date_of_day
from ..sections import Chart, Column, Figure, Section, Series, Table
from ..usage import ZERO, OnDemandUsage, UsageTotals, rank
from ..wording import counted

MONTH = Column("month", "Month", "month")
COST = Column("on_demand_cost", "On-demand cost", "money")
REQUESTS = Column("requests", "Requests", "count")
AVERAGE = Column("average_cost", "Avg cost / request", "unit_price")
SHARE = Column("share", "Share of cost", "percent")


@dataclass
class UsageIndex:
    """Per-user and per-model breakdowns from one pass over the usage totals."""

    user_month: dict[str, dict[Month, UsageTotals]] = field(default_factory=dict)
    user_model: dict[str, dict[str, UsageTotals]] = field(default_factory=dict)
    model_month: dict[str, dict[Month, UsageTotals]] = field(default_factory=dict)
    model_user: dict[str, dict[str, UsageTotals]] = field(default_factory=dict)

    @classmethod
    def of(cls, usage: OnDemandUsage) -> "UsageIndex":
        """The usage's own per-user and per-model look-ups, plus their months turned inside out
        (``Month`` hashes in Python: walking the few months beats re-keying every total)."""
        index = usage.breakdown
        user_month: dict[str, dict[Month, UsageTotals]] = {}
        model_month: dict[str, dict[Month, UsageTotals]] = {}
        for month, users in index.month_users.items():
            for user, totals in users.items():
                user_month.setdefault(user, {})[month] = totals
        for month, models in index.month_models.items():
            for model, totals in models.items():
                model_month.setdefault(model, {})[month] = totals
        return cls(user_month, index.user_models, model_month, index.model_users)


@dataclass(frozen=True)
class PageFrame:
    """What every user and model page shows the same: the period, its months (cached or not), the
    daily chart's days (their labels, which were fetched). Worked out once for the thousand pages."""

    period_label: str
    months: list[Month]
    #: Each month of ``months`` has a cache file (else its figures are unknown: a gap, "not fetched").
    cached: list[bool]
    days: list[int]
    day_labels: list[str]
    #: The days of ``days`` whose month has no cache file (their spend is unknown, not 0).
    unfetched: frozenset[int]

    @classmethod
    def of(cls, usage: OnDemandUsage, days: list[int] | None = None) -> "PageFrame":
        """``days``: the daily chart's (default the last :data:`DAILY_CHART_DAYS`)."""
        days = usage.chart_days(DAILY_CHART_DAYS) if days is None else list(days)
        return cls(usage.period_label, list(usage.months), [usage.facts(month).cached for month in usage.months],
                   days, [date_of_day(day).isoformat() for day in days],
                   frozenset(day for day in days if not usage.day_fetched(day)))

    def daily_costs(self, cost_by_day: dict[int, int]) -> list[int | None]:
        """``cost_by_day`` on each day (as :meth:`OnDemandUsage.daily_costs`: 0 on a quiet day, ``None``
        on a day not fetched)."""
        unfetched = self.unfetched
        return [None if day in unfetched else cost_by_day.get(day, 0) for day in self.days]


def _share(part: int, whole: int) -> float | None:
    return round(100 * part / whole, 1) if whole > 0 else None


def _monthly_chart(slug: str, name: str, frame: PageFrame, by_month: dict[Month, UsageTotals]) -> Chart:
    # a month not fetched is a gap, never a fall to $0
    costs = [by_month.get(month, ZERO).cost if cached else None for month, cached in zip(frame.months, frame.cached)]
    return Chart(
        slug=slug,
        title=f"Monthly on-demand spend: {name}",
        description=f"On-demand cost of {name} in each month from {frame.period_label}.",
        kind="line",
        labels=[month.key for month in frame.months],
        series=[Series("On-demand cost", costs)],
    )


#: Days a daily chart covers: the last of the period (a page stays light however long the period).
DAILY_CHART_DAYS = 60


def daily_chart(slug: str, name: str, frame: PageFrame, cost_by_day: dict[int, int]) -> Chart:
    """``name``'s spend on each of the frame's days (a daily chart: weekends and a day in progress
    told apart)."""
    return Chart(
        slug=slug,
        title=f"Daily on-demand spend: {name}",
        description=f"On-demand cost of {name} on each UTC day of the last {counted(len(frame.days), 'day')} of the period.",
        kind="daily",
        labels=frame.day_labels,
        series=[Series("On-demand cost", frame.daily_costs(cost_by_day))],
    )


def _monthly_table(frame: PageFrame, by_month: dict[Month, UsageTotals], total: UsageTotals,
                   top_of_month: dict[Month, str] | None = None, top_label: str = "") -> Table:
    columns = [MONTH, COST, REQUESTS, AVERAGE]
    if top_of_month is not None:
        columns.append(Column("top", top_label, "model" if top_label == "Top model" else "user"))
    rows = []
    for month, cached in zip(frame.months, frame.cached):
        totals = by_month.get(month, ZERO)
        if cached:
            row = [month.key, totals.cost, totals.requests, totals.average_cost]
        else:  # unknown: blank cells, the month flagged "not fetched"
            row = [month.key, None, None, None]
        if top_of_month is not None:
            row.append(top_of_month.get(month))
        rows.append(row)
    total_row = ["Total", total.cost, total.requests, None]
    if top_of_month is not None:
        total_row.append(None)
    return Table("by-month", "By month", columns, rows, total=total_row)


def user_section(user: str, usage: OnDemandUsage, index: UsageIndex, rank_of: dict[str, int],
                 days: list[int] | None = None, *, frame: PageFrame | None = None) -> Section:
    """The drill-down page of one user: spend per month and per day (``days``: the daily chart's,
    default the last :data:`DAILY_CHART_DAYS`), models used, cost per request. ``frame``: what
    every page shares (:meth:`PageFrame.of` ``usage`` and ``days``), when the caller has it."""
    frame = frame or PageFrame.of(usage, days)
    by_month = index.user_month.get(user, {})
    by_model = index.user_model.get(user, {})
    total = UsageTotals.sum(by_model.values())
    ranked_models = rank(by_model)
    most_used = min(ranked_models, key=lambda r: (-r.requests, -r.cost, r.name)).name if ranked_models else None
    models_table = Table(
        "models", "Models used",
        [Column("model", "Model", "model"), COST, REQUESTS, AVERAGE, SHARE],
        [[r.name, r.cost, r.requests, r.totals.average_cost, _share(r.cost, total.cost)] for r in ranked_models],
        total=["Total", total.cost, total.requests, None, None],
        description="Every model this user's on-demand requests used in the period, costliest first.",
    )
    return Section(
        slug=user,
        title=user,
        order=0,
        intro="",
        figures=[
            Figure("On-demand spend", total.cost, "money", f"rank {rank_of[user]} of {counted(len(rank_of), 'user')}"),
            Figure("Requests", total.requests, "count"),
            Figure("Avg cost / request", total.average_cost, "unit_price"),
            Figure("Top model by spend", ranked_models[0].name if ranked_models else None, "model"),
            Figure("Top model by requests", most_used, "model"),
        ],
        charts=[_monthly_chart("monthly-spend", user, frame, by_month),
                daily_chart("daily-spend", user, frame, usage.user_cost_by_day(user))],
        tables=[models_table, _monthly_table(frame, by_month, total)],
    )


def model_section(model: str, usage: OnDemandUsage, index: UsageIndex, rank_of: dict[str, int],
                  days: list[int] | None = None, *, frame: PageFrame | None = None) -> Section:
    """The drill-down page of one model: spend per month and per day, its top users (``days`` and
    ``frame`` as for :func:`user_section`)."""
    frame = frame or PageFrame.of(usage, days)
    by_month = index.model_month.get(model, {})
    by_user = index.model_user.get(model, {})
    total = UsageTotals.sum(by_user.values())
    ranked_users = rank(by_user)
    users_table = Table(
        "users", "Users",
        [Column("user", "User", "user"), COST, REQUESTS, AVERAGE, SHARE],
        [[r.name, r.cost, r.requests, r.totals.average_cost, _share(r.cost, total.cost)] for r in ranked_users],
        total=["Total", total.cost, total.requests, None, None],
        description="Everyone who used this model on demand in the period, biggest spender first.",
    )
    tokens_table = Table(
        "tokens", "Tokens",
        [Column("kind", "Kind"), Column("tokens", "Tokens", "count")],
        [["Input", total.input_tokens], ["Output", total.output_tokens],
         ["Cache write", total.cache_write_tokens], ["Cache read", total.cache_read_tokens]],
        total=["Total", total.total_tokens],
    )
    return Section(
        slug=model,
        title=model,
        order=0,
        figures=[
            Figure("On-demand spend", total.cost, "money", f"rank {rank_of[model]} of {counted(len(rank_of), 'model')}"),
            Figure("Requests", total.requests, "count"),
            Figure("Avg cost / request", total.average_cost, "unit_price"),
            Figure("Users", len(by_user), "count"),
        ],
        charts=[_monthly_chart("monthly-spend", model, frame, by_month),
                daily_chart("daily-spend", model, frame, usage.model_cost_by_day(model))],
        tables=[users_table, _monthly_table(frame, by_month, total), tokens_table],
    )


def users_directory(usage: OnDemandUsage, index: UsageIndex) -> Section:
    """Every user with on-demand usage, not only the top spenders."""
    ranked = rank({user: UsageTotals.sum(models.values()) for user, models in index.user_model.items()})
    grand = usage.total
    rows = []
    for r in ranked:
        models = rank(index.user_model[r.name])
        most_used = min(models, key=lambda m: (-m.requests, -m.cost, m.name)).name
        active = sum(1 for totals in index.user_month[r.name].values() if totals.requests)
        rows.append([r.name, r.cost, r.requests, r.totals.average_cost, models[0].name, most_used, active])
    table = Table(
        "all-users", "All users",
        [Column("user", "User", "user"), COST, REQUESTS, AVERAGE,
         Column("top_model_by_spend", "Top model by spend", "model"),
         Column("top_model", "Top model by requests", "model"), Column("months", "Active months", "count")],
        rows,
        total=["Total", grand.cost, grand.requests, None, None, None, None],
    )
    return Section("users", "Users", 0, intro="Everyone with on-demand usage in the period. "
                   "Open a name for the user's monthly spend and models.", tables=[table])


def models_directory(usage: OnDemandUsage, index: UsageIndex) -> Section:
    """Every model with on-demand usage."""
    ranked = rank({model: UsageTotals.sum(users.values()) for model, users in index.model_user.items()})
    grand = usage.total
    table = Table(
        "all-models", "All models",
        [Column("model", "Model", "model"), COST, REQUESTS, AVERAGE,
         Column("tokens", "Tokens", "count"), Column("users", "Users", "count")],
        [[r.name, r.cost, r.requests, r.totals.average_cost, r.totals.total_tokens,
          len(index.model_user[r.name])] for r in ranked],
        total=["Total", grand.cost, grand.requests, None, grand.total_tokens, None],
    )
    return Section("models", "Models", 0, intro="Every model used on demand in the period. "
                   "Open a name for its monthly spend and its users.", tables=[table])


def ranks(ranked_names: list[str]) -> dict[str, int]:
    return {name: position for position, name in enumerate(ranked_names, start=1)}
