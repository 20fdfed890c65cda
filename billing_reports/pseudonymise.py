"""The pseudonymised analysis: every person replaced by their pseudonym at the data boundary.

:func:`pseudonymised` is called once, by :func:`billing_reports.analysis.analyse`, between loading
the cache and running the plugins, when ``privacy.pseudonymise`` (or ``--pseudonymise``) asks for
it. Every plugin, built-in or not, then only ever sees pseudonyms (:mod:`billing_reports.pseudonyms`):

- the ledger's users (and the models' names, scrubbed of any email);
- each month's facts: the service accounts' owners, the examples of odd charges, the users of the
  charges the fetch left out;
- Cursor's figures: members, spend and limits per member, billing groups' members, without display
  names; group names and problems scrubbed;
- the kept events :meth:`OnDemandUsage.events` streams again;
- the plugins' settings that name people: a settings class marks them with :data:`Person`
  (``users_usd: dict[Person, Dollars]``), and their values are replaced here;
- whatever a plugin reads from elsewhere goes through ``usage.person(name)`` (the chargeback's
  mapping file does).

A plugin that opens the cache files itself (``usage.data_dir``) sees them as they are: read the
usage's accessors instead.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field, replace
from functools import cached_property
from typing import Any, Callable, Iterator

import msgspec
import msgspec.inspect as inspect

from .cursor_figures import BillingGroup, CursorFigures, GroupMembership, Member, MemberSpend
from .ledger import Ledger
from .loader import bounded_name
from .months import DAY_MS, Month
from .pseudonyms import GroupName, Person, Pseudonyms
from .usage import SERVICE_ACCOUNT_MARK, DataQuality, MonthFacts, OnDemandUsage, UsageTotals, service_account_user


@dataclass
class PseudonymisedUsage(OnDemandUsage):
    """An :class:`OnDemandUsage` whose people are their pseudonyms, Cursor's figures too."""

    people: Pseudonyms | None = None
    figures: CursorFigures = field(default_factory=CursorFigures)

    pseudonymised = True

    @cached_property
    def cursor(self) -> CursorFigures:  # type: ignore[override]
        return self.figures

    def person(self, name: str) -> str:
        assert self.people is not None
        return self._spelled(self.people.user(name))

    def group_name(self, name: str) -> str:
        assert self.people is not None
        return self.people.scrub_name(name)

    def events(self) -> Iterator[tuple[Month, dict[str, Any]]]:
        for month, event in super().events():
            yield month, pseudonymised_event(event, self.people)


def pseudonymised(usage: OnDemandUsage, settings: Any, people: Pseudonyms) -> tuple[PseudonymisedUsage, Any]:
    """``usage`` and ``settings`` with every person replaced by their pseudonym (see the module).

    :raises ConfigError: two people would share a pseudonym."""
    real = usage.cursor
    people.know_people([*usage.user_names, *real.members,
                        *(line.email for snapshot in real.spend for line in snapshot.members),
                        *(member.email for snapshot in real.groups for group in snapshot.groups
                          for member in group.members),
                        *(owner for facts in usage.month_facts.values() if isinstance(facts.quality, DataQuality)
                          for owner in facts.quality.service_account_owners.values())])
    people.know_display_names((member.email, member.name) for member in real.members.values())
    people.know_display_names((line.email, line.name) for snapshot in real.spend for line in snapshot.members)
    people.know_display_names((member.email, member.name) for snapshot in real.groups
                              for group in snapshot.groups for member in group.members)
    renamed = PseudonymisedUsage(
        months=usage.months,
        ledger=_ledger(usage, people),
        month_facts={month: _facts(facts, people) for month, facts in usage.month_facts.items()},
        data_dir=usage.data_dir,
        report_range=usage.report_range,
        people=people,
        figures=pseudonymised_figures(real, people),
    )
    return renamed, named_settings(settings, renamed.person, renamed.group_name)


def _ledger(usage: OnDemandUsage, people: Pseudonyms) -> Any:
    ledger = usage.ledger
    if isinstance(ledger, Ledger):
        return Ledger({month: cells.renamed(people.user, people.scrub, month.start_ms // DAY_MS)
                       for month, cells in ledger.months.items()})
    renamed: dict[Any, UsageTotals] = {}  # a ledger made by hand
    for (day, user, model, max_mode), totals in ledger.items():
        key = (day, people.user(user), people.scrub(model), max_mode)
        renamed[key] = renamed[key] + totals if key in renamed else totals
    return renamed


def _facts(facts: MonthFacts, people: Pseudonyms) -> MonthFacts:
    quality = facts.quality
    scrubbed = lambda counts: {people.scrub(name): count for name, count in counts.items()}  # noqa: E731
    return replace(facts, fetch=_fetch_record(facts.fetch, people), quality=replace(
        quality,
        not_on_demand=scrubbed(quality.not_on_demand),
        unknown_kinds=scrubbed(quality.unknown_kinds),
        unknown_fields=scrubbed(quality.unknown_fields),
        charged_differs_examples=[{**example, "user": people.user(str(example.get("user") or "")),
                                   "model": people.scrub(str(example.get("model") or ""))}
                                  for example in quality.charged_differs_examples],
        service_account_owners={people.user(account): people.user(owner)
                                for account, owner in quality.service_account_owners.items()},
    ) if isinstance(quality, DataQuality) else quality)


def _fetch_record(fetch: dict[str, Any], people: Pseudonyms) -> dict[str, Any]:
    """A cache file's ``fetch`` record with the left-out charges' users pseudonymised, the kinds scrubbed."""
    record = dict(fetch)
    if isinstance(record.get("left_out"), dict):
        record["left_out"] = {people.scrub(str(kind)): count for kind, count in record["left_out"].items()}
    windows = []
    for window in record.get("windows") or []:
        if isinstance(window, dict):
            window = dict(window)
            if isinstance(window.get("left_out"), dict):
                window["left_out"] = {people.scrub(str(kind)): count for kind, count in window["left_out"].items()}
            if isinstance(window.get("left_out_charged"), list):
                window["left_out_charged"] = [_left_out_row(row, people) for row in window["left_out_charged"]]
        windows.append(window)
    if "windows" in record:
        record["windows"] = windows
    return record


def _left_out_row(row: Any, people: Pseudonyms) -> Any:
    if isinstance(row, list) and len(row) == 4 and isinstance(row[1], str):
        return [row[0], people.user(row[1]), people.scrub(str(row[2])), row[3]]
    return row


def pseudonymised_figures(figures: CursorFigures, people: Pseudonyms) -> CursorFigures:
    """Cursor's figures with every member under their pseudonym and no display name; group names and
    problems scrubbed. Their ``person`` renames the users of the events read beside them."""
    members: dict[str, Member] = {}
    for email, member in figures.members.items():
        label = people.user(email)
        members[label] = Member(label, "", member.role, member.removed)
    spend = [replace(snapshot, members=tuple(MemberSpend(people.user(line.email), "", line.spend, line.overall,
                                                         line.limit) for line in snapshot.members))
             for snapshot in figures.spend]
    groups = [replace(snapshot, groups=tuple(
        BillingGroup(people.scrub_name(group.id), people.scrub_name(group.name), group.spend,
                     tuple(GroupMembership(people.user(member.email), "", member.joined, member.left, member.spend)
                           for member in group.members), group.synced)
        for group in snapshot.groups)) for snapshot in figures.groups]
    return CursorFigures(members=members, members_taken_at=figures.members_taken_at, spend=spend, groups=groups,
                         problems=[(where, people.scrub_name(what)) for where, what in figures.problems],
                         person=people.user)


#: The event fields that name a person, and how each is pseudonymised.
_PERSON_FIELDS: dict[str, str] = {"userEmail": "user", "serviceAccountName": "account"}
#: Event fields that identify a person by Cursor's id: left out of a pseudonymised event.
_PERSON_IDS = frozenset({"userId", "owningUser"})


def pseudonymised_event(event: dict[str, Any], people: Pseudonyms | None) -> dict[str, Any]:
    """A kept event with its person pseudonymised, Cursor's ids of people left out, and every other
    text scrubbed of emails."""
    if people is None:
        return event
    renamed: dict[str, Any] = {}
    for name, value in event.items():
        if name in _PERSON_IDS:
            continue
        kind = _PERSON_FIELDS.get(name)
        if kind == "user" and isinstance(value, str):
            value = people.user(bounded_name(value))  # the ledger's user: a name too long is cut as it is there
        elif kind == "account" and isinstance(value, str) and value.strip():
            value = people.user(bounded_name(service_account_user(value))).removesuffix(SERVICE_ACCOUNT_MARK)
        else:
            value = _scrubbed(value, people)
        renamed[name] = value
    return renamed


def _scrubbed(value: Any, people: Pseudonyms) -> Any:
    if isinstance(value, str):
        return people.scrub(value)
    if isinstance(value, dict):
        return {people.scrub(key) if isinstance(key, str) else key: _scrubbed(item, people)
                for key, item in value.items()}
    if isinstance(value, list):
        return [_scrubbed(item, people) for item in value]
    return value


# --- plugin settings -------------------------------------------------------------------------------


def pseudonymised_settings(settings: Any, people: Pseudonyms) -> Any:
    """``settings`` whose plugin blocks name each :data:`Person` by their pseudonym, and each
    :data:`GroupName` scrubbed as Cursor's group names are."""
    return named_settings(settings, people.user, people.scrub_name)


def named_settings(settings: Any, person: Callable[[str], str], group_name: Callable[[str], str]) -> Any:
    """``settings`` whose plugin blocks name each :data:`Person` by ``person`` and each
    :data:`GroupName` by ``group_name`` (a usage's own: the ledger's spellings, or pseudonyms)."""
    blocks = getattr(settings, "plugin_settings", None)
    if not blocks:
        return settings
    rename = {"person": person, "group": group_name}
    renamed = {name: _renamed(block, inspect.type_info(type(block)), rename) for name, block in blocks.items()}
    if all(renamed[name] is blocks[name] for name in blocks):
        return settings
    return dataclasses.replace(settings, plugin_settings=renamed)


def _renamed(value: Any, info: inspect.Type, rename: dict[str, Callable[[str], str]]) -> Any:
    """``value`` (of the type ``info`` describes) with every string marked :data:`Person` (or
    :data:`GroupName`) renamed by ``rename["person"]`` (``rename["group"]``)."""
    if isinstance(info, inspect.Metadata):
        marks = [mark for mark in rename if (info.extra or {}).get(mark)]
        if marks and isinstance(value, str):
            renamed = rename[marks[0]](value)
            return value if renamed == value else renamed
        return _renamed(value, info.type, rename)
    if isinstance(info, inspect.DictType) and isinstance(value, dict):
        return {_renamed(key, info.key_type, rename): _renamed(item, info.value_type, rename)
                for key, item in value.items()}
    if isinstance(info, (inspect.ListType, inspect.VarTupleType, inspect.SetType, inspect.FrozenSetType)) \
            and isinstance(value, (list, tuple, set, frozenset)):
        return type(value)(_renamed(item, info.item_type, rename) for item in value)
    if isinstance(info, inspect.UnionType):
        for member in info.types:
            renamed = _renamed(value, member, rename)
            if renamed is not value:
                return renamed
        return value
    if isinstance(info, inspect.StructType) and isinstance(value, msgspec.Struct):
        changes = {}
        for spec in info.fields:
            current = getattr(value, spec.name)
            renamed = _renamed(current, spec.type, rename)
            if renamed is not current:
                changes[spec.name] = renamed
        return msgspec.structs.replace(value, **changes) if changes else value
    return value


__all__ = ["GroupName", "Person", "PseudonymisedUsage", "named_settings", "pseudonymised", "pseudonymised_event", "pseudonymised_figures",
           "pseudonymised_settings"]
