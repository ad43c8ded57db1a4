"""load_suppressed_ids: an erasure request matches the person through any id, e-mail or phone of any record."""
from __future__ import annotations

import pytest

from models.golden.resolve import resolve_golden_records
from models.golden.suppression import SuppressionListError, load_suppressed_ids
from tests.models.golden.test_golden_record import _customers_con


@pytest.fixture(scope="module")
def con():
    connection = _customers_con()  # golden C1 = {C1, C2, C3}, C10 = {C10, C11}, C12 alone, ...
    resolve_golden_records(connection)
    yield connection
    connection.close()


@pytest.mark.parametrize("csv, expected", [
    ("customer_id\nC12\n", {"C12"}),                      # the golden id itself
    ("customer_id\n C3 \n", {"C1"}),                      # the source id of a duplicate
    ("email\nBOB@x.org \n", {"C10"}),                     # e-mail, normalised (C10 and C11 carry it)
    ("phone\n+34 699-111-222\n", {"C1"}),                 # phone, canonicalised (C2 / C3 carry 699111222)
    ("customer_id,email,phone\n,solo@y.com,\nC11,,\n", {"C12", "C10"}),
    ("email,phone\nnoemail@noemail.com,123\n", set()),    # placeholders match nobody
])
def test_a_list_row_matches_through_any_id_email_or_phone(con, tmp_path, csv, expected):
    path = tmp_path / "suppression.csv"
    path.write_text(csv, encoding="utf-8")
    assert load_suppressed_ids(con, path) == expected


def test_a_list_without_a_usable_column_or_file_is_an_error_naming_it(con, tmp_path):
    path = tmp_path / "list.csv"
    path.write_text("name\nAna\n", encoding="utf-8")
    with pytest.raises(SuppressionListError, match="list.csv: needs at least one of the columns"):
        load_suppressed_ids(con, path)
    with pytest.raises(SuppressionListError, match="missing.csv: suppression list not found"):
        load_suppressed_ids(con, tmp_path / "missing.csv")
    assert load_suppressed_ids(con, None) == set()
