"""The new-expensive-model rule: a user's first spend on an expensive model, found in the checked period."""

from hypothesis import given, settings, strategies as st

from billing_reports.builtin_plugins.new_expensive_model_alert import first_uses
from billing_reports.months import Month
from billing_reports.periods import cut_periods, parse_day
from billing_reports.usage import OnDemandUsage, UsageTotals


def _cell(cost: int) -> UsageTotals:
    return UsageTotals(cost=cost, requests=1, input_tokens=0, output_tokens=0, cache_write_tokens=0,
                       cache_read_tokens=0, list_cost=cost)


def test_only_first_uses_in_the_checked_period_are_new_with_their_spend_there():
    d = parse_day
    ledger = {
        (d("2026-01-20"), "bob@example.com", "opus", False): _cell(5),        # bob: opus in January already
        (d("2026-02-03"), "bob@example.com", "opus", True): _cell(7),
        (d("2026-02-10"), "ann@example.com", "opus", False): _cell(11),       # ann: first opus on 10 Feb
        (d("2026-02-11"), "ann@example.com", "opus", True): _cell(13),
        (d("2026-02-11"), "ann@example.com", "sonnet", False): _cell(17),     # not an expensive model
        (d("2026-01-05"), "cy@example.com", "sonnet", False): _cell(19),
        (d("2026-02-28"), "cy@example.com", "o3", False): _cell(23),          # cy: first o3 on 28 Feb
    }
    usage = OnDemandUsage(months=[Month(2026, 1), Month(2026, 2)], ledger=ledger)
    february = cut_periods("month", d("2026-01-01"), d("2026-02-28"))[-1]
    found = first_uses(usage, ["opus", "o3"], february)
    assert found == {("ann@example.com", "opus"): (d("2026-02-10"), 24), ("cy@example.com", "o3"): (d("2026-02-28"), 23)}


def _first_uses_cell_by_cell(usage: OnDemandUsage, models: list[str], period) -> dict:
    """first_uses as first written: every cell of the ledger visited, the chosen models' kept."""
    first, spent = {}, {}
    for day, user, model, cost in usage.cell_costs():
        if model in models:
            first[(user, model)] = min(first.get((user, model), day), day)
            if period.contains(day):
                spent[(user, model)] = spent.get((user, model), 0) + cost
    return {pair: (day, spent.get(pair, 0)) for pair, day in first.items() if period.contains(day)}


_DAYS = [parse_day(f"2026-0{month}-{day:02d}") for month in (1, 2, 3) for day in (1, 9, 17, 28)]


@settings(max_examples=150, deadline=None)
@given(ledger=st.dictionaries(
    st.tuples(st.sampled_from(_DAYS), st.sampled_from(["ann@x.test", "<b>bob</b>@x.test", "(removed user)"]),
              st.sampled_from(["opus", "o3", "sonnet", "auto"]), st.booleans()),
    st.builds(_cell, st.integers(-3, 30)), max_size=30),
    models=st.lists(st.sampled_from(["opus", "o3", "sonnet", "gone-model"]), max_size=3, unique=True))
def test_the_chosen_models_cells_picked_column_wise_are_every_cell_visited(ledger, models):
    # periods of a month, a week, a day and a billing cycle that cuts two months
    usage = OnDemandUsage(months=[Month(2026, 1), Month(2026, 2), Month(2026, 3)], ledger=ledger)
    last = parse_day("2026-03-31")
    periods = [*cut_periods("month", _DAYS[0], last), *cut_periods("week", _DAYS[0], last)[::3],
               *cut_periods("day", _DAYS[0], last)[::9],
               *cut_periods("cycle", _DAYS[0], last, cycle_start=parse_day("2026-01-17"))]
    for period in periods:
        assert first_uses(usage, models, period) == _first_uses_cell_by_cell(usage, models, period)


def test_the_fixtures_first_uses_picked_column_wise_are_every_cell_visited(analysis_usage):
    models = analysis_usage.model_names
    for period in analysis_usage.periods():
        for chosen in (models[:1], models[-2:], models):
            assert first_uses(analysis_usage, chosen, period) == _first_uses_cell_by_cell(analysis_usage, chosen, period)
