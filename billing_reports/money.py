"""Exact money.

The API reports cost in fractional cents (``20.18232``). Every amount in this
project is an ``int`` of **micro-cents** (millionths of a cent), so sums never
drift. One figure, one value: an amount is shown as its exact value rounded half
up to the cent (:func:`format_money`), the same wherever it appears (a price per request, too
small for whole cents, to a hundredth of a cent: :func:`format_unit_price`); no row is
ever nudged to make a column add up. Downloads carry the exact amount
(:func:`exact_dollars`), so a spreadsheet's SUM lands on the shown total.
"""

from __future__ import annotations

import math
from decimal import Decimal
from fractions import Fraction

MICROCENTS_PER_CENT = 1_000_000
MICROCENTS_PER_DOLLAR = 100 * MICROCENTS_PER_CENT


def microcents(cents: float | int) -> int:
    """Convert an API amount in cents (int or float) to exact micro-cents.

    The API sends at most a handful of decimals, so rounding ``cents * 10**6``
    to the nearest integer recovers the decimal value the API meant.
    """
    return round(cents * MICROCENTS_PER_CENT)


def half_up(value: int | Fraction) -> int:
    """An exact amount (a fraction of micro-cents, of tokens...) to a whole number, halves up.

    >>> half_up(Fraction(5, 2)), half_up(Fraction(-5, 2)), half_up(Fraction(7, 3))
    (3, -2, 2)
    """
    return math.floor(value + Fraction(1, 2))


def round_to_cents(amount: int) -> int:
    """Round micro-cents to whole cents, halves away from zero."""
    quotient, remainder = divmod(abs(amount), MICROCENTS_PER_CENT)
    if remainder * 2 >= MICROCENTS_PER_CENT:
        quotient += 1
    return quotient if amount >= 0 else -quotient


def format_cents(cents: int) -> str:
    """Whole cents as ``$1,234.56`` (negative: ``-$1.50``)."""
    sign = "-" if cents < 0 else ""
    dollars, rest = divmod(abs(cents), 100)
    return f"{sign}${dollars:,}.{rest:02d}"


def format_money(amount: int) -> str:
    """Micro-cents as ``$1,234.56``."""
    return format_cents(round_to_cents(amount))


#: Decimals of a dollar a price per request is shown with: hundredths of a cent (``$0.0734``). At whole
#: cents most requests cost "$0.07"; at this precision two users' averages are told apart.
UNIT_PRICE_DECIMALS = 4
_MICROCENTS_PER_UNIT_PRICE_STEP = MICROCENTS_PER_DOLLAR // 10**UNIT_PRICE_DECIMALS


def format_unit_price(amount: int) -> str:
    """Micro-cents per request (or per any unit) as dollars to :data:`UNIT_PRICE_DECIMALS` decimals,
    rounded half away from zero: ``$0.0734`` (negative: ``-$0.0012``).

    >>> format_unit_price(7_345_000), format_unit_price(7_344_999), format_unit_price(123_456_789_000)
    ('$0.0735', '$0.0734', '$1,234.5679')
    """
    steps, remainder = divmod(abs(amount), _MICROCENTS_PER_UNIT_PRICE_STEP)
    if remainder * 2 >= _MICROCENTS_PER_UNIT_PRICE_STEP:
        steps += 1
    dollars, rest = divmod(steps, 10**UNIT_PRICE_DECIMALS)
    return f"{'-' if amount < 0 and steps else ''}${dollars:,}.{rest:0{UNIT_PRICE_DECIMALS}d}"


def exact_dollars(amount: int) -> str:
    """Micro-cents as exact dollars with all 8 decimals (``123456789`` -> ``1.23456789``):
    the unrounded amount a CSV or JSON download carries."""
    dollars, rest = divmod(abs(amount), MICROCENTS_PER_DOLLAR)
    return f"{'-' if amount < 0 else ''}{dollars}.{rest:08d}"


def to_dollars(amount: int) -> Decimal:
    """Micro-cents as exact Decimal dollars (not rounded)."""
    return Decimal(amount) / MICROCENTS_PER_DOLLAR


__all__ = [
    "MICROCENTS_PER_CENT",
    "MICROCENTS_PER_DOLLAR",
    "exact_dollars",
    "format_cents",
    "format_money",
    "format_unit_price",
    "microcents",
    "round_to_cents",
    "to_dollars",
    "UNIT_PRICE_DECIMALS",
]
