"""How a fetch tells the user what it is doing: a progress bar on a terminal, log lines otherwise."""

from __future__ import annotations

import sys
from datetime import datetime
from typing import Any, Callable, Protocol, TextIO

import click

from billing_reports.months import Month


class FetchReporter(Protocol):
    """What :func:`billing_reports.fetching.fetch_months` reports while it works."""

    def month_cached(self, month: Month) -> None: ...
    def month_not_started(self, month: Month) -> None: ...
    def month_refreshing(self, month: Month, since: datetime, overlap_hours: float) -> None: ...
    def month_fetched_whole(self, month: Month, reason: str) -> None: ...
    def month_started(self, month: Month, window_count: int) -> None: ...
    def page_requested(self, month: Month, window_index: int, window_count: int, page: int,
                       num_pages: int | None) -> None: ...
    def page_fetched(self, month: Month, window_index: int, window_count: int, page: int,
                     num_pages: int) -> None: ...
    def retrying(self, where: str, reason: str, delay: float) -> None: ...
    def warning(self, where: str, text: str) -> None: ...
    def month_finished(self, month: Month, kept: int, complete: bool) -> None: ...


class SilentReporter:
    """Reports nothing (library use, tests)."""

    def month_cached(self, month: Month) -> None:
        pass

    def month_not_started(self, month: Month) -> None:
        pass

    def month_refreshing(self, month: Month, since: datetime, overlap_hours: float) -> None:
        """A cached incomplete month is fetched again only from ``since`` on (``overlap_hours``
        before its last fetch started)."""

    def month_fetched_whole(self, month: Month, reason: str) -> None:
        """A cached month is fetched again whole, for ``reason`` (a phrase: "--refresh names it")."""

    def month_started(self, month: Month, window_count: int) -> None:
        pass

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


class ProgressBarReporter(LogReporter):
    """A ``click.progressbar`` per month, its length growing as windows report their page counts."""

    def page_requested(self, month: Month, window_index: int, window_count: int, page: int,
                       num_pages: int | None) -> None:
        pass  # the bar moves when the page has arrived

    def __init__(self, file: TextIO | None = None) -> None:
        self.file = file or sys.stderr
        super().__init__(lambda line: click.echo(line, file=self.file))
        self._bar: Any = None
        self._known_pages: dict[int, int] = {}
        self._window_count = 1

    def month_started(self, month: Month, window_count: int) -> None:
        self._close()
        self._known_pages = {}
        self._window_count = window_count
        self._bar = click.progressbar(length=window_count, label=f"{month.label:<14}", file=self.file,
                                      show_pos=True, show_eta=False)
        self._bar.__enter__()

    def page_fetched(self, month: Month, window_index: int, window_count: int, page: int, num_pages: int) -> None:
        if self._bar is None:
            return
        self._known_pages[window_index] = max(num_pages, 1)
        unknown = window_count - len(self._known_pages)
        self._bar.length = sum(self._known_pages.values()) + unknown
        self._bar.update(1)

    def retrying(self, where: str, reason: str, delay: float) -> None:
        self.echo("\n" + _retry_line(where, reason, delay) if self._bar is not None else _retry_line(where, reason, delay))

    def warning(self, where: str, text: str) -> None:
        self.echo("\n" + _warning_line(where, text) if self._bar is not None else _warning_line(where, text))

    def month_finished(self, month: Month, kept: int, complete: bool) -> None:
        self._close()
        self.echo(_month_done(month, kept, complete))

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


__all__ = ["FetchReporter", "LogReporter", "ProgressBarReporter", "SilentReporter", "make_reporter"]
