"""Each plugin's own block of ``config.yaml``: ``plugins.NAME``, declared and checked by its plugin.

A plugin declares its block with ``register_settings(register)``: ``register(name, SettingsClass)``,
a ``msgspec.Struct`` whose fields (with their defaults and ``msgspec.Meta`` constraints and
descriptions) are the block's keys. The block is checked key by key with ``msgspec.convert``, so
every unknown or mistyped key is reported, each naming its path (down to the entry of a mapping:
``plugins.NAME.KEY.ENTRY``), with the rest of the config's problems; the plugin then reads the
validated object (``settings.plugin(NAME)``), never the dict.

Why msgspec: it is already how the cache is decoded, a Struct gives the plugin a typed, frozen
object with defaults for nothing, and checking one key at a time turns its first-error-only
validation into every-error reporting. pydantic would add a second, much larger validation library
for the same result; more hand-written checks in ``settings.py`` would make every plugin author
learn a home-made schema language.
"""

from __future__ import annotations

import collections.abc
import types
import typing
from dataclasses import dataclass
from typing import Any, Mapping

import msgspec
import msgspec.inspect as inspect
import pluggy

#: The key of ``plugins:`` that is the core's own, not a plugin's block.
CORE_KEYS = frozenset({"skip_broken"})


@dataclass(frozen=True)
class DeclaredSettings:
    """One plugin's block: its key under ``plugins:``, the plugin that declared it, and its class."""

    name: str
    plugin: str
    settings_class: type[msgspec.Struct]

    def keys(self) -> list[SettingKey]:
        """The block's keys, with what each takes, its default and its help (for docs and listings)."""
        return [SettingKey(field.encode_name, _describe(field.type), _default(field), _help(field.type))
                for field in inspect.type_info(self.settings_class).fields]


@dataclass(frozen=True)
class SettingKey:
    key: str
    expected: str
    default: Any
    help: str


def declared_settings(manager: pluggy.PluginManager, problems: list[str]) -> dict[str, DeclaredSettings]:
    """Every block the plugins of ``manager`` declare, by name; a name declared twice, a reserved or
    malformed name, or a class that is no ``msgspec.Struct`` is a problem, added to ``problems``."""
    declared: dict[str, DeclaredSettings] = {}
    for hookimpl in manager.hook.register_settings.get_hookimpls():
        plugin = hookimpl.plugin_name

        def register(name: Any, settings_class: Any, *, plugin: str = plugin) -> None:
            if not isinstance(name, str) or not name or name in CORE_KEYS or "." in name:
                problems.append(f"plugins: plugin {plugin} declares settings under {name!r}, which cannot be a "
                                "key of plugins: (a non-empty name without dots, not skip_broken); rename it")
            elif not (isinstance(settings_class, type) and issubclass(settings_class, msgspec.Struct)):
                problems.append(f"plugins.{name}: plugin {plugin} declares its settings with "
                                f"{settings_class!r}, not a msgspec.Struct class; fix the plugin")
            elif name in declared:
                problems.append(f"plugins.{name}: declared by both {declared[name].plugin} and {plugin}; "
                                "uninstall one of them")
            else:
                try:
                    inspect.type_info(settings_class)  # its annotations must resolve (a typo, a missing import)
                except Exception as error:
                    problems.append(f"plugins.{name}: plugin {plugin} declares settings whose types cannot be "
                                    f"read ({type(error).__name__}: {error}); fix the plugin")
                    return
                declared[name] = DeclaredSettings(name, plugin, settings_class)

        try:
            hookimpl.function(**{arg: {"register": register}[arg] for arg in hookimpl.argnames})
        except Exception as error:  # a plugin's bug, named
            problems.append(f"plugins: plugin {plugin} failed to declare its settings "
                            f"({type(error).__name__}: {error}); fix or uninstall it")
    return declared


def validate_blocks(blocks: Mapping[str, Any], declared: Mapping[str, DeclaredSettings], problems: list[str], *,
                    unknown_allowed: bool = False) -> dict[str, msgspec.Struct]:
    """Each declared block of ``blocks`` (``plugins:`` without its core keys) as its plugin's object
    (defaults where a block or key is absent). Every problem is added to ``problems`` as
    ``plugins.NAME.KEY: expected ..., found ...``; a block no plugin declares is one too, unless
    ``unknown_allowed`` (a plugin failed to load: its block may be the one nobody claims)."""
    validated: dict[str, msgspec.Struct] = {}
    for name, block in blocks.items():
        if name not in declared and not unknown_allowed:
            choices = ", ".join(sorted([*CORE_KEYS, *declared]))
            problems.append(f"plugins.{name}: no plugin declares settings by this name; expected one of {choices} "
                            "(`billing-reports plugins` lists each plugin's settings name)")
    for name, declaration in declared.items():
        block = blocks.get(name)
        if block is None:
            block = {}
        if not isinstance(block, dict):
            problems.append(f"plugins.{name}: expected a mapping of settings, found {_shown(block)}")
            continue
        fields = {field.encode_name: field for field in msgspec.structs.fields(declaration.settings_class)}
        values: dict[str, Any] = {}
        fine = True
        for key, value in block.items():
            field = fields.get(key) if isinstance(key, str) else None
            if field is None:
                problems.append(f"plugins.{name}.{key}: unknown key; expected one of {', '.join(sorted(fields))}")
                fine = False
                continue
            try:
                values[field.name] = msgspec.convert(value, field.type)
            except msgspec.ValidationError:
                problems.extend(_entry_problems(f"plugins.{name}.{key}", value, field.type)
                                or [f"plugins.{name}.{key}: expected {expected(field.type)}, found {_shown(value)}"])
                fine = False
        for key, field in fields.items():
            if field.required and field.name not in values and key not in block:
                problems.append(f"plugins.{name}.{key}: required; expected {expected(field.type)}")
                fine = False
        if not fine:
            continue
        try:
            validated[name] = declaration.settings_class(**values)
        except (TypeError, ValueError) as error:  # the class's own check across keys (__post_init__)
            problems.append(f"plugins.{name}: {error}")
    return validated


def _entry_problems(path: str, value: Any, annotation: Any) -> list[str]:
    """One problem per bad entry when ``value`` is a mapping for a mapping type (``dict[str, float]``,
    optional or not), each naming its key (``PATH.KEY``); none when ``value`` or ``annotation`` is no
    mapping, or every entry is fine (the mapping as a whole is wrong, which the caller says)."""
    mapping_type = _mapping_type(annotation)
    if mapping_type is None or not isinstance(value, dict):
        return []
    key_type, value_type = typing.get_args(mapping_type) or (Any, Any)
    problems: list[str] = []
    for key, item in value.items():
        try:
            msgspec.convert(key, key_type)
        except msgspec.ValidationError:
            problems.append(f"{path}: expected each key to be {expected(key_type)}, found {_shown(key)}")
            continue
        try:
            msgspec.convert(item, value_type)
        except msgspec.ValidationError:
            problems.extend(_entry_problems(f"{path}.{key}", item, value_type)
                            or [f"{path}.{key}: expected {expected(value_type)}, found {_shown(item)}"])
    return problems


def _mapping_type(annotation: Any) -> Any:
    """``dict[K, V]`` out of ``annotation`` (through ``Annotated`` and a union with one mapping), or ``None``."""
    origin = typing.get_origin(annotation)
    if origin is typing.Annotated:
        return _mapping_type(typing.get_args(annotation)[0])
    if origin in (dict, collections.abc.Mapping, collections.abc.MutableMapping) or annotation is dict:
        return annotation
    if origin in (typing.Union, types.UnionType):
        mappings = [found for member in typing.get_args(annotation) if (found := _mapping_type(member)) is not None]
        return mappings[0] if len(mappings) == 1 else None
    return None


def expected(annotation: Any) -> str:
    """What a key of this type takes, in the words of the config's errors: ``an integer from 1 to 10``."""
    return _describe(inspect.type_info(annotation))


def _describe(info: inspect.Type) -> str:
    if isinstance(info, inspect.Metadata):
        return _describe(info.type)
    if isinstance(info, inspect.BoolType):
        return "true or false"
    if isinstance(info, (inspect.IntType, inspect.FloatType)):
        noun = "an integer" if isinstance(info, inspect.IntType) else "a number"
        low, high = info.ge if info.ge is not None else info.gt, info.le if info.le is not None else info.lt
        low_text, high_text = (_bound_text(bound) for bound in (low, high))
        if low is not None and high is not None:
            between = "from {} to {}" if info.ge is not None and info.le is not None else "between {} and {}"
            return f"{noun} {between.format(low_text, high_text)}"
        if low is not None:
            return f"{noun} {'of at least' if info.ge is not None else 'above'} {low_text}"
        if high is not None:
            return f"{noun} {'of at most' if info.le is not None else 'below'} {high_text}"
        return noun
    if isinstance(info, inspect.StrType):
        return "a non-empty string" if info.min_length else "a string"
    if isinstance(info, (inspect.ListType, inspect.VarTupleType, inspect.SetType, inspect.FrozenSetType)):
        item = _describe(info.item_type)
        return f"a list of {item.removeprefix('a ').removeprefix('an ')}s" if item.startswith(("a ", "an ")) \
            else f"a list ({item})"
    if isinstance(info, inspect.DictType):
        return "a mapping"
    if isinstance(info, inspect.LiteralType):
        return "one of " + ", ".join(str(value) for value in info.values)
    if isinstance(info, inspect.NoneType):
        return "null"
    if isinstance(info, inspect.UnionType):
        return " or ".join(_describe(member) for member in info.types)
    if isinstance(info, inspect.AnyType):
        return "any value"
    return type(info).__name__.removesuffix("Type").lower()


def _bound_text(bound: float | int | None) -> str:
    """``0.01``, ``1000000000`` (not ``1e+09``: a bound a person types into config.yaml)."""
    if isinstance(bound, float):
        return str(int(bound)) if bound.is_integer() else f"{bound:g}"
    return str(bound)


def _help(info: inspect.Type) -> str:
    return (info.extra_json_schema or {}).get("description", "") if isinstance(info, inspect.Metadata) else ""


def _default(field: inspect.Field) -> Any:
    if field.default is not msgspec.NODEFAULT:
        return field.default
    if field.default_factory is not msgspec.NODEFAULT:
        return field.default_factory()
    return None


def _shown(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


__all__ = ["CORE_KEYS", "DeclaredSettings", "SettingKey", "declared_settings", "expected", "validate_blocks"]
