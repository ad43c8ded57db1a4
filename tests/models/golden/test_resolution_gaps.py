"""The golden record's check: every accepted record resolved to exactly one golden customer, every event kept."""
import duckdb

from models.golden.resolve import resolution_gaps


def _tables(con) -> None:
    con.execute("CREATE TABLE stg_customers AS SELECT * FROM (VALUES ('a'), ('b'), ('c')) t(customer_id)")
    con.execute("CREATE TABLE customer_crosswalk AS SELECT * FROM (VALUES ('crm', 'a', 'a'), ('crm', 'b', 'a'), "
                "('crm', 'c', 'c')) t(source_system, source_customer_id, golden_id)")
    con.execute("CREATE TABLE golden_customers AS SELECT * FROM (VALUES ('a'), ('c')) t(customer_id)")
    con.execute("CREATE TABLE purchases AS SELECT * FROM (VALUES ('a'), ('c')) t(customer_id)")
    con.execute("CREATE TABLE interactions AS SELECT * FROM (VALUES ('c')) t(customer_id)")


def test_a_resolved_record_set_has_no_gaps_and_each_gap_is_counted_under_its_name():
    with duckdb.connect() as con:
        _tables(con)
        assert set(resolution_gaps(con).values()) == {0}
        con.execute("INSERT INTO stg_customers VALUES ('d')")                 # never resolved
        con.execute("INSERT INTO customer_crosswalk VALUES ('crm', 'b', 'c')")  # one record, two people
        con.execute("INSERT INTO customer_crosswalk VALUES ('web', 'e', 'e')")  # a golden id nobody holds
        con.execute("INSERT INTO purchases VALUES ('x'), ('y')")
        con.execute("INSERT INTO interactions VALUES ('x')")
        assert resolution_gaps(con) == {"unresolved_records": 1, "records_in_two_golden_ids": 1,
                                        "golden_ids_without_customer": 1, "purchases_without_customer": 2,
                                        "interactions_without_customer": 1}
