"""Fetch progress: a progress bar on a terminal, log lines otherwise."""

import io

from billing_reports.months import Month
from billing_reports.progress import LogReporter, ProgressBarReporter, make_reporter

JANUARY = Month(2026, 1)


class Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_a_terminal_gets_a_progress_bar_and_a_pipe_gets_log_lines():
    assert isinstance(make_reporter(Terminal()), ProgressBarReporter)
    piped = make_reporter(io.StringIO())
    assert isinstance(piped, LogReporter) and not isinstance(piped, ProgressBarReporter)


def test_the_bar_grows_as_windows_report_their_pages_and_ends_full():
    screen = Terminal()
    reporter = ProgressBarReporter(screen)
    reporter.month_started(JANUARY, 2)
    for page in (1, 2, 3):
        reporter.page_fetched(JANUARY, 1, 2, page, 3)
    assert reporter._bar.length == 3 + 1  # window 2 not asked yet: one page assumed
    reporter.page_fetched(JANUARY, 2, 2, 1, 2)
    reporter.page_fetched(JANUARY, 2, 2, 2, 2)
    assert reporter._bar.length == 5 and reporter._bar.pos == 5
    reporter.month_finished(JANUARY, 1234, complete=False)
    shown = screen.getvalue()
    assert "January 2026" in shown and "5/5" in shown
    assert shown.rstrip().endswith(
        "January 2026: 1,234 on-demand events kept (month not over yet: marked incomplete, fetched again next run)")


def test_log_lines_name_the_window_only_when_a_month_has_several():
    lines = []
    reporter = LogReporter(lines.append)
    reporter.page_requested(JANUARY, 1, 2, 3, 12)
    reporter.page_fetched(JANUARY, 1, 2, 3, 12)  # (a line as it is requested, none when it arrives)
    reporter.page_requested(Month(2026, 2), 1, 1, 1, None)  # the first page: the count is not known yet
    reporter.page_requested(Month(2026, 2), 1, 1, 3, 12)
    reporter.month_cached(JANUARY)
    assert lines == [
        "Fetching page 3/12 for January 2026 (window 1/2)...",
        "Fetching page 1 for February 2026...",
        "Fetching page 3/12 for February 2026...",
        "January 2026: already cached",
    ]
