"""The static site: every section, user and model as linked HTML pages.

:func:`build_site` renders into a temporary directory beside ``site_dir`` and
swaps it in when complete; the last file written is ``build-manifest.json``. A build starts it
before the plugins run (:func:`site_under_way`): each user's and model's page needs the usage alone.
"""

from __future__ import annotations

from contextlib import contextmanager
from datetime import datetime
from pathlib import Path
from typing import Any, Iterator, Mapping, Sequence

import pluggy

from .. import collector
from ..months import utc_now
from ..pages import Page
from ..sections import Section
from ..settings import Settings
from ..usage import OnDemandUsage
from .environment import plugin_template_dirs, template_environment
from .built import MANIFEST_NAME, BuiltSite
from .output import SiteOutput
from .render import SiteRenderer, manifest_fields


def build_site(
    settings: Settings,
    usage: OnDemandUsage,
    sections: Sequence[Section],
    *,
    pages: Sequence[Page] = (),
    failures: Sequence[Any] = (),
    manager: pluggy.PluginManager | None = None,
    site_dir: Path | None = None,
    built_at: datetime | None = None,
    demo: bool = False,
    alerts: Sequence[Any] = (),
    alerts_seen: Mapping[str, str] | None = None,
) -> BuiltSite:
    """Render the site for ``sections`` and ``usage`` into ``site_dir`` (default ``settings.site_dir``).

    ``pages``: the plugins' own pages (``register_pages``). ``failures`` (plugins skipped because
    they broke) are shown on the dashboard and the data-quality page. ``manager`` supplies plugin
    template directories. ``alerts``: what the alert rules found (the alerts page, the dashboard's
    banner), ``alerts_seen`` when each was first seen by ``check`` (by key).
    """
    with site_under_way(settings, usage, manager=manager, site_dir=site_dir, built_at=built_at, demo=demo) as site:
        return site.finish(sections, pages=pages, failures=failures, alerts=alerts, alerts_seen=alerts_seen)


@contextmanager
def site_under_way(
    settings: Settings,
    usage: OnDemandUsage,
    *,
    manager: pluggy.PluginManager | None = None,
    site_dir: Path | None = None,
    built_at: datetime | None = None,
    demo: bool = False,
) -> Iterator["SiteUnderWay"]:
    """:func:`build_site` in two steps: from the usage alone, the site's build directory is made and
    each user's and model's page started on in a second process (see :mod:`.page_share`) while the
    caller runs the plugins; :meth:`SiteUnderWay.finish` then takes their results, renders the rest
    and swaps the site in. Leaving without ``finish`` (an error) stops the second process, removes
    the build directory and keeps the previous site."""
    site_dir = Path(site_dir or settings.site_dir)
    built_at = built_at or utc_now()
    environment = template_environment(settings.templates_dir, plugin_template_dirs(manager))
    with SiteOutput(site_dir) as output:
        with collector.paused():  # (the renderer indexes the usage: many objects, no cycles)
            renderer = SiteRenderer(environment, settings, usage, built_at=built_at, demo=demo)
        with collector.skipping_what_exists():
            renderer.start_drilldowns(output)
            try:
                yield SiteUnderWay(renderer, output, site_dir)
            finally:
                renderer.stop_drilldowns()  # (no-op once rendered)


class SiteUnderWay:
    """A site whose user and model pages may be under way: :meth:`finish` completes it."""

    def __init__(self, renderer: SiteRenderer, output: SiteOutput, site_dir: Path) -> None:
        self.renderer = renderer
        self.output = output
        self.site_dir = site_dir

    def finish(
        self,
        sections: Sequence[Section],
        *,
        pages: Sequence[Page] = (),
        failures: Sequence[Any] = (),
        alerts: Sequence[Any] = (),
        alerts_seen: Mapping[str, str] | None = None,
    ) -> BuiltSite:
        """Render every other page with the plugins' results (as :func:`build_site` takes them) and
        swap the site in."""
        renderer = self.renderer
        renderer.add_results(sections, pages=pages, failures=failures, alerts=alerts, alerts_seen=alerts_seen)
        renderer.render(self.output)
        manifest = self.output.swap_in(manifest_fields(renderer.usage, renderer.settings, renderer.built_at))
        return BuiltSite.from_manifest(self.site_dir, manifest)


__all__ = ["MANIFEST_NAME", "BuiltSite", "SiteUnderWay", "build_site", "site_under_way"]
