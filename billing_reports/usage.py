"""The loaded on-demand usage: aggregates only, never the events themselves.

:func:`billing_reports.loader.load_usage` builds an :class:`OnDemandUsage` by
streaming the monthly cache; analysis plugins and the site read it through the
small accessors below. Money is ``int`` micro-cents everywhere (see
:mod:`billing_reports.money`).

Orders are stable and documented so that ties rank the same way on every run:
users and models are ranked by cost (highest first), then by name (A to Z).
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from datetime import datetime
from functools import cached_property
from operator import add
from pathlib import Path
from typing import Any, Iterable, Iterator, Mapping, NamedTuple

from .months import Month

#: The user an event without ``userEmail`` is attributed to (users removed from
#: the team): a visible bucket, counted in every total and shown in user tables.
REMOVED_USER = "(removed user)"
#: The model an event without a ``model`` is attributed to.
UNKNOWN_MODEL = "(unknown model)"


class UsageTotals(NamedTuple):
    """What a set of on-demand events adds up to (an immutable tuple: cheap to build and sum)."""

    #: On-demand cost in micro-cents: ``tokenUsage.totalCents + cursorTokenFee``.
    cost: int = 0
    requests: int = 0
    input_tokens: int = 0
    output_tokens: int = 0
    cache_write_tokens: int = 0
    cache_read_tokens: int = 0

    @property
    def total_tokens(self) -> int:
        return self.input_tokens + self.output_tokens + self.cache_write_tokens + self.cache_read_tokens

    @property
    def average_cost(self) -> int | None:
        """Cost per request in micro-cents (rounded half up), ``None`` without requests."""
        if self.requests <= 0:
            return None
        return (2 * self.cost + self.requests) // (2 * self.requests)

    def __add__(self, other: "UsageTotals") -> "UsageTotals":  # type: ignore[override]
        """Field by field (not tuple concatenation)."""
        return UsageTotals(*map(add, self, other))

    @classmethod
    def sum(cls, totals: Iterable["UsageTotals"]) -> "UsageTotals":
        """Field-by-field sum of any number of totals (zero for none)."""
        return _sum(totals)


ZERO = UsageTotals()


@dataclass
class DataQuality:
    """What the loader noticed in one month's cache file (the data-quality page).

    Counts are of events in the file. ``events_kept`` passed the on-demand
    filter and are in the totals; every other count explains something odd.
    """

    events_in_file: int = 0
    events_kept: int = 0
    #: Events in the file the on-demand filter drops again, by reason
    #: (their ``kind``, or ``"Usage-based, not chargeable"`` / ``"Usage-based, not token-based"``).
    not_on_demand: dict[str, int] = field(default_factory=dict)
    #: Kept events without ``userEmail`` (attributed to :data:`REMOVED_USER`).
    without_email: int = 0
    #: Kept events without a ``model`` (attributed to :data:`UNKNOWN_MODEL`).
    without_model: int = 0
    #: Events whose ``kind`` is none of :data:`billing_reports.loader.KNOWN_KINDS`, by kind:
    #: in the file, and among the events the fetch left out (``fetch.left_out``).
    unknown_kinds: dict[str, int] = field(default_factory=dict)
    #: Event fields the loader does not know, by field name (events carrying each).
    unknown_fields: dict[str, int] = field(default_factory=dict)
    #: Kept events costing exactly nothing / less than nothing (both are in the totals).
    zero_cost: int = 0
    negative_cost: int = 0
    #: Events whose ``totalCents``/``cursorTokenFee``/token counts are not numbers:
    #: they cannot be priced and are left out of every total.
    non_numeric_cost: int = 0
    #: Kept events whose ``timestamp`` is missing or not epoch milliseconds.
    bad_timestamp: int = 0
    #: Kept events whose timestamp lies outside the file's month (counted in the file's month).
    outside_month: int = 0

    @property
    def events_left_out(self) -> int:
        """Events of the file that are not in any total."""
        return self.events_in_file - self.events_kept

    @property
    def warnings(self) -> int:
        """How many odd facts there are (0: nothing to look at)."""
        return (
            sum(self.not_on_demand.values())
            + self.without_model
            + sum(self.unknown_kinds.values())
            + sum(self.unknown_fields.values())
            + self.negative_cost
            + self.non_numeric_cost
            + self.bad_timestamp
            + self.outside_month
        )

    def to_dict(self) -> dict[str, Any]:
        return {
            "events_in_file": self.events_in_file,
            "events_kept": self.events_kept,
            "events_left_out": self.events_left_out,
            "not_on_demand": dict(self.not_on_demand),
            "without_email": self.without_email,
            "without_model": self.without_model,
            "unknown_kinds": dict(self.unknown_kinds),
            "unknown_fields": dict(self.unknown_fields),
            "zero_cost": self.zero_cost,
            "negative_cost": self.negative_cost,
            "non_numeric_cost": self.non_numeric_cost,
            "bad_timestamp": self.bad_timestamp,
            "outside_month": self.outside_month,
        }


@dataclass
class MonthFacts:
    """One month in range: its cache file's facts and the loader's data-quality counts."""

    month: Month
    #: The cache file (whether or not it exists).
    path: Path | None = None
    #: ``False``: no cache file for this month (fetch it); every total is zero.
    cached: bool = False
    fetched_at: datetime | None = None
    #: ``True`` when fetched at least a day after the month ended (nothing more can arrive).
    complete: bool = False
    #: The cache file's ``fetch`` object as written (windows, api_total, left_out, ...).
    fetch: dict[str, Any] = field(default_factory=dict)
    quality: DataQuality = field(default_factory=DataQuality)

    @property
    def missing(self) -> bool:
        return not self.cached

    def to_dict(self) -> dict[str, Any]:
        return {
            "month": self.month.key,
            "path": str(self.path) if self.path else None,
            "cached": self.cached,
            "fetched_at": self.fetched_at.isoformat().replace("+00:00", "Z") if self.fetched_at else None,
            "complete": self.complete,
            "fetch": self.fetch,
            "quality": self.quality.to_dict(),
        }


@dataclass(frozen=True)
class Ranked:
    """A name (user or model) with its totals, as returned by the ranking accessors."""

    name: str
    totals: UsageTotals

    @property
    def cost(self) -> int:
        return self.totals.cost

    @property
    def requests(self) -> int:
        return self.totals.requests


def rank(totals: Mapping[str, UsageTotals]) -> list[Ranked]:
    """Highest cost first; ties by name A to Z (stable on every run)."""
    return [Ranked(name, value) for name, value in sorted(totals.items(), key=lambda kv: (-kv[1].cost, kv[0]))]


@dataclass
class OnDemandUsage:
    """Cached on-demand usage for a range of months, aggregated per (month, user, model)."""

    #: The months in range, oldest first, including months with no cache file.
    months: list[Month]
    #: ``(month, user, model) -> totals``; users without email are :data:`REMOVED_USER`.
    totals: dict[tuple[Month, str, str], UsageTotals] = field(default_factory=dict)
    #: One entry per month in range.
    month_facts: dict[Month, MonthFacts] = field(default_factory=dict)
    #: Where the cache files are (``events()`` reads them again).
    data_dir: Path | None = None
    #: The same totals as ``month -> (user, model) -> totals`` when the loader has them
    #: (saves regrouping ``totals``); ``None``: derived from ``totals``.
    month_cells: dict[Month, dict[tuple[str, str], UsageTotals]] | None = field(default=None, repr=False)

    # --- the period -------------------------------------------------------------

    @property
    def first_month(self) -> Month:
        return self.months[0]

    @property
    def last_month(self) -> Month:
        """The last month in range: the report's "current month"."""
        return self.months[-1]

    @property
    def period(self) -> tuple[Month, Month]:
        """``(first month, last month)`` in range."""
        return self.months[0], self.months[-1]

    @property
    def period_label(self) -> str:
        """``January 2026`` or ``January 2026 – March 2026``."""
        first, last = self.period
        return first.label if first == last else f"{first.label} – {last.label}"

    def facts(self, month: Month) -> MonthFacts:
        return self.month_facts.get(month) or MonthFacts(month)

    def is_complete(self, month: Month) -> bool:
        return self.facts(month).complete

    @property
    def missing_months(self) -> list[Month]:
        """Months in range without a cache file."""
        return [month for month in self.months if not self.facts(month).cached]

    @property
    def incomplete_months(self) -> list[Month]:
        """Cached months that were fetched before they were over (figures may still grow)."""
        return [m for m in self.months if self.facts(m).cached and not self.facts(m).complete]

    # --- whole-range aggregates -----------------------------------------------------
    #
    # Everything below is derived once, lazily, from ``totals`` regrouped per month
    # (``Month`` hashes in Python, so the big dict is walked month by month and
    # never re-hashed per entry); coarse sums come from finer ones.

    @cached_property
    def _cells(self) -> dict[Month, dict[tuple[str, str], UsageTotals]]:
        """``month -> (user, model) -> totals``: the loader's own shape."""
        if self.month_cells is not None:
            return self.month_cells
        cells: dict[Month, dict[tuple[str, str], UsageTotals]] = {}
        for (month, user, model), t in self.totals.items():
            cells.setdefault(month, {})[(user, model)] = t
        return cells

    @cached_property
    def _index(self) -> "_Index":
        """Nested look-ups built once, so per-user and per-model accessors never scan everything."""
        index = _Index()
        user_model_rows: dict[tuple[str, str], list[UsageTotals]] = defaultdict(list)
        for month, cells in self._cells.items():
            user_models: dict[str, dict[str, UsageTotals]] = {}
            model_users: dict[str, dict[str, UsageTotals]] = {}
            for key, t in cells.items():
                user, model = key
                user_model_rows[key].append(t)
                found = user_models.get(user)
                if found is None:
                    user_models[user] = {model: t}
                else:
                    found[model] = t
                found = model_users.get(model)
                if found is None:
                    model_users[model] = {user: t}
                else:
                    found[user] = t
            index.month_user_models[month] = user_models
            index.month_model_users[month] = model_users
            index.month_users[month] = {u: _sum(m.values()) for u, m in user_models.items()}
            index.month_models[month] = {m: _sum(u.values()) for m, u in model_users.items()}
            index.month_total[month] = _sum(index.month_models[month].values())
        for (user, model), rows in user_model_rows.items():
            t = rows[0] if len(rows) == 1 else _sum(rows)
            index.user_models.setdefault(user, {})[model] = t
            index.model_users.setdefault(model, {})[user] = t
        index.users = {user: _sum(models.values()) for user, models in index.user_models.items()}
        index.models = {model: _sum(users.values()) for model, users in index.model_users.items()}
        return index

    @property
    def breakdown(self) -> "_Index":
        """The nested per-month, per-user and per-model totals behind the accessors (read-only)."""
        return self._index

    @cached_property
    def total(self) -> UsageTotals:
        """Everything in range."""
        return _sum(self._index.month_total.values())

    def month_total(self, month: Month) -> UsageTotals:
        """Everything in ``month`` (zero for an empty or missing month)."""
        return self._index.month_total.get(month, ZERO)

    def by_month(self) -> dict[Month, UsageTotals]:
        """Every month in range, oldest first, with its totals (zero when empty)."""
        return {month: self.month_total(month) for month in self.months}

    def by_user(self) -> dict[str, UsageTotals]:
        """Per user over the whole range."""
        return dict(self._index.users)

    def by_model(self) -> dict[str, UsageTotals]:
        """Per model over the whole range."""
        return dict(self._index.models)

    def users(self) -> list[Ranked]:
        """Users with on-demand usage, ranked (cost high to low, then name)."""
        return rank(self._index.users)

    def models(self) -> list[Ranked]:
        """Models with on-demand usage, ranked (cost high to low, then name)."""
        return rank(self._index.models)

    @property
    def user_names(self) -> list[str]:
        """Users A to Z."""
        return sorted(self._index.users)

    @property
    def model_names(self) -> list[str]:
        """Models A to Z."""
        return sorted(self._index.models)

    # --- one month ----------------------------------------------------------------------

    def month_users(self, month: Month) -> list[Ranked]:
        """Users of ``month``, ranked."""
        return rank(self._index.month_users.get(month, {}))

    def month_models(self, month: Month) -> list[Ranked]:
        """Models of ``month``, ranked."""
        return rank(self._index.month_models.get(month, {}))

    # --- one user (the site's user pages) -------------------------------------------------

    def user_total(self, user: str) -> UsageTotals:
        return self._index.users.get(user, ZERO)

    def user_by_month(self, user: str) -> dict[Month, UsageTotals]:
        """The user's totals for every month in range (zero when idle)."""
        month_users = self._index.month_users
        return {month: month_users.get(month, {}).get(user, ZERO) for month in self.months}

    def user_cost_by_month(self, user: str) -> dict[Month, int]:
        """The user's spend (micro-cents) for every month in range."""
        return {month: totals.cost for month, totals in self.user_by_month(user).items()}

    def user_models(self, user: str, month: Month | None = None) -> list[Ranked]:
        """The models a user used (in ``month``, or over the range) with cost and requests, ranked."""
        if month is None:
            return rank(self._index.user_models.get(user, {}))
        return rank(self._index.month_user_models.get(month, {}).get(user, {}))

    def top_model_of_user(self, user: str, month: Month | None = None) -> str | None:
        """The user's most-used model: most requests, then most cost, then name A to Z."""
        return _most_used(self.user_models(user, month))

    # --- one model (the site's model pages) -----------------------------------------------

    def model_total(self, model: str) -> UsageTotals:
        return self._index.models.get(model, ZERO)

    def model_by_month(self, model: str) -> dict[Month, UsageTotals]:
        """The model's totals for every month in range (zero when unused)."""
        month_models = self._index.month_models
        return {month: month_models.get(month, {}).get(model, ZERO) for month in self.months}

    def model_cost_by_month(self, model: str) -> dict[Month, int]:
        """The model's spend (micro-cents) for every month in range."""
        return {month: totals.cost for month, totals in self.model_by_month(model).items()}

    def model_users(self, model: str, month: Month | None = None) -> list[Ranked]:
        """The users of a model (in ``month``, or over the range) with cost and requests, ranked."""
        if month is None:
            return rank(self._index.model_users.get(model, {}))
        return rank(self._index.month_model_users.get(month, {}).get(model, {}))

    def model_user_count(self, model: str) -> int:
        """How many distinct users used the model in range."""
        return len(self._index.model_users.get(model, {}))

    # --- single events, for a plugin that needs them ----------------------------------------

    def events(self) -> Iterator[tuple[Month, dict[str, Any]]]:
        """Stream ``(month, event)`` for every kept (on-demand) event, month by month, again.

        Reads the cache files anew (nothing is held in memory between calls);
        events are the raw dicts exactly as cached. Only events that count in
        the totals are yielded.
        """
        from .loader import iter_kept_events  # the loader owns the file format

        if self.data_dir is None:
            return iter(())
        cached = [month for month in self.months if self.facts(month).cached]
        return iter_kept_events(self.data_dir, cached)


@dataclass
class _Index:
    users: dict[str, UsageTotals] = field(default_factory=dict)
    models: dict[str, UsageTotals] = field(default_factory=dict)
    user_models: dict[str, dict[str, UsageTotals]] = field(default_factory=dict)
    model_users: dict[str, dict[str, UsageTotals]] = field(default_factory=dict)
    month_total: dict[Month, UsageTotals] = field(default_factory=dict)
    month_users: dict[Month, dict[str, UsageTotals]] = field(default_factory=dict)
    month_models: dict[Month, dict[str, UsageTotals]] = field(default_factory=dict)
    month_user_models: dict[Month, dict[str, dict[str, UsageTotals]]] = field(default_factory=dict)
    month_model_users: dict[Month, dict[str, dict[str, UsageTotals]]] = field(default_factory=dict)


def _sum(rows: Iterable[UsageTotals]) -> UsageTotals:
    """Field-by-field sum (the additions run in C)."""
    rows = list(rows)
    if len(rows) == 1:
        return rows[0]
    return UsageTotals(*map(sum, zip(*rows))) if rows else ZERO


def _most_used(ranked: list[Ranked]) -> str | None:
    if not ranked:
        return None
    return min(ranked, key=lambda r: (-r.requests, -r.cost, r.name)).name


__all__ = [
    "REMOVED_USER",
    "UNKNOWN_MODEL",
    "DataQuality",
    "MonthFacts",
    "OnDemandUsage",
    "Ranked",
    "UsageTotals",
    "rank",
]
