"""A section's Markdown intro as HTML, with raw HTML shown as text.

Plugins never inject HTML: the ``html_block`` preprocessor and the inline
``html`` pattern are removed (so ``<script>`` arrives as ``&lt;script&gt;``),
links keep only safe targets, and images become links (the site makes no
request to any other host).
"""

from __future__ import annotations

import xml.etree.ElementTree as etree

import markdown
from markdown.treeprocessors import Treeprocessor
from markupsafe import Markup

_SAFE_SCHEMES = ("http://", "https://", "mailto:", "#")


def _safe_href(href: str) -> bool:
    target = href.strip().lower()
    if target.startswith(_SAFE_SCHEMES):
        return True
    # A relative link has no scheme before its first slash, query or fragment.
    head = target.split("/", 1)[0].split("?", 1)[0].split("#", 1)[0]
    return ":" not in head


class _SafeLinks(Treeprocessor):
    def run(self, root: etree.Element) -> None:
        for parent in root.iter():
            for index, child in enumerate(list(parent)):
                if child.tag == "a" and not _safe_href(child.get("href", "")):
                    child.attrib.pop("href", None)
                elif child.tag == "img":
                    link = etree.Element("a")
                    src = child.get("src", "")
                    if _safe_href(src):
                        link.set("href", src)
                    link.text = child.get("alt") or src
                    link.tail = child.tail
                    parent.remove(child)
                    parent.insert(index, link)


class IntroRenderer:
    """Converts intros; one instance is reused for every page (``reset`` between texts)."""

    def __init__(self) -> None:
        self._markdown = markdown.Markdown(extensions=["tables", "sane_lists"], output_format="html")
        self._markdown.preprocessors.deregister("html_block")
        self._markdown.inlinePatterns.deregister("html")
        self._markdown.treeprocessors.register(_SafeLinks(self._markdown), "safe_links", 0)

    def __call__(self, text: str) -> Markup:
        if not text or not text.strip():
            return Markup("")
        self._markdown.reset()
        return Markup(self._markdown.convert(text))
