"""A plugin's settings block checked key by key: a mapping-valued key names each bad entry."""

from __future__ import annotations

from typing import Annotated

import msgspec

from billing_reports.plugin_settings import DeclaredSettings, validate_blocks

Count = Annotated[int, msgspec.Meta(ge=0)]


class Caps(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    per_team: dict[str, Count] = {}
    shares: dict[str, Annotated[float, msgspec.Meta(gt=0, le=1)]] | None = None
    owner: str = ""


def problems_of(block: dict) -> list[str]:
    problems: list[str] = []
    validated = validate_blocks({"caps": block}, {"caps": DeclaredSettings("caps", "caps-plugin", Caps)}, problems)
    assert ("caps" in validated) == (not problems)
    return problems


def test_each_bad_entry_of_a_mapping_is_named_with_every_other_problem():
    problems = problems_of({"per_team": {"Platform": "lots", "Data": 3, "Nope": -1},
                            "shares": {"Data": 0.5, "Ops": 2}, "owner": 5})
    assert problems == [
        "plugins.caps.per_team.Platform: expected an integer of at least 0, found 'lots'",
        "plugins.caps.per_team.Nope: expected an integer of at least 0, found -1",
        "plugins.caps.shares.Ops: expected a number between 0 and 1, found 2",
        "plugins.caps.owner: expected a string, found 5",
    ]


def test_a_key_of_the_wrong_type_is_named_too():
    assert problems_of({"per_team": {"Platform": 1, 7: 2}}) == [
        "plugins.caps.per_team: expected each key to be a string, found 7"]


def test_a_mapping_key_given_something_else_says_a_mapping():
    assert problems_of({"per_team": [1, 2]}) == ["plugins.caps.per_team: expected a mapping, found [1, 2]"]


def test_good_entries_pass():
    assert problems_of({"per_team": {"Platform": 0, "Data": 3}, "shares": {"Data": 1}}) == []
