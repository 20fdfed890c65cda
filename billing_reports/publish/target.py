"""The protocol a publish target implements, and the options it declares.

A publish target is a class registered for a ``type:`` by a plugin::

    from billing_reports import hookimpl
    from billing_reports.publish import Change, Option, PublishTarget, text


    class IntranetUpload(PublishTarget):
        \"\"\"POST the site to our intranet's upload API.\"\"\"

        options = {
            "url": Option(text, required=True, help="the upload endpoint"),
            "token_variable": Option(text, default="INTRANET_TOKEN", help="env variable with the token"),
        }

        def describe(self) -> str:
            return self.config["url"]

        def plan(self, site):
            return [Change("add", name) for name in site.upload_order()]

        def publish(self, site):
            token = self.require_secret(self.config["token_variable"], "the upload token")
            ...  # upload site.path(name) for name in site.upload_order()
            return self.plan(site)


    @hookimpl
    def register_publish_targets(register):
        register("intranet-upload", IntranetUpload)

and used from ``config.yaml``::

    publish:
      targets:
        intranet:
          type: intranet-upload
          url: https://intranet.example.com/upload
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable, ClassVar, Literal, Mapping

from ..errors import PublishError
from .deadline import DEFAULT_TIMEOUT_SECONDS

if TYPE_CHECKING:
    from ..settings import Settings
    from ..site.built import BuiltSite

Check = Callable[[Any], Any]
"""Returns the value (converted) or raises ``ValueError("what was expected")``."""


@dataclass(frozen=True)
class Change:
    """One file a publish adds, updates or deletes at the target.

    ``path`` is relative to the published site (POSIX separators).
    """

    action: Literal["add", "update", "delete"]
    path: str

    def __str__(self) -> str:
        return f"{self.action:<6} {self.path}"


@dataclass(frozen=True)
class Option:
    """One key a target accepts under its entry in ``publish.targets``.

    :param check: validates and converts the value (see :func:`text`,
        :func:`integer`, :func:`boolean`); raises ``ValueError`` naming what
        was expected.
    :param required: the key must be present.
    :param default: the value when the key is absent (``None``: no value).
    :param help: one line for documentation and ``publish --list``.
    """

    check: Check
    required: bool = False
    default: Any = None
    help: str = ""


class PublishTarget:
    """Where ``billing-reports publish`` sends a built site (subclass it).

    One instance is made per publish from the target's entry in
    ``publish.targets`` of ``config.yaml``. The life of an instance:

    1. ``validate(config)`` (a classmethod) is called for every configured
       target before anything runs, so all problems in the ``publish:``
       section are reported at once.
    2. ``__init__(name, config, settings)`` with the validated config (defaults
       filled in).
    3. One of ``plan(site)`` (``--dry-run``), ``publish(site)`` or
       ``rollback()`` (``--rollback``).

    Rules for implementations:

    - Raise :class:`billing_reports.errors.PublishError` with one line saying
      what failed and what to check (unreachable host, wrong credential,
      missing bucket or branch, missing program); never let a library's
      exception escape.
    - Read credentials only with :meth:`secret` / :meth:`require_secret`
      (environment, then ``.env``); never from ``config``. Values read this
      way are scrubbed from any error message before it is shown.
    - Leave the published site as it was when ``publish`` fails, as far as the
      storage allows; upload in ``site.upload_order()`` (pages before the
      index) and delete stale files only after the new ones are in.
    - Delete only what is ours: the files the previously published
      ``build-manifest.json`` lists (:func:`billing_reports.publish.ownership.previous_files`)
      and those a ``prune`` option names (:func:`~billing_reports.publish.ownership.stale`).
    - Let one publish at a time change the target (a lock or a conditional
      write); the second fails with one line.
    - The core stops a publish after :attr:`timeout_seconds` (see
      :mod:`billing_reports.publish.deadline`); release locks in ``finally``.
    """

    #: Keys this target accepts; validated by the default :meth:`validate`.
    options: ClassVar[Mapping[str, Option]] = {}
    #: True when :meth:`rollback` can restore the previously published site.
    supports_rollback: ClassVar[bool] = False

    def __init__(self, name: str, config: Mapping[str, Any], settings: "Settings") -> None:
        """Keep the target's ``name``, its validated ``config`` and the ``settings``.

        :param name: the target's key under ``publish.targets``.
        :param config: its validated options, defaults filled in, without ``type``.
        :param settings: the validated settings (``config_dir`` anchors relative paths).
        """
        self.name = name
        #: The ``type:`` it was configured with (set by the core; the class name until then).
        self.kind = type(self).__name__
        #: The whole publish's deadline (``timeout_seconds`` of the entry; set by the core).
        self.timeout_seconds: int = DEFAULT_TIMEOUT_SECONDS
        #: Takes only a pseudonymised site (``pseudonymised_only`` of the entry; set by the core).
        self.pseudonymised_only = False
        self.config = dict(config)
        self.settings = settings
        self.secret_values: list[str] = []

    @classmethod
    def validate(cls, config: Mapping[str, Any]) -> list[str]:
        """Every problem in ``config`` (the target's mapping without ``type``).

        The default checks :attr:`options`: unknown keys, missing required
        keys and values their check refuses. Override it to add cross-key
        rules (call ``super().validate(config)`` first).

        :param config: the mapping as written in ``config.yaml``.
        :return: problems as ``"key: expected ..., found ..."`` (the caller
            prefixes ``publish.targets.NAME.``); empty when the config is valid.
        """
        return option_problems(cls.options, config)

    @classmethod
    def with_defaults(cls, config: Mapping[str, Any]) -> dict[str, Any]:
        """``config`` checked and converted, with the defaults of absent options."""
        return with_option_defaults(cls.options, config)

    def describe(self) -> str:
        """Where this target publishes, for people (``/srv/www/billing``, ``s3://bucket/prefix``).

        Never includes a credential.
        """
        return self.name

    def plan(self, site: "BuiltSite") -> list[Change]:
        """What :meth:`publish` would change, without changing anything (``--dry-run``).

        :param site: the complete build to publish.
        :return: the files to add, update and delete; unchanged files are left out.
        :raises PublishError: the target cannot be reached or read.
        """
        raise NotImplementedError

    def publish(self, site: "BuiltSite") -> list[Change]:
        """Make the target serve ``site``.

        :param site: the complete build to publish.
        :return: the changes made (as :meth:`plan` would have listed them).
        :raises PublishError: one line; the previously published site still serves.
        """
        raise NotImplementedError

    def rollback(self) -> str:
        """Serve the previously published site again (``--rollback``).

        Only called when :attr:`supports_rollback` is true.

        :return: one line saying what is served now.
        :raises PublishError: there is no previous site to go back to.
        """
        raise PublishError(f"publish target {self.name!r} ({type(self).__name__}) cannot roll back")

    # --- helpers for implementations ------------------------------------------------

    def secret(self, variable: str) -> str | None:
        """A credential from the environment, else ``.env``; remembered for scrubbing."""
        value = self.settings.secret(variable)
        if value:
            self.secret_values.append(value)
        return value

    def require_secret(self, variable: str, what: str) -> str:
        """Like :meth:`secret`, but a missing variable is a one-line :class:`PublishError`."""
        value = self.secret(variable)
        if not value:
            raise PublishError(
                f"publish target {self.name!r}: {what} is not set; put {variable}=... in the "
                f"environment or in .env (never in config.yaml)"
            )
        return value

    def local_path(self, value: str) -> Path:
        """A path from the config, relative to the config file's directory."""
        return (self.settings.config_dir / Path(value).expanduser()).resolve()

    def scrub(self, text: str) -> str:
        """``text`` with every credential this target read replaced by ``***``."""
        for value in sorted(self.secret_values, key=len, reverse=True):
            text = text.replace(value, "***")
        return text


# --- options as a whole (publish targets, notifiers) -------------------------------------


def option_problems(options: Mapping[str, Option], config: Mapping[str, Any]) -> list[str]:
    """Every problem in ``config`` against ``options``: unknown keys, missing required keys and values
    their check refuses, each as ``"key: expected ..., found ..."`` (the caller prefixes where it is)."""
    problems = []
    for key, value in config.items():
        option = options.get(key)
        if option is None:
            expected = ", ".join(sorted(options)) or "no keys"
            problems.append(f"{key}: unknown key; expected one of {expected}")
            continue
        try:
            option.check(value)
        except ValueError as expected:
            problems.append(f"{key}: expected {expected}, found {_shown(value)}")
    for key, option in options.items():
        if option.required and key not in config:
            problems.append(f"{key}: missing; {option.help or 'required'}")
    return problems


def with_option_defaults(options: Mapping[str, Option], config: Mapping[str, Any]) -> dict[str, Any]:
    """``config`` checked and converted, with the defaults of absent options."""
    values = {key: option.default for key, option in options.items()}
    for key, value in config.items():
        values[key] = options[key].check(value) if key in options else value
    return values


# --- checks for Option ---------------------------------------------------------------


def text(value: Any) -> str:
    """A non-empty string."""
    if not isinstance(value, str) or not value.strip():
        raise ValueError("a non-empty string")
    if "\0" in value:  # no path, host, name or URL holds one
        raise ValueError("a string without NUL characters")
    return value


def integer_between(low: int, high: int) -> Check:
    """An integer from ``low`` to ``high``."""

    def check(value: Any) -> int:
        if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
            raise ValueError(f"an integer from {low} to {high}")
        return value

    return check


def boolean(value: Any) -> bool:
    """``true`` or ``false``."""
    if not isinstance(value, bool):
        raise ValueError("true or false")
    return value


def variable_name(value: Any) -> str:
    """The name of an environment variable (``[A-Za-z_][A-Za-z0-9_]*``)."""
    if not isinstance(value, str) or not value or not (value[0].isalpha() or value[0] == "_"):
        raise ValueError("an environment variable name")
    if not all(c.isalnum() or c == "_" for c in value) or not value.isascii():
        raise ValueError("an environment variable name")
    return value


def _shown(value: Any) -> str:
    shown = repr(value)
    return shown if len(shown) <= 60 else shown[:57] + "..."


__all__ = [
    "Change",
    "Check",
    "Option",
    "PublishTarget",
    "boolean",
    "integer_between",
    "option_problems",
    "text",
    "variable_name",
    "with_option_defaults",
]
