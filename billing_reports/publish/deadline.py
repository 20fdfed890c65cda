"""A publish's total deadline: no stalled server holds ``billing-reports publish`` for long.

Every target (plugins' too) runs under :func:`deadline`: when
``publish.targets.NAME.timeout_seconds`` (default :data:`DEFAULT_TIMEOUT_SECONDS`)
have passed, a ``SIGALRM`` interrupts whatever is waiting (a socket read, a
``git`` or ``rsync`` child, which is killed) and the publish stops with one
line. The target's clean-up (releasing its lock, removing temporary files) then
gets :data:`CLEANUP_SECONDS` more before it is interrupted too.

The alarm needs the main thread of a POSIX process, which is where the command
line runs; called from another thread, a publish has no deadline beyond the
targets' own network timeouts. A caller's own ``SIGALRM`` timer is set aside
while a publish runs and given back, less the time spent, when it ends (due at
once if it fell due meanwhile).
"""

from __future__ import annotations

import contextlib
import signal
import threading
import time
from typing import Iterator

from ..errors import PublishError

#: Seconds a whole publish may take unless the target's ``timeout_seconds`` says otherwise.
DEFAULT_TIMEOUT_SECONDS = 600
#: Seconds a target's clean-up gets once the deadline has passed.
CLEANUP_SECONDS = 15


class DeadlinePassed(BaseException):
    """Raised by the alarm; a ``BaseException`` so that no library's ``except Exception`` swallows it."""


@contextlib.contextmanager
def deadline(seconds: float, target_name: str, kind: str) -> Iterator[None]:
    """Run the body for at most ``seconds``, then raise a one-line :class:`PublishError`.

    :raises PublishError: the deadline passed (naming the option that sets it).
    """
    if not hasattr(signal, "setitimer") or threading.current_thread() is not threading.main_thread():
        yield
        return
    alarms = 0

    def on_alarm(signum, frame):
        nonlocal alarms
        alarms += 1
        if alarms == 1:
            signal.setitimer(signal.ITIMER_REAL, CLEANUP_SECONDS)  # the clean-up's own, shorter, deadline
        raise DeadlinePassed

    outer_delay, _ = signal.getitimer(signal.ITIMER_REAL)  # a caller's own alarm (a test runner's timeout)
    started = time.monotonic()
    previous_handler = signal.signal(signal.SIGALRM, on_alarm)
    try:
        try:
            signal.setitimer(signal.ITIMER_REAL, seconds)
            yield
        finally:
            signal.setitimer(signal.ITIMER_REAL, 0)  # an alarm due meanwhile is caught just below
    except DeadlinePassed:
        expired = True
    else:
        expired = alarms > 0  # a target swallowed it: still too late
    finally:
        signal.signal(signal.SIGALRM, previous_handler)
        if outer_delay:  # give the caller's alarm back, what is left of it
            signal.setitimer(signal.ITIMER_REAL, max(outer_delay - (time.monotonic() - started), 0.001))
    if not expired:
        return
    raise PublishError(
        f"publish target {target_name!r} ({kind}) did not finish within {seconds:g} s, so it was stopped; "
        f"the server stopped answering or is too slow: check it and publish again (a large site on a slow link "
        f"may need a higher publish.targets.{target_name}.timeout_seconds)"
    )


__all__ = ["CLEANUP_SECONDS", "DEFAULT_TIMEOUT_SECONDS", "DeadlinePassed", "deadline"]
