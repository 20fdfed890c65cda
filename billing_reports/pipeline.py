"""The build, top to bottom: fetch -> analyse (load, run the plugins) -> render.

One linear function (mkdocs style) that ``billing-reports build`` and
``build --demo`` both call; every step is a call into the module that owns it.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Callable, Iterable, Sequence

import pluggy

from .alert_state import first_seen_times
from .analysis import failure_message, prepared_usage, run_alert_rules, run_pages, run_sections
from .errors import PluginError
from .fetching import FetchSummary, fetch_months
from .months import Month
from .periods import ReportRange
from .plugin_manager import PluginFailure
from .progress import FetchReporter
from .pseudonyms import key_from
from .settings import Settings
from .site import BuiltSite, site_under_way
from .site.built import built_site_is_pseudonymised
from .site.output import check_site_dir
from .usage import OnDemandUsage


@dataclass
class BuildResult:
    """What a build did: the fetch (``None`` offline), the loaded usage, the site."""

    site: BuiltSite
    usage: OnDemandUsage
    fetch: FetchSummary | None
    section_count: int
    plugin_failures: list[PluginFailure] = field(default_factory=list)
    #: Whether the site this build replaced named nobody (``None``: there was none): a pseudonymised
    #: build over a full site (the finance one) is said in the summary line.
    replaced_pseudonymised: bool | None = None

    @property
    def missing_months(self) -> list[Month]:
        return self.usage.missing_months

    @property
    def incomplete_months(self) -> list[Month]:
        return self.usage.incomplete_months


def fetch_missing(settings: Settings, months: Sequence[Month], *, api_key: str | None,
                  refresh: Iterable[Month] = (), reporter: FetchReporter | None = None,
                  say: Callable[[str], None] = lambda line: None) -> FetchSummary:
    """The fetch of ``build`` and ``check``: the months not cached or cached before they were over, and
    Cursor's own figures (members, this cycle's spend and limits, groups) whenever there is a key."""
    summary = fetch_months(settings, months, api_key=api_key, refresh=refresh, reporter=reporter, team_figures=True)
    say(summary.describe())
    return summary


def build(
    settings: Settings,
    months: Sequence[Month],
    *,
    report_range: ReportRange | None = None,
    offline: bool = False,
    api_key: str | None = None,
    refresh: Iterable[Month] = (),
    reporter: FetchReporter | None = None,
    manager: pluggy.PluginManager | None = None,
    demo: bool = False,
    say: Callable[[str], None] = lambda line: None,
) -> BuildResult:
    """Fetch what is missing or incomplete (unless ``offline``), load, analyse, render the site.

    The previous site stays untouched unless every step succeeds. Raises the
    ``billing_reports.errors`` kinds (one line each): ``ConfigError`` (no key),
    ``ApiError``, ``CacheError`` (also: no month of the range is cached, or a file cannot be
    written), ``PluginError`` (a broken plugin when ``plugins.skip_broken`` is false), ``SiteError``
    (the site cannot be written). ``report_range``: the days
    and the trend's grain (default: every day of ``months``, by month).
    """
    # 0. A site directory the build could not replace, or a pseudonymised build without its key,
    #    stops it before any request.
    check_site_dir(settings.site_dir)
    if settings.pseudonymise:
        key_from(settings)

    # 1. Fetch: only months that are not cached, or cached before they were over.
    summary = None if offline else fetch_missing(settings, months, api_key=api_key, refresh=refresh,
                                                 reporter=reporter, say=say)

    # 2. Load the cache into the ledger (per UTC day, user, model, max mode); a range with no cached
    #    month at all is refused, the previous site untouched.
    load_failures: list[PluginFailure] = []
    if manager is None:
        manager, load_failures = settings.loaded_plugins()
    usage, settings = prepared_usage(settings, months, report_range=report_range, say=say)
    replaced = built_site_is_pseudonymised(settings.site_dir)

    # 3. Render into a temporary directory and swap it in: each user's and model's page (the usage
    #    alone) is started on in a second process at once, while this one runs every registered
    #    plugin for its sections and pages (a broken one stops the build unless plugins.skip_broken
    #    is set; then the site shows the failure) and the alert rules, as `check` runs them (the
    #    alerts page, the dashboard's banner), with when `check` first saw each (its state file;
    #    none, or one it cannot read, leaves that out).
    with site_under_way(settings, usage, manager=manager, demo=demo) as site_build:
        sections, section_failures = run_sections(manager, usage, settings, load_failures)
        pages, page_failures = run_pages(manager, usage, settings)
        alerts, rule_failures = run_alert_rules(manager, usage, settings)
        if rule_failures and not settings.skip_broken_plugins:
            raise PluginError(failure_message(rule_failures))
        failures = [*section_failures, *page_failures, *rule_failures]
        alerts_seen, _ = first_seen_times(settings.data_dir, pseudonymised=usage.pseudonymised)
        site = site_build.finish(sections, pages=pages, failures=failures, alerts=alerts, alerts_seen=alerts_seen)
    return BuildResult(site=site, usage=usage, fetch=summary, section_count=len(sections),
                       plugin_failures=failures, replaced_pseudonymised=replaced)
