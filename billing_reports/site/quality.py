"""The data-quality page's tables: what was fetched, kept, left out and found odd, per month."""

from __future__ import annotations

from datetime import datetime, timezone

from ..periods import cycle_containing, date_of_day
from ..sections import Column, Section, Table
from ..usage import OnDemandUsage

MONTH = Column("month", "Month", "month")


def when(moment: datetime | None) -> str:
    """``24 Feb 2026, 16:30 UTC`` (empty for ``None``)."""
    if moment is None:
        return ""
    return moment.strftime("%d %b %Y, %H:%M UTC").lstrip("0")


def status(usage: OnDemandUsage, month) -> str:
    facts = usage.facts(month)
    if not facts.cached:
        return "not begun" if month in usage.future_months else "missing: not fetched"
    return "complete" if facts.complete else "incomplete"


def fetches_table(usage: OnDemandUsage) -> Table:
    """Per month: when it was fetched, complete or not, and the fetch's own counts (with the events
    of pages the API sent twice, where a fetch met any)."""
    repeated = {month: _repeated(usage.facts(month).fetch) for month in usage.months}
    rows = []
    for month in usage.months:
        facts = usage.facts(month)
        fetch = facts.fetch or {}
        left_out = fetch.get("left_out") or {}
        rows.append([
            month.key,
            status(usage, month),
            when(facts.fetched_at),
            fetch.get("api_total") if isinstance(fetch.get("api_total"), int) else None,
            facts.quality.events_in_file if facts.cached else None,
            # (a file in the seed's own format does not say what its fetch left out: unknown, not 0)
            sum(v for v in left_out.values() if isinstance(v, int))
            if facts.cached and isinstance(fetch.get("left_out"), dict) else None,
            fetch.get("requests") if isinstance(fetch.get("requests"), int) else None,
        ])
    columns = [MONTH, Column("status", "Status"), Column("fetched_at", "Fetched at"),
               Column("api_total", "Events in API", "count"), Column("cached", "On-demand events cached", "count"),
               Column("left_out", "Other events left out", "count"), Column("requests", "API requests", "count")]
    description = ("An incomplete month was fetched before it was over (the API adds late events for "
                   "up to a day); the next build fetches it again.")
    if any(repeated.values()):
        columns.append(Column("repeated", "Repeated events left out", "count"))
        rows = [row + [repeated[month] if usage.facts(month).cached else None] for row, month in zip(rows, usage.months)]
        description += (" Repeated events: pages the API sent again, whole, on top of the events it announced; "
                        "they are counted once.")
    return Table("fetches", "Fetches", columns, rows, description=description)


def _repeated(fetch: dict | None) -> int:
    value = (fetch or {}).get("repeated")
    return value if isinstance(value, int) and not isinstance(value, bool) and value > 0 else 0


def checks_table(usage: OnDemandUsage) -> Table:
    """Per month: what the loader kept and every odd thing it counted."""
    rows = []
    for month in usage.months:
        facts = usage.facts(month)
        q = facts.quality
        if not facts.cached:
            rows.append([month.key] + [None] * 10)
            continue
        rows.append([
            month.key, q.events_in_file, q.events_kept, sum(q.not_on_demand.values()), q.without_email,
            q.without_model, q.zero_cost, q.negative_cost, q.non_numeric_cost, q.bad_timestamp,
            q.outside_month,
        ])
    return Table(
        "loader-checks", "Loader checks",
        [MONTH, Column("in_file", "Events in file", "count"), Column("kept", "Kept", "count"),
         Column("dropped", "Not on-demand (dropped)", "count"),
         Column("without_email", "Without email", "count"), Column("without_model", "Without model", "count"),
         Column("zero_cost", "Zero cost", "count"), Column("negative_cost", "Negative cost", "count"),
         Column("non_numeric", "Cost not a number", "count"), Column("bad_timestamp", "Bad timestamp", "count"),
         Column("outside_month", "Outside the month", "count")],
        rows,
        description="Events without email are counted under \u201c(removed user)\u201d; events whose cost is "
        "not a number cannot be priced and are in no total.",
    )


def charged_table(usage: OnDemandUsage) -> Table:
    """Per month: how the kept events were priced, the discount given, and ``chargedCents`` that
    differs from its parts."""
    rows = []
    for month in usage.months:
        facts = usage.facts(month)
        q = facts.quality
        if not facts.cached:
            rows.append([month.key] + [None] * 8)
            continue
        totals = usage.month_total(month)
        rows.append([month.key, q.with_charged, q.without_charged, totals.list_cost, totals.cost,
                     totals.discount, q.charged_differs, q.parts_unknown, q.odd_discount])
    return Table(
        "charged", "How events were priced",
        [MONTH, Column("with_charged", "With chargedCents", "count"),
         Column("without_charged", "Priced from their parts", "count"),
         Column("list_cost", "List cost", "money"), Column("charged", "Charged", "money"),
         Column("discount", "Discount given", "money"),
         Column("charged_differs", "chargedCents differs", "count"),
         Column("parts_unknown", "chargedCents alone", "count"),
         Column("odd_discount", "Discount outside 0–100 %", "count")],
        rows,
        description="An event costs its chargedCents where it has one, else totalCents × (1 − "
        "discountPercentOff/100) + cursorTokenFee. The list cost is before any discount (totalCents + "
        "cursorTokenFee); the discount given is list cost minus charged. “chargedCents differs” counts "
        "events whose chargedCents is more than 0.01 cent away from their parts (listed below). Each amount is "
        "rounded to the cent on its own, so list cost minus charged may differ from the discount shown by a "
        "cent. \u201cchargedCents alone\u201d: events priced by what Cursor billed because their totalCents, fee "
        "or discount is not a number; a discount outside 0\u2013100 % is applied as sent.",
    )


def charged_differences_table(usage: OnDemandUsage) -> Table:
    """The first events of each month whose ``chargedCents`` differs from their parts."""
    rows = []
    for month in usage.months:
        for example in usage.facts(month).quality.charged_differs_examples:
            rows.append([month.key, _event_time(example.get("timestamp")), example.get("user"),
                         example.get("model"), example.get("charged"), example.get("formula")])
    return Table(
        "charged-differs", "chargedCents that differs from its parts",
        [MONTH, Column("timestamp", "Event time"), Column("user", "User", "user"), Column("model", "Model", "model"),
         Column("charged", "chargedCents", "money"), Column("formula", "From its parts", "money")],
        rows,
        description="The first few of each month; the event is counted at its chargedCents, what Cursor bills.",
    )


def _event_time(timestamp: object) -> str:
    """An event's ``timestamp`` (epoch ms as text) as ``3 Apr 2026, 12:00:00.000 UTC``, or as it was."""
    try:
        moment = datetime.fromtimestamp(int(str(timestamp)) / 1000, tz=timezone.utc)
    except (ValueError, OverflowError, OSError):
        return str(timestamp)
    return moment.strftime("%d %b %Y, %H:%M:%S.") + f"{moment.microsecond // 1000:03d} UTC"


def left_out_table(usage: OnDemandUsage) -> Table:
    """Events not counted, by kind (rows) and month (columns): at fetch time and by the loader."""
    counts: dict[tuple[str, str], dict[str, int]] = {}
    for month in usage.months:
        facts = usage.facts(month)
        left_out = (facts.fetch or {}).get("left_out") or {}
        for stage, found in (("fetch", left_out), ("loader", facts.quality.not_on_demand)):
            for reason, count in found.items():
                if isinstance(count, int):
                    counts.setdefault((stage, str(reason)), {})[month.key] = count
    columns = [Column("kind", "Kind"), Column("stage", "Left out at")]
    # The page marks an incomplete month's column itself (its key is the month's).
    columns += [Column(m.key, m.short_label, "count") for m in usage.months]
    columns.append(Column("total", "Total", "count"))
    rows = []
    for (stage, reason), by_month in sorted(counts.items(), key=lambda item: (item[0][0], -sum(item[1].values()), item[0][1])):
        rows.append([reason, stage] + [by_month.get(m.key, 0) for m in usage.months] + [sum(by_month.values())])
    return Table(
        "left-out", "Events left out, by kind",
        columns,
        rows,
        description="Only Usage-based, chargeable, token-based events are on-demand spend; everything else "
        "is counted here (* an incomplete month).",
    )


def unknown_table(usage: OnDemandUsage) -> Table:
    rows = []
    for month in usage.months:
        q = usage.facts(month).quality
        rows += [[month.key, "kind", name, count] for name, count in sorted(q.unknown_kinds.items())]
        rows += [[month.key, "field", name, count] for name, count in sorted(q.unknown_fields.items())]
        if q.long_names:
            rows.append([month.key, "value", "user or model names over 320 characters (cut short; the spend "
                         "still counts)", q.long_names])
        if q.bad_tokens:
            rows.append([month.key, "value", "token counts not whole numbers from 0 to ten billion (counted as 0; "
                         "the event is still priced)", q.bad_tokens])
    return Table(
        "unknown", "Unknown kinds, fields and values",
        [MONTH, Column("what", "What"), Column("name", "Name"), Column("events", "Events", "count")],
        rows,
        description="Values the API sent that this version does not know; they are kept in the cache as sent.",
    )


def cycle_mismatch(usage: OnDemandUsage, configured: int | None) -> str | None:
    """What is wrong when ``billing.cycle_start`` (``configured``, an epoch day) cuts cycles on another
    day than Cursor's ``subscriptionCycleStart`` in the newest kept spend snapshot; ``None``: they agree,
    or one of them is not there."""
    cursor_start = usage.cursor.cycle_anchor()
    if configured is None or cursor_start is None:
        return None
    if cycle_containing(cursor_start, configured).first_day == cursor_start:
        return None
    snapshot = usage.cursor.spend[-1]
    return (f"billing.cycle_start ({date_of_day(configured).isoformat()}) starts billing cycles on day "
            f"{date_of_day(configured).day} of the month, but Cursor's subscriptionCycleStart is "
            f"{date_of_day(cursor_start):%-d %b %Y} (spend snapshot of {when(snapshot.taken_at)}): cycles here "
            "are cut at the configured day and will not match Cursor's bill; correct billing.cycle_start in "
            "config.yaml, or remove it to use Cursor's")


def cursor_figures_table(usage: OnDemandUsage, configured: int | None) -> Table | None:
    """Cursor's own figures as kept: the billing cycle they speak of (and a mismatch with the
    configured one), and every field Cursor sent that could not be read. ``None``: nothing to say."""
    figures = usage.cursor
    rows: list[list[str]] = []
    cursor_start = figures.cycle_anchor()
    if cursor_start is not None:
        snapshot = figures.spend[-1]
        rows.append(["Billing cycle (Cursor)", f"{snapshot.cycle.label}: subscriptionCycleStart of the spend "
                     f"snapshot taken {when(snapshot.taken_at)}"])
    if configured is not None:
        mismatch = cycle_mismatch(usage, configured)
        found = mismatch or (f"{date_of_day(configured).isoformat()}: agrees with Cursor's" if cursor_start is not None
                             else f"{date_of_day(configured).isoformat()} (no spend snapshot kept to compare with)")
        rows.append(["Billing cycle (billing.cycle_start)" + (": mismatch" if mismatch else ""), found])
    for path, what in figures.problems:
        rows.append(["Could not be read", f"{path}: {what}"])
    if not rows:
        return None
    return Table(
        "cursor-figures", "Cursor's own figures",
        [Column("check", "Check"), Column("found", "Found")],
        rows,
        description="Kept by every fetch with a key (/teams/members, /teams/spend, /teams/groups). An entry "
        "Cursor sent without a usable email or amount is left out of every table and listed here, never guessed.",
    )


def data_quality_section(usage: OnDemandUsage, cycle_start: int | None = None) -> Section:
    """The data-quality page; ``cycle_start``: the configured ``billing.cycle_start`` (compared with
    Cursor's)."""
    missing = [m.label for m in usage.missing_months]
    intro = (
        "Where every number comes from: for each month, when it was fetched, whether it was complete, "
        "how many events were kept and why the others were left out, and how they were priced."
    )
    if missing:
        intro += "\n\n**No cached data** for " + ", ".join(missing) + ": run `billing-reports fetch` " \
                 "(or `billing-reports build` without `--offline`)."
    mismatch = cycle_mismatch(usage, cycle_start)
    if mismatch:
        intro += f"\n\n**Billing cycle mismatch:** {mismatch}."
    cursor_table = cursor_figures_table(usage, cycle_start)
    return Section(
        "data-quality", "Data quality", 0, intro=intro,
        tables=[fetches_table(usage), checks_table(usage), charged_table(usage), charged_differences_table(usage),
                left_out_table(usage), unknown_table(usage), *([cursor_table] if cursor_table else [])],
    )
