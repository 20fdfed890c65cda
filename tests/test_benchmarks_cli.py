"""``python -m benchmarks``: the generate and run commands, as a user calls them."""

from __future__ import annotations

from click.testing import CliRunner

from benchmarks.__main__ import cli


def test_generate_writes_the_cache_files_and_says_so(tmp_path):
    result = CliRunner().invoke(
        cli, ["generate", str(tmp_path / "data"), "--events", "2k", "--months", "2", "--end-month", "2026-02",
              "--users", "5", "--models", "2"])
    assert result.exit_code == 0, result.output
    assert result.output.startswith("Wrote 2k events (")
    assert result.output.rstrip().endswith(f"in 2 cache files to {tmp_path / 'data'}")
    assert sorted(path.name for path in (tmp_path / "data").iterdir()) == [
        "01-2026-usage-based-data.json", "02-2026-usage-based-data.json"]


def test_a_bad_size_is_one_line_naming_the_option():
    result = CliRunner().invoke(cli, ["run", "--sizes", "100k,lots"])
    assert result.exit_code == 2
    assert "Invalid value for '--sizes'" in result.output
    assert "'lots'" in result.output


def test_a_small_run_prints_the_build_table(tmp_path):
    result = CliRunner().invoke(
        cli, ["run", "--skip-fetch", "--skip-duckdb", "--sizes", "3k", "--months", "2", "--users", "10",
              "--models", "3", "--work-dir", str(tmp_path)])
    assert result.exit_code == 0, result.output
    lines = result.stdout.splitlines()
    assert lines[0].startswith("Build from the cache, fetch skipped (2 months, 10 users, 3 models;")
    header, row = lines[2], lines[4]
    assert header.split()[:2] == ["events", "cache"] and row.split()[0] == "3k"
    assert row.split()[-1] == "yes"  # build found exactly the generated requests and cost
    assert "met     every run adds up to the generated requests and cost: 3k yes" in result.stdout
    assert list(tmp_path.iterdir()) == []  # the size's cache and site were removed


def test_rebuild_times_a_build_that_replaces_a_site(tmp_path):
    result = CliRunner().invoke(
        cli, ["run", "--skip-fetch", "--skip-duckdb", "--rebuild", "--sizes", "2k", "--months", "1",
              "--users", "5", "--models", "2", "--work-dir", str(tmp_path)])
    assert result.exit_code == 0, result.output
    assert result.stdout.startswith("Rebuild over an existing site, fetch skipped (1 months, 5 users, 2 models;")
    assert "every run adds up to the generated requests and cost: 2k yes" in result.stdout
