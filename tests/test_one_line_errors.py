"""One line, never a traceback (issue 11): what the file system, the environment or the data can throw
at a command ends it with one ``Error: ...`` line, a non-zero exit and nothing half-written.

Each command runs in a real process, as a user runs it. File permissions are tested as an
unprivileged user (``setpriv`` to ``nobody`` when the tests run as root, who ignores them); a full
disk is a real tmpfs of a few kilobytes where the tests may mount one, and a write that fails with
ENOSPC otherwise.
"""

from __future__ import annotations

import errno
import json
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest
from click.testing import CliRunner
from conftest import copy_analysis_cache

from billing_reports.cache import cache_path, write_cached_month
from billing_reports.cli import cli
from billing_reports.fakeapi import FakeCursorApi, StaticTeam
from billing_reports.months import Month

BILLING_REPORTS = Path(sys.executable).parent / "billing-reports"
NOBODY = 65534
MARCH = Month(2026, 3)  # the last month of the hand-computed cache
CONFIG = """\
billing:
  request_delay_seconds: 0
api:
  max_retries: 0
paths:
  data_dir: cache
  site_dir: out/site
  demo_dir: demo
"""
SPAN = ("--end-month", "2026-03", "--months-back", "2")


@pytest.fixture
def project():
    """config.yaml over a copy of the hand-computed cache (December 2025 to March 2026), in a folder
    every user can enter (``tmp_path`` is root's alone), owned by the user the commands run as."""
    root = Path(tempfile.mkdtemp(prefix="billing-reports-one-line-"))
    try:
        root.chmod(0o755)
        (root / "config.yaml").write_text(CONFIG, encoding="utf-8")
        copy_analysis_cache(root / "cache")
        yield root
    finally:
        for path in [root, *root.rglob("*")]:  # (a test may leave a folder read-only)
            if path.is_dir() and not path.is_symlink():
                path.chmod(0o755)
        shutil.rmtree(root)


def run(project: Path, *arguments: str, env: dict[str, str] | None = None, user: list[str] | None = None):
    """``billing-reports ARGUMENTS`` in a real process in ``project`` (as ``user``: a command prefix)."""
    environment = {key: value for key, value in os.environ.items() if key != "CURSOR_API_KEY"}
    environment.update(env or {})
    return subprocess.run([*(user or []), str(BILLING_REPORTS), *arguments], cwd=project, env=environment,
                          capture_output=True, text=True, timeout=120)


def one_line_error(result) -> str:
    """The one ``Error:`` line a failed command printed last (no traceback, exit 1)."""
    assert result.returncode == 1, (result.returncode, result.stdout, result.stderr)
    assert "Traceback" not in result.stderr
    lines = result.stderr.strip().splitlines()
    assert [line for line in lines if line.startswith("Error:")] == lines[-1:], result.stderr
    return lines[-1]


@pytest.fixture
def unprivileged(project) -> list[str]:
    """A command prefix under which file permissions apply: ``setpriv`` to nobody when root (who owns
    ``project`` then), nothing otherwise."""
    if os.geteuid() != 0:
        return []
    setpriv = shutil.which("setpriv")
    prefix = [setpriv, f"--reuid={NOBODY}", f"--regid={NOBODY}", "--clear-groups", "--"] if setpriv else None
    if prefix is None or run(project, "--version", user=prefix).returncode != 0:
        pytest.skip("running as root without a way to run billing-reports as another user (setpriv)")
    for path in [project, *project.rglob("*")]:
        os.chown(path, NOBODY, NOBODY, follow_symlinks=False)
    return prefix


@pytest.fixture
def api():
    with FakeCursorApi(StaticTeam([]), rate_limit_per_minute=None) as api:
        yield api


def api_env(api) -> dict[str, str]:
    return {"CURSOR_API_BASE_URL": api.base_url, "CURSOR_API_KEY": api.api_key}


# --- folders a command cannot write: found before any request ------------------------------------


def test_a_data_dir_without_write_permission_is_one_line_before_any_request(project, unprivileged, api):
    (project / "cache").chmod(0o555)

    line = one_line_error(run(project, "fetch", "--refresh", "2026-03", env=api_env(api), user=unprivileged))

    assert line == (f"Error: paths.data_dir: {project / 'cache'} is not writable by this user; "
                    "make it writable or choose another paths.data_dir")
    assert api.requests == []


def test_a_site_dir_whose_folder_is_not_writable_is_one_line_before_any_request(project, unprivileged, api):
    (project / "out").mkdir()
    (project / "out").chmod(0o555)

    line = one_line_error(run(project, "build", "--refresh", "2026-03", *SPAN, env=api_env(api), user=unprivileged))

    assert line == (f"Error: paths.site_dir: {project / 'out'} is not writable by this user (the new site is "
                    "built beside site_dir); make it writable or choose another paths.site_dir")
    assert api.requests == []


def test_a_data_dir_that_is_a_file_is_one_line_for_every_command(project, api):
    shutil.rmtree(project / "cache")
    (project / "cache").write_text("not a folder")
    expected = f"Error: paths.data_dir: {project / 'cache'} is a file, not a directory; choose another path"

    for arguments in (("fetch",), ("build", "--offline"), ("build",), ("report",)):
        assert one_line_error(run(project, *arguments, *SPAN, env=api_env(api))) == expected, arguments
    assert api.requests == []
    assert (project / "cache").read_text() == "not a folder"


def test_a_site_dir_below_a_file_is_one_line_before_any_request(project, api):
    (project / "out").write_text("not a folder")

    line = one_line_error(run(project, "build", "--refresh", "2026-03", *SPAN, env=api_env(api)))

    assert line == f"Error: paths.site_dir: {project / 'out'} is a file, not a directory; choose another path"
    assert api.requests == []


# --- a full disk: one line, the cache file and the site as they were --------------------------------


def _january_events(count: int) -> list[dict]:
    """``count`` on-demand events of January 2026 (about 300 bytes each in a cache file)."""
    from conftest import usage_event

    return [usage_event(f"2026-01-{1 + index % 28:02d}T{index % 24:02d}:00:00", email=f"user{index % 40}@example.com",
                        total_cents=1.25 + index) for index in range(count)]


@pytest.fixture
def small_disk(project):
    """Mount a tmpfs at ``project/small`` whose size a test chooses: ``small_disk(kib)``; skipped where the
    tests may not mount one."""
    mounts = []

    def mount(kib: int) -> Path:
        if os.geteuid() != 0 or shutil.which("mount") is None:
            pytest.skip("mounting a small tmpfs needs root")
        folder = project / "small"
        folder.mkdir(exist_ok=True)
        done = subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={kib}k,mode=0755", "tmpfs", str(folder)],
                              capture_output=True, text=True)
        if done.returncode != 0:
            pytest.skip(f"cannot mount a tmpfs here: {done.stderr.strip()}")
        mounts.append(folder)
        return folder

    yield mount
    for folder in mounts:
        subprocess.run(["umount", "-l", str(folder)], check=False)


def _use_small_disk_for(project: Path, key: str, relative: str) -> None:
    config = project / "config.yaml"
    config.write_text(config.read_text().replace(f"  {key}: ", f"  {key}: {relative}  # was "), encoding="utf-8")


def test_a_full_disk_while_writing_the_cache_is_one_line_and_keeps_the_cache_file(project, small_disk):
    small_disk(64)
    _use_small_disk_for(project, "data_dir", "small/cache")
    january = cache_path(project / "small" / "cache", Month(2026, 1))
    write_cached_month(january, {"month": "01-2026", "fetched_at": "2026-02-05T00:00:00Z", "total_events": 0,
                                 "events": [], "complete": True})
    before = january.read_bytes()

    with FakeCursorApi(StaticTeam(_january_events(600)), rate_limit_per_minute=None) as api:
        result = run(project, "fetch", "--end-month", "2026-01", "--months-back", "1", "--refresh", "2026-01",
                     env=api_env(api))

    assert one_line_error(result) == (
        f"Error: Cannot write cache file {january} (No space left on device); free some space or check the "
        f"permissions of {january.parent}, then run the command again (the file is as it was before)."
    )
    assert january.read_bytes() == before
    assert sorted(path.name for path in january.parent.iterdir()) == [january.name]  # no half-written temp file


def _site_kib(project: Path) -> int:
    """What the site of the hand-computed cache takes on a tmpfs (whole 4 KiB pages), in KiB."""
    probe = project / "probe"
    config = probe / "config.yaml"
    probe.mkdir()
    config.write_text(f"paths:\n  data_dir: {project / 'cache'}\n  site_dir: site\n", encoding="utf-8")
    assert run(probe, "build", "--offline", *SPAN).returncode == 0
    pages = sum(-(-path.stat().st_size // 4096) + 0 for path in (probe / "site").rglob("*"))
    shutil.rmtree(probe)
    return pages * 4


def test_a_full_disk_while_writing_the_site_is_one_line_and_keeps_the_previous_site(project, small_disk):
    room = _site_kib(project)
    small_disk(room * 3 // 2)  # one site fits, two do not: the new one is built beside the previous one
    _use_small_disk_for(project, "site_dir", "small/site")
    site = project / "small" / "site"
    assert run(project, "build", "--offline", *SPAN).returncode == 0
    before = {path: path.read_bytes() for path in site.rglob("*") if path.is_file()}

    result = run(project, "build", "--offline", "--end-month", "2026-02", "--months-back", "2")

    assert one_line_error(result) == (
        f"Error: Cannot write the new site beside {site} (No space left on device); free some space or check the "
        f"permissions of {site.parent}, then build again (the previous site is as it was)."
    )
    assert {path: path.read_bytes() for path in site.rglob("*") if path.is_file()} == before
    assert sorted(path.name for path in site.parent.iterdir()) == ["site"]  # the half-built copy is gone


def _enospc(*args, **kwargs):
    raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))


def test_a_failing_cache_write_is_one_line_wherever_disks_cannot_be_mounted(project, monkeypatch):
    """The same as above, with the write failing in Python (runs anywhere)."""
    from billing_reports import cache

    monkeypatch.chdir(project)
    monkeypatch.setattr(cache, "_write_chunks", _enospc)
    march = cache_path(project / "cache", MARCH)
    before = march.read_bytes()

    with FakeCursorApi(StaticTeam(_january_events(3)), rate_limit_per_minute=None) as api:
        result = CliRunner().invoke(cli, ["fetch", "--refresh", "2026-03", *SPAN], env=api_env(api))

    assert result.exit_code == 1 and result.exception.__class__ is SystemExit
    assert result.stderr.strip().splitlines()[-1] == (
        f"Error: Cannot write cache file {march} (No space left on device); free some space or check the "
        f"permissions of {march.parent}, then run the command again (the file is as it was before)."
    )
    assert march.read_bytes() == before
    assert not list(march.parent.glob(".*.tmp"))


def test_a_failing_site_write_is_one_line_wherever_disks_cannot_be_mounted(project, monkeypatch):
    from billing_reports.site import output

    monkeypatch.chdir(project)
    written = []

    def full_after_ten_files(path, mode="r", *args, **kwargs):
        if "w" in mode and len(written) == 10:
            _enospc()
        written.append(path)
        return open(path, mode, *args, **kwargs)

    monkeypatch.setattr(output, "open", full_after_ten_files, raising=False)
    result = CliRunner().invoke(cli, ["build", "--offline", *SPAN])

    site = project / "out" / "site"
    assert result.exit_code == 1
    assert result.stderr.strip().splitlines()[-1] == (
        f"Error: Cannot write the new site beside {site} (No space left on device); free some space or check the "
        f"permissions of {site.parent}, then build again (the previous site is as it was)."
    )
    assert list((project / "out").iterdir()) == []


# --- the key: a .env that cannot be read, a key that cannot go in a header --------------------------


def test_a_dotenv_that_is_not_utf8_matters_only_to_commands_that_need_the_key(project, api):
    (project / ".env").write_bytes(b"# cl\xe9 de l'\xe9quipe\nCURSOR_API_KEY=key_latin1\n")

    assert run(project, "report", *SPAN).returncode == 0
    assert run(project, "build", "--offline", *SPAN).returncode == 0
    line = one_line_error(run(project, "fetch", *SPAN, env={"CURSOR_API_BASE_URL": api.base_url}))

    assert line == (f"Error: {project / '.env'}: cannot read it (not UTF-8 text), so CURSOR_API_KEY cannot come "
                    "from it; save it as UTF-8 (NAME=value lines) or set CURSOR_API_KEY in the environment")
    assert api.requests == []
    # the key from the environment needs no .env
    assert run(project, "fetch", *SPAN, env=api_env(api)).returncode == 0


def test_a_dotenv_this_user_cannot_read_matters_only_to_commands_that_need_the_key(project, unprivileged, api):
    (project / ".env").write_text(f"CURSOR_API_KEY={api.api_key}\n")
    (project / ".env").chmod(0o000)

    assert run(project, "report", *SPAN, user=unprivileged).returncode == 0
    line = one_line_error(run(project, "fetch", *SPAN, env={"CURSOR_API_BASE_URL": api.base_url}, user=unprivileged))

    assert line == (f"Error: {project / '.env'}: cannot read it (Permission denied), so CURSOR_API_KEY cannot come "
                    "from it; save it as UTF-8 (NAME=value lines) or set CURSOR_API_KEY in the environment")
    assert api.requests == []


@pytest.mark.parametrize("key", ["key_\u00e9t\u00e9\u20ac", "key_abc\ndef", "key abc", "key_\x00abc"])
def test_a_key_with_characters_no_key_has_is_one_line_without_the_key(project, api, key):
    if "\x00" in key:  # (no environment variable holds a NUL: it comes from .env)
        (project / ".env").write_text(f'CURSOR_API_KEY="{key}"\n')
        env = {"CURSOR_API_BASE_URL": api.base_url}
    else:
        env = {"CURSOR_API_BASE_URL": api.base_url, "CURSOR_API_KEY": key}

    result = run(project, "fetch", "--refresh", "2026-03", *SPAN, env=env)

    assert one_line_error(result) == (
        "Error: CURSOR_API_KEY holds characters no API key has (a space, a line break, a control or non-ASCII "
        "character); copy the key again from the Cursor team settings")
    assert api.requests == []
    assert "abc" not in result.stderr and "t\u00e9" not in result.stderr


# --- numbers beyond 64 bits (a sum of absurd token counts) ------------------------------------------


def test_token_counts_too_big_to_believe_count_zero_and_are_reported_not_a_crash(project):
    """Each event's token count fits 64 bits, their sum would not (orjson could not write it): a count
    over ten billion is not believed, counts 0 and is named on the data-quality page."""
    from conftest import usage_event

    biggest = 2**63 - 1
    events = [usage_event("2026-01-05T10:00:00", email="ann@example.com", total_cents=2.0) for _ in range(3)]
    for event in events:
        event["tokenUsage"]["inputTokens"] = biggest
    shutil.rmtree(project / "cache")
    write_cached_month(cache_path(project / "cache", Month(2026, 1)), {
        "month": "01-2026", "fetched_at": "2026-02-05T00:00:00Z", "total_events": 3, "events": events,
        "complete": True})
    span = ("--end-month", "2026-01", "--months-back", "1")

    report = run(project, "report", "--format", "json", "--section", "top-cost-models", *span)
    built = run(project, "build", "--offline", *span)

    assert report.returncode == 0, report.stderr
    document = json.loads(report.stdout)
    table = document["sections"][0]["tables"][0]
    assert table["rows"][0]["input_tokens"] == 0 and table["rows"][0]["requests"] == 3
    assert document["months"][0]["quality"]["bad_tokens"] == 3
    assert built.returncode == 0, built.stderr
    download = project / "out" / "site" / "data" / "top-cost-models--ranking.json"
    assert json.loads(download.read_text())[0]["input_tokens"] == 0


def test_a_data_dir_inside_a_folder_this_user_cannot_enter_is_one_line(project, unprivileged, api):
    (project / "locked" / "cache").mkdir(parents=True)
    _use_small_disk_for(project, "data_dir", "locked/cache")
    if unprivileged:
        os.chown(project / "locked", NOBODY, NOBODY)
    (project / "locked").chmod(0o000)

    for arguments in (("fetch",), ("report",)):
        line = one_line_error(run(project, *arguments, *SPAN, env=api_env(api), user=unprivileged))
        assert line == (f"Error: paths.data_dir: cannot reach {project / 'locked' / 'cache'} (Permission denied); "
                        "make it reachable for this user or choose another paths.data_dir"), arguments
    assert api.requests == []
