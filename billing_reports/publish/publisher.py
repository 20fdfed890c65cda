"""``billing-reports publish`` from top to bottom: pick the target, check the build, publish."""

from __future__ import annotations

import contextlib
from dataclasses import dataclass
from pathlib import Path
from typing import Iterator

from ..errors import BillingReportsError, PublishError
from ..settings import Settings
from .config import PublishConfig, read_publish_config
from .deadline import deadline
from .registry import publish_target_kinds
from ..site.built import BuiltSite
from .site import load_built_site
from .target import Change, PublishTarget


@dataclass(frozen=True)
class PublishReport:
    """What a publish (or a dry run) did, for the command to print."""

    target: PublishTarget
    site: BuiltSite
    changes: tuple[Change, ...]
    dry_run: bool

    def counts(self) -> dict[str, int]:
        counts = {"add": 0, "update": 0, "delete": 0}
        for change in self.changes:
            counts[change.action] += 1
        return counts


def publish_config(settings: Settings) -> PublishConfig:
    """The validated ``publish:`` section, with the kinds every plugin registered."""
    manager, _ = settings.loaded_plugins()  # (the plugins the config was checked with)
    return read_publish_config(settings, publish_target_kinds(manager))


def open_target(settings: Settings, name: str | None) -> PublishTarget:
    """The target called ``name`` (the default one when ``None``), ready to use."""
    return publish_config(settings).entry(name, settings.config_path).create(settings)


def publish_site(
    settings: Settings,
    name: str | None = None,
    *,
    dry_run: bool = False,
    site_dir: Path | None = None,
    build_hint: str = "billing-reports build",
    demo: bool = False,
) -> PublishReport:
    """Publish the complete build in ``site_dir`` (default ``settings.site_dir``) to a target.

    With ``dry_run`` nothing changes; the report lists what would. ``demo``: the site is the demo's
    (``build --demo``), which has no --site-dir of its own.

    :raises ConfigError: the ``publish:`` section is wrong or names no such target.
    :raises PublishError: no complete build, or the target failed or did not
        finish within its ``timeout_seconds`` (one line, credentials scrubbed;
        the previous site still serves).
    """
    target = open_target(settings, name)
    site = load_built_site(site_dir or settings.site_dir, build_hint=build_hint)
    if target.pseudonymised_only and not site.pseudonymised:
        raise PublishError(
            f"publish target {target.name!r} takes only a pseudonymised site (pseudonymised_only), and "
            f"{site.directory} names people; "
            + ("build the demo with `billing-reports build --demo --pseudonymise` and publish it with --demo again"
               if demo else "build one with `billing-reports build --pseudonymise --site-dir DIR` and publish it "
               "with --site-dir DIR")
        )
    with one_line_errors(target), deadline(target.timeout_seconds, target.name, _kind(target)):
        changes = target.plan(site) if dry_run else target.publish(site)
    return PublishReport(target=target, site=site, changes=tuple(changes), dry_run=dry_run)


def rollback_site(settings: Settings, name: str | None = None) -> tuple[PublishTarget, str]:
    """Make a target serve its previously published site again."""
    target = open_target(settings, name)
    if not target.supports_rollback:
        raise PublishError(
            f"publish target {target.name!r} ({_kind(target)}) keeps no previous site, so it cannot "
            f"roll back; publish the older build instead"
        )
    with one_line_errors(target), deadline(target.timeout_seconds, target.name, _kind(target)):
        return target, target.rollback()


@contextlib.contextmanager
def one_line_errors(target: PublishTarget) -> Iterator[None]:
    """Turn whatever a target raises into one scrubbed line (no traceback, no credential)."""
    try:
        yield
    except BillingReportsError as error:
        error.message = target.scrub(error.message)
        raise
    except (KeyboardInterrupt, SystemExit):
        raise
    except Exception as error:  # a target's bug or an unexpected library error
        detail = target.scrub(" ".join(str(error).split()))
        raise PublishError(
            f"publish target {target.name!r} ({_kind(target)}) failed: {type(error).__name__}: {detail}"
        ) from None


def _kind(target: PublishTarget) -> str:
    return getattr(target, "kind", type(target).__name__)


__all__ = ["PublishReport", "one_line_errors", "open_target", "publish_config", "publish_site", "rollback_site"]
