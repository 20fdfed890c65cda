"""Publish to a directory (an nginx root, a mounted share): copy beside, swap atomically.

The new site is copied into a hidden directory beside the live one
(``.billing.incoming-*`` next to ``billing``), then the two are swapped in one
atomic ``rename`` (Linux ``renameat2(RENAME_EXCHANGE)``; elsewhere two quick
renames). The site that was live is kept as ``.billing.previous`` for
``publish --rollback``, which swaps the two back. A copy that fails leaves
the live site untouched; a copy a killed publish left behind is removed by a
later publish once it is a day old.

Only a folder billing-reports published is ever replaced: one that is empty or
holds our ``build-manifest.json`` (every build writes it last and every publish
copies it). Any other folder at ``path`` (an nginx root with other files) or at
``.billing.previous`` is refused before anything is copied, moved or deleted.

Files in the live directory that the published ``build-manifest.json`` does
not list (a ``robots.txt`` an administrator added) are carried into the new
copy (hard-linked) unless ``prune`` names them. One publish or rollback at a
time: each holds an ``flock`` on ``.billing.publish-lock`` beside the live
directory (released by the system even if the process is killed).
"""

from __future__ import annotations

import contextlib
import ctypes
import ctypes.util
import errno
import filecmp
import os
import shutil
import tempfile
from pathlib import Path
from typing import Iterator

from ... import hookimpl
from ...errors import PublishError
from ...abandoned_work import remove_abandoned_work
from ...settings import folder_relation
from .. import ownership
from ...site.built import MANIFEST_NAME, NOT_PSEUDONYMISED_PREVIOUS, BuiltSite, manifest_is_pseudonymised
from ..target import Change, Option, PublishTarget, text

try:
    import fcntl
except ImportError:  # not POSIX: no lock
    fcntl = None

_RENAME_EXCHANGE = 2
_AT_FDCWD = -100


class DirectoryTarget(PublishTarget):
    """A local or mounted directory a web server serves."""

    options = {
        "path": Option(text, required=True, help="the directory the web server serves (relative to config.yaml)"),
        "prune": Option(ownership.path_patterns, default=(), help="patterns of files not ours to delete too, such as ['old/*']"),
    }
    supports_rollback = True

    @property
    def live(self) -> Path:
        return self.local_path(self.config["path"])

    @property
    def previous(self) -> Path:
        return self.live.parent / f".{self.live.name}.previous"

    def describe(self) -> str:
        return str(self.live)

    def check(self) -> None:
        """Refuse, in one line, a destination that a publish could not swap a site into.

        Both :meth:`plan` (``--dry-run``) and :meth:`publish` call it, so a dry
        run never promises a publish that is bound to fail.
        """
        live = self.live
        if live.exists() and not live.is_dir():
            raise PublishError(f"{live}: exists and is not a directory; move it away or change publish.targets.{self.name}.path")
        if not live.parent.is_dir():
            raise PublishError(f"{live.parent}: no such directory; create it (the web server's root) and publish again")
        self._check_apart()
        if not _ours(live):
            raise PublishError(
                f"{live}: holds files but no {MANIFEST_NAME}, so billing-reports did not publish it; empty it, "
                f"or point publish.targets.{self.name}.path at a new folder (a publish replaces the whole folder)"
            )
        if not _ours(self.previous):
            raise PublishError(
                f"{self.previous}: holds files but no {MANIFEST_NAME}, so billing-reports did not publish it; "
                "move it elsewhere to keep it (a publish replaces the previous site kept there), then publish again"
            )

    def _check_apart(self) -> None:
        """Refuse a folder that is, holds or lies in a folder of the config: a publish replaces its
        folder whole (the cache inside would go), a build its site (the published site inside would go)."""
        live, settings = self.live, self.settings
        folders = {f"paths.{key}": getattr(settings, key) for key in ("data_dir", "site_dir", "demo_dir")}
        kept = {f"paths.{key}": getattr(settings, key) for key in ("plugins_dir", "templates_dir")}
        kept[f"the folder of {settings.config_path.name}"] = settings.config_dir
        for name, folder in [*kept.items(), *folders.items()]:
            relation = folder_relation(live, folder)
            if relation is None or name in kept and relation == "inside":
                continue
            shown = {"same": f"is {name}", "inside": f"lies inside {name}", "contains": f"holds {name}"}[relation]
            raise PublishError(
                f"{live}: {shown} ({folder}); point publish.targets.{self.name}.path at a folder of its own, "
                "apart from the cache, the sites and config.yaml"
            )

    def plan(self, site: BuiltSite) -> list[Change]:
        self.check()
        return self._changes(site)

    def _changes(self, site: BuiltSite) -> list[Change]:
        return self._compare(site)[0]

    def _compare(self, site: BuiltSite) -> tuple[list[Change], list[str]]:
        """The changes, and the live files that are not ours and stay (carried into the new copy)."""
        live = self.live
        published = _files_under(live) if live.is_dir() else set()
        manifest = live / MANIFEST_NAME
        ours = ownership.previous_files(manifest.read_bytes() if manifest.is_file() else None, str(live))
        changes = []
        for relative_path in site.all_files:
            if relative_path not in published:
                changes.append(Change("add", relative_path))
            elif (live / relative_path).is_symlink() or not filecmp.cmp(site.path(relative_path), live / relative_path, shallow=False):
                changes.append(Change("update", relative_path))
        stale = ownership.stale(published, ours, site.all_files, self.config["prune"])
        changes += [Change("delete", path) for path in stale]
        kept = sorted(published - set(site.all_files) - set(stale))
        ownership.clash(kept, site.all_files, str(live), self.name)
        return changes, kept

    def publish(self, site: BuiltSite) -> list[Change]:
        self.check()
        with self._lock():
            return self._publish(site)

    def _publish(self, site: BuiltSite) -> list[Change]:
        live = self.live
        changes, kept = self._compare(site)
        if not changes and live.is_dir():
            return []  # already live: keep the previous site for --rollback
        incoming = self._copy_beside(site, kept)
        if not live.exists():
            try:
                os.rename(incoming, live)
            except OSError as error:
                shutil.rmtree(incoming, ignore_errors=True)  # the new copy; nothing was live
                raise PublishError(f"{live}: cannot move the new site in ({error.strerror}); check permissions of {live.parent}") from None
            return changes
        try:
            replaced = _exchange(incoming, live)  # where the site that was live is now
        except OSError as error:
            shutil.rmtree(incoming, ignore_errors=True)  # still the new copy: the old site is live
            raise PublishError(
                f"{live}: cannot swap the new site in ({error.strerror}); the live site is unchanged; "
                f"check permissions of {live.parent}"
            ) from None
        # From here the new site is live and ``replaced`` is the only copy of the old one: never delete it.
        try:
            self._keep_as_previous(replaced)
        except OSError as error:
            raise PublishError(
                f"{live}: the new site is live, but keeping the replaced site as {self.previous.name} failed "
                f"({error.strerror}); it is left in {replaced.name}: rename it to {self.previous.name} for --rollback "
                f"and check permissions of {live.parent}"
            ) from None
        return changes

    def rollback(self) -> str:
        with self._lock():
            return self._rollback()

    @contextlib.contextmanager
    def _lock(self) -> Iterator[None]:
        """Hold ``.NAME.publish-lock`` beside the live directory; a second publish fails at once.

        The file exists only while a publish holds it: it is removed before it is unlocked, and a
        publish that locked a file removed meanwhile tries again (the usual flock-and-unlink dance).
        """
        if fcntl is None:
            yield
            return
        lock_path = self.live.parent / f".{self.live.name}.publish-lock"
        for _ in range(3):
            try:
                descriptor = os.open(lock_path, os.O_RDWR | os.O_CREAT, 0o644)
            except OSError as error:
                raise PublishError(
                    f"{lock_path}: cannot create the publish lock ({error.strerror}); check permissions of {self.live.parent}"
                ) from None
            try:
                fcntl.flock(descriptor, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except OSError as error:
                os.close(descriptor)
                if error.errno not in (errno.EWOULDBLOCK, errno.EAGAIN, errno.EACCES):
                    raise
                break
            try:
                same = os.stat(lock_path).st_ino == os.fstat(descriptor).st_ino
            except FileNotFoundError:
                same = False
            if not same:  # removed by the publish that held it just before: lock the new one
                os.close(descriptor)
                continue
            try:
                yield
            finally:
                with contextlib.suppress(OSError):
                    os.unlink(lock_path)
                os.close(descriptor)  # releases the lock
            return
        raise PublishError(
            f"{self.live}: another publish to this target is in progress (it holds {lock_path.name} beside it); "
            f"wait for it and publish again"
        )

    def _rollback(self) -> str:
        live, previous = self.live, self.previous
        if not previous.is_dir():
            raise PublishError(f"{live}: no previous site ({previous.name} is missing); nothing to roll back to")
        if self.pseudonymised_only:
            manifest = previous / MANIFEST_NAME
            if not manifest_is_pseudonymised(manifest.read_bytes() if manifest.is_file() else None):
                raise PublishError(f"publish target {self.name!r} {NOT_PSEUDONYMISED_PREVIOUS}")
        try:
            if live.is_dir():
                replaced = _exchange(previous, live)
            else:
                os.rename(previous, live)
                replaced = previous
        except OSError as error:
            raise PublishError(f"{live}: cannot swap the previous site back ({error.strerror}); check permissions") from None
        if replaced != previous:
            return f"{live} serves the previous site again; the one replaced is left in {replaced.name} (rename it to {previous.name} to roll back again)"
        return f"{live} serves the previous site again; the one replaced is kept as {previous.name} (roll back again to undo)"

    def _copy_beside(self, site: BuiltSite, kept: list[str] = ()) -> Path:
        live = self.live
        # copies and discarded sites a killed publish left behind
        remove_abandoned_work(live.parent, (f".{live.name}.incoming-*", f".{live.name}.discarded-*"))
        try:
            incoming = Path(tempfile.mkdtemp(prefix=f".{live.name}.incoming-", dir=live.parent))
        except OSError as error:
            raise PublishError(f"{live.parent}: cannot create a directory there ({error.strerror}); check permissions") from None
        try:
            incoming.chmod(0o755)
            for relative_path in site.upload_order():
                destination = incoming / relative_path
                destination.parent.mkdir(parents=True, exist_ok=True)
                copy_file(site.path(relative_path), destination)
            for relative_path in kept:  # not ours: the new copy keeps them as they are
                destination = incoming / relative_path
                destination.parent.mkdir(parents=True, exist_ok=True)
                _carry_over(live / relative_path, destination)
        except OSError as error:
            shutil.rmtree(incoming, ignore_errors=True)
            raise PublishError(
                f"{live}: copying the site failed ({error.strerror or error}); the live site is unchanged; "
                f"check free space and permissions of {live.parent}"
            ) from None
        except BaseException:
            shutil.rmtree(incoming, ignore_errors=True)
            raise
        return incoming

    def _keep_as_previous(self, replaced: Path) -> None:
        previous = self.previous
        if previous.exists():
            discarded = Path(tempfile.mkdtemp(prefix=f".{self.live.name}.discarded-", dir=previous.parent))
            os.rename(previous, discarded / "site")
            shutil.rmtree(discarded, ignore_errors=True)
        os.rename(replaced, previous)


def copy_file(source: Path, destination: Path) -> None:
    """Copy one file with its modification time (a module-level seam tests can break)."""
    shutil.copy2(source, destination)


def _ours(directory: Path) -> bool:
    """Whether a publish may replace ``directory``: it does not exist, is empty, or holds our manifest.

    A folder that cannot be listed counts as not ours (nothing is replaced that was not checked).
    """
    if not directory.exists():
        return True
    if not directory.is_dir():
        return False
    try:
        return (directory / MANIFEST_NAME).is_file() or not any(directory.iterdir())
    except OSError:
        return False


def _carry_over(source: Path, destination: Path) -> None:
    """A file that is not ours into the new copy: the same file (a hard link), a symlink as a symlink."""
    if source.is_symlink():
        os.symlink(os.readlink(source), destination)
        return
    try:
        os.link(source, destination)
    except OSError:
        shutil.copy2(source, destination)


def _files_under(directory: Path) -> set[str]:
    """Every file and symlink under ``directory`` (a symlink to a folder is one entry, not followed)."""
    found = set()
    for folder, subfolders, files in os.walk(directory):
        base = Path(folder)
        for name in files + [d for d in subfolders if (base / d).is_symlink()]:
            found.add((base / name).relative_to(directory).as_posix())
    return found


def _exchange(first: Path, second: Path) -> Path:
    """Swap two directories: atomically on Linux; elsewhere, renames in a row.

    :return: where what was at ``second`` is now: ``first``, or the parking
        place when the fallback's last rename failed (``second`` is swapped
        all the same).
    :raises OSError: nothing was swapped (both are where they were).
    """
    if _renameat2 is not None:
        result = _renameat2(_AT_FDCWD, os.fsencode(first), _AT_FDCWD, os.fsencode(second), _RENAME_EXCHANGE)
        if result == 0:
            return first
        code = ctypes.get_errno()
        if code not in (errno.EINVAL, errno.ENOSYS, errno.ENOTSUP):
            raise OSError(code, os.strerror(code), str(second))
    parked = second.with_name(second.name + ".swapping")
    os.rename(second, parked)
    try:
        os.rename(first, second)
    except OSError:
        os.rename(parked, second)  # put it back: nothing swapped
        raise
    try:
        os.rename(parked, first)
    except OSError:
        return parked
    return first


def _load_renameat2():
    library = ctypes.util.find_library("c")
    if library is None:
        return None
    try:
        function = ctypes.CDLL(library, use_errno=True).renameat2
    except (OSError, AttributeError):
        return None
    function.argtypes = [ctypes.c_int, ctypes.c_char_p, ctypes.c_int, ctypes.c_char_p, ctypes.c_uint]
    function.restype = ctypes.c_int
    return function


_renameat2 = _load_renameat2()


@hookimpl
def register_publish_targets(register):
    register("directory", DirectoryTarget)
