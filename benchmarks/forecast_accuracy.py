"""How good the forecast is, beyond one team's few months: the backtest of
:mod:`billing_reports.forecast` over many histories, beside the flat run rate.

    .venv/bin/python -m benchmarks forecast            # 18 demo calendars, 150 synthetic teams

Two sets of daily spend, each month projected as of the end of its day 5, 10, 15 and 20 from what
was known then, against what the month came to:

- **the demo company** (``fakeapi.demo_team``) ending in each of 18 months (January 2026 to June
  2027): the same people and habits (time zones, weekends, joiners and leavers, a new model adopted,
  a spike, month volumes that step up and down) on 18 different calendars;
- **synthetic teams**: a daily series per seed with a weekend share (3 %, 10 %, 30 % or 80 % of a
  weekday), a monthly growth of -2 % to +8 %, month-to-month steps (none, 10 % or 20 %), daily noise
  (15 %, 30 % or 50 %) and a spike of 3x, 5x or 10x on one day in sixty, twelve months each.

Printed per projection day: the mean absolute percentage error of the forecast and of the flat run
rate, and how often the month ended within the forecast's range (meant: about 80 %).
"""

from __future__ import annotations

import math
import random
from dataclasses import dataclass
from datetime import date, datetime, timezone
from typing import Iterable

from billing_reports import forecast
from billing_reports.fakeapi.demo_team import DemoTeam
from billing_reports.months import DAY_MS, Month
from billing_reports.on_demand import charged_microcents, event_cost, is_on_demand
from billing_reports.periods import day_of_date


@dataclass(frozen=True)
class History:
    """One team's spend per day (micro-cents), the months to backtest, and its first known day."""

    daily: dict[int, int]
    periods: list[tuple[int, int]]
    known_from: int


def demo_history(now: datetime, seed: int = 2026) -> History:
    """The demo company's on-demand spend per day, its months but the last (still in progress)."""
    team = DemoTeam(seed=seed, now=lambda: now)
    daily: dict[int, int] = {}
    for month in team.months:
        for event in team.month_events(month):
            if not is_on_demand(event):
                continue
            cost = charged_microcents(event)
            if cost is None:
                usage = event.get("tokenUsage") or {}
                cost = event_cost(usage.get("totalCents", 0), event.get("cursorTokenFee") or 0,
                                  usage.get("discountPercentOff") or 0).charged
            day = int(event["timestamp"]) // DAY_MS
            daily[day] = daily.get(day, 0) + cost
    periods = [(month.start_ms // DAY_MS, (month.end_ms - 1) // DAY_MS) for month in team.months[:-1]]
    return History(daily, periods, team.months[0].start_ms // DAY_MS)


def synthetic_history(seed: int, months: int = 12) -> History:
    """A synthetic team's daily spend (see the module's docstring), from January 2026."""
    rng = random.Random(seed)
    weekend = rng.choice([0.03, 0.1, 0.3, 0.8])
    growth = rng.uniform(-0.02, 0.08)
    step = rng.choice([0.0, 0.1, 0.2])
    noise = rng.choice([0.15, 0.3, 0.5])
    level = rng.uniform(2e8, 5e9)  # $2 to $50 a weekday
    daily: dict[int, int] = {}
    periods = []
    for month in (Month(2026 + index // 12, index % 12 + 1) for index in range(months)):
        level *= (1 + growth) * math.exp(rng.gauss(0, step))
        first, last = month.start_ms // DAY_MS, (month.end_ms - 1) // DAY_MS
        for day in range(first, last + 1):
            amount = level * (weekend if forecast.is_weekend(day) else 1) * math.exp(rng.gauss(0, noise) - noise ** 2 / 2)
            if rng.random() < 1 / 60:
                amount *= rng.choice([3, 5, 10])
            daily[day] = int(amount)
        periods.append((first, last))
    return History(daily, periods[1:], day_of_date(date(2026, 1, 1)))


def measure(histories: Iterable[History]) -> dict[int | None, tuple[float, float, float, int]]:
    """Per projection day (``None``: all of them): forecast MAPE, flat MAPE, share within range (%),
    projections."""
    found: dict[int, list[tuple[float, float, bool]]] = {day: [] for day in forecast.BACKTEST_DAYS}
    for history in histories:
        for first, last in history.periods:
            actual = sum(history.daily.get(day, 0) for day in range(first, last + 1))
            if actual <= 0:
                continue
            for made_on in forecast.BACKTEST_DAYS:
                as_of = (first + made_on) * DAY_MS
                projection = forecast.project(history.daily, first, last, as_of, known_from=history.known_from)
                flat = forecast.flat_projection(history.daily, first, last, as_of)
                assert projection is not None and flat is not None
                found[made_on].append((abs(projection.projected - actual) / actual * 100, abs(flat - actual) / actual * 100,
                                       projection.low <= actual <= projection.high))

    def line(errors: list[tuple[float, float, bool]]) -> tuple[float, float, float, int]:
        count = len(errors)
        return (sum(e[0] for e in errors) / count, sum(e[1] for e in errors) / count,
                sum(1 for e in errors if e[2]) * 100 / count, count)

    lines: dict[int | None, tuple[float, float, float, int]] = {day: line(errors) for day, errors in found.items()}
    lines[None] = line([error for errors in found.values() for error in errors])
    return lines


def report(title: str, lines: dict[int | None, tuple[float, float, float, int]]) -> str:
    rows = [f"{title}", f"  {'projected on':<14}{'forecast MAPE':>15}{'flat MAPE':>11}{'within range':>14}{'projections':>13}"]
    for day, (mape, flat, within, count) in lines.items():
        label = f"day {day}" if day is not None else "all"
        rows.append(f"  {label:<14}{mape:>14.1f}%{flat:>10.1f}%{within:>13.0f}%{count:>13}")
    return "\n".join(rows)


def run(calendars: int = 18, teams: int = 150) -> str:
    ends = [datetime(2026 + index // 12, index % 12 + 1, 20, 7, tzinfo=timezone.utc) for index in range(calendars)]
    demo = measure(demo_history(now) for now in ends)
    synthetic = measure(synthetic_history(seed) for seed in range(teams))
    return "\n\n".join([report(f"The demo company on {calendars} calendars (months ending Jan 2026 on)", demo),
                        report(f"{teams} synthetic teams, 11 months each", synthetic)])


__all__ = ["History", "demo_history", "measure", "report", "run", "synthetic_history"]
