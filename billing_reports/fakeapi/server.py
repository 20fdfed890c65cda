"""A faithful offline fake of the Cursor Admin API (``docs: ../shared/reference/cursor-admin-api.md``).

``POST /teams/filtered-usage-events``, ``GET /teams/members``, ``POST /teams/spend`` and
``GET /teams/groups`` (see :mod:`billing_reports.fakeapi.billing`) on 127.0.0.1, a free port, in a
background thread::

    with FakeCursorApi(SyntheticTeam(), rate_limit_per_minute=20) as api:
        client = CursorAdminClient(api.base_url, api.api_key)
        ...
        api.requests  # what arrived: clock time, page, status

Faithful to the reference: Basic auth with the key as user name (401 otherwise), both date bounds
inclusive, 400 for a range over 30 days, 1-based pages, ``pageSize`` 1 to 1000 (**more is answered
with 400**, not clamped, so a client bug shows), ``totalUsageEventsCount``, ``pagination``,
``period``, the documented error bodies, and a per-team limit of requests per clock minute answered
with 429 (no ``Retry-After`` unless asked for, as the docs say). Tests inject faults for the next
requests: any status, 429 with or without ``Retry-After``, slow answers, answers trickled a few
bytes at a time, dropped connections, truncated JSON, oversized or gzip-bombed bodies, redirects,
error messages that echo the credentials, and lying pages: short of one event, one event too many,
empty although more follow, always saying more follow, or repeating the page before.
"""

from __future__ import annotations

import base64
import gzip
import json
import math
import socket
import threading
import time
from collections import deque
from dataclasses import dataclass
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Callable

import orjson

from billing_reports.fakeapi.billing import Billing, groups_answer, spend_answer
from billing_reports.fakeapi.team import GeneratedTeam, StaticTeam, SyntheticTeam, TeamMember
from billing_reports.months import DAY_MS

USAGE_EVENTS_PATH = "/teams/filtered-usage-events"
MEMBERS_PATH = "/teams/members"
SPEND_PATH = "/teams/spend"
GROUPS_PATH = "/teams/groups"
DEFAULT_FAKE_KEY = "key_fake_0123456789abcdef0123456789abcdef"
MAX_PAGE_SIZE = 1000
DEFAULT_PAGE_SIZE = 100
MAX_RANGE_DAYS = 30

ERROR_NAMES = {
    400: "Bad Request",
    401: "Unauthorized",
    403: "Forbidden",
    404: "Not Found",
    429: "Too Many Requests",
    500: "Internal Server Error",
    502: "Bad Gateway",
    503: "Service Unavailable",
}
ERROR_MESSAGES = {
    401: "Invalid API key",
    403: "Enterprise access required",
    429: "Rate limit exceeded. Please try again later.",
    500: "An unexpected error occurred",
}


@dataclass(frozen=True)
class RecordedRequest:
    """One request the fake received."""

    #: The fake's clock when the request arrived (``time.monotonic`` unless injected).
    at: float
    method: str
    path: str
    #: The decoded JSON body (``None`` when absent or not JSON).
    body: Any
    #: The HTTP status answered; ``None`` when the connection was dropped on purpose.
    status: int | None
    #: Which injected fault answered it, if any.
    fault: str | None = None

    @property
    def page(self) -> int | None:
        return self.body.get("page", 1) if isinstance(self.body, dict) else None


@dataclass
class _Fault:
    # none | status | slow | trickle | drop | truncate | oversize | redirect | echo_credentials
    # | short_page | extra_event | empty_page | endless_pages | repeat_previous_page
    kind: str
    status: int = 0
    retry_after: str | None = None
    seconds: float = 0.0
    message: str | None = None
    #: ``oversize``: the whitespace added; ``trickle``: the pieces the answer is cut into.
    size: int = 0
    gzip: bool = False
    location: str | None = None
    body_only: bool = False


class FakeCursorApi:
    """The fake Admin API server; a context manager (``start()``/``stop()`` work too).

    :param team: whose usage to serve (default a small ``SyntheticTeam``).
    :param api_key: the one key accepted; ``forbidden_keys`` are valid keys without Enterprise access (403).
    :param rate_limit_per_minute: requests answered per clock minute before 429s (``None``: no limit).
    :param retry_after_on_429: send ``Retry-After`` (seconds to the next minute) with rate-limit 429s.
    :param clock: seconds, for the rate limit and the request log.
    :param billing: how Cursor bills the team (``/teams/spend``, ``/teams/groups``); default the
        team's own ``billing``, else cycles from the 17th, no limits, no billing groups.
    :param host, port: where to listen (default 127.0.0.1 and any free port); ``start()`` raises
        ``OSError`` when it cannot (a port in use).
    """

    def __init__(
        self,
        team: GeneratedTeam | StaticTeam | None = None,
        *,
        api_key: str = DEFAULT_FAKE_KEY,
        forbidden_keys: tuple[str, ...] = (),
        rate_limit_per_minute: int | None = 20,
        retry_after_on_429: bool = False,
        max_range_days: int = MAX_RANGE_DAYS,
        clock: Callable[[], float] = time.monotonic,
        billing: Billing | None = None,
        host: str = "127.0.0.1",
        port: int = 0,
    ) -> None:
        self.host = host
        self._port = port
        self.team = team if team is not None else SyntheticTeam(events_per_month=500, months_count=2)
        self.billing = billing if billing is not None else getattr(self.team, "billing", None) or Billing()
        self.api_key = api_key
        self.forbidden_keys = tuple(forbidden_keys)
        self.rate_limit_per_minute = rate_limit_per_minute
        self.retry_after_on_429 = retry_after_on_429
        self.max_range_days = max_range_days
        self.clock = clock
        self._lock = threading.Lock()
        self._faults: deque[_Fault] = deque()
        self._log: list[RecordedRequest] = []
        self._minute: int | None = None
        self._answered_this_minute = 0
        self._server: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None
        self._stopping = threading.Event()

    # --- lifecycle ------------------------------------------------------------------

    def start(self) -> "FakeCursorApi":
        if self._server is not None:
            return self
        handler = type("FakeCursorApiHandler", (_Handler,), {"api": self})
        server_class = _ThreadingHTTPServer6 if ":" in self.host else ThreadingHTTPServer
        server = server_class((self.host, self._port), handler)
        server.daemon_threads = True
        server.block_on_close = False
        self._stopping.clear()
        self._server = server
        self._thread = threading.Thread(
            target=server.serve_forever, kwargs={"poll_interval": 0.05}, name="fake-cursor-api", daemon=True
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        if self._server is None:
            return
        self._stopping.set()
        self._server.shutdown()
        self._server.server_close()
        if self._thread is not None:
            self._thread.join(timeout=5)
        self._server = None
        self._thread = None

    def __enter__(self) -> "FakeCursorApi":
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    @property
    def port(self) -> int:
        if self._server is None:
            raise RuntimeError("the fake API is not running; use it as a context manager or call start()")
        return self._server.server_address[1]

    @property
    def base_url(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"http://{host}:{self.port}"

    @property
    def requests(self) -> list[RecordedRequest]:
        """A copy of the request log, oldest first."""
        with self._lock:
            return list(self._log)

    def clear_requests(self) -> None:
        with self._lock:
            self._log.clear()

    # --- fault injection (each applies to the next request(s) of either endpoint) ---

    def fail_next(self, status: int, times: int = 1, *, retry_after: float | str | None = None,
                  message: str | None = None, after: int = 0) -> None:
        """Answer the next ``times`` requests, ``after`` normal ones, with ``status`` and the documented
        error body."""
        wait = None if retry_after is None else str(retry_after)
        self._add(times, _Fault("status", status=status, retry_after=wait, message=message), after=after)

    def slow_next(self, seconds: float, times: int = 1, *, after: int = 0) -> None:
        """Wait ``seconds`` before answering ``times`` requests, ``after`` normal ones (client timeouts,
        or a fetch to interrupt midway)."""
        self._add(times, _Fault("slow", seconds=seconds), after=after)

    def trickle_next(self, seconds: float, times: int = 1, *, pieces: int = 20, body_only: bool = False) -> None:
        """Send the next ``times`` answers (status line, headers, body; ``body_only``: the headers at
        once) in ``pieces`` parts spread over ``seconds``: every read gets bytes in time, the whole
        answer takes ``seconds``."""
        self._add(times, _Fault("trickle", seconds=seconds, size=pieces, body_only=body_only))

    def oversize_next(self, padding_bytes: int, times: int = 1, *, gzip: bool = False) -> None:
        """Add ``padding_bytes`` of whitespace to the next answers (still valid JSON); with ``gzip``
        sent compressed (``Content-Encoding: gzip``): a small answer that decompresses to a big one."""
        self._add(times, _Fault("oversize", size=padding_bytes, gzip=gzip))

    def redirect_next(self, location: str, times: int = 1, *, status: int = 307) -> None:
        """Answer the next ``times`` requests with a redirect to ``location``."""
        self._add(times, _Fault("redirect", status=status, location=location))

    def echo_credentials_next(self, status: int = 401, times: int = 1) -> None:
        """Answer with ``status`` and a message that repeats the key and the ``Authorization`` header
        the request carried (a careless server or proxy)."""
        self._add(times, _Fault("echo_credentials", status=status))

    def drop_next(self, times: int = 1) -> None:
        """Close the connection of the next ``times`` requests without answering."""
        self._add(times, _Fault("drop"))

    def truncate_next(self, times: int = 1) -> None:
        """Answer the next ``times`` requests with 200 and the first half of the JSON body."""
        self._add(times, _Fault("truncate"))

    def short_page_next(self, times: int = 1) -> None:
        """Leave one event out of the next ``times`` pages (the count then disagrees with the total)."""
        self._add(times, _Fault("short_page"))

    def extra_event_next(self, times: int = 1) -> None:
        """Add a copy of the last event to the next ``times`` pages (more events than the total)."""
        self._add(times, _Fault("extra_event"))

    def empty_page_next(self, times: int = 1) -> None:
        """Answer the next ``times`` pages with no events, saying that more pages follow."""
        self._add(times, _Fault("empty_page"))

    def endless_pages_next(self, times: int = 1) -> None:
        """Say that more pages follow in the next ``times`` answers, whatever their page."""
        self._add(times, _Fault("endless_pages"))

    def repeat_previous_page_next(self, times: int = 1, *, after: int = 0) -> None:
        """Answer the next ``times`` page requests, ``after`` normal ones, with the page before (its
        events and whether more follow): that page repeated, and those after it shifted by one."""
        self._add(times, _Fault("repeat_previous_page"), after=after)

    def _add(self, times: int, fault: _Fault, *, after: int = 0) -> None:
        with self._lock:
            self._faults.extend([_Fault("none")] * after + [fault] * times)

    def _next_fault(self) -> _Fault | None:
        with self._lock:
            return self._faults.popleft() if self._faults else None

    # --- the API ----------------------------------------------------------------------

    def _record(self, entry: RecordedRequest) -> None:
        with self._lock:
            self._log.append(entry)

    def _rate_limited(self) -> float | None:
        """Count one request; return the seconds to the next minute when over the limit."""
        if self.rate_limit_per_minute is None:
            return None
        now = self.clock()
        minute = math.floor(now / 60)
        with self._lock:
            if minute != self._minute:
                self._minute = minute
                self._answered_this_minute = 0
            if self._answered_this_minute >= self.rate_limit_per_minute:
                return (minute + 1) * 60 - now
            self._answered_this_minute += 1
            return None

    def _auth_status(self, header: str | None) -> int | None:
        if not header or not header.startswith("Basic "):
            return 401
        try:
            decoded = base64.b64decode(header[6:], validate=True).decode("utf-8")
        except (ValueError, UnicodeDecodeError):
            return 401
        user = decoded.split(":", 1)[0]
        if user in self.forbidden_keys:
            return 403
        return None if user == self.api_key else 401

    def usage_events(self, body: Any) -> tuple[int, dict[str, Any]]:
        """Answer a ``filtered-usage-events`` body: ``(status, response body)``."""
        if body is None:
            body = {}
        if not isinstance(body, dict):
            return 400, error_body(400, "Request body must be a JSON object")
        now_ms = math.floor(self.team.now().timestamp() * 1000)
        end = body.get("endDate", now_ms)
        start = body.get("startDate", end - self.max_range_days * DAY_MS + 1 if _is_int(end) else None)
        page = body.get("page", 1)
        page_size = body.get("pageSize", DEFAULT_PAGE_SIZE)
        email = body.get("email")
        for name, value in (("startDate", start), ("endDate", end)):
            if not _is_int(value) or value < 0:
                return 400, error_body(400, f"{name} must be a number of epoch milliseconds")
        if not _is_int(page) or page < 1:
            return 400, error_body(400, "page must be a positive integer (pages start at 1)")
        if not _is_int(page_size) or not 1 <= page_size <= MAX_PAGE_SIZE:
            return 400, error_body(400, f"pageSize must be between 1 and {MAX_PAGE_SIZE}")
        if email is not None and not isinstance(email, str):
            return 400, error_body(400, "email must be a string")
        if end < start:
            return 400, error_body(400, "startDate must not be after endDate")
        if end - start + 1 > self.max_range_days * DAY_MS:
            return 400, error_body(400, f"Date range cannot exceed {self.max_range_days} days")
        events = self.team.events_between(start, end, email)
        total = len(events)
        num_pages = math.ceil(total / page_size)
        first = (page - 1) * page_size
        return 200, {
            "totalUsageEventsCount": total,
            "pagination": {
                "numPages": num_pages,
                "currentPage": page,
                "pageSize": page_size,
                "hasNextPage": page < num_pages,
                "hasPreviousPage": page > 1,
            },
            "usageEvents": events[first : first + page_size],
            "period": {"startDate": start, "endDate": end},
        }

    def members(self) -> dict[str, Any]:
        return {"teamMembers": [_member_json(member) for member in self.team.members]}


def error_body(status: int, message: str | None = None) -> dict[str, str]:
    """The documented error body ``{"error": ..., "message": ...}``."""
    name = ERROR_NAMES.get(status) or HTTPStatus(status).phrase
    return {"error": name, "message": message or ERROR_MESSAGES.get(status, name)}


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _member_json(member: TeamMember) -> dict[str, Any]:
    return {"id": member.id, "email": member.email, "name": member.name, "role": member.role,
            "isRemoved": member.is_removed}


class _ThreadingHTTPServer6(ThreadingHTTPServer):
    address_family = socket.AF_INET6


class _Handler(BaseHTTPRequestHandler):
    api: FakeCursorApi
    protocol_version = "HTTP/1.1"
    server_version = "FakeCursorApi/1.0"
    # One write per answer and no Nagle delay: pages come back in about a millisecond.
    wbufsize = 1 << 16
    disable_nagle_algorithm = True

    def log_message(self, format: str, *args: Any) -> None:  # keep test output quiet
        pass

    def do_POST(self) -> None:
        self._serve("POST")

    def do_GET(self) -> None:
        self._serve("GET")

    def _serve(self, method: str) -> None:
        api = self.api
        length = int(self.headers.get("Content-Length") or 0)
        raw = self.rfile.read(length) if length else b""
        try:
            body = orjson.loads(raw) if raw else None
            bad_json = False
        except orjson.JSONDecodeError:
            body, bad_json = None, True
        path, _, query = self.path.partition("?")
        arrived = api.clock()
        fault = api._next_fault()
        if fault is not None and fault.kind == "none":
            fault = None
        status, payload, headers, fault_name = self._answer(method, path, body, bad_json, fault, query)
        recorded = False
        if fault is not None and fault.kind == "slow":
            # recorded on arrival: a test sees the request while it waits
            api._record(RecordedRequest(arrived, method, path, body, status, fault_name))
            recorded = True
            if api._stopping.wait(fault.seconds):
                self.close_connection = True
                return
        if fault is not None and fault.kind == "drop":
            api._record(RecordedRequest(arrived, method, path, body, None, "drop"))
            self.close_connection = True
            return
        try:
            data = orjson.dumps(payload)
        except orjson.JSONEncodeError:  # nested deeper than orjson writes: a hostile team's events
            data = json.dumps(payload).encode("utf-8")
        if fault is not None and fault.kind == "truncate" and status == 200:
            data = data[: len(data) // 2]
        if fault is not None and fault.kind == "oversize":
            data = data[:-1] + b" " * fault.size + data[-1:]
            if fault.gzip:
                data = gzip.compress(data, compresslevel=6)
                headers = {**headers, "Content-Encoding": "gzip"}
        if not recorded:
            api._record(RecordedRequest(arrived, method, path, body, status, fault_name))
        try:
            if fault is not None and fault.kind == "trickle":
                self._trickle(status, headers, data, fault)
                return
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            for name, value in headers.items():
                self.send_header(name, value)
            self.end_headers()
            self.wfile.write(data)
        except (BrokenPipeError, ConnectionResetError):
            self.close_connection = True

    def _trickle(self, status: int, headers: dict[str, str], data: bytes, fault: _Fault) -> None:
        """The whole answer in ``fault.size`` pieces, ``fault.seconds`` spread between them."""
        lines = [f"HTTP/1.1 {status} {HTTPStatus(status).phrase}", "Content-Type: application/json",
                 f"Content-Length: {len(data)}", *(f"{name}: {value}" for name, value in headers.items())]
        head = ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1")
        if fault.body_only:
            self.wfile.write(head)
            self.wfile.flush()
            head = b""
        raw = head + data
        pieces = max(2, fault.size)
        step = math.ceil(len(raw) / pieces)
        pause = fault.seconds / (pieces - 1)
        for start in range(0, len(raw), step):
            if start and self.api._stopping.wait(pause):
                break
            self.wfile.write(raw[start : start + step])
            self.wfile.flush()
        self.close_connection = True

    def _answer(self, method, path, body, bad_json, fault, query=""):
        api = self.api
        fault_name = fault.kind if fault is not None else None
        if fault is not None and fault.kind == "status":
            headers = {"Retry-After": fault.retry_after} if fault.retry_after is not None else {}
            return fault.status, error_body(fault.status, fault.message), headers, f"status {fault.status}"
        if fault is not None and fault.kind == "redirect":
            return fault.status, {}, {"Location": fault.location}, fault_name
        if fault is not None and fault.kind == "echo_credentials":
            header = self.headers.get("Authorization") or ""
            try:
                key = base64.b64decode(header[6:]).decode("utf-8").split(":", 1)[0]
            except (ValueError, UnicodeDecodeError):
                key = ""
            message = f"Invalid API key {key!r}; the request said Authorization: {header}"
            return fault.status, error_body(fault.status, message), {}, fault_name
        routes = {("POST", USAGE_EVENTS_PATH), ("GET", MEMBERS_PATH), ("POST", SPEND_PATH), ("GET", GROUPS_PATH)}
        if (method, path) not in routes:
            return 404, error_body(404, f"No route {method} {path}"), {}, fault_name
        auth = api._auth_status(self.headers.get("Authorization"))
        if auth is not None:
            return auth, error_body(auth), {}, fault_name
        wait = api._rate_limited()
        if wait is not None:
            headers = {"Retry-After": str(max(1, math.ceil(wait)))} if api.retry_after_on_429 else {}
            return 429, error_body(429), headers, fault_name
        if path == MEMBERS_PATH:
            return 200, api.members(), {}, fault_name
        if path == GROUPS_PATH:
            return (*groups_answer(api.team, api.billing, query), {}, fault_name)
        if bad_json:
            return 400, error_body(400, "Request body is not valid JSON"), {}, fault_name
        if path == SPEND_PATH:
            return (*spend_answer(api.team, api.billing, body), {}, fault_name)
        status, payload = api.usage_events(body)
        if status == 200 and fault is not None:
            payload = _lying_page(api, body, payload, fault.kind)
        return status, payload, {}, fault_name


def _lying_page(api: FakeCursorApi, body: dict[str, Any] | None, payload: dict[str, Any], kind: str) -> dict[str, Any]:
    """``payload`` (a page answered normally) as the page faults make it lie."""
    events, pagination = payload["usageEvents"], payload["pagination"]
    if kind == "short_page" and events:
        return {**payload, "usageEvents": events[:-1]}
    if kind == "extra_event" and events:
        return {**payload, "usageEvents": [*events, dict(events[-1])]}
    if kind == "empty_page":
        return {**payload, "usageEvents": [], "pagination": {**pagination, "hasNextPage": True}}
    if kind == "endless_pages":
        return {**payload, "pagination": {**pagination, "hasNextPage": True}}
    if kind == "repeat_previous_page" and pagination["currentPage"] > 1:
        _, previous = api.usage_events({**(body or {}), "page": pagination["currentPage"] - 1})
        return {**previous, "pagination": {**previous["pagination"], "currentPage": pagination["currentPage"]}}
    return payload


__all__ = ["DEFAULT_FAKE_KEY", "FakeCursorApi", "RecordedRequest", "error_body"]
