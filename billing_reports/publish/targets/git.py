"""Publish to a branch of a git remote (GitHub/GitLab Pages style).

Each publish is one commit on the branch whose tree is the site, with the
period in its message; the branch's history is kept (the commit's parent is
the branch's previous tip). Files of the branch that the published
``build-manifest.json`` does not list (a ``CNAME``, a ``.nojekyll``, anything
added by hand) are carried into the new tree unless ``prune`` names them. A
fresh, empty remote gets the branch created; on a remote that has other
branches but not this one, the branch is created only with
``create_branch: true`` (a typo in ``branch`` is an error).
Nothing is checked out: the commit is built from the site directory in a
temporary repository and pushed, so the remote moves in one step or not at all.
``--rollback`` pushes a new commit restoring the tree before the last one.

Credentials: an SSH key file (``ssh_key``, with an optional ``known_hosts``
file for the server's host key) for ``git@``/``ssh://`` remotes, or
a token for HTTPS remotes from the variable ``token_variable`` names
(environment or ``.env``), handed to git through ``GIT_ASKPASS``, never on a
command line. A remote URL with any user information (``user:token@``, or a
token alone as the user name) is refused, and git's credential helpers are not
asked for an HTTP(S) remote: credentials come from the environment only.
"""

from __future__ import annotations

import os
import re
import shlex
import shutil
import stat
import subprocess
import tempfile
from pathlib import Path
from typing import Any

from ... import hookimpl
from ...errors import PublishError
from .. import ownership
from ...site.built import MANIFEST_NAME, NOT_PSEUDONYMISED_PREVIOUS, BuiltSite, manifest_is_pseudonymised
from ..target import Change, Option, PublishTarget, boolean, text, variable_name

#: ``git@github.com:acme/site.git``: a colon before any slash (git's own rule).
_SCP_LIKE = re.compile(r"^[^/]+:")
#: A URL whose authority has user information: ``https://user:token@host``, ``http://TOKEN@host``.
_USERINFO = re.compile(r"^(?P<scheme>[a-z][a-z0-9+.-]*)://(?P<userinfo>[^/?#]*)@", re.IGNORECASE)
#: Schemes whose credentials are a password or token, never an SSH user.
_TOKEN_SCHEMES = {"http", "https", "ftp", "ftps"}
_STATUS = {"A": "add", "M": "update", "T": "update", "D": "delete"}


def _branch(value: Any) -> str:
    value = text(value)
    if value.startswith(("-", "/", "refs/")) or ".." in value or any(c in value for c in " ~^:?*[\\"):
        raise ValueError("a branch name such as gh-pages")
    return value


class GitTarget(PublishTarget):
    """A branch of a git remote that a Pages service (or a web server's checkout) serves."""

    options = {
        "remote": Option(text, required=True, help="the remote's URL (or a local path, relative to config.yaml)"),
        "branch": Option(_branch, default="gh-pages", help="the branch to commit the site to"),
        "create_branch": Option(boolean, default=False, help="create the branch if the remote lacks it"),
        "ssh_key": Option(text, help="a private key file for an SSH remote"),
        "known_hosts": Option(text, help="a known_hosts file with the SSH server's host key (strict checking)"),
        "token_variable": Option(variable_name, help="env variable with an HTTPS token (GitHub/GitLab)"),
        "username": Option(text, default="x-access-token", help="the HTTPS user name sent with the token"),
        "author_name": Option(text, default="billing-reports", help="the commit author's name"),
        "author_email": Option(text, default="billing-reports@localhost", help="the commit author's email"),
        "prune": Option(ownership.path_patterns, default=(), help="patterns of files not ours to delete too, such as ['CNAME']"),
    }
    supports_rollback = True

    @classmethod
    def validate(cls, config):
        problems = super().validate(config)
        remote = config.get("remote")
        userinfo = _USERINFO.match(remote) if isinstance(remote, str) else None
        if userinfo and (":" in userinfo["userinfo"] or userinfo["scheme"].lower() in _TOKEN_SCHEMES):
            problems.append(
                "remote: has a password or token in it; credentials never go in config.yaml (a user name in an "
                "HTTP(S) URL counts: it may be a token): remove it, set username: for the user name and "
                "token_variable to the name of an environment variable holding the token"
            )
        return problems

    def describe(self) -> str:
        return f"{_shown_remote(self._remote())} branch {self.config['branch']}"

    def plan(self, site: BuiltSite) -> list[Change]:
        with _Workspace(self) as work:
            parent = work.fetch_branch()
            tree = work.write_tree(site, parent)
            return work.changes(parent, tree)

    def publish(self, site: BuiltSite) -> list[Change]:
        with _Workspace(self) as work:
            parent = work.fetch_branch()
            tree = work.write_tree(site, parent)
            changes = work.changes(parent, tree)
            if not changes:
                return []
            message = (
                f"Publish billing report {site.period_keys} ({site.period})\n\n"
                f"Built at {site.built_at}; {len(site.all_files)} files; index {site.index}.\n"
            )
            commit = work.commit(tree, parent, message)
            work.push(commit)
            return changes

    def rollback(self) -> str:
        with _Workspace(self) as work:
            tip = work.fetch_branch(depth=2)
            branch = self.config["branch"]
            if tip is None:
                raise PublishError(f"{self.describe()}: the branch {branch!r} does not exist; nothing to roll back")
            previous = work.git("rev-parse", "--verify", "--quiet", f"{tip}~1^{{tree}}", check=False)
            if previous.returncode != 0:
                raise PublishError(f"{self.describe()}: the branch has only one publish; nothing to roll back to")
            if self.pseudonymised_only:
                manifest = work.git("show", f"{tip}~1:{MANIFEST_NAME}", check=False)
                if not manifest_is_pseudonymised(manifest.stdout if manifest.returncode == 0 else None):
                    raise PublishError(f"publish target {self.name!r} {NOT_PSEUDONYMISED_PREVIOUS}")
            subject = work.git("log", "-1", "--format=%s", f"{tip}~1").stdout.strip()
            commit = work.commit(
                previous.stdout.strip(), tip, f"Roll back billing report: undo {tip[:12]}\n\nRestores: {subject}\n"
            )
            work.push(commit)
            return f"{self.describe()} serves the site of \"{subject}\" again (new commit {commit[:12]}; history kept)"

    def _remote(self) -> str:
        """A URL or ``host:path`` as written; a local path resolved against config.yaml's folder."""
        remote = self.config["remote"]
        if "://" in remote or _SCP_LIKE.match(remote):
            return remote
        return str(self.local_path(remote))


class _Workspace:
    """A temporary bare repository holding the objects of one publish."""

    def __init__(self, target: GitTarget) -> None:
        self.target = target
        self.remote = target._remote()
        self.branch = target.config["branch"]

    def __enter__(self) -> "_Workspace":
        executable = shutil.which("git")
        if executable is None:
            raise PublishError("git is not installed or not on PATH; install git (Debian: apt-get install git) and publish again")
        self.executable = executable
        self._temporary = tempfile.TemporaryDirectory(prefix="billing-reports-git-")
        self.root = Path(self._temporary.name)
        try:
            self.env = self._environment()
            self.git("init", "--quiet", "--bare", str(self.root / "repo.git"), git_dir=False)
            # The site's bytes exactly as built, whatever the user's global git config says.
            self.git("config", "core.autocrlf", "false")
            self.git("config", "core.safecrlf", "false")
        except BaseException:
            self._temporary.cleanup()
            raise
        return self

    def __exit__(self, *exc_info) -> None:
        self._temporary.cleanup()

    def _environment(self) -> dict[str, str]:
        config = self.target.config
        env = {
            **os.environ,
            "GIT_TERMINAL_PROMPT": "0",
            "GIT_AUTHOR_NAME": config["author_name"],
            "GIT_AUTHOR_EMAIL": config["author_email"],
            "GIT_COMMITTER_NAME": config["author_name"],
            "GIT_COMMITTER_EMAIL": config["author_email"],
            "GIT_INDEX_FILE": str(self.root / "index"),
            "GIT_LITERAL_PATHSPECS": "1",
            "LC_ALL": "C",
        }
        ssh = ["ssh", "-o", "BatchMode=yes", "-o", "ConnectTimeout=15"]
        if config.get("ssh_key"):
            key = self.target.local_path(config["ssh_key"])
            if not key.is_file():
                raise PublishError(f"{key}: no such SSH key file; fix publish.targets.{self.target.name}.ssh_key")
            ssh += ["-i", str(key), "-o", "IdentitiesOnly=yes"]
        if config.get("known_hosts"):
            known_hosts = self.target.local_path(config["known_hosts"])
            if not known_hosts.is_file():
                raise PublishError(f"{known_hosts}: no such known_hosts file; fix publish.targets.{self.target.name}.known_hosts")
            ssh += ["-o", f"UserKnownHostsFile={known_hosts}", "-o", "StrictHostKeyChecking=yes"]
        if config.get("ssh_key") or config.get("known_hosts") or ("GIT_SSH_COMMAND" not in env and "GIT_SSH" not in env):
            env["GIT_SSH_COMMAND"] = shlex.join(ssh)
        if re.match(r"^https?://", self.remote, re.IGNORECASE):
            # Credentials come from the environment only: no helper's stored password is tried, and a
            # transfer that stalls (under 1 KB/s for a minute) is given up rather than waited on.
            count = int(env["GIT_CONFIG_COUNT"]) if env.get("GIT_CONFIG_COUNT", "").isdigit() else 0
            env.update({"GIT_CONFIG_COUNT": str(count + 1), f"GIT_CONFIG_KEY_{count}": "credential.helper",
                        f"GIT_CONFIG_VALUE_{count}": "", "GIT_HTTP_LOW_SPEED_LIMIT": "1000",
                        "GIT_HTTP_LOW_SPEED_TIME": "60"})
        if config.get("token_variable"):
            token = self.target.require_secret(config["token_variable"], "the git token")
            askpass = self.root / "askpass.sh"
            askpass.write_text(
                '#!/bin/sh\ncase "$1" in\n  Username*) printf "%s\\n" "$BILLING_REPORTS_GIT_USERNAME" ;;\n'
                '  *) printf "%s\\n" "$BILLING_REPORTS_GIT_TOKEN" ;;\nesac\n'
            )
            askpass.chmod(stat.S_IRWXU)
            env.update(
                GIT_ASKPASS=str(askpass),
                BILLING_REPORTS_GIT_USERNAME=config["username"],
                BILLING_REPORTS_GIT_TOKEN=token,
            )
        return env

    def git(self, *arguments: str, check: bool = True, git_dir: bool = True, operation: str = "",
            input: str | None = None) -> subprocess.CompletedProcess:
        command = [self.executable]
        if git_dir:
            command.append(f"--git-dir={self.root / 'repo.git'}")
        result = subprocess.run(
            [*command, *arguments], env=self.env, capture_output=True, text=True,
            **({"input": input} if input is not None else {"stdin": subprocess.DEVNULL}),
        )
        if check and result.returncode != 0:
            raise PublishError(self._explain(operation or f"git {arguments[0]}", result.stderr))
        return result

    def fetch_branch(self, depth: int = 1) -> str | None:
        """The branch's tip after fetching it (``None``: the branch is to be created)."""
        heads = self.git("ls-remote", "--heads", "--", self.remote, operation="reach the remote").stdout
        branches = [line.split("\trefs/heads/", 1)[1] for line in heads.splitlines() if "\trefs/heads/" in line]
        if self.branch not in branches:
            if branches and not self.target.config["create_branch"]:
                raise PublishError(
                    f"git remote {_shown_remote(self.remote)} has no branch {self.branch!r} (it has "
                    f"{', '.join(sorted(branches)[:5])}); fix publish.targets.{self.target.name}.branch "
                    f"or set create_branch: true"
                )
            return None
        self.git(
            "fetch", "--quiet", "--no-tags", f"--depth={depth}", "--", self.remote,
            f"+refs/heads/{self.branch}:refs/published", operation="fetch the branch",
        )
        return self.git("rev-parse", "--verify", "refs/published").stdout.strip()

    def write_tree(self, site: BuiltSite, parent: str | None) -> str:
        """The tree of the new commit: the site, and the parent's files that are not ours (nor pruned)."""
        if parent is not None:
            self._keep_files_not_ours(site, parent)
        pathspecs = self.root / "files"
        pathspecs.write_bytes(b"\0".join(os.fsencode(name) for name in site.all_files))
        self.git(
            f"--work-tree={site.directory}", "add", "--force",
            f"--pathspec-from-file={pathspecs}", "--pathspec-file-nul",
            operation="stage the site",
        )
        return self.git("write-tree").stdout.strip()

    def _keep_files_not_ours(self, site: BuiltSite, parent: str) -> None:
        has_manifest = self.git("cat-file", "-e", f"{parent}:{MANIFEST_NAME}", check=False).returncode == 0
        raw = self.git("cat-file", "blob", f"{parent}:{MANIFEST_NAME}").stdout.encode() if has_manifest else None
        ours = ownership.previous_files(raw, self.target.describe())
        listing = self.git("ls-tree", "-r", "-z", "--full-tree", parent).stdout
        wanted = set(site.all_files)
        kept = {}
        for entry in filter(None, listing.split("\0")):
            info, _, path = entry.partition("\t")
            if path in wanted or path in ours or ownership.matches(path, self.target.config["prune"]):
                continue
            mode, _, object_id = info.split()
            kept[path] = f"{mode} {object_id}\t{path}"
        ownership.clash(kept, wanted, self.target.describe(), self.target.name)
        kept = list(kept.values())
        if kept:
            self.git("update-index", "--add", "-z", "--index-info", input="\0".join(kept) + "\0", operation="keep the branch's other files")

    def changes(self, parent: str | None, tree: str) -> list[Change]:
        if parent is None:
            listing = self.git("ls-tree", "-r", "--name-only", "-z", tree).stdout
            return [Change("add", name) for name in listing.split("\0") if name]
        diff = self.git("diff-tree", "-r", "--no-renames", "--name-status", "-z", parent, tree).stdout
        fields = [field for field in diff.split("\0") if field]
        return [Change(_STATUS.get(status[0], "update"), name) for status, name in zip(fields[::2], fields[1::2])]

    def commit(self, tree: str, parent: str | None, message: str) -> str:
        arguments = ["commit-tree", tree, "-F", "-"]
        if parent:
            arguments[2:2] = ["-p", parent]
        result = subprocess.run(
            [self.executable, f"--git-dir={self.root / 'repo.git'}", *arguments],
            env=self.env, input=message, capture_output=True, text=True,
        )
        if result.returncode != 0:
            raise PublishError(self._explain("commit the site", result.stderr))
        return result.stdout.strip()

    def push(self, commit: str) -> None:
        self.git("push", "--quiet", "--", self.remote, f"{commit}:refs/heads/{self.branch}", operation="push the commit")

    def _explain(self, operation: str, stderr: str) -> str:
        remote = _shown_remote(self.remote)
        said = stderr.lower()
        key = self.target.config.get("ssh_key")
        token = self.target.config.get("token_variable")
        fallback = (f"the token: set publish.targets.{self.target.name}.token_variable" if re.match(r"^https?://", self.remote, re.IGNORECASE)
                    else "your SSH key (ssh_key, or your ssh-agent)")
        credential = " and ".join(filter(None, [key and f"ssh_key {key}", token and f"the token in {token}"])) or fallback
        if "non-fast-forward" in said or "fetch first" in said or "stale info" in said:
            return f"git remote {remote}: the branch {self.branch!r} moved while publishing (another publish?); publish again"
        too_large = re.search(r"http (413)|(?:body|request|entity|payload) too large|exceeds (?:maximum|limit)", said)
        if too_large:
            return (
                f"git remote {remote} refused the push as too large while trying to {operation} (a proxy's or the "
                f"server's size limit for one request, e.g. nginx client_max_body_size); raise that limit"
            )
        if "rpc failed" in said or "the remote end hung up" in said or "early eof" in said or "unexpected disconnect" in said:
            http = re.search(r"http (\d{3})", said)
            status = f", HTTP {http.group(1)}" if http else ""
            return (
                f"git remote {remote} closed the connection while trying to {operation} (the remote end hung up"
                f"{status}); check the network, the server's (or its proxy's) logs and its limits on request size "
                f"and time, then publish again"
            )
        if any(s in said for s in ("could not resolve host", "could not resolve hostname", "name or service not known")):
            return f"cannot reach git remote {remote}: unknown host; check publish.targets.{self.target.name}.remote and the network"
        if any(s in said for s in ("connection refused", "timed out", "no route to host", "failed to connect", "network is unreachable", "connection closed")):
            return f"cannot reach git remote {remote} (connection failed); check the remote's host and port, and that it is up"
        if "host key verification failed" in said:
            return f"git remote {remote}: the server's host key is not trusted; add it to ~/.ssh/known_hosts (ssh-keyscan)"
        if any(s in said for s in ("authentication failed", "permission denied", "could not read username", "could not read password", "invalid username or password", "403", "401")):
            return f"git remote {remote} refused the credentials while trying to {operation}; check {credential}"
        if any(s in said for s in ("does not appear to be a git repository", "repository not found", "not found", "no such file or directory")):
            return f"git remote {remote}: no repository there; check publish.targets.{self.target.name}.remote"
        last = next((line.strip() for line in reversed(stderr.splitlines()) if line.strip()), "no message")
        return f"git remote {remote}: cannot {operation} ({last})"


def _shown_remote(remote: str) -> str:
    """The remote without any user information (``user:password@``, ``TOKEN@``)."""
    return re.sub(r"^([a-z][a-z0-9+.-]*://)[^/?#]*@", r"\1", remote, flags=re.IGNORECASE)


@hookimpl
def register_publish_targets(register):
    register("git", GitTarget)
