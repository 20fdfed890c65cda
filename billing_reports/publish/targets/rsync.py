"""Publish to a web server's directory on another machine with ``rsync`` over SSH.

``rsync --checksum --delete-after --delay-updates``: new and changed files (by content) are sent into
a temporary folder on the server and moved into place together at the end,
then files the new site no longer has are deleted. Exactly the files of the
build are published (a filter built from the manifest), so anything else in
the remote directory is removed.

The host, user, port, remote path, SSH key file and an optional
``known_hosts`` file come from config.yaml; the key's passphrase is not
supported (use a deploy key without one, or an ssh-agent).
"""

from __future__ import annotations

import re
import shlex
import shutil
import subprocess
import tempfile
from pathlib import Path, PurePosixPath
from typing import Any

from ... import hookimpl
from ...errors import PublishError
from ..site import BuiltSite
from ..target import Change, Option, PublishTarget, integer_between, text


#: ssh's own refusal lists the methods it tried: "Permission denied (publickey,password)."
_SSH_LOGIN_REFUSED = re.compile(r"permission denied \((publickey|password|keyboard-interactive|hostbased|gssapi)")


def _remote_path(value: Any) -> str:
    value = text(value)
    if value.startswith("-") or "\n" in value:
        raise ValueError("a directory path on the server, such as /var/www/billing")
    return value.rstrip("/") or "/"


def _host(value: Any) -> str:
    value = text(value)
    if value.startswith("-") or any(c in value for c in " @:/"):
        raise ValueError("a host name or IP address (put the user in user:)")
    return value


class RsyncTarget(PublishTarget):
    """A directory served by a web server on a machine reachable over SSH."""

    options = {
        "host": Option(_host, required=True, help="the server's host name or IP address"),
        "path": Option(_remote_path, required=True, help="the directory on the server the web server serves"),
        "user": Option(text, help="the SSH user (default: ssh's default)"),
        "port": Option(integer_between(1, 65535), default=22, help="the SSH port"),
        "ssh_key": Option(text, help="a private key file (relative to config.yaml)"),
        "known_hosts": Option(text, help="a known_hosts file holding the server's host key (strict checking)"),
    }

    def describe(self) -> str:
        user = f"{self.config['user']}@" if self.config.get("user") else ""
        port = f":{self.config['port']}" if self.config["port"] != 22 else ""
        return f"{user}{self.config['host']}{port}:{self.config['path']}"

    def plan(self, site: BuiltSite) -> list[Change]:
        return self._rsync(site, dry_run=True)

    def publish(self, site: BuiltSite) -> list[Change]:
        return self._rsync(site, dry_run=False)

    def _rsync(self, site: BuiltSite, *, dry_run: bool) -> list[Change]:
        rsync = shutil.which("rsync")
        if rsync is None:
            raise PublishError("rsync is not installed or not on PATH; install it (Debian: apt-get install rsync) and publish again")
        if shutil.which("ssh") is None:
            raise PublishError("ssh is not installed or not on PATH; install it (Debian: apt-get install openssh-client)")
        self._check_remote_parent()
        with tempfile.TemporaryDirectory(prefix="billing-reports-rsync-") as work:
            filter_file = Path(work) / "filter"
            filter_file.write_text(_filter_rules(site.all_files), encoding="utf-8")
            command = [
                rsync,
                "--recursive", "--links", "--times", "--checksum",
                "--chmod=D755,F644",
                "--delete-after", "--delete-excluded", "--delay-updates",
                f"--filter=merge {filter_file}",
                "--out-format=%i %n",
                "--rsh", shlex.join(self._ssh_command()),
            ]
            if dry_run:
                command.append("--dry-run")
            command += [f"{site.directory}/", self._destination()]
            result = subprocess.run(command, capture_output=True, text=True, stdin=subprocess.DEVNULL)
        if result.returncode != 0:
            raise PublishError(self._explain(result.returncode, result.stderr))
        return _changes(result.stdout)

    def _check_remote_parent(self) -> None:
        """Log in once and check that the remote directory's parent exists (clear errors first)."""
        parent = str(PurePosixPath(self.config["path"]).parent)
        login = self._destination().rsplit(":", 1)[0]
        command = [*self._ssh_command(), "--", login, f"test -d {shlex.quote(parent)}"]
        result = subprocess.run(command, capture_output=True, text=True, stdin=subprocess.DEVNULL)
        if result.returncode == 1:
            raise PublishError(f"{self.describe()}: the remote directory's parent does not exist; create it on the server")
        if result.returncode != 0:
            raise PublishError(self._explain(result.returncode, result.stderr))

    def _ssh_command(self) -> list[str]:
        ssh = ["ssh", "-p", str(self.config["port"]), "-o", "BatchMode=yes", "-o", "ConnectTimeout=15"]
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

    def _destination(self) -> str:
        user = f"{self.config['user']}@" if self.config.get("user") else ""
        return f"{user}{self.config['host']}:{self.config['path']}/"

    def _explain(self, code: int, stderr: str) -> str:
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
        if "rsync: command not found" in said or "rsync: not found" in said:
            return f"{where}: rsync is not installed on the server; install it there"
        if "no such file or directory" in said or "mkdir" in said:
            return f"{where}: the remote directory's parent does not exist; create it on the server"
        if "permission denied" in said:
            return f"{where}: cannot write there (permission denied); check the SSH user's rights on the directory"
        last = next((line.strip() for line in reversed(stderr.splitlines()) if line.strip()), f"exit code {code}")
        return f"rsync to {where} failed ({last})"


def _filter_rules(files: tuple[str, ...]) -> str:
    """Include exactly ``files`` (and their folders), exclude everything else."""
    rules: list[str] = []
    seen: set[str] = set()
    for name in files:
        for parent in reversed(PurePosixPath(name).parents[:-1]):
            if parent.as_posix() not in seen:
                seen.add(parent.as_posix())
                rules.append(f"+ /{parent.as_posix()}/")
        rules.append(f"+ /{name}")
    rules.append("- *")
    return "\n".join(rules) + "\n"


def _changes(itemized: str) -> list[Change]:
    changes = []
    for line in itemized.splitlines():
        flags, _, name = line.partition(" ")
        if not name or name.endswith("/"):
            continue
        if flags == "*deleting":
            changes.append(Change("delete", name.strip()))
        elif flags[1:2] == "f" and flags[0] in "<>c":
            changes.append(Change("add" if "+++++++" in flags else "update", name))
    return changes


@hookimpl
def register_publish_targets(register):
    register("rsync", RsyncTarget)
