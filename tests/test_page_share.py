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

from billing_reports.site import build_site, page_share, render, site_under_way

BUILT_AT = datetime(2026, 2, 1, tzinfo=timezone.utc)


@pytest.fixture
def shared(monkeypatch):
    """User and model pages shared with a second process however few there are."""
    monkeypatch.setattr(render, "PARALLEL_MIN_PAGES", 0)
    monkeypatch.setattr(render, "_cpus", lambda: 2)


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
    with site_under_way(settings, site_usage, built_at=BUILT_AT) as site:
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
    assert share._pool._processes in (None, {}) or not any(p.is_alive() for p in share._pool._processes.values())
    time.sleep(0.3)  # (nothing writes afterwards either)
    assert sorted(path.name for path in folder.iterdir()) == entries  # no build directory left
    assert {name: (previous.directory / name).read_bytes() for name in previous.files} == before
