"""The process-tree memory sampler sees memory held by child processes, not only the parent's."""

from __future__ import annotations

import subprocess
import sys

from benchmarks.memory import TreeMemorySampler, _descendants_by_scan, descendants, process_memory_kib

CHILDREN_HOLDING_64_MB = """
import multiprocessing, sys, time
def hold(_):
    block = bytearray(64 * 1024 * 1024)
    block[::4096] = b"x" * len(block[::4096])  # touch every page: resident, not just reserved
    time.sleep(0.6)
if __name__ == "__main__":
    with multiprocessing.get_context("fork").Pool(2) as pool:
        pool.map(hold, range(2))
"""


def test_the_peak_counts_both_children():
    process = subprocess.Popen([sys.executable, "-c", CHILDREN_HOLDING_64_MB])
    with TreeMemorySampler(process.pid, interval=0.02) as sampler:
        assert process.wait(timeout=30) == 0
    assert sampler.samples > 5
    # two children holding 64 MiB each at the same time, plus interpreters
    assert sampler.peak_kib >= 2 * 64 * 1024


def test_descendants_and_memory_of_a_running_child():
    child = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(5)"])
    try:
        import os

        assert child.pid in descendants(os.getpid())
        assert process_memory_kib(child.pid) > 0
    finally:
        child.kill()
        child.wait()
    assert process_memory_kib(child.pid) == 0  # gone


def test_the_children_files_and_the_scan_of_proc_find_the_same_grandchildren():
    tree = subprocess.Popen(["bash", "-c", "sleep 5 & (sleep 5 & wait) & wait"])
    try:
        import time

        deadline = time.monotonic() + 5
        while len(descendants(tree.pid)) < 3 and time.monotonic() < deadline:  # two sleeps, a subshell
            time.sleep(0.02)
        assert len(descendants(tree.pid)) >= 3
        assert sorted(descendants(tree.pid)) == sorted(_descendants_by_scan(tree.pid))
    finally:
        tree.kill()
        tree.wait()
