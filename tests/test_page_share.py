"""The user and model pages started on by a second process before the plugins are done (page_share).

Whatever way a page came about (held with the navigation marker and completed later, rendered by
either process once the navigation was known, or rendered late with templates of one's own), the
site must be the very same files as a build in one process.
"""

from __future__ import annotations

import dataclasses
import time
from datetime import datetime, timezone
from importlib import resources

import pytest
from conftest import process_running

from billing_reports.site import build_site, page_share, render, site_under_way

BUILT_AT = datetime(2026, 2, 1, tzinfo=timezone.utc)


@pytest.fixture
def shared(monkeypatch):
    """User and model pages shared with a second process however few there are."""
    monkeypatch.setattr(render, "PARALLEL_MIN_PAGES", 0)
    monkeypatch.setattr(render, "usable_cpus", lambda: 2)


def _serial(settings, usage, sections, monkeypatch, name="serial"):
    with monkeypatch.context() as patch:
        patch.setattr(render, "PARALLEL_MIN_PAGES", 10**9)
        return build_site(settings, usage, sections, built_at=BUILT_AT, site_dir=settings.site_dir.parent / name)


def _same_files(built, expected):
    assert (built.files, built.checksums) == (expected.files, expected.checksums)
    for name in expected.files:
        assert (built.directory / name).read_bytes() == (expected.directory / name).read_bytes(), name


def _wait_until_every_page_is_taken(site, timeout=30.0):
    share = site.renderer.drilldowns
    assert share is not None, "no second process was started"
    deadline = time.monotonic() + timeout
    while share._next.value < len(share.pages):
        assert time.monotonic() < deadline, "the second process took no pages"
        time.sleep(0.01)
    return share


def test_pages_held_until_the_navigation_is_known_are_the_same_files(site_settings, site_usage, site_sections,
                                                                      monkeypatch, shared):
    expected = _serial(site_settings, site_usage, site_sections, monkeypatch)
    with site_under_way(site_settings, site_usage, built_at=BUILT_AT) as site:
        share = _wait_until_every_page_is_taken(site)  # every page rendered with the marker, then held
        assert len(share.pages) == len(site_usage.user_names) + len(site_usage.model_names)
        built = site.finish(site_sections)
    _same_files(built, expected)
    page = (built.directory / built.files[[n.startswith("users/") for n in built.files].index(True)]).read_text()
    assert "<!-- navigation" not in page and 'href="../top-cost-users.html"' in page


def test_a_second_process_holding_its_most_waits_for_the_navigation(site_settings, site_usage, site_sections,
                                                                     monkeypatch, shared):
    # it holds one page, takes the next and waits: this process renders every other page meanwhile
    monkeypatch.setattr(page_share, "HELD_LIMIT", 0)
    expected = _serial(site_settings, site_usage, site_sections, monkeypatch)
    with site_under_way(site_settings, site_usage, built_at=BUILT_AT) as site:
        time.sleep(0.5)
        share = site.renderer.drilldowns
        assert share._next.value == 2
        built = site.finish(site_sections)
    _same_files(built, expected)


def test_templates_of_ones_own_without_the_marker_give_the_same_pages(site_settings, site_usage, site_sections,
                                                                       monkeypatch, shared, tmp_path):
    # a base.html of one's own that lists the navigation itself (as before the marker existed)
    templates = tmp_path / "templates"
    templates.mkdir()
    base = resources.files("billing_reports.site_templates").joinpath("base.html").read_text(encoding="utf-8")
    nav = resources.files("billing_reports.site_templates").joinpath("_nav.html").read_text(encoding="utf-8")
    own = base.replace('{% if site.nav_marker %}{{ site.nav_marker }}{% else %}{% include "_nav.html" %}{% endif %}',
                       nav.split("-#}\n", 1)[1].rstrip("\n") + "<!-- own -->")
    assert own != base
    (templates / "base.html").write_text(own, encoding="utf-8")
    settings = dataclasses.replace(site_settings, templates_dir=templates)
    expected = _serial(settings, site_usage, site_sections, monkeypatch)
    # (held only with the built-in templates; taken for them here, the marker's absence is found on a page)
    monkeypatch.setattr(render, "is_builtin_template", lambda environment, name: True)
    with site_under_way(settings, site_usage, built_at=BUILT_AT) as site:
        assert site.renderer.drilldowns.hold
        time.sleep(0.5)  # it rendered one page, found no marker, and waits (its downloads written once)
        built = site.finish(site_sections)
    _same_files(built, expected)
    drilldowns = [name for name in built.files if name.startswith(("users/", "models/")) and name.endswith(".html")]
    assert drilldowns and all("<!-- own -->" in (built.directory / name).read_text() for name in drilldowns)


def test_a_build_stopped_while_the_plugins_run_leaves_the_previous_site_and_nothing_else(
        site_settings, site_usage, site_sections, monkeypatch, shared):
    previous = build_site(site_settings, site_usage, site_sections, built_at=BUILT_AT)
    before = {name: (previous.directory / name).read_bytes() for name in previous.files}
    folder = site_settings.site_dir.parent
    entries = sorted(path.name for path in folder.iterdir())

    with pytest.raises(RuntimeError, match="a plugin broke"):
        with site_under_way(site_settings, site_usage) as site:
            share = site.renderer.drilldowns
            time.sleep(0.2)
            raise RuntimeError("a plugin broke")
    assert not share._process.is_alive()
    time.sleep(0.3)  # (nothing writes afterwards either)
    assert sorted(path.name for path in folder.iterdir()) == entries  # no build directory left
    assert {name: (previous.directory / name).read_bytes() for name in previous.files} == before


# --- templates of one's own: nothing is held, the pages are still shared ----------------------------


def _nothing_taken_before_the_navigation(site):
    share = site.renderer.drilldowns
    assert share is not None and not share.hold
    time.sleep(0.3)
    assert share._next.value == 0


def _templates(tmp_path, **files):
    templates = tmp_path / "own-templates"
    templates.mkdir()
    for name, text in files.items():
        (templates / name.replace("__", ".")).write_text(text, encoding="utf-8")
    return templates


def _builtin(name):
    return resources.files("billing_reports.site_templates").joinpath(name).read_text(encoding="utf-8")


#: Templates of one's own that read the navigation as the built-in ones do not: a base.html listing it
#: again in the footer (site.nav), and a _nav.html reading the page's path (page_path is in every
#: page's context, docs/plugins.md, so in the navigation's include too).
OWN_NAVIGATION = {
    "listed twice": ("base.html", lambda: _builtin("base.html").replace('<footer class="footer">', (
        '<ul class="footer-nav">{% for item in site.nav %}<li>{{ item.label }}</li>{% endfor %}</ul>\n'
        '<footer class="footer">'))),
    "reading the page's path": ("_nav.html", lambda: (
        '{% for item in site.nav %}<li><a href="{{ root }}{{ item.path }}"'
        '{% if item.path == page_path %} class="here"{% endif %}>{{ item.label }}</a></li>{% endfor %}')),
}


@pytest.mark.parametrize("case", OWN_NAVIGATION)
def test_templates_of_ones_own_that_read_the_navigation_give_the_same_pages(
        case, site_settings, site_usage, site_sections, monkeypatch, shared, tmp_path):
    name, text = OWN_NAVIGATION[case]
    settings = dataclasses.replace(site_settings, templates_dir=_templates(tmp_path, **{name.replace(".", "__"): text()}))
    expected = _serial(settings, site_usage, site_sections, monkeypatch)
    with site_under_way(settings, site_usage, built_at=BUILT_AT) as site:
        _nothing_taken_before_the_navigation(site)
        built = site.finish(site_sections)
    _same_files(built, expected)


def test_a_nav_that_fails_on_the_user_pages_is_the_one_line_template_error(
        site_settings, site_usage, site_sections, monkeypatch, shared, tmp_path):
    from billing_reports.errors import BillingReportsError

    nav = '{% for item in site.nav %}<li>{{ item.label }}{% if current == "users" %}{{ item.nope }}{% endif %}</li>{% endfor %}'
    settings = dataclasses.replace(site_settings, templates_dir=_templates(tmp_path, _nav__html=nav))
    with pytest.raises(BillingReportsError, match=r"template '[a-z_]+\.html' failed.*nope.*fix the template"):
        with site_under_way(settings, site_usage, built_at=BUILT_AT) as site:
            _nothing_taken_before_the_navigation(site)
            site.finish(site_sections)


# --- a build killed while the second process works leaves no process behind -----------------------


@pytest.mark.parametrize("signal_name", ["SIGKILL", "SIGTERM"])
def test_a_killed_build_leaves_no_process_behind(tmp_path, signal_name):
    import os
    import signal
    import subprocess
    import sys

    from benchmarks.synthetic_cache import generate_cache
    from billing_reports.months import Month

    if len(os.sched_getaffinity(0)) < 2:
        pytest.skip("the pages are shared with a second process only where there are two CPUs")
    generate_cache(tmp_path / "cache", [Month(2026, 1)], 3000, users=260, models=5)
    plugins = tmp_path / "plugins"
    plugins.mkdir()
    (plugins / "slow.py").write_text("import time\nfrom billing_reports import hookimpl\n\n@hookimpl\n"
                                     "def register_sections(register):\n    time.sleep(60)\n", encoding="utf-8")
    (tmp_path / "config.yaml").write_text(f"paths:\n  data_dir: {tmp_path / 'cache'}\n  site_dir: {tmp_path / 'site'}\n"
                                          f"  plugins_dir: {plugins}\n", encoding="utf-8")
    build = subprocess.Popen([sys.executable, "-c", "from billing_reports.cli import main; main()", "build", "--offline", "--config",
                              str(tmp_path / "config.yaml"), "--end-month", "2026-01", "--months-back", "1"],
                             stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
    try:
        deadline = time.monotonic() + 60
        children = []
        while not children:  # the second process, started once the usage is loaded
            assert time.monotonic() < deadline and build.poll() is None, "no second process was started"
            time.sleep(0.1)
            children = [int(pid) for pid in open(f"/proc/{build.pid}/task/{build.pid}/children").read().split()]
        time.sleep(1.0)  # it is rendering and holding pages
        os.kill(build.pid, getattr(signal, signal_name))
        build.wait(10)
        deadline = time.monotonic() + 10
        while any(map(process_running, children)) and time.monotonic() < deadline:
            time.sleep(0.1)
        left = [pid for pid in children if process_running(pid)]
        assert not left, f"the second process outlived the build: {left}"
    finally:
        for pid in children if "children" in locals() else ():
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
        if build.poll() is None:
            build.kill()
