"""config.yaml: read, validated as a whole, turned into typed settings.

Every problem in the file is reported at once (key, what was expected, what
was found); then the run stops with one :class:`ConfigError`. Paths in the
file are relative to the file itself.
"""

from __future__ import annotations


import dataclasses
import errno
import os
import urllib.parse
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Mapping, Sequence

import yaml
from dotenv import dotenv_values

from .errors import ConfigError
from .periods import cycle_start_day
from .untrusted import printable, shortened
from .wording import counted, noun_for

API_KEY_VARIABLE = "CURSOR_API_KEY"
BASE_URL_VARIABLE = "CURSOR_API_BASE_URL"
DEFAULT_BASE_URL = "https://api.cursor.com"


@dataclass(frozen=True)
class Settings:
    config_path: Path
    months_back: int = 2
    page_size: int = 1000
    output_filename: str = "billing_dashboard.html"
    top_spenders_count: int = 20
    request_delay_seconds: float = 3.0
    #: The epoch day (see ``periods``) on which a billing cycle starts, any cycle;
    #: ``None``: not configured.
    cycle_start: int | None = None
    #: The default grain of ``build`` (the dashboard) and ``report``: ``month`` (calendar months) or
    #: ``cycle`` (billing cycles, from ``cycle_start`` or Cursor's own, kept by a fetch).
    period: str = "month"
    #: Where the published site is (``billing.site_url``): alerts link to its pages.
    site_url: str | None = None
    #: The team's FOCUS BillingAccountId and BillingAccountName in exports (``billing.account_id``,
    #: ``billing.account_name``); ``None``: derived (see :func:`billing_reports.export.billing_account`).
    account_id: str | None = None
    account_name: str | None = None
    api_base_url: str = DEFAULT_BASE_URL
    timeout_seconds: float = 60.0
    max_retries: int = 5
    #: An incomplete month's next fetch starts this long before the last one started (late events).
    fetch_overlap_hours: float = 24.0
    data_dir: Path = Path("data/monthly_usage_data")
    site_dir: Path = Path("data/site")
    demo_dir: Path = Path("data/demo")
    plugins_dir: Path | None = None
    templates_dir: Path | None = None
    skip_broken_plugins: bool = False
    #: Every person under a pseudonym on the site and in reports (``privacy.pseudonymise``,
    #: ``--pseudonymise``; the key: ``BILLING_REPORTS_PSEUDONYM_KEY``, see :mod:`billing_reports.pseudonyms`).
    pseudonymise: bool = False
    #: The ``publish:`` section as written; publish targets validate their own part.
    publish: dict[str, Any] = field(default_factory=dict)
    #: The ``notify:`` section as written; each notifier kind validates its own options
    #: (:func:`billing_reports.notifications.configured_notifiers`).
    notify: dict[str, Any] = field(default_factory=dict)
    #: A ``--demo`` run (the fake API's synthetic team, under ``demo_dir``): the cache files it
    #: writes are marked as demo data, and only such a run loads them (never set from config.yaml).
    demo: bool = False
    #: Variables read from ``.env`` files (never written back anywhere).
    dotenv: dict[str, str] = field(default_factory=dict, repr=False)
    #: Why a ``.env`` file could not be read (``PATH: cannot read it (why)``), or ``None``. Said
    #: only when a command asks for a credential the environment does not hold.
    dotenv_problem: str | None = field(default=None, repr=False)
    #: Each plugin's block of ``plugins:`` as the object its plugin declared, validated (:meth:`plugin`).
    plugin_settings: Mapping[str, Any] = field(default_factory=dict, repr=False)
    #: The plugins loaded to check those blocks (the built-ins, entry points, ``plugins_dir``):
    #: what the commands then run (see :meth:`loaded_plugins`).
    plugin_manager: Any = field(default=None, repr=False, compare=False)
    #: The plugins that could not be loaded, reported by the run (as failures of those plugins).
    plugin_load_failures: tuple[Any, ...] = field(default=(), repr=False, compare=False)

    def plugin(self, name: str) -> Any:
        """The validated block ``plugins.NAME`` of config.yaml, as the class its plugin registered
        with ``register_settings`` (its defaults where the block or a key is absent).

        Settings made by hand (not read from a config) give every block at its defaults.

        :raises KeyError: no loaded plugin declares settings by that name.
        """
        found = self.plugin_settings.get(name)
        if found is None and self.plugin_manager is None:
            found = _plugin_settings({}, self.plugins_dir, None, [])["plugin_settings"].get(name)
        if found is None:
            raise KeyError(f"no plugin declares settings named {name!r} (register_settings)")
        return found

    def loaded_plugins(self) -> tuple[Any, list[Any]]:
        """The plugin manager these settings were checked with, and the plugins that failed to load
        (a new manager for settings made by hand)."""
        if self.plugin_manager is None:
            from .plugin_manager import get_plugin_manager

            failures: list[Any] = []
            return get_plugin_manager(self.plugins_dir, failures=failures), failures
        return self.plugin_manager, list(self.plugin_load_failures)

    @property
    def config_dir(self) -> Path:
        return self.config_path.parent

    def secret(self, name: str) -> str | None:
        """A credential from the environment, else from ``.env``; never from config.yaml.

        :raises ConfigError: it is not in the environment and a ``.env`` file could not be read.
        """
        value = os.environ.get(name)
        if value:
            return value
        if self.dotenv_problem is not None:
            raise ConfigError(f"{self.dotenv_problem}, so {name} cannot come from it; save it as UTF-8 "
                              f"(NAME=value lines) or set {name} in the environment")
        return self.dotenv.get(name) or None

    @property
    def api_key(self) -> str | None:
        return self.secret(API_KEY_VARIABLE)


# --- the schema -----------------------------------------------------------------

#: The largest number of seconds a wait or a timeout may be set to (an hour).
MAX_SECONDS = 3600.0
#: The largest ``fetch.overlap_hours``: a year (any overlap past a month's start fetches it whole).
MAX_OVERLAP_HOURS = 366 * 24.0
#: The largest count a setting takes (rows of a ranking, models, requests).
MAX_COUNT = 1_000_000_000

Check = Callable[[Any], Any]  # returns the converted value or raises ValueError(expected)


def _integer(low: int, high: int | None = None) -> Check:
    expected = f"an integer from {low} to {high}" if high else f"an integer of at least {low}"

    def check(value: Any) -> int:
        if isinstance(value, bool) or not isinstance(value, int):
            raise ValueError(expected)
        if value < low or (high is not None and value > high):
            raise ValueError(expected)
        return value

    return check


def _number(low: float, high: float) -> Check:
    """A finite number from ``low`` to ``high`` (``.nan`` and ``.inf`` are refused)."""

    def check(value: Any) -> float:
        if isinstance(value, bool) or not isinstance(value, (int, float)) or not low <= value <= high:
            raise ValueError(f"a number from {low:g} to {high:g}")
        return float(value)

    return check


def _text(value: Any) -> str:
    if not isinstance(value, str) or not value.strip():
        raise ValueError("a non-empty string")
    return value


def _html_filename(value: Any) -> str:
    value = _text(value)
    if "/" in value or "\\" in value or "\0" in value or not value.endswith(".html"):
        raise ValueError("a file name ending in .html, without a directory or NUL characters")
    return value


def _path(value: Any) -> str:
    """A path as written (made absolute, relative to config.yaml, once every key is checked)."""
    value = _text(value)
    if "\0" in value:
        raise ValueError("a path without NUL characters")
    try:
        Path(value).expanduser()
    except RuntimeError:  # ~someone who has no home folder here
        raise ValueError("a path whose ~user exists") from None
    return value


def http_url(value: Any) -> str:
    """An http or https URL with a host (``billing.site_url``, ``api.base_url``, ``check --site-url``), without the
    trailing slash. :raises ValueError: what was expected."""
    value = _text(value)
    parts = urllib.parse.urlsplit(value)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ValueError("a URL starting with http:// or https://, then a host")
    return value.rstrip("/")


#: What ``billing.period`` may be: the default grain of the dashboard and ``report``.
PERIODS = ("month", "cycle")


def _period(value: Any) -> str:
    if value not in PERIODS:
        raise ValueError(" or ".join(PERIODS))
    return value


def _boolean(value: Any) -> bool:
    if not isinstance(value, bool):
        raise ValueError("true or false")
    return value


def _as_written(value: Any) -> Any:
    """Kept as written for now; checked after the loop, where the error wording is its own."""
    return value


#: section -> key -> (Settings field, check). ``None`` is allowed for the fields of
#: ``OPTIONAL_FIELDS`` (the optional directories, the cycle start).
SCHEMA: dict[str, dict[str, tuple[str, Check]]] = {
    "billing": {
        "months_back": ("months_back", _integer(1, 120)),
        "page_size": ("page_size", _integer(1, 1000)),
        "output_filename": ("output_filename", _html_filename),
        "top_spenders_count": ("top_spenders_count", _integer(1, MAX_COUNT)),
        "request_delay_seconds": ("request_delay_seconds", _number(0, MAX_SECONDS)),
        "cycle_start": ("cycle_start", _as_written),
        "period": ("period", _period),
        "site_url": ("site_url", http_url),
        "account_id": ("account_id", _text),
        "account_name": ("account_name", _text),
    },
    "api": {
        "base_url": ("api_base_url", http_url),
        "timeout_seconds": ("timeout_seconds", _number(0.1, MAX_SECONDS)),
        "max_retries": ("max_retries", _integer(0, 10)),
    },
    "fetch": {
        "overlap_hours": ("fetch_overlap_hours", _number(0, MAX_OVERLAP_HOURS)),
    },
    "paths": {
        "data_dir": ("data_dir", _path),
        "site_dir": ("site_dir", _path),
        "demo_dir": ("demo_dir", _path),
        "plugins_dir": ("plugins_dir", _path),
        "templates_dir": ("templates_dir", _path),
    },
    #: (and each plugin's own block, ``plugins.NAME``, which its plugin declares: ``plugin_settings``)
    "plugins": {
        "skip_broken": ("skip_broken_plugins", _boolean),
    },
    "privacy": {
        "pseudonymise": ("pseudonymise", _boolean),
    },
}
PATH_FIELDS = {"data_dir", "site_dir", "demo_dir", "plugins_dir", "templates_dir"}
OPTIONAL_FIELDS = {"plugins_dir", "templates_dir", "cycle_start", "site_url", "account_id", "account_name"}


def load_settings(config_path: str | os.PathLike[str] = "config.yaml", *, must_exist: bool = True,
                  manager: Any = None) -> Settings:
    """Read and validate ``config_path``; when it is missing and not ``must_exist``, use the defaults.

    ``manager``: the plugins whose blocks to check (default: the built-ins, the installed ones and
    those of ``paths.plugins_dir``, loaded here)."""
    path = Path(config_path).expanduser().resolve()
    problems: list[str] = []
    if path.exists():
        try:
            if path.stat().st_size > MAX_CONFIG_BYTES:
                raise ConfigError(f"{path}: {path.stat().st_size:,} bytes, too big for a config file "
                                  f"(at most {MAX_CONFIG_BYTES:,}); is it the right file?")
            raw, problems = read_yaml(path.read_text(encoding="utf-8"))
        except (OSError, UnicodeDecodeError) as error:
            raise ConfigError(f"{path}: cannot read it ({error})") from None
        except _YamlTooBig as error:
            raise ConfigError(f"{path}: {error}; simplify it and run again") from None
        except yaml.YAMLError as error:
            mark = getattr(error, "problem_mark", None)
            where = f" at line {mark.line + 1}" if mark else ""
            raise ConfigError(f"{path}: not valid YAML{where}; fix the syntax and run again") from None
        except ValueError as error:  # YAML's dates: an unquoted 2026-02-30
            raise ConfigError(f"{path}: a date or time in it does not exist ({error}); fix it and run again") from None
    elif not must_exist:
        raw = {}
    else:
        raise ConfigError(f"{path}: no such config file; pass --config PATH to an existing config.yaml")
    return settings_from_mapping(raw or {}, path, problems=problems, manager=manager)


# --- reading the YAML ----------------------------------------------------------------
#
# PyYAML builds an alias as a reference to the anchored value, so nine nested levels of nine
# aliases ("billion laughs") cost nothing to load, but a billion values to anything that walks
# them (an error message's repr, a publish target's validation). The document is checked as
# nodes, before any value is built: how many values it holds with every alias expanded, how deep
# it nests, and which keys a mapping holds twice (PyYAML silently keeps the last).

#: A config file larger than this is no config file (the shipped one is about 3 KB).
MAX_CONFIG_BYTES = 1024 * 1024
#: The most values a config may hold with its aliases expanded (the shipped one holds about 60).
MAX_CONFIG_VALUES = 10_000
#: The deepest a config may nest (the deepest key of the schema is three levels down).
MAX_CONFIG_DEPTH = 32
#: The most digits of an integer in a config (Python refuses to read more than 4,300 of them).
MAX_INTEGER_DIGITS = 30


class _YamlTooBig(Exception):
    """A config whose values, nesting or numbers are beyond any setting's need."""


def read_yaml(text: str) -> tuple[Any, list[str]]:
    """``text`` parsed as YAML: ``(document, problems)``, the problems being each key a mapping holds
    twice (``billing.page_size: given twice, at lines 2 and 5; keep one``).

    :raises _YamlTooBig: aliases that expand to over ``MAX_CONFIG_VALUES`` values, an alias inside
        its own anchor, nesting deeper than ``MAX_CONFIG_DEPTH``, an integer of too many digits.
    :raises yaml.YAMLError: not YAML.
    """
    loader = yaml.SafeLoader(text)
    try:
        try:
            node = loader.get_single_node()
        except RecursionError:
            raise _YamlTooBig(f"it nests deeper than {MAX_CONFIG_DEPTH} levels") from None
        if node is None:
            return None, []
        problems: list[str] = []
        _ExpandedSize(problems).of(node, "", 0)
        return loader.construct_document(node), problems
    finally:
        loader.dispose()


class _ExpandedSize:
    """Counts the values of a node graph as if every alias were expanded (each shared node is
    measured once), noting duplicate keys on the way."""

    def __init__(self, problems: list[str]) -> None:
        self.problems = problems
        self.sizes: dict[int, int] = {}
        self.open: set[int] = set()
        self.total = 0

    def of(self, node: yaml.Node, where: str, depth: int) -> int:
        known = self.sizes.get(id(node))
        if known is None:
            known = self._measure(node, where, depth)
        self.total += known
        if self.total > MAX_CONFIG_VALUES:
            raise _YamlTooBig(f"its aliases expand to more than {MAX_CONFIG_VALUES:,} values")
        return known

    def _measure(self, node: yaml.Node, where: str, depth: int) -> int:
        line = node.start_mark.line + 1
        if depth > MAX_CONFIG_DEPTH:
            raise _YamlTooBig(f"it nests deeper than {MAX_CONFIG_DEPTH} levels (line {line})")
        if id(node) in self.open:
            raise _YamlTooBig(f"the value at line {line} holds an alias to itself")
        if isinstance(node, yaml.ScalarNode):
            if node.tag == "tag:yaml.org,2002:int" and sum(c.isdigit() for c in node.value) > MAX_INTEGER_DIGITS:
                raise _YamlTooBig(f"{_key_text(where)} is an integer of more than {MAX_INTEGER_DIGITS} digits "
                                  f"(line {line})")
            self.sizes[id(node)] = 1
            return 1
        self.open.add(id(node))
        before = self.total
        if isinstance(node, yaml.SequenceNode):
            for index, item in enumerate(node.value):
                self.of(item, f"{where}[{index}]", depth + 1)
        else:
            lines: dict[tuple[str, str], int] = {}
            for key, value in node.value:
                name = key.value if isinstance(key, yaml.ScalarNode) else "?"
                inner = f"{where}.{name}" if where else name
                if isinstance(key, yaml.ScalarNode) and key.tag != "tag:yaml.org,2002:merge":
                    first = lines.setdefault((key.tag, key.value), key.start_mark.line + 1)
                    if first != key.start_mark.line + 1:
                        self.problems.append(f"{_key_text(inner)}: given twice, at lines {first} and "
                                             f"{key.start_mark.line + 1}; keep one")
                self.of(key, inner, depth + 1)
                self.of(value, inner, depth + 1)
        self.open.discard(id(node))
        size = 1 + self.total - before
        self.total = before  # (the caller adds the size)
        self.sizes[id(node)] = size
        return size


def _key_text(where: str) -> str:
    """A key's dotted path as an error shows it."""
    return shortened(printable(where), 80) if where else "the document"


def settings_from_mapping(raw: Any, path: Path, *, problems: Sequence[str] = (), manager: Any = None) -> Settings:
    """Validate a parsed config (``path`` names it in errors and anchors relative paths; ``problems``:
    found while reading it, reported with the others), each plugin's block of ``plugins:`` by the
    class its plugin declared (``manager``: as in :func:`load_settings`)."""
    errors: list[str] = list(problems)
    values: dict[str, Any] = {}
    if not isinstance(raw, dict):
        raise ConfigError(f"{path}: expected a mapping of sections, found {type(raw).__name__}")

    plugin_blocks: dict[str, Any] = {}
    for section, content in raw.items():
        if section == "plugins" and isinstance(content, dict):  # the core's keys, then each plugin's block
            plugin_blocks = {key: block for key, block in content.items() if key not in SCHEMA["plugins"]}
            content = {key: value for key, value in content.items() if key in SCHEMA["plugins"]}
        if section in ("publish", "notify"):
            if content is None:
                continue
            if not isinstance(content, dict):
                errors.append(f"{section}: expected a mapping, found {_shown(content)}")
            else:
                values[section] = content
            continue
        keys = SCHEMA.get(section)
        if keys is None:
            errors.append(f"{section}: unknown section; expected one of {_choices([*SCHEMA, 'publish', 'notify'])} "
                          "(a plugin's settings go under plugins: NAME, as `billing-reports plugins` lists)")
            continue
        if content is None:
            continue
        if not isinstance(content, dict):
            errors.append(f"{section}: expected a mapping, found {_shown(content)}")
            continue
        for key, value in content.items():
            if key not in keys:
                errors.append(f"{section}.{key}: unknown key; expected one of {_choices(keys)}")
                continue
            name, check = keys[key]
            if value is None and name in OPTIONAL_FIELDS:
                values[name] = None
                continue
            try:
                values[name] = check(value)
            except ValueError as expected:
                errors.append(f"{section}.{key}: expected {expected}, found {_shown(value)}")

    if values.get("cycle_start") is not None:
        values["cycle_start"] = _cycle_start(values["cycle_start"], errors)

    if not any(error.startswith("paths.") for error in errors):
        base = path.parent
        for name in PATH_FIELDS & values.keys():
            if values[name] is not None:
                values[name] = _resolved(name, base, values[name], errors)
        for name in PATH_FIELDS - values.keys():
            default = Settings.__dataclass_fields__[name].default
            values[name] = (base / default).resolve() if default is not None else None
        errors += _overlapping_paths(values, path)
        values.update(_plugin_settings(plugin_blocks, values["plugins_dir"], manager, errors))

    if errors:
        lines = "\n".join(f"  {error}" for error in errors)
        raise ConfigError(f"{path}: {counted(len(errors), 'problem')}; "
                          f"fix {noun_for(len(errors), 'it', 'them')} and run again:\n{lines}")

    env_url = os.environ.get(BASE_URL_VARIABLE)
    if env_url:
        try:
            values["api_base_url"] = http_url(env_url)
        except ValueError as expected:
            raise ConfigError(f"{BASE_URL_VARIABLE}: expected {expected}, found {env_url!r}") from None

    dotenv, dotenv_problem = _read_dotenv(base)
    return Settings(config_path=path, dotenv=dotenv, dotenv_problem=dotenv_problem, **values)


def _plugin_settings(blocks: dict[str, Any], plugins_dir: Path | None, manager: Any, errors: list[str]) -> dict[str, Any]:
    """The plugins (``manager``, else loaded with ``plugins_dir``) and each one's block of ``blocks``
    validated; every problem added to ``errors``."""
    from .plugin_manager import get_plugin_manager
    from .plugin_settings import declared_settings, validate_blocks

    load_failures: list[Any] = []
    if manager is None:
        manager = get_plugin_manager(plugins_dir, failures=load_failures)
    declared = declared_settings(manager, errors)
    return {
        "plugin_settings": validate_blocks(blocks, declared, errors, unknown_allowed=bool(load_failures)),
        "plugin_manager": manager,
        "plugin_load_failures": tuple(load_failures),
    }


def _resolved(name: str, base: Path, written: str, errors: list[str]) -> Path | None:
    """``written`` made absolute (relative to ``base``, symlinks followed); ``None`` and a problem
    in ``errors`` when it cannot be (a symlink loop)."""
    try:
        return (base / Path(written).expanduser()).resolve()
    except (OSError, RuntimeError) as error:
        errors.append(f"paths.{name}: expected a path that can be followed, found {_shown(written)} "
                      f"({getattr(error, 'strerror', None) or error})")
        return None


#: Folders that hold only what billing-reports puts there, and why another folder must stay
#: apart from each: the build replaces ``site_dir`` whole (its swap deletes whatever was inside),
#: ``build --demo`` writes its synthetic cache and site under ``demo_dir``.
_OWNED_FOLDERS = {
    "site_dir": "a build replaces site_dir whole",
    "demo_dir": "build --demo writes synthetic months and a site under demo_dir",
}


def _overlapping_paths(values: dict[str, Any], config_path: Path) -> list[str]:
    """Every pair of configured folders where writing one destroys or mixes into the other.

    The cache, the site and the demo never overlap: not the same folder, not one inside
    the other, either way. The plugins, the templates and config.yaml itself must not be
    inside (or be) the site or the demo folder. Each problem names the later key.
    """
    problems: list[str] = []
    separate = ["data_dir", "site_dir", "demo_dir"]
    for later, key in enumerate(separate):
        for other in separate[:later]:
            relation = folder_relation(values[key], values[other])
            if relation is not None:
                problems.append(_overlap(key, values[key], f"paths.{other}", values[other], relation,
                                         _why_apart(key, other, relation)))
    for key in ("plugins_dir", "templates_dir"):
        for owned, why in _OWNED_FOLDERS.items():
            relation = folder_relation(values[key], values[owned])
            if relation in ("same", "inside"):
                problems.append(_overlap(key, values[key], f"paths.{owned}", values[owned], relation, why))
    for owned, why in _OWNED_FOLDERS.items():
        relation = folder_relation(values[owned], config_path.parent)
        if relation in ("same", "contains"):
            problems.append(_overlap(owned, values[owned], f"the folder of {config_path.name}", config_path.parent,
                                     relation, why))
    return problems


def with_site_dir(settings: Settings, site_dir: str | os.PathLike[str]) -> Settings:
    """``settings`` building into (or publishing from) ``site_dir`` (``--site-dir``: relative to the
    current folder), checked as ``paths.site_dir`` is: apart from the cache, the demo and the config.

    :raises ConfigError: one line naming the folder it overlaps."""
    try:
        folder = Path(site_dir).expanduser().resolve()
    except (OSError, RuntimeError, ValueError) as error:
        raise ConfigError(f"--site-dir {site_dir}: not a folder that can be used ({error})") from None
    values = {name: getattr(settings, name) for name in PATH_FIELDS}
    values["site_dir"] = folder
    problems = _overlapping_paths(values, settings.config_path)
    if problems:
        raise ConfigError("--site-dir: " + problems[0].removeprefix("paths.site_dir: "))
    return dataclasses.replace(settings, site_dir=folder)


def _why_apart(key: str, other: str, relation: str) -> str:
    """Why ``key`` must stay apart from ``other`` (``relation``: ``key``'s to ``other``'s):
    what happens to the folder inside."""
    container = key if relation == "contains" or relation == "same" and key in _OWNED_FOLDERS else other
    if container in _OWNED_FOLDERS:
        return _OWNED_FOLDERS[container]
    return "the cache, the site and the demo each need a folder of their own"


def folder_relation(folder: Path | None, other: Path | None) -> str | None:
    """``"same"``, ``"inside"`` (``folder`` is inside ``other``), ``"contains"`` or ``None``."""
    if folder is None or other is None:
        return None
    if folder == other:
        return "same"
    if folder.is_relative_to(other):
        return "inside"
    if other.is_relative_to(folder):
        return "contains"
    return None


def _overlap(key: str, folder: Path, other_key: str, other: Path, relation: str, reason: str) -> str:
    found = {
        "same": f"{folder}, the same folder as {other_key}",
        "inside": f"{folder}, inside {other_key} ({other})",
        "contains": f"{folder}, which contains {other_key} ({other})",
    }[relation]
    return f"paths.{key}: expected a folder apart from {other_key}, found {found}; {reason}"


def _cycle_start(raw: Any, errors: list[str]) -> int | None:
    """``billing.cycle_start`` as an epoch day: a date, or a timestamp at 00:00:00 UTC."""
    try:
        return cycle_start_day(raw)
    except ValueError as problem:  # "expected ..., found ..."
        errors.append(f"billing.cycle_start: {problem}")
        return None


def _read_dotenv(config_dir: Path) -> tuple[dict[str, str], str | None]:
    """``.env`` next to the config, then in the current directory (the first wins); and why one
    could not be read, or ``None``.

    A broken ``.env`` stops no command here: only one that needs a credential from it fails
    (``Settings.secret``), so ``report`` or ``build --offline`` still run.
    """
    found: dict[str, str] = {}
    problem = None
    for directory in (config_dir, Path.cwd()):
        env_file = directory / ".env"
        try:
            if not os.path.lexists(env_file):
                continue
            if not env_file.is_file():  # a folder, a broken or looping link: there, but not a file to read
                raise OSError(errno.EISDIR if env_file.is_dir() else errno.ENOENT,
                              "a folder, not a file" if env_file.is_dir() else "a link to nothing readable")
            values = dotenv_values(env_file, encoding="utf-8")
        except (OSError, UnicodeDecodeError) as error:
            reason = "not UTF-8 text" if isinstance(error, UnicodeDecodeError) else error.strerror or str(error)
            problem = problem or f"{env_file}: cannot read it ({reason})"
            continue
        for name, value in values.items():
            if value is not None:
                found.setdefault(name, value)
    return found, problem


def check_api_key(key: str) -> None:
    """Refuse a key that cannot be the Cursor Admin API's: printable ASCII, no spaces (it travels
    in an HTTP header; a key with a line break or a non-ASCII character only fails deep in the client).

    :raises ConfigError: one line that never shows the key.
    """
    if not all("!" <= character <= "~" for character in key):
        raise ConfigError(
            f"{API_KEY_VARIABLE} holds characters no API key has (a space, a line break, a control or non-ASCII "
            "character); copy the key again from the Cursor team settings"
        )


def _shown(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


def _choices(names) -> str:
    return ", ".join(sorted(names))
