"""``billing-reports serve``: a real server process, fetched over HTTP, stopped with Ctrl-C."""

from __future__ import annotations

import re
import signal
import socket
import subprocess
import urllib.request

import pytest
from servers import BILLING_REPORTS, run_cli, write_built_site, write_config

pytestmark = pytest.mark.server


def start_serve(project, *arguments):
    process = subprocess.Popen(
        [str(BILLING_REPORTS), "serve", *arguments],
        cwd=project, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, stdin=subprocess.DEVNULL,
    )
    first_line = process.stdout.readline()
    return process, first_line


def stop(process, how=signal.SIGINT) -> tuple[int, str]:
    process.send_signal(how)
    _, stderr = process.communicate(timeout=20)
    return process.returncode, stderr


def fetch(url: str) -> tuple[int, str, str]:
    with urllib.request.urlopen(url, timeout=10) as answer:
        return answer.status, answer.headers["Content-Type"], answer.read().decode()


@pytest.fixture
def project(tmp_path):
    write_config(tmp_path, {})
    write_built_site(
        tmp_path / "site",
        {"billing_dashboard.html": "<h1>Preview</h1>", "data/monthly.csv": "month,cost\n", "charts/trend.svg": "<svg/>"},
    )
    return tmp_path


def test_serve_prints_the_url_serves_the_site_and_stops_on_ctrl_c(project):
    process, line = start_serve(project, "--port", "0")
    try:
        match = re.fullmatch(r"Serving (.+) at (http://127\.0\.0\.1:(\d+)/billing_dashboard\.html)\n", line)
        assert match, line
        assert match[1] == str(project / "site")
        assert fetch(match[2]) == (200, "text/html; charset=utf-8", "<h1>Preview</h1>")
        base = match[2].rsplit("/", 1)[0]
        assert fetch(f"{base}/data/monthly.csv") == (200, "text/csv; charset=utf-8", "month,cost\n")
        assert fetch(f"{base}/charts/trend.svg")[1] == "image/svg+xml"
    finally:
        code, stderr = stop(process)

    assert code == 0
    assert "Traceback" not in stderr
    assert stderr.strip().endswith("Stopped.")
    with pytest.raises(OSError):  # the port is closed
        socket.create_connection(("127.0.0.1", int(match[3])), timeout=1).close()


def test_sigterm_stops_it_cleanly_too(project):
    process, line = start_serve(project, "--port", "0")
    url = line.split(" at ")[1].strip()
    assert fetch(url)[0] == 200

    code, stderr = stop(process, signal.SIGTERM)

    assert code == 0
    assert stderr.strip().endswith("Stopped.") and "Traceback" not in stderr


def test_a_port_in_use_is_one_clear_line(project):
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]

        result = run_cli("serve", "--port", str(port), cwd=project, timeout=30)

    assert result.returncode == 1
    assert result.stderr.strip() == (
        f"Error: port {port} on 127.0.0.1 is already in use; pass --port N for another port, or --port 0 for any free one"
    )


def test_demo_serves_the_demo_site(project):
    write_built_site(project / "demo" / "site", {"billing_dashboard.html": "<h1>Demo</h1>"})

    process, line = start_serve(project, "--demo", "--port", "0")
    try:
        url = line.split(" at ")[1].strip()
        assert fetch(url)[2] == "<h1>Demo</h1>"
    finally:
        stop(process)


def test_site_dir_serves_a_site_built_apart(project):
    """A pseudonymised site built with build --site-dir is previewed before it is published."""
    write_built_site(project / "site-company", {"billing_dashboard.html": "<h1>Company</h1>"})

    process, line = start_serve(project, "--site-dir", "site-company", "--port", "0")
    try:
        assert line.startswith(f"Serving {project / 'site-company'} at "), line
        assert fetch(line.split(" at ")[1].strip())[2] == "<h1>Company</h1>"
    finally:
        stop(process)
    missing = run_cli("serve", "--site-dir", "nowhere", "--port", "0", cwd=project, timeout=30)
    assert missing.returncode == 1 and "run `billing-reports build --site-dir nowhere` first" in missing.stderr


def test_serving_without_a_built_site_says_which_build_to_run(tmp_path):
    write_config(tmp_path, {})

    plain = run_cli("serve", "--port", "0", cwd=tmp_path, timeout=30)
    demo = run_cli("serve", "--demo", "--port", "0", cwd=tmp_path, timeout=30)

    assert (plain.returncode, demo.returncode) == (1, 1)
    assert plain.stderr.strip() == f"Error: {tmp_path / 'site'}: no built site there; run `billing-reports build` first"
    assert demo.stderr.strip() == (
        f"Error: {tmp_path / 'demo' / 'site'}: no built site there; run `billing-reports build --demo` first"
    )


# --- only the site, and no listings (issue 11) -------------------------------------------------


def test_serve_follows_no_symlink_out_of_the_site_and_lists_no_directory(tmp_path):
    import urllib.error

    from billing_reports.serving import PreviewServer

    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "secret.txt").write_text("the key")
    site = tmp_path / "site"
    write_built_site(site, {"billing_dashboard.html": "<h1>Preview</h1>", "data/monthly.csv": "month,cost\n"})
    (site / "secret.txt").symlink_to(outside / "secret.txt")
    (site / "leak").symlink_to(outside, target_is_directory=True)
    (site / "passwd.html").symlink_to("/etc/passwd")
    (site / "alias.html").symlink_to("billing_dashboard.html")  # inside the site: fine
    (site / "docs").mkdir()
    (site / "docs" / "index.html").write_text("<p>docs</p>")

    def status(server, path):
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{server.port}/{path}", timeout=10) as answer:
                return answer.status, answer.read().decode()
        except urllib.error.HTTPError as error:
            return error.code, ""

    with PreviewServer(site, 0, index="billing_dashboard.html", log_requests=False) as server:
        assert status(server, "alias.html") == (200, "<h1>Preview</h1>")
        assert status(server, "docs/") == (200, "<p>docs</p>")
        for path in ("secret.txt", "leak/secret.txt", "leak/", "passwd.html", "data/", "data", ""):
            assert status(server, path)[0] == 404, path
