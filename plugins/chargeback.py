"""Chargeback by group: each day's spend of each person charged to the group they were in that day.

Groups come from Cursor's billing groups (Enterprise teams; kept by every fetch), or from a mapping
file the team keeps (``plugins.chargeback.mapping``; see :mod:`billing_reports.groups`). Every cell
of the ledger (day, user, model, max mode) is charged to exactly one group, so the groups, the
Unassigned one included, add up to the team's on-demand spend to the micro-cent.

The section has a page per group (its spend per period, per model, its members): sections of their
own, out of the navigation and linked from the section's tables, so that they are drawn, downloaded
(CSV/JSON) and exported by ``report --format json`` like every other section.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Annotated, Literal

import msgspec

from billing_reports import Chart, Column, Figure, Section, Series, Table, hookimpl
from billing_reports.groups import (UNASSIGNED, GroupDirectory, from_cursor, group_charger, read_mapping,
                                    service_account_owners)
from billing_reports.months import today
from billing_reports.periods import Period
from billing_reports.usage import REMOVED_USER, SERVICE_ACCOUNT_MARK, OnDemandUsage, is_service_account
from billing_reports.wording import counted

from ._common import other_label, share, slug_of

SLUG = "chargeback"
#: The key of this plugin's block of config.yaml.
SETTINGS_NAME = "chargeback"
ORDER = 75
#: The groups' own pages come right after the section (they are out of the navigation).
GROUP_ORDER = 76
#: Groups the stacked chart shows a segment each (the costliest); the rest are one "Other" segment.
CHART_GROUPS = 7
#: A stacked chart of more periods than this reads as noise (a daily report of months): left out.
CHART_PERIODS = 36


class ChargebackSettings(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    """``plugins.chargeback`` in config.yaml."""

    mapping: Annotated[str, msgspec.Meta(description=(
        "a CSV of email,group (optionally email,group,start with the YYYY-MM-DD a membership starts), "
        "relative to config.yaml; a service account by its name; empty: none"))] = ""
    source: Annotated[Literal["auto", "cursor", "mapping"], msgspec.Meta(description=(
        "where groups come from: auto (Cursor's billing groups where kept, else the mapping), "
        "cursor, or mapping"))] = "auto"

    def __post_init__(self) -> None:
        if self.source == "mapping" and not self.mapping.strip():
            raise ValueError("source is mapping but no mapping file is named; set plugins.chargeback.mapping "
                             "to the CSV (email,group[,start]) or source to auto")


@hookimpl
def register_settings(register) -> None:
    register(SETTINGS_NAME, ChargebackSettings)


@hookimpl
def register_sections(register, usage: OnDemandUsage, settings) -> None:
    chosen = settings.plugin(SETTINGS_NAME)
    directory, source = group_directory(usage, chosen, settings.config_dir)
    charges = charge(usage, directory)
    register(chargeback_section(usage, charges, directory, source))
    for group in charges.groups if directory is not None else ():
        register(group_section(usage, charges, group))


@hookimpl
def register_groups(register, usage: OnDemandUsage, settings) -> None:
    """The groups this section charges to, for the core's own use (``billing-reports export``)."""
    directory, _source = group_directory(usage, settings.plugin(SETTINGS_NAME), settings.config_dir)
    if directory is not None:
        register(directory)


def group_directory(usage: OnDemandUsage, chosen: ChargebackSettings,
                    config_dir: Path) -> tuple[GroupDirectory | None, str]:
    """The directory the settings choose, and where its groups come from in the intro's words
    (``None``, and why, when there is none). A mapping named but unreadable: ``ConfigError``."""
    mapping = None
    if chosen.mapping.strip() and chosen.source != "cursor":
        path = config_dir / Path(chosen.mapping.strip()).expanduser()
        # (the file names people and groups as they are: the usage names them as it shows them)
        mapping = read_mapping(path).renamed(usage.person, usage.group_name)
        mapping_source = (f"the mapping file `{path.name.replace('`', '')}` "
                          f"(`plugins.{SETTINGS_NAME}.mapping` in config.yaml)")
    if chosen.source != "mapping":
        cursor = from_cursor(usage.cursor)
        if cursor is not None:
            synced = {group.name for snapshot in usage.cursor.groups for group in snapshot.groups if group.synced}
            note = f", {len(synced)} of them synced from your identity provider (SCIM)" if synced else ""
            return cursor, f"Cursor's billing groups, as each fetch keeps them{note}"
    if mapping is not None:
        return mapping, mapping_source
    if chosen.source == "cursor":
        return None, "no Cursor billing groups were kept (the team has none, or no fetch has kept them yet)"
    return None, "no groups yet"


@dataclass
class Charges:
    """The ledger charged to groups: per group, its spend per period, per day, per model and per
    member, and each member's days in the group (in range, up to today)."""

    periods: list[Period]
    by_period: dict[str, list[int]] = field(default_factory=dict)
    by_model: dict[str, dict[str, int]] = field(default_factory=dict)
    by_user: dict[str, dict[str, int]] = field(default_factory=dict)
    #: group -> day -> spend (a group's forecast, its budget)
    by_day: dict[str, dict[int, int]] = field(default_factory=dict)
    #: group -> user -> (first day, last day, days) in the group within the range
    days: dict[str, dict[str, tuple[int, int, int]]] = field(default_factory=dict)

    def total(self, group: str) -> int:
        return sum(self.by_period.get(group, ()))

    @property
    def groups(self) -> list[str]:
        """Every group with spend or members, costliest first (ties: A to Z), Unassigned last."""
        named = {*self.by_period, *self.days} - {UNASSIGNED}
        ranked = sorted(named, key=lambda group: (-self.total(group), group))
        return ranked + [UNASSIGNED] if UNASSIGNED in self.by_period or UNASSIGNED in self.days else ranked


def charge(usage: OnDemandUsage, directory: GroupDirectory | None) -> Charges:
    """Every ledger cell charged to the group its user was in on its day: its user's, or, for a
    service account no group places, its owner's that day (Cursor counts a service account's spend
    as its owner's); whoever no group holds is :data:`UNASSIGNED`."""
    periods = usage.periods()
    charges = Charges(periods)
    period_of = {day: index for index, period in enumerate(periods)
                 for day in range(period.first_day, period.last_day + 1)}
    owners = service_account_owners(usage)
    if directory is None:
        return _all_unassigned(usage, charges)
    group_on = group_charger(directory, owners)

    known: dict[tuple[str, int], str] = {}
    for day, user, model, cost in usage.cell_costs():
        group = known.get((user, day))
        if group is None:
            group = known[(user, day)] = group_on(user, day)
        by_period = charges.by_period.get(group)
        if by_period is None:
            by_period = charges.by_period[group] = [0] * len(periods)
        by_period[period_of[day]] += cost
        models = charges.by_model.setdefault(group, {})
        models[model] = models.get(model, 0) + cost
        users = charges.by_user.setdefault(group, {})
        users[user] = users.get(user, 0) + cost
        days = charges.by_day.setdefault(group, {})
        days[day] = days.get(day, 0) + cost

    # each member's days in each group: the range's days up to today, so a month in progress counts
    # only the days that have begun
    first, last = usage.range.first_day, min(usage.range.last_day, today())
    ledger_users = {user for users in charges.by_user.values() for user in users}
    named = {m.user for group in directory.groups for m in directory.members(group)} if directory else set()
    # a service account the mapping names is listed once: as its ledger user, with its spend
    members = ledger_users | {user for user in named if user + SERVICE_ACCOUNT_MARK not in ledger_users}
    for user in sorted(members):
        if not ({user, user.removesuffix(SERVICE_ACCOUNT_MARK), owners.get(user)} & named):  # in no group ever
            spans = {UNASSIGNED: (first, last, last - first + 1)} if last >= first else {}
        else:
            spans = {}
            for day in range(first, last + 1):
                group = known.get((user, day)) or group_on(user, day)
                begun = spans.get(group)
                spans[group] = (day, day, 1) if begun is None else (begun[0], day, begun[2] + 1)
        for group, span in spans.items():
            # Unassigned lists only who has spend there (not everyone before their first group)
            if group == UNASSIGNED and not charges.by_user.get(UNASSIGNED, {}).get(user):
                continue
            charges.days.setdefault(group, {})[user] = span
    for user, cost in charges.by_user.get(UNASSIGNED, {}).items():  # spend outside the days counted
        if cost and user not in charges.days.get(UNASSIGNED, {}):
            charges.days.setdefault(UNASSIGNED, {})[user] = (first, last, 0)
    return charges


def _all_unassigned(usage: OnDemandUsage, charges: Charges) -> Charges:
    """No groups at all: everything is Unassigned, from the sums the usage keeps (what :func:`charge`
    would find visiting every cell, without the visit: a big team's ledger has a cell per person,
    model and day)."""
    users = usage.users()
    if not users:
        return charges
    charges.by_period[UNASSIGNED] = [usage.period_total(period).cost for period in charges.periods]
    charges.by_model[UNASSIGNED] = {ranked.name: ranked.cost for ranked in usage.models()}
    charges.by_user[UNASSIGNED] = {ranked.name: ranked.cost for ranked in users}
    charges.by_day[UNASSIGNED] = {day: totals.cost for day, totals in usage.by_day().items() if totals.requests}
    first, last = usage.range.first_day, min(usage.range.last_day, today())
    span = (first, last, last - first + 1) if last >= first else (first, last, 0)
    charges.days[UNASSIGNED] = {ranked.name: span for ranked in users if ranked.cost}
    return charges


# --- the section ----------------------------------------------------------------------------------


def group_slugs(groups: list[str]) -> dict[str, str]:
    """Each group's section slug, ``chargeback-platform`` (unique: ``-2``... after a clash)."""
    slugs: dict[str, str] = {}
    taken: set[str] = set()
    for group in groups:
        base = f"{SLUG}-{slug_of(group)}"
        slug, number = base, 2
        while slug in taken:
            slug, number = f"{base}-{number}", number + 1
        taken.add(slug)
        slugs[group] = slug
    return slugs


def period_columns(usage: OnDemandUsage, periods: list[Period]) -> list[Column]:
    return [Column(period.key, period.short_label + ("" if usage.period_fetched(period) else " (not fetched)"), "money")
            for period in periods]


def fetched(usage: OnDemandUsage, periods: list[Period], values: list[int]) -> list[int | None]:
    """``values`` per period, ``None`` (unknown, never $0) for a period not fetched."""
    return [value if usage.period_fetched(period) else None for period, value in zip(periods, values)]


def chargeback_section(usage: OnDemandUsage, charges: Charges, directory: GroupDirectory | None,
                       source: str) -> Section:
    periods = charges.periods
    groups = charges.groups
    total = usage.total.cost
    links = group_slugs(groups) if directory is not None else {}
    group_column = Column("group_name", "Group", "text", links=links)
    period_totals = fetched(usage, periods, [usage.period_total(period).cost for period in periods])

    member_rows = [[group, *row] for group in groups for row in member_rows_of(charges, group)]
    counts = {group: sum(1 for row in member_rows if row[0] == group and row[1] != REMOVED_USER) for group in groups}
    by_group = Table(
        slug="by-group",
        title="Spend per group",
        columns=[group_column, Column("spend", "Spend", "money"), Column("share", "Share", "percent"),
                 Column("member_count", "Members", "count")],
        rows=[[group, charges.total(group), share(charges.total(group), total), counts[group]] for group in groups],
        total=["Total", total, 100.0 if total else None, None],
        description=(f"What each group spent in {usage.period_label}, costliest first, Unassigned last. Members: "
                     "people and service accounts in the group on any day of the range."),
    )
    rows = [[group, *fetched(usage, periods, charges.by_period.get(group, [0] * len(periods))),
             charges.total(group), share(charges.total(group), total)] for group in groups]
    per_period = Table(
        slug="by-period",
        title="Spend per group per period",
        columns=[group_column, *period_columns(usage, periods), Column("total", "Total", "money"),
                 Column("share", "Share", "percent")],
        rows=rows,
        total=["Total", *period_totals, total, 100.0 if total else None],
        description=(f"On-demand spend charged to each group in each {usage.grain.replace('cycle', 'billing cycle')}, "
                     "costliest group first, Unassigned last. Every day's spend of every person is charged to "
                     "exactly one group, so the groups add up to the total."),
    )
    model_rows = []
    for group in groups:
        group_total = charges.total(group)
        for model, cost in sorted(charges.by_model.get(group, {}).items(), key=lambda item: (-item[1], item[0])):
            model_rows.append([group, model, cost, share(cost, group_total)])
    per_model = Table(
        slug="by-model",
        title="Spend per group per model",
        columns=[group_column, Column("model", "Model", "model"), Column("spend", "Spend", "money"),
                 Column("share", "Share of the group", "percent")],
        rows=model_rows,
        total=["Total", None, total, None],
        description="Each group's spend per model, costliest first.",
    )
    members = Table(
        slug="by-member",
        title="Members of each group",
        columns=[group_column, *MEMBER_COLUMNS],
        rows=member_rows,
        total=["Total", None, None, None, None, total],
        description=MEMBERS_DESCRIPTION,
    )
    charts = []
    if directory is not None and 2 <= len(periods) <= CHART_PERIODS and total:
        charts.append(groups_chart(usage, charges))
    if directory is None:
        intro = (
            "Spend per group (a team, a department, a cost centre), for charging each its share. "
            "**No groups yet**, so everything is in *Unassigned*. Enterprise teams' billing groups are "
            "fetched from Cursor automatically by `billing-reports fetch`; any other team can name a "
            f"mapping file in `plugins.{SETTINGS_NAME}.mapping` of config.yaml: a CSV with the header "
            "`email,group` (and optionally `start`, the `YYYY-MM-DD` a membership begins, so that a person "
            "who moves team is charged to each for its days)."
            + (f" Here, {source}." if source != "no groups yet" else "")
        )
    else:
        intro = (
            f"Spend per group, for charging each its share. Groups come from {source}. Each day's spend of "
            "each person is charged to the group they were in that day, so whoever moves team is charged to "
            "each for its days. *Unassigned* holds whoever no group holds on a day, removed users included. "
            "A service account is its own row, placed by its name where the groups name it, else in its "
            "owner's group of the day (Cursor counts its spend as its owner's). Follow a group's name to its page."
        )
    unassigned = charges.total(UNASSIGNED)
    return Section(
        slug=SLUG,
        title="Chargeback by group",
        order=ORDER,
        intro=intro,
        # previewed on the dashboard only when there are groups: one Unassigned row tells nothing there
        roles=("dashboard-preview",) if directory is not None else (),
        figures=[
            Figure("Groups", len([group for group in groups if group != UNASSIGNED]), "count"),
            Figure("Unassigned spend", unassigned, "money",
                   f"{share(unassigned, total):.1f}% of the total" if total else ""),
        ],
        tables=[by_group, per_period, per_model, members],
        charts=charts,
    )


MEMBER_COLUMNS = [
    Column("user", "Member", "user"),
    Column("from_day", "In the group from", "day"),
    Column("to_day", "To", "day"),
    Column("days_in_group", "Days in the group", "count"),
    Column("spend", "Spend", "money"),
]
MEMBERS_DESCRIPTION = (
    "Each member's days in the group within the range (up to today) and the spend charged to the group "
    "on them; a member who left and came back is counted from the first day to the last, the days in "
    "the group only once. A service account is its own row. Unassigned lists only who has spend there."
)


def member_rows_of(charges: Charges, group: str) -> list[list]:
    """``[member, from, to, days, spend]`` per member of ``group``, costliest first (ties: A to Z)."""
    from billing_reports.periods import date_of_day

    spend = charges.by_user.get(group, {})
    days = charges.days.get(group, {})
    users = sorted({*days, *spend}, key=lambda user: (-spend.get(user, 0), user))
    rows = []
    for user in users:
        first, last, count = days.get(user, (None, None, None))
        rows.append([user, date_of_day(first).isoformat() if count else None,
                     date_of_day(last).isoformat() if count else None, count, spend.get(user, 0)])
    return rows


def groups_chart(usage: OnDemandUsage, charges: Charges) -> Chart:
    """Stacked columns, one per period: the :data:`CHART_GROUPS` costliest groups a segment each,
    the others together, Unassigned last; a period's column adds up to its total exactly."""
    periods = charges.periods
    groups = [group for group in charges.groups if group != UNASSIGNED]
    named, rest = groups[:CHART_GROUPS], groups[CHART_GROUPS:]
    series = [Series(group, fetched(usage, periods, charges.by_period[group])) for group in named if group in charges.by_period]
    if rest:
        summed = [sum(charges.by_period.get(group, [0] * len(periods))[index] for group in rest)
                  for index in range(len(periods))]
        series.append(Series(other_label(len(rest), "groups"), fetched(usage, periods, summed)))
    if UNASSIGNED in charges.by_period:
        series.append(Series(UNASSIGNED, fetched(usage, periods, charges.by_period[UNASSIGNED])))
    return Chart(
        slug="per-period",
        title="Each period's spend by group",
        description="On-demand spend of each period, stacked by the group it is charged to.",
        kind="stacked",
        labels=[period.short_label for period in periods],
        series=series,
    )


# --- a page per group ---------------------------------------------------------------------------


def group_section(usage: OnDemandUsage, charges: Charges, group: str) -> Section:
    """A group's page: its spend per period (against the team's), per model, and its members."""
    periods = charges.periods
    total = usage.total.cost
    group_total = charges.total(group)
    costs = charges.by_period.get(group, [0] * len(periods))
    by_month = usage.grain == "month" and usage.range.whole_months
    period_rows = []
    for period, cost in zip(periods, costs):
        known = usage.period_fetched(period)
        team = usage.period_total(period).cost if known else None
        period_rows.append([period.key if by_month else period.label, cost if known else None, team,
                            share(cost, team) if known and team else None])
    model_rows = [[model, cost, share(cost, group_total)]
                  for model, cost in sorted(charges.by_model.get(group, {}).items(), key=lambda item: (-item[1], item[0]))]
    members = member_rows_of(charges, group)
    noun = usage.grain.replace("cycle", "billing cycle")
    unassigned = group == UNASSIGNED
    return Section(
        slug=group_slugs(charges.groups)[group],
        title=f"Chargeback: {group}",
        order=GROUP_ORDER,
        nav=False,
        intro=(
            "Spend charged to this group: each day's spend of whoever was in it that day. "
            + ("*Unassigned* holds whoever no group holds on a day: people in no group (or not yet, or no "
               "longer) and removed users (events without an email). " if unassigned else "")
            + "Every group side by side: the *Chargeback by group* page."
        ),
        figures=[
            Figure("Spend", group_total, "money", usage.period_label),
            Figure("Share of the team's spend", share(group_total, total), "percent"),
            Figure("Members" if not unassigned else "People with spend here",
                   len([row for row in members if not is_service_account(row[0]) and row[0] != REMOVED_USER]), "count"),
        ],
        tables=[
            Table(
                slug="by-period",
                title=f"Spend per {noun}",
                columns=[Column("period", noun.capitalize(), "month" if by_month else "text"),
                         Column("spend", "Spend", "money"), Column("team_spend", "Team's spend", "money"),
                         Column("share", "Share", "percent")],
                rows=period_rows,
                total=["Total", group_total, total, share(group_total, total)],
                description=f"The group's on-demand spend in each {noun}, beside the whole team's.",
            ),
            Table(
                slug="by-model",
                title="Spend per model",
                columns=[Column("model", "Model", "model"), Column("spend", "Spend", "money"),
                         Column("share", "Share", "percent")],
                rows=model_rows,
                total=["Total", group_total, 100.0 if group_total else None],
                description="The group's spend per model, costliest first.",
            ),
            Table(
                slug="by-member",
                title="Members",
                columns=MEMBER_COLUMNS,
                rows=members,
                total=["Total", None, None, None, group_total],
                description=MEMBERS_DESCRIPTION,
            ),
        ],
    )
