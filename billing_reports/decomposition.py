"""Why spend changed between two periods: the change split into people, volume, mix and price.

Pure arithmetic on mappings ``(user, model) -> (requests, cost)`` (cost in micro-cents), the
current ones optionally times a ``scale`` (a period in progress taken at its projection:
``projected / spent so far``). Every part is an ``int`` of micro-cents, and the parts add up to
the change exactly, always.

The scheme (current quantities, so the interaction term goes to price):

- **people**: users in the current period only are *new* (``+`` their current cost); users in
  the previous one only are *gone* (``-`` their previous cost). In a period still in progress
  (``in_progress``) nobody is gone yet: a previous user with no spend so far is a continuing user
  with no requests yet (their absence so far is volume), who may yet spend before it ends.
- Over the users in both (*continuing*): ``C0``, ``R0`` their previous cost and requests, ``c0_m``,
  ``r0_m`` per model, ``p0_m = c0_m / r0_m`` the previous cost per request of model ``m``;
  ``C1``, ``R1``, ``c1_m``, ``r1_m`` the current ones.

  - **volume** ``= C0 x (R1 / R0 - 1)``: more or fewer requests at the previous mix and prices;
  - **mix** ``= sum_m r1_m x p0_m - C0 x R1 / R0``: the current requests, at the previous prices,
    spread over the models as they are now rather than as they were;
  - **price** ``= C1 - sum_m r1_m x p0_m``: the current requests' cost against what they would
    have cost at the previous prices per request (the interaction of more requests with a new
    price is in here).

  A model these users did not use before has no ``p0``: it is taken at its current price
  (``p0 := p1``), so it adds nothing to price. Its requests count in volume like any others (at
  the previous average cost per request ``C0 / R0``), and the rest of its cost, above or below
  that average, is mix: 2 requests of a new model for $8 after 10 for $10 are $2 of volume and $6
  of mix. Without previous requests at all (``R0 = 0``) there is no previous mix or price to
  hold: the whole change is volume.

A model is a model whatever its max mode: max mode makes a request of the same model dearer,
so it shows as **price** (issue 17: "cost per request of the same model changing: longer
contexts, max mode, provider prices"), not as a move to another model.

Rounding: with ``Fraction`` the three parts add up to ``C1 - C0`` exactly. Volume, mix and the
people parts are each rounded to the micro-cent (halves away from zero, as every amount is) and
price is what is left of the change: so price carries their rounding, under one micro-cent for
periods as recorded (under two for a projected one, whose new users' spend is scaled too).
"""

from __future__ import annotations

from dataclasses import dataclass
from fractions import Fraction
from operator import itemgetter
from typing import Container, Iterable, Mapping, Union

Amount = Union[int, Fraction]
#: ``(user, model) -> (requests, cost in micro-cents)`` over one period.
Quantities = Mapping[tuple[str, str], tuple[Amount, Amount]]

def round_half_away(amount: Amount) -> int:
    """``amount`` to the nearest integer, halves away from zero (as :func:`billing_reports.money.round_to_cents`).

    >>> round_half_away(Fraction(5, 2)), round_half_away(Fraction(-5, 2)), round_half_away(Fraction(7, 3))
    (3, -3, 2)
    """
    amount = Fraction(amount)
    whole, rest = divmod(abs(amount.numerator), amount.denominator)
    if 2 * rest >= amount.denominator:
        whole += 1
    return whole if amount >= 0 else -whole


@dataclass(frozen=True)
class Change:
    """Spend in a period against the period before, and the change in parts (micro-cents).

    ``new_users + gone_users + volume + mix + price == current - previous``, exactly.
    """

    previous: int
    current: int
    new_users: int = 0
    gone_users: int = 0
    volume: int = 0
    mix: int = 0
    price: int = 0

    @property
    def total(self) -> int:
        return self.current - self.previous

    @property
    def people(self) -> int:
        return self.new_users + self.gone_users

    def parts(self) -> tuple[int, int, int, int, int]:
        """The parts in the order a waterfall shows them: new users, gone users, volume, mix, price."""
        return self.new_users, self.gone_users, self.volume, self.mix, self.price


@dataclass(frozen=True)
class ModelChange:
    """One model's change over all its users (micro-cents): ``volume`` is the change in its
    requests at its previous cost per request, ``price`` its current requests times the change
    in that cost; ``volume + price == current - previous``. A model has no mix of its own: mix is
    requests moving *between* models, which each model's volume shows from its side."""

    previous: int
    current: int
    previous_requests: Amount
    current_requests: Amount
    volume: int
    price: int

    @property
    def total(self) -> int:
        return self.current - self.previous


def explain_change(previous: Quantities, current: Quantities, scale: Amount = 1, *,
                   in_progress: bool = False, new_user_scales: Mapping[str, Amount] | None = None) -> Change:
    """The change from ``previous`` to ``current`` (every current quantity times ``scale``: a period
    in progress at its projection) split into new and gone users, volume, mix and price (the
    module's scheme); the parts add up to the change exactly. ``in_progress``: the current period
    is not over, so no previous user is gone yet (one without spend so far continues with none).
    ``new_user_scales``: a new user's own scale (their own projection over their spend so far), in
    place of ``scale``, so that a new user's spend reads the same cents here as on their own row.

    Given one user's quantities (:func:`by_user`), it is that user's own split over their models: a
    new user's change is all ``new_users``, a gone user's all ``gone_users``. The users' volumes do not
    add up to the team's: a user's volume holds their requests at *their* previous mix."""
    users_before = set(map(itemgetter(0), previous))
    continuing = users_before if in_progress else users_before.intersection(map(itemgetter(0), current))
    before, gone = _continuing_per_model(previous, continuing)
    now, new = _continuing_per_model(current, continuing)
    previous_total = round_half_away(sum(cost for _, cost in previous.values()))
    scales = new_user_scales or {}
    new_spend = sum((scales.get(user, scale) * cost for user, cost in new), Fraction(0))
    current_total = round_half_away(new_spend + scale * sum(cost for _, cost in now.values()))
    new_users = round_half_away(new_spend)
    gone_users = -round_half_away(sum(cost for _, cost in gone))
    volume, mix = _volume_and_mix(before, {model: (requests * scale, cost * scale) for model, (requests, cost) in now.items()})
    price = current_total - previous_total - new_users - gone_users - volume - mix
    return Change(previous_total, current_total, new_users, gone_users, volume, mix, price)


def _continuing_per_model(quantities: Quantities, continuing: Container[str]) -> tuple[
        dict[str, tuple[Amount, Amount]], list[tuple[str, Amount]]]:
    """The ``continuing`` users' requests and cost per model, and the ``(user, cost)`` of every other
    user's cells: one pass (a team's period has tens of thousands of cells)."""
    requests: dict[str, Amount] = {}
    costs: dict[str, Amount] = {}
    others: list[tuple[str, Amount]] = []
    for (user, model), (count, cost) in quantities.items():
        if user not in continuing:
            others.append((user, cost))
        elif model in requests:
            requests[model] += count
            costs[model] += cost
        else:
            requests[model] = count
            costs[model] = cost
    return {model: (count, costs[model]) for model, count in requests.items()}, others


def _per_model(cells: Iterable[tuple[tuple[str, str], tuple[Amount, Amount]]]) -> dict[str, tuple[Amount, Amount]]:
    found: dict[str, tuple[Amount, Amount]] = {}
    for (_, model), (requests, cost) in cells:
        known_requests, known_cost = found.get(model, (0, 0))
        found[model] = (known_requests + requests, known_cost + cost)
    return found


def _volume_and_mix(before: Mapping[str, tuple[Amount, Amount]],
                    now: Mapping[str, tuple[Amount, Amount]]) -> tuple[int, int]:
    """Volume and mix of the continuing users' per-model quantities, each rounded to the micro-cent."""
    requests_before = sum(requests for requests, _ in before.values())
    cost_before = sum(cost for _, cost in before.values())
    requests_now = sum(requests for requests, _ in now.values())
    cost_now = sum(cost for _, cost in now.values())
    if requests_before == 0:  # nothing to hold the mix and prices of: all of it is volume
        return round_half_away(cost_now - cost_before), 0
    at_previous_mix = Fraction(cost_before) * requests_now / requests_before
    at_previous_prices = Fraction(0)
    for model, (requests, cost) in now.items():
        requests_then, cost_then = before.get(model, (0, 0))
        if requests_then > 0:
            at_previous_prices += Fraction(cost_then) * requests / requests_then
        elif requests > 0:  # new to these users: at its current price (p0 := p1), so none of it is price
            at_previous_prices += cost
    return round_half_away(at_previous_mix - cost_before), round_half_away(at_previous_prices - at_previous_mix)


def by_user(quantities: Quantities) -> dict[str, dict[tuple[str, str], tuple[Amount, Amount]]]:
    """``quantities`` grouped by user."""
    found: dict[str, dict[tuple[str, str], tuple[Amount, Amount]]] = {}
    for key, value in quantities.items():
        found.setdefault(key[0], {})[key] = value
    return found


def model_changes(previous: Quantities, current: Quantities, scale: Amount = 1) -> dict[str, ModelChange]:
    """Each model's change over all its users, as volume and price (:class:`ModelChange`). A model
    new in the period is all volume (its requests at its current price); one gone, all volume too."""
    before, now = _per_model(previous.items()), _per_model(current.items())
    found = {}
    for model in before.keys() | now.keys():
        (requests_then, cost_then), (requests, cost) = before.get(model, (0, 0)), now.get(model, (0, 0))
        requests, cost = requests * scale, cost * scale
        previous_cost, current_cost = round_half_away(cost_then), round_half_away(cost)
        if requests_then > 0:
            volume = round_half_away(Fraction(cost_then) * (requests - requests_then) / requests_then)
        else:
            volume = current_cost if requests > 0 else 0
        found[model] = ModelChange(previous_cost, current_cost, requests_then, requests, volume,
                                   current_cost - previous_cost - volume)
    return found


__all__ = ["Amount", "Change", "ModelChange", "Quantities", "by_user", "explain_change", "model_changes",
           "round_half_away"]
