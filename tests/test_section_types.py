import csv
import io

import orjson

from billing_reports import Column, Figure, Section, Table


def users_table(total=True):
    return Table(
        slug="users",
        title="Users",
        columns=[Column("user", "User", "user"), Column("cost", "Cost", "money"), Column("n", "Requests", "count")],
        rows=[("a@x", 333_333, 1), ("b@x", 333_333, 2), ("c@x", 333_334, 3)],
        total=("Total", 1_000_000, 6) if total else None,
    )


def test_a_table_with_a_total_rounds_every_amount_on_its_own():
    # 0.333333 + 0.333333 + 0.333334 cents = 1 cent: the rows show 0, 0, 0 and the total 1 (never nudged)
    table = users_table()
    rows, total = table.display_rows()
    assert [row[1] for row in rows] == [0, 0, 0]
    assert total == ["Total", 1, 6]
    assert table.rounded_separately()


def test_without_a_total_each_row_is_rounded_on_its_own():
    rows, total = users_table(total=False).display_rows()
    assert [row[1] for row in rows] == [0, 0, 0] and total is None


def test_csv_is_ready_for_a_spreadsheet():
    parsed = list(csv.reader(io.StringIO(users_table().to_csv())))
    assert parsed == [
        ["User", "Cost (USD)", "Requests"],
        ["a@x", "0.00333333", "1"], ["b@x", "0.00333333", "2"], ["c@x", "0.00333334", "3"],
        ["Total", "0.01000000", "6"],
    ]


def test_json_export_and_section_dict_round_trip_through_json():
    section = Section("x", "X", 1, figures=[Figure("Total", 123_456_789_012, "money")], tables=[users_table()])
    assert orjson.loads(users_table().to_json())[2] == {"user": "c@x", "cost_usd": "0.00333334", "n": 3}
    data = orjson.loads(orjson.dumps(section.to_dict(), default=str))
    assert data["figures"][0]["display"] == "$1,234.57"
    assert data["tables"][0]["total"] == {"user": "Total", "cost_usd": "0.01000000", "n": 6}
    assert data["tables"][0]["rounded_separately"] is True
    assert data["figures"][0]["value"] == "1234.56789012"
    assert len(data["tables"][0]["rows"]) == 3


def test_a_total_the_rows_do_not_reach_is_shown_as_it_is():
    # a plugin's total is its own figure: shown, never forced onto the rows (the footnote says so)
    table = Table("t", "T", [Column("cost", "Cost", "money")], rows=[(100_000_000,)], total=(300_000_000,))
    assert table.display_rows() == ([[100]], [300])
    assert table.rounded_separately()
