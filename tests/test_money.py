import pytest

from billing_reports.money import exact_dollars, format_cents, format_money, microcents, round_to_cents


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
    "amount, text",
    [
        (0, "0.00000000"),
        (1, "0.00000001"),
        (123_456_789, "1.23456789"),
        (-500_000, "-0.00500000"),
        (123_456_789_012_345, "1234567.89012345"),
    ],
)
def test_exact_dollars_carry_every_micro_cent(amount, text):
    assert exact_dollars(amount) == text


def test_each_amount_is_rounded_on_its_own_never_nudged():
    # 0.4 + 0.4 + 0.7 cents: each rounds to 0, 0, 1 cent; their total 1.5 rounds to 2
    assert [round_to_cents(a) for a in (400_000, 400_000, 700_000)] == [0, 0, 1]
    assert round_to_cents(1_500_000) == 2


# --- amounts that are not exact (issue 11: tests that fail where it matters) --------------------


@pytest.mark.parametrize("cents, amount", [(1.005, 1_005_000), (0.57, 570_000), (-0.57, -570_000),
                                           (-1.005, -1_005_000), (20.18232, 20_182_320)])
def test_an_amount_the_float_cannot_hold_exactly_is_rounded_to_the_micro_cent_the_api_meant(cents, amount):
    # 0.57 * 10**6 is 569999.9999999999 as a float: truncating it would lose a micro-cent
    assert microcents(cents) == amount


@pytest.mark.parametrize(
    "amount, cents",
    [(-500_000, -1), (-2_500_000, -3), (2_500_000, 3), (-499_999, 0), (-1, 0), (-999_999, -1),
     (-123_456_789_500_000, -123_456_790)],
)
def test_halves_round_away_from_zero_on_negative_amounts_too_never_to_even(amount, cents):
    assert round_to_cents(amount) == cents


def test_a_negative_amount_is_shown_and_exported_with_its_sign():
    assert format_money(-2_500_000) == "-$0.03"
    assert format_money(-499_999) == "$0.00"
    assert exact_dollars(-2_500_000) == "-0.02500000"
