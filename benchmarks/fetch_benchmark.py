"""The fetch-efficiency benchmark: the project's fetch against the fake API and its rate limit.

A synthetic team holds ``events`` usage events (every kind) in January 2026; the
fake Admin API serves them on 127.0.0.1 with a per-minute rate limit, and
``fetch_months`` fetches the month into a fresh cache exactly as ``billing-reports
fetch`` does. Requests made are compared with the fewest possible
(``ceil(window events / page size)`` per window), wall time with the least the
pacing allows (``(requests - 1) x max(delay, 60 / limit)``), and 429s met are
counted. The month must come back whole: its cache file is checked against the
team's own on-demand count.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Callable

from billing_reports.cache import cache_path, read_cached_month
from billing_reports.fakeapi.server import FakeCursorApi
from billing_reports.fakeapi.team import SyntheticTeam
from billing_reports.fetching import fetch_months
from billing_reports.on_demand import is_on_demand
from billing_reports.months import Month
from billing_reports.settings import settings_from_mapping

from .figures import (
    Verdict,
    format_number,
    format_table,
    minimum_requests,
    minimum_wall_seconds,
    pacing_interval,
    ratio,
    size_label,
)

FETCH_MONTH = Month(2026, 1)
#: Well after January 2026: the month is complete and every event is served.
FAKE_NOW = datetime(2026, 2, 15, tzinfo=timezone.utc)
#: The issue's target: wall time within 5 % of the minimum.
WALL_TIME_TOLERANCE = 1.05


@dataclass(frozen=True)
class FetchRun:
    events: int
    page_size: int
    rate_limit: int
    delay: float
    window_events: tuple[int, ...]
    requests: int
    rate_limited: int
    seconds: float
    kept_events: int
    expected_kept: int

    @property
    def minimum_requests(self) -> int:
        return minimum_requests(self.window_events, self.page_size)

    @property
    def interval(self) -> float:
        return pacing_interval(self.rate_limit, self.delay)

    @property
    def minimum_seconds(self) -> float:
        return minimum_wall_seconds(self.minimum_requests, self.interval)

    @property
    def complete(self) -> bool:
        return self.kept_events == self.expected_kept


def run_fetch_benchmark(work_dir: Path, *, events: int, rate_limit: int, delay: float, page_size: int,
                        progress: Callable[[str], None] = lambda message: None) -> FetchRun:
    """Fetch one month of ``events`` events from the fake API; measure requests, 429s and time."""
    team = SyntheticTeam(users=200, removed_users=6, events_per_month=events, months=[FETCH_MONTH],
                         now=lambda: FAKE_NOW)
    progress(f"generating a team month of {events:,} events for the fake API")
    month_events = team.month_events(FETCH_MONTH)  # generated now, not while the fetch is timed
    window_events = tuple(len(team.events_between(w.start_ms, w.end_ms)) for w in FETCH_MONTH.windows())
    expected_kept = sum(1 for event in month_events if is_on_demand(event))

    data_dir = work_dir / "fetch" / "monthly_usage_data"
    with FakeCursorApi(team, rate_limit_per_minute=rate_limit) as api:
        settings = settings_from_mapping(
            {
                "billing": {"page_size": page_size, "request_delay_seconds": delay},
                "api": {"base_url": api.base_url},
                "paths": {"data_dir": str(data_dir)},
            },
            work_dir / "fetch" / "config.yaml",
        )
        progress(f"fetching {FETCH_MONTH.label} from the fake API ({rate_limit}/min, delay {delay:g} s)")
        started = time.perf_counter()
        summary = fetch_months(settings, [FETCH_MONTH], api_key=api.api_key, now=lambda: FAKE_NOW)
        seconds = time.perf_counter() - started
        served_429 = sum(1 for request in api.requests if request.status == 429)
    kept = read_cached_month(cache_path(data_dir, FETCH_MONTH))["total_events"]
    return FetchRun(
        events=events,
        page_size=page_size,
        rate_limit=rate_limit,
        delay=delay,
        window_events=window_events,
        requests=summary.requests,
        rate_limited=max(summary.rate_limited, served_429),
        seconds=seconds,
        kept_events=kept,
        expected_kept=expected_kept,
    )


def fetch_verdicts(run: FetchRun) -> list[Verdict]:
    wall = ratio(run.seconds, run.minimum_seconds)
    return [
        Verdict("no extra requests", f"{run.requests} made, {run.minimum_requests} minimum",
                run.requests == run.minimum_requests),
        Verdict("zero 429s at the configured rate", f"{run.rate_limited}", run.rate_limited == 0),
        Verdict(f"wall time within {round((WALL_TIME_TOLERANCE - 1) * 100)} % of the minimum",
                f"{run.seconds:.2f} s vs {run.minimum_seconds:.2f} s (x{wall:.3f})",
                wall <= WALL_TIME_TOLERANCE),
        Verdict("every on-demand event cached", f"{run.kept_events:,} of {run.expected_kept:,}", run.complete),
    ]


def fetch_table(work_dir: Path, *, events: int, rate_limit: int, delay: float, page_size: int,
                progress: Callable[[str], None] = lambda message: None) -> str:
    run = run_fetch_benchmark(work_dir, events=events, rate_limit=rate_limit, delay=delay,
                              page_size=page_size, progress=progress)
    title = (f"Fetch efficiency: one month from the fake API ({rate_limit} req/min, "
             f"delay {delay:g} s, page size {page_size}, {len(run.window_events)} windows)")
    table = format_table(
        ["events", "requests", "minimum", "429s", "wall s", "minimum s", "wall/minimum", "cached"],
        [[
            size_label(run.events),
            format_number(run.requests),
            format_number(run.minimum_requests),
            format_number(run.rate_limited),
            format_number(run.seconds),
            format_number(run.minimum_seconds),
            format_number(ratio(run.seconds, run.minimum_seconds), 3),
            format_number(run.kept_events),
        ]],
    )
    return "\n".join([title, "", table, "", *(verdict.line() for verdict in fetch_verdicts(run))])


__all__ = ["FetchRun", "fetch_table", "fetch_verdicts", "run_fetch_benchmark"]
