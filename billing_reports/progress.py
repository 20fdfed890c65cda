"""How a fetch tells the user what it is doing: a progress bar on a terminal, log lines otherwise."""

from __future__ import annotations

import math
import sys
import time
from datetime import datetime
from typing import Any, Callable, Protocol, Sequence, TextIO

import click

from billing_reports.months import Month, Window


class FetchReporter(Protocol):
    """What :func:`billing_reports.fetching.fetch_months` reports while it works."""

    def fetch_started(self, months: Sequence[Month], request_interval: float) -> None: ...
    def month_cached(self, month: Month) -> None: ...
    def month_not_started(self, month: Month) -> None: ...
    def month_refreshing(self, month: Month, since: datetime, overlap_hours: float) -> None: ...
    def month_fetched_whole(self, month: Month, reason: str) -> None: ...
    def month_started(self, month: Month, windows: Sequence[Window]) -> None: ...
    def page_requested(self, month: Month, window_index: int, window_count: int, page: int,
                       num_pages: int | None) -> None: ...
    def page_fetched(self, month: Month, window_index: int, window_count: int, page: int,
                     num_pages: int) -> None: ...
    def retrying(self, where: str, reason: str, delay: float) -> None: ...
    def warning(self, where: str, text: str) -> None: ...
    def month_finished(self, month: Month, kept: int, complete: bool) -> None: ...
    def team_figures_started(self) -> None: ...


#: What the fetch says when it goes on from the usage events to Cursor's own figures.
TEAM_FIGURES_LINE = "Taking Cursor's own figures: members, this cycle's spend and limits, billing groups..."


class SilentReporter:
    """Reports nothing (library use, tests)."""

    def fetch_started(self, months: Sequence[Month], request_interval: float) -> None:
        """``months`` are about to be fetched, request starts spaced by ``request_interval`` seconds."""

    def month_cached(self, month: Month) -> None:
        pass

    def month_not_started(self, month: Month) -> None:
        pass

    def month_refreshing(self, month: Month, since: datetime, overlap_hours: float) -> None:
        """A cached incomplete month is fetched again only from ``since`` on (``overlap_hours``
        before its last fetch started)."""

    def month_fetched_whole(self, month: Month, reason: str) -> None:
        """A cached month is fetched again whole, for ``reason`` (a phrase: "--refresh names it")."""

    def month_started(self, month: Month, windows: Sequence[Window]) -> None:
        """``month`` is fetched in ``windows`` (their page counts arrive with their first pages)."""

    def page_requested(self, month: Month, window_index: int, window_count: int, page: int,
                       num_pages: int | None) -> None:
        """``page`` is about to be requested (the pacing wait, if any, comes next); ``num_pages``:
        the window's page count as the previous page said, ``None`` before its first page."""

    def page_fetched(self, month: Month, window_index: int, window_count: int, page: int, num_pages: int) -> None:
        pass

    def retrying(self, where: str, reason: str, delay: float) -> None:
        pass

    def warning(self, where: str, text: str) -> None:
        """Something odd the fetch worked around (``where``: the month and window), to tell the user."""

    def month_finished(self, month: Month, kept: int, complete: bool) -> None:
        pass

    def team_figures_started(self) -> None:
        """The usage events are in; Cursor's own figures (``/teams/members``, ``/teams/spend``,
        ``/teams/groups``) are requested next."""


def _month_done(month: Month, kept: int, complete: bool) -> str:
    line = f"{month.label}: {kept:,} on-demand event{'' if kept == 1 else 's'} kept"
    if not complete:
        line += " (month not over yet: marked incomplete, fetched again next run)"
    return line


def _retry_line(where: str, reason: str, delay: float) -> str:
    return f"{where}: {reason}; retrying {f'in {delay:g} s' if delay else 'now'}..."


def _warning_line(where: str, text: str) -> str:
    return f"Warning: {where}: {text}"


class LogReporter(SilentReporter):
    """One log line per page as it is requested, the seed's "Fetching page 3/12 for January 2026..."
    (the first page of a window, whose count is not known yet: "Fetching page 1 for ...")."""

    def __init__(self, echo: Callable[[str], Any] | None = None) -> None:
        self.echo = echo or (lambda line: click.echo(line, err=True))

    def month_cached(self, month: Month) -> None:
        self.echo(f"{month.label}: already cached")

    def month_not_started(self, month: Month) -> None:
        self.echo(f"{month.label}: not started yet, nothing to fetch")

    def month_refreshing(self, month: Month, since: datetime, overlap_hours: float) -> None:
        self.echo(f"Refreshing {month.label} from {since:%Y-%m-%d %H:%M} UTC (overlap {overlap_hours:g} h)...")

    def month_fetched_whole(self, month: Month, reason: str) -> None:
        self.echo(f"Fetching {month.label} whole: {reason}...")

    def page_requested(self, month: Month, window_index: int, window_count: int, page: int,
                       num_pages: int | None) -> None:
        window = f" (window {window_index}/{window_count})" if window_count > 1 else ""
        of = f"/{max(num_pages, page)}" if num_pages is not None else ""
        self.echo(f"Fetching page {page}{of} for {month.label}{window}...")

    def retrying(self, where: str, reason: str, delay: float) -> None:
        self.echo(_retry_line(where, reason, delay))

    def warning(self, where: str, text: str) -> None:
        self.echo(_warning_line(where, text))

    def month_finished(self, month: Month, kept: int, complete: bool) -> None:
        self.echo(_month_done(month, kept, complete))

    def team_figures_started(self) -> None:
        self.echo(TEAM_FIGURES_LINE)


class MonthPages:
    """A month's pages as a fetch learns them: each window's count arrives with its first page.

    ``known`` (the pages of the windows whose count has arrived) only grows, so a display of
    ``done/known`` never goes backwards; ``estimated_left`` adds, for the windows not asked yet, the
    pages their share of the month's time would hold at the rate of the windows already counted.
    """

    def __init__(self, windows: Sequence[Window]) -> None:
        self.windows = list(windows)
        self._pages: dict[int, int] = {}
        self._fetched: dict[int, int] = {}

    def page_fetched(self, window_index: int, page: int, num_pages: int) -> None:
        # A window fetched again (its events did not add up) starts from page 1: never counted twice.
        self._pages[window_index] = max(self._pages.get(window_index, 0), num_pages, page, 1)
        self._fetched[window_index] = max(self._fetched.get(window_index, 0), page)

    @property
    def done(self) -> int:
        return sum(self._fetched.values())

    @property
    def known(self) -> int:
        return sum(self._pages.values())

    @property
    def all_known(self) -> bool:
        return len(self._pages) == len(self.windows)

    @property
    def estimated_left(self) -> int:
        """Pages still to fetch: those announced, and an estimate for the windows not asked yet."""
        left = self.known - self.done
        counted_ms = sum(self._span(index) for index in self._pages)
        for index in range(1, len(self.windows) + 1):
            if index not in self._pages:
                share = self._span(index) / counted_ms if counted_ms else 1.0
                left += max(1, math.ceil(self.known * share)) if self._pages else 1
        return left

    def _span(self, index: int) -> int:
        window = self.windows[index - 1]
        return window.end_ms - window.start_ms + 1


def describe_time_left(seconds: float) -> str:
    """``about 40 s left``, ``about 3 min left``, ``about 1 h 5 min left``.

    >>> describe_time_left(0.2), describe_time_left(42.4), describe_time_left(150), describe_time_left(3900)
    ('under 1 s left', 'about 42 s left', 'about 3 min left', 'about 1 h 5 min left')
    """
    if seconds < 0.5:
        return "under 1 s left"
    if seconds < 90:
        return f"about {max(1, round(seconds))} s left"
    minutes = math.ceil(seconds / 60)
    if minutes < 60:
        return f"about {minutes} min left"
    return f"about {minutes // 60} h {minutes % 60} min left"


class ProgressBarReporter(LogReporter):
    """A ``click.progressbar`` per month: ``pages done/known`` (``+`` while a window's count is still
    to come) and the time left, from the pages left and the pacing of requests (``fetch_started``'s
    interval, or the pace seen so far when the API answers slower than that)."""

    def page_requested(self, month: Month, window_index: int, window_count: int, page: int,
                       num_pages: int | None) -> None:
        pass  # the bar moves when the page has arrived

    def __init__(self, file: TextIO | None = None, *, clock: Callable[[], float] = time.monotonic) -> None:
        self.file = file or sys.stderr
        super().__init__(lambda line: click.echo(line, file=self.file))
        self.clock = clock
        self.request_interval = 0.0
        self._bar: Any = None
        self._pages = MonthPages([])
        self._month_began = 0.0

    def fetch_started(self, months: Sequence[Month], request_interval: float) -> None:
        self.request_interval = request_interval

    def month_started(self, month: Month, windows: Sequence[Window]) -> None:
        self._close()
        self._pages = MonthPages(windows)
        self._month_began = self.clock()
        self._bar = click.progressbar(length=max(1, len(windows)), label=f"{month.label:<14}", file=self.file,
                                      show_pos=False, show_percent=False, show_eta=False,
                                      item_show_func=lambda _: self.status())
        self._bar.__enter__()

    def page_fetched(self, month: Month, window_index: int, window_count: int, page: int, num_pages: int) -> None:
        if self._bar is None:
            return
        before = self._pages.done
        self._pages.page_fetched(window_index, page, num_pages)
        # The bar's length: the pages known and those estimated, never shorter than it was.
        self._bar.length = max(self._bar.length, self._pages.done + self._pages.estimated_left)
        self._bar.update(self._pages.done - before)
        self._bar.render_progress()

    def status(self) -> str:
        """What the bar says beside itself: ``12/21+ pages, about 30 s left``."""
        pages = self._pages
        if not pages.known:
            return "counting pages..."
        text = f"{pages.done}/{pages.known}{'' if pages.all_known else '+'} pages"
        left = pages.estimated_left
        if left:
            seen = (self.clock() - self._month_began) / pages.done if pages.done else 0.0
            text += ", " + describe_time_left(left * max(self.request_interval, seen))
        return text

    def retrying(self, where: str, reason: str, delay: float) -> None:
        self.echo("\n" + _retry_line(where, reason, delay) if self._bar is not None else _retry_line(where, reason, delay))

    def warning(self, where: str, text: str) -> None:
        self.echo("\n" + _warning_line(where, text) if self._bar is not None else _warning_line(where, text))

    def month_finished(self, month: Month, kept: int, complete: bool) -> None:
        if self._bar is not None:  # whole, whatever the estimate was
            self._bar.length = self._bar.pos = self._pages.done
            self._bar.render_progress()
        self._close()
        self.echo(_month_done(month, kept, complete))

    def team_figures_started(self) -> None:
        self._close()  # (a month's bar is finished by now; its line stays)
        self.echo(TEAM_FIGURES_LINE)

    def _close(self) -> None:
        if self._bar is not None:
            self._bar.__exit__(None, None, None)
            self._bar = None


def make_reporter(stream: TextIO | None = None) -> FetchReporter:
    """A progress bar when ``stream`` (default stderr) is a terminal, log lines otherwise."""
    stream = stream or sys.stderr
    if stream.isatty():
        return ProgressBarReporter(stream)
    return LogReporter(lambda line: click.echo(line, file=stream))


__all__ = ["FetchReporter", "LogReporter", "MonthPages", "ProgressBarReporter", "SilentReporter", "TEAM_FIGURES_LINE",
           "describe_time_left",
           "make_reporter"]
