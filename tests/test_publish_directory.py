"""The directory target, published through the command line and read back over real HTTP."""

from __future__ import annotations

import errno
from pathlib import Path

import pytest
from servers import StaticHttpServer, run_cli, write_built_site, write_config

from billing_reports.errors import PublishError
from billing_reports.publish.publisher import publish_site
from billing_reports.publish.targets import directory as directory_target
from billing_reports.settings import load_settings

FIRST_BUILD = {
    "billing_dashboard.html": "<h1>Dashboard v1</h1>",
    "users/index.html": "<h1>Users v1</h1>",
    "assets/site.css": "body { color: black }",
    "data/monthly.csv": "month,on_demand_cost\n2026-01,$12.50\n",
}
SECOND_BUILD = {
    "billing_dashboard.html": "<h1>Dashboard v2</h1>",
    "models/index.html": "<h1>Models v2</h1>",
    "assets/site.css": "body { color: black }",
    "data/monthly.csv": "month,on_demand_cost\n2026-01,$12.50\n2026-02,$7.25\n",
}


@pytest.fixture
def project(tmp_path):
    """A config whose default target is the directory ``www/billing``; the site is ``site/``."""
    (tmp_path / "www").mkdir()
    write_config(tmp_path, {"default": "intranet", "targets": {"intranet": {"type": "directory", "path": "www/billing"}}})
    return tmp_path


def rebuild(project, files, **manifest):
    site = project / "site"
    if site.exists():
        import shutil

        shutil.rmtree(site)
    write_built_site(site, files, **manifest)



def publish_here(project):
    """Publish in this process (set-up for the command-line run under test)."""
    from billing_reports.publish.publisher import publish_site
    from billing_reports.settings import load_settings

    publish_site(load_settings(project / "config.yaml"))

def test_publish_serves_the_site_and_a_second_publish_replaces_it(project):
    live = project / "www" / "billing"
    rebuild(project, FIRST_BUILD)

    first = run_cli("publish", cwd=project)

    assert first.returncode == 0, first.stderr
    assert first.stdout.strip() == (
        f"Published January 2026 – February 2026 (5 files; names people: not for the whole company) to intranet ({live}): 5 added, 0 updated, 0 deleted."
    )
    with StaticHttpServer(live) as http:
        assert http.get("billing_dashboard.html") == (200, "<h1>Dashboard v1</h1>")
        assert http.get("users/index.html") == (200, "<h1>Users v1</h1>")

        rebuild(project, SECOND_BUILD, first="2026-02", last="2026-03")
        second = run_cli("publish", "intranet", cwd=project)

        assert second.returncode == 0, second.stderr
        # dashboard, monthly.csv and the manifest changed; models/ is new; users/ is gone
        assert second.stdout.strip().endswith("1 added, 3 updated, 1 deleted.")
        assert "February 2026 – March 2026" in second.stdout
        assert http.get("billing_dashboard.html") == (200, "<h1>Dashboard v2</h1>")
        assert http.get("models/index.html") == (200, "<h1>Models v2</h1>")
        assert http.get("users/index.html")[0] == 404
    previous = project / "www" / ".billing.previous"
    assert (previous / "billing_dashboard.html").read_text() == "<h1>Dashboard v1</h1>"
    assert sorted(p.name for p in (project / "www").iterdir()) == [".billing.previous", "billing"]


def test_rollback_serves_the_previous_site_and_rolling_back_again_undoes_it(project):
    live = project / "www" / "billing"
    rebuild(project, FIRST_BUILD)
    publish_here(project)
    rebuild(project, SECOND_BUILD)
    publish_here(project)

    with StaticHttpServer(live) as http:
        back = run_cli("publish", "--rollback", cwd=project)
        assert back.returncode == 0, back.stderr
        assert back.stdout.startswith(f"Rolled back intranet: {live} serves the previous site again")
        assert http.get("billing_dashboard.html") == (200, "<h1>Dashboard v1</h1>")

        forward = run_cli("publish", "--rollback", cwd=project)
        assert forward.returncode == 0
        assert http.get("billing_dashboard.html") == (200, "<h1>Dashboard v2</h1>")

        # publishing the live build again changes nothing, so the previous site stays for a rollback
        again = run_cli("publish", cwd=project)
        assert again.stdout.strip().endswith("0 added, 0 updated, 0 deleted.")
        assert run_cli("publish", "--rollback", cwd=project).returncode == 0
        assert http.get("billing_dashboard.html") == (200, "<h1>Dashboard v1</h1>")


def test_rollback_without_a_previous_site_is_one_clear_line(project):
    rebuild(project, FIRST_BUILD)
    publish_here(project)

    result = run_cli("publish", "--rollback", cwd=project)

    assert result.returncode == 1
    assert result.stderr.strip().splitlines() == [
        f"Error: {project / 'www' / 'billing'}: no previous site (.billing.previous is missing); nothing to roll back to"
    ]


def test_a_copy_failing_midway_leaves_the_previous_site_serving(project, monkeypatch):
    live = project / "www" / "billing"
    settings = load_settings(project / "config.yaml")
    rebuild(project, FIRST_BUILD)
    publish_site(settings)
    rebuild(project, SECOND_BUILD)

    copied = []

    def copy_then_disk_full(source, destination):
        if len(copied) == 2:
            raise OSError(errno.ENOSPC, "No space left on device")
        copied.append(destination)
        directory_target.shutil.copy2(source, destination)

    monkeypatch.setattr(directory_target, "copy_file", copy_then_disk_full)
    with StaticHttpServer(live) as http:
        with pytest.raises(PublishError, match="copying the site failed \\(No space left on device\\); the live site is unchanged"):
            publish_site(settings)

        assert len(copied) == 2  # the failure really came midway
        assert http.get("billing_dashboard.html") == (200, "<h1>Dashboard v1</h1>")
        assert http.get("users/index.html") == (200, "<h1>Users v1</h1>")
    assert sorted(p.name for p in (project / "www").iterdir()) == ["billing"]  # no half-copied leftovers


def test_an_interrupted_publish_leaves_the_previous_site_and_no_leftovers(project, monkeypatch):
    live = project / "www" / "billing"
    settings = load_settings(project / "config.yaml")
    rebuild(project, FIRST_BUILD)
    publish_site(settings)
    rebuild(project, SECOND_BUILD)

    def interrupted(source, destination):
        raise KeyboardInterrupt

    monkeypatch.setattr(directory_target, "copy_file", interrupted)
    with pytest.raises(KeyboardInterrupt):
        publish_site(settings)

    assert (live / "billing_dashboard.html").read_text() == "<h1>Dashboard v1</h1>"
    assert sorted(p.name for p in (project / "www").iterdir()) == ["billing"]


def test_keeping_the_previous_site_failing_after_the_swap_says_so_and_keeps_the_old_site(project, monkeypatch):
    live = project / "www" / "billing"
    previous = project / "www" / ".billing.previous"
    settings = load_settings(project / "config.yaml")
    rebuild(project, FIRST_BUILD)
    publish_site(settings)
    rebuild(project, SECOND_BUILD)
    real_rename = directory_target.os.rename

    def rename_refusing_previous(source, destination):
        if Path(destination) == previous:
            raise OSError(errno.EACCES, "Permission denied")
        real_rename(source, destination)

    monkeypatch.setattr(directory_target.os, "rename", rename_refusing_previous)
    with StaticHttpServer(live) as http:
        with pytest.raises(PublishError) as failure:
            publish_site(settings)

        assert http.get("billing_dashboard.html") == (200, "<h1>Dashboard v2</h1>")  # the swap did happen
    left = [p for p in (project / "www").iterdir() if p.name != "billing"]
    assert len(left) == 1 and left[0].name.startswith(".billing.incoming-")
    assert (left[0] / "billing_dashboard.html").read_text() == "<h1>Dashboard v1</h1>"  # the old site, not deleted
    assert failure.value.message == (
        f"{live}: the new site is live, but keeping the replaced site as .billing.previous failed "
        f"(Permission denied); it is left in {left[0].name}: rename it to .billing.previous for --rollback "
        f"and check permissions of {live.parent}"
    )
    assert "cannot swap" not in failure.value.message


def test_a_swap_that_fails_leaves_the_live_site_and_says_so(project, monkeypatch):
    live = project / "www" / "billing"
    settings = load_settings(project / "config.yaml")
    rebuild(project, FIRST_BUILD)
    publish_site(settings)
    rebuild(project, SECOND_BUILD)

    def exchange_refused(first, second):
        raise OSError(errno.EBUSY, "Device or resource busy")

    monkeypatch.setattr(directory_target, "_exchange", exchange_refused)
    with pytest.raises(PublishError) as failure:
        publish_site(settings)

    assert failure.value.message == (
        f"{live}: cannot swap the new site in (Device or resource busy); the live site is unchanged; "
        f"check permissions of {live.parent}"
    )
    assert (live / "billing_dashboard.html").read_text() == "<h1>Dashboard v1</h1>"
    assert sorted(p.name for p in (project / "www").iterdir()) == ["billing"]  # the new copy is cleaned up


def test_the_rename_fallback_puts_the_live_site_back_when_the_swap_fails(tmp_path, monkeypatch):
    old, new = tmp_path / "live", tmp_path / "incoming"
    old.mkdir()
    new.mkdir()
    (old / "page.html").write_text("old")
    real_rename = directory_target.os.rename

    def rename_failing_into_live(source, destination):
        if Path(source) == new:
            raise OSError(errno.EXDEV, "Invalid cross-device link")
        real_rename(source, destination)

    monkeypatch.setattr(directory_target, "_renameat2", None)
    monkeypatch.setattr(directory_target.os, "rename", rename_failing_into_live)
    with pytest.raises(OSError):
        directory_target._exchange(new, old)

    assert (old / "page.html").read_text() == "old"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["incoming", "live"]


def test_dry_run_lists_the_changes_and_changes_nothing(project):
    live = project / "www" / "billing"
    rebuild(project, FIRST_BUILD)
    publish_here(project)
    rebuild(project, SECOND_BUILD)

    result = run_cli("publish", "--dry-run", cwd=project)

    assert result.returncode == 0, result.stderr
    lines = result.stdout.strip().splitlines()
    assert lines[0] == f"Dry run: publishing January 2026 – February 2026 (names people: not for the whole company) to intranet ({live}) would change 5 files:"
    assert sorted(line.split() for line in lines[1:-1]) == sorted(
        [
            ["add", "models/index.html"],
            ["update", "data/monthly.csv"],
            ["update", "billing_dashboard.html"],
            ["update", "build-manifest.json"],
            ["delete", "users/index.html"],
        ]
    )
    assert lines[-1] == "Nothing was changed (1 to add, 3 to update, 1 to delete)."
    assert (live / "billing_dashboard.html").read_text() == "<h1>Dashboard v1</h1>"
    assert (live / "users" / "index.html").exists()


def test_an_incomplete_build_is_refused_and_the_live_site_stays(project):
    live = project / "www" / "billing"
    rebuild(project, FIRST_BUILD)
    publish_here(project)
    rebuild(project, SECOND_BUILD)
    (project / "site" / "models" / "index.html").unlink()

    result = run_cli("publish", cwd=project)

    assert result.returncode == 1
    assert result.stderr.strip().splitlines() == [
        f"Error: {project / 'site'}: incomplete build, 1 listed file missing (models/index.html); "
        "run `billing-reports build` again"
    ]
    assert "Traceback" not in result.stderr
    assert (live / "billing_dashboard.html").read_text() == "<h1>Dashboard v1</h1>"


def test_a_missing_parent_directory_is_one_clear_line(tmp_path):
    write_config(tmp_path, {"targets": {"intranet": {"type": "directory", "path": "no/such/billing"}}})
    write_built_site(tmp_path / "site", FIRST_BUILD)

    result = run_cli("publish", cwd=tmp_path)

    assert result.returncode == 1
    assert result.stderr.strip() == (
        f"Error: {tmp_path / 'no' / 'such'}: no such directory; create it (the web server's root) and publish again"
    )


def test_dry_run_refuses_a_missing_parent_directory_as_publish_does(tmp_path):
    write_config(tmp_path, {"targets": {"intranet": {"type": "directory", "path": "no/such/billing"}}})
    write_built_site(tmp_path / "site", FIRST_BUILD)
    expected = f"Error: {tmp_path / 'no' / 'such'}: no such directory; create it (the web server's root) and publish again"

    dry_run = run_cli("publish", "--dry-run", cwd=tmp_path)
    publish = run_cli("publish", cwd=tmp_path)

    assert (dry_run.returncode, dry_run.stderr.strip()) == (1, expected)
    assert "would change" not in dry_run.stdout
    assert (publish.returncode, publish.stderr.strip()) == (1, expected)
    assert not (tmp_path / "no").exists()


def test_dry_run_refuses_a_live_path_that_is_a_file_as_publish_does(project):
    live = project / "www" / "billing"
    live.write_text("not a site")
    rebuild(project, FIRST_BUILD)
    expected = (
        f"Error: {live}: exists and is not a directory; move it away or change publish.targets.intranet.path"
    )

    dry_run = run_cli("publish", "--dry-run", cwd=project)
    publish = run_cli("publish", cwd=project)

    assert (dry_run.returncode, dry_run.stderr.strip()) == (1, expected)
    assert "would change" not in dry_run.stdout
    assert (publish.returncode, publish.stderr.strip()) == (1, expected)
    assert live.read_text() == "not a site"


def test_publish_demo_publishes_the_demo_site(project):
    write_built_site(project / "demo" / "site", {"billing_dashboard.html": "<h1>Demo</h1>"})

    result = run_cli("publish", "--demo", cwd=project)

    assert result.returncode == 0, result.stderr
    assert (project / "www" / "billing" / "billing_dashboard.html").read_text() == "<h1>Demo</h1>"


def test_list_shows_the_targets_and_the_default(project):
    result = run_cli("publish", "--list", cwd=project)

    assert result.stdout.strip() == f"intranet (default): directory {project / 'www' / 'billing'}"


def _left_behind(parent: Path, name: str, days_old: float) -> Path:
    """A working directory as a killed run leaves it, last changed ``days_old`` days ago."""
    import os
    import time

    leftover = parent / name
    (leftover / "users").mkdir(parents=True)
    (leftover / "users" / "a.html").write_text("a copy")
    moment = time.time() - days_old * 24 * 3600
    os.utime(leftover, (moment, moment))
    return leftover


def test_copies_a_killed_publish_left_behind_are_removed_once_a_day_old(project):
    www = project / "www"
    old_copy = _left_behind(www, ".billing.incoming-k1ll3d", 2)
    old_discard = _left_behind(www, ".billing.discarded-k1ll3d", 2)
    fresh_copy = _left_behind(www, ".billing.incoming-busy", 0.1)  # another publish may still own it
    other = _left_behind(www, ".other.incoming-x", 2)  # not this target's
    rebuild(project, FIRST_BUILD)
    publish_here(project)
    assert not old_copy.exists() and not old_discard.exists()
    assert fresh_copy.exists() and other.exists()
    assert (www / "billing" / "billing_dashboard.html").read_text() == "<h1>Dashboard v1</h1>"


def test_build_directories_a_killed_build_left_behind_are_removed_once_a_day_old(tmp_path):
    from billing_reports.site.output import SiteOutput

    old_build = _left_behind(tmp_path, ".site.building-k1ll3d", 2)
    old_site = _left_behind(tmp_path, ".site.old-k1ll3d", 2)
    fresh = _left_behind(tmp_path, ".site.building-busy", 0.1)
    with SiteOutput(tmp_path / "site") as output:
        output.write_text("index.html", "<p>hi</p>")
        output.swap_in({})
    assert not old_build.exists() and not old_site.exists() and fresh.exists()


# --- never delete or replace what billing-reports did not publish (issue 11) ------------------------


def _foreign_root(live: Path) -> dict[str, str]:
    """An nginx root someone else filled: other pages, a config, a subfolder."""
    files = {"index.html": "<h1>Intranet home</h1>", "robots.txt": "User-agent: *\n", "team/photo.txt": "ann"}
    for relative_path, content in files.items():
        (live / relative_path).parent.mkdir(parents=True, exist_ok=True)
        (live / relative_path).write_text(content)
    return files


def _tree(directory: Path) -> dict[str, str]:
    return {path.relative_to(directory).as_posix(): path.read_text()
            for path in sorted(directory.rglob("*")) if path.is_file()}


def test_a_folder_billing_reports_did_not_publish_is_refused_and_kept_by_publish_and_dry_run(project):
    live = project / "www" / "billing"
    foreign = _foreign_root(live)
    rebuild(project, FIRST_BUILD)
    expected = (
        f"Error: {live}: holds files but no build-manifest.json, so billing-reports did not publish it; "
        "empty it, or point publish.targets.intranet.path at a new folder (a publish replaces the whole folder)"
    )

    dry_run = run_cli("publish", "--dry-run", cwd=project)
    first = run_cli("publish", cwd=project)
    second = run_cli("publish", cwd=project)

    assert (dry_run.returncode, dry_run.stderr.strip(), dry_run.stdout) == (1, expected, "")
    assert (first.returncode, first.stderr.strip()) == (1, expected)
    assert (second.returncode, second.stderr.strip()) == (1, expected)
    assert _tree(live) == foreign
    assert sorted(p.name for p in (project / "www").iterdir()) == ["billing"]  # nothing moved aside


def test_an_empty_folder_is_published_into(project):
    live = project / "www" / "billing"
    live.mkdir()
    rebuild(project, FIRST_BUILD)

    result = run_cli("publish", cwd=project)

    assert result.returncode == 0, result.stderr
    assert (live / "billing_dashboard.html").read_text() == "<h1>Dashboard v1</h1>"


def test_a_previous_site_folder_billing_reports_did_not_publish_is_never_deleted(project):
    """An earlier version moved a foreign root aside as ``.billing.previous``; the next publish deleted it."""
    www = project / "www"
    rebuild(project, FIRST_BUILD)
    publish_here(project)
    previous = www / ".billing.previous"
    previous.mkdir()
    foreign = _foreign_root(previous)
    rebuild(project, SECOND_BUILD)
    expected = (
        f"Error: {previous}: holds files but no build-manifest.json, so billing-reports did not publish it; "
        f"move it elsewhere to keep it (a publish replaces the previous site kept there), then publish again"
    )

    dry_run = run_cli("publish", "--dry-run", cwd=project)
    publish = run_cli("publish", cwd=project)

    assert (dry_run.returncode, dry_run.stderr.strip()) == (1, expected)
    assert (publish.returncode, publish.stderr.strip()) == (1, expected)
    assert _tree(previous) == foreign
    assert (www / "billing" / "billing_dashboard.html").read_text() == "<h1>Dashboard v1</h1>"


@pytest.mark.parametrize("path, key, relation", [
    ("site", "paths.site_dir", "is paths.site_dir"),
    ("site/www", "paths.site_dir", "lies inside paths.site_dir"),
    ("www/billing", "paths.data_dir", "holds paths.data_dir"),
    (".", "the folder of config.yaml", "is the folder of config.yaml"),
])
def test_a_target_overlapping_a_configured_folder_is_refused(project, path, key, relation):
    """A publish replaces the target folder whole: the cache or the site inside it would go with it."""
    write_config(project, {"targets": {"intranet": {"type": "directory", "path": path}}},
                 billing={"months_back": 2})
    config = (project / "config.yaml").read_text().replace("paths:\n", "paths:\n  data_dir: www/billing/cache\n")
    (project / "config.yaml").write_text(config)
    rebuild(project, FIRST_BUILD)
    before = _tree(project)
    live = (project / path).resolve()
    folder = {"paths.site_dir": project / "site", "paths.data_dir": project / "www" / "billing" / "cache",
              "the folder of config.yaml": project}[key]

    for arguments in (("publish", "--dry-run"), ("publish",)):
        result = run_cli(*arguments, cwd=project)
        assert (result.returncode, result.stderr.strip()) == (1, (
            f"Error: {live}: {relation} ({folder}); point publish.targets.intranet.path at a folder of its own, "
            "apart from the cache, the sites and config.yaml"))
    assert _tree(project) == before


# --- only ours is deleted; one publish at a time (issue 11) ------------------------------------------


def test_files_not_ours_in_the_live_directory_are_kept_unless_pruned(project):
    live = project / "www" / "billing"
    rebuild(project, FIRST_BUILD)
    publish_here(project)
    (live / "robots.txt").write_text("User-agent: *")  # an administrator's, added after the publish
    (live / "old").mkdir()
    (live / "old" / "2025.html").write_text("<h1>last year</h1>")
    rebuild(project, SECOND_BUILD)

    dry_run = run_cli("publish", "--dry-run", cwd=project)
    result = run_cli("publish", cwd=project)

    deletions = [line.split()[1] for line in dry_run.stdout.splitlines() if line.strip().startswith("delete")]
    assert deletions == ["users/index.html"]
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip().endswith("1 added, 3 updated, 1 deleted.")
    assert (live / "robots.txt").read_text() == "User-agent: *"
    assert (live / "old" / "2025.html").read_text() == "<h1>last year</h1>"
    assert not (live / "users").exists()

    write_config(project, {"targets": {"intranet": {"type": "directory", "path": "www/billing", "prune": ["old/*"]}}})
    pruned = run_cli("publish", "--dry-run", cwd=project)
    assert [line.split() for line in pruned.stdout.splitlines()[1:-1]] == [["delete", "old/2025.html"]]
    publish_here(project)
    assert not (live / "old").exists() and (live / "robots.txt").exists()


def test_a_second_publish_while_one_runs_fails_in_one_line(project, monkeypatch, tmp_path_factory):
    live = project / "www" / "billing"
    other = tmp_path_factory.mktemp("other-checkout")
    (other / "config.yaml").write_text((project / "config.yaml").read_text().replace("www/billing", str(live)))
    write_built_site(other / "site", SECOND_BUILD)
    rebuild(project, FIRST_BUILD)
    second = []

    def copy_and_start_a_second_publish(source, destination):
        if not second:
            second.append(run_cli("publish", cwd=other))
        directory_target.shutil.copy2(source, destination)

    monkeypatch.setattr(directory_target, "copy_file", copy_and_start_a_second_publish)
    publish_here(project)

    assert second[0].returncode == 1
    assert second[0].stderr.strip().splitlines() == [
        f"Error: {live}: another publish to this target is in progress (it holds .billing.publish-lock beside it); "
        "wait for it and publish again"
    ]
    assert (live / "billing_dashboard.html").read_text() == "<h1>Dashboard v1</h1>"
    assert sorted(p.name for p in (project / "www").iterdir()) == ["billing"]  # the lock is gone with the publish


def test_a_file_not_ours_where_the_site_needs_a_folder_is_refused_not_replaced(project):
    live = project / "www" / "billing"
    rebuild(project, {"billing_dashboard.html": "<h1>v1</h1>"})
    publish_here(project)
    (live / "users").write_text("an administrator's file")
    rebuild(project, FIRST_BUILD)

    result = run_cli("publish", cwd=project)

    assert result.returncode == 1
    assert result.stderr.strip() == (
        f"Error: {live}: 'users' is there and an earlier publish did not put it there, but the site needs a folder "
        "in its place; move it away, or name it in publish.targets.intranet.prune"
    )
    assert (live / "users").read_text() == "an administrator's file"
