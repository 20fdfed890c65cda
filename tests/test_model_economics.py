"""Model economics (issue 17): prices per Mtok, the per-kind price fit, drift, families, the estimate.

Figures on small hand-made ledgers are computed by hand in the comments; the price fit is checked
against prices it must recover exactly (cells made from them) and against the fake API's list
prices (``fakeapi.team.DEFAULT_MODELS``) through a real fetch.
"""

from __future__ import annotations

import dataclasses
import random
import subprocess
import sys
import threading
from datetime import datetime, timezone
from fractions import Fraction

import pytest
from click.testing import CliRunner
from conftest import FakeClock, Now, site_day, utc

from billing_reports.analysis import analyse
from billing_reports.builtin_plugins import model_economics
from billing_reports.builtin_plugins.model_economics import ModelEconomicsSettings, model_economics_section
from billing_reports.builtin_plugins.users_x_expensive_models import ExpensiveModelRule
from billing_reports.cli import cli
from billing_reports.errors import ConfigError
from billing_reports.model_families import DEFAULT_STRIP_RULES, ModelFamilies, StripRuleError
from billing_reports.model_prices import PriceEvidence, fit_prices
from billing_reports.months import Month
from billing_reports.settings import Settings, load_settings
from billing_reports.usage import MonthFacts, OnDemandUsage, UsageTotals

JAN, FEB = Month(2026, 1), Month(2026, 2)
ANN, BOB, CY = "ann@example.com", "bob@example.com", "cy@example.com"
THINKING, DATED, SONNET = "opus-high-thinking", "opus-20250514", "sonnet"
ONE_PERCENT = Fraction(1, 100)


def cell(cost, requests, input_tokens=0, output_tokens=0, cache_write=0, cache_read=0, list_cost=None, fee=0):
    return UsageTotals(cost, requests, input_tokens, output_tokens, cache_write, cache_read,
                       cost if list_cost is None else list_cost, fee)


def usage_of(ledger, months=(JAN, FEB)) -> OnDemandUsage:
    fetched = datetime(2026, 3, 5, tzinfo=timezone.utc)
    return OnDemandUsage(months=list(months), ledger=ledger,
                         month_facts={m: MonthFacts(m, cached=True, complete=True, fetched_at=fetched) for m in months})


def hand_made_usage() -> OnDemandUsage:
    return usage_of({
        # January: Ann on the thinking variant (normal and max mode) and on sonnet; Bob on the dated one
        (site_day(2026, 1, 10), ANN, THINKING, False): cell(3_000_000, 2, 1000, 500, 0, 8500),
        (site_day(2026, 1, 10), ANN, THINKING, True): cell(1_000_000, 1, 1000),
        (site_day(2026, 1, 11), ANN, SONNET, False): cell(600_000, 3, 2000, 1000, 0, 3000),
        (site_day(2026, 1, 12), BOB, DATED, False): cell(2_000_003, 1, 4000),
        # February: Cy on sonnet only
        (site_day(2026, 2, 3), CY, SONNET, False): cell(900_000, 3, 3000),
    })


def section_of(usage, chosen=ModelEconomicsSettings(), expensive=(THINKING, DATED)):
    return model_economics_section(usage, chosen, ExpensiveModelRule(models=tuple(expensive)))


def rows_by(table, *keys):
    index = [[column.key for column in table.columns].index(key) for key in keys]
    return {tuple(row[i] for i in index) if len(index) > 1 else row[index[0]]: dict(
        zip([column.key for column in table.columns], row)) for row in table.rows}


# --- per model and period -------------------------------------------------------------------


def test_per_model_and_period_figures_are_the_hand_computed_ones():
    section = section_of(hand_made_usage())
    models = rows_by(section.table("models"), "in_period", "model")
    assert list(models) == [("February 2026", SONNET), ("January 2026", THINKING), ("January 2026", DATED), ("January 2026", SONNET)]
    thinking = models[("January 2026", THINKING)]
    # 4,000,000 micro-cents over 11,000 tokens = 363,636,363.6... micro-cents per million tokens
    assert thinking["price_per_mtok"] == 363_636_364
    assert thinking["spend"] == 4_000_000 and thinking["requests"] == 3 and thinking["tokens"] == 11_000
    assert thinking["cache_read_share"] == 77.3        # 8,500 of 11,000 tokens
    assert thinking["tokens_per_request"] == 3667      # 11,000 / 3 = 3,666.7
    assert thinking["max_mode_share"] == 25.0          # 1,000,000 of 4,000,000 in max mode
    assert thinking["family"] == "opus"
    dated = models[("January 2026", DATED)]
    assert (dated["price_per_mtok"], dated["family"], dated["max_mode_share"]) == (500_000_750, "opus", 0.0)
    assert models[("February 2026", SONNET)]["price_per_mtok"] == 300_000_000   # 900,000 / 3,000 x 1,000,000
    total = section.table("models").total
    # 7,500,003 micro-cents over 24,000 tokens: 312,500,125 per million, exactly
    assert total[3:7] == [7_500_003, 10, 24_000, 312_500_125]
    assert section.figures[0].value == 312_500_125


def test_families_group_the_variants_and_their_spend_adds_up():
    section = section_of(hand_made_usage())
    families = section.table("families")
    assert [row[:5] for row in families.rows] == [
        ["opus", f"{THINKING}, {DATED}", 6_000_003, 80.0, 4],   # 6,000,003 of 7,500,003
        ["sonnet", SONNET, 1_500_000, 20.0, 6],
    ]
    assert families.total[2] == sum(row[2] for row in families.rows) == 7_500_003
    chart = next(chart for chart in section.charts if chart.slug == "families")
    # a family of two models says so (its name is no model's page); sonnet, the one model, is that model
    assert chart.labels == ["opus (2 models)", "sonnet"] and chart.series[0].values == [6_000_003, 1_500_000]


def test_the_estimated_saving_prices_expensive_requests_at_the_users_cheaper_average():
    section = section_of(hand_made_usage())
    savings = rows_by(section.table("savings"), "user")
    assert list(savings) == [ANN, BOB]   # Cy used no expensive model
    ann = savings[ANN]
    # Ann: 3 expensive requests; her sonnet costs 600,000 for 3 requests, 200,000 each -> 600,000
    assert (ann["expensive_requests"], ann["expensive_spend"], ann["cheaper_average"]) == (3, 4_000_000, 200_000)
    assert (ann["at_cheaper"], ann["saving"], ann["basis"]) == (600_000, 3_400_000, "own cheaper models")
    bob = savings[BOB]
    # Bob used no cheaper model: the team's cheaper average, sonnet's 1,500,000 over 6 requests = 250,000
    assert (bob["cheaper_average"], bob["at_cheaper"], bob["saving"]) == (250_000, 250_000, 1_750_003)
    assert bob["basis"].startswith("team average")
    total = section.table("savings").total
    assert total[-1] == 5_150_003 == section.figures[-1].value
    assert "estimate" in section.table("savings").title and "assumes" in section.table("savings").description


def test_without_any_cheaper_model_there_is_no_estimate_and_it_says_so():
    usage = usage_of({(site_day(2026, 1, 10), ANN, THINKING, False): cell(3_000_000, 2, 1000)})
    row = section_of(usage).table("savings").rows[0]
    assert row[0] == ANN and row[5] is None and row[6] is None and "no estimate" in row[4]


# --- the per-kind price fit -----------------------------------------------------------------------

#: List prices in micro-cents per token (= cents per million tokens): input, output, cache write, read.
PRICES = (300, 1500, 375, 30)


def priced_cells(count, prices=PRICES, seed=17):
    """Cells of varied sizes whose list cost is exactly ``prices`` x tokens (plus a token fee)."""
    rng = random.Random(seed)
    for _ in range(count):
        tokens = [rng.randrange(1, 50_000), rng.randrange(1, 5_000), rng.randrange(0, 20_000),
                  rng.randrange(0, 200_000)]
        fee = rng.randrange(0, 1000)
        yield tokens, sum(p * t for p, t in zip(prices, tokens)) + fee, fee


def evidence_of(cells) -> PriceEvidence:
    cells = list(cells)
    return PriceEvidence.of_columns(list(zip(*[tokens for tokens, _, _ in cells])),
                                    [list_cost - fee for _, list_cost, fee in cells])


def test_the_fit_recovers_exact_prices_exactly():
    fit = fit_prices(evidence_of(priced_cells(30)), min_cells=8, tolerance=ONE_PERCENT)
    assert fit.attributed and fit.prices == tuple(Fraction(p) for p in PRICES) and fit.unexplained == 0
    assert fit.per_million() == tuple(p * 1_000_000 for p in PRICES)


def test_a_kind_no_cell_used_has_no_price_and_the_others_are_still_fitted():
    cells = [([i, o, 0, r], 300 * i + 1500 * o + 30 * r, 0) for (i, o, _w, r), _, _ in priced_cells(12)]
    fit = fit_prices(evidence_of(cells), min_cells=8, tolerance=ONE_PERCENT)
    assert fit.attributed and fit.prices == (300, 1500, None, 30) and fit.absent == ("cache write",)
    assert model_economics.fit_note(fit) == "fitted; no cache write tokens"


@pytest.mark.parametrize("case, reason", [
    ("too few cells", "5 cells, at least 8 needed"),
    ("same proportions", "always come in the same proportions"),
    ("two price lists", "of the cost unexplained"),
    ("negative price", "negative price"),
])
def test_the_fit_is_refused_when_it_cannot_be_trusted(case, reason):
    rng = random.Random(5)
    if case == "too few cells":
        cells = list(priced_cells(5))
    elif case == "same proportions":  # output always twice the input: only their sum's price is known
        cells = [([n, 2 * n, 0, 0], 300 * n + 1500 * 2 * n, 0) for n in (rng.randrange(1, 9999) for _ in range(20))]
    elif case == "two price lists":   # the prices doubled halfway through the period
        cells = [(tokens, cost if index % 2 else 2 * cost, 0) for index, (tokens, cost, _) in
                 enumerate(priced_cells(40, seed=3))]
    else:                             # cost = 300 x input - 40 x output: no price list
        cells = [([i, o, 0, 0], 300 * i - 40 * o, 0) for i, o in
                 ((rng.randrange(5000, 9999), rng.randrange(1000, 2999)) for _ in range(20))]
    fit = fit_prices(evidence_of(cells), min_cells=8, tolerance=ONE_PERCENT)
    assert not fit.attributed and fit.prices == (None,) * 4 and reason in fit.reason
    assert model_economics.fit_note(fit).startswith("— not attributed: ")


def test_the_fit_recovers_the_fake_apis_list_prices_through_a_real_fetch(tmp_path):
    from billing_reports.fakeapi import FakeCursorApi, SyntheticTeam
    from billing_reports.fakeapi.team import DEFAULT_MODELS
    from billing_reports.fetching import fetch_months

    now = Now(utc("2026-11-30T08:00:00"))
    months = [Month(2026, 10), Month(2026, 11)]
    with FakeCursorApi(SyntheticTeam(now=now, months=months), rate_limit_per_minute=None) as api:
        settings = dataclasses.replace(Settings(config_path=tmp_path / "config.yaml"), data_dir=tmp_path / "cache",
                                       api_base_url=api.base_url, request_delay_seconds=0.0)
        clock = FakeClock()
        fetch_months(settings, months, api_key=api.api_key, now=now, clock=clock, sleep=clock.sleep)
    section = next(s for s in analyse(settings, months).sections if s.slug == model_economics.SLUG)
    rows = section.table("token-prices").rows
    prices = {model.name: model for model in DEFAULT_MODELS}
    assert {(row[0], row[1]) for row in rows} == {(month.label, name) for month in months for name in prices}
    assert {row[2] for row in rows if row[1] == "claude-4.6-opus-high-thinking"} == {"normal", "max mode"}
    for row in rows:
        assert row[-1] == "fitted", row
        known = prices[row[1]]
        for fitted, price in zip(row[4:8], (known.input, known.output, known.cache_write, known.cache_read)):
            # micro-cents per million tokens against cents per million tokens: within 0.01 cent per Mtok
            assert abs(fitted - price * 1_000_000) <= 10_000, (row, price)


# --- price drift ----------------------------------------------------------------------------------


def drift_usage(february_cost, february_requests=100):
    """A model at 1,000,000 micro-cents per million tokens in January, then ``february_cost`` per million."""
    return usage_of({
        (site_day(2026, 1, 5), ANN, "m", False): cell(1_000_000, 100, 1_000_000),
        (site_day(2026, 2, 5), ANN, "m", False): cell(february_cost, february_requests, 1_000_000),
    })


@pytest.mark.parametrize("february_cost, requests, threshold, flagged", [
    (1_200_000, 100, 20.0, False),   # exactly 20 % more: not more than the threshold
    (1_200_001, 100, 20.0, True),    # a micro-cent over it
    (799_999, 100, 20.0, True),      # a fall counts as well
    (800_000, 100, 20.0, False),
    (1_200_000, 100, 19.9, True),
    (1_500_000, 99, 20.0, False),    # too few requests in February to compare
])
def test_price_drift_is_flagged_above_the_threshold_with_enough_usage(february_cost, requests, threshold, flagged):
    chosen = ModelEconomicsSettings(drift_threshold_percent=threshold)
    drift = section_of(drift_usage(february_cost, requests), chosen, expensive=()).table("drift")
    assert bool(drift.rows) is flagged
    if flagged:
        row = dict(zip([column.key for column in drift.columns], drift.rows[0]))
        assert (row["model"], row["from_period"], row["to_period"]) == ("m", "January 2026", "February 2026")
        assert (row["price_before"], row["price_after"]) == (1_000_000, february_cost)
        assert row["change"] == round((february_cost - 1_000_000) / 10_000, 1)


def test_drift_needs_enough_tokens_in_both_periods():
    chosen = ModelEconomicsSettings(drift_min_tokens=1_000_001)
    assert section_of(drift_usage(2_000_000), chosen, expensive=()).table("drift").rows == []


# --- families and their rules ---------------------------------------------------------------------


@pytest.mark.parametrize("model, family", [
    ("claude-4.6-opus-high-thinking", "claude-4.6-opus"),
    ("claude-4-sonnet-20250514-thinking", "claude-4-sonnet"),   # whichever rule comes first
    ("gpt-5-high", "gpt-5"),
    ("gpt-5-codex", "gpt-5-codex"),
    ("gemini-2.5-pro-preview-05-06", "gemini-2.5-pro"),
    ("gpt-4o-2024-08-06", "gpt-4o"),
    ("o3", "o3"),
    ("-max", "-max"),          # a rule that would leave nothing is not applied
])
def test_the_default_rules_give_families(model, family):
    assert ModelFamilies.compile(DEFAULT_STRIP_RULES).family_of(model) == family


def test_configured_rules_replace_the_defaults(tmp_path):
    (tmp_path / "config.yaml").write_text(
        "plugins:\n  model-economics:\n    family_rules: ['-v\\d+$', '^acme-']\n", encoding="utf-8")
    chosen = load_settings(tmp_path / "config.yaml").plugin("model-economics")
    families = ModelFamilies.compile(chosen.family_rules)
    assert families.family_of("acme-coder-v2") == "coder" and families.family_of("gpt-5-high") == "gpt-5-high"


@pytest.mark.parametrize("rules, problem", [
    ("['-high$', '(']", "family_rules: rule 2 '(' is not a pattern RE2 accepts (missing ): ("),
    ("['(a)\\1']", "family_rules: rule 1 '(a)\\\\1' is not a pattern RE2 accepts (invalid escape sequence"),
    ("['(?<=x)y']", "family_rules: rule 1 '(?<=x)y' is not a pattern RE2 accepts"),
])
def test_a_bad_rule_is_one_line_naming_the_key(tmp_path, rules, problem):
    (tmp_path / "config.yaml").write_text(f"plugins:\n  model-economics:\n    family_rules: {rules}\n",
                                          encoding="utf-8")
    with pytest.raises(ConfigError) as raised:
        load_settings(tmp_path / "config.yaml")
    heading, *problems = raised.value.message.splitlines()   # the config's problems, one line each
    assert heading.endswith("1 problem; fix it and run again:")
    assert len(problems) == 1 and problems[0].strip().startswith(f"plugins.model-economics: {problem}")


def test_the_command_line_shows_a_bad_rule_in_one_line_and_nothing_else(tmp_path):
    """In a process of its own: RE2 would log a bad pattern on the process's stderr, past click."""
    (tmp_path / "config.yaml").write_text("plugins:\n  model-economics:\n    family_rules: ['(']\n", encoding="utf-8")
    result = subprocess.run([sys.executable, "-c", "from billing_reports.cli import main; main()", "report",
                             "--config", str(tmp_path / "config.yaml")], capture_output=True, text=True, timeout=120)
    assert result.returncode != 0 and result.stdout == ""
    heading, *problems = result.stderr.splitlines()   # nothing from RE2's own logging
    assert heading.startswith("Error: ") and heading.endswith("1 problem; fix it and run again:"), result.stderr
    assert len(problems) == 1 and "plugins.model-economics: family_rules: rule 1 '('" in problems[0], result.stderr


@pytest.mark.parametrize("block, problem", [
    ("family_rules: -high", "plugins.model-economics.family_rules: expected a list of non-empty strings"),
    ("family_rules: ['']", "plugins.model-economics.family_rules: expected a list of non-empty strings"),
    ("drift_threshold_percent: 0", "plugins.model-economics.drift_threshold_percent: expected a number"),
    ("fit_min_cells: 4", "plugins.model-economics.fit_min_cells: expected an integer from 5 to"),
])
def test_other_bad_settings_name_their_key(tmp_path, block, problem):
    (tmp_path / "config.yaml").write_text(f"plugins:\n  model-economics:\n    {block}\n", encoding="utf-8")
    with pytest.raises(ConfigError, match=problem.replace(".", r"\.")):
        load_settings(tmp_path / "config.yaml")


def test_a_catastrophic_pattern_does_not_hang_on_a_hostile_name():
    """``(a+)+$`` takes Python's re about 2^n steps on n a's and a stray character; RE2 is linear."""
    families = ModelFamilies.compile(["(a+)+$", "(x|xx)*y$"])
    hostile = ["a" * 300 + "!", "x" * 300 + "!"]
    found: list[str] = []
    worker = threading.Thread(target=lambda: found.extend(map(families.family_of, hostile)), daemon=True)
    worker.start()
    worker.join(timeout=60)  # a hang detector, not a speed target: Python's re would not finish this century
    assert found == hostile


def test_strip_rule_errors_carry_the_rule():
    with pytest.raises(StripRuleError) as raised:
        ModelFamilies.compile(["ok$", "[z-a]"])
    assert (raised.value.index, raised.value.pattern) == (1, "[z-a]")
    assert "invalid character class range" in str(raised.value)


# --- the report, the site, the downloads ------------------------------------------------------


def test_the_text_report_shows_the_section(analysis_config):
    result = CliRunner().invoke(cli, ["report", "--config", str(analysis_config), "--months-back", "5",
                                      "--end-month", "2026-03"])
    assert result.exit_code == 0, result.output
    assert "Model economics" in result.output and "Per model" in result.output
    assert "What the costliest choices cost (estimate)" in result.output
    assert "List price per token kind" not in result.output   # the default view keeps to its text_view
    # the estimate's rows name their user (a newcomer met a table of bare numbers)
    estimate = result.output[result.output.index("What the costliest choices cost (estimate)"):]
    header = next(line for line in estimate.splitlines() if "Expensive" in line or "expensive" in line)
    assert "User" in header, header
    assert "a@example.com" in estimate or "b@example.com" in estimate


HOSTILE_MODEL = '<img src=x onerror="window.hacked=1">-thinking'
HOSTILE_USER = '"><script>window.hacked=2</script>@example.com'


def hostile_usage() -> OnDemandUsage:
    return usage_of({
        (site_day(2026, 1, 10), HOSTILE_USER, HOSTILE_MODEL, False): cell(345_678_901, 2, 1000, 500, 0, 8500),
        (site_day(2026, 1, 11), HOSTILE_USER, SONNET, False): cell(60_000_001, 3, 2000, 1000, 0, 3000),
        (site_day(2026, 2, 11), ANN, SONNET, False): cell(100_000, 1, 2000),
    })


def test_the_page_in_a_real_browser_shows_the_figures_with_hostile_names_as_text(tmp_path, chromium_browser):
    from billing_reports.site import build_site

    settings = Settings(config_path=tmp_path / "config.yaml", site_dir=tmp_path / "site", data_dir=tmp_path / "cache")
    section = section_of(hostile_usage(), expensive=(HOSTILE_MODEL,))
    site = build_site(settings, hostile_usage(), [section]).directory
    page = chromium_browser.new_page()
    dialogs: list[str] = []
    page.on("dialog", lambda dialog: (dialogs.append(dialog.message), dialog.dismiss()))
    try:
        page.goto((site / f"{model_economics.SLUG}.html").as_uri())
        assert page.evaluate("window.hacked") is None and dialogs == []
        assert page.locator("h1").inner_text() == "Model economics"
        text = page.locator("main").inner_text()
        savings = page.locator("table", has=page.locator("th", has_text="Difference at cheaper models"))
        saving_row = savings.locator("tbody tr").first.inner_text()
        fit_rows = page.locator("table", has=page.locator("th", has_text="Cache write / Mtok")).locator("tbody tr")
        fit_text = fit_rows.first.inner_text()
    finally:
        page.close()
    assert HOSTILE_MODEL in text and HOSTILE_USER in text   # shown as the names they are
    # the hostile user: 2 requests at their sonnet average (60,000,001 / 3 = 20,000,000.33 micro-cents each):
    # 40,000,000.67 -> 40,000,001; spent 345,678,901 ($3.46), so 305,678,900 ($3.06) saved
    assert HOSTILE_USER in saving_row and all(text in saving_row for text in ("$3.46", "$0.2000", "$0.40", "$3.06"))
    assert "— not attributed: 1 cell, at least 8 needed" in fit_text
    assert "an estimate" in text.lower() and "assumes" in text


def test_downloads_carry_unrounded_amounts(tmp_path):
    from billing_reports.site import build_site

    settings = Settings(config_path=tmp_path / "config.yaml", site_dir=tmp_path / "site", data_dir=tmp_path / "cache")
    section = section_of(hostile_usage(), expensive=(HOSTILE_MODEL,))
    site = build_site(settings, hostile_usage(), [section]).directory
    csv_text = (site / "data" / f"{model_economics.SLUG}--savings.csv").read_text(encoding="utf-8")
    assert "3.45678901" in csv_text and "3.05678900" in csv_text   # spend, and 345,678,901 - 40,000,001 exactly
    families = (site / "data" / f"{model_economics.SLUG}--families.json").read_text(encoding="utf-8")
    assert "3.45678901" in families and HOSTILE_MODEL.replace('"', '\\"') in families


def test_the_price_chart_reads_in_dollars_per_million_tokens_as_the_tables_do():
    import re

    from billing_reports.site.charts import render_chart, shown_values

    chart = next(chart for chart in section_of(hand_made_usage()).charts if chart.slug == "price-per-mtok")
    assert chart.unit == "unit_price" and chart.labels == ["Jan 2026", "Feb 2026"]
    thinking = next(series for series in chart.series if series.name == THINKING)
    assert thinking.values == [363_636_364, None]                  # the table's price, and no use in February
    assert shown_values(chart)[[s.name for s in chart.series].index(THINKING)] == ["$3.6364", "—"]
    svg = str(render_chart(chart, id_prefix="t"))
    ticks = re.findall(r'class="axis-label"[^>]*text-anchor="end"[^>]*>([^<]+)<', svg)   # the y axis
    assert ticks and all(tick.startswith("$") for tick in ticks), ticks   # dollars, not micro-cents


# --- the review's points: drift told from mix, finer grains, cut tables ---------------------------


def mix_usage(january_mix, february_mix, february_prices=(300, 30)):
    """Model "m" on input and cache-read tokens only: 4 cells of each (input, cache read) pair of a month's
    mix, 25 requests each, at 300 / 30 micro-cents per token in January and ``february_prices`` after."""
    ledger = {}
    for month, mix, (p_in, p_read) in ((1, january_mix, (300, 30)), (2, february_mix, february_prices)):
        for number in range(8):
            tokens_in, tokens_read = mix[number % 2]
            ledger[(site_day(2026, month, 1 + number), ANN, "m", False)] = cell(
                p_in * tokens_in + p_read * tokens_read, 25, tokens_in, 0, 0, tokens_read)
    return usage_of(ledger)


LOOSE = ModelEconomicsSettings(drift_min_requests=1, drift_min_tokens=1)


def test_a_cache_share_move_at_unchanged_list_prices_is_told_from_a_price_move():
    # January: 4 x (9,000 in, 1,000 read) + 4 x (7,000, 3,000): 64,000 in, 16,000 read = 19,680,000 micro-cents
    # over 80,000 tokens, 246,000,000 per Mtok, 20 % cache reads. February at the same prices: 4 x (5,000,
    # 5,000) + 4 x (3,000, 7,000): 32,000 in, 48,000 read = 11,040,000 over 80,000, 138,000,000 per Mtok
    # (-43.9 %), 60 % cache reads; list prices at January's mix unchanged (0 %)
    section = section_of(mix_usage([(9000, 1000), (7000, 3000)], [(5000, 5000), (3000, 7000)]), LOOSE, ())
    row = rows_by(section.table("drift"), "model")["m"]
    assert (row["price_before"], row["price_after"], row["change"]) == (246_000_000, 138_000_000, -43.9)
    assert row["list_price_change"] == 0.0 and row["why"].startswith("mix or discounts")
    assert (row["cache_read_share_before"], row["cache_read_share_after"], row["cache_read_share_change"]) == \
        (20.0, 60.0, 40.0)
    assert section.figures[1].label == "List price moves flagged" and section.figures[1].value == 0


def test_list_prices_moving_at_the_same_mix_are_counted_as_a_price_move():
    # the same mix both months, February at 450 / 45: every token 1.5 x dearer, effective and list +50 %
    mix = [(9000, 1000), (7000, 3000)]
    section = section_of(mix_usage(mix, mix, february_prices=(450, 45)), LOOSE, ())
    row = rows_by(section.table("drift"), "model")["m"]
    assert (row["change"], row["list_price_change"], row["why"]) == (50.0, 50.0, model_economics.LIST_PRICES)
    assert row["cache_read_share_change"] == 0.0 and section.figures[1].value == 1


def test_a_move_without_fitted_prices_says_it_may_be_mix():
    row = rows_by(section_of(drift_usage(1_500_000), expensive=()).table("drift"), "model")["m"]   # 1 cell a month
    assert row["list_price_change"] is None and "may be mix" in row["why"]


def test_a_day_grain_is_read_month_by_month():
    from billing_reports.periods import ReportRange

    usage = dataclasses.replace(hand_made_usage(), report_range=ReportRange.of_months([JAN, FEB], "day"))
    assert usage.grain == "day"
    section = section_of(usage)
    assert {row[0] for row in section.table("models").rows} == {"January 2026", "February 2026"}
    assert "read by month" in section.intro


def test_long_tables_are_cut_on_the_page_and_whole_in_the_downloads():
    section = model_economics_section(hand_made_usage(), ModelEconomicsSettings(),
                                      ExpensiveModelRule(models=(THINKING, DATED)), 1)
    savings = section.table("savings")
    # Ann's difference 3,400,000 comes first; Bob (1,750,003) is summed as the other user
    assert [row[0] for row in savings.rows] == [ANN, "Other (1 user)"] and savings.rows[1][6] == 1_750_003
    assert savings.total[-1] == 5_150_003 and [row[0] for row in savings.full.rows] == [ANN, BOB]
    models = section.table("models")
    # February alone on the page (its one model, sonnet); every period and model in the downloads
    assert [row[:2] for row in models.rows] == [["February 2026", SONNET]] and models.total[3] == 900_000
    assert len(models.full.rows) == 4 and models.full.total[3] == 7_500_003
    assert [row[0] for row in section.table("token-prices").rows] == ["February 2026"]


def test_the_period_reads_in_the_page_headers_words():
    # the hand-made January and February, both whole: the header's "January 2026 – February 2026"
    section = section_of(hand_made_usage())
    assert section.figures[-1].note.startswith("January 2026 – February 2026: the expensive models' requests")
    assert section.table("savings").description.startswith("January 2026 – February 2026. An estimate")
    # February fetched on the 10th: still in progress, and the note says which period is to date
    fetched = datetime(2026, 2, 10, 12, tzinfo=timezone.utc)
    usage = dataclasses.replace(hand_made_usage(), month_facts={
        JAN: MonthFacts(JAN, cached=True, complete=True, fetched_at=datetime(2026, 2, 5, tzinfo=timezone.utc)),
        FEB: MonthFacts(FEB, cached=True, complete=False, fetched_at=fetched)})
    assert section_of(usage).figures[-1].note.startswith(
        "January 2026 – February 2026 (February 2026 to date): the expensive models' requests")


def test_a_token_price_table_cut_to_the_latest_period_says_how_much_of_it_is_shown():
    # 5 rows: January's thinking (normal and max mode), dated and sonnet, February's sonnet; a page of 1 row
    # holds all of February: no "first 1 row of 1"
    alone = model_economics_section(hand_made_usage(), ModelEconomicsSettings(),
                                    ExpensiveModelRule(models=(THINKING, DATED)), 1).table("token-prices")
    assert alone.description.endswith(" Shown: February 2026 alone (costliest models first); the CSV and JSON "
                                      "hold every period, model and mode (5 rows).")
    # February with sonnet and the dated opus: 2 rows of it, 1 shown; 3 rows in all
    usage = usage_of({(site_day(2026, 1, 3), ANN, SONNET, False): cell(600_000, 3, 2000),
                      (site_day(2026, 2, 3), ANN, SONNET, False): cell(600_000, 3, 2000),
                      (site_day(2026, 2, 4), BOB, DATED, False): cell(2_000_000, 1, 4000)})
    cut = model_economics_section(usage, ModelEconomicsSettings(), ExpensiveModelRule(models=(DATED,)),
                                  1).table("token-prices")
    assert [row[:2] for row in cut.rows] == [["February 2026", DATED]]
    assert cut.description.endswith(" Shown: February 2026's first 1 row (costliest models first) of 2; the CSV "
                                    "and JSON hold every period, model and mode (3 rows).")


def test_a_family_of_one_model_named_otherwise_is_shown_by_its_model():
    # the thinking variant alone in January: family "opus" of one model; sonnet its own family
    usage = usage_of({(site_day(2026, 1, 10), ANN, THINKING, False): cell(3_000_000, 2, 1000),
                      (site_day(2026, 1, 11), ANN, SONNET, False): cell(600_000, 3, 2000)}, months=(JAN,))
    section = section_of(usage)
    assert [row[:2] for row in section.table("families").rows] == [["opus", THINKING], ["sonnet", SONNET]]
    chart = next(chart for chart in section.charts if chart.slug == "families")
    assert chart.labels == [THINKING, SONNET] and chart.series[0].values == [3_000_000, 600_000]


# --- the sums per model and period, whichever way they are found ------------------------------


def _naive_model_periods(usage, periods):
    """Cell by cell: what ``model_periods`` must find, whether a month adds its kept sums per model and
    max mode (a month in one period) or is grouped cell by cell (a month periods cut)."""
    found = {}
    for (day, _user, model, mode), totals in usage.ledger.items():
        index = next((i for i, period in enumerate(periods) if period.first_day <= day <= period.last_day), None)
        if index is None:
            continue
        entry = found.setdefault((index, model), model_economics.ModelPeriod())
        entry.totals = [a + b for a, b in zip(entry.totals, totals)]
        entry.max_mode_cost += totals.cost if mode else 0
        evidence = PriceEvidence.of_columns([[totals.input_tokens], [totals.output_tokens], [totals.cache_write_tokens],
                                             [totals.cache_read_tokens]], [totals.list_cost - totals.token_fee])
        entry.evidence[mode] = entry.evidence[mode] + evidence if mode in entry.evidence else evidence
    return found


def _random_usage(seed):
    draw = random.Random(seed)
    ledger = {}
    for _ in range(400):
        key = (site_day(2026, draw.choice((1, 2)), draw.randint(1, 28)), draw.choice((ANN, BOB, CY)),
               draw.choice((THINKING, DATED, SONNET)), draw.random() < 0.3)
        tokens = [draw.choice((0, draw.randint(1, 10**7))) for _ in range(4)]
        list_cost = draw.randint(0, 10**9)
        ledger[key] = cell(draw.randint(0, list_cost), draw.randint(1, 50), *tokens, list_cost=list_cost,
                           fee=draw.randint(0, 10**5))
    return usage_of(ledger)


@pytest.mark.parametrize("seed", range(3))
@pytest.mark.parametrize("periods", ["month", "week", "cycle from the 17th", "the range as one"])
def test_the_sums_per_model_and_period_are_those_of_the_cells_one_by_one(seed, periods):
    from billing_reports.periods import Period, cut_periods

    usage = _random_usage(seed)
    first, last = site_day(2026, 1, 1), site_day(2026, 2, 28)
    chosen = {"month": lambda: cut_periods("month", first, last),
              "week": lambda: cut_periods("week", first, last),
              "cycle from the 17th": lambda: cut_periods("cycle", first, last, cycle_start=site_day(2026, 1, 17)),
              "the range as one": lambda: [Period(first, last, "range", first, last)]}[periods]()
    found = model_economics.model_periods(usage, chosen)
    expected = _naive_model_periods(usage, chosen)
    assert sorted(found) == sorted(expected)
    for key, entry in expected.items():
        assert (found[key].totals, found[key].max_mode_cost, found[key].evidence) == (
            entry.totals, entry.max_mode_cost, entry.evidence), key
