"""The ``slack`` notifier: a Block Kit message to a Slack incoming webhook.

::

    notify:
      finops-slack:
        type: slack
        webhook_url_env: SLACK_WEBHOOK_URL   # the variable holding the webhook URL (the default)

The webhook URL is a secret (whoever has it can post to the channel): it comes from the environment
or ``.env``, never from config.yaml, and no message shows more of it than ``https://hooks.slack.com``.

The message: a header with the count of alerts by severity, then one section per alert, most severe
first (severity, subject, title, detail, its figures as fields, a button to its page when the site's
URL is known), within Slack's limit of 50 blocks.
"""

from __future__ import annotations

import json
from typing import Any, Mapping, Sequence
from urllib.parse import urlsplit

from .. import hookimpl
from ..alerts import Alert
from ..errors import ConfigError
from ..untrusted import printable, shortened
from ..wording import counted
from ._http import post
from ._message import alert_url, figure_text, headline, most_severe_first, subject
from ._options import Option, checked_options, required_secret, timeout_option, url_secrets, variable_name

#: Slack's limits: blocks per message, characters of a header, of a section's text, of a field,
#: fields per section, characters of a button's URL.
MAX_BLOCKS, HEADER_CHARS, SECTION_CHARS, FIELD_CHARS, MAX_FIELDS, URL_CHARS = 50, 150, 3000, 2000, 10, 3000
#: Alerts shown one by one; more are counted in a last line (header + alerts + that line <= MAX_BLOCKS).
MAX_ALERT_BLOCKS = 40
SEVERITY_MARKS = {"critical": ":red_circle:", "warning": ":large_orange_circle:", "info": ":large_blue_circle:"}
LOOPBACK_HOSTS = ("127.0.0.1", "::1", "localhost")


class SlackNotifier:
    """Posts alerts to a Slack incoming webhook."""

    options = {
        "webhook_url_env": Option(variable_name, default="SLACK_WEBHOOK_URL",
                                  help="the environment variable holding the webhook URL"),
        "timeout_seconds": timeout_option(),
    }

    def __init__(self, name: str, options: Mapping[str, Any], settings: Any) -> None:
        where = f"notify.{name}"
        self.name = name
        self.config = checked_options(where, self.options, options, secret_keys={"webhook_url": "webhook_url_env"})
        variable = self.config["webhook_url_env"]
        self.webhook_url = required_secret(where, settings, "webhook_url_env", variable,
                                           "the Slack webhook URL").strip()
        if not _webhook_url(self.webhook_url):
            raise ConfigError(f"{where}.webhook_url_env: {variable} does not hold a webhook URL (expected "
                              f"https://hooks.slack.com/services/...; its value is not shown)")

    def send(self, alerts: Sequence[Alert], *, site_url: str | None) -> None:
        body = json.dumps(slack_message(alerts, site_url=site_url), ensure_ascii=False).encode("utf-8")
        variable = self.config["webhook_url_env"]
        post("Slack", self.webhook_url, body, {"Content-Type": "application/json; charset=utf-8"},
             timeout=self.config["timeout_seconds"], secrets=url_secrets(self.webhook_url),
             hint=f"check the webhook in {variable} (Slack answers 404 no_service for a removed one)")


def _webhook_url(value: str) -> bool:
    """An https URL with a host and a path (http only to this machine, for a local relay)."""
    parts = urlsplit(value)
    if not parts.hostname or not parts.path.strip("/") or any(c.isspace() for c in value):
        return False
    return parts.scheme == "https" or (parts.scheme == "http" and parts.hostname in LOOPBACK_HOSTS)


def slack_message(alerts: Sequence[Alert], *, site_url: str | None) -> dict[str, Any]:
    """The Block Kit payload: ``text`` (the notification's line) and ``blocks``."""
    title = headline(alerts)
    blocks: list[dict[str, Any]] = [
        {"type": "header", "text": {"type": "plain_text", "text": shortened(title, HEADER_CHARS), "emoji": True}}
    ]
    ordered = most_severe_first(alerts)
    for alert in ordered[:MAX_ALERT_BLOCKS]:
        blocks.append(_alert_section(alert, site_url))
    left_out = len(ordered) - MAX_ALERT_BLOCKS
    if left_out > 0:
        more = f"…and {counted(left_out, 'more alert')}"
        if site_url:
            more += f": <{_escaped(site_url)}|see them on the site>"
        blocks.append({"type": "context", "elements": [{"type": "mrkdwn", "text": more}]})
    assert len(blocks) <= MAX_BLOCKS
    return {"text": title, "blocks": blocks}


def _alert_section(alert: Alert, site_url: str | None) -> dict[str, Any]:
    mark = SEVERITY_MARKS.get(alert.severity, "")
    lines = [f"{mark} *{alert.severity.upper()}* · {_escaped(subject(alert))}",
             f"*{_escaped(printable(alert.title))}*"]
    if alert.detail:
        lines.append(_escaped(printable(alert.detail)))
    section: dict[str, Any] = {"type": "section", "text": {"type": "mrkdwn",
                                                           "text": shortened("\n".join(lines), SECTION_CHARS)}}
    fields = [{"type": "mrkdwn", "text": shortened(f"*{_escaped(printable(figure.label))}*\n"
                                                   f"{_escaped(figure_text(figure))}", FIELD_CHARS)}
              for figure in alert.figures[:MAX_FIELDS]]
    if fields:
        section["fields"] = fields
    url = alert_url(alert, site_url)
    if url and len(url) <= URL_CHARS:
        section["accessory"] = {"type": "button", "text": {"type": "plain_text", "text": "Open the page"},
                                "url": url, "action_id": f"open-{alert.rule}"[:255]}
    return section


def _escaped(text: str) -> str:
    """Slack mrkdwn escaping: ``&``, ``<`` and ``>`` (so no name can make a link or an @channel)."""
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


@hookimpl
def register_notifiers(register):
    register("slack", SlackNotifier)
