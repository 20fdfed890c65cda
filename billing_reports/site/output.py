"""Build the site beside ``site_dir`` and swap it in only when it is complete.

The new site is written into a temporary directory next to ``site_dir``; its
last file is ``build-manifest.json``, which lists every file with its size and
SHA-256 (``publish`` refuses a site whose files no longer match). Then it is swapped in: the two
directories are exchanged in
one ``renameat2(RENAME_EXCHANGE)`` where Linux offers it (otherwise a rename
dance: old away, new in, old removed), so ``site_dir`` is never half-built. A
build that fails leaves the previous site untouched and removes its temporary
directory.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import glob
import hashlib
import os
import shutil
import tempfile
from pathlib import Path
from typing import Any

import orjson

from ..errors import ConfigError, SiteError
from ..folders import check_writable_folder
from ..abandoned_work import remove_abandoned_work
from .built import MANIFEST_NAME

_RENAME_EXCHANGE = 2
_AT_FDCWD = -100


def _exchange(first: Path, second: Path) -> bool:
    """Swap two directories atomically; ``False`` when the system cannot."""
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c"), use_errno=True)
        renameat2 = libc.renameat2
    except (OSError, AttributeError, TypeError):
        return False
    renameat2.argtypes = [ctypes.c_int, ctypes.c_char_p, ctypes.c_int, ctypes.c_char_p, ctypes.c_uint]
    result = renameat2(_AT_FDCWD, os.fsencode(first), _AT_FDCWD, os.fsencode(second), _RENAME_EXCHANGE)
    return result == 0


def file_checksum(path: Path | str) -> dict[str, Any]:
    """``{"size": bytes, "sha256": hex}`` of a file: what the manifest records for each file."""
    digest = hashlib.sha256()
    size = 0
    with open(path, "rb") as stream:
        for block in iter(lambda: stream.read(1 << 20), b""):
            digest.update(block)
            size += len(block)
    return {"size": size, "sha256": digest.hexdigest()}


def check_site_dir(site_dir: Path) -> None:
    """Refuse to replace a directory that is not a site this tool built (or empty), and a site
    directory whose folder this user cannot write (the new site is built beside it)."""
    check_writable_folder(site_dir.parent, "paths.site_dir", why=" (the new site is built beside site_dir)")
    if not site_dir.exists():
        return
    if not site_dir.is_dir():
        raise ConfigError(f"paths.site_dir: {site_dir} is a file, not a directory; choose another path")
    if (site_dir / MANIFEST_NAME).is_file() or not any(site_dir.iterdir()):
        return
    raise ConfigError(
        f"paths.site_dir: {site_dir} holds files but no {MANIFEST_NAME}, so it is not a site built by "
        "billing-reports; choose an empty or new directory (the build replaces the whole directory)"
    )


class SiteOutput:
    """The files of one build, written into a temporary directory, then swapped in.

    Use as a context manager: leaving it without :meth:`swap_in` (an error,
    Ctrl-C) removes the temporary directory and keeps the previous site.
    """

    def __init__(self, site_dir: Path) -> None:
        self.site_dir = Path(site_dir)
        self.files: list[str] = []
        #: Each written file's size and SHA-256 (the manifest's ``checksums``), taken as it is written.
        self.checksums: dict[str, dict[str, Any]] = {}
        self._names: set[str] = set()  # the same, to look up (thousands of files)
        self._made: set[str] = set()  # directories made, as paths
        self.root: Path | None = None
        self._root_text = ""

    def __enter__(self) -> "SiteOutput":
        check_site_dir(self.site_dir)
        try:
            self.site_dir.parent.mkdir(parents=True, exist_ok=True)
            self._remove_abandoned_work()
            self.root = Path(tempfile.mkdtemp(prefix=f".{self.site_dir.name}.building-", dir=self.site_dir.parent))
            umask = os.umask(0)
            os.umask(umask)
            os.chmod(self.root, 0o777 & ~umask)
        except OSError as error:
            self.__exit__()
            raise self.cannot_write(error) from None
        self._root_text = str(self.root)
        self._made.add(self._root_text)
        return self

    def cannot_write(self, error: OSError) -> SiteError:
        """The one line for a write that failed (a full disk, a quota, permissions)."""
        return SiteError(
            f"Cannot write the new site beside {self.site_dir} ({error.strerror or error}); free some space or "
            f"check the permissions of {self.site_dir.parent}, then build again (the previous site is as it was)."
        )

    def _remove_abandoned_work(self) -> None:
        """Remove build directories that a killed build (``kill -9``, power loss) left behind."""
        name = glob.escape(self.site_dir.name)  # (a name is no pattern: `site[1]` must not match `.site1.old-x`)
        remove_abandoned_work(self.site_dir.parent, (f".{name}.building-*", f".{name}.old-*"))

    def __exit__(self, *exc_info: Any) -> None:
        """Remove the build directory unless it was swapped in (an error, Ctrl-C, a full disk)."""
        if self.root is not None and self.root.exists():
            shutil.rmtree(self.root, ignore_errors=True)

    def _target(self, relative: str) -> str:
        """The file's path in the build directory (its directory made); plain strings, as thousands
        of files are written."""
        if any(part in ("", ".", "..") for part in relative.split("/")):  # ("/a", "a/", "a//b", "./a" too)
            raise ValueError(f"not a relative path inside the site: {relative!r}")
        assert self.root is not None, "use SiteOutput as a context manager"
        target = os.path.join(self._root_text, relative)
        parent = os.path.dirname(target)
        if parent not in self._made:
            try:
                os.makedirs(parent, exist_ok=True)
            except OSError as error:
                raise self.cannot_write(error) from None
            self._made.add(parent)
        return target

    def write_text(self, relative: str, text: str) -> None:
        self.write_bytes(relative, text.encode("utf-8"))

    def write_bytes(self, relative: str, data: bytes) -> None:
        self._claim(relative)
        target = self._target(relative)
        try:
            with open(target, "wb") as file:
                file.write(data)
        except OSError as error:
            raise self.cannot_write(error) from None
        self.files.append(relative)
        self.checksums[relative] = {"size": len(data), "sha256": hashlib.sha256(data).hexdigest()}

    def _claim(self, relative: str) -> None:
        if relative in self._names or relative == MANIFEST_NAME:
            raise ValueError(f"the site already has a file {relative!r}")
        self._names.add(relative)

    def add_written(self, relatives: list[str], checksums: dict[str, dict[str, Any]]) -> None:
        """Files another process wrote into this site (the forked half of the page renderer), with
        the checksums it took."""
        for relative in relatives:
            self._claim(relative)
        self.files.extend(relatives)
        self.checksums.update(checksums)

    def swap_in(self, manifest: dict[str, Any]) -> dict[str, Any]:
        """Write ``build-manifest.json`` (last), then swap the new site in; return the manifest.

        The manifest lists the files and, under ``checksums``, each one's size and SHA-256, as
        they were written (reading 1,250 files back cost a second on a slow disk).
        """
        assert self.root is not None
        files = sorted(self.files)
        try:
            checksums = {relative: self.checksums.get(relative)
                         or file_checksum(os.path.join(self._root_text, relative)) for relative in files}
            manifest = {**manifest, "files": files, "checksums": checksums}
            (self.root / MANIFEST_NAME).write_bytes(orjson.dumps(manifest, option=orjson.OPT_INDENT_2))
        except OSError as error:
            raise self.cannot_write(error) from None
        check_site_dir(self.site_dir)  # nobody put something else there meanwhile
        try:
            self._exchange_with_site_dir()
        except OSError as error:  # nothing swapped: the previous site is where it was
            raise self.cannot_write(error) from None
        return manifest

    def _exchange_with_site_dir(self) -> None:
        """Put the build directory in the place of ``site_dir``; the previous site is removed.

        :raises OSError: nothing was swapped (the previous site is still ``site_dir``).
        """
        assert self.root is not None
        if not self.site_dir.exists():
            os.rename(self.root, self.site_dir)
        elif _exchange(self.root, self.site_dir):
            shutil.rmtree(self.root, ignore_errors=True)  # now the previous site
        else:
            old = Path(tempfile.mkdtemp(prefix=f".{self.site_dir.name}.old-", dir=self.site_dir.parent))
            try:
                os.rename(self.site_dir, old / "site")
            except OSError:
                old.rmdir()
                raise
            try:
                os.rename(self.root, self.site_dir)
            except OSError:
                os.rename(old / "site", self.site_dir)  # put the previous site back
                old.rmdir()
                raise
            shutil.rmtree(old, ignore_errors=True)  # the previous site
        self.root = None
