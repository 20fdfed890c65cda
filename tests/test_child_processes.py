"""A forked worker ends with the process that forked it, however that one ends."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time

import pytest
from conftest import process_running

#: A process that forks a child which sleeps (after end_with_parent), prints the child's id, and waits.
PARENT = """
import multiprocessing, os, sys, time
from billing_reports.child_processes import end_with_parent

def sleep(parent):
    end_with_parent(parent)
    time.sleep(120)

child = multiprocessing.get_context("fork").Process(target=sleep, args=(os.getpid(),))
child.start()
print(child.pid, flush=True)
time.sleep(120)
"""


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="the parent-death signal is Linux's")
@pytest.mark.parametrize("signal_name", ["SIGKILL", "SIGTERM"])
def test_a_forked_worker_ends_when_its_parent_is_killed(signal_name):
    parent = subprocess.Popen([sys.executable, "-c", PARENT], stdout=subprocess.PIPE, text=True)
    child = int(parent.stdout.readline())
    try:
        time.sleep(0.3)
        assert process_running(child)
        parent.send_signal(getattr(signal, signal_name))
        parent.wait(10)
        deadline = time.monotonic() + 10
        while process_running(child) and time.monotonic() < deadline:
            time.sleep(0.05)
        assert not process_running(child), "the worker outlived the process that forked it"
    finally:
        for pid in (child, parent.pid):
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass


def test_a_worker_whose_parent_is_gone_already_ends_at_once():
    # the parent ended between the fork and end_with_parent: os.getppid() is another process now
    code = ("import os\nfrom billing_reports.child_processes import end_with_parent\n"
            "end_with_parent(os.getppid() + 1 if os.getppid() != 1 else 2)\nprint('still here')\n")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=30)
    assert done.returncode == 1 and "still here" not in done.stdout
