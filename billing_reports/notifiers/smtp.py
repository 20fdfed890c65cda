"""The ``email`` notifier: the alerts by e-mail over SMTP with STARTTLS.

::

    notify:
      finance-mail:
        type: email
        host: smtp.example.com
        port: 587                          # the default (submission with STARTTLS)
        from: billing-reports@example.com
        to: [finance@example.com, platform-lead@example.com]
        username_env: SMTP_USERNAME        # optional: log in with these two variables' values
        password_env: SMTP_PASSWORD

The connection is always upgraded with STARTTLS and the server's certificate verified (``ca_file``
trusts a private CA) before anything else is said: a server that does not offer STARTTLS is
refused. The credentials come from the environment or ``.env``, never from config.yaml. The message
has a plain-text and an HTML body (untrusted names escaped).

``timeout_seconds`` bounds the whole delivery (connecting, the greeting, every reply), not each
read: a server that trickles an endless multi-line reply is cut off when it has passed
(:mod:`billing_reports.request_deadline`).
"""

from __future__ import annotations

import contextlib
import html
import smtplib
import socket
import ssl
from email.message import EmailMessage
from email.utils import formatdate, make_msgid
from typing import Any, Mapping, Sequence

from .. import hookimpl
from ..alerts import Alert
from ..errors import ConfigError
from ..request_deadline import Deadline
from ..untrusted import printable, shortened
from . import NotifierError
from ._message import alert_url, figure_text, headline, most_severe_first, subject
from ._options import (Option, ca_file, checked_options, required_secret, scrubbed, text, timeout_option,
                       variable_name)

SUBJECT_CHARS = 200


def _address(value: Any) -> str:
    value = text(value).strip()
    local, at, domain = value.rpartition("@")
    if not at or not local or not domain or any(c.isspace() or c in "<>,;\"" for c in value):
        raise ValueError("an e-mail address such as finance@example.com")
    return value


def _addresses(value: Any) -> tuple[str, ...]:
    items = [value] if isinstance(value, str) else value
    if not isinstance(items, (list, tuple)) or not items:
        raise ValueError("an e-mail address or a list of them")
    return tuple(_address(item) for item in items)


def _port(value: Any) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= 65535:
        raise ValueError("a port number from 1 to 65535")
    return value


def _host(value: Any) -> str:
    value = text(value).strip()
    if any(c.isspace() or c in "/@[]" for c in value):
        raise ValueError("a host name or address, such as smtp.example.com")
    return value


class EmailNotifier:
    """Sends the alerts as one e-mail to every address of ``to``."""

    options = {
        "host": Option(_host, required=True, help="the SMTP server, such as smtp.example.com"),
        "port": Option(_port, default=587, help="its submission port (STARTTLS)"),
        "from": Option(_address, required=True, help="the sender's address"),
        "to": Option(_addresses, required=True, help="an address or a list of addresses"),
        "username_env": Option(variable_name, help="the environment variable holding the SMTP user name"),
        "password_env": Option(variable_name, help="the environment variable holding the SMTP password"),
        "ca_file": Option(text, help="a CA bundle to trust for the server's certificate (a private CA)"),
        "subject_prefix": Option(text, default="[billing-reports]", help="what every subject starts with"),
        "timeout_seconds": timeout_option(),
    }

    def __init__(self, name: str, options: Mapping[str, Any], settings: Any) -> None:
        where = f"notify.{name}"
        self.name = name
        self.config = checked_options(where, self.options, options,
                                      secret_keys={"password": "password_env", "username": "username_env"})
        if (self.config["username_env"] is None) != (self.config["password_env"] is None):
            raise ConfigError(f"{where}.password_env: give both username_env and password_env, or neither "
                              f"(a server that needs no login)")
        self.username = self.password = None
        if self.config["username_env"]:
            self.username = required_secret(where, settings, "username_env", self.config["username_env"],
                                            "the SMTP user name")
            self.password = required_secret(where, settings, "password_env", self.config["password_env"],
                                            "the SMTP password")
            for key, value in (("username_env", self.username), ("password_env", self.password)):
                if not value.isascii():  # (smtplib's AUTH sends ASCII only)
                    raise ConfigError(f"{where}.{key}: {self.config[key]} holds a non-ASCII character, which an "
                                      f"SMTP login cannot carry here; use an ASCII password (its value is not shown)")
        self.ca_file = ca_file(where, settings, self.config["ca_file"])

    @property
    def server(self) -> str:
        return f"SMTP server {self.config['host']}:{self.config['port']}"

    def send(self, alerts: Sequence[Alert], *, site_url: str | None) -> None:
        message = alert_email(alerts, site_url=site_url, sender=self.config["from"], recipients=self.config["to"],
                              prefix=self.config["subject_prefix"])
        with Deadline(self.config["timeout_seconds"]) as deadline:
            try:
                refused = self._deliver(message, deadline)
            except NotifierError:
                raise
            except Exception as error:
                if deadline.expired:  # (its socket shut down mid-reply: whatever smtplib made of that)
                    raise NotifierError(self._too_late()) from None
                raise NotifierError(self._scrubbed(self._reason(error))) from None
        if refused:
            shown = ", ".join(f"{address} ({code})" for address, (code, _) in sorted(refused.items()))
            raise NotifierError(self._scrubbed(f"{self.server} refused {shown}; the others got the alerts"))

    def _deliver(self, message: EmailMessage, deadline: Deadline) -> dict:
        host, port, timeout = self.config["host"], self.config["port"], self.config["timeout_seconds"]
        context = ssl.create_default_context(cafile=str(self.ca_file) if self.ca_file else None)
        connection = _WatchedSMTP(host, port, timeout=timeout, deadline=deadline)
        try:  # (no QUIT after a failure: a server mid-handshake may not answer it, hiding the reason)
            connection.ehlo()
            if not connection.has_extn("starttls"):
                raise NotifierError(f"{self.server} does not offer STARTTLS; billing-reports sends neither "
                                    f"credentials nor alerts unencrypted (use the server's submission port, 587)")
            connection.starttls(context=context)
            connection.ehlo()
            if self.username is not None:
                connection.login(self.username, self.password or "")
            refused = connection.send_message(message)
            with contextlib.suppress(smtplib.SMTPException, OSError):
                connection.quit()
            return refused
        finally:
            connection.close()

    def _too_late(self) -> str:
        return f"{self.server}: no answer within {self.config['timeout_seconds']:g}s; check host, port and the network"

    def _reason(self, error: Exception) -> str:
        if isinstance(error, ssl.SSLCertVerificationError):
            return (f"{self.server}: its TLS certificate could not be verified ({error.verify_message}); fix the "
                    f"server's certificate or trust its CA with ca_file")
        if isinstance(error, ssl.SSLError):
            return f"{self.server}: TLS failed ({error.reason or type(error).__name__})"
        if isinstance(error, smtplib.SMTPAuthenticationError):
            variables = f"{self.config['username_env']} and {self.config['password_env']}"
            return f"{self.server} refused the login ({error.smtp_code}); check {variables}"
        if isinstance(error, smtplib.SMTPSenderRefused):
            return f"{self.server} refused the sender {self.config['from']} ({error.smtp_code} {_said(error.smtp_error)})"
        if isinstance(error, smtplib.SMTPRecipientsRefused):
            shown = ", ".join(f"{address} ({code})" for address, (code, _) in sorted(error.recipients.items()))
            return f"{self.server} refused every recipient: {shown}"
        if isinstance(error, smtplib.SMTPResponseException):
            return f"{self.server} answered {error.smtp_code} {_said(error.smtp_error)}"
        if isinstance(error, (socket.timeout, TimeoutError)) or isinstance(error.__context__, (socket.timeout, TimeoutError)):
            return self._too_late()
        if isinstance(error, smtplib.SMTPServerDisconnected):
            return f"{self.server} closed the connection; check host and port (STARTTLS, usually 587)"
        if isinstance(error, ConnectionRefusedError):
            return f"cannot connect to {self.server} (connection refused); check host and port"
        if isinstance(error, socket.gaierror):
            return f"cannot connect to {self.server} (unknown host); check notify.{self.name}.host"
        if isinstance(error, OSError):
            return f"cannot connect to {self.server} ({error.strerror or type(error).__name__})"
        return f"{self.server}: {type(error).__name__}: {shortened(printable(str(error)), 160)}"

    def _scrubbed(self, message: str) -> str:
        return scrubbed(message, [value for value in (self.username, self.password) if value])


class _WatchedSMTP(smtplib.SMTP):
    """An SMTP connection its :class:`Deadline` watches from the start (``smtplib`` connects and reads
    the greeting in ``__init__``; the deadline reads ``sock`` only when it passes)."""

    def __init__(self, host: str, port: int, *, timeout: float, deadline: Deadline) -> None:
        deadline.watch(self)
        super().__init__(host, port, timeout=timeout)


def _said(answer: bytes | str) -> str:
    text = answer.decode("utf-8", "replace") if isinstance(answer, bytes) else str(answer)
    return shortened(" ".join(printable(text).split()), 160)


def alert_email(alerts: Sequence[Alert], *, site_url: str | None, sender: str, recipients: Sequence[str],
                prefix: str) -> EmailMessage:
    """One message: the subject says how many alerts of which severity (or the one alert's title)."""
    ordered = most_severe_first(alerts)
    if len(ordered) == 1:
        topic = f"{ordered[0].severity}: {printable(ordered[0].title)}"
    else:
        topic = headline(ordered)
    message = EmailMessage()
    message["Subject"] = shortened(" ".join(f"{printable(prefix)} {topic}".split()), SUBJECT_CHARS)
    message["From"] = sender
    message["To"] = ", ".join(recipients)
    message["Date"] = formatdate(localtime=False, usegmt=True)
    message["Message-ID"] = make_msgid(domain=sender.rpartition("@")[2])
    message.set_content(plain_text(ordered, site_url=site_url))
    message.add_alternative(html_body(ordered, site_url=site_url), subtype="html")
    return message


#: Alerts an e-mail lists one by one (most severe first); the rest are counted in a last line, so that
#: a run that finds thousands still sends a message a mail server takes.
MAX_ALERTS = 100


def _more(alerts: Sequence[Alert]) -> str:
    left = len(alerts) - MAX_ALERTS
    return f"… and {left:,} more alert{'s' if left != 1 else ''}: see the site's alerts page." if left > 0 else ""


def plain_text(alerts: Sequence[Alert], *, site_url: str | None) -> str:
    lines = [headline(alerts), ""]
    for alert in alerts[:MAX_ALERTS]:
        lines.append(f"[{alert.severity.upper()}] {subject(alert)}: {printable(alert.title)}")
        if alert.detail:
            lines.append(f"  {printable(alert.detail)}")
        for figure in alert.figures:
            lines.append(f"  {printable(figure.label)}: {figure_text(figure)}")
        url = alert_url(alert, site_url)
        if url:
            lines.append(f"  {url}")
        lines.append("")
    if _more(alerts):
        lines += [_more(alerts), ""]
    lines.append("Sent by billing-reports check.")
    return "\n".join(lines) + "\n"


def html_body(alerts: Sequence[Alert], *, site_url: str | None) -> str:
    escape = html.escape
    colours = {"critical": "#b00020", "warning": "#8a5300", "info": "#1a4f8b"}
    parts = [f"<!doctype html><html><body style=\"font-family:sans-serif\"><h1 style=\"font-size:1.2em\">"
             f"{escape(headline(alerts))}</h1>"]
    for alert in alerts[:MAX_ALERTS]:
        parts.append(f"<h2 style=\"font-size:1em\"><span style=\"color:{colours.get(alert.severity, '#000')}\">"
                     f"{escape(alert.severity.upper())}</span> · {escape(subject(alert))}: "
                     f"{escape(printable(alert.title))}</h2>")
        if alert.detail:
            parts.append(f"<p>{escape(printable(alert.detail))}</p>")
        if alert.figures:
            rows = "".join(f"<tr><th style=\"text-align:left;padding-right:1em\">{escape(printable(figure.label))}</th>"
                           f"<td style=\"text-align:right\">{escape(figure_text(figure))}</td></tr>"
                           for figure in alert.figures)
            parts.append(f"<table>{rows}</table>")
        url = alert_url(alert, site_url)
        if url:
            parts.append(f"<p><a href=\"{escape(url)}\">Open the page</a></p>")
    if _more(alerts):
        parts.append(f"<p>{escape(_more(alerts))}</p>")
    parts.append("<p style=\"color:#555\">Sent by billing-reports check.</p></body></html>")
    return "\n".join(parts) + "\n"


@hookimpl
def register_notifiers(register):
    register("email", EmailNotifier)
