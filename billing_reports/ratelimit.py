"""Spacing of API request starts: a limiter, not a sleep after each response.

The Cursor Admin API allows a fixed number of requests per minute. Spacing the *starts* of requests
by ``request_delay_seconds`` keeps a client under that limit however long each response takes: a slow
response uses up the wait instead of adding to it.
"""

from __future__ import annotations

import time
from typing import Callable

Clock = Callable[[], float]
Sleep = Callable[[float], None]


class RequestStartLimiter:
    """Let a request start only ``interval`` seconds after the previous start.

    ``clock`` and ``sleep`` are injectable so tests never really wait:

    >>> now = [0.0]
    >>> limiter = RequestStartLimiter(3.0, clock=lambda: now[0], sleep=lambda s: now.__setitem__(0, now[0] + s))
    >>> limiter.wait(), limiter.wait(), now[0]
    (0.0, 3.0, 3.0)
    """

    def __init__(self, interval: float, *, clock: Clock = time.monotonic, sleep: Sleep = time.sleep) -> None:
        if interval < 0:
            raise ValueError(f"interval must be at least 0, got {interval}")
        self.interval = interval
        self._clock = clock
        self._sleep = sleep
        self._next_start: float | None = None

    def wait(self) -> float:
        """Block until the next request may start; return the seconds waited."""
        now = self._clock()
        waited = 0.0
        if self._next_start is not None and now < self._next_start:
            waited = self._next_start - now
            self._sleep(waited)
            now = max(self._clock(), self._next_start)
        self._next_start = now + self.interval
        return waited


__all__ = ["Clock", "RequestStartLimiter", "Sleep"]
