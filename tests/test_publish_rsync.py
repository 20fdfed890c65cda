"""The rsync target against a real sshd on a loopback port (throwaway host and client keys)."""

from __future__ import annotations

import shutil

import pytest
from servers import FIRST_BUILD, SECOND_BUILD, free_port, run_cli, write_built_site, write_config

pytestmark = pytest.mark.server

@pytest.fixture
def project(tmp_path, ssh_server):
    """A config whose rsync target is ``tmp_path/server/www/billing`` reached through sshd."""
    (tmp_path / "server" / "www").mkdir(parents=True)
    write_config(tmp_path, {"targets": {"vm": target_config(tmp_path, ssh_server)}})
    return tmp_path


def target_config(tmp_path, ssh_server, **changes):
    config = {
        "type": "rsync",
        "host": "127.0.0.1",
        "port": ssh_server.port,
        "user": ssh_server.user,
        "path": str(tmp_path / "server" / "www" / "billing"),
        "ssh_key": str(ssh_server.client_key),
        "known_hosts": str(ssh_server.known_hosts),
    }
    config.update(changes)
    return config


def rebuild(project, files, **manifest):
    shutil.rmtree(project / "site", ignore_errors=True)
    write_built_site(project / "site", files, **manifest)


def served(project) -> dict[str, str]:
    root = project / "server" / "www" / "billing"
    return {p.relative_to(root).as_posix(): p.read_text() for p in sorted(root.rglob("*")) if p.is_file()}



def publish_here(project, dry_run=False):
    """Publish in this process (set-up for the command-line run under test)."""
    from billing_reports.publish.publisher import publish_site
    from billing_reports.settings import load_settings

    return publish_site(load_settings(project / "config.yaml"), dry_run=dry_run)

def test_publish_copies_the_site_and_a_second_publish_deletes_stale_files(project, ssh_server):
    rebuild(project, FIRST_BUILD)
    (project / "server" / "www" / "billing").mkdir()
    (project / "server" / "www" / "billing" / "old-report.html").write_text("not ours")

    first = run_cli("publish", cwd=project)

    assert first.returncode == 0, first.stderr
    where = f"{ssh_server.user}@127.0.0.1:{ssh_server.port}:{project / 'server' / 'www' / 'billing'}"
    assert first.stdout.strip() == (
        f"Published January 2026 – February 2026 (4 files; names people: not for the whole company) to vm ({where}): 4 added, 0 updated, 0 deleted."
    )
    files = served(project)
    assert sorted(files) == [
        "assets/site.css", "billing_dashboard.html", "build-manifest.json", "old-report.html", "users/index.html",
    ]
    assert files["billing_dashboard.html"] == "<h1>Dashboard v1</h1>"

    rebuild(project, SECOND_BUILD)
    second = run_cli("publish", cwd=project)

    assert second.returncode == 0, second.stderr
    assert second.stdout.strip().endswith("1 added, 2 updated, 1 deleted.")
    files = served(project)
    assert sorted(files) == [  # users/index.html was ours (the published manifest listed it); old-report.html never was
        "assets/site.css", "billing_dashboard.html", "build-manifest.json", "models/index.html", "old-report.html",
    ]
    assert sorted(p.name for p in (project / "server" / "www").iterdir()) == ["billing"]  # no lock or partial file left
    assert files["billing_dashboard.html"] == "<h1>Dashboard v2</h1>"
    assert (project / "server" / "www" / "billing" / "billing_dashboard.html").stat().st_mode & 0o777 == 0o644


def test_dry_run_lists_the_changes_and_copies_nothing(project):
    rebuild(project, FIRST_BUILD)
    publish_here(project)
    before = served(project)
    rebuild(project, SECOND_BUILD)

    result = run_cli("publish", "--dry-run", cwd=project)

    assert result.returncode == 0, result.stderr
    assert sorted(line.split() for line in result.stdout.splitlines()[1:-1]) == sorted(
        [["update", "billing_dashboard.html"], ["update", "build-manifest.json"],
         ["add", "models/index.html"], ["delete", "users/index.html"]]
    )
    assert served(project) == before


def test_a_key_the_server_does_not_accept_is_refused_in_one_line(project, ssh_server):
    write_config(project, {"targets": {"vm": target_config(project, ssh_server, ssh_key=str(ssh_server.other_key))}})
    rebuild(project, FIRST_BUILD)

    result = run_cli("publish", cwd=project)

    assert result.returncode == 1
    where = f"{ssh_server.user}@127.0.0.1:{ssh_server.port}:{project / 'server' / 'www' / 'billing'}"
    assert result.stderr.strip() == f"Error: {where} refused the SSH login; check publish.targets.vm.user and the key in ssh_key"
    assert not (project / "server" / "www" / "billing").exists()


def test_an_untrusted_host_key_is_refused_in_one_line(project, ssh_server):
    empty = project / "empty_known_hosts"
    empty.write_text("")
    write_config(project, {"targets": {"vm": target_config(project, ssh_server, known_hosts=str(empty))}})
    rebuild(project, FIRST_BUILD)

    result = run_cli("publish", cwd=project)

    assert result.returncode == 1
    assert "the server's host key is not trusted; add it to the known_hosts file" in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1


def test_an_unreachable_host_is_one_clear_line(project, ssh_server):
    port = free_port()
    write_config(project, {"targets": {"vm": target_config(project, ssh_server, port=port)}})
    rebuild(project, FIRST_BUILD)

    result = run_cli("publish", cwd=project)

    assert result.returncode == 1
    where = f"{ssh_server.user}@127.0.0.1:{port}:{project / 'server' / 'www' / 'billing'}"
    assert result.stderr.strip() == (
        f"Error: cannot reach {where} over SSH (connection failed); check host, port and that sshd is up"
    )


def test_permission_denied_on_the_remote_directory_says_so_not_that_the_parent_is_missing(project, ssh_server):
    from servers import unwritable

    from billing_reports.errors import PublishError

    www = project / "server" / "www"
    rebuild(project, FIRST_BUILD)
    where = f"{ssh_server.user}@127.0.0.1:{ssh_server.port}:{www / 'billing'}"

    with unwritable(www):
        result = run_cli("publish", cwd=project)
    assert result.returncode == 1
    assert result.stderr.strip() == (
        f"Error: {where}: permission denied: the SSH user cannot create billing in {www} on the server (or it is "
        f"read-only); create {www / 'billing'} there, owned by the SSH user, or check {www}'s owner and mode"
    )

    (www / "billing").mkdir()
    with unwritable(www / "billing"), pytest.raises(PublishError) as failure:
        publish_here(project)
    assert failure.value.message == (
        f"{where}: permission denied: the SSH user cannot write to {www / 'billing'} on the server (or it is "
        f"read-only); check its owner and mode"
    )

    with unwritable(www):  # the site's directory is writable, the folder beside it (for the lock) is not
        with pytest.raises(PublishError) as failure:
            publish_here(project)
        assert failure.value.message == (
            f"{where}: permission denied: the SSH user cannot create its working directory in {www} on the "
            f"server; give it write access there, or set publish.targets.vm.work_dir to a directory it can write on "
            f"the same file system, not served by the web server"
        )
        (project / "server" / "work").mkdir()
        write_config(project, {"targets": {"vm": target_config(project, ssh_server, work_dir=str(project / "server" / "work"))}})
        publish_here(project)
    assert served(project)["billing_dashboard.html"] == "<h1>Dashboard v1</h1>"
    assert list((project / "server" / "work").iterdir()) == []


def test_a_missing_remote_parent_directory_is_one_clear_line(project, ssh_server):
    path = project / "server" / "nope" / "billing"
    write_config(project, {"targets": {"vm": target_config(project, ssh_server, path=str(path))}})
    rebuild(project, FIRST_BUILD)

    result = run_cli("publish", cwd=project)

    assert result.returncode == 1
    assert result.stderr.strip() == (
        f"Error: {ssh_server.user}@127.0.0.1:{ssh_server.port}:{path}: the remote directory's parent does not exist; "
        "create it on the server"
    )


def test_a_missing_rsync_binary_is_one_clear_line(project, tmp_path):
    rebuild(project, FIRST_BUILD)
    only_ssh = tmp_path / "only-ssh-bin"
    only_ssh.mkdir()
    (only_ssh / "ssh").symlink_to(shutil.which("ssh"))

    result = run_cli("publish", cwd=project, env={"PATH": str(only_ssh)})

    assert result.returncode == 1
    assert result.stderr.strip() == (
        "Error: rsync is not installed or not on PATH; install it (Debian: apt-get install rsync) and publish again"
    )


# --- a failed publish leaves the previous site; only ours is deleted; one at a time (issue 11) -------

#: Sixty pages of 16 KiB that do not compress: a transfer long enough to be cut midway.
BIG_FIRST = {
    "billing_dashboard.html": "<h1>Dashboard v1</h1>",
    **{f"users/u{n:02}.html": f"<p>v1 {n}</p>" for n in range(60)},
}
BIG_SECOND = {
    "billing_dashboard.html": "<h1>Dashboard v2</h1>",
    "models/index.html": "<h1>Models</h1>",
    **{f"users/u{n:02}.html": f"<p>v2 {n}</p>" + __import__("os").urandom(8192).hex() for n in range(60)},
}
#: Copies stdin to the ssh it runs until LIMIT bytes have passed, then kills the connection.
CUTTING_PROXY = """
import os, subprocess, sys
limit, command = int(sys.argv[1]), sys.argv[2:]
child = subprocess.Popen(command, stdin=subprocess.PIPE)
sent = 0
while True:
    block = os.read(0, 65536)
    if not block:
        child.stdin.close()
        sys.exit(child.wait())
    if sent + len(block) > limit:
        child.kill()
        os._exit(255)
    child.stdin.write(block)
    child.stdin.flush()
    sent += len(block)
"""


def assert_previous_site_serves(project, build):
    """The previous index and manifest, every page they list, and nothing half-written beside them."""
    import json

    files = served(project)
    assert files["billing_dashboard.html"] == build["billing_dashboard.html"]
    assert json.loads(files["build-manifest.json"])["files"] == sorted(build)
    assert set(build) <= set(files)
    assert set(files) <= set(build) | set(BIG_SECOND) | {"build-manifest.json"}  # no partial or temporary file
    # the lock is gone too; the record of what the cut-off publish was sending stays, for the next one
    assert sorted(p.name for p in (project / "server" / "www").iterdir()) == [".billing.pending", "billing"]


def test_a_connection_killed_midway_leaves_the_previous_site_serving(project, ssh_server, monkeypatch):
    import sys

    from billing_reports.errors import PublishError
    from billing_reports.publish.targets.rsync import RsyncTarget

    rebuild(project, BIG_FIRST)
    publish_here(project)
    rebuild(project, BIG_SECOND)
    proxy = project / "cutting_proxy.py"
    proxy.write_text(CUTTING_PROXY)
    real_ssh_command = RsyncTarget._ssh_command
    monkeypatch.setattr(RsyncTarget, "_ssh_command", lambda self: [sys.executable, str(proxy), "300000", *real_ssh_command(self)])

    with pytest.raises(PublishError) as failure:
        publish_here(project)

    assert failure.value.message.startswith(f"rsync to {ssh_server.user}@127.0.0.1:{ssh_server.port}:")
    # who notices the cut first, and how, depends on timing: ssh (255), rsync's socket (10) or its stream (12)
    assert any(said in failure.value.message for said in (
        "the SSH connection was closed by the server or the network",
        "the connection to the server failed (socket I/O error)",
        "the connection to the server broke during the transfer"))
    assert failure.value.message.endswith("; the previous site still serves")
    assert_previous_site_serves(project, BIG_FIRST)
    assert any(text.startswith("<p>v2") for text in served(project).values())  # it really was cut midway

    monkeypatch.undo()
    publish_here(project)
    assert served(project) == {**BIG_SECOND, "build-manifest.json": (project / "site" / "build-manifest.json").read_text()}


def test_a_folder_the_server_cannot_write_leaves_the_previous_site_serving(project, ssh_server):
    from servers import unwritable

    rebuild(project, BIG_FIRST)
    publish_here(project)
    rebuild(project, BIG_SECOND)

    with unwritable(project / "server" / "www" / "billing" / "users"):
        result = run_cli("publish", cwd=project)

    assert result.returncode == 1
    where = f"{ssh_server.user}@127.0.0.1:{ssh_server.port}:{project / 'server' / 'www' / 'billing'}"
    message = result.stderr.strip()
    assert len(message.splitlines()) == 1
    assert message.startswith(f"Error: rsync to {where} failed: the server refused to write users/u")
    assert message.endswith(
        f"check the SSH user's rights on {project / 'server' / 'www' / 'billing'} and the folders in it "
        f"(rsync exit code 23); the previous site still serves"
    )
    assert_previous_site_serves(project, BIG_FIRST)


def test_files_not_ours_are_kept_unless_pruned_and_dry_run_shows_the_same(project, ssh_server):
    live = project / "server" / "www" / "billing"
    rebuild(project, FIRST_BUILD)
    publish_here(project)
    (live / "robots.txt").write_text("User-agent: *")
    (live / "notes").mkdir()
    (live / "notes" / "q3.txt").write_text("not ours")
    (live / "users" / ".~tmp~").mkdir()  # an interrupted rsync's leftovers (an earlier version's --delay-updates)
    (live / "users" / ".~tmp~" / "index.html").write_text("<h1>Us")
    rebuild(project, SECOND_BUILD)

    dry_run = run_cli("publish", "--dry-run", cwd=project)
    report = publish_here(project)

    deletions = [line.split()[1] for line in dry_run.stdout.splitlines() if line.strip().startswith("delete")]
    assert deletions == ["users/index.html"]
    assert report.counts() == {"add": 1, "update": 2, "delete": 1}
    assert sorted(served(project)) == [
        "assets/site.css", "billing_dashboard.html", "build-manifest.json", "models/index.html", "notes/q3.txt",
        "robots.txt",
    ]

    write_config(project, {"targets": {"vm": target_config(project, ssh_server, prune=["notes/*"])}})
    assert [str(change) for change in publish_here(project, dry_run=True).changes] == ["delete notes/q3.txt"]
    publish_here(project)
    assert "notes/q3.txt" not in served(project) and "robots.txt" in served(project)


def test_a_publish_while_another_holds_the_lock_fails_in_one_line_until_the_lock_expires(project, ssh_server):
    import time

    lock = project / "server" / "www" / ".billing.publishing"
    lock.mkdir()
    (lock / "expires").write_text(f"{int(time.time()) + 600}\n")
    rebuild(project, FIRST_BUILD)

    held = run_cli("publish", cwd=project)

    assert held.returncode == 1
    where = f"{ssh_server.user}@127.0.0.1:{ssh_server.port}:{project / 'server' / 'www' / 'billing'}"
    assert held.stderr.strip().startswith(
        f"Error: {where}: another publish to this target is in progress (its lock is {lock} on the server, for "
    )
    assert held.stderr.strip().endswith("s more); wait for it and publish again, or if none is running (a killed "
                                        "publish), remove that directory and publish again")
    assert not (project / "server" / "www" / "billing").exists()

    (lock / "expires").write_text(f"{int(time.time()) - 1}\n")  # a killed publish's lock, expired
    taken_over = run_cli("publish", cwd=project)

    assert taken_over.returncode == 0, taken_over.stderr
    assert not lock.exists()


@pytest.mark.parametrize(
    ("code", "stderr", "stage", "expected"),
    [
        (12, "rsync: connection unexpectedly closed (1032 bytes received so far) [sender]\nrsync error: error in rsync "
             "protocol data stream (code 12) at io.c(232)", "pages",
         "the connection to the server broke during the transfer (rsync protocol data stream); check the network and "
         "the server's sshd log, then publish again (rsync exit code 12); the previous site still serves"),
        (23, 'rsync: [receiver] mkstemp "/srv/.billing.publishing/tmp/a.html.Xy1" failed: No space left on device (28)',
         "index", "the server's disk is full (/srv/.billing.publishing/tmp/a.html.Xy1: no space left on device); free "
         "space there (rsync exit code 23); the new pages are in place but the previous index still serves"),
        (30, "rsync error: timeout in data send/receive (code 30)", "manifest",
         "the server stopped answering during the transfer (timeout); check the server and the network (rsync exit "
         "code 30); the new site is live but the stale files or the manifest are not updated: publish again"),
        (2, "rsync: protocol version mismatch -- is your shell clean?", "compare",
         "the rsync versions here and on the server cannot work together (protocol incompatibility); update one of "
         "them (rsync exit code 2)"),
        (127, "bash: line 1: rsync: command not found", "pages",
         "rsync is not installed on the server; install it there; the previous site still serves"),
    ],
)
def test_rsync_exit_codes_say_what_to_check(tmp_path, code, stderr, stage, expected):
    from billing_reports.publish.targets.rsync import RsyncTarget
    from billing_reports.settings import settings_from_mapping

    config = RsyncTarget.with_defaults({"host": "web1", "path": "/srv/billing"})
    target = RsyncTarget("vm", config, settings_from_mapping({}, tmp_path / "config.yaml"))

    assert target._explain_rsync(code, stderr, stage) == f"rsync to web1:/srv/billing failed: {expected}"


def test_a_file_not_ours_where_the_site_needs_a_folder_is_refused_not_replaced(project, ssh_server):
    from billing_reports.errors import PublishError

    live = project / "server" / "www" / "billing"
    live.mkdir()
    (live / "users").write_text("an administrator's file")
    rebuild(project, FIRST_BUILD)

    with pytest.raises(PublishError) as failure:
        publish_here(project)

    assert failure.value.message == (
        f"{ssh_server.user}@127.0.0.1:{ssh_server.port}:{live}: 'users' is there and an earlier publish did not put "
        "it there, but the site needs a folder in its place; move it away, or name it in publish.targets.vm.prune"
    )
    assert (live / "users").read_text() == "an administrator's file"
    assert sorted(p.name for p in live.iterdir()) == ["users"]


def test_pages_a_cut_off_publish_sent_are_ours_and_deleted_when_the_site_drops_them(project, ssh_server, monkeypatch):
    """No manifest lists what a publish cut off midway sent; the record it wrote first does, so a page
    the next site no longer has (a removed user's, say) does not stay public for ever."""
    import sys

    from billing_reports.errors import PublishError
    from billing_reports.publish.targets.rsync import RsyncTarget

    rebuild(project, BIG_FIRST)
    publish_here(project)
    rebuild(project, BIG_SECOND)  # adds models/index.html, which goes up with the pages
    proxy = project / "cutting_proxy.py"
    proxy.write_text(CUTTING_PROXY)
    real_ssh_command = RsyncTarget._ssh_command
    monkeypatch.setattr(RsyncTarget, "_ssh_command", lambda self: [sys.executable, str(proxy), "300000", *real_ssh_command(self)])
    with pytest.raises(PublishError):
        publish_here(project)
    monkeypatch.undo()
    if "models/index.html" not in served(project):
        pytest.skip("the cut came before models/index.html was sent")  # (timing: the proxy cuts by bytes)
    rebuild(project, BIG_FIRST)  # the new page is gone from the site

    publish_here(project)

    assert "models/index.html" not in served(project)
    assert sorted(p.name for p in (project / "server" / "www").iterdir()) == ["billing"]  # the record went too
