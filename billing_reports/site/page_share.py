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

The forked process holds at most :data:`HELD_LIMIT` bytes of pages; then it waits for the
navigation. It holds none where the pages' templates are not all the built-in ones (a ``base.html``
or ``_nav.html`` of one's own may read the navigation anywhere, with anything of the page's): it
waits for the navigation first, and only the sharing of the pages is left. It ends with the build,
however the build ends (:func:`~billing_reports.child_processes.end_with_parent`).
"""

from __future__ import annotations

import multiprocessing
import os
import secrets
from dataclasses import replace
from typing import TYPE_CHECKING, Any

from markupsafe import Markup

from ..child_processes import end_with_parent
from ..errors import BillingReportsError

if TYPE_CHECKING:
    from .output import SiteOutput
    from .render import NavItem, SiteInfo, SiteRenderer

#: The most page bytes the forked process holds while the navigation is not known.
HELD_LIMIT = 24 * 1024 * 1024

#: The files the forked process wrote and their checksums (``SiteOutput.files``, ``.checksums``).
Written = tuple[list[str], dict[str, dict[str, Any]]]


class PageShare:
    """The user and model pages (``("users" or "models", name, slug)``), shared between this process
    and a forked one that starts on them at once (see the module's notes). ``hold``: the forked
    process may render pages before the navigation is known (the built-in templates only)."""

    def __init__(self, renderer: SiteRenderer, output: SiteOutput, pages: list[tuple[str, str, str]], *,
                 hold: bool) -> None:
        self.renderer = renderer
        self.output = output
        self.pages = pages
        self.hold = hold
        self.marker = Markup(f"<!-- navigation {secrets.token_hex(12)} -->")
        context = multiprocessing.get_context("fork")
        self._next = context.Value("q", 0)
        self._navigation_in, self._navigation_out = context.Pipe(duplex=False)
        self._result_in, self._result_out = context.Pipe(duplex=False)
        self._sent = False
        global _SHARE
        _SHARE = self
        try:
            self._process = context.Process(target=_render_forked_share, args=(os.getpid(),), daemon=True)
            self._process.start()
        finally:
            _SHARE = None
        self._navigation_in.close()  # (the forked process's ends)
        self._result_out.close()

    def take(self) -> tuple[str, str, str] | None:
        """The next page nobody has taken yet, or ``None`` when all are taken."""
        with self._next.get_lock():
            index = self._next.value
            self._next.value = index + 1
        return self.pages[index] if index < len(self.pages) else None

    def send_navigation(self, nav: list[NavItem]) -> None:
        """The navigation is known: the forked process may write the pages it holds."""
        self._sent = True
        try:
            self._navigation_out.send(nav)
        except OSError:  # it ended already (a page failed there): join says why
            pass

    def join(self) -> None:
        """Render the pages left here, then add what the forked process wrote to the output.

        :raises BillingReportsError: a page could not be rendered (here or there).
        """
        assert self._sent, "send_navigation first"
        try:
            while (page := self.take()) is not None:
                self.output.write_text(*self.renderer.drilldown_page(self.output, page))
            self.output.add_written(*self._result())
        finally:
            self._end()

    def stop(self) -> None:
        """The build stopped: the forked process writes nothing more (it is waited for, so that
        nothing writes into the build directory once it is removed)."""
        with self._next.get_lock():
            self._next.value = len(self.pages)  # (no page left to take)
        if not self._sent:
            self.send_navigation(None)  # type: ignore[arg-type]  (None: stop)
        try:
            self._result()
        except BaseException:  # noqa: BLE001 (what went wrong here is the error the build reports)
            pass
        finally:
            self._end()

    def _result(self) -> Written:
        try:
            outcome, value = self._result_in.recv()
        except (EOFError, OSError):
            raise BillingReportsError(
                f"the process rendering the user and model pages ended before it was done (exit code "
                f"{self._process.exitcode}); build again") from None
        if outcome == "failed":
            raise value
        return value

    def _end(self) -> None:
        self._process.join()
        self._navigation_out.close()
        self._result_in.close()


#: The share the forked process works on (set while it is forked: nothing is pickled).
_SHARE: PageShare | None = None


def _render_forked_share(parent: int) -> None:
    """The forked process: its pages rendered and written, then what it wrote (or what failed) sent."""
    end_with_parent(parent)
    share = _SHARE
    assert share is not None
    share._navigation_out.close()  # (this process's copies of the building process's ends)
    share._result_in.close()
    try:
        outcome: tuple[str, Any] = ("done", _render_share(share))
    except BaseException as error:  # noqa: BLE001 (the building process raises it)
        outcome = ("failed", error)
    try:
        share._result_out.send(outcome)
    except Exception:  # noqa: BLE001 (an error that cannot be pickled): said in a line
        share._result_out.send(("failed", BillingReportsError(f"{type(outcome[1]).__name__}: {outcome[1]}")))


def _render_share(share: PageShare) -> Written:
    """Render pages until none is left; what this process wrote (nothing when the build stopped)."""
    renderer, output = share.renderer, share.output
    output.files, output.checksums = [], {}
    known = renderer.info
    marker = str(share.marker).encode()
    held: list[tuple[str, str, bytes]] = []  # (kind, path, the page in UTF-8 with the marker)
    held_size = 0
    navigation = not share.hold
    if navigation and not _navigation_received(share, known, held):
        return [], {}
    if not navigation:
        renderer.info = replace(known, nav_marker=share.marker)
    while (page := share.take()) is not None:
        if not navigation and (held_size > HELD_LIMIT or share._navigation_in.poll()):
            if not _navigation_received(share, known, held):
                return [], {}
            navigation = True
        path, html = renderer.drilldown_page(output, page)
        if navigation:
            output.write_text(path, html)
            continue
        data = html.encode()
        if data.count(marker) == 1:
            held.append((page[0], path, data))
            held_size += len(data)
            continue
        # (the built-in templates show the marker once; else the page is rendered again, its downloads
        # written already, once the navigation is known)
        if not _navigation_received(share, known, held):
            return [], {}
        navigation = True
        output.write_text(*renderer.drilldown_page(output, page, write_downloads=False))
    if not navigation and not _navigation_received(share, known, held):
        return [], {}
    return output.files, output.checksums


def _navigation_received(share: PageShare, known: SiteInfo, held: list[tuple[str, str, bytes]]) -> bool:
    """Wait for the navigation; with it, the pages from here on have it (``known`` with it) and the
    pages held are written. ``False``: the build stopped instead."""
    nav = share._navigation_in.recv()
    if nav is None:
        return False
    share.renderer.info = replace(known, nav=nav)
    _write_held(share, held)
    return True


def _write_held(share: PageShare, held: list[tuple[str, str, bytes]]) -> None:
    """Write the pages held, the navigation in place of the marker (``renderer.info`` has it now)."""
    marker = str(share.marker).encode()
    links = {kind: share.renderer.nav_html("../", kind).encode() for kind in {kind for kind, _, _ in held}}
    for kind, path, data in held:
        share.output.write_bytes(path, data.replace(marker, links[kind], 1))
    held.clear()
