"""Alerts: what a rule found that someone should be told, and who tells them.

An alert rule (a plugin's ``register_alert_rules``) looks at the analysed usage and returns
:class:`Alert` objects; ``billing-reports check`` prints them, keeps which ones stand (so a
standing alert is sent once), shows them on the site, and hands new or worse ones to every
configured notifier (a plugin's ``register_notifiers``). Money in an alert is micro-cents.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal, Protocol, Sequence

#: How bad: ``info`` (worth knowing), ``warning`` (act this period), ``critical`` (act now).
Severity = Literal["info", "warning", "critical"]
SEVERITIES: tuple[Severity, ...] = ("info", "warning", "critical")
#: Whom an alert is about.
SubjectKind = Literal["team", "group", "user"]


def severity_rank(severity: str) -> int:
    """``info`` 0, ``warning`` 1, ``critical`` 2 (for ``--fail-on`` and "has it worsened")."""
    return SEVERITIES.index(severity)  # type: ignore[arg-type]


@dataclass(frozen=True)
class AlertFigure:
    """One number behind an alert: ``kind`` as a table column's (``money`` micro-cents, ``percent``,
    ``count``, ``day``, ``text``...)."""

    label: str
    value: Any
    kind: str = "text"


@dataclass(frozen=True)
class Alert:
    """What a rule found.

    :param rule: the rule's name (``budget``, ``spike``, ``cursor-limit``, ``new-expensive-model``...).
    :param key: what makes this alert the same one on the next run (rule, subject and period, e.g.
        ``budget/team/2026-11``): a standing alert is sent once, again only when it worsens.
    :param severity: ``info``, ``warning`` or ``critical``.
    :param subject_kind, subject: ``team`` (subject ``""``), ``group`` (its name) or ``user`` (an e-mail
        or a service account).
    :param title: one line: what happened.
    :param detail: a sentence or two: why it matters, what to look at.
    :param figures: the numbers behind it.
    :param link: the site page that explains it, relative to the site's root (``users/ann.html``).
    :param period: the period key it belongs to (``2026-11``, ``cycle-2026-11-17``); a new period
        is a new alert.
    :param level: how bad within its severity (a share of a budget, a spike's multiple): a higher
        level on a later run counts as worse and is sent again.
    """

    rule: str
    key: str
    severity: Severity
    subject_kind: SubjectKind
    subject: str
    title: str
    detail: str = ""
    figures: Sequence[AlertFigure] = field(default_factory=tuple)
    link: str | None = None
    period: str = ""
    level: float = 0.0

    def __post_init__(self) -> None:
        if self.severity not in SEVERITIES:
            raise ValueError(f"alert {self.key!r}: severity {self.severity!r} is none of {', '.join(SEVERITIES)}")
        if self.subject_kind not in ("team", "group", "user"):
            raise ValueError(f"alert {self.key!r}: subject_kind {self.subject_kind!r} is none of team, group, user")


class Notifier(Protocol):
    """Sends alerts somewhere (Slack, a webhook, e-mail). ``name``: as configured; ``send`` raises a
    :class:`billing_reports.errors.BillingReportsError` (one line, no secret in it) when it fails."""

    name: str

    def send(self, alerts: Sequence[Alert], *, site_url: str | None) -> None: ...


__all__ = ["Alert", "AlertFigure", "Notifier", "SEVERITIES", "Severity", "SubjectKind", "severity_rank"]
