"""Peak memory of a process *and its children*, sampled from /proc.

``ru_maxrss`` covers one process; the loader decodes a big cache in a pool of
worker processes, so the build's real footprint is the sum over its process
tree at the worst moment. :class:`TreeMemorySampler` polls the tree in a
thread and keeps the highest sum of PSS (proportional set size: a page shared
by forked workers is counted once in total, not once per process), falling
back to RSS where ``smaps_rollup`` is not readable. Sampling can miss a spike
shorter than its interval (200 ms); ``ru_maxrss`` is no substitute, as Linux
carries it across fork and exec (a worker starts at its parent's size).

Sampling is not free: the kernel walks a process's page tables to sum its PSS
(about 5 ms for 400 MB), so the interval is long enough that the sampler takes
a few per cent of one CPU, not a fifth of it, from the build it measures.
"""

from __future__ import annotations

import os
import threading
from pathlib import Path

PAGE_KIB = os.sysconf("SC_PAGE_SIZE") // 1024
PROC = Path("/proc")


def children(pid: int) -> list[int] | None:
    """``pid``'s children from ``/proc/PID/task/*/children`` (``None`` where the kernel has no such file)."""
    found: list[int] = []
    try:
        for task in (PROC / str(pid) / "task").iterdir():
            found += [int(child) for child in (task / "children").read_text().split()]
    except FileNotFoundError as error:
        if error.filename and error.filename.endswith("children"):
            return None
    except OSError:
        pass  # ended meanwhile
    return found


def descendants(pid: int) -> list[int]:
    """``pid``'s children, grandchildren, ...: each one's ``children`` file, else a scan of ``/proc/*/stat``."""
    found: list[int] = []
    pending = [pid]
    while pending:
        listed = children(pending.pop())
        if listed is None:
            return _descendants_by_scan(pid)
        found += listed
        pending += listed
    return found


def _descendants_by_scan(pid: int) -> list[int]:
    """``descendants`` from the parent ids in ``/proc/*/stat``."""
    children_of: dict[int, list[int]] = {}
    for entry in PROC.iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue  # ended meanwhile
        # "pid (command name) state ppid ...": the name may hold spaces and parentheses.
        fields = stat[stat.rindex(")") + 2 :].split()
        children_of.setdefault(int(fields[1]), []).append(int(entry.name))
    found: list[int] = []
    pending = [pid]
    while pending:
        children = children_of.get(pending.pop(), [])
        found += children
        pending += children
    return found


def process_memory_kib(pid: int) -> int:
    """PSS of ``pid`` in KiB (RSS when PSS is not readable; 0 when the process is gone)."""
    try:
        for line in (PROC / str(pid) / "smaps_rollup").read_text().splitlines():
            if line.startswith("Pss:"):
                return int(line.split()[1])
    except (OSError, ValueError, IndexError):
        pass
    try:
        return int((PROC / str(pid) / "statm").read_text().split()[1]) * PAGE_KIB
    except (OSError, ValueError, IndexError):
        return 0


def tree_memory_kib(pid: int) -> int:
    """Memory of ``pid`` and all its descendants now, in KiB."""
    return sum(process_memory_kib(each) for each in [pid, *descendants(pid)])


class TreeMemorySampler:
    """Poll the memory of a process tree every ``interval`` seconds; ``peak_kib`` is the highest sum."""

    def __init__(self, pid: int, interval: float = 0.2) -> None:
        self.pid = pid
        self.interval = interval
        self.peak_kib = 0
        self.samples = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name=f"memory-sampler-{pid}", daemon=True)

    def __enter__(self) -> "TreeMemorySampler":
        self._thread.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self._stop.set()
        self._thread.join()

    def _run(self) -> None:
        while not self._stop.is_set():
            self.sample()
            self._stop.wait(self.interval)

    def sample(self) -> int:
        """Take one sample now; return it."""
        now = tree_memory_kib(self.pid)
        self.samples += 1
        self.peak_kib = max(self.peak_kib, now)
        return now


__all__ = ["TreeMemorySampler", "descendants", "process_memory_kib", "tree_memory_kib"]
