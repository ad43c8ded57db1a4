"""Export layer: per-channel campaign lists and the call-center list, published atomically per night."""

import datetime as dt
import hashlib
import json
import os
from pathlib import Path

import dagster as dg
import pandas as pd

from assets._common import as_of_date
from assets.training import input_fingerprint
from models.decisions.catalog import load_catalog
from models.exports.compliance import ComplianceInputs
from models.exports.lists import build_export_lists
from models.exports.publishing import write_export_set
from models.features.customer_features import FEATURE_COLUMNS
from models.exports.run_summary import offer_text, render_run_summary
from models.golden.suppression import load_suppressed_ids
from pipelines.partitions import as_of_partitions
from pipelines.settings import config_fingerprint
from pipelines.resources import NbaHome


def read_night(con) -> dict[str, pd.DataFrame]:
    """Tonight's decision inputs for the exports, in a deterministic order."""
    return {
        "nba": con.execute("SELECT * FROM next_best_actions ORDER BY customer_id, rank").df(),
        "customers": con.execute("SELECT * FROM golden_customers ORDER BY customer_id").df(),
        "scores": con.execute("SELECT * FROM customer_scores ORDER BY customer_id").df(),
        "reasons": con.execute("SELECT * FROM customer_reasons ORDER BY customer_id").df(),
        "intake": con.execute("SELECT extract, rows_in, rows_accepted AS accepted, rows_quarantined AS quarantined "
                              "FROM staging_log ORDER BY extract").df(),
        "models": con.execute("SELECT target, version, trained_as_of, reason FROM model_selection ORDER BY target").df(),
    }


def campaign_id(nba: NbaHome, as_of: dt.date, config: dict, policy_version: str, model_versions: dict) -> str:
    """A deterministic id for tonight's lists: the same inputs, config, catalog and models give the same id,
    so a rerun of a night writes byte-identical lists (the Dagster run id is in the run summary)."""
    basis = json.dumps([input_fingerprint(nba), config_fingerprint(config), policy_version,
                        sorted(model_versions.items())])
    return f"nba-{as_of.isoformat()}-{hashlib.sha256(basis.encode()).hexdigest()[:12]}"


def write_text_atomically(path: Path, text: str) -> None:
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_text(text, encoding="utf-8")
    os.replace(tmp, path)


@dg.asset(
    key=["exports", "campaign_lists"], group_name="exports", kinds={"csv", "parquet"},
    partitions_def=as_of_partitions, owners=["team:marketing-ops"],
    deps=[["decisions", "next_best_actions"]],
    description="HOME/exports/<as-of>/: email, sms, app and call_center lists (CSV + Parquet), customer_scores.parquet, "
                "next_best_actions.parquet and manifest.json, written to a hidden folder, checked independently for "
                "consent / do-not-contact / erasure, then published in one rename. run_summary_<as-of>.md beside it.",
)
def campaign_lists(context: dg.AssetExecutionContext, nba: NbaHome) -> dg.MaterializeResult:
    as_of, config = as_of_date(context), nba.config()
    lang = config["language"]
    catalog = load_catalog(nba.catalog_path(), set(FEATURE_COLUMNS))
    with nba.warehouse() as con:
        night = read_night(con)
        suppressed = load_suppressed_ids(con, nba.suppression_path())
    actions = {a.id: {"name": a.names, "type": a.type, "script_hint": a.script_hints,
                      "offer": {l: offer_text(a.offer_cost_share, l) for l in ("en", "es", "pt")}} for a in catalog.actions}
    versions = {t: v for t, v in zip(night["models"]["target"], night["models"]["version"])}
    run_info = {"run_id": campaign_id(nba, as_of, config, catalog.version, versions), "as_of": as_of, "policy_version": catalog.version, "model_versions": versions,
                "control_group_share": float(config["decisions"]["holdout_share"]),
                "valid_until": as_of + dt.timedelta(days=int(config["decisions"]["valid_for_days"]))}
    reasons = {cid: list(r) for cid, r in zip(night["reasons"]["customer_id"], night["reasons"]["reasons"])}
    lists = build_export_lists(night["nba"], night["customers"], actions, reasons, run_info, lang)
    folder = write_export_set(lists, {"customer_scores": night["scores"], "next_best_actions": night["nba"]},
                              nba.exports_root, as_of, run_info, config,
                              ComplianceInputs(night["customers"], frozenset(suppressed)))
    chosen = night["nba"][night["nba"]["chosen"]]
    by_action = (chosen.fillna({"channel": "-"}).groupby(["action_id", "channel"]).size()
                 .reset_index(name="customers"))
    summary = context.instance.get_latest_materialization_event(dg.AssetKey(["decisions", "next_best_actions"]))
    decision_summary = summary.asset_materialization.metadata["summary"].value if summary else {}
    markdown = render_run_summary(as_of.isoformat(), f"{context.run_id} (campaign id {run_info['run_id']})", night["intake"], night["models"], by_action, decision_summary)
    write_text_atomically(nba.exports_root / f"run_summary_{as_of.isoformat()}.md", markdown)
    return dg.MaterializeResult(metadata={
        "export_folder": dg.MetadataValue.path(str(folder)),
        **{f"rows_{name}": len(frame) for name, frame in lists.items()},
        "run_summary": dg.MetadataValue.md(markdown),
    })


