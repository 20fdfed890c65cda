"""The git target against a local bare repository as the remote."""

from __future__ import annotations

import os
import shutil
import subprocess

import pytest
from servers import FIRST_BUILD, SECOND_BUILD, free_port, run_cli, write_built_site, write_config

def git(*arguments, cwd=None) -> str:
    return subprocess.run(["git", *arguments], cwd=cwd, check=True, capture_output=True, text=True).stdout


@pytest.fixture
def remote(tmp_path):
    path = tmp_path / "pages.git"
    git("init", "--quiet", "--bare", str(path))
    return path


@pytest.fixture
def project(tmp_path, remote):
    write_config(tmp_path, {"targets": {"pages": {"type": "git", "remote": "pages.git", "branch": "gh-pages"}}})
    return tmp_path


def rebuild(project, files, **manifest):
    shutil.rmtree(project / "site", ignore_errors=True)
    write_built_site(project / "site", files, **manifest)


def branch_files(remote, branch="gh-pages") -> dict[str, str]:
    names = git("--git-dir", str(remote), "ls-tree", "-r", "--name-only", branch).split()
    return {name: git("--git-dir", str(remote), "show", f"{branch}:{name}") for name in names}


def history(remote, branch="gh-pages") -> list[str]:
    return git("--git-dir", str(remote), "log", "--format=%s", branch).splitlines()



def publish_here(project):
    """Publish in this process (set-up for the command-line run under test)."""
    from billing_reports.publish.publisher import publish_site
    from billing_reports.settings import load_settings

    publish_site(load_settings(project / "config.yaml"))

def test_publish_to_a_fresh_remote_creates_the_branch_with_one_commit(project, remote):
    rebuild(project, FIRST_BUILD)

    result = run_cli("publish", cwd=project)

    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == (
        f"Published January 2026 – February 2026 (4 files; names people: not for the whole company) to pages ({project / 'pages.git'} branch gh-pages): "
        "4 added, 0 updated, 0 deleted."
    )
    files = branch_files(remote)
    assert sorted(files) == ["assets/site.css", "billing_dashboard.html", "build-manifest.json", "users/index.html"]
    assert files["billing_dashboard.html"] == "<h1>Dashboard v1</h1>"
    assert history(remote) == ["Publish billing report 2026-01..2026-02 (January 2026 – February 2026)"]
    author = git("--git-dir", str(remote), "log", "-1", "--format=%an <%ae>", "gh-pages").strip()
    assert author == "billing-reports <billing-reports@localhost>"


def test_each_publish_adds_one_commit_on_top_keeping_history(project, remote):
    rebuild(project, FIRST_BUILD)
    publish_here(project)
    first_tip = git("--git-dir", str(remote), "rev-parse", "gh-pages").strip()
    rebuild(project, SECOND_BUILD, first="2026-02", last="2026-03")

    result = run_cli("publish", cwd=project)

    assert result.returncode == 0, result.stderr
    assert result.stdout.strip().endswith("1 added, 2 updated, 1 deleted.")
    assert history(remote) == [
        "Publish billing report 2026-02..2026-03 (February 2026 – March 2026)",
        "Publish billing report 2026-01..2026-02 (January 2026 – February 2026)",
    ]
    assert git("--git-dir", str(remote), "rev-parse", "gh-pages~1").strip() == first_tip
    assert sorted(branch_files(remote)) == ["assets/site.css", "billing_dashboard.html", "build-manifest.json", "models/index.html"]

    again = run_cli("publish", cwd=project)  # the same build again: nothing to commit
    assert again.returncode == 0 and again.stdout.strip().endswith("0 added, 0 updated, 0 deleted.")
    assert len(history(remote)) == 2


def test_dry_run_lists_the_diff_against_the_branch_and_pushes_nothing(project, remote):
    rebuild(project, FIRST_BUILD)
    publish_here(project)
    tip = git("--git-dir", str(remote), "rev-parse", "gh-pages").strip()
    rebuild(project, SECOND_BUILD)

    result = run_cli("publish", "--dry-run", cwd=project)

    assert result.returncode == 0, result.stderr
    assert sorted(line.split() for line in result.stdout.splitlines()[1:-1]) == sorted(
        [["update", "billing_dashboard.html"], ["update", "build-manifest.json"],
         ["add", "models/index.html"], ["delete", "users/index.html"]]
    )
    assert git("--git-dir", str(remote), "rev-parse", "gh-pages").strip() == tip


def test_rollback_commits_the_previous_tree_on_top(project, remote):
    rebuild(project, FIRST_BUILD)
    publish_here(project)
    rebuild(project, SECOND_BUILD)
    publish_here(project)

    result = run_cli("publish", "--rollback", cwd=project)

    assert result.returncode == 0, result.stderr
    assert branch_files(remote)["billing_dashboard.html"] == "<h1>Dashboard v1</h1>"
    assert "users/index.html" in branch_files(remote)
    assert len(history(remote)) == 3 and history(remote)[0].startswith("Roll back billing report")


def test_a_missing_branch_on_a_remote_with_other_branches_is_an_error_unless_create_branch(project, remote, tmp_path):
    seed = tmp_path / "seed"
    git("init", "--quiet", "-b", "main", str(seed))
    (seed / "README").write_text("docs\n")
    git("add", "README", cwd=seed)
    git("-c", "user.name=t", "-c", "user.email=t@t", "commit", "--quiet", "-m", "init", cwd=seed)
    git("push", "--quiet", str(remote), "main", cwd=seed)
    rebuild(project, FIRST_BUILD)

    result = run_cli("publish", cwd=project)

    assert result.returncode == 1
    assert result.stderr.strip() == (
        f"Error: git remote {project / 'pages.git'} has no branch 'gh-pages' (it has main); "
        "fix publish.targets.pages.branch or set create_branch: true"
    )
    write_config(project, {"targets": {"pages": {"type": "git", "remote": "./pages.git", "create_branch": True}}})
    publish_here(project)
    assert sorted(branch_files(remote)) == ["assets/site.css", "billing_dashboard.html", "build-manifest.json", "users/index.html"]
    assert branch_files(remote, "main") == {"README": "docs\n"}


def test_a_missing_repository_is_one_clear_line(tmp_path):
    write_config(tmp_path, {"targets": {"pages": {"type": "git", "remote": "./nothing-here.git"}}})
    rebuild(tmp_path, FIRST_BUILD)

    result = run_cli("publish", cwd=tmp_path)

    assert result.returncode == 1
    assert result.stderr.strip() == (
        f"Error: git remote {tmp_path / 'nothing-here.git'}: no repository there; check publish.targets.pages.remote"
    )


def test_an_unreachable_host_is_one_clear_line(tmp_path):
    remote = f"http://127.0.0.1:{free_port()}/pages.git"
    write_config(tmp_path, {"targets": {"pages": {"type": "git", "remote": remote}}})
    rebuild(tmp_path, FIRST_BUILD)

    result = run_cli("publish", cwd=tmp_path)

    assert result.returncode == 1
    assert result.stderr.strip() == (
        f"Error: cannot reach git remote {remote} (connection failed); check the remote's host and port, and that it is up"
    )


def test_a_token_is_never_shown(tmp_path):
    remote = f"http://127.0.0.1:{free_port()}/pages.git"
    write_config(tmp_path, {"targets": {"pages": {"type": "git", "remote": remote, "token_variable": "PAGES_TOKEN"}}})
    rebuild(tmp_path, FIRST_BUILD)

    result = run_cli("publish", cwd=tmp_path, env={"PAGES_TOKEN": "ghp_supersecret"})

    assert result.returncode == 1
    assert "ghp_supersecret" not in result.stderr + result.stdout
    assert "cannot reach git remote http://127.0.0.1:" in result.stderr


def test_a_token_written_into_the_remote_url_is_refused_without_showing_it(tmp_path):
    write_config(tmp_path, {"targets": {"pages": {"type": "git", "remote": "https://bot:hunter2-token@git.example.com/site.git"}}})
    rebuild(tmp_path, FIRST_BUILD)

    result = run_cli("publish", cwd=tmp_path)

    assert result.returncode == 1
    assert "publish.targets.pages.remote: has a password or token in it; credentials never go in config.yaml" in result.stderr
    assert "hunter2-token" not in result.stderr + result.stdout


def test_a_missing_git_binary_is_one_clear_line(project, tmp_path):
    rebuild(project, FIRST_BUILD)
    empty_bin = tmp_path / "empty-bin"
    empty_bin.mkdir()

    result = run_cli("publish", cwd=project, env={"PATH": str(empty_bin)})

    assert result.returncode == 1
    assert result.stderr.strip() == (
        "Error: git is not installed or not on PATH; install git (Debian: apt-get install git) and publish again"
    )


@pytest.mark.parametrize(
    ("remote", "resolved", "shown"),
    [
        ("git@github.com:acme/site.git", "git@github.com:acme/site.git", "git@github.com:acme/site.git"),
        ("https://bot:t0ken@git.example.com/site.git", "https://bot:t0ken@git.example.com/site.git", "https://git.example.com/site.git"),
        ("ssh://git@git.example.com:2222/site.git", "ssh://git@git.example.com:2222/site.git", "ssh://git.example.com:2222/site.git"),
        ("sites/pages.git", "{config_dir}/sites/pages.git", "{config_dir}/sites/pages.git"),
        ("../pages.git", "{parent}/pages.git", "{parent}/pages.git"),
    ],
)
def test_remotes_are_urls_scp_style_or_paths_relative_to_the_config(tmp_path, remote, resolved, shown):
    from billing_reports.publish.targets.git import GitTarget
    from billing_reports.settings import settings_from_mapping

    settings = settings_from_mapping({}, tmp_path / "config.yaml")
    target = GitTarget("pages", GitTarget.with_defaults({"remote": remote}), settings)
    places = {"config_dir": tmp_path, "parent": tmp_path.parent}

    assert target._remote() == resolved.format(**places)
    assert target.describe() == shown.format(**places) + " branch gh-pages"


# --- over SSH, against the real sshd of the rsync tests --------------------------------------------


def ssh_target(remote, ssh_server, key):
    return {
        "type": "git",
        "remote": f"ssh://{ssh_server.user}@127.0.0.1:{ssh_server.port}{remote}",
        "ssh_key": str(key),
        "known_hosts": str(ssh_server.known_hosts),
    }


@pytest.mark.server
def test_publish_over_ssh_with_the_deploy_key(tmp_path, remote, ssh_server):
    write_config(tmp_path, {"targets": {"pages": ssh_target(remote, ssh_server, ssh_server.client_key)}})
    rebuild(tmp_path, FIRST_BUILD)

    result = run_cli("publish", cwd=tmp_path)

    assert result.returncode == 0, result.stderr
    assert branch_files(remote)["billing_dashboard.html"] == "<h1>Dashboard v1</h1>"


@pytest.mark.server
def test_a_key_the_server_refuses_is_one_clear_line(tmp_path, remote, ssh_server):
    write_config(tmp_path, {"targets": {"pages": ssh_target(remote, ssh_server, ssh_server.other_key)}})
    rebuild(tmp_path, FIRST_BUILD)

    result = run_cli("publish", cwd=tmp_path)

    assert result.returncode == 1
    assert result.stderr.strip() == (
        f"Error: git remote ssh://127.0.0.1:{ssh_server.port}{remote} refused the credentials while trying to "
        f"reach the remote; check ssh_key {ssh_server.other_key}"
    )
    assert git("--git-dir", str(remote), "branch", "--list").strip() == ""


# --- over HTTPS-style smart HTTP with a token --------------------------------------------------------


def test_publish_over_http_with_a_token_from_dotenv_and_a_wrong_token_refused(tmp_path, remote):
    from servers import GitHttpServer

    with GitHttpServer(tmp_path, user="x-access-token", token="tok-right-7c1") as server:
        target = {"type": "git", "remote": f"{server.url}/pages.git", "token_variable": "PAGES_TOKEN"}
        write_config(tmp_path, {"targets": {"pages": target}})
        rebuild(tmp_path, FIRST_BUILD)

        wrong = run_cli("publish", cwd=tmp_path, env={"PAGES_TOKEN": "tok-wrong-3b2"})

        assert wrong.returncode == 1
        assert wrong.stderr.strip() == (
            f"Error: git remote {server.url}/pages.git refused the credentials while trying to reach the remote; "
            "check the token in PAGES_TOKEN"
        )
        assert "tok-wrong-3b2" not in wrong.stdout + wrong.stderr

        (tmp_path / ".env").write_text("PAGES_TOKEN=tok-right-7c1\n")
        right = run_cli("publish", cwd=tmp_path, env={"PAGES_TOKEN": ""})

        assert right.returncode == 0, right.stderr
        assert "tok-right-7c1" not in right.stdout + right.stderr
    assert branch_files(remote)["billing_dashboard.html"] == "<h1>Dashboard v1</h1>"
    assert history(remote) == ["Publish billing report 2026-01..2026-02 (January 2026 – February 2026)"]


# --- what is not ours stays; credentials; a push's size; messages (issue 11) --------------------------


def seed_branch(remote, tmp_path, files, branch="gh-pages"):
    """Commit ``files`` to ``branch`` of ``remote`` by hand (a Pages branch set up before billing-reports)."""
    seed = tmp_path / "seed"
    git("init", "--quiet", "-b", branch, str(seed))
    for name, content in files.items():
        (seed / name).write_text(content)
    git("add", ".", cwd=seed)
    git("-c", "user.name=t", "-c", "user.email=t@t", "commit", "--quiet", "-m", "by hand", cwd=seed)
    git("push", "--quiet", str(remote), branch, cwd=seed)


def test_files_an_earlier_publish_did_not_put_in_the_branch_are_kept_unless_pruned(project, remote, tmp_path):
    seed_branch(remote, tmp_path, {"CNAME": "reports.example.com\n", ".nojekyll": ""})
    rebuild(project, FIRST_BUILD)
    publish_here(project)
    assert sorted(branch_files(remote)) == [
        ".nojekyll", "CNAME", "assets/site.css", "billing_dashboard.html", "build-manifest.json", "users/index.html",
    ]
    rebuild(project, SECOND_BUILD)

    dry_run = run_cli("publish", "--dry-run", cwd=project)
    result = run_cli("publish", cwd=project)

    assert sorted(line.split() for line in dry_run.stdout.splitlines()[1:-1]) == sorted(
        [["update", "billing_dashboard.html"], ["update", "build-manifest.json"],
         ["add", "models/index.html"], ["delete", "users/index.html"]]
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip().endswith("1 added, 2 updated, 1 deleted.")
    files = branch_files(remote)
    assert files["CNAME"] == "reports.example.com\n" and ".nojekyll" in files
    assert "users/index.html" not in files

    write_config(project, {"targets": {"pages": {"type": "git", "remote": "pages.git", "prune": [".nojekyll"]}}})
    pruned = run_cli("publish", cwd=project)
    assert pruned.stdout.strip().endswith("0 added, 0 updated, 1 deleted.")
    assert sorted(branch_files(remote)) == [
        "CNAME", "assets/site.css", "billing_dashboard.html", "build-manifest.json", "models/index.html",
    ]


def test_a_file_not_ours_where_the_site_needs_a_folder_is_refused_not_deleted(project, remote, tmp_path):
    seed_branch(remote, tmp_path, {"users": "a file, not a folder\n"})
    rebuild(project, FIRST_BUILD)

    result = run_cli("publish", cwd=project)

    assert result.returncode == 1
    assert result.stderr.strip() == (
        f"Error: {project / 'pages.git'} branch gh-pages: 'users' is there and an earlier publish did not put it "
        "there, but the site needs a folder in its place; move it away, or name it in publish.targets.pages.prune"
    )
    assert branch_files(remote) == {"users": "a file, not a folder\n"}


@pytest.mark.parametrize(
    "remote",
    [
        "http://ghp_t0kenAsUserName@127.0.0.1/pages.git",
        "https://ghp_t0kenAsUserName@git.example.com/site.git",
        "https://x-access-token:ghp_t0kenAsUserName@git.example.com/site.git",
        "HTTPS://ghp_t0kenAsUserName:@git.example.com/site.git",
    ],
)
def test_a_token_as_the_user_name_of_an_http_remote_is_refused_without_showing_it(tmp_path, remote):
    write_config(tmp_path, {"targets": {"pages": {"type": "git", "remote": remote}}})
    rebuild(tmp_path, FIRST_BUILD)

    result = run_cli("publish", cwd=tmp_path)

    assert result.returncode == 1
    assert "publish.targets.pages.remote: has a password or token in it; credentials never go in config.yaml" in result.stderr
    assert "ghp_t0kenAsUserName" not in result.stderr + result.stdout


def test_an_ssh_user_in_an_ssh_remote_is_not_a_credential():
    from billing_reports.publish.targets.git import GitTarget

    assert GitTarget.validate({"remote": "ssh://git@git.example.com:2222/site.git"}) == []
    assert GitTarget.validate({"remote": "git@github.com:acme/site.git"}) == []


def test_a_push_over_one_mebibyte_over_http_goes_through(tmp_path, remote):
    from servers import GitHttpServer

    big = {**FIRST_BUILD, "data/events.csv": os.urandom(900 * 1024).hex()}  # 1.8 MB of text, ~1 MiB packed
    with GitHttpServer(tmp_path, user="x-access-token", token="tok-right-7c1") as server:
        write_config(tmp_path, {"targets": {"pages": {"type": "git", "remote": f"{server.url}/pages.git", "token_variable": "PAGES_TOKEN"}}})
        rebuild(tmp_path, big)

        result = run_cli("publish", cwd=tmp_path, env={"PAGES_TOKEN": "tok-right-7c1"})

    assert result.returncode == 0, result.stderr
    assert branch_files(remote)["data/events.csv"] == big["data/events.csv"]


@pytest.mark.parametrize(
    ("proxy", "expected"),
    [
        ({"max_body": 2048}, "refused the push as too large while trying to push the commit (a proxy's or the server's "
                             "size limit for one request, e.g. nginx client_max_body_size); raise that limit"),
        ({"hang_up_on_push": True}, "closed the connection while trying to push the commit (the remote end hung up); "
                                    "check the network, the server's (or its proxy's) logs and its limits on request "
                                    "size and time, then publish again"),
    ],
)
def test_a_push_the_server_cuts_off_says_what_to_check(tmp_path, remote, proxy, expected):
    from servers import GitHttpServer

    with GitHttpServer(tmp_path, user="x-access-token", token="tok-right-7c1", **proxy) as server:
        write_config(tmp_path, {"targets": {"pages": {"type": "git", "remote": f"{server.url}/pages.git", "token_variable": "PAGES_TOKEN"}}})
        rebuild(tmp_path, {**FIRST_BUILD, "data/big.csv": os.urandom(4096).hex()})  # does not compress below 2048

        result = run_cli("publish", cwd=tmp_path, env={"PAGES_TOKEN": "tok-right-7c1"})

    assert result.returncode == 1
    assert result.stderr.strip() == f"Error: git remote {server.url}/pages.git {expected}"
    assert git("--git-dir", str(remote), "branch", "--list").strip() == ""


def test_a_stalled_git_server_is_given_up_after_the_deadline(tmp_path):
    from servers import StalledServer

    rebuild(tmp_path, FIRST_BUILD)
    with StalledServer() as stalled:
        write_config(tmp_path, {"targets": {"pages": {"type": "git", "remote": f"{stalled.url}/pages.git", "timeout_seconds": 1}}})
        result = run_cli("publish", cwd=tmp_path, timeout=60)

    assert result.returncode == 1
    assert result.stderr.strip().startswith("Error: publish target 'pages' (git) did not finish within 1 s, so it was stopped;")


def test_a_credential_helper_is_not_asked_for_an_http_remote(tmp_path, remote):
    from servers import GitHttpServer

    helper_config = tmp_path / "gitconfig"
    helper_config.write_text(  # a password stored elsewhere than the environment: never used
        '[credential]\n\thelper = "!f() { echo username=x-access-token; echo password=tok-right-7c1; }; f"\n'
    )
    with GitHttpServer(tmp_path, user="x-access-token", token="tok-right-7c1") as server:
        write_config(tmp_path, {"targets": {"pages": {"type": "git", "remote": f"{server.url}/pages.git"}}})
        rebuild(tmp_path, FIRST_BUILD)

        result = run_cli("publish", cwd=tmp_path, env={"GIT_CONFIG_GLOBAL": str(helper_config)})

    assert result.returncode == 1
    assert result.stderr.strip() == (
        f"Error: git remote {server.url}/pages.git refused the credentials while trying to reach the remote; "
        "check the token: set publish.targets.pages.token_variable"
    )
    assert git("--git-dir", str(remote), "branch", "--list").strip() == ""
