"""The monthly usage cache: one JSON file per UTC month (see docs/architecture.md, "The cache file").

Reading checks the shape and raises :class:`CacheError` naming the file and the fix; writing is
atomic (a temp file in the same directory, fsync, ``os.replace``), so a reader never sees half a file.
"""

from __future__ import annotations

import os
import stat
import tempfile
from contextlib import contextmanager
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any, BinaryIO, Iterator, Sequence

import orjson

from billing_reports.errors import CacheError
from billing_reports.abandoned_work import remove_abandoned_work
from billing_reports.months import Month, parse_isoformat_z

CACHE_SUFFIX = "-usage-based-data.json"

#: The temp files :func:`write_atomically` writes a cache file into (``.MM-YYYY-...json.XXXXXXXX.tmp``).
TEMP_FILES = f".[0-9][0-9]-[0-9][0-9][0-9][0-9]{CACHE_SUFFIX}.*.tmp"

#: The API aggregates hourly and late events still arrive: a month is complete only when its fetch
#: started at least this long after it ended.
SETTLING_TIME = timedelta(days=1)

#: The key of a cache file's ``fetch`` record that marks it as demo data (``build --demo``'s fetch
#: from the built-in fake API): ``"fetch": {"demo": true, ...}``.
DEMO_KEY = "demo"

#: The seed's four keys and their JSON types (``bool`` is not an acceptable ``int``).
SEED_KEYS: dict[str, type] = {"month": str, "fetched_at": str, "total_events": int, "events": list}


def _file_mode() -> int:
    umask = os.umask(0o022)
    os.umask(umask)
    return 0o666 & ~umask


_FILE_MODE = _file_mode()


def is_complete(month: Month, fetched_at: datetime) -> bool:
    """Whether a fetch that started at ``fetched_at`` saw all of ``month`` (it ended a day before)."""
    return fetched_at >= month.end + SETTLING_TIME


def cached_complete(month: Month, payload: dict[str, Any]) -> bool:
    """Whether a cache file holds all of ``month``: its ``complete`` flag; a file in the seed's own
    format (no flag) is complete when it was fetched at least a day after the month ended."""
    if isinstance(payload.get("complete"), bool):
        return payload["complete"]
    try:
        return is_complete(month, parse_isoformat_z(payload["fetched_at"]))
    except (KeyError, TypeError, ValueError):
        return True  # no way to tell; keep the user's file rather than overwrite it


def cache_path(data_dir: Path, month: Month) -> Path:
    """The cache file of ``month``: ``data_dir/MM-YYYY-usage-based-data.json``.

    >>> cache_path(Path("data"), Month(2026, 1)).name
    '01-2026-usage-based-data.json'
    """
    return Path(data_dir) / f"{month.cache_stem}{CACHE_SUFFIX}"


def month_of_cache_path(path: Path) -> Month:
    """The month a cache file name stands for (``ValueError`` if the name is not a cache name)."""
    name = Path(path).name
    if not name.endswith(CACHE_SUFFIX):
        raise ValueError(f"not a cache file name: {name!r}")
    return Month.from_cache_stem(name[: -len(CACHE_SUFFIX)])


def cached_months(data_dir: Path) -> list[Month]:
    """The months of the cache files in ``data_dir``, oldest first (other files left out)."""
    found = []
    for path in Path(data_dir).glob(f"*{CACHE_SUFFIX}"):
        try:
            found.append(month_of_cache_path(path))
        except ValueError:
            continue
    return sorted(found)


def _fix_hint(path: Path) -> str:
    try:
        month = month_of_cache_path(path)
    except ValueError:
        return "delete it and fetch that month again"
    return f"run `billing-reports fetch --refresh {month.key}`"


def _broken(path: Path, what: str) -> CacheError:
    return CacheError(
        f"Cache file {path} {what}; {_fix_hint(path)} to download it again.", path=path, problem=what
    )


def read_cached_month(path: Path) -> dict[str, Any]:
    """Read and check one cache file; return the decoded payload.

    Raises ``CacheError`` (one line: the file, what is wrong, the fix) when the file cannot be read,
    is not JSON, or lacks the seed's keys with the right types. ``complete`` and ``fetch`` are
    optional, so a hand-made file in the seed's format still loads.
    """
    path = Path(path)
    try:
        raw = path.read_bytes()
    except FileNotFoundError:
        raise _broken(path, "does not exist") from None
    except OSError as exc:
        raise _broken(path, f"cannot be read ({exc.strerror or exc})") from None
    try:
        payload = orjson.loads(raw)
    except orjson.JSONDecodeError as exc:
        raise _broken(path, f"is not valid JSON ({exc})") from None
    check_payload(payload, path)
    return payload


def check_payload(payload: Any, path: Path) -> None:
    """Raise ``CacheError`` unless ``payload`` has the cache file's shape."""
    if not isinstance(payload, dict):
        raise _broken(path, "is not a JSON object")
    for key, kind in SEED_KEYS.items():
        if key not in payload:
            raise _broken(path, f"has no {key!r} key")
        value = payload[key]
        if not isinstance(value, kind) or (kind is int and isinstance(value, bool)):
            raise _broken(path, f"has a {key!r} that is not {_json_type(kind)}")
    events = payload["events"]
    for index, event in enumerate(events):
        if not isinstance(event, dict):
            raise _broken(path, f"has events[{index}] that is not an object")
    if payload["total_events"] != len(events):
        raise _broken(
            path, f"says total_events={payload['total_events']} but holds {len(events)} events"
        )
    if "complete" in payload and not isinstance(payload["complete"], bool):
        raise _broken(path, "has a 'complete' that is not true/false")
    if "fetch" in payload and not isinstance(payload["fetch"], dict):
        raise _broken(path, "has a 'fetch' that is not an object")


def refuse_demo_data(path: Path, fetch: Any, *, demo: bool) -> None:
    """Raise ``CacheError`` when a cache file's ``fetch`` record marks it as demo data and this is
    not a ``--demo`` run: the synthetic team's spend must never count as the user's."""
    if demo or not isinstance(fetch, dict) or fetch.get(DEMO_KEY) is not True:
        return
    try:
        month = month_of_cache_path(path)
    except ValueError:
        fix = "delete it"
    else:
        fix = f"run `billing-reports fetch --refresh {month.key}` to replace it with your team's usage"
    raise CacheError(
        f"Cache file {path} holds demo data (the synthetic team of `build --demo`), not your team's usage; {fix}.",
        path=path, problem="holds demo data",
    )


def write_cached_month(path: Path, payload: dict[str, Any], *, demo: bool = False) -> None:
    """Write ``payload`` to ``path`` atomically (see :func:`write_atomically`); ``demo``: mark it as
    demo data (``fetch.demo``), which only ``--demo`` runs load."""
    path = Path(path)
    if demo:
        payload = {**payload, "fetch": {**payload.get("fetch", {}), DEMO_KEY: True}}
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        remove_abandoned_work(path.parent, (TEMP_FILES,))  # what a killed write of any month left, once a day old
        write_atomically(path, [orjson.dumps(payload)])
    except OSError as error:  # a full disk, a quota, permissions
        raise CacheError(
            f"Cannot write cache file {path} ({error.strerror or error}); free some space or check the "
            f"permissions of {path.parent}, then run the command again (the file is as it was before).",
            path=path,
        ) from None


def write_atomically(path: Path, chunks: Sequence[bytes], *, durable: bool = True) -> int:
    """Write ``chunks`` to ``path``: temp file in the same directory, fsync, replace; return the size.

    On any failure (including ``KeyboardInterrupt``) the temp file is removed and an existing
    ``path`` is left untouched. ``durable=False`` skips the fsyncs, for a file that may be
    lost in a power cut (one that can be made again).
    """
    with replaced_atomically(path, durable=durable) as handle:
        _write_chunks(handle, chunks)
    return sum(len(chunk) for chunk in chunks)


@contextmanager
def replaced_atomically(path: Path, *, durable: bool = True, new_mode: int | None = None) -> Iterator[BinaryIO]:
    """A new file to write (``.NAME.XXXXXXXX.tmp`` in ``path``'s directory) that replaces ``path``,
    fsynced, when the block ends; on any failure in the block or after it (including
    ``KeyboardInterrupt``) the temp file is removed and an existing ``path`` is left untouched.

    The file keeps the permissions of the ``path`` it replaces (a ``chmod 600`` stays); a new one gets
    ``new_mode``, by default an ordinary file's (``0666`` less the umask)."""
    fd, tmp_name = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        os.chmod(tmp_name, _kept_mode(path, _FILE_MODE if new_mode is None else new_mode))  # mkstemp makes 0600
        with os.fdopen(fd, "wb") as handle:
            yield handle
            if durable:
                handle.flush()
                os.fsync(handle.fileno())
        os.replace(tmp_name, path)
    except BaseException:
        try:
            os.unlink(tmp_name)
        except FileNotFoundError:
            pass
        raise
    if durable:
        _fsync_dir(path.parent)


def _kept_mode(path: Path, new_mode: int) -> int:
    """The permission bits of the file at ``path`` (a link: of the file it points to), else ``new_mode``."""
    try:
        return stat.S_IMODE(os.stat(path).st_mode)
    except OSError:
        return new_mode


def _write_chunks(handle: BinaryIO, chunks: Sequence[bytes]) -> None:
    """Write ``chunks`` to ``handle`` (a module-level seam tests can make fail like a full disk)."""
    for chunk in chunks:
        handle.write(chunk)


def _fsync_dir(directory: Path) -> None:
    try:
        fd = os.open(directory, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def _json_type(kind: type) -> str:
    return {str: "a string", int: "an integer", list: "a list"}.get(kind, kind.__name__)


__all__ = [
    "CACHE_SUFFIX",
    "cache_path",
    "cached_months",
    "check_payload",
    "month_of_cache_path",
    "read_cached_month",
    "refuse_demo_data",
    "write_cached_month",
]
