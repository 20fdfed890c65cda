"""A deterministic synthetic Cursor team: members, models and usage events for the fake API.

Everything follows from the ``seed``: the same team serves the same events on every machine. Each
month's events are generated once (on first request) and kept sorted by timestamp, so a window of a
100k-event month is served with two bisections and a slice.

Events come in both formats a real team's history mixes (see the reference page, "Cost, discounts
and ``chargedCents``"): most in the **newest** one, with ``chargedCents`` (what Cursor bills,
rounded to the cent like the docs' example), a ``tokenUsage.discountPercentOff`` on some, and
service-account events (``serviceAccountId``, ``serviceAccountName``, ``isHeadless``, still with a
``userEmail``); the rest in the **older** one, with neither (cost ``totalCents + cursorTokenFee``).
``cursorTokenFee`` is only ever sent for third-party models, never for Cursor's own.
"""

from __future__ import annotations

import bisect
import math
import random
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Callable, Iterable, NamedTuple, Sequence

from billing_reports.money import MICROCENTS_PER_CENT
from billing_reports.months import Month, months_in_range, utc_now
from billing_reports.on_demand import EventCost, event_cost, is_on_demand

Now = Callable[[], datetime]

ON_DEMAND_KIND = "Usage-based"


@dataclass(frozen=True)
class ModelPrice:
    """A model and its list prices in **cents per million tokens**."""

    name: str
    input: float
    output: float
    cache_write: float
    cache_read: float
    #: How often members pick it, relative to the other models.
    popularity: float = 1.0
    max_mode: bool = False
    #: Whether the Cursor token fee applies: third-party models (and Auto, which routes to them),
    #: never Cursor's own models.
    token_fee: bool = True
    #: A reasoning model: its answers are long (the demo team draws more output tokens for it).
    thinking: bool = False


DEFAULT_MODELS: tuple[ModelPrice, ...] = (
    ModelPrice("claude-4.6-opus-high-thinking", 1500, 7500, 1875, 150, popularity=1.5, max_mode=True),
    ModelPrice("claude-4.5-sonnet", 300, 1500, 375, 30, popularity=4.0),
    ModelPrice("gpt-5", 125, 1000, 0, 12.5, popularity=3.0),
    ModelPrice("gpt-5-codex", 125, 1000, 0, 12.5, popularity=1.5),
    ModelPrice("gemini-2.5-pro", 125, 1000, 0, 31, popularity=1.0),
    ModelPrice("o3", 200, 800, 0, 50, popularity=0.5),
    ModelPrice("auto", 125, 600, 0, 25, popularity=2.0),
    ModelPrice("composer-1", 125, 1000, 0, 12.5, popularity=0.8, token_fee=False),
)

#: (kind, isChargeable, isTokenBasedCall, share of all events). The first row is on-demand spend.
KIND_MIX: tuple[tuple[str, bool, bool, float], ...] = (
    (ON_DEMAND_KIND, True, True, 0.72),
    ("Included in Business", False, True, 0.15),
    (ON_DEMAND_KIND, False, True, 0.04),
    (ON_DEMAND_KIND, True, False, 0.02),
    ("Errored, Not Charged", False, True, 0.03),
    ("Aborted, Not Charged", False, True, 0.02),
    ("Free", False, True, 0.01),
    ("Included in Pro", False, True, 0.01),
)

#: The Cursor token fee in cents per million tokens (sent as ``cursorTokenFee`` when it applies).
TOKEN_FEE_CENTS_PER_MTOK = 25.0
#: The ``discountPercentOff`` values a discounted event carries.
DISCOUNTS_PERCENT = (10, 20)
#: Kinds that are not on-demand spend yet carry ``chargedCents`` in the newest format (the docs'
#: "Included in Business" example has 8); errored, aborted and free requests carry none.
INCLUDED_KINDS = frozenset({"Included in Business", "Included in Pro"})


@dataclass(frozen=True)
class TeamMember:
    id: int
    email: str
    name: str
    role: str
    #: Removed members' events arrive without ``userEmail``.
    is_removed: bool
    #: Relative share of the team's usage.
    activity: float


@dataclass(frozen=True)
class ServiceAccount:
    """A service account: its events are headless and carry its owner's ``userEmail``."""

    id: str
    name: str
    owner: TeamMember


@dataclass(frozen=True)
class EventFormat:
    """Which fields a synthetic team's events carry, each as a share of the events it applies to."""

    #: Events in the older format: no ``chargedCents``, no discount, no service account.
    older_format_share: float
    #: Newest-format token-based events with a ``tokenUsage.discountPercentOff``.
    discount_share: float
    #: Newest-format events sent by a service account.
    service_account_share: float
    #: Chargeable events of a model with the token fee that carry ``cursorTokenFee``.
    fee_share: float


@dataclass(frozen=True)
class TokenHabit:
    """How big one person's requests are: shifts of the log-normal token counts, and max mode."""

    #: Added to the log of every token count (0.7: about twice the tokens).
    context: float = 0.0
    #: Share of the events of a max-mode model that use max mode.
    max_mode_share: float = 0.5
    #: Added to ``context`` for a max-mode event (its larger context window gets used).
    max_mode_context: float = 0.0
    #: Added to the log of the output tokens of a thinking model (``ModelPrice.thinking``).
    thinking_output: float = 0.0


#: The synthetic team's habit: every member alike, half the max-mode model's events in max mode.
SYNTHETIC_HABIT = TokenHabit()


class OnDemandTotals(NamedTuple):
    """What a list of events adds up to under the cost rule (``on_demand.event_cost``)."""

    requests: int
    #: Micro-cents billed: ``chargedCents``, else ``totalCents x (1 - discount) + cursorTokenFee``.
    cost: int
    #: Micro-cents before any discount: ``totalCents + cursorTokenFee``.
    list_cost: int


def event_money(event: dict[str, Any]) -> EventCost:
    """What an on-demand event the fake serves costs, by the cost rule (a missing or null part counts 0,
    as the rule says)."""
    usage = event.get("tokenUsage") or {}
    return event_cost(usage.get("totalCents") or 0, event.get("cursorTokenFee") or 0,
                      usage.get("discountPercentOff") or 0, event.get("chargedCents"))


def on_demand_totals(events: Iterable[dict[str, Any]]) -> OnDemandTotals:
    """Requests, cost and list cost of the on-demand events among ``events`` (a test's expectation)."""
    requests = cost = list_cost = 0
    for event in events:
        if not is_on_demand(event):
            continue
        money = event_money(event)
        requests += 1
        cost += money.charged
        list_cost += money.list
    return OnDemandTotals(requests, cost, list_cost)


class GeneratedTeam:
    """A team whose months are generated on first request (by ``_generate``) and kept sorted by
    timestamp, so a window of a 100k-event month is served with two bisections and a slice."""

    months: tuple[Month, ...]
    now: Now
    members: tuple[TeamMember, ...]

    def __init__(self) -> None:
        self._month_cache: dict[Month, tuple[list[int], list[dict[str, Any]]]] = {}
        #: A removed member's events carry no ``userEmail``; Cursor still knows whose they are.
        self._removed_owner: dict[int, str] = {}

    def member_of(self, event: dict[str, Any]) -> str | None:
        """Whose an event is, as Cursor knows it: its ``userEmail``, or the removed member who sent it."""
        email = event.get("userEmail")
        return email if isinstance(email, str) else self._removed_owner.get(id(event))

    def _note_owner(self, event: dict[str, Any], member: TeamMember) -> dict[str, Any]:
        if member.is_removed:
            self._removed_owner[id(event)] = member.email  # (the event is kept in the month cache)
        return event

    def events_between(self, start_ms: int, end_ms: int, email: str | None = None) -> list[dict[str, Any]]:
        """Events with ``start_ms <= timestamp <= end_ms`` (both inclusive) up to now, oldest first."""
        end_ms = min(end_ms, _epoch_ms(self.now()))
        found: list[dict[str, Any]] = []
        if end_ms < start_ms:
            return found
        for month in self.months:
            if month.end_ms <= start_ms or month.start_ms > end_ms:
                continue
            stamps, events = self._month(month)
            low = bisect.bisect_left(stamps, start_ms)
            high = bisect.bisect_right(stamps, end_ms)
            found.extend(events[low:high])
        if email is not None:
            found = [event for event in found if event.get("userEmail") == email]
        return found

    def month_events(self, month: Month) -> list[dict[str, Any]]:
        """All events of ``month`` up to now (the fetch of that month must return exactly these)."""
        return self.events_between(month.start_ms, month.end_ms - 1)

    def on_demand_totals(self, month: Month) -> OnDemandTotals:
        """What ``month``'s on-demand events up to now add up to, under the cost rule."""
        return on_demand_totals(self.month_events(month))

    def _month(self, month: Month) -> tuple[list[int], list[dict[str, Any]]]:
        cached = self._month_cache.get(month)
        if cached is None:
            cached = self._month_cache[month] = self._generate(month)
        return cached

    def _generate(self, month: Month) -> tuple[list[int], list[dict[str, Any]]]:
        """The whole month's timestamps and events, sorted by timestamp (``now`` cuts them later)."""
        raise NotImplementedError


class SyntheticTeam(GeneratedTeam):
    """A team whose usage the fake API serves: members and models drawn alike all month long.

    :param seed: everything below is derived from it.
    :param users: members, ``removed_users`` of them later removed from the team.
    :param models: the models members use, with prices.
    :param events_per_month: events of **all** kinds in a full month (about 72% are on-demand).
    :param months: the months with usage; default the ``months_count`` months ending with the
        current month of ``now``.
    :param now: the clock; no event is later than ``now()`` (the current month is partial).
    :param fee_share: share of chargeable events of third-party models that carry ``cursorTokenFee``.
    :param older_format_share: share of events in the older format (no ``chargedCents``, no
        discount, no service account), as months fetched before mid-2026 hold them.
    :param discount_share: share of newest-format token-based events with ``discountPercentOff``.
    :param service_accounts: service accounts, each owned by a current member.
    :param service_account_share: share of newest-format events sent by a service account.
    """

    def __init__(
        self,
        *,
        seed: int = 2026,
        users: int = 25,
        removed_users: int = 3,
        models: Sequence[ModelPrice] = DEFAULT_MODELS,
        events_per_month: int = 4000,
        months: Iterable[Month] | None = None,
        months_count: int = 6,
        now: Now = utc_now,
        fee_share: float = 0.6,
        older_format_share: float = 0.2,
        discount_share: float = 0.15,
        service_accounts: int = 2,
        service_account_share: float = 0.05,
    ) -> None:
        if users < 1 or not 0 <= removed_users <= users:
            raise ValueError("need at least one user and 0 <= removed_users <= users")
        if not models:
            raise ValueError("need at least one model")
        self.seed = seed
        self.models = tuple(models)
        self.events_per_month = events_per_month
        self.now = now
        self.event_format = EventFormat(older_format_share, discount_share, service_account_share, fee_share)
        self.months = tuple(sorted(months)) if months is not None else tuple(
            months_in_range(Month.of(now()), months_count)
        )
        self.members = _members(seed, users, removed_users)
        self.service_accounts = _service_accounts(seed, self.members, service_accounts)
        super().__init__()

    def _generate(self, month: Month) -> tuple[list[int], list[dict[str, Any]]]:
        rng = random.Random(f"{self.seed}/{month.key}")
        count = max(self.events_per_month, 0)
        start, stop = month.start_ms, month.end_ms
        stamps = sorted(rng.randrange(start, stop) for _ in range(count))
        # The instants a careless window split loses or counts twice.
        edges = [start, stop - 1]
        for window_start in (w.start_ms for w in month.windows()[1:]):
            edges += [window_start - 1, window_start]
        if count >= len(edges):
            stamps[: len(edges)] = []
            stamps = sorted(stamps + edges)
        members = rng.choices(self.members, weights=[m.activity for m in self.members], k=count)
        models = rng.choices(self.models, weights=[m.popularity for m in self.models], k=count)
        kinds = rng.choices(KIND_MIX, weights=[k[3] for k in KIND_MIX], k=count)
        events = [
            self._note_owner(usage_event(rng, stamp, member, model, kind, self.event_format, self.service_accounts),
                             member)
            for stamp, member, model, kind in zip(stamps, members, models, kinds)
        ]
        return stamps, events


class StaticTeam:
    """A team that serves exactly the events it is given (tests with hand-computed expectations).

    :param events: usage events as the API sends them (``timestamp`` a string of epoch ms).
    :param members: for ``GET /teams/members``.
    """

    def __init__(self, events: Iterable[dict[str, Any]], *, members: Sequence[TeamMember] = (),
                 now: Now = utc_now) -> None:
        self.events = sorted(events, key=lambda event: int(event["timestamp"]))
        self.stamps = [int(event["timestamp"]) for event in self.events]
        self.members = tuple(members)
        self.now = now

    def events_between(self, start_ms: int, end_ms: int, email: str | None = None) -> list[dict[str, Any]]:
        """Events with ``start_ms <= timestamp <= end_ms`` up to now, oldest first."""
        end_ms = min(end_ms, _epoch_ms(self.now()))
        low = bisect.bisect_left(self.stamps, start_ms)
        high = bisect.bisect_right(self.stamps, end_ms)
        found = self.events[low:high] if low < high else []
        if email is not None:
            found = [event for event in found if event.get("userEmail") == email]
        return found


def _members(seed: int, users: int, removed: int) -> tuple[TeamMember, ...]:
    rng = random.Random(f"{seed}/members")
    first = ["ada", "alan", "grace", "linus", "margaret", "ken", "barbara", "dennis", "frances", "edsger",
             "radia", "guido", "john", "katherine", "tim", "donald", "shafi", "leslie", "sophie", "yukihiro"]
    members = []
    for index in range(users):
        name = f"{first[index % len(first)]}{'' if index < len(first) else index // len(first) + 1}"
        members.append(
            TeamMember(
                id=1000 + index,
                email=f"{name}@example.com",
                name=name.capitalize(),
                role="owner" if index == 0 else "member",
                is_removed=index >= users - removed,
                # A few heavy users, a long tail: top-spender tables have something to show.
                activity=round(1.0 / (index + 1) ** 0.9 * (0.5 + rng.random()), 6),
            )
        )
    return tuple(members)


def _service_accounts(seed: int, members: Sequence[TeamMember], count: int) -> tuple[ServiceAccount, ...]:
    rng = random.Random(f"{seed}/service-accounts")
    owners = [member for member in members if not member.is_removed]
    if not owners:
        return ()
    names = ["ci-code-review", "nightly-refactor", "docs-bot", "release-notes", "dependency-updates"]
    return tuple(
        ServiceAccount(
            id=f"sa_{rng.getrandbits(40):010x}",
            name=names[index % len(names)] + ("" if index < len(names) else f"-{index // len(names) + 1}"),
            owner=owners[index % len(owners)],
        )
        for index in range(count)
    )


def usage_event(
    rng: random.Random,
    stamp: int,
    member: TeamMember,
    model: ModelPrice,
    kind: tuple[str, bool, bool, float],
    event_format: EventFormat,
    service_accounts: Sequence[ServiceAccount],
    *,
    habit: "TokenHabit | None" = None,
) -> dict[str, Any]:
    """One usage event; ``habit`` (default: the synthetic team's) shapes its size and max mode."""
    habit = habit or SYNTHETIC_HABIT
    name, chargeable, token_based, _ = kind
    newest = rng.random() >= event_format.older_format_share
    service_account = (
        rng.choice(service_accounts)
        if newest and service_accounts and rng.random() < event_format.service_account_share
        else None
    )
    event: dict[str, Any] = {"timestamp": str(stamp)}
    if service_account is not None:
        event["userEmail"] = service_account.owner.email
    elif not member.is_removed:
        event["userEmail"] = member.email
    max_mode = model.max_mode and rng.random() < habit.max_mode_share
    event.update(
        model=model.name,
        kind=name,
        maxMode=max_mode,
        requestsCosts=round(rng.choice((0.5, 1, 1, 2, 4)) * (2 if max_mode else 1), 2),
        isTokenBasedCall=token_based,
        isChargeable=chargeable,
        isHeadless=service_account is not None or rng.random() < 0.05,
    )
    if service_account is not None:
        event["serviceAccountId"] = service_account.id
        event["serviceAccountName"] = service_account.name
    if token_based:
        # Log-normal sizes: ``habit`` shifts them (e^1 = 2.7 times the tokens), max mode more still.
        context = habit.context + (habit.max_mode_context if max_mode else 0.0)
        output = context + (habit.thinking_output if model.thinking else 0.0)
        input_tokens = int(rng.lognormvariate(8.5 + context, 1.0))
        output_tokens = int(rng.lognormvariate(6.5 + output, 1.0))
        cache_write = int(rng.lognormvariate(8.0 + context, 1.2)) if rng.random() < 0.6 else 0
        cache_read = int(rng.lognormvariate(10.0 + context, 1.2)) if rng.random() < 0.8 else 0
        total_cents = round(
            (input_tokens * model.input + output_tokens * model.output
             + cache_write * model.cache_write + cache_read * model.cache_read) / 1e6,
            5,
        )
        usage: dict[str, Any] = {
            "inputTokens": input_tokens,
            "outputTokens": output_tokens,
            "cacheWriteTokens": cache_write,
            "cacheReadTokens": cache_read,
            "totalCents": total_cents,
        }
        discount = 0
        if newest and rng.random() < event_format.discount_share:
            discount = usage["discountPercentOff"] = rng.choice(DISCOUNTS_PERCENT)
        event["tokenUsage"] = usage
        fee = 0.0
        if chargeable and model.token_fee and rng.random() < event_format.fee_share:
            tokens = input_tokens + output_tokens + cache_write + cache_read
            fee = round(tokens * TOKEN_FEE_CENTS_PER_MTOK / 1e6, 5)
            event["cursorTokenFee"] = fee
        if newest and (chargeable or name in INCLUDED_KINDS):
            # What Cursor bills, rounded to the cent as in the docs' example (40.167 cents, 10 %
            # off, fee 1.18: 37.33): within half a cent of the formula.
            billed = event_cost(total_cents, fee, discount).charged
            event["chargedCents"] = round(billed / MICROCENTS_PER_CENT, 2)
    # Fields of some doc versions, and one nobody documented: a client must keep them as sent.
    roll = rng.random()
    if roll < 0.1:
        if not newest:  # gone from the newest docs
            event["isFreeBugbot"] = False
    elif roll < 0.15:
        event["conversationId"] = f"conv_{rng.getrandbits(48):012x}"
    elif roll < 0.17:
        event["experimentalRoutingTier"] = rng.choice(("fast", "slow"))
    return event


def _epoch_ms(moment: datetime) -> int:
    return math.floor(moment.timestamp() * 1000)


__all__ = [
    "DEFAULT_MODELS",
    "KIND_MIX",
    "EventFormat",
    "ModelPrice",
    "OnDemandTotals",
    "ServiceAccount",
    "StaticTeam",
    "SyntheticTeam",
    "TeamMember",
    "TokenHabit",
    "GeneratedTeam",
    "on_demand_totals",
]
