"""A deadline for a whole exchange with a server: connecting, its answer's headers and its body.

``requests``, urllib3 and smtplib apply a timeout to each read of the socket, so a server that
sends a byte every few seconds (or header after header, or an endless multi-line SMTP reply) holds
a call for ever. A :class:`Deadline` shuts the call's socket down when the whole call has taken
``seconds``: the read in progress ends at once and the caller, seeing ``deadline.expired``,
reports the timeout. It runs on a timer thread, so it works off the main thread too (unlike the
``SIGALRM`` deadline of a publish, :mod:`billing_reports.publish.deadline`).

What it watches is any object with a ``sock`` attribute, read when the deadline passes (so a
socket replaced by its TLS wrapper is still the one shut down):

- ``requests``: mount :class:`DeadlineAdapter` on the session; its pools hand the connection in use
  to the deadline entered in this thread;
- anything else (an ``smtplib.SMTP``): ``deadline.watch(connection)`` before connecting.
"""

from __future__ import annotations

import contextvars
import socket
import threading
from typing import Any

import urllib3
from requests.adapters import HTTPAdapter

_CURRENT_DEADLINE: contextvars.ContextVar["Deadline | None"] = contextvars.ContextVar(
    "billing_reports_request_deadline", default=None)
#: How often an expired deadline looks again for a socket still being connected.
_RECHECK_SECONDS = 0.05


class Deadline:
    """While entered: shut down the socket of this thread's call once ``seconds`` have passed."""

    def __init__(self, seconds: float) -> None:
        self.seconds = seconds
        self.expired = False
        self._connection: Any = None
        self._finished = False
        self._lock = threading.Lock()
        self._timer: threading.Timer | None = None
        self._token: contextvars.Token | None = None

    def __enter__(self) -> "Deadline":
        self._token = _CURRENT_DEADLINE.set(self)
        self._arm(self.seconds)
        return self

    def __exit__(self, *exc_info: object) -> None:
        with self._lock:
            self._finished = True
            if self._timer is not None:
                self._timer.cancel()
        if self._token is not None:
            _CURRENT_DEADLINE.reset(self._token)

    def watch(self, connection: Any) -> None:
        """``connection`` (an object with a ``sock``) carries the call; the pool calls this as it hands
        a connection out, other callers before connecting."""
        with self._lock:
            self._connection = connection
            if self.expired:
                shut_down(connection)

    def _arm(self, seconds: float) -> None:
        self._timer = threading.Timer(seconds, self._expire)
        self._timer.daemon = True
        self._timer.start()

    def _expire(self) -> None:
        with self._lock:
            if self._finished:
                return
            self.expired = True
            if not shut_down(self._connection):  # still connecting: look again shortly
                self._arm(_RECHECK_SECONDS)


def shut_down(connection: Any) -> bool:
    """Shut down the socket of ``connection``; whether it had one."""
    sock = getattr(connection, "sock", None)
    if not isinstance(sock, socket.socket):
        return False
    try:
        # the plain socket's shutdown: a TLS socket's own would also drop its TLS state under the
        # thread reading from it
        socket.socket.shutdown(sock, socket.SHUT_RDWR)
    except OSError:
        pass
    return True


class _WatchedPool:
    """A connection pool that tells the thread's :class:`Deadline` which connection it handed out."""

    def _get_conn(self, timeout: float | None = None) -> Any:
        connection = super()._get_conn(timeout)  # type: ignore[misc]
        deadline = _CURRENT_DEADLINE.get()
        if deadline is not None:
            deadline.watch(connection)
        return connection


class _WatchedHTTPPool(_WatchedPool, urllib3.HTTPConnectionPool):
    pass


class _WatchedHTTPSPool(_WatchedPool, urllib3.HTTPSConnectionPool):
    pass


_WATCHED_POOLS = {"http": _WatchedHTTPPool, "https": _WatchedHTTPSPool}


class DeadlineAdapter(HTTPAdapter):
    """``requests``' adapter with pools that let a :class:`Deadline` find the request's socket."""

    def init_poolmanager(self, *args: Any, **kwargs: Any) -> None:
        super().init_poolmanager(*args, **kwargs)
        self.poolmanager.pool_classes_by_scheme = dict(_WATCHED_POOLS)

    def proxy_manager_for(self, proxy: str, **proxy_kwargs: Any) -> Any:
        manager = super().proxy_manager_for(proxy, **proxy_kwargs)
        if type(manager) is urllib3.ProxyManager:  # (not a SOCKS proxy's own pools)
            manager.pool_classes_by_scheme = dict(_WATCHED_POOLS)
        return manager


__all__ = ["Deadline", "DeadlineAdapter", "shut_down"]
