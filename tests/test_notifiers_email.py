"""The email notifier against a real SMTP server on 127.0.0.1 (aiosmtpd, STARTTLS required, then a
login), with a certificate made for the test: the message as received, and every failure one line."""

from __future__ import annotations

import email
import email.policy
import time
from urllib.parse import quote, quote_plus

import pytest

from billing_reports.alerts import Alert, AlertFigure
from billing_reports.notifications import configured_notifiers, deliver
from billing_reports.settings import load_settings
from notify_servers import (  # noqa: F401 (fixtures)
    TRICKLED_EHLO_REPLY, TRICKLED_GREETING, SmtpReceiver, localhost_certificate, refused_port, silent_server,
    smtp_receiver, trickling_server,
)

pytestmark = pytest.mark.server

HOSTILE = "<script>alert(1)</script>\r\nBcc: all@example.com"


def budget_alert() -> Alert:
    return Alert(rule="budget", key="budget/group/platform/2026-11", severity="critical", subject_kind="group",
                 subject="platform", title="Platform's spend projected past its budget",
                 detail="Projected to pass $800.00 on Nov 22.",
                 figures=(AlertFigure("Spent", 61_234_500_000, "money"), AlertFigure("Budget", 80_000_000_000, "money")),
                 link="groups/platform.html", period="2026-11", level=1.2)


def limit_alert(subject: str = "bob@example.com") -> Alert:
    return Alert(rule="cursor-limit", key=f"cursor-limit/user/{subject}", severity="warning", subject_kind="user",
                 subject=subject, title=f"{subject} is at 92% of their spend limit",
                 figures=(AlertFigure("Used", 92.0, "percent"),), link="users/bob.html", period="2026-11")


def email_notifier(tmp_path, monkeypatch, port: int, *, ca_file=None, username=SmtpReceiver.username,
                   password=SmtpReceiver.password, timeout=None):
    monkeypatch.setenv("TEST_SMTP_USER", username)
    monkeypatch.setenv("TEST_SMTP_PASSWORD", password)
    lines = ("notify:\n  finance-mail:\n    type: email\n    host: 127.0.0.1\n"
             f"    port: {port}\n    from: billing@example.com\n    to: [finance@example.com, lead@example.com]\n"
             "    username_env: TEST_SMTP_USER\n    password_env: TEST_SMTP_PASSWORD\n")
    if ca_file:
        lines += f"    ca_file: {ca_file}\n"
    if timeout:
        lines += f"    timeout_seconds: {timeout}\n"
    config = tmp_path / "config.yaml"
    config.write_text(lines, encoding="utf-8")
    (notifier,) = configured_notifiers(load_settings(config))
    return notifier


def assert_one_line_without(message: str, *secrets: str) -> None:
    assert "\n" not in message and "Traceback" not in message
    for secret in secrets:
        for form in {secret, quote(secret, safe=""), quote(secret), quote_plus(secret)}:
            assert form not in message, f"a secret shows ({form!r}) in: {message}"


def test_sends_one_message_over_starttls_with_a_login(tmp_path, monkeypatch, smtp_receiver, localhost_certificate):
    notifier = email_notifier(tmp_path, monkeypatch, smtp_receiver.port, ca_file=localhost_certificate.cert)
    assert deliver([notifier], [limit_alert(), budget_alert()], site_url="https://billing.example.com") == []
    ((envelope, tls),) = smtp_receiver.messages
    assert tls is not None  # the message came after STARTTLS
    assert envelope.mail_from == "billing@example.com"
    assert envelope.rcpt_tos == ["finance@example.com", "lead@example.com"]
    message = email.message_from_bytes(envelope.original_content, policy=email.policy.default)
    assert message["Subject"] == "[billing-reports] 2 billing alerts: 1 critical, 1 warning"
    plain = message.get_body(("plain",)).get_content()
    assert plain.splitlines()[:8] == [
        "2 billing alerts: 1 critical, 1 warning",
        "",
        "[CRITICAL] group platform: Platform's spend projected past its budget",
        "  Projected to pass $800.00 on Nov 22.",
        "  Spent: $612.35",
        "  Budget: $800.00",
        "  https://billing.example.com/groups/platform.html",
        "",
    ]
    assert "[WARNING] user bob@example.com: bob@example.com is at 92% of their spend limit" in plain
    assert "  Used: 92.0%" in plain
    page = message.get_body(("html",)).get_content()
    assert '<a href="https://billing.example.com/users/bob.html">' in page
    assert "<td style=\"text-align:right\">$612.35</td>" in page


def test_a_single_alert_is_the_subject(tmp_path, monkeypatch, smtp_receiver, localhost_certificate):
    notifier = email_notifier(tmp_path, monkeypatch, smtp_receiver.port, ca_file=localhost_certificate.cert)
    deliver([notifier], [limit_alert()])
    message = email.message_from_bytes(smtp_receiver.messages[0][0].original_content, policy=email.policy.default)
    # (a long subject is folded: the parser keeps the fold's space)
    assert message["Subject"].strip() == "[billing-reports] warning: bob@example.com is at 92% of their spend limit"
    assert "https://" not in message.get_body(("plain",)).get_content()  # no site URL, no links


def test_hostile_names_are_escaped_and_inject_no_header(tmp_path, monkeypatch, smtp_receiver, localhost_certificate):
    notifier = email_notifier(tmp_path, monkeypatch, smtp_receiver.port, ca_file=localhost_certificate.cert)
    assert deliver([notifier], [limit_alert(HOSTILE)]) == []
    ((envelope, _),) = smtp_receiver.messages
    assert envelope.rcpt_tos == ["finance@example.com", "lead@example.com"]
    message = email.message_from_bytes(envelope.original_content, policy=email.policy.default)
    assert message["Bcc"] is None
    page = message.get_body(("html",)).get_content()
    assert "<script>" not in page and "&lt;script&gt;alert(1)&lt;/script&gt;" in page


def test_an_unverifiable_certificate_is_one_line(tmp_path, monkeypatch, smtp_receiver):
    notifier = email_notifier(tmp_path, monkeypatch, smtp_receiver.port)  # the system's CAs: not ours
    (failure,) = deliver([notifier], [budget_alert()])
    assert failure == (f"notifier finance-mail: SMTP server 127.0.0.1:{smtp_receiver.port}: its TLS certificate "
                       "could not be verified (self-signed certificate); fix the server's certificate or trust its "
                       "CA with ca_file")
    assert smtp_receiver.messages == []


def test_a_refused_login_is_one_line_without_the_password(tmp_path, monkeypatch, smtp_receiver, localhost_certificate):
    wrong = "wr0ng p@ss/word+&=x"
    notifier = email_notifier(tmp_path, monkeypatch, smtp_receiver.port, ca_file=localhost_certificate.cert,
                              password=wrong)
    (failure,) = deliver([notifier], [budget_alert()])
    assert failure == (f"notifier finance-mail: SMTP server 127.0.0.1:{smtp_receiver.port} refused the login (535); "
                       "check TEST_SMTP_USER and TEST_SMTP_PASSWORD")
    assert_one_line_without(failure, wrong)
    assert smtp_receiver.messages == []


def test_a_refused_connection_is_one_line(tmp_path, monkeypatch, refused_port):
    (failure,) = deliver([email_notifier(tmp_path, monkeypatch, refused_port)], [budget_alert()])
    assert failure == (f"notifier finance-mail: cannot connect to SMTP server 127.0.0.1:{refused_port} "
                       "(connection refused); check host and port")


def test_a_server_that_never_answers_is_one_line(tmp_path, monkeypatch, silent_server):
    notifier = email_notifier(tmp_path, monkeypatch, silent_server.port, timeout=0.3)
    (failure,) = deliver([notifier], [budget_alert()])
    assert failure == (f"notifier finance-mail: SMTP server 127.0.0.1:{silent_server.port}: no answer within 0.3s; "
                       "check host, port and the network")


#: How long past its timeout_seconds the notifier may take to give up (a loaded machine's slack).
GRACE_SECONDS = 3.0


@pytest.mark.parametrize("trickle, options", [(TRICKLED_GREETING, {"reads_first": False}),
                                              (TRICKLED_EHLO_REPLY, {"greeting": b"220 smtp.example.com ESMTP\r\n"})],
                         ids=["greeting", "ehlo-reply"])
def test_a_server_that_trickles_is_cut_off_at_the_timeout(tmp_path, monkeypatch, trickling_server, trickle, options):
    # a line every 0.1 s: no single read ever waits the 1 s, and the reply never ends
    server = trickling_server(*trickle, interval=0.1, **options)
    notifier = email_notifier(tmp_path, monkeypatch, server.port, timeout=1)
    started = time.monotonic()
    (failure,) = deliver([notifier], [budget_alert()])
    assert time.monotonic() - started < 1 + GRACE_SECONDS
    assert failure == (f"notifier finance-mail: SMTP server 127.0.0.1:{server.port}: no answer within 1s; "
                       "check host, port and the network")


def test_a_refused_recipient_is_named_and_the_others_get_it(tmp_path, monkeypatch, smtp_receiver,
                                                             localhost_certificate):
    smtp_receiver.refused = {"lead@example.com"}
    notifier = email_notifier(tmp_path, monkeypatch, smtp_receiver.port, ca_file=localhost_certificate.cert)
    (failure,) = deliver([notifier], [budget_alert()])
    assert failure == (f"notifier finance-mail: SMTP server 127.0.0.1:{smtp_receiver.port} refused "
                       "lead@example.com (550); the others got the alerts")
    ((envelope, _),) = smtp_receiver.messages
    assert envelope.rcpt_tos == ["finance@example.com"]


def test_every_recipient_refused_is_one_line(tmp_path, monkeypatch, smtp_receiver, localhost_certificate):
    smtp_receiver.refused = {"lead@example.com", "finance@example.com"}
    notifier = email_notifier(tmp_path, monkeypatch, smtp_receiver.port, ca_file=localhost_certificate.cert)
    (failure,) = deliver([notifier], [budget_alert()])
    assert failure == (f"notifier finance-mail: SMTP server 127.0.0.1:{smtp_receiver.port} refused every recipient: "
                       "finance@example.com (550), lead@example.com (550)")
    assert smtp_receiver.messages == []


def test_a_message_lists_at_most_a_hundred_alerts_and_counts_the_rest():
    from billing_reports.alerts import Alert
    from billing_reports.notifiers.smtp import MAX_ALERTS, html_body, plain_text

    many = [Alert("spike", f"spike/u{n}@example.com/2026-11-0{n % 9 + 1}", "warning", "user", f"u{n}@example.com",
                  f"Spike {n}") for n in range(MAX_ALERTS + 250)]
    text = plain_text(many, site_url=None)
    assert text.count("[WARNING]") == MAX_ALERTS and "… and 250 more alerts: see the site's alerts page." in text
    assert html_body(many, site_url=None).count("<h2") == MAX_ALERTS
    assert "more alert" not in plain_text(many[:3], site_url=None)
