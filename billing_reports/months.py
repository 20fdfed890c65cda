"""Calendar months in UTC and the API request windows that cover them."""

from __future__ import annotations

import calendar
import re
from dataclasses import dataclass
from datetime import datetime, timezone

#: The API answers 400 for a date range longer than this (both bounds inclusive).
MAX_WINDOW_DAYS = 30
DAY_MS = 24 * 60 * 60 * 1000

_KEY = re.compile(r"^(\d{4})-(\d{2})$")
_CACHE_STEM = re.compile(r"^(\d{2})-(\d{4})$")


@dataclass(frozen=True, order=True)
class Window:
    """One API request range: epoch milliseconds, **both bounds inclusive**."""

    start_ms: int
    end_ms: int

    def __str__(self) -> str:
        return f"{_iso(self.start_ms)} to {_iso(self.end_ms)}"


@dataclass(frozen=True, order=True)
class Month:
    """A calendar month in UTC."""

    year: int
    month: int

    def __post_init__(self) -> None:
        if not 1 <= self.month <= 12:
            raise ValueError(f"month must be 1-12, got {self.month}")

    @classmethod
    def parse(cls, text: str) -> "Month":
        """Parse ``YYYY-MM`` (what users type)."""
        match = _KEY.match(text.strip())
        if not match or not 1 <= int(match[2]) <= 12:
            raise ValueError(f"expected a month as YYYY-MM, got {text!r}")
        return cls(int(match[1]), int(match[2]))

    @classmethod
    def from_cache_stem(cls, stem: str) -> "Month":
        """Parse ``MM-YYYY`` (the seed's cache file names)."""
        match = _CACHE_STEM.match(stem)
        if not match or not 1 <= int(match[1]) <= 12:
            raise ValueError(f"expected a month as MM-YYYY, got {stem!r}")
        return cls(int(match[2]), int(match[1]))

    @classmethod
    def of(cls, moment: datetime) -> "Month":
        """The UTC month that contains ``moment`` (naive datetimes are UTC)."""
        moment = _utc(moment)
        return cls(moment.year, moment.month)

    @classmethod
    def of_ms(cls, epoch_ms: int) -> "Month":
        return cls.of(datetime.fromtimestamp(epoch_ms / 1000, tz=timezone.utc))

    @property
    def key(self) -> str:
        """``2026-01``: sortable, used in URLs, CSV and JSON."""
        return f"{self.year:04d}-{self.month:02d}"

    @property
    def cache_stem(self) -> str:
        """``01-2026``: the seed's cache file name prefix."""
        return f"{self.month:02d}-{self.year:04d}"

    @property
    def label(self) -> str:
        """``January 2026``."""
        return f"{calendar.month_name[self.month]} {self.year}"

    @property
    def short_label(self) -> str:
        """``Jan 2026``."""
        return f"{calendar.month_abbr[self.month]} {self.year}"

    @property
    def days(self) -> int:
        return calendar.monthrange(self.year, self.month)[1]

    @property
    def start(self) -> datetime:
        return datetime(self.year, self.month, 1, tzinfo=timezone.utc)

    @property
    def end(self) -> datetime:
        """The first instant of the next month (exclusive end)."""
        return self.next().start

    @property
    def start_ms(self) -> int:
        return _ms(self.start)

    @property
    def end_ms(self) -> int:
        """The next month's first millisecond (exclusive)."""
        return _ms(self.end)

    def next(self) -> "Month":
        return Month(self.year + self.month // 12, self.month % 12 + 1)

    def previous(self) -> "Month":
        return Month(self.year - (self.month == 1), (self.month - 2) % 12 + 1)

    def windows(self, max_days: int = MAX_WINDOW_DAYS) -> list[Window]:
        """Inclusive request windows covering the month, each at most ``max_days`` long.

        A window ends 1 ms before the next begins, so an event at exactly
        00:00:00.000 or 23:59:59.999 falls in exactly one window.
        """
        return windows_between(self.start_ms, self.end_ms, max_days)

    def __str__(self) -> str:
        return self.key


def windows_between(start_ms: int, stop_ms: int, max_days: int = MAX_WINDOW_DAYS) -> list[Window]:
    """Inclusive request windows covering ``start_ms`` up to ``stop_ms`` (exclusive), each at most
    ``max_days`` long, the last one ending 1 ms before ``stop_ms``; none when the range is empty.

    >>> [str(w) for w in windows_between(0, 2 * DAY_MS, max_days=1)]
    ['1970-01-01T00:00:00.000Z to 1970-01-01T23:59:59.999Z', '1970-01-02T00:00:00.000Z to 1970-01-02T23:59:59.999Z']
    """
    windows = []
    start = start_ms
    while start < stop_ms:
        stop = min(start + max_days * DAY_MS, stop_ms)
        windows.append(Window(start, stop - 1))
        start = stop
    return windows


def months_in_range(end: Month, months_back: int) -> list[Month]:
    """The ``months_back`` months ending with ``end``, oldest first.

    ``months_in_range(Month(2026, 2), 2)`` is January and February 2026.
    """
    if months_back < 1:
        raise ValueError(f"months_back must be at least 1, got {months_back}")
    months = [end]
    while len(months) < months_back:
        months.append(months[-1].previous())
    return months[::-1]


def describe_months(months: "list[Month]", *, limit: int = 6) -> str:
    """``2026-01, 2026-02`` or, for many, ``24 months, 2020-01 to 2021-12`` (a warning stays one line)."""
    if len(months) <= limit:
        return ", ".join(month.key for month in months)
    return f"{len(months)} months, {months[0].key} to {months[-1].key}"


def current_month(now: datetime | None = None) -> Month:
    return Month.of(now or utc_now())


def _utc(moment: datetime) -> datetime:
    if moment.tzinfo is None:
        return moment.replace(tzinfo=timezone.utc)
    return moment.astimezone(timezone.utc)


def _ms(moment: datetime) -> int:
    return int(moment.timestamp()) * 1000 + moment.microsecond // 1000


def _iso(epoch_ms: int) -> str:
    moment = datetime.fromtimestamp(epoch_ms / 1000, tz=timezone.utc)
    return moment.isoformat(timespec="milliseconds").replace("+00:00", "Z")


def epoch_ms(moment: datetime) -> int:
    """Epoch milliseconds of ``moment`` (naive datetimes are UTC)."""
    return _ms(_utc(moment))


def utc_now() -> datetime:
    """The clock (tests set ``billing_reports.months.utc_now``; :func:`today` and
    :func:`current_month` follow it)."""
    return datetime.now(timezone.utc)


def today() -> int:
    """Today's UTC day, as days since 1970-01-01."""
    return int(utc_now().timestamp() * 1000) // DAY_MS


def isoformat_z(moment: datetime) -> str:
    """``2026-02-24T16:30:00Z`` (the cache's ``fetched_at`` format)."""
    return _utc(moment).isoformat(timespec="seconds").replace("+00:00", "Z")


def parse_isoformat_z(text: str) -> datetime:
    return _utc(datetime.fromisoformat(text.replace("Z", "+00:00")))


__all__ = ["DAY_MS", "MAX_WINDOW_DAYS", "Month", "Window", "current_month", "months_in_range", "windows_between"]
