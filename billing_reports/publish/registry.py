"""Publish target kinds, collected from the ``register_publish_targets`` hook."""

from __future__ import annotations

import pluggy

from ..errors import PluginError
from .target import PublishTarget

_REQUIRED_METHODS = ("validate", "with_defaults", "describe", "plan", "publish", "rollback")


def publish_target_kinds(manager: pluggy.PluginManager) -> dict[str, type[PublishTarget]]:
    """Every registered kind and its class (built-ins and plugins alike).

    :raises PluginError: two plugins register the same kind, or a class lacks
        the :class:`PublishTarget` methods.
    """
    kinds: dict[str, type[PublishTarget]] = {}

    def register(kind: str, target_class: type[PublishTarget]) -> None:
        if not isinstance(kind, str) or not kind:
            raise PluginError(f"register_publish_targets: kind must be a non-empty string, got {kind!r}")
        missing = [name for name in _REQUIRED_METHODS if not callable(getattr(target_class, name, None))]
        if missing:
            raise PluginError(
                f"publish target {kind!r}: {getattr(target_class, '__name__', target_class)} lacks "
                f"{', '.join(missing)}; subclass billing_reports.publish.PublishTarget"
            )
        if kind in kinds and kinds[kind] is not target_class:
            raise PluginError(
                f"publish target {kind!r} is registered twice ({kinds[kind].__module__} and "
                f"{target_class.__module__}); uninstall or rename one"
            )
        kinds[kind] = target_class

    manager.hook.register_publish_targets(register=register)
    return kinds


__all__ = ["publish_target_kinds"]
