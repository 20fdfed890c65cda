"""Period arithmetic. Expected days are written out by hand (calendar in hand), never
recomputed with the module: ``day()`` and ``spans()`` use the standard library only."""

from datetime import date, datetime, timedelta, timezone

import pytest

from billing_reports.months import Month
from billing_reports.periods import (
    GRAINS,
    Period,
    cut_periods,
    cycle_containing,
    cycle_start_day,
    date_of_day,
    day_of_date,
    day_of_ms,
    months_touched,
    parse_day,
)

EPOCH = date(1970, 1, 1)


def day(text: str) -> int:
    return (date.fromisoformat(text) - EPOCH).days


def iso(epoch_day: int) -> str:
    return (EPOCH + timedelta(days=epoch_day)).isoformat()


def ms(*parts: int) -> int:
    *moment, milliseconds = parts
    return int(datetime(*moment, tzinfo=timezone.utc).timestamp()) * 1000 + milliseconds


def spans(periods: list[Period]) -> list[tuple[str, str, str, bool]]:
    """(first day, last day, key, clipped) of each period."""
    return [(iso(p.first_day), iso(p.last_day), p.key, p.clipped) for p in periods]


def cycles(anchor: str, first: str, last: str) -> list[tuple[str, str]]:
    """The whole cycles that meet first..last, as (first day, last day)."""
    periods = cut_periods("cycle", day(first), day(last), cycle_start=day(anchor))
    return [(iso(p.full_first_day), iso(p.full_last_day)) for p in periods]


# --- days ----------------------------------------------------------------------


def test_epoch_days_are_days_since_1970_in_utc():
    assert day_of_date(date(1970, 1, 1)) == 0
    assert day_of_date(date(2026, 1, 1)) == 20454  # 56 years of 365 days and 14 leap days
    assert date_of_day(20454) == date(2026, 1, 1)
    assert date_of_day(-1) == date(1969, 12, 31)
    assert parse_day("2026-01-17") == 20470
    assert parse_day(" 2024-02-29 ") == 19782


def test_an_event_at_00_00_00_000_and_at_23_59_59_999_falls_on_its_own_day():
    assert day_of_ms(1_768_608_000_000) == 20470  # 2026-01-17 00:00:00.000 UTC
    assert day_of_ms(1_768_694_399_999) == 20470  # 2026-01-17 23:59:59.999 UTC
    assert day_of_ms(1_768_694_400_000) == 20471  # 2026-01-18 00:00:00.000 UTC
    assert day_of_ms(1_768_607_999_999) == 20469  # 2026-01-16 23:59:59.999 UTC
    assert day_of_ms(0) == 0 and day_of_ms(-1) == -1


@pytest.mark.parametrize(
    "text, message",
    [
        ("2026-1-17", "expected a day as YYYY-MM-DD (for example 2026-01-17), found '2026-1-17'"),
        ("17/01/2026", "expected a day as YYYY-MM-DD (for example 2026-01-17), found '17/01/2026'"),
        ("", "expected a day as YYYY-MM-DD (for example 2026-01-17), found ''"),
        ("2026-02-29", "expected a day as YYYY-MM-DD, found '2026-02-29', which is not a day of the calendar"),
        ("2026-13-01", "found '2026-13-01', which is not a day of the calendar"),
    ],
)
def test_parse_day_says_what_it_expected_and_what_it_found(text, message):
    with pytest.raises(ValueError) as raised:
        parse_day(text)
    assert message in str(raised.value)


# --- each grain -------------------------------------------------------------------


def test_days_are_one_period_each_and_never_clipped():
    periods = cut_periods("day", day("2025-12-30"), day("2026-01-02"))
    assert spans(periods) == [
        ("2025-12-30", "2025-12-30", "2025-12-30", False),
        ("2025-12-31", "2025-12-31", "2025-12-31", False),
        ("2026-01-01", "2026-01-01", "2026-01-01", False),
        ("2026-01-02", "2026-01-02", "2026-01-02", False),
    ]
    assert [p.label for p in periods[1:3]] == ["31 Dec 2025", "1 Jan 2026"]
    assert [p.short_label for p in periods[1:3]] == ["31 Dec", "1 Jan"]


def test_weeks_run_monday_to_sunday_and_a_mid_week_range_clips_the_first_and_last():
    # Wednesday 7 January 2026 to Tuesday 27 January 2026.
    periods = cut_periods("week", day("2026-01-07"), day("2026-01-27"))
    assert spans(periods) == [
        ("2026-01-07", "2026-01-11", "2026-W02", True),
        ("2026-01-12", "2026-01-18", "2026-W03", False),
        ("2026-01-19", "2026-01-25", "2026-W04", False),
        ("2026-01-26", "2026-01-27", "2026-W05", True),
    ]
    assert [p.label for p in periods] == [
        "Week 2, 2026 (5–11 Jan)",
        "Week 3, 2026 (12–18 Jan)",
        "Week 4, 2026 (19–25 Jan)",
        "Week 5, 2026 (26 Jan – 1 Feb)",
    ]
    assert periods[0].short_label == "W2 2026"
    assert periods[0].covered_label == "7–11 Jan 2026"
    assert periods[-1].covered_label == "26–27 Jan 2026"
    assert (iso(periods[0].full_first_day), iso(periods[-1].full_last_day)) == ("2026-01-05", "2026-02-01")
    assert [p.days for p in periods] == [5, 7, 7, 2]


@pytest.mark.parametrize(
    "text, key, monday, sunday",
    [
        ("2025-12-29", "2026-W01", "2025-12-29", "2026-01-04"),  # 1 Jan 2026 is a Thursday
        ("2026-01-04", "2026-W01", "2025-12-29", "2026-01-04"),
        ("2026-12-28", "2026-W53", "2026-12-28", "2027-01-03"),  # 2026 starts on a Thursday: 53 weeks
        ("2026-12-31", "2026-W53", "2026-12-28", "2027-01-03"),
        ("2027-01-01", "2026-W53", "2026-12-28", "2027-01-03"),  # a Friday: still the last week of 2026
        ("2027-01-03", "2026-W53", "2026-12-28", "2027-01-03"),
        ("2027-01-04", "2027-W01", "2027-01-04", "2027-01-10"),
        ("2024-12-30", "2025-W01", "2024-12-30", "2025-01-05"),  # 1 Jan 2025 is a Wednesday
        ("2021-01-03", "2020-W53", "2020-12-28", "2021-01-03"),  # 2020: leap year starting on a Wednesday
        ("1970-01-01", "1970-W01", "1969-12-29", "1970-01-04"),  # day 0 is a Thursday
    ],
)
def test_iso_weeks_at_the_turn_of_the_year(text, key, monday, sunday):
    (week,) = cut_periods("week", day(text), day(text))
    assert (week.key, iso(week.full_first_day), iso(week.full_last_day)) == (key, monday, sunday)
    assert week.clipped == (monday != sunday)


def test_week_labels_across_the_new_year_name_both_years():
    weeks = cut_periods("week", day("2026-12-30"), day("2027-01-05"))
    assert spans(weeks) == [
        ("2026-12-30", "2027-01-03", "2026-W53", True),
        ("2027-01-04", "2027-01-05", "2027-W01", True),
    ]
    assert weeks[0].label == "Week 53, 2026 (28 Dec 2026 – 3 Jan 2027)"
    assert weeks[1].label == "Week 1, 2027 (4–10 Jan)"
    (first_week_of_2026,) = cut_periods("week", day("2026-01-01"), day("2026-01-01"))
    assert first_week_of_2026.label == "Week 1, 2026 (29 Dec 2025 – 4 Jan 2026)"


def test_months_are_calendar_months_and_february_2024_has_29_days():
    periods = cut_periods("month", day("2024-01-15"), day("2024-03-10"))
    assert spans(periods) == [
        ("2024-01-15", "2024-01-31", "2024-01", True),
        ("2024-02-01", "2024-02-29", "2024-02", False),
        ("2024-03-01", "2024-03-10", "2024-03", True),
    ]
    assert [p.label for p in periods] == ["January 2024", "February 2024", "March 2024"]
    assert [p.short_label for p in periods] == ["Jan 2024", "Feb 2024", "Mar 2024"]
    assert [p.days for p in periods] == [17, 29, 10]
    (february,) = cut_periods("month", day("2026-02-01"), day("2026-02-28"))
    assert (february.days, february.clipped) == (28, False)


def test_a_range_is_one_period():
    (whole,) = cut_periods("range", day("2026-01-05"), day("2026-02-10"))
    assert spans([whole]) == [("2026-01-05", "2026-02-10", "2026-01-05..2026-02-10", False)]
    assert (whole.label, whole.short_label, whole.days) == ("5 Jan – 10 Feb 2026", "5 Jan – 10 Feb 2026", 37)
    (one_day,) = cut_periods("range", day("2026-01-05"), day("2026-01-05"))
    assert (one_day.key, one_day.label) == ("2026-01-05..2026-01-05", "5 Jan 2026")
    (new_year,) = cut_periods("range", day("2025-12-29"), day("2026-01-04"))
    assert new_year.label == "29 Dec 2025 – 4 Jan 2026"


def test_milliseconds_bounds_and_contains():
    (week,) = cut_periods("week", day("2026-01-12"), day("2026-01-18"))
    assert week.start_ms == 1_768_176_000_000  # 2026-01-12 00:00:00.000 UTC
    assert week.end_ms == 1_768_780_800_000  # 2026-01-19 00:00:00.000 UTC, exclusive
    assert week.contains(day("2026-01-12")) and week.contains(day("2026-01-18"))
    assert not week.contains(day("2026-01-11")) and not week.contains(day("2026-01-19"))
    (clipped,) = cut_periods("month", day("2026-01-10"), day("2026-01-20"))
    assert (clipped.start_ms, clipped.end_ms) == (ms(2026, 1, 10, 0), ms(2026, 1, 21, 0))
    assert not clipped.contains(day("2026-01-09")) and not clipped.contains(day("2026-01-21"))


def test_every_grain_covers_the_range_exactly_once_so_totals_are_exact():
    first, last = day("2023-11-20"), day("2026-03-09")
    spend = {d: (d * 7919) % 1000 for d in range(first, last + 1)}  # any amount per day
    for grain in GRAINS:
        periods = cut_periods(grain, first, last, cycle_start=day("2024-01-31"))
        assert periods[0].first_day == first and periods[-1].last_day == last
        for before, after in zip(periods, periods[1:]):
            assert after.first_day == before.last_day + 1, grain
        assert sum(sum(spend[d] for d in range(p.first_day, p.last_day + 1)) for p in periods) == sum(spend.values())
        keys = [p.key for p in periods]
        assert keys == sorted(keys) and len(set(keys)) == len(keys), grain
        assert periods == sorted(periods)


# --- billing cycles --------------------------------------------------------------


def test_cycles_starting_on_the_17th_and_their_boundary_days():
    periods = cut_periods("cycle", day("2026-01-01"), day("2026-03-31"), cycle_start=day("2026-01-17"))
    assert spans(periods) == [
        ("2026-01-01", "2026-01-16", "cycle-2025-12-17", True),
        ("2026-01-17", "2026-02-16", "cycle-2026-01-17", False),
        ("2026-02-17", "2026-03-16", "cycle-2026-02-17", False),
        ("2026-03-17", "2026-03-31", "cycle-2026-03-17", True),
    ]
    assert [p.label for p in periods] == [
        "Cycle 17 Dec 2025 – 16 Jan 2026",
        "Cycle 17 Jan – 16 Feb 2026",
        "Cycle 17 Feb – 16 Mar 2026",
        "Cycle 17 Mar – 16 Apr 2026",
    ]
    assert periods[1].short_label == "17 Jan 2026"
    assert periods[0].covered_label == "1–16 Jan 2026"

    anchor = day("2026-01-17")
    january = cycle_containing(day("2026-02-16"), anchor)  # the last day of the January cycle
    february = cycle_containing(day("2026-02-17"), anchor)  # the first day of the next
    assert (iso(january.first_day), iso(january.last_day)) == ("2026-01-17", "2026-02-16")
    assert (iso(february.first_day), iso(february.last_day)) == ("2026-02-17", "2026-03-16")
    assert cycle_containing(day_of_ms(ms(2026, 2, 16, 23, 59, 59, 999)), anchor) == january
    assert cycle_containing(day_of_ms(ms(2026, 2, 17, 0, 0, 0, 0)), anchor) == february
    assert not january.clipped and january.end_ms == february.start_ms == ms(2026, 2, 17, 0)


def test_anchor_31_starts_on_each_short_months_last_day_and_returns_to_the_31st():
    assert cycles("2026-01-31", "2026-01-01", "2026-06-30") == [
        ("2025-12-31", "2026-01-30"),
        ("2026-01-31", "2026-02-27"),
        ("2026-02-28", "2026-03-30"),
        ("2026-03-31", "2026-04-29"),
        ("2026-04-30", "2026-05-30"),
        ("2026-05-31", "2026-06-29"),
        ("2026-06-30", "2026-07-30"),
    ]
    # A leap year: February's cycle starts on the 29th. The anchor is any 31st, here another year's.
    assert cycles("2025-10-31", "2024-02-01", "2024-03-31") == [
        ("2024-01-31", "2024-02-28"),
        ("2024-02-29", "2024-03-30"),
        ("2024-03-31", "2024-04-29"),
    ]


def test_anchors_29_and_30_in_leap_and_common_years():
    assert cycles("2026-01-29", "2026-02-01", "2026-03-31") == [
        ("2026-01-29", "2026-02-27"),
        ("2026-02-28", "2026-03-28"),
        ("2026-03-29", "2026-04-28"),
    ]
    assert cycles("2026-01-29", "2024-02-01", "2024-03-31") == [
        ("2024-01-29", "2024-02-28"),
        ("2024-02-29", "2024-03-28"),
        ("2024-03-29", "2024-04-28"),
    ]
    assert cycles("2026-04-30", "2026-02-01", "2026-03-31") == [
        ("2026-01-30", "2026-02-27"),
        ("2026-02-28", "2026-03-29"),
        ("2026-03-30", "2026-04-29"),
    ]
    assert cycles("2026-04-30", "2028-02-01", "2028-03-31") == [
        ("2028-01-30", "2028-02-28"),
        ("2028-02-29", "2028-03-29"),
        ("2028-03-30", "2028-04-29"),
    ]


def test_the_anchor_may_be_a_cycle_after_the_range_or_a_cycle_starting_on_the_1st():
    assert cycles("2027-06-17", "2026-01-01", "2026-02-20") == [
        ("2025-12-17", "2026-01-16"),
        ("2026-01-17", "2026-02-16"),
        ("2026-02-17", "2026-03-16"),
    ]
    periods = cut_periods("cycle", day("2026-01-01"), day("2026-02-28"), cycle_start=day("2025-07-01"))
    assert spans(periods) == [
        ("2026-01-01", "2026-01-31", "cycle-2026-01-01", False),
        ("2026-02-01", "2026-02-28", "cycle-2026-02-01", False),
    ]
    assert periods[1].label == "Cycle 1–28 Feb 2026"


@pytest.mark.parametrize(
    "value",
    [
        date(2026, 1, 17),
        "2026-01-17",
        "2026-01-17T00:00:00Z",
        "2026-01-17T00:00:00.000Z",
        "2026-01-17T01:00:00+01:00",  # 00:00 UTC
        datetime(2026, 1, 17, tzinfo=timezone.utc),
        datetime(2026, 1, 17),  # no time zone: UTC
    ],
)
def test_a_cycle_start_is_a_date_or_a_timestamp_at_midnight_utc(value):
    assert cycle_start_day(value) == 20470


def test_the_apis_subscription_cycle_start_in_epoch_ms():
    # POST /teams/spend's example: "subscriptionCycleStart": 1708992000000 is 2024-02-27 00:00 UTC.
    moment = datetime.fromtimestamp(1708992000000 / 1000, tz=timezone.utc)
    assert cycle_start_day(moment) == 19780 == day("2024-02-27")


@pytest.mark.parametrize(
    "value, found",
    [
        ("2026-01-17T08:30:00Z", "'2026-01-17T08:30:00Z'"),
        ("2026-01-17T00:00:00+01:00", "'2026-01-17T00:00:00+01:00'"),  # 23:00 UTC on the 16th
        (datetime(2026, 1, 17, 0, 0, 0, 1000, tzinfo=timezone.utc), "2026-01-17T00:00:00.001000Z"),
    ],
)
def test_a_cycle_start_at_another_time_is_refused_saying_why(value, found):
    with pytest.raises(ValueError) as raised:
        cycle_start_day(value)
    assert str(raised.value) == (
        f"expected a cycle start at 00:00:00 UTC (billing cycles are whole UTC days), found {found}"
    )


@pytest.mark.parametrize("value", ["soon", "17 Jan 2026", "2026-01-17T25:00:00Z", 20470, None])
def test_a_cycle_start_that_is_no_date_is_refused(value):
    with pytest.raises(ValueError) as raised:
        cycle_start_day(value)
    assert str(raised.value) == (
        "expected a cycle start as a date (2026-01-17) or a UTC timestamp at midnight "
        f"(2026-01-17T00:00:00Z), found {value!r}"
    )


# --- months and bad input ---------------------------------------------------------


def test_months_touched_are_the_cache_files_a_range_needs():
    assert months_touched(day("2026-01-31"), day("2026-02-01")) == [Month(2026, 1), Month(2026, 2)]
    assert months_touched(day("2025-12-15"), day("2026-02-10")) == [Month(2025, 12), Month(2026, 1), Month(2026, 2)]
    assert months_touched(day("2026-02-28"), day("2026-02-28")) == [Month(2026, 2)]


def test_bad_ranges_grains_and_missing_cycle_starts_are_one_line_errors():
    with pytest.raises(ValueError, match=r"^the range ends on 2026-01-01 before it starts on 2026-01-02$"):
        cut_periods("day", day("2026-01-02"), day("2026-01-01"))
    with pytest.raises(ValueError, match=r"^the range ends on 2026-01-01 before it starts on 2026-01-02$"):
        months_touched(day("2026-01-02"), day("2026-01-01"))
    with pytest.raises(ValueError) as raised:
        cut_periods("fortnight", 0, 1)
    assert str(raised.value) == "expected a grain, one of day, week, month, cycle, range; found 'fortnight'"
    with pytest.raises(ValueError) as raised:
        cut_periods("cycle", 0, 1)
    assert str(raised.value) == "billing cycles need the day a cycle starts (billing.cycle_start in config.yaml)"
    with pytest.raises(ValueError, match=r"1970-01-06\.\.1970-01-05 must lie, in order, within its full week"):
        Period(5, 4, "week", 0, 6)
    with pytest.raises(ValueError, match="found 'year'"):
        Period(0, 0, "year", 0, 0)
