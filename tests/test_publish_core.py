"""The publish core: the manifest check, the publish: section, the target protocol and registry."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from servers import write_built_site

from billing_reports.errors import ConfigError, PluginError, PublishError
from billing_reports.months import Month
from billing_reports.plugin_manager import get_plugin_manager
from billing_reports.publish import MANIFEST_NAME, PublishTarget, content_type, load_built_site
from billing_reports.publish.config import read_publish_config
from billing_reports.publish.registry import publish_target_kinds
from billing_reports.publish.targets.directory import DirectoryTarget
from billing_reports.publish.targets.git import GitTarget
from billing_reports.publish.targets.rsync import RsyncTarget
from billing_reports.publish.targets.s3 import S3Target
from billing_reports.settings import settings_from_mapping

SITE_FILES = {
    "billing_dashboard.html": "<a href='users/index.html'>users</a>",
    "users/index.html": "<h1>Users</h1>",
    "assets/site.css": "body{}",
    "data/monthly.csv": "month,cost\n2026-01,$1.00\n",
}


def settings_with(tmp_path: Path, publish: dict):
    return settings_from_mapping({"publish": publish}, tmp_path / "config.yaml")


# --- the built site ----------------------------------------------------------------------------


def test_a_complete_build_is_read_with_its_period_and_upload_order(tmp_path):
    site = load_built_site(write_built_site(tmp_path / "site", SITE_FILES))

    assert site.first_month == Month(2026, 1) and site.last_month == Month(2026, 2)
    assert site.period == "January 2026 – February 2026"
    assert site.period_keys == "2026-01..2026-02"
    assert site.all_files[-1] == MANIFEST_NAME
    # assets first, then pages other than the index, then the index, then the manifest
    assert site.upload_order() == [
        "assets/site.css",
        "data/monthly.csv",
        "users/index.html",
        "billing_dashboard.html",
        MANIFEST_NAME,
    ]


def test_a_site_without_a_manifest_is_refused(tmp_path):
    site_dir = write_built_site(tmp_path / "site", SITE_FILES)
    (site_dir / MANIFEST_NAME).unlink()

    with pytest.raises(PublishError, match=r"no build-manifest.json.*run `billing-reports build` first"):
        load_built_site(site_dir)


def test_a_site_missing_a_listed_file_is_refused_naming_it(tmp_path):
    site_dir = write_built_site(tmp_path / "site", SITE_FILES)
    (site_dir / "users" / "index.html").unlink()

    with pytest.raises(PublishError, match=r"incomplete build, 1 listed file missing \(users/index.html\)"):
        load_built_site(site_dir)


def test_a_missing_site_directory_names_the_build_command(tmp_path):
    with pytest.raises(PublishError, match=r"run `billing-reports build --demo` first"):
        load_built_site(tmp_path / "nowhere", build_hint="billing-reports build --demo")


@pytest.mark.parametrize(
    ("change", "problem"),
    [
        (lambda m: m.pop("period"), "missing key 'period'"),
        (lambda m: m.update(period={"first": "2026-03", "last": "2026-02"}), "first is after last"),
        (lambda m: m.update(period={"first": "Jan", "last": "2026-02"}), "YYYY-MM"),
        (lambda m: m.update(files=["../etc/passwd"]), "not a relative path inside the site"),
        (lambda m: m.update(index="missing.html"), "index 'missing.html' is not among the listed files"),
        (lambda m: m.update(files=[]), "non-empty list"),
    ],
)
def test_a_malformed_manifest_is_refused_with_what_is_wrong(tmp_path, change, problem):
    site_dir = write_built_site(tmp_path / "site", SITE_FILES)
    manifest = json.loads((site_dir / MANIFEST_NAME).read_text())
    change(manifest)
    (site_dir / MANIFEST_NAME).write_text(json.dumps(manifest))

    with pytest.raises(PublishError, match=problem):
        load_built_site(site_dir)


def test_the_build_records_each_files_size_and_sha256_in_the_manifest(tmp_path):
    import hashlib

    from billing_reports.site.output import SiteOutput

    with SiteOutput(tmp_path / "site") as output:
        output.write_text("billing_dashboard.html", "<h1>hi</h1>")
        output.write_bytes("data/monthly.csv", b"month,cost\n")
        output.swap_in({"index": "billing_dashboard.html"})

    manifest = json.loads((tmp_path / "site" / MANIFEST_NAME).read_text())
    assert manifest["checksums"] == {
        "billing_dashboard.html": {"size": 11, "sha256": hashlib.sha256(b"<h1>hi</h1>").hexdigest()},
        "data/monthly.csv": {"size": 11, "sha256": hashlib.sha256(b"month,cost\n").hexdigest()},
    }


def test_a_listed_file_truncated_after_the_build_is_refused(tmp_path):
    site_dir = write_built_site(tmp_path / "site", SITE_FILES)
    (site_dir / "users" / "index.html").write_bytes(b"")  # a disk that filled up, a copy cut short

    with pytest.raises(PublishError) as caught:
        load_built_site(site_dir)

    assert caught.value.message == (
        f"{site_dir}: 1 file changed since the build (users/index.html is 0 bytes, build-manifest.json says 14); "
        f"run `billing-reports build` again"
    )


def test_a_listed_file_edited_after_the_build_is_refused_even_at_the_same_size(tmp_path):
    site_dir = write_built_site(tmp_path / "site", SITE_FILES)
    (site_dir / "assets" / "site.css").write_text("body[]")
    (site_dir / "data" / "monthly.csv").write_text("month,cost\n2026-01,$9.00\n")

    with pytest.raises(PublishError) as caught:
        load_built_site(site_dir)

    assert caught.value.message == (
        f"{site_dir}: 2 files changed since the build (assets/site.css: its SHA-256 is not the one in "
        f"build-manifest.json, and data/monthly.csv); run `billing-reports build` again"
    )


def test_a_manifest_without_checksums_from_an_older_build_is_refused(tmp_path):
    site_dir = write_built_site(tmp_path / "site", SITE_FILES)
    manifest = json.loads((site_dir / MANIFEST_NAME).read_text())
    del manifest["checksums"]
    (site_dir / MANIFEST_NAME).write_text(json.dumps(manifest))

    with pytest.raises(PublishError, match=r"no checksums \(a build by an older version\).*run `billing-reports build` again"):
        load_built_site(site_dir)


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("billing_dashboard.html", "text/html; charset=utf-8"),
        ("assets/site.css", "text/css; charset=utf-8"),
        ("data/monthly.csv", "text/csv; charset=utf-8"),
        ("data/monthly.json", "application/json"),
        ("charts/trend.svg", "image/svg+xml"),
        ("assets/app.js", "text/javascript; charset=utf-8"),
        ("blob.unknownext", "application/octet-stream"),
    ],
)
def test_content_types(name, expected):
    assert content_type(name) == expected


# --- the publish: section ----------------------------------------------------------------------


def kinds():
    return publish_target_kinds(get_plugin_manager(load_entry_points=False))


def test_the_four_built_in_targets_are_registered_through_the_hook():
    assert kinds() == {"directory": DirectoryTarget, "s3": S3Target, "git": GitTarget, "rsync": RsyncTarget}


def test_a_single_target_is_the_default_and_gets_its_defaults(tmp_path):
    settings = settings_with(tmp_path, {"targets": {"share": {"type": "git", "remote": "../pages.git"}}})

    config = read_publish_config(settings, kinds())

    entry = config.entry(None, settings.config_path)
    assert (entry.name, entry.kind, config.default) == ("share", "git", "share")
    assert entry.config["branch"] == "gh-pages" and entry.config["create_branch"] is False


def test_every_problem_of_the_publish_section_is_reported_at_once(tmp_path):
    settings = settings_with(
        tmp_path,
        {
            "default": "nowhere",
            "colour": "blue",
            "targets": {
                "bucket": {"type": "s3", "region": 5, "secret_access_key": "abc123"},
                "box": {"type": "rsync", "host": "web1", "path": "/srv", "port": 70000, "speed": "fast"},
                "odd": {"type": "ftp"},
                "bare": {"path": "/x"},
            },
        },
    )

    with pytest.raises(ConfigError) as caught:
        read_publish_config(settings, kinds())

    message = caught.value.message
    assert "9 problems" in message
    for expected in [
        "publish.colour: unknown key; expected one of default, targets",
        "publish.targets.bucket.secret_access_key: credentials never go in config.yaml",
        "publish.targets.bucket.region: expected a non-empty string, found 5",
        "publish.targets.bucket.bucket: missing",
        "publish.targets.box.port: expected an integer from 1 to 65535, found 70000",
        "publish.targets.box.speed: unknown key",
        "publish.targets.odd.type: unknown kind 'ftp'; expected one of directory, git, rsync, s3",
        "publish.targets.bare.type: missing",
        "publish.default: no target 'nowhere'; expected one of bare, box, bucket, odd",
    ]:
        assert expected in message
    assert "abc123" not in message


def test_a_default_or_a_type_of_the_wrong_yaml_type_is_a_problem_not_a_traceback(tmp_path):
    settings = settings_with(
        tmp_path,
        {
            "default": ["intranet"],
            "targets": {
                "intranet": {"type": ["directory"], "path": "www"},
                "bucket": {"type": {"s3": True}, "bucket": "b"},
                "share": {"type": True, "path": "share"},
                "nul": {"type": "directory", "path": "w\0w"},
            },
        },
    )

    with pytest.raises(ConfigError) as caught:
        read_publish_config(settings, kinds())

    assert caught.value.message.splitlines()[1:] == [
        "  publish.targets.intranet.type: expected one of directory, git, rsync, s3, found ['directory']",
        "  publish.targets.bucket.type: expected one of directory, git, rsync, s3, found {'s3': True}",
        "  publish.targets.share.type: expected one of directory, git, rsync, s3, found True",
        "  publish.targets.nul.path: expected a string without NUL characters, found 'w\\x00w'",
        "  publish.default: expected the name of a target (bucket, intranet, nul, share), found ['intranet']",
    ]


def test_a_default_of_the_wrong_yaml_type_is_one_line_from_the_command_line(tmp_path):
    from servers import run_cli, write_config

    write_config(tmp_path, {"default": {"intranet": 1}, "targets": {"intranet": {"type": "directory", "path": "w"}}})

    result = run_cli("publish", "--dry-run", cwd=tmp_path)

    assert result.returncode == 1 and "Traceback" not in result.stderr
    assert "publish.default: expected the name of a target (intranet), found {'intranet': 1}" in result.stderr


def test_timeout_seconds_is_every_targets_deadline_and_prune_a_list_of_patterns(tmp_path):
    settings = settings_with(
        tmp_path,
        {
            "targets": {
                "slow": {"type": "s3", "bucket": "b", "timeout_seconds": 0, "prune": "old/*"},
                "fast": {"type": "rsync", "host": "web1", "path": "/srv/b", "timeout_seconds": 30, "prune": ["CNAME", "../x"]},
                "plain": {"type": "git", "remote": "../pages.git", "timeout_seconds": float("nan"), "prune": [".nojekyll"]},
            }
        },
    )

    with pytest.raises(ConfigError) as caught:
        read_publish_config(settings, kinds())

    message = caught.value.message
    assert "4 problems" in message
    for expected in [
        "publish.targets.slow.timeout_seconds: expected an integer from 1 to 86400, found 0",
        "publish.targets.slow.prune: expected a list of path patterns relative to the site, such as ['old/*', '*.pdf'], found 'old/*'",
        "publish.targets.fast.prune: expected a list of path patterns relative to the site",
        "publish.targets.plain.timeout_seconds: expected an integer from 1 to 86400, found nan",
    ]:
        assert expected in message
    good = settings_with(tmp_path, {"targets": {"a": {"type": "git", "remote": "x.git", "timeout_seconds": 30}, "b": {"type": "git", "remote": "y.git"}}})
    config = read_publish_config(good, kinds())
    assert config.entry("a", good.config_path).create(good).timeout_seconds == 30
    assert config.entry("b", good.config_path).create(good).timeout_seconds == 600


def test_the_deadline_stops_any_target_even_a_plugins_in_one_line(tmp_path):
    import time

    from billing_reports.publish.deadline import deadline

    started = time.monotonic()
    with pytest.raises(PublishError) as caught:
        with deadline(0.2, "slow", "recorder"):
            time.sleep(30)  # a plugin waiting on a server that never answers

    assert time.monotonic() - started < 5
    assert caught.value.message.startswith("publish target 'slow' (recorder) did not finish within 0.2 s, so it was stopped;")
    with deadline(5, "quick", "recorder"):
        pass
    time.sleep(0.1)  # no alarm is left armed


def test_the_deadline_gives_a_callers_own_alarm_back(tmp_path):
    import signal

    from billing_reports.publish.deadline import deadline

    previous = signal.signal(signal.SIGALRM, lambda *_: None)
    try:
        signal.setitimer(signal.ITIMER_REAL, 30)
        with deadline(5, "quick", "recorder"):
            pass
        left, _ = signal.getitimer(signal.ITIMER_REAL)
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)
    assert 25 < left <= 30


def test_several_targets_without_a_default_need_a_name(tmp_path):
    settings = settings_with(
        tmp_path,
        {"targets": {"a": {"type": "directory", "path": "a"}, "b": {"type": "directory", "path": "b"}}},
    )
    config = read_publish_config(settings, kinds())

    with pytest.raises(ConfigError, match=r"publish.default is not set.*\(a, b\)"):
        config.entry(None, settings.config_path)
    assert config.entry("b", settings.config_path).config == {"path": "b", "prune": ()}
    with pytest.raises(ConfigError, match=r"no publish target 'c'; expected one of a, b"):
        config.entry("c", settings.config_path)


def test_no_publish_section_says_how_to_add_one(tmp_path):
    settings = settings_with(tmp_path, {})
    with pytest.raises(ConfigError, match="no publish targets; add a publish: section"):
        read_publish_config(settings, kinds()).entry(None, settings.config_path)


# --- a third-party target ----------------------------------------------------------------------


class Recorder(PublishTarget):
    """A target that keeps what it was asked to publish (a plugin author's minimal target)."""

    from billing_reports.publish import Option, text

    options = {"label": Option(text, required=True)}
    published: list = []

    def plan(self, site):
        return []

    def publish(self, site):
        Recorder.published.append((self.name, self.config["label"], site.period_keys))
        return []


class RecorderPlugin:
    from billing_reports import hookimpl

    @hookimpl
    def register_publish_targets(self, register):
        register("recorder", Recorder)


def test_a_plugin_registers_a_target_kind_like_the_built_ins(tmp_path):
    manager = get_plugin_manager(load_entry_points=False)
    manager.register(RecorderPlugin(), name="recorder")
    try:
        registered = publish_target_kinds(manager)
    finally:
        manager.unregister(name="recorder")

    assert registered["recorder"] is Recorder
    settings = settings_with(tmp_path, {"targets": {"mine": {"type": "recorder", "label": 3}}})
    with pytest.raises(ConfigError, match=r"publish.targets.mine.label: expected a non-empty string, found 3"):
        read_publish_config(settings, registered)


def test_a_kind_registered_twice_is_a_plugin_error():
    class Again:
        from billing_reports import hookimpl

        @hookimpl
        def register_publish_targets(self, register):
            register("directory", Recorder)

    manager = get_plugin_manager(load_entry_points=False)
    manager.register(Again(), name="again")
    with pytest.raises(PluginError, match="publish target 'directory' is registered twice"):
        publish_target_kinds(manager)


def test_a_target_scrubs_every_credential_it_read(tmp_path, monkeypatch):
    monkeypatch.setenv("BR_TEST_TOKEN", "tok-SECRET-42")
    target = Recorder("mine", {"label": "x"}, settings_with(tmp_path, {}))

    assert target.require_secret("BR_TEST_TOKEN", "the token") == "tok-SECRET-42"
    assert target.scrub("failed with tok-SECRET-42 in the URL") == "failed with *** in the URL"
    with pytest.raises(PublishError, match=r"the key is not set; put BR_TEST_MISSING=\.\.\. in the environment or in \.env"):
        target.require_secret("BR_TEST_MISSING", "the key")


# --- through the command line ------------------------------------------------------------------

EXPLODING_PLUGIN = '''
from billing_reports import hookimpl
from billing_reports.publish import Change, PublishTarget


class Exploding(PublishTarget):
    def plan(self, site):
        return [Change("add", name) for name in site.upload_order()]

    def publish(self, site):
        token = self.require_secret("EXPLODING_TOKEN", "the token")
        raise RuntimeError(f"upload refused for token {token}")


@hookimpl
def register_publish_targets(register):
    register("exploding", Exploding)
'''


@pytest.fixture
def plugin_project(tmp_path):
    from servers import write_config

    (tmp_path / "my_plugins").mkdir()
    (tmp_path / "my_plugins" / "exploding.py").write_text(EXPLODING_PLUGIN)
    write_config(tmp_path, {"targets": {"x": {"type": "exploding"}}}, **{"paths": {"site_dir": "site", "plugins_dir": "my_plugins"}})
    write_built_site(tmp_path / "site", SITE_FILES)
    return tmp_path


def test_a_plugin_target_from_the_plugins_dir_plans_a_dry_run(plugin_project):
    from servers import run_cli

    result = run_cli("publish", "--dry-run", cwd=plugin_project)

    assert result.returncode == 0, result.stderr
    assert result.stdout.splitlines()[1:-1] == [
        "  add    assets/site.css",
        "  add    data/monthly.csv",
        "  add    users/index.html",
        "  add    billing_dashboard.html",
        "  add    build-manifest.json",
    ]


def test_an_unexpected_error_in_a_target_is_one_line_with_the_credential_scrubbed(plugin_project):
    from servers import run_cli

    result = run_cli("publish", cwd=plugin_project, env={"EXPLODING_TOKEN": "tok-9f8e7d"})

    assert result.returncode == 1
    assert result.stderr.strip().splitlines() == [
        "Error: publish target 'x' (exploding) failed: RuntimeError: upload refused for token ***"
    ]
    assert "tok-9f8e7d" not in result.stdout + result.stderr


def test_rollback_on_a_target_that_keeps_no_previous_site_says_so(plugin_project):
    from servers import run_cli

    result = run_cli("publish", "--rollback", cwd=plugin_project)

    assert result.returncode == 1
    assert result.stderr.strip() == (
        "Error: publish target 'x' (exploding) keeps no previous site, so it cannot roll back; "
        "publish the older build instead"
    )


def test_the_readme_example_target_registers_and_validates(tmp_path):
    """The README's publish-target example is real code: docs cannot drift from the protocol."""
    readme = (Path(__file__).resolve().parent.parent / "README.md").read_text(encoding="utf-8")
    section = readme.split("### A publish target of your own", 1)[1]
    example = section.split("```python\n", 1)[1].split("```", 1)[0]
    module: dict = {"__name__": "readme_example"}
    exec(compile(example, "README.md", "exec"), module)

    manager = get_plugin_manager(load_entry_points=False)
    manager.register(type("ReadmePlugin", (), {"register_publish_targets": staticmethod(module["register_publish_targets"])})(), name="readme")
    try:
        registered = publish_target_kinds(manager)
    finally:
        manager.unregister(name="readme")

    target_class = registered["intranet-upload"]
    assert target_class.validate({}) == ["url: missing; the upload endpoint"]
    site = load_built_site(write_built_site(tmp_path / "site", SITE_FILES))
    target = target_class("intranet", target_class.with_defaults({"url": "https://intranet.example.com/up"}), settings_with(tmp_path, {}))
    assert target.describe() == "https://intranet.example.com/up"
    assert [change.path for change in target.plan(site)] == site.upload_order()
