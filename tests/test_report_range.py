"""--since/--until and --by: any range of days, the trend at any grain, refused ranges.

The hand-computed cache (tests/fixtures/analysis/cache), its on-demand events by UTC day:
  1 Jan a opus 110.75c · 2 Jan a sonnet 20c · 3 Jan b sonnet 20.5c · 4 Jan (removed user) 30.33333c
  5 Jan c sonnet 41.1c · 8 Jan c sonnet 0c · 9 Jan c haiku 2c · 31 Jan 23:59:59.999 b opus 55.125c
  1 Feb 00:00 b opus 100c · 2 Feb b sonnet 10c · 2 Mar c sonnet 15c · 3 Mar a sonnet 15c
March was fetched on 11 March (incomplete); November 2025 has no file.
"""

from __future__ import annotations

import json
from datetime import datetime, timezone

import pytest
from click.testing import CliRunner

from billing_reports.cli import cli


@pytest.fixture(autouse=True)
def today_is_30_november_2026(monkeypatch):
    """What has begun, what is in the future and what "today" is depend on the clock: set it."""
    monkeypatch.setattr("billing_reports.months.utc_now", lambda: datetime(2026, 11, 30, 12, tzinfo=timezone.utc))


def _run(config, *args):
    return CliRunner().invoke(cli, ["report", "--config", str(config), *args])


def _trend(config, *args):
    result = _run(config, *args, "--format", "json", "--section", "monthly-trend")
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout)["sections"][0]["tables"][0]


def test_days_of_a_range_each_with_its_total(analysis_config):
    table = _trend(analysis_config, "--since", "2026-01-01", "--until", "2026-01-10", "--by", "day")
    assert [(row["day"], row["spend_usd"], row["requests"]) for row in table["rows"]] == [
        ("2026-01-01", "1.10750000", 1), ("2026-01-02", "0.20000000", 1), ("2026-01-03", "0.20500000", 1),
        ("2026-01-04", "0.30333330", 1), ("2026-01-05", "0.41100000", 1), ("2026-01-06", "0.00000000", 0),
        ("2026-01-07", "0.00000000", 0), ("2026-01-08", "0.00000000", 1), ("2026-01-09", "0.02000000", 1),
        ("2026-01-10", "0.00000000", 0),
    ]
    assert table["total"]["spend_usd"] == "2.24683330"  # 224.68333 cents
    document = json.loads(_run(analysis_config, "--since", "2026-01-01", "--until", "2026-01-10", "--by", "day",
                               "--format", "json").stdout)
    assert document["range"] == {"since": "2026-01-01", "until": "2026-01-10", "by": "day"}
    # signed changes between whole days: 20c - 110.75c, then +0.5c
    assert [row["change_usd"] for row in table["rows"][1:3]] == ["-0.90750000", "0.00500000"]


def test_report_by_day_prints_every_days_total(analysis_config):
    result = _run(analysis_config, "--since", "2026-01-30", "--until", "2026-02-02", "--by", "day")
    assert result.exit_code == 0, result.output
    assert result.stdout.startswith("On-demand usage, 30 Jan – 2 Feb 2026\n")
    lines = result.stdout.splitlines()
    days = [line.split("  ")[0] for line in lines if line[:4] in ("Mon ", "Tue ", "Wed ", "Thu ", "Fri ", "Sat ", "Sun ")]
    assert days == ["Fri 30 Jan 2026", "Sat 31 Jan 2026", "Sun 1 Feb 2026", "Mon 2 Feb 2026"]
    # the last millisecond of 31 January and the first of 1 February, each on its own day
    assert any(line.startswith("Sat 31 Jan 2026") and "$0.55" in line and "+$0.55" in line for line in lines)
    assert any(line.startswith("Sun 1 Feb 2026") and "$1.00" in line and "+$0.45" in line for line in lines)


def test_iso_weeks_clipped_to_the_range(analysis_config):
    table = _trend(analysis_config, "--since", "2026-01-01", "--until", "2026-01-31", "--by", "week")
    assert [(row["from"], row["to"]) for row in table["rows"]][::4] == [("2026-01-01", "2026-01-04"),
                                                                          ("2026-01-26", "2026-01-31")]
    assert [(row["period"], row["spend_usd"], row["status"]) for row in table["rows"]] == [
        ("Week 1, 2026 (29 Dec 2025 – 4 Jan 2026)", "1.81583330", "part: 1–4 Jan 2026"),
        ("Week 2, 2026 (5–11 Jan)", "0.43100000", "complete"),
        ("Week 3, 2026 (12–18 Jan)", "0.00000000", "complete"),
        ("Week 4, 2026 (19–25 Jan)", "0.00000000", "complete"),
        ("Week 5, 2026 (26 Jan – 1 Feb)", "0.55125000", "part: 26–31 Jan 2026"),
    ]
    # no change beside a week cut short by the range: it would read as a fall
    assert [row["change_usd"] for row in table["rows"]] == [None, None, "-0.43100000", "0.00000000", None]


def test_billing_cycles_starting_the_17th_add_up_exactly(analysis_config):
    text = analysis_config.read_text(encoding="utf-8").replace("billing:\n", "billing:\n  cycle_start: 2026-01-17\n")
    analysis_config.write_text(text, encoding="utf-8")
    table = _trend(analysis_config, "--since", "2026-01-01", "--until", "2026-03-31", "--by", "cycle")
    rows = [(row["period"], row["spend_usd"], row["status"], row["projected_usd"]) for row in table["rows"]]
    assert rows == [
        ("Cycle 17 Dec 2025 – 16 Jan 2026", "2.24683330", "part: 1–16 Jan 2026", None),
        ("Cycle 17 Jan – 16 Feb 2026", "1.65125000", "complete", None),
        # fetched on 11 March (00:00): 30c from 17 Feb (Mon 2 and Tue 3 Mar) over the cycle's 16
        # weekdays so far; the 28 days before the fetch (11 Feb - 10 Mar) hold 20 weekdays (30c: 1.5c
        # each) and 8 idle weekend days (a weekend day is 0 weekdays), weighed as 7 more weekdays:
        # (30c + 7 x 1.5c) / 23 a weekday. Left of the cycle, 11-16 Mar: 4 weekdays and a weekend, so
        # 30c + 4 x 40.5c / 23 = 37.043478c (the flat rate: 38.18c)
        ("Cycle 17 Feb – 16 Mar 2026", "0.30000000", "to date", "0.37043478"),
        ("Cycle 17 Mar – 16 Apr 2026", "0.00000000", "to date", None),  # began after the fetch
    ]
    assert table["total"]["spend_usd"] == "4.19808330"  # every cent of the three months, once


def test_by_cycle_needs_a_cycle_start_from_config_or_a_kept_snapshot(analysis_config):
    result = _run(analysis_config, "--by", "cycle")
    assert result.exit_code == 1
    assert result.output.startswith("Error: billing cycles (--by cycle, billing.period: cycle) need the day a "
                                    "cycle starts, and none is known yet: run `billing-reports fetch`")
    assert "billing.cycle_start in config.yaml" in result.output and "Traceback" not in result.output


def _keep_spend_snapshot(config, cycle_start: str) -> None:
    """A spend snapshot as a fetch keeps it, for the cycle starting on ``cycle_start`` (Cursor's
    subscriptionCycleStart), in the config's data_dir."""
    from billing_reports.periods import parse_day
    from billing_reports.settings import load_settings
    from billing_reports.team_snapshots import Snapshot, keep

    day = parse_day(cycle_start)
    answer = {"teamMemberSpend": [], "subscriptionCycleStart": day * 86_400_000, "totalMembers": 0, "totalPages": 1}
    keep(load_settings(config).data_dir,
         Snapshot("spend", datetime(2026, 3, 11, tzinfo=timezone.utc), answer, cycle_start=day))


def test_by_cycle_without_config_takes_the_cycle_of_the_kept_spend_snapshot(analysis_config):
    _keep_spend_snapshot(analysis_config, "2026-02-17")  # Cursor's cycle: from the 17th
    table = _trend(analysis_config, "--since", "2026-01-01", "--until", "2026-03-31", "--by", "cycle")
    assert [(row["period"], row["spend_usd"]) for row in table["rows"]] == [
        # 1 Jan 110.75 + 2 Jan 20 + 3 Jan 20.5 + 4 Jan 30.33333 + 5 Jan 41.1 + 9 Jan 2 = 224.68333c
        ("Cycle 17 Dec 2025 – 16 Jan 2026", "2.24683330"),
        # 31 Jan 55.125 + 1 Feb 100 + 2 Feb 10 = 165.125c
        ("Cycle 17 Jan – 16 Feb 2026", "1.65125000"),
        ("Cycle 17 Feb – 16 Mar 2026", "0.30000000"),  # 2 Mar 15 + 3 Mar 15
        ("Cycle 17 Mar – 16 Apr 2026", "0.00000000"),
    ]


def test_the_configured_cycle_start_wins_over_cursors(analysis_config):
    _keep_spend_snapshot(analysis_config, "2026-02-17")
    text = analysis_config.read_text(encoding="utf-8").replace("billing:\n", "billing:\n  cycle_start: 2026-01-03\n")
    analysis_config.write_text(text, encoding="utf-8")
    table = _trend(analysis_config, "--since", "2026-01-01", "--until", "2026-01-31", "--by", "cycle")
    assert [(row["period"], row["spend_usd"]) for row in table["rows"]] == [
        ("Cycle 3 Dec 2025 – 2 Jan 2026", "1.30750000"),  # 1 Jan 110.75 + 2 Jan 20
        ("Cycle 3 Jan – 2 Feb 2026", "1.49058330"),  # 20.5 + 30.33333 + 41.1 + 0 + 2 + 55.125 = 149.05833c
    ]


def test_billing_period_cycle_makes_cycles_the_default_grain(analysis_config):
    _keep_spend_snapshot(analysis_config, "2026-02-17")
    text = analysis_config.read_text(encoding="utf-8").replace("billing:\n", "billing:\n  period: cycle\n")
    analysis_config.write_text(text, encoding="utf-8")
    table = _trend(analysis_config, "--since", "2026-02-01", "--until", "2026-02-28")
    assert [row["period"] for row in table["rows"]] == ["Cycle 17 Jan – 16 Feb 2026", "Cycle 17 Feb – 16 Mar 2026"]
    by_month = _trend(analysis_config, "--since", "2026-02-01", "--until", "2026-02-28", "--by", "month")
    assert [row["month"] for row in by_month["rows"]] == ["2026-02"]


@pytest.mark.parametrize("args", [
    ["--since", "2027-01-01"],
    ["--since", "2027-01-01", "--until", "2027-02-10"],
    ["--end-month", "2027-03", "--months-back", "2"],
])
def test_a_range_wholly_in_the_future_is_refused(analysis_config, args):
    result = _run(analysis_config, *args)
    assert result.exit_code == 1
    assert "lies wholly in the future" in result.output
    assert len(result.output.strip().splitlines()) == 1


def test_a_range_with_no_cached_month_is_refused(analysis_config):
    result = _run(analysis_config, "--end-month", "2024-02", "--months-back", "2")
    assert result.exit_code == 1
    assert result.output.strip() == (
        "Error: No cached data for January 2024 – February 2024: run `billing-reports fetch "
        "--end-month 2024-02 --months-back 2` (or `billing-reports build` without --offline) first."
    )


def test_build_refuses_a_range_without_data_and_keeps_the_previous_site(analysis_config, tmp_path):
    site = tmp_path / "site"
    site.mkdir()
    (site / "billing_dashboard.html").write_text("the previous site", encoding="utf-8")
    (site / "build-manifest.json").write_text("{}", encoding="utf-8")  # (a build's: not refused as foreign)
    text = analysis_config.read_text(encoding="utf-8").replace("paths:\n", f"paths:\n  site_dir: {site}\n")
    analysis_config.write_text(text, encoding="utf-8")
    result = CliRunner().invoke(cli, ["build", "--config", str(analysis_config), "--offline",
                                       "--end-month", "2024-02", "--months-back", "2"])
    assert result.exit_code == 1 and "No cached data for January 2024 – February 2024" in result.output
    assert sorted(p.name for p in site.iterdir()) == ["billing_dashboard.html", "build-manifest.json"]
    assert (site / "billing_dashboard.html").read_text(encoding="utf-8") == "the previous site"


@pytest.mark.parametrize("args, message", [
    (["--since", "2026-01-10", "--until", "2026-01-01"], "--until 2026-01-01 is before --since 2026-01-10"),
    (["--until", "2026-01-01"], "--until needs --since"),
    (["--since", "2026-01-01", "--months-back", "2"], "give either --since/--until"),
    (["--since", "2026-02-30"], "not a day of the calendar"),
])
def test_bad_ranges_are_one_clear_error(analysis_config, args, message):
    result = _run(analysis_config, *args)
    assert result.exit_code == 2 and message in result.output


def test_a_cycle_in_progress_is_projected_to_its_own_end_not_the_ranges(analysis_config):
    text = analysis_config.read_text(encoding="utf-8").replace("billing:\n", "billing:\n  cycle_start: 2026-02-17\n")
    analysis_config.write_text(text, encoding="utf-8")
    # the range ends on 11 March, the day March was fetched (at 00:00): the cycle 17 Feb - 16 Mar is in progress
    table = _trend(analysis_config, "--since", "2026-02-01", "--until", "2026-03-11", "--by", "cycle")
    last = table["rows"][-1]
    assert (last["period"], last["from"], last["to"]) == ("Cycle 17 Feb – 16 Mar 2026", "2026-02-17", "2026-03-11")
    assert last["status"] == "to date"
    # 30c from 17 Feb to the fetch, plus the weekday level ((30c over the cycle's 16 weekdays so far and
    # 7 x 1.5c, the 28 days before the fetch weighed as 7 more weekdays) / 23) for each of the 4
    # weekdays left of the whole cycle, 11-16 Mar (not of the range, which ends on the 11th: that
    # would add one): 30c + 4 x 40.5c / 23 = 37.043478c
    assert last["projected_usd"] == "0.37043478"
    # against the cycle before, cut by the range at 1 Feb: no change beside a part
    assert table["rows"][0]["status"] == "part: 1–16 Feb 2026" and last["change_at_projection_usd"] is None


def test_cards_of_a_range_say_what_they_cover_and_never_show_zero_for_the_unknown(analysis_config):
    result = _run(analysis_config, "--since", "2026-02-01", "--until", "2026-03-10", "--by", "week",
                  "--format", "json", "--section", "summary")
    cards = {card["label"]: (card["display"], card["note"]) for card in json.loads(result.stdout)["sections"][0]["figures"]}
    # not this month (today is later): the last month in range, 1-10 March, which had all its days fetched
    assert cards["Last month in range"] == ("$0.30", "1–10 Mar 2026 (part of March 2026)")
    assert cards["Last week in range"] == ("$0.00", "9–10 Mar 2026 (part of Week 11, 2026 (9–15 Mar))")
    result = _run(analysis_config, "--end-month", "2026-04", "--months-back", "2", "--format", "json",
                  "--section", "summary")
    cards = {card["label"]: (card["display"], card["note"]) for card in json.loads(result.stdout)["sections"][0]["figures"]}
    assert cards["Last month in range"] == ("", "April 2026: not fetched yet")  # no file: unknown, not $0.00


def test_months_that_have_not_begun_are_not_called_missing(analysis_config):
    result = CliRunner().invoke(cli, ["report", "--config", str(analysis_config), "--since", "2026-03-01",
                                      "--until", "2027-02-01", "--section", "monthly-trend"])
    assert result.exit_code == 0, result.output
    # April to November 2026 have begun (today is later) but have no file; the rest has not begun
    assert "Warning: no cache file for 8 months, 2026-04 to 2026-11" in result.stderr
    assert "Note: 2026-12, 2027-01, 2027-02 has not begun yet." in result.stderr
    assert any(line.startswith("February 2027") and "not begun" in line for line in result.stdout.splitlines())


@pytest.mark.parametrize("args, message", [
    (["--since", "0001-01-01"], "0001-01-01 is before 2000-01-01"),
    (["--since", "2010-01-01", "--until", "2026-01-01"], "is over ten years"),
])
def test_implausible_ranges_are_refused_in_one_line(analysis_config, args, message):
    result = _run(analysis_config, *args)
    assert result.exit_code == 2 and message in result.output
