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
    # the 28 days before: a weekend day is a tenth of a weekday; the level $10, with no spread
    assert (forecast.weekday.mean, forecast.weekday.days, forecast.weekday.spread) == (10 * DOLLAR, 28, 0)
    assert (forecast.weekend.mean, forecast.weekend.spread) == (1 * DOLLAR, 0)
    assert forecast.own_days == 10
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


def half_up(value) -> int:
    return math.floor(Fraction(value) + Fraction(1, 2))


def test_the_period_s_own_days_weigh_against_the_recent_weeks():
    """February's weekdays spent $10, March's $20; no weekend day spent anything (a weekend day is
    0 weekdays). As of the end of 10 March, March's 7 weekdays ($140) weigh 7 and the level of the 28
    days before (11 Feb - 10 Mar: 13 weekdays at $10 and 7 at $20, $270 over 20 weekdays, $13.50)
    weighs another 7: ($140 + 7 x $13.50) / 14 = $16.75 for each of the 15 weekdays left."""
    daily = {d: 0 if is_weekend(d) else (20 if d >= MAR_1 else 10) * DOLLAR for d in range(JAN_1, MAR_31 + 1)}
    forecast = project(daily, MAR_1, MAR_31, day(3, 11) * DAY_MS, known_from=JAN_1)
    assert (forecast.weekday.mean, forecast.weekend.mean) == (1_675_000_000, 0)
    assert forecast.projected == 140 * DOLLAR + 15 * 1_675_000_000  # $391.25
    # ten days on (the end of 20 March: 15 weekdays at $20; the 28 days before, from Sat 21 February,
    # 5 February weekdays at $10 and those 15), March's own days weigh 15 against 7: closer to its $20
    later = project(daily, MAR_1, MAR_31, day(3, 21) * DAY_MS, known_from=JAN_1)
    level = Fraction(300 + 7 * Fraction(5 * 10 + 15 * 20, 20), 15 + 7)  # $19.20
    assert later.projected == half_up((300 + 7 * level) * DOLLAR)  # 7 weekdays left


def test_a_spike_is_spent_but_not_projected_to_repeat():
    """Weekdays spend $8, $12, $8, $12, $10 (Monday to Friday), weekends nothing; Monday 9 March
    $100. Among the 20 weekdays of the 28 days before 11 March (seven $8, four $10, eight $12, the
    $100) the median is $10 and the median absolute deviation $2: a day counts at most $10 + 6 x
    1.4826 x $2 = $27.7912 when the level is learnt."""
    amounts = {0: 8, 1: 12, 2: 8, 3: 12, 4: 10}  # by weekday, Monday 0
    daily = {d: 0 if is_weekend(d) else amounts[(d + 3) % 7] * DOLLAR for d in range(JAN_1, MAR_31 + 1)}
    daily[day(3, 9)] = 100 * DOLLAR
    forecast = project(daily, MAR_1, MAR_31, day(3, 11) * DAY_MS, known_from=JAN_1)
    assert forecast.spent == (50 + 100 + 12) * DOLLAR  # the spike is spent, whole
    capped = Fraction(277912, 10000)
    own = 50 + capped + 12                 # March's 7 weekdays, the spike at its limit
    window = 4 * 50 - 8 + capped           # the 20 weekdays before
    level = (own + 7 * window / 20) / 14
    assert forecast.projected == half_up((162 + 15 * level) * DOLLAR)
    assert forecast.projected < 345 * DOLLAR  # uncapped, the spike would have lifted it to about $445


def test_the_range_comes_from_how_single_days_vary():
    """The weekdays of the last test without the spike: every week spends $50, so the weekly level
    does not move; single weekdays vary about $10 with a variance of (4 + 4 + 4 + 4 + 0) / 5 = 3.2
    (dollars squared). For 15 weekdays left at a level learnt from 7 + 7 weekday-equivalents: a
    variance of 3.2 x 15 for the days and (3.2 / 14) x 15² for the level."""
    amounts = {0: 8, 1: 12, 2: 8, 3: 12, 4: 10}
    daily = {d: 0 if is_weekend(d) else amounts[(d + 3) % 7] * DOLLAR for d in range(JAN_1, MAR_31 + 1)}
    forecast = project(daily, MAR_1, MAR_31, day(3, 11) * DAY_MS, known_from=JAN_1)
    assert forecast.projected == (70 + 150) * DOLLAR
    variance = (Fraction(32, 10) * 15 + Fraction(32, 10) / 14 * 15 ** 2) * DOLLAR ** 2
    margin = RANGE_Z * math.isqrt(math.floor(variance))
    assert (forecast.low, forecast.high) == (half_up(220 * DOLLAR - margin), half_up(220 * DOLLAR + margin))
    assert 12 * DOLLAR < forecast.high - forecast.projected < 13 * DOLLAR  # 1.2816 x sqrt(99.43): ±$12.78


def test_the_range_widens_when_the_weekly_level_moves():
    """Weekdays spend $10 in the weeks (counted back from 11 March) 4-10 March and 18-24 February, $20
    in 25 Feb - 3 March and 11-17 February; weekends nothing. The four weeks' levels $10, $20, $10,
    $20: mean $15, sample standard deviation sqrt(100 / 3) = $5.7735; the weekly level moves by a
    share 0.3849 of itself, which adds (0.3849 x level)² to the level's variance."""
    today = day(3, 11)
    daily = {d: 0 if is_weekend(d) else (10 if (today - 1 - d) // 7 % 2 == 0 else 20) * DOLLAR
             for d in range(JAN_1, MAR_31 + 1)}
    forecast = project(daily, MAR_1, MAR_31, today * DAY_MS, known_from=JAN_1)
    spent = (20 + 20 + 5 * 10) * DOLLAR          # Mon 2 and Tue 3 at $20, 4-10 March at $10
    level = Fraction(90 + 7 * 15, 14) * DOLLAR   # ($90 + 7 x $15) / 14
    assert forecast.projected == half_up(spent + 15 * level)
    day_variance = Fraction(25) * DOLLAR ** 2    # ten weekdays at $10 and ten at $20 about $15
    moves = Fraction(math.isqrt(math.floor(Fraction(100, 3) * DOLLAR ** 2)), 15 * DOLLAR)
    variance = day_variance * 15 + (day_variance / 14 + (moves * level) ** 2) * 15 ** 2
    margin = RANGE_Z * math.isqrt(math.floor(variance))
    assert forecast.high == half_up(spent + 15 * level + margin)
    assert forecast.low == max(spent, half_up(spent + 15 * level - margin))
    still = Fraction(math.isqrt(math.floor(day_variance * 15 + day_variance / 14 * 15 ** 2)))
    assert margin > 2 * RANGE_Z * still  # the weekly movement more than doubles the range


def test_with_no_day_before_to_learn_from_the_run_rate_is_used():
    daily = {MAR_1: 3 * DOLLAR}
    forecast = project(daily, MAR_1, MAR_31, MAR_1 * DAY_MS + DAY_MS // 4, known_from=MAR_1)
    # $3 in a quarter of a day, over 31 days: $372
    assert (forecast.method, forecast.projected) == ("run rate", 372 * DOLLAR)


def test_a_day_before_the_known_ones_is_unknown_not_idle():
    daily = pattern(day(3, 2), MAR_31)  # known from Monday 2 March only
    forecast = project(daily, MAR_1, MAR_31, day(3, 11) * DAY_MS, known_from=day(3, 2))
    # 2-10 March: 7 weekdays at $10, Sat 7 and Sun 8 at $1
    assert (forecast.weekday.days, forecast.weekday.mean, forecast.weekend.mean) == (9, 10 * DOLLAR, 1 * DOLLAR)
    assert forecast.projected == (72 + 150 + 6) * DOLLAR
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


def test_over_many_histories_the_forecast_beats_the_flat_run_rate_and_its_range_holds_about_four_in_five():
    """The accuracy the README states, on a smaller draw of the same histories
    (``python -m benchmarks forecast`` prints the whole)."""
    from benchmarks.forecast_accuracy import demo_history, measure, synthetic_history
    from datetime import datetime, timezone

    synthetic = measure(synthetic_history(seed) for seed in range(40))
    demo = measure(demo_history(datetime(2026, month, 20, 7, tzinfo=timezone.utc)) for month in (2, 6, 9))
    for lines in (synthetic, demo):
        mape, flat, within, count = lines[None]
        assert count > 0 and mape < 0.8 * flat
        assert 70 <= within <= 95
    assert all(synthetic[day][0] < synthetic[day][1] for day in (5, 10, 15, 20))
