"""Publish to a web server's directory on another machine with ``rsync`` over SSH.

A publish, in order:

1. One SSH login runs a small shell script on the server: it checks the
   remote directory and its parent (saying whether one is missing, not a
   directory or not writable), takes the lock (``mkdir`` of the working
   directory ``.NAME.publishing`` beside the remote directory, or in
   ``work_dir``), and sends back the list of files there and the published
   ``build-manifest.json``, which says which of them an earlier publish put
   there.
2. ``rsync --checksum`` sends the pages and assets, then the index; the
   deletions and the manifest go last. Each file is received into the working
   directory and renamed into place whole (``--temp-dir``), so a web folder
   never holds a partial file; a publish that fails at any point leaves the
   previous index and manifest live with every page they link to.
3. Only files the published manifest lists (or ``prune`` names) are deleted;
   other files in the directory are kept.
4. The working directory (the lock) is removed. The lock of a killed publish
   expires after the publish's deadline plus a minute and is then taken over.

The host, user, port, remote path, SSH key file and an optional
``known_hosts`` file come from config.yaml; the key's passphrase is not
supported (use a deploy key without one, or an ssh-agent).
"""

from __future__ import annotations

import contextlib
import re
import secrets
import shlex
import shutil
import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import Any, Iterable, Iterator

from ... import hookimpl
from ...errors import PublishError
from .. import ownership
from ...site.built import MANIFEST_NAME, BuiltSite
from ..site import _is_inside
from ..target import Change, Option, PublishTarget, integer_between, text

#: ssh's own refusal lists the methods it tried: "Permission denied (publickey,password)."
_SSH_LOGIN_REFUSED = re.compile(r"permission denied \((publickey|password|keyboard-interactive|hostbased|gssapi)")
#: rsync's complaint about one file: ``rename "/w/tmp/a.XYZ" -> "users/a.html": Permission denied (13)``.
_FILE_ERROR = re.compile(r'^(.*)"([^"]*)"(?: \(in [^)]*\))?(?: failed)?: ([A-Za-z -]+?) \(\d+\)\s*$', re.MULTILINE)
#: A lock expires this long after its publish's deadline.
LOCK_MARGIN_SECONDS = 60
#: rsync's working folder in each directory (``--delay-updates``, ``--partial-dir``): an
#: interrupted transfer's leftovers, removed by the next publish and never reported as deletions.
_RSYNC_LEFTOVERS = ".~tmp~"

#: What each rsync exit code means (man rsync, EXIT VALUES), and what to check.
_EXIT_CODES = {
    1: "rsync refused its own arguments (syntax or usage error); please report this as a bug",
    2: "the rsync versions here and on the server cannot work together (protocol incompatibility); update one of them",
    3: "rsync could not select the files (errors selecting input/output files or directories); check the remote path",
    4: "the rsync on the server does not support an option this publish needs; update rsync on the server",
    5: "rsync could not start on the server (error starting the client-server protocol); check that rsync is "
       "installed there and that the SSH user's login prints nothing",
    6: "the server's rsync could not write its log; check the server",
    10: "the connection to the server failed (socket I/O error); check the network and publish again",
    11: "a file could not be read or written (file I/O error); check free space and permissions on the server",
    12: "the connection to the server broke during the transfer (rsync protocol data stream); check the network "
        "and the server's sshd log, then publish again",
    13: "rsync could not write its diagnostics; check the server",
    14: "rsync could not start a helper process (IPC error); check free memory and process limits",
    20: "rsync was interrupted (a signal); publish again",
    21: "rsync failed waiting for a child process; publish again",
    22: "rsync could not allocate memory; check the free memory here and on the server",
    23: "some files could not be transferred (partial transfer); check permissions and free space on the server",
    24: "some files of the site vanished while it was sent (a build running at the same time?); publish again "
        "once the build is done",
    25: "rsync stopped deleting (--max-delete); please report this as a bug",
    30: "the server stopped answering during the transfer (timeout); check the server and the network",
    35: "the server did not answer the connection (timeout); check the server and the network",
}

# The server side of a publish: checks, the lock, and what is there. POSIX sh; arguments:
# live directory, its parent, working directory, lock lifetime (s), token, mode (check|lock|release),
# marker. Output: "MARK status ..." lines, the files, then the published manifest.
_REMOTE_SCRIPT = r'''
live=$1 parent=$2 work=$3 ttl=$4 token=$5 mode=$6 mark=$7 pending=$8
LC_ALL=C; export LC_ALL
say() { printf '%s %s\n' "$mark" "$*"; }
problem() { say problem "$1"; printf '%s\n' "$2"; exit 0; }
why() { ls -d -- "$1" 2>&1 >/dev/null | head -n 1; }
need_dir() {
  if [ -d "$1" ]; then return 0; fi
  if [ -e "$1" ] || [ -L "$1" ]; then problem not-a-directory "$1"; fi
  case $(why "$1") in *"ermission denied"*) problem denied "$1" ;; esac
  problem missing "$1"
}
if [ "$mode" = release ]; then
  if [ "$(cat -- "$work/owner" 2>/dev/null)" = "$token" ]; then rm -rf -- "$work"; fi
  say released; exit 0
fi
if [ "$mode" = remember ]; then
  cat > "$pending.tmp" && mv -f -- "$pending.tmp" "$pending" || { rm -f -- "$pending.tmp"; exit 1; }
  say remembered; exit 0
fi
if [ "$mode" = forget ]; then
  rm -f -- "$pending"; say forgotten; exit 0
fi
need_dir "$parent"
[ -x "$parent" ] || problem denied "$parent"
if [ -e "$live" ] || [ -L "$live" ]; then
  need_dir "$live"
  { [ -w "$live" ] && [ -x "$live" ]; } || problem unwritable-live "$live"
else
  { [ -w "$parent" ] && [ -x "$parent" ]; } || problem unwritable-parent "$parent"
fi
workparent=$(dirname -- "$work")
need_dir "$workparent"
if [ "$mode" = lock ]; then
  if ! mkdir -- "$work" 2>/dev/null; then
    [ -d "$work" ] || { [ -w "$workparent" ] || problem unwritable-work "$workparent"; problem cannot-create "$work"; }
    now=$(date +%s); expires=$(cat -- "$work/expires" 2>/dev/null)
    case $expires in ''|*[!0-9]*) say busy unknown "$now"; exit 0 ;; esac
    if [ "$expires" -gt "$now" ]; then say busy "$expires" "$now"; exit 0; fi
    # the lock of a killed publish, expired: take it over
    rm -rf -- "$work" && mkdir -- "$work" 2>/dev/null || { say busy unknown "$now"; exit 0; }
  fi
  printf '%s\n' "$token" > "$work/owner" && echo $(( $(date +%s) + ttl )) > "$work/expires" \
    && mkdir -- "$work/tmp" || problem cannot-create "$work"
fi
say ok
if [ -d "$live" ]; then
  say files
  (cd -- "$live" && find . ! -type d -print 2>/dev/null)
  if [ -f "$live/build-manifest.json" ]; then
    say manifest
    head -c 67108864 -- "$live/build-manifest.json"
  fi
fi
if [ -f "$pending" ]; then
  echo; say pending; head -c 67108864 -- "$pending"
fi
'''


def _remote_path(value: Any) -> str:
    value = text(value)
    if value.startswith(("-", "~")) or "\n" in value:
        raise ValueError("a directory path on the server, such as /var/www/billing (relative: to the SSH user's home)")
    return value.rstrip("/") or "/"


def _host(value: Any) -> str:
    value = text(value)
    if value.startswith("-") or any(c in value for c in " @:/"):
        raise ValueError("a host name or IP address (put the user in user:)")
    return value


@dataclass(frozen=True)
class _Remote:
    """What the server said: the files in the remote directory and which are ours."""

    files: frozenset[str]
    ours: frozenset[str]
    leftovers: frozenset[str]
    #: What a publish cut off midway recorded it was sending (counted in ``ours``).
    pending: frozenset[str] = frozenset()


class RsyncTarget(PublishTarget):
    """A directory served by a web server on a machine reachable over SSH."""

    options = {
        "host": Option(_host, required=True, help="the server's host name or IP address"),
        "path": Option(_remote_path, required=True, help="the directory on the server the web server serves"),
        "user": Option(text, help="the SSH user (default: ssh's default)"),
        "port": Option(integer_between(1, 65535), default=22, help="the SSH port"),
        "ssh_key": Option(text, help="a private key file (relative to config.yaml)"),
        "known_hosts": Option(text, help="a known_hosts file holding the server's host key (strict checking)"),
        "work_dir": Option(_remote_path, help="a directory on the server, on the file system of path and not served "
                           "by the web server, for a publish's lock and partial files (default: path's parent)"),
        "prune": Option(ownership.path_patterns, default=(), help="patterns of files not ours to delete too, such as ['old/*']"),
    }

    @classmethod
    def validate(cls, config):
        problems = super().validate(config)
        path, work_dir = config.get("path"), config.get("work_dir")
        if isinstance(path, str) and isinstance(work_dir, str) and not problems:
            live, work = PurePosixPath(_remote_path(path)), PurePosixPath(_remote_path(work_dir))
            if work == live or live in work.parents:
                problems.append(f"work_dir: expected a directory outside path (not served by the web server), found {work_dir!r}")
        return problems

    def describe(self) -> str:
        user = f"{self.config['user']}@" if self.config.get("user") else ""
        port = f":{self.config['port']}" if self.config["port"] != 22 else ""
        return f"{user}{self.config['host']}{port}:{self.config['path']}"

    # --- the publish --------------------------------------------------------------------

    def plan(self, site: BuiltSite) -> list[Change]:
        self._require_programs()
        with self._one_connection():
            remote = self._remote("check")
            stale = self._stale(site, remote)
            sent = self._rsync(site, site.all_files, stage="compare", dry_run=True)
        return [*sent, *(Change("delete", path) for path in stale)]

    def publish(self, site: BuiltSite) -> list[Change]:
        self._require_programs()
        with self._one_connection():
            return self._publish(site)

    def _publish(self, site: BuiltSite) -> list[Change]:
        token = secrets.token_hex(16)
        try:
            remote = self._remote("lock", token)
            stale = self._stale(site, remote)
            self._record_pending(remote.pending | set(site.all_files))  # before anything is sent
            pages = [name for name in site.upload_order() if name not in (site.index, MANIFEST_NAME)]
            changes = self._rsync(site, pages, stage="pages")
            changes += self._rsync(site, [site.index], stage="index")
            changes += self._rsync(site, [MANIFEST_NAME], stage="manifest", delete=[*stale, *remote.leftovers])
            self._record_pending(None)  # the manifest now says what is ours
        except BaseException:
            self._release(token, quiet=True)
            raise
        self._release(token, quiet=False)
        manifest = [change for change in changes if change.path == MANIFEST_NAME]
        return [*(c for c in changes if c.path != MANIFEST_NAME), *(Change("delete", p) for p in stale), *manifest]

    def _stale(self, site: BuiltSite, remote: _Remote) -> list[str]:
        """What to delete there; refuses a file not ours that stands where the site needs a folder."""
        present = {name for name in remote.files - remote.leftovers if _is_inside(name)}
        stale = ownership.stale(present, remote.ours, site.all_files, self.config["prune"])
        ownership.clash(present - set(stale) - set(site.all_files), site.all_files, self.describe(), self.name)
        return stale

    # --- the server side ------------------------------------------------------------------

    def _places(self) -> tuple[str, str, str]:
        live = PurePosixPath(self.config["path"])
        work_parent = PurePosixPath(self.config.get("work_dir") or live.parent)
        return str(live), str(live.parent), str(work_parent / f".{live.name}.publishing")

    def _pending_path(self) -> str:
        """Where a publish records what it is about to send, before it sends anything: the files of a
        publish cut off midway are ours though no manifest lists them (removed with the manifest)."""
        live = PurePosixPath(self.config["path"])
        return str(PurePosixPath(self.config.get("work_dir") or live.parent) / f".{live.name}.pending")

    def _record_pending(self, names: Iterable[str] | None) -> None:
        """Write (``names``) or remove (``None``) the record of what a publish sends."""
        live, parent, work = self._places()
        mode = "forget" if names is None else "remember"
        script = shlex.join(["sh", "-c", _REMOTE_SCRIPT, "sh", live, parent, work, "0", "-", mode, "@",
                             self._pending_path()])
        result = self._ssh(script, input_text=None if names is None else "".join(f"{n}\n" for n in sorted(names)))
        if result.returncode != 0:
            raise PublishError(self._explain_ssh(result.returncode, result.stderr))

    def _remote(self, mode: str, token: str = "-") -> _Remote:
        """Run the server-side script: check, (lock,) list the files and read the published manifest."""
        live, parent, work = self._places()
        mark = f"@billing-reports-{secrets.token_hex(8)}"
        ttl = str(self.timeout_seconds + LOCK_MARGIN_SECONDS)
        script = shlex.join(["sh", "-c", _REMOTE_SCRIPT, "sh", live, parent, work, ttl, token, mode, mark,
                             self._pending_path()])
        result = self._ssh(script)
        output = result.stdout
        if result.returncode != 0 or f"{mark} " not in output:
            raise PublishError(self._explain_ssh(result.returncode, result.stderr))
        head, _, rest = output.partition(f"{mark} ")
        status, _, rest = rest.partition("\n")
        words = status.split()
        if words[0] == "problem":
            raise PublishError(self._problem(words[1], rest.splitlines()[0] if rest else ""))
        if words[0] == "busy":
            raise PublishError(self._busy(words[1:], work))
        rest, _, pending_part = rest.partition(f"\n{mark} pending\n")
        pending = frozenset(line for line in pending_part.split("\n") if line and _is_inside(line))
        files_part, _, manifest_part = rest.partition(f"{mark} manifest\n")
        lines = files_part.split("\n")
        if lines and lines[0] == f"{mark} files":
            lines = lines[1:]
        files = frozenset(line[2:] for line in lines if line.startswith("./"))
        ours = ownership.previous_files(manifest_part.encode() if f"{mark} manifest\n" in rest else None, self.describe())
        ours |= pending  # what a publish cut off midway had sent
        leftovers = frozenset(f for f in files if _RSYNC_LEFTOVERS in PurePosixPath(f).parts)
        return _Remote(files=files, ours=ours, leftovers=leftovers, pending=pending)

    def _release(self, token: str, *, quiet: bool) -> None:
        """Remove the working directory if the lock is still ours."""
        live, parent, work = self._places()
        script = shlex.join(["sh", "-c", _REMOTE_SCRIPT, "sh", live, parent, work, "0", token, "release", "@",
                             self._pending_path()])
        try:
            result = self._ssh(script)
        except OSError:
            result = None
        if quiet or (result is not None and result.returncode == 0):
            return
        raise PublishError(
            f"{self.describe()}: the site is published, but its lock {work} could not be removed; the next "
            f"publish waits until it expires ({self.timeout_seconds + LOCK_MARGIN_SECONDS} s), or remove it on the server"
        )

    def _ssh(self, remote_command: str, *, input_text: str | None = None) -> subprocess.CompletedProcess:
        login = self._login()
        stdin = {"input": input_text} if input_text is not None else {"stdin": subprocess.DEVNULL}
        return subprocess.run(
            [*self._ssh_command(), "--", login, remote_command],
            capture_output=True, text=True, errors="replace", **stdin,
        )

    def _problem(self, kind: str, path: str) -> str:
        where = self.describe()
        live = self.config["path"]
        if kind == "missing":
            if path == str(PurePosixPath(live).parent):
                return f"{where}: the remote directory's parent does not exist; create it on the server"
            return f"{where}: {path} does not exist on the server; create it or fix publish.targets.{self.name}.work_dir"
        if kind == "denied":
            return (
                f"{where}: permission denied on {path} on the server (the SSH user cannot enter it); check its "
                f"owner and mode, and those of the folders above it"
            )
        if kind == "not-a-directory":
            return f"{where}: {path} on the server is not a directory; move it away or fix publish.targets.{self.name}.path"
        if kind == "unwritable-live":
            return (
                f"{where}: permission denied: the SSH user cannot write to {path} on the server (or it is "
                f"read-only); check its owner and mode"
            )
        if kind == "unwritable-parent":
            return (
                f"{where}: permission denied: the SSH user cannot create {PurePosixPath(live).name} in {path} on the "
                f"server (or it is read-only); create {live} there, owned by the SSH user, or check {path}'s owner and mode"
            )
        if kind == "unwritable-work":
            return (
                f"{where}: permission denied: the SSH user cannot create its working directory in {path} on the "
                f"server; give it write access there, or set publish.targets.{self.name}.work_dir to a directory it "
                f"can write on the same file system, not served by the web server"
            )
        return f"{where}: cannot create the working directory {path} on the server; check free space and permissions there"

    def _busy(self, words: list[str], work: str) -> str:
        lock = f"another publish to this target is in progress (its lock is {work} on the server"
        if len(words) == 2 and words[0].isdigit() and words[1].isdigit():
            lock += f", for {int(words[0]) - int(words[1])} s more"
        return (
            f"{self.describe()}: {lock}); wait for it and publish again, or if none is running (a killed "
            f"publish), remove that directory and publish again"
        )

    # --- rsync ----------------------------------------------------------------------------

    def _rsync(self, site: BuiltSite, names: Iterable[str], *, stage: str, dry_run: bool = False,
               delete: Iterable[str] = ()) -> list[Change]:
        """Send ``names`` (and delete ``delete`` there first); the changes rsync itemized."""
        names, delete = list(names), list(delete)
        _, _, work = self._places()
        with tempfile.TemporaryDirectory(prefix="billing-reports-rsync-") as scratch:
            filter_file = Path(scratch) / "filter"
            filter_file.write_text(_filter_rules([*delete, *names]), encoding="utf-8")
            command = [
                shutil.which("rsync") or "rsync",
                "--recursive", "--links", "--times", "--checksum",
                "--chmod=D755,F644",
                f"--filter=merge {filter_file}",
                "--out-format=%i %n",
                "--timeout=120",
                "--rsh", shlex.join(self._ssh_command()),
            ]
            if dry_run:
                command.append("--dry-run")
            else:
                command.append(f"--temp-dir={work}/tmp")
            if delete:
                command.append("--delete-before")  # deletions first, then the manifest: never a manifest without them
            command += [f"{site.directory}/", f"{self._login()}:{self.config['path']}/"]
            result = subprocess.run(command, capture_output=True, text=True, stdin=subprocess.DEVNULL, errors="replace")
        if result.returncode != 0:
            raise PublishError(self._explain_rsync(result.returncode, result.stderr, stage))
        return _changes(result.stdout)

    def _require_programs(self) -> None:
        if shutil.which("rsync") is None:
            raise PublishError("rsync is not installed or not on PATH; install it (Debian: apt-get install rsync) and publish again")
        if shutil.which("ssh") is None:
            raise PublishError("ssh is not installed or not on PATH; install it (Debian: apt-get install openssh-client)")

    @contextlib.contextmanager
    def _one_connection(self) -> Iterator[None]:
        """Share one SSH connection between the steps of a publish (an SSH login costs about as much as
        a small transfer). Best effort: without the shared connection each step logs in itself, and
        reports its own error."""
        self._control_path = None
        with tempfile.TemporaryDirectory(prefix="billing-reports-ssh-") as control_dir:
            control_path = f"{control_dir}/master"
            command = [*self._ssh_options(), "-o", f"ControlPath={control_path}", "-o", "ControlPersist=30",
                       "-M", "-N", "-f", "--", self._login()]
            try:
                started = subprocess.run(command, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                                         stderr=subprocess.DEVNULL, timeout=30).returncode == 0
            except (OSError, subprocess.TimeoutExpired):
                started = False
            if started:
                self._control_path = control_path
            try:
                yield
            finally:
                self._control_path = None
                if started:
                    subprocess.run([*self._ssh_options(), "-o", f"ControlPath={control_path}", "-O", "exit", "--",
                                    self._login()], stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                                   stderr=subprocess.DEVNULL, timeout=30)

    def _ssh_command(self) -> list[str]:
        """ssh and its options, through the shared connection when there is one."""
        shared = getattr(self, "_control_path", None)
        return [*self._ssh_options(), *(["-o", f"ControlPath={shared}", "-o", "ControlMaster=no"] if shared else [])]

    def _ssh_options(self) -> list[str]:
        ssh = [
            "ssh", "-p", str(self.config["port"]), "-o", "BatchMode=yes", "-o", "ConnectTimeout=15",
            "-o", "ServerAliveInterval=15", "-o", "ServerAliveCountMax=4",
        ]
        if self.config.get("ssh_key"):
            key = self.local_path(self.config["ssh_key"])
            if not key.is_file():
                raise PublishError(f"{key}: no such SSH key file; fix publish.targets.{self.name}.ssh_key")
            ssh += ["-i", str(key), "-o", "IdentitiesOnly=yes"]
        if self.config.get("known_hosts"):
            known_hosts = self.local_path(self.config["known_hosts"])
            if not known_hosts.is_file():
                raise PublishError(f"{known_hosts}: no such known_hosts file; fix publish.targets.{self.name}.known_hosts")
            ssh += ["-o", f"UserKnownHostsFile={known_hosts}", "-o", "StrictHostKeyChecking=yes"]
        return ssh

    def _login(self) -> str:
        user = f"{self.config['user']}@" if self.config.get("user") else ""
        return f"{user}{self.config['host']}"

    # --- what went wrong, in one line ---------------------------------------------------------

    def _explain_ssh(self, code: int, stderr: str) -> str:
        where = self.describe()
        said = stderr.lower()
        if "could not resolve hostname" in said or "name or service not known" in said:
            return f"cannot reach {where}: unknown host; check publish.targets.{self.name}.host"
        if any(s in said for s in ("connection refused", "timed out", "no route to host", "network is unreachable")):
            return f"cannot reach {where} over SSH (connection failed); check host, port and that sshd is up"
        if "host key verification failed" in said or "remote host identification has changed" in said:
            return (
                f"{where}: the server's host key is not trusted; add it to the known_hosts file "
                f"(publish.targets.{self.name}.known_hosts or ~/.ssh/known_hosts)"
            )
        if _SSH_LOGIN_REFUSED.search(said) or "too many authentication failures" in said:
            return f"{where} refused the SSH login; check publish.targets.{self.name}.user and the key in ssh_key"
        if "connection closed" in said or "connection reset" in said or "broken pipe" in said:
            return f"{where}: the SSH connection was closed by the server or the network; check sshd there and publish again"
        last = _last_line(stderr) or f"exit code {code}"
        return f"{where}: the SSH command on the server failed ({last}); check that the SSH user has a POSIX shell there"

    def _explain_rsync(self, code: int, stderr: str, stage: str) -> str:
        where = self.describe()
        said = stderr.lower()
        if code == 255 or "connection unexpectedly closed" in said and code in (10, 12) and "ssh" in said:
            what = self._explain_ssh(code, stderr).removeprefix(f"{where}: ")
        elif "rsync: command not found" in said or "rsync: not found" in said or code == 127:
            what = "rsync is not installed on the server; install it there"
        else:
            what = _EXIT_CODES.get(code, f"rsync failed with exit code {code}")
            file_error = _first_file_error(stderr, self.config["path"])
            if file_error and code in (3, 11, 23):
                name, reason = file_error
                if reason.lower() in ("permission denied", "operation not permitted"):
                    what = (f"the server refused to write {name} ({reason.lower()}); check the SSH user's rights on "
                            f"{self.config['path']} and the folders in it")
                elif "no space" in reason.lower() or "quota" in reason.lower():
                    what = f"the server's disk is full ({name}: {reason.lower()}); free space there"
                elif "read-only" in reason.lower():
                    what = f"the server's file system is read-only ({name}); check the mount"
                else:
                    what = f"{name}: {reason.lower()} on the server; {what}"
            what += f" (rsync exit code {code})"
        state = {
            "compare": "",
            "pages": "; the previous site still serves",
            "index": "; the new pages are in place but the previous index still serves",
            "manifest": "; the new site is live but the stale files or the manifest are not updated: publish again",
        }[stage]
        return f"rsync to {where} failed: {what}{state}"


def _first_file_error(stderr: str, live: str) -> tuple[str, str] | None:
    """The file and the reason of rsync's most telling complaint (a file not renamed into place first)."""
    found = sorted(
        (0 if "rename" in match.group(1) else 1, index, match.group(2), match.group(3).strip())
        for index, match in enumerate(_FILE_ERROR.finditer(stderr))
    )
    if not found:
        return None
    _, _, name, reason = found[0]
    return name.removeprefix(live.rstrip("/") + "/"), reason


def _last_line(text: str) -> str:
    return next((line.strip() for line in reversed(text.splitlines()) if line.strip()), "")


def _literal(name: str) -> str:
    """``name`` as an rsync filter pattern that matches only itself."""
    if any(c in name for c in "*?["):
        return re.sub(r"([*?\[\\])", r"\\\1", name)
    return name


def _filter_rules(files: Iterable[str]) -> str:
    """Include exactly ``files`` (and their folders); exclude, and so protect, everything else."""
    rules: list[str] = []
    seen: set[str] = set()
    for name in files:
        if not _is_inside(name):
            continue
        for parent in reversed(PurePosixPath(name).parents[:-1]):
            if parent.as_posix() not in seen:
                seen.add(parent.as_posix())
                rules.append(f"+ /{_literal(parent.as_posix())}/")
        rules.append(f"+ /{_literal(name)}")
    rules.append("- *")
    return "\n".join(rules) + "\n"


def _changes(itemized: str) -> list[Change]:
    changes = []
    for line in itemized.splitlines():
        flags, _, name = line.partition(" ")
        if not name or name.endswith("/") or flags == "*deleting":
            continue
        if flags[1:2] == "f" and flags[0] in "<>c":
            changes.append(Change("add" if "+++++++" in flags else "update", name))
    return changes


@hookimpl
def register_publish_targets(register):
    register("rsync", RsyncTarget)
