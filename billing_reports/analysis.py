"""Run the analysis plugins: collect their sections, in order, and report the broken ones.

Each ``register_sections`` implementation is called on its own, so a plugin
that raises is named in the failure (and the others still run). The build
stops on a failure unless ``settings.skip_broken_plugins`` is set; then the
failures are returned for the site to show.
"""

from __future__ import annotations

from typing import Any, Sequence

import pluggy

from .errors import PluginError
from .plugins import PluginFailure
from .sections import Section
from .settings import Settings
from .untrusted import printable, shortened
from .usage import OnDemandUsage


def run_sections(
    manager: pluggy.PluginManager,
    usage: OnDemandUsage,
    settings: Settings,
    import_failures: Sequence[PluginFailure] = (),
) -> tuple[list[Section], list[PluginFailure]]:
    """Call every plugin's ``register_sections``; return the sections (by order, then slug) and failures.

    ``import_failures``: plugins that could not even be loaded (from
    :func:`billing_reports.plugins.get_plugin_manager`), reported the same way.
    Raises :class:`PluginError` naming each failed plugin unless
    ``settings.skip_broken_plugins``.
    """
    sections: list[Section] = []
    failures = list(import_failures)
    owners: dict[str, str] = {}
    arguments = {"usage": usage, "settings": settings}
    for hookimpl in manager.hook.register_sections.get_hookimpls():
        if getattr(hookimpl, "hookwrapper", False) or getattr(hookimpl, "wrapper", False):
            continue
        name = hookimpl.plugin_name
        found: list[Any] = []
        try:
            call_with(hookimpl, register=found.append, **arguments)
            own: set[str] = set()
            for section in found:
                if not isinstance(section, Section):
                    raise TypeError(f"registered a {type(section).__name__}, not a billing_reports.Section")
                if section.slug in owners or section.slug in own:
                    raise ValueError(
                        f"section slug {section.slug!r} is already used by {owners.get(section.slug, name)}")
                own.add(section.slug)
                section.to_dict()  # every table must add up and be JSON-ready now, not at render time
        except Exception as error:  # a plugin's bug is reported by name, never a traceback
            # (its message may quote a name from the cache: shown cleaned, and short)
            failures.append(PluginFailure(name, f"{type(error).__name__}: {shortened(printable(str(error)), 300)}"))
            continue
        for section in found:
            owners[section.slug] = name
            sections.append(section)
    if failures and not settings.skip_broken_plugins:
        raise PluginError(failure_message(failures))
    sections.sort(key=lambda s: (s.order, s.slug))
    return sections, failures


def call_with(hookimpl: Any, **available: Any) -> Any:
    """Call one hook implementation with the arguments it names (pluggy's rule: it may name fewer)."""
    return hookimpl.function(**{name: available[name] for name in hookimpl.argnames})


def failure_message(failures: Sequence[PluginFailure]) -> str:
    """One line naming every broken plugin and how to go on anyway."""
    listed = "; ".join(f"plugin {f.name} failed: {f.error}" for f in failures)
    return (
        f"{listed}. Fix or uninstall the plugin, or pass --skip-broken-plugins "
        "(plugins.skip_broken: true in config.yaml) to build without it."
    )


__all__ = ["call_with", "failure_message", "run_sections"]
