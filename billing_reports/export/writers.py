"""Writing an export: CSV, gzip-compressed CSV or Parquet, chosen by the file name, always atomically.

The name ends in ``.csv``, ``.csv.gz`` or ``.parquet`` (any case); anything else is refused, as is a
target inside the cache, site or demo folder, the config or a ``.env`` (:func:`check_target`), and,
without ``--force``, an existing file that is not an earlier export. A link is followed: the file it
points to is replaced and the link stays.

The rows are written to a temporary file beside the target (``.NAME.XXXXXXXX.tmp``), flushed to disk,
and renamed over it: an export that fails (a full disk, a bad row, Ctrl-C) leaves the previous file
as it was and no partial file behind. A killed export's temporary file is removed by a later export
of the same name once it is a day old. A new file is its owner's alone (``0600``: it names every user
and their spend); a replaced one keeps its permissions.

CSV: UTF-8, a header of the column names, ``\\n`` line ends; money as exact decimal dollars
(``1.23456789``), dates ``2026-01-05``, timestamps ``2026-01-05T00:00:00Z``, booleans ``true`` /
``false``, NULL an empty field. A text cell a spreadsheet would run as a formula (``=``, ``+``,
``-``, ``@``, a tab or a carriage return first) starts with ``'``, as in every CSV of this project; a
carriage return becomes a line feed and a NUL U+FFFD (warehouses refuse NUL in CSV).

Parquet (pyarrow, the ``parquet`` extra): money and quantities as ``decimal128(38, 9)`` (BigQuery's
NUMERIC, DuckDB's and Snowflake's DECIMAL(38, 9): exact, 8 decimals of a dollar fit), timestamps as
UTC ``timestamp[us, tz=UTC]``, dates as ``date32``, counts as ``int64``; text exactly as sent (no
spreadsheet opens Parquet); the export's key-value metadata (FOCUS: ``FocusVersion``,
``DataGenerator``).
"""

from __future__ import annotations

import csv
import errno
import glob
import gzip
import io
import os
import tempfile
from datetime import datetime, timezone
from decimal import Decimal
from pathlib import Path
from typing import Any, BinaryIO, Callable, Iterable, Iterator, Mapping, Sequence

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


#: The file names an export writes, and the format of each (the name decides; any letter case).
SUFFIXES = {".csv": "csv", ".csv.gz": "csv.gz", ".parquet": "parquet"}
#: The first column of each export's header: an existing file that starts so is an earlier export,
#: replaced without ``--force``.
EXPORT_FIRST_COLUMNS = ("BilledCost", "day", "timestamp")
#: The permissions of a new export file: it holds every user's e-mail address and spend, so only its
#: owner reads it (a file it replaces keeps its own permissions).
NEW_FILE_MODE = 0o600


def file_format(path: Path) -> str:
    """``csv``, ``csv.gz`` or ``parquet``, from the name's ending (:data:`SUFFIXES`); any other ending
    is refused in one line."""
    name = Path(path).name.lower()
    for suffix in (".csv.gz", ".csv", ".parquet"):
        if name.endswith(suffix) and len(name) > len(suffix):
            return SUFFIXES[suffix]
    raise ExportError(f"--output {path}: the name must end in .csv, .csv.gz or .parquet (CSV, gzip CSV or "
                      "Parquet); choose one of them.")


def require_parquet() -> Any:
    """pyarrow's ``(pyarrow, pyarrow.parquet)``, or the one line that says how to install it."""
    try:
        import pyarrow
        import pyarrow.parquet
    except ImportError:
        raise ExportError(f"Writing Parquet needs pyarrow, which is not installed: {PARQUET_INSTALL} "
                          "(or write CSV: an --output ending in .csv or .csv.gz).") from None
    return pyarrow, pyarrow.parquet


def check_target(output: str | os.PathLike[str], *, protected: Sequence[tuple[Path, str]] = (),
                 force: bool = False) -> Path:
    """The file to write for ``--output``: a link resolved to the file it points to (the link stays). Refused,
    in one line naming the path: standard output, a directory, a missing or unwritable folder, a name
    of another format, a path ``protected`` names (``(path, what it is)``: a folder is protected with
    all it holds), and, unless ``force``, an existing file that is not an earlier export."""
    written = os.fspath(output)
    if written == "-":
        raise ExportError("--output -: an export is written to a file (atomically), not to standard output; "
                          "give a file name ending in .csv, .csv.gz or .parquet.")
    path = Path(written)
    if written.endswith(("/", os.sep)) or path.is_dir():
        if path.is_dir():
            raise ExportError(f"--output {path} is a directory; give a file name in it "
                              f"(for example {path / 'focus.csv'}).")
        raise ExportError(f"--output {written}: the folder {path} does not exist; create it first, and give a "
                          f"file name in it (for example {path / 'focus.csv'}).")
    file_format(path)
    target = Path(os.path.realpath(path))  # (a link: the file it points to is replaced, the link kept)
    if target.is_dir():
        raise ExportError(f"--output {path} is a link to the directory {target}; give a file name.")
    parent = target.parent
    if not parent.is_dir():
        raise ExportError(f"--output {path}: the folder {parent} does not exist; create it first.")
    for kept, what in protected:
        kept = Path(os.path.realpath(kept))
        if target == kept or kept in target.parents:
            raise ExportError(f"--output {path}: that is {what} ({kept}); an export must not replace it. "
                              "Write it somewhere else.")
    _probe_folder(path, parent)
    if not force and target.is_file() and not _is_an_export(target):
        raise ExportError(f"--output {path}: the file exists and is not an export of billing-reports; "
                          "give another name, or --force to replace it.")
    return target


def _probe_folder(path: Path, parent: Path) -> None:
    """Create and remove a file in ``parent``: the folder lets the export be written, or one line says why."""
    try:
        fd, probe = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=parent)
    except OSError as error:
        raise ExportError(f"--output {path}: {_why_not_written(error, parent)}; choose another folder.") from None
    os.close(fd)
    os.unlink(probe)


def _why_not_written(error: OSError, folder: Path) -> str:
    """An ``OSError`` of writing into ``folder`` in words (its errno decides)."""
    if error.errno == errno.EROFS:
        return f"the folder {folder} is on a read-only file system"
    if error.errno in (errno.EACCES, errno.EPERM):
        return f"the folder {folder} is not writable by this user"
    if error.errno in (errno.ENOSPC, errno.EDQUOT):
        return f"no space left for it in {folder} ({error.strerror})"
    return f"cannot write in {folder} ({error.strerror or error})"


def _is_an_export(path: Path) -> bool:
    """Whether the file at ``path`` is empty or begins as an export of this project does (CSV: the header of
    one of its formats, gzipped or not; Parquet: the format's magic bytes)."""
    try:
        with path.open("rb") as handle:
            start = handle.read(4096)
            if not start:
                return True
            if start[:4] == b"PAR1":
                return True
            if start[:2] == b"\x1f\x8b":
                handle.seek(0)
                with gzip.GzipFile(fileobj=handle) as unzipped:
                    start = unzipped.read(4096)
    except (OSError, EOFError, gzip.BadGzipFile):
        return False
    first = start.split(b"\n", 1)[0].split(b",", 1)[0].decode("utf-8", "replace")
    return first in EXPORT_FIRST_COLUMNS


def write_export(export: Export, path: Path) -> tuple[int, int]:
    """Write ``export`` to ``path`` (a file :func:`check_target` returned) in the format its name says;
    return (rows, their billed cost in micro-cents). Atomic: see the module's doc. A new file is
    readable by its owner only (:data:`NEW_FILE_MODE`); a replaced one keeps its permissions."""
    path = Path(path)
    kind = file_format(path)
    modules = require_parquet() if kind == "parquet" else None
    counted = _Counted(export.rows, export.cost_index)
    remove_abandoned_work(path.parent, (f".{glob.escape(path.name)}.*.tmp",))
    existed = path.exists()
    try:
        with replaced_atomically(path, new_mode=NEW_FILE_MODE) as handle:
            if kind == "parquet":
                _write_parquet(handle, export.columns, counted, *modules, metadata=export.metadata)
            elif kind == "csv.gz":
                with gzip.GzipFile(filename=path.name[:-3], mode="wb", fileobj=handle, mtime=0) as zipped:
                    _write_csv(zipped, export.columns, counted)
            else:
                _write_csv(handle, export.columns, counted)
    except OSError as error:
        kept = f"the existing {path.name} is as it was" if existed else "nothing was written"
        raise ExportError(f"Cannot write {path}: {_why_not_written(error, path.parent)}; free some space or "
                          f"choose another folder ({kept}).") from None
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
        return _csv_text
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


def _csv_text(text: str) -> str:
    """A name as a CSV cell: guarded as every CSV of this project (:func:`spreadsheet_text`), a NUL
    character (which BigQuery and Snowflake refuse in CSV) as U+FFFD, the replacement character."""
    return spreadsheet_text(text.replace("\0", "\ufffd") if "\0" in text else text)


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


def _write_parquet(handle: BinaryIO, columns: Sequence[ExportColumn], rows: Iterable[tuple], pa: Any, pq: Any, *,
                   metadata: Mapping[str, str] | None = None) -> None:
    schema = pa.schema([pa.field(c.name, _arrow_type(pa, c.kind), nullable=c.nullable) for c in columns],
                       metadata=dict(metadata) if metadata else None)
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


__all__ = ["ExportError", "NEW_FILE_MODE", "PARQUET_INSTALL", "SUFFIXES", "check_target", "file_format", "require_parquet",
           "write_export"]
