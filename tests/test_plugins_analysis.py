"""Running section plugins: order, broken plugins named, skipping them, the plugins command."""

from __future__ import annotations

import dataclasses
import json

import pytest
from click.testing import CliRunner

from billing_reports import Section, hookimpl
from billing_reports.analysis import run_sections
from billing_reports.cli import cli
from billing_reports.errors import PluginError
from billing_reports.plugin_manager import get_plugin_manager


class EarlySection:
    @hookimpl
    def register_sections(self, register):
        register(Section("aaa-first", "First", order=-5))
        register(Section("between", "Between", order=10))  # same order as top-cost-users: slug decides


class Broken:
    @hookimpl
    def register_sections(self, usage):
        raise ZeroDivisionError("no data in this month")


class NotASection:
    @hookimpl
    def register_sections(self, register):
        register({"slug": "raw"})


class TwiceTheSame:
    @hookimpl
    def register_sections(self, register):
        register(Section("notes", "Notes", order=1))
        register(Section("notes", "More notes", order=2))


class Duplicate:
    @hookimpl
    def register_sections(self, register):
        register(Section("summary", "Another summary", order=1))


def _manager(*plugins):
    manager = get_plugin_manager(load_entry_points=False)
    for plugin in plugins:
        manager.register(plugin, name=type(plugin).__name__)
    return manager


def test_sections_are_ordered_by_order_then_slug(analysis_usage, analysis_settings):
    sections, failures = run_sections(_manager(EarlySection()), analysis_usage, analysis_settings)
    assert failures == []
    assert [s.slug for s in sections][:4] == ["aaa-first", "summary", "between", "top-cost-users"]


@pytest.mark.parametrize(
    "plugin, error",
    [
        (Broken(), "ZeroDivisionError: no data in this month"),
        (NotASection(), "TypeError: registered a dict, not a billing_reports.Section"),
        (Duplicate(), "ValueError: section slug 'summary' is already used by billing_reports.builtin_plugins.summary"),
        (TwiceTheSame(), "ValueError: section slug 'notes' is already used by TwiceTheSame"),
    ],
)
def test_a_broken_plugin_stops_the_run_by_name(plugin, error, analysis_usage, analysis_settings):
    with pytest.raises(PluginError) as raised:
        run_sections(_manager(plugin), analysis_usage, analysis_settings)
    assert f"plugin {type(plugin).__name__} failed: {error}" in raised.value.message
    assert "--skip-broken-plugins" in raised.value.message


def test_skip_broken_plugins_reports_and_goes_on(analysis_usage, analysis_settings):
    settings = dataclasses.replace(analysis_settings, skip_broken_plugins=True)
    sections, failures = run_sections(_manager(Broken()), analysis_usage, settings)
    assert [(f.name, f.error) for f in failures] == [("Broken", "ZeroDivisionError: no data in this month")]
    built_in, _ = run_sections(_manager(), analysis_usage, settings)
    assert len(built_in) >= 9 and [s.slug for s in sections] == [s.slug for s in built_in]  # all but the broken one


def test_plugins_dir_files_load_and_import_errors_are_listed(tmp_path, monkeypatch):
    plugins_dir = tmp_path / "plugins"
    plugins_dir.mkdir()
    (plugins_dir / "team_notes.py").write_text(
        "from billing_reports import Section, hookimpl\n\n"
        "@hookimpl\ndef register_sections(register, usage):\n"
        "    register(Section('team-notes', 'Team notes', order=99, intro=f'{len(usage.months)} month(s)'))\n"
    )
    (plugins_dir / "typo.py").write_text("import no_such_module_anywhere\n")
    (tmp_path / "config.yaml").write_text("paths:\n  plugins_dir: plugins\n")
    result = CliRunner().invoke(cli, ["plugins", "--format", "json", "--config", str(tmp_path / "config.yaml")])
    assert result.exit_code == 0, result.output
    listed = [plugin for plugin in json.loads(result.output) if not plugin["builtin"]]
    assert listed[0] == {
        "name": str(plugins_dir / "team_notes.py"),
        "builtin": False,
        "version": None,  # a plain file has no distribution to take a version from
        "settings": None,
        "hooks": ["register_sections"],
        "sections": [{"slug": "team-notes", "title": "Team notes", "order": 99, "roles": []}],
    }
    assert listed[1]["name"] == str(plugins_dir / "typo.py")
    assert listed[1]["error"] == "ModuleNotFoundError: No module named 'no_such_module_anywhere'"


def test_plugins_lists_the_built_ins_with_their_sections_and_settings(tmp_path):
    result = CliRunner().invoke(cli, ["plugins", "--config", str(tmp_path / "none.yaml")])
    assert result.exit_code == 1  # an explicit --config must exist
    (tmp_path / "config.yaml").write_text("billing:\n  months_back: 1\n")
    result = CliRunner().invoke(cli, ["plugins", "--format", "json", "--config", str(tmp_path / "config.yaml")])
    assert result.exit_code == 0, result.output
    by_name = {p["name"]: p for p in json.loads(result.output)}
    summary = by_name["billing_reports.builtin_plugins.summary"]
    from billing_reports import __version__

    assert summary == {"name": "billing_reports.builtin_plugins.summary", "builtin": True, "settings": None,
                       "hooks": ["register_sections"], "version": __version__,
                       "sections": [{"slug": "summary", "title": "Summary", "order": 0,
                                     "roles": ["summary-cards", "report-text"]}]}
    expensive = by_name["billing_reports.builtin_plugins.users_x_expensive_models"]["settings"]
    assert expensive["name"] == "expensive-models"
    assert expensive["keys"][0] == {"key": "count", "expected": "an integer from 1 to 1000000000", "default": 3,
                                    "help": "the costliest models by average cost per request..."}
    slugs = sorted(s["slug"] for p in by_name.values() for s in p.get("sections", []))
    assert slugs == sorted(["summary", "top-cost-users", "users-x-expensive-models", "top-cost-models",
                            "model-economics", "monthly-trend", "change-explained", "daily",
                            "monthly-model-breakdown", "monthly-user-breakdown", "reconciliation", "chargeback"])
    directory = by_name["billing_reports.publish.targets.directory"]
    assert (directory["hooks"], directory["sections"], directory["publish_targets"]) == (
        ["register_publish_targets"], [], ["directory"])
    assert sorted(kind for p in by_name.values() for kind in p.get("publish_targets", [])) == [
        "directory", "git", "rsync", "s3"]
    text = CliRunner().invoke(cli, ["plugins", "--config", str(tmp_path / "config.yaml")]).output.splitlines()
    assert text[0].split() == ["NAME", "BUILT-IN", "SETTINGS", "HOOKS", "ADDS"]
    assert any(line.split()[:3] == ["billing_reports.builtin_plugins.users_x_expensive_models", "yes",
                                    "expensive-models"] for line in text)
    assert len(text) == 1 + len(by_name)  # every plugin, one line each


class QuotesAName:
    @hookimpl
    def register_sections(self, usage):
        raise ValueError("no team for mallory\x1b]0;owned\x07@example.com\nWarning: all good" + "!" * 1000)


def test_a_plugin_error_quoting_a_name_from_the_cache_is_shown_clean_and_short(analysis_usage, analysis_settings):
    settings = dataclasses.replace(analysis_settings, skip_broken_plugins=True)
    _, failures = run_sections(_manager(QuotesAName()), analysis_usage, settings)
    [failure] = failures
    assert failure.error.startswith("ValueError: no team for mallory@example.com Warning: all good!!!")
    assert failure.error.isprintable() and len(failure.error) < 320


class MistypedRole:
    @hookimpl
    def register_sections(self, register):
        register(Section("typo", "Typo", order=1, roles=("sumary-cards",)))


class OneStringRole:
    @hookimpl
    def register_sections(self, register):
        register(Section("one", "One", order=1, roles="summary-cards"))


@pytest.mark.parametrize("plugin, error", [
    (MistypedRole(), "ValueError: section 'typo' declares an unknown role 'sumary-cards'; expected "
                     "dashboard-preview, headline-trend, report-text, summary-cards"),
    (OneStringRole(), "TypeError: section 'one': roles is one string; give a tuple, roles=('summary-cards',)"),
])
def test_a_section_with_an_unknown_role_is_a_failure_of_its_plugin(plugin, error, analysis_usage, analysis_settings):
    with pytest.raises(PluginError) as raised:
        run_sections(_manager(plugin), analysis_usage, analysis_settings)
    assert f"plugin {type(plugin).__name__} failed: {error}" in raised.value.message


class PagesOfAllKinds:
    @hookimpl
    def register_pages(self, register):
        from billing_reports import Page

        register(Page("sheet", "Sheet", "sheet.html"))
        register(Page("sheet", "Sheet again", "sheet.html"))


class NotAPage:
    @hookimpl
    def register_pages(self, register):
        register({"slug": "raw"})


class PageNamingWhatTheSiteGives:
    @hookimpl
    def register_pages(self, register):
        from billing_reports import Page

        register(Page("sheet", "Sheet", "sheet.html", context={"title": "mine", "rows": []}))


@pytest.mark.parametrize("plugin, error", [
    (PagesOfAllKinds(), "ValueError: page slug 'sheet' is already used by PagesOfAllKinds"),
    (NotAPage(), "TypeError: registered a dict, not a billing_reports.Page"),
    (PageNamingWhatTheSiteGives(), "ValueError: page 'sheet': its context may not name 'title', which every "
                                   "page gets from the site"),
])
def test_a_broken_page_plugin_is_named_or_skipped(plugin, error, analysis_usage, analysis_settings):
    from billing_reports.analysis import run_pages

    with pytest.raises(PluginError) as raised:
        run_pages(_manager(plugin), analysis_usage, analysis_settings)
    assert f"plugin {type(plugin).__name__} failed: {error}" in raised.value.message
    settings = dataclasses.replace(analysis_settings, skip_broken_plugins=True)
    pages, failures = run_pages(_manager(plugin), analysis_usage, settings)
    assert pages == [] and [f.name for f in failures] == [type(plugin).__name__]
