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
- ContractedCost: the price after the team's negotiated discount (``discountPercentOff``), from the
  event's parts: ``totalCents x (1 - discountPercentOff/100) + cursorTokenFee``; without a discount
  it is the ListCost, as FOCUS asks ("If negotiated discounts are not applicable, the Contracted
  Cost defaults to the List Cost"). Where Cursor's ``chargedCents`` rounds away from its parts, the
  BilledCost differs from it by that much; ``x_Discount`` is ListCost - ContractedCost.
- EffectiveCost: on-demand usage covers no prepaid commitment, so nothing is amortised into it:
  BilledCost.

PricingUnit is ``Tokens`` and PricingQuantity every token of the row (as ConsumedQuantity): Cursor
prices by tokens, never by request (``x_Requests`` counts the requests). ListUnitPrice and
ContractedUnitPrice are left out: one row mixes four kinds of tokens, each at its own price.

ChargeCategory is "Usage" and ChargeClass null (no row corrects an invoiced period: a late event
is a charge of its own day). ChargePeriodStart/End are the cell's UTC day, the end exclusive;
BillingPeriodStart/End the billing cycle holding the day where the team's cycles are known
(``billing.cycle_start``, else Cursor's ``subscriptionCycleStart`` a fetch kept), else its calendar
month.
"""

from __future__ import annotations

from dataclasses import dataclass
from collections import defaultdict
from typing import Callable, Iterator

from .. import __version__
from ..loader import iter_kept_event_values
from ..months import DAY_MS, Month
from ..on_demand import event_cost, is_amount
from ..periods import cycle_containing, date_of_day
from ..usage import LedgerKey, OnDemandUsage
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
#: FOCUS Unit Format: count-based units, plural. Cursor prices usage by the token.
PRICING_UNIT = "Tokens"
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
    ExportColumn("x_Discount", "money"),
    ExportColumn("x_Requests", "count"),
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


#: ``rename(key)``: a ledger key of the cache as the exported ledger names it (pseudonymised or as it is).
Rename = Callable[[LedgerKey], LedgerKey]


def focus_export(usage: OnDemandUsage, account: BillingAccount, cycle_start: int | None, group_of: GroupOf, *,
                 rename: Rename | None = None) -> Export:
    """The FOCUS rows of the usage's ledger; ``rename``: how a cache event's ledger key reads in it (a
    pseudonymised usage's), for the contracted costs read from the events."""
    period = billing_period_of(cycle_start)
    contracted_extra = contracted_differences(usage, rename)

    def rows() -> Iterator[tuple]:
        for key, t in ledger_cells(usage):
            day, user, model, max_mode = key
            period_start, period_end = period(day)
            contracted = t.cost + contracted_extra.get(key, 0)
            tokens = t.total_tokens
            yield (
                t.cost, account.id, account.name, BILLING_CURRENCY, period_end, period_start, CHARGE_CATEGORY, None,
                charge_description(model, max_mode), CHARGE_FREQUENCY, (day + 1) * DAY_MS, day * DAY_MS,
                tokens, CONSUMED_UNIT, contracted, t.cost, INVOICE_ISSUER_NAME, t.list_cost, tokens,
                PRICING_UNIT, PROVIDER_NAME, PUBLISHER_NAME, SERVICE_CATEGORY, SERVICE_NAME, SERVICE_SUBCATEGORY,
                user, model, max_mode, group_of(user, day), t.input_tokens, t.output_tokens, t.cache_write_tokens,
                t.cache_read_tokens, t.token_fee, t.list_cost - contracted, t.requests,
            )

    return Export("focus", FOCUS_COLUMNS, rows(), cost_index=0,
                  metadata={"FocusVersion": FOCUS_VERSION, "DataGenerator": f"billing-reports {__version__}"})


def contracted_differences(usage: OnDemandUsage, rename: Rename | None = None) -> dict[LedgerKey, int]:
    """Per ledger cell, its contracted cost (the events' parts after their discount) less its billed cost,
    where they differ: only an event with ``chargedCents`` beside its parts can make them differ, so
    only the cached months that hold one are read again, an event at a time."""
    if usage.data_dir is None:
        return {}
    months = [month for month in usage.months if usage.facts(month).cached
              and getattr(usage.facts(month).quality, "with_charged", 1) > 0]
    first_day, last_day = usage.range.first_day, usage.range.last_day
    found: dict[LedgerKey, int] = defaultdict(int)
    for _month, event, (key, sums) in iter_kept_event_values(usage.data_dir, months):
        if not first_day <= key[0] <= last_day:
            continue
        formula = formula_cost(event)
        if formula is not None and formula != sums[0]:
            found[rename(key) if rename else key] += formula - sums[0]
    return {key: difference for key, difference in found.items() if difference}


def formula_cost(event: dict) -> int | None:
    """The cost an event's parts make (micro-cents): ``totalCents x (1 - discountPercentOff/100) +
    cursorTokenFee``, as the cost rule computes it; ``None`` where a part is not a number (then Cursor's
    ``chargedCents`` is all there is, and the ledger's cost)."""
    usage = event.get("tokenUsage")
    usage = usage if isinstance(usage, dict) else {}
    total_cents, fee, discount = usage.get("totalCents"), event.get("cursorTokenFee"), usage.get("discountPercentOff")
    fee = 0 if fee is None else fee
    discount = 0 if discount is None else discount
    if not (is_amount(total_cents) and is_amount(fee) and is_amount(discount)):
        return None
    cost = event_cost(total_cents, fee, discount)
    return cost.charged


__all__ = ["BillingAccount", "FOCUS_COLUMNS", "FOCUS_VERSION", "MANDATORY", "billing_period_of", "contracted_differences",
           "focus_export", "formula_cost"]
