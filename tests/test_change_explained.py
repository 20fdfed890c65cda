"""Change explained (issue 17): the change in spend split into people, volume, mix and price.

The decompositions are worked out by hand on small fixtures (each part checked exactly, in
micro-cents, and the parts against the change); a property test holds the sum for any input; a
month to date is compared at its projection; the page is drawn by Chromium at a phone's width and
a desktop's; hostile names stay text everywhere.
"""

from __future__ import annotations

import csv
import io
from datetime import datetime, timezone
from fractions import Fraction
from pathlib import Path
import xml.etree.ElementTree as ET

import pytest
from hypothesis import given, settings, strategies as st
from markupsafe import escape

from billing_reports.decomposition import Change, _per_model, _volume_and_mix, explain_change, model_changes, round_half_away
from billing_reports.forecast import period_forecast
from billing_reports.money import format_money
from billing_reports.months import Month
from billing_reports.periods import ReportRange
from billing_reports.sections import Chart, Series
from billing_reports.site import build_site
from billing_reports.site.charts import chart_rows, legend_keys, render_chart, waterfall_spans
from billing_reports.terminal import render_section
from billing_reports.usage import MonthFacts, OnDemandUsage, UsageTotals
from conftest import SITE_NASTY_USER, SITE_PATHLIKE_MODEL, site_day
from billing_reports.builtin_plugins.change_explained import MOVERS, change_explained_section, comparisons, explanation, \
    user_change
from billing_reports.builtin_plugins.top_cost_users import top_cost_users_section

DOLLAR = 100_000_000  # micro-cents
SVG = "{http://www.w3.org/2000/svg}"
ARTIFACTS = Path(__file__).resolve().parent.parent / "test-artifacts"


def parts_add_up(change: Change) -> bool:
    return sum(change.parts()) == change.current - change.previous


# --- the arithmetic, by hand --------------------------------------------------------------------

def test_a_pure_volume_change_is_all_volume():
    # twice the requests of each model at the same prices: $60 -> $120
    previous = {("ann", "gpt-5"): (10, 10 * DOLLAR), ("ann", "opus"): (10, 50 * DOLLAR)}
    current = {("ann", "gpt-5"): (20, 20 * DOLLAR), ("ann", "opus"): (20, 100 * DOLLAR)}
    change = explain_change(previous, current)
    assert change == Change(previous=60 * DOLLAR, current=120 * DOLLAR, volume=60 * DOLLAR)
    assert parts_add_up(change)


def test_a_pure_mix_change_is_all_mix():
    # 20 requests both times, five moving from gpt-5 ($1 each) to opus ($5 each): $60 -> $80
    previous = {("ann", "gpt-5"): (10, 10 * DOLLAR), ("ann", "opus"): (10, 50 * DOLLAR)}
    current = {("ann", "gpt-5"): (5, 5 * DOLLAR), ("ann", "opus"): (15, 75 * DOLLAR)}
    change = explain_change(previous, current)
    assert change == Change(previous=60 * DOLLAR, current=80 * DOLLAR, mix=20 * DOLLAR)
    assert parts_add_up(change)


def test_a_pure_price_change_is_all_price():
    # the same requests, gpt-5's from $1.00 to $1.30 each: $60 -> $63
    previous = {("ann", "gpt-5"): (10, 10 * DOLLAR), ("ann", "opus"): (10, 50 * DOLLAR)}
    current = {("ann", "gpt-5"): (10, 13 * DOLLAR), ("ann", "opus"): (10, 50 * DOLLAR)}
    change = explain_change(previous, current)
    assert change == Change(previous=60 * DOLLAR, current=63 * DOLLAR, price=3 * DOLLAR)
    assert parts_add_up(change)


def test_a_new_user_is_people_and_the_continuing_users_split_apart():
    previous = {("ann", "gpt-5"): (10, 10 * DOLLAR)}
    current = {("ann", "gpt-5"): (10, 10 * DOLLAR), ("bob", "opus"): (2, 7 * DOLLAR)}
    change = explain_change(previous, current)
    assert change == Change(previous=10 * DOLLAR, current=17 * DOLLAR, new_users=7 * DOLLAR)
    assert change.people == 7 * DOLLAR and parts_add_up(change)


def test_a_gone_user_takes_their_previous_spend_away():
    previous = {("ann", "gpt-5"): (10, 10 * DOLLAR), ("bob", "opus"): (3, 4 * DOLLAR)}
    current = {("ann", "gpt-5"): (10, 10 * DOLLAR)}
    change = explain_change(previous, current)
    assert change == Change(previous=14 * DOLLAR, current=10 * DOLLAR, gone_users=-4 * DOLLAR)
    assert parts_add_up(change)


def test_more_requests_at_a_new_price_put_the_interaction_in_price():
    # 10 requests at $1.00 -> 20 at $1.50: volume 10 x $1.00; price 20 x $0.50 (the current requests)
    change = explain_change({("ann", "gpt-5"): (10, 10 * DOLLAR)}, {("ann", "gpt-5"): (20, 30 * DOLLAR)})
    assert (change.volume, change.mix, change.price) == (10 * DOLLAR, 0, 10 * DOLLAR)


def test_a_model_new_to_the_continuing_users_is_volume_at_the_average_and_mix_above_it():
    # ann adds 2 opus requests ($4 each) to her 10 gpt-5 ones ($1 each): R 10 -> 12
    change = explain_change({("ann", "gpt-5"): (10, 10 * DOLLAR)},
                            {("ann", "gpt-5"): (10, 10 * DOLLAR), ("ann", "opus"): (2, 8 * DOLLAR)})
    # volume: $10 x (12/10 - 1) = $2; mix: (10 x $1 + $8) - $10 x 12/10 = $6; price: nothing
    assert (change.volume, change.mix, change.price) == (2 * DOLLAR, 6 * DOLLAR, 0)


def test_the_page_says_how_a_new_models_spend_is_split_as_the_arithmetic_does():
    # 10 gpt-5 requests for $10, then the same and 4 opus requests for $20 (new to ann): of opus's $20,
    # its 4 requests at the previous average $1 are volume ($4), the $16 above that average is mix
    usage = _october_november({(site_day(2026, 10, 3), "ann", "gpt-5", False): _cell(10, 10),
                               (site_day(2026, 11, 3), "ann", "gpt-5", False): _cell(10, 10),
                               (site_day(2026, 11, 4), "ann", "opus", False): _cell(4, 20)})
    [comparison], _ = comparisons(usage)
    assert comparison.change == Change(10 * DOLLAR, 30 * DOLLAR, volume=4 * DOLLAR, mix=16 * DOLLAR)
    words = " ".join(change_explained_section(usage).intro.split())
    assert "its requests count in volume at the previous average cost per request" in words
    assert "the rest of its spend (above or below that average) is mix" in words
    assert "its spend counts as mix" not in words


def test_everything_changing_at_once_is_split_by_hand():
    previous = {("ann", "gpt-5"): (10, 10 * DOLLAR), ("ann", "opus"): (10, 50 * DOLLAR),
                ("bob", "gpt-5"): (4, 4 * DOLLAR), ("cy", "opus"): (1, 5 * DOLLAR)}
    current = {("ann", "gpt-5"): (6, 9 * DOLLAR), ("ann", "opus"): (18, 90 * DOLLAR),
               ("bob", "gpt-5"): (6, 6 * DOLLAR), ("dee", "gpt-5"): (3, 3 * DOLLAR)}
    change = explain_change(previous, current)
    # continuing ann + bob: C0 = $64 over R0 = 24; C1 = $105 over R1 = 30; p0: gpt-5 $1, opus $5
    # volume = 64 x (30/24 - 1) = $16; at previous prices 12 x $1 + 18 x $5 = $102; mix = 102 - 80 = $22
    # price = 105 - 102 = $3; new: dee $3; gone: cy -$5
    assert change == Change(previous=69 * DOLLAR, current=108 * DOLLAR, new_users=3 * DOLLAR,
                            gone_users=-5 * DOLLAR, volume=16 * DOLLAR, mix=22 * DOLLAR, price=3 * DOLLAR)
    assert parts_add_up(change)


def test_price_carries_the_rounding_of_volume_and_mix_and_no_more():
    # 3 requests for 10 micro-cents -> 4 for 20: volume 10/3 rounds to 3, mix 0, price 7 (exactly 20/3)
    change = explain_change({("ann", "gpt-5"): (3, 10)}, {("ann", "gpt-5"): (4, 20)})
    assert (change.volume, change.mix, change.price) == (3, 0, 7)
    assert abs(change.price - (20 - Fraction(4 * 10, 3))) < 1
    assert parts_add_up(change)


def test_rounding_is_half_away_from_zero_as_every_amount():
    assert [round_half_away(Fraction(n, 2)) for n in (-3, -1, 1, 3)] == [-2, -1, 1, 2]
    assert round_half_away(Fraction(-7, 3)) == -2 and round_half_away(5) == 5


def test_nothing_spent_in_either_period_is_no_change():
    assert explain_change({}, {}) == Change(0, 0)
    assert explain_change({}, {("ann", "gpt-5"): (1, DOLLAR)}) == Change(0, DOLLAR, new_users=DOLLAR)


def test_a_model_split_is_volume_at_the_old_price_and_price_on_the_current_requests():
    previous = {("ann", "gpt-5"): (10, 10 * DOLLAR), ("bob", "opus"): (2, 10 * DOLLAR)}
    current = {("ann", "gpt-5"): (8, 12 * DOLLAR), ("ann", "sonnet"): (4, 6 * DOLLAR)}
    models = model_changes(previous, current)
    # gpt-5: (8 - 10) x $1 = -$2 volume; 8 x ($1.50 - $1) = $4 price
    assert (models["gpt-5"].volume, models["gpt-5"].price, models["gpt-5"].total) == (-2 * DOLLAR, 4 * DOLLAR, 2 * DOLLAR)
    assert (models["opus"].volume, models["opus"].price) == (-10 * DOLLAR, 0)      # gone: all volume
    assert (models["sonnet"].volume, models["sonnet"].price) == (6 * DOLLAR, 0)   # new: all volume


_quantities = st.dictionaries(
    st.tuples(st.sampled_from(["ann", "bob", "cy", "<b>x</b>"]), st.sampled_from(["gpt-5", "opus", "sonnet"])),
    st.tuples(st.integers(0, 10_000), st.integers(-10**6, 10**12)),
    max_size=10,
)


@settings(max_examples=300, deadline=None)
@given(previous=_quantities, current=_quantities,
       scale=st.fractions(min_value=Fraction(1, 100), max_value=100, max_denominator=10**6))
def test_the_parts_always_add_up_to_the_change_to_the_micro_cent(previous, current, scale):
    change = explain_change(previous, current, scale)
    assert change.previous == sum(cost for _, cost in previous.values())
    assert change.current == round_half_away(scale * sum(cost for _, cost in current.values()))
    assert all(isinstance(amount, int) for amount in change.parts())
    assert parts_add_up(change)
    for model in model_changes(previous, current, scale).values():
        assert model.volume + model.price == model.total


def _reference_change(previous, current, scale=1, *, in_progress=False, new_user_scales=None) -> Change:
    """explain_change as first written: every part a pass of its own over the cells (the per-model sums,
    volume and mix by the module's own helpers, which the one-pass split did not change)."""
    users_before = {user for user, _ in previous}
    continuing = users_before if in_progress else {user for user, _ in current if user in users_before}
    previous_total = round_half_away(sum(cost for _, cost in previous.values()))
    scales = new_user_scales or {}
    new_spend = sum((scales.get(user, scale) * cost for (user, _), (_, cost) in current.items() if user not in continuing),
                    Fraction(0))
    current_total = round_half_away(new_spend + scale * sum(cost for (user, _), (_, cost) in current.items()
                                                            if user in continuing))
    new_users = round_half_away(new_spend)
    gone_users = -round_half_away(sum(cost for (user, _), (_, cost) in previous.items() if user not in continuing))
    before = _per_model((key, value) for key, value in previous.items() if key[0] in continuing)
    now = _per_model((key, value) for key, value in current.items() if key[0] in continuing)
    volume, mix = _volume_and_mix(before, {model: (requests * scale, cost * scale) for model, (requests, cost) in now.items()})
    price = current_total - previous_total - new_users - gone_users - volume - mix
    return Change(previous_total, current_total, new_users, gone_users, volume, mix, price)


@settings(max_examples=300, deadline=None)
@given(previous=_quantities, current=_quantities,
       scale=st.fractions(min_value=Fraction(1, 100), max_value=100, max_denominator=10**6),
       in_progress=st.booleans(),
       own=st.dictionaries(st.sampled_from(["ann", "bob", "cy", "<b>x</b>"]),
                           st.fractions(min_value=Fraction(1, 10), max_value=10, max_denominator=1000), max_size=2))
def test_each_part_is_what_a_pass_per_part_over_the_cells_gives(previous, current, scale, in_progress, own):
    # the one-pass split of the cells into the continuing users' models and the others' cells, against
    # the first way, a pass per part
    arguments = dict(in_progress=in_progress, new_user_scales=own or None)
    assert explain_change(previous, current, scale, **arguments) == _reference_change(previous, current, scale, **arguments)
    assert explain_change(previous, current) == _reference_change(previous, current)


# --- the section on a ledger --------------------------------------------------------------------

def _usage(ledger: dict, facts: dict[Month, MonthFacts]) -> OnDemandUsage:
    return OnDemandUsage(months=sorted(facts), ledger=ledger, month_facts=facts)


def _october_november(ledger: dict) -> OnDemandUsage:
    """``ledger`` over October and November 2026, both fetched whole."""
    return _usage(ledger, {month: _complete(month) for month in (Month(2026, 10), Month(2026, 11))})


def _cell(requests: int, dollars: int) -> UsageTotals:
    return UsageTotals(cost=dollars * DOLLAR, requests=requests, list_cost=dollars * DOLLAR)


def _complete(month: Month) -> MonthFacts:
    return MonthFacts(month, cached=True, complete=True, fetched_at=datetime(2026, 12, 5, tzinfo=timezone.utc))


def test_complete_months_are_compared_as_recorded():
    oct_, nov = Month(2026, 10), Month(2026, 11)
    usage = _usage({(site_day(2026, 10, 3), "ann", "gpt-5", False): _cell(10, 10),
                    (site_day(2026, 10, 9), "ann", "gpt-5", True): _cell(10, 30),
                    (site_day(2026, 11, 4), "ann", "gpt-5", False): _cell(30, 50)},
                   {oct_: _complete(oct_), nov: _complete(nov)})
    [comparison], notes = comparisons(usage)
    # max mode is the same model: ann's 20 requests at $2 -> 30 at $1.67: volume $20, price $0 - $10
    assert comparison.change == Change(40 * DOLLAR, 50 * DOLLAR, volume=20 * DOLLAR, price=-10 * DOLLAR)
    assert not comparison.projected and notes == []
    section = change_explained_section(usage)
    assert section.figures[0].value == 10 * DOLLAR
    assert [c.label for c in section.table("users").columns][3] == "Spend"
    assert [c.label for c in section.table("models").columns][2:6] == ["Spend", "Change", "Requests before", "Requests"]
    assert section.figures[0].note == ("Spend rose $10.00 (+25.0%) from October 2026 to November 2026: "
                                       "mostly more requests (+$20.00), against a lower cost per request (-$10.00).")


def test_a_month_to_date_is_compared_at_its_projection_and_says_so():
    oct_, nov = Month(2026, 10), Month(2026, 11)
    ledger = {(site_day(2026, 10, day), "ann", "gpt-5", False): _cell(1, 1) for day in range(1, 11)}
    ledger |= {(site_day(2026, 11, day), "ann", "gpt-5", False): _cell(1, 1) for day in range(2, 7)}
    usage = _usage(ledger, {
        oct_: _complete(oct_),
        nov: MonthFacts(nov, cached=True, complete=False, fetched_at=datetime(2026, 11, 15, 12, tzinfo=timezone.utc)),
    })
    november = usage.range.periods_of("month")[1]
    projected = period_forecast(usage, november).projected
    assert projected > 5 * DOLLAR  # (more than spent so far: the rest of the month is to come)
    [comparison], _ = comparisons(usage)
    assert comparison.scale == Fraction(projected, 5 * DOLLAR)
    # $10 over 10 requests -> 5 requests at $1 scaled to the projection: the same price, more or fewer
    # requests: the whole change is volume, projected - $10
    assert comparison.change == Change(10 * DOLLAR, projected, volume=projected - 10 * DOLLAR)
    section = change_explained_section(usage)
    title = f"November 2026 to date, projected to {format_money(projected)}, against October 2026"
    assert section.charts[0].title == title
    assert section.table("parts").title.startswith(title)
    assert section.figures[0].label == "Change, November 2026 (projected)"
    assert section.figures[0].note.startswith(title + ": spend is projected to")
    assert section.table("periods").rows[0][2] == "projected"
    # the movers' spend and requests are projections, not what was spent so far: their labels say so
    assert [c.label for c in section.table("users").columns][3] == "Spend (projected)"
    assert [c.label for c in section.table("models").columns][2:6] == [
        "Spend (projected)", "Change", "Requests before", "Requests (projected)"]


def _in_progress(month: Month, fetched: datetime) -> MonthFacts:
    return MonthFacts(month, cached=True, complete=False, fetched_at=fetched)


def test_a_user_with_no_spend_yet_in_a_month_in_progress_has_not_left():
    # October whole: ann and bob 10 requests for $10 each. November to date (fetched 6 Nov): ann 5 for $5, bob
    # nothing yet. At the projection P (scale P / $5) ann's requests are 5 x P/$5 at $1 each: over the continuing
    # ann and bob (C0 = $20 over R0 = 20), volume = $20 x (5 P/$5 / 20 - 1) = P - $20, no mix, no price; bob is
    # not gone (he left nobody knows yet): gone users $0
    oct_, nov = Month(2026, 10), Month(2026, 11)
    ledger = {(site_day(2026, 10, 5), user, "gpt-5", False): _cell(10, 10) for user in ("ann", "bob")}
    ledger |= {(site_day(2026, 11, day), "ann", "gpt-5", False): _cell(1, 1) for day in range(2, 7)}
    usage = _usage(ledger, {oct_: _complete(oct_), nov: _in_progress(nov, datetime(2026, 11, 6, 12, tzinfo=timezone.utc))})
    november = usage.range.periods_of("month")[1]
    projected = period_forecast(usage, november).projected
    [comparison], _ = comparisons(usage)
    assert comparison.change == Change(20 * DOLLAR, projected, volume=projected - 20 * DOLLAR)
    assert "left" not in explanation(comparison)
    section = change_explained_section(usage)
    gone = next(row for row in section.table("parts").rows if row[0] == "Gone users")
    assert gone[1] == 0 and gone[3].startswith("none while the period is in progress")
    users = {row[0]: row for row in section.table("users").rows}
    assert users["bob"][1] == "no spend yet" and users["bob"][5] is None  # continuing: no "new or gone" part
    # bob's own projection (his October days' rate carried on) at his previous mix and prices: all volume
    bob = period_forecast(usage, november, usage.user_cost_by_day("bob")).projected
    assert users["bob"][2:] == [10 * DOLLAR, bob, bob - 10 * DOLLAR, None, bob - 10 * DOLLAR, 0, 0]
    # a whole month after it still calls such a user gone
    whole = _october_november(ledger)
    [after], _ = comparisons(whole)
    assert after.change.gone_users == -10 * DOLLAR


def test_a_users_projected_change_reads_the_same_cents_as_on_top_cost_users():
    # ann spends every day of November so far, bob only on its first two days: each is projected on their own
    # days (as the Top cost users trend does), not at the team's scale
    oct_, nov = Month(2026, 10), Month(2026, 11)
    ledger = {(site_day(2026, 10, day), user, "gpt-5", False): _cell(2, 2)
              for day in range(1, 32) for user in ("ann", "bob")}
    ledger |= {(site_day(2026, 11, day), "ann", "gpt-5", False): _cell(3, 3) for day in range(2, 10)}
    ledger |= {(site_day(2026, 11, day), "bob", "opus", False): _cell(1, 7) for day in (2, 3)}
    usage = _usage(ledger, {oct_: _complete(oct_), nov: _in_progress(nov, datetime(2026, 11, 10, 1, tzinfo=timezone.utc))})
    november = usage.range.periods_of("month")[1]
    section = change_explained_section(usage)
    movers = {row[0]: row for row in section.table("users").rows}
    trends = {row[1]: row[9] for row in top_cost_users_section(usage, 10).table("ranking").rows}
    for user in ("ann", "bob"):
        own = period_forecast(usage, november, usage.user_cost_by_day(user)).projected
        assert movers[user][3] == own and movers[user][4] == own - 62 * DOLLAR == trends[user]
    # bob's own split: 62 gpt-5 requests for $62 -> 2 opus for $14 so far, scaled to his projection B:
    # volume = $62 x (2 B/$14 / 62 - 1) = B/7 - $62; mix = 2 B/$14 x $7 (opus at its own price) - B/7 = 6 B/7
    bob = period_forecast(usage, november, usage.user_cost_by_day("bob")).projected
    assert movers["bob"][6:] == [round_half_away(Fraction(bob, 7)) - 62 * DOLLAR,
                                 round_half_away(Fraction(6 * bob, 7)), movers["bob"][8]]
    assert abs(movers["bob"][8]) <= 1  # no price: a model new to him is at its own price (rounding only)


def test_a_new_users_projected_spend_reads_the_same_cents_in_the_parts_and_on_their_row():
    # ann was there in October and spends every day of November so far; cy is new and spends on two days
    # only: cy's part is cy's own projection C (the cents of cy's row), ann's what is left of the team's
    # projection T, so the parts still add up to T - October's $62
    oct_, nov = Month(2026, 10), Month(2026, 11)
    ledger = {(site_day(2026, 10, day), "ann", "gpt-5", False): _cell(2, 2) for day in range(1, 32)}
    ledger |= {(site_day(2026, 11, day), "ann", "gpt-5", False): _cell(3, 3) for day in range(2, 10)}
    ledger |= {(site_day(2026, 11, day), "cy", "opus", False): _cell(1, 7) for day in (2, 3)}
    usage = _usage(ledger, {oct_: _complete(oct_), nov: _in_progress(nov, datetime(2026, 11, 10, 1, tzinfo=timezone.utc))})
    november = usage.range.periods_of("month")[1]
    team = period_forecast(usage, november).projected
    cy = period_forecast(usage, november, usage.user_cost_by_day("cy")).projected
    assert cy != round_half_away(Fraction(team, 24 + 14) * 14)  # (cy's own projection is not the team's scale)
    [comparison], _ = comparisons(usage)
    change = comparison.change
    assert change.new_users == cy and change.gone_users == 0
    assert change.current == team and change.total == team - 62 * DOLLAR
    assert change.new_users + change.volume + change.mix + change.price == change.total
    movers = {row[0]: row for row in change_explained_section(usage).table("users").rows}
    assert movers["cy"][4] == cy  # the same cents on cy's own row


_MOVER_NAMES = [f"user{n:02d}@x.test" for n in range(14)] + ["<b>z</b>@x.test"]
_mover_cells = st.dictionaries(
    st.tuples(st.sampled_from(_MOVER_NAMES), st.sampled_from(["gpt-5", "opus"]), st.sampled_from([False, True]),
              st.sampled_from([(10, 3), (10, 20), (11, 2), (11, 5)])),
    st.tuples(st.integers(0, 5), st.integers(-3, 40)), max_size=40)


@settings(max_examples=60, deadline=None)
@given(cells=_mover_cells, in_progress=st.booleans())
def test_the_movers_are_every_users_split_ranked_by_its_total(cells, in_progress):
    # the section ranks every user by the change of their spend (at their own projection in a month in
    # progress) and splits only the movers: the same rows as splitting every user and ranking the splits
    oct_, nov = Month(2026, 10), Month(2026, 11)
    ledger = {(site_day(2026, month, day), user, model, max_mode): UsageTotals(cost=dollars * DOLLAR, requests=requests)
              for (user, model, max_mode, (month, day)), (requests, dollars) in cells.items()}
    november = _in_progress(nov, datetime(2026, 11, 6, 12, tzinfo=timezone.utc)) if in_progress else _complete(nov)
    usage = _usage(ledger, {oct_: _complete(oct_), nov: november})
    found, _ = comparisons(usage)
    if not found:
        return
    comparison = found[-1]
    users = {user for user, _ in comparison.previous} | {user for user, _ in comparison.current}

    def own(quantities, user):
        return {key: value for key, value in quantities.items() if key[0] == user}

    splits = {user: user_change(comparison, usage, user, own(comparison.previous, user), own(comparison.current, user))
              for user in users}
    ranked = sorted(users, key=lambda user: (-abs(splits[user].total), user))[:MOVERS]
    rows = change_explained_section(usage).table("users").rows
    assert [row[0] for row in rows] == ranked
    for row in rows:
        split = splits[row[0]]
        assert row[2:5] == [split.previous, split.current, split.total]
        assert row[5] in (None, split.people) and row[6:] in ([None] * 3, [split.volume, split.mix, split.price])


def test_a_month_with_nothing_spent_yet_is_not_compared_and_the_page_says_why():
    oct_, nov = Month(2026, 10), Month(2026, 11)
    usage = _usage({(site_day(2026, 10, 3), "ann", "gpt-5", False): _cell(1, 1)}, {
        oct_: _complete(oct_),
        nov: MonthFacts(nov, cached=True, complete=False, fetched_at=datetime(2026, 11, 1, 6, tzinfo=timezone.utc)),
    })
    found, notes = comparisons(usage)
    assert found == [] and notes == ["November 2026 is not compared yet: nothing spent in it so far to project from."]
    section = change_explained_section(usage)
    assert notes[0] in section.intro and section.charts == []
    # with nothing compared, the card says why (the terminal shows cards, not the intro)
    assert [(f.label, f.value, f.note) for f in section.figures] == [("Change", "not compared", notes[0])]


def test_the_first_month_and_a_month_after_one_not_fetched_have_no_row():
    sep, oct_, nov = Month(2026, 9), Month(2026, 10), Month(2026, 11)
    usage = _usage({(site_day(2026, 9, 3), "ann", "gpt-5", False): _cell(1, 1),
                    (site_day(2026, 11, 3), "ann", "gpt-5", False): _cell(1, 2)},
                   {sep: _complete(sep), oct_: MonthFacts(oct_), nov: _complete(nov)})
    assert comparisons(usage) == ([], [])


def test_the_waterfall_table_and_text_say_the_same_parts():
    oct_, nov = Month(2026, 10), Month(2026, 11)
    usage = _usage({(site_day(2026, 10, 3), "ann", "gpt-5", False): _cell(10, 10),
                    (site_day(2026, 10, 3), "bob", "opus", False): _cell(1, 4),
                    (site_day(2026, 11, 3), "ann", "gpt-5", False): _cell(10, 13),
                    (site_day(2026, 11, 3), "cy", "opus", False): _cell(2, 9)},
                   {oct_: _complete(oct_), nov: _complete(nov)})
    section = change_explained_section(usage)
    chart = section.charts[0]
    assert chart.kind == "waterfall"
    assert chart.labels == ["October 2026", "New users", "Gone users", "Volume", "Mix", "Price", "November 2026"]
    assert list(chart.series[0].values) == [14 * DOLLAR, 9 * DOLLAR, -4 * DOLLAR, 0, 0, 3 * DOLLAR, 22 * DOLLAR]
    parts = section.table("parts")
    assert [row[1] for row in parts.rows] == list(chart.series[0].values[1:-1])
    # new users +$9 and gone users -$4 pull against each other: shares (112.5%, -50%) are left out, and why
    # (and no empty "Share of the change" column is kept for them)
    assert [column.key for column in parts.columns] == ["part", "amount", "meaning"]
    assert parts.total[:2] == ["Change", 8 * DOLLAR] and len(parts.total) == 3
    assert [len(row) for row in parts.rows] == [3] * 5
    assert parts.description.startswith("No shares: parts pull against each other")
    users = {row[0]: row for row in section.table("users").rows}
    assert users["cy"][1:6] == ["new", 0, 9 * DOLLAR, 9 * DOLLAR, 9 * DOLLAR]
    assert users["bob"][1:6] == ["gone", 4 * DOLLAR, 0, -4 * DOLLAR, -4 * DOLLAR]
    assert users["ann"][1] == "continuing" and users["ann"][6:] == [0, 0, 3 * DOLLAR]
    text = render_section(section, tables=section.text_view.tables)
    assert "Spend rose $8.00 (+57.1%) from October 2026 to November 2026: mostly new users (+$9.00)" in text
    assert "Gone users  -$4.00" in text


def test_the_shares_of_parts_that_all_move_with_the_change():
    # new user cy +$9 and ann's price +$3: a change of +$12, 75% and 25% of it
    usage = _october_november({(site_day(2026, 10, 3), "ann", "gpt-5", False): _cell(10, 10),
                               (site_day(2026, 11, 3), "ann", "gpt-5", False): _cell(10, 13),
                               (site_day(2026, 11, 3), "cy", "opus", False): _cell(2, 9)})
    parts = change_explained_section(usage).table("parts")
    assert [row[2] for row in parts.rows] == [75.0, 0.0, 0.0, 0.0, 25.0] and parts.total[2] == 100.0
    assert parts.description.startswith("Each part as a share of the whole change.")


def test_parts_rounded_one_by_one_say_so_where_their_cents_miss_the_change():
    # ann 1,000 requests for $1.000 -> 1,006 for $1.006 (the same price): volume $0.006; new bob $0.006. The change
    # $0.012 shows as +$0.01, its parts as +$0.01 and +$0.01: the page must not say they add up as shown
    usage = _october_november({
        (site_day(2026, 10, 3), "ann", "gpt-5", False): UsageTotals(cost=DOLLAR, requests=1000),
        (site_day(2026, 11, 3), "ann", "gpt-5", False): UsageTotals(cost=100_600_000, requests=1006),
        (site_day(2026, 11, 3), "bob", "opus", False): UsageTotals(cost=600_000, requests=1)})
    section = change_explained_section(usage)
    assert section.charts[0].series[0].values[1:-1] == [600_000, 0, 600_000, 0, 0]
    assert "rounded to the cent on its own" in section.charts[0].description
    parts = section.table("parts")
    assert parts.rounded_separately() and "micro-cent" not in parts.description
    assert "rounded to the cent on its own" in parts.description
    # parts whose cents do add up: the waterfall says nothing of rounding
    usage = _october_november({(site_day(2026, 10, 3), "ann", "gpt-5", False): _cell(10, 10),
                               (site_day(2026, 11, 3), "ann", "gpt-5", False): _cell(20, 20)})
    assert "rounded" not in change_explained_section(usage).charts[0].description


@pytest.mark.parametrize(("first", "last", "note"), [
    ((2026, 10, 1), (2026, 11, 15), "November 2026 is not compared: the range covers only 1\u201315 Nov 2026 of it, "
                                    "and a month cut short is not compared with a whole one."),
    ((2026, 9, 15), (2026, 10, 31), "October 2026 is not compared: the range covers only 15\u201330 Sep 2026 of "
                                    "September 2026 before it, and a month cut short is not compared with a whole one."),
])
def test_a_month_the_range_cuts_is_not_compared_and_the_report_says_why(first, last, note):
    sep, oct_, nov = Month(2026, 9), Month(2026, 10), Month(2026, 11)
    ledger = {(site_day(2026, 9, 20), "ann", "gpt-5", False): _cell(5, 5),
              (site_day(2026, 10, 3), "ann", "gpt-5", False): _cell(10, 10),
              (site_day(2026, 11, 3), "ann", "gpt-5", False): _cell(20, 20)}
    usage = OnDemandUsage(months=[sep, oct_, nov], ledger=ledger, month_facts={m: _complete(m) for m in (sep, oct_, nov)},
                          report_range=ReportRange(site_day(*first), site_day(*last)))
    assert comparisons(usage) == ([], [note])
    section = change_explained_section(usage)
    assert note in section.intro
    assert note in " ".join(render_section(section).split())  # the terminal: not a bare "(no rows)"


def test_the_latest_periods_waterfall_parts_and_movers_come_before_the_earlier_waterfalls(site_settings):
    sep, oct_, nov = Month(2026, 9), Month(2026, 10), Month(2026, 11)
    usage = _usage({(site_day(2026, 9, 3), "ann", "gpt-5", False): _cell(5, 5),
                    (site_day(2026, 10, 3), "ann", "gpt-5", False): _cell(10, 10),
                    (site_day(2026, 11, 3), "ann", "gpt-5", False): _cell(20, 20)},
                   {month: _complete(month) for month in (sep, oct_, nov)})
    section = change_explained_section(usage)
    page = (build_site(site_settings, usage, [section]).directory / "change-explained.html").read_text(encoding="utf-8")
    order = [page.index(f'id="{anchor}"') for anchor in ("chart-waterfall-2026-11", "table-parts", "table-users",
                                                          "table-models", "table-periods", "chart-waterfall-2026-10")]
    assert order == sorted(order)


def test_the_downloads_carry_unrounded_amounts():
    oct_, nov = Month(2026, 10), Month(2026, 11)
    odd = 123_456_789  # $1.23456789
    usage = _usage({(site_day(2026, 10, 3), "ann", "gpt-5", False): UsageTotals(cost=odd, requests=3),
                    (site_day(2026, 11, 3), "ann", "gpt-5", False): UsageTotals(cost=2 * odd, requests=3)},
                   {oct_: _complete(oct_), nov: _complete(nov)})
    rows = list(csv.DictReader(io.StringIO(change_explained_section(usage).table("parts").to_csv())))
    assert rows[-1]["Amount (USD)"] == "1.23456789" and rows[4]["Amount (USD)"] == "1.23456789"


# --- the waterfall chart --------------------------------------------------------------------------

def test_a_waterfall_floats_each_step_from_the_running_total_and_signs_it():
    chart = Chart("w", "W", "d", "waterfall", ["Before", "Up", "Down", "After"],
                  [Series("Spend", [10 * DOLLAR, 5 * DOLLAR, -3 * DOLLAR, 12 * DOLLAR])])
    assert waterfall_spans(chart.series[0].values) == [(0, 10 * DOLLAR, "s0"), (10 * DOLLAR, 15 * DOLLAR, "s1"),
                                                       (15 * DOLLAR, 12 * DOLLAR, "s2"), (0, 12 * DOLLAR, "s0")]
    svg = ET.fromstring(str(render_chart(chart, id_prefix="w")))
    assert svg.get("aria-hidden") == "true"
    bars = [rect for rect in svg.iter(f"{SVG}rect")]
    x = [float(bar.get("x")) for bar in bars]
    width = [float(bar.get("width")) for bar in bars]
    assert x[0] == x[3] == 0 and x[1] == pytest.approx(x[0] + width[0])       # "Up" starts where "Before" ends
    assert width[1] == pytest.approx(width[0] / 2, abs=0.15) and width[3] == pytest.approx(width[0] * 1.2, abs=0.15)
    assert x[2] + width[2] == pytest.approx(x[1] + width[1], abs=0.15)                # "Down" ends where "Up" ended
    assert [bar.get("class") for bar in bars] == ["bar s0", "bar s1", "bar s2", "bar s0"]
    assert chart_rows(chart)[1] == [["Before", "$10.00"], ["Up", "+$5.00"], ["Down", "-$3.00"], ["After", "$12.00"]]
    assert [t.text for t in svg.iter(f"{SVG}text") if t.get("class") == "bar-value"] == \
        ["$10.00", "+$5.00", "-$3.00", "$12.00"]
    assert legend_keys(chart) == [("s0", "total"), ("s1", "rise"), ("s2", "fall")]


def test_a_waterfall_keeps_its_values_inside_the_drawing_at_the_phone_size():
    chart = Chart("w", "W", "d", "waterfall", ["Before", "Up", "After"],
                  [Series("Spend", [1_234_567 * DOLLAR, 100_000 * DOLLAR, 1_334_567 * DOLLAR])])
    svg = ET.fromstring(str(render_chart(chart, id_prefix="w")))
    for text in svg.iter(f"{SVG}text"):
        if text.get("class") == "bar-value":  # drawn from its x at 22 units a character's 0.6 em
            assert float(text.get("x")) + len(text.text) * 0.6 * 22 <= 640


def test_a_waterfall_draws_no_bar_for_a_step_of_nothing():
    chart = Chart("w", "W", "d", "waterfall", ["Before", "Up", "Nothing", "After"],
                  [Series("Spend", [10 * DOLLAR, 5 * DOLLAR, 0, 15 * DOLLAR])])
    assert waterfall_spans(chart.series[0].values)[2] == (15 * DOLLAR, 15 * DOLLAR, "")
    svg = ET.fromstring(str(render_chart(chart, id_prefix="w")))
    rows = list(svg.iter(f"{SVG}g"))
    assert [len(list(row.iter(f"{SVG}rect"))) for row in rows] == [1, 1, 0, 1]
    assert [t.text for t in rows[2].iter(f"{SVG}text") if t.get("class") == "bar-value"] == ["$0.00"]


def test_a_waterfalls_labels_are_escaped():
    chart = Chart("w", "W", "d", "waterfall", ["<b>x</b>&", "Up", "After"], [Series("s", [DOLLAR, DOLLAR, 2 * DOLLAR])])
    markup = str(render_chart(chart, id_prefix="w"))
    assert "<b>x</b>" not in markup and "&lt;b&gt;x&lt;/b&gt;&amp;" in markup


# --- hostile names on the site, in downloads and in the terminal -----------------------------------

HOSTILE_USER = "<script>alert('u')</script>\x1b[31m@x.com"
FORMULA_MODEL = "=HYPERLINK(\"http://evil\",\"x\")"


@pytest.fixture
def hostile_site(site_settings):
    oct_, nov = Month(2026, 10), Month(2026, 11)
    usage = _usage({(site_day(2026, 10, 3), HOSTILE_USER, FORMULA_MODEL, False): _cell(2, 4),
                    (site_day(2026, 10, 3), SITE_NASTY_USER, "gpt-5", False): _cell(2, 4),
                    (site_day(2026, 11, 3), HOSTILE_USER, SITE_PATHLIKE_MODEL, False): _cell(3, 9)},
                   {oct_: _complete(oct_), nov: _complete(nov)})
    section = change_explained_section(usage)
    return section, build_site(site_settings, usage, [section])


def test_hostile_names_are_text_everywhere(hostile_site):
    section, site = hostile_site
    page = (site.directory / "change-explained.html").read_text(encoding="utf-8")
    assert "<script>alert" not in page and "<b>bob</b>" not in page
    assert str(escape(SITE_NASTY_USER)) in page
    assert 'class="chart chart-waterfall"' in page
    # movers link to the user and model pages
    assert 'href="users/' in page and 'href="models/' in page
    models_csv = (site.directory / "data" / "change-explained--models.csv").read_text(encoding="utf-8")
    assert "'=HYPERLINK" in models_csv  # a spreadsheet shows it as text
    text = render_section(section)
    assert "\x1b" not in text and HOSTILE_USER.split("\x1b")[0] in text


# --- the page in the real browser -------------------------------------------------------------------

#: Each SVG text's drawn size and box, the SVG's box, and whether the page scrolls sideways.
MEASURE = """svg => {
  const scale = svg.getScreenCTM().a;
  const box = svg.getBoundingClientRect();
  return {
    sizes: [...svg.querySelectorAll('text')].map(t => parseFloat(getComputedStyle(t).fontSize) * scale),
    outside: [...svg.querySelectorAll('text')].filter(t => {
      const r = t.getBoundingClientRect();
      return r.left < box.left - 0.5 || r.right > box.right + 0.5;
    }).map(t => t.textContent),
    labels: [...svg.querySelectorAll('text.axis-label')].map(t => t.textContent),
    sideways: document.documentElement.scrollWidth > window.innerWidth,
  };
}"""


@pytest.mark.browser
@pytest.mark.parametrize("width", [390, 1280])
def test_the_waterfall_is_readable_on_a_phone_and_a_desktop(chromium_browser, demo_site, width):
    page = chromium_browser.new_page(viewport={"width": width, "height": 900})
    try:
        page.goto((demo_site / "change-explained.html").as_uri())
        charts = page.locator("svg.chart-waterfall")
        assert charts.count() >= 1
        found = charts.first.evaluate(MEASURE)
        caption = page.locator(".chart-block figcaption").first.inner_text()
        ARTIFACTS.mkdir(exist_ok=True)
        page.locator(".chart-block").first.screenshot(path=str(ARTIFACTS / f"waterfall-{width}.png"))
    finally:
        page.close()
    assert found["labels"][1:6] == ["New users", "Gone users", "Volume", "Mix", "Price"]
    assert min(found["sizes"]) >= 11, found["sizes"]
    assert found["outside"] == []
    assert not found["sideways"]
    assert " against " in caption and ("rose" in caption or "fell" in caption or "projected" in caption)


def test_billing_cycles_that_cut_months_are_compared_whole_and_only_whole():
    sep, oct_, nov = Month(2026, 9), Month(2026, 10), Month(2026, 11)
    ledger = {
        (site_day(2026, 9, 20), "ann", "gpt-5", False): _cell(4, 4),    # cycle 17 Sep - 16 Oct
        (site_day(2026, 10, 10), "ann", "gpt-5", True): _cell(4, 8),    # the same cycle, max mode
        (site_day(2026, 10, 20), "ann", "gpt-5", False): _cell(6, 6),   # cycle 17 Oct - 16 Nov
        (site_day(2026, 11, 10), "ann", "gpt-5", True): _cell(6, 12),
        (site_day(2026, 11, 20), "ann", "gpt-5", False): _cell(50, 50), # after: a clipped cycle
    }
    usage = OnDemandUsage(months=[sep, oct_, nov], ledger=ledger,
                          month_facts={m: _complete(m) for m in (sep, oct_, nov)},
                          report_range=ReportRange.of_months([sep, oct_, nov], "cycle", site_day(2026, 9, 17)))
    cycles = usage.range.periods_of("cycle")
    assert usage.period_requests_and_costs(cycles[2]) == {("ann", "gpt-5"): (12, 18 * DOLLAR)}
    [comparison], _ = comparisons(usage)
    assert (comparison.before, comparison.period) == (cycles[1], cycles[2])
    # 8 requests for $12 -> 12 for $18: the same cost per request, so all volume
    assert comparison.change == Change(12 * DOLLAR, 18 * DOLLAR, volume=6 * DOLLAR)
    section = change_explained_section(usage)
    assert section.table("periods").columns[0].label == "Billing cycle"


@pytest.mark.parametrize(("current", "sentence"), [
    ((20, 10), "Spend did not change from October 2026 to November 2026: more requests (+$10.00) balanced by "
               "a lower cost per request (-$10.00)."),
    ((10, 15), "Spend rose $5.00 (+50.0%) from October 2026 to November 2026: all from a higher cost per request "
               "(+$5.00)."),
    ((10, 10), "Spend did not change from October 2026 to November 2026."),
])
def test_the_sentence_names_the_parts_that_moved(current, sentence):
    oct_, nov = Month(2026, 10), Month(2026, 11)
    usage = _usage({(site_day(2026, 10, 3), "ann", "gpt-5", False): _cell(10, 10),
                    (site_day(2026, 11, 3), "ann", "gpt-5", False): _cell(*current)},
                   {oct_: _complete(oct_), nov: _complete(nov)})
    [comparison], _ = comparisons(usage)
    assert explanation(comparison) == sentence
