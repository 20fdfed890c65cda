"""The ``webhook`` notifier: the alerts as one JSON POST, signed when a secret is set.

::

    notify:
      ops-webhook:
        type: webhook
        url: https://ops.example.com/hooks/billing   # or url_env: OPS_WEBHOOK_URL when it holds a token
        secret_env: OPS_WEBHOOK_SECRET               # optional: sign each POST with HMAC-SHA256

The body (``Content-Type: application/json``), version 1 of ``billing-reports.alerts``::

    {"schema": "billing-reports.alerts", "version": 1, "id": "<uuid of this delivery>",
     "sent_at": "2026-11-20T08:00:00Z", "site_url": "https://..." or null,
     "headline": "2 billing alerts: 1 critical, 1 warning",
     "alerts": [{"key", "rule", "severity", "subject_kind", "subject", "title", "detail", "period",
                 "level", "link", "url" (absolute, or null without a site URL),
                 "figures": [{"label", "kind", "value", "text"}]}]}

A figure's ``value`` is exact (money in dollars as a decimal string, ``"1234.56789000"``, as the
site's downloads give it) and ``text`` as the site shows it (``$1,234.57``). Fields may be added
within a version; a change that breaks a reader is a new version.

With a secret, two headers let the receiver check that the POST is ours and fresh:
``X-Billing-Reports-Timestamp`` (Unix seconds) and ``X-Billing-Reports-Signature: sha256=HEX``, the
HMAC-SHA256, keyed with the secret, of ``TIMESTAMP.`` followed by the raw body. The receiver
recomputes it over the bytes it received, compares in constant time, and refuses a timestamp more
than five minutes old (a replayed POST).
"""

from __future__ import annotations

import hashlib
import hmac
import json
import math
import time
import uuid
from datetime import datetime, timezone
from typing import Any, Mapping, Sequence
from urllib.parse import urlsplit

from .. import hookimpl
from ..alerts import Alert
from ..errors import ConfigError
from ..money import exact_dollars
from ..sections import MONEY_KINDS
from ._http import post
from ._message import alert_url, figure_text, headline
from ._options import (Option, ca_file, checked_options, required_secret, text, timeout_option, url_secrets,
                       variable_name)

SCHEMA, VERSION = "billing-reports.alerts", 1
SIGNATURE_HEADER = "X-Billing-Reports-Signature"
TIMESTAMP_HEADER = "X-Billing-Reports-Timestamp"
DELIVERY_HEADER = "X-Billing-Reports-Delivery"


def _http_url(value: Any) -> str:
    value = text(value).strip()
    parts = urlsplit(value)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ValueError("a URL starting with http:// or https://")
    return value


class WebhookNotifier:
    """POSTs the alerts as JSON to a URL."""

    options = {
        "url": Option(_http_url, help="the URL to POST to (or url_env, when the URL holds a token)"),
        "url_env": Option(variable_name, help="the environment variable holding the URL"),
        "secret_env": Option(variable_name, help="the environment variable holding the signing secret"),
        "ca_file": Option(text, help="a CA bundle to trust for this server's certificate (a private CA)"),
        "timeout_seconds": timeout_option(),
    }

    def __init__(self, name: str, options: Mapping[str, Any], settings: Any) -> None:
        where = f"notify.{name}"
        self.name = name
        self.config = checked_options(where, self.options, options, secret_keys={"secret": "secret_env"})
        if (self.config["url"] is None) == (self.config["url_env"] is None):
            raise ConfigError(f"{where}.url: give either url or url_env (the variable holding a URL with a token)")
        self.secrets: list[str] = []
        if self.config["url_env"]:
            variable = self.config["url_env"]
            self.url = required_secret(where, settings, "url_env", variable, "the webhook URL").strip()
            try:
                _http_url(self.url)
            except ValueError:
                raise ConfigError(f"{where}.url_env: {variable} does not hold an http:// or https:// URL "
                                  f"(its value is not shown)") from None
            self.secrets += url_secrets(self.url)
        else:
            self.url = self.config["url"]
        self.secret = None
        if self.config["secret_env"]:
            self.secret = required_secret(where, settings, "secret_env", self.config["secret_env"],
                                          "the signing secret")
            self.secrets.append(self.secret)
        self.ca_file = ca_file(where, settings, self.config["ca_file"])

    def send(self, alerts: Sequence[Alert], *, site_url: str | None) -> None:
        delivery = str(uuid.uuid4())
        body = json.dumps(alerts_document(alerts, site_url=site_url, delivery=delivery), ensure_ascii=False,
                          default=str).encode("utf-8")
        headers = {"Content-Type": "application/json; charset=utf-8", DELIVERY_HEADER: delivery}
        if self.secret is not None:
            timestamp = str(int(time.time()))
            headers[TIMESTAMP_HEADER] = timestamp
            headers[SIGNATURE_HEADER] = "sha256=" + signature(self.secret, timestamp, body)
        post("the webhook", self.url, body, headers, timeout=self.config["timeout_seconds"], secrets=self.secrets,
             hint=f"check notify.{self.name} and the receiving service", verify=str(self.ca_file) if self.ca_file else True)


def signature(secret: str, timestamp: str, body: bytes) -> str:
    """HMAC-SHA256 of ``TIMESTAMP.BODY`` keyed with ``secret``, as hex."""
    return hmac.new(secret.encode("utf-8"), timestamp.encode("ascii") + b"." + body, hashlib.sha256).hexdigest()


def alerts_document(alerts: Sequence[Alert], *, site_url: str | None, delivery: str) -> dict[str, Any]:
    """The JSON body, version :data:`VERSION` (see the module's documentation)."""
    return {
        "schema": SCHEMA,
        "version": VERSION,
        "id": delivery,
        "sent_at": datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "site_url": site_url,
        "headline": headline(alerts),
        "alerts": [
            {
                "key": alert.key, "rule": alert.rule, "severity": alert.severity,
                "subject_kind": alert.subject_kind, "subject": alert.subject,
                "title": alert.title, "detail": alert.detail, "period": alert.period,
                "level": alert.level if math.isfinite(alert.level) else None,
                "link": alert.link, "url": alert_url(alert, site_url),
                "figures": [{"label": figure.label, "kind": figure.kind, "value": _exact(figure.value, figure.kind),
                             "text": figure_text(figure)} for figure in alert.figures],
            }
            for alert in alerts
        ],
    }


def _exact(value: Any, kind: str) -> Any:
    """Money as exact dollars (a decimal string, as the downloads); anything else as it is."""
    if kind in MONEY_KINDS and isinstance(value, int) and not isinstance(value, bool):
        return exact_dollars(value)
    return value


@hookimpl
def register_notifiers(register):
    register("webhook", WebhookNotifier)
