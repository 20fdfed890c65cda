"""Alert rule: a member at or above a share of their Cursor spend limit this cycle.

From Cursor's newest spend snapshot (``usage.cursor.spend[-1]``), the same figures and the same
exact comparison as the spend limits section (``plugins/spend_limits.py``). A warning from
``threshold_percent`` on, critical from ``critical_percent`` on; sent again as the share used
passes each further ``step_percent``. The alert links to the spend limits page.
"""

from __future__ import annotations

from typing import Annotated

import msgspec

from billing_reports import hookimpl
from billing_reports.alerts import Alert, AlertFigure
from billing_reports.cursor_figures import SpendSnapshot
from billing_reports.money import format_money
from billing_reports.sections import format_value
from billing_reports.settings import Settings
from billing_reports.site.names import slugify
from billing_reports.site.quality import when
from billing_reports.usage import OnDemandUsage

from .spend_limits import SLUG as SPEND_LIMITS_SLUG, at_or_above, used_percent

RULE = "cursor-limit"
SETTINGS_NAME = "cursor-limit-alert"


class CursorLimitRule(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    """When a member's spend this cycle is near their Cursor spend limit."""

    enabled: Annotated[bool, msgspec.Meta(description="evaluate this rule")] = True
    threshold_percent: Annotated[float, msgspec.Meta(ge=1, le=1000, description=(
        "a warning once a member has used this share of their limit this cycle"))] = 80
    critical_percent: Annotated[float, msgspec.Meta(ge=1, le=1000, description=(
        "critical from this share on (at the limit Cursor stops their on-demand usage)"))] = 100
    step_percent: Annotated[float, msgspec.Meta(ge=1, le=1000, description=(
        "sent again each time the share used passes another step of this size"))] = 10


@hookimpl
def register_settings(register) -> None:
    register(SETTINGS_NAME, CursorLimitRule)


def near_limit_alerts(snapshot: SpendSnapshot, rule: CursorLimitRule) -> list[Alert]:
    link = f"{slugify(SPEND_LIMITS_SLUG)}.html"
    found = []
    for member in snapshot.members:
        if not member.limit or not at_or_above(member, rule.threshold_percent):
            continue
        used = used_percent(member)
        critical = at_or_above(member, rule.critical_percent)
        found.append(Alert(
            rule=RULE,
            key=f"{RULE}/{member.email}/{snapshot.cycle.key}",
            severity="critical" if critical else "warning",
            subject_kind="user",
            subject=member.email,
            title=f"At {format_value(used, 'percent')} of their Cursor spend limit ({format_money(member.spend)} of "
                  f"{format_money(member.limit)})",
            detail=(f"Cursor's spend this cycle ({snapshot.cycle.label}) by its snapshot {when(snapshot.taken_at)}; "
                    f"{format_money(member.limit - member.spend)} left. Alerts from "
                    f"{rule.threshold_percent:g}% (plugins.{SETTINGS_NAME})."),
            figures=(AlertFigure("Used", used, "percent"), AlertFigure("Spend this cycle", member.spend, "money"),
                     AlertFigure("Limit", member.limit, "money"),
                     AlertFigure("Left", member.limit - member.spend, "money")),
            link=link,
            period=snapshot.cycle.key,
            level=float(used // rule.step_percent),
        ))
    return found


@hookimpl
def register_alert_rules(register, usage: OnDemandUsage, settings: Settings) -> None:
    rule = settings.plugin(SETTINGS_NAME)
    if rule.enabled and usage.cursor.spend:
        for alert in near_limit_alerts(usage.cursor.spend[-1], rule):
            register(alert)
