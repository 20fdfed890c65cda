"""examples/cost-by-team, pip-installed into a temporary directory, found through its entry point.

Teams of the hand-computed cache (tests/fixtures/analysis): Platform = a (145.75c) + c (58.1c),
Payments = b (185.625c), and the removed user (30.33333c) has no team.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import copy_analysis_cache

EXAMPLE = Path(__file__).parent.parent / "examples" / "cost-by-team"
CLI = Path(sys.executable).parent / "billing-reports"


@pytest.fixture(scope="module")
def installed(tmp_path_factory) -> Path:
    """The example installed (no build isolation, no network) into its own directory."""
    root = tmp_path_factory.mktemp("cost-by-team")
    source = root / "source"
    shutil.copytree(EXAMPLE, source, ignore=shutil.ignore_patterns("build", "*.egg-info", "__pycache__"))
    target = root / "site-packages"
    pip = subprocess.run(
        [sys.executable, "-m", "pip", "install", "--quiet", "--no-deps", "--no-build-isolation", "--no-index",
         "--target", str(target), str(source)],
        capture_output=True, text=True,
    )
    if pip.returncode != 0:
        pytest.fail(f"pip could not install {EXAMPLE} (the test extra brings setuptools and wheel):\n{pip.stderr}")
    return target


def _run(installed: Path, config: Path, *args: str) -> subprocess.CompletedProcess:
    env = {**os.environ, "PYTHONPATH": str(installed), "BILLING_REPORTS_LOAD_ENTRY_POINTS": "1"}
    return subprocess.run([str(CLI), *args, "--config", str(config)], env=env, capture_output=True, text=True)


@pytest.fixture
def config(tmp_path) -> Path:
    path = tmp_path / "config.yaml"
    path.write_text(f"paths:\n  data_dir: {copy_analysis_cache(tmp_path / 'cache')}\n", encoding="utf-8")
    shutil.copy(EXAMPLE / "teams.csv", tmp_path / "teams.csv")
    return path


def test_the_installed_plugin_is_listed_with_its_section_and_settings(installed, config):
    result = _run(installed, config, "plugins", "--format", "json")
    assert result.returncode == 0, result.stderr
    assert [plugin for plugin in json.loads(result.stdout) if not plugin["builtin"]] == [{
        "name": "cost_by_team",
        "builtin": False,
        "hooks": ["register_sections", "register_settings"],
        "version": "1.0.0",
        "settings": {"name": "cost-by-team", "keys": [{
            "key": "teams_csv", "expected": "a non-empty string", "default": "teams.csv",
            "help": "the CSV mapping emails to teams (columns email,team), relative to config.yaml"}]},
        "sections": [{"slug": "cost-by-team", "title": "Cost by team", "order": 65, "roles": ["dashboard-preview"]}],
    }]


def test_the_mapping_file_is_named_in_the_plugins_own_block(installed, config):
    (config.parent / "teams.csv").rename(config.parent / "people.csv")
    result = _run(installed, config, "report", "--end-month", "2026-03", "--months-back", "5", "--section",
                  "cost-by-team", "--format", "json")
    (section,) = json.loads(result.stdout)["sections"]
    assert section["tables"] == [] and "No team mapping yet" in section["intro"]
    config.write_text(config.read_text() + "plugins:\n  cost-by-team:\n    teams_csv: people.csv\n")
    result = _run(installed, config, "report", "--end-month", "2026-03", "--months-back", "5", "--section",
                  "cost-by-team", "--format", "json")
    assert result.returncode == 0, result.stderr
    (section,) = json.loads(result.stdout)["sections"]
    assert [row["team"] for row in section["tables"][0]["rows"]] == ["Platform", "Payments", "(no team)"]
    config.write_text(config.read_text() + "    team_csv: typo.csv\n")
    result = _run(installed, config, "report")
    assert result.returncode == 1
    assert "plugins.cost-by-team.team_csv: unknown key; expected one of teams_csv" in result.stderr


def test_cost_by_team_figures(installed, config):
    result = _run(installed, config, "report", "--end-month", "2026-03", "--months-back", "5",
                  "--format", "json", "--section", "cost-by-team")
    assert result.returncode == 0, result.stderr
    (section,) = json.loads(result.stdout)["sections"]
    teams, per_month = section["tables"]
    # exact dollars (cents by hand: a 145.75 + c 58.1 = 203.85; b 185.625; the removed user 30.33333)
    assert [list(row.values()) for row in teams["rows"]] == [
        ["Platform", 2, "2.03850000", 48.6, 7],
        ["Payments", 1, "1.85625000", 44.2, 4],
        ["(no team)", 1, "0.30333330", 7.2, 1],
    ]
    assert list(teams["total"].values()) == ["Total", 4, "4.19808330", 100.0, 12]
    assert [list(row.values()) for row in per_month["rows"]] == [
        ["Platform", "0.00000000", "0.00000000", "1.73850000", "0.00000000", "0.30000000"],
        ["Payments", "0.00000000", "0.00000000", "0.75625000", "1.10000000", "0.00000000"],
        ["(no team)", "0.00000000", "0.00000000", "0.30333330", "0.00000000", "0.00000000"],
    ]


def test_a_broken_team_csv_stops_the_report_naming_the_plugin(installed, config):
    (config.parent / "teams.csv").write_text("mail,group\na@example.com,Platform\n", encoding="utf-8")
    result = _run(installed, config, "report", "--end-month", "2026-03", "--months-back", "5")
    assert result.returncode == 1
    assert result.stderr.splitlines()[-1].startswith(
        f"Error: plugin cost_by_team failed: ValueError: {config.parent / 'teams.csv'}: "
        "needs a header row with 'email' and 'team' columns."
    )
    assert "Traceback" not in result.stderr
