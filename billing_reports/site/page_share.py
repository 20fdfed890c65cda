"""The user and model pages, rendered by a second process from before the plugins run.

A site has a page per user and per model: a thousand pages for a big team, most of the render's
work. Each of them needs the loaded usage alone, but for the navigation at its top, which lists the
plugins' sections. So the build starts a forked process on them as soon as the usage is loaded,
while this one runs the plugins (the second CPU is otherwise idle then):

- the forked process renders each page with a marker where the navigation goes and holds it;
- when the plugins are done, this process sends it the navigation (:meth:`PageShare.send_navigation`):
  it puts the navigation in place of the marker in the pages it holds, writes them, and renders the
  next ones whole;
- when this process is done with the other pages, it takes the user and model pages left
  (:meth:`PageShare.join`): each page is taken from a counter both share, so neither waits for the
  other however long the plugins took.

The forked process holds at most :data:`HELD_LIMIT` of pages; then it waits for the navigation. With
templates whose pages do not show the marker in exactly one place (a ``base.html`` of one's own),
it renders nothing before the navigation is known: only the sharing of the pages is left.
"""

from __future__ import annotations

import multiprocessing
import secrets
from concurrent.futures import ProcessPoolExecutor
from dataclasses import replace
from typing import TYPE_CHECKING, Any

from markupsafe import Markup

if TYPE_CHECKING:
    from .output import SiteOutput
    from .render import NavItem, SiteRenderer

#: The most page text the forked process holds while the navigation is not known (characters).
HELD_LIMIT = 32 * 1024 * 1024


class PageShare:
    """The user and model pages (``("users" or "models", name, slug)``), shared between this process
    and a forked one that starts on them at once (see the module's notes)."""

    def __init__(self, renderer: SiteRenderer, output: SiteOutput, pages: list[tuple[str, str, str]]) -> None:
        self.renderer = renderer
        self.output = output
        self.pages = pages
        self.marker = Markup(f"<!-- navigation {secrets.token_hex(12)} -->")
        context = multiprocessing.get_context("fork")
        self._next = context.Value("q", 0)
        self._receiving, self._sending = context.Pipe(duplex=False)
        self._sent = False
        global _SHARE
        _SHARE = self
        try:
            self._pool = ProcessPoolExecutor(1, mp_context=context)
            self._forked = self._pool.submit(_render_forked_share)  # (forks now: it sees _SHARE)
        finally:
            _SHARE = None
        self._receiving.close()  # (the forked process's end)

    def take(self) -> tuple[str, str, str] | None:
        """The next page nobody has taken yet, or ``None`` when all are taken."""
        with self._next.get_lock():
            index = self._next.value
            self._next.value = index + 1
        return self.pages[index] if index < len(self.pages) else None

    def send_navigation(self, nav: list[NavItem]) -> None:
        """The navigation is known: the forked process may write the pages it holds."""
        self._sending.send(nav)
        self._sent = True

    def join(self) -> None:
        """Render the pages left here, then add what the forked process wrote to the output.

        :raises BillingReportsError: a page could not be rendered (here or there).
        """
        assert self._sent, "send_navigation first"
        try:
            while (page := self.take()) is not None:
                self.output.write_text(*self.renderer.drilldown_page(self.output, page))
            self.output.add_written(*self._forked.result())
        finally:
            self._close()

    def stop(self) -> None:
        """The build stopped: the forked process writes nothing more (it is waited for, so that
        nothing writes into the build directory once it is removed)."""
        with self._next.get_lock():
            self._next.value = len(self.pages)  # (no page left to take)
        try:
            if not self._sent:
                self._sending.send(None)
        except OSError:  # it is gone already
            pass
        try:
            self._forked.result()
        except Exception:  # noqa: BLE001 (what went wrong here is the error the build reports)
            pass
        finally:
            self._close()

    def _close(self) -> None:
        self._sending.close()
        self._pool.shutdown()


#: The share the forked process works on (set while it is forked: nothing is pickled).
_SHARE: PageShare | None = None


def _render_forked_share() -> tuple[list[str], dict[str, dict[str, Any]]]:
    """In the forked process: render pages until none is left; return the files it wrote and their
    checksums (none when the build stopped)."""
    share = _SHARE
    assert share is not None
    share._sending.close()  # (this process's copy: the pipe ends when the building process is gone)
    renderer, output = share.renderer, share.output
    output.files, output.checksums = [], {}
    known = renderer.info
    renderer.info = replace(known, nav_marker=share.marker)
    held: list[tuple[str, str, str]] = []  # (kind, path, HTML with the marker)
    held_size = 0
    nav: list[NavItem] | None = None
    while (page := share.take()) is not None:
        if nav is None and (held_size > HELD_LIMIT or share._receiving.poll()):
            nav = share._receiving.recv()
            if nav is None:  # the build stopped
                return [], {}
            renderer.info = replace(known, nav=nav)
            _write_held(share, held, nav)
        path, html = renderer.drilldown_page(output, page)
        if nav is not None:
            output.write_text(path, html)
        elif html.count(share.marker) == 1:
            held.append((page[0], path, html))
            held_size += len(html)
        else:  # templates that do not show the marker: this page, and the rest, once the navigation is known
            nav = share._receiving.recv()
            if nav is None:
                return [], {}
            renderer.info = replace(known, nav=nav)
            _write_held(share, held, nav)
            output.write_text(*renderer.drilldown_page(output, page, write_downloads=False))  # (written above)
    if nav is None:
        nav = share._receiving.recv()
        if nav is None:
            return [], {}
        renderer.info = replace(known, nav=nav)
        _write_held(share, held, nav)
    return output.files, output.checksums


def _write_held(share: PageShare, held: list[tuple[str, str, str]], nav: list[NavItem]) -> None:
    """Write the pages held, the navigation in place of the marker (``renderer.info`` has it now)."""
    renderer = share.renderer
    links = {kind: renderer.template("_nav.html").render(site=renderer.info, root="../", current=kind)
             for kind in {kind for kind, _, _ in held}}
    for kind, path, html in held:
        share.output.write_text(path, html.replace(share.marker, links[kind], 1))
    held.clear()
