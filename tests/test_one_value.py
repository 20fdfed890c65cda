"""One figure, one value: a user's, a model's and a month's spend read the same cents on every page,
table, card, chart table and download of a built site.

The usage is made of amounts that end in half and quarter cents, so that any second rounding (or
a row nudged to make a column add up) would show: ann spends 1.25 c on 5 Jan and 1.25 c on 3 Feb,
2.5 c in all, shown $0.03 while each month shows $0.01.
"""

from __future__ import annotations

from datetime import date, datetime, timezone
import re
from decimal import ROUND_HALF_UP, Decimal
from html.parser import HTMLParser
from pathlib import Path

import orjson
import pytest

from billing_reports.analysis import run_sections
from billing_reports.money import format_money
from billing_reports.months import Month
from billing_reports.plugin_manager import get_plugin_manager
from billing_reports.site import build_site
from billing_reports.usage import DataQuality, MonthFacts, OnDemandUsage, UsageTotals

JAN, FEB = Month(2026, 1), Month(2026, 2)
MODELS = ("opus", "sonnet", "gpt-5")
USERS = ("ann@example.com", "bob@example.com", "cy@example.com", "dee@example.com")


def _day(year, month, day):
    return (date(year, month, day) - date(1970, 1, 1)).days


def _usage() -> OnDemandUsage:
    ledger = {}
    amounts = [1_250_000, 2_500_000, 500_000, 4_995_000, 1_005_000, 2_505_000, 333_333]
    step = 0
    for user in USERS:
        for model in MODELS:
            for month, day in ((1, 5), (1, 20), (2, 3), (2, 14)):
                cost = amounts[step % len(amounts)]
                step += 1
                ledger[(_day(2026, month, day), user, model, step % 5 == 0)] = UsageTotals(
                    cost, 1, 10, 20, 0, 0, cost, 0)
    facts = {month: MonthFacts(month, cached=True, complete=True,
                               fetched_at=datetime(2026, 3, 5, tzinfo=timezone.utc), quality=DataQuality())
             for month in (JAN, FEB)}
    return OnDemandUsage(months=[JAN, FEB], ledger=ledger, month_facts=facts)


class _Page(HTMLParser):
    """The tables (headers, rows of cell texts) and cards (label, value) of one page."""

    def __init__(self, text: str) -> None:
        super().__init__()
        self.tables: dict[str, dict] = {}
        self.cards: list[list[str]] = []
        self._table = None
        self._cell: list[str] | None = None
        self._row: list[str] | None = None
        self._card: str | None = None
        self.feed(text)

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        if tag == "table":
            self._table = self.tables.setdefault(attrs.get("id") or f"t{len(self.tables)}",
                                                 {"headers": [], "rows": []})
        elif tag == "tr" and self._table is not None:
            self._row = []
        elif tag in ("td", "th") and self._row is not None:
            self._cell = []
        elif tag == "div" and attrs.get("class") in ("card-label", "card-value"):
            self._card = attrs["class"]
            if self._card == "card-label":
                self.cards.append([])
            self._cell = []

    def handle_endtag(self, tag):
        if tag in ("td", "th") and self._cell is not None and self._row is not None:
            self._row.append(" ".join("".join(self._cell).split()))
            self._cell = None
        elif tag == "tr" and self._row is not None and self._table is not None:
            target = self._table["headers"] if not self._table["headers"] and not self._table["rows"] else None
            (self._table["headers"].extend(self._row) if target is not None else self._table["rows"].append(self._row))
            self._row = None
        elif tag == "table":
            self._table = None
        elif tag == "div" and self._card is not None and self._cell is not None:
            self.cards[-1].append(" ".join("".join(self._cell).split()))
            self._card = self._cell = None

    def handle_data(self, data):
        if self._cell is not None:
            self._cell.append(data)

    def column(self, table_id: str, heading: str) -> dict[str, str]:
        """First cell -> the cell under ``heading`` (a heading that starts with it)."""
        table = self.tables[table_id]
        index = next(i for i, h in enumerate(table["headers"]) if h.startswith(heading))
        return {row[0]: row[index] for row in table["rows"] if len(row) > index}

    def card(self, label: str) -> str:
        return next(value for found, value in self.cards if found == label)


@pytest.fixture(scope="module")
def built(tmp_path_factory):
    from billing_reports.settings import Settings

    root = tmp_path_factory.mktemp("one-value")
    settings = Settings(config_path=root / "config.yaml", site_dir=root / "site", data_dir=root / "cache",
                        demo_dir=root / "demo", top_spenders_count=10)
    usage = _usage()
    sections, failures = run_sections(get_plugin_manager(load_entry_points=False), usage, settings)
    assert failures == []
    return build_site(settings, usage, sections), usage


def _page(site, path: str) -> _Page:
    return _Page((site.directory / path).read_text(encoding="utf-8"))


def _page_of(site, kind: str, name: str) -> str:
    """The path of a user's or model's page, as the directory page links it."""
    directory = (site.directory / f"{kind}.html").read_text(encoding="utf-8")
    return re.search(rf'<a href="({kind}/[^"]+)">{re.escape(name)}</a>', directory)[1]


def _ranking_column(page: _Page, heading: str) -> dict[str, str]:
    """A ranked table's name -> amount (its first column is the rank)."""
    table = next(t for t in page.tables.values() if t["headers"][:2] == ["#", "User"] or
                 t["headers"][:2] == ["#", "Model"])
    index = next(i for i, h in enumerate(table["headers"]) if h.startswith(heading))
    return {row[1]: row[index] for row in table["rows"]}


def test_a_users_total_reads_the_same_cents_everywhere(built):
    site, usage = built
    directory = _page(site, "users.html").column("table-all-users", "On-demand cost")
    ranking = _ranking_column(_page(site, "top-cost-users.html"), "Spend")
    exact = {row["user"]: row["on_demand_cost_usd"]
             for row in orjson.loads((Path(site.directory) / "data/users--all-users.json").read_bytes())}
    for user in USERS:
        shown = format_money(usage.user_total(user).cost)
        page = _page(site, _page_of(site, "users", user))
        by_month_total = page.column("table-by-month", "On-demand cost")["Total"]
        assert {directory[user], ranking[user], page.card("On-demand spend"), by_month_total} == {shown}, user
        # the download is exact; rounded half up it is the shown figure
        cents = (Decimal(exact[user]) * 100).quantize(Decimal(1), rounding=ROUND_HALF_UP)
        assert f"${cents / 100:,.2f}" == shown
    # somewhere a user's rounded months miss their rounded total: the page says so, nothing is nudged
    assert any("rounded to the cent one by one" in (site.directory / _page_of(site, "users", user)).read_text()
               for user in USERS)


def test_a_models_total_reads_the_same_cents_everywhere(built):
    site, usage = built
    directory = _page(site, "models.html").column("table-all-models", "On-demand cost")
    ranking = _ranking_column(_page(site, "top-cost-models.html"), "Spend")
    for model in MODELS:
        shown = format_money(usage.model_total(model).cost)
        page = _page(site, _page_of(site, "models", model))
        assert {directory[model], ranking[model], page.card("On-demand spend"),
                page.column("table-by-month", "On-demand cost")["Total"]} == {shown}, model


def test_a_months_total_reads_the_same_cents_everywhere(built):
    site, usage = built
    trend = _page(site, "monthly-trend.html")
    spend = trend.column("table-months", "Spend")
    chart_rows = {row[0]: row[1] for row in next(
        t for t in trend.tables.values() if t["headers"][:2] == ["Month", "Spend"])["rows"]}
    models = _page(site, "monthly-model-breakdown.html")
    users = _page(site, "monthly-user-breakdown.html")
    for month in (JAN, FEB):
        shown = format_money(usage.month_total(month).cost)
        model_total = models.column(f"table-{month.key}", "Model")  # first column -> itself
        assert spend[month.short_label] == chart_rows[month.short_label] == shown
        by_model = models.tables[f"table-{month.key}"]
        assert by_model["rows"][-1][0] == "Total" and by_model["rows"][-1][-1] == shown, model_total
        by_user = users.tables[f"table-{month.key}"]
        total_row = next(row for row in by_user["rows"] if "Total" in row[:2])
        cost_index = by_user["headers"].index("Cost")
        assert total_row[cost_index] == shown
    assert _page(site, "billing_dashboard.html").card("Total on-demand spend") == format_money(usage.total.cost)


def test_a_price_per_request_reads_the_same_to_a_hundredth_of_a_cent_everywhere(built):
    from billing_reports.money import format_unit_price

    site, usage = built
    by_user = _ranking_column(_page(site, "top-cost-users.html"), "Avg cost")
    users = _page(site, "users.html").column("table-all-users", "Avg cost")
    by_model = _ranking_column(_page(site, "top-cost-models.html"), "Avg cost")
    models = _page(site, "models.html").column("table-all-models", "Avg cost")
    shown_users = set()
    for user in USERS:
        shown = format_unit_price(usage.user_total(user).average_cost)
        shown_users.add(shown)
        page = _page(site, _page_of(site, "users", user))
        assert {by_user[user], users[user], page.card("Avg cost / request")} == {shown}, user
    for model in MODELS:
        shown = format_unit_price(usage.model_total(model).average_cost)
        page = _page(site, _page_of(site, "models", model))
        assert {by_model[model], models[model], page.card("Avg cost / request")} == {shown}, model
    # users whose averages round to the same cent are told apart
    assert len(shown_users) == len(USERS)
    assert len({format_money(usage.user_total(user).average_cost) for user in USERS}) < len(USERS)
