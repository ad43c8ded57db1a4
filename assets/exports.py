"""Export layer: per-channel campaign lists and the call-center list, published atomically per night."""

import dagster as dg

from assets._common import as_of_date, night_check
from models import warehouse
from models.atomic import write_text_atomically
from models.decisions.catalog import load_catalog
from models.exports.campaign import campaign_info, export_actions
from data_contracts import load_contract
from models.exports.compliance import ComplianceError, ComplianceInputs
from models.exports.opt_outs import drop_erased, raw_opt_out_keys
from models.exports.contract import load_export_contract
from models.exports.delivery import deliver_export_set
from models.exports.lift_summary import realised_lift_section
from models.exports.lists import build_contact_rows, lists_from_contacts
from models.exports.profiles import load_profiles
from models.exports.publishing import recheck_published_set, write_export_set
from models.exports.run_summary import render_run_summary
from models.features.customer_features import FEATURE_COLUMNS
from models.golden.suppression import load_suppressed_ids
from pipelines.partitions import as_of_partitions
from pipelines.resources import NbaHome


@dg.asset(
    key=["exports", "campaign_lists"], group_name="exports", kinds={"csv", "parquet"},
    partitions_def=as_of_partitions, owners=["team:marketing-ops"],
    deps=[["decisions", "next_best_actions"], ["decisions", "realised_lift"]],
    check_specs=[night_check("export_compliance", asset=["exports", "campaign_lists"],
                             description="The published files re-read and checked for consent, do-not-contact, "
                                         "erasure and the golden contact fields.")],
    # paths in backticks: the UI renders descriptions as markdown, where a bare <as-of> is swallowed as an HTML tag
    description="`HOME/exports/<as-of>/`: per exports.profiles, the standard profile's email, sms, app and call_center "
                "lists (CSV + Parquet), customer_scores.parquet, next_best_actions.parquet, each tool profile's audiences "
                "and suppression files in `<profile>/`, and manifest.json, written to a hidden folder, checked "
                "independently for consent / do-not-contact / erasure, then published in one rename. "
                "`run_summary_<as-of>.md` beside it.",
)
def campaign_lists(context: dg.AssetExecutionContext, home: NbaHome):
    as_of, settings = as_of_date(context), home.settings()
    config = settings.as_dict()  # the functions of models/ take plain mappings
    catalog = load_catalog(home.catalog_path(), set(FEATURE_COLUMNS))
    with home.warehouse() as con:
        # the opt-out keys first: DuckDB's memory for them (~3.5 GB at 1,000,000 customers) then does not stack on the
        # decisions and golden records read into memory below
        raw_opt_outs = raw_opt_out_keys(con, as_of, load_contract("customers"), home.suppression_path())
        inputs = warehouse.read_export_inputs(con, as_of)
        suppressed = load_suppressed_ids(con, home.suppression_path())
        measured = warehouse.read_realised_lift(con, as_of)
    versions = {t: v for t, v in zip(inputs["models"]["target"], inputs["models"]["version"])}
    baselines = sorted(t for t, rule in zip(inputs["models"]["target"], inputs["models"]["baseline_rule"]) if rule)
    run_info = campaign_info(as_of, inputs["input_sha256"], config, catalog.version, versions, baselines)
    reasons = {cid: list(r) for cid, r in zip(inputs["reasons"]["customer_id"], inputs["reasons"]["reasons"])}
    profiles = load_profiles(settings.exports.profiles)
    contacts = build_contact_rows(inputs["next_best_actions"], inputs["customers"], export_actions(catalog), reasons,
                                  run_info, settings.contactability.default_language)
    lists = lists_from_contacts(contacts, load_export_contract())
    extras = {"customer_scores": drop_erased(inputs["scores"], suppressed),
              "next_best_actions": drop_erased(inputs["next_best_actions"], suppressed)}  # erased: in no file
    compliance = ComplianceInputs(inputs["customers"], frozenset(suppressed), raw_opt_outs)
    folder = write_export_set(lists, extras, home.exports_root, as_of, run_info, config,
                              compliance,
                              profiles=profiles, contacts=contacts)
    delivered = deliver_export_set(folder, config)
    markdown = render_run_summary(as_of.isoformat(), f"{context.run_id} (campaign id {run_info['campaign_id']})",
                                  inputs["intake"], inputs["models"], inputs["decision_summary"], settings.language,
                                  inputs["drifted_columns"])
    markdown += realised_lift_section(measured["lift"], measured["plan_value"], measured["scorecard"], settings.language)
    write_text_atomically(home.exports_root / f"run_summary_{as_of.isoformat()}.md", markdown)
    yield dg.MaterializeResult(metadata={
        "export_folder": dg.MetadataValue.path(str(folder)),
        **{f"rows_{name}": len(frame) for name, frame in lists.items()},
        "profiles": dg.MetadataValue.json(sorted(profiles)),
        "delivered": dg.MetadataValue.json({name: len(paths) for name, paths in delivered.items()}),
        "baseline_models": dg.MetadataValue.json(baselines),
        "run_summary": dg.MetadataValue.md(markdown),
    })
    yield published_compliance(folder, compliance, profiles, config)


def published_compliance(folder, compliance: ComplianceInputs, profiles: dict, config: dict) -> dg.AssetCheckResult:
    """The export_compliance check: the published set re-read as a consumer sees it (the symlinked folder, every
    profile's files in their own dialect) and checked again for consent, do-not-contact, erasure and contact fields,
    independently of the pre-publish check."""
    try:
        checked = recheck_published_set(folder, compliance, profiles, config)
        passed, reason = True, f"{checked} published files re-read: no opted-out, do-not-contact or erased person"
    except ComplianceError as error:
        passed, reason = False, str(error)
    return dg.AssetCheckResult(check_name="export_compliance", passed=passed, severity=dg.AssetCheckSeverity.ERROR,
                               metadata={"reason": reason, "profiles": dg.MetadataValue.json(sorted(profiles)),
                                         "erased_or_suppressed_people": len(compliance.suppressed_ids)})
