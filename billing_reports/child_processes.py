"""The processes a build forks (to decode months, to render pages): how many CPUs there are for
them, and that they end with the build.

A forked worker otherwise outlives a build that is killed (``kill -9``, a scheduler's timeout): it
finishes its work, then waits on a pipe whose other end it holds itself, for ever.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import os
import signal
import sys

#: ``prctl``'s option: the signal the kernel sends this process when its parent ends (Linux).
_PR_SET_PDEATHSIG = 1


def end_with_parent(parent: int) -> None:
    """In a forked process: have the kernel kill it when ``parent`` (the process that forked it)
    ends, on Linux; and end at once if ``parent`` is gone already (it ended before this ran)."""
    if sys.platform.startswith("linux"):
        try:
            libc = ctypes.CDLL(ctypes.util.find_library("c"), use_errno=True)
            libc.prctl(_PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)
        except (OSError, AttributeError):  # no libc to ask: the pipes' ends still end it, later
            pass
    if os.getppid() != parent:
        os._exit(1)


def usable_cpus() -> int:
    """The CPUs this process may run on (its affinity where the system says it), at least 1."""
    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)


__all__ = ["end_with_parent", "usable_cpus"]
