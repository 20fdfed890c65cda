"""A local preview of the built site: a static file server on 127.0.0.1.

Only files inside the site directory are served: a symlink that leads out of it is answered 404
like a missing file, and so is a directory without an index page (no listings).
"""

from __future__ import annotations

import errno
import functools
import http.server
import os
import signal
import threading
from pathlib import Path

from .errors import BillingReportsError
from .publish.site import CONTENT_TYPES
from .site.built import MANIFEST_NAME

HOST = "127.0.0.1"
DEFAULT_PORT = 8000


class _SiteHandler(http.server.SimpleHTTPRequestHandler):
    """Serves files of one directory with the site's content types, no caching."""

    extensions_map = {**http.server.SimpleHTTPRequestHandler.extensions_map, **CONTENT_TYPES}

    def end_headers(self) -> None:
        self.send_header("Cache-Control", "no-store")
        super().end_headers()

    def send_head(self):  # noqa: ANN201 (the stdlib's signature)
        path = self.translate_path(self.path)
        served = path
        if os.path.isdir(path):
            served = next((os.path.join(path, name) for name in ("index.html", "index.htm")
                           if os.path.isfile(os.path.join(path, name))), None)
            if served is None:  # a directory is never listed
                self.send_error(404, "File not found")
                return None
        if not (self._inside_site(path) and self._inside_site(served)):
            self.send_error(404, "File not found")
            return None
        return super().send_head()

    def list_directory(self, path):  # noqa: ANN001, ANN201 (never reached: send_head refuses first)
        self.send_error(404, "File not found")
        return None

    def _inside_site(self, path: str) -> bool:
        """Whether ``path``, every symlink followed, is the site directory or inside it."""
        root = os.path.realpath(self.directory)
        real = os.path.realpath(path)
        return real == root or real.startswith(root.rstrip(os.sep) + os.sep)

    def log_message(self, format: str, *args) -> None:  # noqa: A002 (the stdlib's name)
        if getattr(self.server, "log_requests", True):
            super().log_message(format, *args)


class PreviewServer:
    """``site_dir`` served on ``127.0.0.1:port`` (``port=0``: any free port).

    Use :meth:`serve_forever` in the foreground (Ctrl-C stops it) or as a
    context manager that serves from a background thread.
    """

    def __init__(self, site_dir: Path, port: int = DEFAULT_PORT, *, index: str, log_requests: bool = True):
        handler = functools.partial(_SiteHandler, directory=str(site_dir))
        try:
            self.httpd = http.server.ThreadingHTTPServer((HOST, port), handler)
        except OSError as error:
            raise listen_error(HOST, port, error) from None
        self.httpd.daemon_threads = True
        self.httpd.log_requests = log_requests  # type: ignore[attr-defined]
        self.site_dir = site_dir
        self.index = index
        self._thread: threading.Thread | None = None

    @property
    def port(self) -> int:
        return self.httpd.server_address[1]

    @property
    def url(self) -> str:
        """The index page's URL."""
        return f"http://{HOST}:{self.port}/{self.index}"

    def serve_forever(self) -> None:
        """Serve until Ctrl-C or SIGTERM (or :meth:`close` from another thread); always closes the socket."""
        previous = None
        if threading.current_thread() is threading.main_thread():
            previous = signal.signal(signal.SIGTERM, _interrupt)
        try:
            self.httpd.serve_forever(poll_interval=0.2)
        except KeyboardInterrupt:
            pass
        finally:
            self.httpd.server_close()
            if previous is not None:
                signal.signal(signal.SIGTERM, previous)

    def close(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()
        if self._thread is not None:
            self._thread.join()

    def __enter__(self) -> "PreviewServer":
        self._thread = threading.Thread(target=self.httpd.serve_forever, kwargs={"poll_interval": 0.1}, daemon=True)
        self._thread.start()
        return self

    def __exit__(self, *exc_info) -> None:
        self.close()


def _interrupt(signum, frame) -> None:
    raise KeyboardInterrupt


def listen_error(host: str, port: int, error: OSError, *, hint: str = "try --port 0") -> BillingReportsError:
    """The one line for a server of ours that cannot listen on ``host:port``."""
    if error.errno == errno.EADDRINUSE:
        return BillingReportsError(
            f"port {port} on {host} is already in use; pass --port N for another port, or --port 0 for any free one"
        )
    return BillingReportsError(f"cannot listen on {host}:{port} ({error.strerror or error}); {hint}")


def site_index(site_dir: Path, *, fallback: str, build_hint: str) -> str:
    """The page to open first: the manifest's index, else ``fallback`` if it exists.

    :raises BillingReportsError: the directory holds no site.
    """
    import json

    if not site_dir.is_dir():
        raise BillingReportsError(f"{site_dir}: no built site there; run `{build_hint}` first")
    manifest = site_dir / MANIFEST_NAME
    if manifest.is_file():
        try:
            index = json.loads(manifest.read_text(encoding="utf-8")).get("index")
        except (OSError, ValueError, AttributeError):
            index = None
        if isinstance(index, str) and (site_dir / index).is_file():
            return index
    if (site_dir / fallback).is_file():
        return fallback
    raise BillingReportsError(f"{site_dir}: no {MANIFEST_NAME} and no {fallback}; run `{build_hint}` first")


__all__ = ["DEFAULT_PORT", "HOST", "PreviewServer", "listen_error", "site_index"]
