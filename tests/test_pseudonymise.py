"""Pseudonymised sites (issue 16): nobody's email, display name or email domain anywhere in a site built
with privacy.pseudonymise, every byte scanned; stable pseudonyms nobody reverses without the key; the
mapping only on the terminal; a full and a pseudonymised site built from one cache and published apart.

The team is the fake API's (members with display names, spend limits, billing groups, a service
account, a removed member), fetched once through the real client; its people are read from the
fixture below, never written out again in an expectation."""

from __future__ import annotations

import base64
import dataclasses
import gzip
import html
import json
import re
import shutil
import urllib.parse
from pathlib import Path

import pytest
import yaml
from click.testing import CliRunner
from conftest import FakeClock, Now, usage_event, utc

from billing_reports.analysis import analyse
from billing_reports.cli import cli
from billing_reports.errors import ConfigError
from billing_reports.fakeapi import FakeCursorApi, StaticTeam
from billing_reports.fakeapi.billing import Billing, GroupPlan
from billing_reports.fakeapi.team import TeamMember
from billing_reports.fetching import fetch_months
from billing_reports.months import Month
from billing_reports.pseudonyms import PSEUDONYM_KEY_VARIABLE, Pseudonyms
from billing_reports.settings import load_settings

pytestmark = pytest.mark.server

KEY = "test-only pseudonym key, 0f3c9a7e51d24b68"
MONTH = Month(2026, 11)
MEMBERS = (
    # Cursor lists her with capitals; her events come in lower case: one person, one pseudonym
    TeamMember(1, "Quintessa.Fairweather@larkspur-meridian.test", "Quintessa Fairweather", "owner", False, 1.0),
    TeamMember(2, "bartholomew.okonkwo@larkspur-meridian.test", "Bartholomew Okonkwo", "member", False, 1.0),
    TeamMember(3, "cyprian.vandersloot@osprey-calloway.test", "Cyprian Vandersloot", "member", False, 1.0),
    TeamMember(4, "delphine.arkwright@osprey-calloway.test", "Delphine Arkwright", "member", False, 1.0),
    TeamMember(5, "evander.thistlewood@larkspur-meridian.test", "Evander Thistlewood", "member", True, 1.0),
)
QUINTESSA, BARTHOLOMEW, CYPRIAN, DELPHINE, EVANDER = (member.email for member in MEMBERS)
SERVICE_ACCOUNT = "wrenfield-nightly-refactor"
#: A fine-tuned model named after the person it was tuned for: free text from the API with an email.
PERSONAL_MODEL = f"ft:gpt-5:{CYPRIAN}"
BILLING = Billing(
    cycle_anchor="2026-01-17",
    limits={BARTHOLOMEW: 20.0},
    near_limit=(QUINTESSA,),
    adjustments={BARTHOLOMEW: 150.0},
    groups=(
        GroupPlan("group_platform", "Platform", (QUINTESSA, BARTHOLOMEW)),
        # a group named after a person, by email and by display name: the name stays, the person goes
        GroupPlan("group_solo", f"Desk of {DELPHINE}", (DELPHINE,)),
        GroupPlan("group_lab", "Cyprian Vandersloot's lab", (CYPRIAN,)),
    ),
    moves=((CYPRIAN, "group_lab", "group_platform", "2026-11-20"),),
)
MAPPING = (f"email,group,start\n{QUINTESSA},Platform,\n{BARTHOLOMEW},Platform,\n{CYPRIAN},Research,\n"
           f"{CYPRIAN},Platform,2026-11-20\n{DELPHINE},Data,\n{SERVICE_ACCOUNT},Data,\n")


def events() -> list[dict]:
    return [
        usage_event("2026-11-17T09:00:00", email=QUINTESSA.lower(), total_cents=250.0),
        usage_event("2026-11-18T09:00:00", email=QUINTESSA.lower(), model="claude-4.5-sonnet", total_cents=180.0),
        usage_event("2026-11-18T10:00:00", email=BARTHOLOMEW, total_cents=1200.0, chargedCents=1100.0),
        usage_event("2026-11-19T12:00:00", email=CYPRIAN, model=PERSONAL_MODEL, total_cents=75.5),
        usage_event("2026-11-21T12:00:00", email=CYPRIAN, total_cents=40.0),
        usage_event("2026-11-22T08:00:00", email=DELPHINE, total_cents=12.0,
                    serviceAccountName=SERVICE_ACCOUNT, serviceAccountId="sa_1", isHeadless=True),
        usage_event("2026-11-22T09:00:00", email=DELPHINE, total_cents=9.0, chargedCents=30.0),  # odd charge
        usage_event("2026-11-23T12:00:00", email=None, total_cents=3.0),                          # removed member
        usage_event("2026-11-24T12:00:00", email=BARTHOLOMEW, kind="Included in Business", chargeable=False,
                    chargedCents=8.0),
    ]


def needles() -> list[str]:
    """What must never appear in a pseudonymised site: each email, its local part, its domain, each
    display name, and the service account's name (from the fixture)."""
    found = {SERVICE_ACCOUNT}
    for member in MEMBERS:
        local, domain = member.email.split("@")
        found |= {member.email, local, domain, member.name}
    return sorted(found)


@pytest.fixture(scope="module")
def cache(tmp_path_factory) -> Path:
    """November 2026 and Cursor's figures, fetched through the real client at 30 Nov 12:00 UTC."""
    return fetched_cache(tmp_path_factory.mktemp("pseudonymise-cache"), events(), MEMBERS, BILLING)


def fetched_cache(root: Path, team_events: list[dict], members: tuple, billing: Billing) -> Path:
    """``root``/cache: November 2026 of a team and its Cursor figures, fetched at 30 Nov 12:00 UTC."""
    now = Now(utc("2026-11-30T12:00:00"))
    with FakeCursorApi(StaticTeam(team_events, members=members, now=now), rate_limit_per_minute=None,
                       billing=billing) as api:
        settings = dataclasses.replace(load_settings(root / "none.yaml", must_exist=False), data_dir=root / "cache",
                                       api_base_url=api.base_url, request_delay_seconds=0.0)
        clock = FakeClock()
        fetch_months(settings, [MONTH], api_key=api.api_key, now=now, clock=clock, sleep=clock.sleep,
                     team_figures=True)
    return root / "cache"


def project(tmp_path: Path, cache: Path, *, source: str = "mapping", pseudonymise: bool = True,
            publish: dict | None = None) -> Path:
    """A config.yaml (budgets with per-person overrides, the chargeback's mapping file) over a copy of
    the cache."""
    shutil.copytree(cache, tmp_path / "cache")
    (tmp_path / "groups.csv").write_text(MAPPING, encoding="utf-8")
    config = {
        "paths": {"data_dir": "cache", "site_dir": "site", "demo_dir": "demo"},
        "privacy": {"pseudonymise": pseudonymise},
        "plugins": {
            "chargeback": {"mapping": "groups.csv", "source": source},
            "budgets": {"team_usd": 100, "user_default_usd": 5,
                        "users_usd": {QUINTESSA: 1, BARTHOLOMEW.upper(): 2000, SERVICE_ACCOUNT: 3}},
        },
    }
    if publish:
        config["publish"] = publish
    (tmp_path / "config.yaml").write_text(yaml.safe_dump(config, sort_keys=False), encoding="utf-8")
    return tmp_path / "config.yaml"


def run(*arguments: str, key: str | None = KEY):
    env = {PSEUDONYM_KEY_VARIABLE: key} if key else {PSEUDONYM_KEY_VARIABLE: ""}
    return CliRunner(env=env).invoke(cli, list(arguments), catch_exceptions=False)


# --- the scan ---------------------------------------------------------------------------------------

_DATA_URL = re.compile(r"data:([^,\"'\s>]*),([^\"'\s>)]*)")


def readings(data: bytes) -> list[str]:
    """Every way a file's bytes can be read: as text, HTML-unescaped, URL-unquoted, each data: URL
    decoded, gunzipped, JSON-decoded (``\\u0040``)."""
    if data[:2] == b"\x1f\x8b":
        return readings(gzip.decompress(data))
    text = data.decode("utf-8", errors="replace")
    found = [text, html.unescape(text), urllib.parse.unquote(text), urllib.parse.unquote_plus(html.unescape(text))]
    for meta, payload in _DATA_URL.findall(html.unescape(text)):
        raw = base64.b64decode(urllib.parse.unquote(payload) + "===") if meta.endswith(";base64") \
            else urllib.parse.unquote_to_bytes(payload)
        found += readings(raw)
    try:
        found.append(json.dumps(json.loads(text), ensure_ascii=False))
    except ValueError:
        pass
    return found


def leaks(site: Path, words: list[str]) -> list[tuple[str, str]]:
    """``(file, word)`` for each word found (case-insensitively) in a file's name or any reading of it."""
    found = []
    files = [path for path in site.rglob("*") if path.is_file()]
    assert files, f"nothing built in {site}"
    for path in files:
        relative = path.relative_to(site).as_posix()
        texts = [relative.casefold(), *(text.casefold() for text in readings(path.read_bytes()))]
        found += [(relative, word) for word in words if any(word.casefold() in text for text in texts)]
    return found


def test_the_scan_finds_a_leak_however_a_file_hides_it(tmp_path):
    """The scan itself can fail: an email in a file name, in a base64 or percent-encoded data: link,
    behind HTML entities or JSON escapes, or gzipped, is each found."""
    word = MEMBERS[1].email
    hidden = {
        f"users/{word}.html": b"<p>nothing</p>",
        "a.html": f'<a href="data:text/csv;base64,{base64.b64encode(word.encode()).decode()}">csv</a>'.encode(),
        "b.html": f'<a href="data:text/csv;charset=utf-8,{urllib.parse.quote(word)}">csv</a>'.encode(),
        "c.html": word.replace("@", "&#64;").encode(),
        "d.json": json.dumps({"user": word.replace("@", "\\u0040")}).replace("\\\\", "\\").encode(),
        "e.csv.gz": gzip.compress(word.upper().encode()),
    }
    for name, data in hidden.items():
        shutil.rmtree(tmp_path / "site", ignore_errors=True)
        (tmp_path / "site" / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / "site" / name).write_bytes(data)
        assert (name, word) in leaks(tmp_path / "site", [word]), name


@pytest.mark.parametrize("source", ["mapping", "cursor"])
def test_a_pseudonymised_site_holds_no_email_name_or_domain_of_the_team_anywhere(tmp_path, cache, source):
    config = project(tmp_path, cache, source=source)
    result = run("build", "--offline", "--config", str(config), "--end-month", "2026-11", "--months-back", "1")
    assert result.exit_code == 0, result.output
    site = tmp_path / "site"
    assert leaks(site, needles()) == []
    # ...and the site is not empty of people: each member with spend has a page under a pseudonym
    people = Pseudonyms(KEY)
    for email in (QUINTESSA, BARTHOLOMEW, CYPRIAN, DELPHINE):
        label = people.user(email)
        assert re.fullmatch(r"Person [0-9A-F]{4}-[0-9A-F]{4}-[0-9A-F]{4}", label)
        assert label in (site / "users.html").read_text(encoding="utf-8")
    account = people.user(f"{SERVICE_ACCOUNT} (service account)")
    assert account.startswith("Account ") and account in (site / "users.html").read_text(encoding="utf-8")
    manifest = json.loads((site / "build-manifest.json").read_text(encoding="utf-8"))
    assert manifest["pseudonymised"] is True


def test_the_same_site_without_pseudonyms_does_name_them(tmp_path, cache):
    """The scan of the test above would find every one of them on a full site (it is no empty search)."""
    config = project(tmp_path, cache, pseudonymise=False)
    result = run("build", "--offline", "--config", str(config), "--end-month", "2026-11", "--months-back", "1",
                 key=None)
    assert result.exit_code == 0, result.output
    found = {word for _, word in leaks(tmp_path / "site", needles())}
    assert {QUINTESSA.lower(), BARTHOLOMEW, CYPRIAN, DELPHINE, "Bartholomew Okonkwo", SERVICE_ACCOUNT} <= \
        {word.lower() if "@" in word else word for word in found}


def test_plugins_see_only_pseudonyms_and_the_settings_that_name_people_still_apply(tmp_path, cache):
    settings = load_settings(project(tmp_path, cache))
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv(PSEUDONYM_KEY_VARIABLE, KEY)
        analysis = analyse(settings, [MONTH])
    people = Pseudonyms(KEY)
    usage = analysis.usage
    quintessa, bartholomew = people.user(QUINTESSA), people.user(BARTHOLOMEW)
    account = people.user(f"{SERVICE_ACCOUNT} (service account)")
    assert set(usage.user_names) == {quintessa, bartholomew, people.user(CYPRIAN), people.user(DELPHINE), account,
                                     "(removed user)"}
    # her two events (in lower case) and Cursor's list (capitals) name one person
    assert usage.user_total(quintessa).requests == 2 and quintessa in usage.cursor.members
    assert all(member.name == "" for member in usage.cursor.members.values())
    assert not any("@" in model for model in usage.model_names)
    assert all("@" not in event.get("userEmail", "") and "userId" not in event for _, event in usage.events())
    # budgets: users_usd keyed by email (one of them in capitals) applies to the pseudonym
    budgets = {s.slug: s for s in analysis.sections}["budgets"]
    rows = {row[0]: row for table in budgets.tables for row in table.rows if row and row[0] in (quintessa, bartholomew)}
    assert {quintessa, bartholomew} <= set(rows)
    budget_cells = {name: [cell for cell in row if cell in (100_000_000, 200_000_000_000)] for name, row in rows.items()}
    assert budget_cells[quintessa] == [100_000_000] and budget_cells[bartholomew] == [200_000_000_000]
    # chargeback: the mapping file's people are placed (Cyprian in Research, then Platform from the 20th)
    chargeback = {s.slug: s for s in analysis.sections}["chargeback"]
    text = json.dumps(chargeback.to_dict())
    assert "Research" in text and people.user(CYPRIAN) in text and "@" not in text
    # reconciliation: Cursor's figure and our events meet under one pseudonym (Bartholomew's adjustment)
    reconciliation = {s.slug: s for s in analysis.sections}["reconciliation"]
    assert bartholomew in json.dumps(reconciliation.to_dict())
    assert not any("@" in str(cell) for table in reconciliation.tables for row in table.rows for cell in row)


def test_the_same_person_keeps_the_same_pseudonym_across_builds_and_another_key_changes_them(tmp_path, cache):
    config = project(tmp_path, cache)
    pages = []
    for key in (KEY, KEY, KEY[::-1]):
        assert run("build", "--offline", "--config", str(config), "--end-month", "2026-11", "--months-back", "1",
                   key=key).exit_code == 0
        pages.append({path.name for path in (tmp_path / "site" / "users").iterdir()} - {"removed-user.html"})
    assert len(pages[0]) == 5 and pages[0] == pages[1] and pages[0].isdisjoint(pages[2])


def test_without_the_key_the_build_stops_in_one_line_before_anything_is_written(tmp_path, cache):
    config = project(tmp_path, cache)
    result = run("build", "--offline", "--config", str(config), "--end-month", "2026-11", key=None)
    assert result.exit_code != 0 and not (tmp_path / "site").exists()
    [line] = result.output.strip().splitlines()
    assert PSEUDONYM_KEY_VARIABLE in line
    for short_key in ("too-short", "a passphrase of 31 characters.."):  # 32 at least: not one to guess
        short = run("build", "--offline", "--config", str(config), "--end-month", "2026-11", key=short_key)
        assert short.exit_code != 0 and "shorter than 32" in short.output and not (tmp_path / "site").exists()
        assert "secrets.token_urlsafe(32)" in short.output
    # .env next to config.yaml is read too
    (tmp_path / ".env").write_text(f"{PSEUDONYM_KEY_VARIABLE}={KEY}\n", encoding="utf-8")
    assert run("build", "--offline", "--config", str(config), "--end-month", "2026-11", "--months-back", "1",
               key=None).exit_code == 0


def test_hashing_candidate_emails_without_the_key_finds_no_pseudonym_of_the_site(tmp_path, cache):
    import hashlib
    import hmac

    config = project(tmp_path, cache)
    assert run("build", "--offline", "--config", str(config), "--end-month", "2026-11", "--months-back", "1").exit_code == 0
    site_text = "\n".join(path.read_text(encoding="utf-8", errors="replace")
                          for path in (tmp_path / "site").rglob("*") if path.is_file()).upper()
    codes = set(re.findall(r"(?:PERSON|ACCOUNT) ([0-9A-F]{4})-([0-9A-F]{4})-([0-9A-F]{4})", site_text))
    codes = {"".join(code) for code in codes}
    assert len(codes) >= 5
    for member in MEMBERS:
        for candidate in {member.email, member.email.lower(), member.email.strip().casefold()}:
            data = candidate.encode()
            guesses = {hashlib.sha256(data).hexdigest(), hashlib.md5(data).hexdigest(), hashlib.sha1(data).hexdigest(),
                       hmac.new(b"", data, hashlib.sha256).hexdigest(),
                       hmac.new(b"", b"billing-reports pseudonym v1\x00" + data, hashlib.sha256).hexdigest()}
            for guess in guesses:
                assert not any(guess.upper().startswith(code) or code in guess.upper() for code in codes)


def test_a_collision_stops_the_run_rather_than_merge_two_people():
    people = Pseudonyms(KEY, code_bytes=1)  # 256 codes: 300 names must collide
    with pytest.raises(ConfigError, match="same pseudonym") as raised:
        for index in range(300):
            people.user(f"person{index}@example.test")
    assert "example.test" not in str(raised.value)
    # one person written twice is no collision
    assert Pseudonyms(KEY).user(" Ann@Example.TEST ") == Pseudonyms(KEY).user("ann@example.test")


def test_report_pseudonyms_prints_who_each_one_is_for_whoever_holds_the_key(tmp_path, cache):
    config = project(tmp_path, cache)
    result = run("report", "--pseudonyms", "--config", str(config), "--end-month", "2026-11", "--months-back", "1")
    assert result.exit_code == 0, result.output
    people = Pseudonyms(KEY)
    lines = result.output.splitlines()
    for member in MEMBERS[:4]:
        [line] = [line for line in lines if line.startswith(people.user(member.email) + " ")]
        assert member.email.lower() in line.lower() and member.name in line
    assert any(line.startswith(people.user(SERVICE_ACCOUNT) + " ") and SERVICE_ACCOUNT in line for line in lines)
    csv_out = run("report", "--pseudonyms", "--format", "csv", "--config", str(config), "--end-month", "2026-11",
                  "--months-back", "1").output
    assert csv_out.splitlines()[0] == "Pseudonym,Email or service account,Display name"
    # the pseudonymised report names nobody
    text = run("report", "--pseudonymise", "--format", "json", "--config", str(config), "--end-month", "2026-11",
               "--months-back", "1").output
    assert [word for word in needles() if word.casefold() in text.casefold()] == []


def test_a_full_and_a_pseudonymised_site_from_one_cache_each_published_to_its_own_target(tmp_path, cache):
    publish = {"default": "finance", "targets": {
        "finance": {"type": "directory", "path": "www/finance"},
        "company": {"type": "directory", "path": "www/company", "pseudonymised_only": True},
    }}
    (tmp_path / "www").mkdir()
    config = str(project(tmp_path, cache, pseudonymise=False, publish=publish))
    span = ["--end-month", "2026-11", "--months-back", "1"]
    assert run("build", "--offline", "--config", config, *span, key=None).exit_code == 0
    assert run("build", "--offline", "--pseudonymise", "--site-dir", str(tmp_path / "site-company"),
               "--config", config, *span).exit_code == 0
    # the company target refuses the full site, in one line
    refused = run("publish", "company", "--config", config)
    assert refused.exit_code != 0 and "pseudonymised_only" in refused.output
    assert not (tmp_path / "www" / "company").exists()
    assert run("publish", "--config", config).exit_code == 0
    assert run("publish", "company", "--site-dir", str(tmp_path / "site-company"), "--config", config).exit_code == 0
    finance, company = tmp_path / "www" / "finance", tmp_path / "www" / "company"
    assert leaks(company, needles()) == []
    assert {word for _, word in leaks(finance, needles())} >= {BARTHOLOMEW, "Bartholomew Okonkwo"}
    assert (company / "billing_dashboard.html").is_file() and (finance / "billing_dashboard.html").is_file()


def test_a_site_dir_that_overlaps_the_cache_is_refused(tmp_path, cache):
    config = str(project(tmp_path, cache))
    result = run("build", "--offline", "--site-dir", str(tmp_path / "cache" / "site"), "--config", config,
                 "--end-month", "2026-11")
    assert result.exit_code != 0 and "--site-dir" in result.output and "data_dir" in result.output
