"""The slack and webhook notifiers against a real HTTP server on 127.0.0.1: the body as sent, Slack's
Block Kit shape, the signature recomputed here, and every failure one line without the secret."""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
import time
from urllib.parse import quote, quote_plus

import pytest

from billing_reports.alerts import Alert, AlertFigure
from billing_reports.errors import BillingReportsError
from billing_reports.notifications import configured_notifiers, deliver
from billing_reports.settings import load_settings
from notify_servers import (  # noqa: F401 (fixtures)
    TRICKLED_BODY, TRICKLED_HEADERS, Answer, https_receiver, localhost_certificate, refused_port, silent_server,
    trickling_server, webhook_receiver,
)

pytestmark = pytest.mark.server

#: A webhook URL's secret part, with characters that URL-encoding changes.
SLACK_TOKEN = "T0AAA/B0BBB/xoxb+s3cr3t=token&é"
SIGNING_SECRET = "whsec+signing/s3cr3t=é"
HOSTILE = "<!channel> mallory&co\x1b[2J@example.com"


def budget_alert() -> Alert:
    return Alert(rule="budget", key="budget/team/2026-11", severity="critical", subject_kind="team", subject="",
                 title="Team spend projected past its budget", detail="Projected to pass $5,000.00 on Nov 24.",
                 figures=(AlertFigure("Spent", 412_345_678_900, "money"),  # micro-cents: $4,123.46
                          AlertFigure("Budget", 500_000_000_000, "money"),
                          AlertFigure("Share", 82.5, "percent")),
                 link="billing_dashboard.html", period="2026-11", level=1.1)


def spike_alert(subject: str = "ann@example.com") -> Alert:
    return Alert(rule="spike", key=f"spike/user/{subject}/2026-11-18", severity="warning", subject_kind="user",
                 subject=subject, title=f"{subject} spent 9× their usual day",
                 figures=(AlertFigure("That day", 18_750_000_000, "money"), AlertFigure("Usual day", 2_083_333_333, "money")),
                 link="users/ann.html", period="2026-11", level=9.0)


def notifiers(tmp_path, notify_yaml: str, env: dict[str, str], monkeypatch):
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    config = tmp_path / "config.yaml"
    config.write_text(f"notify:\n{notify_yaml}", encoding="utf-8")
    return configured_notifiers(load_settings(config))


#: A word only the secrets hold: in no form may it show.
MARKER = "s3cr3t"


def assert_one_line_without(message: str, *secrets: str) -> None:
    assert "\n" not in message and "Traceback" not in message
    assert MARKER not in message, f"a secret shows in: {message}"
    for secret in secrets:
        for form in {secret, quote(secret, safe=""), quote(secret), quote_plus(secret)}:
            assert form not in message, f"the secret shows ({form!r}) in: {message}"


# --- slack ---------------------------------------------------------------------------------------------


def slack(tmp_path, monkeypatch, receiver_url: str, **options):
    extra = "".join(f"    {key}: {value}\n" for key, value in options.items())
    (notifier,) = notifiers(tmp_path, f"  finops-slack:\n    type: slack\n    webhook_url_env: TEAM_SLACK_URL\n{extra}",
                            {"TEAM_SLACK_URL": f"{receiver_url}/services/{SLACK_TOKEN}"}, monkeypatch)
    return notifier


def test_slack_posts_a_block_kit_message(tmp_path, monkeypatch, webhook_receiver):
    notifier = slack(tmp_path, monkeypatch, webhook_receiver.base_url)
    failures = deliver([notifier], [spike_alert(), budget_alert()], site_url="https://billing.example.com/reports/")
    assert failures == []
    (request,) = webhook_receiver.received
    assert request.path == f"/services/{quote(SLACK_TOKEN, safe='/+=&')}"
    assert request.headers["Content-Type"].startswith("application/json")
    message = json.loads(request.body)
    assert message["text"] == "2 billing alerts: 1 critical, 1 warning"
    header, first, second = message["blocks"]
    assert header == {"type": "header", "text": {"type": "plain_text", "text": message["text"], "emoji": True}}
    # most severe first: the budget alert, then the spike
    assert first["type"] == "section" and first["text"]["type"] == "mrkdwn"
    assert first["text"]["text"].splitlines() == [":red_circle: *CRITICAL* · team",
                                                  "*Team spend projected past its budget*",
                                                  "Projected to pass $5,000.00 on Nov 24."]
    assert [field["text"] for field in first["fields"]] == ["*Spent*\n$4,123.46", "*Budget*\n$5,000.00",
                                                            "*Share*\n82.5%"]
    assert first["accessory"]["type"] == "button"
    assert first["accessory"]["url"] == "https://billing.example.com/reports/billing_dashboard.html"
    assert second["text"]["text"].startswith(":large_orange_circle: *WARNING* · user ann@example.com")
    assert [field["text"] for field in second["fields"]] == ["*That day*\n$187.50", "*Usual day*\n$20.83"]
    assert second["accessory"]["url"] == "https://billing.example.com/reports/users/ann.html"


def test_slack_without_a_site_url_has_no_button(tmp_path, monkeypatch, webhook_receiver):
    deliver([slack(tmp_path, monkeypatch, webhook_receiver.base_url)], [spike_alert()], site_url=None)
    (request,) = webhook_receiver.received
    assert all("accessory" not in block for block in json.loads(request.body)["blocks"])


def test_slack_escapes_a_hostile_name(tmp_path, monkeypatch, webhook_receiver):
    deliver([slack(tmp_path, monkeypatch, webhook_receiver.base_url)], [spike_alert(HOSTILE)], site_url=None)
    section = json.loads(webhook_receiver.received[0].body)["blocks"][1]
    text = section["text"]["text"]
    assert "&lt;!channel&gt; mallory&amp;co@example.com" in text  # no @channel, no link, no escape sequence
    assert "<" not in text and "\x1b" not in text


def test_slack_keeps_within_fifty_blocks(tmp_path, monkeypatch, webhook_receiver):
    alerts = [spike_alert(f"user{number}@example.com") for number in range(60)]
    deliver([slack(tmp_path, monkeypatch, webhook_receiver.base_url)], alerts, site_url="https://b.example.com")
    blocks = json.loads(webhook_receiver.received[0].body)["blocks"]
    assert len(blocks) <= 50
    sections = [block for block in blocks if block["type"] == "section"]
    assert blocks[-1]["type"] == "context"
    assert blocks[-1]["elements"][0]["text"].startswith(f"…and {60 - len(sections)} more alerts")


@pytest.mark.parametrize("status, body", [(404, b"no_service"), (500, b"internal error for ")])
def test_slack_refusing_is_one_line_without_the_url(tmp_path, monkeypatch, webhook_receiver, status, body):
    webhook_receiver.answer = Answer(status=status, body=body, echo_path=True)  # the page quotes the path
    notifier = slack(tmp_path, monkeypatch, webhook_receiver.base_url)
    (failure,) = deliver([notifier], [budget_alert()])
    assert failure.startswith(f"notifier finops-slack: Slack at {webhook_receiver.base_url} answered {status}")
    assert body.decode().strip() in failure and "TEAM_SLACK_URL" in failure
    assert_one_line_without(failure, SLACK_TOKEN, f"/services/{SLACK_TOKEN}")


def test_slack_url_never_reaches_the_logs(tmp_path, monkeypatch, webhook_receiver, caplog):
    caplog.set_level(logging.DEBUG)
    deliver([slack(tmp_path, monkeypatch, webhook_receiver.base_url)], [budget_alert()])
    assert webhook_receiver.received and caplog.records  # urllib3 did log the request
    assert_one_line_without(caplog.text.replace("\n", " "), SLACK_TOKEN, f"/services/{SLACK_TOKEN}")


def test_slack_too_slow_is_one_line(tmp_path, monkeypatch, webhook_receiver):
    webhook_receiver.answer = Answer(delay=2.0)
    notifier = slack(tmp_path, monkeypatch, webhook_receiver.base_url, timeout_seconds=0.3)
    (failure,) = deliver([notifier], [budget_alert()])
    assert failure == (f"notifier finops-slack: Slack at {webhook_receiver.base_url}: no answer within 0.3s; "
                       "the alerts may not have arrived")


#: How long past its timeout_seconds a notifier may take to give up (a loaded machine's slack).
GRACE_SECONDS = 3.0


@pytest.mark.parametrize("trickle", [TRICKLED_BODY, TRICKLED_HEADERS], ids=["body", "headers"])
def test_a_server_that_trickles_is_cut_off_at_the_timeout(tmp_path, monkeypatch, trickling_server, trickle):
    # a byte (or a header) every 0.1 s: no single read ever waits the 1 s, the whole answer would take minutes
    server = trickling_server(*trickle, interval=0.1)
    url = f"http://127.0.0.1:{server.port}"
    notifier = webhook(tmp_path, monkeypatch, f"{url}/hooks/billing", extra="    timeout_seconds: 1\n")
    started = time.monotonic()
    (failure,) = deliver([notifier], [budget_alert()])
    assert time.monotonic() - started < 1 + GRACE_SECONDS
    assert failure == f"notifier ops-hook: the webhook at {url}: no answer within 1s; the alerts may not have arrived"


def test_slack_refused_connection_is_one_line(tmp_path, monkeypatch, refused_port):
    notifier = slack(tmp_path, monkeypatch, f"http://127.0.0.1:{refused_port}")
    (failure,) = deliver([notifier], [budget_alert()])
    assert failure == (f"notifier finops-slack: Slack at http://127.0.0.1:{refused_port}: cannot connect "
                       "(connection refused); check the address and that the server is up")


def test_slack_server_that_never_answers_is_one_line(tmp_path, monkeypatch, silent_server):
    notifier = slack(tmp_path, monkeypatch, f"http://127.0.0.1:{silent_server.port}", timeout_seconds=0.3)
    (failure,) = deliver([notifier], [budget_alert()])
    assert "no answer within 0.3s" in failure
    assert_one_line_without(failure, SLACK_TOKEN)


def test_slack_tls_failure_is_one_line(tmp_path, monkeypatch, https_receiver):
    notifier = slack(tmp_path, monkeypatch, https_receiver.base_url)
    (failure,) = deliver([notifier], [budget_alert()])
    assert failure.startswith(f"notifier finops-slack: Slack at {https_receiver.base_url}: its certificate could "
                              "not be verified: self-signed certificate")
    assert https_receiver.received == []
    assert_one_line_without(failure, SLACK_TOKEN, f"/services/{SLACK_TOKEN}")


# --- webhook -------------------------------------------------------------------------------------------


def webhook(tmp_path, monkeypatch, url: str, *, secret: str | None = SIGNING_SECRET, extra: str = ""):
    lines = f"  ops-hook:\n    type: webhook\n    url: {url}\n"
    env = {}
    if secret is not None:
        lines += "    secret_env: OPS_HOOK_SECRET\n"
        env["OPS_HOOK_SECRET"] = secret
    (notifier,) = notifiers(tmp_path, lines + extra, env, monkeypatch)
    return notifier


def test_webhook_posts_the_versioned_json_signed(tmp_path, monkeypatch, webhook_receiver):
    notifier = webhook(tmp_path, monkeypatch, f"{webhook_receiver.base_url}/hooks/billing")
    assert deliver([notifier], [budget_alert(), spike_alert(HOSTILE)], site_url="https://b.example.com/r") == []
    (request,) = webhook_receiver.received
    assert request.path == "/hooks/billing"
    timestamp = request.headers["X-Billing-Reports-Timestamp"]
    expected = hmac.new(SIGNING_SECRET.encode(), timestamp.encode() + b"." + request.body, hashlib.sha256).hexdigest()
    assert request.headers["X-Billing-Reports-Signature"] == f"sha256={expected}"
    document = json.loads(request.body)
    assert (document["schema"], document["version"], document["site_url"]) == ("billing-reports.alerts", 1,
                                                                                 "https://b.example.com/r")
    assert document["id"] == request.headers["X-Billing-Reports-Delivery"]
    assert document["headline"] == "2 billing alerts: 1 critical, 1 warning"
    budget, spike = document["alerts"]
    assert {key: budget[key] for key in ("key", "rule", "severity", "subject_kind", "subject", "period", "link", "url")} == {
        "key": "budget/team/2026-11", "rule": "budget", "severity": "critical", "subject_kind": "team",
        "subject": "", "period": "2026-11", "link": "billing_dashboard.html",
        "url": "https://b.example.com/r/billing_dashboard.html"}
    assert budget["figures"][0] == {"label": "Spent", "kind": "money", "value": "4123.45678900", "text": "$4,123.46"}
    assert budget["figures"][2] == {"label": "Share", "kind": "percent", "value": 82.5, "text": "82.5%"}
    assert spike["subject"] == HOSTILE  # data as it is: the receiver escapes it for its own use


def test_a_tampered_body_fails_the_signature(tmp_path, monkeypatch, webhook_receiver):
    deliver([webhook(tmp_path, monkeypatch, webhook_receiver.base_url)], [budget_alert()])
    (request,) = webhook_receiver.received
    timestamp = request.headers["X-Billing-Reports-Timestamp"]
    tampered = request.body.replace(b"critical", b"info", 1)
    expected = hmac.new(SIGNING_SECRET.encode(), timestamp.encode() + b"." + tampered, hashlib.sha256).hexdigest()
    assert request.headers["X-Billing-Reports-Signature"] != f"sha256={expected}"


def test_webhook_without_a_secret_is_unsigned(tmp_path, monkeypatch, webhook_receiver):
    deliver([webhook(tmp_path, monkeypatch, webhook_receiver.base_url, secret=None)], [budget_alert()])
    (request,) = webhook_receiver.received
    assert "X-Billing-Reports-Signature" not in request.headers and json.loads(request.body)["version"] == 1


def test_webhook_url_from_the_environment_is_kept_secret(tmp_path, monkeypatch, webhook_receiver):
    webhook_receiver.answer = Answer(status=500, body=b"failed ", echo_path=True)
    token_url = f"{webhook_receiver.base_url}/hook?token=s3cr3t+en/é&x=1"
    (notifier,) = notifiers(tmp_path, "  ops-hook:\n    type: webhook\n    url_env: OPS_HOOK_URL\n",
                            {"OPS_HOOK_URL": token_url}, monkeypatch)
    (failure,) = deliver([notifier], [budget_alert()])
    assert failure.startswith(f"notifier ops-hook: the webhook at {webhook_receiver.base_url} answered 500")
    assert_one_line_without(failure, "token=s3cr3t+en/é&x=1", "s3cr3t+en/é")


def test_webhook_failure_never_shows_the_signing_secret(tmp_path, monkeypatch, webhook_receiver):
    webhook_receiver.answer = Answer(status=401, body=SIGNING_SECRET.encode() + b" " + quote(SIGNING_SECRET).encode())
    (failure,) = deliver([webhook(tmp_path, monkeypatch, webhook_receiver.base_url)], [budget_alert()])
    assert "answered 401" in failure
    assert_one_line_without(failure, SIGNING_SECRET)


def test_webhook_trusts_a_private_ca(tmp_path, monkeypatch, https_receiver, localhost_certificate):
    notifier = webhook(tmp_path, monkeypatch, https_receiver.base_url, extra=f"    ca_file: {localhost_certificate.cert}\n")
    assert deliver([notifier], [budget_alert()]) == []
    assert len(https_receiver.received) == 1


def test_a_failing_notifier_leaves_the_others_running(tmp_path, monkeypatch, webhook_receiver, refused_port):
    broken = webhook(tmp_path, monkeypatch, f"http://127.0.0.1:{refused_port}", secret=None)
    working = webhook(tmp_path, monkeypatch, webhook_receiver.base_url, secret=None)
    failures = deliver([broken, working], [budget_alert()])
    assert len(failures) == 1 and failures[0].startswith("notifier ops-hook: the webhook at")
    assert len(webhook_receiver.received) == 1


def test_a_notifier_failure_is_a_billing_reports_error(tmp_path, monkeypatch, refused_port):
    notifier = webhook(tmp_path, monkeypatch, f"http://127.0.0.1:{refused_port}", secret=None)
    with pytest.raises(BillingReportsError):
        notifier.send([budget_alert()], site_url=None)


def _readme_notifiers() -> str:
    from pathlib import Path

    readme = (Path(__file__).resolve().parent.parent / "README.md").read_text(encoding="utf-8")
    return readme.split("\n## Notifiers\n", 1)[1].split("\n## ", 1)[0]


def test_the_readme_check_accepts_our_post_and_refuses_a_tampered_one(tmp_path, monkeypatch, webhook_receiver):
    """The README's receiver code is real: docs cannot drift from the signature."""
    import re
    import textwrap

    code = textwrap.dedent(re.search(r"```python\n(.*?)```", _readme_notifiers(), flags=re.DOTALL).group(1))
    module: dict = {}
    exec(compile(code, "README.md", "exec"), module)
    deliver([webhook(tmp_path, monkeypatch, webhook_receiver.base_url)], [budget_alert()])
    (request,) = webhook_receiver.received
    timestamp, signed = request.headers["X-Billing-Reports-Timestamp"], request.headers["X-Billing-Reports-Signature"]
    assert module["genuine"](SIGNING_SECRET.encode(), timestamp, signed, request.body)
    assert not module["genuine"](SIGNING_SECRET.encode(), timestamp, signed, request.body + b" ")
    assert not module["genuine"](b"another secret", timestamp, signed, request.body)
    old = str(int(timestamp) - 3600)  # signed rightly, but an hour ago: a replay
    resigned = "sha256=" + hmac.new(SIGNING_SECRET.encode(), old.encode() + b"." + request.body, hashlib.sha256).hexdigest()
    assert module["genuine"](SIGNING_SECRET.encode(), str(int(timestamp)), signed, request.body)
    assert not module["genuine"](SIGNING_SECRET.encode(), old, resigned, request.body)


def test_the_readme_yaml_configures_the_three_kinds(tmp_path, monkeypatch):
    import re
    import textwrap

    yaml_text = textwrap.dedent(re.search(r"```yaml\n(.*?)```", _readme_notifiers(), flags=re.DOTALL).group(1))
    for name, value in {"SLACK_WEBHOOK_URL": "https://hooks.slack.com/services/T/B/X", "OPS_WEBHOOK_SECRET": "x",
                        "SMTP_USERNAME": "bot", "SMTP_PASSWORD": "pw"}.items():
        monkeypatch.setenv(name, value)
    config = tmp_path / "config.yaml"
    config.write_text(yaml_text, encoding="utf-8")
    assert [type(n).__name__ for n in configured_notifiers(load_settings(config))] == [
        "SlackNotifier", "WebhookNotifier", "EmailNotifier"]
