"""The day-grained ledger: the cost rule (chargedCents, discounts), UTC days, both decoding paths.

Every figure below is computed by hand from the events written in each test.
"""

from __future__ import annotations

import json
import random
import time
from datetime import date, datetime, timezone

import pytest

from billing_reports.cache import read_cached_month
from billing_reports.loader import _read_typed, aggregate_events, decode_month, load_usage
from billing_reports.months import Month
from billing_reports.on_demand import charged_differs, event_cost
from billing_reports.usage import REMOVED_USER, DataQuality, UsageTotals

APRIL = Month(2026, 4)


def _ms(*parts: int) -> str:
    return str(int(datetime(*parts, tzinfo=timezone.utc).timestamp() * 1000))


def _day(year: int, month: int, day: int) -> int:
    return (date(year, month, day) - date(1970, 1, 1)).days


def _event(timestamp: str, user: str | None, model: str, cents: float, **changes):
    event = {"timestamp": timestamp, "userEmail": user, "model": model, "kind": "Usage-based",
             "isChargeable": True, "isTokenBasedCall": True,
             "tokenUsage": {"inputTokens": 1, "outputTokens": 2, "cacheWriteTokens": 3, "cacheReadTokens": 4,
                            "totalCents": cents}}
    for key, value in changes.items():
        if key == "discount":
            event["tokenUsage"]["discountPercentOff"] = value
        else:
            event[key] = value
    return {key: value for key, value in event.items() if value is not None}


def _write(directory, month, events, **extra):
    directory.mkdir(parents=True, exist_ok=True)
    document = {"month": month.cache_stem, "fetched_at": "2026-05-03T00:00:00Z", "total_events": len(events),
                "events": events, "complete": True, **extra}
    path = directory / f"{month.cache_stem}-usage-based-data.json"
    path.write_text(json.dumps(document))
    return path


def _general(path, month):
    quality = DataQuality(events_in_file=len(read_cached_month(path)["events"]))
    cells: dict = {}
    aggregate_events(read_cached_month(path)["events"], month, quality, cells)
    return cells, quality


APRIL_EVENTS = [
    # the docs' example: 40.167 c at 10 % off plus the 1.18 c fee, billed 37.33 c (the formula: 37.3303)
    _event(_ms(2026, 4, 3), "ann@example.com", "opus", 40.167, discount=10, cursorTokenFee=1.18, chargedCents=37.33),
    # the day's last millisecond belongs to 2 April; no chargedCents: 20 c at 20 % off + 1 c fee = 17 c
    _event(str(int(_ms(2026, 4, 3)) - 1), "ann@example.com", "opus", 20, discount=20, cursorTokenFee=1),
    # max mode is a cell of its own; chargedCents 12.5 c where its parts say 10 c: billed 12.5 c, and noted
    _event(_ms(2026, 4, 3, 12), "ann@example.com", "opus", 10, maxMode=True, chargedCents=12.5),
    # the older format: 5 c, the last millisecond of 3 April
    _event(str(int(_ms(2026, 4, 4)) - 1), "bob@example.com", "gpt-5", 5),
    # included usage with chargedCents is never on-demand spend
    {**_event(_ms(2026, 4, 3), "bob@example.com", "gpt-5", 8, chargedCents=8), "kind": "Included in Business",
     "isChargeable": False},
    # a removed user's event, billed 3 c
    _event(_ms(2026, 4, 3), None, "gpt-5", 3, chargedCents=3),
]


@pytest.fixture
def april(tmp_path):
    return load_usage(None, [APRIL], data_dir=_write(tmp_path / "cache", APRIL, APRIL_EVENTS).parent)


def test_the_cost_rule_of_the_docs_example():
    cost = event_cost(40.167, 1.18, 10, 37.33)
    assert (cost.charged, cost.list, cost.token_fee, cost.formula) == (37_330_000, 41_347_000, 1_180_000, 37_330_300)
    assert not charged_differs(cost)
    # without chargedCents or discount: the seed's totalCents + cursorTokenFee
    assert event_cost(20.18, 1.18) == (21_360_000, 21_360_000, 1_180_000, None)
    assert charged_differs(event_cost(10, 0, 0, 10.011)) and not charged_differs(event_cost(10, 0, 0, 10.01))


def test_every_ledger_cell_by_hand(april):
    apr2, apr3 = _day(2026, 4, 2), _day(2026, 4, 3)
    tokens = (1, 2, 3, 4)
    assert april.ledger == {
        (apr2, "ann@example.com", "opus", False): UsageTotals(17_000_000, 1, *tokens, 21_000_000, 1_000_000),
        (apr3, "ann@example.com", "opus", False): UsageTotals(37_330_000, 1, *tokens, 41_347_000, 1_180_000),
        (apr3, "ann@example.com", "opus", True): UsageTotals(12_500_000, 1, *tokens, 10_000_000, 0),
        (apr3, "bob@example.com", "gpt-5", False): UsageTotals(5_000_000, 1, *tokens, 5_000_000, 0),
        (apr3, REMOVED_USER, "gpt-5", False): UsageTotals(3_000_000, 1, *tokens, 3_000_000, 0),
    }


def test_days_months_and_discount_add_up_from_the_ledger(april):
    apr2, apr3 = _day(2026, 4, 2), _day(2026, 4, 3)
    assert april.day_total(apr2).cost == 17_000_000
    assert april.day_total(apr3).cost == 57_830_000  # 37.33 + 12.5 + 5 + 3
    assert len(april.by_day()) == 30 and april.by_day()[_day(2026, 4, 1)] == UsageTotals()
    total = april.month_total(APRIL)
    assert (total.cost, total.list_cost, total.token_fee, total.requests) == (74_830_000, 80_347_000, 2_180_000, 5)
    assert total.discount == 5_517_000  # 4.017 + 4 - 2.5 (the event billed above its list cost)
    assert april.user_cost_by_day("ann@example.com") == {apr2: 17_000_000, apr3: 49_830_000}
    assert april.model_cost_by_day("gpt-5") == {apr3: 8_000_000}
    [biggest, second] = april.biggest_user_days(2)
    assert (biggest.user, biggest.day, biggest.cost, biggest.top_model) == ("ann@example.com", apr3, 49_830_000, "opus")
    assert (second.user, second.day, second.cost) == ("ann@example.com", apr2, 17_000_000)


def test_data_quality_counts_charged_cents(april):
    quality = april.facts(APRIL).quality
    assert (quality.with_charged, quality.without_charged, quality.charged_differs) == (3, 2, 1)
    assert quality.charged_differs_examples == [{
        "timestamp": _ms(2026, 4, 3, 12), "user": "ann@example.com", "model": "opus",
        "charged": 12_500_000, "formula": 10_000_000,
    }]
    assert quality.not_on_demand == {"Included in Business": 1}


HOSTILE = [
    {"chargedCents": None},                  # null: as if absent
    {"chargedCents": "1.0"},                 # a string: not a number, left out
    {"chargedCents": 2e13},                  # not believable
    {"chargedCents": 0},                     # billed nothing: counted as zero cost
    {"chargedCents": -1.5},                  # a credit
    {"discount": 150},                       # more than everything off: a negative cost, counted
    {"discount": -10},
    {"discount": "10"},
    {"discount": None},
    {"maxMode": "yes"},                      # not true: not max mode
    {"timestamp": _ms(2026, 5, 1)},          # the next month's first millisecond: April's last day
    {"timestamp": str(int(_ms(2026, 4, 1)) - 1)},  # the month before: April's first day
    {"timestamp": "1_775_001_600_000"},
    {"timestamp": " 1775001600000"},
    {"timestamp": "soon"},
    {"cursorTokenFee": None},
    {"userEmail": ""},
    {"tokenUsage": {"totalCents": 4.0, "inputTokens": 2**70}},       # absurd tokens: counted 0, still priced
    {"tokenUsage": {"totalCents": 4.0, "inputTokens": -3}},
    {"tokenUsage": {"totalCents": 4.0, "inputTokens": 100.0}},
    {"tokenUsage": {"totalCents": 4.0, "inputTokens": "100"}},
    {"tokenUsage": {"totalCents": None}, "chargedCents": 5.0},         # billed, parts unknown
    {"tokenUsage": None, "chargedCents": 5.0},
    {"tokenUsage": {"totalCents": 4.0, "discountPercentOff": -50}},  # an odd discount, priced as sent
    {"serviceAccountName": "ci-bot", "serviceAccountId": "sa_1"},      # its own row, its owner noted
    {"serviceAccountName": "ci-bot", "userEmail": ""},                 # no owner: the removed user's
    {"serviceAccountName": " ci-bot "},                                # padded: the careful path
    {"serviceAccountName": "   "},                                     # blank: no service account
    {"serviceAccountName": 7},                                         # not a name: no service account
    {"serviceAccountName": "x" * 310},                                 # too long with its mark: cut
]


@pytest.mark.parametrize("changes", HOSTILE, ids=[json.dumps(h)[:60] for h in HOSTILE])
def test_both_decoding_paths_agree_on_hostile_events(tmp_path, changes):
    changes = dict(changes)
    events = [_event(_ms(2026, 4, 9), "ann@example.com", "opus", 7.25, cursorTokenFee=0.5),
              _event(_ms(2026, 4, 9), "ann@example.com", "opus", 4.0, chargedCents=3.5),
              _event(changes.pop("timestamp", _ms(2026, 4, 9, 5)), "ann@example.com", "opus", 4.0, **changes)]
    path = _write(tmp_path, APRIL, events)
    facts, cells = decode_month(tmp_path, APRIL)
    general_cells, general_quality = _general(path, APRIL)
    assert {key: list(value) for key, value in cells.items()} == general_cells
    assert facts.quality.to_dict() == general_quality.to_dict()


def test_a_service_account_is_its_own_user_with_its_owner_noted(tmp_path):
    events = [_event(_ms(2026, 4, 9), "ann@example.com", "opus", 7.25),
              _event(_ms(2026, 4, 9, 5), "ann@example.com", "opus", 4.0, serviceAccountName="ci-bot"),
              _event(_ms(2026, 4, 10), "bob@example.com", "opus", 1.0, serviceAccountName="ci-bot")]
    _write(tmp_path, APRIL, events)
    facts, cells = decode_month(tmp_path, APRIL)
    users = {user for (_day, user, _model, _max) in cells}
    assert users == {"ann@example.com", "ci-bot (service account)"}
    assert sum(cell[0] for key, cell in cells.items() if key[1] == "ci-bot (service account)") == 5_000_000
    assert facts.quality.service_account_owners == {"ci-bot (service account)": "ann@example.com"}


def test_both_paths_price_random_events_by_the_one_rule(tmp_path):
    generator = random.Random(10)
    events, expected = [], 0
    for index in range(400):
        cents = round(generator.uniform(0.01, 90), generator.choice([0, 2, 5]))
        changes = {}
        if generator.random() < 0.5:
            changes["cursorTokenFee"] = round(generator.uniform(0, 3), 2)
        if generator.random() < 0.3:
            changes["discount"] = generator.choice([5, 10, 12.5, 20])
        if generator.random() < 0.6:
            changes["chargedCents"] = round(cents * (1 - changes.get("discount", 0) / 100)
                                            + changes.get("cursorTokenFee", 0), 2)
        events.append(_event(str(APRIL.start_ms + index * 3_600_000), "ann@example.com", "opus", cents, **changes))
        expected += event_cost(cents, changes.get("cursorTokenFee", 0), changes.get("discount", 0),
                               changes.get("chargedCents")).charged
    path = _write(tmp_path, APRIL, events)
    assert _read_typed(path) is not None  # the fast path
    facts, cells = decode_month(tmp_path, APRIL)
    general_cells, _ = _general(path, APRIL)
    assert sum(cell[0] for cell in cells.values()) == expected == sum(cell[0] for cell in general_cells.values())
    assert {key: list(value) for key, value in cells.items()} == general_cells
    # chargedCents rounded to the cent lies within 0.005 c of its parts, inside the 0.01 c tolerance
    assert facts.quality.charged_differs == 0

@pytest.mark.parametrize("fetched_at, complete", [
    ("2026-05-02T00:00:00Z", True),   # a day after April ended
    ("2026-05-01T23:59:59Z", False),  # not yet: late events could still arrive
])
def test_a_seed_format_file_is_complete_a_day_after_its_month(tmp_path, fetched_at, complete):
    events = [_event(_ms(2026, 4, 9), "ann@example.com", "opus", 7.25)]
    path = tmp_path / f"{APRIL.cache_stem}-usage-based-data.json"
    path.write_text(json.dumps({"month": APRIL.cache_stem, "fetched_at": fetched_at, "total_events": 1,
                                "events": events}))
    usage = load_usage(None, [APRIL], data_dir=tmp_path)
    assert usage.facts(APRIL).complete is complete
    assert usage.month_total(APRIL).cost == 7_250_000


def test_the_data_quality_page_shows_how_events_were_priced(april):
    from billing_reports.site.quality import charged_differences_table, charged_table

    # with/without chargedCents, list cost, charged, discount given (list - charged), differing,
    # priced by chargedCents alone, discount outside 0-100 %
    assert charged_table(april).rows == [["2026-04", 3, 2, 80_347_000, 74_830_000, 5_517_000, 1, 0, 0]]
    assert charged_differences_table(april).rows == [
        ["2026-04", "03 Apr 2026, 12:00:00.000 UTC", "ann@example.com", "opus", 12_500_000, 10_000_000]]


# --- the typed path reads a file a slice of events at a time, and a big month in pieces -----


@pytest.fixture
def tiny_slices(monkeypatch):
    """Slices of a few events (the typed path cuts between events wherever a slice ends)."""
    from billing_reports import event_slices

    monkeypatch.setattr(event_slices, "SLICE_BYTES", 700)
    return event_slices


def _many_events(count=300, hostile=()):
    generator = random.Random(3)
    events = []
    for index in range(count):
        changes = dict(hostile[index % len(hostile)]) if hostile and index % 7 == 0 else {}
        timestamp = changes.pop("timestamp", str(APRIL.start_ms + index * 8_000_000))
        user = generator.choice(["ann@example.com", "bob@example.com", None])
        events.append(_event(timestamp, user, generator.choice(["opus", "gpt-5"]),
                             round(generator.uniform(0.01, 50), 3), **changes))
    return events


@pytest.mark.parametrize("separators", [(",", ":"), (", ", ": ")], ids=["compact", "spaced"])
def test_slices_of_a_file_sum_as_the_whole_file_does(tmp_path, tiny_slices, separators):
    # the hostile events that still have the documented types (a string or null amount sends the
    # whole file down the general path: the next test)
    typed_hostile = [h for h in HOSTILE if h not in ({"chargedCents": "1.0"}, {"discount": "10"}, {"discount": None},
                                                     {"cursorTokenFee": None})
                     and ("tokenUsage" not in h or "discountPercentOff" in (h["tokenUsage"] or {}))]
    events = _many_events(hostile=typed_hostile)
    path = tmp_path / f"{APRIL.cache_stem}-usage-based-data.json"
    path.write_text(json.dumps({"month": APRIL.cache_stem, "fetched_at": "2026-05-03T00:00:00Z",
                                "total_events": len(events), "events": events, "complete": True},
                               separators=separators))
    typed = _read_typed(path)
    assert typed is not None  # every slice on the typed path
    facts, cells = decode_month(tmp_path, APRIL)
    general_cells, general_quality = _general(path, APRIL)
    assert {key: list(value) for key, value in cells.items()} == general_cells
    assert facts.quality.to_dict() == general_quality.to_dict()
    assert facts.quality.events_in_file == len(events) and facts.quality.outside_month > 0


def test_a_slice_with_a_surprise_sends_the_whole_file_down_the_general_path(tmp_path, tiny_slices):
    events = _many_events()
    events[250]["tokenUsage"]["totalCents"] = "12"  # far into the file: earlier slices were summed already
    path = _write(tmp_path, APRIL, events)
    assert _read_typed(path) is None
    facts, cells = decode_month(tmp_path, APRIL)
    general_cells, general_quality = _general(path, APRIL)
    assert {key: list(value) for key, value in cells.items()} == general_cells
    assert facts.quality.to_dict() == general_quality.to_dict() and facts.quality.non_numeric_cost == 1


def test_a_big_month_decoded_in_pieces_by_two_processes_sums_as_one_does(tmp_path, tiny_slices, monkeypatch):
    from billing_reports import loader

    events = _many_events(count=900, hostile=HOSTILE)
    _write(tmp_path / "cache", APRIL, events)
    monkeypatch.setenv(loader.LOAD_WORKERS_VARIABLE, "1")
    alone = load_usage(None, [APRIL], data_dir=tmp_path / "cache")
    monkeypatch.setenv(loader.LOAD_WORKERS_VARIABLE, "2")
    assert loader.load_workers(tmp_path / "cache", [APRIL]) == 2
    tasks, _ = loader._plan(tmp_path / "cache", [APRIL], 2)
    assert [task.start is not None for task in tasks] == [True, True]  # two pieces of one month
    pieces = load_usage(None, [APRIL], data_dir=tmp_path / "cache")
    assert dict(pieces.ledger.items()) == dict(alone.ledger.items())
    assert pieces.facts(APRIL).to_dict() == alone.facts(APRIL).to_dict()
    assert pieces.by_day() == alone.by_day() and pieces.totals == alone.totals
    assert pieces.user_cost_by_day("ann@example.com") == alone.user_cost_by_day("ann@example.com")
    assert pieces.biggest_user_days(3) == alone.biggest_user_days(3)


def test_a_ledger_made_by_hand_and_the_loaders_give_the_same_figures(april):
    from billing_reports.usage import OnDemandUsage

    by_hand = OnDemandUsage(months=[APRIL], ledger=dict(april.ledger.items()), month_facts=april.month_facts)
    assert by_hand.ledger == april.ledger
    assert by_hand.totals == april.totals and by_hand.by_day() == april.by_day()
    assert by_hand.model_cost_by_day("opus") == april.model_cost_by_day("opus")
    assert by_hand.biggest_user_days(5) == april.biggest_user_days(5)


def test_what_cursor_billed_counts_even_where_the_rest_of_the_event_is_odd(tmp_path):
    # billed 5 c with no usable parts; 4 c with absurd and broken token counts; 10 c at a discount of -50 %
    events = [_event(_ms(2026, 4, 9), "ann@example.com", "opus", 1.0, chargedCents=5.0),
              _event(_ms(2026, 4, 9), "ann@example.com", "opus", 4.0),
              _event(_ms(2026, 4, 9), "ann@example.com", "opus", 10.0, discount=-50)]
    events[0]["tokenUsage"] = {"totalCents": None, "inputTokens": 7}
    events[1]["tokenUsage"].update(inputTokens=2**70, outputTokens="3")
    usage = load_usage(None, [APRIL], data_dir=_write(tmp_path, APRIL, events).parent)
    total = usage.month_total(APRIL)
    assert (total.cost, total.list_cost, total.requests) == (5_000_000 + 4_000_000 + 15_000_000,
                                                             5_000_000 + 4_000_000 + 10_000_000, 3)
    assert (total.input_tokens, total.output_tokens) == (7 + 0 + 1, 0 + 0 + 2)  # broken counts are 0, the rest kept
    quality = usage.facts(APRIL).quality
    assert (quality.parts_unknown, quality.bad_tokens, quality.odd_discount, quality.non_numeric_cost) == (1, 1, 1, 0)


def test_the_data_quality_page_names_unusable_token_counts(tmp_path):
    from billing_reports.site.quality import unknown_table

    events = [_event(_ms(2026, 4, 9), "ann@example.com", "opus", 4.0)]
    events[0]["tokenUsage"]["inputTokens"] = 2**70
    usage = load_usage(None, [APRIL], data_dir=_write(tmp_path, APRIL, events).parent)
    [row] = unknown_table(usage).rows
    assert (row[0], row[1], row[3]) == ("2026-04", "value", 1) and row[2].startswith("token counts not whole")

# --- what planted bugs slipped past, and the bounds a cache file's events need (issue 11) ------

from billing_reports.errors import CacheError  # noqa: E402


def test_a_file_whose_total_events_disagrees_with_its_events_is_refused_on_the_fast_path_too(tmp_path):
    events = [_event(_ms(2026, 4, 9, hour), "ann@example.com", "opus", 7.25) for hour in range(3)]
    path = _write(tmp_path, APRIL, events)
    assert _read_typed(path) is not None  # well-formed: the typed fast path reads it
    document = json.loads(path.read_text())
    document["total_events"] = 2  # a hand edit, or a truncated write of an older version
    path.write_text(json.dumps(document))
    with pytest.raises(CacheError) as raised:
        load_usage(None, [APRIL], data_dir=tmp_path)
    assert raised.value.message == (
        f"Cache file {path} says total_events=2 but holds 3 events; run `billing-reports fetch --refresh 2026-04` "
        "to download it again.")


# A removed user's event with a token fee, priced by the careful path (``_inspect``): in a file
# that is not well-formed elsewhere (an integer timestamp: the whole file takes the general path),
# and as the one unusual event of a well-formed file (its timestamp in the next month).
@pytest.mark.parametrize("well_formed", [False, True], ids=["general path", "typed file, careful event"])
def test_the_token_fee_of_an_event_on_the_careful_path(tmp_path, well_formed):
    removed = _event(_ms(2026, 4, 9), None, "opus", 20.18232, cursorTokenFee=1.18)
    if well_formed:
        removed["timestamp"] = _ms(2026, 5, 1)  # outside April: counted on its last day
        other = _event(_ms(2026, 4, 10), "bob@example.com", "gpt-5", 4, cursorTokenFee=0.25)
    else:
        other = {**_event(_ms(2026, 4, 10), "bob@example.com", "gpt-5", 4, cursorTokenFee=0.25),
                 "timestamp": int(_ms(2026, 4, 10))}
    path = _write(tmp_path, APRIL, [removed, other])
    assert (_read_typed(path) is not None) is well_formed
    usage = load_usage(None, [APRIL], data_dir=tmp_path)
    removed_day = _day(2026, 4, 30) if well_formed else _day(2026, 4, 9)
    # 20.18232 + 1.18 = 21.36232 cents, of which 1.18 the fee
    assert usage.ledger[(removed_day, REMOVED_USER, "opus", False)] == UsageTotals(
        21_362_320, 1, 1, 2, 3, 4, 21_362_320, 1_180_000)
    assert usage.ledger[(_day(2026, 4, 10), "bob@example.com", "gpt-5", False)].token_fee == 250_000
    assert usage.month_total(APRIL).token_fee == 1_430_000
    assert usage.facts(APRIL).quality.without_email == 1


# Bounds the loader still needs (docs in the issue: "a cache file's event fields have sane limits").


def _quality_differs_from_a_clean_file(tmp_path, usage, clean_events):
    clean = load_usage(None, [APRIL], data_dir=_write(tmp_path / "clean", APRIL, clean_events).parent)
    return usage.facts(APRIL).quality.to_dict() != clean.facts(APRIL).quality.to_dict()


def test_a_name_of_megabytes_is_counted_and_cut_not_spread_over_the_site(tmp_path):
    """The loader bounds the user and model names of its ledger keys (the typed loop and
    ``_inspect``): a name longer than 320 characters is a data-quality count, its spend still
    counted under the name cut short with a digest of the whole (one user of 5 MB made a 263 MB site)."""
    events = [_event(_ms(2026, 4, 9), "a" * 5_000_000 + "@example.com", "opus", 1.5),
              _event(_ms(2026, 4, 9), "ann@example.com", "m" * 5_000_000, 2.5)]
    usage = load_usage(None, [APRIL], data_dir=_write(tmp_path / "cache", APRIL, events).parent)
    assert usage.month_total(APRIL).cost == 4_000_000  # the spend is still counted
    assert max(len(text) for key in usage.ledger for text in (key[1], key[2])) <= 1_000
    assert _quality_differs_from_a_clean_file(
        tmp_path, usage, [_event(_ms(2026, 4, 9), "b@example.com", "opus", 1.5),
                          _event(_ms(2026, 4, 9), "ann@example.com", "gpt-5", 2.5)])


def test_a_token_count_of_25_digits_is_counted_not_summed(tmp_path):
    """Token counts no event can have are counted as 0 and reported (both paths); summed, they crashed
    the site's JSON downloads and ``report --format json`` (orjson: "Integer exceeds 64-bit range")."""
    huge = _event(_ms(2026, 4, 9), "ann@example.com", "opus", 1.5)
    huge["tokenUsage"]["inputTokens"] = 1234567890123456789012345
    usage = load_usage(None, [APRIL], data_dir=_write(tmp_path / "cache", APRIL, [huge]).parent)
    assert all(count < 2 ** 53 for totals in usage.ledger.values() for count in totals)
    assert _quality_differs_from_a_clean_file(tmp_path, usage, [_event(_ms(2026, 4, 9), "ann@example.com", "opus", 1.5)])


def test_an_event_nested_thousands_deep_is_a_one_line_cache_error(tmp_path):
    """``_read_typed`` treats msgspec's RecursionError like a DecodeError: the file goes down the
    general path, whose reader names the file (orjson refuses JSON over 1,024 levels)."""
    path = _write(tmp_path, APRIL, [_event(_ms(2026, 4, 9), "ann@example.com", "opus", 1.5)])
    text = path.read_text()
    path.write_text(text.replace('"kind"', '"deep": ' + "[" * 3000 + "]" * 3000 + ', "kind"', 1))
    with pytest.raises(CacheError, match="is not valid JSON"):
        load_usage(None, [APRIL], data_dir=tmp_path)


@pytest.mark.parametrize("chargeable, token_based, label", [
    (False, True, "Usage-based, not chargeable"),
    (True, False, "Usage-based, not token-based"),
    (False, False, "Usage-based, not chargeable"),  # not chargeable comes first
    ("true", True, "Usage-based, not chargeable"),   # only true is chargeable
    (True, None, "Usage-based, not token-based"),
])
def test_the_left_out_labels_of_usage_based_events_that_are_no_spend(chargeable, token_based, label):
    from billing_reports.on_demand import left_out_label

    assert left_out_label({"kind": "Usage-based", "isChargeable": chargeable, "isTokenBasedCall": token_based}) == label


def test_the_loader_counts_each_left_out_label_apart(tmp_path):
    events = [_event(_ms(2026, 4, 9), "ann@example.com", "opus", 1.5, isChargeable=False),
              _event(_ms(2026, 4, 9, 1), "ann@example.com", "opus", 1.5, isChargeable=False),
              _event(_ms(2026, 4, 9, 2), "ann@example.com", "opus", 1.5, isTokenBasedCall=False),
              _event(_ms(2026, 4, 9, 3), "ann@example.com", "opus", 1.5)]
    usage = load_usage(None, [APRIL], data_dir=_write(tmp_path, APRIL, events).parent)
    assert usage.facts(APRIL).quality.not_on_demand == {"Usage-based, not chargeable": 2,
                                                        "Usage-based, not token-based": 1}
    assert usage.month_total(APRIL).cost == 1_500_000


def test_cell_costs_are_the_ledger_cells_costs_for_both_kinds_of_ledger(analysis_usage):
    from billing_reports.usage import OnDemandUsage

    expected = sorted((day, user, model, totals.cost) for (day, user, model, _max), totals in analysis_usage.ledger.items())
    assert sorted(analysis_usage.cell_costs()) == expected and len(expected) > 3
    by_hand = OnDemandUsage(months=analysis_usage.months, ledger=dict(analysis_usage.ledger.items()))
    assert sorted(by_hand.cell_costs()) == expected


def test_a_month_decoded_in_pieces_has_the_price_evidence_of_its_cells(tmp_path, tiny_slices, monkeypatch):
    # (review) a cell whose events fall in two pieces must count once, its tokens' products taken of
    # the cell's sums, as when one process decodes the month (model economics reads this evidence)
    from billing_reports import loader
    from billing_reports.ledger import derive_model_modes

    events = _many_events(count=900)
    for index, event in enumerate(events):  # a few cells, each with events on both sides of any cut
        event["timestamp"] = str(APRIL.start_ms + (index % 3) * 3_600_000)
    _write(tmp_path / "cache", APRIL, events)
    monkeypatch.setenv(loader.LOAD_WORKERS_VARIABLE, "1")
    alone = load_usage(None, [APRIL], data_dir=tmp_path / "cache")
    monkeypatch.setenv(loader.LOAD_WORKERS_VARIABLE, "2")
    assert [task.start is not None for task in loader._plan(tmp_path / "cache", [APRIL], 2)[0]] == [True, True]
    pieces = load_usage(None, [APRIL], data_dir=tmp_path / "cache")
    [cells] = list(pieces.cell_columns())
    assert cells.sums().model_modes == derive_model_modes(cells)
    assert cells.sums().model_modes == next(iter(alone.cell_columns())).sums().model_modes


def test_a_month_decoded_in_pieces_is_read_from_its_summary_next_time(tmp_path, tiny_slices, monkeypatch):
    # (review) `python -m benchmarks run --skip-fetch --months 1 --events 2M` stops with "the build
    # again decoded a month instead of reading its summary": the pieces' evidence counts split cells twice
    from billing_reports import loader, month_summary

    monkeypatch.setattr(month_summary, "SETTLE_SECONDS", 0.0)
    events = _many_events(count=900)
    for index, event in enumerate(events):
        event["timestamp"] = str(APRIL.start_ms + (index % 3) * 3_600_000)
    _write(tmp_path / "cache", APRIL, events)
    monkeypatch.setenv(loader.LOAD_WORKERS_VARIABLE, "2")
    load_usage(None, [APRIL], data_dir=tmp_path / "cache")
    summary = month_summary.summary_path(tmp_path / "cache", APRIL)
    written = summary.stat().st_mtime_ns
    path = loader.cache_path(tmp_path / "cache", APRIL)
    assert month_summary.read_summary(tmp_path / "cache", APRIL, path, path.stat()) is not None
    time.sleep(0.05)
    load_usage(None, [APRIL], data_dir=tmp_path / "cache")
    assert summary.stat().st_mtime_ns == written


def _cells_of(sums_in_order, first_day, *, wide=False):
    from billing_reports.ledger import CellsBuilder

    builder = CellsBuilder(first_day, wide=wide)
    for key, sums in sums_in_order:
        builder.add(key, sums)
    return builder.finish()


def _everything(cells):
    """The cells and every sum the reports read, each table in its order (page names follow it)."""
    sums = cells.sums()
    return (cells.users, cells.models, list(cells.rows()),
            list(sums.user_models.items()), list(sums.days.items()),
            [(name, list(days.items())) for name, days in sums.user_days.items()],
            [(name, list(days.items())) for name, days in sums.model_days.items()],
            list(sums.model_modes.items()))


@pytest.mark.parametrize("seed", range(12))
@pytest.mark.parametrize("parts", [2, 3, 5])
def test_a_month_joined_from_parts_is_the_month_decoded_whole(seed, parts):
    # the loader cuts a big month in pieces that processes decode apart; joined, they must give the
    # very cells, codes, orders and sums (the price fit's products too) of one process's decoding,
    # whether the pieces share many cells (few names and days), none, or sums beyond 64 bits
    from billing_reports.ledger import join_parts

    generator = random.Random(seed)
    first_day = APRIL.start_ms // 86_400_000
    names = max(1, seed % 4) * 3
    huge = seed % 6 == 5
    events = []
    for index in range(generator.randrange(1, 400)):
        # days in order (pieces share the cells of the days at the cuts), any of 3 days (many shared), any
        day = first_day + (index * 30 // 400, generator.randrange(3), generator.randrange(30))[seed % 3]
        key = (day, f"u{generator.randrange(names)}@example.com", f"m{generator.randrange(names)}",
               generator.random() < 0.3)
        cost = (1 << 62) + generator.randrange(1 << 20) if huge else generator.randrange(-50, 10_000)
        events.append((key, [cost, 1] + [generator.randrange(0, 5_000) for _ in range(4)]
                       + [cost + 7, generator.randrange(0, 900)]))
    cuts = sorted(generator.sample(range(1, len(events) + 1), min(parts - 1, len(events))))
    pieces = [events[start:end] for start, end in zip([0, *cuts], [*cuts, len(events)]) if start < end]
    whole = _cells_of(events, first_day, wide=huge)
    joined = join_parts([_cells_of(piece, first_day, wide=huge) for piece in pieces], first_day)
    assert _everything(joined) == _everything(whole)
    shared = sum(map(len, [_cells_of(piece, first_day, wide=huge) for piece in pieces])) - len(whole)
    if seed % 3 == 1 and len(events) > 50:
        assert shared > 0  # (the pieces did share cells)


def test_a_cache_file_replaced_while_its_pieces_are_decoded_is_one_version_of_it(tmp_path, tiny_slices, monkeypatch):
    # (review) each piece's process opens the file by name: a fetch that replaces it (the same layout,
    # other amounts) after the first piece was read left a month of both versions' events, its total
    # neither file's, and summarised as the first version
    import os

    from billing_reports import loader

    monkeypatch.setenv(loader.LOAD_WORKERS_VARIABLE, "3")
    events = [_event(str(APRIL.start_ms + index * 8_000_000), "ann@example.com", "opus", 12.5) for index in range(300)]
    path = _write(tmp_path, APRIL, events)
    time.sleep(0.05)
    tasks, spans = loader._plan(tmp_path, [APRIL], 3)
    assert len(tasks) == 3 and all(task.start is not None for task in tasks)
    first = loader._decode_task(tasks[0])
    for event in events:
        event["tokenUsage"]["totalCents"] = 13.5  # (as many characters: the cuts still fall between events)
    replacement = _write(tmp_path / "refetched", APRIL, events)
    os.replace(replacement, path)
    rest = [loader._decode_task(task) for task in tasks[1:]]
    assert all(piece is not None for piece in rest)  # (the pieces of the new file decode: nothing looks wrong)
    [(facts, cells)] = loader._joined_results(tmp_path, tasks, [first, *rest], spans).values()
    assert sum(cells.columns[0]) in (300 * 12_500_000, 300 * 13_500_000)
    monkeypatch.setenv(loader.LOAD_WORKERS_VARIABLE, "1")
    assert load_usage(None, [APRIL], data_dir=tmp_path).total.cost == 300 * 13_500_000


@pytest.mark.parametrize("charged", [
    lambda index: (1 << 63) - 1 if index == 40 else 5,                  # one piece's cell beyond 64 bits only
    lambda index: 1 << 62 if index in (0, 30, 60) else 5,               # a cell beyond 64 bits only once merged
    lambda index: (1 << 63) - 1 if index == 0 else -(1 << 62) if index in (30, 32) else 5,  # beyond, then within
], ids=["one piece wide", "wide once merged", "wide then back"])
def test_a_month_joined_from_parts_of_both_widths_is_the_month_decoded_whole(charged):
    # (review) the parts of a month need not agree on their columns' width: each is as decoding made it
    from billing_reports.ledger import CellsBuilder, join_parts

    first_day = APRIL.start_ms // 86_400_000
    events = [((first_day, f"u{index % 2}@example.com", "opus", False),  # two cells, in every piece
               [charged(index), 1, 1, 2, 3, 4, charged(index), 0]) for index in range(90)]

    def cells_of(sums_in_order):
        for wide in (False, True):
            builder = CellsBuilder(first_day, wide=wide)
            try:
                for key, sums in sums_in_order:
                    builder.add(key, sums)
            except OverflowError:
                continue
            return builder.finish()

    pieces = [cells_of(events[start:start + 30]) for start in (0, 30, 60)]
    whole = cells_of(events)
    joined = join_parts(pieces, first_day)
    assert _everything(joined) == _everything(whole)
    assert [type(column) for column in joined.columns] == [type(column) for column in whole.columns]
