"""``billing-reports export``: the usage of a range written as a file for a warehouse or a FinOps tool.

Three shapes (``focus``: FOCUS 1.2 rows, :mod:`.focus`; ``ledger``: the day-grained ledger in our own
column names, :mod:`.ledger_rows`; ``events``: every kept event, :mod:`.event_rows`), each written as
CSV, gzip CSV or Parquet by :mod:`.writers`, atomically.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Iterable, Optional

from ..analysis import run_groups
from ..cache import cached_months
from ..errors import ConfigError
from ..groups import group_charger, service_account_owners
from ..loader import load_usage, require_cached_data
from ..periods import ReportRange
from ..pseudonymise import pseudonymised
from ..pseudonyms import Pseudonyms, key_from
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
    #: FOCUS: the BillingAccountId written, and where it came from when no setting gave it (else ``None``).
    account: BillingAccount | None = None
    account_source: str | None = None


def protected_paths(settings: Settings) -> list[tuple[Path, str]]:
    """What an export must never replace: the cache, the site, the demo folder, the config and the ``.env``
    files it reads."""
    return [(Path(settings.data_dir), "the cache folder (paths.data_dir)"),
            (Path(settings.site_dir), "the site folder (paths.site_dir)"),
            (Path(settings.demo_dir), "the demo folder (paths.demo_dir)"),
            (Path(settings.config_path), "the config file"),
            (Path(settings.config_path).parent / ".env", "the .env file of the config"),
            (Path.cwd() / ".env", "the .env file the commands read")]


def export_usage(settings: Settings, report_range: ReportRange, output_format: str, path: Path | str, *,
                 account_id: str | None = None, account_name: str | None = None,
                 force: bool = False) -> ExportResult:
    """Write the usage of ``report_range`` to ``path`` as ``output_format`` (one of :data:`FORMATS`): every
    person under a pseudonym when ``settings.pseudonymise``. ``force``: replace an existing file that is
    not an earlier export."""
    if output_format not in FORMATS:
        raise ConfigError(f"--format {output_format}: choose one of {', '.join(FORMATS)}")
    # before anything is read: a wrong --output is said at once
    target = check_target(path, protected=protected_paths(settings), force=force)
    if file_format(target) == "parquet":
        require_parquet()
    people = Pseudonyms(key_from(settings)) if settings.pseudonymise else None
    usage = load_usage(settings, report_range.months, report_range=report_range)
    require_cached_data(usage)
    real_usage = usage
    if people is not None:
        usage, settings = pseudonymised(usage, settings, people)
    group_of = groups_of(usage, settings)
    export: Export
    account = source = None
    if output_format == "focus":
        account, source = billing_account(settings, real_usage, account_id, account_name, pseudonymise=people is not None)
        cycle_start = settings.cycle_start if settings.cycle_start is not None else usage.cursor.cycle_anchor()
        rename = None if people is None else (
            lambda key: (key[0], people.user(key[1]), people.scrub(key[2]), key[3]))
        export = focus_export(usage, account, cycle_start, group_of, rename=rename)
    elif output_format == "ledger":
        export = ledger_export(usage, group_of)
    else:
        export = events_export(usage, group_of, people)
    rows, cost = write_export(export, target)
    return ExportResult(Path(path), output_format, file_format(target), rows, cost, usage, account, source)


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


#: The BillingAccountId of a pseudonymised export without ``billing.account_id``: never the team's domain.
PSEUDONYMISED_ACCOUNT = "cursor-team"


def billing_account(settings: Settings, usage: OnDemandUsage, account_id: str | None = None,
                    account_name: str | None = None, *, pseudonymise: bool = False) -> tuple[BillingAccount, str | None]:
    """FOCUS's BillingAccountId and BillingAccountName, and where the id came from when nothing set it:
    ``--account-id``, else ``billing.account_id``, else the e-mail domain most of Cursor's members share
    (its members list, kept by a fetch), else the one most users of every cached month share: the same
    id whatever the range. A pseudonymised export names no domain (:data:`PSEUDONYMISED_ACCOUNT`)."""
    for option, value in (("--account-id", account_id), ("--account-name", account_name)):
        if value is not None and not value.strip():
            raise ConfigError(f"{option} is empty; FOCUS needs a name there (leave the option out for the default)")
    account_id = account_id if account_id is not None else settings.account_id
    account_name = account_name if account_name is not None else settings.account_name
    source = None
    if account_id is None:
        if pseudonymise:
            account_id, source = PSEUDONYMISED_ACCOUNT, "the fixed id of a pseudonymised export, which names no e-mail domain"
        else:
            account_id = most_common_domain(usage.cursor.members)
            source = "the e-mail domain most of Cursor's members share"
            if account_id is None:
                account_id = most_common_domain(cached_users(settings))
                source = "the e-mail domain most users of the cached months share"
            if account_id is None:
                account_id, source = "cursor-team", "a stand-in: no e-mail address is cached to take a domain from"
    return BillingAccount(account_id, account_name if account_name is not None else account_id), source


def cached_users(settings: Settings) -> list[str]:
    """The users of every month in the cache folder (loaded from the month summaries where they are kept)."""
    months = cached_months(settings.data_dir)
    if not months:
        return []
    return list(load_usage(settings, months).by_user())


def most_common_domain(users: Iterable[str]) -> str | None:
    """The e-mail domain most of ``users`` share (ties: A to Z), ``None`` when none has one."""
    domains = Counter(user.rpartition("@")[2].lower() for user in users if "@" in user)
    if not domains:
        return None
    return min(domains.items(), key=lambda found: (-found[1], found[0]))[0]


__all__ = ["ExportResult", "FORMATS", "billing_account", "export_usage", "groups_of", "most_common_domain",
           "protected_paths"]
