"""The typed run configuration: one frozen pydantic model per section of config/default.yaml, whose types, bounds
and choices are the checks (a value of another type than the shipped default's, a share above 1, an unknown
language). The defaults stay in default.yaml: these models validate the merged file and hold no default values.
pipelines/settings.load_settings builds `Settings` and turns a validation error into one message."""
from __future__ import annotations

import datetime as dt
import re
import zoneinfo
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator
from pydantic_core import PydanticCustomError

from models.exports.delivery import delivery_targets
from models.exports.profiles import load_profiles
from models.golden.contactability import ContactSettings

WORDED = "nba_config"  # the error type of a check that words its own message (key and value included)
AS_OF_CHOICES = ("today", "yesterday")

Share = Annotated[float, Field(ge=0, le=1)]
Days = Annotated[int, Field(ge=1)]
Count = Annotated[int, Field(ge=1)]
FreeForm = dict[str, Any]  # keys are the user's own: action ids, XGBoost parameters, file paths


def worded(message: str) -> PydanticCustomError:
    """A validation error whose message is already the sentence the user reads."""
    return PydanticCustomError(WORDED, "{message}", {"message": message})


class Section(BaseModel):
    """A config section: immutable, no unknown keys, no silent conversion (an int is accepted for a float)."""

    model_config = ConfigDict(strict=True, extra="forbid", frozen=True)


class Contactability(Section):
    default_region: str
    default_time_zone: str
    default_language: str


class Warehouse(Section):
    memory_limit: str
    threads: Count


class Ingest(Section):
    max_bad_row_share: Share
    max_future_days: Annotated[int, Field(ge=0)]


class Training(Section):
    churn_horizon_days: Days
    upsell_horizon_days: Days
    clv_horizon_days: Days
    n_cutoffs: Count
    cutoff_spacing_days: Days
    min_history_days: Annotated[int, Field(ge=0)]
    horizon_fallback: bool
    seasonal_calibration: bool
    max_training_rows_per_cutoff: Count
    retrain_every_days: Days
    promotion_tolerance: Share
    response_min_contacts: Count
    response_max_campaign_dates: Count
    response_max_plan_nights: Count
    response_prior_sd: Annotated[float, Field(ge=0)]
    surrogacy_alpha: Share
    xgboost_params: FreeForm


class ContactPolicy(Section):
    max_contacts_per_channel_7d: int
    max_contacts_per_channel_30d: int
    cooldown_after_decline_days: int


class Decisions(Section):
    top_k: Count
    min_margin_value: Annotated[float, Field(ge=0)]  # an amount in the extracts' currency (0.5 is one)
    option_confidence: float
    policy_confidence: float
    policy_bound: Literal["single", "shared"]
    keep_deployed_policy: bool
    one_action_per_customer: bool
    holdout_share: Share
    holdout_salt: str
    exploration_share: Share
    capacity_calls_per_night: Annotated[int, Field(ge=0)]
    offer_budget_per_night: Annotated[float, Field(ge=0)]
    action_volume_caps: FreeForm
    margin_rate: Share
    contact_policy: ContactPolicy
    valid_for_days: Days
    levers: FreeForm


class Feedback(Section):
    assume_delivered_after_days: Annotated[int, Field(ge=0)]
    lift_period: Literal["night", "week"]
    lift_lookback_days: Days
    lift_remeasure_days: Annotated[int, Field(ge=0)]
    lift_confidence: Annotated[float, Field(ge=0.5, le=0.999)]
    lift_min_customers_per_arm: Count
    kpi_window_days: Days


class Exports(Section):
    profiles: list[str]
    delivery: FreeForm
    excel_friendly: bool
    excel_delimiter: str


class Partitions(Section):
    first_as_of_date: dt.date | None

    @field_validator("first_as_of_date", mode="before")
    @classmethod
    def _date(cls, value):
        if value is None or isinstance(value, dt.date):
            return value
        try:
            return dt.date.fromisoformat(str(value))
        except ValueError:
            raise worded(f"'partitions.first_as_of_date' must be a date (YYYY-MM-DD), got {value!r}") from None


class ScheduleSettings(Section):
    """The nightly schedule: a five-field cron in an IANA time zone, which date a tick runs, on or off."""

    cron: str
    timezone: str
    as_of: str
    enabled: bool

    @field_validator("cron", mode="before")
    @classmethod
    def _cron(cls, cron):
        if not isinstance(cron, str) or len(cron.split()) != 5:
            raise worded(f"schedule.cron '{cron}' is not a cron expression of five fields "
                         "(minute hour day-of-month month day-of-week), e.g. '30 1 * * 1-5'")
        from dagster._utils.schedules import is_valid_cron_string  # the parser the daemon itself uses

        cron = " ".join(cron.split())
        if not is_valid_cron_string(cron):
            raise worded(f"schedule.cron '{cron}' is not a valid cron expression")
        return cron

    @field_validator("timezone", mode="before")
    @classmethod
    def _timezone(cls, timezone):
        try:
            zoneinfo.ZoneInfo(str(timezone))
        except (zoneinfo.ZoneInfoNotFoundError, ValueError):
            raise worded(f"schedule.timezone '{timezone}' is not an IANA time zone name, "
                         "e.g. 'Europe/Lisbon'") from None
        return str(timezone)

    @field_validator("as_of", mode="before")
    @classmethod
    def _as_of(cls, as_of):
        if as_of not in AS_OF_CHOICES:
            raise worded(f"schedule.as_of '{as_of}' must be one of {', '.join(AS_OF_CHOICES)}")
        return as_of

    @field_validator("enabled", mode="before")
    @classmethod
    def _enabled(cls, enabled):
        if not isinstance(enabled, bool):
            raise worded(f"schedule.enabled '{enabled}' must be true or false")
        return enabled


def _at_least(key: str, low: int, what: str):
    """A wrap validator: the value's type is checked first, then `low`, in the section's own wording."""

    def check(value, handler):
        checked = handler(value)
        if checked < low:
            raise worded(f"{key} '{value}' must be {what}")
        return checked

    return check


class SensorSettings(Section):
    """The landing sensor: on or off, and how often the daemon may evaluate it."""

    enabled: bool
    minimum_interval_seconds: int

    _interval = field_validator("minimum_interval_seconds", mode="wrap")(
        _at_least("sensor.minimum_interval_seconds", 1, "a whole number of seconds >= 1"))


class RetentionSettings(Section):
    """How much history a HOME keeps (0: keep all of that kind) and whether nba serve cleans after each night."""

    exports_nights_to_keep: int
    mlflow_runs_to_keep: int
    dagster_run_history_days: int
    after_each_night: bool

    @field_validator("exports_nights_to_keep", "mlflow_runs_to_keep", "dagster_run_history_days", mode="wrap")
    @classmethod
    def _count(cls, value, handler, info):
        return _at_least(f"retention.{info.field_name}", 0, "a whole number >= 0 (0 keeps everything)")(value, handler)


class Logs(Section):
    max_megabytes: float
    keep_files: int

    _keep = field_validator("keep_files", mode="wrap")(_at_least("logs.keep_files", 1, "a whole number >= 1"))

    @field_validator("max_megabytes", mode="wrap")
    @classmethod
    def _size(cls, value, handler):
        size = handler(value)
        if size <= 0:
            raise worded(f"logs.max_megabytes '{value}' must be a number of megabytes above 0")
        return size


class Smtp(Section):
    host: str
    port: int
    sender: str = Field(alias="from")
    to: list[str]
    starttls: bool
    username_env: str
    password_env: str

    @model_validator(mode="after")
    def _complete(self):
        if self.host and (not self.to or not self.sender):
            raise worded("alerts.smtp needs 'from' and at least one 'to' address when alerts.smtp.host is set")
        if self.host and bool(self.username_env) != bool(self.password_env):
            raise worded("alerts.smtp.username_env and alerts.smtp.password_env are set together or not at all")
        return self


def landing_deadline(text) -> dt.time | None:
    """`alerts.landing_deadline` as a time of day in the schedule's time zone, or None when it is empty (off)."""
    if not text:
        return None
    match = re.fullmatch(r"([01]?\d|2[0-3]):([0-5]\d)", text.strip()) if isinstance(text, str) else None
    if match is None:  # an unquoted 06:00 is a YAML 1.1 base-60 number
        raise worded(f"alerts.landing_deadline '{text}' is not a time of day \"HH:MM\" (24 h, in quotes), "
                     "e.g. \"06:00\"")
    return dt.time(int(match.group(1)), int(match.group(2)))


class Alerts(Section):
    webhook_url_env: str
    smtp: Smtp
    ui_url: str
    minimum_interval_seconds: int
    landing_deadline: str

    _interval = field_validator("minimum_interval_seconds", mode="wrap")(
        _at_least("alerts.minimum_interval_seconds", 1, "a whole number of seconds >= 1"))

    @field_validator("landing_deadline", mode="before")
    @classmethod
    def _deadline(cls, text):
        return text if landing_deadline(text) else ""


class Settings(Section):
    """The whole run configuration, as validated at load; `as_dict()` for the plain functions of models/."""

    seed: int
    xgboost_threads: Count
    language: Literal["en", "es", "pt"]
    currency: str
    contactability: Contactability
    warehouse: Warehouse
    ingest: Ingest
    training: Training
    decisions: Decisions
    feedback: Feedback
    exports: Exports
    partitions: Partitions
    schedule: ScheduleSettings
    sensor: SensorSettings
    retention: RetentionSettings
    logs: Logs
    alerts: Alerts
    paths: FreeForm

    @field_validator("currency")
    @classmethod
    def _currency(cls, currency: str) -> str:
        if not (len(currency) == 3 and currency.isalpha() and currency.isupper()):
            raise worded(f"'currency' must be a three-letter ISO 4217 code such as EUR, got {currency!r}")
        return currency

    @model_validator(mode="after")
    def _consistent(self):
        """The checks that read several keys or files: contact defaults, export profiles, delivery targets."""
        config = self.as_dict()
        try:
            ContactSettings.from_config(config)
            load_profiles(self.exports.profiles)
            delivery_targets(config, self.exports.profiles)
        except ValueError as error:
            raise worded(str(error)) from None
        return self

    def as_dict(self) -> dict:
        """The configuration as the plain mapping of default.yaml's keys (a new copy each call)."""
        return self.model_dump(by_alias=True)
