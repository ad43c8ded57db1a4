"""Validation layer: each typed raw extract split into stg_ and quarantine; the GX suite as a blocking check.

The quarantine split and the Great Expectations suite come from the same suite file
(data_contracts/suites/<extract>.json). The check runs GX on the typed rows and passes when the
extract-level expectations hold and GX's unexpected counts per rule equal what was quarantined.
GX only counts; the examples next to each expectation are the raw values of the first quarantined rows.
"""

import dagster as dg

from assets._common import as_of_date, night_check, preview_without_suppressed
from data_contracts import EXTRACTS, load_contract, load_suite
from data_contracts.data_docs import build_data_docs
from data_contracts.gx_adapter import validate_table
from models.ingest.staging import quarantine_examples, require_history, stage_extract
from pipelines.partitions import as_of_partitions
from pipelines.resources import NbaHome


def suite_check(extract: str, suite: dict, stage, gx_result) -> dg.AssetCheckResult:
    """Blocking check: extract-level expectations pass and GX agrees with the quarantine, rule by rule."""
    rule_level = {e["meta"]["rule"] for e in suite["expectations"] if (e.get("meta") or {}).get("rule")}
    extract_failures = [o for o in gx_result.expectations if not o.success and o.rule not in rule_level]
    disagree = {rule: (n, stage.violations_by_rule.get(rule, 0)) for rule, n in gx_result.unexpected_by_rule().items()
                if n != stage.violations_by_rule.get(rule, 0)}
    reconciled = stage.rows_in == stage.rows_accepted + stage.rows_quarantined + stage.rows_not_yet_known
    passed = not extract_failures and not disagree and reconciled
    reason = ("suite holds; row-level breaches are quarantined" if passed else
              "; ".join([*(f"{o.expectation_type} on {o.column} failed" for o in extract_failures),
                         *(f"rule {r}: GX {a} vs quarantine {b}" for r, (a, b) in disagree.items()),
                         *([] if reconciled else ["rows in != accepted + quarantined + not yet known"])]))
    table = "\n".join(["| expectation | column | rule | unexpected | % |", "|---|---|---|---|---|"] + [
        f"| {o.expectation_type} | {o.column or ''} | {o.rule or ''} | {o.unexpected_count} | {o.unexpected_percent:.3f} |"
        for o in gx_result.expectations])
    return dg.AssetCheckResult(
        check_name="gx_suite", asset_key=["validated", extract], passed=passed, severity=dg.AssetCheckSeverity.ERROR,
        metadata={"reason": reason, "suite": suite.get("name", extract), "expectations": dg.MetadataValue.md(table),
                  "rows_in": stage.rows_in, "rows_accepted": stage.rows_accepted,
                  "rows_quarantined": stage.rows_quarantined, "rows_not_yet_known": stage.rows_not_yet_known},
    )


def build_validated_asset(extract: str) -> dg.AssetsDefinition:
    key = ["validated", extract]
    deps = [["raw", extract]] + ([["validated", "customers"]] if extract != "customers" else [])

    @dg.asset(
        key=key, group_name="validated", kinds={"duckdb", "great_expectations"}, partitions_def=as_of_partitions,
        owners=["team:data-engineering"], deps=deps,
        description=(f"`stg_{extract}`: the typed `raw_{extract}` without the rows that did not type or break a row "
                     f"rule of data_contracts/suites/{extract}.json: those are in `quarantine` with the rule, never "
                     "downstream (the table is renamed, not copied). On a backfill night with later extracts, "
                     "rows dated after the as-of date are set aside under rule `not_yet_known` (kept in `quarantine` for their opt-outs, not counted as bad rows). An empty extract or too many bad rows stop "
                     "the run here and leave the previous `stg_` in place."),
        check_specs=[night_check("gx_suite", asset=key, blocking=True,
                                       description=f"Great Expectations suite data_contracts/suites/{extract}.json")],
    )
    def validated(context: dg.AssetExecutionContext, home: NbaHome):
        limits = home.settings().ingest
        contract, suite = load_contract(extract), load_suite(extract)
        with home.warehouse() as con:
            if extract == "purchases":  # a night needs purchases before its as-of date
                require_history(con, contract, as_of_date(context))
            stage = stage_extract(con, extract, contract, suite, as_of_date(context),
                                  max_bad_row_share=limits.max_bad_row_share,
                                  max_future_days=limits.max_future_days,
                                  extracted_on=home.extracts_date(as_of_date(context)))
            gx_result = validate_table(con, stage.typed_table, suite, parameters=stage.suite_parameters)
            gx_result = gx_result.with_examples(quarantine_examples(con, extract))
            docs = build_data_docs(home.gx_docs_dir, as_of_date(context), [(suite, gx_result)],
                                   parameters=stage.suite_parameters, intake={gx_result.suite: {
                                       "rows_in": stage.rows_in, "rows_accepted": stage.rows_accepted,
                                       "rows_quarantined": stage.rows_quarantined,
                                       "rows_not_yet_known": stage.rows_not_yet_known,
                                       "quarantined_by_rule": stage.quarantined_by_rule}})
            yield dg.MaterializeResult(metadata={
                "dagster/row_count": stage.rows_accepted, "rows_in": stage.rows_in,
                "rows_accepted": stage.rows_accepted, "rows_quarantined": stage.rows_quarantined,
                "rows_not_yet_known": stage.rows_not_yet_known,
                "quarantined_by_rule": dg.MetadataValue.json(stage.quarantined_by_rule),
                "preview": preview_without_suppressed(con, stage.table, home.suppression_path(), where="_source_row <= 5",
                                                      columns="* EXCLUDE (_source_row)"),
                "data_docs": dg.MetadataValue.path(str(docs)),
            })
        yield suite_check(extract, suite, stage, gx_result)

    return validated


validated_assets = [build_validated_asset(extract) for extract in EXTRACTS]
