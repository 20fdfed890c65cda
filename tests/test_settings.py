from pathlib import Path

import pytest
from click.testing import CliRunner

from billing_reports.errors import ConfigError
from billing_reports.settings import load_settings


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "config.yaml"
    path.write_text(text)
    return path


def test_every_bad_key_is_reported_at_once(tmp_path):
    path = write(
        tmp_path,
        "billing:\n  page_size: 5000\n  months_back: two\n  top_spender_count: 5\n"
        "api:\n  base_url: ftp://x\nextra: {}\n",
    )
    with pytest.raises(ConfigError) as raised:
        load_settings(path)
    message = raised.value.message
    assert str(path) in message and "5 problems" in message
    assert "billing.page_size: expected an integer from 1 to 1000, found 5000" in message
    assert "billing.months_back: expected an integer from 1 to 120, found 'two'" in message
    assert "billing.top_spender_count: unknown key" in message
    assert "api.base_url: expected a URL" in message
    assert "extra: unknown section" in message


def test_paths_are_relative_to_the_config_file_and_floats_are_allowed(tmp_path):
    path = write(tmp_path, "billing:\n  request_delay_seconds: 0.5\npaths:\n  data_dir: cache\n")
    settings = load_settings(path)
    assert settings.request_delay_seconds == 0.5
    assert settings.data_dir == tmp_path / "cache"
    assert settings.site_dir == tmp_path / "data" / "site"


def test_the_environment_overrides_the_base_url(tmp_path, monkeypatch):
    monkeypatch.setenv("CURSOR_API_BASE_URL", "http://127.0.0.1:9/")
    assert load_settings(write(tmp_path, "")).api_base_url == "http://127.0.0.1:9"


def test_the_key_comes_from_dotenv_next_to_the_config(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path.parent)
    (tmp_path / ".env").write_text("CURSOR_API_KEY=key_from_dotenv\n")
    assert load_settings(write(tmp_path, "")).api_key == "key_from_dotenv"
    monkeypatch.setenv("CURSOR_API_KEY", "key_from_env")
    assert load_settings(tmp_path / "config.yaml").api_key == "key_from_env"


def test_broken_yaml_and_a_missing_file_are_one_line_errors(tmp_path):
    with pytest.raises(ConfigError, match="not valid YAML at line 3"):
        load_settings(write(tmp_path, "billing:\n  months_back: [1\n"))
    with pytest.raises(ConfigError, match="no such config file"):
        load_settings(tmp_path / "nope.yaml")


def test_the_shipped_config_is_valid():
    settings = load_settings(Path(__file__).parent.parent / "config.yaml")
    assert settings.page_size == 1000 and settings.output_filename == "billing_dashboard.html"


def test_cli_shows_config_problems_without_a_traceback(tmp_path):
    from billing_reports.cli import cli
    from billing_reports.commands.options import config_option

    @cli.command("probe-config", hidden=True)
    @config_option
    def probe(settings):
        pass

    try:
        result = CliRunner().invoke(cli, ["probe-config", "--config", str(write(tmp_path, "billing:\n  page_size: 0\n"))])
    finally:
        cli.commands.pop("probe-config")
    assert result.exit_code == 1
    assert "billing.page_size: expected an integer from 1 to 1000, found 0" in result.output
    assert "Traceback" not in result.output


@pytest.mark.parametrize(
    "written",
    ["2026-01-17", "'2026-01-17'", "2026-01-17T00:00:00Z", "'2026-01-17T00:00:00Z'", "2026-01-17 01:00:00+01:00"],
)
def test_the_cycle_start_is_a_day_as_a_yaml_date_a_string_or_a_midnight_timestamp(tmp_path, written):
    settings = load_settings(write(tmp_path, f"billing:\n  cycle_start: {written}\n"))
    assert settings.cycle_start == 20470  # 2026-01-17: days since 1970-01-01


def test_the_cycle_start_is_not_configured_by_default(tmp_path):
    assert load_settings(write(tmp_path, "")).cycle_start is None
    assert load_settings(write(tmp_path, "billing:\n  cycle_start: null\n")).cycle_start is None


@pytest.mark.parametrize(
    "written, found",
    [
        ("2026-01-17T08:30:00Z", "found 2026-01-17T08:30:00Z"),  # a YAML timestamp
        ("'2026-01-17T08:30:00Z'", "found '2026-01-17T08:30:00Z'"),  # a string
    ],
)
def test_a_cycle_start_not_at_midnight_utc_is_refused_with_the_other_problems(tmp_path, written, found):
    path = write(tmp_path, f"billing:\n  cycle_start: {written}\n  page_size: 0\n")
    with pytest.raises(ConfigError) as raised:
        load_settings(path)
    lines = [line.strip() for line in raised.value.message.splitlines()]
    assert "2 problems" in lines[0]
    assert (
        "billing.cycle_start: expected a cycle start at 00:00:00 UTC (billing cycles are whole UTC days), "
        f"{found}" in lines
    )


@pytest.mark.parametrize("written, found", [("soon", "'soon'"), ("17", "17"), ("'2026-02-30'", "'2026-02-30'")])
def test_a_cycle_start_that_is_no_date_names_the_key_and_the_forms_it_takes(tmp_path, written, found):
    with pytest.raises(ConfigError) as raised:
        load_settings(write(tmp_path, f"billing:\n  cycle_start: {written}\n"))
    assert "billing.cycle_start: expected a " in raised.value.message
    assert f"found {found}" in raised.value.message


def test_billing_period_is_month_or_cycle_and_a_wrong_one_is_reported_with_the_other_problems(tmp_path):
    assert load_settings(write(tmp_path, "")).period == "month"
    assert load_settings(write(tmp_path, "billing:\n  period: cycle\n")).period == "cycle"
    assert _problems(tmp_path, "billing:\n  period: quarter\n  page_size: 0\napi:\n  max_retries: -1\n") == [
        "billing.period: expected month or cycle, found 'quarter'",
        "billing.page_size: expected an integer from 1 to 1000, found 0",
        "api.max_retries: expected an integer from 0 to 10, found -1",
    ]
    assert _problems(tmp_path, "billing:\n  period: Cycle\n") == ["billing.period: expected month or cycle, found 'Cycle'"]


def test_a_yaml_date_that_does_not_exist_is_a_one_line_error(tmp_path):
    # YAML reads an unquoted 2026-02-30 as a date and fails outside its own error type.
    with pytest.raises(ConfigError, match=r"config.yaml: a date or time in it does not exist \(day is out of range"):
        load_settings(write(tmp_path, "billing:\n  cycle_start: 2026-02-30\n"))


def test_fetch_overlap_hours_defaults_to_a_day_and_must_be_a_non_negative_number(tmp_path):
    assert load_settings(write(tmp_path, "")).fetch_overlap_hours == 24.0
    assert load_settings(write(tmp_path, "fetch:\n  overlap_hours: 6.5\n")).fetch_overlap_hours == 6.5
    assert load_settings(write(tmp_path, "fetch:\n  overlap_hours: 0\n")).fetch_overlap_hours == 0.0
    for bad, shown in (("-1", "-1"), ("a day", "'a day'"), (".inf", "inf"), ("true", "True")):
        with pytest.raises(ConfigError) as raised:
            load_settings(write(tmp_path, f"fetch:\n  overlap_hours: {bad}\n"))
        assert f"fetch.overlap_hours: expected a number from 0 to 8784, found {shown}" in raised.value.message
    with pytest.raises(ConfigError, match=r"fetch\.overlap_hour: unknown key; expected one of overlap_hours"):
        load_settings(write(tmp_path, "fetch:\n  overlap_hour: 6\n"))


# --- paths that overlap: a build's swap or build --demo would destroy or mix data (issue 11) ---------


def _problems(tmp_path: Path, text: str) -> list[str]:
    with pytest.raises(ConfigError) as raised:
        load_settings(write(tmp_path, text))
    return [line.strip() for line in raised.value.message.splitlines()[1:]]


@pytest.mark.parametrize(
    "paths, problem",
    [
        ("data_dir: out\n  site_dir: out",
         "paths.site_dir: expected a folder apart from paths.data_dir, found {root}/out, the same folder as "
         "paths.data_dir; a build replaces site_dir whole"),
        ("data_dir: out/site/cache\n  site_dir: out/site",
         "paths.site_dir: expected a folder apart from paths.data_dir, found {root}/out/site, which contains "
         "paths.data_dir ({root}/out/site/cache); a build replaces site_dir whole"),
        ("data_dir: out\n  site_dir: out/site",
         "paths.site_dir: expected a folder apart from paths.data_dir, found {root}/out/site, inside "
         "paths.data_dir ({root}/out); the cache, the site and the demo each need a folder of their own"),
        ("demo_dir: data",  # the default data_dir is data/monthly_usage_data
         "paths.demo_dir: expected a folder apart from paths.data_dir, found {root}/data, which contains "
         "paths.data_dir ({root}/data/monthly_usage_data); build --demo writes synthetic months and a site "
         "under demo_dir"),
        ("demo_dir: data/site/demo",
         "paths.demo_dir: expected a folder apart from paths.site_dir, found {root}/data/site/demo, inside "
         "paths.site_dir ({root}/data/site); a build replaces site_dir whole"),
        ("data_dir: cache\n  demo_dir: cache",
         "paths.demo_dir: expected a folder apart from paths.data_dir, found {root}/cache, the same folder as "
         "paths.data_dir; build --demo writes synthetic months and a site under demo_dir"),
        ("plugins_dir: data/site/plugins",
         "paths.plugins_dir: expected a folder apart from paths.site_dir, found {root}/data/site/plugins, inside "
         "paths.site_dir ({root}/data/site); a build replaces site_dir whole"),
        ("templates_dir: data/demo",
         "paths.templates_dir: expected a folder apart from paths.demo_dir, found {root}/data/demo, the same "
         "folder as paths.demo_dir; build --demo writes synthetic months and a site under demo_dir"),
        ("site_dir: .\n  data_dir: /var/cache/billing\n  demo_dir: /var/cache/billing-demo",
         "paths.site_dir: expected a folder apart from the folder of config.yaml, found {root}, the same folder "
         "as the folder of config.yaml; a build replaces site_dir whole"),
    ],
)
def test_overlapping_paths_are_refused_naming_the_key_what_was_expected_and_found(tmp_path, paths, problem):
    root = tmp_path.resolve()
    assert _problems(tmp_path, f"paths:\n  {paths}\n")[0] == problem.format(root=root)


def test_a_demo_folder_holding_the_cache_and_the_site_is_two_problems(tmp_path):
    assert [problem.split(", found")[0] for problem in _problems(tmp_path, "paths:\n  demo_dir: data\n")] == [
        "paths.demo_dir: expected a folder apart from paths.data_dir",
        "paths.demo_dir: expected a folder apart from paths.site_dir",
    ]


def test_every_overlap_is_reported_with_the_other_problems(tmp_path):
    problems = _problems(tmp_path, "billing:\n  page_size: 0\npaths:\n  data_dir: out/cache\n  site_dir: out\n"
                                   "  demo_dir: out/demo\n  plugins_dir: out/plugins\n")
    assert [problem.split(":")[0] for problem in problems] == [
        "billing.page_size", "paths.site_dir", "paths.demo_dir", "paths.plugins_dir"]


def test_folders_side_by_side_are_accepted_even_when_one_name_starts_the_other(tmp_path):
    settings = load_settings(write(tmp_path, "paths:\n  data_dir: out\n  site_dir: out-site\n  demo_dir: out-demo\n"
                                             "  plugins_dir: .\n  templates_dir: out-templates\n"))
    assert settings.site_dir == tmp_path.resolve() / "out-site"


def test_a_symlink_into_the_site_is_seen_through(tmp_path):
    (tmp_path / "out" / "site").mkdir(parents=True)
    (tmp_path / "cache").symlink_to(tmp_path / "out" / "site" / "cache", target_is_directory=True)
    problems = _problems(tmp_path, "paths:\n  data_dir: cache\n  site_dir: out/site\n")
    assert problems[0].startswith("paths.site_dir: expected a folder apart from paths.data_dir")


def test_a_nul_in_a_path_or_a_file_name_is_a_config_problem(tmp_path):
    problems = _problems(tmp_path, 'paths:\n  data_dir: "ca\\0che"\nbilling:\n  output_filename: "a\\0.html"\n')
    assert problems == [
        "paths.data_dir: expected a path without NUL characters, found 'ca\\x00che'",
        "billing.output_filename: expected a file name ending in .html, without a directory or NUL characters, "
        "found 'a\\x00.html'",
    ]


def test_a_home_folder_of_no_such_user_is_a_config_problem(tmp_path):
    problems = _problems(tmp_path, "paths:\n  site_dir: ~no-such-user-here/site\n")
    assert problems == [
        "paths.site_dir: expected a path whose ~user exists, found '~no-such-user-here/site'"]


def test_a_symlink_loop_in_a_path_is_a_config_problem(tmp_path):
    (tmp_path / "one").symlink_to(tmp_path / "two")
    (tmp_path / "two").symlink_to(tmp_path / "one")
    problems = _problems(tmp_path, "paths:\n  site_dir: one/site\n")
    assert len(problems) == 1  # (the wording of the loop itself is Python's)
    assert problems[0].startswith("paths.site_dir: expected a path that can be followed, found 'one/site' (")

# --- numbers and YAML that could make a run misbehave (issue 11) -------------------------------


@pytest.mark.parametrize("key", ["api.timeout_seconds", "billing.request_delay_seconds", "fetch.overlap_hours"])
@pytest.mark.parametrize("written, shown", [(".nan", "nan"), (".inf", "inf"), ("-.inf", "-inf"), ("1.0e+400", "inf"),
                                            ("1.0e+300", "1e+300")])
def test_a_number_setting_must_be_finite_and_sane_and_names_its_key(tmp_path, key, written, shown):
    section, name = key.split(".")
    with pytest.raises(ConfigError) as raised:
        load_settings(write(tmp_path, f"{section}:\n  {name}: {written}\n"))
    assert f"{key}: expected a number from " in raised.value.message
    assert raised.value.message.endswith(f", found {shown}")


def test_the_bounds_of_number_settings_are_inclusive(tmp_path):
    settings = load_settings(write(tmp_path, "api:\n  timeout_seconds: 3600\nbilling:\n  request_delay_seconds: 0\n"
                                             "fetch:\n  overlap_hours: 8784\n"))
    assert (settings.timeout_seconds, settings.request_delay_seconds, settings.fetch_overlap_hours) == (3600, 0, 8784)


@pytest.mark.parametrize("key", ["billing.top_spenders_count", "plugins.expensive-models.count"])
def test_a_count_setting_has_a_ceiling(tmp_path, key):
    *sections, name = key.split(".")
    text = "".join(f"{'  ' * depth}{section}:\n" for depth, section in enumerate(sections))
    with pytest.raises(ConfigError) as raised:
        load_settings(write(tmp_path, text + f"{'  ' * len(sections)}{name}: {10 ** 20}\n"))
    assert f"{key}: expected an integer from 1 to 1000000000, found {10 ** 20}" in raised.value.message


def test_an_integer_of_thousands_of_digits_is_one_line_naming_the_key(tmp_path):
    path = write(tmp_path, "billing:\n  page_size: " + "9" * 5000 + "\n")
    with pytest.raises(ConfigError) as raised:
        load_settings(path)
    assert raised.value.message == (
        f"{path}: billing.page_size is an integer of more than 30 digits (line 2); simplify it and run again")


BILLION_LAUGHS = "lol: &a [lol, lol, lol, lol, lol, lol, lol, lol, lol]\n" + "".join(
    f"l{level}: &{chr(98 + level)} [{', '.join(['*' + chr(97 + level)] * 9)}]\n" for level in range(8))


def test_yaml_aliases_cannot_expand_into_a_memory_bomb(tmp_path):
    path = write(tmp_path, "billing:\n  months_back: 2\npublish:\n  targets:\n" + "".join(
        "    " + line + "\n" for line in BILLION_LAUGHS.splitlines()))
    with pytest.raises(ConfigError) as raised:
        load_settings(path)  # before: a billion values for the error message's repr to walk
    assert raised.value.message == (
        f"{path}: its aliases expand to more than 10,000 values; simplify it and run again")


def test_an_alias_inside_its_own_anchor_is_refused(tmp_path):
    path = write(tmp_path, "publish: &top\n  again: *top\n")
    with pytest.raises(ConfigError, match=r"config.yaml: the value at line 1 holds an alias to itself; simplify it"):
        load_settings(path)


@pytest.mark.parametrize("levels", [40, 600])  # 600: deeper than PyYAML's own recursion goes
def test_nesting_hundreds_deep_is_one_line(tmp_path, levels):
    path = write(tmp_path, "publish: " + "[" * levels + "]" * levels + "\n")
    with pytest.raises(ConfigError, match=r"config.yaml: it nests deeper than 32 levels"):
        load_settings(path)


def test_a_few_aliases_are_fine(tmp_path):
    settings = load_settings(write(tmp_path, "billing:\n  months_back: &months 3\nplugins:\n  expensive-models:\n"
                                             "    count: *months\n"))
    assert settings.months_back == 3 and settings.plugin("expensive-models").count == 3


def test_a_duplicate_key_is_reported_with_its_lines_and_the_other_problems(tmp_path):
    path = write(tmp_path, "billing:\n  page_size: 100\n  months_back: 2\n  page_size: 1000\napi:\n"
                           "  timeout_seconds: .nan\nbilling:\n  months_back: 3\n")
    with pytest.raises(ConfigError) as raised:
        load_settings(path)
    lines = [line.strip() for line in raised.value.message.splitlines()]
    assert lines[0] == f"{path}: 3 problems; fix them and run again:"
    assert lines[1:] == [
        "billing.page_size: given twice, at lines 2 and 4; keep one",
        "billing: given twice, at lines 1 and 7; keep one",
        "api.timeout_seconds: expected a number from 0.1 to 3600, found nan",
    ]


def test_a_config_file_of_megabytes_is_refused_before_it_is_parsed(tmp_path):
    path = write(tmp_path, "# padding\n" * 200_000)
    with pytest.raises(ConfigError, match=r"config.yaml: 2,000,000 bytes, too big for a config file"):
        load_settings(path)


@pytest.mark.parametrize("make, reason", [
    (lambda env: env.mkdir(), "a folder, not a file"),
    (lambda env: env.symlink_to(env), "a link to nothing readable"),  # a link to itself: a loop
])
def test_a_dotenv_that_is_there_but_no_file_is_said_not_ignored(tmp_path, make, reason):
    make(tmp_path / ".env")
    settings = load_settings(write(tmp_path, ""))
    assert settings.dotenv_problem == f"{tmp_path / '.env'}: cannot read it ({reason})"
    with pytest.raises(ConfigError, match="cannot come from it"):
        settings.secret("CURSOR_API_KEY")
