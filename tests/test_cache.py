"""The monthly cache file: names, checked reads, atomic writes."""

import os
from pathlib import Path

import orjson
import pytest

from billing_reports import cache
from billing_reports.cache import cache_path, month_of_cache_path, read_cached_month, write_cached_month
from billing_reports.errors import CacheError
from billing_reports.months import Month

SEED_FORMAT = {
    "month": "01-2026",
    "fetched_at": "2026-02-24T16:30:00Z",
    "total_events": 1,
    "events": [{"timestamp": "1767225600000", "userEmail": "dev@company.com", "kind": "Usage-based"}],
}


def test_cache_path_uses_the_seed_file_name(tmp_path):
    assert cache_path(tmp_path, Month(2026, 1)) == tmp_path / "01-2026-usage-based-data.json"
    assert cache_path(tmp_path, Month(2025, 12)).name == "12-2025-usage-based-data.json"
    assert month_of_cache_path(tmp_path / "12-2025-usage-based-data.json") == Month(2025, 12)


def test_a_hand_made_seed_format_file_loads_without_the_extra_keys(tmp_path):
    path = cache_path(tmp_path, Month(2026, 1))
    path.write_bytes(orjson.dumps(SEED_FORMAT))
    assert read_cached_month(path) == SEED_FORMAT


def test_write_then_read_gives_back_the_payload_and_leaves_no_temp_file(tmp_path):
    payload = {**SEED_FORMAT, "complete": True, "fetch": {"api_total": 3, "left_out": {"Free": 2}}}
    path = cache_path(tmp_path / "new" / "dir", Month(2026, 1))
    write_cached_month(path, payload)
    assert read_cached_month(path) == payload
    assert os.listdir(path.parent) == [path.name]
    assert list(orjson.loads(path.read_bytes()))[:4] == ["month", "fetched_at", "total_events", "events"]


@pytest.mark.parametrize(
    "content, problem",
    [
        (b'{"month": "01-2026", "fetched_at": ', "is not valid JSON"),
        (b"[1, 2]", "is not a JSON object"),
        (orjson.dumps({k: v for k, v in SEED_FORMAT.items() if k != "events"}), "has no 'events' key"),
        (orjson.dumps({**SEED_FORMAT, "events": {"a": 1}}), "'events' that is not a list"),
        (orjson.dumps({**SEED_FORMAT, "events": [1]}), "events[0] that is not an object"),
        (orjson.dumps({**SEED_FORMAT, "total_events": True}), "'total_events' that is not an integer"),
        (orjson.dumps({**SEED_FORMAT, "total_events": 2}), "says total_events=2 but holds 1 events"),
        (orjson.dumps({**SEED_FORMAT, "complete": "yes"}), "'complete' that is not true/false"),
    ],
)
def test_a_broken_file_is_reported_by_name_with_the_command_that_fixes_it(tmp_path, content, problem):
    path = cache_path(tmp_path, Month(2026, 1))
    path.write_bytes(content)
    with pytest.raises(CacheError) as raised:
        read_cached_month(path)
    message = raised.value.message
    assert str(path) in message
    assert problem in message
    assert "billing-reports fetch --refresh 2026-01" in message
    assert "\n" not in message


def test_a_missing_file_is_a_cache_error(tmp_path):
    with pytest.raises(CacheError, match="does not exist"):
        read_cached_month(cache_path(tmp_path, Month(2026, 3)))


@pytest.mark.parametrize("failure", [OSError("disk full"), KeyboardInterrupt()])
def test_a_failed_write_keeps_the_old_file_and_leaves_no_temp_file(tmp_path, monkeypatch, failure):
    path = cache_path(tmp_path, Month(2026, 1))
    write_cached_month(path, SEED_FORMAT)
    before = path.read_bytes()

    def failing_fsync(fd):
        raise failure

    monkeypatch.setattr(cache.os, "fsync", failing_fsync)
    with pytest.raises(CacheError if isinstance(failure, OSError) else KeyboardInterrupt):  # (one line, for OSError)
        write_cached_month(path, {**SEED_FORMAT, "total_events": 0, "events": []})
    assert path.read_bytes() == before
    assert sorted(p.name for p in Path(tmp_path).iterdir()) == [path.name]


def test_temp_files_a_killed_write_left_behind_are_removed_once_a_day_old(tmp_path):
    """Like the build's leftovers: only our own temp names, only a day after their last change."""
    import os
    import time

    def left_behind(name: str, days_old: float) -> Path:
        path = tmp_path / name
        path.write_bytes(b'{"month": "02-20')
        moment = time.time() - days_old * 24 * 3600
        os.utime(path, (moment, moment))
        return path

    killed = left_behind(".02-2026-usage-based-data.json.k1ll3d_x.tmp", 2)  # another month's, killed
    busy = left_behind(".03-2026-usage-based-data.json.busy1234.tmp", 0.1)  # a fetch may still write it
    others = [left_behind(".notes.json.abcdefgh.tmp", 2), left_behind("backup.tmp", 2),
              left_behind(".02-2026-usage-based-data.json.k1ll3d_x.tmp.keep", 2)]

    write_cached_month(cache_path(tmp_path, Month(2026, 1)), SEED_FORMAT)

    assert not killed.exists()
    assert busy.exists() and all(path.exists() for path in others)
