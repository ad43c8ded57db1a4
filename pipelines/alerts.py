"""Alerts when a night fails or its landing is late: the `alerts:` config section, the messages, and their
delivery to a webhook (Slack / Teams-compatible JSON `{"text": ...}`) and / or by SMTP e-mail. Plain Python (no
Dagster): the failure and landing-deadline sensors in pipelines/sensors.py wire it. Secrets (the webhook URL, the
SMTP login) come only from environment variables the config names, never from the config file."""
from __future__ import annotations

import datetime as dt
import json
import smtplib
import urllib.request
from dataclasses import dataclass
from email.message import EmailMessage
from typing import Mapping

from pipelines import config_schema
from pipelines.settings import ConfigError

TIMEOUT_SECONDS = 20
READY_MARKER_NAME = "_READY"


@dataclass(frozen=True)
class SmtpSettings:
    host: str
    port: int
    sender: str
    recipients: tuple[str, ...]
    starttls: bool
    username_env: str
    password_env: str


@dataclass(frozen=True)
class AlertSettings:
    """Where alerts go; a channel is off while its setting is empty."""

    webhook_url_env: str
    smtp: SmtpSettings | None
    ui_url: str
    minimum_interval_seconds: int
    landing_deadline: dt.time | None = None


def alert_settings(section: config_schema.Alerts) -> AlertSettings:
    """The channels of the checked `alerts:` section (Settings.alerts): a channel is off while it is empty."""
    smtp = section.smtp
    return AlertSettings(webhook_url_env=section.webhook_url_env, smtp=_smtp_settings(smtp) if smtp.host else None,
                         ui_url=section.ui_url.rstrip("/"), minimum_interval_seconds=section.minimum_interval_seconds,
                         landing_deadline=config_schema.landing_deadline(section.landing_deadline))


def _smtp_settings(smtp: config_schema.Smtp) -> SmtpSettings:
    return SmtpSettings(host=smtp.host, port=smtp.port, sender=smtp.sender, recipients=tuple(smtp.to),
                        starttls=smtp.starttls, username_env=smtp.username_env, password_env=smtp.password_env)


def run_url(ui_url: str, run_id: str) -> str:
    """The run's page in the Dagster UI."""
    return f"{ui_url.rstrip('/')}/runs/{run_id}"


def failure_alert(job: str, night: str | None, reason: str, link: str) -> tuple[str, str]:
    """(subject, text) of the alert for one failed run: the night (as-of date), the one-line reason `nba run`
    prints (it names the failed asset or check) and the link to the run."""
    night_text = f"night {night}" if night else "a run without an as-of date"
    subject = f"NBA {night_text} FAILED ({job})"
    text = (f"{subject}: {reason}. Exports of earlier nights are unchanged. Run: {link}")
    return subject, text


def landing_missing_alert(night: str, folder: str, deadline: str, timezone: str) -> tuple[str, str]:
    """(subject, text) of the alert for a night whose landing folder has not arrived complete by the deadline."""
    subject = f"NBA night {night} NO LANDING by {deadline} ({timezone})"
    text = (f"{subject}: {folder} has no {READY_MARKER_NAME} marker yet, so the night has not started. "
            "The lists of earlier nights stay published; the night runs once the folder and its marker arrive.")
    return subject, text


def deliver(settings: AlertSettings, subject: str, text: str, environ: Mapping[str, str]) -> tuple[list[str], list[str]]:
    """Send the alert on every configured channel: (channels that took it, one error line per channel that did
    not). A channel whose secret variable is unset is an error, not a silent skip."""
    sent, errors = [], []
    if settings.webhook_url_env:
        url = environ.get(settings.webhook_url_env, "")
        if not url:
            errors.append(f"webhook: environment variable {settings.webhook_url_env} (alerts.webhook_url_env) is not set")
        else:
            _record(sent, errors, "webhook", lambda: post_webhook(url, text))
    if settings.smtp is not None:
        _record(sent, errors, "e-mail", lambda: send_email(settings.smtp, subject, text, environ))
    return sent, errors


def _record(sent: list[str], errors: list[str], channel: str, send) -> None:
    try:
        send()
        sent.append(channel)
    except (OSError, smtplib.SMTPException, ConfigError) as exc:  # URLError and socket errors are OSErrors
        errors.append(f"{channel}: {exc.__class__.__name__}: {exc}")


def post_webhook(url: str, text: str) -> None:
    """POST `{"text": text}` as JSON: what Slack and Microsoft Teams incoming webhooks accept."""
    request = urllib.request.Request(url, data=json.dumps({"text": text}).encode("utf-8"), method="POST",
                                     headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(request, timeout=TIMEOUT_SECONDS) as response:
        response.read()


def send_email(smtp: SmtpSettings, subject: str, text: str, environ: Mapping[str, str]) -> None:
    """One plain-text e-mail to the configured recipients (STARTTLS and login when configured)."""
    message = EmailMessage()
    message["Subject"], message["From"], message["To"] = subject, smtp.sender, ", ".join(smtp.recipients)
    message.set_content(text)
    with smtplib.SMTP(smtp.host, smtp.port, timeout=TIMEOUT_SECONDS) as client:
        if smtp.starttls:
            client.starttls()
        if smtp.username_env:
            missing = [name for name in (smtp.username_env, smtp.password_env) if not environ.get(name)]
            if missing:
                raise ConfigError(f"environment variable(s) {', '.join(missing)} (alerts.smtp) not set")
            client.login(environ[smtp.username_env], environ[smtp.password_env])
        client.send_message(message)
