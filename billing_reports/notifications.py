"""The ``notify:`` section of config.yaml: which notifiers ``billing-reports check`` sends alerts to.

::

    notify:
      finops-slack:                 # a name of your choosing
        type: slack                 # a kind a plugin registers (register_notifiers)
        ...                         # the kind's own options; secrets come from the environment

Each kind's factory validates its own options (``ConfigError`` naming the key); every problem of the
section is reported at once. :func:`deliver` sends to each notifier in turn: one that fails is one
line, and the others still run.
"""

from __future__ import annotations

from typing import Any, Callable, Sequence

from .alerts import Alert, Notifier
from .errors import BillingReportsError, ConfigError
from .untrusted import printable, shortened
from .wording import counted

#: ``factory(name, options, settings)`` -> a :class:`Notifier`.
NotifierFactory = Callable[[str, dict[str, Any], Any], Notifier]


def notifier_kinds(manager: Any) -> dict[str, NotifierFactory]:
    """Every kind of notifier the plugins register, by ``type:``."""
    kinds: dict[str, NotifierFactory] = {}
    manager.hook.register_notifiers(register=lambda kind, factory: kinds.setdefault(kind, factory))
    return kinds


def configured_notifiers(settings: Any, problems: list[str] | None = None) -> list[Notifier]:
    """The notifiers of ``settings.notify``, in the order written; ``ConfigError`` listing every
    problem of the section (an unknown type, a kind's refusal of its options). With ``problems``,
    the notifiers that are fine are returned and each problem is added there instead (one notifier
    missing its secret does not silence the others)."""
    section = settings.notify
    if not section:
        return []
    manager, _ = settings.loaded_plugins()
    kinds = notifier_kinds(manager)
    notifiers: list[Notifier] = []
    found: list[str] = []
    for name, options in section.items():
        where = f"notify.{name}"
        if not isinstance(options, dict):
            found.append(f"{where}: expected a mapping with a type, found {type(options).__name__}")
            continue
        kind = options.get("type")
        if kind not in kinds:
            known = ", ".join(sorted(kinds)) or "none registered"
            found.append(f"{where}.type: expected one of {known}, found {kind!r}")
            continue
        try:
            notifiers.append(kinds[kind](str(name), {k: v for k, v in options.items() if k != "type"}, settings))
        except ConfigError as error:
            found.append(error.message)
    if found and problems is not None:
        problems += [f"{settings.config_path}: {problem}" for problem in found]
    elif len(found) == 1:
        raise ConfigError(f"{settings.config_path}: {found[0]}")
    elif found:
        raise ConfigError(f"{settings.config_path}: {counted(len(found), 'problem')} in notify: " + "; ".join(found))
    return notifiers


def deliver(notifiers: Sequence[Notifier], alerts: Sequence[Alert], *, site_url: str | None = None,
            say: Callable[[str], None] = lambda line: None) -> list[str]:
    """Send ``alerts`` to every notifier; return one line per notifier that failed (the others still
    ran). Nothing is sent when there is no alert."""
    failures: list[str] = []
    if not alerts:
        return failures
    for notifier in notifiers:
        try:
            notifier.send(alerts, site_url=site_url)
        except BillingReportsError as error:
            failures.append(f"notifier {notifier.name}: {error.message}")
        except Exception as error:  # a plugin's notifier: its bug is one line, never a traceback
            failures.append(f"notifier {notifier.name} failed: {type(error).__name__}: "
                            f"{shortened(printable(str(error)), 300)}")
        else:
            say(f"Sent {counted(len(alerts), 'alert')} to {notifier.name}.")
    return failures


__all__ = ["NotifierFactory", "configured_notifiers", "deliver", "notifier_kinds"]
