"""The built demo site in real headless Chromium: no errors, nothing fetched from elsewhere,
links resolve, sorting and filtering work, dark mode, phone width, print, and no JavaScript.

One browser for the session (``chromium_browser`` in conftest), one demo build and one crawl for
the module. Screenshots go to ``test-artifacts/``.
"""

from __future__ import annotations

import functools
import http.server
import threading
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import unquote, urlsplit

import orjson
import pytest

from billing_reports.demo import build_demo
from billing_reports.settings import Settings

pytestmark = [pytest.mark.browser, pytest.mark.server]

ARTIFACTS = Path(__file__).resolve().parent.parent / "test-artifacts"
#: Absolute URLs of every link on the page, HTML and SVG (an SVG ``<a>``'s ``href`` is not a string).
LINKS = "links => links.map(a => new URL(a.getAttribute('href'), document.baseURI).href)"


@pytest.fixture(scope="module")
def demo_site(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("demo")
    settings = Settings(config_path=root / "config.yaml", demo_dir=root / "demo")
    result = build_demo(settings)
    return result.site.site_dir


@pytest.fixture(scope="module")
def site_server(demo_site):
    """The site over HTTP on 127.0.0.1 (a free port), as a static host would serve it."""

    class Quiet(http.server.SimpleHTTPRequestHandler):
        def log_message(self, format, *args):
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), functools.partial(Quiet, directory=str(demo_site)))
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/"
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)


@dataclass
class Crawl:
    pages: list[str] = field(default_factory=list)
    console_errors: list[str] = field(default_factory=list)
    outside_requests: list[str] = field(default_factory=list)
    failed: list[str] = field(default_factory=list)
    links: dict[str, set[str]] = field(default_factory=dict)


def _watch(page, base: str, crawl: Crawl) -> None:
    page.on("console", lambda message: message.type == "error" and crawl.console_errors.append(
        f"{page.url}: {message.text}"))
    page.on("pageerror", lambda error: crawl.console_errors.append(f"{page.url}: {error}"))
    page.on("request", lambda request: request.url.startswith(base) or crawl.outside_requests.append(request.url))
    # A request the next navigation cancels (the favicon, often) is aborted, not failed.
    page.on("requestfailed", lambda request: request.failure == "net::ERR_ABORTED" or crawl.failed.append(
        f"{request.url}: {request.failure}"))
    page.on("response", lambda response: response.status >= 400 and crawl.failed.append(
        f"{response.status} {response.url}"))


@pytest.fixture(scope="module")
def crawl(chromium_browser, demo_site, site_server) -> Crawl:
    """Every page of the manifest, loaded once, with what the browser saw."""
    manifest = orjson.loads((demo_site / "build-manifest.json").read_bytes())
    result = Crawl(pages=[name for name in manifest["files"] if name.endswith(".html")])
    context = chromium_browser.new_context()
    page = context.new_page()
    _watch(page, site_server, result)
    for name in result.pages:
        page.goto(site_server + name, wait_until="load")
        if name == "index.html":  # leads straight on to the dashboard
            page.wait_for_url(site_server + manifest["index"])
            result.links[name] = {page.url}
            continue
        result.links[name] = set(page.eval_on_selector_all("a[href]", LINKS))
    context.close()
    return result


def test_every_page_loads_without_a_console_error(crawl):
    assert len(crawl.pages) > 30
    assert crawl.console_errors == []
    assert crawl.failed == []


def test_no_page_requests_anything_outside_the_site(crawl):
    assert crawl.outside_requests == []


def test_every_internal_link_resolves(crawl, demo_site, site_server):
    checked = 0
    for page, links in crawl.links.items():
        for link in links:
            if link.startswith("data:"):  # a user page's own downloads (tested below)
                assert page.startswith("users/") and link.startswith(
                    ("data:text/csv;charset=utf-8;base64,", "data:application/json;base64,")), (page, link[:60])
                continue
            assert link.startswith(site_server), f"{page} links outside the site: {link}"
            target = demo_site / unquote(urlsplit(link).path).lstrip("/")
            assert target.is_file(), f"{page} links to missing {link}"
            checked += 1
    assert checked > 500


@pytest.mark.parametrize("served", [True, False], ids=["over HTTP", "from disk"])
def test_a_user_pages_downloads_save_the_tables_as_named_files(chromium_browser, demo_site, site_server, served):
    """A user page holds its tables' CSV and JSON itself: a click saves them under their own names."""
    first_user = min(path.name for path in (demo_site / "users").iterdir())
    context = chromium_browser.new_context(accept_downloads=True)
    page = context.new_page()
    page.goto(site_server + "users/" + first_user if served else (demo_site / "users" / first_user).as_uri())
    with page.expect_download() as csv_download:
        page.click(".table-block:has(#table-models) a:text-is('CSV')")
    with page.expect_download() as json_download:
        page.click(".table-block:has(#table-by-month) a:text-is('JSON')")
    stem = first_user.removesuffix(".html")
    assert csv_download.value.suggested_filename == f"{stem}--models.csv"
    assert json_download.value.suggested_filename == f"{stem}--by-month.json"
    csv_text = Path(csv_download.value.path()).read_text(encoding="utf-8")
    assert csv_text.splitlines()[0] == "Model,On-demand cost (USD),Requests,Avg cost / request (USD),Share of cost"
    assert csv_text.splitlines()[-1].startswith("Total,")
    months = orjson.loads(Path(json_download.value.path()).read_bytes())
    assert months[-1]["month"] == "Total" and len(months) == 7  # six demo months and the total
    context.close()


def test_the_site_works_from_disk(chromium_browser, demo_site):
    crawl = Crawl()
    page = chromium_browser.new_page()
    _watch(page, "file://", crawl)
    page.goto((demo_site / "index.html").as_uri())
    page.wait_for_url("**/billing_dashboard.html")  # index.html leads to the dashboard
    page.click(".glance a[href^='users/']")
    assert "/users/" in page.url
    assert page.inner_text("h1.entity") and page.locator("svg.chart").count() == 2  # monthly and daily
    page.close()
    assert crawl.console_errors == [] and crawl.outside_requests == [] and crawl.failed == []


def _column(page, table: str, index: int) -> list[str]:
    return page.eval_on_selector_all(
        f"#{table} tbody tr", f"rows => rows.map(r => r.cells[{index}].getAttribute('data-sort'))")


def test_sorting_by_any_column(chromium_browser, site_server):
    page = chromium_browser.new_page()
    page.goto(site_server + "users.html")
    table = "table-all-users"
    headers = page.locator(f"#{table} thead button.sort")

    headers.nth(2).click()  # Requests: numbers sort high to low first
    requests = [int(value) for value in _column(page, table, 2)]
    assert requests == sorted(requests, reverse=True) and len(set(requests)) > 1
    assert page.get_attribute(f"#{table} thead th:nth-child(3)", "aria-sort") == "descending"
    headers.nth(2).click()
    assert [int(value) for value in _column(page, table, 2)] == sorted(requests)
    assert page.get_attribute(f"#{table} thead th:nth-child(3)", "aria-sort") == "ascending"

    headers.nth(1).click()  # On-demand cost (whole cents)
    costs = [int(value) for value in _column(page, table, 1)]
    assert costs == sorted(costs, reverse=True)

    headers.nth(0).click()  # User, A to Z: "(removed user)" comes first
    assert _column(page, table, 0)[0] == "(removed user)"
    assert page.inner_text(f"#{table} tfoot td:first-child") == "Total"  # the total row stays last
    page.close()


def test_the_filter_box_keeps_matching_rows(chromium_browser, site_server):
    page = chromium_browser.new_page()
    page.goto(site_server + "users.html")
    rows = page.locator("#table-all-users tbody tr")
    texts = [text.lower() for text in rows.all_inner_texts()]
    # The first name of the top row's user (firstname.lastname@example.com), typed in capitals.
    term = page.inner_text("#table-all-users tbody tr:first-child td:first-child").split(".")[0].strip().lower()
    expected = sum(term in text for text in texts)
    assert term and 0 < expected < len(texts)

    page.fill("input[data-filter-for='table-all-users']", term.upper())
    visible = page.locator("#table-all-users tbody tr:not([hidden])")
    assert visible.count() == expected
    assert all(term in text.lower() for text in visible.all_inner_texts())
    assert page.inner_text(".filter-count") == f"{expected} of {len(texts)} rows"
    page.fill("input[data-filter-for='table-all-users']", "")
    assert page.locator("#table-all-users tbody tr:not([hidden])").count() == len(texts)
    page.close()


def _background(page, selector: str) -> str:
    return page.eval_on_selector(selector, "element => getComputedStyle(element).backgroundColor")


def test_light_and_dark_themes_render_and_are_saved_as_artifacts(chromium_browser, site_server):
    ARTIFACTS.mkdir(exist_ok=True)
    for scheme, body, card in (("light", "rgb(246, 247, 249)", "rgb(255, 255, 255)"),
                               ("dark", "rgb(15, 20, 27)", "rgb(23, 30, 39)")):
        context = chromium_browser.new_context(color_scheme=scheme, viewport={"width": 1280, "height": 900})
        page = context.new_page()
        page.goto(site_server + "billing_dashboard.html")
        assert _background(page, "body") == body
        assert _background(page, ".card") == card
        name = "index.png" if scheme == "light" else "index-dark.png"
        page.screenshot(path=str(ARTIFACTS / name), full_page=True)
        assert (ARTIFACTS / name).stat().st_size > 20_000
        context.close()


def test_pages_fit_a_phone_screen(chromium_browser, site_server):
    context = chromium_browser.new_context(viewport={"width": 390, "height": 844}, is_mobile=True)
    page = context.new_page()
    for name in ("billing_dashboard.html", "top-cost-users.html", "monthly-user-breakdown.html", "data-quality.html"):
        page.goto(site_server + name)
        width = page.evaluate("document.documentElement.scrollWidth")
        assert width <= 390, f"{name} is {width}px wide on a 390px phone"
    page.goto(site_server + "billing_dashboard.html")
    page.screenshot(path=str(ARTIFACTS / "index-phone.png"), full_page=True)
    context.close()


def test_print_hides_the_controls(chromium_browser, site_server):
    page = chromium_browser.new_page()
    page.goto(site_server + "top-cost-users.html")
    page.emulate_media(media="print")
    assert page.eval_on_selector("nav.nav", "nav => getComputedStyle(nav).display") == "none"
    assert page.eval_on_selector(".downloads", "d => getComputedStyle(d).display") == "none"
    page.close()


def test_tables_are_readable_without_javascript(chromium_browser, site_server):
    context = chromium_browser.new_context(java_script_enabled=False)
    page = context.new_page()
    page.goto(site_server + "users.html")
    assert page.locator("#table-all-users tbody tr").count() > 10
    assert page.locator("p.filter").is_hidden()  # the filter box needs JavaScript: not shown without it
    assert page.locator("#table-all-users thead button").count() == 0
    context.close()


#: Per wide table: the name links that wrap onto a second line, and whether it overflows its card
#: instead of scrolling inside it.
WIDE_TABLES = """() => ({
  wrapped: [...document.querySelectorAll('table.data a[href*="users/"], table.data a[href*="models/"]')].filter(a => a.getClientRects().length > 1)
    .map(a => a.textContent),
  overflowing: [...document.querySelectorAll(".table-block")]
    .filter(block => block.querySelector(".table-scroll") &&
            block.querySelector(".table-scroll").getBoundingClientRect().right > block.getBoundingClientRect().right)
    .map(block => block.querySelector("h3").textContent),
  unscrollable: [...document.querySelectorAll(".table-scroll")]
    .filter(s => s.scrollWidth > s.clientWidth && getComputedStyle(s).overflowX !== "auto").length,
  page: document.documentElement.scrollWidth,
})"""


@pytest.mark.parametrize("width", [1300, 390, 320], ids=["desktop", "phone", "small-phone"])
def test_names_in_wide_tables_stay_whole_and_the_tables_scroll_in_their_card(chromium_browser, site_server, width):
    context = chromium_browser.new_context(viewport={"width": width, "height": 900})
    page = context.new_page()
    for name in ("top-cost-models.html", "data-quality.html", "top-cost-users.html"):
        page.goto(site_server + name)
        found = page.evaluate(WIDE_TABLES)
        assert found["wrapped"] == [], f"{name} at {width}px breaks names inside: {found['wrapped']}"
        assert found["overflowing"] == [] and found["unscrollable"] == 0, f"{name} at {width}px: {found}"
        assert found["page"] <= width, f"{name} is {found['page']}px wide at {width}px"
    if width == 1300:
        page.goto(site_server + "data-quality.html")
        # The loader checks' ten count columns fit beside the month at 1300 px: their headings wrap.
        assert page.eval_on_selector("#table-loader-checks", "t => t.parentElement.scrollWidth <= t.parentElement.clientWidth")
    context.close()
