"""The nightly schedule follows the user's config: the full cron in its time zone (across daylight-saving changes),
the as-of date a tick runs, and switched on only where `nba serve` loads it."""
import datetime as dt
import zoneinfo

import dagster as dg
import pytest
from dagster._utils.schedules import cron_string_iterator

from pipelines import settings
from pipelines.definitions import build_definitions
from pipelines.config_schema import ScheduleSettings, Settings
from pipelines.schedule_settings import as_of_for_tick
from pipelines.schedules import SCHEDULE_NAME

LISBON = zoneinfo.ZoneInfo("Europe/Lisbon")
UTC = dt.timezone.utc


def user_config(tmp_path, text: str) -> Settings:
    path = tmp_path / "nba.yaml"
    path.write_text(text, encoding="utf-8")
    return settings.load_settings(path)


@pytest.fixture()
def weekday_schedule(tmp_path) -> dg.ScheduleDefinition:
    config = user_config(tmp_path, 'schedule: {cron: "30 1 * * 1-5", timezone: Europe/Lisbon}\n')
    return build_definitions(config).resolve_schedule_def(SCHEDULE_NAME)


def next_ticks(schedule: dg.ScheduleDefinition, after: dt.datetime, n: int) -> list[dt.datetime]:
    """The schedule's next `n` ticks after `after`, by the cron iteration Dagster's daemon uses."""
    ticks = cron_string_iterator(after.timestamp(), schedule.cron_schedule, schedule.execution_timezone)
    return [next(ticks) for _ in range(n)]


def test_a_user_cron_and_time_zone_replace_the_defaults(weekday_schedule):
    assert weekday_schedule.cron_schedule == "30 1 * * 1-5"
    assert weekday_schedule.execution_timezone == "Europe/Lisbon"


def test_weekday_ticks_at_01_30_lisbon_time_across_the_spring_change(weekday_schedule):
    # Lisbon moves from WET (UTC+0) to WEST (UTC+1) at 01:00 UTC on Sunday 29 March 2026
    ticks = next_ticks(weekday_schedule, dt.datetime(2026, 3, 25, 12, tzinfo=UTC), 5)
    assert [t.astimezone(UTC) for t in ticks] == [
        dt.datetime(2026, 3, 26, 1, 30, tzinfo=UTC), dt.datetime(2026, 3, 27, 1, 30, tzinfo=UTC),  # Thu, Fri (WET)
        dt.datetime(2026, 3, 30, 0, 30, tzinfo=UTC), dt.datetime(2026, 3, 31, 0, 30, tzinfo=UTC),  # Mon, Tue (WEST)
        dt.datetime(2026, 4, 1, 0, 30, tzinfo=UTC)]
    assert {(t.astimezone(LISBON).hour, t.astimezone(LISBON).minute) for t in ticks} == {(1, 30)}


def test_weekday_ticks_across_the_autumn_change(weekday_schedule):
    # back to WET at 01:00 UTC on Sunday 25 October 2026: Friday is 00:30 UTC, Monday 01:30 UTC
    ticks = next_ticks(weekday_schedule, dt.datetime(2026, 10, 22, 12, tzinfo=UTC), 3)
    assert [t.astimezone(UTC) for t in ticks] == [
        dt.datetime(2026, 10, 23, 0, 30, tzinfo=UTC), dt.datetime(2026, 10, 26, 1, 30, tzinfo=UTC),
        dt.datetime(2026, 10, 27, 1, 30, tzinfo=UTC)]


@pytest.mark.parametrize("as_of, expected", [("today", "2026-03-30"), ("yesterday", "2026-03-29")])
def test_a_tick_runs_the_as_of_date_the_config_names(tmp_path, as_of, expected):
    config = user_config(tmp_path, f'schedule: {{cron: "30 1 * * 1-5", timezone: Europe/Lisbon, as_of: {as_of}}}\n')
    repository = build_definitions(config).get_repository_def()
    schedule = repository.get_schedule_def(SCHEDULE_NAME)
    tick = dt.datetime(2026, 3, 30, 0, 30, tzinfo=UTC)  # Monday 01:30 in Lisbon
    with dg.instance_for_test() as instance, dg.build_schedule_context(
            instance=instance, scheduled_execution_time=tick, repository_def=repository) as context:
        requests = schedule.evaluate_tick(context).run_requests
    assert [r.partition_key for r in requests] == [expected]


def test_a_tick_skips_a_night_that_already_succeeded(tmp_path):
    repository = build_definitions(settings.load_settings()).get_repository_def()
    schedule = repository.get_schedule_def(SCHEDULE_NAME)
    tick = dt.datetime(2026, 11, 2, 1, 0, tzinfo=UTC)  # 02:00 in Madrid: as-of 2026-11-02
    with dg.instance_for_test() as instance:
        def partitions_requested() -> list:
            with dg.build_schedule_context(instance=instance, scheduled_execution_time=tick,
                                           repository_def=repository) as context:
                return [r.partition_key for r in schedule.evaluate_tick(context).run_requests]

        assert partitions_requested() == ["2026-11-02"]
        for status, partition in ((dg.DagsterRunStatus.FAILURE, "2026-11-02"), (dg.DagsterRunStatus.SUCCESS, "2026-11-01")):
            instance.add_run(dg.DagsterRun(job_name="nightly_nba", run_id=f"{status.value}-{partition}", status=status,
                                           tags={"dagster/partition": partition}))
        assert partitions_requested() == ["2026-11-02"]  # a failed night, or another night, does not count
        instance.add_run(dg.DagsterRun(job_name="nightly_nba", run_id="landed", status=dg.DagsterRunStatus.SUCCESS,
                                       tags={"dagster/partition": "2026-11-02"}))
        assert partitions_requested() == []


def test_the_tick_date_is_the_local_date_not_the_utc_date():
    late_evening_utc = dt.datetime(2026, 7, 1, 23, 30, tzinfo=UTC)  # 01:30 on 2 July in Madrid
    assert as_of_for_tick(late_evening_utc, "Europe/Madrid", "today") == dt.date(2026, 7, 2)
    assert as_of_for_tick(late_evening_utc, "Europe/Lisbon", "today") == dt.date(2026, 7, 2)
    assert as_of_for_tick(late_evening_utc, "America/New_York", "yesterday") == dt.date(2026, 6, 30)


def test_the_schedule_is_switched_on_only_where_nba_serve_loads_it(tmp_path, monkeypatch):
    from pipelines import served

    stopped, running = dg.DefaultScheduleStatus.STOPPED, dg.DefaultScheduleStatus.RUNNING
    assert build_definitions(settings.load_settings()).resolve_schedule_def(SCHEDULE_NAME).default_status == stopped
    config = tmp_path / "nba.yaml"
    config.write_text('schedule: {cron: "30 1 * * 1-5", timezone: Europe/Lisbon}\nsensor: {enabled: false}\n')
    monkeypatch.setenv("NBA_CONFIG", str(config))
    loaded = served.defs()
    schedule = loaded.resolve_schedule_def(SCHEDULE_NAME)
    assert (schedule.cron_schedule, schedule.default_status) == ("30 1 * * 1-5", running)
    assert loaded.resolve_sensor_def("landing_sensor").default_status == dg.DefaultSensorStatus.STOPPED
    config.write_text("schedule: {enabled: false}\n")
    assert served.defs().resolve_schedule_def(SCHEDULE_NAME).default_status == stopped


def test_the_served_code_location_refuses_a_bad_config_when_it_loads(tmp_path, monkeypatch):
    """nba serve's daemon builds its schedule from NBA_CONFIG: a wrong value stops the load with the one message,
    so no tick and no asset ever runs on it."""
    from pipelines import served

    config = tmp_path / "nba.yaml"
    config.write_text("schedule: {timezone: Europe/Lisboa}\n", encoding="utf-8")
    monkeypatch.setenv("NBA_CONFIG", str(config))
    with pytest.raises(settings.ConfigError) as caught:
        served.defs()
    assert str(caught.value) == (f"{config}: schedule.timezone 'Europe/Lisboa' is not an IANA time zone name, "
                                 "e.g. 'Europe/Lisbon'")


@pytest.mark.parametrize("override, message", [
    ('schedule: {cron: "30 1 * *"}', "schedule.cron '30 1 * *'"),
    ('schedule: {cron: "61 1 * * *"}', "schedule.cron '61 1 * * *'"),
    ("schedule: {timezone: Europe/Lisboa}", "schedule.timezone 'Europe/Lisboa'"),
    ("schedule: {as_of: tomorrow}", "schedule.as_of 'tomorrow'"),
    ("schedule: {enabled: sometimes}", "schedule.enabled 'sometimes'"),
    ("sensor: {minimum_interval_seconds: 0}", "sensor.minimum_interval_seconds '0'"),
])
def test_a_wrong_schedule_setting_is_named(tmp_path, override, message):
    with pytest.raises(settings.ConfigError, match=message.replace("*", r"\*")):
        build_definitions(user_config(tmp_path, override + "\n"))


def test_schedule_settings_default_to_the_shipped_night():
    assert settings.load_settings().schedule == ScheduleSettings(
        cron="0  2 * * *", timezone="Europe/Madrid", as_of="today", enabled=True)
