"""Which files at a target are ours to delete: those the previous publish's manifest lists.

A publish target may hold files billing-reports did not put there: a ``CNAME``
or ``.nojekyll`` in a Pages branch, other objects in a shared bucket, a
``robots.txt`` an administrator dropped into the web root. A publish deletes a
file only when the ``build-manifest.json`` already published there lists it
(or it is that manifest), or when the target's ``prune`` patterns name it;
everything else is kept, whatever the new site holds.

Prune patterns are shell-style and match the whole path relative to the site,
``*`` included across ``/``: ``CNAME`` is the top-level file, ``old/*``
everything under ``old/``, ``*.pdf`` every PDF, ``*`` everything (the site is
then exactly the build).
"""

from __future__ import annotations

import fnmatch
import json
from pathlib import PurePosixPath
from typing import Any, Iterable

from ..errors import PublishError
from ..site.built import MANIFEST_NAME
from .site import _is_inside


def path_patterns(value: Any) -> tuple[str, ...]:
    """The ``prune`` option: a list of path patterns relative to the site."""
    expected = "a list of path patterns relative to the site, such as ['old/*', '*.pdf']"
    if not isinstance(value, list) or not all(isinstance(p, str) and p.strip() for p in value):
        raise ValueError(expected)
    for pattern in value:
        if pattern.startswith("/") or ".." in PurePosixPath(pattern).parts or not _is_inside(pattern):
            raise ValueError(expected)
    return tuple(value)


def previous_files(raw: bytes | None, where: str) -> frozenset[str]:
    """The files the published ``build-manifest.json`` (``raw``; ``None``: none there) says are ours.

    :raises PublishError: a manifest is there but cannot be read: what is ours
        cannot be told, so nothing could be deleted safely.
    """
    if raw is None:
        return frozenset()
    try:
        manifest = json.loads(raw)
        files = manifest["files"]
        if not isinstance(files, list):
            raise TypeError("files is not a list")
    except (ValueError, TypeError, KeyError) as error:
        raise PublishError(
            f"{where}: the published {MANIFEST_NAME} cannot be read ({type(error).__name__}), so which files "
            f"an earlier publish put there is unknown; restore or delete it there and publish again "
            f"(only files it lists are ever deleted)"
        ) from None
    return frozenset(f for f in files if isinstance(f, str) and _is_inside(f)) | {MANIFEST_NAME}


def matches(path: str, patterns: Iterable[str]) -> bool:
    """``path`` is named by one of the ``prune`` patterns."""
    return any(fnmatch.fnmatchcase(path, pattern) for pattern in patterns)


def stale(present: Iterable[str], ours: frozenset[str], wanted: Iterable[str], prune: Iterable[str]) -> list[str]:
    """The files at the target to delete: ours (or pruned) and not in the new site, sorted."""
    wanted = set(wanted)
    prune = tuple(prune)
    return sorted(p for p in present if p not in wanted and (p in ours or matches(p, prune)))


def clash(kept: Iterable[str], wanted: Iterable[str], where: str, target_name: str) -> None:
    """Refuse a kept file (not ours) that stands where the new site needs a folder, or inside what the
    site needs as a file: on a file system one of the two would have to go.

    :raises PublishError: naming the file and the ``prune`` option that would let it go.
    """
    wanted = set(wanted)
    folders = {str(folder) for name in wanted for folder in PurePosixPath(name).parents}
    for path in kept:
        in_the_way = path in folders or any(str(folder) in wanted for folder in PurePosixPath(path).parents)
        if in_the_way:
            needed = "folder" if path in folders else "file"
            raise PublishError(
                f"{where}: {path!r} is there and an earlier publish did not put it there, but the site needs a "
                f"{needed} in its place; move it away, or name it in publish.targets.{target_name}.prune"
            )


__all__ = ["clash", "matches", "path_patterns", "previous_files", "stale"]
