"""Golden record layer: CRM records of one person resolved into one customer; events re-keyed to it."""

import dagster as dg

from assets._common import as_of_date, night_check, preview_without_suppressed, table_rows, zero_counts_check
from data_contracts import load_contract
from models.golden.consent import honour_delivered_consent
from models.golden.contactability import ContactSettings
from models.golden.resolve import resolution_gaps, resolve_golden_records
from pipelines.partitions import as_of_partitions
from pipelines.resources import NbaHome

GOLDEN_KEYS = {
    "golden_customers": "One row per person: the id of their earliest source record, merged contact fields, "
                        "consent merged conservatively (a 'no' anywhere wins, from every customer row ever delivered, "
                        "quarantined ones included: the consent_ledger), do_not_contact if any record says so; phone in E.164 with "
                        "phone_country, country, IANA time_zone and language.",
    "contact_quarantine": "Phones and CRM country / time zone / language values the golden record could not use, with "
                          "their rule (phone_unparsable, phone_invalid, <field>_unknown): never guessed.",
    "customer_crosswalk": "Every source (system, customer id) and the golden id it resolved to.",
    "purchases": "Accepted purchases re-keyed to the golden id.",
    "interactions": "Accepted interactions re-keyed to the golden id.",
}


@dg.multi_asset(
    specs=[dg.AssetSpec(["golden", name], group_name="golden", kinds={"duckdb"}, description=text,
                        owners=["team:data-engineering"],
                        deps=[["validated", "customers"], ["validated", "purchases"], ["validated", "interactions"],
                              ["validated", "contacts"]])  # the tools' unsubscribes join the consent ledger
           for name, text in GOLDEN_KEYS.items()],
    partitions_def=as_of_partitions,
    check_specs=[night_check("record_resolution", asset=["golden", "golden_customers"],
                             description="Every accepted customer record resolved to exactly one golden customer, and "
                                         "every re-keyed purchase and interaction belongs to one.")],
)
def golden_record(context: dg.AssetExecutionContext, home: NbaHome):
    """Resolve customers by normalised email / canonical phone (connected components) and re-key events."""
    with home.warehouse() as con:
        result = resolve_golden_records(con, contact=ContactSettings.from_config(home.settings().as_dict()))
        ledger_added, opted_out = honour_delivered_consent(con, load_contract("customers"), as_of_date(context))
        for name in GOLDEN_KEYS:
            metadata = {"dagster/row_count": table_rows(con, name), "preview": preview_without_suppressed(
                con, name, home.suppression_path(), id_column="golden_id" if name == "customer_crosswalk" else "customer_id")}
            if name == "golden_customers":
                metadata |= {"source_records": result.source_records, "golden_customers": result.golden_customers,
                             "merged_groups": result.merged_groups,
                             "contact_values_quarantined": result.contact_values_quarantined, "consent_ledger_rows_added": ledger_added,
                             "customers_opted_out_by_ledger": opted_out,
                             "preview": preview_without_suppressed(con, name, home.suppression_path(), columns="customer_id, signup_date, region, segment, consent_email, consent_sms, consent_phone, consent_app, do_not_contact, n_source_records")}
            yield dg.MaterializeResult(asset_key=["golden", name], metadata=metadata)
        gaps = resolution_gaps(con)
    yield zero_counts_check("record_resolution", ["golden", "golden_customers"], gaps,
                            "every record resolved to one golden customer")
