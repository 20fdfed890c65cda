"""Budgets: what the team, each group and each person may spend per month (or billing cycle), the
spend so far against it and where the forecast says the period will end; and the budget alert rule.

Configured in ``plugins.budgets`` of config.yaml, in dollars. Groups are the chargeback section's
(its directory: Cursor's billing groups or the mapping file, see :mod:`plugins.chargeback`); each
group's spend is what chargeback charges it. Projections are :func:`billing_reports.forecast.period_forecast`,
the one the trend and the cards show, so the team's projected end reads the same cents everywhere.

The alert rule: a budget the period's spend has passed is ``critical`` (with the day it passed); one
the projected end passes is a ``warning`` (with the day the spend is projected to reach it). The key
``budget/KIND/SUBJECT/PERIOD`` keeps a standing alert the same one from run to run; its ``level`` is
the share of the budget (spent when passed, projected when not), so it is sent again as it worsens.
"""

from __future__ import annotations

import math

from dataclasses import dataclass
from fractions import Fraction
from typing import Annotated, Literal

import msgspec

from billing_reports import Column, Figure, GroupName, Person, Section, Table, hookimpl
from billing_reports.alerts import Alert, AlertFigure
from billing_reports.forecast import Forecast, day_reached, period_forecast, team_daily
from billing_reports.money import MICROCENTS_PER_DOLLAR, format_money
from billing_reports.months import DAY_MS, Month, today
from billing_reports.periods import Period, cycle_containing, date_of_day
from billing_reports.usage import OnDemandUsage

from ._common import projection_note, share
from .chargeback import SETTINGS_NAME as CHARGEBACK_SETTINGS, charge, group_directory

SLUG = "budgets"
SETTINGS_NAME = "budgets"
ORDER = 5
#: The site page an alert links to.
PAGE = f"{SLUG}.html"

#: A budget: at least a cent (less would be no micro-cents once exact, and nothing to project against).
Dollars = Annotated[float, msgspec.Meta(ge=0.01, le=1e9)]


class BudgetSettings(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    """``plugins.budgets`` in config.yaml: dollars per period."""

    period: Annotated[Literal["month", "cycle"], msgspec.Meta(description=(
        "what a budget covers: a calendar month (UTC) or a billing cycle (billing.cycle_start, or Cursor's "
        "cycle a fetch kept)"))] = "month"
    team_usd: Annotated[Dollars | None, msgspec.Meta(description="the team's budget per period; empty: none")] = None
    groups_usd: Annotated[dict[GroupName, Dollars], msgspec.Meta(description=(
        "a budget per group, by the group's name as the chargeback section shows it"))] = {}
    user_default_usd: Annotated[Dollars | None, msgspec.Meta(description=(
        "every person's budget per period, unless users_usd names them; empty: none"))] = None
    users_usd: Annotated[dict[Person, Dollars], msgspec.Meta(description=(
        "a budget per person (email, or a service account's name), overriding user_default_usd"))] = {}

    @property
    def any(self) -> bool:
        return bool(self.team_usd or self.groups_usd or self.user_default_usd or self.users_usd)


def team_budget(settings, grain: str) -> int | None:
    """The team's budget per period when budgets are kept per ``grain`` (``month``, ``cycle``), for
    the trend to draw; ``None`` otherwise (or without the budgets plugin loaded)."""
    try:
        chosen: BudgetSettings = settings.plugin(SETTINGS_NAME)
    except KeyError:
        return None
    return in_microcents(chosen.team_usd) if chosen.team_usd and chosen.period == grain else None


def in_microcents(dollars: float) -> int:
    """Dollars as written in config.yaml (``1234.56``), exactly, in micro-cents."""
    return round(Fraction(str(dollars)) * MICROCENTS_PER_DOLLAR)


@dataclass(frozen=True)
class Standing:
    """One budget in the period: whose (``kind`` team/group/user, ``subject``), the budget, the spend so
    far, the forecast (``None``: the period is over, or had no spend to project), and the day it was
    passed or is projected to be."""

    kind: str
    subject: str
    budget: int
    spent: int
    projected: int
    low: int
    high: int
    passed_on: int | None
    passing_on: int | None
    note: str = ""

    @property
    def passed(self) -> bool:
        return self.spent >= self.budget

    @property
    def projected_to_pass(self) -> bool:
        return not self.passed and self.projected >= self.budget

    @property
    def status(self) -> str:
        if self.passed:
            return "passed"
        return "projected to pass" if self.projected_to_pass else "within"

    @property
    def label(self) -> str:
        return "Team" if self.kind == "team" else self.subject


def budget_period(usage: OnDemandUsage, chosen: BudgetSettings, cycle_start: int | None) -> Period | None:
    """The budget period of the range's last day begun (today's, when the range holds today), cut to
    the range; ``None`` for a cycle with no known cycle start."""
    day = min(usage.range.last_day, max(usage.range.first_day, today()))
    if chosen.period == "cycle":
        if cycle_start is None:
            return None
        whole = cycle_containing(day, cycle_start)
        first, last = whole.first_day, whole.last_day
    else:
        month = Month.of_ms(day * DAY_MS)
        first, last = month.start_ms // DAY_MS, month.end_ms // DAY_MS - 1
    return Period(max(first, usage.range.first_day), min(last, usage.range.last_day), chosen.period, first, last)


def cycle_anchor(usage: OnDemandUsage, settings) -> int | None:
    if settings.cycle_start is not None:
        return settings.cycle_start
    if usage.range.cycle_start is not None:
        return usage.range.cycle_start
    return usage.cursor.spend[-1].cycle.first_day if usage.cursor.spend else None


def standing(usage: OnDemandUsage, period: Period, kind: str, subject: str, budget: int,
             daily: dict[int, int], note: str = "") -> Standing:
    forecast: Forecast | None = period_forecast(usage, period, daily)
    spent = sum(daily.get(day, 0) for day in range(period.first_day, period.last_day + 1))
    if forecast is None:  # the period is over (or not fetched): its spend is its end
        projected = low = high = spent
        passing_on = None
    else:
        projected, low, high = forecast.projected, forecast.low, forecast.high
        passing_on = forecast.day_reaching(budget)
    passed_on = day_reached(daily, period.first_day, period.last_day, budget)
    return Standing(kind, subject, budget, spent, projected, low, high, passed_on, passing_on, note)


def budget_standings(usage: OnDemandUsage, settings) -> tuple[Period | None, list[Standing]]:
    """Every configured budget in the current budget period: the team, the groups, then the people
    (each with spend in the period, or named), ranked by the share of their budget projected."""
    chosen: BudgetSettings = settings.plugin(SETTINGS_NAME)
    period = budget_period(usage, chosen, cycle_anchor(usage, settings))
    if period is None or not chosen.any:
        return period, []
    found: list[Standing] = []
    if chosen.team_usd:
        found.append(standing(usage, period, "team", "", in_microcents(chosen.team_usd), team_daily(usage)))
    if chosen.groups_usd:
        directory, _ = group_directory(usage, settings.plugin(CHARGEBACK_SETTINGS), settings.config_dir)
        charges = charge(usage, directory)
        groups = []
        for group, dollars in sorted(chosen.groups_usd.items()):
            known = group in charges.by_day or (directory is not None and group in directory.groups)
            groups.append(standing(usage, period, "group", group, in_microcents(dollars), charges.by_day.get(group, {}),
                                   "" if known else "no group of this name in the chargeback section"))
        found += ranked(groups)
    if chosen.user_default_usd or chosen.users_usd:
        spenders = {user for user in usage.user_names
                    if any(usage.user_cost_by_day(user).get(day) for day in range(period.first_day, period.last_day + 1))}
        people = []
        for user in sorted(spenders | set(chosen.users_usd)):
            dollars = chosen.users_usd.get(user, chosen.user_default_usd)
            if dollars:
                people.append(standing(usage, period, "user", user, in_microcents(dollars), usage.user_cost_by_day(user)))
        found += ranked(people)
    return period, found


def ranked(standings: list[Standing]) -> list[Standing]:
    """Passed first, then by the share of the budget projected, high to low (ties: name A to Z)."""
    return sorted(standings, key=lambda s: (not s.passed, -Fraction(s.projected, s.budget), s.subject))


# --- the section ----------------------------------------------------------------------------------


@hookimpl
def register_settings(register) -> None:
    register(SETTINGS_NAME, BudgetSettings)


@hookimpl
def register_sections(register, usage: OnDemandUsage, settings) -> None:
    period, standings = budget_standings(usage, settings)
    if standings:
        register(budgets_section(usage, period, standings))


def _day(day: int | None) -> str | None:
    return date_of_day(day).isoformat() if day is not None else None


def _rows(standings: list[Standing]) -> list[list]:
    return [[s.label, s.budget, s.spent, share(s.spent, s.budget), s.projected, s.low, s.high,
             share(s.projected, s.budget), _day(s.passed_on if s.passed else s.passing_on),
             s.status + (f" ({s.note})" if s.note else "")] for s in standings]


def _columns(subject: Column) -> list[Column]:
    return [subject, Column("budget", "Budget", "money"), Column("spent", "Spent", "money"),
            Column("spent_share", "Spent of budget", "percent"), Column("projected", "Projected end", "money"),
            Column("projected_low", "Projected low", "money"), Column("projected_high", "Projected high", "money"),
            Column("projected_share", "Projected of budget", "percent"),
            Column("passes_on", "Passed / projected to pass on", "day"), Column("status", "Status", "text")]


def budgets_section(usage: OnDemandUsage, period: Period, standings: list[Standing]) -> Section:
    noun = "billing cycle" if period.grain == "cycle" else "month"
    covered = period.covered_label if period.clipped else period.label
    groups = [s for s in standings if s.kind == "group"]
    people = [s for s in standings if s.kind == "user"]
    standing_out = ranked([s for s in standings if s.passed or s.projected_to_pass])
    tables = [Table(
        "attention", "Passed or projected to pass", _columns(Column("subject", "Budget of", "text")),
        _rows(standing_out),
        description=(f"Every budget the spend of {covered} has passed, or is projected to pass by the {noun}'s "
                     "end, passed first." + ("" if standing_out else " None is.")),
    )]
    if groups:
        tables.append(Table("groups", "Groups", _columns(Column("group_name", "Group", "text")), _rows(groups),
                            description="Each group's budget and the spend the chargeback section charges it."))
    if people:
        tables.append(Table("users", "People", _columns(Column("user", "User", "user")), _rows(people),
                            description="Each person with spend this period, or a budget of their own."))
    team = next((s for s in standings if s.kind == "team"), None)
    figures = []
    if team is not None:
        forecast = period_forecast(usage, period)
        note = f"{covered}: {format_money(team.spent)} spent ({share(team.spent, team.budget)} %)"
        figures.append(Figure(f"Team budget this {noun}", team.budget, "money", note))
        where = (f"passed on {date_of_day(team.passed_on):%a %-d %b}" if team.passed and team.passed_on is not None
                 else f"projected to pass on {date_of_day(team.passing_on):%a %-d %b}" if team.passing_on is not None
                 else "projected within the budget")
        figures.append(Figure("Projected of the team budget", share(team.projected, team.budget), "percent",
                              f"{format_money(team.projected)}, {where}"
                              + (f"; {projection_note(forecast)}" if forecast is not None else "")))
    figures.append(Figure("Budgets passed or projected to pass", len(standing_out), "count",
                          f"of {len(standings)} budgets, {covered}"))
    return Section(
        slug=SLUG,
        title="Budgets",
        order=ORDER,
        roles=("summary-cards", "dashboard-preview"),
        intro=(f"Budgets per {noun} (`plugins.{SETTINGS_NAME}` in config.yaml) against the spend of {covered} "
               f"and where it is heading by the {noun}'s end: the forecast the trend shows (weekday and weekend "
               "rates of the 28 days before, with a likely range; see the about page). A group's spend is what "
               "the chargeback section charges it."),
        figures=figures,
        tables=tables,
    )


# --- the alert rule -------------------------------------------------------------------------------


@hookimpl
def register_alert_rules(register, usage: OnDemandUsage, settings) -> None:
    period, standings = budget_standings(usage, settings)
    for found in standings:
        alert = budget_alert(found, period)
        if alert is not None:
            register(alert)


def budget_alert(found: Standing, period: Period) -> Alert | None:
    """A budget passed (``critical``) or projected to pass (``warning``); ``None`` within it."""
    if not (found.passed or found.projected_to_pass):
        return None
    whose = {"team": "The team", "group": f"Group {found.subject}", "user": found.subject}[found.kind]
    budget = format_money(found.budget)
    if found.passed:
        day = found.passed_on
        title = f"{whose} passed the {period.label} budget of {budget}"
        detail = (f"{format_money(found.spent)} spent ({share(found.spent, found.budget)} % of the budget)"
                  + (f", passed on {date_of_day(day):%a %-d %b %Y}" if day is not None else "")
                  + f"; projected {format_money(found.projected)} by the period's end.")
        level = float(Fraction(found.spent, found.budget))
    else:
        day = found.passing_on
        title = f"{whose} is projected to pass the {period.label} budget of {budget}"
        detail = (f"{format_money(found.spent)} spent so far; projected {format_money(found.projected)} "
                  f"({share(found.projected, found.budget)} % of the budget, likely {format_money(found.low)} to "
                  f"{format_money(found.high)})"
                  + (f", passing it on {date_of_day(day):%a %-d %b %Y}" if day is not None else "") + ".")
        level = float(Fraction(found.projected, found.budget))
    return Alert(
        rule="budget",
        key=f"budget/{found.kind}/{found.subject or 'team'}/{period.key}",
        severity="critical" if found.passed else "warning",
        subject_kind=found.kind,  # type: ignore[arg-type]
        subject=found.subject,
        title=title,
        detail=detail,
        figures=(AlertFigure("Budget", found.budget, "money"), AlertFigure("Spent", found.spent, "money"),
                 AlertFigure("Projected end", found.projected, "money"),
                 AlertFigure("Projected of budget", share(found.projected, found.budget), "percent"),
                 AlertFigure("Passed on" if found.passed else "Projected to pass on", _day(day), "day")),
        link=PAGE,
        period=period.key,
        level=math.floor(level * 10) / 10,  # in steps of 10 % of the budget: a few cents more is not news
    )
