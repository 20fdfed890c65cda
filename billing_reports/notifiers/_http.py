"""One POST to a webhook (Slack's or any other): one attempt, bounded by a timeout, no redirect
followed, and every way it can fail told in one line that never holds a secret.

The timeout is the deadline of the whole POST (connecting, the answer's headers and its body), not
of each read: a server that trickles its answer a byte or a header at a time is cut off when it has
passed (:mod:`billing_reports.request_deadline`).

urllib3 logs the path it requests at DEBUG level, and a webhook's path is often its secret: while a
POST runs, a filter rewrites such a log record with the secrets scrubbed.
"""

from __future__ import annotations

import contextlib
import logging
import re
from typing import Iterator, Mapping, Sequence
from urllib.parse import urlsplit

import requests

from .. import __version__
from ..request_deadline import Deadline, DeadlineAdapter
from ..untrusted import printable, shortened
from . import NotifierError
from ._options import scrubbed

USER_AGENT = f"billing-reports/{__version__}"
#: How much of a refusing server's answer a message quotes.
ANSWER_EXCERPT = 160
_VERIFY_REASON = re.compile(r"certificate verify failed: ([^(\]'\"]+)")


def origin(url: str) -> str:
    """``https://hooks.slack.com``: what a message may say about a URL (never its path or query)."""
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.hostname or ''}" + (f":{parts.port}" if parts.port else "")


def post(service: str, url: str, body: bytes, headers: Mapping[str, str], *, timeout: float,
         secrets: Sequence[str], hint: str, verify: bool | str = True) -> requests.Response:
    """POST ``body`` to ``url``; the answer when its status is 2xx.

    :param service: what the server is, for messages (``Slack``, ``the webhook``).
    :param secrets: values no message or log record may show (the URL if secret, keys).
    :param hint: what to check when the server refuses (``check SLACK_WEBHOOK_URL``).
    :param verify: ``True``, or the path of a CA bundle to trust instead of the system's.
    :raises NotifierError: unreachable, TLS failed, no whole answer within ``timeout``, a status other
        than 2xx.
    """
    where = f"{service} at {origin(url)}"
    all_headers = {"User-Agent": USER_AGENT, **headers}
    too_late = NotifierError(f"{where}: no answer within {timeout:g}s; the alerts may not have arrived")
    try:
        with _scrubbed_logs(secrets), requests.Session() as session, Deadline(timeout) as deadline:
            for prefix in ("http://", "https://"):
                session.mount(prefix, DeadlineAdapter())
            try:
                answer = session.post(url, data=body, headers=all_headers, timeout=timeout, verify=verify,
                                      allow_redirects=False)
            except (requests.exceptions.RequestException, OSError):
                if deadline.expired:  # (its socket shut down mid-read: whatever requests made of that)
                    raise too_late from None
                raise
            if deadline.expired:  # (cut off mid-headers, http.client takes the end of the socket for theirs)
                raise too_late
    except requests.exceptions.SSLError as error:
        reason = _VERIFY_REASON.search(str(error))
        detail = f"its certificate could not be verified: {reason.group(1).strip()}" if reason else "TLS failed"
        raise NotifierError(_clean(f"{where}: {detail}; fix the server's certificate or trust its CA with ca_file",
                                   secrets)) from None
    except requests.exceptions.ConnectTimeout:
        raise NotifierError(f"{where}: could not connect within {timeout:g}s; check the address and the network") from None
    except requests.exceptions.Timeout:
        raise too_late from None
    except requests.exceptions.ConnectionError as error:
        raise NotifierError(f"{where}: cannot connect ({_connection_reason(error)}); check the address and that "
                            f"the server is up") from None
    except requests.exceptions.RequestException as error:
        raise NotifierError(_clean(f"{where}: the request failed ({type(error).__name__}); {hint}", secrets)) from None
    if not 200 <= answer.status_code < 300:
        text = _excerpt(answer, secrets)
        said = f": {text}" if text else ""
        raise NotifierError(_clean(f"{where} answered {answer.status_code} {answer.reason or ''}".rstrip()
                                   + f"{said}; {hint}", secrets))
    return answer


def _connection_reason(error: Exception) -> str:
    text = str(error)
    for needle, reason in (("refused", "connection refused"), ("Name or service not known", "unknown host"),
                           ("Failed to resolve", "unknown host"), ("nodename nor servname", "unknown host"),
                           ("reset by peer", "connection reset"), ("RemoteDisconnected", "the server hung up")):
        if needle in text:
            return reason
    return "network error"


def _excerpt(answer: requests.Response, secrets: Sequence[str]) -> str:
    try:
        text = answer.content[:4096].decode("utf-8", "replace")
    except (requests.exceptions.RequestException, OSError):
        return ""
    return shortened(" ".join(scrubbed(printable(text), secrets).split()), ANSWER_EXCERPT)


def _clean(message: str, secrets: Sequence[str]) -> str:
    return " ".join(scrubbed(printable(message), secrets).split())


class _Scrubber(logging.Filter):
    def __init__(self, secrets: Sequence[str]) -> None:
        super().__init__()
        self.secrets = secrets

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        cleaned = scrubbed(message, self.secrets)
        if cleaned != message:
            record.msg, record.args = cleaned, ()
        return True


@contextlib.contextmanager
def _scrubbed_logs(secrets: Sequence[str]) -> Iterator[None]:
    loggers = [logging.getLogger(name) for name in ("urllib3.connectionpool", "urllib3.connection", "requests")]
    scrubber = _Scrubber(secrets)
    for logger in loggers:
        logger.addFilter(scrubber)
    try:
        yield
    finally:
        for logger in loggers:
            logger.removeFilter(scrubber)


__all__ = ["USER_AGENT", "origin", "post"]
