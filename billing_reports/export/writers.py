"""Writing an export: CSV, gzip-compressed CSV or Parquet, chosen by the file name, always atomically.

The rows are written to a temporary file beside the target (``.NAME.XXXXXXXX.tmp``), flushed to disk,
and renamed over it: an export that fails (a full disk, a bad row, Ctrl-C) leaves the previous file
as it was and no partial file behind. A killed export's temporary file is removed by a later export
into the same folder once it is a day old.

CSV: UTF-8, a header of the column names, ``\\n`` line ends; money as exact decimal dollars
(``1.23456789``), dates ``2026-01-05``, timestamps ``2026-01-05T00:00:00Z``, booleans ``true`` /
``false``, NULL an empty field. A text cell a spreadsheet would run as a formula (``=``, ``+``,
``-``, ``@``, a tab or a carriage return first) starts with ``'``, as in every CSV of this project.

Parquet (pyarrow, the ``parquet`` extra): money and quantities as ``decimal128(38, 9)`` (BigQuery's
NUMERIC, DuckDB's and Snowflake's DECIMAL(38, 9): exact, 8 decimals of a dollar fit), timestamps as
UTC ``timestamp[us, tz=UTC]``, dates as ``date32``, counts as ``int64``; text exactly as sent (no
spreadsheet opens Parquet).
"""

from __future__ import annotations

import csv
import gzip
import io
import os
from datetime import datetime, timezone
from decimal import Decimal
from pathlib import Path
from typing import Any, BinaryIO, Callable, Iterable, Iterator, Sequence

from ..abandoned_work import remove_abandoned_work
from ..cache import replaced_atomically
from ..errors import BillingReportsError
from ..money import MICROCENTS_PER_CENT, exact_dollars
from ..periods import date_of_day
from ..sections import spreadsheet_text
from .columns import Export, ExportColumn

#: Rows per Parquet row group written at once (bounded memory, still big enough to compress well).
PARQUET_BATCH_ROWS = 65_536
PARQUET_INSTALL = "pip install 'billing-reports[parquet]'"
DECIMAL_PRECISION, DECIMAL_SCALE = 38, 9


class ExportError(BillingReportsError):
    """The export cannot be written where it was asked to be (one line naming the path)."""


def file_format(path: Path) -> str:
    """``parquet`` for ``*.parquet``, ``csv.gz`` for ``*.gz``, else ``csv``."""
    name = path.name.lower()
    if name.endswith(".parquet"):
        return "parquet"
    if name.endswith(".gz"):
        return "csv.gz"
    return "csv"


def require_parquet() -> Any:
    """pyarrow's ``(pyarrow, pyarrow.parquet)``, or the one line that says how to install it."""
    try:
        import pyarrow
        import pyarrow.parquet
    except ImportError:
        raise ExportError(f"Writing Parquet needs pyarrow, which is not installed: {PARQUET_INSTALL} "
                          "(or write CSV: an --output ending in .csv or .csv.gz).") from None
    return pyarrow, pyarrow.parquet


def check_target(path: Path) -> None:
    """Refuse a target the export could not replace cleanly: a directory, a missing or unwritable folder."""
    if path.is_dir():
        raise ExportError(f"--output {path} is a directory; give a file name in it (for example {path / 'focus.csv'}).")
    parent = path.parent
    if not parent.is_dir():
        raise ExportError(f"--output {path}: the folder {parent} does not exist; create it first.")
    if not os.access(parent, os.W_OK | os.X_OK):
        raise ExportError(f"--output {path}: the folder {parent} is not writable by this user; choose another.")


def write_export(export: Export, path: Path) -> tuple[int, int]:
    """Write ``export`` to ``path`` in the format its name says; return (rows, their billed cost in
    micro-cents). Atomic: see the module's doc."""
    path = Path(path)
    check_target(path)
    kind = file_format(path)
    modules = require_parquet() if kind == "parquet" else None
    counted = _Counted(export.rows, export.cost_index)
    remove_abandoned_work(path.parent, (f".{path.name}.*.tmp",))
    try:
        with replaced_atomically(path) as handle:
            if kind == "parquet":
                _write_parquet(handle, export.columns, counted, *modules)
            elif kind == "csv.gz":
                with gzip.GzipFile(filename=path.name.removesuffix(".gz"), mode="wb", fileobj=handle, mtime=0) as zipped:
                    _write_csv(zipped, export.columns, counted)
            else:
                _write_csv(handle, export.columns, counted)
    except OSError as error:
        raise ExportError(f"Cannot write {path} ({error.strerror or error}); free some space or check the "
                          f"folder's permissions (an existing {path.name} is as it was).") from None
    return counted.rows, counted.cost


class _Counted:
    """The rows, counted and their billed cost summed as they pass to the writer."""

    def __init__(self, rows: Iterable[tuple], cost_index: int) -> None:
        self._rows = rows
        self._cost_index = cost_index
        self.rows = 0
        self.cost = 0

    def __iter__(self) -> Iterator[tuple]:
        index = self._cost_index
        for row in self._rows:
            self.rows += 1
            self.cost += row[index]
            yield row


# --- CSV ------------------------------------------------------------------------------


def _csv_cell(kind: str) -> Callable[[Any], str]:
    if kind == "text":
        return spreadsheet_text
    if kind == "money":
        return exact_dollars
    if kind == "cents":
        return _exact_cents
    if kind in ("count", "quantity"):
        return str
    if kind == "number":
        return repr
    if kind == "bool":
        return lambda value: "true" if value else "false"
    if kind == "date":
        return lambda day: date_of_day(day).isoformat()
    if kind == "timestamp":
        return _iso_timestamp
    raise ValueError(f"no CSV cell for the column kind {kind!r}")


def _exact_cents(amount: int) -> str:
    """Micro-cents as exact cents with all 6 decimals (``20182320`` -> ``20.182320``)."""
    cents, rest = divmod(abs(amount), MICROCENTS_PER_CENT)
    return f"{'-' if amount < 0 else ''}{cents}.{rest:06d}"


def _iso_timestamp(epoch_ms: int) -> str:
    """``2026-01-05T00:00:00Z`` (FOCUS Date/Time Format), milliseconds only where there are any."""
    moment = datetime.fromtimestamp(epoch_ms // 1000, timezone.utc).strftime("%Y-%m-%dT%H:%M:%S")
    milliseconds = epoch_ms % 1000
    return f"{moment}.{milliseconds:03d}Z" if milliseconds else f"{moment}Z"


def _write_csv(binary: BinaryIO, columns: Sequence[ExportColumn], rows: Iterable[tuple]) -> None:
    text = io.TextIOWrapper(binary, encoding="utf-8", newline="", write_through=False)
    writer = csv.writer(text, lineterminator="\n")
    writer.writerow([column.name for column in columns])
    cells = [_csv_cell(column.kind) for column in columns]
    pairs = list(enumerate(cells))
    for row in rows:
        writer.writerow(["" if row[i] is None else cell(row[i]) for i, cell in pairs])
    text.flush()
    text.detach()  # (the caller closes the file)


# --- Parquet --------------------------------------------------------------------------


def _arrow_type(pa: Any, kind: str) -> Any:
    if kind in ("money", "cents", "quantity"):
        return pa.decimal128(DECIMAL_PRECISION, DECIMAL_SCALE)
    return {"text": pa.string(), "count": pa.int64(), "number": pa.float64(), "bool": pa.bool_(),
            "date": pa.date32(), "timestamp": pa.timestamp("us", tz="UTC")}[kind]


def _arrow_values(kind: str, values: list) -> list:
    """A column's values as pyarrow takes them for its type (exact decimals, microseconds)."""
    if kind == "money":
        return [None if v is None else Decimal(v).scaleb(-8) for v in values]
    if kind == "cents":
        return [None if v is None else Decimal(v).scaleb(-6) for v in values]
    if kind == "quantity":
        return [None if v is None else Decimal(v) for v in values]
    if kind == "timestamp":
        return [None if v is None else v * 1000 for v in values]
    return values


def _write_parquet(handle: BinaryIO, columns: Sequence[ExportColumn], rows: Iterable[tuple], pa: Any, pq: Any) -> None:
    schema = pa.schema([pa.field(c.name, _arrow_type(pa, c.kind), nullable=c.nullable) for c in columns])
    with pq.ParquetWriter(handle, schema) as writer:
        batch: list[tuple] = []
        for row in rows:
            batch.append(row)
            if len(batch) >= PARQUET_BATCH_ROWS:
                writer.write_table(_table(pa, schema, columns, batch))
                batch = []
        if batch:
            writer.write_table(_table(pa, schema, columns, batch))


def _table(pa: Any, schema: Any, columns: Sequence[ExportColumn], batch: list[tuple]) -> Any:
    transposed = list(zip(*batch)) if batch else [() for _ in columns]
    arrays = [pa.array(_arrow_values(column.kind, list(values)), type=field.type)
              for column, field, values in zip(columns, schema, transposed)]
    return pa.Table.from_arrays(arrays, schema=schema)


__all__ = ["ExportError", "PARQUET_INSTALL", "check_target", "file_format", "require_parquet", "write_export"]
