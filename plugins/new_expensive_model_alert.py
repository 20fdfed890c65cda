"""Alert rule: a user's first spend on one of the expensive models.

The expensive models are the users x expensive models section's (``plugins.expensive-models``:
named, or the costliest by cost per request). A user whose first day on one of them in the range
falls in the period checked is told about once; a period that is the range's first has no history
to compare with and alerts nothing, nor does one with a month not fetched before it. The alert links to the user's page.
"""

from __future__ import annotations

from itertools import compress
from typing import Annotated, Literal

import msgspec

from billing_reports import hookimpl
from billing_reports.alerts import Alert, AlertFigure
from billing_reports.money import format_money
from billing_reports.periods import Period, date_of_day
from billing_reports.settings import Settings
from billing_reports.site.names import user_page_path, user_pages
from billing_reports.usage import OnDemandUsage

from .users_x_expensive_models import SETTINGS_NAME as EXPENSIVE_MODELS, expensive_models

RULE = "new-expensive-model"
SETTINGS_NAME = "new-expensive-model-alert"


class NewExpensiveModelRule(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    """How a user's first spend on an expensive model is reported."""

    enabled: Annotated[bool, msgspec.Meta(description="evaluate this rule")] = True
    severity: Annotated[Literal["info", "warning", "critical"], msgspec.Meta(description=(
        "how bad a first use is"))] = "info"


@hookimpl
def register_settings(register) -> None:
    register(SETTINGS_NAME, NewExpensiveModelRule)


def first_uses(usage: OnDemandUsage, models: list[str], period: Period) -> dict[tuple[str, str], tuple[int, int]]:
    """``(user, model) -> (first day, spend in the period)`` for each user whose first day on one of
    ``models`` in the range lies in ``period``."""
    chosen = set(models)
    first: dict[tuple[str, str], int] = {}
    spent: dict[tuple[str, str], int] = {}
    for cells in usage.cell_columns():  # (a cell holds at least one request)
        # only the cells of the chosen models, picked out column-wise (they are few of a month's cells)
        codes = {code for code, model in enumerate(cells.models) if model in chosen}
        picked = compress(zip(cells.day, cells.user, cells.model, cells.columns[0]), map(codes.__contains__, cells.model))
        for day, user, model, cost in picked:
            pair = (cells.users[user], cells.models[model])
            if day < first.get(pair, day + 1):
                first[pair] = day
            if period.contains(day):
                spent[pair] = spent.get(pair, 0) + cost
    return {pair: (day, spent.get(pair, 0)) for pair, day in first.items() if period.contains(day)}


@hookimpl
def register_alert_rules(register, usage: OnDemandUsage, settings: Settings) -> None:
    rule: NewExpensiveModelRule = settings.plugin(SETTINGS_NAME)
    periods = usage.periods()
    if not rule.enabled or len(periods) < 2:  # (the range's first period has nothing before it)
        return
    period = periods[-1]
    if not all(usage.day_fetched(day) for day in range(usage.range.first_day, period.first_day)):
        return  # (a first spend may lie in a month not fetched: nothing can be called new)
    models = expensive_models(usage, settings.plugin(EXPENSIVE_MODELS))
    pages = user_pages(usage)
    for (user, model), (day, spend) in sorted(first_uses(usage, models, period).items()):
        date = date_of_day(day).isoformat()
        register(Alert(
            rule=RULE,
            key=f"{RULE}/{user}/{model}/{period.key}",
            severity=rule.severity,
            subject_kind="user",
            subject=user,
            title=f"First spend on the expensive model {model}: {format_money(spend)} since {date}",
            detail=(f"No spend on {model} earlier in the range ({usage.range.label}). The expensive models are "
                    f"{', '.join(models)} (plugins.{EXPENSIVE_MODELS})."),
            figures=(AlertFigure("Model", model, "text"), AlertFigure("First day", date, "day"),
                     AlertFigure("Spend on it this period", spend, "money")),
            link=user_page_path(pages, user),
            period=period.key,
        ))
