"""The core (``billing_reports/``) names none of the built-in plugins: no module, section slug,
settings name, table slug or column key of theirs appears in its code, so a third-party plugin can
do all that a built-in one does. The dashboard and the terminal pick sections by role.

Words the core has for its own sake (value and chart kinds, grains, the keys of its own tables on
the user, model and data-quality pages) may coincide with a plugin's column key: those are computed,
not listed by hand, and only a few JSON keys of the core's own documents are listed, with why.
"""

from __future__ import annotations

import ast
import typing
from pathlib import Path

import pytest

from billing_reports import periods, sections as sections_module
from billing_reports.analysis import analyse
from billing_reports.months import Month, months_in_range
from billing_reports.plugin_manager import builtin_plugin_modules
from billing_reports.plugin_settings import declared_settings
from billing_reports.site import drilldown
from billing_reports.site.quality import data_quality_section, fetches_table
from billing_reports import team_snapshots
from billing_reports.usage import UsageTotals, rank

CORE = Path(__file__).parent.parent / "billing_reports"
BUILTIN_SECTIONS = "billing_reports.builtin_plugins"
#: Strings of the core that equal a built-in's column key or table slug by coincidence, and why.
CORE_OWN_WORDS = {
    "rank": "usage.rank, a function of the core (in usage's __all__)",
}


def _core_strings() -> dict[str, set[str]]:
    """Every string constant of the core's code (docstrings aside) -> the files it is in."""
    found: dict[str, set[str]] = {}
    for path in sorted(CORE.rglob("*.py")):
        tree = ast.parse(path.read_text(encoding="utf-8"))
        docstrings = {
            id(node.body[0].value) for node in ast.walk(tree)
            if isinstance(node, (ast.Module, ast.ClassDef, ast.FunctionDef, ast.AsyncFunctionDef))
            and node.body and isinstance(node.body[0], ast.Expr) and isinstance(node.body[0].value, ast.Constant)
        }
        for node in ast.walk(tree):
            if isinstance(node, ast.Constant) and isinstance(node.value, str) and id(node) not in docstrings:
                found.setdefault(node.value, set()).add(str(path.relative_to(CORE.parent)))
    return found


@pytest.fixture(scope="module")
def builtin_names(tmp_path_factory):
    """What the built-in section plugins name: ``(word, what it is)`` pairs, from running them."""
    from conftest import copy_analysis_cache
    from billing_reports.settings import load_settings

    root = tmp_path_factory.mktemp("blind")
    (root / "config.yaml").write_text(f"paths:\n  data_dir: {copy_analysis_cache(root / 'cache')}\n")
    settings = load_settings(root / "config.yaml")
    analysis = analyse(settings, months_in_range(Month(2026, 3), 5))
    builtin = [s for s in analysis.sections]
    slugs = {s.slug for s in builtin}
    keys = {column.key for s in builtin for table in s.tables for column in table.columns}
    keys |= {table.slug for s in builtin for table in s.tables if not _is_month_key(table.slug)}
    manager, _ = settings.loaded_plugins()
    settings_names = {block.name for block in declared_settings(manager, []).values()}
    return analysis.usage, slugs, keys, settings_names


def _is_month_key(text: str) -> bool:
    try:
        Month.parse(text)
    except ValueError:
        return False
    return True


def _core_vocabulary(usage) -> set[str]:
    """The core's own words: value and chart kinds, grains, roles, and the column keys and table slugs
    of the pages the core makes itself (a user's, a model's, the directories, data quality)."""
    words = {*typing.get_args(sections_module.ValueKind), *typing.get_args(sections_module.ChartKind),
             *periods.GRAINS, *sections_module.ROLES, *team_snapshots.SNAPSHOT_KINDS}
    index = drilldown.UsageIndex.of(usage)
    days = usage.chart_days(drilldown.DAILY_CHART_DAYS)
    users = drilldown.ranks([r.name for r in rank(
        {user: UsageTotals.sum(models.values()) for user, models in index.user_model.items()})])
    models = drilldown.ranks([r.name for r in rank(
        {model: UsageTotals.sum(found.values()) for model, found in index.model_user.items()})])
    own = [drilldown.users_directory(usage, index), drilldown.models_directory(usage, index),
           data_quality_section(usage)]
    own += [drilldown.user_section(user, usage, index, users, days) for user in index.user_model]
    own += [drilldown.model_section(model, usage, index, models, days) for model in index.model_user]
    tables = [table for section in own for table in section.tables] + [fetches_table(usage)]
    words |= {column.key for table in tables for column in table.columns} | {table.slug for table in tables}
    words |= {chart.slug for section in own for chart in section.charts}
    return words


def test_the_core_names_no_built_in_plugin_module():
    stems = [name.rsplit(".", 1)[1] for name in builtin_plugin_modules() if name.startswith(BUILTIN_SECTIONS + ".")]
    assert len(stems) >= 8
    for path in CORE.rglob("*.py"):
        text = path.read_text(encoding="utf-8")
        for stem in stems:
            assert f"builtin_plugins.{stem}" not in text and f"plugins.{stem}" not in text, (path, stem)
    strings = _core_strings()
    assert not [stem for stem in stems if stem in strings], "a built-in plugin's module name is in the core"


def test_the_core_names_no_built_in_section_slug_or_settings_name(builtin_names):
    usage, slugs, _, settings_names = builtin_names
    assert {"summary", "monthly-trend", "top-cost-models"} <= slugs and "expensive-models" in settings_names
    vocabulary = _core_vocabulary(usage)
    strings = _core_strings()
    named = {word: sorted(strings[word]) for word in (slugs | settings_names) - vocabulary if word in strings}
    assert named == {}, "the core picks sections by role, never by slug, and reads no plugin's settings"


def test_the_core_names_no_built_in_column_key_or_table_slug(builtin_names):
    usage, _, keys, _ = builtin_names
    assert {"spend", "total_tokens", "ranking"} <= keys
    vocabulary = _core_vocabulary(usage) | CORE_OWN_WORDS.keys()
    strings = _core_strings()
    named = {word: sorted(strings[word]) for word in keys - vocabulary if word in strings}
    assert named == {}, "the core narrows a section's tables and columns only by what the section declares"


def test_the_check_would_catch_a_slug_in_the_core(builtin_names, monkeypatch, tmp_path):
    """The scan is not vacuous: the code this work removed from the core is caught."""
    usage, slugs, keys, _ = builtin_names
    removed = 'SUMMARY_SLUG = "summary"\nTREND_SLUG = "monthly-trend"\nTEXT = ("ranking", ("total_tokens",))\n'
    tree = ast.parse(removed)
    constants = {node.value for node in ast.walk(tree) if isinstance(node, ast.Constant) and isinstance(node.value, str)}
    vocabulary = _core_vocabulary(usage)
    assert {"summary", "monthly-trend"} <= (constants & slugs) - vocabulary
    assert {"ranking", "total_tokens"} <= (constants & keys) - vocabulary
