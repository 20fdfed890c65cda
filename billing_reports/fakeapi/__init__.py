"""An offline fake of the Cursor Admin API and the teams it serves: ``SyntheticTeam`` (uniform,
sized by parameters: tests and benchmarks), ``DemoTeam`` (the believable demo company) and
``StaticTeam`` (a hand-made list of events).

For tests, the demo (``billing-reports build --demo``) and plugin authors::

    from billing_reports.fakeapi import FakeCursorApi, SyntheticTeam, demo_team

    with FakeCursorApi(demo_team(), **DEMO_SERVER_OPTIONS) as api:
        ...  # point api.base_url / api.api_key at the client
"""

from billing_reports.fakeapi.demo_team import DEMO_HABITS, DEMO_MODELS, DemoTeam, Habit, demo_team
from billing_reports.fakeapi.server import DEFAULT_FAKE_KEY, FakeCursorApi, RecordedRequest, error_body
from billing_reports.fakeapi.team import (
    DEFAULT_MODELS,
    KIND_MIX,
    GeneratedTeam,
    ModelPrice,
    OnDemandTotals,
    ServiceAccount,
    StaticTeam,
    SyntheticTeam,
    TeamMember,
    TokenHabit,
    on_demand_totals,
)

#: Server options for the demo: no practical rate limit, so a demo fetch takes seconds.
DEMO_SERVER_OPTIONS = {"rate_limit_per_minute": 60_000}
#: The request spacing the demo uses instead of ``billing.request_delay_seconds``.
DEMO_REQUEST_DELAY_SECONDS = 0.001

__all__ = [
    "DEFAULT_FAKE_KEY",
    "DEFAULT_MODELS",
    "DEMO_HABITS",
    "DEMO_MODELS",
    "DEMO_REQUEST_DELAY_SECONDS",
    "DEMO_SERVER_OPTIONS",
    "KIND_MIX",
    "DemoTeam",
    "FakeCursorApi",
    "GeneratedTeam",
    "Habit",
    "ModelPrice",
    "OnDemandTotals",
    "RecordedRequest",
    "ServiceAccount",
    "StaticTeam",
    "SyntheticTeam",
    "TeamMember",
    "TokenHabit",
    "demo_team",
    "error_body",
    "on_demand_totals",
]
