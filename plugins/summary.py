"""Summary: the headline figures (the index page's cards)."""

from __future__ import annotations

from billing_reports import Figure, Section, hookimpl
from billing_reports.money import format_money
from billing_reports.usage import OnDemandUsage

SLUG = "summary"
ORDER = 0


@hookimpl
def register_sections(register, usage: OnDemandUsage) -> None:
    register(summary_section(usage))


#: The card of the period in progress, per trend grain other than the month (which has its own).
PERIOD_NOUNS = {"day": "Today's spend", "week": "This week's spend", "cycle": "This billing cycle's spend"}


def current_period_figures(usage: OnDemandUsage) -> list[Figure]:
    """With ``--by day|week|cycle``: the last period's spend so far."""
    if usage.grain not in PERIOD_NOUNS:
        return []
    period = usage.periods()[-1]
    if not usage.period_fetched(period):
        note = f"{period.label}: not fetched yet"
    elif usage.period_partial(period):
        note = f"{period.label}, so far"
    else:
        note = period.label
    return [Figure(PERIOD_NOUNS[usage.grain], usage.period_total(period).cost, "money", note)]


def summary_section(usage: OnDemandUsage) -> Section:
    """Total spend, the last month's spend, months analysed, costliest model, top spender."""
    last = usage.last_month
    last_facts = usage.facts(last)
    if not last_facts.cached:
        last_note = f"{last.label}: not fetched yet"
    elif not last_facts.complete:
        last_note = f"{last.label}, month to date"
    else:
        last_note = last.label
    missing = len(usage.missing_months)
    months_note = usage.period_label + (f" ({missing} not fetched)" if missing else "")
    models, users = usage.models(), usage.users()
    costliest = models[0] if models else None
    top_spender = users[0] if users else None
    figures = [
        Figure("Total on-demand spend", usage.total.cost, "money", usage.period_label),
        Figure("Current month spend", usage.month_total(last).cost, "money", last_note),
        *current_period_figures(usage),
        Figure("Months analysed", len(usage.months), "count", months_note),
        Figure(
            "Costliest model",
            costliest.name if costliest else None,
            "model",
            f"{format_money(costliest.cost)} in total" if costliest else "no on-demand usage",
        ),
        Figure(
            "Top spender",
            top_spender.name if top_spender else None,
            "user",
            f"{format_money(top_spender.cost)} in total" if top_spender else "no on-demand usage",
        ),
    ]
    return Section(
        slug=SLUG,
        title="Summary",
        order=ORDER,
        intro=(
            f"On-demand (usage-based) spend of the team from {usage.period_label}: every event with "
            "`kind` *Usage-based* that is chargeable and token-based, costed at what Cursor bills "
            "(`chargedCents`, else `tokenUsage.totalCents` less its discount plus `cursorTokenFee`). "
            "Included usage is not counted."
        ),
        figures=figures,
    )
