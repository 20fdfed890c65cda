"""The demo company: the team ``billing-reports build --demo`` and ``billing-reports fake-api`` serve.

A believable team rather than a uniform draw, so that every section of the report has something
to show. Over the six months ending with the current one (month 0 is the oldest):

- 33 people with their own habits: a few heavy users of the costliest models (Claude Opus thinking
  in max mode, o3), a middle of steady users, a long tail of light ones, each with favourite models,
  working hours (time zones) and a weekday/weekend rhythm; one listed member never uses on-demand;
- ``claude-4.6-sonnet`` is released mid-month 2 and adopted gradually (first events that month,
  more each month after), mostly by people moving from ``claude-4.5-sonnet``;
- one day of month 4 on which Jonas runs a migration on Opus in max mode: far above his usual day;
- people join (months 1, 3, 4 and 5) and leave (one stops in month 2, one in month 3, both still
  listed); two leave and are removed from the team, so the API sends their events without
  ``userEmail``;
- a CI service account (``ci-code-review``, owned by the platform lead) runs at night on weekdays
  from month 3;
- team volume grows month on month except for a quiet month 3 (holidays);
- events before mid-month 2 come in the older format (no ``chargedCents``), later ones in the
  newest (``chargedCents``, some with ``discountPercentOff``, the service account's fields).

Everything day to day (how many requests, when, which model, their tokens) is drawn from the seed:
the same ``now`` and seed give the same events on every machine. Prices are per million tokens, as
the reference's token-based costs (``ModelPrice``).
"""

from __future__ import annotations

import random
from dataclasses import dataclass, replace
from datetime import datetime, timezone
from typing import Any

from billing_reports.fakeapi.team import (
    DEFAULT_MODELS, KIND_MIX, EventFormat, GeneratedTeam, ModelPrice, Now, ServiceAccount, TeamMember,
    TokenHabit, usage_event,
)
from billing_reports.fakeapi.billing import Billing, GroupPlan
from billing_reports.months import DAY_MS, Month, months_in_range, utc_now
from billing_reports.periods import cycle_containing, date_of_day, day_of_ms, parse_day

HOUR_MS = 60 * 60 * 1000
DEMO_MONTHS = 6

_BY_NAME = {model.name: model for model in DEFAULT_MODELS}
#: The demo's models: the synthetic team's prices (cents per million tokens), plus the model adopted
#: mid-period and a cheap one of Cursor's own. Max mode where Cursor offers it.
DEMO_MODELS: dict[str, ModelPrice] = {model.name: model for model in (
    replace(_BY_NAME["claude-4.6-opus-high-thinking"], thinking=True),
    replace(_BY_NAME["claude-4.5-sonnet"], max_mode=True),
    ModelPrice("claude-4.6-sonnet", 300, 1500, 375, 30, max_mode=True),
    _BY_NAME["gpt-5"],
    _BY_NAME["gpt-5-codex"],
    replace(_BY_NAME["gemini-2.5-pro"], max_mode=True),
    replace(_BY_NAME["o3"], thinking=True),
    _BY_NAME["auto"],
    _BY_NAME["composer-1"],
    ModelPrice("grok-code-fast-1", 20, 150, 0, 2, token_fee=False),
)}

#: The model released during the period, and what its adopters move away from.
NEW_MODEL, REPLACED_MODEL = "claude-4.6-sonnet", "claude-4.5-sonnet"
#: (month index, day) of its release.
NEW_MODEL_RELEASE = (2, 15)
#: (month index, day) from which events come in the newest format (``chargedCents`` and the rest).
NEWEST_FORMAT_FROM = (2, 10)
#: Team volume by month index: growth, with a quiet month 3 (holidays).
MONTH_VOLUME = (0.7, 0.8, 0.95, 0.68, 1.0, 1.15)
#: Who spikes, in which month, how many times their usual requests, on which model.
SPIKE_PERSON, SPIKE_MONTH, SPIKE_FACTOR, SPIKE_MODEL = "Jonas Weber", 4, 10.0, "claude-4.6-opus-high-thinking"

# Working hours in UTC, by where people sit.
EUROPE, INDIA, US_EAST, US_WEST, ASIA = (7, 17), (4, 13), (13, 22), (16, 24), (0, 9)


@dataclass(frozen=True)
class Habit:
    """How one person (or a service account) uses Cursor in the demo."""

    name: str
    #: Events (of every kind) on an ordinary working day.
    requests_per_workday: float
    #: Favourite models and how often each is picked.
    models: tuple[tuple[str, float], ...]
    tokens: TokenHabit = TokenHabit(max_mode_share=0.0)
    #: A weekend day's usage, as a share of a working day's.
    weekend: float = 0.06
    hours: tuple[int, int] = EUROPE
    #: (month index, day) of the first and last day of usage; ``None``: the whole period.
    joins: tuple[int, int] | None = None
    leaves: tuple[int, int] | None = None
    #: Left and removed from the team: the API sends their events without ``userEmail``.
    removed: bool = False
    #: How far they move from ``REPLACED_MODEL`` to ``NEW_MODEL`` once it is out (0 to 1).
    adopts_new_model: float = 0.0
    role: str = "member"
    #: A service account's owner (its events carry the owner's e-mail and are headless).
    owner: str | None = None

    @property
    def email(self) -> str:
        return self.name.lower().replace(" ", ".") + "@example.com"


HEAVY = TokenHabit(context=0.3, max_mode_share=0.5, max_mode_context=0.5, thinking_output=1.0)
STEADY = TokenHabit(context=0.1, max_mode_share=0.15, max_mode_context=0.5, thinking_output=0.8)
LIGHT = TokenHabit(context=-0.4, max_mode_share=0.0, thinking_output=0.6)

DEMO_HABITS: tuple[Habit, ...] = (
    # The heavy users of the costliest models.
    Habit("Maya Chen", 16, (("claude-4.6-opus-high-thinking", 0.7), ("claude-4.5-sonnet", 0.3)), HEAVY,
          weekend=0.25, hours=US_WEST, adopts_new_model=0.3),
    Habit("Dmitri Volkov", 22, (("o3", 0.55), ("gemini-2.5-pro", 0.45)), replace(HEAVY, context=0.6)),
    Habit("Priya Raman", 30, (("gpt-5", 0.6), ("gpt-5-codex", 0.3), ("auto", 0.1)),
          replace(STEADY, context=0.3), hours=INDIA),
    Habit("Jonas Weber", 14, (("claude-4.5-sonnet", 0.8), ("gpt-5", 0.2)), STEADY, adopts_new_model=0.9),
    # The steady middle.
    Habit("Sam Okafor", 8, (("claude-4.5-sonnet", 0.6), ("auto", 0.4)), STEADY, hours=US_EAST,
          adopts_new_model=0.5, role="owner"),
    Habit("Lena Fischer", 10, (("claude-4.5-sonnet", 0.7), ("gemini-2.5-pro", 0.3)), STEADY, adopts_new_model=0.8),
    Habit("Carlos Mendes", 9, (("gpt-5-codex", 0.7), ("gpt-5", 0.3)), STEADY, hours=US_EAST),
    Habit("Aisha Bello", 12, (("claude-4.5-sonnet", 0.6), ("gpt-5", 0.4)),
          replace(STEADY, max_mode_share=0.4), adopts_new_model=0.7),
    Habit("Tomasz Nowak", 7, (("gemini-2.5-pro", 0.7), ("auto", 0.3)), STEADY),
    Habit("Hiro Tanaka", 10, (("gpt-5", 0.5), ("o3", 0.2), ("claude-4.5-sonnet", 0.3)), STEADY, hours=ASIA,
          adopts_new_model=0.4),
    Habit("Nora Lindqvist", 9, (("claude-4.5-sonnet", 0.9), ("composer-1", 0.1)), STEADY, adopts_new_model=1.0),
    Habit("Ravi Patel", 11, (("auto", 0.5), ("gpt-5", 0.5)), STEADY, hours=INDIA, weekend=0.15),
    Habit("Elena Petrova", 6, (("composer-1", 0.6), ("grok-code-fast-1", 0.4)), STEADY),
    Habit("Ben Carter", 8, (("claude-4.5-sonnet", 0.6), ("gpt-5-codex", 0.4)), STEADY, hours=US_WEST,
          adopts_new_model=0.6),
    # The long tail.
    Habit("Julia Santos", 4, (("auto", 1.0),), LIGHT, hours=US_EAST),
    Habit("Omar Haddad", 3, (("gpt-5", 1.0),), LIGHT),
    Habit("Grace Kim", 5, (("claude-4.5-sonnet", 0.5), ("auto", 0.5)), LIGHT, hours=US_WEST, adopts_new_model=0.5),
    Habit("Felix Braun", 2, (("composer-1", 1.0),), LIGHT),
    Habit("Mia Rossi", 3, (("gemini-2.5-pro", 0.5), ("auto", 0.5)), LIGHT),
    Habit("Ivan Horvat", 1.5, (("auto", 1.0),), LIGHT),
    Habit("Sofia Alvarez", 6, (("gpt-5-codex", 1.0),), LIGHT, hours=US_EAST),
    Habit("Kwame Mensah", 2.5, (("grok-code-fast-1", 0.7), ("auto", 0.3)), LIGHT),
    Habit("Laura Dubois", 3.5, (("claude-4.5-sonnet", 1.0),), LIGHT, adopts_new_model=0.3),
    Habit("Arjun Nair", 4, (("gpt-5", 0.7), ("o3", 0.3)), LIGHT, hours=INDIA),
    # Joiners: a new hire each in months 1, 3, 4 and 5.
    Habit("Chloe Martin", 10, (("claude-4.5-sonnet", 0.6), ("gpt-5", 0.4)), STEADY, joins=(1, 10),
          adopts_new_model=1.0),
    Habit("Mateo Garcia", 14, (("claude-4.6-opus-high-thinking", 0.4), ("claude-4.5-sonnet", 0.6)),
          replace(HEAVY, max_mode_share=0.3), hours=US_EAST, joins=(3, 1), adopts_new_model=0.6),
    Habit("Yuki Sato", 6, (("auto", 0.6), ("composer-1", 0.4)), LIGHT, hours=ASIA, joins=(4, 15)),
    Habit("Zara Ahmed", 8, (("claude-4.6-sonnet", 0.7), ("gpt-5", 0.3)), STEADY, joins=(5, 3)),
    # Leavers: two stop but stay listed, two leave and are removed.
    Habit("Peter Novak", 8, (("gpt-5", 1.0),), STEADY, leaves=(2, 20)),
    Habit("Emma Wilson", 2, (("auto", 1.0),), LIGHT, hours=US_EAST, leaves=(3, 12)),
    Habit("Hannah Weiss", 11, (("claude-4.6-opus-high-thinking", 0.4), ("claude-4.5-sonnet", 0.6)), STEADY,
          leaves=(2, 24), removed=True),
    Habit("Lucas Moreau", 6, (("auto", 1.0),), LIGHT, leaves=(1, 12), removed=True),
    # Listed, never on-demand.
    Habit("Ines Costa", 0, (("auto", 1.0),), LIGHT),
)

#: The CI code-review bot: weekday nights from month 3, billed to its owner's e-mail.
DEMO_SERVICE_ACCOUNT = Habit("ci-code-review", 18, (("gpt-5-codex", 0.6), ("claude-4.5-sonnet", 0.4)),
                             replace(STEADY, context=0.3), weekend=0.0, hours=(1, 4), joins=(3, 5),
                             owner="Sam Okafor")
SERVICE_ACCOUNT_ID = "sa_7c1e4b20d9"

_OLDER_FORMAT = EventFormat(older_format_share=1.0, discount_share=0.0, service_account_share=0.0, fee_share=0.6)
_NEWEST_FORMAT = EventFormat(older_format_share=0.0, discount_share=0.12, service_account_share=0.0, fee_share=0.6)
_SERVICE_ACCOUNT_FORMAT = replace(_NEWEST_FORMAT, service_account_share=1.0)


@dataclass(frozen=True)
class _Actor:
    habit: Habit
    member: TeamMember
    service_accounts: tuple[ServiceAccount, ...] = ()


class DemoTeam(GeneratedTeam):
    """The demo company (see the module's docstring): the six months ending with ``now``'s month."""

    def __init__(self, *, seed: int = 2026, now: Now = utc_now) -> None:
        self.seed = seed
        self.now = now
        self.models = tuple(DEMO_MODELS.values())
        self.months = tuple(months_in_range(Month.of(now()), DEMO_MONTHS))
        self.members = tuple(
            TeamMember(id=1000 + index, email=habit.email, name=habit.name, role=habit.role,
                       is_removed=habit.removed, activity=habit.requests_per_workday)
            for index, habit in enumerate(DEMO_HABITS)
        )
        by_name = {member.name: member for member in self.members}
        bot = DEMO_SERVICE_ACCOUNT
        self.service_accounts = (ServiceAccount(SERVICE_ACCOUNT_ID, bot.name, by_name[bot.owner]),)
        self._actors = tuple(_Actor(habit, by_name[habit.name]) for habit in DEMO_HABITS) + (
            _Actor(bot, by_name[bot.owner], self.service_accounts),)
        self.billing = demo_billing(now())
        super().__init__()

    def instant(self, month_index: int, day: int) -> int:
        """Epoch ms of 00:00 UTC on ``day`` of month ``month_index`` of the period."""
        return self.months[month_index].start_ms + (day - 1) * DAY_MS

    @property
    def spike_day(self) -> int:
        """Epoch ms of the spike's day: the first Tuesday from the 9th of month ``SPIKE_MONTH``."""
        ninth = self.instant(SPIKE_MONTH, 9)
        weekday = datetime.fromtimestamp(ninth / 1000, tz=timezone.utc).weekday()
        return ninth + ((1 - weekday) % 7) * DAY_MS

    def _generate(self, month: Month) -> tuple[list[int], list[dict[str, Any]]]:
        rng = random.Random(f"demo/{self.seed}/{month.key}")
        index = self.months.index(month)
        release, newest_from = self.instant(*NEW_MODEL_RELEASE), self.instant(*NEWEST_FORMAT_FROM)
        spike_day = self.spike_day
        kind_weights = [kind[3] for kind in KIND_MIX]
        dated: list[tuple[int, dict[str, Any]]] = []
        for day in range(1, month.days + 1):
            day_start = month.start_ms + (day - 1) * DAY_MS
            workday = datetime.fromtimestamp(day_start / 1000, tz=timezone.utc).weekday() < 5
            for actor in self._actors:
                habit = actor.habit
                if not self._active(habit, day_start):
                    continue
                # Everyone's day varies (meetings, reviews, a deadline): a log-normal factor around 1.
                expected = (habit.requests_per_workday * MONTH_VOLUME[index] * (1.0 if workday else habit.weekend)
                            * rng.lognormvariate(-0.08, 0.4) * self._ramp(habit, day_start))
                tokens, models = habit.tokens, list(habit.models)
                if habit.name == SPIKE_PERSON and day_start == spike_day:
                    expected *= SPIKE_FACTOR
                    tokens = replace(tokens, max_mode_share=0.9, context=tokens.context + 0.5)
                    models = [(SPIKE_MODEL, 6.0), *models]
                count = int(expected) + (rng.random() < expected - int(expected))
                if count == 0:
                    continue
                adopted = self._adopted(habit, day_start, release)
                names = rng.choices([name for name, _ in models], weights=[weight for _, weight in models], k=count)
                kinds = rng.choices(KIND_MIX, weights=kind_weights, k=count)
                first_hour, last_hour = habit.hours
                for name, kind in zip(names, kinds):
                    if name == REPLACED_MODEL and rng.random() < adopted:
                        name = NEW_MODEL
                    stamp = day_start + rng.randrange(first_hour * HOUR_MS, last_hour * HOUR_MS)
                    if stamp < newest_from:
                        event_format = _OLDER_FORMAT
                    else:
                        event_format = _SERVICE_ACCOUNT_FORMAT if actor.service_accounts else _NEWEST_FORMAT
                    event = self._note_owner(usage_event(rng, stamp, actor.member, DEMO_MODELS[name], kind,
                                                         event_format, actor.service_accounts, habit=tokens),
                                             actor.member)
                    dated.append((stamp, event))
        dated.sort(key=lambda pair: pair[0])
        return [stamp for stamp, _ in dated], [event for _, event in dated]

    def _active(self, habit: Habit, day_start: int) -> bool:
        if habit.joins is not None and day_start < self.instant(*habit.joins):
            return False
        return habit.leaves is None or day_start <= self.instant(*habit.leaves)

    def _ramp(self, habit: Habit, day_start: int) -> float:
        """A new hire's first two weeks: from a third of their usual use up to all of it."""
        if habit.joins is None:
            return 1.0
        days_in = (day_start - self.instant(*habit.joins)) / DAY_MS
        return min(1.0, 0.35 + days_in / 21)

    @staticmethod
    def _adopted(habit: Habit, day_start: int, release: int) -> float:
        """The share of ``REPLACED_MODEL`` requests that go to ``NEW_MODEL`` on this day."""
        if day_start < release or not habit.adopts_new_model:
            return 0.0
        return habit.adopts_new_model * min(1.0, 0.15 + (day_start - release) / DAY_MS / 70)


#: The demo company's billing groups (Enterprise): by name, their members' first names.
DEMO_GROUPS = {
    "Platform": ("Sam", "Jonas", "Dmitri", "Ines", "Ivan", "Felix", "Emma"),
    "Product": ("Maya", "Priya", "Lena", "Carlos", "Aisha", "Tomasz", "Nora", "Ben", "Chloe", "Mateo"),
    "Data & ML": ("Hiro", "Ravi", "Elena", "Omar", "Grace", "Yuki"),
    "Mobile": ("Julia", "Mia", "Sofia", "Kwame", "Laura", "Peter"),
}
#: Synced from the identity provider (read-only in Cursor).
DEMO_SCIM_GROUP = "Data & ML"
#: Nora moves from Product to Data & ML a few days into the current billing cycle.
DEMO_MOVER, DEMO_MOVE_FROM, DEMO_MOVE_TO, DEMO_MOVE_AFTER_DAYS = "Nora", "Product", "Data & ML", 4


def demo_billing(now: datetime) -> Billing:
    """How Cursor bills the demo company: cycles from the 17th; a $150 per-user limit (Maya's raised
    to $1,500); Priya near her limit; Cursor's figure for Dmitri $4.20 above his events (a late
    adjustment); four billing groups, one synced by SCIM, Nora moving team in the current cycle;
    Arjun, Zara and the removed members in no group."""
    anchor = "2026-01-17"
    cycle = cycle_containing(day_of_ms(int(now.timestamp() * 1000)), parse_day(anchor))
    move_day = date_of_day(min(cycle.first_day + DEMO_MOVE_AFTER_DAYS, day_of_ms(int(now.timestamp() * 1000))))
    email = {habit.name.split()[0]: habit.email for habit in DEMO_HABITS}
    ids = {name: "group_" + name.lower().replace(" & ", "_").replace(" ", "_") for name in DEMO_GROUPS}
    groups = tuple(
        GroupPlan(ids[name], name, tuple(email[first] for first in firsts if first != DEMO_MOVER or name == DEMO_MOVE_FROM),
                  directory_group_id="okta_00g1data" if name == DEMO_SCIM_GROUP else None)
        for name, firsts in DEMO_GROUPS.items()
    )
    return Billing(
        cycle_anchor=anchor,
        default_limit=150.0,
        limits={email["Maya"]: 1500.0},
        near_limit=(email["Priya"],),
        adjustments={email["Dmitri"]: 420.0},
        groups=groups,
        moves=((email[DEMO_MOVER], ids[DEMO_MOVE_FROM], ids[DEMO_MOVE_TO], move_day.isoformat()),),
    )


def demo_team(now: Now = utc_now, *, seed: int = 2026) -> DemoTeam:
    """The demo company (``DemoTeam``): 33 people and a CI service account, six months ending now."""
    return DemoTeam(seed=seed, now=now)


__all__ = ["DEMO_HABITS", "DEMO_MODELS", "DEMO_SERVICE_ACCOUNT", "DemoTeam", "Habit", "demo_team"]
