"""The DuckDB yardstick aggregates the same on-demand events as the project, to the micro-cent.

DuckDB is a benchmark-only dependency (the ``bench`` extra): without it these tests skip.
"""

from __future__ import annotations

import json
from collections import Counter

import pytest

from benchmarks.build_benchmark import run_build_benchmark
from benchmarks.synthetic_cache import generate_cache
from billing_reports.money import microcents
from billing_reports.months import Month

pytest.importorskip("duckdb", reason="DuckDB is in the bench extra: pip install -e '.[bench]'")

from benchmarks.duckdb_yardstick import run_yardstick  # noqa: E402

MONTHS = [Month(2025, 12), Month(2026, 1)]


def _is_on_demand(event: dict) -> bool:
    return event["kind"] == "Usage-based" and event["isChargeable"] and event["isTokenBasedCall"]


def test_duckdb_sums_match_a_plain_python_sum_of_the_files(tmp_path):
    generated = generate_cache(tmp_path, MONTHS, 3000, users=40, models=6, stray_fraction=0.05, seed=11)
    result = run_yardstick(tmp_path)

    expected_requests: Counter = Counter()
    expected_cost: Counter = Counter()
    user_months: set = set()
    model_months: set = set()
    user_model_days: set = set()
    for month in generated.months:
        payload = json.loads(month.path.read_text(encoding="utf-8"))
        for event in payload["events"]:
            if not _is_on_demand(event):
                continue
            stem = payload["month"]
            expected_requests[stem] += 1
            # The cost rule: chargedCents, else totalCents x (1 - discount) + fee.
            usage = event["tokenUsage"]
            expected_cost[stem] += microcents(event["chargedCents"]) if "chargedCents" in event else microcents(
                usage["totalCents"] * (1 - usage.get("discountPercentOff", 0) / 100) + event.get("cursorTokenFee", 0))
            user_months.add((stem, event.get("userEmail", "(removed user)")))
            model_months.add((stem, event["model"]))
            user_model_days.add((int(event["timestamp"]) // 86_400_000, event.get("userEmail", "(removed user)"),
                                 event["model"]))

    assert {stem: figures.requests for stem, figures in result.months.items()} == dict(expected_requests)
    assert {stem: figures.cost for stem, figures in result.months.items()} == dict(expected_cost)
    assert result.cost == generated.on_demand_cost < generated.on_demand_list_cost
    assert result.requests == generated.on_demand_events < generated.events
    assert result.day_rows == len(user_model_days)
    assert result.user_month_rows == len(user_months)
    assert result.model_month_rows == len(model_months)
    assert ("01-2026", "(removed user)") in user_months
    assert result.seconds > 0


def test_a_tiny_build_benchmark_runs_end_to_end_in_fresh_processes(tmp_path):
    pytest.importorskip("billing_reports.loader", reason="the loader (issue 3) has not landed")
    progress: list[str] = []
    [run] = run_build_benchmark([2000], tmp_path, months=2, users=20, models=4, progress=progress.append)
    assert run.events == 2000 and run.expected_requests == 2000
    assert run.build["requests"] == run.duckdb["requests"] == 2000
    assert run.build["cost"] == run.duckdb["cost"] == run.expected_cost
    # built again from the month summaries the first build left: the very same sums
    assert (run.again["requests"], run.again["cost"]) == (2000, run.expected_cost)
    assert run.agree
    # sampled from /proc while the worker ran: at least one sample saw the interpreter
    assert run.build["peak_rss_kib"] > 10 * 1024 and run.build["import_rss_kib"] > 0
    assert run.phase["load"] > 0
    assert len(progress) == 4  # generate, build, build again, DuckDB
    assert not any(tmp_path.iterdir())  # the size's cache and site are removed afterwards
