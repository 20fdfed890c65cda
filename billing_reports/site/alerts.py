"""The alerts page and the dashboard's banner: what the alert rules found, worst first.

Views only: the rules run in the pipeline (``analysis.run_alert_rules``), as ``check`` runs them.
A rule's link is kept only when it is a plain path inside the site (no scheme, no ``..``): it comes
from a plugin, and a ``javascript:`` link must never reach a page.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Mapping, Sequence

from ..alerts import SEVERITIES, Alert
from ..months import parse_isoformat_z
from ..sections import format_value
from .quality import when

_SITE_PATH = re.compile(r"[A-Za-z0-9_][A-Za-z0-9._/-]*(#[A-Za-z0-9._-]*)?")


@dataclass(frozen=True)
class AlertView:
    severity: str
    subject: str
    title: str
    detail: str
    figures: tuple[tuple[str, str], ...]
    link: str | None
    period: str
    first_seen: str | None


def site_link(link: str | None) -> str | None:
    """``link`` when it is a path inside the site, else ``None``."""
    if not link or not _SITE_PATH.fullmatch(link) or ".." in link.split("/"):
        return None
    return link


def alert_views(alerts: Sequence[Alert], seen: Mapping[str, str]) -> list[AlertView]:
    views = []
    for alert in alerts:
        first = seen.get(alert.key)
        try:
            first_text = when(parse_isoformat_z(first)) if first else None
        except ValueError:
            first_text = None
        views.append(AlertView(
            alert.severity, alert.subject or alert.subject_kind, alert.title, alert.detail,
            tuple((f.label, format_value(f.value, f.kind)) for f in alert.figures),
            site_link(alert.link), alert.period, first_text,
        ))
    return views


def alert_banner(views: Sequence[AlertView]) -> dict[str, object] | None:
    """The dashboard's banner: how many alerts stand, by severity (worst first); ``None`` for none."""
    if not views:
        return None
    counts = [(severity, sum(1 for view in views if view.severity == severity)) for severity in reversed(SEVERITIES)]
    return {"total": len(views), "worst": views[0].severity, "counts": [(s, n) for s, n in counts if n]}


__all__ = ["AlertView", "alert_banner", "alert_views", "site_link"]
