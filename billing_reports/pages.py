"""What ``register_pages`` returns: a whole page of the site that is not a section.

A section is drawn by the site's section layout (figures, charts, tables, downloads); a page such
as a reconciliation, a budget sheet or a team directory needs a layout of its own. A plugin gives
its template (from ``register_template_dirs``) and the values it shows; the site renders it with
the context every page has (``site``, ``root``, the navigation) and writes ``SLUG.html``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Mapping


@dataclass(frozen=True)
class Page:
    """A page of the site with its own template: ``slug.html``.

    ``context``: the values the template reads besides ``site``, ``root`` and ``page`` (text in it is
    escaped like everything the site shows); ``nav``: linked from every page's navigation.
    """

    slug: str
    title: str
    template: str
    context: Mapping[str, Any] = field(default_factory=dict)
    nav: bool = True

    def __post_init__(self) -> None:
        taken = sorted(set(self.context) & RESERVED_CONTEXT)
        if taken:
            raise ValueError(f"page {self.slug!r}: its context may not name {', '.join(map(repr, taken))}, which "
                             f"every page gets from the site ({', '.join(sorted(RESERVED_CONTEXT))}); rename them")


#: What the site gives every page's template: a page's ``context`` may not reuse these names.
RESERVED_CONTEXT = frozenset({"site", "root", "title", "page", "page_path", "current"})


__all__ = ["Page", "RESERVED_CONTEXT"]
