"""What each kind of token costs, estimated from the ledger: a least-squares fit of list prices.

The ledger keeps no cost per token kind, only each cell's list cost (before discount) and token fee
beside its input, output, cache-write and cache-read tokens. A cell's list cost less its token fee
is what its events' ``tokenUsage.totalCents`` add up to, and each of those is (up to rounding) the
sum over the token kinds of price x tokens. So over the cells of one model (and one max mode) in a
period::

    list cost - token fee  =  p_input x input + p_output x output + p_write x cache_write + p_read x cache_read

and the prices are the least-squares solution of that system: the normal equations ``(XᵀX) p =
Xᵀy``, 4 x 4 at most, summed in exact integers a column of cells at a time (:class:`PriceEvidence`) and
solved exactly, the prices as :class:`fractions.Fraction` (:func:`fit_prices`; floating point only in
the square roots of the checks below, and no numpy).

The prices are only attributed when the fit can be trusted (:class:`PriceFit` says why not):

- a kind no cell used has no price to find (it is left out of the fit, the others still fitted);
- enough cells (``min_cells``, and more cells than kinds fitted);
- identifiable and well-conditioned: the normal matrix is not singular, and each kind's attributed
  cost is known to within ``tolerance`` of the cells' cost (its standard error times its tokens,
  the residuals giving the noise): kinds that always come in the same proportions cannot be told
  apart, however well they fit;
- non-negative: a price below zero is no price list (one whose cost is within the tolerance, the
  fit's noise around a free kind, counts as zero);
- it explains the cost: the residuals' root-sum-square is within ``tolerance`` of the cells' list
  costs' (a model whose prices changed within the period, or that bills something else per
  request, is not described by one price per kind).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from fractions import Fraction
from operator import add, mul, sub
from typing import Sequence

from .money import half_up
from .wording import counted

#: The token kinds, in the order of the ledger's columns and of every price tuple here.
TOKEN_KINDS = ("input", "output", "cache write", "cache read")
#: Tokens in a million: prices are shown per million tokens.
MILLION = 1_000_000


@dataclass(frozen=True)
class PriceEvidence:
    """The sums a least-squares fit needs, in exact integers: the cells, ``XᵀX`` (upper triangle, row
    by row), ``Xᵀy``, ``yᵀy``, ``Σy`` and the tokens of each kind (``X``: the cells' tokens by kind,
    ``y``: their list cost less the token fee)."""

    cells: int = 0
    gram: tuple[int, ...] = (0,) * 10
    moments: tuple[int, ...] = (0,) * 4
    cost_squares: int = 0
    cost: int = 0
    tokens: tuple[int, ...] = (0,) * 4

    @classmethod
    def of_columns(cls, tokens: Sequence[Sequence[int]], cost: Sequence[int]) -> "PriceEvidence":
        """The evidence of some cells: ``tokens``, a column per kind (input, output, cache write, cache
        read), and ``cost``, each cell's list cost less its token fee (micro-cents). Summed a column at
        a time (the products and sums run in C: a month of a big team has hundreds of thousands of cells)."""
        kinds = [column if isinstance(column, (list, tuple)) else list(column) for column in tokens]
        cost = cost if isinstance(cost, (list, tuple)) else list(cost)
        gram = tuple(sum(map(mul, kinds[i], kinds[j])) for i in range(4) for j in range(i, 4))
        return cls(len(cost), gram, tuple(sum(map(mul, column, cost)) for column in kinds),
                   sum(map(mul, cost, cost)), sum(cost), tuple(map(sum, kinds)))

    def __add__(self, other: "PriceEvidence") -> "PriceEvidence":  # type: ignore[override]
        """The evidence of both sets of cells (a period spanning two months)."""
        return PriceEvidence(self.cells + other.cells, tuple(map(add, self.gram, other.gram)),
                             tuple(map(add, self.moments, other.moments)), self.cost_squares + other.cost_squares,
                             self.cost + other.cost, tuple(map(add, self.tokens, other.tokens)))

    def __sub__(self, other: "PriceEvidence") -> "PriceEvidence":
        """The evidence of these cells without ``other``'s (some of them: a cell that two parts of a
        month shared, whose halves' evidence gives way to the merged cell's)."""
        return PriceEvidence(self.cells - other.cells, tuple(map(sub, self.gram, other.gram)),
                             tuple(map(sub, self.moments, other.moments)), self.cost_squares - other.cost_squares,
                             self.cost - other.cost, tuple(map(sub, self.tokens, other.tokens)))

    def matrix(self) -> list[list[int]]:
        """``XᵀX`` whole (4 x 4, symmetric)."""
        g = self.gram
        return [[g[0], g[1], g[2], g[3]], [g[1], g[4], g[5], g[6]], [g[2], g[5], g[7], g[8]], [g[3], g[6], g[8], g[9]]]


@dataclass(frozen=True)
class PriceFit:
    """The per-kind prices of one model (and max mode) in a period, or why they cannot be attributed.

    ``prices``: micro-cents per token of each of :data:`TOKEN_KINDS` (exact), ``None`` for a kind
    not attributed; ``reason``: empty when the fit was trusted, else why not (one phrase);
    ``unexplained``: the residuals' root-sum-square as a share of the list costs' (0.001 = 0.1 %),
    ``None`` when no fit was made; ``cells``: how many cells it rests on; ``absent``: the kinds no cell
    used (no price to find)."""

    prices: tuple[Fraction | None, ...]
    reason: str
    unexplained: float | None
    cells: int
    absent: tuple[str, ...] = ()

    @property
    def attributed(self) -> bool:
        return not self.reason

    def per_million(self) -> tuple[int | None, ...]:
        """The prices in micro-cents per million tokens (rounded half up: a price shown)."""
        return tuple(None if price is None else half_up(price * MILLION) for price in self.prices)


def fit_prices(evidence: PriceEvidence, *, min_cells: int, tolerance: Fraction) -> PriceFit:
    """The least-squares prices of ``evidence`` when they can be trusted (see the module's rules);
    ``tolerance`` is a share (``Fraction(1, 100)``: 1 %)."""
    kinds = [k for k in range(4) if evidence.gram[_diagonal(k)] > 0]
    absent = tuple(TOKEN_KINDS[k] for k in range(4) if k not in kinds)
    nothing = (None,) * 4

    def refused(reason: str, unexplained: float | None = None) -> PriceFit:
        return PriceFit(nothing, reason, unexplained, evidence.cells, absent)

    if not kinds:
        return refused("no tokens")
    needed = max(min_cells, len(kinds) + 1)
    if evidence.cells < needed:
        return refused(f"{counted(evidence.cells, 'cell')}, at least {needed} needed")
    full = evidence.matrix()
    matrix = [[full[i][j] for j in kinds] for i in kinds]
    moments = [evidence.moments[k] for k in kinds]
    solved = _solve(matrix, moments)
    if solved is None:
        return refused("the token kinds always come in the same proportions: their prices cannot be told apart")
    prices, inverse_diagonal = solved
    # at the solution, the residual sum of squares is yᵀy - pᵀXᵀy (exact)
    residual_squares = max(evidence.cost_squares - sum(p * m for p, m in zip(prices, moments)), Fraction(0))
    unexplained = math.sqrt(residual_squares / evidence.cost_squares) if evidence.cost_squares else 0.0
    budget = tolerance * abs(evidence.cost)
    noise = residual_squares / (evidence.cells - len(kinds))
    if unexplained > tolerance:
        return refused(f"one price per kind leaves {unexplained:.1%} of the cost unexplained", unexplained)
    for variance_factor, k in zip(inverse_diagonal, kinds):
        if math.sqrt(noise * variance_factor) * evidence.tokens[k] > budget:
            return refused(f"the {TOKEN_KINDS[k]} price is too uncertain (the kinds move together too closely)",
                           unexplained)
    attributed: list[Fraction | None] = [None] * 4
    for price, k in zip(prices, kinds):
        if price < 0:
            if -price * evidence.tokens[k] > budget:
                return refused(f"the fit gives {TOKEN_KINDS[k]} tokens a negative price", unexplained)
            price = Fraction(0)  # the fit's noise around a free kind
        attributed[k] = price
    return PriceFit(tuple(attributed), "", unexplained, evidence.cells, absent)


def _diagonal(kind: int) -> int:
    """Where ``XᵀX[kind][kind]`` is in :attr:`PriceEvidence.gram`."""
    return (0, 4, 7, 9)[kind]


def _solve(matrix: Sequence[Sequence[int]], vector: Sequence[int]) -> tuple[list[Fraction], list[Fraction]] | None:
    """``x`` with ``matrix @ x == vector``, and the diagonal of ``matrix``'s inverse, as exact
    fractions; ``None`` when ``matrix`` is singular.

    Fraction-free Gauss-Jordan elimination (Bareiss): every entry stays an integer (a minor of the
    augmented matrix) and each division by the previous pivot is exact, so the work is a few dozen
    integer products, where the same elimination over ``Fraction`` values reduces a fraction at
    every step (a hundred times slower with the normal equations' 30-digit sums). At the end each
    row's diagonal entry is the determinant: ``x[i]`` is the row's right-hand side over it.
    """
    size = len(vector)
    rows = [[*row, vector[i], *(int(i == j) for j in range(size))] for i, row in enumerate(matrix)]
    previous = 1
    for column in range(size):
        pivot = next((row for row in range(column, size) if rows[row][column] != 0), None)
        if pivot is None:
            return None
        rows[column], rows[pivot] = rows[pivot], rows[column]
        top = rows[column]
        lead = top[column]
        for row in range(size):
            if row != column:
                factor = rows[row][column]
                rows[row] = [(lead * value - factor * above) // previous for value, above in zip(rows[row], top)]
        previous = lead
    return ([Fraction(rows[i][size], rows[i][i]) for i in range(size)],
            [Fraction(rows[i][size + 1 + i], rows[i][i]) for i in range(size)])


__all__ = ["MILLION", "TOKEN_KINDS", "PriceEvidence", "PriceFit", "fit_prices"]
