"""One line, never a traceback (issue 11): what the file system, the environment or the data can throw
at a command ends it with one ``Error: ...`` line, a non-zero exit and nothing half-written.

Each command runs in a real process, as a user runs it. File permissions are tested as an
unprivileged user (``setpriv`` to ``nobody`` when the tests run as root, who ignores them); a full
disk is a real tmpfs of a few kilobytes where the tests may mount one, and a write that fails with
ENOSPC otherwise.
"""

from __future__ import annotations

import errno
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import orjson
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
