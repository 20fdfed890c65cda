"""The built-in notifier kinds under ``notify:``: registered like any plugin's, every problem of the
section at once naming its key, secrets only from the environment or ``.env`` and never shown."""

from __future__ import annotations

import pytest

from billing_reports.errors import ConfigError
from billing_reports.notifications import configured_notifiers, notifier_kinds
from billing_reports.plugin_manager import describe_plugins, get_plugin_manager
from billing_reports.settings import load_settings

SLACK_URL = "https://hooks.slack.com/services/T0AAA/B0BBB/s3cr3tToken"


@pytest.fixture(autouse=True)
def _no_secrets_from_outside(monkeypatch):
    for name in ("SLACK_WEBHOOK_URL", "TEAM_SLACK", "HOOK_URL", "HOOK_SECRET", "MAIL_USER", "MAIL_PASSWORD"):
        monkeypatch.delenv(name, raising=False)


def configured(tmp_path, notify_yaml: str, env_file: str | None = None):
    config = tmp_path / "config.yaml"
    config.write_text(f"notify:\n{notify_yaml}", encoding="utf-8")
    if env_file is not None:
        (tmp_path / ".env").write_text(env_file, encoding="utf-8")
    return configured_notifiers(load_settings(config))


def problems(tmp_path, notify_yaml: str, env_file: str | None = None) -> str:
    with pytest.raises(ConfigError) as raised:
        configured(tmp_path, notify_yaml, env_file)
    message = raised.value.message
    assert "\n" not in message and "s3cr3t" not in message
    return message


def test_the_three_kinds_are_built_in_plugins():
    manager = get_plugin_manager(load_entry_points=False)
    assert sorted(notifier_kinds(manager)) == ["email", "slack", "webhook"]
    listed = {entry["name"]: entry for entry in describe_plugins(manager)}
    assert listed["billing_reports.notifiers.slack"]["notifiers"] == ["slack"]
    assert listed["billing_reports.notifiers.smtp"]["builtin"] is True


def test_secrets_come_from_dotenv(tmp_path):
    notifiers = configured(tmp_path, "  chat:\n    type: slack\n  hook:\n    type: webhook\n    url_env: HOOK_URL\n"
                                     "    secret_env: HOOK_SECRET\n",
                           env_file=f"SLACK_WEBHOOK_URL={SLACK_URL}\nHOOK_URL=https://ops.example.com/h?t=s3cr3t\n"
                                    "HOOK_SECRET=s3cr3t-signing\n")
    assert [notifier.name for notifier in notifiers] == ["chat", "hook"]
    assert all("s3cr3t" not in repr(vars(notifier).get("config")) for notifier in notifiers)


def test_a_missing_secret_names_its_variable(tmp_path):
    assert problems(tmp_path, "  chat:\n    type: slack\n    webhook_url_env: TEAM_SLACK\n") == (
        f"{tmp_path / 'config.yaml'}: notify.chat.webhook_url_env: TEAM_SLACK is not set; put the Slack webhook URL "
        "in the environment or .env as TEAM_SLACK=... (never in config.yaml)")


def test_a_secret_written_in_config_is_refused_unshown(tmp_path):
    message = problems(tmp_path, f"  chat:\n    type: slack\n    webhook_url: {SLACK_URL}\n"
                                 "  hook:\n    type: webhook\n    url: https://ops.example.com\n    secret: s3cr3t\n"
                                 "  mail:\n    type: email\n    host: smtp.example.com\n    from: a@example.com\n"
                                 "    to: b@example.com\n    password: s3cr3t\n")
    assert "3 problems in notify" in message  # (one per notifier; a notifier's own are joined by "; ")
    assert ("notify.chat.webhook_url: a secret never goes in config.yaml; put it in the environment or .env and "
            "name its variable with webhook_url_env") in message
    assert "notify.hook.secret: a secret never goes in config.yaml" in message
    assert "notify.mail.password: a secret never goes in config.yaml" in message


def test_every_problem_of_the_section_at_once(tmp_path):
    message = problems(tmp_path, "  chat:\n    type: slack\n    timeout_seconds: 0\n    channel: '#finops'\n"
                                 "  hook:\n    type: webhook\n"
                                 "  mail:\n    type: email\n    port: 99999\n    to: [finance@example.com, nobody]\n"
                                 "    username_env: MAIL_USER\n"
                                 "  pager:\n    type: pagerduty\n")
    assert message.startswith(f"{tmp_path / 'config.yaml'}: ")
    for expected in [
        "notify.chat.timeout_seconds: expected a number of seconds above 0 and at most 300, found 0",
        "notify.chat.channel: unknown key; expected one of timeout_seconds, webhook_url_env",
        "notify.hook.url: give either url or url_env",
        "notify.mail.port: expected a port number from 1 to 65535, found 99999",
        "notify.mail.to: expected an e-mail address such as finance@example.com",
        "notify.mail.host: missing; the SMTP server, such as smtp.example.com",
        "notify.mail.from: missing; the sender's address",
        "notify.pager.type: expected one of email, slack, webhook, found 'pagerduty'",
    ]:
        assert expected in message


def test_login_needs_both_variables(tmp_path):
    message = problems(tmp_path, "  mail:\n    type: email\n    host: smtp.example.com\n    from: a@example.com\n"
                                 "    to: b@example.com\n    username_env: MAIL_USER\n")
    assert message.endswith("notify.mail.password_env: give both username_env and password_env, or neither "
                            "(a server that needs no login)")


def test_a_variable_holding_no_url_is_refused_unshown(tmp_path):
    message = problems(tmp_path, "  chat:\n    type: slack\n  hook:\n    type: webhook\n    url_env: HOOK_URL\n",
                       env_file="SLACK_WEBHOOK_URL=http://hooks.slack.com/services/s3cr3t\nHOOK_URL=s3cr3t\n")
    assert "notify.chat.webhook_url_env: SLACK_WEBHOOK_URL does not hold a webhook URL" in message
    assert "notify.hook.url_env: HOOK_URL does not hold an http:// or https:// URL" in message


def test_a_non_ascii_smtp_password_is_refused_unshown(tmp_path):
    message = problems(tmp_path, "  mail:\n    type: email\n    host: smtp.example.com\n    from: a@example.com\n"
                                 "    to: b@example.com\n    username_env: MAIL_USER\n    password_env: MAIL_PASSWORD\n",
                       env_file="MAIL_USER=bot\nMAIL_PASSWORD=s3cr3t-é\n")
    assert "notify.mail.password_env: MAIL_PASSWORD holds a non-ASCII character" in message


def test_no_notify_section_is_no_notifier(tmp_path):
    config = tmp_path / "config.yaml"
    config.write_text("billing:\n  top_spenders_count: 3\n", encoding="utf-8")
    assert configured_notifiers(load_settings(config)) == []


def test_a_missing_ca_file_and_a_url_of_another_scheme(tmp_path):
    message = problems(tmp_path, "  hook:\n    type: webhook\n    url: ftp://ops.example.com/h\n"
                                 "  mail:\n    type: email\n    host: smtp.example.com\n    from: a@example.com\n"
                                 "    to: b@example.com\n    ca_file: certs/missing.pem\n")
    assert "notify.hook.url: expected a URL starting with http:// or https://, found 'ftp://ops.example.com/h'" in message
    assert (f"notify.mail.ca_file: {tmp_path / 'certs' / 'missing.pem'} is not a file; give the CA bundle (PEM) "
            "to trust") in message
