"""Which alerts stand, and what each notifier was told: ``alert-state.json`` in the cache directory.

``billing-reports check`` reads it before sending and writes it (atomically) after: a standing
alert (the same ``key``) is sent to a notifier once, and again only when it worsens (a higher
severity, or a higher ``level`` within it). A new period makes new keys, so new alerts. An alert no
longer firing is dropped. The site reads the first-seen times for its alerts page.

The file is ours only when it says so (``written_by``); anything else under that name (edited by
hand, truncated, another program's) is refused in one line that names it and what to do, and is
never overwritten or deleted.
"""

from __future__ import annotations

import os
import time
from contextlib import contextmanager

from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any, Iterable, Iterator, Mapping, Sequence

import orjson

from .alerts import SEVERITIES, Alert, severity_rank
from .abandoned_work import remove_abandoned_work
from .cache import write_atomically
from .errors import CacheError
from .months import isoformat_z

STATE_FILE = "alert-state.json"
#: The state of a pseudonymised ``check`` (``privacy.pseudonymise``): its alerts name people by
#: pseudonym, so they are kept apart; one file for both would re-send every alert about a person at
#: each switch between a full and a pseudonymised config over one cache.
PSEUDONYMISED_STATE_FILE = "alert-state-pseudonymised.json"
WRITTEN_BY = "billing-reports check"
FORMAT_VERSION = 1


@dataclass(frozen=True)
class Told:
    """What one notifier was last sent of one alert: its severity and level then, and when."""

    severity: str
    level: float
    at: str

    def worse(self, alert: Alert) -> bool:
        """Whether ``alert`` is worse than what was told: a higher severity, or the same and a higher level."""
        told, now = severity_rank(self.severity), severity_rank(alert.severity)
        return now > told or (now == told and alert.level > self.level)


@dataclass(frozen=True)
class StandingAlert:
    """An alert as the state keeps it: when it was first seen and what each notifier was told."""

    key: str
    first_seen: str
    told: Mapping[str, Told] = field(default_factory=dict)
    #: The period the alert belongs to (its ``Alert.period``): checking another period keeps it.
    period: str = ""


@dataclass(frozen=True)
class AlertState:
    """Every standing alert by key (empty: no state yet)."""

    alerts: Mapping[str, StandingAlert] = field(default_factory=dict)

    def first_seen(self, key: str) -> str | None:
        found = self.alerts.get(key)
        return found.first_seen if found else None

    def to_tell(self, notifier: str, alerts: Iterable[Alert]) -> list[Alert]:
        """The alerts ``notifier`` has not been sent, or has been sent less bad."""
        chosen = []
        for alert in alerts:
            standing = self.alerts.get(alert.key)
            told = standing.told.get(notifier) if standing else None
            if told is None or told.worse(alert):
                chosen.append(alert)
        return chosen

    def updated(self, alerts: Sequence[Alert], sent: Mapping[str, Sequence[Alert]], now: datetime,
                checked: frozenset[str] | None = None) -> "AlertState":
        """The state after a run: the alerts firing now, each keeping its first-seen time, with what each
        notifier in ``sent`` (name -> the alerts it took) was told now. An alert of a period this run
        checked (``checked``: period keys; ``None``: every period) that no longer fires is dropped; one of
        another period is kept (checking October does not forget November). At most
        :data:`MAX_STANDING` are kept, the most recently seen."""
        at = isoformat_z(now)
        told_now: dict[str, dict[str, Told]] = {}
        for notifier, taken in sent.items():
            for alert in taken:
                told_now.setdefault(alert.key, {})[notifier] = Told(alert.severity, alert.level, at)
        standing = {key: kept for key, kept in self.alerts.items()
                    if checked is not None and kept.period and kept.period not in checked}
        for alert in alerts:
            before = self.alerts.get(alert.key)
            told = {**(before.told if before else {}), **told_now.get(alert.key, {})}
            standing[alert.key] = StandingAlert(alert.key, before.first_seen if before else at, told, alert.period)
        if len(standing) > MAX_STANDING:
            newest = sorted(standing.values(), key=lambda kept: max((t.at for t in kept.told.values()),
                                                                     default=kept.first_seen), reverse=True)
            standing = {kept.key: kept for kept in newest[:MAX_STANDING]}
        return AlertState(standing)

    def to_json(self) -> dict[str, Any]:
        return {
            "written_by": WRITTEN_BY,
            "version": FORMAT_VERSION,
            "alerts": {
                key: {"first_seen": standing.first_seen, "period": standing.period,
                      "told": {name: {"severity": t.severity, "level": t.level, "at": t.at}
                               for name, t in standing.told.items()}}
                for key, standing in self.alerts.items()
            },
        }


#: The most standing alerts a state file keeps (a bound on its size, whatever the rules find).
MAX_STANDING = 5_000
#: Beside the state: held while a ``check`` sends, so that two runs never send the same alert twice.
LOCK_FILE = ".alert-state.lock"
#: A lock this old, or of a process that is gone, is a run that died: taken over.
LOCK_STALE_SECONDS = 3600


@contextmanager
def sending_lock(data_dir: Path) -> Iterator[None]:
    """Held while a run sends and writes the state: a second ``check`` meanwhile is refused in one line
    (``CacheError``), not allowed to send the same alerts. A lock left by a run that died (its process
    gone, or an hour old) is taken over."""
    path = Path(data_dir) / LOCK_FILE
    Path(data_dir).mkdir(parents=True, exist_ok=True)
    for attempt in (1, 2):
        try:
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o644)
        except FileExistsError:
            if attempt == 2 or not _stale(path):
                raise CacheError(f"Another billing-reports check is sending alerts (lock {path}); wait for it to "
                                 "finish, or remove the lock if no check is running.", path=path,
                                 problem="is held by another check") from None
            path.unlink(missing_ok=True)
            continue
        with os.fdopen(fd, "w") as handle:
            handle.write(f"{os.getpid()} {time.time():.0f}\n")
        break
    try:
        yield
    finally:
        path.unlink(missing_ok=True)


def _stale(path: Path) -> bool:
    try:
        pid_text, started_text = path.read_text().split()
        pid, started = int(pid_text), float(started_text)
    except (OSError, ValueError):
        return True  # not a lock we wrote whole (a run killed while writing it)
    if time.time() - started > LOCK_STALE_SECONDS:
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    except PermissionError:
        return False
    return False


def state_path(data_dir: Path, *, pseudonymised: bool = False) -> Path:
    return Path(data_dir) / (PSEUDONYMISED_STATE_FILE if pseudonymised else STATE_FILE)


def _refused(path: Path, problem: str) -> CacheError:
    return CacheError(
        f"Alert state file {path} {problem}; billing-reports did not write it this way and leaves it alone: "
        f"move it away (the alerts standing now will then be sent once more) or restore the file `check` wrote.",
        path=path, problem=problem,
    )


def read_state(data_dir: Path, *, pseudonymised: bool = False) -> AlertState:
    """The state kept under ``data_dir`` (empty when there is none yet; ``pseudonymised``: the state of
    a pseudonymised ``check``, kept apart).

    :raises CacheError: the file cannot be read or is not one ``check`` wrote (one line naming it).
    """
    path = state_path(data_dir, pseudonymised=pseudonymised)
    if not path.exists():
        return AlertState()
    if not path.is_file():
        raise _refused(path, "is not a file")
    try:
        raw = orjson.loads(path.read_bytes())
    except OSError as error:
        raise CacheError(f"Alert state file {path} cannot be read ({error.strerror or error}); "
                         "check its permissions.", path=path, problem="cannot be read") from None
    except orjson.JSONDecodeError as error:
        raise _refused(path, f"is not JSON ({error.msg} at character {error.pos})") from None
    if not isinstance(raw, dict) or raw.get("written_by") != WRITTEN_BY:
        raise _refused(path, f"does not say it was written by {WRITTEN_BY}")
    if raw.get("version") != FORMAT_VERSION:
        raise _refused(path, f"has version {raw.get('version')!r}, not {FORMAT_VERSION}")
    entries = raw.get("alerts")
    if not isinstance(entries, dict):
        raise _refused(path, "has no mapping of alerts")
    standing = {}
    for key, entry in entries.items():
        problem = _entry_problem(entry)
        if problem:
            raise _refused(path, f"has an alert {key[:80]!r} that {problem}")
        told = {name: Told(t["severity"], float(t["level"]), t["at"]) for name, t in entry["told"].items()}
        period = entry.get("period")
        standing[key] = StandingAlert(key, entry["first_seen"], told, period if isinstance(period, str) else "")
    return AlertState(standing)


def _entry_problem(entry: Any) -> str | None:
    if not isinstance(entry, dict) or not isinstance(entry.get("first_seen"), str):
        return "has no first_seen time"
    told = entry.get("told")
    if not isinstance(told, dict):
        return "has no mapping of notifiers told"
    for name, t in told.items():
        if not (isinstance(t, dict) and t.get("severity") in SEVERITIES and isinstance(t.get("at"), str)
                and isinstance(t.get("level"), (int, float)) and not isinstance(t.get("level"), bool)):
            return f"has a malformed record for notifier {str(name)[:80]!r}"
    return None


def write_state(data_dir: Path, state: AlertState, *, pseudonymised: bool = False) -> Path:
    """Write ``state`` atomically (a temporary file beside it, then a rename): a crash leaves the old one."""
    path = state_path(data_dir, pseudonymised=pseudonymised)
    remove_abandoned_work(path.parent, (f".{path.name}.*.tmp",))  # what a killed write of it left, once a day old
    write_atomically(path, [orjson.dumps(state.to_json(), option=orjson.OPT_INDENT_2 | orjson.OPT_SORT_KEYS)])
    return path


def first_seen_times(data_dir: Path | None, *, pseudonymised: bool = False) -> tuple[dict[str, str], str | None]:
    """For the site: each standing alert's first-seen time, and why there are none (a state file that
    cannot be read: its one line), never an exception."""
    if data_dir is None:
        return {}, None
    try:
        state = read_state(data_dir, pseudonymised=pseudonymised)
    except CacheError as error:
        return {}, error.message
    return {key: standing.first_seen for key, standing in state.alerts.items()}, None


__all__ = ["AlertState", "PSEUDONYMISED_STATE_FILE", "STATE_FILE", "StandingAlert", "Told", "first_seen_times", "read_state", "state_path",
           "write_state"]
