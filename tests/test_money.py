import pytest

from billing_reports.money import apportion_cents, format_cents, format_money, microcents, round_to_cents


def test_fractional_cents_sum_exactly_where_floats_drift():
    amounts = [0.1] * 10 + [20.18232, 1.18]
    assert sum([0.1] * 10) != 1.0  # the float drift this module exists to avoid
    assert sum(microcents(a) for a in amounts) == 22_362_320


@pytest.mark.parametrize(
    "amount, cents", [(1_499_999, 1), (1_500_000, 2), (-1_500_000, -2), (-1_499_999, -1), (0, 0)]
)
def test_rounding_is_half_away_from_zero(amount, cents):
    assert round_to_cents(amount) == cents


def test_dollars_are_shown_with_thousands_separators():
    assert format_cents(123456) == "$1,234.56"
    assert format_cents(-150) == "-$1.50"
    assert format_money(123_456_789_012) == "$1,234.57"


@pytest.mark.parametrize(
    "amounts",
    [
        [333_333, 333_333, 333_334],
        [1_005_000] * 7,
        [2_600_000, -1_500_000, 4_400_000],
        [123_456_789, 987_654_321, 5],
        [],
    ],
)
def test_apportioned_rows_add_up_to_the_rounded_total(amounts):
    cents = apportion_cents(amounts)
    assert sum(cents) == round_to_cents(sum(amounts))
    # no row moves by a cent or more from its exact value
    assert all(abs(c * 1_000_000 - a) < 1_000_000 for c, a in zip(cents, amounts))


def test_apportioning_gives_the_missing_cent_to_the_largest_remainder():
    # 0.4 + 0.4 + 0.7 = 1.5 -> 2 cents; floors are 0, 0, 0; remainders 0.7 > 0.4 = 0.4 (earlier first)
    assert apportion_cents([400_000, 400_000, 700_000]) == [1, 0, 1]
