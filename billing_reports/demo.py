"""``billing-reports build --demo``: the whole pipeline against the offline fake API.

No key and no set-up: the fake Cursor Admin API starts on 127.0.0.1 with the
synthetic demo team, the build fetches its months (with a tiny request delay)
into ``demo_dir/monthly_usage_data`` and renders the site into ``demo_dir/site``.
The user's own cache and site are never touched.
"""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path
from typing import Callable

from .errors import CacheError
from .fakeapi import DEMO_REQUEST_DELAY_SECONDS, DEMO_SERVER_OPTIONS, FakeCursorApi, demo_team
from .periods import Grain, ReportRange
from .pipeline import BuildResult, build
from .progress import FetchReporter
from .settings import Settings


def demo_settings(settings: Settings, base_url: str) -> Settings:
    """``settings`` pointed at the fake API and the demo directory."""
    demo_dir = Path(settings.demo_dir)
    return replace(
        settings,
        api_base_url=base_url,
        request_delay_seconds=DEMO_REQUEST_DELAY_SECONDS,
        data_dir=demo_dir / "monthly_usage_data",
        site_dir=demo_dir / "site",
        demo=True,
    )


def build_demo(
    settings: Settings,
    *,
    reporter: FetchReporter | None = None,
    say: Callable[[str], None] = lambda line: None,
    grain: Grain = "month",
) -> BuildResult:
    """Build the demo site: the demo team's months (six, ending with the current month), its trend
    by ``grain`` (billing cycles: the demo team's own, from its kept spend snapshot)."""
    team = demo_team()
    with FakeCursorApi(team, **DEMO_SERVER_OPTIONS) as api:
        try:
            return build(
                demo_settings(settings, api.base_url),
                list(team.months),
                report_range=ReportRange.of_months(list(team.months), grain, settings.cycle_start),
                api_key=api.api_key,
                reporter=reporter,
                demo=True,
                say=say,
            )
        except CacheError as error:
            # `fetch --refresh` works on the real cache, not the demo's: say what mends the demo
            if error.problem is None:
                raise
            raise CacheError(
                f"Demo cache file {error.path} {error.problem}; delete {settings.demo_dir} and run "
                "`billing-reports build --demo` again.",
                path=error.path,
                problem=error.problem,
            ) from None
