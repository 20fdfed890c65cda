"""Month summaries: an unchanged cache file is decoded once, a changed one always again."""

from __future__ import annotations

import base64
import dataclasses
import json
import os
import time
from array import array

import pytest
from conftest import copy_analysis_cache

from billing_reports import loader, month_summary
from billing_reports.cache import write_atomically, write_cached_month
from billing_reports.errors import CacheError
from billing_reports.loader import load_usage
from billing_reports.month_summary import SUMMARY_DIR, summary_path
from billing_reports.months import Month, months_in_range
from billing_reports.usage import DataQuality

MONTHS = months_in_range(Month(2026, 3), 5)  # November 2025 (no file) to March 2026
JAN, APRIL = Month(2026, 1), Month(2026, 4)


def _load(cache, months=MONTHS):
    return load_usage(None, months, data_dir=cache)


def _facts(usage):
    return {month.key: usage.facts(month).to_dict() for month in usage.months}


@pytest.fixture
def decoded(monkeypatch):
    """The months ``decode_month`` is asked for (in this process)."""
    asked: list[str] = []
    real = loader.decode_month

    def counting(data_dir, month):
        asked.append(month.key)
        return real(data_dir, month)

    monkeypatch.setattr(loader, "decode_month", counting)
    return asked


@pytest.fixture
def cache(tmp_path, monkeypatch):
    """The hand-computed cache, its files counted as settled at once (no two-second wait)."""
    monkeypatch.setattr(month_summary, "SETTLE_SECONDS", 0.0)
    return copy_analysis_cache(tmp_path / "cache")


def _odd_april(cache):
    """A month file where every data-quality count is non-zero and ``fetched_at`` has microseconds."""
    base = {"timestamp": str(APRIL.start_ms + 1000), "userEmail": "x@example.com", "model": "gpt-5",
            "kind": "Usage-based", "isChargeable": True, "isTokenBasedCall": True,
            "tokenUsage": {"inputTokens": 1, "outputTokens": 2, "cacheWriteTokens": 3, "cacheReadTokens": 4,
                           "totalCents": 1.5}}
    events = [
        base,
        {**base, "timestamp": str(APRIL.end_ms)},                   # outside the month
        {**base, "timestamp": "yesterday"},                         # bad timestamp
        {**base, "model": ""},                                      # without model
        {**base, "userEmail": None},                                # without email
        {**base, "tokenUsage": {"totalCents": 0}},                  # zero cost
        {**base, "tokenUsage": {"totalCents": -2.5}},               # negative cost
        {**base, "cursorTokenFee": "1.0"},                          # not a number
        {**base, "kind": "Brand-new kind"},                         # unknown kind, not on demand
        {**base, "isChargeable": False},                            # not on demand
        {**base, "newField": 1},                                    # unknown field
        {**base, "chargedCents": 1.5},                              # with chargedCents (as its parts)
        {**base, "chargedCents": 1.25},                             # chargedCents differs from its parts
        {**base, "chargedCents": 1.5, "tokenUsage": {"totalCents": "abc"}},  # priced by chargedCents alone
        {**base, "tokenUsage": {"totalCents": 1.5, "discountPercentOff": 150}},  # an odd discount
        {**base, "tokenUsage": {"totalCents": 1.5, "inputTokens": 2.5}},  # a token count not whole
        {**base, "model": "m" * 400},                               # a name too long: cut short
        {**base, "serviceAccountName": "ci-bot"},                   # a service account (its owner noted)
    ]
    write_cached_month(cache / f"{APRIL.cache_stem}-usage-based-data.json", {
        "month": APRIL.cache_stem, "fetched_at": "2026-05-02T10:11:12.345678Z", "total_events": len(events),
        "events": events, "complete": True, "fetch": {"left_out": {"Another kind": 3}, "page_size": 1000}})


def test_an_unchanged_month_comes_from_its_summary_with_the_same_sums_and_counts(cache, decoded):
    _odd_april(cache)
    months = [*MONTHS, APRIL]
    first = _load(cache, months)
    assert decoded == ["2025-12", "2026-01", "2026-02", "2026-03", "2026-04"]  # November has no file
    assert sorted(p.name for p in (cache / SUMMARY_DIR).iterdir()) == [
        "01-2026.json", "02-2026.json", "03-2026.json", "04-2026.json", "12-2025.json"]
    quality = first.facts(APRIL).quality
    assert all(getattr(quality, field.name) for field in dataclasses.fields(DataQuality)), quality

    decoded.clear()
    again = _load(cache, months)
    assert decoded == []
    assert again.totals == first.totals
    assert _facts(again) == _facts(first)
    assert again.facts(APRIL).fetched_at == first.facts(APRIL).fetched_at
    assert again.facts(APRIL).fetched_at.microsecond == 345678


def _doctor(cache, month, change):
    """Rewrite ``month``'s summary through ``change(summary as JSON)``."""
    path = summary_path(cache, month)
    summary = json.loads(path.read_bytes())
    change(summary)
    path.write_text(json.dumps(summary), encoding="utf-8")


def _column(encoded):
    """A summary's column of integers (the bytes of an ``array('q')``, base64 in the JSON)."""
    column = array("q")
    column.frombytes(base64.b64decode(encoded))
    return column


def _encode(column):
    return base64.b64encode(array("q", column).tobytes()).decode()


def _change(part, name, change, index=None):
    """Apply ``change`` to the column ``part[name]`` (or ``part[name][index]``) as a list of integers."""
    column = list(_column(part[name] if index is None else part[name][index]))
    change(column)
    if index is None:
        part[name] = _encode(column)
    else:
        part[name][index] = _encode(column)


def _add_at(position, amount):
    def change(column):
        column[position] += amount
    return change


def _cost_plus_one_dollar(summary):
    # the first cell's charged cost (the sums' first column), and so every sum derived from it
    cells, sums = summary["cells"], summary["sums"]
    dollar = 100_000_000
    _change(cells, "sums", _add_at(0, dollar), 0)
    user, model, day = _column(cells["user"])[0], _column(cells["model"])[0], _column(cells["day"])[0]
    [pair] = [index for index, pair in enumerate(zip(_column(sums["pair_user"]), _column(sums["pair_model"])))
              if pair == (user, model)]
    _change(sums, "pair_sums", _add_at(pair, dollar), 0)
    _change(sums, "day_sums", _add_at(list(_column(sums["days"])).index(day), dollar), 0)
    for name, code in (("user_day", user), ("model_day", model)):
        [row] = [row for row, key in enumerate(zip(_column(sums[name][0]), _column(sums[name][1])))
                 if key == (code, day)]
        _change(sums, name, _add_at(row, dollar), 2)
    mode = _column(cells["max_mode"])[0]
    [row] = [row for row, key in enumerate(zip(_column(sums["model_mode_model"]), _column(sums["model_mode_max"])))
             if key == (model, mode)]
    _change(sums, "model_mode_sums", _add_at(row, dollar), 0)


def test_the_sums_per_model_and_max_mode_read_back_are_those_derived_from_the_cells(cache, decoded):
    from billing_reports.ledger import derive_model_modes

    first = _load(cache)
    decoded.clear()
    again = _load(cache)
    assert decoded == []  # every month read from its summary
    months = again.cell_columns()
    assert [len(cells) for cells in months] == [len(cells) for cells in first.cell_columns()]
    assert any(cells.sums().model_modes for cells in months)
    for cells in months:
        assert cells.sums().model_modes == derive_model_modes(cells)


def test_a_matching_summary_is_what_the_totals_come_from(cache):
    before = _load(cache).month_total(JAN).cost
    _doctor(cache, JAN, _cost_plus_one_dollar)
    assert _load(cache).month_total(JAN).cost == before + 100_000_000  # (the doctored summary was read)


@pytest.mark.parametrize("damage", [
    "garbage", "other rules", "other file", "short column", "cut bytes", "numbers for bytes", "unknown key",
    "bad fetched_at",
    "unknown user", "day of another month", "seven sums", "sums not adding up", "model sums not adding up",
    "model of no one", "evidence of other cells", "evidence cut short", "evidence of other tokens",
    "a user named twice", "a model named twice"])
def test_a_damaged_or_foreign_summary_is_ignored_and_made_again(cache, decoded, damage):
    first = _load(cache)
    changes = {
        "other rules": lambda s: s.update(rules="another loader"),
        "other file": lambda s: s["source"].__setitem__(2, s["source"][2] - 1),  # another change time
        "short column": lambda s: _change(s["cells"], "sums", list.pop, 3),
        "cut bytes": lambda s: s["cells"].update(day=base64.b64encode(base64.b64decode(s["cells"]["day"])[:-1]).decode()),
        "numbers for bytes": lambda s: s["cells"].update(day=list(_column(s["cells"]["day"]))),
        "unknown user": lambda s: _change(s["cells"], "user", _add_at(0, 1000)),
        "day of another month": lambda s: _change(s["cells"], "day", _add_at(0, 40)),
        "seven sums": lambda s: s["cells"]["sums"].pop(),
        "sums not adding up": lambda s: _change(s["sums"], "pair_sums", _add_at(0, 1), 0),
        "model sums not adding up": lambda s: _change(s["sums"], "model_mode_sums", _add_at(0, 1), 0),
        "model of no one": lambda s: _change(s["sums"], "model_mode_model", _add_at(0, 1000)),
        "evidence of other cells": lambda s: s["sums"]["evidence"][0].__setitem__(0, s["sums"]["evidence"][0][0] + 1),
        "evidence cut short": lambda s: s["sums"]["evidence"][0].pop(),
        "evidence of other tokens": lambda s: s["sums"]["evidence"][0].__setitem__(20, s["sums"]["evidence"][0][20] + 7),
        # (every sum still adds up; keyed by name, two users' or models' sums would hide one another)
        "a user named twice": lambda s: s["cells"]["users"].__setitem__(1, s["cells"]["users"][0]),
        "a model named twice": lambda s: s["cells"]["models"].__setitem__(1, s["cells"]["models"][0]),
        "unknown key": lambda s: s.update(extra=1),
        "bad fetched_at": lambda s: s["facts"].update(fetched_at="noon"),
    }
    if damage == "garbage":
        summary_path(cache, JAN).write_bytes(b'{"rules": "')
    else:
        # a dollar more as well: if the damaged summary were used, the totals would show it
        _doctor(cache, JAN, lambda s: (_cost_plus_one_dollar(s), changes[damage](s)))
    decoded.clear()
    again = _load(cache)
    assert decoded == ["2026-01"]
    assert again.totals == first.totals and _facts(again) == _facts(first)
    decoded.clear()
    assert _load(cache).totals == first.totals and decoded == []  # made again, and now it matches


def test_a_cache_file_changed_since_is_decoded_again_even_with_its_size_and_mtime_kept(cache):
    before = _load(cache).month_total(JAN).cost
    path = cache / "01-2026-usage-based-data.json"
    stat = path.stat()
    text = path.read_text(encoding="utf-8")
    assert '"totalCents": 100.5' in text
    time.sleep(0.05)  # past the clock's granularity
    path.write_text(text.replace('"totalCents": 100.5', '"totalCents": 900.5'), encoding="utf-8")
    os.utime(path, ns=(stat.st_atime_ns, stat.st_mtime_ns))
    assert path.stat().st_size == stat.st_size and path.stat().st_mtime_ns == stat.st_mtime_ns

    after = _load(cache).month_total(JAN).cost
    assert after - before == 800 * 1_000_000  # 800 cents more, in micro-cents


def test_a_refetched_month_is_decoded_again(cache, decoded):
    before = _load(cache).month_total(JAN).cost
    path = cache / "01-2026-usage-based-data.json"
    payload = json.loads(path.read_text(encoding="utf-8"))
    payload["events"][0]["tokenUsage"]["totalCents"] += 1
    write_cached_month(path, payload)  # what ``fetch --refresh 2026-01`` does
    decoded.clear()
    assert _load(cache).month_total(JAN).cost == before + 1_000_000
    assert decoded == ["2026-01"]


def test_a_file_replaced_while_it_is_decoded_is_decoded_again_next_time(cache, decoded, monkeypatch):
    monkeypatch.setattr(month_summary, "SETTLE_SECONDS", float("-inf"))  # this rule apart: the stamp alone
    path = cache / "01-2026-usage-based-data.json"
    payload = json.loads(path.read_text(encoding="utf-8"))
    original = loader._read_typed

    def replaced_first(file):
        if file == path:
            monkeypatch.setattr(loader, "_read_typed", original)
            payload["events"][0]["tokenUsage"]["totalCents"] += 1
            write_atomically(path, [json.dumps(payload).encode()])  # after the stat, before the read
        return original(file)

    monkeypatch.setattr(loader, "_read_typed", replaced_first)
    first = _load(cache).month_total(JAN).cost  # the new file's figures, summarised under the old stamp
    decoded.clear()
    assert _load(cache).month_total(JAN).cost == first
    assert decoded == ["2026-01"]  # the old stamp matches no file: decoded again


def test_a_summarised_file_that_breaks_later_still_stops_the_load_with_its_name(cache):
    _load(cache)
    path = cache / "01-2026-usage-based-data.json"
    path.write_text("{not json", encoding="utf-8")
    with pytest.raises(CacheError, match="01-2026-usage-based-data.json"):
        _load(cache)


def test_a_file_changed_moments_ago_gets_no_summary_until_it_has_settled(tmp_path, monkeypatch):
    cache = copy_analysis_cache(tmp_path / "cache")  # just copied: changed now
    _load(cache)
    assert not (cache / SUMMARY_DIR).exists()
    later = time.time() + month_summary.SETTLE_SECONDS + 1
    monkeypatch.setattr(loader.time, "time", lambda: later)
    _load(cache)
    assert len(list((cache / SUMMARY_DIR).iterdir())) == 4


def test_no_summary_where_the_loader_code_cannot_be_read(cache, decoded, monkeypatch):
    monkeypatch.setattr(month_summary, "rules_fingerprint", lambda: None)
    first = _load(cache)
    assert not (cache / SUMMARY_DIR).exists()
    decoded.clear()
    assert _load(cache).totals == first.totals and len(decoded) == 4


def test_a_summary_that_cannot_be_written_costs_nothing_but_time(cache, decoded):
    (cache / SUMMARY_DIR).write_text("not a directory", encoding="utf-8")
    first = _load(cache)
    decoded.clear()
    assert _load(cache).totals == first.totals and len(decoded) == 4
    assert (cache / SUMMARY_DIR).read_text(encoding="utf-8") == "not a directory"


def test_a_big_cache_decoded_by_worker_processes_leaves_summaries_too(cache, monkeypatch):
    monkeypatch.setenv(loader.LOAD_WORKERS_VARIABLE, "2")
    first = _load(cache)
    written = {path.name: path.stat().st_mtime_ns for path in (cache / SUMMARY_DIR).iterdir()}
    assert len(written) == 4
    time.sleep(0.05)
    assert _load(cache).totals == first.totals
    assert {path.name: path.stat().st_mtime_ns for path in (cache / SUMMARY_DIR).iterdir()} == written


def test_a_killed_summary_writes_temp_file_is_removed_once_a_day_old(cache):
    summaries = cache / SUMMARY_DIR
    summaries.mkdir(exist_ok=True)
    old, fresh, foreign = (summaries / ".01-2026.json.abc123.tmp", summaries / ".02-2026.json.def456.tmp",
                           summaries / "notes.tmp")
    for path in (old, fresh, foreign):
        path.write_text("half a summary")
    day_ago = time.time() - 2 * 24 * 3600
    os.utime(old, (day_ago, day_ago))
    os.utime(foreign, (day_ago, day_ago))
    _load(cache)  # decodes and keeps the summaries
    assert not old.exists() and fresh.exists() and foreign.exists()  # only our own, only when stale


def _rows_named_alike(s):
    """Row 1 of the sums per model and max mode named as row 0 (its model, its mode)."""
    model, mode = _column(s["sums"]["model_mode_model"]), _column(s["sums"]["model_mode_max"])
    _change(s["sums"], "model_mode_model", lambda column: column.__setitem__(1, model[0]))
    _change(s["sums"], "model_mode_max", lambda column: column.__setitem__(1, mode[0]))


def _two_models_swapped(s):
    model = list(_column(s["sums"]["model_mode_model"]))
    other = next(code for code in model if code != model[0])
    _change(s["sums"], "model_mode_model",
            lambda column: column.__setitem__(slice(None), [other if c == model[0] else model[0] if c == other else c
                                                            for c in column]))


@pytest.mark.parametrize("damage", [_rows_named_alike, _two_models_swapped], ids=["one key twice", "models swapped"])
def test_sums_per_model_that_add_up_yet_name_the_models_wrong_are_ignored(cache, decoded, damage):
    # (review) each passes the summary's checks today and changes the model economics page silently
    first = _load(cache)
    assert len(_column(json.loads(summary_path(cache, JAN).read_bytes())["sums"]["model_mode_model"])) >= 2
    _doctor(cache, JAN, damage)
    decoded.clear()
    again = _load(cache)
    assert decoded == ["2026-01"]
    assert [cells.sums().model_modes for cells in again.cell_columns()] == [
        cells.sums().model_modes for cells in first.cell_columns()]


def test_a_summary_says_in_its_first_bytes_which_file_and_rules_it_was_made_of(cache):
    # the loader plans which months to decode from these bytes alone, so its workers decode while the
    # summaries are read: what keep_summary writes must match them, and nothing else may
    _load(cache)
    path = cache / "01-2026-usage-based-data.json"
    assert month_summary.looks_current(cache, JAN, path.stat())
    assert not month_summary.looks_current(cache, Month(2025, 11), path.stat())  # (no summary at all)
    time.sleep(0.05)
    path.write_bytes(path.read_bytes())  # the same bytes, another file version
    assert not month_summary.looks_current(cache, JAN, path.stat())
    _load(cache)
    assert month_summary.looks_current(cache, JAN, path.stat())
    for head in (b'{"rules": "', b"", b'{"source":[1,2,3,4],"rules":"ab"}'):
        summary_path(cache, JAN).write_bytes(head)
        assert not month_summary.looks_current(cache, JAN, path.stat())
    _load(cache)
    rules = month_summary.rules_fingerprint()
    _doctor_compact(cache, JAN, lambda s: s.update(rules=rules[:-1] + ("0" if rules[-1] != "0" else "1")))
    assert not month_summary.looks_current(cache, JAN, path.stat())


def _doctor_compact(cache, month, change):
    """``_doctor``, the summary written back as compactly as ``keep_summary`` writes it."""
    path = summary_path(cache, month)
    summary = json.loads(path.read_bytes())
    change(summary)
    path.write_text(json.dumps(summary, separators=(",", ":")), encoding="utf-8")


def test_workers_decode_the_changed_months_while_the_summaries_are_read(cache, decoded, monkeypatch):
    monkeypatch.setenv(loader.LOAD_WORKERS_VARIABLE, "2")
    first = _load(cache)
    march = Month(2026, 3)
    for month in (JAN, march):  # two refetched months: a worker process each
        path = cache / f"{month.cache_stem}-usage-based-data.json"
        payload = json.loads(path.read_text(encoding="utf-8"))
        payload["events"][0]["tokenUsage"]["totalCents"] += 1
        write_cached_month(path, payload)
    # and a summary whose first bytes say it is current, whose body is damaged (a dollar more, a
    # column cut short): read, refused, and its month decoded here after all
    february = Month(2026, 2)
    _doctor_compact(cache, february, lambda s: (_cost_plus_one_dollar(s), _change(s["cells"], "sums", list.pop, 3)))
    assert month_summary.looks_current(cache, february, (cache / "02-2026-usage-based-data.json").stat())
    decoded.clear()
    again = _load(cache)
    assert decoded == ["2026-02"]  # (January and March were decoded by the worker processes)
    for month in (JAN, march):
        assert again.month_total(month).cost - first.month_total(month).cost == 1_000_000  # a cent more
    assert {month: again.month_total(month) for month in MONTHS if month not in (JAN, march)} == \
        {month: first.month_total(month) for month in MONTHS if month not in (JAN, march)}
    assert _facts(again)["2026-02"] == _facts(first)["2026-02"]


def test_a_summary_nested_too_deep_is_damaged_not_the_end_of_the_build(cache, decoded):
    # (review) msgspec refuses a value nested thousands deep with RecursionError, not a ValueError: a
    # summary (a hidden file that only saves time) so damaged ended the build with a traceback (with
    # worker processes, once they had decoded every changed month)
    first = _load(cache)
    path = summary_path(cache, JAN)
    summary = json.loads(path.read_bytes())
    summary["facts"]["fetch"] = {"pages": "NESTED"}
    path.write_text(json.dumps(summary, separators=(",", ":")).replace('"NESTED"', "[" * 20_000 + "]" * 20_000),
                    encoding="utf-8")
    assert month_summary.looks_current(cache, JAN, (cache / "01-2026-usage-based-data.json").stat())
    decoded.clear()
    again = _load(cache)
    assert decoded == ["2026-01"]
    assert again.totals == first.totals and _facts(again) == _facts(first)


def test_a_cache_file_dated_before_1970_is_still_known_current_from_its_summarys_first_bytes(cache):
    # (review) the first bytes' pattern took only unsigned numbers: a file whose times lie before 1970
    # (an archive restored with odd dates) never looked current, and the workers decoded it on every build
    path = cache / "01-2026-usage-based-data.json"
    os.utime(path, ns=(-86_400_000_000_000, -86_400_000_000_000))
    assert path.stat().st_mtime_ns < 0
    time.sleep(0.05)
    _load(cache)
    assert month_summary.read_summary(cache, JAN, path, path.stat()) is not None
    assert month_summary.looks_current(cache, JAN, path.stat())
