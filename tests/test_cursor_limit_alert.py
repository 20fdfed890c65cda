"""The spend-limit alert (plugins/cursor_limit_alert.py): its title reads the share used as the rest
of the site does, ``85.1%`` (one decimal, no space), the same value as its "Used" figure."""

from __future__ import annotations

from datetime import datetime, timezone

from billing_reports.builtin_plugins.cursor_limit_alert import CursorLimitRule, near_limit_alerts
from billing_reports.cursor_figures import MemberSpend, SpendSnapshot
from billing_reports.money import microcents
from billing_reports.periods import cycle_containing, parse_day

CYCLE = cycle_containing(parse_day("2026-11-17"), parse_day("2026-11-17"))
TAKEN = datetime(2026, 11, 30, 12, tzinfo=timezone.utc)


def dollars(amount: float) -> int:
    return microcents(round(amount * 100))


def test_the_title_reads_the_share_used_as_its_figure_does():
    # Ann: $85.10 of $100.00 = 85.1 %; Bob: $90.00 of $100.00 = 90 % exactly, shown 90.0% (one decimal)
    snapshot = SpendSnapshot(CYCLE, TAKEN, (
        MemberSpend("ann@x.com", "Ann", spend=dollars(85.10), overall=dollars(85.10), limit=dollars(100)),
        MemberSpend("bob@x.com", "Bob", spend=dollars(90), overall=dollars(90), limit=dollars(100)),
    ))
    alerts = {alert.subject: alert for alert in near_limit_alerts(snapshot, CursorLimitRule())}
    assert alerts["ann@x.com"].title == "At 85.1% of their Cursor spend limit ($85.10 of $100.00)"
    assert alerts["bob@x.com"].title == "At 90.0% of their Cursor spend limit ($90.00 of $100.00)"
    assert "$14.90 left. Alerts from 80% (plugins.cursor-limit-alert)." in alerts["ann@x.com"].detail
    used = next(figure for figure in alerts["ann@x.com"].figures if figure.label == "Used")
    assert (used.value, used.kind) == (85.1, "percent")
