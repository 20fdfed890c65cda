"""Render every page of the site: one environment, compiled templates reused.

The order of work is linear in the size of the results: one pass indexes the
usage, then each page is rendered once and written once.
"""

from __future__ import annotations

import multiprocessing
from dataclasses import dataclass, replace
from functools import cached_property
from datetime import datetime
from typing import Any, Iterable, Mapping, Sequence

import jinja2
from markupsafe import Markup

from .. import __version__
from ..alerts import Alert
from ..child_processes import usable_cpus
from ..errors import BillingReportsError, ConfigError
from ..months import Month, isoformat_z
from ..pages import Page
from ..periods import date_of_day
from ..sections import DASHBOARD_PREVIEW, HEADLINE_TREND, SUMMARY_CARDS, Section, Table, with_role
from ..settings import Settings
from ..usage import OnDemandUsage, rank
from . import drilldown
from .accuracy import backtest_table
from .environment import is_builtin_template, template_source
from .intro import IntroRenderer
from .names import PageNames, slugify, user_pages
from .output import SiteOutput
from .page_share import PageShare
from .alerts import alert_banner, alert_views
from .quality import data_quality_section, fetches_table, when
from .views import (
    CellRenderer, Downloads, SiteMap, chart_view, figure_view, member_note, table_view, unique_ids,
)

#: Rows of each section's first table shown on the dashboard.
GLANCE_ROWS = 5
#: ...and at most this many of its columns (see ``views.glance_columns``).
GLANCE_COLUMNS = 4
STATIC_ASSETS = ("site.css", "site.js", "favicon.svg")
FIXED_PAGES = {"about", "alerts", "data-quality", "users", "models", "index"}
#: A user page's table whose CSV and JSON are bigger than this together gets files in ``data/``, as
#: other pages' tables do (a page should not grow by more than its downloads' worth).
EMBED_MAX_BYTES = 64 * 1024
#: The templates of a user's or model's page and its navigation: a page may be rendered before the
#: navigation is known only when all are the built-in ones (see ``page_share``).
NAVIGATION_TEMPLATES = ("base.html", "_nav.html", "section.html", "user.html", "model.html", "_macros.html")
#: From this many user and model pages on, a second process shares them (when there is a CPU).
PARALLEL_MIN_PAGES = 200


@dataclass(frozen=True)
class NavItem:
    key: str
    label: str
    path: str


@dataclass(frozen=True)
class SiteInfo:
    """What every page states: the period, when the data was fetched, what is incomplete."""

    title: str
    period_label: str
    first_month: Month
    last_month: Month
    fetched_text: str
    incomplete: list[tuple[str, str]]  # (month label, fetched at)
    missing: list[str]
    built_at: str
    version: str
    nav: list[NavItem]
    index: str
    demo: bool = False
    #: Stands where the navigation goes instead of ``_nav.html``: a marker on a page rendered before the
    #: navigation is known (see ``page_share``), or the links themselves, rendered once for the many
    #: user and model pages (:meth:`SiteRenderer.site_with_nav`); ``None``: ``_nav.html`` on each page.
    nav_marker: Markup | None = None


def _fetched_text(usage: OnDemandUsage) -> str:
    moments = [usage.facts(m).fetched_at for m in usage.months if usage.facts(m).fetched_at]
    if not moments:
        return "no data fetched yet"
    first, last = min(moments), max(moments)
    if when(first) == when(last):
        return when(last)
    return f"{when(first)} to {when(last)}"


def ordered_sections(sections: Iterable[Section]) -> list[Section]:
    return sorted(sections, key=lambda section: (section.order, section.slug))


class SiteRenderer:
    """Renders sections and usage into a :class:`SiteOutput`.

    Made from the usage alone (what every page states, each user's and model's page), then given
    the plugins' results (:meth:`add_results`: the sections, pages, failures and alerts, and so the
    navigation) before :meth:`render`. In between, the user and model pages may already be under way
    in a second process (:meth:`start_drilldowns`).
    """

    def __init__(
        self,
        environment: jinja2.Environment,
        settings: Settings,
        usage: OnDemandUsage,
        *,
        built_at: datetime,
        demo: bool = False,
    ) -> None:
        self.environment = environment
        self.settings = settings
        self.usage = usage
        self.sections: list[Section] = []
        self.pages: list[Page] = []
        self.failures: list[Any] = []
        self.alerts = alert_views((), {})
        self.page_paths: dict[str, str] = {}
        self.built_at = built_at
        self.intro = IntroRenderer()
        self.index = drilldown.UsageIndex.of(usage)
        self.index_stem = settings.output_filename.rsplit(".", 1)[0]
        if self.index_stem in FIXED_PAGES - {"index"}:
            raise ConfigError(
                f"billing.output_filename: {settings.output_filename!r} is the name of another page of the "
                "site; choose another name, for example billing_dashboard.html"
            )
        self.site_map = SiteMap(
            index=settings.output_filename,
            users=user_pages(usage),
            models=PageNames(self.index.model_user, fallback="model", reserved={"index"}),
            incomplete=frozenset(m.key for m in usage.incomplete_months),
            missing=frozenset(m.key for m in usage.missing_months),
            partial_days=frozenset(date_of_day(day).isoformat() for day in usage.days if usage.day_partial(day)),
            members=usage.cursor.members,
        )
        #: The period, its months and the days of every daily chart (the dashboard's, each user's and
        #: model's): what every drill-down page shows the same.
        self.frame = drilldown.PageFrame.of(usage)
        self.info = SiteInfo(
            title="On-demand AI spend",
            period_label=usage.period_label,
            first_month=usage.first_month,
            last_month=usage.last_month,
            fetched_text=_fetched_text(usage),
            incomplete=[(m.label, when(usage.facts(m).fetched_at)) for m in usage.incomplete_months],
            missing=[m.label for m in usage.missing_months],
            built_at=when(built_at),
            version=__version__,
            nav=[],
            index=settings.output_filename,
            demo=demo,
        )
        self.drilldowns: PageShare | None = None
        #: :meth:`site_with_nav`'s pages' facts, for the :attr:`info` they were made from
        self._nav_made: tuple[SiteInfo | None, dict[tuple[str, str], SiteInfo]] = (None, {})
        self._templates: dict[str, jinja2.Template] = {}

    def add_results(
        self,
        sections: Sequence[Section],
        *,
        pages: Sequence[Page] = (),
        failures: Sequence[Any] = (),
        alerts: Sequence[Alert] = (),
        alerts_seen: Mapping[str, str] | None = None,
    ) -> None:
        """The plugins' sections and pages (where each page goes, and the navigation), the plugins
        that failed, and the alerts (``alerts_seen``: when ``check`` first saw each, by key)."""
        self.sections = ordered_sections(sections)
        self.pages = list(pages)
        clash = {s.slug for s in self.sections} & {page.slug for page in self.pages}
        if clash:
            raise BillingReportsError(f"the slug {sorted(clash)[0]!r} names both a section and a plugin's page; "
                                      "rename one of them in its plugin")
        self.failures = list(failures)
        self.alerts = alert_views(alerts, alerts_seen or {})
        section_names = PageNames(
            [s.slug for s in self.sections if s.has_own_page] + [page.slug for page in self.pages],
            fallback="section", reserved=FIXED_PAGES | {self.index_stem},
        )
        #: each plugin page's file (named among the sections', so no two pages share a file)
        self.page_paths = {page.slug: f"{section_names.slug(page.slug)}.html" for page in self.pages}
        self.site_map.sections = {s.slug: f"{section_names.slug(s.slug)}.html"
                                  for s in self.sections if s.has_own_page}
        nav = [NavItem("index", "Dashboard", self.settings.output_filename)]
        nav += [NavItem(s.slug, s.title, self.site_map.sections[s.slug])
                for s in self.sections if s.slug in self.site_map.sections and s.nav]
        nav += [NavItem(page.slug, page.title, self.page_paths[page.slug]) for page in self.pages if page.nav]
        nav += [NavItem("users", "Users", "users.html"), NavItem("models", "Models", "models.html"),
                NavItem("alerts", "Alerts", "alerts.html"),
                NavItem("data-quality", "Data quality", "data-quality.html"),
                NavItem("about", "About", "about.html")]
        self.info = replace(self.info, nav=nav)

    # --- plumbing ---------------------------------------------------------------------------

    def template(self, name: str) -> jinja2.Template:
        if name not in self._templates:
            try:
                self._templates[name] = self.environment.get_template(name)
            except jinja2.TemplateNotFound:
                raise BillingReportsError(
                    f"template {name!r} not found in the templates directory, the plugins' template "
                    "directories or the built-in templates; add it or fix the name"
                ) from None
            except jinja2.TemplateSyntaxError as error:
                raise BillingReportsError(
                    f"template {error.filename or name}, line {error.lineno}: {error.message}; fix the template"
                ) from None
        return self._templates[name]

    def render_page(self, output: SiteOutput, path: str, template: str, current: str, **context: Any) -> None:
        output.write_text(path, self.page_html(path, template, current, **context))

    def nav_html(self, root: str, current: str) -> str:
        """The navigation's links (``_nav.html``) on a page ``root`` deep under ``current``, as
        ``base.html`` includes them."""
        try:
            return self.template("_nav.html").render(site=self.info, root=root, current=current)
        except jinja2.TemplateError as error:
            raise BillingReportsError(f"template '_nav.html' failed: {error}; fix the template") from None

    def page_html(self, path: str, template: str, current: str, *, site: SiteInfo | None = None,
                  **context: Any) -> str:
        """The page ``path`` (relative to the site's root), ``template`` rendered with the site's
        facts (``site``, default :attr:`info`), the way back to the root, the page's key in the
        navigation and ``context``."""
        root = "../" * path.count("/")
        try:
            return self.template(template).render(site=site or self.info, root=root, page_path=path, current=current,
                                                  **context)
        except jinja2.TemplateError as error:
            raise BillingReportsError(
                f"template {template!r} failed on page {path}: {error}; fix the template"
            ) from None

    def section_context(self, section: Section, cells: CellRenderer, *, page_slug: str | None,
                        output: SiteOutput | None, embed_downloads: bool = False,
                        compact_charts: bool = False, write_downloads: bool = True) -> dict[str, Any]:
        """Views of a section's figures, charts and tables; writes the tables' CSV/JSON when asked.

        Downloads of the page ``models/opus`` are ``data/models/opus--TABLE.csv`` and ``.json``;
        ``embed_downloads`` puts them in the page instead (``data:`` links named ``ann--TABLE.csv``
        on the page ``users/ann``) up to ``EMBED_MAX_BYTES``: a user page's tables are small, and
        a file each would make most of the site's files. ``compact_charts``: daily charts drawn
        lean (the thousand user and model pages; see ``charts.render_chart``). ``write_downloads``:
        false for a page rendered again, its downloads written the first time.
        """
        table_ids = unique_ids([t.slug for t in section.tables], "table")
        tables = []
        for table, table_id in zip(section.tables, table_ids):
            downloads = None
            display = table.display_rows()
            if page_slug is not None and output is not None:
                stem = f"data/{page_slug}--{table_id.removeprefix('table-')}"
                csv_text, json_bytes = table.downloads()
                if embed_downloads and len(csv_text) + len(json_bytes) <= EMBED_MAX_BYTES:
                    downloads = Downloads.embedded(stem, csv_text, json_bytes)
                else:
                    if write_downloads:
                        output.write_text(stem + ".csv", csv_text)
                        output.write_bytes(stem + ".json", json_bytes)
                    downloads = Downloads.files(cells.root, stem)
            tables.append(table_view(table, cells, table_id=table_id, downloads=downloads, display=display))
        charts = [chart_view(chart, cells, chart_id=chart_id, compact=compact_charts)
                  for chart, chart_id in zip(section.charts, unique_ids([c.slug for c in section.charts], "chart"))]
        return {
            "section": section,
            "intro": self.intro(section.intro),
            "figures": [figure_view(f, cells) for f in section.figures],
            "charts": charts,
            "tables": tables,
        }

    # --- pages ------------------------------------------------------------------------------

    def render(self, output: SiteOutput) -> None:
        """Write every page, asset and download of the site into ``output``."""
        if self.drilldowns is not None:  # the second process may now finish the pages it holds
            self.drilldowns.send_navigation(self.info.nav)
        top = CellRenderer(self.site_map, "")
        for name in STATIC_ASSETS:
            output.write_text(f"assets/{name}", template_source(self.environment, name))
        self.render_dashboard(output, top)
        self.render_sections(output, top)
        self.render_plugin_pages(output)
        self.render_reference_pages(output, top)
        if self.settings.output_filename != "index.html":
            self.render_page(output, "index.html", "redirect.html", "index", title=self.info.title)
        self.render_drilldowns(output)  # (last: the second process renders them meanwhile)

    def render_sections(self, output: SiteOutput, cells: CellRenderer) -> None:
        """One page per plugin section (the summary is the dashboard), with its downloads."""
        for section in self.sections:
            path = self.site_map.sections.get(section.slug)
            if path is None:
                continue
            context = self.section_context(section, cells, page_slug=path.removesuffix(".html"), output=output)
            self.render_page(output, path, section.template or "section.html", section.slug,
                             title=section.title, **context)

    def render_plugin_pages(self, output: SiteOutput) -> None:
        """The plugins' own pages (``register_pages``): each its template, with the site's context,
        the page and its values."""
        for page in self.pages:
            self.render_page(output, self.page_paths[page.slug], page.template, page.slug, title=page.title,
                             page=page, **page.context)

    def start_drilldowns(self, output: SiteOutput) -> None:
        """Start on the user and model pages in a second process, when there are many and a CPU for it
        (they need the usage alone: see :mod:`.page_share`); else :meth:`render` renders them here."""
        if (len(self.site_map.users) + len(self.site_map.models) < PARALLEL_MIN_PAGES or usable_cpus() < 2
                or "fork" not in multiprocessing.get_all_start_methods()):
            return
        self.ranks  # (worked out once, before the fork)
        self.drilldowns = PageShare(self, output, self.drilldown_pages(), hold=self.builtin_navigation)

    def stop_drilldowns(self) -> None:
        """The build stopped before :meth:`render` was done: the second process writes nothing more."""
        if self.drilldowns is not None:
            self.drilldowns.stop()
            self.drilldowns = None

    def drilldown_pages(self) -> list[tuple[str, str, str]]:
        """Every user's and model's page: ``("users" or "models", name, slug)``."""
        return ([("users", user, slug) for user, slug in self.site_map.users.items()]
                + [("models", model, slug) for model, slug in self.site_map.models.items()])

    @cached_property
    def ranks(self) -> dict[str, dict[str, int]]:
        """Each user's and model's rank by spend (``"users"``/``"models"`` -> name -> rank), from the
        usage's own totals per user and per model over the range."""
        totals = self.usage.breakdown
        return {"users": drilldown.ranks([r.name for r in rank(totals.users)]),
                "models": drilldown.ranks([r.name for r in rank(totals.models)])}

    def render_drilldowns(self, output: SiteOutput) -> None:
        """A page per user and per model (one compiled template each): here, or shared with the
        process :meth:`start_drilldowns` started."""
        if self.drilldowns is not None:
            self.drilldowns.join()
            self.drilldowns = None
            return
        for page in self.drilldown_pages():
            output.write_text(*self.drilldown_page(output, page))

    def drilldown_page(self, output: SiteOutput, page: tuple[str, str, str], *,
                       write_downloads: bool = True) -> tuple[str, str]:
        """One user's or model's page: its path and HTML (its downloads written to ``output``, unless
        they were already)."""
        kind, name, slug = page
        if kind == "users":
            section = drilldown.user_section(name, self.usage, self.index, self.ranks[kind], frame=self.frame)
        else:
            section = drilldown.model_section(name, self.usage, self.index, self.ranks[kind], frame=self.frame)
        path = f"{kind}/{slug}.html"
        cells = self._drilldown_cells
        return path, self.page_html(
            path, f"{kind[:-1]}.html", kind, site=self.site_with_nav("../", kind), title=name,
            member=member_note(self.site_map.members.get(name)) if kind == "users" else None,
            **self.section_context(section, cells, page_slug=f"{kind}/{slug}", output=output,
                                   embed_downloads=kind == "users", compact_charts=True,
                                   write_downloads=write_downloads))

    @cached_property
    def builtin_navigation(self) -> bool:
        """Whether a user's or model's page and its navigation are the built-in templates'."""
        return all(is_builtin_template(self.environment, name) for name in NAVIGATION_TEMPLATES)

    def site_with_nav(self, root: str, current: str) -> SiteInfo:
        """:attr:`info` with the navigation of a page ``root`` deep under ``current`` ready-made in
        place of the marker: ``_nav.html`` rendered once for a thousand pages instead of included in
        each (anew when :attr:`info` changes). While the navigation is not known, or with templates of
        one's own (which may read the navigation anywhere, with anything of the page's), :attr:`info`
        as it is."""
        info = self.info
        if info.nav_marker is not None or not self.builtin_navigation:
            return info
        if self._nav_made[0] is not info:
            self._nav_made = (info, {})
        made = self._nav_made[1]
        found = made.get((root, current))
        if found is None:
            links = Markup(self.nav_html(root, current))
            found = made[root, current] = replace(info, nav_marker=links)
        return found

    @cached_property
    def _drilldown_cells(self) -> CellRenderer:
        return CellRenderer(self.site_map, "../")

    def render_reference_pages(self, output: SiteOutput, cells: CellRenderer) -> None:
        """All users, all models, data quality, the alerts, about."""
        for section, current in ((drilldown.users_directory(self.usage, self.index), "users"),
                                 (drilldown.models_directory(self.usage, self.index), "models"),
                                 (data_quality_section(self.usage, self.settings.cycle_start), "data-quality")):
            template = "data_quality.html" if current == "data-quality" else "section.html"
            self.render_page(output, f"{current}.html", template, current, title=section.title,
                             failures=self.failures,
                             **self.section_context(section, cells, page_slug=current, output=output))
        self.render_page(output, "alerts.html", "alerts.html", "alerts", title="Alerts", alerts=self.alerts)
        backtest, measured = backtest_table(self.usage)
        self.render_page(output, "about.html", "about.html", "about", title="About these figures",
                         settings=self.settings,
                         fetches=table_view(fetches_table(self.usage), cells, table_id="table-fetches"),
                         backtest=table_view(backtest, cells, table_id="table-forecast-backtest"),
                         backtest_periods=measured.periods)

    def render_dashboard(self, output: SiteOutput, cells: CellRenderer) -> None:
        """The index page: the cards, the trend and the previews, each from the sections that
        declare the role (``summary-cards``, ``headline-trend``, ``dashboard-preview``); the daily
        chart of the team's spend; the failures. A role no section declares leaves its place empty."""
        card_sections = with_role(self.sections, SUMMARY_CARDS)
        figures = [figure for section in card_sections for figure in section.figures]
        # the sections whose page the dashboard is: their intros, charts and tables head it
        headed = [self.section_context(s, cells, page_slug=slugify(s.slug), output=output)
                  for s in card_sections if not s.has_own_page]
        trend = next((chart for section in with_role(self.sections, HEADLINE_TREND)
                      for chart in section.charts if chart.kind == "line"), None)
        glances = []
        for section in with_role(self.sections, DASHBOARD_PREVIEW):
            path = self.site_map.sections.get(section.slug)
            if path is None or not section.tables:
                continue
            table = section.tables[0]
            view = table_view(table, cells, table_id=f"glance-{slugify(section.slug)}",
                              limit=GLANCE_ROWS, max_columns=GLANCE_COLUMNS)
            month = self.table_month(table)
            glances.append({
                "title": section.title,
                "path": path,
                "table": view,
                "more": max(len(table.rows) - GLANCE_ROWS, 0),
                # A table of one month (``2026-11``, "November 2026"): the preview says which, and if incomplete.
                "month": view.title if month else None,
                "incomplete": bool(month) and (view.incomplete or month.key in self.site_map.incomplete),
            })
        daily = drilldown.daily_chart("daily", "the team", self.frame,
                                      {day: self.usage.day_total(day).cost for day in self.frame.days})
        self.render_page(
            output, self.settings.output_filename, "dashboard.html", "index", title=self.info.title,
            trend=chart_view(trend, cells, chart_id="chart-trend") if trend else None, glances=glances,
            daily=chart_view(daily, cells, chart_id="chart-daily"),
            failures=self.failures,
            alerts=alert_banner(self.alerts),
            section=card_sections[0] if card_sections else None,
            intro=Markup("").join(context["intro"] for context in headed),
            figures=[figure_view(f, cells) for f in figures],
            charts=[view for context in headed for view in context["charts"]],
            tables=[view for context in headed for view in context["tables"]],
        )

    def table_month(self, table: Table) -> Month | None:
        """The month a table is about, from its slug (``2026-11``) or its title ("November 2026")."""
        try:
            return Month.parse(table.slug)
        except ValueError:
            return next((m for m in self.usage.months if m.label == table.title), None)


def manifest_fields(usage: OnDemandUsage, settings: Settings, built_at: datetime) -> dict[str, Any]:
    """The manifest's keys other than ``files`` (which the output adds)."""
    moments = [usage.facts(m).fetched_at for m in usage.months if usage.facts(m).fetched_at]
    return {
        "built_at": isoformat_z(built_at),
        "period": {"first": usage.first_month.key, "last": usage.last_month.key},
        "index": settings.output_filename,
        "fetched_at": isoformat_z(max(moments)) if moments else None,
        "incomplete_months": [m.key for m in usage.incomplete_months],
        "missing_months": [m.key for m in usage.missing_months],
        "generator": f"billing-reports {__version__}",
        # every person under a pseudonym (publish targets with pseudonymised_only take only such a site)
        "pseudonymised": usage.pseudonymised,
    }


__all__ = ["SiteRenderer", "manifest_fields", "ordered_sections"]
