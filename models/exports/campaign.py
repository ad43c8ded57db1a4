"""The campaign an export set belongs to: its deterministic id and the facts every list and manifest carry."""
from __future__ import annotations

import datetime as dt
import hashlib
import json

from models.exports.lists import LANGUAGES
from models.exports.run_summary import offer_text


def config_fingerprint(config: dict) -> str:
    """Short stable hash of a configuration, part of the campaign id."""
    return hashlib.sha256(json.dumps(config, sort_keys=True, default=str).encode()).hexdigest()[:12]


def campaign_id(as_of: dt.date, input_sha256: str, config: dict, policy_version: str, model_versions: dict) -> str:
    """A deterministic id for one as-of date's lists: the same inputs, config, catalog and models give the
    same id, so a rerun writes byte-identical lists (the Dagster run id is in the run summary instead)."""
    basis = json.dumps([input_sha256, config_fingerprint(config), policy_version, sorted(model_versions.items())])
    return f"nba-{as_of.isoformat()}-{hashlib.sha256(basis.encode()).hexdigest()[:12]}"


def campaign_info(as_of: dt.date, input_sha256: str, config: dict, policy_version: str, model_versions: dict,
                  baseline_models: list[str] = ()) -> dict:
    """The run facts the lists and the manifest record: campaign id, as-of date, policy and model versions, the
    targets scored by their rule baseline instead of a model, control-group share and the date the lists stop
    being valid."""
    return {"campaign_id": campaign_id(as_of, input_sha256, config, policy_version, model_versions), "as_of": as_of,
            "policy_version": policy_version, "model_versions": model_versions,
            "baseline_models": sorted(baseline_models),
            "control_group_share": float(config["decisions"]["holdout_share"]),
            "valid_until": as_of + dt.timedelta(days=int(config["decisions"]["valid_for_days"]))}


def export_actions(catalog) -> dict[str, dict]:
    """action id -> the texts the lists show (names, type, script hints, offer text per language)."""
    return {a.id: {"name": a.names, "type": a.type, "script_hint": a.script_hints,
                   "offer": {lang: offer_text(a.offer_cost_share, lang) for lang in LANGUAGES}} for a in catalog.actions}
