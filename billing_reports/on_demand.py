"""The owner's billing rules: which events are on-demand spend, how the others are counted,
and what an on-demand event costs.

Fetching keeps only on-demand events; loading applies the same rule again, so a
hand-edited cache cannot smuggle in included usage. Both use this module, and so
do the tests, the benchmark's generator and the fake API's own checks.
"""

from __future__ import annotations

import math
from typing import Any, NamedTuple

from .money import MICROCENTS_PER_CENT, microcents

#: The only kind that is on-demand spend (with ``isChargeable`` and ``isTokenBasedCall``).
ON_DEMAND_KIND = "Usage-based"
#: ``fetch.left_out`` buckets of a ``Usage-based`` event that is not on-demand spend.
NOT_CHARGEABLE = "Usage-based, not chargeable"
NOT_TOKEN_BASED = "Usage-based, not token-based"
#: The bucket of an event without a usable ``kind``.
NO_KIND = "(no kind)"


def is_on_demand(event: dict[str, Any]) -> bool:
    """On-demand spend: ``kind == "Usage-based"`` and chargeable and token-based."""
    return (
        event.get("kind") == ON_DEMAND_KIND
        and event.get("isChargeable") is True
        and event.get("isTokenBasedCall") is True
    )


def left_out_label(event: dict[str, Any]) -> str:
    """The ``fetch.left_out`` bucket of an event that is not on-demand spend."""
    kind = event.get("kind")
    if kind == ON_DEMAND_KIND:
        return NOT_CHARGEABLE if event.get("isChargeable") is not True else NOT_TOKEN_BASED
    return kind if isinstance(kind, str) and kind else NO_KIND


# --- the cost rule ------------------------------------------------------------------------
#
# An on-demand event's cost is what Cursor bills for it: ``chargedCents`` where the event
# has it; else the same computed from its parts, ``tokenUsage.totalCents x (1 -
# discountPercentOff/100) + cursorTokenFee`` (a missing fee or discount counts 0). Its list
# cost, before any discount, is ``totalCents + cursorTokenFee``. With no discount both equal
# the seed's ``totalCents + cursorTokenFee``.

#: ``chargedCents`` further than this from its parts' formula (micro-cents: 0.01 cent) is a
#: data-quality finding (the event still costs its ``chargedCents``).
CHARGED_TOLERANCE = MICROCENTS_PER_CENT // 100


class EventCost(NamedTuple):
    """One on-demand event's money, in micro-cents."""

    #: What Cursor bills: ``chargedCents``, else the formula (the figure every report shows).
    charged: int
    #: Before any discount: ``totalCents + cursorTokenFee``.
    list: int
    #: The Cursor token fee alone.
    token_fee: int
    #: The formula's figure where the event has ``chargedCents`` too (``None`` without it):
    #: the data-quality page compares the two.
    formula: int | None = None


def event_cost(total_cents: float, token_fee: float = 0, discount_percent: float = 0,
               charged_cents: float | None = None) -> EventCost:
    """The cost rule, from an event's numbers (cents, as the API sends them; each a finite number).

    >>> event_cost(40.167, 1.18, 10, 37.33)
    EventCost(charged=37330000, list=41347000, token_fee=1180000, formula=37330300)
    """
    formula = round((total_cents * (1 - discount_percent / 100) + token_fee) * MICROCENTS_PER_CENT)
    list_cost = round((total_cents + token_fee) * MICROCENTS_PER_CENT)
    fee = round(token_fee * MICROCENTS_PER_CENT)
    if charged_cents is None:
        return EventCost(formula, list_cost, fee)
    return EventCost(round(charged_cents * MICROCENTS_PER_CENT), list_cost, fee, formula)


#: An amount of this many cents or more (10 billion dollars) is not believed: not a number.
AMOUNT_LIMIT_CENTS = 1e12


def is_amount(value: Any) -> bool:
    """A believable amount of cents: a finite int or float (a bool is neither), under
    :data:`AMOUNT_LIMIT_CENTS` either way (an event's parts, its ``chargedCents``, Cursor's spend)."""
    return type(value) in (int, float) and math.isfinite(value) and abs(value) < AMOUNT_LIMIT_CENTS


def amount_microcents(value: Any) -> int | None:
    """``value`` cents as micro-cents, ``None`` where it is not a believable amount (:func:`is_amount`)."""
    return microcents(value) if is_amount(value) else None


def charged_microcents(event: dict[str, Any]) -> int | None:
    """An event's own ``chargedCents`` in micro-cents, ``None`` without a finite number there.

    What a left-out event (included usage, errored requests) carries is kept by day and user, so
    that Cursor's ``overallSpendCents`` can be reconciled with all charged events, not only the
    on-demand ones (``fetch.windows[].left_out_charged``, per UTC hour, user and kind).
    """
    return amount_microcents(event.get("chargedCents"))


def charged_differs(cost: EventCost) -> bool:
    """Whether the event's ``chargedCents`` is further than :data:`CHARGED_TOLERANCE` from its parts."""
    return cost.formula is not None and abs(cost.charged - cost.formula) > CHARGED_TOLERANCE
