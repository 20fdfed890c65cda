"""A count and its noun as a reader says it: ``1 request``, ``2 requests``, never a noun with "(s)"."""

from __future__ import annotations


def noun_for(count: int, singular: str, plural: str | None = None) -> str:
    """``singular`` for a count of exactly one (or minus one), else ``plural`` (default: ``singular``
    and an ``s``).

    >>> noun_for(1, "month"), noun_for(0, "month"), noun_for(2, "billing cycle")
    ('month', 'months', 'billing cycles')
    >>> noun_for(3, "file", "files changed")
    'files changed'
    """
    if abs(count) == 1:
        return singular
    return plural if plural is not None else singular + "s"


def counted(count: int, singular: str, plural: str | None = None) -> str:
    """``count`` and its noun: ``1 problem``, ``3 problems``, ``12,345 events``.

    >>> counted(1, "problem"), counted(3, "problem"), counted(12_345, "event")
    ('1 problem', '3 problems', '12,345 events')
    >>> counted(2, "entry", "entries")
    '2 entries'
    """
    return f"{count:,} {noun_for(count, singular, plural)}"


def site_audience(pseudonymised: bool) -> str:
    """Who a site names, in the build's and the publish's summary lines."""
    return ("pseudonymised: every person under a pseudonym" if pseudonymised
            else "names people: not for the whole company")


__all__ = ["counted", "noun_for", "site_audience"]
