"""Periods of whole UTC days: days, ISO weeks, calendar months, billing cycles, one range.

A UTC day is an *epoch day*, an integer: ``epoch_ms // DAY_MS``, the days since
1970-01-01. Every event falls on exactly one day and, in a cut, every day in exactly
one period, so a period's total over a day-grained ledger is exact.
"""

from __future__ import annotations

import calendar
import re
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta, timezone
from typing import Literal

from .months import DAY_MS, Month

Grain = Literal["day", "week", "month", "cycle", "range"]
GRAINS: tuple[Grain, ...] = ("day", "week", "month", "cycle", "range")

_EPOCH = date(1970, 1, 1)
_DAY = re.compile(r"^(\d{4})-(\d{2})-(\d{2})$")
_TIMESTAMP = re.compile(r"^\d{4}-\d{2}-\d{2}[T ]")


# --- days ----------------------------------------------------------------------


def day_of_ms(epoch_ms: int) -> int:
    """The epoch day of an instant: 00:00:00.000 to 23:59:59.999 UTC are one day."""
    return epoch_ms // DAY_MS


def day_of_date(day: date) -> int:
    return (day - _EPOCH).days


def date_of_day(day: int) -> date:
    return _EPOCH + timedelta(days=day)


def parse_day(text: str) -> int:
    """The epoch day of ``YYYY-MM-DD``."""
    match = _DAY.match(text.strip())
    if not match:
        raise ValueError(f"expected a day as YYYY-MM-DD (for example 2026-01-17), found {text!r}")
    try:
        return day_of_date(date(int(match[1]), int(match[2]), int(match[3])))
    except ValueError:
        raise ValueError(f"expected a day as YYYY-MM-DD, found {text!r}, which is not a day of the calendar") from None


def day_text(label: str) -> str:
    """A day ``2026-11-29`` as people read it, ``Sun 29 Nov 2026`` (any other text as it is)."""
    try:
        day = date.fromisoformat(label)
    except ValueError:
        return label
    return f"{calendar.day_abbr[day.weekday()]} {day.day} {calendar.month_abbr[day.month]} {day.year}"


# --- periods -------------------------------------------------------------------


@dataclass(frozen=True, order=True)
class Period:
    """The UTC days ``first_day`` to ``last_day`` (epoch days, both inclusive) of one grain.

    ``full_first_day`` to ``full_last_day`` is the whole day, week, month, cycle or range
    the period belongs to. A period cut at the edge of a range covers only part of it
    (``clipped``); its ``key`` and labels still name the whole one, so that a week or a
    cycle has the same key in every report.
    """

    first_day: int
    last_day: int
    grain: Grain
    full_first_day: int
    full_last_day: int

    def __post_init__(self) -> None:
        if self.grain not in GRAINS:
            raise ValueError(f"expected a grain, one of {', '.join(GRAINS)}; found {self.grain!r}")
        if not self.full_first_day <= self.first_day <= self.last_day <= self.full_last_day:
            raise ValueError(
                f"a period's days {date_of_day(self.first_day)}..{date_of_day(self.last_day)} must lie, "
                f"in order, within its full {self.grain} "
                f"{date_of_day(self.full_first_day)}..{date_of_day(self.full_last_day)}"
            )

    @property
    def clipped(self) -> bool:
        """Cut short by the range: only part of its week, month or cycle is covered."""
        return (self.first_day, self.last_day) != (self.full_first_day, self.full_last_day)

    @property
    def days(self) -> int:
        return self.last_day - self.first_day + 1

    @property
    def start_ms(self) -> int:
        """The first millisecond of ``first_day``."""
        return self.first_day * DAY_MS

    @property
    def end_ms(self) -> int:
        """The first millisecond after ``last_day`` (exclusive end)."""
        return (self.last_day + 1) * DAY_MS

    def contains(self, day: int) -> bool:
        return self.first_day <= day <= self.last_day

    @property
    def key(self) -> str:
        """Sortable within a grain, for URLs, CSV and JSON: ``2026-01-17``, ``2026-W03``,
        ``2026-01``, ``cycle-2026-01-17``, ``2026-01-05..2026-02-10``."""
        first, last = date_of_day(self.full_first_day), date_of_day(self.full_last_day)
        if self.grain == "week":
            year, week, _ = first.isocalendar()
            return f"{year:04d}-W{week:02d}"
        if self.grain == "month":
            return Month(first.year, first.month).key
        if self.grain == "cycle":
            return f"cycle-{first.isoformat()}"
        if self.grain == "range":
            return f"{first.isoformat()}..{last.isoformat()}"
        return first.isoformat()

    @property
    def label(self) -> str:
        """``17 Jan 2026``, ``Week 3, 2026 (12–18 Jan)``, ``January 2026``,
        ``Cycle 17 Jan – 16 Feb 2026``, ``5 Jan – 10 Feb 2026``."""
        first, last = date_of_day(self.full_first_day), date_of_day(self.full_last_day)
        if self.grain == "week":
            year, week, _ = first.isocalendar()
            return f"Week {week}, {year} ({_span(first, last, with_year=False)})"
        if self.grain == "month":
            return Month(first.year, first.month).label
        if self.grain == "cycle":
            return f"Cycle {_span(first, last)}"
        return _span(first, last)

    @property
    def short_label(self) -> str:
        """For chart axes: ``17 Jan``, ``W3 2026``, ``Jan 2026``, ``17 Jan 2026`` (the cycle's
        first day), ``5 Jan – 10 Feb 2026``."""
        first, last = date_of_day(self.full_first_day), date_of_day(self.full_last_day)
        if self.grain == "day":
            return f"{first.day} {calendar.month_abbr[first.month]}"
        if self.grain == "week":
            year, week, _ = first.isocalendar()
            return f"W{week} {year}"
        if self.grain == "month":
            return Month(first.year, first.month).short_label
        if self.grain == "cycle":
            return _span(first, first)
        return _span(first, last)

    @property
    def covered_label(self) -> str:
        """The days actually covered, ``14–18 Jan 2026`` (to say what a clipped period holds)."""
        return _span(date_of_day(self.first_day), date_of_day(self.last_day))

    def __str__(self) -> str:
        return self.key


def cut_periods(grain: Grain, first_day: int, last_day: int, *, cycle_start: int | None = None) -> list[Period]:
    """Consecutive periods of ``grain`` covering exactly the days ``first_day`` to ``last_day``.

    The first and last periods are clipped to the range. ``cycle_start`` (an epoch day
    on which any billing cycle starts) is needed for the grain ``cycle``.
    """
    if grain not in GRAINS:
        raise ValueError(f"expected a grain, one of {', '.join(GRAINS)}; found {grain!r}")
    _check_range(first_day, last_day)
    if grain == "cycle" and cycle_start is None:
        raise ValueError("billing cycles need the day a cycle starts (billing.cycle_start in config.yaml)")
    periods = []
    day = first_day
    while day <= last_day:
        if grain == "range":
            full_first, full_last = first_day, last_day
        elif grain == "cycle":
            full_first, full_last = _cycle_days(day, cycle_start)
        else:
            full_first, full_last = _calendar_days(grain, day)
        periods.append(Period(max(full_first, first_day), min(full_last, last_day), grain, full_first, full_last))
        day = full_last + 1
    return periods


def months_touched(first_day: int, last_day: int) -> list[Month]:
    """The calendar months the days ``first_day`` to ``last_day`` fall in (their cache files)."""
    _check_range(first_day, last_day)
    first, last = date_of_day(first_day), date_of_day(last_day)
    months = [Month(first.year, first.month)]
    while months[-1] < Month(last.year, last.month):
        months.append(months[-1].next())
    return months


def _calendar_days(grain: Grain, day: int) -> tuple[int, int]:
    """The first and last day of the day, ISO week (Monday to Sunday) or month of ``day``."""
    if grain == "day":
        return day, day
    calendar_date = date_of_day(day)
    if grain == "week":
        monday = day - calendar_date.weekday()
        return monday, monday + 6
    first = day - (calendar_date.day - 1)
    return first, first + Month(calendar_date.year, calendar_date.month).days - 1


def _check_range(first_day: int, last_day: int) -> None:
    if first_day > last_day:
        raise ValueError(
            f"the range ends on {date_of_day(last_day)} before it starts on {date_of_day(first_day)}"
        )


# --- what a report covers ---------------------------------------------------------


@dataclass(frozen=True)
class ReportRange:
    """The UTC days a report covers (``first_day`` to ``last_day``, inclusive) and the grain its
    trend is cut at (``cycle_start`` is needed for the grain ``cycle``)."""

    first_day: int
    last_day: int
    grain: Grain = "month"
    cycle_start: int | None = None

    def __post_init__(self) -> None:
        _check_range(self.first_day, self.last_day)

    @classmethod
    def of_months(cls, months: "list[Month]", grain: Grain = "month", cycle_start: int | None = None) -> "ReportRange":
        """Every day of ``months`` (oldest first)."""
        return cls(months[0].start_ms // DAY_MS, months[-1].end_ms // DAY_MS - 1, grain, cycle_start)

    @property
    def months(self) -> list[Month]:
        """The calendar months the range touches (whose cache files it reads)."""
        return months_touched(self.first_day, self.last_day)

    @property
    def whole_months(self) -> bool:
        """Whether the range starts on a month's first day and ends on a month's last day."""
        months = self.months
        return (self.first_day, self.last_day) == (months[0].start_ms // DAY_MS, months[-1].end_ms // DAY_MS - 1)

    def periods(self) -> list[Period]:
        """The range cut at its grain (the first and last period clipped to it)."""
        return self.periods_of(self.grain)

    def periods_of(self, grain: Grain) -> list[Period]:
        """The range cut at ``grain``."""
        return cut_periods(grain, self.first_day, self.last_day, cycle_start=self.cycle_start)

    @property
    def label(self) -> str:
        """``5 Jan – 10 Feb 2026``."""
        return _span(date_of_day(self.first_day), date_of_day(self.last_day))


# --- billing cycles --------------------------------------------------------------


def cycle_containing(day: int, cycle_start: int) -> Period:
    """The whole billing cycle that ``day`` falls in; ``cycle_start`` is any cycle's first day."""
    first, last = _cycle_days(day, cycle_start)
    return Period(first, last, "cycle", first, last)


def cycle_start_day(value: date | datetime | str) -> int:
    """The epoch day of a cycle start given as a date, ``2026-01-17``, or a timestamp at
    00:00:00 UTC (``2026-01-17T00:00:00Z``; a datetime without a time zone is UTC).

    Cycles are whole UTC days, so a timestamp at any other time is refused. Any cycle's
    start will do, past or future: only its day of month counts, so a start on 28 February
    reads as the 28th (a start in a 31-day month always shows the subscription's own day).
    """
    if isinstance(value, str) and _DAY.match(value.strip()):
        return parse_day(value)
    moment = _timestamp(value) if isinstance(value, str) else value
    if isinstance(moment, datetime):
        utc = moment.astimezone(timezone.utc) if moment.tzinfo else moment.replace(tzinfo=timezone.utc)
        if utc.time() != time(0):
            shown = repr(value) if isinstance(value, str) else utc.isoformat().replace("+00:00", "Z")
            raise ValueError(
                f"expected a cycle start at 00:00:00 UTC (billing cycles are whole UTC days), found {shown}"
            )
        return day_of_date(utc.date())
    if isinstance(moment, date):
        return day_of_date(moment)
    raise ValueError(
        "expected a cycle start as a date (2026-01-17) or a UTC timestamp at midnight "
        f"(2026-01-17T00:00:00Z), found {value!r}"
    )


def _timestamp(text: str) -> datetime | None:
    """``2026-01-17T00:00:00Z``, with an offset or a space for the T; None for anything else."""
    text = text.strip()
    if not _TIMESTAMP.match(text):
        return None
    try:
        return datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        return None


def _cycle_days(day: int, cycle_start: int) -> tuple[int, int]:
    """The first and last day of the cycle containing ``day``; a cycle ends the day before the next starts."""
    anchor = date_of_day(cycle_start).day
    calendar_date = date_of_day(day)
    month = Month(calendar_date.year, calendar_date.month)
    if _cycle_start_in(month, anchor) > day:
        month = month.previous()
    return _cycle_start_in(month, anchor), _cycle_start_in(month.next(), anchor) - 1


def _cycle_start_in(month: Month, anchor: int) -> int:
    """The day the cycle anchored on day-of-month ``anchor`` starts in ``month``: that day,
    or the month's last day when the month is shorter (anchor 31: 28 Feb, 30 Apr)."""
    return day_of_date(date(month.year, month.month, min(anchor, month.days)))


# --- labels ----------------------------------------------------------------------


def _span(first: date, last: date, *, with_year: bool = True) -> str:
    """``17 Jan 2026``, ``12–18 Jan 2026``, ``26 Jan – 1 Feb 2026``, ``29 Dec 2025 – 4 Jan 2026``;
    without ``with_year``, the year is left out when both days share it."""
    year = f" {last.year}" if with_year or first.year != last.year else ""
    if first.year != last.year:
        return f"{_day_month(first)} {first.year} – {_day_month(last)}{year}"
    if first == last:
        return f"{_day_month(first)}{year}"
    if first.month == last.month:
        return f"{first.day}–{_day_month(last)}{year}"
    return f"{_day_month(first)} – {_day_month(last)}{year}"


def _day_month(day: date) -> str:
    return f"{day.day} {calendar.month_abbr[day.month]}"


__all__ = [
    "GRAINS",
    "Grain",
    "Period",
    "ReportRange",
    "cut_periods",
    "cycle_containing",
    "cycle_start_day",
    "date_of_day",
    "day_text",
    "day_of_date",
    "day_of_ms",
    "months_touched",
    "parse_day",
]
