"""Summary: the headline figures (the index page's cards)."""

from __future__ import annotations

from billing_reports import Figure, Section, hookimpl
from billing_reports.money import format_money
from billing_reports.months import today
from billing_reports.usage import OnDemandUsage

from ._common import period_projection, projection_note

SLUG = "summary"
ORDER = 0


@hookimpl
def register_sections(register, usage: OnDemandUsage) -> None:
    register(summary_section(usage))


#: The card of the period in progress, per trend grain other than the month (which has its own):
#: its label when the period holds today, and when it is only the last one of the range.
PERIOD_CARDS = {
    "day": ("Today's spend", "Last day in range"),
    "week": ("This week's spend", "Last week in range"),
    "cycle": ("This billing cycle's spend", "Last billing cycle in range"),
}


def period_figure(usage: OnDemandUsage, period, current_label: str, last_label: str) -> Figure:
    """A period's spend as a card: labelled as the current one only if it holds today; blank (never
    $0) if it was not fetched; its note says what it covers."""
    label = current_label if period.full_first_day <= today() <= period.full_last_day else last_label
    covered = period.covered_label if period.clipped else period.label
    if not usage.period_fetched(period):
        return Figure(label, None, "money", f"{covered}: not fetched yet")
    so_far = "month to date" if period.grain == "month" else "so far"
    note = f"{covered}, {so_far}" if usage.period_partial(period) else covered
    if period.clipped and not usage.period_partial(period):
        note += f" (part of {period.label})"
    return Figure(label, usage.period_total(period).cost, "money", note)


def current_period_figures(usage: OnDemandUsage) -> list[Figure]:
    """With ``--by day|week|cycle``: the last period that has begun, so far; a billing cycle in
    progress also projected to its end."""
    if usage.grain not in PERIOD_CARDS:
        return []
    begun = [period for period in usage.periods() if period.first_day <= today()]
    if not begun:
        return []
    current = begun[-1]
    figures = [period_figure(usage, current, *PERIOD_CARDS[usage.grain])]
    if usage.grain == "cycle" and usage.period_fetched(current):
        # the cycle is what Cursor bills: where this one is heading (the trend's projection, the same value)
        forecast = period_projection(usage, current)
        if forecast is not None:
            figures.append(Figure("Projected cycle end", forecast.projected, "money",
                                  f"{current.label}: {projection_note(forecast)}"))
    return figures


def summary_section(usage: OnDemandUsage) -> Section:
    """Total spend, the last month's spend, months analysed, costliest model, top spender."""
    month_period = usage.range.periods_of("month")[-1] if usage.range else None
    month_card = period_figure(usage, month_period, "Current month spend", "Last month in range")
    missing = len(usage.missing_months)
    months_note = usage.period_label + (f" ({missing} not fetched)" if missing else "")
    models, users = usage.models(), usage.users()
    costliest = models[0] if models else None
    top_spender = users[0] if users else None
    figures = [
        Figure("Total on-demand spend", usage.total.cost, "money", usage.period_label),
        month_card,
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
        roles=("summary-cards", "report-text"),
        intro=(
            f"On-demand (usage-based) spend of the team from {usage.period_label}: every event with "
            "`kind` *Usage-based* that is chargeable and token-based, costed at what Cursor bills "
            "(`chargedCents`, else `tokenUsage.totalCents` less its discount plus `cursorTokenFee`). "
            "Included usage is not counted."
        ),
        figures=figures,
    )
