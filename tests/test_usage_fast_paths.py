"""The usage's faster sums give what the plain ones gave: the same totals, in the same order.

Each accessor below has a plain way to compute it (every ``(user, model)`` of every month summed
straight, every user-day ranked, every cell of a period visited), kept here as the reference, and
a faster way in :mod:`billing_reports.usage`. Both are fed the same ledgers: random ones (negative
and zero costs, ties, users and models that come and go between months), the analysis fixture's
and the site fixture's hostile names.
"""

from __future__ import annotations

import heapq

import pytest
from hypothesis import given, settings, strategies as st

from billing_reports.months import DAY_MS, Month
from billing_reports.periods import Period
from billing_reports.usage import OnDemandUsage, UsageTotals, UserDay, month_days

MONTHS = [Month(2026, 1), Month(2026, 2), Month(2026, 3)]
DAYS = [day for month in MONTHS for day in month_days(month)]


def _ordered(value):
    """``value`` with every dict turned into its list of items: two of them compare equal only when
    their keys come in the same order too."""
    if isinstance(value, dict):
        return [(key, _ordered(item)) for key, item in value.items()]
    return value


def reference_index(usage: OnDemandUsage) -> dict[str, dict]:
    """The per-month, per-user and per-model tables as first written: every ``(user, model)`` total of
    every month gathered per pair, summed per pair, then per user and per model."""
    def total(rows: list[UsageTotals]) -> UsageTotals:
        return UsageTotals(*map(sum, zip(*rows))) if rows else UsageTotals()

    tables: dict[str, dict] = {name: {} for name in (
        "users", "models", "user_models", "model_users", "month_total", "month_users", "month_models",
        "month_user_models", "month_model_users")}
    pair_rows: dict[tuple[str, str], list[UsageTotals]] = {}
    for month, cells in usage._cells.items():
        user_models: dict[str, dict[str, UsageTotals]] = {}
        model_users: dict[str, dict[str, UsageTotals]] = {}
        for (user, model), totals in cells.items():
            pair_rows.setdefault((user, model), []).append(totals)
            user_models.setdefault(user, {})[model] = totals
            model_users.setdefault(model, {})[user] = totals
        tables["month_user_models"][month] = user_models
        tables["month_model_users"][month] = model_users
        tables["month_users"][month] = {user: total(list(m.values())) for user, m in user_models.items()}
        tables["month_models"][month] = {model: total(list(u.values())) for model, u in model_users.items()}
        tables["month_total"][month] = total(list(tables["month_models"][month].values()))
    for (user, model), rows in pair_rows.items():
        tables["user_models"].setdefault(user, {})[model] = total(rows)
        tables["model_users"].setdefault(model, {})[user] = total(rows)
    tables["users"] = {user: total(list(m.values())) for user, m in tables["user_models"].items()}
    tables["models"] = {model: total(list(u.values())) for model, u in tables["model_users"].items()}
    return tables


def reference_biggest_user_days(usage: OnDemandUsage, limit: int) -> list[UserDay]:
    """Every user-day ranked, the ``limit`` costliest kept, each with its top model from the ledger."""
    costs: dict[tuple[str, int], list[UsageTotals]] = {}
    for (day, user, _model, _max_mode), totals in usage.ledger.items():
        costs.setdefault((user, day), []).append(totals)
    sums = {key: UsageTotals(*map(sum, zip(*rows))) for key, rows in costs.items()}
    chosen = heapq.nsmallest(limit, sums, key=lambda key: (-sums[key].cost, key[1], key[0]))
    days = []
    for user, day in chosen:
        by_model: dict[str, int] = {}
        for (cell_day, cell_user, model, _), totals in usage.ledger.items():
            if (cell_user, cell_day) == (user, day):
                by_model[model] = by_model.get(model, 0) + totals.cost
        days.append(UserDay(user, day, sums[(user, day)], min(by_model.items(), key=lambda mc: (-mc[1], mc[0]))[0]))
    return days


def reference_requests_and_costs(usage: OnDemandUsage, period: Period) -> dict[tuple[str, str], tuple[int, int]]:
    """Every cell of the period's days visited, month by month in the ledger's order."""
    found: dict[tuple[str, str], tuple[int, int]] = {}
    cells = sorted(usage.ledger.items(), key=lambda cell: Month.of_ms(cell[0][0] * DAY_MS))  # (stable)
    for (day, user, model, _), totals in cells:
        if period.first_day <= day <= period.last_day:
            requests, cost = found.get((user, model), (0, 0))
            found[(user, model)] = (requests + totals.requests, cost + totals.cost)
    return found


_names = st.sampled_from(["ann@x.test", "bob@x.test", "<b>cy</b>@x.test", "(removed user)", "dee@x.test"])
_models = st.sampled_from(["gpt-5", "opus", "o3", "../../etc", "auto"])
_cell = st.builds(UsageTotals, cost=st.integers(-5, 40), requests=st.integers(0, 4),
                  input_tokens=st.integers(0, 9), list_cost=st.integers(0, 60))
_ledgers = st.dictionaries(st.tuples(st.sampled_from(DAYS), _names, _models, st.booleans()), _cell, max_size=60)


def _usage(ledger: dict) -> OnDemandUsage:
    return OnDemandUsage(months=MONTHS, ledger=ledger)


@settings(max_examples=200, deadline=None)
@given(ledger=_ledgers)
def test_the_index_is_the_plain_sums_in_the_same_order(ledger):
    usage = _usage(ledger)
    for name, table in reference_index(usage).items():
        assert _ordered(getattr(usage.breakdown, name)) == _ordered(table), name


@settings(max_examples=100, deadline=None)
@given(ledger=_ledgers)
def test_a_users_model_totals_are_their_ranked_models_unranked(ledger):
    usage = _usage(ledger)
    for user in usage.user_names:
        for month in [None, *MONTHS]:
            assert usage.user_model_totals(user, month) == {r.name: r.totals for r in usage.user_models(user, month)}


@settings(max_examples=200, deadline=None)
@given(ledger=_ledgers, limit=st.integers(0, 12))
def test_the_biggest_user_days_are_every_user_day_ranked(ledger, limit):
    assert _usage(ledger).biggest_user_days(limit) == reference_biggest_user_days(_usage(ledger), limit)


@settings(max_examples=200, deadline=None)
@given(ledger=_ledgers, first=st.sampled_from(DAYS), length=st.integers(0, 70))
def test_a_periods_requests_and_costs_are_its_cells_summed_in_order(ledger, first, length):
    last = min(first + length, DAYS[-1])
    period = Period(first_day=first, last_day=last, grain="day", full_first_day=first, full_last_day=last)
    usage = _usage(ledger)
    assert _ordered(usage.period_requests_and_costs(period)) == _ordered(reference_requests_and_costs(usage, period))


@pytest.mark.parametrize("fixture", ["analysis_usage", "site_usage"])
def test_the_fast_sums_of_the_fixtures_are_the_plain_ones(fixture, request):
    usage = request.getfixturevalue(fixture)
    for name, table in reference_index(usage).items():
        assert _ordered(getattr(usage.breakdown, name)) == _ordered(table), name
    for limit in (0, 1, 3, 10, 1000):
        assert usage.biggest_user_days(limit) == reference_biggest_user_days(usage, limit)
    for period in usage.periods():
        assert usage.period_requests_and_costs(period) == reference_requests_and_costs(usage, period)
