"""``billing-reports check``: fetch, analyse, evaluate the alert rules, print and send the alerts.

Made for cron and CI: the exit status says what was found (0 no alert, 1 an alert at or above
``--fail-on``, 2 an error). Every error is one line on stderr, and one error does not stop what
does not depend on it: a broken rule leaves the others, a failing notifier the others.
"""

from __future__ import annotations

import contextlib
import dataclasses
import sys
from typing import Any, Sequence

import click

from .. import months as _months
from ..alert_state import AlertState, read_state, sending_lock, write_state
from ..alerts import SEVERITIES, Alert, AlertFigure, severity_rank
from ..analysis import analyse, run_alert_rules
from ..errors import BillingReportsError
from ..folders import check_writable_folder
from ..months import Month, isoformat_z
from ..notifications import configured_notifiers, deliver
from ..periods import ReportRange
from ..pipeline import fetch_missing
from ..pseudonyms import key_from
from ..progress import make_reporter
from ..sections import format_value, json_bytes
from ..settings import Settings, http_url
from ..untrusted import printable
from ..wording import counted
from .options import config_option, demo_settings, report_range_options

#: Alerts of a period that ended longer ago than this are printed, not sent.
NEWS_DAYS = 7

#: Exit statuses.
NO_ALERT, ALERTED, FAILED = 0, 1, 2


class CheckCommand(click.Command):
    """Every error of ``check`` (the config, the API, the cache) exits 2, not click's 1: 1 means an alert."""

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except BillingReportsError as error:
            error.exit_code = FAILED
            raise


def figure_text(figure: AlertFigure) -> str:
    return f"{figure.label} {format_value(figure.value, figure.kind)}"


def alerts_text(alerts: Sequence[Alert], period_label: str) -> str:
    """The alerts as aligned text: severity, subject, title, key figures, link (every text printable)."""
    if not alerts:
        return f"No alert for {period_label}."
    header = ["SEVERITY", "SUBJECT", "ALERT", "FIGURES", "LINK"]
    rows = [[alert.severity, alert.subject or alert.subject_kind, alert.title,
             "; ".join(figure_text(f) for f in alert.figures), alert.link or ""] for alert in alerts]
    rows = [[printable(cell) for cell in row] for row in rows]
    widths = [max(len(row[i]) for row in [header, *rows]) for i in range(len(header))]
    lines = ["  ".join(cell.ljust(width) for cell, width in zip(row, widths)).rstrip() for row in [header, *rows]]
    return f"{counted(len(alerts), 'alert')} for {period_label}:\n" + "\n".join(lines)


def alert_json(alert: Alert, first_seen: str | None) -> dict[str, Any]:
    document = dataclasses.asdict(alert)
    document["figures"] = [dataclasses.asdict(f) for f in alert.figures]
    document["first_seen"] = first_seen
    return document


@click.command(cls=CheckCommand)
@config_option
@report_range_options
@click.option("--offline", is_flag=True, help="Check the cache alone; never contact the API (no key needed).")
@click.option("--format", "output_format", type=click.Choice(["text", "json"]), default="text", show_default=True,
              help="text: aligned lines; json: every alert in full (money in micro-cents), what was sent, the errors.")
@click.option("--fail-on", type=click.Choice(SEVERITIES), default="warning", show_default=True,
              help="Exit 1 when an alert of this severity or worse stands.")
@click.option("--dry-run", is_flag=True,
              help="Print what would be sent to each notifier; send nothing and keep no state.")
@click.option("--demo", is_flag=True,
              help="Check the demo data that `billing-reports build --demo` fetched (all its months, or the range "
                   "given within them): offline, its own alert state, nothing sent.")
@click.option("--site-url", metavar="URL", default=None,
              help="Where the site is published, to make the alerts' links absolute in what is sent "
                   "(default: billing.site_url in config.yaml).")
def check(settings: Settings, months: list[Month], report_range: ReportRange, offline: bool, output_format: str,
          fail_on: str, dry_run: bool, demo: bool, site_url: str | None) -> None:
    """Check the period for alerts, print them, and send the new ones to the notifiers.

    Fetches what is missing (unless --offline), analyses the range (the alerts
    are about its last period: by default the current month, with the months
    before it as history), evaluates every plugin's alert rules (spikes, spend
    limits, expensive models, budgets...) and prints the alerts. Each notifier of
    the notify: section of config.yaml is sent the alerts it has not been told
    yet, or that have worsened since; which ones stand is kept in the cache
    directory (alert-state.json; alert-state-pseudonymised.json for a pseudonymised
    config, whose alerts name people by pseudonym).

    \b
    Exit status: 0 no alert at or above --fail-on, 1 there is one,
    2 an error (config, API, a broken rule, a failing notifier; one line each).

    \b
    Examples:
      billing-reports check --dry-run
      billing-reports check --offline --format json
      billing-reports check --demo               # after `billing-reports build --demo`
      billing-reports check --fail-on critical --site-url https://finops.example.com/ai/
    \b
    cron (every morning at 07:00; mail only when something is wrong):
      0 7 * * *  cd /srv/billing && billing-reports check --fail-on critical >/dev/null
    \b
    CI (a scheduled job that fails when a warning or worse stands):
      billing-reports check --offline --format json > alerts.json
    """
    errors: list[str] = []
    if site_url is not None:
        site_url = _site_url(site_url)
    site_url = site_url or settings.site_url
    if demo:  # the synthetic team's alerts are never news for a real notifier; its state stays in the demo cache
        settings, report_range = demo_settings(settings, report_range)
        months, offline = report_range.months, True
    manager, load_failures = settings.loaded_plugins()
    notifiers = [] if demo else configured_notifiers(settings, problems=errors)  # a notifier that is fine still sends
    if settings.pseudonymise:
        key_from(settings)  # no key: one line before anything is fetched, as `build` does
    if not offline:
        try:
            fetch_missing(settings, months, api_key=settings.api_key, reporter=make_reporter(),
                          say=lambda line: click.echo(line, err=True))
        except BillingReportsError as error:  # the cache as it is still tells what stands
            errors.append(error.message)
    analysis = analyse(dataclasses.replace(settings, skip_broken_plugins=True), months, report_range=report_range,
                       manager=manager, load_failures=load_failures, say=lambda line: click.echo(line, err=True))
    usage = analysis.usage
    alerts, rule_failures = run_alert_rules(manager, usage, analysis.settings or settings)  # (as its plugins saw them)
    errors += [f"plugin {f.name} failed: {f.error}" for f in [*analysis.failures, *rule_failures]]

    periods = usage.periods()
    period_label = periods[-1].label if periods else usage.period_label
    checked = frozenset(period.key for period in periods)
    # Alerts of a period that ended over a week ago are printed, not sent: they are not news.
    news = report_range.last_day >= _months.today() - NEWS_DAYS
    said: list[str] = []
    sent: dict[str, list[Alert]] = {}
    state: AlertState | None = None
    to_tell: dict[str, list[Alert]] = {}
    try:
        with contextlib.ExitStack() as held:
            if not dry_run:
                check_writable_folder(settings.data_dir, "paths.data_dir")  # before anything is sent
                held.enter_context(sending_lock(settings.data_dir))
            state = read_state(settings.data_dir, pseudonymised=usage.pseudonymised)
            to_tell = {n.name: state.to_tell(n.name, alerts) if news else [] for n in notifiers}
            if not news and alerts and notifiers:
                said.append(f"{period_label} ended over {NEWS_DAYS} days ago: its alerts are printed, not sent.")
            if not dry_run:
                for notifier in notifiers:
                    if not to_tell[notifier.name]:
                        continue
                    failures = deliver([notifier], to_tell[notifier.name], site_url=site_url, say=said.append)
                    errors += failures
                    if not failures:
                        sent[notifier.name] = to_tell[notifier.name]
                        # written after each notifier: a run killed midway does not tell it again
                        write_state(settings.data_dir, state.updated(alerts, sent, _months.utc_now(), checked),
                                    pseudonymised=usage.pseudonymised)
                state = state.updated(alerts, sent, _months.utc_now(), checked)
                write_state(settings.data_dir, state, pseudonymised=usage.pseudonymised)
    except BillingReportsError as error:
        errors.append(f"{error.message} Nothing {'more ' if sent else ''}was sent.")
    except OSError as error:
        errors.append(f"Alert state in {settings.data_dir} could not be written ({error.strerror or error}); "
                      "check the folder's space and permissions.")

    seen = (lambda key: state.first_seen(key)) if state is not None else (lambda key: None)
    if output_format == "json":
        document = {
            "period": period_label,
            "checked_at": isoformat_z(_months.utc_now()),
            "alerts": [alert_json(alert, seen(alert.key)) for alert in alerts],
            "notifiers": {name: {"would_send" if dry_run else "sent":
                                 [a.key for a in (alerts_ if dry_run else sent.get(name, []))]}
                          for name, alerts_ in to_tell.items()},
            "errors": errors,
        }
        click.echo(json_bytes(document, indent=True).decode())
    else:
        click.echo(alerts_text(alerts, period_label))
        if demo:
            click.echo("Demo data: nothing is sent to the notifiers.")
        for line in _notifier_lines(notifiers, to_tell, dry_run, state is not None, bool(settings.notify) or demo,
                                    config_name=settings.config_path.name):
            click.echo(line)
        for line in said:
            click.echo(line)
    for line in errors:
        click.echo(f"Error: {printable(line)}", err=True)

    if errors:
        status = FAILED
    elif any(severity_rank(alert.severity) >= severity_rank(fail_on) for alert in alerts):
        status = ALERTED
    else:
        status = NO_ALERT
    sys.exit(status)  # (click.Context.exit would be swallowed by main() outside standalone mode)


def _site_url(value: str) -> str:
    """``--site-url``, checked as billing.site_url is (alert_url joins the links to it either way)."""
    try:
        http_url(value)
        return value
    except ValueError as expected:
        raise click.BadParameter(f"expected {expected} (such as https://finops.example.com/ai/), "
                                 f"got {printable(value)!r}", param_hint="--site-url") from None


def _notifier_lines(notifiers: Sequence[Any], to_tell: dict[str, list[Alert]], dry_run: bool,
                    state_known: bool, configured: bool = False, config_name: str = "config.yaml") -> list[str]:
    if not notifiers:
        return [] if configured else [f"No notifier is configured (notify: in {printable(config_name)}): "
                                      "nothing is sent."]
    if not state_known:
        return []
    lines = []
    for notifier in notifiers:
        waiting = to_tell[notifier.name]
        if dry_run:
            keys = ", ".join(printable(alert.key) for alert in waiting)
            lines.append(f"Would send {counted(len(waiting), 'alert')} to {printable(notifier.name)}"
                         + (f": {keys}" if waiting else " (nothing new or worse)."))
        elif not waiting:
            lines.append(f"Nothing new or worse for {printable(notifier.name)}.")
    return lines
