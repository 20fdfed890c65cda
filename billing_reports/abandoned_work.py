"""Hidden working directories and files a killed run (``kill -9``, a power cut) abandoned.

(Not to be confused with the events a fetch leaves out of the cache, ``fetch.left_out``.)

Builds and directory publishes work in ``.NAME.something-XXXX`` folders next to
the real one, and a cache write in a ``.NAME.XXXX.tmp`` file beside the cache
file; each is removed when done, so only a process that dies without running its
clean-up leaves one behind. The next run removes those older than
:data:`STALE_SECONDS`: old enough that no run still at work can own them.
"""

from __future__ import annotations

import shutil
import time
from pathlib import Path
from typing import Iterable

#: A working directory left behind is removed by a later run after this long.
STALE_SECONDS = 24 * 60 * 60


def remove_abandoned_work(parent: Path, patterns: Iterable[str]) -> None:
    """Remove the directories and files in ``parent`` matching ``patterns`` (globs of our own
    working names) last changed over :data:`STALE_SECONDS` ago; what cannot be removed stays,
    silently. Symbolic links are never followed nor removed."""
    now = time.time()
    for pattern in patterns:
        for abandoned in parent.glob(pattern):
            try:
                if abandoned.is_symlink() or now - abandoned.stat().st_mtime <= STALE_SECONDS:
                    continue
                if abandoned.is_dir():
                    shutil.rmtree(abandoned, ignore_errors=True)
                else:
                    abandoned.unlink()
            except OSError:
                pass


__all__ = ["STALE_SECONDS", "remove_abandoned_work"]
