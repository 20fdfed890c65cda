"""What a usual day spends, robust to the odd one: the exact median of daily amounts and their
median absolute deviation (MAD, unscaled). The spike alert rule sets its threshold from them; the
forecast caps a spike at a limit made of them before it learns a daily level."""

from __future__ import annotations

from fractions import Fraction
from typing import Sequence


def median_and_deviation(amounts: Sequence[int]) -> tuple[Fraction, Fraction]:
    """The median of ``amounts`` (integers: micro-cents a day) and the median of their distances from
    it, both exact (a median of an even count may end in a half).

    >>> median_and_deviation([1, 2, 10]), median_and_deviation([0, 3])
    ((Fraction(2, 1), Fraction(1, 1)), (Fraction(3, 2), Fraction(3, 2)))
    """
    middle_x2 = _twice_median(amounts)  # in integers: twice the median, twice each distance from it
    return Fraction(middle_x2, 2), Fraction(_twice_median([abs(2 * amount - middle_x2) for amount in amounts]), 4)


def _twice_median(amounts: Sequence[int]) -> int:
    """Twice the median of ``amounts`` (an integer, where the median itself may end in .5)."""
    ordered = sorted(amounts)
    middle = len(ordered) // 2
    return 2 * ordered[middle] if len(ordered) % 2 else ordered[middle - 1] + ordered[middle]


__all__ = ["median_and_deviation"]
