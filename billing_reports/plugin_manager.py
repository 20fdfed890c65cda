"""The plugin manager: built-ins, entry points, and a plugins directory.

(The top-level ``plugins/`` folder holds the built-in section plugins themselves.)

Built-in plugins (the modules of the top-level ``plugins/`` folder, installed as
``billing_reports.builtin_plugins``) are registered by module exactly as
third-party ones are; the core never special-cases them.
"""

from __future__ import annotations

import importlib
import importlib.util
import os
import pkgutil
import sys
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType

import pluggy

from . import hookspecs

ENTRY_POINT_GROUP = "billing_reports"
#: Packages whose modules are the built-in plugins: the analysis sections
#: (the top-level ``plugins/`` folder), the publish targets and the notifiers.
BUILTIN_PACKAGES = ("billing_reports.builtin_plugins", "billing_reports.publish.targets", "billing_reports.notifiers")
#: Set to ``0`` to keep installed third-party plugins out (the test suite does).
LOAD_ENTRY_POINTS_VARIABLE = "BILLING_REPORTS_LOAD_ENTRY_POINTS"


@dataclass(frozen=True)
class PluginFailure:
    """A plugin that could not be imported or raised in a hook."""

    name: str
    error: str


def builtin_plugin_modules() -> list[str]:
    """Module names of the built-in plugins, sorted within each package."""
    names = []
    for package_name in BUILTIN_PACKAGES:
        package = importlib.import_module(package_name)
        names += sorted(
            f"{package_name}.{info.name}"
            for info in pkgutil.iter_modules(package.__path__)
            if not info.name.startswith("_")
        )
    return names


def get_plugin_manager(
    plugins_dir: Path | None = None,
    *,
    load_entry_points: bool | None = None,
    failures: list[PluginFailure] | None = None,
) -> pluggy.PluginManager:
    """A plugin manager with the built-ins, entry-point plugins and ``plugins_dir`` files.

    A plugin that fails to import is appended to ``failures`` when a list is
    given; otherwise the import error propagates.
    """
    manager = pluggy.PluginManager("billing_reports")
    manager.add_hookspecs(hookspecs)
    for module_name in builtin_plugin_modules():
        manager.register(importlib.import_module(module_name), name=module_name)

    if load_entry_points is None:
        load_entry_points = os.environ.get(LOAD_ENTRY_POINTS_VARIABLE, "1") != "0"
    if load_entry_points:
        _load_entry_points(manager, failures)
    if plugins_dir is not None:
        for path in sorted(Path(plugins_dir).glob("*.py")):
            _guard(failures, str(path), lambda: manager.register(_import_file(path), name=str(path)))
    manager.check_pending()
    return manager


def _load_entry_points(manager: pluggy.PluginManager, failures: list[PluginFailure] | None) -> None:
    """Each plugin of the entry-point group, loaded on its own through pluggy's public
    ``load_setuptools_entrypoints`` (which also records its distribution for the version), so one
    that fails to import is reported by name and the others still load."""
    from importlib.metadata import entry_points

    for name in sorted({entry_point.name for entry_point in entry_points(group=ENTRY_POINT_GROUP)}):
        _guard(failures, name, lambda: manager.load_setuptools_entrypoints(ENTRY_POINT_GROUP, name=name))


def _import_file(path: Path) -> ModuleType:
    module_name = f"billing_reports_local_plugin_{path.stem}"
    spec = importlib.util.spec_from_file_location(module_name, path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[module_name] = module
    try:
        spec.loader.exec_module(module)
    except BaseException:
        del sys.modules[module_name]
        raise
    return module


def _guard(failures: list[PluginFailure] | None, name: str, load) -> None:
    if failures is None:
        load()
        return
    try:
        load()
    except Exception as error:  # a broken plugin is reported, not fatal here
        failures.append(PluginFailure(name, f"{type(error).__name__}: {error}"))


def is_builtin(name: str) -> bool:
    """Whether a registered plugin name is one of the built-ins."""
    return any(name == package or name.startswith(package + ".") for package in BUILTIN_PACKAGES)


def describe_plugins(manager: pluggy.PluginManager, *, usage=None, settings=None) -> list[dict]:
    """What ``billing-reports plugins`` lists: every plugin, built-ins included (``builtin``), with its
    version, hooks, settings block (its name under ``plugins:`` and each key's type, default and help)
    and what it adds: sections, pages, commands, publish targets, notifiers.

    Sections and pages are found by calling the plugin's hooks with ``usage`` (typically empty) and
    ``settings``; a plugin that raises there shows ``"error"`` instead. Sorted by name.
    """
    import click

    from .plugin_settings import declared_settings

    versions = {id(plugin): dist.version for plugin, dist in manager.list_plugin_distinfo()}
    blocks = {block.plugin: block for block in declared_settings(manager, []).values()}
    described = []
    for name, plugin in manager.list_name_plugin():
        if plugin is None:
            continue
        hooks = sorted(caller.name for caller in manager.get_hookcallers(plugin) or ())
        block = blocks.get(name)
        entry: dict = {
            "name": name, "builtin": is_builtin(name),
            "version": versions.get(id(plugin)) or (_own_version() if is_builtin(name) else None),
            "settings": {"name": block.name, "keys": [vars(key) for key in block.keys()]} if block else None,
            "hooks": hooks, "sections": [],
        }
        try:
            if "register_sections" in hooks and usage is not None:
                entry["sections"] = [
                    {"slug": getattr(s, "slug", None), "title": getattr(s, "title", None),
                     "order": getattr(s, "order", None), "roles": list(getattr(s, "roles", ()))}
                    for s in _registered(manager, plugin, "register_sections", usage=usage, settings=settings)
                ]
            if "register_pages" in hooks and usage is not None:
                entry["pages"] = [getattr(page, "slug", None) for page in
                                  _registered(manager, plugin, "register_pages", usage=usage, settings=settings)]
            if "register_commands" in hooks:
                group = click.Group()
                _registered(manager, plugin, "register_commands", cli=group)
                entry["commands"] = sorted(group.commands)
            if "register_publish_targets" in hooks:
                entry["publish_targets"] = sorted(
                    kind for kind, _ in _registered(manager, plugin, "register_publish_targets")
                )
            if "register_notifiers" in hooks:
                entry["notifiers"] = sorted(kind for kind, _ in _registered(manager, plugin, "register_notifiers"))
        except Exception as error:  # listing must not crash on a broken plugin
            entry["error"] = f"{type(error).__name__}: {error}"
        described.append(entry)
    return sorted(described, key=lambda entry: (not entry["builtin"], entry["name"]))


def _registered(manager: pluggy.PluginManager, plugin: object, hook_name: str, **arguments) -> list:
    """What ``plugin``'s own implementation of ``hook_name`` passes to ``register``
    (one item, or a tuple of the arguments when it passes several)."""
    found: list = []

    def register(*items):
        found.append(items[0] if len(items) == 1 else items)

    for hookimpl in getattr(manager.hook, hook_name).get_hookimpls():
        if hookimpl.plugin is plugin:
            available = {"register": register, **arguments}  # (register_commands takes cli instead)
            hookimpl.function(**{name: available[name] for name in hookimpl.argnames})
    return found


def _own_version() -> str:
    from . import __version__

    return __version__
