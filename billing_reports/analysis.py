"""The analysis: the cached range loaded, and every plugin's sections (and pages) collected.

:func:`analyse` is the one way from settings and a report range to analysed sections: ``build``,
``report`` and any later command call it. Each plugin's hook implementation is called on its own,
so a plugin that raises is named in the failure (and the others still run). The run stops on a
failure unless ``settings.skip_broken_plugins`` is set; then the failures are returned for the
site or the terminal to show.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING, Any, Callable, Sequence

import pluggy

from .alerts import Alert, severity_rank
from .errors import BillingReportsError, ConfigError, PluginError
from .loader import load_usage, require_cached_data
from .months import Month
from .pages import Page
from .periods import ReportRange
from .plugin_manager import PluginFailure
from .pseudonymise import named_settings, pseudonymised
from .pseudonyms import Pseudonyms, key_from
from .sections import ROLES, Section
from .settings import Settings
from .team_snapshots import newest_cycle_start
from .untrusted import printable, shortened
from .usage import OnDemandUsage

if TYPE_CHECKING:
    from .groups import GroupDirectory


@dataclass
class Analysis:
    """The loaded usage of a range, the sections of every plugin (by order, then slug), and the
    plugins that failed (when ``plugins.skip_broken`` let the run go on)."""

    usage: OnDemandUsage
    sections: list[Section]
    failures: list[PluginFailure] = field(default_factory=list)
    #: The settings the plugins were given (pseudonymised: their blocks name people by pseudonym):
    #: what the rest of the run (pages, alert rules, the site) must pass them too.
    settings: Settings | None = None


def analyse(
    settings: Settings,
    months: Sequence[Month],
    *,
    report_range: ReportRange | None = None,
    manager: pluggy.PluginManager | None = None,
    load_failures: Sequence[PluginFailure] = (),
    say: Callable[[str], None] = lambda line: None,
) -> Analysis:
    """Load the cached ``months`` (the days of ``report_range``, default all of them, by month) and
    run every plugin's ``register_sections`` on them.

    ``manager``: the plugins to run and ``load_failures`` those that could not be loaded (default:
    those ``settings`` were checked with); ``say``: where a line about a long load goes.
    :raises CacheError: no month of the range is cached (or a cache file is broken).
    :raises PluginError: a plugin failed to load or raised, unless ``settings.skip_broken_plugins``.
    """
    if manager is None:
        manager, load_failures = settings.loaded_plugins()
    usage, settings = prepared_usage(settings, months, report_range=report_range, say=say)
    sections, failures = run_sections(manager, usage, settings, load_failures)
    return Analysis(usage, sections, failures, settings)


def prepared_usage(settings: Settings, months: Sequence[Month], *, report_range: ReportRange | None = None,
                   say: Callable[[str], None] = lambda line: None) -> tuple[OnDemandUsage, Settings]:
    """The usage the plugins are given, and the settings they are given with it: :func:`analyse`'s
    first step (the cache loaded, people named as the ledger names them, pseudonymised if asked).
    A load that decodes much of the cache first says so with ``say`` (``loader.SAY_DECODING_BYTES``).

    :raises CacheError: no month of the range is cached (or a cache file is broken).
    """
    report_range = with_cycle_anchor(report_range, settings)
    usage = load_usage(settings, months, report_range=report_range, say=say)
    require_cached_data(usage)
    usage.cursor  # Cursor's kept figures read now: a broken file is one line, not each plugin's failure
    # the settings that name people (Person) name them as the ledger does, whatever the case: the
    # full and the pseudonymised report then place the same people (one figure, one value)
    settings = named_settings(settings, usage.person, usage.group_name)
    if settings.pseudonymise:  # the one place people become pseudonyms: no plugin sees anyone's email
        usage, settings = pseudonymised(usage, settings, Pseudonyms(key_from(settings)))
    return usage, settings


#: Why billing cycles cannot be cut: no day a cycle starts is known yet.
NO_CYCLE_START = (
    "billing cycles (--by cycle, billing.period: cycle) need the day a cycle starts, and none is known yet: "
    "run `billing-reports fetch` with CURSOR_API_KEY set once (it keeps Cursor's subscriptionCycleStart "
    "with the team's spend), or set billing.cycle_start in config.yaml (e.g. 2026-01-17)"
)


def with_cycle_anchor(report_range: ReportRange | None, settings: Settings) -> ReportRange | None:
    """``report_range`` with the day its billing cycles are cut from: ``billing.cycle_start`` if set,
    else the cycle of the newest spend snapshot a fetch kept under ``settings.data_dir`` (Cursor's
    ``subscriptionCycleStart``). Ranges of other grains, or already anchored, are returned as they are.

    :raises BillingReportsError: cycles are asked for and neither is there.
    """
    if report_range is None or report_range.grain != "cycle" or report_range.cycle_start is not None:
        return report_range
    anchor = settings.cycle_start if settings.cycle_start is not None else newest_cycle_start(settings.data_dir)
    if anchor is None:
        raise BillingReportsError(NO_CYCLE_START)
    return replace(report_range, cycle_start=anchor)


def run_sections(
    manager: pluggy.PluginManager,
    usage: OnDemandUsage,
    settings: Settings,
    import_failures: Sequence[PluginFailure] = (),
) -> tuple[list[Section], list[PluginFailure]]:
    """Call every plugin's ``register_sections``; return the sections (by order, then slug) and failures.

    ``import_failures``: plugins that could not even be loaded (from
    :func:`billing_reports.plugin_manager.get_plugin_manager`), reported the same way.
    Raises :class:`PluginError` naming each failed plugin unless
    ``settings.skip_broken_plugins``.
    """
    def check(section: Section) -> None:
        _check_roles(section)
        section.to_dict()  # every value JSON-ready now, not at render time

    sections, failures = collect(manager, "register_sections", Section, check, usage=usage, settings=settings)
    failures = [*import_failures, *failures]
    if failures and not settings.skip_broken_plugins:
        raise PluginError(failure_message(failures))
    sections.sort(key=lambda s: (s.order, s.slug))
    return sections, failures


def run_pages(
    manager: pluggy.PluginManager, usage: OnDemandUsage, settings: Settings,
) -> tuple[list[Page], list[PluginFailure]]:
    """Call every plugin's ``register_pages``; return the pages (by slug) and the failures, as
    :func:`run_sections` does (a page's slug is unique, like a section's)."""
    pages, failures = collect(manager, "register_pages", Page, lambda page: None, usage=usage, settings=settings)
    if failures and not settings.skip_broken_plugins:
        raise PluginError(failure_message(failures))
    return sorted(pages, key=lambda page: page.slug), failures


def run_alert_rules(
    manager: pluggy.PluginManager, usage: OnDemandUsage, settings: Settings,
) -> tuple[list[Alert], list[PluginFailure]]:
    """Call every plugin's ``register_alert_rules``; return the alerts (worst first, then by rule,
    subject and key) and the rules that failed, each named (the others still ran). Never raises for
    a broken rule: ``check`` says each failure in a line, the build shows it with the others."""
    alerts, failures = collect(manager, "register_alert_rules", Alert, lambda alert: None, identity="key",
                               usage=usage, settings=settings)
    alerts.sort(key=lambda a: (-severity_rank(a.severity), a.rule, a.subject_kind, a.subject, a.key))
    return alerts, failures


def run_groups(manager: pluggy.PluginManager, usage: OnDemandUsage, settings: Settings) -> "GroupDirectory | None":
    """The directory of who is in which group on which day that a plugin registers with
    ``register_groups`` (``None``: no plugin knows groups here).

    :raises PluginError: a plugin raised or registered something else, naming it.
    :raises ConfigError: two plugins registered one, naming both.
    """
    from .groups import GroupDirectory

    found: list[tuple[str, GroupDirectory]] = []
    for hookimpl in manager.hook.register_groups.get_hookimpls():
        registered: list[Any] = []
        try:
            call_with(hookimpl, register=registered.append, usage=usage, settings=settings)
        except BillingReportsError:
            raise
        except Exception as error:
            raise PluginError(failure_message([PluginFailure(hookimpl.plugin_name,
                                                             f"{type(error).__name__}: {error}")])) from None
        for directory in registered:
            if not isinstance(directory, GroupDirectory):
                raise PluginError(failure_message([PluginFailure(
                    hookimpl.plugin_name, f"register_groups registered a {type(directory).__name__}, "
                    "not a billing_reports.groups.GroupDirectory")]))
            found.append((hookimpl.plugin_name, directory))
    if len(found) > 1:
        names = " and ".join(sorted(printable(name) for name, _ in found))
        raise ConfigError(f"plugins {names} both say who is in which group (register_groups); "
                          "disable or uninstall one of them")
    return found[0][1] if found else None


def collect(manager: pluggy.PluginManager, hook_name: str, kind: type, check: Callable[[Any], None],
            identity: str = "slug", **arguments: Any) -> tuple[list[Any], list[PluginFailure]]:
    """What each plugin's ``hook_name`` passes to ``register``, plugin by plugin: a plugin that raises,
    registers something other than a ``kind`` (a :class:`Section`, a :class:`Page`, an ``Alert``), an
    ``identity`` (its ``slug``, an alert's ``key``) already taken, or an item ``check`` refuses (by
    raising) is a failure and adds nothing."""
    found_all: list[Any] = []
    failures: list[PluginFailure] = []
    owners: dict[str, str] = {}  # slug -> the plugin that registered it
    noun = kind.__name__.lower()
    for hookimpl in getattr(manager.hook, hook_name).get_hookimpls():
        if getattr(hookimpl, "hookwrapper", False) or getattr(hookimpl, "wrapper", False):
            continue
        name = hookimpl.plugin_name
        found: list[Any] = []
        try:
            call_with(hookimpl, register=found.append, **arguments)
            own: set[str] = set()
            for item in found:
                if not isinstance(item, kind):
                    raise TypeError(f"registered a {type(item).__name__}, not a billing_reports.{kind.__name__}")
                taken = getattr(item, identity)
                if taken in owners or taken in own:
                    raise ValueError(f"{noun} {identity} {taken!r} is already used by {owners.get(taken, name)}")
                own.add(taken)
                check(item)
        except ConfigError:  # the config asks for what cannot work (a file it names is missing): not a bug
            raise
        except Exception as error:  # a plugin's bug is reported by name, never a traceback
            # (its message may quote a name from the cache: shown cleaned, and short)
            failures.append(PluginFailure(name, f"{type(error).__name__}: {shortened(printable(str(error)), 300)}"))
            continue
        for item in found:
            owners[getattr(item, identity)] = name
            found_all.append(item)
    return found_all, failures


def _check_roles(section: Section) -> None:
    if isinstance(section.roles, str):
        raise TypeError(f"section {section.slug!r}: roles is one string; give a tuple, roles=({section.roles!r},)")
    unknown = [role for role in section.roles if role not in ROLES]
    if unknown:
        kind = "an unknown role" if len(unknown) == 1 else "unknown roles"
        raise ValueError(f"section {section.slug!r} declares {kind} {', '.join(map(repr, unknown))}; "
                         f"expected {', '.join(sorted(ROLES))}")


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


__all__ = ["NO_CYCLE_START", "Analysis", "analyse", "prepared_usage", "with_cycle_anchor", "call_with", "collect", "failure_message", "run_alert_rules", "run_groups", "run_pages",
           "run_sections"]
