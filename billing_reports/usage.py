"""The loaded on-demand usage: aggregates only, never the events themselves.

:func:`billing_reports.loader.load_usage` builds an :class:`OnDemandUsage` by
streaming the monthly cache into one **ledger**: sums per UTC day x user x model
x max mode (charged and list cost, token fee, requests, tokens by kind). Every
other figure (a month, a user, a model, a day, a user's day) is a sum of ledger
cells, so the same quantity is the same number wherever it is shown. Analysis
plugins and the site read it through the small accessors below. Money is ``int``
micro-cents everywhere (see :mod:`billing_reports.money`).

Orders are stable and documented so that ties rank the same way on every run:
users and models are ranked by cost (highest first), then by name (A to Z).
"""

from __future__ import annotations

import heapq
import math
import unicodedata
from dataclasses import dataclass, field, fields
from datetime import datetime
from functools import cached_property
from itertools import chain, compress
from operator import add
from pathlib import Path
from typing import TYPE_CHECKING, Any, Iterable, Iterator, Mapping, NamedTuple, Sequence

from .months import DAY_MS, Month, today
from .periods import Period, ReportRange, months_touched

if TYPE_CHECKING:
    from .cursor_figures import CursorFigures

#: The user an event without ``userEmail`` is attributed to (users removed from
#: the team): a visible bucket, counted in every total and shown in user tables.
REMOVED_USER = "(removed user)"
#: What follows a service account's name where it stands among users: a service account's events
#: carry its owner's ``userEmail``, yet it is its own row wherever users are ranked.
SERVICE_ACCOUNT_MARK = " (service account)"


def service_account_user(name: str) -> str:
    """The ledger's user for the events of the service account ``name``."""
    return name + SERVICE_ACCOUNT_MARK


def normalised(name: str) -> str:
    """The one key of a person however a file writes them: Unicode NFC, trimmed, in lower case (not
    case-folded: ``strauß@`` and ``strauss@`` are two mailboxes, two people). A pseudonym is the keyed
    hash of it; the full report matches names by it too (one person, one row, in both)."""
    return unicodedata.normalize("NFC", name).strip().lower()


def one_spelling(users: Iterable[str]) -> dict[str, str] | None:
    """``users`` (the ledger's) written in two ways for one person (``Ann@x.test`` and ``ann@x.test``)
    -> the one spelling each is summed under (the one in lower case if any, else the first A to Z);
    ``None`` when every person has one."""
    chosen: dict[str, str] = {}
    spelled: dict[str, str] = {}
    for user in sorted(users, key=lambda user: (user != normalised(user), user)):
        spelled[user] = chosen.setdefault(normalised(user), user)
    return spelled if len(chosen) < len(spelled) else None


def is_service_account(user: str) -> bool:
    return user.endswith(SERVICE_ACCOUNT_MARK)
#: The model an event without a ``model`` is attributed to.
UNKNOWN_MODEL = "(unknown model)"
#: Events whose ``chargedCents`` differs from their parts that the data-quality page lists, per month.
CHARGED_EXAMPLES = 5


#: One cell of the ledger: ``(day, user, model, max mode)``; ``day`` is the UTC day as days since
#: 1970-01-01 (``epoch_ms // DAY_MS``).
LedgerKey = tuple[int, str, str, bool]


class UsageTotals(NamedTuple):
    """What a set of on-demand events adds up to (an immutable tuple: cheap to build and sum)."""

    #: On-demand cost in micro-cents, as billed: ``chargedCents``, else ``totalCents x (1 -
    #: discount) + cursorTokenFee`` (:func:`billing_reports.on_demand.event_cost`).
    cost: int = 0
    requests: int = 0
    input_tokens: int = 0
    output_tokens: int = 0
    cache_write_tokens: int = 0
    cache_read_tokens: int = 0
    #: Before any discount: ``totalCents + cursorTokenFee`` (micro-cents).
    list_cost: int = 0
    #: The Cursor token fee alone (micro-cents; part of both costs).
    token_fee: int = 0

    @property
    def discount(self) -> int:
        """What discounts took off the list cost (micro-cents): list cost minus cost."""
        return self.list_cost - self.cost

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
    #: Kept events whose timestamp lies outside the file's month (counted in the file's month,
    #: on its nearer first or last day; a missing timestamp on its first day).
    outside_month: int = 0
    #: Kept events with and without ``chargedCents`` (without: priced from their parts).
    with_charged: int = 0
    without_charged: int = 0
    #: Kept events whose ``chargedCents`` is further than 0.01 cent from ``totalCents x (1 -
    #: discount) + fee``, and the first few of them (timestamp, user, model, charged, formula).
    charged_differs: int = 0
    charged_differs_examples: list[dict[str, Any]] = field(default_factory=list)
    #: Kept events priced by ``chargedCents`` alone: their ``totalCents``, fee or discount is not a number.
    parts_unknown: int = 0
    #: Kept events whose ``discountPercentOff`` lies outside 0-100 (priced as sent).
    odd_discount: int = 0
    #: Kept events whose token counts are not whole numbers from 0 to ten billion (counted as 0).
    bad_tokens: int = 0
    #: Kept events whose user or model name is over 320 characters (cut short, spend still counted).
    long_names: int = 0
    #: Service accounts among the users (:func:`service_account_user`) -> the ``userEmail`` their
    #: first event carried (the member who owns it; :data:`REMOVED_USER` for none).
    service_account_owners: dict[str, str] = field(default_factory=dict)

    def add(self, part: "DataQuality") -> None:
        """Add the counts of a part of a month (a piece of a file, decoded apart) to these: every
        count, every count by name, and the examples up to ``CHARGED_EXAMPLES``."""
        for spec in fields(self):
            if spec.name in ("events_in_file", "without_charged"):  # the file's own, and derived
                continue
            mine, theirs = getattr(self, spec.name), getattr(part, spec.name)
            if spec.name == "service_account_owners":
                for account, owner in theirs.items():
                    mine.setdefault(account, owner)
            elif isinstance(mine, dict):
                for key, count in theirs.items():
                    mine[key] = mine.get(key, 0) + count
            elif isinstance(mine, list):
                mine += theirs[:max(CHARGED_EXAMPLES - len(mine), 0)]
            else:
                setattr(self, spec.name, mine + theirs)
        self.without_charged = self.events_kept - self.with_charged

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
            + self.charged_differs
            + self.parts_unknown
            + self.odd_discount
            + self.bad_tokens
            + self.long_names
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
            "with_charged": self.with_charged,
            "without_charged": self.without_charged,
            "charged_differs": self.charged_differs,
            "charged_differs_examples": [dict(example) for example in self.charged_differs_examples],
            "parts_unknown": self.parts_unknown,
            "odd_discount": self.odd_discount,
            "bad_tokens": self.bad_tokens,
            "long_names": self.long_names,
            "service_account_owners": dict(self.service_account_owners),
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


@dataclass(frozen=True)
class UserDay:
    """One user's spend on one UTC day (the biggest of them are the Daily page's spikes)."""

    user: str
    day: int
    totals: UsageTotals
    #: The model the user spent most on that day (ties: name A to Z).
    top_model: str

    @property
    def cost(self) -> int:
        return self.totals.cost


@dataclass
class OnDemandUsage:
    """Cached on-demand usage for a range of months: the ledger and everything summed from it."""

    #: The months in range, oldest first, including months with no cache file.
    months: list[Month]
    #: ``(day, user, model, max mode) -> totals``: the ledger. Users without email are
    #: :data:`REMOVED_USER`; every cell's day lies in a month of ``months``. A dict, or (from
    #: the loader) a ``ledger.Ledger``: the same mapping, kept compactly month by month.
    ledger: Mapping[LedgerKey, UsageTotals] = field(default_factory=dict)
    #: One entry per month in range.
    month_facts: dict[Month, MonthFacts] = field(default_factory=dict)
    #: Where the cache files are (``events()`` reads them again).
    data_dir: Path | None = None
    #: The days asked for and the trend's grain (``None``: every day of ``months``, by month).
    report_range: ReportRange | None = None

    #: Whether every person here is under a pseudonym (:mod:`billing_reports.pseudonymise`).
    pseudonymised = False

    def person(self, name: str) -> str:
        """The user this usage names the person or service account ``name`` (an email, or a service
        account's name, as a file or config.yaml writes it) as: the ledger's user of that person
        whatever the case ``name`` is written in (``Ann@X.test`` is the ledger's ``ann@x.test``; a
        service account named without its `` (service account)``, that service account), or ``name``
        when nobody has usage under it; on a pseudonymised report, the pseudonym of that user. A
        plugin that reads people from elsewhere passes each through this: the full and the
        pseudonymised report then place the same people."""
        return self._spelled(name)

    def group_name(self, name: str) -> str:
        """A group's name as read from elsewhere (a mapping file) shown on this report: ``name``; on a
        pseudonymised report, with any email or display name in it replaced by its pseudonym."""
        return name

    def _spelled(self, name: str) -> str:
        spellings = self._spellings
        found = spellings.get(normalised(name))
        if found is None and not is_service_account(name) and "@" not in name:
            found = spellings.get(normalised(service_account_user(name)))
        return found if found is not None else name.strip()

    @cached_property
    def _spellings(self) -> dict[str, str]:
        """The ledger's users by :func:`normalised` name."""
        return {normalised(user): user for user in self.user_names}

    # --- the period -------------------------------------------------------------

    @cached_property
    def range(self) -> ReportRange:
        """The days covered (every day of ``months`` unless a narrower range was asked for) and the
        grain of the trend."""
        return self.report_range or ReportRange.of_months(self.months)

    @property
    def grain(self) -> str:
        """The trend's grain: ``day``, ``week``, ``month`` or ``cycle``."""
        return self.range.grain

    def periods(self) -> list[Period]:
        """The covered days cut at the trend's grain, oldest first (the first and last clipped)."""
        return self.range.periods()

    def period_total(self, period: Period) -> UsageTotals:
        """Everything in ``period`` (a sum of its days)."""
        day_totals = self._day_index.day_totals
        return _sum([day_totals[day] for day in range(period.first_day, period.last_day + 1) if day in day_totals])

    def period_requests_and_costs(self, period: Period) -> dict[tuple[str, str], tuple[int, int]]:
        """``(user, model) -> (requests, cost)`` over ``period``'s days (max mode and not together):
        a month's sums where the period covers it whole, else one lean pass over its cells of those
        days (a billing cycle cuts two months: only the two columns it needs are read)."""
        first, last = period.first_day, period.last_day
        found: dict[tuple[str, str], tuple[int, int]] = {}
        for month in months_touched(first, last):
            cells = self._month_cells.get(month)
            if cells is None:
                continue
            days = month_days(month)
            if first <= days[0] and days[-1] <= last:
                in_month = {key: (totals.requests, totals.cost) for key, totals in self._cells.get(month, {}).items()}
            else:
                in_month = _requests_and_costs_within(cells, range(first, last + 1))
            if not found:
                found = in_month
                continue
            for key, (requests, cost) in in_month.items():
                known = found.get(key)
                found[key] = (requests, cost) if known is None else (known[0] + requests, known[1] + cost)
        return found

    def period_fetched(self, period: Period) -> bool:
        """Whether every day of ``period`` lies in a month with a cache file."""
        return all(self.day_fetched(day) for day in (period.first_day, period.last_day))

    def period_partial(self, period: Period) -> bool:
        """Whether the period's figures may still grow: its last day was not over at the last fetch."""
        return self.day_partial(period.last_day)

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
        """``January 2026``, ``January 2026 – March 2026``, or the days (``5 Jan – 10 Feb 2026``)
        of a range that does not cover whole months."""
        if not self.range.whole_months:
            return self.range.label
        first, last = self.period
        return first.label if first == last else f"{first.label} – {last.label}"

    @cached_property
    def cursor(self) -> "CursorFigures":
        """Cursor's own figures, kept beside the cache by every fetch with a key (members, each
        cycle's spend per member, billing groups; :mod:`billing_reports.cursor_figures`): empty
        when none was taken. Read on first use; ``CacheError`` for a kept file that cannot be read."""
        from .cursor_figures import CursorFigures, load_cursor_figures  # (reads this module's names)

        if self.data_dir is None:
            return CursorFigures()
        return load_cursor_figures(self.data_dir).spelled(self.person)

    def facts(self, month: Month) -> MonthFacts:
        return self.month_facts.get(month) or MonthFacts(month)

    def is_complete(self, month: Month) -> bool:
        return self.facts(month).complete

    @property
    def missing_months(self) -> list[Month]:
        """Months in range that have begun but have no cache file (fetch them)."""
        day = today()
        return [month for month in self.months if not self.facts(month).cached and month.start_ms // DAY_MS <= day]

    @property
    def future_months(self) -> list[Month]:
        """Months in range that have not begun yet (nothing to fetch; no cache file)."""
        day = today()
        return [month for month in self.months if not self.facts(month).cached and month.start_ms // DAY_MS > day]

    @property
    def incomplete_months(self) -> list[Month]:
        """Cached months that were fetched before they were over (figures may still grow)."""
        return [m for m in self.months if self.facts(m).cached and not self.facts(m).complete]

    # --- whole-range aggregates -----------------------------------------------------
    #
    # Everything below is derived once, lazily, from the ledger: first regrouped per
    # month as ``(user, model) -> totals`` (what the monthly sections read), then per
    # user and per model; coarse sums come from finer ones.

    @cached_property
    def _month_of_day(self) -> dict[int, Month]:
        """Each UTC day of the months in range, with its month."""
        return {day: month for month in self.months for day in month_days(month)}

    @cached_property
    def _month_cells(self) -> dict[Month, Any]:
        """``month -> ledger.MonthCells``: the loader's, or a ledger made by hand regrouped by month."""
        from .ledger import Ledger, cells_from_totals

        if isinstance(self.ledger, Ledger):
            return self.ledger.months
        month_of = self._month_of_day
        by_month: dict[Month, list[tuple[LedgerKey, UsageTotals]]] = {}
        for key, totals in self.ledger.items():
            by_month.setdefault(month_of[key[0]], []).append((key, totals))
        return {month: cells_from_totals(month.start_ms // DAY_MS, rows) for month, rows in by_month.items()}

    @cached_property
    def _cells(self) -> dict[Month, dict[tuple[str, str], UsageTotals]]:
        """``month -> (user, model) -> totals``: the ledger summed over days and max mode (summed once,
        by the process that decoded the month: ``ledger.MonthCells.sums``)."""
        month_cells = self._month_cells
        return {month: month_cells[month].sums().user_models if month in month_cells else {}
                for month in self.months}

    @property
    def totals(self) -> dict[tuple[Month, str, str], UsageTotals]:
        """``(month, user, model) -> totals`` (the ledger summed over days and max mode)."""
        return {(month, user, model): t for month, cells in self._cells.items() for (user, model), t in cells.items()}

    @cached_property
    def _index(self) -> "_Index":
        """Nested look-ups built once, so per-user and per-model accessors never scan everything.

        Each month's ``(user, model)`` totals are walked once, into that month's per-user and
        per-model tables; everything coarser is summed from those (a user's range from their months,
        not from every model of every month). Every table lists its names in the order they first
        appear, month by month (rankings never depend on it; the site's page names do)."""
        index = _Index()
        for month, cells in self._cells.items():
            user_models: dict[str, dict[str, UsageTotals]] = {}
            model_users: dict[str, dict[str, UsageTotals]] = {}
            for (user, model), t in cells.items():
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
        index.user_models = _over_months(index.month_user_models.values())
        # the same totals turned inside out, each model's users in the order their pairs first appear
        pairs = dict.fromkeys(chain.from_iterable(self._cells.values()))
        for user, model in pairs:
            found = index.model_users.get(model)
            if found is None:
                index.model_users[model] = found = {}
            found[user] = index.user_models[user][model]
        index.users = _months_summed(index.month_users.values())
        index.models = _months_summed(index.month_models.values())
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

    def user_model_totals(self, user: str, month: Month | None = None) -> dict[str, UsageTotals]:
        """``model -> totals`` of the models a user used (in ``month``, or over the range), unranked:
        for a plugin that looks a user's models up rather than lists them (no sort, no ``Ranked`` each)."""
        if month is None:
            return dict(self._index.user_models.get(user, {}))
        return dict(self._index.month_user_models.get(month, {}).get(user, {}))

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

    # --- days (the daily chart, the Daily page) -----------------------------------------------

    @property
    def days(self) -> list[int]:
        """Every UTC day covered (days since 1970-01-01), oldest first."""
        return list(range(self.range.first_day, self.range.last_day + 1))

    @cached_property
    def _day_index(self) -> "_DayIndex":
        """Per day, per (user, day) and per (model, day) sums: each month's (``ledger.MonthCells.sums``;
        a day lies in one month only)."""
        day_totals: dict[int, UsageTotals] = {}
        user_days: dict[str, dict[int, int]] = {}
        model_days: dict[str, dict[int, int]] = {}
        for cells in self._month_cells.values():
            sums = cells.sums()
            day_totals.update(sums.days)
            for into, more in ((user_days, sums.user_days), (model_days, sums.model_days)):
                for name, costs in more.items():
                    found = into.get(name)
                    if found is None:
                        into[name] = dict(costs)
                    else:
                        found.update(costs)
        return _DayIndex(day_totals, user_days, model_days)

    def day_total(self, day: int) -> UsageTotals:
        """Everything on ``day`` (zero for an idle or unfetched day: see :meth:`day_fetched`)."""
        return self._day_index.day_totals.get(day, ZERO)

    def cell_costs(self) -> Iterator[tuple[int, str, str, int]]:
        """``(day, user, model, cost)`` of every ledger cell (max mode and not apart), cheaply: for a
        plugin that must look at every cell (a chargeback), without a ``UsageTotals`` made for each."""
        ledger = self.ledger
        months = getattr(ledger, "months", None)
        if months is None:  # a ledger made by hand: a plain mapping
            return ((day, user, model, totals.cost) for (day, user, model, _max), totals in ledger.items())
        return (cell for cells in months.values() for cell in zip(
            cells.day, map(cells.users.__getitem__, cells.user), map(cells.models.__getitem__, cells.model),
            cells.columns[0]))

    def cell_columns(self) -> list[Any]:
        """The ledger's cells as columns, one ``ledger.MonthCells`` per month (``.day``, ``.model`` and
        ``.user`` codes into ``.models`` / ``.users``, ``.max_mode``, and ``.columns``: one integer
        column per :class:`UsageTotals` field): for a plugin that sums every cell by keys of its own and
        can do it a column at a time (far faster than a ``UsageTotals`` per cell). Read-only."""
        return list(self._month_cells.values())

    def by_day(self) -> dict[int, UsageTotals]:
        """Every day covered, oldest first, with its totals (zero when idle: see :meth:`day_fetched`)."""
        day_totals = self._day_index.day_totals
        return {day: day_totals.get(day, ZERO) for day in self.days}

    def user_cost_by_day(self, user: str) -> dict[int, int]:
        """The user's spend (micro-cents) on each day they spent anything."""
        return dict(self._day_index.user_days.get(user, {}))

    def model_cost_by_day(self, model: str) -> dict[int, int]:
        """The model's spend (micro-cents) on each day it was used."""
        return dict(self._day_index.model_days.get(model, {}))

    def day_fetched(self, day: int) -> bool:
        """Whether the day's month has a cache file (else its figures are unknown, not zero)."""
        month = self._month_of_day.get(day)
        return month is not None and self.facts(month).cached

    def day_partial(self, day: int) -> bool:
        """Whether the day was not over when its month was last fetched (its figures may grow),
        or lies after that fetch (nothing of it is known yet)."""
        month = self._month_of_day.get(day)
        if month is None:
            return False
        facts = self.facts(month)
        if not facts.cached or facts.complete or facts.fetched_at is None:
            return False
        fetched_ms = int(facts.fetched_at.timestamp() * 1000)
        return (day + 1) * DAY_MS > fetched_ms

    def day_begun(self, day: int) -> bool:
        """Whether the day had begun when its month was last fetched (a month not fetched: whether
        it has begun by now). A day that had not is unknown, not a quiet day."""
        month = self._month_of_day.get(day)
        if month is None:
            return False
        facts = self.facts(month)
        if not facts.cached:
            return day <= today()
        if facts.complete or facts.fetched_at is None:
            return True
        return day * DAY_MS <= int(facts.fetched_at.timestamp() * 1000)

    def chart_days(self, limit: int = 60) -> list[int]:
        """The last ``limit`` covered days that had begun (see :meth:`day_begun`): a daily chart's days."""
        return [day for day in self.days if self.day_begun(day)][-limit:]

    def daily_costs(self, days: Sequence[int], cost_by_day: Mapping[int, int]) -> list[int | None]:
        """``cost_by_day`` on each of ``days``: 0 on a quiet day, ``None`` on a day not fetched."""
        return [cost_by_day.get(day, 0) if self.day_fetched(day) else None for day in days]

    def biggest_user_days(self, limit: int) -> list[UserDay]:
        """The ``limit`` costliest (user, day) pairs, highest first (ties: day, then user), each with
        the model the user spent most on that day."""
        user_days = self._day_index.user_days
        best = {user: max(costs.values(), default=-math.inf) for user, costs in user_days.items()}
        # A day costing less than the ``limit``-th highest of the users' best days cannot be among the
        # ``limit`` costliest (those best days are ``limit`` user-days already): only the others are ranked.
        floor = heapq.nlargest(limit, best.values())[-1] if 0 < limit <= len(best) else -math.inf
        candidates = [(-cost, day, user) for user, costs in user_days.items() if best[user] >= floor
                      for day, cost in costs.items() if cost >= floor]
        chosen = {(user, day) for _, day, user in heapq.nsmallest(limit, candidates)}
        rows: dict[tuple[str, int], list[UsageTotals]] = {key: [] for key in chosen}
        model_costs: dict[tuple[str, int], dict[str, int]] = {key: {} for key in chosen}
        chosen_days = {day for _, day in chosen}
        for cells in self._month_cells.values():
            # only the cells of the chosen days (picked out column-wise: a month has many cells)
            picked = compress(range(len(cells.day)), map(chosen_days.__contains__, cells.day))
            users, models, columns = cells.users, cells.models, cells.columns
            for row in picked:
                user, day = users[cells.user[row]], cells.day[row]
                found = rows.get((user, day))
                if found is not None:
                    t = UsageTotals._make([column[row] for column in columns])
                    found.append(t)
                    costs = model_costs[(user, day)]
                    model = models[cells.model[row]]
                    costs[model] = costs.get(model, 0) + t.cost
        found_days = [
            UserDay(user, day, _sum(totals), min(model_costs[(user, day)].items(), key=lambda mc: (-mc[1], mc[0]))[0])
            for (user, day), totals in rows.items()
        ]
        return sorted(found_days, key=lambda d: (-d.cost, d.day, d.user))

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
class _DayIndex:
    day_totals: dict[int, UsageTotals]
    user_days: dict[str, dict[int, int]]
    model_days: dict[str, dict[int, int]]


def month_days(month: Month) -> range:
    """The UTC days of ``month`` (days since 1970-01-01)."""
    return range(month.start_ms // DAY_MS, month.end_ms // DAY_MS)


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


def _by_name(months: Iterable[Mapping[str, Any]]) -> dict[str, list[Any]]:
    """Each name of the months' tables with its months' values, oldest first (names in the order
    they first appear)."""
    found: dict[str, list[Any]] = {}
    for month in months:
        for name, value in month.items():
            values = found.get(name)
            if values is None:
                found[name] = [value]
            else:
                values.append(value)
    return found


def _over_months(months: Iterable[Mapping[str, Mapping[str, UsageTotals]]]) -> dict[str, dict[str, UsageTotals]]:
    """``name -> {other name -> totals}`` tables of each month summed over the months (names in the
    order they first appear)."""
    return {name: _merged(tables) for name, tables in _by_name(months).items()}


def _merged(tables: list[Mapping[str, UsageTotals]]) -> dict[str, UsageTotals]:
    if len(tables) == 1:
        return dict(tables[0])
    return {key: _sum([table[key] for table in tables if key in table])
            for key in dict.fromkeys(chain.from_iterable(tables))}


def _months_summed(months: Iterable[Mapping[str, UsageTotals]]) -> dict[str, UsageTotals]:
    """``name -> totals`` tables of each month summed over the months (names in the order they first
    appear)."""
    return {name: _sum(totals) for name, totals in _by_name(months).items()}


def _requests_and_costs_within(cells: Any, days: range) -> dict[tuple[str, str], tuple[int, int]]:
    """``(user, model) -> (requests, cost)`` over the cells (a ``ledger.MonthCells``) of ``days``: only
    those cells are visited (picked out column-wise), and only the two columns it needs are read."""
    pairs: dict[tuple[int, int], list[int]] = {}
    inside = map(days.__contains__, cells.day)
    for user, model, cost, requests in compress(zip(cells.user, cells.model, *cells.columns[:2]), inside):
        sums = pairs.get((user, model))
        if sums is None:
            pairs[(user, model)] = [requests, cost]
        else:
            sums[0] += requests
            sums[1] += cost
    users, models = cells.users, cells.models
    return {(users[user], models[model]): (requests, cost) for (user, model), (requests, cost) in pairs.items()}


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
    "LedgerKey",
    "REMOVED_USER",
    "UNKNOWN_MODEL",
    "DataQuality",
    "MonthFacts",
    "OnDemandUsage",
    "Ranked",
    "UsageTotals",
    "UserDay",
    "month_days",
    "rank",
]
