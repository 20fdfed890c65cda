"""Exact money.

The API reports cost in fractional cents (``20.18232``). Every amount in this
project is an ``int`` of **micro-cents** (millionths of a cent), so sums never
drift; amounts are rounded only for display, and a table's displayed rows are
apportioned so that they add up to the displayed total to the cent.
"""

from __future__ import annotations

from decimal import ROUND_HALF_UP, Decimal
from typing import Sequence

MICROCENTS_PER_CENT = 1_000_000
MICROCENTS_PER_DOLLAR = 100 * MICROCENTS_PER_CENT


def microcents(cents: float | int) -> int:
    """Convert an API amount in cents (int or float) to exact micro-cents.

    The API sends at most a handful of decimals, so rounding ``cents * 10**6``
    to the nearest integer recovers the decimal value the API meant.
    """
    return round(cents * MICROCENTS_PER_CENT)


def round_to_cents(amount: int) -> int:
    """Round micro-cents to whole cents, halves away from zero."""
    quotient, remainder = divmod(abs(amount), MICROCENTS_PER_CENT)
    if remainder * 2 >= MICROCENTS_PER_CENT:
        quotient += 1
    return quotient if amount >= 0 else -quotient


def apportion_cents(amounts: Sequence[int]) -> list[int]:
    """Round micro-cent amounts to cents so that they sum to the rounded total.

    Largest-remainder method: every amount is floored to cents, then the cents
    still missing from ``round_to_cents(sum(amounts))`` go, one each, to the
    amounts that lost the most to flooring (ties: earlier rows first).
    """
    floors = [amount // MICROCENTS_PER_CENT for amount in amounts]
    missing = round_to_cents(sum(amounts)) - sum(floors)
    by_remainder = sorted(
        range(len(amounts)),
        key=lambda i: (-(amounts[i] - floors[i] * MICROCENTS_PER_CENT), i),
    )
    for i in by_remainder[:missing]:
        floors[i] += 1
    return floors


def cents_to_dollars(cents: int) -> Decimal:
    """Whole cents as an exact Decimal of dollars (for CSV and JSON)."""
    return (Decimal(cents) / 100).quantize(Decimal("0.01"))


def format_cents(cents: int) -> str:
    """Whole cents as ``$1,234.56`` (negative: ``-$1.50``)."""
    sign = "-" if cents < 0 else ""
    dollars, rest = divmod(abs(cents), 100)
    return f"{sign}${dollars:,}.{rest:02d}"


def format_money(amount: int) -> str:
    """Micro-cents as ``$1,234.56``."""
    return format_cents(round_to_cents(amount))


def to_dollars(amount: int) -> Decimal:
    """Micro-cents as exact Decimal dollars (not rounded)."""
    return Decimal(amount) / MICROCENTS_PER_DOLLAR


__all__ = [
    "MICROCENTS_PER_CENT",
    "MICROCENTS_PER_DOLLAR",
    "apportion_cents",
    "cents_to_dollars",
    "format_cents",
    "format_money",
    "microcents",
    "round_to_cents",
    "to_dollars",
]
