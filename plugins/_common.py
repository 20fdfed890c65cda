"""Small building blocks the built-in sections share (not a plugin: the name starts with ``_``).

Ranking rule everywhere: cost high to low, then name A to Z, so ties always
come out in the same order. Ranks are positions (1, 2, 3...), never shared.
"""

from __future__ import annotations

from typing import Any, NamedTuple, Sequence

from billing_reports import Chart, Column, Series
from billing_reports.forecast import Forecast, period_forecast
from billing_reports.money import format_money
from billing_reports.months import Month
from billing_reports.periods import Period
from billing_reports.usage import OnDemandUsage, Ranked, UsageTotals
from billing_reports.wording import counted

#: A user's spend "rises" or "falls" when it moves by more than this share between the last two months.
TREND_THRESHOLD = 0.10


def share(part: int, whole: int) -> float | None:
    """``part`` as a percentage of ``whole`` (one decimal), ``None`` when ``whole`` is zero."""
    if whole == 0:
        return None
    return round(part * 100 / whole, 1)


def average_cost(totals: UsageTotals) -> int | None:
    return totals.average_cost


def other_label(count: int, noun: str = "users") -> str:
    """``Other (3 users)`` / ``Other (1 user)``: the row that keeps a cut list adding up."""
    return f"Other ({counted(count, noun.removesuffix('s'), noun)})"


def top_model_by_spend(usage: OnDemandUsage, user: str, month: Month | None = None) -> str | None:
    """The model the user spent most on (in ``month``, or over the range; ties: name A to Z)."""
    models = usage.user_models(user, month)
    return models[0].name if models else None


def cut(ranked: Sequence[Ranked], limit: int) -> tuple[list[Ranked], list[Ranked]]:
    """The first ``limit`` entries, and the rest (summed into an "Other" row by the caller)."""
    return list(ranked[:limit]), list(ranked[limit:])


def month_columns(months: Sequence[Month], usage: OnDemandUsage | None = None) -> list[Column]:
    """One money column per month, keyed ``YYYY-MM``, labelled ``Jan 2026`` (``Jan 2026 (not
    fetched)`` for a month without a cache file, when ``usage`` is given)."""
    return [Column(month.key, month.short_label + (" (not fetched)" if usage and not usage.facts(month).cached
                                                   else ""), "money") for month in months]


def fetched_costs(usage: OnDemandUsage, months: Sequence[Month], cost_of_month) -> list[int | None]:
    """``cost_of_month(month)`` for each of ``months``; ``None`` for a month not fetched (unknown: a
    blank cell, a gap in a chart, never a $0 that reads as a quiet month)."""
    return [cost_of_month(month) if usage.facts(month).cached else None for month in months]


def period_projection(usage: OnDemandUsage, period: Period) -> Forecast | None:
    """A period in progress projected to the end of the whole period (not only of the range): the
    team's forecast (:func:`billing_reports.forecast.period_forecast`: weekday and weekend rates of
    the recent weeks, with a range); ``None`` for any other period. (The trend's column, the
    dashboard's cards, the budgets: one function, so one value.)"""
    return period_forecast(usage, period)


def projection_note(forecast: Forecast) -> str:
    """How a projection was made, in a card's words: ``likely between $1.00 and $2.00; $3.00 a
    weekday, $0.50 a weekend day, from this month's 10 days so far and the 28 before`` (or ``at the
    run rate so far``)."""
    if forecast.method != "weekday-aware" or forecast.weekday is None or forecast.weekend is None:
        return "at the run rate so far (no complete day before it to learn a daily rate from)"
    return (f"likely between {format_money(forecast.low)} and {format_money(forecast.high)}; "
            f"{format_money(forecast.weekday.mean)} a weekday, {format_money(forecast.weekend.mean)} a weekend day, "
            f"from the period's {counted(forecast.own_days, 'day')} so far and the "
            f"{counted(forecast.weekday.days, 'day')} before")


def month_forecast(usage: OnDemandUsage, month: Month, daily: dict[int, int]) -> Forecast | None:
    """``daily`` (a user's, a model's) in an incomplete ``month`` projected to the month's end: the
    forecast the team's month gets, on these days."""
    period = next((p for p in usage.range.periods_of("month") if p.key == month.key), None)
    return period_forecast(usage, period, daily) if period is not None else None


def run_rate_projection(usage: OnDemandUsage, month: Month, amount: int) -> int | None:
    """Project ``amount`` (spent so far in an incomplete ``month``) to the month's end at the flat
    run rate (:func:`projection_to` over the month's milliseconds): for a sum known only per month;
    with the days known, :func:`month_forecast` does better."""
    return projection_to(usage, month, month.start_ms, month.end_ms, amount)


def projection_to(usage: OnDemandUsage, month: Month, start_ms: int, end_ms: int, amount: int) -> int | None:
    """Project ``amount``, spent from ``start_ms`` until ``month`` was last fetched, to ``end_ms``.

    Run rate: spend so far divided by the time elapsed from ``start_ms`` to
    ``fetched_at`` (when ``month``, the month of the span's end, was fetched), applied
    to the whole span. ``None`` when that month is complete or missing, or when
    ``fetched_at`` is not after ``start_ms``. Fetched after the span's end (but
    before the month counts as complete), the projection is the amount itself.
    """
    facts = usage.facts(month)
    if not facts.cached or facts.complete or facts.fetched_at is None:
        return None
    fetched_ms = int(facts.fetched_at.timestamp() * 1000)
    span_ms = end_ms - start_ms
    elapsed_ms = min(fetched_ms, end_ms) - start_ms
    if elapsed_ms <= 0:
        return None
    # integer arithmetic, rounded half up: exact to the micro-cent
    return (2 * amount * span_ms + elapsed_ms) // (2 * elapsed_ms)


def comparable_last_months(usage: OnDemandUsage) -> tuple[Month, Month] | None:
    """The last two fetched months in range (previous, latest); ``None`` with fewer than two.

    A month without a cache file is no evidence of a fall to zero, so it is skipped.
    """
    fetched = [month for month in usage.months if usage.facts(month).cached]
    if len(fetched) < 2:
        return None
    return fetched[-2], fetched[-1]


class Trend(NamedTuple):
    """A user's spend in the latest fetched month against the fetched one before.

    ``signal``: ``rising``, ``falling``, ``steady``, ``new``, ``stopped`` or empty (see
    :func:`trend_of`); ``change``: latest minus previous (micro-cents, the latest at its projection
    when incomplete); ``growth``: that change as a percentage of the previous month (one decimal;
    ``None`` from nothing).
    """

    signal: str = ""
    change: int | None = None
    growth: float | None = None


def trend_of(usage: OnDemandUsage, by_month: dict[Month, int], daily: dict[int, int] | None = None) -> Trend:
    """Rising or falling, and by how much: the latest fetched month against the fetched one before.

    An incomplete latest month is compared at its projected month-end: the forecast of ``daily``
    (the same days' spend per day, :func:`month_forecast`), or, without it, the flat run rate
    (:func:`run_rate_projection`). More than 10 % up is ``rising``, more than
    10 % down ``falling``, otherwise ``steady``; ``new`` when the previous month
    had no spend, ``stopped`` when the latest has none; nothing with one month, or
    no spend in either.
    """
    pair = comparable_last_months(usage)
    if pair is None:
        return Trend()
    previous_month, latest_month = pair
    previous = by_month.get(previous_month, 0)
    latest = by_month.get(latest_month, 0)
    if daily is not None:
        forecast = month_forecast(usage, latest_month, daily)
        projected = forecast.projected if forecast is not None else None
    else:
        projected = run_rate_projection(usage, latest_month, latest)
    if projected is not None:
        latest = projected
    if previous <= 0 and latest <= 0:
        return Trend()
    change = latest - previous
    if previous <= 0:
        return Trend("new", change, None)
    growth = round(change * 100 / previous, 1)
    if latest <= 0:
        signal = "stopped"
    elif latest > previous * (1 + TREND_THRESHOLD):
        signal = "rising"
    elif latest < previous * (1 - TREND_THRESHOLD):
        signal = "falling"
    else:
        signal = "steady"
    return Trend(signal, change, growth)


def trend_signal(usage: OnDemandUsage, by_month: dict[Month, int]) -> str:
    """The word of :func:`trend_of`: ``rising``, ``falling``, ``steady``, ``new``, ``stopped`` or empty."""
    return trend_of(usage, by_month).signal


def monthly_rows(
    names: Sequence[str], by_name_month: dict[str, dict[Month, int]], months: Sequence[Month]
) -> list[list[Any]]:
    """``[name, cost in month 1, cost in month 2, ..., total]`` per name."""
    rows = []
    for name in names:
        costs = [by_name_month[name].get(month, 0) for month in months]
        rows.append([name, *costs, sum(costs)])
    return rows


def slug_of(name: str) -> str:
    """A URL-safe slug for a model or user name (``claude-4.6-opus`` stays readable)."""
    text = "".join(ch if ch.isalnum() or ch in "-." else "-" for ch in name.lower())
    while "--" in text:
        text = text.replace("--", "-")
    return text.strip("-.") or "unnamed"


def month_note(usage: OnDemandUsage, month: Month) -> str:
    """What a reader must know about a month's figures (not fetched, empty, month to date)."""
    facts = usage.facts(month)
    if not facts.cached:
        return "Not fetched yet: run `billing-reports fetch`."
    if not usage.month_total(month).requests:
        return "No on-demand usage this month."
    return "" if facts.complete else "Month to date: the month was not over when it was fetched."


def monthly_spend_chart(kind: str, months, names, cost_by_month, usage: OnDemandUsage | None = None) -> Chart:
    """A line per ranked user or model (``kind``: "users"/"models"): its spend in each month.

    ``cost_by_month(name)`` gives the name's spend per month, in ``months`` order; with
    ``usage``, a month not fetched is a gap.
    """
    return Chart(
        slug="per-month",
        title=f"Monthly spend of the top {kind}",
        description=f"On-demand spend per month of the top {counted(len(names), kind.removesuffix('s'), kind)}.",
        kind="line",
        labels=[m.key for m in months],
        series=[Series(name, list(cost_by_month(name).values()) if usage is None else
                       fetched_costs(usage, months, cost_by_month(name).__getitem__)) for name in names],
    )
