"""The site writes a table's CSV/JSON from its display rows: byte for byte ``to_csv()``/``to_json()``."""

from __future__ import annotations

import pytest

from billing_reports.sections import Column, Table
from billing_reports.site.views import table_downloads

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
def test_downloads_equal_the_tables_own_exports(table: Table) -> None:
    assert table_downloads(table, table.display_rows()) == (table.to_csv(), table.to_json())
