"""What every built-in notifier says about alerts: the order, the headline line, each figure as the
site shows it, the subject, and the absolute link to the page that explains an alert.

Text from outside (a user's e-mail, a model's or a group's name) goes through
:func:`billing_reports.untrusted.printable` here; each channel then escapes it for its own markup.
"""

from __future__ import annotations

from collections import Counter
from typing import Sequence
from urllib.parse import urljoin

from ..alerts import SEVERITIES, Alert, AlertFigure, severity_rank
from ..sections import format_value
from ..untrusted import printable
from ..wording import counted


def most_severe_first(alerts: Sequence[Alert]) -> list[Alert]:
    """Critical, then warning, then info; within a severity, as the rules gave them."""
    return sorted(alerts, key=lambda alert: -severity_rank(alert.severity))


def headline(alerts: Sequence[Alert]) -> str:
    """``3 billing alerts: 1 critical, 2 warning``."""
    by_severity = Counter(alert.severity for alert in alerts)
    parts = [f"{by_severity[severity]} {severity}" for severity in reversed(SEVERITIES) if by_severity[severity]]
    return f"{counted(len(alerts), 'billing alert')}: {', '.join(parts)}"


def subject(alert: Alert) -> str:
    """``team``, ``group Platform``, ``user ann@example.com``."""
    if alert.subject_kind == "team" or not alert.subject:
        return alert.subject_kind
    return f"{alert.subject_kind} {printable(alert.subject)}"


def figure_text(figure: AlertFigure) -> str:
    """The figure's value as every page shows it (``$1,234.56``, ``87.5%``, ``12,345``)."""
    try:
        return printable(format_value(figure.value, figure.kind))
    except (TypeError, ValueError):  # a rule's value of another type than its kind: shown as it is
        return printable(str(figure.value))


def alert_url(alert: Alert, site_url: str | None) -> str | None:
    """The absolute address of the alert's page, or ``None`` without a site URL or a link."""
    if not site_url or not alert.link:
        return None
    return urljoin(site_url.rstrip("/") + "/", alert.link.lstrip("/"))


__all__ = ["alert_url", "figure_text", "most_severe_first", "subject", "headline"]
