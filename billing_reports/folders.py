"""The folders a command writes into, checked before it starts.

A cache or site folder that is a file, or that this user cannot write, would
otherwise fail the command halfway: after the API was asked for every page, or
after the site was rendered. These checks name the key and the folder at once.
They ask the operating system (``access``), so they are right for the user the
command runs as; root passes them, as root's writes succeed.
"""

from __future__ import annotations

import errno
import os
from pathlib import Path

from .errors import ConfigError


def existing_folder(folder: Path, key: str) -> Path:
    """``folder``, or its nearest parent that exists (the one a write would create it in), checked
    to be a directory this user can enter (to read or create the files in it).

    :raises ConfigError: that is a file, or a folder on the way cannot be entered.
    """
    existing = Path(folder)
    try:
        while not existing.exists() and existing.parent != existing:
            existing = existing.parent
        is_dir = existing.is_dir()
    except OSError as error:  # a folder on the way this user may not enter
        raise _unreachable(folder, key, error.strerror or str(error)) from None
    if not is_dir:
        raise ConfigError(f"{key}: {existing} is a file, not a directory; choose another path")
    if not _access(existing, os.X_OK):
        raise _unreachable(folder, key, os.strerror(errno.EACCES))
    return existing


def check_writable_folder(folder: Path, key: str, *, why: str = "") -> None:
    """Refuse ``folder`` when this user cannot create files in it (or where it would be created).

    :param why: said after the folder, e.g. ``" (the new site is built beside site_dir)"``.
    :raises ConfigError: one line naming ``key`` and the folder.
    """
    existing = existing_folder(folder, key)
    if not _access(existing, os.W_OK | os.X_OK):
        raise ConfigError(f"{key}: {existing} is not writable by this user{why}; make it writable or choose another {key}")


def _access(path: Path, mode: int) -> bool:
    return os.access(path, mode, effective_ids=os.access in os.supports_effective_ids)


def _unreachable(folder: Path, key: str, why: str) -> ConfigError:
    return ConfigError(f"{key}: cannot reach {folder} ({why}); make it reachable for this user or choose another {key}")


__all__ = ["check_writable_folder", "existing_folder"]
