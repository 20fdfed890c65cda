"""The arithmetic of the benchmark figures and the small aligned table they print as.

Kept apart from the measuring code so that tests can check every formula.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Sequence

MEGABYTE = 1024 * 1024


def minimum_requests(window_events: Sequence[int], page_size: int) -> int:
    """The fewest requests that fetch every window: ``ceil(events / page_size)`` each.

    A window without events still needs one request to learn that it is empty.

    >>> minimum_requests([1900, 100], 1000)
    3
    """
    if page_size < 1:
        raise ValueError("page_size must be at least 1")
    return sum(max(1, math.ceil(events / page_size)) for events in window_events)


def pacing_interval(rate_limit_per_minute: float, request_delay_seconds: float) -> float:
    """Seconds between request starts that respect both the rate limit and the configured delay.

    >>> pacing_interval(600, 0.05)
    0.1
    """
    if rate_limit_per_minute <= 0:
        raise ValueError("rate_limit_per_minute must be positive")
    return max(request_delay_seconds, 60.0 / rate_limit_per_minute)


def minimum_wall_seconds(requests: int, interval: float) -> float:
    """The least time ``requests`` requests can take when their starts are ``interval`` apart.

    The first request starts at once; the last one starts ``(requests - 1) * interval``
    later (the time to answer it is not counted).

    >>> minimum_wall_seconds(51, 0.1)
    5.0
    """
    return max(0, requests - 1) * interval


def seconds_per_million(seconds: float, events: int) -> float:
    """Seconds per million events (``nan`` for no events)."""
    return seconds * 1_000_000 / events if events else math.nan


def ratio(numerator: float, denominator: float) -> float:
    """``numerator / denominator``; ``nan`` when the denominator is 0."""
    return numerator / denominator if denominator else math.nan


def marginal_seconds_per_million(points: Sequence[tuple[int, float]]) -> list[float]:
    """Seconds per extra million events between consecutive sizes of ``(events, seconds)``.

    A build costs a fixed part (pages per user and model, imports) plus a part per event; time
    grows linearly when these marginal costs agree, whatever the fixed part.

    >>> marginal_seconds_per_million([(100_000, 2.4), (1_000_000, 6.0), (5_000_000, 22.0)])
    [4.0, 4.0]
    """
    ordered = sorted(points)
    return [
        (later - earlier) * 1_000_000 / (bigger - smaller)
        for (smaller, earlier), (bigger, later) in zip(ordered, ordered[1:])
        if bigger > smaller
    ]


def steepening(values: Sequence[float]) -> float:
    """How much a marginal cost rises from one size to the next: the largest later/earlier ratio.

    At most 1.0 when it never rises (a fixed part spread over more events makes it fall, which
    is still at most linear); ``nan`` with fewer than two values or one not positive.

    >>> steepening([8.0, 5.0]), steepening([4.0, 4.0]), steepening([4.0, 6.0, 6.0])
    (0.625, 1.0, 1.5)
    """
    if len(values) < 2 or min(values) <= 0:
        return math.nan
    return max(later / earlier for earlier, later in zip(values, values[1:]))


def spread(values: Sequence[float]) -> float:
    """Largest over smallest (1.0: all equal); ``nan`` when empty or not all positive."""
    if not values or min(values) <= 0:
        return math.nan
    return max(values) / min(values)


def kilobytes_to_megabytes(kilobytes: int) -> float:
    """``ru_maxrss`` (KiB on Linux) as MiB."""
    return kilobytes / 1024


@dataclass(frozen=True)
class Verdict:
    """One target: what was asked, what was measured, whether it holds."""

    target: str
    measured: str
    met: bool

    def line(self) -> str:
        return f"{'met' if self.met else 'MISSED':6}  {self.target}: {self.measured}"


def format_number(value: float | int | None, decimals: int = 2) -> str:
    """Integers with thousands separators, floats with ``decimals`` places, ``-`` for nothing."""
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "-"
    if isinstance(value, int):
        return f"{value:,}"
    return f"{value:,.{decimals}f}"


def format_table(headers: Sequence[str], rows: Sequence[Sequence[str]]) -> str:
    """A plain aligned table: the first column left-aligned, the others right-aligned.

    >>> print(format_table(["size", "s"], [["100k", "1.5"], ["1M", "12.25"]]))
    size      s
    ----  -----
    100k    1.5
    1M    12.25
    """
    widths = [max(len(str(cell)) for cell in column) for column in zip(headers, *rows)]

    def line(cells: Sequence[str]) -> str:
        parts = [
            str(cell).ljust(width) if index == 0 else str(cell).rjust(width)
            for index, (cell, width) in enumerate(zip(cells, widths))
        ]
        return "  ".join(parts).rstrip()

    return "\n".join([line(headers), line(["-" * width for width in widths]), *(line(row) for row in rows)])


def size_label(events: int) -> str:
    """``100k``, ``1M``, ``2.5M``, ``750``."""
    if events >= 1_000_000 and events % 100_000 == 0:
        return f"{events / 1_000_000:g}M"
    if events >= 1_000 and events % 1_000 == 0:
        return f"{events // 1_000}k"
    return f"{events:,}"


def parse_size(text: str) -> int:
    """``100k`` / ``1M`` / ``2.5m`` / ``50000`` as a number of events.

    >>> parse_size("2.5M")
    2500000
    """
    cleaned = text.strip().lower().replace("_", "").replace(",", "")
    scale = 1
    if cleaned.endswith("k"):
        scale, cleaned = 1_000, cleaned[:-1]
    elif cleaned.endswith("m"):
        scale, cleaned = 1_000_000, cleaned[:-1]
    try:
        value = float(cleaned) * scale
    except ValueError:
        raise ValueError(f"expected a number of events like 100k, 1M or 50000, got {text!r}") from None
    if value < 1 or value != int(value):
        raise ValueError(f"expected a whole, positive number of events, got {text!r}")
    return int(value)
