"""Alert settings, the alert text and its delivery to a local webhook receiver and SMTP server."""
import pytest

from pipelines import alerts, settings
from tests.pipelines.receivers import smtp_receiver, webhook_receiver

REASON = "step 'raw__purchases' failed: purchases.csv: required column 'amount' is missing"


def configured(tmp_path, text: str) -> alerts.AlertSettings:
    path = tmp_path / "nba.yaml"
    path.write_text(text, encoding="utf-8")
    return alerts.alert_settings(settings.load_settings(path).alerts)


def test_the_alert_names_the_night_the_failure_and_the_run_link():
    subject, text = alerts.failure_alert("nightly_nba", "2026-11-02", REASON,
                                         alerts.run_url("http://127.0.0.1:3000/", "abc-123"))
    assert subject == "NBA night 2026-11-02 FAILED (nightly_nba)"
    assert text == (f"{subject}: {REASON}. Exports of earlier nights are unchanged. "
                    "Run: http://127.0.0.1:3000/runs/abc-123")


def test_no_channel_is_configured_by_default():
    defaults = alerts.alert_settings(settings.load_settings().alerts)
    assert (defaults.webhook_url_env, defaults.smtp) == ("", None)
    assert alerts.deliver(defaults, "s", "t", {}) == ([], [])


def test_one_message_reaches_the_webhook_and_the_mailbox(tmp_path):
    with webhook_receiver() as (url, posts), smtp_receiver() as (port, mails):
        alerting = configured(tmp_path, f"""
alerts:
  webhook_url_env: NBA_TEST_WEBHOOK
  smtp: {{host: 127.0.0.1, port: {port}, from: nba@example.org, to: [ops@example.org, ds@example.org],
          starttls: false}}
""")
        sent, errors = alerts.deliver(alerting, "NBA night 2026-11-02 FAILED", "the text", {"NBA_TEST_WEBHOOK": url})
    assert (sent, errors) == (["webhook", "e-mail"], [])
    assert posts == [{"content_type": "application/json", "text": "the text"}]
    assert len(mails) == 1
    assert mails[0]["Subject"] == "NBA night 2026-11-02 FAILED"
    assert mails[0]["To"] == "ops@example.org, ds@example.org"
    assert mails[0].get_content().strip() == "the text"


def test_an_unset_secret_and_an_unreachable_server_are_errors_not_silence(tmp_path):
    alerting = configured(tmp_path, """
alerts:
  webhook_url_env: NBA_TEST_WEBHOOK
  smtp: {host: 127.0.0.1, port: 9, from: a@b.c, to: [d@e.f], starttls: false}
""")
    sent, errors = alerts.deliver(alerting, "s", "t", {})
    assert sent == []
    assert errors[0] == "webhook: environment variable NBA_TEST_WEBHOOK (alerts.webhook_url_env) is not set"
    assert errors[1].startswith("e-mail: ConnectionRefusedError")


@pytest.mark.parametrize("override, message", [
    ("alerts: {smtp: {host: mail.example.org}}", "alerts.smtp needs 'from' and at least one 'to'"),
    ("alerts: {smtp: {host: m, from: a@b.c, to: [d@e.f], username_env: U}}", "username_env and alerts.smtp.password_env"),
    ("alerts: {smtp: {host: m, password: hunter2}}", "unknown configuration key 'alerts.smtp.password'"),
    ("alerts: {minimum_interval_seconds: -1}", "alerts.minimum_interval_seconds '-1'"),
])
def test_a_wrong_alert_setting_is_named(tmp_path, override, message):
    with pytest.raises(settings.ConfigError, match=message):
        configured(tmp_path, override + "\n")
