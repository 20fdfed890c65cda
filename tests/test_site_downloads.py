"""A table's CSV/JSON downloads carry every amount exactly (micro-cents as 8-decimal dollars)."""

from __future__ import annotations

import csv
import io
from decimal import Decimal

import orjson
import pytest

from billing_reports.sections import Column, Table

MONEY = Column("cost", "Cost", "money")


@pytest.mark.parametrize("table", [
    Table("t", "Costs", [Column("user", "User", "user"), MONEY, Column("n", "Requests", "count")],
          [["a@x", 1_234_567, 3], ["b,\"c\"", -5_000_001, None], ["c", 0, 1], ["d", None, 2]],
          total=["Total", -3_765_434, 6, ]),
    Table("t", "No total", [MONEY, Column("share", "Share", "percent"), Column("note", "Note")],
          [[10**15 + 7, 12.5, "x\ny"], [-1, None, ""], [499_999, 0.0, None]]),
    Table("t", "Same key twice", [Column("k", "First"), Column("k", "Second", "money")], [["a", 5]]),
    Table("t", "Empty", [MONEY], [], total=[0]),
])
def test_downloads_carry_the_exact_amounts(table: Table) -> None:
    csv_text, json_bytes = table.downloads()
    assert (csv_text, json_bytes) == (table.to_csv(), table.to_json())
    lines = list(csv.reader(io.StringIO(csv_text)))
    assert lines[0] == [f"{c.label} (USD)" if c.kind == "money" else c.label for c in table.columns]
    expected = [*table.rows, *([table.total] if table.total is not None else [])]
    records = orjson.loads(json_bytes)
    assert len(lines) - 1 == len(records) == len(expected)
    for line, record, row in zip(lines[1:], records, expected):
        for index, column in enumerate(table.columns):
            if column.kind != "money" or row[index] is None:
                continue
            key = f"{column.key}_usd"
            # dollars x 10^8 = micro-cents, to the last one, in both files
            assert Decimal(line[index]) * 10**8 == Decimal(record[key]) * 10**8 == row[index]
