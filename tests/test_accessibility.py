"""The demo site checked by the tools other sites are held to: axe-core (WCAG 2.2 A and AA, and
axe's best practices) in Chromium over every kind of page in the light and the dark theme, and the
Nu HTML Checker over every page. Any violation fails, listed with the page and the element.

The checkers come from npm (tests/tools/package.json; ``axe_script`` and ``vnu_command`` in
conftest find them, and skip only outside CI when they are not installed).
"""

from __future__ import annotations

import subprocess

import orjson
import pytest

pytestmark = [pytest.mark.browser, pytest.mark.server]

#: axe-core's rules for WCAG 2.0/2.1/2.2 levels A and AA, and its best practices (landmarks, unique
#: region names, heading order, empty table headers).
AXE_TAGS = ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa", "wcag22aa", "best-practice"]
THEMES = ["light", "dark"]


def page_types(demo_site) -> dict[str, str]:
    """One page of every kind the site has: the dashboard, each section page (each group's
    chargeback page too), the directories, a user, a model, data quality, about, and the index that
    leads to the dashboard."""
    manifest = orjson.loads((demo_site / "build-manifest.json").read_bytes())
    pages = [name for name in manifest["files"] if name.endswith(".html")]
    top = sorted(name for name in pages if "/" not in name)
    kinds = {name: name for name in top}
    kinds["a user page"] = min(name for name in pages if name.startswith("users/"))
    kinds["a model page"] = min(name for name in pages if name.startswith("models/"))
    assert {"billing_dashboard.html", "daily.html", "data-quality.html", "about.html", "index.html",
            "users.html", "models.html", "spend-limits.html", "chargeback.html",
            "chargeback-unassigned.html", "alerts.html"} <= set(kinds), sorted(kinds)
    return kinds


def _open(page, url: str, name: str) -> None:
    if name == "index.html":
        # The index leads on to the dashboard at once: check the index itself (the dashboard
        # answers "204 No Content", so the browser stays on it).
        page.route("**/billing_dashboard.html", lambda route: route.fulfill(status=204))
        page.goto(url, wait_until="load")
        page.wait_for_timeout(200)
        page.unroute("**/billing_dashboard.html")
        assert page.url == url
    else:
        page.goto(url, wait_until="load")


def _violations(page, axe_script) -> list[str]:
    page.add_script_tag(path=str(axe_script))
    result = page.evaluate(
        "tags => axe.run(document, {runOnly: {type: 'tag', values: tags}, resultTypes: ['violations']})", AXE_TAGS)
    assert len(result["passes"]) + len(result["violations"]) > 10  # axe did check the page
    return [f"{violation['id']} ({violation['impact']}): {node['target']} {node['html'][:160]}\n"
            f"    {node['failureSummary'].splitlines()[-1].strip()}"
            for violation in result["violations"] for node in violation["nodes"]]


@pytest.mark.parametrize("scheme", THEMES)
def test_axe_finds_no_violation_on_any_kind_of_page(chromium_browser, demo_site, site_server, axe_script, scheme):
    context = chromium_browser.new_context(color_scheme=scheme, viewport={"width": 1280, "height": 900})
    page = context.new_page()
    found: dict[str, list[str]] = {}
    for kind, name in page_types(demo_site).items():
        _open(page, site_server + name, name)
        assert page.evaluate("matchMedia('(prefers-color-scheme: dark)').matches") == (scheme == "dark")
        violations = _violations(page, axe_script)
        if violations:
            found[kind] = violations
    context.close()
    report = "\n".join(f"{kind}:\n  " + "\n  ".join(items) for kind, items in found.items())
    assert not found, f"axe-core, {scheme} theme:\n{report}"


def test_axe_finds_no_violation_on_a_phone(chromium_browser, demo_site, site_server, axe_script):
    """On a phone, wide tables scroll: each must be reachable by keyboard (and the rest still hold)."""
    context = chromium_browser.new_context(viewport={"width": 390, "height": 844}, is_mobile=True)
    page = context.new_page()
    found = {}
    for name in ("billing_dashboard.html", "top-cost-models.html", "data-quality.html"):
        _open(page, site_server + name, name)
        assert page.locator(".table-scroll[tabindex='0']").count() > 0  # some table does scroll here
        violations = _violations(page, axe_script)
        if violations:
            found[name] = violations
    context.close()
    assert not found, "\n".join(f"{name}:\n  " + "\n  ".join(items) for name, items in found.items())


def test_the_html_checker_finds_no_error_on_any_page(demo_site, vnu_command):
    pages = sorted(str(path) for path in demo_site.rglob("*.html"))
    assert len(pages) > 30
    run = subprocess.run([*vnu_command, *pages], capture_output=True, timeout=300)
    # vnu writes its JSON report to stderr and exits 1 when it found an error
    messages = orjson.loads(run.stderr)["messages"]
    errors = [f"{message.get('url', '').rsplit('/site/', 1)[-1]}:{message.get('lastLine', '?')}: "
              f"{message['message']}" for message in messages if message.get("type") != "info"]
    assert run.returncode in (0, 1), run.stderr[:500]
    assert errors == [], "\n".join(errors)
    assert run.returncode == 0


#: Every chart mark's colour and the background of the card it is drawn on, as rendered.
CHART_COLOURS = """() => {
  const marks = [...document.querySelectorAll(
    'svg.chart .bar, svg.chart .line, svg.chart .point:not(.hollow), svg.chart .day-bar:not(.partial), .chart-legend .key:not(.partial)')];
  return marks.filter(mark => mark.getClientRects().length).map(mark => {
    const style = getComputedStyle(mark);
    const colour = mark.matches('.line') ? style.stroke : mark.matches('.key') ? style.backgroundColor : style.fill;
    const block = mark.closest('.chart-block');
    return [mark.getAttribute('class'), colour, getComputedStyle(block).backgroundColor];
  });
}"""


def _luminance(css: str) -> float:
    red, green, blue = (int(part) / 255 for part in css[css.index("(") + 1:css.index(")")].split(",")[:3])
    linear = [c / 12.92 if c <= 0.04045 else ((c + 0.055) / 1.055) ** 2.4 for c in (red, green, blue)]
    return 0.2126 * linear[0] + 0.7152 * linear[1] + 0.0722 * linear[2]


def contrast(one: str, other: str) -> float:
    """The WCAG contrast ratio of two ``rgb(...)`` colours.

    >>> round(contrast("rgb(0, 0, 0)", "rgb(255, 255, 255)"), 1)
    21.0
    """
    high, low = sorted((_luminance(one), _luminance(other)), reverse=True)
    return (high + 0.05) / (low + 0.05)


def test_contrast_of_the_doctest():
    assert round(contrast("rgb(0, 0, 0)", "rgb(255, 255, 255)"), 1) == 21.0
    assert round(contrast("rgb(119, 119, 119)", "rgb(255, 255, 255)"), 2) == 4.48


@pytest.mark.parametrize("scheme", THEMES)
def test_every_chart_colour_stands_out_from_its_card_by_3_to_1(chromium_browser, site_server, scheme):
    """WCAG 1.4.11: the bars, lines, points and keys of every chart, in both themes."""
    context = chromium_browser.new_context(color_scheme=scheme, viewport={"width": 1280, "height": 900})
    page = context.new_page()
    checked, weak = set(), []
    # the dashboard (monthly and daily), eight series of models, a bar chart
    for name in ("billing_dashboard.html", "top-cost-models.html", "top-cost-users.html"):
        page.goto(site_server + name)
        for classes, colour, background in page.evaluate(CHART_COLOURS):
            checked.add(colour)
            if contrast(colour, background) < 3:
                weak.append(f"{name}: {classes} {colour} on {background}: {contrast(colour, background):.2f}:1")
    context.close()
    assert len(checked) >= 9  # eight series colours and the weekend shade
    assert weak == []
