"""Run configuration: the shipped defaults merged with a user's override file, and safe paths under HOME."""
from __future__ import annotations

import copy
from pathlib import Path

import yaml

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
        if isinstance(value, dict) and isinstance(base.get(key), dict):
            merged[key] = merge_config(base[key], value, f"{where}.")
        else:
            merged[key] = value
    return merged


FREE_FORM_SECTIONS = ("decisions.levers.", "decisions.action_volume_caps.", "training.xgboost_params.", "paths.")


def _free_form(path: str) -> bool:
    """Sections whose keys are the user's own (action ids, XGBoost parameters, file paths)."""
    return path.startswith(FREE_FORM_SECTIONS)


def load_config(path: str | Path | None = None) -> dict:
    """Load the default configuration, merged with the YAML file at `path` if given (the one place that
    parses config/default.yaml)."""
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
        return merge_config(config, override)
    except ConfigError as exc:
        raise ConfigError(f"{path}: {exc}") from exc


def resolve_inside(root: Path, relative: str | Path, what: str) -> Path:
    """Resolve `relative` under `root`, refusing anything that escapes it (../, absolute paths, links)."""
    root = Path(root).resolve()
    candidate = (root / relative).resolve()
    if candidate != root and root not in candidate.parents:
        raise ConfigError(f"{what} '{relative}' escapes its root folder {root}")
    return candidate
