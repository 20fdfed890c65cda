"""The owner's billing rule: which events are on-demand spend, and how the others are counted.

Fetching keeps only on-demand events; loading applies the same rule again, so a
hand-edited cache cannot smuggle in included usage. Both use this module.
"""

from __future__ import annotations

from typing import Any

#: The only kind that is on-demand spend (with ``isChargeable`` and ``isTokenBasedCall``).
ON_DEMAND_KIND = "Usage-based"
#: ``fetch.left_out`` buckets of a ``Usage-based`` event that is not on-demand spend.
NOT_CHARGEABLE = "Usage-based, not chargeable"
NOT_TOKEN_BASED = "Usage-based, not token-based"
#: The bucket of an event without a usable ``kind``.
NO_KIND = "(no kind)"


def is_on_demand(event: dict[str, Any]) -> bool:
    """On-demand spend: ``kind == "Usage-based"`` and chargeable and token-based."""
    return (
        event.get("kind") == ON_DEMAND_KIND
        and event.get("isChargeable") is True
        and event.get("isTokenBasedCall") is True
    )


def left_out_label(event: dict[str, Any]) -> str:
    """The ``fetch.left_out`` bucket of an event that is not on-demand spend."""
    kind = event.get("kind")
    if kind == ON_DEMAND_KIND:
        return NOT_CHARGEABLE if event.get("isChargeable") is not True else NOT_TOKEN_BASED
    return kind if isinstance(kind, str) and kind else NO_KIND
