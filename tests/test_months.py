from datetime import datetime, timezone

import pytest

from billing_reports.months import DAY_MS, Month, months_in_range


def ms(*parts):
    return int(datetime(*parts, tzinfo=timezone.utc).timestamp() * 1000)


def test_a_31_day_month_needs_two_windows_that_touch_without_overlap():
    windows = Month(2026, 1).windows()
    assert [(w.start_ms, w.end_ms) for w in windows] == [
        (ms(2026, 1, 1), ms(2026, 1, 31) - 1),
        (ms(2026, 1, 31), ms(2026, 2, 1) - 1),
    ]


@pytest.mark.parametrize("year, month", [(2026, 2), (2024, 2), (2026, 4), (2026, 12), (2026, 1)])
def test_windows_cover_the_month_exactly_and_respect_30_days(year, month):
    month_ = Month(year, month)
    windows = month_.windows()
    assert windows[0].start_ms == month_.start_ms
    assert windows[-1].end_ms == month_.end_ms - 1
    for before, after in zip(windows, windows[1:]):
        assert after.start_ms == before.end_ms + 1
    assert all(w.end_ms - w.start_ms < 30 * DAY_MS for w in windows)


def test_boundary_instants_fall_in_exactly_one_window():
    windows = Month(2026, 3).windows() + Month(2026, 4).windows()
    for instant in (ms(2026, 4, 1), ms(2026, 4, 1) - 1, ms(2026, 3, 31), ms(2026, 3, 31) - 1):
        assert sum(w.start_ms <= instant <= w.end_ms for w in windows) == 1


def test_months_back_two_in_february_means_january_and_february():
    assert months_in_range(Month(2026, 2), 2) == [Month(2026, 1), Month(2026, 2)]
    assert months_in_range(Month(2026, 1), 3) == [Month(2025, 11), Month(2025, 12), Month(2026, 1)]


def test_names_and_parsing_round_trip():
    month = Month(2026, 1)
    assert (month.key, month.cache_stem, month.label) == ("2026-01", "01-2026", "January 2026")
    assert Month.parse("2026-01") == Month.from_cache_stem("01-2026") == month
    assert Month.of_ms(ms(2026, 1, 31, 23, 59, 59) + 999) == month
    with pytest.raises(ValueError):
        Month.parse("2026-13")
    with pytest.raises(ValueError):
        Month.from_cache_stem("2026-01")
