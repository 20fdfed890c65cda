"""The forecast and its backtest, worked out by hand on small ledgers.

The ledger of most tests: a team that spends $10 on every weekday and $1 on every weekend day
(UTC), from 1 January 2026. March 2026 begins on a Sunday: 22 weekdays and 9 weekend days, so it
comes to 22 x $10 + 9 x $1 = $229.
"""

from __future__ import annotations

import math
import statistics
from datetime import date
from fractions import Fraction

import pytest

from billing_reports.forecast import (
    RANGE_Z, backtest, day_reached, flat_projection, is_weekend, project,
)
from billing_reports.months import DAY_MS
from billing_reports.periods import day_of_date

DOLLAR = 100_000_000  # micro-cents
JAN_1, MAR_1, MAR_31 = day_of_date(date(2026, 1, 1)), day_of_date(date(2026, 3, 1)), day_of_date(date(2026, 3, 31))


def day(month: int, number: int) -> int:
    return day_of_date(date(2026, month, number))


def pattern(first: int, last: int, weekday: int = 10 * DOLLAR, weekend: int = 1 * DOLLAR) -> dict[int, int]:
    return {d: weekend if is_weekend(d) else weekday for d in range(first, last + 1)}


def test_weekends_are_saturday_and_sunday():
    assert [is_weekend(day(3, n)) for n in range(1, 9)] == [True, False, False, False, False, False, True, True]


def test_a_weekday_weekend_pattern_is_projected_exactly_where_the_flat_rate_is_not():
    daily = pattern(JAN_1, MAR_31)
    assert sum(daily[d] for d in range(MAR_1, MAR_31 + 1)) == 229 * DOLLAR
    as_of = day(3, 11) * DAY_MS  # the end of 10 March: Sun 1, 7 weekdays (2-6, 9, 10), Sat 7, Sun 8
    forecast = project(daily, MAR_1, MAR_31, as_of, known_from=JAN_1)
    assert forecast.spent == 7 * 10 * DOLLAR + 3 * DOLLAR
    # the 28 days before: $10 on each weekday, $1 on each weekend day, with no spread
    assert (forecast.weekday.mean, forecast.weekday.days, forecast.weekday.spread) == (10 * DOLLAR, 20, 0)
    assert (forecast.weekend.mean, forecast.weekend.days, forecast.weekend.spread) == (1 * DOLLAR, 8, 0)
    # 11-31 March: 15 weekdays, 6 weekend days: $73 + $150 + $6 = $229, exactly, with no range
    assert (forecast.projected, forecast.low, forecast.high) == (229 * DOLLAR,) * 3
    assert forecast.method == "weekday-aware"
    # the flat rate: $73 over 10 of 31 days = $226.30
    assert flat_projection(daily, MAR_1, MAR_31, as_of) == 22_630_000_000


def test_the_day_in_progress_counts_its_spend_so_far_and_the_rest_of_it_at_its_rate():
    daily = pattern(JAN_1, day(3, 10))
    daily[day(3, 11)] = 4 * DOLLAR  # Wednesday, by noon
    forecast = project(daily, MAR_1, MAR_31, day(3, 11) * DAY_MS + DAY_MS // 2, known_from=JAN_1)
    # $73 + $4 so far, half of Wednesday at $10 a weekday, then 14 weekdays and 6 weekend days
    assert forecast.spent == 77 * DOLLAR
    assert forecast.projected == 77 * DOLLAR + 5 * DOLLAR + 140 * DOLLAR + 6 * DOLLAR


def test_the_range_comes_from_the_spread_of_the_recent_days():
    daily = pattern(JAN_1, MAR_31)
    for d in range(JAN_1, MAR_31 + 1):  # weekdays alternate $8 and $12 by the day's parity
        if not is_weekend(d):
            daily[d] = (8 if d % 2 else 12) * DOLLAR
    as_of = day(3, 11) * DAY_MS
    forecast = project(daily, MAR_1, MAR_31, as_of, known_from=JAN_1)
    weekdays = [daily[d] for d in range(day(2, 11), day(3, 11)) if not is_weekend(d)]
    assert len(weekdays) == 20
    mean = Fraction(sum(weekdays), 20)
    # 15 weekdays left; the weekend days ($1 each) do not vary
    spent = sum(daily[d] for d in range(MAR_1, day(3, 11)))
    expected = spent + mean * 15 + 6 * DOLLAR
    assert forecast.projected == math.floor(expected + Fraction(1, 2))
    variance = Fraction(statistics.pvariance(weekdays)) * 15 * (1 + Fraction(15, 20))
    margin = RANGE_Z * math.isqrt(math.floor(variance))
    assert forecast.high == math.floor(expected + margin + Fraction(1, 2))
    assert forecast.low == math.floor(expected - margin + Fraction(1, 2))
    assert forecast.low < forecast.projected < forecast.high


def test_with_no_day_before_to_learn_from_the_run_rate_is_used():
    daily = {MAR_1: 3 * DOLLAR}
    forecast = project(daily, MAR_1, MAR_31, MAR_1 * DAY_MS + DAY_MS // 4, known_from=MAR_1)
    # $3 in a quarter of a day, over 31 days: $372
    assert (forecast.method, forecast.projected) == ("run rate", 372 * DOLLAR)


def test_a_day_before_the_known_ones_is_unknown_not_idle():
    daily = pattern(day(3, 2), MAR_31)  # known from Monday 2 March only
    forecast = project(daily, MAR_1, MAR_31, day(3, 11) * DAY_MS, known_from=day(3, 2))
    assert (forecast.weekday.days, forecast.weekday.mean) == (7, 10 * DOLLAR)
    assert (forecast.weekend.days, forecast.weekend.mean) == (2, 1 * DOLLAR)  # Sat 7, Sun 8
    # read as idle, the 19 days before 2 March would have dragged the rates down
    assert project(daily, MAR_1, MAR_31, day(3, 11) * DAY_MS).projected < forecast.projected


def test_a_period_over_is_its_spend():
    daily = pattern(JAN_1, MAR_31)
    forecast = project(daily, MAR_1, MAR_31, (MAR_31 + 2) * DAY_MS)
    assert (forecast.method, forecast.projected) == ("complete", 229 * DOLLAR)
    assert project(daily, MAR_1, MAR_31, MAR_1 * DAY_MS) is None  # not begun


@pytest.mark.parametrize("budget, passing", [
    (100, day(3, 13)),   # $73, then Wed 11 $83, Thu 12 $93, Fri 13 $103
    (229, MAR_31),       # the whole month, on its last day
    (230, None),         # never, this month
])
def test_the_day_a_budget_is_projected_to_be_reached(budget, passing):
    daily = pattern(JAN_1, day(3, 10))
    forecast = project(daily, MAR_1, MAR_31, day(3, 11) * DAY_MS, known_from=JAN_1)
    assert forecast.day_reaching(budget * DOLLAR) == passing


def test_the_day_a_budget_was_reached():
    daily = pattern(JAN_1, MAR_31)
    assert day_reached(daily, MAR_1, MAR_31, 21 * DOLLAR) == day(3, 3)  # $1, $11, $21
    assert day_reached(daily, MAR_1, MAR_31, 230 * DOLLAR) is None


def test_the_backtest_against_the_flat_run_rate():
    daily = pattern(JAN_1, MAR_31)
    result = backtest(daily, [(MAR_1, MAR_31)], known_from=JAN_1)
    assert result.periods == 1
    # the forecast is exact on this ledger; the flat rate, from $229:
    #   day 5  ($41: Sun 1, Mon 2 - Thu 5) x 31 / 5  = $254.20, 25.20 / 229 = 11.004 %
    #   day 10 ($73)                       x 31 / 10 = $226.30,  2.70 / 229 =  1.179 %
    #   day 15 ($105: 10 weekdays, 5 weekend days) x 31 / 15 = $217.00, 12 / 229 = 5.240 %
    #   day 20 ($155: 15 weekdays, 5 weekend days) x 31 / 20 = $240.25, 11.25 / 229 = 4.913 %
    assert [(line.day, line.projections, line.forecast_mape, line.flat_mape, line.within_range)
            for line in result.lines] == [
        (5, 1, 0.0, 11.0, 1), (10, 1, 0.0, 1.2, 1), (15, 1, 0.0, 5.2, 1), (20, 1, 0.0, 4.9, 1),
        (None, 4, 0.0, 5.6, 4),  # (11.004 + 1.179 + 5.240 + 4.913) / 4 = 5.584
    ]


def test_a_backtest_leaves_out_a_period_without_spend():
    daily = pattern(JAN_1, MAR_31)
    result = backtest({d: 0 for d in daily}, [(MAR_1, MAR_31)], known_from=JAN_1)
    assert result.periods == 0 and result.overall.forecast_mape is None
