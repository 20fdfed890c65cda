"""``--format focus``: the ledger as FOCUS 1.2 rows, the FinOps Foundation's billing data format.

One row per charge: a UTC day x user x model x max mode cell of the ledger. Column names and allowed
values are the FOCUS 1.2 specification's (https://focus.finops.org, ``specification/columns/`` of
FinOps-Open-Cost-and-Usage-Spec/FOCUS_Spec at tag v1.2): its 21 mandatory columns, the recommended
ChargeFrequency and ServiceSubcategory, the conditional ConsumedQuantity/ConsumedUnit (Cursor
measures usage in tokens), then our own columns, prefixed ``x_`` as the spec requires, after all of
the spec's ("Column Handling").

The costs, all exact (micro-cents, written unrounded):

- BilledCost: what Cursor bills (``chargedCents``, else the discounted parts: the ledger's cost).
- ListCost: before any discount (``totalCents + cursorTokenFee``).
- ContractedCost: the team's discount (``discountPercentOff``) is its negotiated rate, so the
  contracted cost is what is billed: BilledCost. (FOCUS: ListCost where no negotiated discount
  applies, which the billed cost then equals.)
- EffectiveCost: on-demand usage covers no prepaid commitment, so nothing is amortised into it:
  BilledCost.

ChargeCategory is "Usage" and ChargeClass null (no row corrects an invoiced period: a late event
is a charge of its own day). ChargePeriodStart/End are the cell's UTC day, the end exclusive;
BillingPeriodStart/End the billing cycle holding the day where the team's cycles are known
(``billing.cycle_start``, else Cursor's ``subscriptionCycleStart`` a fetch kept), else its calendar
month.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable, Iterator

from ..months import DAY_MS, Month
from ..periods import cycle_containing, date_of_day
from ..usage import OnDemandUsage
from .columns import Export, ExportColumn
from .ledger_rows import GroupOf, ledger_cells

FOCUS_VERSION = "1.2"
CHARGE_CATEGORY = "Usage"
CHARGE_FREQUENCY = "Usage-Based"
SERVICE_CATEGORY = "AI and Machine Learning"
SERVICE_SUBCATEGORY = "Generative AI"
SERVICE_NAME = "Cursor"
PROVIDER_NAME = "Cursor"
PUBLISHER_NAME = "Cursor"
INVOICE_ISSUER_NAME = "Cursor"
BILLING_CURRENCY = "USD"
#: FOCUS Unit Format: count-based units, plural.
PRICING_UNIT = "Requests"
CONSUMED_UNIT = "Tokens"

#: The 21 columns every FOCUS 1.2 dataset must have (Feature level: Mandatory).
MANDATORY = (
    "BilledCost", "BillingAccountId", "BillingAccountName", "BillingCurrency", "BillingPeriodEnd",
    "BillingPeriodStart", "ChargeCategory", "ChargeClass", "ChargeDescription", "ChargePeriodEnd",
    "ChargePeriodStart", "ContractedCost", "EffectiveCost", "InvoiceIssuerName", "ListCost", "PricingQuantity",
    "PricingUnit", "ProviderName", "PublisherName", "ServiceCategory", "ServiceName",
)

FOCUS_COLUMNS = (
    ExportColumn("BilledCost", "money"),
    ExportColumn("BillingAccountId", "text"),
    ExportColumn("BillingAccountName", "text"),
    ExportColumn("BillingCurrency", "text"),
    ExportColumn("BillingPeriodEnd", "timestamp"),
    ExportColumn("BillingPeriodStart", "timestamp"),
    ExportColumn("ChargeCategory", "text"),
    ExportColumn("ChargeClass", "text", nullable=True),
    ExportColumn("ChargeDescription", "text"),
    ExportColumn("ChargeFrequency", "text"),
    ExportColumn("ChargePeriodEnd", "timestamp"),
    ExportColumn("ChargePeriodStart", "timestamp"),
    ExportColumn("ConsumedQuantity", "quantity"),
    ExportColumn("ConsumedUnit", "text"),
    ExportColumn("ContractedCost", "money"),
    ExportColumn("EffectiveCost", "money"),
    ExportColumn("InvoiceIssuerName", "text"),
    ExportColumn("ListCost", "money"),
    ExportColumn("PricingQuantity", "quantity"),
    ExportColumn("PricingUnit", "text"),
    ExportColumn("ProviderName", "text"),
    ExportColumn("PublisherName", "text"),
    ExportColumn("ServiceCategory", "text"),
    ExportColumn("ServiceName", "text"),
    ExportColumn("ServiceSubcategory", "text"),
    ExportColumn("x_User", "text"),
    ExportColumn("x_Model", "text"),
    ExportColumn("x_MaxMode", "bool"),
    ExportColumn("x_Group", "text", nullable=True),
    ExportColumn("x_InputTokens", "count"),
    ExportColumn("x_OutputTokens", "count"),
    ExportColumn("x_CacheWriteTokens", "count"),
    ExportColumn("x_CacheReadTokens", "count"),
    ExportColumn("x_TokenFee", "money"),
)


@dataclass(frozen=True)
class BillingAccount:
    """The team as FOCUS names it: ``BillingAccountId`` and ``BillingAccountName``."""

    id: str
    name: str


def billing_period_of(cycle_start: int | None) -> Callable[[int], tuple[int, int]]:
    """``period(day)``: the ``[start, end)`` epoch milliseconds of the billing period holding the UTC
    ``day``: its billing cycle when ``cycle_start`` (any cycle's first day) is known, else its month."""
    known: dict[int, tuple[int, int]] = {}

    def period(day: int) -> tuple[int, int]:
        found = known.get(day)
        if found is None:
            if cycle_start is not None:
                cycle = cycle_containing(day, cycle_start)
                found = (cycle.start_ms, cycle.end_ms)
            else:
                calendar_day = date_of_day(day)
                month = Month(calendar_day.year, calendar_day.month)
                found = (month.start_ms, month.end_ms)
            known[day] = found
        return found

    return period


def charge_description(model: str, max_mode: bool) -> str:
    return f"Cursor on-demand usage of {model}{' in Max Mode' if max_mode else ''}"


def focus_export(usage: OnDemandUsage, account: BillingAccount, cycle_start: int | None, group_of: GroupOf) -> Export:
    period = billing_period_of(cycle_start)

    def rows() -> Iterator[tuple]:
        for (day, user, model, max_mode), t in ledger_cells(usage):
            period_start, period_end = period(day)
            yield (
                t.cost, account.id, account.name, BILLING_CURRENCY, period_end, period_start, CHARGE_CATEGORY, None,
                charge_description(model, max_mode), CHARGE_FREQUENCY, (day + 1) * DAY_MS, day * DAY_MS,
                t.total_tokens, CONSUMED_UNIT, t.cost, t.cost, INVOICE_ISSUER_NAME, t.list_cost, t.requests,
                PRICING_UNIT, PROVIDER_NAME, PUBLISHER_NAME, SERVICE_CATEGORY, SERVICE_NAME, SERVICE_SUBCATEGORY,
                user, model, max_mode, group_of(user, day), t.input_tokens, t.output_tokens, t.cache_write_tokens,
                t.cache_read_tokens, t.token_fee,
            )

    return Export("focus", FOCUS_COLUMNS, rows(), cost_index=0)


__all__ = ["BillingAccount", "FOCUS_COLUMNS", "FOCUS_VERSION", "MANDATORY", "billing_period_of", "focus_export"]
