"""The static site rendered from hand-made usage and sections: figures, links, escaping, files."""

from __future__ import annotations

import base64
import dataclasses
import re
from datetime import datetime, timezone
from html.parser import HTMLParser
from pathlib import Path
from urllib.parse import unquote, urlsplit

import orjson
import pytest
from markupsafe import escape

from billing_reports.errors import BillingReportsError, ConfigError
from billing_reports.plugin_manager import get_plugin_manager
from billing_reports import hookimpl
from billing_reports.sections import Chart, Column, Section, Series, Table
from billing_reports.site import MANIFEST_NAME, build_site
from billing_reports.usage import REMOVED_USER
from conftest import SITE_ANN, SITE_ANN_UPPER, SITE_NASTY_USER, SITE_PATHLIKE_MODEL, SITE_PATHLIKE_USER


class _Links(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.links: list[tuple[str, str]] = []
        self.ids: set[str] = set()

    def handle_starttag(self, tag, attrs):
        for name, value in attrs:
            if name in ("href", "src") and value is not None:
                self.links.append((tag, value))
            if name == "id" and value:
                self.ids.add(value)


def _parse(path: Path) -> _Links:
    parser = _Links()
    parser.feed(path.read_text(encoding="utf-8"))
    return parser


def _pages(site: Path) -> list[Path]:
    return sorted(site.rglob("*.html"))


@pytest.fixture
def site(site_settings, site_usage, site_sections):
    return build_site(site_settings, site_usage, site_sections)


def _read(site, relative: str) -> str:
    return (site.directory / relative).read_text(encoding="utf-8")


def test_the_dashboard_shows_the_summary_cards_and_the_trend(site):
    page = _read(site, "billing_dashboard.html")
    cards = re.findall(r'<div class="card-value">(.*?)</div>', page, re.S)
    assert cards[0] == "$83.90"
    assert 'href="users/' in cards[1] and escape(SITE_NASTY_USER) in cards[1]
    assert cards[2] == '<a href="models/claude-4.6-opus.html">claude-4.6-opus</a>'
    # No section declares the headline trend: the dashboard draws none (the core makes up no figure).
    assert 'id="chart-trend"' not in page
    # At a glance: the top rows of each section's first table with a link to its page.
    assert 'href="top-cost-users.html"' in page


def test_without_a_section_of_summary_cards_the_dashboard_has_none_and_says_so(site_settings, site_usage,
                                                                                 site_sections):
    ranked_only = [s for s in site_sections if "summary-cards" not in s.roles]
    page = _read(build_site(site_settings, site_usage, ranked_only), "billing_dashboard.html")
    assert 'class="card-value"' not in page
    assert "No summary figures: no plugin gives the dashboard its cards" in page
    with_cards = _read(build_site(site_settings, site_usage, site_sections), "billing_dashboard.html")
    assert "No summary figures" not in with_cards


def test_a_user_page_has_spend_models_and_cost_per_request(site):
    page = _read(site, "users/ann-example.com.html")
    cards = re.findall(r'<div class="card-value">(.*?)</div>', page, re.S)
    # 3250 cents / 12 requests = 270.8333 cents: a price per request to a hundredth of a cent
    assert cards[:3] == ["$32.50", "12", "$2.7083"]
    labels = re.findall(r'<div class="card-label">(.*?)</div>', page)
    # the top model by spend (claude-4.6-opus, 2000c of 3250c) and by requests (gpt-5, 10 of 12), each named so
    assert labels[3:5] == ["Top model by spend", "Top model by requests"]
    assert ">claude-4.6-opus</a>" in cards[3] and ">gpt-5</a>" in cards[4]
    assert "rank 2 of 5 users" in page
    models = page[page.index('id="table-models"'):page.index('id="table-by-month"')]
    assert models.index("claude-4.6-opus") < models.index("gpt-5")  # costliest first
    assert '<a href="../models/gpt-5.html">gpt-5</a>' in models
    assert "61.5%" in models and "38.5%" in models  # 2000 and 1250 of 3250 cents
    by_month = page[page.index('id="table-by-month"'):]
    rows = re.findall(r'<tr><td data-sort="(\d{4}-\d\d)">.*?</td><td class="num" data-sort="(\d+)">', by_month)
    assert rows == [("2026-01", "1250"), ("2026-02", "2000")]
    # March 2026 has no cache file: its cells are blank and the month says "not fetched"
    assert re.search(r'Mar 2026 <span class="flag"[^>]*>not fetched</span></td><td class="num" data-sort="">'
                     r'</td>', by_month)
    # a user page carries its downloads itself (data: links), as files of their own names
    csv_link = re.search(r'<a href="data:text/csv;charset=utf-8;base64,([^"]+)" '
                         r'download="ann-example.com--models.csv">CSV</a>', page)
    csv_lines = base64.b64decode(csv_link[1]).decode("utf-8").splitlines()
    assert csv_lines == ["Model,On-demand cost (USD),Requests,Avg cost / request (USD),Share of cost",
                         "claude-4.6-opus,20.00000000,2,10.00000000,61.5", "gpt-5,12.50000000,10,1.25000000,38.5",
                         "Total,32.50000000,12,,"]
    json_link = re.search(r'<a href="data:application/json;base64,([^"]+)" '
                          r'download="ann-example.com--by-month.json">JSON</a>', page)
    assert [row["month"] for row in orjson.loads(base64.b64decode(json_link[1]))] == [
        "2026-01", "2026-02", "2026-03", "Total"]
    assert not (site.directory / "data" / "users").exists()


def test_a_user_table_too_big_to_carry_gets_files_like_other_tables(site_settings, site_usage, site_sections,
                                                                       tmp_path, monkeypatch):
    from billing_reports.site import render

    monkeypatch.setattr(render, "EMBED_MAX_BYTES", 0)
    built = build_site(site_settings, site_usage, site_sections, site_dir=tmp_path / "site")
    page = _read(built, "users/ann-example.com.html")
    assert 'href="../data/users/ann-example.com--models.csv" download="ann-example.com--models.csv"' in page
    assert _read(built, "data/users/ann-example.com--models.csv").startswith("Model,On-demand cost (USD),")
    assert "data:text/csv" not in page


def test_a_model_page_lists_its_users(site):
    page = _read(site, "models/gpt-5.html")
    users = page[page.index('id="table-users"'):page.index('id="table-by-month"')]
    order = [users.index(name) for name in (SITE_ANN, SITE_ANN_UPPER, escape(REMOVED_USER))]
    assert order == sorted(order)  # 1250, 100, 10 cents
    assert "$13.60" in users  # the total row: 1250 + 100 + 10 cents


def test_colliding_and_path_like_names_get_distinct_safe_pages(site):
    users = sorted(p.name for p in (site.directory / "users").iterdir())
    assert len(users) == 5
    assert "ann-example.com.html" in users
    upper = [name for name in users if name.startswith("ann-example.com-")]
    assert len(upper) == 1, users
    assert f"<h1 class=\"entity\">{SITE_ANN_UPPER}</h1>" in (site.directory / "users" / upper[0]).read_text()
    models = sorted(p.name for p in (site.directory / "models").iterdir())
    assert models == ["claude-4.6-opus.html", "evil-model.html", "gpt-5.html"]
    assert "x-etc.html" in users
    for path in site.directory.rglob("*"):
        assert path.resolve().is_relative_to(site.directory.resolve())


def test_every_internal_link_and_asset_resolves_and_nothing_is_fetched_from_elsewhere(site):
    pages = _pages(site.directory)
    assert len(pages) >= 15
    for page in pages:
        parsed = _parse(page)
        for tag, target in parsed.links:
            parts = urlsplit(target)
            if tag != "a":
                assert not parts.scheme and not parts.netloc, f"{page.name} loads {target}"
            if parts.scheme or parts.netloc:
                continue
            resolved = (page.parent / unquote(parts.path)).resolve() if parts.path else page
            assert resolved.is_file(), f"{page.relative_to(site.directory)} links to missing {target}"
            assert resolved.is_relative_to(site.directory.resolve())
            if parts.fragment and resolved == page:
                assert parts.fragment in parsed.ids, f"{page.name}: no element #{parts.fragment}"


def test_every_user_and_model_name_in_a_table_links_to_its_page(site):
    page = _read(site, "top-cost-users.html")
    table = page[page.index('id="table-ranked"'):page.index("</table>", page.index('id="table-ranked"'))]
    links = re.findall(r'<a href="(users/[^"]+)">', table)
    assert len(links) == 5 and len(set(links)) == 5
    everyone = _read(site, "users.html")
    assert len(re.findall(r'<a href="users/', everyone)) == 5
    models = _read(site, "models.html")
    assert len(re.findall(r'<a href="models/', models)) == 3


def test_names_and_intros_are_escaped(site):
    for page in _pages(site.directory):
        text = page.read_text()
        assert "<b>bob</b>" not in text, page
        assert "<script>alert" not in text, page
    ranked = _read(site, "top-cost-users.html")
    assert escape(SITE_NASTY_USER) in ranked
    assert "<strong>spends</strong>" in ranked  # the intro is Markdown...
    assert "&lt;script&gt;alert(" in ranked  # ...with raw HTML shown as text


def test_every_page_states_the_period_fetched_at_and_incomplete_months(site):
    for page in _pages(site.directory):
        if page.name == "index.html":
            continue  # the redirect to the dashboard
        text = page.read_text()
        assert "January 2026 – March 2026" in text, page
        assert "3 Feb 2026, 10:00 UTC to 24 Feb 2026, 16:30 UTC" in text, page
        assert "February 2026 is incomplete" in text, page
        assert "No data for March 2026" in text, page


def test_incomplete_months_are_flagged_in_tables_and_charts(site):
    page = _read(site, "users/ann-example.com.html")
    by_month = page[page.index('id="table-by-month"'):]
    assert re.search(r"Feb 2026 <span class=\"flag\"[^>]*>incomplete</span>", by_month)
    assert not re.search(r"Jan 2026 <span class=\"flag\"", by_month)
    assert ">Feb 2026*</text>" in page  # the chart's axis label
    assert "hollow" in page


def test_every_section_table_has_csv_and_json_downloads(site, site_sections):
    page = _read(site, "top-cost-users.html")
    assert 'href="data/top-cost-users--ranked.csv"' in page
    assert 'href="data/top-cost-users--ranked.json"' in page
    table = site_sections[0].tables[0]
    assert _read(site, "data/top-cost-users--ranked.csv") == table.to_csv()
    assert (site.directory / "data/top-cost-users--ranked.json").read_bytes() == table.to_json()
    assert orjson.loads(table.to_json())[-1]["cost_usd"] == "83.90000000"


def test_the_data_quality_and_about_pages(site):
    quality = _read(site, "data-quality.html")
    assert "Included in Business" in quality and "newField" in quality
    fetches = quality[quality.index('id="table-fetches"'):quality.index("</table>", quality.index('id="table-fetches"'))]
    assert ">complete<" in fetches and ">incomplete<" in fetches and "missing: not fetched" in fetches
    about = _read(site, "about.html")
    for fact in ("chargedCents", "tokenUsage.totalCents × (1 − discountPercentOff / 100) + cursorTokenFee", "isChargeable", "isTokenBasedCall", "UTC",
                 "/teams/filtered-usage-events", "3 Feb 2026, 10:00 UTC"):
        assert fact in about


def test_the_manifest_is_written_last_and_lists_every_file(site):
    manifest = orjson.loads((site.directory / MANIFEST_NAME).read_bytes())
    on_disk = sorted(str(p.relative_to(site.directory)) for p in site.directory.rglob("*") if p.is_file())
    assert manifest["files"] == [name for name in on_disk if name != MANIFEST_NAME]
    assert manifest["period"] == {"first": "2026-01", "last": "2026-03"}
    assert manifest["index"] == "billing_dashboard.html"
    assert manifest["built_at"].endswith("Z")
    newest = max(p.stat().st_mtime_ns for p in site.directory.rglob("*") if p.is_file())
    assert (site.directory / MANIFEST_NAME).stat().st_mtime_ns == newest


def test_index_html_leads_to_the_dashboard(site, site_settings, site_usage, site_sections, tmp_path):
    assert 'url=billing_dashboard.html' in _read(site, "index.html")
    from dataclasses import replace

    plain = build_site(replace(site_settings, output_filename="index.html"), site_usage, site_sections,
                       site_dir=tmp_path / "plain")
    assert '<div class="cards">' in (plain.directory / "index.html").read_text()
    assert plain.index_path.name == "index.html"


def test_a_user_template_overrides_and_extends_the_default(site_settings, site_usage, site_sections, tmp_path):
    from dataclasses import replace

    templates = tmp_path / "templates"
    templates.mkdir()
    (templates / "base.html").write_text(
        '{% extends "default:base.html" %}{% block head %}<meta name="team" content="{{ site.title }}">{% endblock %}'
    )
    built = build_site(replace(site_settings, templates_dir=templates), site_usage, site_sections)
    for page in _pages(built.directory):
        if page.name != "index.html":
            assert '<meta name="team" content="On-demand AI spend">' in page.read_text(), page


def test_a_plugin_can_ship_the_template_its_section_names(site_settings, site_usage, tmp_path):
    templates = tmp_path / "plugin_templates"
    templates.mkdir()
    (templates / "team.html").write_text(
        '{% extends "section.html" %}{% block before %}<p class="team-note">{{ section.extra.note }}</p>{% endblock %}'
    )

    class TeamTemplates:
        @hookimpl
        def register_template_dirs(self, register):
            register(templates)

    manager = get_plugin_manager(load_entry_points=False)
    manager.register(TeamTemplates())
    section = Section("by-team", "Cost by team", 20, template="team.html", extra={"note": "Teams <from CSV>"},
                      tables=[Table("teams", "Teams", [Column("team", "Team")], [["core"]])])
    built = build_site(site_settings, site_usage, [section], manager=manager)
    assert '<p class="team-note">Teams &lt;from CSV&gt;</p>' in _read(built, "by-team.html")


def test_a_failed_build_keeps_the_previous_site(site, site_settings, site_usage, site_sections):
    before = {p: p.read_bytes() for p in site.directory.rglob("*") if p.is_file()}
    broken = [*site_sections, Section("odd", "Odd", 30, template="no-such-template.html")]
    with pytest.raises(BillingReportsError, match="no-such-template.html"):
        build_site(site_settings, site_usage, broken)
    after = {p: p.read_bytes() for p in site.directory.rglob("*") if p.is_file()}
    assert after == before
    assert [p.name for p in site.directory.parent.iterdir() if p.name.startswith(".site.")] == []


def test_a_rebuild_replaces_the_whole_site(site, site_settings, site_usage, site_sections):
    stale = site.directory / "users" / "x-etc.html"
    assert stale.exists()
    from billing_reports.usage import OnDemandUsage

    without_one = OnDemandUsage(
        months=site_usage.months, month_facts=site_usage.month_facts,
        ledger={key: totals for key, totals in site_usage.ledger.items() if key[1] != SITE_PATHLIKE_USER},
    )
    build_site(site_settings, without_one, site_sections)
    assert not stale.exists()
    assert [p.name for p in site.directory.parent.iterdir() if p.name.startswith(".site.")] == []


def test_a_directory_that_is_not_a_built_site_is_never_replaced(site_settings, site_usage, site_sections):
    site_settings.site_dir.mkdir()
    (site_settings.site_dir / "thesis.tex").write_text("precious")
    with pytest.raises(ConfigError, match="no build-manifest.json"):
        build_site(site_settings, site_usage, site_sections)
    assert (site_settings.site_dir / "thesis.tex").read_text() == "precious"


def test_a_plugin_failure_is_shown_on_the_dashboard(site_settings, site_usage, site_sections):
    from billing_reports.plugin_manager import PluginFailure

    built = build_site(site_settings, site_usage, site_sections,
                       failures=[PluginFailure("cost_by_team", "KeyError: 'team'")])
    for name in ("billing_dashboard.html", "data-quality.html"):
        assert "<code>cost_by_team</code>: KeyError: &#39;team&#39;" in _read(built, name)


def test_pages_are_rendered_with_one_compiled_template_each(site_settings, site_usage, site_sections, monkeypatch):
    import jinja2

    compiled: list[str] = []
    original = jinja2.Environment._load_template

    def counting(self, name, globals):
        template = original(self, name, globals)
        compiled.append(name)
        return template

    monkeypatch.setattr(jinja2.Environment, "_load_template", counting)
    build_site(site_settings, site_usage, site_sections)
    # 5 user pages and 3 model pages, but user.html and model.html are looked up once each.
    assert compiled.count("user.html") == 1 and compiled.count("model.html") == 1


def test_chart_labels_that_name_users_link_to_their_pages(site):
    page = _read(site, "top-cost-users.html")
    chart = page[page.index('id="chart-by-user"'):page.index("</figure>", page.index('id="chart-by-user"'))]
    assert '<th scope="row"><a href="users/ann-example.com.html">ann@example.com</a></th>' in chart
    assert len(re.findall(r'<th scope="row"><a href="users/', chart)) == 5


def test_a_month_column_of_an_incomplete_month_is_flagged(site_settings, site_usage):
    months = Table("per-month", "Spend per month",
                   [Column("user", "User", "user"), Column("2026-01", "Jan 2026", "money"),
                    Column("2026-02", "Feb 2026", "money")],
                   [[SITE_ANN, 1_250_000_000, 2_000_000_000]])
    built = build_site(site_settings, site_usage, [Section("per-month", "Per month", 5, tables=[months])])
    headers = re.findall(r'<th scope="col"[^>]*>(.*?)</th>', _read(built, "per-month.html"))
    assert headers[1] == "Jan 2026"
    assert headers[2].startswith("Feb 2026<abbr class=\"flag-mark\"")


def test_the_index_cannot_take_the_name_of_another_page(site_settings, site_usage, site_sections):
    from dataclasses import replace

    with pytest.raises(ConfigError, match="billing.output_filename: 'about.html' is the name of another page"):
        build_site(replace(site_settings, output_filename="about.html"), site_usage, site_sections)
    assert not site_settings.site_dir.exists()


def test_the_site_is_readable_by_a_web_server(site):
    import os
    import stat

    umask = os.umask(0)
    os.umask(umask)
    assert stat.S_IMODE(site.directory.stat().st_mode) == 0o777 & ~umask
    assert stat.S_IMODE((site.directory / "users").stat().st_mode) == 0o777 & ~umask
    assert stat.S_IMODE((site.directory / "about.html").stat().st_mode) == 0o666 & ~umask


def test_a_table_of_an_incomplete_month_is_flagged_in_its_title(site_settings, site_usage):
    tables = [Table(f"m{i}", title, [Column("model", "Model", "model")], [["gpt-5"]])
              for i, title in enumerate(["January 2026", "February 2026"])]
    built = build_site(site_settings, site_usage, [Section("monthly", "Monthly", 5, tables=tables)])
    titles = re.findall(r'<h2 class="block-title" id="table-m\d-title">(.*?)</h2>', _read(built, "monthly.html"))
    assert titles[0] == "January 2026"
    assert titles[1].startswith('February 2026 <span class="flag"')


def test_a_later_build_removes_what_a_killed_build_left_behind(site_settings, site_usage, site_sections):
    import os
    import time

    parent = site_settings.site_dir.parent
    old = parent / ".site.building-killed"
    recent = parent / ".site.building-running"
    for leftover in (old, recent):
        (leftover / "users").mkdir(parents=True)
    day_ago = time.time() - 25 * 3600
    os.utime(old, (day_ago, day_ago))
    build_site(site_settings, site_usage, site_sections)
    assert not old.exists()
    assert recent.exists()  # may be another build still running


def test_a_site_folder_named_like_a_pattern_removes_only_its_own_leftovers(site_settings, site_usage, site_sections):
    """``paths.site_dir: site[1]``: its name is no glob, so ``.site1.old-x`` (another folder's) stays."""
    import dataclasses
    import os
    import time

    settings = dataclasses.replace(site_settings, site_dir=site_settings.site_dir.parent / "site[1]")
    parent = settings.site_dir.parent
    theirs, mine = parent / ".site1.old-killed", parent / ".site[1].old-killed"
    for leftover in (theirs, mine):
        leftover.mkdir()
        day_ago = time.time() - 25 * 3600
        os.utime(leftover, (day_ago, day_ago))
    build_site(settings, site_usage, site_sections)
    assert theirs.exists() and not mine.exists()


@pytest.mark.parametrize("exchange", [True, False], ids=["renameat2-exchange", "rename-dance"])
def test_the_new_site_is_swapped_in_with_or_without_an_atomic_exchange(
        exchange, site_settings, site_usage, site_sections, monkeypatch):
    from billing_reports.site import output

    build_site(site_settings, site_usage, site_sections)
    (site_settings.site_dir / "stale.html").write_text("from the previous build")
    if not exchange:
        monkeypatch.setattr(output, "_exchange", lambda first, second: False)
    built = build_site(site_settings, site_usage, site_sections)
    assert not (built.directory / "stale.html").exists()
    assert (built.directory / "build-manifest.json").is_file()
    assert sorted(p.name for p in site_settings.site_dir.parent.iterdir()) == ["site"]


def test_the_stylesheet_can_be_replaced_too(site_settings, site_usage, site_sections, tmp_path):
    from dataclasses import replace

    templates = tmp_path / "look"
    templates.mkdir()
    (templates / "site.css").write_text("body { background: #fdf6e3; }\n")
    built = build_site(replace(site_settings, templates_dir=templates), site_usage, site_sections)
    assert _read(built, "assets/site.css") == "body { background: #fdf6e3; }\n"


def test_a_missing_templates_dir_is_a_config_error(site_settings, site_usage, site_sections, tmp_path):
    from dataclasses import replace

    with pytest.raises(ConfigError, match="paths.templates_dir: .*nowhere is not a directory"):
        build_site(replace(site_settings, templates_dir=tmp_path / "nowhere"), site_usage, site_sections)


def test_a_broken_override_template_is_one_line_naming_it(site_settings, site_usage, site_sections, tmp_path):
    from dataclasses import replace

    templates = tmp_path / "broken"
    templates.mkdir()
    (templates / "about.html").write_text("{% extends 'default:base.html' %}{% block main %}{{ nope.x }}{% endblock %}")
    with pytest.raises(BillingReportsError, match=r"template 'about.html' failed on page about.html: 'nope' is undefined"):
        build_site(replace(site_settings, templates_dir=templates), site_usage, site_sections)
    assert not site_settings.site_dir.exists()


def test_a_period_without_any_data_still_builds_a_clear_site(site_settings):
    from billing_reports.months import Month
    from billing_reports.usage import OnDemandUsage

    empty = OnDemandUsage(months=[Month(2026, 1)])
    built = build_site(site_settings, empty, [])
    page = _read(built, "billing_dashboard.html")
    assert "No summary figures" in page  # no section: no card made up by the core
    assert "No data for January 2026" in page
    assert "no data fetched yet" in page
    assert not (built.directory / "users").exists()
    assert "Nothing to show for this period." in _read(built, "users.html")


def test_publish_accepts_the_built_site(site):
    from billing_reports.publish.site import load_built_site

    published = load_built_site(site.directory)
    assert published.index == "billing_dashboard.html"
    assert published == site  # the one BuiltSite: as the build returned it, as publish reads it back
    assert (published.first_month.key, published.last_month.key) == ("2026-01", "2026-03")


def test_bar_chart_labels_link_to_user_pages(site):
    page = _read(site, "top-cost-users.html")
    svg = page[page.index('<svg class="chart chart-bar"'):page.index("</svg>")]
    assert svg.count('<a href="users/') == 5


def test_pages_rendered_by_a_forked_process_are_the_same_files(site_settings, site_usage, site_sections, monkeypatch):
    from billing_reports.site import render

    built_at = datetime(2026, 2, 1, tzinfo=timezone.utc)
    serial = build_site(site_settings, site_usage, site_sections, built_at=built_at,
                        site_dir=site_settings.site_dir.parent / "serial")
    monkeypatch.setattr(render, "PARALLEL_MIN_PAGES", 0)
    monkeypatch.setattr(render, "usable_cpus", lambda: 2)
    forked = build_site(site_settings, site_usage, site_sections, built_at=built_at,
                        site_dir=site_settings.site_dir.parent / "forked")
    assert (forked.built_at, forked.files, forked.checksums) == (serial.built_at, serial.files, serial.checksums)
    for name in serial.files:
        assert (forked.directory / name).read_bytes() == (serial.directory / name).read_bytes(), name


def test_a_template_error_in_the_forked_process_fails_the_build(site_settings, site_usage, site_sections,
                                                                 monkeypatch, tmp_path):
    from billing_reports.site import render

    monkeypatch.setattr(render, "PARALLEL_MIN_PAGES", 0)
    monkeypatch.setattr(render, "usable_cpus", lambda: 2)
    templates = tmp_path / "broken-templates"
    templates.mkdir()
    (templates / "model.html").write_text('{% extends "section.html" %}{% block main %}{{ nothing.at.all }}{% endblock %}')
    settings = dataclasses.replace(site_settings, templates_dir=templates)
    with pytest.raises(BillingReportsError, match="model.html"):
        build_site(settings, site_usage, site_sections)
    assert not site_settings.site_dir.exists()


def test_the_dashboard_previews_the_newest_months_of_a_table_by_month(site_settings, site_usage):
    months = [f"2025-{m:02d}" for m in range(1, 13)] + ["2026-01", "2026-02"]
    trend = Table("trend", "Monthly trend", [Column("month", "Month", "month"), Column("cost", "Spend", "money")],
                  [[key, (i + 1) * 100_000_000] for i, key in enumerate(months)])
    ranked = Table("ranked", "Ranked", [Column("user", "User", "user"), Column("cost", "Spend", "money")],
                   [[f"user{i}@x.com", (20 - i) * 100_000_000] for i in range(8)])
    preview = ("dashboard-preview",)
    built = build_site(site_settings, site_usage, [Section("trend", "Trend", 5, tables=[trend], roles=preview),
                                                   Section("ranked", "Ranked", 6, tables=[ranked], roles=preview),
                                                   Section("unlisted", "Not previewed", 7, tables=[ranked])])
    page = _read(built, "billing_dashboard.html")
    glance = page[page.index('id="glance-trend"'):page.index("</table>", page.index('id="glance-trend"'))]
    # The last five months, oldest first: February 2026 (incomplete) is the last row shown.
    assert re.findall(r'<tr><td data-sort="(\d{4}-\d\d)">', glance) == [
        "2025-10", "2025-11", "2025-12", "2026-01", "2026-02"]
    assert "All 14 rows" in page
    other = page[page.index('id="glance-ranked"'):page.index("</table>", page.index('id="glance-ranked"'))]
    assert re.findall(r'data-sort="(user\d)@x.com"', other) == ["user0", "user1", "user2", "user3", "user4"]
    # only a section that declares the role is previewed (it still has its page)
    assert 'id="glance-unlisted"' not in page and (built.directory / "unlisted.html").is_file()


def test_the_preview_of_a_monthly_breakdown_names_its_month_and_flags_it_incomplete(site_settings, site_usage):
    def breakdown(slug: str, title: str) -> Table:
        return Table(slug, title, [Column("model", "Model", "model"), Column("cost", "Cost", "money")],
                     [["gpt-5", 100_000_000]])

    preview = ("dashboard-preview",)
    newest_incomplete = Section("by-model", "Monthly model breakdown", 5, roles=preview,
                                tables=[breakdown("2026-02", "February 2026"), breakdown("2026-01", "January 2026")])
    newest_complete = Section("by-user", "Monthly user breakdown", 6, roles=preview,
                              tables=[breakdown("2026-01", "January 2026")])
    not_by_month = Section("ranked", "Ranked", 7, roles=preview, tables=[breakdown("ranked", "Models by spend")])
    built = build_site(site_settings, site_usage, [newest_incomplete, newest_complete, not_by_month])
    page = _read(built, "billing_dashboard.html")
    headings = dict(re.findall(r'<section class="glance"[^>]*>\s*<h3 id="[^"]+"><a href="([^"]+)">[^<]*</a>(.*?)</h3>', page, re.S))
    assert headings["by-model.html"].startswith(' <span class="glance-month">February 2026</span> <span class="flag"')
    assert headings["by-user.html"] == ' <span class="glance-month">January 2026</span>'
    assert headings["ranked.html"] == ""


def test_an_incomplete_month_column_is_marked_once(site, site_settings, site_usage):
    quality = _read(site, "data-quality.html")
    left_out = quality[quality.index('id="table-left-out"'):quality.index("</thead>", quality.index('id="table-left-out"'))]
    headers = re.findall(r'<th scope="col"[^>]*>(.*?)</th>', left_out)
    assert headers[2] == "Jan 2026"
    assert headers[3] == 'Feb 2026<abbr class="flag-mark" title="incomplete month: fetched before it was over">*</abbr>'
    # A plugin's label that carries the mark itself is not marked a second time.
    marked = Table("per-month", "Per month", [Column("2026-02", "Feb 2026*", "count")], [[1]])
    built = build_site(site_settings, site_usage, [Section("per-month", "Per month", 5, tables=[marked])])
    header = re.findall(r'<th scope="col"[^>]*>(.*?)</th>', _read(built, "per-month.html"))[0]
    assert re.sub(r"<[^>]+>", "", header) == "Feb 2026*"


def test_series_that_name_users_or_models_link_to_their_pages_in_the_chart_table(site_settings, site_usage):
    chart = Chart("top", "Monthly spend of the top users", "Per month", "line", ["2026-01", "2026-02"],
                  [Series(SITE_ANN, [1, 2]), Series("gpt-5", [3, 4]), Series("Everyone else", [5, 6])])
    built = build_site(site_settings, site_usage, [Section("top", "Top", 5, charts=[chart])])
    page = _read(built, "top.html")
    head = page[page.index("<thead>", page.index('id="chart-top"')):page.index("</thead>", page.index('id="chart-top"'))]
    assert re.findall(r'<th scope="col"[^>]*>(.*?)</th>', head) == [
        "Month", f'<a href="users/ann-example.com.html">{SITE_ANN}</a>', '<a href="models/gpt-5.html">gpt-5</a>',
        "Everyone else"]


def test_name_cells_are_marked_so_that_names_do_not_break(site):
    page = _read(site, "top-cost-users.html")
    table = page[page.index('id="table-ranked"'):page.index("</table>", page.index('id="table-ranked"'))]
    assert re.findall(r'<tr><td class="name" data-sort="[^"]*"><a href="users/', table)
    assert '<td class="name">Total</td>' in table  # the total row's label sits in the name column
    assert "table.data td.name, table.data th a { white-space: nowrap;" in _read(site, "assets/site.css")


def test_a_chart_of_many_series_puts_its_numbers_under_it(site_settings, site_usage):
    many = Chart("many", "Top models per month", "d", "line", ["2026-01"], [Series(f"m{i}", [i]) for i in range(3)])
    one = Chart("one", "Spend per month", "d", "line", ["2026-01"], [Series("Spend", [1])])
    built = build_site(site_settings, site_usage, [Section("charts", "Charts", 5, charts=[many, one])])
    layouts = re.findall(r'<figure class="chart-block" id="([^"]+)">.*?<div class="([^"]+)">', _read(built, "charts.html"), re.S)
    assert layouts == [("chart-many", "chart-layout stacked"), ("chart-one", "chart-layout")]


def test_the_about_page_measures_the_forecast_against_the_flat_run_rate(site):
    """January 2026 of the site's usage (the one complete month): $11 on Mon 5 Jan, $52.50 on Tue 20 Jan,
    $63.50 in all (January began on a Thursday). As of the end of day 5 (Thu 1 - Mon 5: 3 weekdays, $11;
    2 idle weekend days) the forecast adds 19 weekdays x $11 / 3: $80.67, 27.0 % off; the flat rate
    $11 x 31 / 5 = $68.20, 7.4 % off. Day 10: $11 over 7 weekdays for the 15 left, $34.57 (45.6 %), flat
    $34.10 (46.3 %). Day 15: $11 / 11 for 11 weekdays, $22.00 (65.4 %), flat $22.73 (64.2 %). Day 20:
    $63.50 / 14 weekdays for 8 more, $99.79 (57.1 %), flat $98.43 (55.0 %). Means: 48.8 % and 43.2 %:
    a month of two big days is no weekly pattern, and the page says so in figures."""
    import re

    about = _read(site, "about.html")
    table = about[about.index('id="table-forecast-backtest"'):]
    table = table[:table.index("</table>")]
    cells = [re.sub(r"<[^>]+>", "", row).split("|") for row in
             re.sub(r"\s*</t[dh]>\s*", "|", table).split("</tr>")]
    found = {row[0].strip(): [cell.strip() for cell in row[1:4]] for row in cells if row[0].strip().startswith(("day", "days"))}
    assert found == {"day 5": ["1", "27.0%", "7.4%"], "day 10": ["1", "45.6%", "46.3%"], "day 15": ["1", "65.4%", "64.2%"],
                     "day 20": ["1", "57.1%", "55.0%"], "days 5, 10, 15, 20": ["4", "48.8%", "43.2%"]}
