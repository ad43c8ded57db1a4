"""The "no landing by HH:MM" alert: the sensor evaluated at fixed clock times (no waiting for real deadlines),
delivering to a local webhook receiver and SMTP server; one message per missed night, none when the folder with
its _READY marker arrived or on a day the schedule does not run."""
import datetime as dt
import json
import zoneinfo

import dagster as dg
import pytest

from pipelines import alerts, settings
from pipelines.resources import NbaHome
from pipelines.sensors import READY_MARKER, build_landing_deadline_sensor
from tests.pipelines.receivers import smtp_receiver, webhook_receiver

LISBON = zoneinfo.ZoneInfo("Europe/Lisbon")
MONDAY = dt.date(2026, 11, 2)


def at(day: dt.date, hour: int, minute: int = 0) -> dt.datetime:
    return dt.datetime(day.year, day.month, day.day, hour, minute, tzinfo=LISBON)


def load(tmp_path, extra: str = "", smtp_port: int = 9) -> settings.Settings:
    path = tmp_path / "nba.yaml"
    path.write_text(f"""
schedule: {{cron: "30 1 * * 1-5", timezone: Europe/Lisbon, as_of: today}}
alerts:
  webhook_url_env: NBA_TEST_WEBHOOK_URL
  smtp: {{host: 127.0.0.1, port: {smtp_port}, from: nba@example.org, to: [ops@example.org], starttls: false}}
  landing_deadline: "06:00"
{extra}""", encoding="utf-8")
    return settings.load_settings(path)


class Clock:
    """A settable clock for the sensor."""

    def __init__(self, now: dt.datetime):
        self.now = now

    def __call__(self) -> dt.datetime:
        return self.now


def evaluate(sensor, landing, cursor):
    """One evaluation as the daemon does it: (the cursor after it, its skip message)."""
    context = dg.build_sensor_context(cursor=cursor, resources={"home": NbaHome(home_dir=str(landing.parent / "home"),
                                                                                   landing_dir=str(landing))})
    result = sensor(context)
    return context.cursor, result.skip_message


@pytest.fixture
def receivers(monkeypatch):
    with webhook_receiver() as (url, posts), smtp_receiver() as (port, mails):
        monkeypatch.setenv("NBA_TEST_WEBHOOK_URL", url)
        yield port, posts, mails


def test_one_message_per_missed_night_none_before_the_deadline_nor_twice(tmp_path, receivers):
    port, posts, mails = receivers
    config = load(tmp_path, smtp_port=port)
    landing = tmp_path / "landing"
    (landing / MONDAY.isoformat()).mkdir(parents=True)  # the folder is there, its _READY marker is not
    clock = Clock(at(MONDAY, 5, 59))
    sensor = build_landing_deadline_sensor(alerts.alert_settings(config.alerts), config.schedule, True, clock)

    cursor, _ = evaluate(sensor, landing, None)
    assert posts == [] and mails == []  # a minute before the deadline

    clock.now = at(MONDAY, 6, 0)
    cursor, message = evaluate(sensor, landing, cursor)
    assert json.loads(cursor) == ["2026-11-02"]
    assert message == "landing of night 2026-11-02 overdue; alert sent by webhook, e-mail"
    expected = (f"NBA night 2026-11-02 NO LANDING by 06:00 (Europe/Lisbon): {landing / '2026-11-02'} has no _READY "
                "marker yet, so the night has not started. The lists of earlier nights stay published; the night "
                "runs once the folder and its marker arrive.")
    assert posts == [{"content_type": "application/json", "text": expected}]
    assert len(mails) == 1 and mails[0]["Subject"] == "NBA night 2026-11-02 NO LANDING by 06:00 (Europe/Lisbon)"
    assert mails[0].get_content().strip() == expected

    for hour in (6, 9, 23):  # later evaluations the same night send nothing more
        clock.now = at(MONDAY, hour, 30)
        cursor, _ = evaluate(sensor, landing, cursor)
    assert len(posts) == 1 and len(mails) == 1

    clock.now = at(MONDAY + dt.timedelta(days=1), 7)  # Tuesday's night is missed too: its own single message
    cursor, _ = evaluate(sensor, landing, cursor)
    assert [p["text"][:20] for p in posts] == ["NBA night 2026-11-02", "NBA night 2026-11-03"]
    assert json.loads(cursor) == ["2026-11-02", "2026-11-03"]


def test_silent_when_the_folder_arrived_with_its_marker_or_the_schedule_does_not_run(tmp_path, receivers):
    port, posts, mails = receivers
    config = load(tmp_path, smtp_port=port)
    landing = tmp_path / "landing"
    (landing / MONDAY.isoformat()).mkdir(parents=True)
    (landing / MONDAY.isoformat() / READY_MARKER).touch()
    clock = Clock(at(MONDAY, 8))
    sensor = build_landing_deadline_sensor(alerts.alert_settings(config.alerts), config.schedule, True, clock)
    cursor, message = evaluate(sensor, landing, None)
    assert (cursor, message) == (None, "no landing overdue")
    clock.now = at(dt.date(2026, 11, 7), 8)  # a Saturday: the cron '30 1 * * 1-5' runs no night
    cursor, message = evaluate(sensor, landing, None)
    assert (cursor, message) == (None, "no landing overdue")
    assert posts == [] and mails == []


def test_as_of_yesterday_expects_the_folder_of_the_day_before(tmp_path, receivers):
    port, posts, _ = receivers
    config = load(tmp_path, smtp_port=port)
    yesterday = config.schedule.model_copy(update={"as_of": "yesterday"})
    landing = tmp_path / "landing"
    (landing / MONDAY.isoformat()).mkdir(parents=True)
    (landing / MONDAY.isoformat() / READY_MARKER).touch()  # Monday's folder does not count for Monday's tick
    sensor = build_landing_deadline_sensor(alerts.alert_settings(config.alerts), yesterday, True,
                                           Clock(at(MONDAY, 6, 1)))
    evaluate(sensor, landing, None)
    assert len(posts) == 1 and posts[0]["text"].startswith("NBA night 2026-11-01 NO LANDING by 06:00")


def test_the_sensor_runs_under_nba_serve_only_with_a_deadline_and_a_channel(tmp_path):
    from pipelines.definitions import build_definitions

    served = build_definitions(load(tmp_path), switch_on=True)
    assert served.resolve_sensor_def("landing_deadline_alert").default_status == dg.DefaultSensorStatus.RUNNING
    assert build_definitions(load(tmp_path)).resolve_sensor_def(
        "landing_deadline_alert").default_status == dg.DefaultSensorStatus.STOPPED
    no_deadline = build_definitions(settings.load_settings(), switch_on=True)
    assert no_deadline.resolve_sensor_def("landing_deadline_alert").default_status == dg.DefaultSensorStatus.STOPPED


@pytest.mark.parametrize("value, shown", [('"25:00"', "'25:00'"), ("23:30", "'1410'"), ('"6 am"', "'6 am'")])
def test_a_wrong_deadline_is_named(tmp_path, value, shown):
    path = tmp_path / "nba.yaml"
    path.write_text(f"alerts: {{landing_deadline: {value}}}\n", encoding="utf-8")
    with pytest.raises(settings.ConfigError, match=f"alerts.landing_deadline {shown} is not a time of day"):
        alerts.alert_settings(settings.load_settings(path).alerts)
