"""`billing-reports build`: offline from the cache, --demo against the fake API, failures keep the old site."""

from __future__ import annotations

import re
from pathlib import Path

import orjson
import pytest
from click.testing import CliRunner

from billing_reports.cache import cache_path, write_cached_month
from billing_reports.cli import cli
from billing_reports.months import Month

JAN = Month(2026, 1)


def _event(email: str | None, model: str, cents: float, fee: float | None = None, kind: str = "Usage-based") -> dict:
    event = {
        "timestamp": str(JAN.start_ms + 3_600_000), "model": model, "kind": kind,
        "isChargeable": True, "isTokenBasedCall": True,
        "tokenUsage": {"inputTokens": 1, "outputTokens": 2, "cacheWriteTokens": 3, "cacheReadTokens": 4,
                       "totalCents": cents},
    }
    if email is not None:
        event["userEmail"] = email
    if fee is not None:
        event["cursorTokenFee"] = fee
    return event


@pytest.fixture
def project(tmp_path, monkeypatch):
    """A config whose cache holds January 2026 only: $12.35 + $5.00 on demand, one included event."""
    monkeypatch.chdir(tmp_path)
    # If the build contacted the API it would fail: no key, and nothing listens on port 9.
    monkeypatch.setenv("CURSOR_API_BASE_URL", "http://127.0.0.1:9")
    config = tmp_path / "config.yaml"
    config.write_text(
        "billing:\n  months_back: 2\npaths:\n  data_dir: cache\n  site_dir: out/site\n  demo_dir: demo\n"
        "  plugins_dir: myplugins\n"
    )
    (tmp_path / "myplugins").mkdir()
    events = [_event("ann@example.com", "gpt-5", 1234.5, 0.5), _event(None, "opus", 500),
              _event("ann@example.com", "gpt-5", 999, kind="Included in Business")]
    kept = events[:2]
    write_cached_month(cache_path(tmp_path / "cache", JAN), {
        "month": JAN.cache_stem, "fetched_at": "2026-02-03T10:00:00Z", "total_events": len(kept), "events": kept,
        "complete": True,
        "fetch": {"windows": [], "api_total": 3, "left_out": {"Included in Business": 1}, "requests": 1,
                  "page_size": 1000},
    })
    return tmp_path


def _run(*args: str):
    return CliRunner().invoke(cli, list(args), catch_exceptions=False)


def _cards(index: Path) -> list[str]:
    return re.findall(r'<div class="card-value">(.*?)</div>', index.read_text(), re.S)


def test_build_offline_uses_the_cache_and_names_the_missing_month(project):
    result = _run("build", "--offline", "--config", "config.yaml", "--end-month", "2026-02")
    assert result.exit_code == 0, result.output
    index = project / "out" / "site" / "billing_dashboard.html"
    assert f"Open the dashboard: {index.resolve().as_uri()}" in result.stdout
    assert "Missing from the cache (shown as not fetched, never $0): February 2026; run `billing-reports fetch`" in result.stderr
    assert _cards(index)[0] == "$17.35"  # 1234.5 + 0.5 + 500 cents
    manifest = orjson.loads((project / "out" / "site" / "build-manifest.json").read_bytes())
    assert manifest["period"] == {"first": "2026-01", "last": "2026-02"}
    assert manifest["missing_months"] == ["2026-02"]
    users = sorted(name for name in manifest["files"] if name.startswith("users/"))
    assert users == ["users/ann-example.com.html", "users/removed-user.html"]


def test_a_build_that_decodes_much_of_the_cache_says_so_first_and_a_later_one_does_not(project, monkeypatch):
    # a million events take seconds to decode: the build says what it is doing before that silence
    # (here the threshold is lowered to the test's small cache); the next build reads the summaries
    from billing_reports import loader, month_summary

    monkeypatch.setattr(month_summary, "SETTLE_SECONDS", 0.0)
    size = cache_path(project / "cache", JAN).stat().st_size
    monkeypatch.setattr(loader, "SAY_DECODING_BYTES", size)
    first = _run("build", "--offline", "--config", "config.yaml", "--end-month", "2026-02")
    assert first.exit_code == 0, first.output
    said = [line for line in first.stderr.splitlines() if line.startswith("Decoding")]
    assert said == [f"Decoding 1 cached month ({size / 1e6:,.0f} MB) into the ledger; later runs read what is "
                    "made of them until a month changes..."]
    again = _run("build", "--offline", "--config", "config.yaml", "--end-month", "2026-02")
    assert again.exit_code == 0, again.output
    assert not [line for line in again.stderr.splitlines() if line.startswith("Decoding")]
    (project / "cache" / month_summary.SUMMARY_DIR / f"{JAN.cache_stem}.json").unlink()
    report = _run("report", "--config", "config.yaml", "--end-month", "2026-01", "--months-back", "1")
    assert report.exit_code == 0 and report.stderr.startswith("Decoding 1 cached month (")  # (report and check too)
    assert "Decoding" not in report.stdout
    monkeypatch.setattr(loader, "SAY_DECODING_BYTES", size + 1)  # (a smaller cache: said nothing)
    (project / "cache" / month_summary.SUMMARY_DIR / f"{JAN.cache_stem}.json").unlink()
    quiet = _run("build", "--offline", "--config", "config.yaml", "--end-month", "2026-02")
    assert quiet.exit_code == 0 and "Decoding" not in quiet.stderr


def test_build_without_a_key_stops_with_one_line(project):
    result = CliRunner().invoke(cli, ["build", "--config", "config.yaml", "--end-month", "2026-02"])
    assert result.exit_code == 1
    assert "Traceback" not in result.output
    lines = [line for line in result.stderr.splitlines() if line.startswith("Error:")]
    assert len(lines) == 1 and "CURSOR_API_KEY" in lines[0]
    assert not (project / "out" / "site").exists()


def test_a_broken_plugin_stops_the_build_and_keeps_the_previous_site(project):
    assert _run("build", "--offline", "--config", "config.yaml", "--end-month", "2026-01").exit_code == 0
    manifest = project / "out" / "site" / "build-manifest.json"
    before = manifest.read_bytes()
    (project / "myplugins" / "broken.py").write_text(
        "from billing_reports import hookimpl\n\n@hookimpl\ndef register_sections(register, usage):\n"
        "    raise RuntimeError('no team file')\n"
    )
    result = CliRunner().invoke(cli, ["build", "--offline", "--config", "config.yaml", "--end-month", "2026-01"])
    assert result.exit_code == 1 and "Traceback" not in result.output
    assert "broken.py failed: RuntimeError: no team file" in result.stderr
    assert manifest.read_bytes() == before

    skipped = _run("build", "--offline", "--skip-broken-plugins", "--config", "config.yaml", "--end-month", "2026-01")
    assert skipped.exit_code == 0, skipped.output
    assert "Warning: plugin" in skipped.stderr and "no team file" in skipped.stderr
    dashboard = (project / "out" / "site" / "billing_dashboard.html").read_text()
    assert "RuntimeError: no team file" in dashboard


def test_a_broken_cache_file_keeps_the_previous_site(project):
    assert _run("build", "--offline", "--config", "config.yaml", "--end-month", "2026-01").exit_code == 0
    before = (project / "out" / "site" / "build-manifest.json").read_bytes()
    cache_path(project / "cache", JAN).write_text('{"month": "01-2026", "events": [')
    result = CliRunner().invoke(cli, ["build", "--offline", "--config", "config.yaml", "--end-month", "2026-01"])
    assert result.exit_code == 1
    assert "01-2026-usage-based-data.json" in result.stderr and "billing-reports fetch --refresh 2026-01" in result.stderr
    assert (project / "out" / "site" / "build-manifest.json").read_bytes() == before
    assert [p.name for p in (project / "out").iterdir()] == ["site"]


def test_contradictory_options_are_refused(project):
    result = CliRunner().invoke(cli, ["build", "--demo", "--offline"])
    assert result.exit_code == 2 and "--demo fetches from the built-in fake API" in result.output
    result = CliRunner().invoke(cli, ["build", "--offline", "--refresh", "2026-01"])
    assert result.exit_code == 2 and "--offline never fetches" in result.output
    assert not (project / "out").exists()


@pytest.mark.server
def test_build_demo_fetches_from_the_fake_api_and_builds_a_full_site(project):
    result = _run("build", "--demo", "--config", "config.yaml")
    assert result.exit_code == 0, result.output
    demo = project / "demo"
    index = demo / "site" / "billing_dashboard.html"
    assert f"Open the dashboard: {index.resolve().as_uri()}" in result.stdout
    assert "Fetched 6 months" in result.stderr
    # Only the demo directory is written: the user's own site and cache are untouched.
    assert not (project / "out").exists()
    assert [p.name for p in (project / "cache").iterdir()] == ["01-2026-usage-based-data.json"]

    users = set()  # a page per user: each email, and each service account (its own row)
    for path in sorted((demo / "monthly_usage_data").glob("*-usage-based-data.json")):
        users |= {event.get("serviceAccountName") or event.get("userEmail", "(removed user)")
                  for event in orjson.loads(path.read_bytes())["events"]}
    manifest = orjson.loads((demo / "site" / "build-manifest.json").read_bytes())
    assert len([name for name in manifest["files"] if name.startswith("users/")]) == len(users)
    incomplete = len(manifest["incomplete_months"])
    assert 1 <= incomplete <= 2  # the current month (and the last one, on the first day of a month)
    for slug in ("top-cost-users", "users-x-expensive-models", "top-cost-models", "monthly-trend", "daily",
                 "monthly-model-breakdown", "monthly-user-breakdown"):
        assert f"{slug}.html" in manifest["files"]
    assert "demo data" in index.read_text()

    again = _run("build", "--demo", "--config", "config.yaml")
    assert again.exit_code == 0
    plural = "s" if incomplete > 1 else ""
    assert f"Fetched {incomplete} month{plural} " in again.stderr
    assert f"{6 - incomplete} already cached" in again.stderr


def test_a_broken_demo_cache_file_names_the_fix_that_mends_the_demo(project):
    assert _run("build", "--demo", "--config", "config.yaml").exit_code == 0
    broken = sorted((project / "demo" / "monthly_usage_data").glob("*-usage-based-data.json"))[0]
    broken.write_text('{"month": ')
    result = CliRunner().invoke(cli, ["build", "--demo", "--config", "config.yaml"])
    assert result.exit_code == 1
    message = result.output.strip().splitlines()[-1]
    assert message.startswith(f"Error: Demo cache file {broken} is not valid JSON")
    assert f"delete {project / 'demo'} and run `billing-reports build --demo` again" in message
    assert "fetch --refresh" not in message  # that mends the real cache, not the demo's
    assert broken.read_text() == '{"month": '  # reported, never silently overwritten


@pytest.mark.server
def test_demo_cache_files_are_marked_and_never_load_into_a_real_build_report_or_fetch(project, monkeypatch):
    """A demo month that reaches the real cache (copied there, or written by an earlier version through an
    overlapping demo_dir) is refused in one line naming the file: its fake spend never counts."""
    from billing_reports import month_summary

    monkeypatch.setattr(month_summary, "SETTLE_SECONDS", -1.0)  # keep a summary of a file just written
    assert _run("build", "--demo", "--config", "config.yaml").exit_code == 0
    demo_files = sorted((project / "demo" / "monthly_usage_data").glob("*-usage-based-data.json"))
    assert demo_files and all(orjson.loads(path.read_bytes())["fetch"]["demo"] is True for path in demo_files)
    assert "demo" not in orjson.loads(cache_path(project / "cache", JAN).read_bytes())["fetch"]

    month = Month.from_cache_stem(demo_files[-1].name[:7])  # the current month: incomplete, fetched again
    copied = project / "cache" / demo_files[-1].name
    copied.write_bytes(demo_files[-1].read_bytes())
    expected = (
        f"Error: Cache file {copied} holds demo data (the synthetic team of `build --demo`), not your team's "
        f"usage; run `billing-reports fetch --refresh {month.key}` to replace it with your team's usage."
    )
    span = ["--end-month", month.key, "--months-back", "1"]
    for command in (["build", "--offline", *span], ["report", *span], ["fetch", *span]):
        result = CliRunner().invoke(cli, [*command, "--config", "config.yaml"], env={"CURSOR_API_KEY": "key_x"})
        assert (result.exit_code, result.stderr.strip().splitlines()[-1]) == (1, expected), command
    assert not (project / "out").exists()
    assert copied.read_bytes() == demo_files[-1].read_bytes()  # (the fetch stopped before any request)
    # the demo's own commands still read it
    assert CliRunner().invoke(cli, ["report", "--demo", "--config", "config.yaml"]).exit_code == 0
    # and a demo month read from its summary (decoded once, kept) is refused all the same
    assert month_summary.summary_path(project / "cache", month).is_file()
    again = CliRunner().invoke(cli, ["report", *span, "--config", "config.yaml"])
    assert again.stderr.strip().splitlines()[-1] == expected


@pytest.mark.server
def test_a_pseudonymised_demo_says_how_to_have_both_demo_sites_with_the_demo_options(project, monkeypatch):
    """The demo has one site folder (--site-dir is refused with --demo): its hints must not send the user there."""
    monkeypatch.setenv("BILLING_REPORTS_PSEUDONYM_KEY", "test-only demo pseudonym key, 3f9c2a71d0b4")
    config = project / "config.yaml"
    config.write_text(config.read_text() + "publish:\n  targets:\n    company:\n      type: directory\n"
                      "      path: www/company\n      pseudonymised_only: true\n")
    (project / "www").mkdir()
    assert _run("build", "--demo", "--config", "config.yaml").exit_code == 0
    refused = CliRunner().invoke(cli, ["publish", "company", "--demo", "--config", "config.yaml"])
    assert refused.exit_code != 0 and "--site-dir" not in refused.output
    assert "names people; build the demo with `billing-reports build --demo --pseudonymise` and publish it " \
           "with --demo again" in refused.output
    over = _run("build", "--demo", "--pseudonymise", "--config", "config.yaml")
    assert over.exit_code == 0, over.output
    assert "--site-dir" not in over.output
    assert ("it replaced the demo site that named people (`billing-reports build --demo` brings that one back)"
            in over.stdout)
    published = CliRunner().invoke(cli, ["publish", "company", "--demo", "--config", "config.yaml"])
    assert published.exit_code == 0, published.output
