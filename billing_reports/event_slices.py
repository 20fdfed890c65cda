"""A cache file's ``events`` array, read in slices of whole events.

A month of a big team is hundreds of megabytes of JSON; decoded whole, its events
take several times that in memory. The loader's typed path instead reads the file a
slice at a time (:data:`SLICE_BYTES`), cut between two events, and decodes each slice as
a JSON array of its own, so only one slice of events is alive at once; and a big month
can be cut into pieces (:func:`split`) that several processes decode.

Nothing here trusts the cuts: the header (every key but ``events``, with ``[]`` in its
place) and each slice are decoded by the caller, and a file can only decode that way
when every cut lies between two events of the top-level array (a cut inside a string or
a nested value leaves a slice that is not a JSON array). Where the layout is not the one
``fetch`` writes (``events`` within the first :data:`HEAD_BYTES`, the rest of the file
after it within :data:`TAIL_BYTES`), :func:`locate` says so and the loader reads the
file the general way.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Iterator

#: Bytes of events decoded at once: big enough that the per-slice work is small beside
#: decoding, small enough that a slice's events take a few tens of megabytes at most.
SLICE_BYTES = 4 * 1024 * 1024
#: Where ``"events": [`` must start, and how much may follow the array's end.
HEAD_BYTES = 64 * 1024
TAIL_BYTES = 256 * 1024

_EVENTS_KEY = re.compile(rb'"events"\s*:\s*\[')
#: Between two events: ``}``, a comma, ``{`` (JSON allows whitespace around the comma).
_BETWEEN = re.compile(rb"\}\s*,\s*\{")


@dataclass(frozen=True)
class EventsSpan:
    """Where a cache file's events lie: bytes ``start`` to ``end`` (the array's elements, without
    its brackets); ``header`` is the file with ``[]`` for the array (the caller decodes it)."""

    path: Path
    start: int
    end: int
    header: bytes


def locate(path: Path, accepts: Callable[[bytes], bool]) -> EventsSpan | None:
    """The span of ``path``'s events array, or ``None`` when the file is not laid out as ``fetch``
    writes it. ``accepts(header)`` decides whether a candidate end of the array is the real one:
    the file outside the array, with ``[]`` in its place, must decode as a cache file."""
    try:
        with open(path, "rb") as file:
            size = os.fstat(file.fileno()).st_size
            head = file.read(HEAD_BYTES)
            found = _EVENTS_KEY.search(head)
            if found is None:
                return None
            start = found.end()
            tail_start = max(start, size - TAIL_BYTES)
            file.seek(tail_start)
            tail = file.read()
    except OSError:
        return None
    prefix = head[: start - 1]
    # The array ends at one of the last ``]``: the first, from the end, that leaves a header
    # that decodes (a ``]`` of the fetch facts after it leaves an unbalanced one).
    position = len(tail)
    for _ in range(64):
        position = tail.rfind(b"]", 0, position)
        if position < 0:
            return None
        header = prefix + b"[]" + tail[position + 1 :]
        if accepts(header):
            return EventsSpan(Path(path), start, tail_start + position, header)
    return None


def _last_between(data: bytes) -> tuple[int, int] | None:
    """Where the last event of ``data`` that is followed by another ends and the next begins."""
    at = data.rfind(b"},{")
    if at >= 0:
        return at + 1, at + 2
    # (whitespace around the comma: a file written by hand or by another JSON library)
    found = None
    for found in _BETWEEN.finditer(data):
        pass
    if found is None:
        return None
    return found.start() + 1, found.end() - 1


def read_slices(path: Path, start: int, end: int, slice_bytes: int | None = None) -> Iterator[bytes]:
    """The events between bytes ``start`` and ``end`` of ``path`` (a span or a :func:`split` piece),
    as JSON arrays of about ``slice_bytes`` (default :data:`SLICE_BYTES`) each, cut between events."""
    slice_bytes = slice_bytes or SLICE_BYTES
    with open(path, "rb") as file:
        file.seek(start)
        remaining = end - start
        pending = b""
        while remaining > 0:
            block = file.read(min(slice_bytes, remaining))
            if not block:
                raise OSError(f"{path} became shorter while it was read")
            remaining -= len(block)
            data = pending + block if pending else block
            cut = _last_between(data)
            if cut is None:
                pending = data  # (one event longer than a slice: read on)
                continue
            yield b"[" + data[: cut[0]] + b"]"
            pending = data[cut[1] :]
        if pending.strip():
            yield b"[" + pending + b"]"


def split(path: Path, start: int, end: int, pieces: int) -> list[tuple[int, int]]:
    """Bytes ``start`` to ``end`` of ``path`` cut into about ``pieces`` ranges of whole events.

    Each cut is at the first ``},{`` (whitespace allowed) after an even share of the bytes; a cut that is not
    between two events makes a piece that does not decode (the loader then reads the file
    the general way). Fewer pieces where no cut is found.
    """
    bounds = [(start, None)]
    if pieces > 1:
        with open(path, "rb") as file:
            for number in range(1, pieces):
                target = start + (end - start) * number // pieces
                if target <= bounds[-1][0]:
                    continue
                file.seek(target)
                window = file.read(min(HEAD_BYTES, max(0, end - target)))
                found = _BETWEEN.search(window)
                if found is None:
                    continue
                bounds.append((target + found.end() - 1, target + found.start() + 1))
    # piece i runs from its start to the end of the last event before the next one's start
    ranges = []
    for (piece_start, _), (_, piece_end) in zip(bounds, bounds[1:]):
        ranges.append((piece_start, piece_end))
    ranges.append((bounds[-1][0], end))
    return ranges


__all__ = ["EventsSpan", "SLICE_BYTES", "locate", "read_slices", "split"]
