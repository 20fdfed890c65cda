"""Safe, unique, stable page file names for users and models."""

from __future__ import annotations

import re

import pytest

from billing_reports.site.names import MAX_SLUG_LENGTH, PageNames, slugify


@pytest.mark.parametrize(("name", "slug"), [
    ("dev@company.com", "dev-company.com"),
    ("Dev.Ops+CI@Company.com", "dev.ops-ci-company.com"),
    ("claude-4.6-opus-high-thinking", "claude-4.6-opus-high-thinking"),
    ("(removed user)", "removed-user"),
    ("x/../../etc/passwd", "x-etc-passwd"),
    ("..", "page"),
    ("Zoë@exämple.com", "zoe-example.com"),
    ("日本", "page"),
])
def test_slugify(name, slug):
    assert slugify(name) == slug


def test_slugs_are_short_and_safe():
    slug = slugify("a" * 300 + "@example.com")
    assert len(slug) <= MAX_SLUG_LENGTH
    assert re.fullmatch(r"[a-z0-9][a-z0-9._-]*", slug)


def test_colliding_names_get_distinct_slugs_and_the_lower_case_one_keeps_the_plain_slug():
    names = PageNames(["Ann@Example.com", "ann@example.com", "ann+x@example.com", "ann-x@example.com"],
                      fallback="user")
    slugs = {name: names.slug(name) for name in ("Ann@Example.com", "ann@example.com", "ann+x@example.com",
                                                 "ann-x@example.com")}
    assert len(set(slugs.values())) == 4
    assert slugs["ann@example.com"] == "ann-example.com"
    assert slugs["ann+x@example.com"] == "ann-x-example.com"  # A to Z: '+' sorts before '-'
    assert re.fullmatch(r"ann-example\.com-[0-9a-f]{8}", slugs["Ann@Example.com"])
    assert re.fullmatch(r"ann-x-example\.com-[0-9a-f]{8}", slugs["ann-x@example.com"])


def test_the_same_names_always_get_the_same_slugs():
    first = PageNames(["b@x", "B@x", "a@x", "日本", "中国"], fallback="user")
    again = PageNames(["中国", "a@x", "B@x", "日本", "b@x"], fallback="user")
    assert dict(first.items()) == dict(again.items())
    assert len({slug for _, slug in first.items()}) == 5


def test_reserved_slugs_are_never_given():
    names = PageNames(["index", "about"], fallback="section", reserved={"index"})
    assert names.slug("about") == "about"
    assert names.slug("index").startswith("index-")


@pytest.mark.parametrize("module_name", ["names", "charts", "views"])
def test_the_examples_in_the_site_docstrings_hold(module_name):
    import doctest
    import importlib

    module = importlib.import_module(f"billing_reports.site.{module_name}")
    result = doctest.testmod(module)
    assert result.attempted > 0 and result.failed == 0
