"""The ``publish:`` section of config.yaml, validated as a whole.

::

    publish:
      default: intranet          # optional when there is only one target
      targets:
        intranet:
          type: directory        # a kind registered by a publish-target plugin
          path: /srv/www/billing
          timeout_seconds: 600   # optional, every kind: the whole publish's deadline
          pseudonymised_only: true   # optional, every kind: refuse a site built without --pseudonymise

Every problem in the section is reported at once, each naming its key.
``type`` and ``timeout_seconds`` belong to the core; the other keys are the
target kind's options.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any, Mapping

from ..errors import ConfigError
from ..settings import Settings
from ..wording import counted, noun_for
from .deadline import DEFAULT_TIMEOUT_SECONDS
from .target import PublishTarget, _shown, integer_between

#: Keys that look like a credential written into config.yaml.
_CREDENTIAL_KEY = re.compile(r"(secret|password|passphrase|token|credential|access_key)", re.IGNORECASE)


@dataclass(frozen=True)
class TargetEntry:
    """One validated entry of ``publish.targets``."""

    name: str
    kind: str
    target_class: type[PublishTarget]
    config: dict[str, Any]
    timeout_seconds: int = DEFAULT_TIMEOUT_SECONDS
    #: Take only a pseudonymised site (``pseudonymised_only: true``: a company-wide target).
    pseudonymised_only: bool = False

    def create(self, settings: Settings) -> PublishTarget:
        target = self.target_class(self.name, self.config, settings)
        target.kind = self.kind
        target.timeout_seconds = self.timeout_seconds
        target.pseudonymised_only = self.pseudonymised_only
        return target


@dataclass(frozen=True)
class PublishConfig:
    """The validated ``publish:`` section: its targets by name and the default one."""

    targets: dict[str, TargetEntry]
    default: str | None

    def entry(self, name: str | None, config_path) -> TargetEntry:
        """The target called ``name``, or the default when ``name`` is None."""
        if not self.targets:
            raise ConfigError(
                f"{config_path}: no publish targets; add a publish: section with targets "
                f"(see the README's Publishing section)"
            )
        if name is None:
            if self.default is None:
                raise ConfigError(
                    f"{config_path}: publish.default is not set and there are several targets; "
                    f"name one ({', '.join(sorted(self.targets))}) or set publish.default"
                )
            name = self.default
        if name not in self.targets:
            raise ConfigError(
                f"{config_path}: no publish target {name!r}; expected one of {', '.join(sorted(self.targets))}"
            )
        return self.targets[name]


def read_publish_config(settings: Settings, kinds: Mapping[str, type[PublishTarget]]) -> PublishConfig:
    """Validate ``settings.publish`` against the registered target ``kinds``.

    :raises ConfigError: listing every problem, each as ``publish.KEY: ...``.
    """
    raw = settings.publish or {}
    problems: list[str] = []
    for key in raw:
        if key not in ("default", "targets"):
            problems.append(f"publish.{key}: unknown key; expected one of default, targets")

    targets_raw = raw.get("targets") or {}
    if not isinstance(targets_raw, dict):
        problems.append(f"publish.targets: expected a mapping of target names, found {type(targets_raw).__name__}")
        targets_raw = {}

    targets: dict[str, TargetEntry] = {}
    for name, entry in targets_raw.items():
        where = f"publish.targets.{name}"
        if not isinstance(entry, dict):
            problems.append(f"{where}: expected a mapping with a type: key, found {type(entry).__name__}")
            continue
        kind = entry.get("type")
        if kind is None:
            problems.append(f"{where}.type: missing; expected one of {_kinds(kinds)}")
            continue
        if not isinstance(kind, str):
            problems.append(f"{where}.type: expected one of {_kinds(kinds)}, found {_shown(kind)}")
            continue
        if kind not in kinds:
            problems.append(f"{where}.type: unknown kind {kind!r}; expected one of {_kinds(kinds)}")
            continue
        config = {key: value for key, value in entry.items() if key not in _CORE_KEYS}
        timeout_seconds = entry.get("timeout_seconds", DEFAULT_TIMEOUT_SECONDS)
        try:
            _check_timeout(timeout_seconds)
        except ValueError as expected:
            problems.append(f"{where}.timeout_seconds: expected {expected}, found {timeout_seconds!r}")
        pseudonymised_only = entry.get("pseudonymised_only", False)
        if not isinstance(pseudonymised_only, bool):
            problems.append(f"{where}.pseudonymised_only: expected true or false, found {_shown(pseudonymised_only)}")
        credential_keys = [key for key in config if _looks_like_credential(str(key))]
        for key in credential_keys:
            problems.append(
                f"{where}.{key}: credentials never go in config.yaml; put the value in the environment "
                f"or .env and remove the key (the README lists each target's variables)"
            )
        config = {key: value for key, value in config.items() if key not in credential_keys}
        target_class = kinds[kind]
        target_problems = target_class.validate(config)
        problems += [f"{where}.{problem}" for problem in target_problems]
        if not target_problems and not credential_keys:
            targets[str(name)] = TargetEntry(
                str(name), kind, target_class, target_class.with_defaults(config), timeout_seconds,
                pseudonymised_only is True,
            )

    default = raw.get("default")
    if default is not None and (isinstance(default, bool) or not isinstance(default, (str, int))):
        choices = ", ".join(sorted(map(str, targets_raw))) or "none are configured"
        problems.append(f"publish.default: expected the name of a target ({choices}), found {_shown(default)}")
        default = None
    elif default is not None and default not in targets_raw:
        choices = ", ".join(sorted(map(str, targets_raw))) or "none are configured"
        problems.append(f"publish.default: no target {default!r}; expected one of {choices}")
    if default is None and len(targets_raw) == 1:
        default = next(iter(targets_raw))

    if problems:
        lines = "\n".join(f"  {problem}" for problem in problems)
        raise ConfigError(f"{settings.config_path}: {counted(len(problems), 'problem')}; "
                          f"fix {noun_for(len(problems), 'it', 'them')} and run again:\n{lines}")
    return PublishConfig(targets=targets, default=str(default) if default is not None else None)


#: Keys of a target's entry that the core reads; the rest are the target kind's options.
_CORE_KEYS = ("type", "timeout_seconds", "pseudonymised_only")
#: A whole publish's deadline: a second to a day.
_check_timeout = integer_between(1, 86_400)


def _looks_like_credential(key: str) -> bool:
    return bool(_CREDENTIAL_KEY.search(key)) and not key.endswith("_variable")


def _kinds(kinds: Mapping[str, Any]) -> str:
    return ", ".join(sorted(kinds)) or "(no publish target plugins are installed)"


__all__ = ["PublishConfig", "TargetEntry", "read_publish_config"]
