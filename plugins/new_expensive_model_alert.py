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
from billing_reports.months import DAY_MS, Month
from billing_reports.usage import OnDemandUsage, month_days

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
    ``models`` in the range lies in ``period``: a pair with a cell in the period and none before it
    (a cell holds at least one request). Of a month wholly before the period only its sums are read
    (who used which model); of the others, only the chosen models' cells (picked out column-wise)."""
    chosen = set(models)
    first_day, last_day = period.first_day, period.last_day
    earlier = {month for month in usage.months if month_days(month)[-1] < first_day}
    used_before = {(user.name, model) for month in earlier for model in chosen for user in usage.model_users(model, month)}
    first: dict[tuple[str, str], int] = {}
    spent: dict[tuple[str, str], int] = {}
    for cells in usage.cell_columns():
        if not len(cells) or Month.of_ms(cells.day[0] * DAY_MS) in earlier:
            continue
        codes = {code for code, model in enumerate(cells.models) if model in chosen}
        wanted = list(map(codes.__contains__, cells.model))
        for day, user, model, cost in zip(*(compress(column, wanted) for column in (
                cells.day, cells.user, cells.model, cells.columns[0]))):
            pair = (cells.users[user], cells.models[model])
            if day < first_day:
                used_before.add(pair)
            elif day <= last_day:
                if day < first.get(pair, day + 1):
                    first[pair] = day
                spent[pair] = spent.get(pair, 0) + cost
    return {pair: (day, spent[pair]) for pair, day in first.items() if pair not in used_before}


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
