"""HTTP client of the Cursor Admin API: usage events, members, the current cycle's spend, billing groups.

Basic auth with the key as user name; request starts spaced by a :class:`RequestStartLimiter`;
429, 5xx, timeouts, dropped connections and unreadable bodies retried with exponential backoff
(1, 2, 4, 8, 16 s, or the server's ``Retry-After``); 400/401/403 stop at once. Every error names
the month and window it was fetching (the ``context``).

What a server can send is bounded: ``timeout`` is the deadline of a whole request (connecting,
the headers and the body; a server that trickles its answer a byte at a time is cut off); an
answer larger than ``max_body_bytes`` once decompressed is refused; a redirect is never followed
(another host's answer must not be cached as our usage). A server's own words in an error are
cleaned of control characters and escape sequences, cut to :data:`MAX_MESSAGE_CHARS`, and never
show the key, raw or in the ``Authorization`` header's base64 form.
"""

from __future__ import annotations

import base64
import math
import time
import urllib.parse
from dataclasses import dataclass
from email.utils import parsedate_to_datetime
from typing import Any, Callable

import orjson
import requests
import urllib3

from billing_reports import __version__
from billing_reports.errors import ApiError
from billing_reports.request_deadline import Deadline, DeadlineAdapter
from billing_reports.ratelimit import RequestStartLimiter, Sleep
from billing_reports.untrusted import printable, shortened

USAGE_EVENTS_PATH = "/teams/filtered-usage-events"
MEMBERS_PATH = "/teams/members"
SPEND_PATH = "/teams/spend"
GROUPS_PATH = "/teams/groups"
#: Cap of one backoff step (the documented steps are 1, 2, 4, 8, 16 s).
MAX_BACKOFF_SECONDS = 60.0
#: A ``Retry-After`` longer than this stops the run instead of leaving a scheduled job asleep.
MAX_RETRY_AFTER_SECONDS = 300.0
#: The largest answer accepted, after decompression. A page of 1,000 events is about 1 MB.
MAX_BODY_BYTES = 32 * 1024 * 1024
#: The most characters of a server's message an error shows.
MAX_MESSAGE_CHARS = 200
#: The most of an error body read to find its message.
_ERROR_BODY_EXCERPT = 64 * 1024
#: Bytes read at a time (after decompression: a small compressed read cannot become a big one).
_READ_CHUNK = 64 * 1024
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

    A number that is negative or not finite is no delta-seconds: ``None`` (the backoff applies);
    a date in the past asks for no wait.

    >>> retry_after_seconds("7"), retry_after_seconds("soon"), retry_after_seconds(None), retry_after_seconds("inf")
    (7.0, None, None, None)
    >>> retry_after_seconds("-5")
    """
    if not value:
        return None
    value = value.strip()
    try:
        seconds = float(value)
    except ValueError:
        pass
    else:
        return seconds if math.isfinite(seconds) and seconds >= 0 else None
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
    """A client of the Cursor Admin API (``POST /teams/filtered-usage-events``, ``GET /teams/members``,
    ``POST /teams/spend``, ``GET /teams/groups``).

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
        max_body_bytes: int = MAX_BODY_BYTES,
    ) -> None:
        if not api_key:
            raise ValueError("api_key must not be empty")
        self.base_url = base_url.rstrip("/")
        self._api_key = api_key
        self._secrets = _encodings_of(api_key)
        self.timeout = timeout
        self.max_retries = max_retries
        self.max_body_bytes = max_body_bytes
        self.limiter = limiter or RequestStartLimiter(0.0)
        self._sleep = sleep
        self._session = session or requests.Session()
        self._session.headers["User-Agent"] = USER_AGENT
        adapter = DeadlineAdapter()
        for prefix in ("http://", "https://"):
            self._session.mount(prefix, adapter)
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
        return self._call("POST", USAGE_EVENTS_PATH, body, f"{context}, page {page}", _usage_shape_problem)

    def team_members(self, *, context: str = "team members") -> dict[str, Any]:
        """``GET /teams/members``: every member, removed ones included (``teamMembers``)."""
        return self._call("GET", MEMBERS_PATH, None, context, _members_shape_problem)

    def team_spend(self, *, page: int, page_size: int, context: str = "team spend") -> dict[str, Any]:
        """One page of ``POST /teams/spend``: each member's spend in the **current** billing cycle
        (``teamMemberSpend``, ``subscriptionCycleStart``, ``totalPages``)."""
        body = {"page": page, "pageSize": page_size}
        return self._call("POST", SPEND_PATH, body, f"{context}, page {page}", _spend_shape_problem)

    def billing_groups(self, *, billing_cycle: str | None = None, context: str = "billing groups") -> dict[str, Any]:
        """``GET /teams/groups``: the team's billing groups for the cycle starting on ``billing_cycle``
        (``YYYY-MM-DD``; the current cycle when ``None``). A team without billing groups answers an
        error status (an ``ApiError`` whose ``status`` is 403 or 404), which a caller can take as a fact."""
        path = GROUPS_PATH if billing_cycle is None else f"{GROUPS_PATH}?billingCycle={urllib.parse.quote(billing_cycle)}"
        where = context if billing_cycle is None else f"{context} of the cycle starting {billing_cycle}"
        return self._call("GET", path, None, where, _groups_shape_problem)

    def _call(self, method: str, path: str, body: dict[str, Any] | None, where: str,
              shape_problem: Callable[[Any], str | None]) -> dict[str, Any]:
        """One call, retried as the module says: the decoded answer, checked by ``shape_problem``."""
        retries = 0
        while True:
            try:
                return self._attempt(method, path, body, where, shape_problem)
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

    def _attempt(self, method: str, path: str, body: dict[str, Any] | None, where: str,
                 shape_problem: Callable[[Any], str | None]) -> dict[str, Any]:
        self.limiter.wait()
        self.stats.requests += 1
        timed_out = _Retryable(f"no answer within {self.timeout:g} s")
        headers = {"Accept": "application/json"}
        if body is not None:
            headers["Content-Type"] = "application/json"
        with Deadline(self.timeout) as deadline:
            try:
                response = self._session.request(
                    method,
                    self.base_url + path,
                    data=None if body is None else orjson.dumps(body),
                    headers=headers,
                    auth=(self._api_key, ""),
                    timeout=self.timeout,
                    allow_redirects=False,
                    stream=True,
                )
            except requests.Timeout:
                raise timed_out from None
            except (requests.RequestException, urllib3.exceptions.HTTPError, OSError) as error:
                if deadline.expired:
                    raise timed_out from None
                failed = "connection failed" if isinstance(error, requests.ConnectionError) else "request failed"
                raise _Retryable(f"{failed}: {self._clean(_first_line(error))}") from None
            with response:
                try:
                    content = self._read_body(response, where)
                except (requests.RequestException, urllib3.exceptions.HTTPError, OSError) as error:
                    if deadline.expired or isinstance(error, requests.Timeout):
                        raise timed_out from None
                    raise _Retryable(f"the answer was cut off: {self._clean(_first_line(error))}") from None
        return self._check(response, content, where, shape_problem)

    def _read_body(self, response: requests.Response, where: str) -> bytes:
        """The body, decompressed, refused beyond ``max_body_bytes`` (before reading it, where the
        server announces a size that big)."""
        limit = self.max_body_bytes
        announced = response.headers.get("Content-Length", "").strip()
        too_big = ApiError(
            f"{where}: the answer is larger than {limit / 2**20:g} MiB (decompressed), more than a page of "
            "usage events can be: check api.base_url / CURSOR_API_BASE_URL, or lower billing.page_size"
        )
        if announced.isascii() and announced.isdigit() and (len(announced) > 15 or int(announced) > limit):
            raise too_big
        chunks, size = [], 0
        for chunk in response.iter_content(_READ_CHUNK):
            size += len(chunk)
            if size > limit:
                raise too_big
            chunks.append(chunk)
        return b"".join(chunks)

    def _check(self, response: requests.Response, content: bytes, where: str,
               shape_problem: Callable[[Any], str | None]) -> dict[str, Any]:
        status = response.status_code
        message = self._clean(_api_message(content))
        if 300 <= status < 400:
            raise ApiError(
                f"{where}: the API answered {status}, a redirect to {self._redirect_target(response)}; "
                "API calls follow no redirect (an answer from elsewhere is not our usage): "
                "point api.base_url or CURSOR_API_BASE_URL at the API itself"
            )
        if status == 429:
            self.stats.rate_limited += 1
            raise _Retryable("rate limited (429)", retry_after_seconds(response.headers.get("Retry-After")))
        if status >= 500:
            raise _Retryable(f"server error {status}" + (f": {message}" if message else ""))
        if status == 401:
            raise ApiError(
                f"{where}: the Cursor API rejected the API key (401 Unauthorized); check CURSOR_API_KEY "
                "(an Admin API key from the team's dashboard settings)",
                status=401,
            )
        if status == 403:
            raise ApiError(
                f"{where}: the API key lacks access (403 Forbidden: {message or 'no message'}); "
                "use an Admin API key (scope admin:*) of a team with Enterprise/Admin API access",
                status=403,
            )
        if status == 400:
            raise ApiError(f"{where}: the API refused the request (400 Bad Request: {message or 'no message'})",
                           status=400)
        if status != 200:
            raise ApiError(
                f"{where}: unexpected HTTP {status} from {self.base_url}"
                + (f" ({message})" if message else "")
                + "; check api.base_url / CURSOR_API_BASE_URL",
                status=status,
            )
        try:
            payload = orjson.loads(content)
        except orjson.JSONDecodeError:
            raise _Retryable(f"the answer was not valid JSON ({len(content)} bytes)") from None
        problem = shape_problem(payload)
        if problem:
            raise ApiError(f"{where}: the API answered in an unexpected shape ({problem}); the API may have changed")
        return payload

    def _clean(self, text: str) -> str:
        """A server's text as an error may show it: printable, without the key in any encoding
        (looked for after control characters are gone, before the cut), at most
        :data:`MAX_MESSAGE_CHARS` long."""
        text = printable(text)
        for secret in self._secrets:
            text = text.replace(secret, "***")
        return shortened(text.strip(), MAX_MESSAGE_CHARS)

    def _redirect_target(self, response: requests.Response) -> str:
        """Where a redirect points: its scheme, host and port only (a path or query may carry anything)."""
        location = response.headers.get("Location", "")
        try:
            target = urllib.parse.urlsplit(urllib.parse.urljoin(self.base_url + "/", location))
            host = target.hostname or ""
            port = f":{target.port}" if target.port else ""
        except ValueError:
            return "an address that is not a URL"
        if not location or not host:
            return "nowhere"
        return self._clean(f"{target.scheme}://{host}{port}")


def _encodings_of(api_key: str) -> list[str]:
    """The forms in which a server could echo the key: raw, URL-encoded, and base64 of the key and
    of the Basic header's ``key:`` (standard and URL-safe alphabets, with and without padding);
    longest first, so that a longer form is hidden whole."""
    forms = {api_key, urllib.parse.quote(api_key, safe="")}
    for raw in (api_key + ":", api_key):
        for encode in (base64.b64encode, base64.urlsafe_b64encode):
            encoded = encode(raw.encode("utf-8")).decode("ascii")
            forms |= {encoded, encoded.rstrip("=")}
    return sorted((form for form in forms if form), key=len, reverse=True)


def _first_line(error: BaseException) -> str:
    text = str(error) or type(error).__name__
    return text.splitlines()[0][:1000]


def _api_message(content: bytes) -> str:
    """The ``message`` of an error body ``{"error": ..., "message": ...}``, else an excerpt."""
    try:
        body = orjson.loads(content)
    except orjson.JSONDecodeError:
        return content[:_ERROR_BODY_EXCERPT].decode("utf-8", "replace").strip()
    if isinstance(body, dict):
        message = body.get("message") or body.get("error")
        if isinstance(message, str):
            return message
    return ""


def _usage_shape_problem(payload: Any) -> str | None:
    if not isinstance(payload, dict):
        return "not a JSON object"
    if not isinstance(payload.get("usageEvents"), list):
        return "no usageEvents list"
    total = payload.get("totalUsageEventsCount")
    if isinstance(total, bool) or not isinstance(total, int) or total < 0:
        return "no whole number totalUsageEventsCount"
    pagination = payload.get("pagination")
    if not isinstance(pagination, dict) or not isinstance(pagination.get("hasNextPage"), bool):
        return "no pagination.hasNextPage"
    try:  # what cannot be written back cannot be cached (orjson writes at most 255 levels)
        orjson.dumps(payload["usageEvents"])
    except orjson.JSONEncodeError:
        return "events nested deeper than a cache file can hold"
    return None


def _is_count(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and value >= 0


def _list_of_objects(payload: Any, key: str) -> str | None:
    if not isinstance(payload, dict):
        return "not a JSON object"
    items = payload.get(key)
    if not isinstance(items, list):
        return f"no {key} list"
    if not all(isinstance(item, dict) for item in items):
        return f"{key} holds something other than objects"
    return None


def _members_shape_problem(payload: Any) -> str | None:
    return _list_of_objects(payload, "teamMembers")


def _spend_shape_problem(payload: Any) -> str | None:
    problem = _list_of_objects(payload, "teamMemberSpend")
    if problem:
        return problem
    if not _is_count(payload.get("subscriptionCycleStart")):
        return "no subscriptionCycleStart (epoch milliseconds)"
    if not _is_count(payload.get("totalPages")):
        return "no whole number totalPages"
    return None


def _groups_shape_problem(payload: Any) -> str | None:
    problem = _list_of_objects(payload, "groups")
    if problem:
        return problem
    if payload.get("unassignedGroup") is not None and not isinstance(payload["unassignedGroup"], dict):
        return "unassignedGroup is not an object"
    cycle = payload.get("billingCycle")
    if not isinstance(cycle, dict) or not isinstance(cycle.get("cycleStart"), str):
        return "no billingCycle.cycleStart"
    return None


__all__ = ["ClientStats", "CursorAdminClient", "GROUPS_PATH", "MEMBERS_PATH", "SPEND_PATH", "USAGE_EVENTS_PATH", "backoff_seconds", "retry_after_seconds"]
