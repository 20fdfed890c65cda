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



def publish_here(project):
    """Publish in this process (set-up for the command-line run under test)."""
    from billing_reports.publish.publisher import publish_site
    from billing_reports.settings import load_settings

    publish_site(load_settings(project / "config.yaml"))

def test_publish_copies_the_site_and_a_second_publish_deletes_stale_files(project, ssh_server):
    rebuild(project, FIRST_BUILD)
    (project / "server" / "www" / "billing").mkdir()
    (project / "server" / "www" / "billing" / "old-report.html").write_text("stale")

    first = run_cli("publish", cwd=project)

    assert first.returncode == 0, first.stderr
    where = f"{ssh_server.user}@127.0.0.1:{ssh_server.port}:{project / 'server' / 'www' / 'billing'}"
    assert first.stdout.strip() == (
        f"Published January 2026 – February 2026 (4 files) to vm ({where}): 4 added, 0 updated, 1 deleted."
    )
    files = served(project)
    assert sorted(files) == ["assets/site.css", "billing_dashboard.html", "build-manifest.json", "users/index.html"]
    assert files["billing_dashboard.html"] == "<h1>Dashboard v1</h1>"

    rebuild(project, SECOND_BUILD)
    second = run_cli("publish", cwd=project)

    assert second.returncode == 0, second.stderr
    assert second.stdout.strip().endswith("1 added, 2 updated, 1 deleted.")
    files = served(project)
    assert sorted(files) == ["assets/site.css", "billing_dashboard.html", "build-manifest.json", "models/index.html"]
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
