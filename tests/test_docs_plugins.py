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
from billing_reports.plugins import get_plugin_manager

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
    exec(compile(code.group(1), str(path), "exec"), module.__dict__)
    return module


def test_the_hookspecs_are_found():
    assert HOOKS == ["register_publish_targets", "register_sections", "register_template_dirs"]


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
