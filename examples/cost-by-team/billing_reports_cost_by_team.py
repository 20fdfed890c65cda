"""Cost by team: on-demand spend per team, from a CSV that maps emails to teams.

An example of a complete third-party billing-reports plugin (see README.md).
"""

from __future__ import annotations

import csv
from collections import defaultdict
from pathlib import Path
from typing import Annotated

import msgspec

from billing_reports import Chart, Column, Section, Series, Table, hookimpl

__version__ = "1.0.0"

SLUG = "cost-by-team"
#: After the built-in sections (0-60).
ORDER = 65
#: This plugin's block of config.yaml: ``plugins.cost-by-team``.
SETTINGS_NAME = "cost-by-team"
NO_TEAM = "(no team)"


class CostByTeamSettings(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    """``plugins.cost-by-team`` in config.yaml."""

    teams_csv: Annotated[str, msgspec.Meta(min_length=1, description=(
        "the CSV mapping emails to teams (columns email,team), relative to config.yaml"))] = "teams.csv"


@hookimpl
def register_settings(register):
    register(SETTINGS_NAME, CostByTeamSettings)


def teams_csv_path(settings) -> Path:
    """``plugins.cost-by-team.teams_csv``, relative to config.yaml (default: ``teams.csv`` beside it)."""
    return settings.config_dir / Path(settings.plugin(SETTINGS_NAME).teams_csv).expanduser()


def read_teams(path: Path) -> dict[str, str]:
    """``email (lower case) -> team`` from the CSV; ``ValueError`` naming the file when it is wrong."""
    with open(path, newline="", encoding="utf-8-sig") as handle:
        reader = csv.DictReader(handle)
        columns = {name.strip().lower(): name for name in reader.fieldnames or []}
        if "email" not in columns or "team" not in columns:
            raise ValueError(f"{path}: needs a header row with 'email' and 'team' columns")
        teams = {}
        for line, row in enumerate(reader, start=2):
            email = (row[columns["email"]] or "").strip().lower()
            team = (row[columns["team"]] or "").strip()
            if not email or not team:
                raise ValueError(f"{path}, line {line}: an email and a team are both required")
            teams[email] = team
    return teams


@hookimpl
def register_sections(register, usage, settings):
    path = teams_csv_path(settings)
    if not path.is_file():
        register(Section(
            slug=SLUG, title="Cost by team", order=ORDER,
            intro=f"No team mapping yet: create `{path}` (columns `email,team`) or name another file in "
                  f"`plugins.{SETTINGS_NAME}.teams_csv` of config.yaml.",
        ))
        return
    register(cost_by_team_section(usage, read_teams(path)))


def cost_by_team_section(usage, teams: dict[str, str]) -> Section:
    """Teams ranked by spend (ties: A to Z), their people and requests, and their spend per month."""
    spend: dict[str, int] = defaultdict(int)
    requests: dict[str, int] = defaultdict(int)
    people: dict[str, set[str]] = defaultdict(set)
    by_month: dict[str, dict] = defaultdict(lambda: defaultdict(int))
    for (month, user, _model), totals in usage.totals.items():
        team = teams.get(user.lower(), NO_TEAM)
        spend[team] += totals.cost
        requests[team] += totals.requests
        people[team].add(user)
        by_month[team][month] += totals.cost
    ranked = sorted(spend, key=lambda team: (-spend[team], team))
    total = usage.total
    teams_table = Table(
        slug="teams",
        title="On-demand spend per team",
        columns=[
            Column("team", "Team"),
            Column("people", "People", "count"),
            Column("spend", "Spend", "money"),
            Column("share", "Share", "percent"),
            Column("requests", "Requests", "count"),
        ],
        rows=[
            [team, len(people[team]), spend[team],
             round(spend[team] * 100 / total.cost, 1) if total.cost else None, requests[team]]
            for team in ranked
        ],
        total=["Total", sum(len(people[t]) for t in ranked), total.cost, 100.0 if total.cost else None,
               total.requests],
    )
    months_table = Table(
        slug="per-month",
        title="Spend per team per month",
        columns=[Column("team", "Team"), *(Column(m.key, m.short_label, "money") for m in usage.months)],
        rows=[[team, *(by_month[team][m] for m in usage.months)] for team in ranked],
        total=["Total", *(usage.month_total(m).cost for m in usage.months)],
    )
    return Section(
        slug=SLUG,
        title="Cost by team",
        order=ORDER,
        roles=("dashboard-preview",),
        intro=f"On-demand spend per team. People not in the team mapping are under *{NO_TEAM}*.",
        tables=[teams_table, months_table],
        charts=[Chart("teams", "Spend per team", "Cumulative on-demand spend per team.", "bar",
                      ranked, [Series("Spend", [spend[t] for t in ranked])])],
    )
