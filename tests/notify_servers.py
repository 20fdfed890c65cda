"""Real servers on 127.0.0.1 for the notifiers' tests, and the fixtures that start and stop them.

- :func:`self_signed_certificate`: a key and a certificate for 127.0.0.1 made with ``openssl``
  (Debian ``openssl``, which .ci/run installs);
- :class:`WebhookReceiver`: an HTTP (or HTTPS) server recording every POST and answering as told
  (200, an error status with a body, or too late);
- :class:`SmtpReceiver`: aiosmtpd (the ``test`` extra) requiring STARTTLS and a login, recording
  every message;
- :class:`SilentServer`: accepts connections and never says a word (a server that hangs);
- :class:`TricklingServer`: answers a byte (or a line) at a time, for ever (a server that is never
  silent long enough for a per-read timeout).

The test modules import the fixtures by name (``from notify_servers import ...``).
"""

from __future__ import annotations

import contextlib
import http.server
import os
import shutil
import socket
import ssl
import subprocess
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

import pytest

HOST = "127.0.0.1"


def _missing_tool(reason: str) -> None:
    """Skip here; in CI (CI=true) the tool must be there: fail."""
    if os.environ.get("CI", "").lower() == "true":
        pytest.fail(f"{reason} (CI installs it: .ci/run)", pytrace=False)
    pytest.skip(reason)


@dataclass(frozen=True)
class Certificate:
    cert: Path
    key: Path


def self_signed_certificate(directory: Path) -> Certificate:
    """A throwaway certificate for 127.0.0.1 and localhost, valid for two days."""
    openssl = shutil.which("openssl")
    if openssl is None:
        _missing_tool("openssl is not installed: apt-get install openssl")
    directory.mkdir(parents=True, exist_ok=True)
    cert, key = directory / "cert.pem", directory / "key.pem"
    subprocess.run([openssl, "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", str(key), "-out", str(cert),
                    "-days", "2", "-subj", "/CN=127.0.0.1", "-addext", "subjectAltName=IP:127.0.0.1,DNS:localhost"],
                   check=True, capture_output=True)
    return Certificate(cert, key)


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind((HOST, 0))
        return probe.getsockname()[1]


# --- HTTP ------------------------------------------------------------------------------------------


@dataclass
class Received:
    path: str
    headers: dict[str, str]
    body: bytes


@dataclass
class Answer:
    """What the receiver answers the next POSTs: ``status``, ``body``, after ``delay`` seconds."""

    status: int = 200
    body: bytes = b"ok"
    delay: float = 0.0
    echo_path: bool = False  # a hostile error page that quotes the requested path


@dataclass
class WebhookReceiver:
    server: http.server.ThreadingHTTPServer
    thread: threading.Thread
    scheme: str
    received: list[Received] = field(default_factory=list)
    answer: Answer = field(default_factory=Answer)

    @property
    def base_url(self) -> str:
        return f"{self.scheme}://{HOST}:{self.server.server_address[1]}"

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()
        self.thread.join(timeout=10)


def start_webhook_receiver(certificate: Certificate | None = None) -> WebhookReceiver:
    receiver: WebhookReceiver

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_POST(self):  # noqa: N802 (http.server's name)
            length = int(self.headers.get("Content-Length", "0"))
            body = self.rfile.read(length)
            receiver.received.append(Received(self.path, dict(self.headers.items()), body))
            answer = receiver.answer
            if answer.delay:
                time.sleep(answer.delay)
            content = answer.body + (self.path.encode() if answer.echo_path else b"")
            try:
                self.send_response(answer.status)
                self.send_header("Content-Type", "text/plain")
                self.send_header("Content-Length", str(len(content)))
                self.end_headers()
                self.wfile.write(content)
            except OSError:  # the client gave up (a timeout test)
                pass

        def log_message(self, *args):  # keep the test output clean
            pass

    server = http.server.ThreadingHTTPServer((HOST, 0), Handler)
    server.daemon_threads = True
    if certificate is not None:
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        context.load_cert_chain(certificate.cert, certificate.key)
        server.socket = context.wrap_socket(server.socket, server_side=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    receiver = WebhookReceiver(server, thread, "https" if certificate else "http")
    thread.start()
    return receiver


# --- a server that never answers -------------------------------------------------------------------


class SilentServer:
    """Accepts connections (the kernel's backlog does) and never reads or writes."""

    def __init__(self) -> None:
        self.socket = socket.socket()
        self.socket.bind((HOST, 0))
        self.socket.listen(8)
        self.port = self.socket.getsockname()[1]

    def stop(self) -> None:
        self.socket.close()


class TricklingServer:
    """Sends ``greeting`` to each connection, then ``opening`` (after reading the request when
    ``reads_first``), then ``drip`` every ``interval`` seconds until the client hangs up or the server stops (at most
    ``MAX_SECONDS``, so a client without a deadline fails its test rather than hanging the run)."""

    MAX_SECONDS = 30.0

    def __init__(self, opening: bytes, drip: bytes, *, interval: float = 0.1, reads_first: bool = True,
                 greeting: bytes = b"") -> None:
        self.opening, self.drip, self.interval, self.reads_first = opening, drip, interval, reads_first
        self.greeting = greeting
        self.socket = socket.socket()
        self.socket.bind((HOST, 0))
        self.socket.listen(8)
        self.port = self.socket.getsockname()[1]
        self.stopped = threading.Event()
        self.thread = threading.Thread(target=self._serve, daemon=True)
        self.thread.start()

    def _serve(self) -> None:
        while not self.stopped.is_set():
            try:
                connection, _ = self.socket.accept()
            except OSError:
                return
            threading.Thread(target=self._trickle, args=(connection,), daemon=True).start()

    def _trickle(self, connection: socket.socket) -> None:
        with connection:
            try:
                connection.sendall(self.greeting)
                if self.reads_first:
                    connection.recv(65536)
                connection.sendall(self.opening)
                until = time.monotonic() + self.MAX_SECONDS
                while time.monotonic() < until and not self.stopped.wait(self.interval):
                    connection.sendall(self.drip)
            except OSError:  # the client gave up
                pass

    def stop(self) -> None:
        self.stopped.set()
        with contextlib.suppress(OSError):
            self.socket.shutdown(socket.SHUT_RDWR)
        self.socket.close()
        self.thread.join(timeout=10)


#: A 200 whose body (100,000 bytes announced) comes a byte at a time.
TRICKLED_BODY = (b"HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: 100000\r\n\r\n", b"x")
#: A status line, then header after header, never the blank line that ends them.
TRICKLED_HEADERS = (b"HTTP/1.1 200 OK\r\n", b"X-Still-Coming: yes\r\n")
#: An SMTP greeting that never ends: continuation line after continuation line.
TRICKLED_GREETING = (b"220-smtp.example.com ESMTP\r\n", b"220-please wait\r\n")
#: A prompt greeting, then an answer to EHLO that never ends.
TRICKLED_EHLO_REPLY = (b"250-smtp.example.com\r\n", b"250-PIPELINING\r\n")


# --- SMTP ------------------------------------------------------------------------------------------


class SmtpReceiver:
    """aiosmtpd on 127.0.0.1: STARTTLS required, then a login with ``username`` / ``password``."""

    username = "billing-bot"
    password = "p@ss word/with+signs&more"

    def __init__(self, certificate: Certificate) -> None:
        from aiosmtpd.controller import Controller
        from aiosmtpd.smtp import AuthResult, LoginPassword

        self.messages: list = []  # (envelope, tls cipher or None)
        self.refused: set[str] = set()  # recipients the server answers 550
        receiver = self

        class Handler:
            async def handle_RCPT(self, server, session, envelope, address, rcpt_options):  # noqa: N802
                if address in receiver.refused:
                    return "550 5.1.1 No such user here"
                envelope.rcpt_tos.append(address)
                return "250 OK"

            async def handle_DATA(self, server, session, envelope):  # noqa: N802 (aiosmtpd's name)
                receiver.messages.append((envelope, session.ssl))
                return "250 Message accepted for delivery"

        def authenticator(server, session, envelope, mechanism, auth_data):
            ok = (isinstance(auth_data, LoginPassword) and auth_data.login == receiver.username.encode()
                  and auth_data.password == receiver.password.encode())
            return AuthResult(success=ok, handled=False)  # (not handled: the server says 535)

        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        context.load_cert_chain(certificate.cert, certificate.key)
        self.port = free_port()
        self.controller = Controller(Handler(), hostname=HOST, port=self.port, tls_context=context,
                                     require_starttls=True, auth_required=True, authenticator=authenticator,
                                     ready_timeout=10)

    def start(self) -> "SmtpReceiver":
        self.controller.start()
        return self

    def stop(self) -> None:
        self.controller.stop()


# --- fixtures --------------------------------------------------------------------------------------


@pytest.fixture(scope="session")
def localhost_certificate(tmp_path_factory) -> Certificate:
    return self_signed_certificate(tmp_path_factory.mktemp("tls"))


@pytest.fixture
def webhook_receiver():
    receiver = start_webhook_receiver()
    try:
        yield receiver
    finally:
        receiver.stop()


@pytest.fixture
def https_receiver(localhost_certificate):
    receiver = start_webhook_receiver(localhost_certificate)
    try:
        yield receiver
    finally:
        receiver.stop()


@pytest.fixture
def silent_server():
    server = SilentServer()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
def refused_port() -> int:
    """A port nothing listens on (free a moment ago)."""
    return free_port()


@pytest.fixture
def smtp_receiver(localhost_certificate):
    try:
        import aiosmtpd  # noqa: F401
    except ImportError:
        _missing_tool("aiosmtpd is not installed: pip install -e '.[test]'")
    receiver = SmtpReceiver(localhost_certificate).start()
    try:
        yield receiver
    finally:
        receiver.stop()


@pytest.fixture
def trickling_server():
    """Start a :class:`TricklingServer` with ``trickling_server(opening, drip, ...)``; stopped after the test."""
    servers: list[TricklingServer] = []

    def start(opening: bytes, drip: bytes, **options) -> TricklingServer:
        servers.append(TricklingServer(opening, drip, **options))
        return servers[-1]

    try:
        yield start
    finally:
        for server in servers:
            server.stop()
