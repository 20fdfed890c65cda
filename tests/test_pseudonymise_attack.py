"""Attacks on pseudonymised sites (the review of issue 16): each test is a way a person still showed, or
a figure that changed, on a pseudonymised site, or a way to publish the wrong site; each failed on main
at 84c3bd3 (the pseudonymise branch merged)."""

from __future__ import annotations

import dataclasses
import shutil
from pathlib import Path

import pytest
import yaml
from conftest import usage_event
from test_pseudonymise import KEY, MONTH, fetched_cache, leaks, needles, run
from test_pseudonymise import cache as team_cache  # noqa: F401 (the fixture team's cache)
from test_pseudonymise import project as team_project

from billing_reports.analysis import analyse
from billing_reports.fakeapi.billing import Billing, GroupPlan
from billing_reports.fakeapi.team import TeamMember
from billing_reports.pseudonyms import A_DOMAIN, PSEUDONYM_KEY_VARIABLE, Pseudonyms
from billing_reports.settings import load_settings

pytestmark = pytest.mark.server

MEMBERS = (
    TeamMember(1, "claude.moreau@rivenhall.test", "Claude", "member", False, 1.0),  # a one-word display name
    TeamMember(2, "ottoline.brackenbury@rivenhall.test", "Ottoline Brackenbury", "owner", False, 1.0),
    TeamMember(3, "thaddeus.quill@intranet", "Thaddeus Quill", "member", False, 1.0),  # a domain without a dot
    TeamMember(4, "juergen@rivenhall.test", "Jürgen Straße", "member", False, 1.0),     # casefold changes length
)
CLAUDE, OTTOLINE, THADDEUS, JUERGEN = (m.email for m in MEMBERS)
LONG_EMAIL = "a" * 330 + "@rivenhall.test"
BILLING = Billing(
    cycle_anchor="2026-01-17",
    groups=(
        GroupPlan("group_a", f"Desk of {THADDEUS}", (THADDEUS,)),
        GroupPlan("group_b", f"Desk of {OTTOLINE}", (OTTOLINE,)),      # scrubbed to "Desk of Person ..."
        GroupPlan("group_c", "Ottoline's corner at rivenhall.test", (CLAUDE,)),  # a first name, the domain
        GroupPlan("group_d", "Jürgen Straße's lab", (JUERGEN,)),
    ),
)


def events() -> list[dict]:
    return [
        usage_event("2026-11-17T09:00:00", email=CLAUDE, model="claude-4.5-sonnet", total_cents=250.0),
        usage_event("2026-11-18T09:00:00", email=OTTOLINE, model="claude-4.5-sonnet", total_cents=180.0),
        usage_event("2026-11-18T10:00:00", email=THADDEUS, model="gpt-5", total_cents=120.0),
        usage_event("2026-11-18T11:00:00", email=JUERGEN, model="gpt-5", total_cents=12.0),
        # a fine-tuned model named after a person by local part only
        usage_event("2026-11-19T10:00:00", email=OTTOLINE, model="ft:gpt-5:ottoline.brackenbury", total_cents=20.0),
        # one person written in capitals by one event: one person on both sites
        usage_event("2026-11-20T10:00:00", email=OTTOLINE.upper(), model="gpt-5", total_cents=30.0),
        # an email longer than the ledger keeps a name (it cuts it short, with a digest)
        usage_event("2026-11-20T11:00:00", email=LONG_EMAIL, model="gpt-5", total_cents=5.0),
    ]


@pytest.fixture(scope="module")
def cache(tmp_path_factory) -> Path:
    return fetched_cache(tmp_path_factory.mktemp("attack-cache"), events(), MEMBERS, BILLING)


def project(tmp_path: Path, cache: Path, mapping: str | None = None, budgets: dict | None = None) -> Path:
    shutil.copytree(cache, tmp_path / "cache")
    plugins: dict = {}
    if mapping is not None:
        (tmp_path / "groups.csv").write_text(mapping, encoding="utf-8")
        plugins["chargeback"] = {"mapping": "groups.csv", "source": "mapping"}
    if budgets is not None:
        plugins["budgets"] = budgets
    config = {"paths": {"data_dir": "cache", "site_dir": "site", "demo_dir": "demo"},
              "privacy": {"pseudonymise": True}, "plugins": plugins}
    (tmp_path / "config.yaml").write_text(yaml.safe_dump(config, sort_keys=False), encoding="utf-8")
    return tmp_path / "config.yaml"


SPAN = ["--end-month", "2026-11", "--months-back", "1"]


def test_a_one_word_display_name_does_not_rename_a_model_nor_tie_the_pseudonym_to_the_name(tmp_path, cache):
    config = project(tmp_path, cache)
    assert run("build", "--offline", "--config", str(config), *SPAN).exit_code == 0
    models = (tmp_path / "site" / "models.html").read_text(encoding="utf-8")
    assert f"{Pseudonyms(KEY).user(CLAUDE)}-4.5-sonnet" not in models  # everyone learns Claude's pseudonym
    assert "claude-4.5-sonnet" in models


@pytest.mark.parametrize("word", [THADDEUS, "thaddeus.quill", "Jürgen Straße", "ottoline.brackenbury", "Ottoline",
                                  "rivenhall.test"])
def test_free_text_from_the_api_names_nobody(tmp_path, cache, word):
    config = project(tmp_path, cache)
    assert run("build", "--offline", "--config", str(config), *SPAN).exit_code == 0
    assert leaks(tmp_path / "site", [word]) == []


def test_a_budget_for_a_cursor_group_named_after_a_person_names_nobody_and_still_applies(tmp_path, cache):
    config = project(tmp_path, cache, budgets={"groups_usd": {f"Desk of {OTTOLINE}": 50}})
    assert run("build", "--offline", "--config", str(config), *SPAN).exit_code == 0
    assert leaks(tmp_path / "site", [OTTOLINE]) == []
    assert "no group of this name" not in (tmp_path / "site" / "budgets.html").read_text(encoding="utf-8")


def test_a_group_of_the_mapping_file_named_after_a_person_names_nobody(tmp_path, cache):
    config = project(tmp_path, cache, mapping=f"email,group,start\n{OTTOLINE},Desk of {OTTOLINE},\n")
    assert run("build", "--offline", "--config", str(config), *SPAN).exit_code == 0
    assert leaks(tmp_path / "site", [OTTOLINE]) == []


def _rows(section) -> list[list]:
    """A section's rows without their names (every number, in order)."""
    return [[cell for cell in row if isinstance(cell, (int, float)) and not isinstance(cell, bool)]
            for table in section.tables for row in table.rows]


def test_the_pseudonymised_sections_have_the_figures_of_the_full_ones(tmp_path, team_cache):
    """Same cache, same config.yaml: the budgets and the chargeback of the finance site and of the
    company site must agree (one figure, one value); they do not when config.yaml or the mapping file
    write an email in another case than the events do."""
    full = {s.slug: s for s in analyse(load_settings(team_project(tmp_path / "a", team_cache, pseudonymise=False)),
                                       [MONTH]).sections}
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv(PSEUDONYM_KEY_VARIABLE, KEY)
        pseudo = {s.slug: s for s in analyse(load_settings(team_project(tmp_path / "b", team_cache)), [MONTH]).sections}
    differ = sorted(slug for slug in full if slug in pseudo
                    and sorted(map(tuple, _rows(full[slug]))) != sorted(map(tuple, _rows(pseudo[slug]))))
    assert differ == []


def test_a_target_for_pseudonymised_sites_does_not_roll_back_to_one_that_names_people(tmp_path, team_cache):
    """The target was first set up without pseudonymised_only and given the full site; then the flag
    was set and a pseudonymised site published: rolling back would serve the full one again."""
    (tmp_path / "www").mkdir()
    target = {"type": "directory", "path": "www/company"}
    config = team_project(tmp_path, team_cache, pseudonymise=False,
                          publish={"default": "company", "targets": {"company": target}})
    assert run("build", "--offline", "--config", str(config), *SPAN, key=None).exit_code == 0
    published = run("publish", "--config", str(config))
    assert published.exit_code == 0 and "names people: not for the whole company" in published.output
    settings = yaml.safe_load(config.read_text(encoding="utf-8"))
    settings["publish"]["targets"]["company"]["pseudonymised_only"] = True
    config.write_text(yaml.safe_dump(settings, sort_keys=False), encoding="utf-8")
    company = ["--site-dir", str(tmp_path / "site-company"), "--config", str(config)]
    assert run("build", "--offline", "--pseudonymise", *company, *SPAN).exit_code == 0
    published = run("publish", *company)
    assert published.exit_code == 0 and "pseudonymised: every person under a pseudonym" in published.output
    refused = run("publish", "--rollback", "--config", str(config))
    assert refused.exit_code != 0 and "pseudonymised_only" in refused.output
    assert leaks(tmp_path / "www" / "company", needles()) == []
    # a previous site that is pseudonymised is rolled back to (another key: another site to publish)
    assert run("build", "--offline", "--pseudonymise", *company, *SPAN, key=KEY[::-1]).exit_code == 0
    assert run("publish", *company).exit_code == 0
    rolled = run("publish", "--rollback", "--config", str(config))
    assert rolled.exit_code == 0, rolled.output
    assert leaks(tmp_path / "www" / "company", needles()) == []


def test_a_pseudonymised_build_over_the_full_site_says_so(tmp_path, team_cache):
    config = str(team_project(tmp_path, team_cache, pseudonymise=False))
    full = run("build", "--offline", "--config", config, *SPAN, key=None)
    assert "names people: not for the whole company" in full.output and "replaced" not in full.output
    over = run("build", "--offline", "--pseudonymise", "--config", config, *SPAN)
    assert over.exit_code == 0 and "pseudonymised: every person under a pseudonym" in over.output
    assert "replaced the site that named people" in over.output


def test_scrub_finds_every_shape_of_a_known_person_and_renames_no_model():
    people = Pseudonyms(KEY)
    people.know_people([CLAUDE, OTTOLINE, THADDEUS, JUERGEN, "max@rivenhall.test", "auto@rivenhall.test"])
    people.know_display_names([(CLAUDE, "Claude"), (JUERGEN, "Jürgen Straße"), ("max@rivenhall.test", "Max"),
                               (OTTOLINE, "Ottoline Brackenbury")])
    for model in ("claude-4.5-sonnet", "gpt-5.1-codex-max", "auto", "Claude", "max"):
        assert people.scrub(model) == model  # display names are never looked for in a model's name
    ottoline = people.user(OTTOLINE)
    for text in (f"ft:gpt-5:{OTTOLINE}", "ft:gpt-5:ottoline.brackenbury", f"ft:gpt-5:{OTTOLINE.upper()}",
                 "ft:gpt-5:" + OTTOLINE.replace("@", "\uff20"), "ft:gpt-5:" + OTTOLINE.replace("@", "%40")):
        assert people.scrub(text) == f"ft:gpt-5:{ottoline}", text
    assert people.scrub(f"by {THADDEUS}.") == f"by {people.user(THADDEUS)}."  # a host without a dot
    assert people.scrub("o'brien@elsewhere.test") == people.user("o'brien@elsewhere.test")  # not "o'" + a pseudonym
    assert people.scrub("mirror of rivenhall.test") == f"mirror of {A_DOMAIN}"
    # names: as whole words, whatever their case (Straße is STRASSE), never inside a-b, a.b or by a digit
    assert people.scrub_name("JÜRGEN STRASSE's lab") == f"{people.user(JUERGEN)}'s lab"
    assert people.scrub_name("Jürgen Straße's lab") == f"{people.user(JUERGEN)}'s lab"
    assert people.scrub_name("Claude fans") == f"{people.user(CLAUDE)} fans"
    assert people.scrub_name("claude-4.5 fans, Claude2, max.mode") == "claude-4.5 fans, Claude2, max.mode"
    assert people.scrub_name("Ottoline's corner") == f"{ottoline}'s corner"  # a first name alone


def test_two_mailboxes_that_only_case_folding_makes_one_are_two_people():
    people = Pseudonyms(KEY)
    assert people.user("strauß@rivenhall.test") != people.user("strauss@rivenhall.test")
    assert people.user("STRAUß@rivenhall.test ") == people.user("strauß@rivenhall.test")


def test_one_person_written_in_two_cases_is_one_user_on_the_full_report_too(tmp_path, cache):
    config = project(tmp_path, cache)
    full = analyse(dataclasses.replace(load_settings(config), pseudonymise=False), [MONTH])
    ottolines = [user for user in full.usage.user_names if user.lower() == OTTOLINE]
    assert ottolines == [OTTOLINE] and full.usage.user_total(OTTOLINE).requests == 3
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv(PSEUDONYM_KEY_VARIABLE, KEY)
        pseudo = analyse(load_settings(config), [MONTH])
    assert pseudo.usage.user_total(Pseudonyms(KEY).user(OTTOLINE)) == full.usage.user_total(OTTOLINE)


@pytest.mark.parametrize("pseudonymise", [False, True])
def test_a_budget_for_a_service_account_by_its_name_reaches_it(tmp_path, team_cache, pseudonymise):
    """config.yaml names it as the README does (users_usd: {nightly-ci: 100}), without " (service account)"."""
    from test_pseudonymise import SERVICE_ACCOUNT

    settings = load_settings(team_project(tmp_path, team_cache, pseudonymise=pseudonymise))
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv(PSEUDONYM_KEY_VARIABLE, KEY)
        analysis = analyse(settings, [MONTH])
    name = lambda user: Pseudonyms(KEY).user(user) if pseudonymise else user  # noqa: E731
    account, bare = name(f"{SERVICE_ACCOUNT} (service account)"), name(SERVICE_ACCOUNT)
    budgets = {s.slug: s for s in analysis.sections}["budgets"]
    rows = {row[0]: row for table in budgets.tables for row in table.rows if row}
    assert 300_000_000 in rows[account]  # its own $3, not the default $5
    assert bare not in rows  # (no row of its own for a name nobody spends under)


def test_an_event_streamed_again_names_its_person_as_the_ledger_does(tmp_path, cache):
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv(PSEUDONYM_KEY_VARIABLE, KEY)
        usage = analyse(load_settings(project(tmp_path, cache)), [MONTH]).usage
    users = {event["userEmail"] for _, event in usage.events()}
    assert users <= set(usage.user_names) and Pseudonyms(KEY).user(OTTOLINE) in users
    assert len(users) == 5  # the long email's events and its ledger user under one pseudonym
