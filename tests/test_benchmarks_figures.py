"""The arithmetic behind the benchmark figures and the verdicts printed beside them."""

from __future__ import annotations

import math

import pytest

from benchmarks.build_benchmark import BuildRun, best_of
from benchmarks.figures import (
    format_number,
    format_table,
    marginal_seconds_per_million,
    minimum_requests,
    minimum_wall_seconds,
    pacing_interval,
    parse_size,
    ratio,
    seconds_per_million,
    size_label,
    spread,
    steepening,
)
from benchmarks.report import build_table, build_verdicts


def test_minimum_requests_is_ceil_per_window_and_one_for_an_empty_window():
    assert minimum_requests([1000], 1000) == 1
    assert minimum_requests([1001], 1000) == 2
    assert minimum_requests([48_388, 1_612], 1000) == 49 + 2
    assert minimum_requests([0, 5], 100) == 2
    with pytest.raises(ValueError):
        minimum_requests([5], 0)


def test_pacing_is_the_stricter_of_limit_and_delay():
    assert pacing_interval(20, 3.0) == 3.0
    assert pacing_interval(20, 1.0) == 3.0
    assert pacing_interval(600, 0.25) == 0.25


def test_minimum_wall_time_counts_the_gaps_between_request_starts():
    assert minimum_wall_seconds(1, 3.0) == 0
    assert minimum_wall_seconds(0, 3.0) == 0
    assert minimum_wall_seconds(21, 3.0) == 60.0


def test_rates_and_ratios():
    assert seconds_per_million(2.5, 500_000) == 5.0
    assert math.isnan(seconds_per_million(1.0, 0))
    assert ratio(3.0, 1.5) == 2.0
    assert math.isnan(ratio(1.0, 0))


def test_linear_growth_is_judged_on_marginal_cost_not_on_the_fixed_part():
    # 2 s fixed + 4 s per 1M: linear, although s per 1M falls from 24 to 4.4
    points = [(100_000, 2.4), (1_000_000, 6.0), (5_000_000, 22.0)]
    assert marginal_seconds_per_million(points) == pytest.approx([4.0, 4.0])
    assert marginal_seconds_per_million(list(reversed(points))) == pytest.approx([4.0, 4.0])
    # the last 4M cost 8 s per 1M: superlinear
    assert marginal_seconds_per_million([(1_000_000, 6.0), (5_000_000, 38.0)]) == [8.0]
    assert spread([4.0, 8.0]) == 2.0
    # a fixed per-page cost spread over more events: the marginal cost falls, which is fine
    assert steepening([8.81, 5.13]) < 1.0 and steepening([4.0, 8.0]) == 2.0
    assert math.isnan(spread([]))


def test_sizes_parse_and_print_back():
    assert [parse_size(text) for text in ("100k", "1M", "2.5m", "50000", "5_000")] == [
        100_000, 1_000_000, 2_500_000, 50_000, 5_000]
    assert [size_label(n) for n in (100_000, 1_000_000, 2_500_000, 750)] == ["100k", "1M", "2.5M", "750"]
    for bad in ("", "lots", "0", "1.5"):
        with pytest.raises(ValueError):
            parse_size(bad)


def test_numbers_and_table_are_aligned():
    assert format_number(1234567) == "1,234,567"
    assert format_number(3.14159) == "3.14"
    assert format_number(None) == "-"
    assert format_number(math.nan) == "-"
    table = format_table(["events", "s"], [["100k", "0.50"], ["5M", "25.00"]])
    assert table.splitlines() == [
        "events      s",
        "------  -----",
        "100k     0.50",
        "5M      25.00",
    ]


def _run(events: int, seconds: float, peak_mib: float, *, cost: int = 10, duck_seconds: float = 1.0,
         months: int = 6, again_seconds: float = 1.0) -> BuildRun:
    return BuildRun(
        events=events,
        months=months,
        generate_seconds=0.1,
        cache_bytes=events * 360,
        largest_month_bytes=events * 60,
        expected_requests=events,
        expected_cost=10,
        build={"phases": {"load": seconds / 2, "analyse": seconds / 4, "render": seconds / 4},
               "seconds": seconds, "cpu_seconds": seconds * 0.9, "requests": events, "cost": cost,
               "peak_rss_kib": int(peak_mib * 1024), "import_rss_kib": 40 * 1024},
        duckdb={"seconds": duck_seconds, "requests": events, "cost": 10, "peak_rss_kib": 300 * 1024},
        again={"seconds": again_seconds, "requests": events, "cost": 10, "peak_rss_kib": 100 * 1024},
    )


LINEAR = "time at most linear in events (CPU s per extra 1M never rises over x1.25)"
VERSUS_DUCKDB = "1M events built in at most 0.6 x DuckDB's (day, user, model) aggregation"
PEAK = "1M events in at most 300 MB peak"
AGAIN = "1M events rebuilt from month summaries in at most 2 s"
MONTH_PEAK = "one month of 2M events in at most 400 MB peak"


def test_verdicts_hold_when_the_targets_are_met():
    # CPU is 0.9 x wall: 0.9 + 3.6 s per 1M
    runs = [_run(100_000, 1.4, 80), _run(1_000_000, 5.0, 280, duck_seconds=10.0, again_seconds=1.5),
            _run(5_000_000, 21.0, 900)]
    verdicts = {verdict.target: verdict for verdict in build_verdicts(runs)}
    assert verdicts[VERSUS_DUCKDB].met
    assert verdicts[VERSUS_DUCKDB].measured == "5.00 s vs 10.00 s (x0.50)"
    assert verdicts[PEAK].met and verdicts[PEAK].measured == "280 MB"
    assert verdicts[AGAIN].met and verdicts[AGAIN].measured == "1.50 s"
    assert verdicts[LINEAR].met
    assert verdicts[LINEAR].measured.endswith("100k->1M 3.60, 1M->5M 3.60 (x1.00)")
    assert MONTH_PEAK not in verdicts  # no single-month run
    assert all(verdict.met for verdict in verdicts.values())


def test_verdicts_miss_slow_big_superlinear_or_wrong_runs():
    runs = [_run(100_000, 1.4, 80), _run(1_000_000, 9.0, 1500, cost=11, duck_seconds=10.0, again_seconds=2.5),
            _run(5_000_000, 60.0, 15000)]
    verdicts = {verdict.target: verdict for verdict in build_verdicts(runs)}
    assert not verdicts[VERSUS_DUCKDB].met  # x0.90
    assert not verdicts[PEAK].met
    assert not verdicts[AGAIN].met
    assert not verdicts[LINEAR].met  # 7.6 then 11.5 CPU s per extra 1M
    assert not verdicts["every run adds up to the generated requests and cost"].met
    assert verdicts[PEAK].line().startswith("MISSED")


def test_a_single_big_month_is_judged_on_its_peak_memory():
    [verdict, _] = build_verdicts([_run(2_000_000, 5.0, 390, months=1)])
    assert (verdict.target, verdict.measured, verdict.met) == (MONTH_PEAK, "390 MB", True)
    [verdict, _] = build_verdicts([_run(2_000_000, 5.0, 2174, months=1)])
    assert not verdict.met
    # 1M events in one month is not the 6-month target
    assert [v.target for v in build_verdicts([_run(1_000_000, 5.0, 200, months=1)])] == [
        "every run adds up to the generated requests and cost"]


def test_one_size_gets_no_growth_verdicts():
    targets = [verdict.target for verdict in build_verdicts([_run(100_000, 1.0, 100)])]
    assert targets == ["every run adds up to the generated requests and cost"]


def test_build_table_shows_the_ratio_to_duckdb_and_agreement():
    table = build_table([_run(1_000_000, 4.0, 900, duck_seconds=2.0), _run(100_000, 1.0, 100, cost=9)])
    header, _, first, second = table.splitlines()
    assert header.split()[0] == "events" and header.endswith("sums agree")
    # load 2.0 s and build 4.0 s against DuckDB's 2.0 s
    assert first.split()[0] == "1M" and first.split()[-3:] == ["1.00", "2.00", "yes"]
    assert first.split()[7:11] == ["4.00", "3.60", "4.00", "900"]  # build s, CPU s, s per 1M, peak MB
    assert first.split()[2:4] == ["-", "-"]  # users and files: not reported by this run
    assert second.split()[-1] == "NO"


def test_best_of_keeps_the_fastest_run_and_the_worst_peak():
    runs = [{"seconds": 3.0, "peak_rss_kib": 500, "cost": 1}, {"seconds": 2.5, "peak_rss_kib": 480, "cost": 1},
            {"seconds": 2.9, "peak_rss_kib": 520, "cost": 1}]
    best = best_of(runs)
    assert best["seconds"] == 2.5
    assert best["peak_rss_kib"] == 520
    assert best["repeats"] == 3
    assert runs[1]["peak_rss_kib"] == 480  # the measurements themselves are left alone


def test_the_examples_in_the_docstrings_hold():
    import doctest

    import benchmarks.figures
    import benchmarks.synthetic_cache

    for module in (benchmarks.figures, benchmarks.synthetic_cache):
        failed, attempted = doctest.testmod(module)
        assert attempted > 0 and failed == 0, module.__name__
