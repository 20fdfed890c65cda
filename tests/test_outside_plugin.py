"""A plugin written outside the repository, installed through its entry point into a temporary
directory, with its own block of config.yaml: a card on the dashboard, a section page, a command
and a page of its own, exactly as a built-in plugin gets them.

The hand-computed cache (tests/fixtures/analysis) spends 419.80833 cents from November 2025 to
March 2026: 145.75 + 58.1 (Platform), 185.625 (b), 30.33333 (the removed user).
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
from conftest import copy_analysis_cache

CLI = Path(sys.executable).parent / "billing-reports"
RANGE = ("--end-month", "2026-03", "--months-back", "5")

PLUGIN = '''
"""Team budget: the range's spend against a monthly budget (a plugin nobody at billing-reports wrote)."""

from pathlib import Path
from typing import Annotated

import click
import msgspec

from billing_reports import Column, Figure, Page, Section, Table, hookimpl


class BudgetSettings(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    monthly_budget_usd: Annotated[float, msgspec.Meta(ge=0, description="the team's budget per month")] = 100.0
    owner: Annotated[str, msgspec.Meta(description="who answers for the budget")] = "finance"


def budget_left(usage, budget):
    """Micro-cents: the budget of every month in range less the range's spend."""
    return round(budget.monthly_budget_usd * 100 * 1_000_000) * len(usage.months) - usage.total.cost


@hookimpl
def register_settings(register):
    register("team-budget", BudgetSettings)


@hookimpl
def register_sections(register, usage, settings):
    budget = settings.plugin("team-budget")
    register(Section(
        slug="team-budget", title="Team budget", order=70, roles=("summary-cards", "dashboard-preview"),
        figures=[Figure("Budget left", budget_left(usage, budget), "money", f"owner: {budget.owner}")],
        tables=[Table("months", "Spend per month", [Column("month", "Month", "month"),
                                                     Column("spend", "Spend", "money")],
                      [[m.key, usage.month_total(m).cost] for m in usage.months])],
    ))


@hookimpl
def register_template_dirs(register):
    register(Path(__file__).parent / "team_budget_templates")


@hookimpl
def register_pages(register, usage, settings):
    budget = settings.plugin("team-budget")
    register(Page("budget-sheet", "Budget sheet", "budget_sheet.html",
                  context={"owner": budget.owner, "months": [m.label for m in usage.months]}))


@hookimpl
def register_commands(cli):
    from billing_reports.analysis import analyse
    from billing_reports.commands.options import config_option, report_range_options
    from billing_reports.money import format_money

    @cli.command(name="budget")
    @config_option
    @report_range_options
    def budget_command(settings, months, report_range):
        """Print what is left of the team's budget."""
        analysis = analyse(settings, months, report_range=report_range)
        budget = settings.plugin("team-budget")
        click.echo(f"Budget left: {format_money(budget_left(analysis.usage, budget))} (owner: {budget.owner})")
'''

TEMPLATE = '''{% extends "default:base.html" %}
{% block main %}
<h1 id="sheet">Budget sheet</h1>
<p class="owner">Owner: {{ owner }}</p>
<ul>{% for month in months %}<li>{{ month }}</li>{% endfor %}</ul>
{% endblock %}
'''


@pytest.fixture(scope="module")
def installed(tmp_path_factory) -> Path:
    """The plugin module, its templates and a distribution's metadata with the entry point."""
    root = tmp_path_factory.mktemp("outside-plugin")
    (root / "team_budget.py").write_text(PLUGIN, encoding="utf-8")
    (root / "team_budget_templates").mkdir()
    (root / "team_budget_templates" / "budget_sheet.html").write_text(TEMPLATE, encoding="utf-8")
    dist = root / "team_budget-1.2.dist-info"
    dist.mkdir()
    (dist / "METADATA").write_text("Metadata-Version: 2.1\nName: team-budget\nVersion: 1.2\n", encoding="utf-8")
    (dist / "entry_points.txt").write_text("[billing_reports]\nteam_budget = team_budget\n", encoding="utf-8")
    return root


def _config(tmp_path: Path, block: str) -> Path:
    config = tmp_path / "config.yaml"
    config.write_text(f"paths:\n  data_dir: {copy_analysis_cache(tmp_path / 'cache')}\n  site_dir: site\n"
                      f"plugins:\n{textwrap.indent(block, '  ')}", encoding="utf-8")
    return config


def _run(installed: Path, config: Path | None, *args: str) -> subprocess.CompletedProcess:
    env = {**os.environ, "PYTHONPATH": str(installed), "BILLING_REPORTS_LOAD_ENTRY_POINTS": "1"}
    options = ["--config", str(config)] if config else []
    return subprocess.run([str(CLI), *args, *options], env=env, capture_output=True, text=True)


HOSTILE_OWNER = "Ann <script>alert(1)</script>"


def test_the_outside_plugin_puts_a_card_a_section_a_page_and_a_command_in(installed, tmp_path):
    config = _config(tmp_path, f"team-budget:\n  monthly_budget_usd: 5\n  owner: {json.dumps(HOSTILE_OWNER)}\n")
    built = _run(installed, config, "build", "--offline", *RANGE)
    assert built.returncode == 0, built.stderr
    site = tmp_path / "site"
    dashboard = (site / "billing_dashboard.html").read_text(encoding="utf-8")
    cards = dict(re.findall(r'<div class="card-label">(.*?)</div>\s*<div class="card-value">(.*?)</div>', dashboard))
    # 5 months x $5.00 = $25.00, less 419.80833 cents: $20.8019167, shown $20.80
    assert cards["Budget left"] == "$20.80"
    assert cards["Total on-demand spend"] == "$4.20"  # the built-in cards are still there, first
    assert list(cards).index("Total on-demand spend") < list(cards).index("Budget left")
    # previewed on the dashboard like a built-in section, linking to its own page
    assert 'id="glance-team-budget"' in dashboard and 'href="team-budget.html"' in dashboard
    section = (site / "team-budget.html").read_text(encoding="utf-8")
    assert "<h1>Team budget</h1>" in section and (site / "data" / "team-budget--months.csv").is_file()
    # its own page, its own template, linked from the navigation, the owner escaped
    sheet = (site / "budget-sheet.html").read_text(encoding="utf-8")
    assert '<h1 id="sheet">Budget sheet</h1>' in sheet and "<li>January 2026</li>" in sheet
    assert "<script>alert(1)</script>" not in sheet and "Ann &lt;script&gt;" in sheet
    assert 'href="budget-sheet.html"' in dashboard
    # its command, reading the same block and the same analysis
    command = _run(installed, config, "budget", *RANGE)
    assert command.returncode == 0, command.stderr
    assert command.stdout == f"Budget left: $20.80 (owner: {HOSTILE_OWNER})\n"
    listed = _run(installed, None, "--help").stdout
    assert re.search(r"^  budget\s+Print what is left of the team's budget", listed, re.MULTILINE), listed


def test_the_listing_shows_the_outside_plugin_beside_the_built_ins(installed, tmp_path):
    config = _config(tmp_path, "team-budget:\n  owner: Ann\n")
    listed = _run(installed, config, "plugins", "--format", "json")
    assert listed.returncode == 0, listed.stderr
    by_name = {plugin["name"]: plugin for plugin in json.loads(listed.stdout)}
    plugin = by_name["team_budget"]
    assert (plugin["builtin"], plugin["version"], plugin["settings"]["name"]) == (False, "1.2", "team-budget")
    assert plugin["hooks"] == ["register_commands", "register_pages", "register_sections", "register_settings",
                               "register_template_dirs"]
    assert [s["slug"] for s in plugin["sections"]] == ["team-budget"]
    assert plugin["commands"] == ["budget"] and plugin["pages"] == ["budget-sheet"]
    assert plugin["settings"]["keys"][0] == {"key": "monthly_budget_usd", "expected": "a number of at least 0",
                                             "default": 100.0, "help": "the team's budget per month"}
    assert any(p["builtin"] and p["settings"] and p["settings"]["name"] == "expensive-models"
               for p in by_name.values())
    text = _run(installed, config, "plugins")
    assert re.search(r"^team_budget\s+no\s+team-budget\s", text.stdout, re.MULTILINE), text.stdout


def test_a_mistyped_or_unknown_key_of_its_block_is_reported_with_every_other_problem(installed, tmp_path):
    config = _config(tmp_path, "team-budget:\n  monthly_budget_usd: abc\n  colour: red\n"
                               "expensive-models:\n  count: 0\n")
    config.write_text(config.read_text() + "billing:\n  months_back: 0\n", encoding="utf-8")
    built = _run(installed, config, "build", "--offline", *RANGE)
    assert built.returncode == 1
    lines = [line.strip() for line in built.stderr.splitlines()]
    assert lines[0] == f"Error: {config}: 4 problems; fix them and run again:"
    assert sorted(lines[1:]) == [
        "billing.months_back: expected an integer from 1 to 120, found 0",
        "plugins.expensive-models.count: expected an integer from 1 to 1000000000, found 0",
        "plugins.team-budget.colour: unknown key; expected one of monthly_budget_usd, owner",
        "plugins.team-budget.monthly_budget_usd: expected a number of at least 0, found 'abc'",
    ]
    assert not (tmp_path / "site").exists()  # nothing ran
