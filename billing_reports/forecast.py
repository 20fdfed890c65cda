"""Where a period's spend is heading: a projected end with a range, and how good such projections were.

The projection is the spend so far plus, for each day left, a daily level times the day's weight:
1 for a weekday, the weekend's share of a weekday for a Saturday or Sunday (UTC). A team that works
on weekdays spends little at weekends; spend so far divided by the time elapsed (the flat run rate)
overshoots from a Monday and undershoots from a Friday.

- **The weekend's share**: the mean weekend day over the mean weekday of the :data:`WINDOW_DAYS`
  complete days before the day of projection.
- **The level** (what a weekday spends): the period's own complete days, per weekday-equivalent,
  blended with the level of those :data:`WINDOW_DAYS` days as if they were :data:`PRIOR_DAYS` more
  weekday-equivalents of the period. Early in a period the recent weeks speak; as its days come in,
  they do: a month that steps up or down from the last is followed within days.
- **Spikes**: a day above its kind's median plus :data:`OUTLIER_MADS` median absolute deviations
  counts at that limit when the level is learnt. It happened (the spend so far has it whole) but is not
  projected to happen again on every day left.
- The day in progress counts its spend so far and the rest of the day at its rate.

The range: the projection plus and minus :data:`RANGE_Z` standard deviations of what the days left
may add. Three sources: how much single days vary about the level; how sure the level is (its
weight of days); and how much the weekly level itself moved over the recent weeks, since a
period's days are not independent draws (a busy week makes the next one busy). Never below the
spend so far.

Everything is pure and exact (integers and fractions) over ``day -> micro-cents`` mappings (days
since 1970-01-01, UTC; a day missing from the mapping spent nothing): the team's
``usage.by_day()``, a user's ``usage.user_cost_by_day(user)``, a group's daily spend.
:func:`backtest` measures the projection against periods that are over, beside the flat run rate;
``benchmarks/forecast_accuracy.py`` measures both over many calendars of the demo company and over
synthetic teams.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from fractions import Fraction
from typing import TYPE_CHECKING, Iterable, Mapping, Sequence

from .money import half_up
from .months import DAY_MS, Month
from .periods import Period
from .usual_day import median_and_deviation

if TYPE_CHECKING:
    from .usage import OnDemandUsage

#: Complete days before the day of projection that set the recent level, the weekend's share of a
#: weekday, the limits of an ordinary day and how much the weekly level moves.
WINDOW_DAYS = 28
#: The weight of the recent level against the period's own days, in weekday-equivalents: early
#: in a period its few days count little, later they set the level.
PRIOR_DAYS = 7
#: Fewer days of a kind (weekday / weekend) than this in the window: weekend days are taken as
#: weekdays.
MIN_KIND_DAYS = 2
#: A day of a kind counts at most its kind's median plus this many (normal-scaled) median
#: absolute deviations when a rate is learnt (a spike happened, and is in the spend so far, but is
#: not projected to repeat); with fewer than :data:`MIN_ROBUST_DAYS` of the kind, nothing is capped.
OUTLIER_MADS = 6
MIN_ROBUST_DAYS = 5
#: MAD x this = a normal distribution's standard deviation.
MAD_SCALE = Fraction(14826, 10000)
#: Fewer whole weeks than this in the window: the level is taken not to move from week to week.
MIN_WEEKS = 3
#: The range is the projection ± this many standard deviations (a two-sided 80 % normal interval).
RANGE_Z = Fraction(12816, 10000)
#: The days of each period a backtest projects from (that many whole days known).
BACKTEST_DAYS = (5, 10, 15, 20)


def is_weekend(day: int) -> bool:
    """Saturday or Sunday (UTC; day 0, 1 Jan 1970, was a Thursday)."""
    return (day + 3) % 7 >= 5


@dataclass(frozen=True)
class DailyRate:
    """The expected spend of one kind of day (weekday or weekend): ``mean``, learnt from ``days``
    complete days before the projection, single days varying about it by ``spread`` (a standard
    deviation), micro-cents."""

    mean: int
    days: int
    spread: int
    #: the exact mean and variance (what the projection and its range are computed from)
    exact_mean: Fraction = Fraction(0)
    variance: Fraction = Fraction(0)


@dataclass(frozen=True)
class Forecast:
    """A period's projected end.

    ``spent``: the spend from ``first_day`` to the moment of projection, ``as_of_ms``;
    ``projected``: where it is heading by the end of ``last_day``, between ``low`` and ``high``.
    ``method``: ``weekday-aware`` (the daily rates), ``run rate`` (nothing complete to learn a rate
    from yet: spend so far over the time elapsed) or ``complete`` (the period is over).
    """

    first_day: int
    last_day: int
    as_of_ms: int
    spent: int
    projected: int
    low: int
    high: int
    method: str
    weekday: DailyRate | None = None
    weekend: DailyRate | None = None
    #: the period's complete days that set the level (with the :data:`WINDOW_DAYS` before)
    own_days: int = 0

    def rate_on(self, day: int) -> DailyRate | None:
        return self.weekend if is_weekend(day) else self.weekday

    def day_reaching(self, amount: int) -> int | None:
        """The day the spend is projected to reach ``amount`` (the day it did, when the spend so far
        has: see :func:`day_reached`); ``None`` when it is not projected to within the period."""
        if self.spent >= amount:
            return None
        total = Fraction(self.spent)
        for day, share in _days_left(self.as_of_ms, self.first_day, self.last_day):
            if self.method == "run rate":
                total += Fraction(self.projected - self.spent) * share / _days_left_total(self)
            else:
                rate = self.rate_on(day)
                total += (rate.exact_mean if rate else 0) * share
            if total >= amount:
                return day
        return None


def day_reached(daily: Mapping[int, int], first_day: int, last_day: int, amount: int) -> int | None:
    """The first day from ``first_day`` on which the running spend reached ``amount``, ``None`` if
    it had not by ``last_day``."""
    total = 0
    for day in range(first_day, last_day + 1):
        total += daily.get(day, 0)
        if total >= amount:
            return day
    return None


def _days_left(as_of_ms: int, first_day: int, last_day: int) -> Iterable[tuple[int, Fraction]]:
    """Each day left from ``as_of_ms`` to the end of ``last_day``, with the share of it left (the
    day in progress: the rest of it)."""
    start_ms = max(as_of_ms, first_day * DAY_MS)
    day = start_ms // DAY_MS
    while day <= last_day:
        left_ms = (day + 1) * DAY_MS - max(start_ms, day * DAY_MS)
        yield day, Fraction(left_ms, DAY_MS)
        day += 1


def _days_left_total(forecast: Forecast) -> Fraction:
    return sum((share for _, share in _days_left(forecast.as_of_ms, forecast.first_day, forecast.last_day)),
               Fraction(0)) or Fraction(1)


def spent_until(daily: Mapping[int, int], first_day: int, last_day: int, as_of_ms: int) -> int:
    """The spend of the days from ``first_day`` to ``last_day`` begun before ``as_of_ms``."""
    stop = min(last_day, (as_of_ms - 1) // DAY_MS)
    return sum(daily.get(day, 0) for day in range(first_day, stop + 1))


def flat_projection(daily: Mapping[int, int], first_day: int, last_day: int, as_of_ms: int) -> int | None:
    """The flat run rate: spend so far divided by the time elapsed since ``first_day`` began, times
    the whole period's time (rounded half up); ``None`` before the period began."""
    elapsed_ms = min(as_of_ms, (last_day + 1) * DAY_MS) - first_day * DAY_MS
    if elapsed_ms <= 0:
        return None
    span_ms = (last_day + 1 - first_day) * DAY_MS
    return half_up(Fraction(spent_until(daily, first_day, last_day, as_of_ms) * span_ms, elapsed_ms))


def project(daily: Mapping[int, int], first_day: int, last_day: int, as_of_ms: int, *,
            known_from: int | None = None) -> Forecast | None:
    """Project the spend of the days ``first_day`` to ``last_day`` (inclusive) to the end of
    ``last_day``, as of ``as_of_ms`` (the days before it are complete; the one it falls in has
    its spend so far). See the module's docstring for the method.

    :param known_from: the first day whose spend is known: the days before it are left out, not
        read as idle (default: every day before is known).
    :return: ``None`` when ``as_of_ms`` is before ``first_day`` began.
    """
    if as_of_ms <= first_day * DAY_MS:
        return None
    spent = spent_until(daily, first_day, last_day, as_of_ms)
    if as_of_ms >= (last_day + 1) * DAY_MS:
        return Forecast(first_day, last_day, as_of_ms, spent, spent, spent, spent, "complete")
    today = as_of_ms // DAY_MS
    earliest = today - WINDOW_DAYS if known_from is None else max(known_from, today - WINDOW_DAYS)
    window = range(earliest, today)
    own = range(first_day if known_from is None else max(first_day, known_from), today)
    if not window:
        flat = flat_projection(daily, first_day, last_day, as_of_ms)
        assert flat is not None
        return Forecast(first_day, last_day, as_of_ms, spent, flat, flat, flat, "run rate")
    usual = _usual_days(daily, range(min(own.start, window.start), today))
    share = _weekend_share([(day, usual[day]) for day in window])
    weight = {False: Fraction(1), True: share}

    def level_of(days: range) -> tuple[int, Fraction]:
        """The spend of ``days`` and their weekday-equivalents (sums of integers: this runs per user)."""
        weekends = sum(1 for day in days if is_weekend(day))
        return sum(usual[day] for day in days), (len(days) - weekends) + share * weekends

    own_spend, own_units = level_of(own)
    window_spend, window_units = level_of(window)
    window_level = window_spend / window_units if window_units else Fraction(0)
    prior = PRIOR_DAYS if window_units else 0
    level = (own_spend + prior * window_level) / (own_units + prior) if own_units + prior else Fraction(0)

    left = _left_by_kind(as_of_ms, first_day, last_day)
    units_left = left[False] + share * left[True]
    squares_left = left[False] + share ** 2 * left[True]
    expected = level * units_left
    # what single days vary by (per weekday-equivalent), and the weekly level's own movement
    day_variance = _per_unit_variance([usual[day] for day in window if not is_weekend(day)],
                                      [usual[day] for day in window if is_weekend(day)], share)
    level_variance = day_variance / (own_units + prior) if own_units + prior else day_variance
    level_variance += (_weekly_movement(usual, share, today, earliest) * level) ** 2
    variance = day_variance * squares_left + level_variance * units_left ** 2
    margin = RANGE_Z * math.isqrt(math.floor(variance))
    spread = math.isqrt(math.floor(day_variance))
    weekday = DailyRate(half_up(level), len(window), spread, level, day_variance)
    weekend = DailyRate(half_up(level * share), len(window), half_up(spread * share), level * share,
                        day_variance * share ** 2)
    return Forecast(first_day, last_day, as_of_ms, spent, half_up(spent + expected),
                    max(spent, half_up(spent + expected - margin)), half_up(spent + expected + margin),
                    "weekday-aware", weekday, weekend, own_days=len(own))


def _usual_days(daily: Mapping[int, int], days: range) -> dict[int, int]:
    """Each of ``days``' spend, a spike cut to its kind's usual limit (median plus
    :data:`OUTLIER_MADS` scaled median absolute deviations; a kind with fewer than
    :data:`MIN_ROBUST_DAYS` days, or with no deviation at all, is left as it is)."""
    usual = {day: daily.get(day, 0) for day in days}
    for weekend in (False, True):
        kind = [day for day in days if is_weekend(day) == weekend]
        if len(kind) < MIN_ROBUST_DAYS:
            continue
        middle, deviation = median_and_deviation([usual[day] for day in kind])
        if deviation:
            limit = middle + OUTLIER_MADS * MAD_SCALE * deviation
            for day in kind:
                if usual[day] > limit:
                    usual[day] = half_up(limit)
    return usual


def _left_by_kind(as_of_ms: int, first_day: int, last_day: int) -> dict[bool, Fraction]:
    """The weekdays (``False``) and weekend days (``True``) left from ``as_of_ms`` to the end of
    ``last_day``, the day in progress counting the share of it left (:func:`_days_left`, summed)."""
    left = {False: Fraction(0), True: Fraction(0)}
    start_ms = max(as_of_ms, first_day * DAY_MS)
    today = start_ms // DAY_MS
    if today > last_day:
        return left
    left[is_weekend(today)] += Fraction((today + 1) * DAY_MS - start_ms, DAY_MS)
    weekends = sum(1 for day in range(today + 1, last_day + 1) if is_weekend(day))
    left[True] += weekends
    left[False] += last_day - today - weekends
    return left


def _weekend_share(days: Sequence[tuple[int, int]]) -> Fraction:
    """The mean weekend day over the mean weekday of ``(day, amount)`` (1 with too few of either,
    or weekdays that spent nothing)."""
    weekdays = [amount for day, amount in days if not is_weekend(day)]
    weekends = [amount for day, amount in days if is_weekend(day)]
    if len(weekdays) < MIN_KIND_DAYS or len(weekends) < MIN_KIND_DAYS or not sum(weekdays):
        return Fraction(1)
    return Fraction(sum(weekends), len(weekends)) / Fraction(sum(weekdays), len(weekdays))


def _per_unit_variance(weekdays: Sequence[int], weekends: Sequence[int], share: Fraction) -> Fraction:
    """The population variance of single days' spend per weekday-equivalent (a weekend day's over
    ``share``; with a share of 0 weekend days say nothing); 0 for fewer than two days."""
    if not share:
        weekends = []
    count = len(weekdays) + len(weekends)
    if count < 2:
        return Fraction(0)
    total = sum(weekdays) + (Fraction(sum(weekends)) / share if weekends else 0)
    squares = sum(amount * amount for amount in weekdays) + (
        Fraction(sum(amount * amount for amount in weekends)) / share ** 2 if weekends else 0)
    return Fraction(squares) / count - (Fraction(total) / count) ** 2


def _weekly_movement(usual: Mapping[int, int], share: Fraction, today: int, earliest: int) -> Fraction:
    """How much the level of a whole week moved over the recent ones: the (sample) standard deviation
    of the levels of the whole weeks from ``earliest`` to ``today`` over their mean, as a fraction; 0
    with fewer than :data:`MIN_WEEKS` weeks or no spend. (Every seven days hold 5 weekdays and 2
    weekend days: a week's level is its spend over the same 5 + 2 x share weekday-equivalents.)"""
    spends = []
    start = today - 7
    while start >= earliest:
        spends.append(sum(usual[day] for day in range(start, start + 7)))
        start -= 7
    if len(spends) < MIN_WEEKS or not sum(spends):
        return Fraction(0)
    units = 5 + 2 * share
    count = len(spends)
    spend_variance = (Fraction(sum(spend * spend for spend in spends)) - Fraction(sum(spends) ** 2, count)) / (count - 1)
    mean_level = Fraction(sum(spends), count) / units
    return Fraction(math.isqrt(math.floor(spend_variance / units ** 2))) / mean_level


# --- the backtest ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class BacktestLine:
    """The projections made on one day of the periods (``day`` whole days known; ``None``: all of
    them together): how many, the mean absolute percentage error of the forecast and of the flat
    run rate (percent, one decimal), and how many of the periods ended within the forecast's range."""

    day: int | None
    projections: int
    forecast_mape: float | None
    flat_mape: float | None
    within_range: int


@dataclass(frozen=True)
class Backtest:
    periods: int
    lines: list[BacktestLine]

    @property
    def overall(self) -> BacktestLine:
        return self.lines[-1]


def backtest(daily: Mapping[int, int], periods: Iterable[tuple[int, int]], *, known_from: int | None = None,
             days: Sequence[int] = BACKTEST_DAYS) -> Backtest:
    """Project each of ``periods`` (``(first_day, last_day)``, each over and wholly known) as of the
    end of its day 5, 10, 15, 20 (``days``) and compare with what it came to.

    A period that spent nothing has no percentage error and is left out, as is a projection day
    past the period's end.
    """
    errors: dict[int, list[tuple[Fraction, Fraction, bool]]] = {day: [] for day in days}
    counted = 0
    for first_day, last_day in periods:
        actual = sum(daily.get(day, 0) for day in range(first_day, last_day + 1))
        if actual <= 0:
            continue
        counted += 1
        for made_on in days:
            if first_day + made_on > last_day:
                continue
            as_of_ms = (first_day + made_on) * DAY_MS
            forecast = project(daily, first_day, last_day, as_of_ms, known_from=known_from)
            flat = flat_projection(daily, first_day, last_day, as_of_ms)
            assert forecast is not None and flat is not None
            errors[made_on].append((Fraction(abs(forecast.projected - actual) * 100, actual),
                                    Fraction(abs(flat - actual) * 100, actual),
                                    forecast.low <= actual <= forecast.high))
    lines = [_line(day, found) for day, found in errors.items()]
    lines.append(_line(None, [error for found in errors.values() for error in found]))
    return Backtest(counted, lines)


def _line(day: int | None, found: list[tuple[Fraction, Fraction, bool]]) -> BacktestLine:
    if not found:
        return BacktestLine(day, 0, None, None, 0)
    count = len(found)
    return BacktestLine(day, count, round(float(sum(f for f, _, _ in found) / count), 1),
                        round(float(sum(r for _, r, _ in found) / count), 1), sum(1 for *_, inside in found if inside))


# --- on the loaded usage -----------------------------------------------------------------------------


def team_daily(usage: "OnDemandUsage") -> dict[int, int]:
    """The team's spend per covered day (micro-cents)."""
    return {day: totals.cost for day, totals in usage.by_day().items()}


def known_from(usage: "OnDemandUsage") -> int:
    """The first day of the range from which on every month up to the last is fetched (a month
    not fetched is unknown, not idle, so a rate never reaches back across it)."""
    first = usage.range.first_day
    months = usage.range.months
    fetched = [index for index, month in enumerate(months) if usage.facts(month).cached]
    if not fetched:
        return first
    for month in reversed(months[: fetched[-1]]):  # (months after the last fetched one have no say)
        if not usage.facts(month).cached:
            return max(first, month.end_ms // DAY_MS)
    return first


def fetched_as_of_ms(usage: "OnDemandUsage", period: Period) -> int | None:
    """When the month of ``period``'s last day was fetched, if the period may still grow (its last
    day was not over then); ``None`` for a period complete or not fetched."""
    if not usage.period_fetched(period) or not usage.period_partial(period):
        return None
    fetched_at = usage.facts(Month.of_ms(period.last_day * DAY_MS)).fetched_at
    return None if fetched_at is None else int(fetched_at.timestamp() * 1000)


def period_forecast(usage: "OnDemandUsage", period: Period, daily: Mapping[int, int] | None = None) -> Forecast | None:
    """A period in progress projected to the end of the whole period (not only of the range), from
    ``daily`` (default: the team's); ``None`` for a period complete or not fetched. One function for
    every projection shown, so the same projection reads the same cents everywhere."""
    as_of_ms = fetched_as_of_ms(usage, period)
    if as_of_ms is None:
        return None
    return project(team_daily(usage) if daily is None else daily, period.first_day, period.full_last_day,
                   as_of_ms, known_from=known_from(usage))


def team_backtest(usage: "OnDemandUsage", grain: str = "month") -> Backtest:
    """:func:`backtest` of the team's spend over the range's periods of ``grain`` that are whole,
    fetched and over."""
    periods = [(period.first_day, period.last_day) for period in usage.range.periods_of(grain)  # type: ignore[arg-type]
               if not period.clipped and usage.period_fetched(period) and not usage.period_partial(period)
               and period.first_day >= known_from(usage)]
    return backtest(team_daily(usage), periods, known_from=known_from(usage))


__all__ = ["BACKTEST_DAYS", "Backtest", "BacktestLine", "DailyRate", "Forecast", "PRIOR_DAYS", "RANGE_Z", "WINDOW_DAYS",
           "backtest", "day_reached", "fetched_as_of_ms", "flat_projection", "is_weekend", "known_from", "period_forecast",
           "project", "spent_until", "team_backtest", "team_daily"]
