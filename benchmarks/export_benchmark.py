"""How long ``billing-reports export`` takes, and how much memory, on a generated cache.

Each export runs in a fresh process (``billing-reports export``, as a user runs it), after one load
that leaves the month summaries (the FOCUS and ledger exports read those, as after any build; the
events export always decodes every event again): wall time, CPU seconds and the process's peak
resident memory (``ru_maxrss`` of the child), the rows written and the file's size.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Callable

from billing_reports.months import Month

from .figures import format_table, kilobytes_to_megabytes

#: What is timed: (format, file name).
EXPORTS = (("focus", "focus.csv"), ("focus", "focus.csv.gz"), ("focus", "focus.parquet"),
           ("ledger", "ledger.parquet"), ("events", "events.csv.gz"), ("events", "events.parquet"))


def export_report(data_dir: Path, months: list[Month], *, progress: Callable[[str], None]) -> str:
    """The table of every export of the cache in ``data_dir`` (its months ``months``)."""
    work = data_dir.parent / "exports"
    work.mkdir(exist_ok=True)
    config = work / "config.yaml"
    config.write_text(f"paths:\n  data_dir: {data_dir.resolve()}\n")
    span = ["--end-month", months[-1].key, "--months-back", str(len(months))]
    progress("loading the cache once (month summaries)")
    _run([*span, "--format", "ledger", "-o", str(work / "warm-up.csv")], config)
    rows = []
    for output_format, name in EXPORTS:
        progress(f"export --format {output_format} -o {name}")
        output = work / name
        wall, cpu, peak, line = _run([*span, "--format", output_format, "-o", str(output)], config)
        written = line.split()[1]
        rows.append([output_format, name, written, f"{output.stat().st_size / 1e6:,.0f}", f"{wall:.2f}",
                     f"{cpu:.2f}", f"{peak:,.0f}"])
    return "Export of the cache, each in a fresh process after one load left the month summaries\n\n" + format_table(
        ["format", "file", "rows", "MB", "wall s", "CPU s", "peak MB"], rows)


def _run(arguments: list[str], config: Path) -> tuple[float, float, float, str]:
    """Wall seconds, CPU seconds, peak MB and the summary line of one export in its own process."""
    command = [sys.executable, "-c", "from billing_reports.cli import main; main()", "export",
               "--config", str(config), *arguments]
    started = time.perf_counter()
    child = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    _pid, status, usage = os.wait4(child.pid, 0)
    wall = time.perf_counter() - started
    out, err = child.stdout.read().decode(), child.stderr.read().decode()
    child.stdout.close()
    child.stderr.close()
    child.returncode = os.waitstatus_to_exitcode(status)
    if child.returncode != 0:
        raise RuntimeError(f"export {' '.join(arguments)} failed: {err.strip() or out.strip()}")
    return wall, usage.ru_utime + usage.ru_stime, kilobytes_to_megabytes(usage.ru_maxrss), out.strip()


__all__ = ["EXPORTS", "export_report"]
