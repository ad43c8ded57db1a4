"""Run configuration: the shipped defaults merged with a user's override file, and safe paths under HOME."""
from __future__ import annotations

import copy
import datetime as dt
from pathlib import Path

import yaml

from models.exports.delivery import delivery_targets
from models.exports.profiles import STANDARD, load_profiles
from models.golden.contactability import ContactSettings

CONFIG_DIR = Path(__file__).parent / "config"
DEFAULT_CONFIG = CONFIG_DIR / "default.yaml"
DEFAULT_CATALOG = CONFIG_DIR / "action_catalog.yaml"


class ConfigError(ValueError):
    """A user-supplied configuration file or value is invalid."""


def merge_config(base: dict, override: dict, _path: str = "") -> dict:
    """Deep-merge `override` into a copy of `base`; unknown keys are rejected so typos surface."""
    merged = copy.deepcopy(base)
    for key, value in override.items():
        where = f"{_path}{key}"
        if key not in base and not _free_form(_path):
            raise ConfigError(f"unknown configuration key '{where}'")
        if key in base and not where.startswith(OWN_CHECKS):
            _check_type(where, base[key], value)
        if isinstance(value, dict) and isinstance(base.get(key), dict):
            merged[key] = merge_config(base[key], value, f"{where}.")
        else:
            merged[key] = value
    return merged


FREE_FORM_SECTIONS = ("exports.delivery.", "decisions.levers.", "decisions.action_volume_caps.",
                      "training.xgboost_params.", "paths.")


# keys checked with their own wording: the schedule (pipelines/schedule_settings.py) and the landing deadline
# (pipelines/alerts.py; an unquoted 06:00 is a YAML 1.1 base-60 number)
OWN_CHECKS = ("schedule.", "alerts.landing_deadline")
TYPE_NAMES = {bool: "true or false", int: "a whole number", float: "a number", str: "a text", dict: "a mapping",
              list: "a list"}

# key -> (lowest, highest) allowed value, None for no bound: values a night cannot run with
RANGES = {
    "xgboost_threads": (1, None), "warehouse.threads": (1, None),
    "ingest.max_bad_row_share": (0, 1), "ingest.max_future_days": (0, None),
    "training.churn_horizon_days": (1, None), "training.upsell_horizon_days": (1, None),
    "training.clv_horizon_days": (1, None), "training.n_cutoffs": (1, None), "training.cutoff_spacing_days": (1, None),
    "training.min_history_days": (0, None), "training.max_training_rows_per_cutoff": (1, None),
    "training.retrain_every_days": (1, None), "training.promotion_tolerance": (0, 1),
    "training.response_min_contacts": (1, None), "training.response_max_campaign_dates": (1, None),
    "training.response_max_plan_nights": (1, None),
    "training.response_prior_sd": (0, None), "training.surrogacy_alpha": (0, 1),
    "decisions.top_k": (1, None), "decisions.holdout_share": (0, 1), "decisions.exploration_share": (0, 1),
    "decisions.capacity_calls_per_night": (0, None), "decisions.offer_budget_per_night": (0, None),
    "decisions.margin_rate": (0, 1), "decisions.valid_for_days": (1, None),
    "feedback.assume_delivered_after_days": (0, None), "feedback.lift_confidence": (0.5, 0.999),
    "feedback.lift_min_customers_per_arm": (1, None), "feedback.kpi_window_days": (1, None),
    "feedback.lift_lookback_days": (1, None),
}
CHOICES = {"language": ("en", "es", "pt"), "feedback.lift_period": ("night", "week"),
           "decisions.policy_bound": ("single", "shared")}


def _check_type(key: str, default, value) -> None:
    """A value of another type than the shipped default's (an int is a number; a bool is not) is refused."""
    if default is None:
        return
    expected = type(default)
    ok = isinstance(value, expected) and not (expected is not bool and isinstance(value, bool))
    if expected is float and isinstance(value, int) and not isinstance(value, bool):
        ok = True
    if not ok:
        raise ConfigError(f"'{key}' must be {TYPE_NAMES.get(expected, expected.__name__)}, got {value!r}")


def check_values(config: dict) -> None:
    """Refuse values a night cannot run with (a share above 1, a horizon of 0 days, an unknown language; the
    schedule's cron and time zone are checked by pipelines/schedule_settings.py), naming the key and the value."""
    for key, (low, high) in RANGES.items():
        value = _value_at(config, key)
        if value is None:
            continue
        if (low is not None and value < low) or (high is not None and value > high):
            bounds = f"at least {low}" if high is None else f"between {low} and {high}"
            raise ConfigError(f"'{key}' must be {bounds}, got {value!r}")
    first = (config.get("partitions") or {}).get("first_as_of_date")
    if first is not None and not isinstance(first, dt.date):
        try:
            dt.date.fromisoformat(str(first))
        except ValueError:
            raise ConfigError(f"'partitions.first_as_of_date' must be a date (YYYY-MM-DD), got {first!r}") from None
    currency = config.get("currency")
    if currency is not None and not (len(currency) == 3 and currency.isalpha() and currency.isupper()):
        raise ConfigError(f"'currency' must be a three-letter ISO 4217 code such as EUR, got {currency!r}")
    for key, allowed in CHOICES.items():
        if (value := _value_at(config, key)) not in allowed:
            raise ConfigError(f"'{key}' must be one of {', '.join(allowed)}, got {value!r}")
    try:
        ContactSettings.from_config(config)
        chosen = config.get("exports", {}).get("profiles", [STANDARD])
        load_profiles(chosen)
        delivery_targets(config, chosen)
    except ValueError as error:
        raise ConfigError(str(error)) from None


def _value_at(config: dict, key: str):
    """The value of a dotted key ('feedback.lift_period'), None when a part is missing."""
    value = config
    for part in key.split("."):
        value = value.get(part) if isinstance(value, dict) else None
    return value


def _free_form(path: str) -> bool:
    """Sections whose keys are the user's own (action ids, XGBoost parameters, file paths)."""
    return path.startswith(FREE_FORM_SECTIONS)


def load_config(path: str | Path | None = None) -> dict:
    """Load the default configuration, merged with the YAML file at `path` if given (the one place that
    parses config/default.yaml). The override is checked once here: unknown keys, values of another type than
    the default's and impossible values raise ConfigError naming the file, the key and the value."""
    config = yaml.safe_load(DEFAULT_CONFIG.read_text(encoding="utf-8"))
    config.setdefault("decisions", {}).setdefault("levers", {})
    config.setdefault("paths", {})
    if path is None:
        return config
    path = Path(path)
    try:
        override = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    except FileNotFoundError as exc:
        raise ConfigError(f"{path}: configuration file not found") from exc
    except yaml.YAMLError as exc:
        raise ConfigError(f"{path}: not valid YAML ({exc.__class__.__name__}: {str(exc).splitlines()[0]})") from exc
    if not isinstance(override, dict):
        raise ConfigError(f"{path}: expected a mapping of configuration keys, got {type(override).__name__}")
    try:
        merged = merge_config(config, override)
        check_values(merged)
        return merged
    except ConfigError as exc:
        raise ConfigError(f"{path}: {exc}") from exc


def resolve_inside(root: Path, relative: str | Path, what: str) -> Path:
    """Resolve `relative` under `root`, refusing anything that escapes it (../, absolute paths, links)."""
    root = Path(root).resolve()
    candidate = (root / relative).resolve()
    if candidate != root and root not in candidate.parents:
        raise ConfigError(f"{what} '{relative}' escapes its root folder {root}")
    return candidate
