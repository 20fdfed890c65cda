"""``billing-reports export``: the usage of a range written as a file for a warehouse or a FinOps tool.

Three shapes (``focus``: FOCUS 1.2 rows, :mod:`.focus`; ``ledger``: the day-grained ledger in our own
column names, :mod:`.ledger_rows`; ``events``: every kept event, :mod:`.event_rows`), each written as
CSV, gzip CSV or Parquet by :mod:`.writers`, atomically.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Optional

from ..analysis import run_groups
from ..errors import ConfigError
from ..groups import group_charger, service_account_owners
from ..loader import load_usage, require_cached_data
from ..periods import ReportRange
from ..settings import Settings
from ..usage import OnDemandUsage
from .columns import Export
from .event_rows import events_export
from .focus import BillingAccount, focus_export
from .ledger_rows import GroupOf, ledger_export
from .writers import check_target, file_format, require_parquet, write_export

FORMATS = ("focus", "ledger", "events")


@dataclass(frozen=True)
class ExportResult:
    path: Path
    output_format: str
    file_format: str
    rows: int
    #: The billed cost of every row (micro-cents): the range's on-demand spend.
    cost: int
    usage: OnDemandUsage


def export_usage(settings: Settings, report_range: ReportRange, output_format: str, path: Path, *,
                 account_id: str | None = None, account_name: str | None = None) -> ExportResult:
    """Write the usage of ``report_range`` to ``path`` as ``output_format`` (one of :data:`FORMATS`)."""
    if output_format not in FORMATS:
        raise ConfigError(f"--format {output_format}: choose one of {', '.join(FORMATS)}")
    path = Path(path)
    check_target(path)  # before anything is read: a wrong --output is said at once
    if file_format(path) == "parquet":
        require_parquet()
    usage = load_usage(settings, report_range.months, report_range=report_range)
    require_cached_data(usage)
    group_of = groups_of(usage, settings)
    export: Export
    if output_format == "focus":
        account = billing_account(usage, account_id, account_name)
        cycle_start = settings.cycle_start if settings.cycle_start is not None else usage.cursor.cycle_anchor()
        export = focus_export(usage, account, cycle_start, group_of)
    elif output_format == "ledger":
        export = ledger_export(usage, group_of)
    else:
        export = events_export(usage, group_of)
    rows, cost = write_export(export, path)
    return ExportResult(path, output_format, file_format(path), rows, cost, usage)


def groups_of(usage: OnDemandUsage, settings: Settings) -> GroupOf:
    """``group_of(user, day)``: the group a plugin's directory (``register_groups``: Cursor's billing
    groups or the chargeback mapping) charges the user's spend of that day to, as the chargeback does;
    always ``None`` without groups."""
    manager, _failures = settings.loaded_plugins()
    directory = run_groups(manager, usage, settings)
    if directory is None:
        return lambda user, day: None
    group_on = group_charger(directory, service_account_owners(usage))
    known: dict[tuple[str, int], str] = {}

    def group_of(user: str, day: int) -> Optional[str]:
        found = known.get((user, day))
        if found is None:
            found = known[(user, day)] = group_on(user, day)
        return found

    return group_of


def billing_account(usage: OnDemandUsage, account_id: str | None, account_name: str | None) -> BillingAccount:
    """FOCUS's BillingAccountId and BillingAccountName: as given, else the team's e-mail domain (the
    one most of its members' addresses share), which the Admin API's answers imply but never name."""
    if account_id is None:
        account_id = team_domain(usage)
        if account_id is None:
            raise ConfigError("no member e-mail address to name the team's billing account by; "
                              "pass --account-id (and --account-name) for FOCUS's BillingAccountId")
    for option, value in (("--account-id", account_id), ("--account-name", account_name)):
        if value is not None and not value.strip():
            raise ConfigError(f"{option} is empty; FOCUS needs a name there (leave the option out for the default)")
    return BillingAccount(account_id, account_name if account_name is not None else account_id)


def team_domain(usage: OnDemandUsage) -> str | None:
    """The e-mail domain most users of the range share (ties: A to Z), ``None`` when none has one."""
    domains = Counter(user.rpartition("@")[2].lower() for user in usage.by_user() if "@" in user)
    if not domains:
        return None
    return min(domains.items(), key=lambda found: (-found[1], found[0]))[0]


__all__ = ["ExportResult", "FORMATS", "billing_account", "export_usage", "groups_of", "team_domain"]
