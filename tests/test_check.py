"""`billing-reports check` end to end against the fake API's demo team (a planted spike: Jonas on a day
of month 4; Priya near her limit), its state across runs, its exit statuses, and the spike rule's
thresholds worked out by hand."""

from __future__ import annotations

import json
import shutil
import statistics
from datetime import datetime, timezone
from fractions import Fraction
from pathlib import Path

import pytest
from click.testing import CliRunner

from billing_reports.cli import cli
from billing_reports.fakeapi import DEMO_SERVER_OPTIONS, FakeCursorApi, demo_team
from billing_reports.fakeapi.demo_team import SPIKE_PERSON
from billing_reports.months import DAY_MS, Month
from billing_reports.periods import ReportRange, date_of_day
from billing_reports.usage import MonthFacts, OnDemandUsage, UsageTotals
from billing_reports.builtin_plugins import spike_alert

NOW = datetime(2026, 7, 10, 12, tzinfo=timezone.utc)  # (23 days into its cycle: Priya near her limit)
TEAM = demo_team(now=lambda: NOW)
SPIKE_MONTH = TEAM.months[4]
JONAS = next(m.email for m in TEAM.members if m.name == SPIKE_PERSON)
PRIYA = next(m.email for m in TEAM.members if m.name.startswith("Priya"))
SPIKE_DATE = date_of_day(TEAM.spike_day // DAY_MS).isoformat()


#: When the checks here run: two days after the checked month (June, the spike's) ended, so its alerts
#: are still news (a period that ended over a week ago is printed, not sent).
CHECKED_AT = datetime(SPIKE_MONTH.next().year, SPIKE_MONTH.next().month, 2, 12, tzinfo=timezone.utc)


@pytest.fixture(scope="module", autouse=True)
def the_clock_says_checked_at():
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr("billing_reports.months.utc_now", lambda: CHECKED_AT)
        yield

#: A test plugin: notifier kinds that record what they are sent (``record``) or always fail (``broken``),
#: and (when ``BROKEN_RULE`` is in its folder) a rule that raises.
TEST_PLUGIN = '''
import json
from pathlib import Path
from billing_reports import hookimpl
from billing_reports.errors import BillingReportsError, ConfigError


class Recorder:
    def __init__(self, name, path):
        self.name, self.path = name, Path(path)

    def send(self, alerts, *, site_url):
        with self.path.open("a") as out:
            out.write(json.dumps({"keys": [a.key for a in alerts], "severities": [a.severity for a in alerts],
                                  "site_url": site_url}) + "\\n")


class Broken:
    def __init__(self, name):
        self.name = name

    def send(self, alerts, *, site_url):
        raise BillingReportsError("the relay refused the message (550)")


def record(name, options, settings):
    if "path" not in options:
        raise ConfigError(f"notify.{name}.path: expected a file to record alerts in")
    return Recorder(name, options["path"])


@hookimpl
def register_notifiers(register):
    register("record", record)
    register("broken", lambda name, options, settings: Broken(name))
'''

BROKEN_RULE = '''
from billing_reports import hookimpl

@hookimpl
def register_alert_rules(register, usage, settings):
    raise RuntimeError("rule blew up")
'''


@pytest.fixture(scope="module")
def fetched_cache(tmp_path_factory):
    """The demo team's three months up to the spike's, fetched by `check` itself from the fake API."""
    root = tmp_path_factory.mktemp("check-fetch")
    with FakeCursorApi(TEAM, **DEMO_SERVER_OPTIONS) as api:
        config = root / "config.yaml"
        config.write_text(f"api:\n  base_url: {api.base_url}\nbilling:\n  request_delay_seconds: 0.001\n"
                          f"paths:\n  data_dir: cache\n")
        result = CliRunner().invoke(cli, ["check", "--config", str(config), "--end-month", SPIKE_MONTH.key,
                                          "--months-back", "3", "--format", "json"],
                                    env={"CURSOR_API_KEY": api.api_key})
    assert result.exit_code == 1, result.output  # a warning or worse stands, nothing went wrong
    document = json.loads(result.stdout)
    assert document["errors"] == []
    return root / "cache", document


@pytest.fixture
def workspace(tmp_path, fetched_cache):
    """A copy of the fetched cache, the test plugin, and a config that writes notifiers' records to tmp."""
    shutil.copytree(fetched_cache[0], tmp_path / "cache")
    (tmp_path / "plugins").mkdir()
    (tmp_path / "plugins" / "test_notifiers.py").write_text(TEST_PLUGIN)
    return tmp_path


def write_config(root: Path, notify: str = "", plugins: str = "") -> Path:
    config = root / "config.yaml"
    config.write_text(f"paths:\n  data_dir: cache\n  site_dir: site\n  plugins_dir: plugins\n"
                      f"{notify.replace('SENT', str(root / 'sent.jsonl'))}{plugins}")
    return config


RECORD = "notify:\n  finops:\n    type: record\n    path: SENT\n"


def run_check(config: Path, *args: str):
    return CliRunner().invoke(cli, ["check", "--config", str(config), "--offline", "--end-month", SPIKE_MONTH.key,
                                    "--months-back", "3", *args], env={"CURSOR_API_KEY": ""})


def sent(root: Path) -> list[dict]:
    path = root / "sent.jsonl"
    return [json.loads(line) for line in path.read_text().splitlines()] if path.exists() else []


# --- the planted alerts, through the whole command -----------------------------------------------------------

def test_check_fetches_and_finds_the_planted_spike_and_the_member_near_their_limit(fetched_cache):
    cache, document = fetched_cache
    assert sorted(path.name for path in cache.glob("*.json"))  # the months were fetched into the cache
    spikes = [a for a in document["alerts"] if a["rule"] == "spike"]
    assert [(a["subject"], a["key"]) for a in spikes] == [(JONAS, f"spike/{JONAS}/{SPIKE_DATE}")]
    assert spikes[0]["link"] == f"users/{JONAS.replace('@', '-')}.html"
    limits = [a for a in document["alerts"] if a["rule"] == "cursor-limit"]
    assert [a["subject"] for a in limits] == [PRIYA]
    used = next(f["value"] for f in limits[0]["figures"] if f["label"] == "Used")
    assert 80 <= used < 100 and limits[0]["severity"] == "warning" and limits[0]["link"] == "spend-limits.html"


def test_the_spike_figures_are_the_ledger_median_of_the_28_days_before(fetched_cache, tmp_path):
    """The figures of Jonas's alert, recomputed from the cache with the standard library's median."""
    from billing_reports.analysis import analyse
    from billing_reports.settings import load_settings

    cache, document = fetched_cache
    (tmp_path / "config.yaml").write_text(f"paths:\n  data_dir: {cache}\n")
    settings = load_settings(tmp_path / "config.yaml")
    usage = analyse(settings, [TEAM.months[2], TEAM.months[3], SPIKE_MONTH]).usage
    costs = usage.user_cost_by_day(JONAS)
    day = TEAM.spike_day // DAY_MS
    before = [costs.get(d, 0) for d in range(day - 28, day)]
    usual = statistics.median(before)
    spike = next(a for a in document["alerts"] if a["rule"] == "spike")
    figures = {f["label"]: f["value"] for f in spike["figures"]}
    assert figures["Spend that day"] == costs[day]
    assert figures["Usual day"] == round(Fraction(usual))
    deviation = statistics.median(abs(cost - usual) for cost in before)
    assert figures["Threshold"] == round(max(usual + 6 * Fraction(deviation), 3 * Fraction(usual), Fraction(25 * 10**8)))
    assert costs[day] > figures["Threshold"]
    # no other day of the month is a spike for anyone: the planted one is the only one
    assert spike["severity"] == ("critical" if costs[day] >= 10 * usual else "warning")


def test_text_output_is_aligned_and_names_each_alert(workspace):
    result = run_check(write_config(workspace))
    assert result.exit_code == 1, result.output
    lines = result.stdout.splitlines()
    header = next(i for i, line in enumerate(lines) if line.startswith("SEVERITY"))
    rows = lines[header + 1: header + 1 + sum(1 for line in lines if line.split(" ")[0] in ("info", "warning", "critical"))]
    assert any(JONAS in row and "Spend spike on " + SPIKE_DATE in row for row in rows)
    column = lines[header].index("SUBJECT")
    assert all(row[column - 2: column] == "  " and row[column] != " " for row in rows)  # one column, aligned
    assert "No notifier is configured" in result.stdout


# --- exit statuses -------------------------------------------------------------------------------------------------

def test_fail_on_sets_the_exit_status(workspace, fetched_cache):
    config = write_config(workspace)
    worst = max(("info", "warning", "critical").index(a["severity"]) for a in fetched_cache[1]["alerts"])
    for level, name in enumerate(("info", "warning", "critical")):
        assert run_check(config, "--fail-on", name).exit_code == (1 if worst >= level else 0)
    # the month before has no spike and no first use worth a warning: Priya's limit stands (this cycle)
    quiet = CliRunner().invoke(cli, ["check", "--config", str(config), "--offline", "--end-month", TEAM.months[3].key,
                                     "--months-back", "2", "--format", "json", "--fail-on", "critical"],
                               env={"CURSOR_API_KEY": ""})
    alerts = json.loads(quiet.stdout)["alerts"]
    assert all(a["severity"] != "critical" for a in alerts) and quiet.exit_code == 0


def test_a_config_error_is_status_2(workspace):
    config = write_config(workspace)
    config.write_text(config.read_text() + "billing:\n  months_back: many\n")
    result = run_check(config)
    assert result.exit_code == 2  # (1 would read as "an alert stands")
    assert result.output.startswith("Error: ") and "billing.months_back" in result.output
    assert "SEVERITY" not in result.output


def test_a_broken_rule_is_named_and_the_others_still_alert(workspace):
    (workspace / "plugins" / "broken_rule.py").write_text(BROKEN_RULE)
    result = run_check(write_config(workspace), "--format", "json")
    assert result.exit_code == 2
    document = json.loads(result.stdout)
    assert any("broken_rule.py failed: RuntimeError: rule blew up" in line for line in document["errors"])
    assert {a["rule"] for a in document["alerts"]} >= {"spike", "cursor-limit"}
    assert result.stderr.count("\n") == len(document["errors"])


# --- sending, and the state between runs ---------------------------------------------------------------------------

def test_a_standing_alert_is_sent_once_and_again_when_it_worsens(workspace):
    calmer = "plugins:\n  spike-alert:\n    critical_multiple: 100000\n"
    first = run_check(write_config(workspace, RECORD, calmer), "--site-url", "https://finops.example.com/ai/")
    assert first.exit_code == 1, first.output
    [batch] = sent(workspace)
    assert f"spike/{JONAS}/{SPIKE_DATE}" in batch["keys"] and batch["site_url"] == "https://finops.example.com/ai/"
    assert batch["severities"][batch["keys"].index(f"spike/{JONAS}/{SPIKE_DATE}")] == "warning"
    state = json.loads((workspace / "cache" / "alert-state.json").read_text())
    assert set(state["alerts"]) == set(batch["keys"])

    again = run_check(write_config(workspace, RECORD, calmer))
    assert again.exit_code == 1 and len(sent(workspace)) == 1  # nothing new: nothing sent
    assert "Nothing new or worse for finops." in again.stdout

    worse = run_check(write_config(workspace, RECORD))  # the default: ten times the usual day is critical
    assert worse.exit_code == 1
    batches = sent(workspace)
    if len(batches) == 2:  # the spike was over ten times Jonas's usual day: it worsened, and only it is sent
        assert batches[1]["keys"] == [f"spike/{JONAS}/{SPIKE_DATE}"] and batches[1]["severities"] == ["critical"]
    else:
        pytest.fail("the spike became critical and was not sent again")
    after = json.loads((workspace / "cache" / "alert-state.json").read_text())
    assert after["alerts"][f"spike/{JONAS}/{SPIKE_DATE}"]["first_seen"] == state["alerts"][f"spike/{JONAS}/{SPIKE_DATE}"]["first_seen"]


def test_alerts_of_a_period_over_a_week_past_are_printed_not_sent(workspace, monkeypatch):
    monkeypatch.setattr("billing_reports.months.utc_now", lambda: CHECKED_AT.replace(day=9))
    late = run_check(write_config(workspace, RECORD))
    assert late.exit_code == 1 and sent(workspace) == []
    assert "ended over 7 days ago: its alerts are printed, not sent." in late.stdout
    assert f"spike/{JONAS}/{SPIKE_DATE}" in late.stdout or JONAS in late.stdout


def test_checking_another_period_keeps_the_state_of_the_others(workspace):
    first = run_check(write_config(workspace, RECORD))
    assert first.exit_code == 1
    kept = set(json.loads((workspace / "cache" / "alert-state.json").read_text())["alerts"])
    earlier = CliRunner().invoke(cli, ["check", "--config", str(write_config(workspace, RECORD)), "--offline",
                                       "--end-month", SPIKE_MONTH.previous().key, "--months-back", "2"],
                                 env={"CURSOR_API_KEY": ""})
    assert earlier.exit_code in (0, 1), earlier.output
    after = set(json.loads((workspace / "cache" / "alert-state.json").read_text())["alerts"])
    assert kept <= after  # June's standing alerts are not forgotten by checking May


def test_a_second_check_while_one_sends_is_refused_in_one_line(workspace):
    (workspace / "cache").mkdir(exist_ok=True)
    lock = workspace / "cache" / ".alert-state.lock"
    import os
    lock.write_text(f"{os.getpid()} {CHECKED_AT.timestamp():.0f}\n")  # a live process, a fresh lock
    import time as _time
    lock.write_text(f"{os.getpid()} {_time.time():.0f}\n")
    result = run_check(write_config(workspace, RECORD))
    assert result.exit_code == 2 and sent(workspace) == []
    assert "Another billing-reports check is sending alerts" in result.stderr and lock.exists()


def test_an_alert_no_longer_firing_is_dropped_from_the_state(workspace):
    run_check(write_config(workspace, RECORD))
    quiet = "plugins:\n  spike-alert:\n    enabled: false\n"
    run_check(write_config(workspace, RECORD, quiet))
    state = json.loads((workspace / "cache" / "alert-state.json").read_text())
    assert not [key for key in state["alerts"] if key.startswith("spike/")] and state["alerts"]


def test_dry_run_prints_what_would_be_sent_and_changes_nothing(workspace):
    state = workspace / "cache" / "alert-state.json"
    kept = state.read_bytes()  # (the fetching run kept when it first saw each alert)
    result = run_check(write_config(workspace, RECORD), "--dry-run")
    assert result.exit_code == 1
    line = next(line for line in result.stdout.splitlines() if line.startswith("Would send"))
    assert "to finops" in line and f"spike/{JONAS}/{SPIKE_DATE}" in line
    assert sent(workspace) == [] and state.read_bytes() == kept
    as_json = json.loads(run_check(write_config(workspace, RECORD), "--dry-run", "--format", "json").stdout)
    assert f"spike/{JONAS}/{SPIKE_DATE}" in as_json["notifiers"]["finops"]["would_send"]


def test_a_failing_notifier_is_one_line_and_the_others_still_send(workspace):
    notify = RECORD + "  relay:\n    type: broken\n"
    result = run_check(write_config(workspace, notify))
    assert result.exit_code == 2
    assert result.stderr.strip().splitlines() == ["Error: notifier relay: the relay refused the message (550)"]
    assert len(sent(workspace)) == 1
    # what relay missed is tried again next run; finops is not sent it twice
    again = run_check(write_config(workspace, notify))
    assert again.exit_code == 2 and len(sent(workspace)) == 1


def test_a_notifier_config_error_names_the_key(workspace):
    result = run_check(write_config(workspace, "notify:\n  finops:\n    type: record\n"))
    assert result.exit_code == 2 and "notify.finops.path" in result.stderr
    assert "Spend spike on" in result.stdout  # the alerts are still printed


def test_one_notifier_missing_its_options_does_not_silence_the_others(workspace):
    result = run_check(write_config(workspace, RECORD + "  broken-one:\n    type: record\n"))
    assert result.exit_code == 2 and "notify.broken-one.path" in result.stderr
    [batch] = sent(workspace)  # finops still told
    assert f"spike/{JONAS}/{SPIKE_DATE}" in batch["keys"]
    assert "No notifier is configured" not in result.stdout


@pytest.mark.parametrize("garbage", [b"{not json", b'{"alerts": {}}', b"[]",
                                     b'{"written_by": "billing-reports check", "version": 1, "alerts": {"k": 3}}'])
def test_a_state_file_we_did_not_write_is_one_line_and_left_alone(workspace, garbage):
    path = workspace / "cache" / "alert-state.json"
    path.write_bytes(garbage)
    result = run_check(write_config(workspace, RECORD))
    assert result.exit_code == 2
    [line] = result.stderr.strip().splitlines()
    assert str(path) in line and "move it away" in line and "Nothing was sent" in line
    assert path.read_bytes() == garbage and sent(workspace) == []


# --- the site ------------------------------------------------------------------------------------------------------

def test_the_site_has_an_alerts_page_and_a_banner(workspace):
    run_check(write_config(workspace, RECORD))  # first seen now
    config = write_config(workspace)
    result = CliRunner().invoke(cli, ["build", "--config", str(config), "--offline", "--end-month", SPIKE_MONTH.key,
                                      "--months-back", "3"], env={"CURSOR_API_KEY": ""})
    assert result.exit_code == 0, result.output
    site = workspace / "site"
    page = (site / "alerts.html").read_text()
    link = f'href="users/{JONAS.replace("@", "-")}.html"'
    assert link in page and (site / f"users/{JONAS.replace('@', '-')}.html").exists()
    assert "Spend spike on " + SPIKE_DATE in page and "UTC</td>" in page  # first seen, from the state
    dashboard = (site / "billing_dashboard.html").read_text()
    assert 'class="notice alert-banner' in dashboard and 'href="alerts.html"' in dashboard


def test_alert_text_is_escaped_and_only_site_links_are_kept(workspace):
    (workspace / "plugins" / "hostile_rule.py").write_text('''
from billing_reports import hookimpl
from billing_reports.alerts import Alert

@hookimpl
def register_alert_rules(register, usage, settings):
    register(Alert(rule="hostile", key="hostile/1", severity="critical", subject_kind="user",
                   subject="<img src=x onerror=alert(1)>@example.com", title="<script>alert(1)</script>",
                   link="javascript:alert(1)"))
''')
    result = CliRunner().invoke(cli, ["build", "--config", str(write_config(workspace)), "--offline",
                                      "--end-month", SPIKE_MONTH.key, "--months-back", "3"], env={"CURSOR_API_KEY": ""})
    assert result.exit_code == 0, result.output
    page = (workspace / "site" / "alerts.html").read_text()
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page and "<script>alert" not in page
    assert "&lt;img src=x" in page and "javascript:" not in page
    text = run_check(write_config(workspace), "--dry-run")
    assert "\x1b" not in text.stdout and "<script>alert(1)</script>" in text.stdout  # plain text in a terminal


# --- the spike rule, by hand ---------------------------------------------------------------------------------------

def hand_usage(costs: dict[int, int], months: list[Month]) -> OnDemandUsage:
    ledger = {(day, "ann@example.com", "gpt-5", False): UsageTotals(cost=cost, requests=1)
              for day, cost in costs.items() if cost}
    facts = {month: MonthFacts(month, cached=True, complete=True) for month in months}
    return OnDemandUsage(months, ledger, facts, report_range=ReportRange.of_months(months))


DOLLAR = 10**8  # micro-cents


def four_weeks_then(spike: int, first: int) -> dict[int, int]:
    """14 days at $10, 7 at $12, 7 quiet (weekends), then the day checked."""
    pattern = [10] * 14 + [12] * 7 + [0] * 7
    costs = {first + offset: dollars * DOLLAR for offset, dollars in enumerate(pattern)}
    costs[first + 28] = spike
    return costs


def test_spike_threshold_worked_by_hand():
    """28 days: 7 x $0, 14 x $10, 7 x $12. Median $10; deviations 7 x $10, 14 x $0, 7 x $2: MAD $1.
    Threshold: the largest of $10 + 6 x $1 = $16, 3 x $10 = $30 and the $25 floor: $30."""
    months = [Month(2026, 1), Month(2026, 2)]
    first = Month(2026, 1).start_ms // DAY_MS
    rule = spike_alert.SpikeRule()
    at = four_weeks_then(30 * DOLLAR, first)
    usage = hand_usage(at, months)
    usual = spike_alert.baseline(usage.user_cost_by_day("ann@example.com"), first + 28, first, usage.day_fetched, rule)
    assert (usual.days, usual.median, usual.mad) == (28, 10 * DOLLAR, 1 * DOLLAR)
    assert usual.threshold(rule) == 30 * DOLLAR
    day = ReportRange(first + 28, first + 28, "day").periods()[0]  # the day checked alone
    assert spike_alert.spikes(usage, day, rule) == []  # $30 exactly is not above $30
    above = hand_usage(four_weeks_then(30 * DOLLAR + 1_000_000, first), months)  # $30.01
    [alert] = spike_alert.spikes(above, day, rule)
    assert alert.severity == "warning" and dict((f.label, f.value) for f in alert.figures)["Threshold"] == 30 * DOLLAR
    # without the multiple and the floor, the MADs decide: $16
    loose = spike_alert.SpikeRule(multiple=1, floor_dollars=0)
    assert usual.threshold(loose) == 16 * DOLLAR
    assert [a.key for a in spike_alert.spikes(hand_usage(four_weeks_then(17 * DOLLAR, first), months),
                                              day, loose)] == ["spike/ann@example.com/2026-01-29"]


@pytest.mark.parametrize(("spike", "alerts"), [(1, False), (2, True)])
def test_a_floor_between_two_micro_cents_is_compared_exactly(spike, alerts):
    """A floor of 1.5 micro-cents ($0.000000015) over quiet days: 1 micro-cent is under it, 2 above (the
    floor's whole part, 1, is what whole micro-cents are compared with)."""
    months = [Month(2026, 1), Month(2026, 2)]
    first = Month(2026, 1).start_ms // DAY_MS
    usage = hand_usage({first + day: 1 for day in range(28)} | {first + 28: spike}, months)
    rule = spike_alert.SpikeRule(floor_dollars=0.000000015, multiple=1, mads=0)
    day = ReportRange(first + 28, first + 28, "day").periods()[0]
    assert spike_alert.baseline(usage.user_cost_by_day("ann@example.com"), first + 28, first, usage.day_fetched,
                                rule).threshold(rule) == Fraction(3, 2)
    assert bool(spike_alert.spikes(usage, day, rule)) is alerts


def test_a_new_user_has_no_usual_day_yet():
    months = [Month(2026, 1)]
    first = Month(2026, 1).start_ms // DAY_MS
    costs = {first + day: 10 * DOLLAR for day in range(10)} | {first + 10: 500 * DOLLAR}
    usage = hand_usage(costs, months)
    assert spike_alert.spikes(usage, usage.periods()[0], spike_alert.SpikeRule()) == []  # 10 days < 14
    assert len(spike_alert.spikes(usage, usage.periods()[0], spike_alert.SpikeRule(min_history_days=10))) == 1


def test_the_site_url_comes_from_the_config_when_not_given(workspace):
    config = write_config(workspace, RECORD)
    config.write_text(config.read_text() + "billing:\n  site_url: https://finops.example.com/ai\n")
    result = run_check(config)
    assert result.exit_code == 1, result.output
    [batch] = sent(workspace)
    assert batch["site_url"] == "https://finops.example.com/ai"


def test_a_site_url_that_is_not_a_url_is_refused_in_one_line_before_anything_is_sent(workspace):
    for url in ("notaurl", "https://", "ftp://finops.example.com/ai/"):
        result = run_check(write_config(workspace, RECORD), "--site-url", url)
        assert result.exit_code == 2 and result.stdout == "", result.output
        assert "--site-url: expected a URL starting with http:// or https://, then a host" in result.stderr
        assert repr(url) in result.stderr and sent(workspace) == []
    config = write_config(workspace, RECORD)
    config.write_text(config.read_text() + "billing:\n  site_url: https://\n")
    result = run_check(config)
    assert result.exit_code == 2 and "billing.site_url: expected a URL" in result.output
    assert sent(workspace) == []


def test_no_notifier_names_the_config_file_in_use(workspace):
    config = workspace / "fake-api.yaml"
    write_config(workspace).rename(config)
    result = run_check(config)
    assert result.exit_code == 1, result.output
    assert "No notifier is configured (notify: in fake-api.yaml): nothing is sent." in result.stdout


# --- a full and a pseudonymised config over one cache ---------------------------------------------------------

PSEUDONYM_KEY = "test-only pseudonym key of the check tests, 7c41e0b9a2d5"
PSEUDONYMISED = "privacy:\n  pseudonymise: true\n"


def test_switching_between_a_full_and_a_pseudonymised_check_sends_nothing_again(workspace):
    """Each keeps its own state: the pseudonymised run's alerts name pseudonyms, and one state for
    both dropped the other's keys (not firing under those names), so every alert about a person was
    sent again at each switch."""
    env = {"CURSOR_API_KEY": "", "BILLING_REPORTS_PSEUDONYM_KEY": PSEUDONYM_KEY}
    full, pseudonymised = write_config(workspace, RECORD), workspace / "pseudonymised.yaml"
    pseudonymised.write_text(full.read_text() + PSEUDONYMISED)
    span = ["--offline", "--end-month", SPIKE_MONTH.key, "--months-back", "3"]
    for config in (full, pseudonymised, full, pseudonymised):
        result = CliRunner(env=env).invoke(cli, ["check", "--config", str(config), *span])
        assert result.exit_code == 1, result.output
    first, second = sent(workspace)[:2]
    assert any(JONAS in key for key in first["keys"]) and not any(JONAS in key for key in second["keys"])
    assert len(sent(workspace)) == 2  # the first full and the first pseudonymised run: no more
    assert (workspace / "cache" / "alert-state-pseudonymised.json").is_file()


def test_a_pseudonymised_check_without_its_key_stops_before_fetching(workspace):
    config = write_config(workspace)
    config.write_text(config.read_text() + PSEUDONYMISED + "api:\n  base_url: http://127.0.0.1:9/\n")
    result = CliRunner(env={"CURSOR_API_KEY": "an-api-key-that-is-never-sent",
                            "BILLING_REPORTS_PSEUDONYM_KEY": ""}).invoke(
        cli, ["check", "--config", str(config), "--end-month", SPIKE_MONTH.key, "--months-back", "1"])
    assert result.exit_code == 2
    [line] = result.output.strip().splitlines()  # the key, and no word of a fetch that failed
    assert "BILLING_REPORTS_PSEUDONYM_KEY" in line


def test_check_demo_reads_the_demo_cache_keeps_its_own_state_and_sends_nothing(workspace):
    config = write_config(workspace, RECORD)
    config.write_text(config.read_text().replace("paths:\n", "paths:\n  demo_dir: demo\n"))
    args = ["check", "--config", str(config), "--demo", "--end-month", SPIKE_MONTH.key, "--months-back", "3"]
    missing = CliRunner().invoke(cli, args, env={"CURSOR_API_KEY": ""})
    assert missing.exit_code == 2 and "run `billing-reports build --demo` first" in missing.output
    demo_cache = workspace / "demo" / "monthly_usage_data"
    shutil.copytree(workspace / "cache", demo_cache)
    shutil.rmtree(workspace / "cache")
    result = CliRunner().invoke(cli, args, env={"CURSOR_API_KEY": ""})  # no key: it must not fetch
    assert result.exit_code == 1, result.output
    assert any(JONAS in line and f"Spend spike on {SPIKE_DATE}" in line for line in result.stdout.splitlines())
    assert "Demo data: nothing is sent to the notifiers." in result.stdout
    assert "No notifier is configured" not in result.stdout and sent(workspace) == []
    assert (demo_cache / "alert-state.json").exists() and not (workspace / "cache").exists()
