"""HTTP client of the Cursor Admin API endpoint ``POST /teams/filtered-usage-events``.

Basic auth with the key as user name; request starts spaced by a :class:`RequestStartLimiter`;
429, 5xx, timeouts, dropped connections and unreadable bodies retried with exponential backoff
(1, 2, 4, 8, 16 s, or the server's ``Retry-After``); 400/401/403 stop at once. Every error names
the month and window it was fetching (the ``context``) and never contains the key.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass
from email.utils import parsedate_to_datetime
from typing import Any, Callable

import orjson
import requests

from billing_reports import __version__
from billing_reports.errors import ApiError
from billing_reports.ratelimit import RequestStartLimiter, Sleep

USAGE_EVENTS_PATH = "/teams/filtered-usage-events"
#: Cap of one backoff step (the documented steps are 1, 2, 4, 8, 16 s).
MAX_BACKOFF_SECONDS = 60.0
#: A ``Retry-After`` longer than this stops the run instead of leaving a scheduled job asleep.
MAX_RETRY_AFTER_SECONDS = 300.0
USER_AGENT = f"billing-reports/{__version__}"

#: ``on_retry(context, reason, delay_seconds)``: told before each backoff sleep.
RetryListener = Callable[[str, str, float], None]


def backoff_seconds(retry_number: int) -> float:
    """The documented backoff before retry ``retry_number`` (1-based): 1, 2, 4, 8, 16 s...

    >>> [backoff_seconds(n) for n in range(1, 6)]
    [1.0, 2.0, 4.0, 8.0, 16.0]
    """
    return min(float(2 ** (retry_number - 1)), MAX_BACKOFF_SECONDS)


def retry_after_seconds(value: str | None) -> float | None:
    """Seconds a ``Retry-After`` header asks for (delta-seconds or an HTTP date), else ``None``.

    >>> retry_after_seconds("7"), retry_after_seconds("soon"), retry_after_seconds(None), retry_after_seconds("inf")
    (7.0, None, None, None)
    """
    if not value:
        return None
    value = value.strip()
    try:
        seconds = float(value)
    except ValueError:
        pass
    else:
        return max(0.0, seconds) if math.isfinite(seconds) else None
    try:
        moment = parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if moment is None:
        return None
    return max(0.0, moment.timestamp() - time.time())


@dataclass
class ClientStats:
    """What the client did: requests started, 429s met, retries made."""

    requests: int = 0
    rate_limited: int = 0
    retries: int = 0


class _Retryable(Exception):
    """A failure worth another attempt; ``delay`` overrides the backoff (``Retry-After``)."""

    def __init__(self, reason: str, delay: float | None = None) -> None:
        super().__init__(reason)
        self.reason = reason
        self.delay = delay


class CursorAdminClient:
    """A client of ``POST /teams/filtered-usage-events``.

    ``limiter`` spaces request starts (retries included); ``sleep`` is used for backoff. Both are
    injectable so tests never wait for real.
    """

    def __init__(
        self,
        base_url: str,
        api_key: str,
        *,
        timeout: float = 60.0,
        max_retries: int = 5,
        limiter: RequestStartLimiter | None = None,
        sleep: Sleep = time.sleep,
        session: requests.Session | None = None,
        on_retry: RetryListener | None = None,
    ) -> None:
        if not api_key:
            raise ValueError("api_key must not be empty")
        self.base_url = base_url.rstrip("/")
        self._api_key = api_key
        self.timeout = timeout
        self.max_retries = max_retries
        self.limiter = limiter or RequestStartLimiter(0.0)
        self._sleep = sleep
        self._session = session or requests.Session()
        self._session.headers["User-Agent"] = USER_AGENT
        self.on_retry = on_retry
        self.stats = ClientStats()

    def __repr__(self) -> str:  # never show the key
        return f"CursorAdminClient(base_url={self.base_url!r}, api_key='***')"

    def close(self) -> None:
        self._session.close()

    def __enter__(self) -> "CursorAdminClient":
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def filtered_usage_events(
        self, *, start_ms: int, end_ms: int, page: int, page_size: int, context: str
    ) -> dict[str, Any]:
        """One page of usage events between ``start_ms`` and ``end_ms`` (both inclusive).

        Returns the decoded response (``totalUsageEventsCount``, ``pagination``, ``usageEvents``).
        Raises ``ApiError`` naming ``context`` when the API refuses or keeps failing.
        """
        body = {"startDate": start_ms, "endDate": end_ms, "page": page, "pageSize": page_size}
        where = f"{context}, page {page}"
        retries = 0
        while True:
            try:
                return self._attempt(body, where)
            except _Retryable as failure:
                if retries >= self.max_retries:
                    raise ApiError(
                        f"{where}: gave up after {retries} retries ({failure.reason}); "
                        "wait a few minutes and run the command again"
                    ) from None
                retries += 1
                self.stats.retries += 1
                delay = failure.delay if failure.delay is not None else backoff_seconds(retries)
                if delay > MAX_RETRY_AFTER_SECONDS:
                    raise ApiError(
                        f"{where}: {failure.reason}; the API asks to wait {delay:,.0f} s (Retry-After) "
                        "before the next request; run the command again later"
                    ) from None
                if self.on_retry is not None:
                    self.on_retry(where, failure.reason, delay)
                self._sleep(delay)

    def _attempt(self, body: dict[str, Any], where: str) -> dict[str, Any]:
        self.limiter.wait()
        self.stats.requests += 1
        try:
            response = self._session.post(
                self.base_url + USAGE_EVENTS_PATH,
                data=orjson.dumps(body),
                headers={"Content-Type": "application/json", "Accept": "application/json"},
                auth=(self._api_key, ""),
                timeout=self.timeout,
            )
        except requests.Timeout:
            raise _Retryable(f"no answer within {self.timeout:g} s") from None
        except requests.ConnectionError as error:
            raise _Retryable(f"connection failed: {self._scrub(_first_line(error))}") from None
        except requests.RequestException as error:
            raise _Retryable(f"request failed: {self._scrub(_first_line(error))}") from None
        with response:
            try:
                content = response.content
            except requests.RequestException as error:
                raise _Retryable(f"the answer was cut off: {self._scrub(_first_line(error))}") from None
            return self._check(response, content, where)

    def _check(self, response: requests.Response, content: bytes, where: str) -> dict[str, Any]:
        status = response.status_code
        message = self._scrub(_api_message(content))
        if status == 429:
            self.stats.rate_limited += 1
            raise _Retryable("rate limited (429)", retry_after_seconds(response.headers.get("Retry-After")))
        if status >= 500:
            raise _Retryable(f"server error {status}" + (f": {message}" if message else ""))
        if status == 401:
            raise ApiError(
                f"{where}: the Cursor API rejected the API key (401 Unauthorized); check CURSOR_API_KEY "
                "(an Admin API key from the team's dashboard settings)"
            )
        if status == 403:
            raise ApiError(
                f"{where}: the API key lacks access (403 Forbidden: {message or 'no message'}); "
                "use an Admin API key (scope admin:*) of a team with Enterprise/Admin API access"
            )
        if status == 400:
            raise ApiError(f"{where}: the API refused the request (400 Bad Request: {message or 'no message'})")
        if status != 200:
            raise ApiError(
                f"{where}: unexpected HTTP {status} from {self.base_url}"
                + (f" ({message})" if message else "")
                + "; check api.base_url / CURSOR_API_BASE_URL"
            )
        try:
            payload = orjson.loads(content)
        except orjson.JSONDecodeError:
            raise _Retryable(f"the answer was not valid JSON ({len(content)} bytes)") from None
        problem = _shape_problem(payload)
        if problem:
            raise ApiError(f"{where}: the API answered in an unexpected shape ({problem}); the API may have changed")
        return payload

    def _scrub(self, text: str) -> str:
        return text.replace(self._api_key, "***") if self._api_key else text


def _first_line(error: BaseException) -> str:
    text = str(error) or type(error).__name__
    return text.splitlines()[0][:200]


def _api_message(content: bytes) -> str:
    """The ``message`` of an error body ``{"error": ..., "message": ...}``, else a short excerpt."""
    try:
        body = orjson.loads(content)
    except orjson.JSONDecodeError:
        return content[:120].decode("utf-8", "replace").strip()
    if isinstance(body, dict):
        message = body.get("message") or body.get("error")
        if isinstance(message, str):
            return message
    return ""


def _shape_problem(payload: Any) -> str | None:
    if not isinstance(payload, dict):
        return "not a JSON object"
    if not isinstance(payload.get("usageEvents"), list):
        return "no usageEvents list"
    total = payload.get("totalUsageEventsCount")
    if isinstance(total, bool) or not isinstance(total, int):
        return "no integer totalUsageEventsCount"
    pagination = payload.get("pagination")
    if not isinstance(pagination, dict) or not isinstance(pagination.get("hasNextPage"), bool):
        return "no pagination.hasNextPage"
    return None


__all__ = ["ClientStats", "CursorAdminClient", "USAGE_EVENTS_PATH", "backoff_seconds", "retry_after_seconds"]
