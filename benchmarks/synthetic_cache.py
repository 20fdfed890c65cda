"""A generator of realistic synthetic usage caches, in the project's own cache format.

``generate_cache(data_dir, months, events=1_000_000)`` writes one
``MM-YYYY-usage-based-data.json`` per month (see docs/architecture.md, "The cache
file"), as ``billing-reports fetch`` would have written it for a large team:

- the kept (on-demand) events are spread over users and models with a long
  tail (Zipf weights: a few heavy users and models, many light ones);
- the team's other events (``Included in Business``, free, errored and aborted
  requests, usage-based but not chargeable or not token-based) are not kept but
  counted in ``fetch.left_out``, so ``fetch.api_total`` and the windows' totals
  add up exactly as the contract says;
- the users removed from the team send no ``userEmail``; some events carry no
  ``cursorTokenFee`` (never Cursor's own models, and a share of the others);
  costs are fractional cents with five decimals;
- most events are in the newest API format, with ``chargedCents`` (what Cursor
  bills, rounded to the cent as in the docs' example) and, on
  ``discount_share`` of them, a ``tokenUsage.discountPercentOff``; the
  ``older_format_share`` rest carry neither (cost ``totalCents +
  cursorTokenFee``), as a history fetched over the years mixes both;
- ``stray_fraction`` (default 0) mixes non-on-demand events into ``events``, as
  an older seed-era cache holds them, to exercise the loader's filter;
  ``unknown_field_share`` (default 0) gives that share of the on-demand events a
  field no API documentation names (``experimentalRoutingTier``), as a newer API
  may send, to measure the loader's careful path.

It is fast enough for millions of events: every event is one of a few thousand
pre-serialised bodies (model, kind, tokens, cost) joined with a timestamp and a
user, written as bytes; months are generated in parallel processes. The
returned :class:`GeneratedCache` says what was written (counts and exact
micro-cent totals, by the cost rule of ``billing_reports.on_demand``) so a
benchmark can check the figures it measures.
"""

from __future__ import annotations

import bisect
import math
import os
import random
from collections import Counter
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field
from datetime import timedelta
from itertools import accumulate
from pathlib import Path
from typing import NamedTuple, Sequence

import orjson

from billing_reports.cache import cache_path, write_atomically
from billing_reports.money import MICROCENTS_PER_CENT
from billing_reports.months import Month, isoformat_z
from billing_reports.on_demand import event_cost

#: The on-demand kind; every other kind is left out of the cache.
ON_DEMAND_KIND = "Usage-based"
#: Share of a month's API events that are not on-demand, by ``left_out`` key.
LEFT_OUT_SHARES: dict[str, float] = {
    "Included in Business": 0.55,
    "Free": 0.02,
    "Errored, Not Charged": 0.015,
    "Aborted, Not Charged": 0.01,
    "Usage-based, not chargeable": 0.01,
    "Usage-based, not token-based": 0.005,
}
#: Well-known model names (then ``model-NN``), with a price in cents per million
#: input tokens; output tokens cost 5x, cache writes 1.25x, cache reads 0.1x.
KNOWN_MODELS: tuple[tuple[str, float], ...] = (
    ("claude-4.5-sonnet-thinking", 300.0),
    ("gpt-5", 125.0),
    ("auto", 125.0),
    ("claude-4.6-opus-high-thinking", 1500.0),
    ("gpt-5-codex", 125.0),
    ("composer-1", 125.0),
    ("gemini-2.5-pro", 125.0),
    ("claude-4.5-haiku", 100.0),
    ("grok-code-fast-1", 20.0),
    ("o3", 200.0),
    ("gpt-5-mini", 25.0),
    ("claude-4.6-opus-max", 1500.0),
)
#: Cursor's own models: the Cursor token fee never applies to them.
CURSOR_OWN_MODELS = frozenset({"composer-1", "grok-code-fast-1"})
#: The Cursor token fee: $0.25 per million tokens, in cents per token.
TOKEN_FEE_CENTS_PER_TOKEN = 25 / 1_000_000
#: Events of a third-party model that carry the fee.
FEE_SHARE = 0.8
#: The ``discountPercentOff`` values a discounted event carries.
DISCOUNTS_PERCENT = (10, 20)
#: Distinct pre-serialised event bodies per model.
BODIES_PER_MODEL = 48
PAGE_SIZE = 1000
#: A field no version of the API documentation names (see ``unknown_field_share``).
UNKNOWN_FIELD = b',"experimentalRoutingTier":"fast"'


@dataclass(frozen=True)
class GeneratedMonth:
    """What one generated cache file holds."""

    month: Month
    path: Path
    #: ``total_events``: every event in the file (on-demand ones plus strays).
    events: int
    #: On-demand events among them (what the build counts as requests).
    on_demand_events: int
    #: Exact on-demand cost of the file by the cost rule (``on_demand.event_cost``: ``chargedCents``,
    #: else ``totalCents x (1 - discount) + cursorTokenFee``), micro-cents.
    on_demand_cost: int
    #: The same before any discount and without ``chargedCents``: ``totalCents + cursorTokenFee``.
    on_demand_list_cost: int
    #: Events of removed users (no ``userEmail``) among the on-demand ones.
    removed_user_events: int
    #: On-demand events without a ``cursorTokenFee``.
    events_without_fee: int
    #: On-demand events in the newest format, with ``chargedCents``.
    events_with_charged_cents: int
    #: On-demand events with a ``tokenUsage.discountPercentOff`` (all of them have ``chargedCents``).
    events_with_discount: int
    #: On-demand events carrying the undocumented field.
    events_with_unknown_field: int
    api_total: int
    left_out: dict[str, int]
    size_bytes: int


@dataclass(frozen=True)
class GeneratedCache:
    """What :func:`generate_cache` wrote."""

    data_dir: Path
    months: tuple[GeneratedMonth, ...]
    users: int
    models: tuple[str, ...]
    seed: int

    @property
    def events(self) -> int:
        return sum(month.events for month in self.months)

    @property
    def on_demand_events(self) -> int:
        return sum(month.on_demand_events for month in self.months)

    @property
    def on_demand_cost(self) -> int:
        return sum(month.on_demand_cost for month in self.months)

    @property
    def on_demand_list_cost(self) -> int:
        return sum(month.on_demand_list_cost for month in self.months)

    @property
    def size_bytes(self) -> int:
        return sum(month.size_bytes for month in self.months)


class _Body(NamedTuple):
    """One pre-serialised on-demand event body and what it counts for."""

    fragment: bytes
    model_index: int
    #: Micro-cents by the cost rule (what the loader must sum).
    cost: int
    #: Micro-cents before any discount, ``totalCents + cursorTokenFee``.
    list_cost: int
    has_fee: bool
    has_charged_cents: bool
    has_discount: bool


@dataclass(frozen=True)
class _Team:
    """The population events are drawn from (identical in every worker process)."""

    user_fragments: tuple[bytes, ...]
    user_cum_weights: tuple[float, ...]
    removed: frozenset[int]
    models: tuple[str, ...]
    bodies: tuple[_Body, ...] = field(repr=False)
    body_cum_weights: tuple[float, ...] = field(repr=False)
    stray_bodies: tuple[bytes, ...] = field(repr=False)


def zipf_weights(count: int, exponent: float) -> list[float]:
    """Weights ``1 / rank**exponent`` for ranks 1..count (a long tail).

    >>> [round(w, 2) for w in zipf_weights(3, 1.0)]
    [1.0, 0.5, 0.33]
    """
    return [1.0 / rank**exponent for rank in range(1, count + 1)]


def model_names(count: int) -> list[str]:
    """``count`` model names: the well-known ones first, then ``model-13``, ``model-14``..."""
    names = [name for name, _ in KNOWN_MODELS[:count]]
    names += [f"model-{index + 1:02d}" for index in range(len(names), count)]
    return names


def user_email(index: int) -> str:
    return f"dev{index:05d}@example.com"


def generate_cache(
    data_dir: Path,
    months: Sequence[Month],
    events: int,
    *,
    users: int = 1000,
    models: int = 30,
    removed_user_share: float = 0.03,
    stray_fraction: float = 0.0,
    unknown_field_share: float = 0.0,
    older_format_share: float = 0.2,
    discount_share: float = 0.15,
    seed: int = 2026,
    processes: int | None = None,
) -> GeneratedCache:
    """Write ``events`` events spread over ``months`` into ``data_dir``; return what was written.

    ``older_format_share`` of the on-demand events are in the older format (no ``chargedCents``,
    no discount); ``discount_share`` of the newest-format ones carry ``discountPercentOff``.

    Months get equal shares of the events (the first months take the remainder).
    The result depends only on the arguments (not on ``processes``).
    """
    if not months:
        raise ValueError("generate_cache needs at least one month")
    if events < 0 or users < 1 or models < 1:
        raise ValueError("events must be >= 0, users and models >= 1")
    if not 0 <= stray_fraction < 1:
        raise ValueError("stray_fraction must be in [0, 1)")
    for name, share in (("unknown_field_share", unknown_field_share), ("older_format_share", older_format_share),
                        ("discount_share", discount_share)):
        if not 0 <= share <= 1:
            raise ValueError(f"{name} must be in [0, 1]")
    data_dir = Path(data_dir)
    data_dir.mkdir(parents=True, exist_ok=True)
    share, remainder = divmod(events, len(months))
    jobs = [
        (data_dir, month, share + (index < remainder), users, models, removed_user_share,
         stray_fraction, unknown_field_share, older_format_share, discount_share, seed, index)
        for index, month in enumerate(months)
    ]
    workers = min(processes or os.cpu_count() or 1, len(jobs))
    if workers > 1 and events > 50_000:
        with ProcessPoolExecutor(workers) as pool:
            written = list(pool.map(_generate_month_job, jobs))
    else:
        written = [_generate_month_job(job) for job in jobs]
    return GeneratedCache(
        data_dir=data_dir,
        months=tuple(written),
        users=users,
        models=tuple(model_names(models)),
        seed=seed,
    )


def _generate_month_job(job: tuple) -> GeneratedMonth:
    (data_dir, month, count, users, models, removed_user_share, stray_fraction, unknown_field_share,
     older_format_share, discount_share, seed, index) = job
    team = _make_team(users, models, removed_user_share, older_format_share, discount_share, seed)
    return _generate_month(data_dir, month, count, team, stray_fraction, unknown_field_share,
                           random.Random(f"{seed}:{index}"))


def _make_team(users: int, models: int, removed_user_share: float, older_format_share: float,
               discount_share: float, seed: int) -> _Team:
    rng = random.Random(f"{seed}:team")
    removed_count = min(users - 1, round(users * removed_user_share)) if users > 1 else 0
    # Removed users are anywhere in the ranking, not only the heaviest or lightest.
    removed = frozenset(rng.sample(range(users), removed_count))
    user_fragments = tuple(
        b"" if index in removed else b'"userEmail":"' + user_email(index).encode() + b'",'
        for index in range(users)
    )
    user_cum = tuple(accumulate(zipf_weights(users, 1.0)))

    names = model_names(models)
    prices = [KNOWN_MODELS[i][1] if i < len(KNOWN_MODELS) else rng.choice((20.0, 125.0, 300.0)) for i in range(models)]
    model_weights = zipf_weights(models, 1.3)
    bodies = []
    body_weights = []
    for model_index, (name, price) in enumerate(zip(names, prices)):
        for _ in range(BODIES_PER_MODEL):
            bodies.append(_on_demand_body(rng, model_index, name, price, older_format_share, discount_share))
            body_weights.append(model_weights[model_index] / BODIES_PER_MODEL)
    strays = tuple(_stray_body(rng, rng.choice(names), kind, older_format_share)
                   for kind in LEFT_OUT_SHARES for _ in range(4))
    return _Team(
        user_fragments=user_fragments,
        user_cum_weights=user_cum,
        removed=removed,
        models=tuple(names),
        bodies=tuple(bodies),
        body_cum_weights=tuple(accumulate(body_weights)),
        stray_bodies=strays,
    )


def _tokens(rng: random.Random) -> dict[str, int]:
    return {
        "inputTokens": int(rng.lognormvariate(7.5, 1.2)),
        "outputTokens": int(rng.lognormvariate(6.5, 1.0)),
        "cacheWriteTokens": int(rng.lognormvariate(8.0, 1.5)) if rng.random() < 0.7 else 0,
        "cacheReadTokens": int(rng.lognormvariate(10.0, 1.3)) if rng.random() < 0.8 else 0,
    }


def _on_demand_body(rng: random.Random, model_index: int, model: str, price: float,
                    older_format_share: float, discount_share: float) -> _Body:
    tokens = _tokens(rng)
    per_token = price / 1_000_000
    total_cents = round(
        per_token
        * (tokens["inputTokens"] + 5 * tokens["outputTokens"]
           + 1.25 * tokens["cacheWriteTokens"] + 0.1 * tokens["cacheReadTokens"]),
        5,
    )
    usage: dict = {**tokens, "totalCents": total_cents}
    event: dict = {
        "model": model,
        "kind": ON_DEMAND_KIND,
        "maxMode": rng.random() < 0.15,
        "requestsCosts": round(rng.uniform(0.5, 4.0), 1),
        "isTokenBasedCall": True,
        "isChargeable": True,
        "isHeadless": rng.random() < 0.05,
        "tokenUsage": usage,
    }
    newest = rng.random() >= older_format_share
    discount = 0
    if newest and rng.random() < discount_share:
        discount = usage["discountPercentOff"] = rng.choice(DISCOUNTS_PERCENT)
    has_fee = model not in CURSOR_OWN_MODELS and rng.random() < FEE_SHARE
    fee = 0.0
    if has_fee:
        fee = event["cursorTokenFee"] = round(sum(tokens.values()) * TOKEN_FEE_CENTS_PER_TOKEN, 5)
    charged = None
    if newest:
        # What Cursor bills, rounded to the cent as in the docs' example (within half a cent).
        billed = event_cost(total_cents, fee, discount).charged
        charged = event["chargedCents"] = round(billed / MICROCENTS_PER_CENT, 2)
    cost = event_cost(total_cents, fee, discount, charged)
    return _Body(orjson.dumps(event)[1:-1], model_index, cost.charged, cost.list, has_fee, newest, discount > 0)


def _stray_body(rng: random.Random, model: str, left_out_key: str, older_format_share: float) -> bytes:
    """A non-on-demand event of the kind that ``left_out_key`` counts."""
    kind, token_based, chargeable = left_out_key, rng.random() < 0.9, False
    if left_out_key == "Usage-based, not chargeable":
        kind, token_based = ON_DEMAND_KIND, True
    elif left_out_key == "Usage-based, not token-based":
        kind, token_based, chargeable = ON_DEMAND_KIND, False, True
    event: dict = {"model": model, "kind": kind, "isTokenBasedCall": token_based, "isChargeable": chargeable}
    if token_based:
        total_cents = round(rng.uniform(0, 30), 5)
        event["tokenUsage"] = {**_tokens(rng), "totalCents": total_cents}
        # Included usage carries chargedCents too in the newest format: it is never on-demand spend.
        if kind == "Included in Business" and rng.random() >= older_format_share:
            event["chargedCents"] = round(total_cents, 2)
    return orjson.dumps(event)[1:-1]


def _generate_month(
    data_dir: Path,
    month: Month,
    count: int,
    team: _Team,
    stray_fraction: float,
    unknown_field_share: float,
    rng: random.Random,
) -> GeneratedMonth:
    strays = round(count * stray_fraction)
    on_demand = count - strays
    start, span = month.start_ms, month.end_ms - month.start_ms
    random_ = rng.random
    # The API answers newest first.
    timestamps = sorted((start + int(random_() * span) for _ in range(count)), reverse=True)
    users = rng.choices(range(len(team.user_fragments)), cum_weights=team.user_cum_weights, k=count)
    body_indices = rng.choices(range(len(team.bodies)), cum_weights=team.body_cum_weights, k=on_demand)
    user_fragments, bodies = team.user_fragments, team.bodies
    removed_events = sum(1 for user in users[:on_demand] if user in team.removed)
    fragments = [bodies[index].fragment for index in body_indices]
    unknown = round(on_demand * unknown_field_share)
    for position in rng.sample(range(on_demand), unknown):
        fragments[position] += UNKNOWN_FIELD
    if strays:
        fragments += rng.choices(team.stray_bodies, k=strays)
        pairs = list(zip(users, fragments))
        rng.shuffle(pairs)
        users, fragments = [user for user, _ in pairs], [body for _, body in pairs]
    events_json = b",".join(
        [b'{"timestamp":"%d",%b%b}' % (moment, user_fragments[user], body)
         for moment, user, body in zip(timestamps, users, fragments)]
    )

    body_counts = Counter(body_indices)
    cost = sum(bodies[index].cost * times for index, times in body_counts.items())
    list_cost = sum(bodies[index].list_cost * times for index, times in body_counts.items())
    without_fee = sum(times for index, times in body_counts.items() if not bodies[index].has_fee)
    with_charged = sum(times for index, times in body_counts.items() if bodies[index].has_charged_cents)
    with_discount = sum(times for index, times in body_counts.items() if bodies[index].has_discount)

    # What the fetch left out: the other kinds, in proportion to the kept events.
    kept_share = 1 - sum(LEFT_OUT_SHARES.values())
    team_total = math.ceil(on_demand / kept_share) if on_demand else 0
    # As fetch writes it: sorted by kind.
    left_out = {kind: round(team_total * LEFT_OUT_SHARES[kind]) for kind in sorted(LEFT_OUT_SHARES)}
    api_total = count + sum(left_out.values())
    windows = _windows(month, timestamps, api_total, count)
    fetched_at = isoformat_z(month.end + timedelta(days=1, hours=9))
    header = orjson.dumps(
        {"month": month.cache_stem, "fetched_at": fetched_at, "total_events": count}
    )[:-1]
    trailer = orjson.dumps(
        {
            "complete": True,
            "fetch": {
                "windows": windows,
                "api_total": api_total,
                "left_out": left_out,
                "requests": sum(max(1, math.ceil(w["api_total"] / PAGE_SIZE)) for w in windows),
                "page_size": PAGE_SIZE,
            },
        }
    )[1:]
    path = cache_path(data_dir, month)
    size = write_atomically(path, [header, b',"events":[', events_json, b"],", trailer])
    return GeneratedMonth(
        month=month,
        path=path,
        events=count,
        on_demand_events=on_demand,
        on_demand_cost=cost,
        on_demand_list_cost=list_cost,
        removed_user_events=removed_events,
        events_without_fee=without_fee,
        events_with_charged_cents=with_charged,
        events_with_discount=with_discount,
        events_with_unknown_field=unknown,
        api_total=api_total,
        left_out=left_out,
        size_bytes=size,
    )


def _windows(month: Month, timestamps_desc: list[int], api_total: int, kept: int) -> list[dict]:
    """The month's request windows, each with its share of ``api_total``.

    Kept events are counted exactly per window; the left-out ones are spread in
    proportion, the last window taking the rounding so the windows add up.
    """
    ascending = timestamps_desc[::-1]
    windows = []
    assigned = 0
    for number, window in enumerate(month.windows()):
        in_window = bisect.bisect_right(ascending, window.end_ms) - bisect.bisect_left(ascending, window.start_ms)
        if number == len(month.windows()) - 1:
            total = api_total - assigned
        else:
            total = in_window + round((api_total - kept) * (window.end_ms - window.start_ms + 1) / (month.end_ms - month.start_ms))
        assigned += total
        windows.append({"startDate": window.start_ms, "endDate": window.end_ms, "api_total": total})
    return windows


__all__ = ["GeneratedCache", "GeneratedMonth", "generate_cache", "model_names", "user_email", "zipf_weights"]
