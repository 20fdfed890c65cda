"""The cyclic garbage collector, kept out of the way of work that makes many objects and no cycles.

Loading a big cache, summing it and indexing it create hundreds of thousands of tuples, dicts
and arrays, none of which refer back to each other. Each few hundred allocations the collector
would walk the young ones, and now and then every object alive: on a rebuild from the month
summaries that is about a tenth of the time, for nothing it could free.
"""

from __future__ import annotations

import gc
from contextlib import contextmanager
from typing import Iterator


@contextmanager
def paused() -> Iterator[None]:
    """No collection within: for work that creates many containers and no reference cycles."""
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            gc.enable()


@contextmanager
def skipping_what_exists() -> Iterator[None]:
    """Every object alive now left out of later collections (``gc.freeze()``) until the end: the
    usage outlives the render, so the collector need not walk it again on each full collection
    (the plugins and thousands of pages make many), and a forked process shares it without
    copying its objects' headers on write."""
    gc.freeze()
    try:
        yield
    finally:
        gc.unfreeze()


__all__ = ["paused", "skipping_what_exists"]
