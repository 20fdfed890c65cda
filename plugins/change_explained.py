"""Change explained: why spend moved from one period to the next (issue 17).

Each period (month, or billing cycle with ``--by cycle``; a finer ``--by`` is explained month by
month) against the one before: the change in spend split into people (new users, gone users)
and, over the users in both periods, volume, mix and price
(:mod:`billing_reports.decomposition` holds the arithmetic and its scheme). A waterfall per
period, the parts with their shares of the change, one sentence that says it, and the users and
models that moved most, each with its own split. A period in progress is compared at its
projection: its requests and costs scaled by projected / spent so far; nobody has left it yet (a
user with no spend so far is a continuing user with no requests yet), and each user mover is taken
at their own projection (the one Top cost users shows).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from fractions import Fraction
from typing import Any, Mapping

from billing_reports import Chart, Column, Figure, Section, Series, Table, TextView, hookimpl
from billing_reports.decomposition import Amount, Change, Quantities, by_user, explain_change, model_changes, \
    round_half_away
from billing_reports.forecast import Forecast, period_forecast
from billing_reports.money import format_money, round_to_cents
from billing_reports.periods import Period
from billing_reports.sections import format_value
from billing_reports.usage import OnDemandUsage

from ._common import period_projection, projection_note, share

SLUG = "change-explained"
ORDER = 42
#: How many users and models the movers' tables list.
MOVERS = 10
#: How many of the latest periods get a waterfall (the periods table has them all): the latest one's
#: comes first, the others after the tables (the section's template).
CHARTS = 6
#: The section's template: the latest period's waterfall, parts and movers, then the rest.
TEMPLATE = "change_explained.html"
#: The grains explained as they are; any other ``--by`` is explained month by month.
GRAINS = {"month": "month", "cycle": "billing cycle"}

#: The parts in the order of ``Change.parts()`` (and of a waterfall): (attribute, name).
PARTS = (("new_users", "New users"), ("gone_users", "Gone users"), ("volume", "Volume"), ("mix", "Mix"),
         ("price", "Price"))
#: Each part's words: (what a rise is, what a fall is, what the part means).
PART_WORDS = {
    "new_users": ("new users", "new users", "spend of users with none in the period before"),
    "gone_users": ("users who left", "users who left", "the previous spend of users with none in this period"),
    "volume": ("more requests", "fewer requests",
               "continuing users' change in requests, at their previous model mix and prices"),
    "mix": ("a move to costlier models", "a move to cheaper models",
            "their requests moving between models (at previous prices)"),
    "price": ("a higher cost per request", "a lower cost per request",
              "the cost per request of the same model changing (contexts, max mode, provider prices)"),
}
#: What "gone users" means while the period is in progress (nobody has left it yet).
GONE_IN_PROGRESS = ("none while the period is in progress: a user with no spend so far continues with no "
                    "requests yet (in volume)")


@dataclass(frozen=True)
class Comparison:
    """A period against the one before: their quantities, and the current ones' ``scale`` (its
    projection over the spend so far for a period in progress, else 1)."""

    period: Period
    before: Period
    previous: Quantities
    current: Quantities
    scale: Fraction
    forecast: Forecast | None
    change: Change
    #: in a period in progress, each new user's own scale: their projection over their spend so far
    own_scales: Mapping[str, Fraction] = field(default_factory=dict)

    @property
    def projected(self) -> bool:
        return self.forecast is not None

    @property
    def title(self) -> str:
        """``October 2026 against September 2026``, or ``October 2026 to date, projected to $1,234.56,
        against September 2026``."""
        if self.projected:
            return (f"{self.period.label} to date, projected to {format_money(self.change.current)}, "
                    f"against {self.before.label}")
        return f"{self.period.label} against {self.before.label}"


@hookimpl
def register_sections(register, usage: OnDemandUsage) -> None:
    register(change_explained_section(usage))


def comparisons(usage: OnDemandUsage) -> tuple[list[Comparison], list[str]]:
    """Every period that can be compared with the one before, oldest first, and a note for each
    that cannot although it has a period before it.

    The period before must be fetched, whole and over; the period itself fetched and whole, or in
    progress (then compared at its projection, :func:`~plugins._common.period_projection`)."""
    grain = usage.grain if usage.grain in GRAINS else "month"
    periods = usage.range.periods_of(grain)
    found, notes = [], []
    known: dict[Period, Quantities] = {}

    def read(period: Period) -> Quantities:  # (each period is read once: as the current, then the previous)
        if period not in known:
            known[period] = usage.period_requests_and_costs(period)
        return known[period]

    noun = GRAINS[grain]
    for before, period in zip(periods, periods[1:]):
        if not usage.period_fetched(before) or usage.period_partial(before):
            continue
        if before.clipped:
            notes.append(f"{period.label} is not compared: the range covers only {before.covered_label} of "
                         f"{before.label} before it, and a {noun} cut short is not compared with a whole one.")
            continue
        if not usage.period_fetched(period):
            continue
        if period.first_day != period.full_first_day:
            continue  # (only the first period starts late, and it has none before it here)
        forecast = None
        scale = Fraction(1)
        continuing_scale: Fraction | None = None  # (the team's scale unless new users take their own)
        own: dict[str, Fraction] = {}  # (new users' own scales, in a period in progress)
        if usage.period_partial(period):
            forecast = period_projection(usage, period)
            spent = usage.period_total(period).cost
            if forecast is None or spent <= 0:
                notes.append(f"{period.label} is not compared yet: nothing spent in it so far to project from.")
                continue
            scale = Fraction(forecast.projected, spent)
            continuing_scale, own = new_user_scales(usage, period, read(before), read(period), forecast.projected)
        elif period.clipped:
            notes.append(f"{period.label} is not compared: the range covers only {period.covered_label} of it, "
                         f"and a {noun} cut short is not compared with a whole one.")
            continue
        previous, current = read(before), read(period)
        found.append(Comparison(period, before, previous, current, scale, forecast,
                                explain_change(previous, current, scale if continuing_scale is None else continuing_scale,
                                               in_progress=forecast is not None,
                                               new_user_scales=own if continuing_scale is not None else None),
                                own))
    return found, notes


def new_user_scales(usage: OnDemandUsage, period: Period, previous: Quantities, current: Quantities,
                    projected: int) -> tuple[Fraction | None, dict[str, Fraction]]:
    """In a period in progress, each new user at their own projection (the one their row and Top cost
    users show: one figure, one value) and the users who were there before at what is left of the
    team's projection, over their spend so far: ``(their scale, {new user: own scale})``; their scale
    is ``None`` when there is no new user, or nothing would be left for them (then all at the team's)."""
    before = {user for user, _ in previous}
    spent: dict[str, int] = {}
    for (user, _), (_, cost) in current.items():
        spent[user] = spent.get(user, 0) + cost
    new = {user: cost for user, cost in spent.items() if user not in before and cost > 0}
    if not new:
        return None, {}
    own: dict[str, Fraction] = {}
    for user, cost in new.items():
        forecast = period_forecast(usage, period, usage.user_cost_by_day(user))
        own[user] = Fraction(forecast.projected if forecast is not None else cost, cost)
    others_spent = sum(cost for user, cost in spent.items() if user in before)
    left = projected - sum(scale * new[user] for user, scale in own.items())
    if others_spent <= 0 or left < others_spent:
        return None, own
    return Fraction(left) / others_spent, own


def signed(amount: int) -> str:
    return format_value(amount, "change")


def growth_text(change: Change) -> str:
    growth = share(change.total, change.previous)
    return f" ({growth:+.1f}%)" if growth is not None else ""


def explanation(comparison: Comparison) -> str:
    """One sentence: ``Spend rose $120.00 (+18.0%) from September 2026 to October 2026: mostly more
    requests (+$90.00), and new users (+$40.00), against a lower cost per request (-$10.00).``"""
    change = comparison.change
    before, period = comparison.before.label, comparison.period.label
    total = change.total
    verb = "rose" if total > 0 else "fell" if total < 0 else "did not change"
    amount = f" {format_money(abs(total))}{growth_text(change)}" if total else ""
    if comparison.projected:
        head = (f"{period} to date, projected to {format_money(change.current)}, against {before}: "
                f"spend is projected to {'rise' if total > 0 else 'fall' if total < 0 else 'stay as it was'}{amount}")
    else:
        head = f"Spend {verb}{amount} from {before} to {period}"
    moved = sorted(((attribute, getattr(change, attribute)) for attribute, _ in PARTS if getattr(change, attribute)),
                   key=lambda part: -abs(part[1]))
    if not moved:
        return head + "."

    def said(attribute: str, value: int) -> str:
        rise, fall, _ = PART_WORDS[attribute]
        return f"{rise if value > 0 else fall} ({signed(value)})"

    if not total:  # parts that cancel out
        rises = [part for part in moved if part[1] > 0]
        falls = [part for part in moved if part[1] < 0]
        return f"{head}: {said(*rises[0])} balanced by {said(*falls[0])}."
    direction = 1 if total > 0 else -1
    driving = [part for part in moved if part[1] * direction > 0]
    against = [part for part in moved if part not in driving]
    words = []
    if driving:
        words.append(("all from " if len(moved) == 1 else "mostly ") + said(*driving[0]))
        words += [f"and {said(*driving[1])}"] if len(driving) > 1 else []
    if against:
        words.append(f"against {said(*against[0])}")
    return f"{head}: {', '.join(words)}."


def change_explained_section(usage: OnDemandUsage) -> Section:
    """The section: the latest change as a card, its waterfall, its parts with their shares and its
    top movers among users and models, then every period's parts and the earlier periods'
    waterfalls (:data:`TEMPLATE` draws the first waterfall before the tables, the rest after)."""
    noun = GRAINS.get(usage.grain, "month")
    found, notes = comparisons(usage)
    tables = [periods_table(found, noun)]
    charts = [waterfall(comparison) for comparison in reversed(found[-CHARTS:])]
    figures = []
    if found:
        latest = found[-1]
        figures.append(Figure(f"Change, {latest.period.label}" + (" (projected)" if latest.projected else ""),
                              latest.change.total, "change", explanation(latest)))
        tables = [parts_table(latest), user_movers(latest, usage), model_movers(latest), *tables]
    elif notes:  # nothing compared: say why where the empty table would be all there is to read
        figures.append(Figure("Change", "not compared", "text", " ".join(notes)))
    return Section(
        slug=SLUG,
        title="Change explained",
        order=ORDER,
        roles=("summary-cards", "report-text"),
        text_view=TextView(tables=("parts",)),
        intro=intro(usage, noun, notes),
        figures=figures,
        tables=tables,
        charts=charts,
        template=TEMPLATE,
    )


def intro(usage: OnDemandUsage, noun: str, notes: list[str]) -> str:
    finer = usage.grain not in GRAINS
    paragraphs = [
        f"Why spend moved from one {noun} to the next"
        + (f" (a {usage.grain} is too short to explain: compared month by month)" if finer else "") + ". "
        "**People**: the spend of users new in the period, and the previous spend of users gone from it. "
        "Over the users in both periods: **volume**, their change in requests at the previous model mix and "
        "prices (previous spend x (requests now / requests then - 1)); **mix**, their requests moving between "
        "models (the current requests of each model at its previous cost per request, against the same "
        "number of requests at the previous mix); **price**, what the current requests cost against what they "
        "would have cost at the previous cost per request of each model. The parts add up to the change "
        "exactly in the downloads; on the page each amount is rounded to the cent on its own, so the shown "
        "parts may miss the shown change by a cent or two.",
        "How the rest is assigned: price is measured on the current requests, so the part of a change that "
        "comes from more requests *and* a new price (the interaction) is price. A model these users did not "
        "use before has no previous price: it is taken at its current one, so none of it is price; its "
        "requests count in volume at the previous average cost per request, like any others, and the rest of "
        "its spend (above or below that average) is mix. Max mode makes a request of the same model dearer: "
        "it counts as price, not as a move to another model. Volume and mix are each rounded to the "
        "micro-cent; price takes what is left of the change, so it carries at most a micro-cent or two of "
        "rounding.",
        f"A {noun} still in progress is compared at its projection (the forecast of the trend): its "
        "requests and costs are scaled by the projected spend over the spend so far, and it says so. A user "
        "new in it is taken at their own projection, the one their row and the top cost users show, and the "
        "others at what is left of the team's. Nobody "
        f"has left a {noun} in progress yet: a user with no spend so far is a continuing user with no requests "
        "yet (their absence counts in volume), not a user who left.",
    ]
    return "\n\n".join(paragraphs + notes)


def shown_parts_add_up(change: Change) -> bool:
    """Whether the parts, each rounded to the cent, add up to the rounded change, and the rounded
    previous spend and parts to the rounded current spend (as a reader of the page checks them)."""
    parts = sum(round_to_cents(part) for part in change.parts())
    return (parts == round_to_cents(change.total)
            and round_to_cents(change.previous) + parts == round_to_cents(change.current))


def waterfall(comparison: Comparison) -> Chart:
    change = comparison.change
    after = comparison.period.label + (" (projected)" if comparison.projected else "")
    description = explanation(comparison)
    if comparison.forecast is not None:
        description += f" Projection: {projection_note(comparison.forecast)}."
    if not shown_parts_add_up(change):
        description += (" Each amount is rounded to the cent on its own, so the steps may miss the totals by a cent; "
                        "the downloads carry them unrounded, and there they add up exactly.")
    return Chart(
        slug=f"waterfall-{comparison.period.key}",
        title=comparison.title,
        description=description,
        kind="waterfall",
        labels=[comparison.before.label, *(name for _, name in PARTS), after],
        series=[Series("Spend and change", [change.previous, *change.parts(),
                                             change.current])],
    )


def parts_table(comparison: Comparison) -> Table:
    change = comparison.change
    offsetting = parts_offset(change)
    meanings = {attribute: words[2] for attribute, words in PART_WORDS.items()}
    if comparison.projected:
        meanings["gone_users"] = GONE_IN_PROGRESS
    shares = [None if offsetting else part_share(amount, change.total) for amount in change.parts()]
    shown = any(found is not None for found in shares)  # (no share at all: no empty column for them)
    return Table(
        slug="parts",
        title=f"{comparison.title}: the change in parts",
        columns=[Column("part", "Part", "text"), Column("amount", "Amount", "change"),
                 *([Column("share", "Share of the change", "percent")] if shown else []),
                 Column("meaning", "What it is", "text")],
        rows=[[name, amount, *([found] if shown else []), meanings[attribute]]
              for ((attribute, name), amount, found) in zip(PARTS, change.parts(), shares)],
        total=["Change", change.total, *([100.0] if shown else []),
               f"from {format_money(change.previous)} to {format_money(change.current)}"],
        description=(("No shares: parts pull against each other here (rises offset by falls), and a share of "
                      "the change would read over 100% or below zero; the amounts say it. " if offsetting else
                      "Each part as a share of the whole change. ")
                     + "The parts add up to the change exactly in the downloads (unrounded); here each amount is "
                       "rounded to the cent on its own."),
    )


def parts_offset(change: Change) -> bool:
    """Whether some part moves against the change (or the change is nothing while parts moved): then
    shares of the change mislead (one reads -292%, another 235%) and are left out."""
    return any(part * change.total < 0 for part in change.parts()) or (not change.total and any(change.parts()))


def part_share(amount: int, change: int) -> float | None:
    """``amount`` as a percentage of ``change`` (a part of nothing is 0.0%, never -0.0%)."""
    found = share(amount, change)
    return None if found is None else found + 0.0


def periods_table(found: list[Comparison], noun: str) -> Table:
    rows = [[c.period.label, c.before.label, "projected" if c.projected else "complete", c.change.previous,
             *c.change.parts(), c.change.current, c.change.total,
             share(c.change.total, c.change.previous)]
            for c in found]
    return Table(
        slug="periods",
        title=f"Every {noun} against the one before",
        columns=[Column("compared", noun.capitalize(), "text"), Column("against", "Against", "text"),
                 Column("basis", "Basis", "text"), Column("previous", "Spend before", "money"),
                 *(Column(attribute, name, "change") for attribute, name in PARTS),
                 Column("spend", "Spend", "money"),
                 Column("change", "Change", "change"), Column("growth", "Growth", "growth")],
        rows=rows,
        description=(f"A {noun} is compared once it and the {noun} before it are fetched and whole; the "
                     f"{noun} before must be over. Basis \u201cprojected\u201d: a {noun} in progress, its spend and "
                     "parts at its projection. Downloads carry the unrounded amounts."),
    )


def projected_mark(comparison: Comparison) -> str:
    """`` (projected)`` after a column of a period in progress taken at its projection (its requests and
    spend so far read otherwise on the other sections), else nothing."""
    return " (projected)" if comparison.projected else ""


def spend_label(comparison: Comparison) -> str:
    return "Spend" + projected_mark(comparison)


def user_movers(comparison: Comparison, usage: OnDemandUsage) -> Table:
    """The users whose change was largest (either way), each split over their own models; in a
    period in progress each at their own projection (:func:`user_change`). Every user is ranked by
    the change of their spend; only the movers are split (a big team has thousands of users)."""
    before, now = by_user(comparison.previous), by_user(comparison.current)
    users = before.keys() | now.keys()
    if comparison.projected:  # (each user's spend is their own projection's)
        projections = {user: user_projection(comparison, usage, user, spend(now.get(user, {}))) for user in users}
        spends = {user: projected for user, (_, projected) in projections.items()}
    else:
        spends = {user: spend(now.get(user, {})) for user in users}
    totals = {user: spends[user] - round_half_away(spend(before.get(user, {}))) for user in users}
    movers = sorted(users, key=lambda user: (-abs(totals[user]), user))[:MOVERS]

    def change_of(user: str) -> Change:
        previous, current = before.get(user, {}), now.get(user, {})
        if comparison.projected:
            return projected_user_change(previous, current, *projections[user])
        return explain_change(previous, current)

    changes = {user: change_of(user) for user in movers}
    rows = []
    for user in movers:
        change = changes[user]
        continuing = user in before and (user in now or comparison.projected)
        status = ("continuing" if user in now else "no spend yet") if continuing else "new" if user in now else "gone"
        rows.append([user, status, change.previous, change.current, change.total,
                     None if continuing else change.people,
                     *((change.volume, change.mix, change.price) if continuing else (None, None, None))])
    return Table(
        slug="users",
        title=f"Users who moved most: {comparison.title}",
        columns=[Column("user", "User", "user"), Column("status", "Status", "text"),
                 Column("previous", "Spend before", "money"), Column("spend", spend_label(comparison), "money"),
                 Column("change", "Change", "change"), Column("people", "New or gone", "change"),
                 Column("volume", "Volume", "change"), Column("mix", "Mix", "change"),
                 Column("price", "Price", "change")],
        rows=rows,
        description=(f"The {MOVERS} users whose spend changed most, either way (ties: A to Z). A continuing user's "
                     "change is split over their own models as the team's is, so the users' volumes need not add "
                     "up to the team's; a new or gone user's change is theirs whole."
                     + (" Spend at each user's own projection, the forecast of their own days (as Top cost users "
                        "shows it), so the users' changes need not add up to the team's projected change. A user "
                        "with no spend yet is projected from their recent days at their previous mix and prices: "
                        "all volume." if comparison.projected else "")),
    )


def spend(quantities: Quantities) -> Amount:
    """The cost of ``quantities`` (micro-cents)."""
    return sum(cost for _, cost in quantities.values())


def user_change(comparison: Comparison, usage: OnDemandUsage, user: str, previous: Quantities,
                current: Quantities) -> Change:
    """One user's change. In a period in progress: at the user's own projection
    (:func:`user_projection`), their requests and costs scaled by it; with no spend so far there is
    nothing to scale, so the projection is taken at their previous mix and prices (all volume; all
    new spend for a user without any before)."""
    if not comparison.projected:
        return explain_change(previous, current)
    return projected_user_change(previous, current, *user_projection(comparison, usage, user, spend(current)))


def user_projection(comparison: Comparison, usage: OnDemandUsage, user: str, spent: Amount) -> tuple[Fraction | None, int]:
    """A user's spend in a period in progress projected to its end, and the scale of their quantities
    (projected over ``spent``, their spend so far; ``None`` with nothing spent to scale): a new user's
    own scale (projected once, for the team's parts), else the forecast of their own days
    (:func:`~billing_reports.forecast.period_forecast`, the function Top cost users' trend uses, so
    one figure reads one value). The projected spend is exactly the current spend of the user's
    :func:`projected_user_change`."""
    if user in comparison.own_scales:
        scale = comparison.own_scales[user]
        return scale, round_half_away(scale * spent)
    forecast = period_forecast(usage, comparison.period, usage.user_cost_by_day(user))
    projected = forecast.projected if forecast is not None else spent
    return (Fraction(projected, spent) if spent > 0 else None), projected


def projected_user_change(previous: Quantities, current: Quantities, scale: Fraction | None, projected: int) -> Change:
    """A user's change in a period in progress at their projection (:func:`user_projection`)."""
    if scale is not None:
        return explain_change(previous, current, scale, in_progress=True)
    before = round_half_away(spend(previous))
    if previous:
        return Change(before, projected, volume=projected - before)
    return Change(0, projected, new_users=projected)


def model_movers(comparison: Comparison) -> Table:
    """The models whose change was largest: volume (the change in requests at the previous cost per
    request) and price (the current requests times the change in cost per request)."""
    changes = model_changes(comparison.previous, comparison.current, comparison.scale)
    movers = sorted(changes, key=lambda model: (-abs(changes[model].total), model))[:MOVERS]
    rows: list[list[Any]] = [
        [model, changes[model].previous, changes[model].current, changes[model].total,
         round_half_away(changes[model].previous_requests), round_half_away(changes[model].current_requests),
         changes[model].volume, changes[model].price]
        for model in movers
    ]
    return Table(
        slug="models",
        title=f"Models that moved most: {comparison.title}",
        columns=[Column("model", "Model", "model"), Column("previous", "Spend before", "money"),
                 Column("spend", spend_label(comparison), "money"), Column("change", "Change", "change"),
                 Column("requests_before", "Requests before", "count"),
                 Column("requests", "Requests" + projected_mark(comparison), "count"),
                 Column("volume", "Volume", "change"), Column("price", "Price", "change")],
        rows=rows,
        description=(f"The {MOVERS} models whose spend changed most, either way, over all their users. Volume: the "
                     "change in requests at the model's previous cost per request (a model new in the period: all "
                     "of its spend); price: the current requests times the change in cost per request. A model has "
                     "no mix of its own: requests moving between models show in each one's volume."
                     + (" Requests and spend at the team's projection (its requests and costs scaled as the team's)."
                        if comparison.projected else "")),
    )
