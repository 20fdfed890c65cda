"""Month summaries: an unchanged cache file is decoded once, a changed one always again."""

from __future__ import annotations

import os
import time

import pytest
from conftest import copy_analysis_cache

from billing_reports import loader, month_summary
from billing_reports.loader import load_usage
from billing_reports.month_summary import SUMMARY_DIR, summary_path
from billing_reports.months import Month, months_in_range

MONTHS = months_in_range(Month(2026, 3), 5)  # November 2025 (no file) to March 2026
JAN = Month(2026, 1)


def _load(cache):
    return load_usage(None, MONTHS, data_dir=cache)


def _facts(usage):
    return {month.key: usage.facts(month).to_dict() for month in usage.months}


def _forbid_decoding(monkeypatch):
    def refuse(*args):
        raise AssertionError("a month was decoded although its summary matches")

    monkeypatch.setattr(loader, "decode_month", refuse)


@pytest.fixture
def cache(tmp_path, monkeypatch):
    """The hand-computed cache, its files counted as settled at once (no two-second wait)."""
    monkeypatch.setattr(month_summary, "SETTLE_SECONDS", 0.0)
    return copy_analysis_cache(tmp_path / "cache")


def test_an_unchanged_month_comes_from_its_summary_with_the_same_sums_and_counts(cache, monkeypatch):
    decoded = _load(cache)
    assert sorted(p.name for p in (cache / SUMMARY_DIR).iterdir()) == [
        "01-2026.json", "02-2026.json", "03-2026.json", "12-2025.json"]  # November has no file

    _forbid_decoding(monkeypatch)
    summarised = _load(cache)
    assert summarised.totals == decoded.totals
    # January's file is the odd one (unknown fields and kinds, a cost that is not a number...)
    assert decoded.facts(JAN).quality.warnings > 0
    assert _facts(summarised) == _facts(decoded)
    assert summarised.facts(JAN).fetched_at == decoded.facts(JAN).fetched_at


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


def test_a_file_changed_moments_ago_gets_no_summary_yet(tmp_path):
    cache = copy_analysis_cache(tmp_path / "cache")  # just copied: changed now
    _load(cache)
    assert not (cache / SUMMARY_DIR).exists()


@pytest.mark.parametrize("damage", ["garbage", "other rules", "other file"])
def test_a_damaged_or_foreign_summary_is_ignored_and_made_again(cache, monkeypatch, damage):
    decoded = _load(cache)
    summary = summary_path(cache, JAN)
    if damage == "garbage":
        summary.write_bytes(b'{"rules": "')
    elif damage == "other rules":
        monkeypatch.setattr(month_summary, "rules_fingerprint", lambda: "another loader")
    else:
        (cache / "01-2026-usage-based-data.json").rename(cache / "moved.json")
        (cache / "moved.json").rename(cache / "01-2026-usage-based-data.json")  # a new change time

    again = _load(cache)
    assert again.totals == decoded.totals and _facts(again) == _facts(decoded)
    _forbid_decoding(monkeypatch)
    assert _load(cache).totals == decoded.totals  # the summary was written anew and now matches


def test_a_summary_that_cannot_be_written_costs_nothing_but_time(cache, monkeypatch):
    (cache / SUMMARY_DIR).write_text("not a directory", encoding="utf-8")
    first = _load(cache)
    assert _load(cache).totals == first.totals
    assert (cache / SUMMARY_DIR).read_text(encoding="utf-8") == "not a directory"


def test_a_big_cache_decoded_by_worker_processes_leaves_summaries_too(cache, monkeypatch):
    monkeypatch.setenv(loader.LOAD_WORKERS_VARIABLE, "2")
    decoded = _load(cache)
    monkeypatch.delenv(loader.LOAD_WORKERS_VARIABLE)
    _forbid_decoding(monkeypatch)
    assert _load(cache).totals == decoded.totals
