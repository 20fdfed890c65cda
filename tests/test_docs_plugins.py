"""docs/plugins.md documents every hook, and each hook's example works as written."""

from __future__ import annotations

import re
import types
import zipfile
from pathlib import Path

import pytest

from billing_reports import hookspecs
from billing_reports.analysis import run_sections
from billing_reports.months import Month
from billing_reports.plugin_manager import get_plugin_manager

DOC = Path(__file__).parent.parent / "docs" / "plugins.md"
HOOKS = sorted(name for name, value in vars(hookspecs).items() if hasattr(value, "billing_reports_spec"))


def _headings() -> dict[str, str]:
    """``## heading`` -> the text up to the next ``## `` heading."""
    parts = re.split(r"^## (.+)$", DOC.read_text(encoding="utf-8"), flags=re.MULTILINE)
    return {parts[i].strip(): parts[i + 1] for i in range(1, len(parts), 2)}


def _example_plugin(hook: str, tmp_path: Path) -> types.ModuleType:
    """The first ```python block under the hook's heading, imported as a module file in tmp_path."""
    code = re.search(r"```python\n(.*?)```", _headings()[hook], flags=re.DOTALL)
    assert code, f"docs/plugins.md: the {hook} section has no python example"
    path = tmp_path / f"example_{hook}.py"
    path.write_text(code.group(1), encoding="utf-8")
    module = types.ModuleType(path.stem)
    module.__file__ = str(path)
    exec(compile(code.group(1), str(path), "exec", dont_inherit=True), module.__dict__)  # (not this file's
    return module                                                                         # __future__ imports)


def test_the_hookspecs_are_found():
    assert HOOKS == ["register_alert_rules", "register_commands", "register_groups", "register_notifiers",
                     "register_pages", "register_publish_targets", "register_sections", "register_settings",
                     "register_template_dirs"]


@pytest.mark.parametrize("hook", HOOKS)
def test_every_hook_has_a_heading_and_an_example(hook):
    headings = _headings()
    assert hook in headings, f"docs/plugins.md has no '## {hook}' heading: document the hook"
    assert "@hookimpl" in headings[hook] and f"def {hook}(" in headings[hook]


def test_register_sections_example(tmp_path, analysis_usage, analysis_settings):
    manager = get_plugin_manager(load_entry_points=False)
    manager.register(_example_plugin("register_sections", tmp_path), name="docs-example")
    sections, _ = run_sections(manager, analysis_usage, analysis_settings)
    section = next(s for s in sections if s.slug == "removed-users")
    # the removed user spent 30.33333 cents, all in January 2026
    assert section.figures[0].display() == "$0.30"
    exported = section.table("months").export_rows()
    # exact dollars in the downloads: 30.33333 cents
    assert [(row["month"], row["spend_usd"]) for row in exported] == [
        ("2025-11", "0.00000000"), ("2025-12", "0.00000000"), ("2026-01", "0.30333330"), ("2026-02", "0.00000000"),
        ("2026-03", "0.00000000"), ("Total", "0.30333330"),
    ]


def test_register_publish_targets_example(tmp_path, analysis_settings):
    from billing_reports.publish import BuiltSite
    from billing_reports.publish.registry import publish_target_kinds

    manager = get_plugin_manager(load_entry_points=False)
    manager.register(_example_plugin("register_publish_targets", tmp_path), name="docs-example")
    target_class = publish_target_kinds(manager)["archive"]
    site_dir = tmp_path / "site"
    site_dir.mkdir()
    (site_dir / "billing_dashboard.html").write_text("<h1>spend</h1>")
    site = BuiltSite(site_dir, "2026-03-11T00:00:00Z", Month(2026, 1), Month(2026, 3),
                     ("billing_dashboard.html",), "billing_dashboard.html")
    target = target_class("archive", {"path": str(tmp_path / "archives")}, analysis_settings)
    assert [str(change) for change in target.publish(site)] == ["add    site.zip"]
    with zipfile.ZipFile(tmp_path / "archives" / "site.zip") as archive:
        assert archive.read("billing_dashboard.html") == b"<h1>spend</h1>"


def test_register_template_dirs_example(tmp_path):
    from billing_reports.site.environment import plugin_template_dirs

    manager = get_plugin_manager(load_entry_points=False)
    manager.register(_example_plugin("register_template_dirs", tmp_path), name="docs-example")
    assert tmp_path / "templates" in plugin_template_dirs(manager)


def _block(hook: str, language: str, index: int = 0) -> str:
    return re.findall(rf"```{language}\n(.*?)```", _headings()[hook], flags=re.DOTALL)[index]


def test_register_settings_example(tmp_path, analysis_config):
    from billing_reports.analysis import analyse
    from billing_reports.errors import ConfigError
    from billing_reports.months import months_in_range
    from billing_reports.settings import load_settings

    manager = get_plugin_manager(load_entry_points=False)
    manager.register(_example_plugin("register_settings", tmp_path), name="docs-example")
    config = analysis_config.read_text(encoding="utf-8")  # (its plugins: block holds expensive-models)
    analysis_config.write_text(config.replace("plugins:\n", _block("register_settings", "yaml")), encoding="utf-8")
    settings = load_settings(analysis_config, manager=manager)
    alert = settings.plugin("spend-alert")
    assert (alert.threshold_usd, alert.recipients) == (250.0, ("finance@example.com",))
    analysis = analyse(settings, months_in_range(Month(2026, 3), 5), manager=manager)
    section = next(s for s in analysis.sections if s.slug == "spend-alert")
    assert section.figures[0].value == "no"  # $4.20 of spend, under $250
    analysis_config.write_text(config.replace("plugins:\n", "plugins:\n  spend-alert:\n    threshold_usd: abc\n"
                                                             "    cc: [x]\n"), encoding="utf-8")
    with pytest.raises(ConfigError) as raised:
        load_settings(analysis_config, manager=manager)
    assert raised.value.message.splitlines()[1:] == [  # in the file's order
        "  plugins.spend-alert.threshold_usd: expected a number of at least 0, found 'abc'",
        "  plugins.spend-alert.cc: unknown key; expected one of recipients, threshold_usd",
    ]


def test_register_commands_example(tmp_path, analysis_config):
    import click
    from click.testing import CliRunner

    group = click.Group()
    module = _example_plugin("register_commands", tmp_path)
    module.register_commands(cli=group)
    result = CliRunner().invoke(group, ["top-spender", "--config", str(analysis_config), "--end-month", "2026-03",
                                        "--months-back", "5"])
    assert result.exit_code == 0, result.output
    assert result.output == "b@example.com: $1.86\n"  # 185.625 cents, the hand-computed cache's top spender


def test_register_pages_example(tmp_path, analysis_settings, analysis_usage):
    import dataclasses

    from billing_reports.analysis import run_pages
    from billing_reports.site import build_site

    (tmp_path / "templates").mkdir()
    (tmp_path / "templates" / "reconciliation.html").write_text(_block("register_pages", "html"), encoding="utf-8")
    manager = get_plugin_manager(load_entry_points=False)
    manager.register(_example_plugin("register_pages", tmp_path), name="docs-example")
    pages, failures = run_pages(manager, analysis_usage, analysis_settings)
    assert failures == [] and [page.slug for page in pages] == ["reconciliation"]
    settings = dataclasses.replace(analysis_settings, site_dir=tmp_path / "site")
    site = build_site(settings, analysis_usage, [], pages=pages, manager=manager)
    page = (site.directory / "reconciliation.html").read_text(encoding="utf-8")
    # January 2026 by hand (tests/test_plugin_example.py's teams): 173.85 + 75.625 + 30.33333 cents
    assert "<tr><td>January 2026</td><td>$2.80</td></tr>" in page
    assert 'href="reconciliation.html"' in (site.directory / "billing_dashboard.html").read_text(encoding="utf-8")


def test_register_alert_rules_example(tmp_path, analysis_usage, analysis_settings):
    """The example's rule over the hand-computed cache: a team day above $50 is none there (its days are
    cents), and above a limit of a tenth of a cent the busiest day of March is."""
    from billing_reports.analysis import run_alert_rules

    manager = get_plugin_manager(load_entry_points=False)
    module = _example_plugin("register_alert_rules", tmp_path)
    manager.register(module, name="docs-example")
    alerts, failures = run_alert_rules(manager, analysis_usage, analysis_settings)
    assert failures == [] and not [a for a in alerts if a.rule == "team-daily"]
    module.DAILY_LIMIT = 100_000  # a tenth of a cent
    alerts, _ = run_alert_rules(manager, analysis_usage, analysis_settings)
    mine = [a for a in alerts if a.rule == "team-daily"]
    period = analysis_usage.periods()[-1]
    busy = [day for day in range(period.first_day, period.last_day + 1)
            if analysis_usage.day_total(day).cost > 100_000]
    assert busy and sorted(a.key for a in mine) == sorted(f"team-daily/{day}" for day in busy)
    assert all(a.figures[0].value == analysis_usage.day_total(int(a.key.split("/")[1])).cost for a in mine)


def test_register_notifiers_example(tmp_path):
    import json

    from billing_reports.alerts import Alert
    from billing_reports.errors import ConfigError
    from billing_reports.notifications import configured_notifiers, deliver
    from billing_reports.settings import load_settings

    manager = get_plugin_manager(load_entry_points=False)
    manager.register(_example_plugin("register_notifiers", tmp_path), name="docs-example")
    config = tmp_path / "config.yaml"
    config.write_text(_block("register_notifiers", "yaml"), encoding="utf-8")
    notifiers = configured_notifiers(load_settings(config, manager=manager))
    alert = Alert(rule="spike", key="spike/user/ann@example.com/2026-03-02", severity="warning", subject_kind="user",
                  subject="ann@example.com", title="ann@example.com spent 9x their usual day")
    assert deliver(notifiers, [alert]) == []
    sent = [json.loads(line) for line in (tmp_path / "sent-alerts.jsonl").read_text(encoding="utf-8").splitlines()]
    assert sent == [{"key": alert.key, "severity": "warning", "subject": "ann@example.com", "title": alert.title}]
    config.write_text("notify:\n  audit:\n    type: alert-log\n    file: x\n", encoding="utf-8")
    with pytest.raises(ConfigError) as raised:
        configured_notifiers(load_settings(config, manager=manager))
    assert raised.value.message == f"{config}: notify.audit.file: unknown key; expected path"
