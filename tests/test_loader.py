"""The loader against the hand-computed cache (tests/fixtures/analysis/cache) and odd files."""

from __future__ import annotations

import json
import os
from datetime import datetime, timezone
from pathlib import Path

import pytest

from billing_reports.errors import CacheError
from billing_reports.loader import load_usage
from billing_reports.months import DAY_MS, Month
from billing_reports.usage import REMOVED_USER, UNKNOWN_MODEL, UsageTotals

ANALYSIS_CACHE = Path(__file__).parent / "fixtures" / "analysis" / "cache"

NOV, DEC, JAN, FEB, MAR = Month(2025, 11), Month(2025, 12), Month(2026, 1), Month(2026, 2), Month(2026, 3)


def test_months_in_range_include_the_one_without_a_file(analysis_usage):
    assert analysis_usage.months == [NOV, DEC, JAN, FEB, MAR]
    assert analysis_usage.missing_months == [NOV]
    assert analysis_usage.incomplete_months == [MAR]
    assert analysis_usage.period_label == "November 2025 – March 2026"
    assert analysis_usage.facts(MAR).fetched_at == datetime(2026, 3, 11, tzinfo=timezone.utc)
    assert analysis_usage.facts(JAN).complete is True
    assert analysis_usage.facts(JAN).fetch["page_size"] == 1000


def test_every_cell_of_january_to_the_micro_cent(analysis_usage):
    january = {(user, model): t for (month, user, model), t in analysis_usage.totals.items() if month == JAN}
    assert january == {
        # 100.5 + 10.25 fee; the first millisecond of January
        ("a@example.com", "opus"): UsageTotals(110_750_000, 1, 10, 20, 30, 40, 110_750_000, 10_250_000),
        # no cursorTokenFee: it counts 0
        ("a@example.com", "sonnet"): UsageTotals(20_000_000, 1, 1, 2, 3, 4, 20_000_000, 0),
        # the last millisecond of January
        ("b@example.com", "opus"): UsageTotals(55_125_000, 1, 5, 5, 5, 5, 55_125_000, 5_000_000),
        ("b@example.com", "sonnet"): UsageTotals(20_500_000, 1, 1, 1, 1, 1, 20_500_000, 500_000),
        (REMOVED_USER, "sonnet"): UsageTotals(30_333_330, 1, 2, 2, 2, 2, 30_333_330, 0),
        # 40 + 1.1, and a zero-cost event that still counts as a request
        ("c@example.com", "sonnet"): UsageTotals(41_100_000, 2, 0, 0, 0, 0, 41_100_000, 1_100_000),
        ("c@example.com", "haiku"): UsageTotals(2_000_000, 1, 1, 0, 0, 0, 2_000_000, 0),
    }


def test_totals_per_month_and_overall(analysis_usage):
    assert analysis_usage.month_total(NOV) == UsageTotals()
    assert analysis_usage.month_total(DEC) == UsageTotals()
    assert analysis_usage.month_total(JAN).cost == 279_808_330
    assert analysis_usage.month_total(FEB) == UsageTotals(110_000_000, 2, 12, 12, 12, 12, 110_000_000, 0)
    assert analysis_usage.month_total(MAR) == UsageTotals(30_000_000, 2, 2, 2, 2, 2, 30_000_000, 500_000)
    assert analysis_usage.total.cost == 419_808_330
    assert analysis_usage.total.requests == 12


def test_data_quality_counts_of_january(analysis_usage):
    quality = analysis_usage.facts(JAN).quality
    assert quality.to_dict() == {
        "events_in_file": 12,
        "events_kept": 8,
        "events_left_out": 4,
        "not_on_demand": {"Included in Business": 1, "Mystery kind": 1, "Usage-based, not chargeable": 1},
        "without_email": 1,
        "without_model": 0,
        # one in the file, two that the fetch left out (fetch.left_out)
        "unknown_kinds": {"Brand-new kind": 2, "Mystery kind": 1},
        "unknown_fields": {"newField": 1},
        "zero_cost": 1,
        "negative_cost": 0,
        "non_numeric_cost": 1,
        "bad_timestamp": 0,
        "outside_month": 0,
        "with_charged": 0,
        "without_charged": 8,
        "charged_differs": 0,
        "charged_differs_examples": [],
        "parts_unknown": 0,
        "odd_discount": 0,
        "bad_tokens": 0,
        "long_names": 0,
        "service_account_owners": {},
    }
    assert analysis_usage.facts(DEC).quality.events_in_file == 0
    assert analysis_usage.facts(FEB).quality.warnings == 0


def test_accessors_for_user_and_model_pages(analysis_usage):
    assert analysis_usage.user_cost_by_month("b@example.com") == {
        NOV: 0, DEC: 0, JAN: 75_625_000, FEB: 110_000_000, MAR: 0,
    }
    assert [(r.name, r.cost, r.requests) for r in analysis_usage.user_models("b@example.com")] == [
        ("opus", 155_125_000, 2), ("sonnet", 30_500_000, 2),
    ]
    assert analysis_usage.model_cost_by_month("opus") == {NOV: 0, DEC: 0, JAN: 165_875_000, FEB: 100_000_000, MAR: 0}
    assert [(r.name, r.cost) for r in analysis_usage.model_users("opus")] == [
        ("b@example.com", 155_125_000), ("a@example.com", 110_750_000),
    ]
    assert analysis_usage.model_user_count("sonnet") == 4
    # a tie in March (15 cents each) ranks by name
    assert [r.name for r in analysis_usage.month_users(MAR)] == ["a@example.com", "c@example.com"]


def test_events_are_streamed_again_from_the_cache(analysis_usage):
    events = list(analysis_usage.events())
    assert len(events) == 8 + 2 + 2
    assert sum(1 for month, _ in events if month == JAN) == 8
    assert all("userEmail" in e or e["model"] == "sonnet" for _, e in events)


def _write(data_dir, month: Month, events, **extra):
    data_dir.mkdir(parents=True, exist_ok=True)
    doc = {"month": month.cache_stem, "fetched_at": "2026-05-02T00:00:00Z", "total_events": len(events),
           "events": events, **extra}
    (data_dir / f"{month.cache_stem}-usage-based-data.json").write_text(json.dumps(doc))


def _event(**changes):
    event = {"timestamp": str(Month(2026, 4).start_ms + 1000), "userEmail": "x@example.com", "model": "gpt-5",
             "kind": "Usage-based", "isChargeable": True, "isTokenBasedCall": True,
             "tokenUsage": {"inputTokens": 1, "outputTokens": 1, "cacheWriteTokens": 0, "cacheReadTokens": 0,
                            "totalCents": 1.5}}
    event.update(changes)
    return {k: v for k, v in event.items() if v is not None}


def test_odd_events_are_counted_not_fatal(tmp_path, analysis_settings):
    april = Month(2026, 4)
    events = [
        _event(),
        _event(timestamp=str(april.end_ms)),           # first millisecond of May: outside the month
        _event(timestamp="yesterday"),                  # not epoch milliseconds
        _event(model=None),                             # no model
        _event(tokenUsage={"totalCents": -2.0}),        # a refund-like negative amount
        _event(cursorTokenFee="1.0"),                   # the fee is a string
        _event(userEmail=""),                           # empty email: the removed-user bucket
    ]
    _write(tmp_path / "cache", april, events)
    usage = load_usage(analysis_settings, [april], data_dir=tmp_path / "cache")
    quality = usage.facts(april).quality
    assert (quality.events_kept, quality.outside_month, quality.bad_timestamp, quality.without_model,
            quality.negative_cost, quality.non_numeric_cost, quality.without_email) == (6, 1, 1, 1, 1, 1, 1)
    assert usage.user_total("x@example.com").cost == 4 * 1_500_000 - 2_000_000
    assert usage.model_total(UNKNOWN_MODEL).cost == 1_500_000
    assert usage.user_total(REMOVED_USER).cost == 1_500_000


def test_a_malformed_file_is_one_clear_error_naming_it(tmp_path, analysis_settings):
    april = Month(2026, 4)
    (tmp_path / "04-2026-usage-based-data.json").write_text("{not json")
    with pytest.raises(CacheError, match="04-2026-usage-based-data.json"):
        load_usage(analysis_settings, [april], data_dir=tmp_path)


def test_a_file_of_another_month_is_refused(tmp_path, analysis_settings):
    _write(tmp_path, Month(2026, 4), [_event()])
    path = tmp_path / "04-2026-usage-based-data.json"
    doc = json.loads(path.read_text())
    doc["month"] = "05-2026"
    path.write_text(json.dumps(doc))
    with pytest.raises(CacheError, match=r"04-2026-usage-based-data.json says it holds month '05-2026'"):
        load_usage(analysis_settings, [Month(2026, 4)], data_dir=tmp_path)


def test_a_single_month(analysis_settings):
    usage = load_usage(analysis_settings, [FEB])
    assert usage.months == [FEB]
    assert [(r.name, r.cost) for r in usage.users()] == [("b@example.com", 110_000_000)]
    assert usage.period_label == "February 2026"


def test_loading_in_worker_processes_gives_the_same_usage(analysis_settings, analysis_usage, monkeypatch):
    from billing_reports import loader

    monkeypatch.setenv(loader.LOAD_WORKERS_VARIABLE, "2")
    assert loader.load_workers(analysis_settings.data_dir, analysis_usage.months) == 2
    parallel = load_usage(analysis_settings, analysis_usage.months)
    assert parallel.totals == analysis_usage.totals
    assert [parallel.facts(m).to_dict() for m in parallel.months] == [
        analysis_usage.facts(m).to_dict() for m in analysis_usage.months
    ]


def test_a_broken_file_read_by_a_worker_is_the_same_one_line_error(tmp_path, analysis_settings, monkeypatch):
    from billing_reports import loader

    monkeypatch.setenv(loader.LOAD_WORKERS_VARIABLE, "2")
    _write(tmp_path, Month(2026, 3), [_event()])
    (tmp_path / "04-2026-usage-based-data.json").write_text('{"month": "04-2026"}')
    with pytest.raises(CacheError, match="04-2026-usage-based-data.json has no 'fetched_at' key"):
        load_usage(analysis_settings, [Month(2026, 3), Month(2026, 4)], data_dir=tmp_path)


def test_small_caches_load_in_this_process(analysis_settings, analysis_usage, monkeypatch):
    from billing_reports import loader

    monkeypatch.delenv(loader.LOAD_WORKERS_VARIABLE, raising=False)
    assert loader.load_workers(analysis_settings.data_dir, analysis_usage.months) == 1
    monkeypatch.setattr(loader, "PARALLEL_MIN_BYTES", 1)
    assert loader.load_workers(analysis_settings.data_dir, analysis_usage.months) == min(
        4, len(os.sched_getaffinity(0)))


def test_absurd_amounts_are_not_believed(tmp_path, analysis_settings):
    april = Month(2026, 4)
    events = [_event(), _event(tokenUsage={"totalCents": 2e12}), _event(cursorTokenFee=-5e12)]
    _write(tmp_path, april, events)
    usage = load_usage(analysis_settings, [april], data_dir=tmp_path)
    assert usage.facts(april).quality.non_numeric_cost == 2
    assert usage.total.cost == 1_500_000


def _general_path(path, month):
    """What the general (dict) path makes of a cache file."""
    from billing_reports.cache import read_cached_month
    from billing_reports.loader import aggregate_events
    from billing_reports.usage import DataQuality

    payload = read_cached_month(path)
    quality = DataQuality(events_in_file=len(payload["events"]))
    cells = {}
    aggregate_events(payload["events"], month, quality, cells)
    return cells, quality


def test_typed_fast_path_knows_exactly_the_known_fields():
    from billing_reports.loader import KNOWN_FIELDS, _TypedEvent

    assert set(_TypedEvent.__struct_fields__) == KNOWN_FIELDS


def test_typed_and_general_paths_agree_on_odd_but_well_typed_events(tmp_path):
    from billing_reports.loader import _read_typed, decode_month

    april = Month(2026, 4)
    events = [
        _event(),
        _event(userEmail="y@example.com", cursorTokenFee=0.25, model="opus"),
        _event(userEmail=None),                                   # removed user
        _event(userEmail=""),                                     # empty email: removed user too
        _event(timestamp=str(april.end_ms)),                      # outside the month
        _event(timestamp="yesterday"),                            # not epoch milliseconds
        _event(model=""),                                         # no model
        _event(kind="Included in Business"),
        _event(kind="Brand-new kind"),
        _event(isChargeable=False),
        _event(isTokenBasedCall=False),
        _event(tokenUsage={"totalCents": 0}),                     # zero cost
        _event(tokenUsage={"totalCents": -2.5, "inputTokens": 3}),  # negative cost
        _event(tokenUsage={"totalCents": 3e12}),                  # not believable
        _event(maxMode=True, chargedCents=1.5, isHeadless=False, requestsCosts=2),
    ]
    _write(tmp_path, april, events, complete=True)
    path = tmp_path / "04-2026-usage-based-data.json"
    assert _read_typed(path) is not None  # this file takes the typed path
    facts, typed_cells = decode_month(tmp_path, april)
    general_cells, general_quality = _general_path(path, april)
    assert typed_cells == general_cells
    assert facts.quality.to_dict() == general_quality.to_dict()
    # and what they agree on, by hand
    # 1.5c each: plain, outside the month, bad timestamp, maxMode; 0c; -2.5c (3 input tokens)
    first, last = april.start_ms // DAY_MS, april.end_ms // DAY_MS - 1
    # plain, bad timestamp (the month's first day), 0c, -2.5c (3 input tokens)
    assert typed_cells[(first, "x@example.com", "gpt-5", False)] == [500_000, 4, 5, 2, 0, 0, 500_000, 0]
    assert typed_cells[(last, "x@example.com", "gpt-5", False)] == [1_500_000, 1, 1, 1, 0, 0, 1_500_000, 0]  # May
    assert typed_cells[(first, "x@example.com", "gpt-5", True)] == [1_500_000, 1, 1, 1, 0, 0, 1_500_000, 0]
    assert typed_cells[(first, "y@example.com", "opus", False)] == [1_750_000, 1, 1, 1, 0, 0, 1_750_000, 250_000]
    assert typed_cells[(first, REMOVED_USER, "gpt-5", False)] == [3_000_000, 2, 2, 2, 0, 0, 3_000_000, 0]
    assert typed_cells[(first, "x@example.com", UNKNOWN_MODEL, False)] == [1_500_000, 1, 1, 1, 0, 0, 1_500_000, 0]
    # left out: two other kinds, not chargeable, not token-based, the absurd amount
    assert facts.quality.events_kept == 15 - 5
    assert (facts.quality.zero_cost, facts.quality.negative_cost, facts.quality.non_numeric_cost) == (1, 1, 1)


def test_a_file_with_surprises_takes_the_general_path(tmp_path):
    from billing_reports.loader import _read_typed

    assert _read_typed(ANALYSIS_CACHE / "01-2026-usage-based-data.json") is None  # "newField", "abc" cents
    assert _read_typed(ANALYSIS_CACHE / "02-2026-usage-based-data.json") is not None


def test_undocumented_fields_are_learnt_from_the_events_not_from_an_error_message(tmp_path):
    """A field name that reads like the decoder's error text is learnt all the same; a name no decoder
    field can take (a line break) and one field more than the typed path takes send the file down the
    general path, which counts them."""
    from billing_reports.loader import MAX_EXTRA_FIELDS, _read_typed, decode_month

    april = Month(2026, 4)
    odd = "odd` - at `$[0]` name"
    _write(tmp_path, april, [_event(), _event(**{odd: 1}), _event(newField=2)])
    typed = _read_typed(tmp_path / "04-2026-usage-based-data.json")
    assert typed is not None and typed["extra_fields"] == (odd, "newField")
    assert typed["quality"].unknown_fields == {odd: 1, "newField": 1}
    _write(tmp_path, april, [_event(), _event(**{"line\nbreak": 1})])
    assert _read_typed(tmp_path / "04-2026-usage-based-data.json") is None
    assert decode_month(tmp_path, april)[0].quality.unknown_fields == {"line\nbreak": 1}
    _write(tmp_path, april, [_event(**{f"field{i}": i for i in range(MAX_EXTRA_FIELDS + 1)})])
    assert _read_typed(tmp_path / "04-2026-usage-based-data.json") is None
    _write(tmp_path, april, [_event(**{f"field{i}": i for i in range(MAX_EXTRA_FIELDS)})])
    assert len(_read_typed(tmp_path / "04-2026-usage-based-data.json")["extra_fields"]) == MAX_EXTRA_FIELDS
    _write(tmp_path, april, [_event(newField=1, model=5)])  # a model that is no string: no field to learn
    assert _read_typed(tmp_path / "04-2026-usage-based-data.json") is None


def test_undocumented_fields_are_learnt_and_counted_on_the_typed_path(tmp_path):
    from billing_reports.loader import _read_typed, decode_month

    april = Month(2026, 4)
    events = [
        _event(),
        _event(newField=1),
        _event(otherField="x"),
        {**_event(), "newField": None},                      # null still counts as carrying it
        _event(newField=2, kind="Brand-new kind"),           # dropped, but its field is still counted
        _event(otherField=[1], tokenUsage={"totalCents": 0}),  # unusual (zero cost) and carrying a field
        _event(userEmail=None, newField=3),
    ]
    _write(tmp_path, april, events)
    path = tmp_path / "04-2026-usage-based-data.json"
    typed = _read_typed(path)
    assert typed is not None and typed["extra_fields"] == ("newField", "otherField")
    facts, typed_cells = decode_month(tmp_path, april)
    general_cells, general_quality = _general_path(path, april)
    assert typed_cells == general_cells
    assert facts.quality.to_dict() == general_quality.to_dict()
    assert facts.quality.unknown_fields == {"newField": 4, "otherField": 2}
    # four at 1.5c and the zero-cost one; the other kind is dropped, the removed user is apart
    day = april.start_ms // DAY_MS
    assert typed_cells[(day, "x@example.com", "gpt-5", False)] == [4 * 1_500_000, 5, 4, 4, 0, 0, 4 * 1_500_000, 0]


def test_an_error_while_the_workers_decode_waits_for_no_month_still_queued(tmp_path, monkeypatch):
    # (review) Ctrl-C, or any error, while this process reads the summaries and the workers decode the
    # changed months: leaving the pool waited until every month still queued had been decoded
    import multiprocessing
    import time

    from billing_reports import loader, month_summary
    from billing_reports.months import months_in_range

    monkeypatch.setattr(month_summary, "SETTLE_SECONDS", 0.0)
    months = months_in_range(Month(2026, 8), 8)
    for month in months:
        _write(tmp_path, month, [_event(timestamp=str(month.start_ms + 1000))])
    time.sleep(0.05)
    load_usage(None, months, data_dir=tmp_path)  # (every month summarised)
    for month in months[1:]:  # seven months fetched again: the workers' tasks
        _write(tmp_path, month, [_event(timestamp=str(month.start_ms + 1000))] * 2)
    started = tmp_path / "started.log"
    real_decode = loader.decode_month

    def slow_decode(data_dir, month):  # (in the worker processes: they are forked after this patch)
        with open(started, "a") as log:
            log.write(f"{month.key}\n")
        time.sleep(1.0)
        return real_decode(data_dir, month)

    def interrupted(*_args):
        time.sleep(0.3)  # (the workers are decoding by then)
        raise KeyboardInterrupt

    monkeypatch.setattr(loader, "decode_month", slow_decode)
    monkeypatch.setattr(loader, "read_summary", interrupted)  # Ctrl-C while the summaries are read
    monkeypatch.setenv(loader.LOAD_WORKERS_VARIABLE, "2")
    assert loader.load_workers(tmp_path, months[1:]) == 2
    with pytest.raises(KeyboardInterrupt):
        load_usage(None, months, data_dir=tmp_path)
    assert len(started.read_text().split() if started.exists() else []) <= 2  # (those being decoded then)
    deadline = time.monotonic() + 10
    while multiprocessing.active_children() and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not multiprocessing.active_children()


def test_a_worker_killed_while_it_decodes_costs_time_not_the_build(tmp_path, monkeypatch, capsys):
    # the out-of-memory killer (or anyone) ends a process of the pool: the months are decoded here
    # instead, one at a time, with the same figures, one line saying so, and no process left behind
    import multiprocessing
    import os
    import signal
    import time

    from billing_reports import loader, month_summary
    from billing_reports.months import months_in_range

    monkeypatch.setattr(month_summary, "SETTLE_SECONDS", 0.0)
    months = months_in_range(Month(2026, 8), 4)
    for number, month in enumerate(months):
        _write(tmp_path, month, [_event(timestamp=str(month.start_ms + 1000))] * (number + 1))
    monkeypatch.setenv(loader.LOAD_WORKERS_VARIABLE, "1")
    alone = load_usage(None, months, data_dir=tmp_path)
    for path in (tmp_path / month_summary.SUMMARY_DIR).iterdir():
        path.unlink()  # (every month to decode again)
    parent = os.getpid()
    real_decode = loader.decode_month

    def killed_in_a_worker(data_dir, month):
        if os.getpid() != parent and month == months[1]:
            os.kill(os.getpid(), signal.SIGKILL)
        return real_decode(data_dir, month)

    monkeypatch.setattr(loader, "decode_month", killed_in_a_worker)
    monkeypatch.setenv(loader.LOAD_WORKERS_VARIABLE, "2")
    assert loader.load_workers(tmp_path, months) == 2
    capsys.readouterr()
    again = load_usage(None, months, data_dir=tmp_path)
    assert again.totals == alone.totals and again.by_day() == alone.by_day()
    assert {m.key: again.facts(m).to_dict() for m in months} == {m.key: alone.facts(m).to_dict() for m in months}
    said = capsys.readouterr().err.strip().splitlines()
    assert len(said) == 1 and "ended unexpectedly" in said[0]
    deadline = time.monotonic() + 10
    while multiprocessing.active_children() and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not multiprocessing.active_children()
