"""Fetch months of usage events from the Cursor Admin API into the monthly cache.

For each month: skip it when its cache file is complete (unless ``refresh`` names it); otherwise
decide what to request (``refresh.plan_scope``: the whole month, or for a cached incomplete month
only from ``fetch.overlap_hours`` before its last fetch on), request each window of that (both
bounds inclusive, no overlap, at most 30 days) page by page until ``hasNextPage`` is false or the
pages ``totalUsageEventsCount`` announces have brought its events (never more than one page beyond
them), check the events against that total (one refetch of the window, then a clear failure), keep
the on-demand events and count the others by kind, and write the month's cache file atomically once
every window has arrived. A page that repeats an earlier page of its window is left out and counted
(``repeated``). A cache file that cannot be read stops the run before any request.
"""

from __future__ import annotations

import hashlib
import math
import time
from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Callable, Iterable, Sequence

import orjson
import requests

from billing_reports.cache import (
    cache_path, cached_complete, is_complete, read_cached_month, refuse_demo_data, write_cached_month,
)
from billing_reports.client import CursorAdminClient
from billing_reports.errors import ApiError, CacheError, ConfigError
from billing_reports.folders import check_writable_folder, existing_folder
from billing_reports import months as _months
from billing_reports.months import Month, Window, isoformat_z, parse_isoformat_z
from billing_reports.periods import date_of_day, day_of_ms

HOUR_MS = 3_600_000
from billing_reports.on_demand import NO_KIND, charged_microcents, is_on_demand, left_out_label
from billing_reports.progress import FetchReporter, SilentReporter
from billing_reports.refresh import FetchScope, plan_scope
from billing_reports.ratelimit import RequestStartLimiter, Sleep
from billing_reports.settings import API_KEY_VARIABLE, Settings, check_api_key
from billing_reports.team_fetch import TeamFigures, fetch_team_figures

def missing_key_error() -> ConfigError:
    return ConfigError(
        f"No Cursor API key: set {API_KEY_VARIABLE} in the environment or in a .env file next to "
        "config.yaml (or in the current directory); `billing-reports build --demo` needs none."
    )


@dataclass
class FetchSummary:
    """What a fetch did."""

    months_fetched: list[Month] = field(default_factory=list)
    months_cached: list[Month] = field(default_factory=list)
    #: Fetched months still marked incomplete (the current month, or one that ended < 1 day ago).
    months_incomplete: list[Month] = field(default_factory=list)
    #: Months in range that have not begun: nothing to fetch.
    months_not_started: list[Month] = field(default_factory=list)
    #: On-demand events written to the cache by this fetch.
    events_kept: int = 0
    requests: int = 0
    rate_limited: int = 0
    retries: int = 0
    seconds: float = 0.0
    #: Fetched months requested only from their cut-off on (a span of their cache file replaced).
    months_refreshed: list[Month] = field(default_factory=list)
    #: What was taken of Cursor's own figures (``None``: not asked for, or no key).
    team: TeamFigures | None = None

    def describe(self) -> str:
        """One line for the user.

        >>> FetchSummary([Month(2026, 1)], [Month(2025, 12)], events_kept=1523, requests=4, seconds=9.04).describe()
        'Fetched 1 month (1,523 on-demand events), 1 already cached; 4 requests, 0 rate-limited (429), 9.0 s.'
        """
        fetched = len(self.months_fetched)
        refreshed = f"; {len(self.months_refreshed)} refreshed since the last fetch" if self.months_refreshed else ""
        parts = [f"Fetched {fetched} month{'s' if fetched != 1 else ''} "
                 f"({self.events_kept:,} on-demand events{refreshed})"]
        parts.append(f"{len(self.months_cached)} already cached")
        if self.months_incomplete:
            parts.append(f"{len(self.months_incomplete)} incomplete (fetched again next run)")
        if self.months_not_started:
            parts.append(f"{len(self.months_not_started)} not started")
        line = (
            ", ".join(parts)
            + f"; {self.requests:,} requests, {self.rate_limited} rate-limited (429), {self.seconds:.1f} s."
        )
        return line if self.team is None else f"{line}\n{self.team.describe()}."


@dataclass(frozen=True)
class FetchPlan:
    """Which months a fetch requests, which it finds cached, which have not begun."""

    to_fetch: list[Month]
    cached: list[Month]
    not_started: list[Month]


def plan_fetch(settings: Settings, months: Iterable[Month], *, refresh: Iterable[Month] = (),
               now: datetime) -> FetchPlan:
    """Sort ``months`` (plus the ``refresh`` ones) into to fetch / cached / not started.

    Raises ``CacheError`` for a cache file that cannot be read, unless ``refresh`` names its month.
    """
    refresh = set(refresh)
    to_fetch, cached, not_started = [], [], []
    for month in sorted(set(months) | refresh):
        if month.start > now:
            not_started.append(month)
            continue
        path = cache_path(settings.data_dir, month)
        if month in refresh or not path.exists():
            to_fetch.append(month)
            continue
        payload = read_cached_month(path)
        refuse_demo_data(path, payload.get("fetch"), demo=settings.demo)
        if cached_complete(month, payload):
            cached.append(month)
        else:
            to_fetch.append(month)
    return FetchPlan(to_fetch, cached, not_started)


def fetch_months(
    settings: Settings,
    months: Sequence[Month],
    *,
    api_key: str | None,
    refresh: Iterable[Month] = (),
    reporter: FetchReporter | None = None,
    now: Callable[[], datetime] = lambda: _months.utc_now(),  # the clock tests set, read at each call
    clock: Callable[[], float] = time.monotonic,
    sleep: Sleep = time.sleep,
    session: requests.Session | None = None,
    team_figures: bool = False,
) -> FetchSummary:
    """Fetch every month of ``months`` that is not cached, cached but incomplete, or in ``refresh``.

    ``refresh`` months outside ``months`` are fetched too. The key is needed only when something must
    be fetched. ``now``, ``clock`` and ``sleep`` are injectable so tests never wait.
    ``team_figures``: then also take Cursor's own figures (members, the current cycle's spend,
    billing groups; :mod:`billing_reports.team_fetch`) through the same client and rate limit,
    whenever there is a key, even with every month cached: they change by the hour.

    Raises ``CacheError`` (a broken cache file, before any request), ``ConfigError`` (no key) or
    ``ApiError`` (the API refused or kept failing; the message names the month and window).
    """
    reporter = reporter or SilentReporter()
    began = clock()
    existing_folder(settings.data_dir, "paths.data_dir")  # a file, or a folder this user cannot enter
    plan = plan_fetch(settings, months, refresh=refresh, now=now())
    summary = FetchSummary(months_cached=plan.cached, months_not_started=plan.not_started)
    for month in plan.cached:
        reporter.month_cached(month)
    for month in plan.not_started:
        reporter.month_not_started(month)
    team_figures = team_figures and bool(api_key)
    if plan.to_fetch or team_figures:
        if not api_key:
            raise missing_key_error()
        check_api_key(api_key)
        check_writable_folder(settings.data_dir, "paths.data_dir")  # before any request
        client = CursorAdminClient(
            settings.api_base_url,
            api_key,
            timeout=settings.timeout_seconds,
            max_retries=settings.max_retries,
            limiter=RequestStartLimiter(settings.request_delay_seconds, clock=clock, sleep=sleep),
            sleep=sleep,
            session=session,
            on_retry=reporter.retrying,
        )
        refresh = set(refresh)
        reporter.fetch_started(plan.to_fetch, settings.request_delay_seconds)
        try:
            for month in plan.to_fetch:
                path = cache_path(settings.data_dir, month)
                # read again, one month at a time: a big month is held only while it is fetched
                cached = None if month in refresh or not path.exists() else read_cached_month(path)
                started = parse_isoformat_z(isoformat_z(now()))  # to the second, as fetched_at records it
                scope = plan_scope(month, cached, started=started, complete=is_complete(month, started),
                                   overlap_hours=settings.fetch_overlap_hours, refresh=month in refresh)
                del cached  # the events the fetch replaces are not kept while it runs
                payload = fetch_month(client, scope, page_size=settings.page_size, reporter=reporter)
                try:
                    write_cached_month(path, payload, demo=settings.demo)
                except orjson.JSONEncodeError:  # a kept event of the file (answers are checked): edited by hand
                    raise CacheError(
                        f"Cache file {path} holds an event nested too deep to be written again; run "
                        f"`billing-reports fetch --refresh {month.key}` to download the month whole.",
                        path=path, problem="holds an event nested too deep to be written again",
                    ) from None
                summary.months_fetched.append(month)
                if not scope.whole:
                    summary.months_refreshed.append(month)
                summary.events_kept += payload["total_events"]
                if not payload["complete"]:
                    summary.months_incomplete.append(month)
                reporter.month_finished(month, payload["total_events"], payload["complete"])
            usage_requests = client.stats.requests
            if team_figures:
                reporter.team_figures_started()
                summary.team = fetch_team_figures(client, settings.data_dir, months, cycle_start=settings.cycle_start,
                                                  demo=settings.demo, now=now)
                summary.team.requests = client.stats.requests - usage_requests
        finally:
            summary.requests = client.stats.requests - (summary.team.requests if summary.team else 0)
            summary.rate_limited = client.stats.rate_limited
            summary.retries = client.stats.retries
            client.close()
    summary.seconds = clock() - began
    return summary


def fetch_month(
    client: CursorAdminClient,
    scope: FetchScope,
    *,
    page_size: int,
    reporter: FetchReporter | None = None,
) -> dict[str, Any]:
    """Fetch the windows of ``scope``; return the month's cache payload (see docs/architecture.md):
    the window records and events ``scope`` keeps, then those fetched. Nothing is returned before
    every window has arrived."""
    reporter = reporter or SilentReporter()
    month = scope.month
    fetched_at = isoformat_z(scope.started)
    if not scope.whole:
        reporter.month_refreshing(month, scope.since, scope.overlap_hours)
    elif scope.whole_reason:
        reporter.month_fetched_whole(month, scope.whole_reason)
    reporter.month_started(month, scope.windows)
    kept = list(scope.kept_events)
    window_records = list(scope.kept_windows)
    for index, window in enumerate(scope.windows, start=1):
        where = f"{month.label}, window {index}/{len(scope.windows)} ({window})"
        requests_before = client.stats.requests
        events, api_total, repeated = _fetch_window(
            client, month, window, where, page_size, reporter, index, len(scope.windows))
        kept_here = 0
        left_out: Counter[str] = Counter()
        left_out_charged: Counter[tuple[str, str, str]] = Counter()
        for event in events:
            if isinstance(event, dict) and is_on_demand(event):
                kept.append(event)
                kept_here += 1
            elif isinstance(event, dict):
                kind = left_out_label(event)
                left_out[kind] += 1
                charged = charged_microcents(event)
                if charged:
                    left_out_charged[(_event_hour(event), _event_user(event), kind)] += charged
            else:
                left_out[NO_KIND] += 1
        record = {
            "startDate": window.start_ms,
            "endDate": window.end_ms,
            "fetched_at": fetched_at,
            "api_total": api_total,
            "kept": kept_here,
            "left_out": dict(sorted(left_out.items())),
            "requests": client.stats.requests - requests_before,
        }
        if left_out_charged:
            record["left_out_charged"] = [[*key, amount] for key, amount in sorted(left_out_charged.items())]
        if repeated:
            record["repeated"] = repeated
        window_records.append(record)
    left_out_total: Counter[str] = Counter()
    for record in window_records:
        left_out_total.update(record["left_out"])
    fetch = {
        "windows": window_records,
        "api_total": sum(record["api_total"] for record in window_records),
        "left_out": dict(sorted((kind, count) for kind, count in left_out_total.items() if count)),
        "requests": sum(record["requests"] for record in window_records),
        "page_size": page_size,
    }
    repeated_total = sum(_count(record.get("repeated")) for record in window_records)
    if repeated_total:
        fetch["repeated"] = repeated_total
    return {
        "month": month.cache_stem,
        "fetched_at": fetched_at,
        "total_events": len(kept),
        "events": kept,
        "complete": scope.complete,
        "fetch": fetch,
    }


def _fetch_window(
    client: CursorAdminClient,
    month: Month,
    window: Window,
    where: str,
    page_size: int,
    reporter: FetchReporter,
    index: int,
    count: int,
) -> tuple[list[Any], int, int]:
    """All events of one window, the API's total of them, and how many events of repeated pages were
    left out; refetched once when they do not add up to the API's total.

    Pages are requested until the API says none follows, or until the pages its total announces
    (``ceil(total / page_size)``) have brought that many events, whatever ``hasNextPage`` says; never
    more than one page beyond the announced ones, and no page more once the total changes (a total
    that grew on every page would otherwise never end the window).
    """
    for attempt in (1, 2):
        pages = _WindowPages()
        totals: set[int] = set()
        page = 1
        num_pages: Any = None
        while True:
            reporter.page_requested(month, index, count, page, num_pages if isinstance(num_pages, int) else None)
            answer = client.filtered_usage_events(
                start_ms=window.start_ms, end_ms=window.end_ms, page=page, page_size=page_size, context=where
            )
            changed = bool(totals) and answer["totalUsageEventsCount"] not in totals
            totals.add(answer["totalUsageEventsCount"])
            pages.add(page, answer["usageEvents"])
            pagination = answer["pagination"]
            num_pages = pagination.get("numPages")
            reporter.page_fetched(month, index, count, page, num_pages if isinstance(num_pages, int) else page)
            total = max(totals)
            announced = math.ceil(total / page_size)
            if not pagination["hasNextPage"]:
                break
            if changed:
                break  # the total moved under us: the window is fetched again (the pages stay bounded)
            if page >= announced and len(pages.events) >= total:
                break  # every announced page and event has arrived: "more" would be beyond the total
            if page > announced:
                break  # one page beyond the announced ones at most
            if not answer["usageEvents"]:
                raise ApiError(
                    f"{where}: page {page} came back empty although the API says more pages follow; "
                    "run the command again later"
                )
            page += 1
        if len(totals) == 1 and len(pages.events) == next(iter(totals)):
            if pages.repeats:
                reporter.warning(where, f"{pages.describe_repeats()}; left out: the other pages hold the "
                                        f"{len(pages.events):,} events the API reported")
            return pages.events, len(pages.events), pages.repeated_events
        if attempt == 1:
            reporter.retrying(where, _mismatch(totals, pages), 0)
    raise ApiError(
        f"{where}: {_mismatch(totals, pages)}, twice in a row; events may still be arriving: "
        "run the command again later"
    )


#: A page repeats an earlier one when it holds the very same events in the same order, and at least
#: this many: a page of one event can equal another by chance (two identical parallel calls).
MIN_REPEATED_PAGE_EVENTS = 2


class _WindowPages:
    """The events of one window's pages, except pages that repeat an earlier page whole."""

    def __init__(self) -> None:
        self.events: list[Any] = []
        #: ``(page, the earlier page it repeats, its events)``
        self.repeats: list[tuple[int, int, int]] = []
        self._digests: dict[bytes, int] = {}

    def add(self, page: int, events: list[Any]) -> None:
        if len(events) >= MIN_REPEATED_PAGE_EVENTS:
            digest = hashlib.blake2b(orjson.dumps(events, option=orjson.OPT_SORT_KEYS), digest_size=16).digest()
            earlier = self._digests.setdefault(digest, page)
            if earlier != page:
                self.repeats.append((page, earlier, len(events)))
                return
        self.events.extend(events)

    @property
    def repeated_events(self) -> int:
        return sum(events for _, _, events in self.repeats)

    def describe_repeats(self) -> str:
        """``page 3 repeated page 2 (2 events)``, for each repeat."""
        return ", ".join(f"page {page} repeated page {earlier} ({events:,} events)"
                         for page, earlier, events in self.repeats)


def _mismatch(totals: set[int], pages: _WindowPages) -> str:
    reported = " then ".join(str(total) for total in sorted(totals))
    if not pages.repeats:
        return f"the API reported {reported} events but sent {len(pages.events)}"
    return (f"the API reported {reported} events but sent {len(pages.events)} different ones "
            f"({pages.describe_repeats()})")


def _event_hour(event: dict[str, Any]) -> str:
    """The UTC hour of an event's ``timestamp`` (``YYYY-MM-DDTHH``: Cursor aggregates its spend
    figures hourly), ``""`` when it has none usable."""
    stamp = event.get("timestamp")
    try:
        moment = int(stamp) if isinstance(stamp, str) else stamp
    except ValueError:
        return ""
    if isinstance(moment, bool) or not isinstance(moment, int) or not 0 <= moment < 253402300800000:
        return ""
    return f"{date_of_day(day_of_ms(moment)).isoformat()}T{moment // HOUR_MS % 24:02d}"


def _event_user(event: dict[str, Any]) -> str:
    """Whose an event is: its ``userEmail`` (a removed member's events have none: ``""``)."""
    email = event.get("userEmail")
    return email if isinstance(email, str) else ""


def _count(value: Any) -> int:
    return value if isinstance(value, int) and not isinstance(value, bool) and value > 0 else 0


__all__ = [
    "FetchSummary",
    "fetch_month",
    "fetch_months",
    "is_complete",
    "missing_key_error",
    "plan_fetch",
]
