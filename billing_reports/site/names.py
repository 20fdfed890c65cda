"""Safe, unique, stable file names for the pages of users, models and sections.

An e-mail or a model name becomes a lower-case slug of ``a-z 0-9 . _ -``. Two
names that slug alike (``Ann@x.com`` and ``ann@x.com``, or ``a+b@x`` and
``a-b@x``) still get different files: the first (all-lower-case names first,
then A to Z) gets the plain slug, the others carry a short hash of the exact
name. The same set of names always gets the same file names.
"""

from __future__ import annotations

import hashlib
import re
import unicodedata
from typing import Any, Iterable

_UNSAFE = re.compile(r"[^a-z0-9._-]+")
#: A run of dashes and dots with at least one dash (``-..-``) becomes one dash.
_DASHES = re.compile(r"[-.]*-[-.]*")
#: Long names are cut so that every path stays well inside file-system limits.
MAX_SLUG_LENGTH = 80


def slugify(name: str, fallback: str = "page") -> str:
    """A file-name-safe slug: ``"Dev.Ops+ci@Company.com"`` -> ``"dev.ops-ci-company.com"``.

    >>> slugify("claude-4.6-opus (high)")
    'claude-4.6-opus-high'
    >>> slugify("(removed user)", "user")
    'removed-user'
    """
    text = unicodedata.normalize("NFKD", name).encode("ascii", "ignore").decode("ascii").lower()
    text = _UNSAFE.sub("-", text)
    text = _DASHES.sub("-", text).strip("-.")[:MAX_SLUG_LENGTH].strip("-.")
    return text or fallback


def _short_hash(name: str) -> str:
    return hashlib.sha256(name.encode("utf-8")).hexdigest()[:8]


class PageNames:
    """Gives each name of one kind (users, models, sections) a unique slug.

    Names are assigned in a fixed order (all-lower-case names first, then A to
    Z), so the same set of names always gets the same slugs. ``reserved``
    slugs are never handed out.
    """

    def __init__(self, names: Iterable[str], *, fallback: str, reserved: Iterable[str] = ()) -> None:
        self._slugs: dict[str, str] = {}
        taken = set(reserved)
        for name in sorted(set(names), key=lambda n: (n != n.lower(), n)):
            base = slugify(name, fallback)
            slug = base
            if slug in taken:
                slug = f"{base}-{_short_hash(name)}"
            counter = 2
            while slug in taken:  # only if two hashes collide too
                slug = f"{base}-{_short_hash(name)}-{counter}"
                counter += 1
            taken.add(slug)
            self._slugs[name] = slug

    def __contains__(self, name: object) -> bool:
        return name in self._slugs

    def __len__(self) -> int:
        return len(self._slugs)

    def slug(self, name: str) -> str:
        """The slug of ``name`` (``KeyError`` for a name that was not given)."""
        return self._slugs[name]

    def items(self):
        return self._slugs.items()


def user_pages(usage: Any) -> PageNames:
    """The file names of the users' pages as the site gives them (every user with usage in range of
    ``usage``, an :class:`~billing_reports.usage.OnDemandUsage`): for a link to one from elsewhere."""
    return PageNames(usage.breakdown.user_models, fallback="user", reserved={"index"})


def user_page_path(pages: PageNames, user: str) -> str | None:
    """``users/SLUG.html``, relative to the site's root; ``None`` for a user without a page."""
    return f"users/{pages.slug(user)}.html" if user in pages else None
