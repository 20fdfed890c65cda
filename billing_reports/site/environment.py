"""The one Jinja2 environment of a build: template lookup, autoescape, filters.

Lookup order (as in datasette): the user's ``paths.templates_dir``, then each
directory a plugin registers with ``register_template_dirs``, then the
built-in templates. ``default:NAME`` always means the built-in template, so an
override can ``{% extends "default:base.html" %}`` and change one block.
Autoescape is always on. Templates are compiled once and reused for every page.
"""

from __future__ import annotations

from importlib import resources
from pathlib import Path
from typing import Any

import jinja2
import pluggy

from ..errors import ConfigError

BUILTIN_PACKAGE = "billing_reports.site_templates"


def builtin_templates_dir() -> Path:
    """The directory of the built-in templates (``site_templates/``)."""
    return Path(str(resources.files(BUILTIN_PACKAGE)))


def plugin_template_dirs(manager: pluggy.PluginManager | None) -> list[Path]:
    """Directories registered by plugins through ``register_template_dirs``, in hook order."""
    if manager is None:
        return []
    found: list[Path] = []
    manager.hook.register_template_dirs(register=lambda path: found.append(Path(path)))
    return found


def template_environment(
    templates_dir: Path | None = None,
    plugin_dirs: list[Path] | None = None,
    *,
    globals: dict[str, Any] | None = None,
) -> jinja2.Environment:
    """A sandbox-free, autoescaping environment with the site's lookup order."""
    if templates_dir is not None and not Path(templates_dir).is_dir():
        raise ConfigError(
            f"paths.templates_dir: {templates_dir} is not a directory; create it or set it to null"
        )
    builtin = jinja2.FileSystemLoader(str(builtin_templates_dir()))
    loaders: list[jinja2.BaseLoader] = [jinja2.PrefixLoader({"default": builtin}, delimiter=":")]
    if templates_dir is not None:
        loaders.append(jinja2.FileSystemLoader(str(templates_dir)))
    loaders += [jinja2.FileSystemLoader(str(path)) for path in plugin_dirs or []]
    loaders.append(builtin)
    environment = jinja2.Environment(
        loader=jinja2.ChoiceLoader(loaders),
        autoescape=True,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
        undefined=jinja2.StrictUndefined,
        auto_reload=False,
        cache_size=-1,
    )
    environment.globals.update(globals or {})
    return environment


def is_builtin_template(environment: jinja2.Environment, name: str) -> bool:
    """Whether ``name`` is found among the built-in templates (no template of one's own, nor a
    plugin's, takes its place)."""
    assert environment.loader is not None
    try:
        _, filename, _ = environment.loader.get_source(environment, name)
    except jinja2.TemplateNotFound:
        return False
    return filename is not None and Path(filename).parent == builtin_templates_dir()


def template_source(environment: jinja2.Environment, name: str) -> str:
    """The raw text of a static asset (``site.css``) found through the same lookup order."""
    assert environment.loader is not None
    source, _, _ = environment.loader.get_source(environment, name)
    return source
