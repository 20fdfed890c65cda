"""The folders a command writes into, checked before it starts.

A cache or site folder that is a file, or that this user cannot write, would
otherwise fail the command halfway: after the API was asked for every page, or
after the site was rendered. These checks name the key and the folder at once.
They ask the operating system (``access``), so they are right for the user the
command runs as; root passes them, as root's writes succeed.
"""

from __future__ import annotations

import os
from pathlib import Path

from .errors import ConfigError


def existing_folder(folder: Path, key: str) -> Path:
    """``folder``, or its nearest parent that exists (the one a write would create it in).

    :raises ConfigError: that is a file, not a directory.
    """
    existing = Path(folder)
    while not existing.exists() and existing.parent != existing:
        existing = existing.parent
    if not existing.is_dir():
        raise ConfigError(f"{key}: {existing} is a file, not a directory; choose another path")
    return existing


def check_writable_folder(folder: Path, key: str, *, why: str = "") -> None:
    """Refuse ``folder`` when this user cannot create files in it (or where it would be created).

    :param why: said after the folder, e.g. ``" (the new site is built beside site_dir)"``.
    :raises ConfigError: one line naming ``key`` and the folder.
    """
    existing = existing_folder(folder, key)
    effective = os.access in os.supports_effective_ids
    if not os.access(existing, os.W_OK | os.X_OK, effective_ids=effective):
        raise ConfigError(f"{key}: {existing} is not writable by this user{why}; make it writable or choose another {key}")


__all__ = ["check_writable_folder", "existing_folder"]
