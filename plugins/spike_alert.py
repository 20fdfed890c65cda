"""Alert rule: a user's day far above their own usual days.

Robust to outliers: a user's usual day is the **median** of their spend on each of the previous 28
days (quiet days count as $0; days before their first spend in range, or in a month not fetched, do
not count), and their usual spread is the **median absolute deviation** (MAD, unscaled) of those
days. A day of the period checked is a spike when it is above all three of

- the median plus ``mads`` MADs,
- ``multiple`` times the median,
- ``floor_dollars`` (so that cents never alert).

A user needs ``min_history_days`` such days before any of theirs can count as a spike (a new
joiner has no usual day yet). The alert links to the user's page.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from fractions import Fraction
from typing import Annotated, Literal

import msgspec

from billing_reports import hookimpl
from billing_reports.alerts import Alert, AlertFigure
from billing_reports.money import MICROCENTS_PER_DOLLAR, format_money
from billing_reports.periods import Period, date_of_day
from billing_reports.settings import Settings
from billing_reports.site.names import user_page_path, user_pages
from billing_reports.usage import OnDemandUsage
from billing_reports.usual_day import median_and_deviation

RULE = "spike"
SETTINGS_NAME = "spike-alert"


class SpikeRule(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    """When a user's day counts as a spike."""

    enabled: Annotated[bool, msgspec.Meta(description="evaluate this rule")] = True
    baseline_days: Annotated[int, msgspec.Meta(ge=7, le=366, description=(
        "a user's usual day: the median of their spend on this many previous days"))] = 28
    min_history_days: Annotated[int, msgspec.Meta(ge=1, le=366, description=(
        "...of which at least this many (from their first spend in range on) must be known"))] = 14
    mads: Annotated[float, msgspec.Meta(ge=0, le=1000, description=(
        "a spike is above the median plus this many median absolute deviations..."))] = 6.0
    multiple: Annotated[float, msgspec.Meta(ge=1, le=1000, description=(
        "...and above this many times the median..."))] = 3.0
    floor_dollars: Annotated[float, msgspec.Meta(ge=0, le=1_000_000, description=(
        "...and above this many dollars (so that cents never alert)"))] = 25.0
    critical_multiple: Annotated[float, msgspec.Meta(ge=1, le=100_000, description=(
        "a day at or above this many times the usual day is critical (else a warning)"))] = 10.0


@hookimpl
def register_settings(register) -> None:
    register(SETTINGS_NAME, SpikeRule)


@dataclass(frozen=True)
class Baseline:
    """A user's usual day before ``day``: micro-cents, exact (a median of an even count is a half)."""

    days: int
    median: Fraction
    mad: Fraction

    def threshold(self, rule: SpikeRule) -> Fraction:
        """The spend a day must exceed to be a spike (the largest of the three bounds)."""
        floor = Fraction(str(rule.floor_dollars)) * MICROCENTS_PER_DOLLAR
        return max(self.median + Fraction(str(rule.mads)) * self.mad, Fraction(str(rule.multiple)) * self.median,
                   floor)


def baseline(costs: dict[int, int], day: int, first_day: int, known, rule: SpikeRule) -> Baseline | None:
    """The usual day before ``day`` from the daily ``costs`` (micro-cents, quiet days absent): the
    previous ``rule.baseline_days`` days from ``first_day`` on for which ``known(day)``; ``None``
    when fewer than ``rule.min_history_days`` of them are."""
    days = [d for d in range(max(day - rule.baseline_days, first_day), day) if known(d)]
    if len(days) < rule.min_history_days:
        return None
    return Baseline(len(days), *median_and_deviation([costs.get(d, 0) for d in days]))


def spikes(usage: OnDemandUsage, period: Period, rule: SpikeRule) -> list[Alert]:
    """Every user's spike on a day of ``period``."""
    pages = user_pages(usage)
    # a day's spend is whole micro-cents: it is above the floor when above the floor's whole part (compared as
    # integers: thousands of user-days, most of them far below it)
    floor = math.floor(Fraction(str(rule.floor_dollars)) * MICROCENTS_PER_DOLLAR)
    known = usage.day_fetched
    found = []
    for user in usage.user_names:
        costs = usage.user_cost_by_day(user)
        first_day = max(min(costs), usage.range.first_day) if costs else None
        for day in range(period.first_day, period.last_day + 1):
            cost = costs.get(day, 0)
            if first_day is None or cost <= floor:
                continue
            usual = baseline(costs, day, first_day, known, rule)
            if usual is None:
                continue
            threshold = usual.threshold(rule)
            if cost <= threshold:
                continue
            found.append(_alert(user, day, cost, usual, threshold, period, rule, user_page_path(pages, user)))
    return found


def _alert(user: str, day: int, cost: int, usual: Baseline, threshold: Fraction, period: Period, rule: SpikeRule,
           link: str | None) -> Alert:
    date = date_of_day(day).isoformat()
    critical = usual.median > 0 and cost >= Fraction(str(rule.critical_multiple)) * usual.median
    times = f"{float(cost / usual.median):.1f} times their usual day" if usual.median else "their usual day is $0.00"
    return Alert(
        rule=RULE,
        key=f"{RULE}/{user}/{date}",
        severity="critical" if critical else "warning",
        subject_kind="user",
        subject=user,
        title=f"Spend spike on {date}: {format_money(cost)}, {times}",
        detail=(f"Usual day: the median of their previous {usual.days} days, {format_money(round(usual.median))}; "
                f"median absolute deviation {format_money(round(usual.mad))}. A spike is above "
                f"{format_money(round(threshold))}: the largest of the median plus {rule.mads:g} deviations, "
                f"{rule.multiple:g} times the median and the floor of ${rule.floor_dollars:,.2f} "
                f"(plugins.{SETTINGS_NAME})."),
        figures=(AlertFigure("Day", date, "day"), AlertFigure("Spend that day", cost, "money"),
                 AlertFigure("Usual day", round(usual.median), "money"),
                 AlertFigure("Threshold", round(threshold), "money")),
        link=link,
        period=period.key,
        level=float(cost // threshold),
    )


@hookimpl
def register_alert_rules(register, usage: OnDemandUsage, settings: Settings) -> None:
    rule = settings.plugin(SETTINGS_NAME)
    periods = usage.periods()
    if rule.enabled and periods:
        for alert in spikes(usage, periods[-1], rule):
            register(alert)
