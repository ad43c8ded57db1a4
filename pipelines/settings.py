"""Run configuration: the shipped defaults merged with a user's override file, validated once into the typed
`Settings` (pipelines/config_schema.py), and safe paths under HOME."""
from __future__ import annotations

import copy
from pathlib import Path
from typing import get_args

import yaml
from pydantic import BaseModel, ValidationError

from pipelines.config_schema import WORDED, Settings

CONFIG_DIR = Path(__file__).parent / "config"
DEFAULT_CONFIG = CONFIG_DIR / "default.yaml"
DEFAULT_CATALOG = CONFIG_DIR / "action_catalog.yaml"

TYPE_NAMES = {"bool_type": "true or false", "int_type": "a whole number", "float_type": "a number",
              "string_type": "a text", "model_type": "a mapping", "dict_type": "a mapping", "list_type": "a list",
              "date_type": "a date (YYYY-MM-DD)"}


class ConfigError(ValueError):
    """A user-supplied configuration file or value is invalid."""


def merge_config(base: dict, override: dict) -> dict:
    """Deep-merge `override` into a copy of `base` (mappings are merged, anything else replaced); whether the
    result is a valid configuration is for `Settings` to say."""
    merged = copy.deepcopy(base)
    for key, value in override.items():
        if isinstance(value, dict) and isinstance(base.get(key), dict):
            merged[key] = merge_config(base[key], value)
        else:
            merged[key] = value
    return merged


def load_settings(path: str | Path | None = None) -> Settings:
    """The default configuration merged with the YAML file at `path` if given (the one place that parses
    config/default.yaml), validated once: an unknown key, a value of another type than the default's or an
    impossible value raises ConfigError naming the file, the key and the value."""
    config = yaml.safe_load(DEFAULT_CONFIG.read_text(encoding="utf-8"))
    if path is not None:
        path = Path(path)
        config = merge_config(config, _read_override(path))
    try:
        return Settings.model_validate(config)
    except ValidationError as exc:
        message = error_message(exc)
        raise ConfigError(f"{path}: {message}" if path is not None else message) from None


def check_catalog(settings: Settings, catalog_path: Path, config_path: str | Path | None = None) -> None:
    """Read the action catalog a run will use and check the configuration's keys that name its actions
    (`decisions.action_volume_caps`, `decisions.levers`) before anything runs, not when the decisions asset reads
    them after training: ConfigError naming the file, the key and the value."""
    from models.decisions.catalog import CatalogError, load_catalog
    from models.decisions.policies import read_decision_settings
    from models.features.customer_features import FEATURE_COLUMNS

    try:
        catalog = load_catalog(catalog_path, set(FEATURE_COLUMNS))
    except CatalogError as exc:
        raise ConfigError(str(exc)) from None  # it names the catalog file, the action and the field
    try:
        read_decision_settings(settings.as_dict(), catalog)
    except ValueError as exc:
        raise ConfigError(f"{config_path}: {exc}" if config_path else str(exc)) from None


def load_config(path: str | Path | None = None) -> dict:
    """`load_settings(path)` as a plain mapping, for the functions of models/ and demo/ that take one."""
    return load_settings(path).as_dict()


def _read_override(path: Path) -> dict:
    try:
        override = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    except FileNotFoundError as exc:
        raise ConfigError(f"{path}: configuration file not found") from exc
    except yaml.YAMLError as exc:
        raise ConfigError(f"{path}: not valid YAML ({exc.__class__.__name__}: {str(exc).splitlines()[0]})") from exc
    except ValueError as exc:  # a date YAML reads as one but no calendar has (2026-02-30)
        raise ConfigError(f"{path}: not valid YAML ({exc})") from exc
    if not isinstance(override, dict):
        raise ConfigError(f"{path}: expected a mapping of configuration keys, got {type(override).__name__}")
    return override


def error_message(exc: ValidationError) -> str:
    """The first error of a validation as one sentence naming the dotted key and the value: the one place that
    words pydantic's errors."""
    error = exc.errors()[0]
    key = ".".join(f"[{part}]" if isinstance(part, int) else str(part) for part in error["loc"]).replace(".[", "[")
    kind, value = error["type"], error.get("input")
    if kind == WORDED:
        return error["msg"]
    if kind == "extra_forbidden":
        return f"unknown configuration key '{key}'"
    if kind == "missing":
        return f"'{key}' is missing"
    if kind == "literal_error":
        choices = get_args(_field(error["loc"]).annotation)
        return f"'{key}' must be one of {', '.join(choices)}, got {value!r}"
    if kind in ("greater_than_equal", "less_than_equal", "greater_than", "less_than"):
        return f"'{key}' must be {_bounds(_field(error['loc']).metadata)}, got {value!r}"
    return f"'{key}' must be {TYPE_NAMES.get(kind, error['msg'])}, got {value!r}"


def _field(loc: tuple):
    """The pydantic field of `Settings` at `loc`."""
    model: type[BaseModel] = Settings
    for part in loc[:-1]:
        model = model.model_fields[part].annotation
    return model.model_fields[loc[-1]]


def _bounds(metadata) -> str:
    low = next((m.ge for m in metadata if hasattr(m, "ge")), None)
    high = next((m.le for m in metadata if hasattr(m, "le")), None)
    return f"at least {low}" if high is None else f"between {low} and {high}"


def resolve_inside(root: Path, relative: str | Path, what: str) -> Path:
    """Resolve `relative` under `root`, refusing anything that escapes it (../, absolute paths, links)."""
    root = Path(root).resolve()
    candidate = (root / relative).resolve()
    if candidate != root and root not in candidate.parents:
        raise ConfigError(f"{what} '{relative}' escapes its root folder {root}")
    return candidate
