"""``billing-reports export``: FOCUS 1.2, ledger and events files read back with DuckDB (CSV, gzip CSV,
Parquet) add up to the ledger per day, user and model to the micro-cent; the FOCUS columns and values
the spec requires; billing cycles or months; hostile names; the missing-pyarrow line; atomic writes.

Expected figures are computed here from the loaded ledger (``load_usage``), never copied from output.
"""

from __future__ import annotations

import csv
import gzip
import io
import re
import sys
from collections import defaultdict
from datetime import datetime, timezone
from decimal import Decimal
from pathlib import Path

import duckdb
import pytest
from click.testing import CliRunner

from benchmarks.synthetic_cache import generate_cache
from billing_reports.cache import write_cached_month
from billing_reports.cli import cli
from billing_reports import loader
from billing_reports.export import writers
from billing_reports.loader import load_usage
from billing_reports.money import format_money
from billing_reports.months import Month
from billing_reports.periods import ReportRange, parse_day
from billing_reports.settings import load_settings
from conftest import usage_event

#: The 21 columns FOCUS 1.2 makes mandatory (specification/columns/*.md, "Feature level: Mandatory").
FOCUS_MANDATORY = [
    "BilledCost", "BillingAccountId", "BillingAccountName", "BillingCurrency", "BillingPeriodEnd",
    "BillingPeriodStart", "ChargeCategory", "ChargeClass", "ChargeDescription", "ChargePeriodEnd",
    "ChargePeriodStart", "ContractedCost", "EffectiveCost", "InvoiceIssuerName", "ListCost", "PricingQuantity",
    "PricingUnit", "ProviderName", "PublisherName", "ServiceCategory", "ServiceName",
]
#: FOCUS 1.2's allowed values of its enumerated columns (ServiceSubcategory: the AI and Machine Learning ones).
CHARGE_CATEGORIES = {"Usage", "Purchase", "Tax", "Credit", "Adjustment"}
CHARGE_FREQUENCIES = {"One-Time", "Recurring", "Usage-Based"}
AI_SUBCATEGORIES = {"AI Platforms", "Bots", "Generative AI", "Machine Learning", "Natural Language Processing",
                    "Other (AI and Machine Learning)"}
DAY_MS = 86_400_000
MONTHS = [Month(2026, 1), Month(2026, 2)]
#: Exact decimals as DuckDB reads the CSV amounts.
MONEY_TYPES = {"BilledCost": "DECIMAL(38,9)", "ListCost": "DECIMAL(38,9)", "EffectiveCost": "DECIMAL(38,9)",
               "ContractedCost": "DECIMAL(38,9)", "x_Discount": "DECIMAL(38,9)", "x_TokenFee": "DECIMAL(38,9)",
               "PricingQuantity": "DECIMAL(38,9)", "ConsumedQuantity": "DECIMAL(38,9)", "ChargePeriodStart": "TIMESTAMPTZ",
               "ChargePeriodEnd": "TIMESTAMPTZ", "BillingPeriodStart": "TIMESTAMPTZ", "BillingPeriodEnd": "TIMESTAMPTZ",
               "spend_usd": "DECIMAL(38,9)", "day": "DATE"}

HOSTILE_USER = '=HYPERLINK("http://evil.example","x"),\n"quoted"@example.com'
HOSTILE_MODEL = '+cmd|" /C calc"!A0,\nmodel'


@pytest.fixture(autouse=True)
def today_is_30_november_2026(monkeypatch):
    monkeypatch.setattr("billing_reports.months.utc_now", lambda: datetime(2026, 11, 30, 12, tzinfo=timezone.utc))


@pytest.fixture(scope="module")
def synthetic(tmp_path_factory) -> Path:
    """Two months of 30,000 synthetic events (several 4 MB slices each), with stray and odd events."""
    root = tmp_path_factory.mktemp("export")
    generate_cache(root / "cache", MONTHS, 30_000, users=40, models=8, stray_fraction=0.02,
                   unknown_field_share=0.01, processes=1)
    (root / "config.yaml").write_text("paths:\n  data_dir: cache\n")
    return root


def _run(config: Path, *args: str):
    return CliRunner().invoke(cli, ["export", "--config", str(config), *args])


def _ledger_sums(config: Path, first: str | None = None, last: str | None = None) -> dict[tuple[int, str, str], int]:
    """The ledger's cost (micro-cents) per (day, user, model), max modes added, from a load of its own."""
    settings = load_settings(config)
    report_range = ReportRange(parse_day(first), parse_day(last)) if first else None
    months = report_range.months if report_range else MONTHS
    usage = load_usage(settings, months, report_range=report_range)
    sums: dict[tuple[int, str, str], int] = defaultdict(int)
    for (day, user, model, _max_mode), totals in usage.ledger.items():
        sums[(day, user, model)] += totals.cost
    return dict(sums)


def _dollars(microcents: int) -> Decimal:
    return Decimal(microcents).scaleb(-8)


def _read(path: Path, select: str, *, csv_types: dict | None = None) -> list[tuple]:
    """``select`` (SQL over the table ``t``) on the file as DuckDB reads it."""
    if path.name.endswith(".parquet"):
        source = f"read_parquet('{path}')"
    else:
        names = _header(path)
        types = {name: kind for name, kind in (csv_types or MONEY_TYPES).items() if name in names}
        source = f"read_csv('{path}', header=true, quote='\"', escape='\"', types={types!r})"
    connection = duckdb.connect()
    connection.execute("SET TimeZone='UTC'")
    return connection.execute(f"WITH t AS (SELECT * FROM {source}) {select}").fetchall()


def _header(path: Path) -> list[str]:
    opened = gzip.open(path, "rt", encoding="utf-8", newline="") if path.name.endswith(".gz") else \
        path.open(encoding="utf-8", newline="")
    with opened as handle:
        return next(csv.reader(handle))


# --- sums -------------------------------------------------------------------------------------


@pytest.mark.parametrize("name", ["focus.csv", "focus.csv.gz", "focus.parquet"])
def test_billed_cost_adds_up_to_the_ledger_per_day_user_and_model(synthetic, tmp_path, name):
    output = tmp_path / name
    result = _run(synthetic / "config.yaml", "--end-month", "2026-02", "--months-back", "2", "-o", str(output))
    assert result.exit_code == 0, result.output
    expected = _ledger_sums(synthetic / "config.yaml")
    found = _read(output, "SELECT epoch_ms(ChargePeriodStart) // 86400000, x_User, x_Model, sum(BilledCost) "
                          "FROM t GROUP BY ALL")
    assert {(day, user, model): cost for day, user, model, cost in found} == {
        key: _dollars(cost) for key, cost in expected.items()}
    rows = _read(output, "SELECT count(*) FROM t")[0][0]
    total = sum(expected.values())
    assert result.stdout == (f"Exported {rows:,} FOCUS 1.2 rows ({format_money(total)}, January 2026 – "
                             f"February 2026) to {output}\n")
    assert len(expected) > 1000 and rows >= len(expected)  # (a cell per max mode too)


@pytest.mark.parametrize("output_format, name", [("ledger", "ledger.csv"), ("events", "events.csv.gz"),
                                                 ("ledger", "ledger.parquet"), ("events", "events.parquet")])
def test_ledger_and_events_add_up_to_the_ledger_too(synthetic, tmp_path, output_format, name):
    output = tmp_path / name
    result = _run(synthetic / "config.yaml", "--end-month", "2026-02", "--months-back", "2", "--format",
                  output_format, "-o", str(output))
    assert result.exit_code == 0, result.output
    expected = _ledger_sums(synthetic / "config.yaml")
    found = _read(output, f"SELECT epoch_ms(day::TIMESTAMP) // 86400000, \"user\", model, sum(spend_usd) "
                          "FROM t GROUP BY ALL")
    assert {(d, user, model): cost for d, user, model, cost in found} == {
        key: _dollars(cost) for key, cost in expected.items()}
    if output_format == "events":  # one row per kept event: as many as the ledger's requests
        settings = load_settings(synthetic / "config.yaml")
        requests = load_usage(settings, MONTHS).total.requests
        assert _read(output, "SELECT count(*) FROM t")[0][0] == requests


def test_since_and_until_keep_only_their_days(synthetic, tmp_path):
    config = synthetic / "config.yaml"
    for output_format in ("focus", "events"):
        output = tmp_path / f"{output_format}.csv"
        result = _run(config, "--since", "2026-01-25", "--until", "2026-02-03", "--format", output_format,
                      "-o", str(output))
        assert result.exit_code == 0, result.output
        column = "ChargePeriodStart" if output_format == "focus" else "day::TIMESTAMP"
        cost = "BilledCost" if output_format == "focus" else "spend_usd"
        (first, last, total), = _read(output, f"SELECT min(epoch_ms({column})) // 86400000, "
                                              f"max(epoch_ms({column})) // 86400000, sum({cost}) FROM t")
        assert (first, last) == (parse_day("2026-01-25"), parse_day("2026-02-03"))
        assert total == _dollars(sum(_ledger_sums(config, "2026-01-25", "2026-02-03").values()))
        assert "25 Jan – 3 Feb 2026" in result.output


# --- FOCUS columns and values -------------------------------------------------------------------


def test_every_mandatory_focus_column_with_allowed_values(synthetic, tmp_path):
    output = tmp_path / "focus.csv"
    assert _run(synthetic / "config.yaml", "--end-month", "2026-02", "--months-back", "2", "-o",
                str(output)).exit_code == 0
    header = _header(output)
    assert set(FOCUS_MANDATORY) <= set(header)
    assert {"ConsumedQuantity", "ConsumedUnit"} <= set(header)
    custom = [name for name in header if name.startswith("x_")]
    assert header[-len(custom):] == custom and len(custom) >= 5  # the spec's columns first, ours after
    assert all(name.isalnum() for name in header if not name.startswith("x_"))
    values = _read(output, "SELECT DISTINCT ChargeCategory, ChargeClass, ServiceCategory, ServiceSubcategory, "
                           "ChargeFrequency, BillingCurrency, PricingUnit, ConsumedUnit FROM t")
    assert len(values) == 1
    category, charge_class, service, subcategory, frequency, currency, pricing_unit, consumed_unit = values[0]
    assert category == "Usage" and category in CHARGE_CATEGORIES
    assert charge_class is None  # not a correction of an invoiced period
    assert service == "AI and Machine Learning" and subcategory in AI_SUBCATEGORIES
    assert frequency in CHARGE_FREQUENCIES and currency == "USD"
    assert (pricing_unit, consumed_unit) == ("Tokens", "Tokens")  # Cursor prices by the token
    # a day's charge: [start, end) one day; costs as the spec defines them here
    odd = _read(output, "SELECT count(*) FROM t WHERE epoch_ms(ChargePeriodEnd) - epoch_ms(ChargePeriodStart) "
                        "<> 86400000 OR epoch_ms(ChargePeriodStart) % 86400000 <> 0 OR EffectiveCost <> BilledCost "
                        "OR PricingQuantity <> ConsumedQuantity OR x_Requests < 1 "
                        "OR ContractedCost > ListCost OR ListCost - ContractedCost <> x_Discount "
                        "OR BillingPeriodStart > ChargePeriodStart OR BillingPeriodEnd < ChargePeriodEnd")
    assert odd == [(0,)]
    not_null = " OR ".join(f"{name} IS NULL" for name in FOCUS_MANDATORY if name not in ("ChargeClass",))
    assert _read(output, f"SELECT count(*) FROM t WHERE {not_null}") == [(0,)]
    with output.open(encoding="utf-8", newline="") as handle:
        rows = list(csv.DictReader(handle))
    stamp = r"\d{4}-\d{2}-\d{2}T00:00:00Z"
    assert all(re.fullmatch(stamp, row[name]) for row in rows
               for name in ("ChargePeriodStart", "ChargePeriodEnd", "BillingPeriodStart", "BillingPeriodEnd"))
    # amounts exact, never float noise or exponents: at most 8 decimals, digits only
    assert all(re.fullmatch(r"-?\d+\.\d{8}", row["BilledCost"]) for row in rows)
    assert sum(Decimal(row["BilledCost"]) for row in rows) == _dollars(sum(_ledger_sums(synthetic / "config.yaml").values()))
    # the team named by the domain its members share
    assert {row["BillingAccountId"] for row in rows} == {"example.com"}


def _hand_made_cache(root: Path, *, config: str = "") -> Path:
    """January and February 2026: ann, bob (moves group on 16 January), a service account of ann's, a
    removed user, a hostile user and model; max mode and a discount."""
    january = [
        usage_event("2026-01-05T10:00:00", email="ann@acme.test", model="gpt-5", total_cents=120.5, fee=2.25),
        usage_event("2026-01-05T11:00:00", email="ann@acme.test", model="gpt-5", total_cents=10, maxMode=True),
        usage_event("2026-01-10T09:00:00", email="bob@acme.test", model="opus", total_cents=300,
                    chargedCents=270.123456, tokenUsage={"inputTokens": 7, "outputTokens": 3, "cacheWriteTokens": 0,
                                                         "cacheReadTokens": 0, "totalCents": 300,
                                                         "discountPercentOff": 10}),
        usage_event("2026-01-16T00:00:00", email="bob@acme.test", model="opus", total_cents=50),
        usage_event("2026-01-20T08:00:00", email="ann@acme.test", model="gpt-5", total_cents=4,
                    serviceAccountName="nightly-ci"),
        usage_event("2026-01-21T08:00:00", email=None, model="gpt-5", total_cents=7),
        usage_event("2026-01-22T08:00:00", email=HOSTILE_USER, model=HOSTILE_MODEL, total_cents=33.3),
        usage_event("2026-01-23T08:00:00", kind="Included in Business", chargeable=False, total_cents=999),
    ]
    february = [usage_event("2026-02-17T12:00:00", email="ann@acme.test", model="gpt-5", total_cents=61)]
    cache = root / "cache"
    cache.mkdir(parents=True)
    for month, events in ((Month(2026, 1), january), (Month(2026, 2), february)):
        write_cached_month(cache / f"{month.cache_stem}-usage-based-data.json", {
            "month": month.cache_stem, "fetched_at": "2026-03-05T00:00:00Z", "total_events": len(events),
            "events": events, "complete": True})
    (root / "config.yaml").write_text("paths:\n  data_dir: cache\n" + config)
    return root / "config.yaml"


def _rows(path: Path) -> list[dict[str, str]]:
    with path.open(encoding="utf-8", newline="") as handle:
        return list(csv.DictReader(handle))


def test_billing_periods_are_the_teams_cycles_where_known_else_months(tmp_path):
    by_cycle = _hand_made_cache(tmp_path / "cycles", config="billing:\n  cycle_start: 2026-01-17\n")
    by_month = _hand_made_cache(tmp_path / "months")
    for config, expected in (
        (by_cycle, {"2026-01-05": ("2025-12-17", "2026-01-17"), "2026-01-16": ("2025-12-17", "2026-01-17"),
                    "2026-01-20": ("2026-01-17", "2026-02-17"), "2026-02-17": ("2026-02-17", "2026-03-17")}),
        (by_month, {"2026-01-05": ("2026-01-01", "2026-02-01"), "2026-01-20": ("2026-01-01", "2026-02-01"),
                    "2026-02-17": ("2026-02-01", "2026-03-01")}),
    ):
        output = config.parent / "focus.csv"
        assert _run(config, "--end-month", "2026-02", "--months-back", "2", "-o", str(output)).exit_code == 0
        periods = {row["ChargePeriodStart"][:10]: (row["BillingPeriodStart"][:10], row["BillingPeriodEnd"][:10])
                   for row in _rows(output)}
        assert {day: periods[day] for day in expected} == expected


def test_groups_of_the_day_service_accounts_charged_to_their_owners(tmp_path):
    config = _hand_made_cache(tmp_path, config="plugins:\n  chargeback:\n    mapping: groups.csv\n")
    (tmp_path / "groups.csv").write_text("email,group,start\nann@acme.test,Platform,\nbob@acme.test,Platform,\n"
                                         "bob@acme.test,Data,2026-01-16\n")
    output = tmp_path / "ledger.csv"
    assert _run(config, "--end-month", "2026-02", "--months-back", "2", "--format", "ledger",
                "-o", str(output)).exit_code == 0
    groups = {(row["day"], row["user"]): row["group"] for row in _rows(output)}
    assert groups[("2026-01-10", "bob@acme.test")] == "Platform"
    assert groups[("2026-01-16", "bob@acme.test")] == "Data"
    assert groups[("2026-01-20", "nightly-ci (service account)")] == "Platform"  # ann's
    assert groups[("2026-01-21", "(removed user)")] == "Unassigned"
    without = _hand_made_cache(tmp_path / "none")
    output = tmp_path / "none" / "focus.csv"
    assert _run(without, "--end-month", "2026-02", "--months-back", "2", "-o", str(output)).exit_code == 0
    assert {row["x_Group"] for row in _rows(output)} == {""}  # NULL: no groups are known


def test_hostile_names_stay_data(tmp_path):
    """Commas, quotes and line breaks stay inside their cell; CSV guards a formula's first character with
    a quote (as every CSV download does), Parquet keeps the names as sent."""
    config = _hand_made_cache(tmp_path)
    for name in ("focus.csv", "focus.parquet", "events.csv"):
        output = tmp_path / name
        output_format = name.split(".")[0]
        assert _run(config, "--end-month", "2026-02", "--months-back", "2", "--format", output_format,
                    "-o", str(output)).exit_code == 0
        users = "x_User" if output_format == "focus" else '"user"'
        models = "x_Model" if output_format == "focus" else "model"
        found = _read(output, f"SELECT {users}, {models} FROM t WHERE {models} LIKE '%calc%'")
        if name.endswith(".parquet"):
            assert found == [(HOSTILE_USER, HOSTILE_MODEL)]
        else:
            assert found == [("'" + HOSTILE_USER, "'" + HOSTILE_MODEL)]
        settings = load_settings(config)
        assert _read(output, "SELECT count(*) FROM t")[0][0] == (
            len(load_usage(settings, MONTHS).ledger) if output_format == "focus" else 8)
    assert "Exported 8 events" in _run(config, "--end-month", "2026-02", "--months-back", "2", "--format", "events",
                                       "-o", str(tmp_path / "again.csv")).output


def test_exact_amounts_as_sent_beside_the_billing_rule(tmp_path):
    config = _hand_made_cache(tmp_path)
    output = tmp_path / "events.csv"
    assert _run(config, "--end-month", "2026-01", "--months-back", "1", "--format", "events",
                "-o", str(output)).exit_code == 0
    bob = next(row for row in _rows(output) if row["day"] == "2026-01-10")
    assert (bob["charged_cents"], bob["total_cents"], bob["discount_percent_off"]) == ("270.123456", "300.000000", "10.0")
    assert bob["spend_usd"] == "2.70123456" and bob["list_cost_usd"] == "3.00000000"
    ann = next(row for row in _rows(output) if row["day"] == "2026-01-05" and row["max_mode"] == "false")
    assert (ann["spend_usd"], ann["token_fee_usd"], ann["charged_cents"]) == ("1.22750000", "0.02250000", "")
    assert ann["timestamp"] == "2026-01-05T10:00:00Z"
    removed = next(row for row in _rows(output) if row["day"] == "2026-01-21")
    assert (removed["user"], removed["user_email"]) == ("(removed user)", "")


def test_events_read_a_slice_at_a_time_even_where_a_value_looks_like_a_cut(tmp_path, monkeypatch):
    """Slices of a few hundred bytes, and events ending in a value that holds what lies between two
    events (``}, {``): a slice cut inside it does not decode, and the rest of the month is read from
    the whole file, each event once."""
    monkeypatch.setattr("billing_reports.event_slices.SLICE_BYTES", 300)
    whole_reads = []
    real_read = loader.read_cached_month
    monkeypatch.setattr(loader, "read_cached_month", lambda path: whole_reads.append(path) or real_read(path))
    events = [usage_event(f"2026-01-{day:02d}T10:00:00", email=f"u{day % 3}@acme.test", total_cents=day + 0.125,
                          note="a}, {b") for day in range(1, 29)]
    (tmp_path / "cache").mkdir()
    write_cached_month(tmp_path / "cache" / "01-2026-usage-based-data.json", {
        "month": "01-2026", "fetched_at": "2026-03-05T00:00:00Z", "total_events": len(events), "events": events,
        "complete": True})
    config = tmp_path / "config.yaml"
    config.write_text("paths:\n  data_dir: cache\n")
    output = tmp_path / "events.csv"
    result = _run(config, "--end-month", "2026-01", "--months-back", "1", "--format", "events", "-o", str(output))
    assert result.exit_code == 0, result.output
    assert whole_reads  # the slices did not all decode: the whole file was read for the rest
    rows = _rows(output)
    assert sorted(row["timestamp"] for row in rows) == [f"2026-01-{day:02d}T10:00:00Z" for day in range(1, 29)]
    found = defaultdict(Decimal)
    for row in rows:
        found[(parse_day(row["day"]), row["user"], row["model"])] += Decimal(row["spend_usd"])
    assert dict(found) == {key: _dollars(cost) for key, cost in _ledger_sums(config, "2026-01-01", "2026-01-31").items()}


def test_account_id_and_name(tmp_path):
    config = _hand_made_cache(tmp_path)
    output = tmp_path / "focus.csv"
    assert _run(config, "--end-month", "2026-01", "--months-back", "1", "-o", str(output)).exit_code == 0
    assert {(row["BillingAccountId"], row["BillingAccountName"]) for row in _rows(output)} == {("acme.test", "acme.test")}
    assert _run(config, "--end-month", "2026-01", "--months-back", "1", "-o", str(output), "--account-id", "team_42",
                "--account-name", "ACME engineering").exit_code == 0
    assert {(row["BillingAccountId"], row["BillingAccountName"]) for row in _rows(output)} == {
        ("team_42", "ACME engineering")}


# --- refusals and atomicity -------------------------------------------------------------------


def test_missing_pyarrow_is_one_line_saying_how_to_install_it(tmp_path, monkeypatch):
    config = _hand_made_cache(tmp_path)
    monkeypatch.setitem(sys.modules, "pyarrow", None)  # import pyarrow now raises ImportError
    monkeypatch.setitem(sys.modules, "pyarrow.parquet", None)
    output = tmp_path / "focus.parquet"
    result = _run(config, "--end-month", "2026-01", "--months-back", "1", "-o", str(output))
    assert result.exit_code == 1
    assert result.output.count("\n") == 1 and "pip install 'billing-reports[parquet]'" in result.output
    assert not output.exists() and sorted(p.name for p in tmp_path.iterdir()) == ["cache", "config.yaml"]


def test_a_failed_write_leaves_the_existing_file_as_it_was(tmp_path, monkeypatch):
    config = _hand_made_cache(tmp_path)
    for name in ("focus.csv", "focus.csv.gz", "focus.parquet"):
        output = tmp_path / name
        output.write_bytes(b"the previous export")
        real = writers._Counted.__iter__

        def full_disk_after_two_rows(self):
            for count, row in enumerate(real(self)):
                if count == 2:
                    raise OSError(28, "No space left on device")
                yield row

        monkeypatch.setattr(writers._Counted, "__iter__", full_disk_after_two_rows)
        result = _run(config, "--end-month", "2026-01", "--months-back", "1", "-o", str(output), "--force")
        monkeypatch.undo()
        assert result.exit_code == 1, result.output
        assert result.output == (f"Error: Cannot write {output}: no space left for it in {tmp_path} (No space left on "
                                 f"device); free some space or choose another folder (the existing {name} is as it "
                                 "was).\n")
        assert output.read_bytes() == b"the previous export"
        assert not [p for p in tmp_path.iterdir() if p.name.endswith(".tmp")]


def test_an_interrupted_export_leaves_nothing_behind(tmp_path, monkeypatch):
    config = _hand_made_cache(tmp_path)

    def interrupted(self):
        raise KeyboardInterrupt
        yield  # (a generator)

    monkeypatch.setattr(writers._Counted, "__iter__", interrupted)
    output = tmp_path / "focus.csv"
    _run(config, "--end-month", "2026-01", "--months-back", "1", "-o", str(output))
    assert sorted(p.name for p in tmp_path.iterdir()) == ["cache", "config.yaml"]


def test_a_directory_or_a_missing_folder_is_refused_by_name(tmp_path):
    config = _hand_made_cache(tmp_path)
    folder = tmp_path / "exports"
    folder.mkdir()
    (folder / "keep.txt").write_text("mine")
    result = _run(config, "--end-month", "2026-01", "--months-back", "1", "-o", str(folder))
    assert result.exit_code == 1 and result.output.count("\n") == 1
    assert f"--output {folder} is a directory" in result.output
    assert [p.name for p in folder.iterdir()] == ["keep.txt"]
    result = _run(config, "--end-month", "2026-01", "--months-back", "1", "-o", str(tmp_path / "nowhere" / "f.csv"))
    assert result.exit_code == 1 and f"the folder {tmp_path / 'nowhere'} does not exist" in result.output


def test_a_range_without_cached_data_is_refused(tmp_path):
    config = _hand_made_cache(tmp_path)
    result = _run(config, "--end-month", "2025-06", "--months-back", "1", "-o", str(tmp_path / "f.csv"))
    assert result.exit_code == 1 and "No cached data for June 2025" in result.output
    assert not (tmp_path / "f.csv").exists()


def test_gzip_holds_the_same_csv(tmp_path):
    config = _hand_made_cache(tmp_path)
    plain, zipped = tmp_path / "f.csv", tmp_path / "f.csv.gz"
    for output in (plain, zipped):
        assert _run(config, "--end-month", "2026-02", "--months-back", "2", "-o", str(output)).exit_code == 0
    assert gzip.decompress(zipped.read_bytes()) == plain.read_bytes()
    assert io.BytesIO(zipped.read_bytes()).read(2) == b"\x1f\x8b"


# --- the review's fixes -------------------------------------------------------------------------


def test_the_cache_the_site_the_demo_and_the_config_are_never_replaced(tmp_path):
    config = _hand_made_cache(tmp_path)
    config.write_text("paths:\n  data_dir: cache\n  site_dir: site\n  demo_dir: demo\n")
    (tmp_path / ".env").write_text("CURSOR_API_KEY=secret\n")
    cache_file = tmp_path / "cache" / "01-2026-usage-based-data.json"
    before = {path: path.read_bytes() for path in (cache_file, config, tmp_path / ".env")}
    (tmp_path / "site").mkdir()
    (tmp_path / "to-config.csv").symlink_to(config)
    (tmp_path / "to-env.csv").symlink_to(tmp_path / ".env")
    (tmp_path / "to-cache.csv").symlink_to(cache_file)
    for target, what in ((tmp_path / "cache" / "focus.csv", "the cache folder (paths.data_dir)"),
                         (tmp_path / "site" / "focus.csv", "the site folder (paths.site_dir)"),
                         (tmp_path / "demo" / "focus.csv", "the demo folder (paths.demo_dir)"),
                         (tmp_path / "to-config.csv", "the config file"),
                         (tmp_path / "to-env.csv", "the .env file of the config"),
                         (tmp_path / "to-cache.csv", "the cache folder (paths.data_dir)")):
        (tmp_path / "demo").mkdir(exist_ok=True)
        result = _run(config, "--end-month", "2026-01", "--months-back", "1", "-o", str(target), "--force")
        assert result.exit_code == 1 and result.output.count("\n") == 1, result.output
        assert f"--output {target}: that is {what}" in result.output
    assert {path: path.read_bytes() for path in before} == before
    assert sorted(p.name for p in (tmp_path / "cache").iterdir()) == sorted(
        ["01-2026-usage-based-data.json", "02-2026-usage-based-data.json"])
    # the reviewer's own command: a cache file's name is no export's name either
    result = _run(config, "--end-month", "2026-01", "--months-back", "1", "-o", str(cache_file))
    assert result.exit_code == 1 and cache_file.read_bytes() == before[cache_file]


def test_a_file_that_is_no_export_is_replaced_only_with_force(tmp_path):
    config = _hand_made_cache(tmp_path)
    notes = tmp_path / "notes.csv"
    notes.write_text("my,own\nnotes,here\n")
    args = ("--end-month", "2026-01", "--months-back", "1", "-o", str(notes))
    result = _run(config, *args)
    assert result.exit_code == 1 and "exists and is not an export of billing-reports" in result.output
    assert "--force" in result.output and notes.read_text() == "my,own\nnotes,here\n"
    assert _run(config, *args, "--force").exit_code == 0
    assert _header(notes)[0] == "BilledCost"
    for output_format in ("ledger", "events", "focus"):  # an earlier export of any format is replaced freely
        assert _run(config, *args, "--format", output_format).exit_code == 0, output_format
    for name in ("f.csv.gz", "f.parquet"):
        assert _run(config, "--end-month", "2026-01", "--months-back", "1", "-o", str(tmp_path / name)).exit_code == 0
        assert _run(config, "--end-month", "2026-01", "--months-back", "1", "-o", str(tmp_path / name),
                    "--format", "ledger").exit_code == 0, name


def _demo_cache(root: Path) -> Path:
    """The hand-made cache, and a demo cache of October ($2.50) and November 2026 ($1.255)."""
    config = _hand_made_cache(root)
    demo_cache = root / "data" / "demo" / "monthly_usage_data"
    demo_cache.mkdir(parents=True)
    events = [usage_event("2026-10-03T10:00:00", email="demo@example.com", total_cents=250),
              usage_event("2026-11-04T10:00:00", email="demo@example.com", total_cents=125.5)]
    for month, event in zip((Month(2026, 10), Month(2026, 11)), events):
        write_cached_month(demo_cache / f"{month.cache_stem}-usage-based-data.json", {
            "month": month.cache_stem, "fetched_at": "2026-11-30T00:00:00Z", "total_events": 1, "events": [event],
            "complete": True}, demo=True)
    return config


def test_export_demo_reads_the_demo_cache(tmp_path):
    config = _demo_cache(tmp_path)
    output = tmp_path / "demo.csv"
    result = _run(config, "--demo", "-o", str(output))
    assert result.exit_code == 0, result.output
    assert result.stdout == f"Exported 2 FOCUS 1.2 rows ($3.76, October 2026 – November 2026) to {output}\n"
    assert sorted(Decimal(row["BilledCost"]) for row in _rows(output)) == [Decimal("1.25500000"), Decimal("2.50000000")]
    empty = tmp_path / "nodemo"
    empty.mkdir()
    (empty / "config.yaml").write_text("paths:\n  data_dir: cache\n")
    (empty / "cache").mkdir()
    result = _run(empty / "config.yaml", "--demo", "-o", str(tmp_path / "x.csv"))
    assert result.exit_code == 2 and "run `billing-reports build --demo` first" in result.output


def test_export_demo_keeps_the_range_given(tmp_path):
    config = _demo_cache(tmp_path)
    output = tmp_path / "demo.csv"
    result = _run(config, "--demo", "--since", "2026-11-01", "--until", "2026-11-30", "-o", str(output))
    assert result.exit_code == 0, result.output
    assert [Decimal(row["BilledCost"]) for row in _rows(output)] == [Decimal("1.25500000")]
    outside = _run(config, "--demo", "--since", "2026-01-01", "--until", "2026-03-31", "-o", str(tmp_path / "q1.csv"))
    assert outside.exit_code == 2 and not (tmp_path / "q1.csv").exists()
    assert "the demo data covers October 2026 – November 2026" in outside.output


def test_a_range_without_on_demand_usage_writes_the_header_alone(tmp_path):
    (tmp_path / "cache").mkdir()
    write_cached_month(tmp_path / "cache" / "10-2026-usage-based-data.json", {
        "month": "10-2026", "fetched_at": "2026-11-05T00:00:00Z", "total_events": 1, "complete": True,
        "events": [usage_event("2026-10-23T08:00:00", kind="Included in Business", chargeable=False)]})
    config = tmp_path / "config.yaml"
    config.write_text("paths:\n  data_dir: cache\n")
    for name in ("focus.csv", "ledger.parquet", "events.csv.gz"):
        output = tmp_path / name
        result = _run(config, "--end-month", "2026-10", "--months-back", "1", "--format", name.split(".")[0],
                      "-o", str(output))
        assert result.exit_code == 0, result.output
        assert result.stdout == f"Exported no rows: no on-demand usage in October 2026 to {output}\n"
        assert _read(output, "SELECT count(*) FROM t") == [(0,)]
    assert _header(tmp_path / "focus.csv")[0] == "BilledCost"


def _two_domains_cache(root: Path, config: str = "") -> Path:
    """January: three acme.test users; February: one other.test user alone."""
    config_path = _hand_made_cache(root, config=config)
    write_cached_month(root / "cache" / "03-2026-usage-based-data.json", {
        "month": "03-2026", "fetched_at": "2026-04-05T00:00:00Z", "total_events": 1, "complete": True,
        "events": [usage_event("2026-03-03T10:00:00", email="zed@other.test", total_cents=5)]})
    return config_path


def test_the_billing_account_is_the_same_whatever_the_range(tmp_path):
    config = _two_domains_cache(tmp_path)
    output = tmp_path / "focus.csv"
    for end in ("2026-01", "2026-03"):
        result = _run(config, "--end-month", end, "--months-back", "1", "-o", str(output))
        assert result.exit_code == 0, result.output
        assert {row["BillingAccountId"] for row in _rows(output)} == {"acme.test"}
        assert ("Note: BillingAccountId acme.test is the e-mail domain most users of the cached months share; set "
                "billing.account_id") in result.stderr
    # Cursor's members list, where a fetch kept one, decides before the cached users
    from billing_reports.team_snapshots import Snapshot, keep
    members = {"teamMembers": [{"email": f"m{n}@members.test", "name": f"M {n}", "role": "member"} for n in range(3)]}
    keep(load_settings(config).data_dir, Snapshot("members", datetime(2026, 3, 1, tzinfo=timezone.utc), members))
    result = _run(config, "--end-month", "2026-03", "--months-back", "1", "-o", str(output))
    assert {row["BillingAccountId"] for row in _rows(output)} == {"members.test"}
    assert "most of Cursor's members share" in result.stderr


def test_the_billing_account_from_the_config(tmp_path):
    config = _hand_made_cache(tmp_path, config="billing:\n  account_id: acme-42\n  account_name: ACME engineering\n")
    output = tmp_path / "focus.csv"
    result = _run(config, "--end-month", "2026-01", "--months-back", "1", "-o", str(output))
    assert result.exit_code == 0 and result.stderr == ""
    assert {(row["BillingAccountId"], row["BillingAccountName"]) for row in _rows(output)} == {
        ("acme-42", "ACME engineering")}
    assert _run(config, "--end-month", "2026-01", "--months-back", "1", "-o", str(output),
                "--account-id", "other").exit_code == 0
    assert {row["BillingAccountId"] for row in _rows(output)} == {"other"}
    config.write_text("paths:\n  data_dir: cache\nbilling:\n  account_id: ''\n")
    result = _run(config, "--end-month", "2026-01", "--months-back", "1", "-o", str(output))
    assert result.exit_code == 1 and "billing.account_id: expected a non-empty string" in result.output


def test_a_replaced_file_keeps_its_permissions_and_a_new_one_is_private(tmp_path):
    config = _hand_made_cache(tmp_path)
    args = ("--end-month", "2026-01", "--months-back", "1", "-o")
    new = tmp_path / "new.csv"
    assert _run(config, *args, str(new)).exit_code == 0
    assert new.stat().st_mode & 0o777 == 0o600
    shared = tmp_path / "shared.csv"
    assert _run(config, *args, str(shared)).exit_code == 0
    shared.chmod(0o640)
    assert _run(config, *args, str(shared)).exit_code == 0
    assert shared.stat().st_mode & 0o777 == 0o640
    # the cache's own writes keep a file's permissions too
    cache_file = tmp_path / "cache" / "01-2026-usage-based-data.json"
    cache_file.chmod(0o600)
    write_cached_month(cache_file, {"month": "01-2026", "fetched_at": "2026-03-05T00:00:00Z", "total_events": 0,
                                    "events": [], "complete": True})
    assert cache_file.stat().st_mode & 0o777 == 0o600


def test_a_link_stays_a_link_to_the_export(tmp_path):
    config = _hand_made_cache(tmp_path)
    (tmp_path / "real").mkdir()
    real = tmp_path / "real" / "focus.csv"
    link = tmp_path / "latest.csv"
    link.symlink_to(real)
    result = _run(config, "--end-month", "2026-01", "--months-back", "1", "-o", str(link))
    assert result.exit_code == 0, result.output
    assert link.is_symlink() and real.is_file() and _header(real)[0] == "BilledCost"
    assert _run(config, "--end-month", "2026-02", "--months-back", "2", "-o", str(link)).exit_code == 0
    assert link.is_symlink() and {row["ChargePeriodStart"][:7] for row in _rows(real)} == {"2026-01", "2026-02"}


def test_old_temporary_files_of_other_names_are_left_alone(tmp_path):
    import os
    import time
    config = _hand_made_cache(tmp_path)
    theirs = tmp_path / ".notes.csv.x1y2.tmp"
    mine = tmp_path / ".*.csv.abcd1234.tmp"  # what a killed export to '*.csv' left
    for leftover in (theirs, mine):
        leftover.write_text("work")
        two_days_ago = time.time() - 2 * 86_400
        os.utime(leftover, (two_days_ago, two_days_ago))
    result = _run(config, "--end-month", "2026-01", "--months-back", "1", "-o", str(tmp_path / "*.csv"))
    assert result.exit_code == 0, result.output
    assert theirs.exists() and not mine.exists()


def test_contracted_cost_is_the_discounted_price_and_list_cost_without_a_discount(tmp_path):
    config = _hand_made_cache(tmp_path)
    # Cursor's chargedCents a little above the parts, without a discount
    write_cached_month(tmp_path / "cache" / "03-2026-usage-based-data.json", {
        "month": "03-2026", "fetched_at": "2026-04-05T00:00:00Z", "total_events": 1, "complete": True,
        "events": [usage_event("2026-03-03T10:00:00", email="ann@acme.test", total_cents=10, chargedCents=10.004)]})
    output = tmp_path / "focus.csv"
    assert _run(config, "--end-month", "2026-03", "--months-back", "3", "-o", str(output)).exit_code == 0
    rows = {(row["ChargePeriodStart"][:10], row["x_User"]): row for row in _rows(output)}
    bob = rows[("2026-01-10", "bob@acme.test")]  # 300 cents, 10 % off, billed 270.123456 cents
    assert (bob["ListCost"], bob["ContractedCost"], bob["BilledCost"], bob["EffectiveCost"], bob["x_Discount"]) == (
        "3.00000000", "2.70000000", "2.70123456", "2.70123456", "0.30000000")
    ann = rows[("2026-03-03", "ann@acme.test")]
    assert (ann["ListCost"], ann["ContractedCost"], ann["BilledCost"], ann["x_Discount"]) == (
        "0.10000000", "0.10000000", "0.10004000", "0.00000000")
    assert all(Decimal(row["ContractedCost"]) <= Decimal(row["ListCost"]) for row in rows.values())
    assert {(row["PricingUnit"], row["PricingQuantity"] == row["ConsumedQuantity"]) for row in rows.values()} == {
        ("Tokens", True)}
    assert bob["PricingQuantity"] == "10" and bob["x_Requests"] == "1"


def test_a_month_fetched_before_it_ended_is_called_incomplete(tmp_path):
    (tmp_path / "cache").mkdir()
    write_cached_month(tmp_path / "cache" / "11-2026-usage-based-data.json", {
        "month": "11-2026", "fetched_at": "2026-11-20T00:00:00Z", "total_events": 1, "complete": False,
        "events": [usage_event("2026-11-03T10:00:00", email="ann@acme.test", total_cents=100)]})
    config = tmp_path / "config.yaml"
    config.write_text("paths:\n  data_dir: cache\n")
    output = tmp_path / "focus.csv"
    result = _run(config, "--end-month", "2026-11", "--months-back", "1", "-o", str(output))
    assert result.stdout == f"Exported 1 FOCUS 1.2 rows ($1.00, November 2026) (November 2026 incomplete) to {output}\n"


@pytest.mark.parametrize("name", ["focus.json", "focus.parquet.gz", "focus", "focus.gz", ".csv"])
def test_a_name_of_another_format_is_refused(tmp_path, name):
    config = _hand_made_cache(tmp_path)
    result = _run(config, "--end-month", "2026-01", "--months-back", "1", "-o", str(tmp_path / name))
    assert result.exit_code == 1 and result.output.count("\n") == 1
    assert "must end in .csv, .csv.gz or .parquet" in result.output
    assert sorted(p.name for p in tmp_path.iterdir()) == ["cache", "config.yaml"]


def test_suffixes_in_capitals_standard_output_and_a_folder_name(tmp_path):
    config = _hand_made_cache(tmp_path)
    args = ("--end-month", "2026-01", "--months-back", "1", "-o")
    assert _run(config, *args, str(tmp_path / "FOCUS.PARQUET")).exit_code == 0
    assert (tmp_path / "FOCUS.PARQUET").read_bytes()[:4] == b"PAR1"
    assert _run(config, *args, str(tmp_path / "FOCUS.CSV.GZ")).exit_code == 0
    assert (tmp_path / "FOCUS.CSV.GZ").read_bytes()[:2] == b"\x1f\x8b"
    result = _run(config, *args, "-")
    assert result.exit_code == 1 and "not to standard output" in result.output and result.output.count("\n") == 1
    result = _run(config, *args, str(tmp_path / "newdir") + "/")
    assert result.exit_code == 1 and f"the folder {tmp_path / 'newdir'} does not exist" in result.output
    assert not (tmp_path / "newdir").exists()


def test_a_nul_in_a_name_never_reaches_the_csv(tmp_path):
    config = _hand_made_cache(tmp_path)
    write_cached_month(tmp_path / "cache" / "03-2026-usage-based-data.json", {
        "month": "03-2026", "fetched_at": "2026-04-05T00:00:00Z", "total_events": 1, "complete": True,
        "events": [usage_event("2026-03-03T10:00:00", email="nul\0@acme.test", model="gpt\0x", total_cents=5)]})
    for name in ("focus.csv", "events.csv.gz", "focus.parquet"):
        output = tmp_path / name
        assert _run(config, "--end-month", "2026-03", "--months-back", "1", "--format", name.split(".")[0],
                    "-o", str(output)).exit_code == 0
        users = "x_User" if name.startswith("focus") else '"user"'
        found = _read(output, f"SELECT {users} FROM t")
        if name.endswith(".parquet"):
            assert found == [("nul\0@acme.test",)]
        else:
            data = gzip.decompress(output.read_bytes()) if name.endswith(".gz") else output.read_bytes()
            assert b"\0" not in data and found == [("nul\ufffd@acme.test",)]


def test_parquet_names_its_focus_version_and_generator(tmp_path):
    import pyarrow.parquet as pq

    from billing_reports import __version__
    config = _hand_made_cache(tmp_path)
    output = tmp_path / "focus.parquet"
    assert _run(config, "--end-month", "2026-01", "--months-back", "1", "-o", str(output)).exit_code == 0
    metadata = pq.read_schema(output).metadata
    assert metadata[b"FocusVersion"] == b"1.2"
    assert metadata[b"DataGenerator"] == f"billing-reports {__version__}".encode()


@pytest.mark.parametrize("error, existing, words", [
    (30, False, "the folder {folder} is on a read-only file system"),
    (28, False, "no space left for it in {folder} (No space left on device)"),
    (13, True, "the folder {folder} is not writable by this user"),
])
def test_a_failed_write_says_why_and_what_became_of_the_file(tmp_path, monkeypatch, error, existing, words):
    import os
    config = _hand_made_cache(tmp_path)
    output = tmp_path / "focus.csv"
    if existing:
        assert _run(config, "--end-month", "2026-01", "--months-back", "1", "-o", str(output)).exit_code == 0
        before = output.read_bytes()

    def failing(self):
        raise OSError(error, os.strerror(error))
        yield  # (a generator)

    monkeypatch.setattr(writers._Counted, "__iter__", failing)
    result = _run(config, "--end-month", "2026-01", "--months-back", "1", "-o", str(output))
    assert result.exit_code == 1
    assert words.format(folder=tmp_path) in result.output
    if existing:
        assert "(the existing focus.csv is as it was)" in result.output and output.read_bytes() == before
    else:
        assert "(nothing was written)" in result.output and not output.exists()


KEY = "k" * 32


def test_a_pseudonymised_export_names_nobody(tmp_path, monkeypatch):
    from billing_reports.pseudonyms import Pseudonyms
    config = _hand_made_cache(tmp_path, config="privacy:\n  pseudonymise: true\n")
    args = ("--end-month", "2026-02", "--months-back", "2")
    monkeypatch.delenv("BILLING_REPORTS_PSEUDONYM_KEY", raising=False)
    result = _run(config, *args, "-o", str(tmp_path / "f.csv"))
    assert result.exit_code == 1 and "BILLING_REPORTS_PSEUDONYM_KEY" in result.output
    assert not (tmp_path / "f.csv").exists()
    monkeypatch.setenv("BILLING_REPORTS_PSEUDONYM_KEY", KEY)
    people = Pseudonyms(KEY)
    for name in ("focus.csv", "ledger.csv", "events.csv", "focus.parquet"):
        output = tmp_path / name
        result = _run(config, *args, "--format", name.split(".")[0], "-o", str(output))
        assert result.exit_code == 0, result.output
        data = output.read_bytes()
        for secret in (b"ann@", b"bob@", b"acme.test", b"nightly-ci", b"quoted"):
            assert secret not in data, (name, secret)
    rows = _rows(tmp_path / "focus.csv")
    assert people.user("ann@acme.test") in {row["x_User"] for row in rows}
    assert {row["BillingAccountId"] for row in rows} == {"cursor-team"}
    # the note says where the id came from in a sentence that reads
    assert ("Note: BillingAccountId cursor-team is the fixed id of a pseudonymised export, which names no e-mail "
            "domain; set billing.account_id") in result.stderr
    events = _rows(tmp_path / "events.csv")
    bob = next(row for row in events if row["day"] == "2026-01-10")
    assert bob["user"] == bob["user_email"] == people.user("bob@acme.test")
    # the same figures as the full export, the contracted costs too
    monkeypatch.delenv("BILLING_REPORTS_PSEUDONYM_KEY")
    full = _hand_made_cache(tmp_path / "full")
    assert _run(full, *args, "-o", str(tmp_path / "full" / "focus.csv")).exit_code == 0
    totals = "SELECT sum(BilledCost), sum(ContractedCost), sum(ListCost), count(*) FROM t"
    assert _read(tmp_path / "focus.csv", totals) == _read(tmp_path / "full" / "focus.csv", totals)
    # --pseudonymise asks for it without the config
    monkeypatch.setenv("BILLING_REPORTS_PSEUDONYM_KEY", KEY)
    result = _run(full, *args, "--pseudonymise", "-o", str(tmp_path / "full" / "p.csv"))
    assert result.exit_code == 0 and b"acme.test" not in (tmp_path / "full" / "p.csv").read_bytes()
