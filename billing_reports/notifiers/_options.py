"""What every built-in notifier does with its options: check them all, read secrets from the
environment or ``.env`` (never config.yaml), and keep those secrets out of every message."""

from __future__ import annotations

from pathlib import Path
from typing import Any, Iterable, Mapping
from urllib.parse import quote, quote_plus, urlsplit

from ..errors import ConfigError
from ..publish.target import Option, option_problems, text, variable_name, with_option_defaults

#: Longest a notifier waits for one network call, and its default.
MAX_TIMEOUT_SECONDS = 300.0
DEFAULT_TIMEOUT_SECONDS = 10.0
#: The characters a URL keeps as they are (RFC 3986's reserved and unreserved ones, and ``%``).
_URI_CHARACTERS = "!#$%&'()*+,/:;=?@[]~"


def seconds(value: Any) -> float:
    """A number of seconds, more than 0 and at most :data:`MAX_TIMEOUT_SECONDS`."""
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not 0 < value <= MAX_TIMEOUT_SECONDS:
        raise ValueError(f"a number of seconds above 0 and at most {MAX_TIMEOUT_SECONDS:g}")
    return float(value)


def timeout_option() -> Option:
    return Option(seconds, default=DEFAULT_TIMEOUT_SECONDS,
                  help="seconds one network call may take before the notifier gives up")


def checked_options(where: str, spec: Mapping[str, Option], options: Mapping[str, Any],
                    secret_keys: Mapping[str, str] = {}) -> dict[str, Any]:
    """``options`` checked against ``spec``, defaults filled in.

    :param where: ``notify.NAME``, the prefix of every problem.
    :param secret_keys: keys someone might write a secret under (``password``) -> the option that
        names its variable instead (``password_env``); such a value is never shown.
    :raises ConfigError: every problem, ``notify.NAME.key: ...``, joined by ``; ``.
    """
    problems = []
    for key, option_key in secret_keys.items():
        if key in options:
            problems.append(f"{where}.{key}: a secret never goes in config.yaml; put it in the environment or "
                            f".env and name its variable with {option_key}")
    rest = {key: value for key, value in options.items() if key not in secret_keys}
    problems += [f"{where}.{problem}" for problem in option_problems(spec, rest)]
    if problems:
        raise ConfigError("; ".join(problems))
    return with_option_defaults(spec, rest)


def required_secret(where: str, settings: Any, key: str, variable: str, what: str) -> str:
    """The value of ``variable`` (environment, then ``.env``), named by option ``key``.

    :raises ConfigError: it is not set (``notify.NAME.key: ...``), never showing a value.
    """
    value = settings.secret(variable)
    if not value:
        raise ConfigError(f"{where}.{key}: {variable} is not set; put {what} in the environment or .env as "
                          f"{variable}=... (never in config.yaml)")
    return value


def ca_file(where: str, settings: Any, value: str | None) -> Path | None:
    """The CA bundle of option ``ca_file`` (relative to config.yaml's folder), or ``None``.

    :raises ConfigError: it is not a file.
    """
    if not value:
        return None
    path = (settings.config_dir / Path(value).expanduser()).resolve()
    if not path.is_file():
        raise ConfigError(f"{where}.ca_file: {path} is not a file; give the CA bundle (PEM) to trust")
    return path


def scrubbed(message: str, secrets: Iterable[str]) -> str:
    """``message`` with every secret replaced by ``***``, as written and URL-encoded (a server's
    answer or a library's message may quote a URL or a form body)."""
    forms = set()
    for secret in secrets:
        if secret:
            forms |= {secret, quote(secret, safe=""), quote(secret), quote_plus(secret), quote_plus(secret, safe="/"),
                      quote(secret, safe=_URI_CHARACTERS)}  # (as requests sends a URL: only the rest encoded)
    for form in sorted(forms, key=len, reverse=True):
        message = message.replace(form, "***")
    return message


def url_secrets(url: str) -> list[str]:
    """The parts of a secret URL a message might quote: the whole, its path with the query, its path
    and its query (a server's error page often echoes the path it was asked for)."""
    parts = urlsplit(url)
    path_and_query = parts.path + (f"?{parts.query}" if parts.query else "")
    return [part for part in (url, path_and_query, parts.path, parts.query) if len(part) > 1]


__all__ = ["Option", "ca_file", "checked_options", "required_secret", "scrubbed", "seconds", "text", "timeout_option",
           "url_secrets", "variable_name"]
