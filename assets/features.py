"""Feature layer: point-in-time customer features as of the run date (events strictly before it)."""

import dagster as dg

from assets._common import as_of_date, night_check, preview_without_suppressed, table_rows, zero_counts_check
from models.features.customer_features import build_features, feature_coverage
from pipelines.partitions import as_of_partitions
from pipelines.resources import NbaHome


@dg.asset(
    key=["features", "customer_features"], group_name="features", kinds={"duckdb", "sql"},
    partitions_def=as_of_partitions, owners=["team:data-science"],
    deps=[["golden", "golden_customers"], ["golden", "purchases"], ["golden", "interactions"]],
    description="Recency, frequency, spend over 30/90/365 days, tenure, trends, category mix, returns, discounts, "
                "interactions by channel, complaints and negative notes (es/pt/en lexicon), campaign history, "
                "contact counts and reachable channels — only from events strictly before the as-of date.",
    check_specs=[night_check("one_row_per_customer", asset=["features", "customer_features"],
                             description="Exactly one feature row per golden customer, none for anybody else.")],
)
def customer_features(context: dg.AssetExecutionContext, home: NbaHome):
    as_of = as_of_date(context)
    with home.warehouse() as con:
        columns = build_features(con, as_of, "customer_features")
        stats = con.execute(
            "SELECT avg(purchases_365d), avg(spend_365d), avg(CASE WHEN days_since_last_purchase < 9999 "
            "THEN days_since_last_purchase END), sum(complaints_90d), sum(negative_notes_90d) FROM customer_features"
        ).fetchall()[0]
        coverage = feature_coverage(con)
        yield dg.MaterializeResult(metadata={
            "dagster/row_count": table_rows(con, "customer_features"),
            "as_of": as_of.isoformat(),
            "feature_count": len(columns),
            "features": dg.MetadataValue.json(columns),
            "mean_purchases_365d": float(stats[0] or 0), "mean_spend_365d": float(stats[1] or 0),
            "mean_days_since_last_purchase": float(stats[2] or 0),
            "complaints_90d_total": int(stats[3] or 0), "negative_notes_90d_total": int(stats[4] or 0),
            "preview": preview_without_suppressed(con, "customer_features", home.suppression_path(), columns="customer_id, tenure_days, days_since_last_purchase, purchases_365d, spend_365d, complaints_90d"),
        })
    yield zero_counts_check("one_row_per_customer", ["features", "customer_features"], coverage,
                            "one feature row per golden customer")
