"""The compliance check reads the raw opt-outs itself: a person the golden record lets through still fails the
publish when a delivered row says no on that channel, and an erased id fails it in any file, extras included."""
from __future__ import annotations

import pandas as pd
import pytest

from models.exports.compliance import ComplianceError, assert_export_compliance
from tests.models.exports.test_exports import customers_frame, export


def blocked(*rows: tuple[str, str]) -> pd.DataFrame:
    return pd.DataFrame(rows, columns=["key", "channel"])


def test_a_raw_opt_out_the_golden_record_missed_fails_the_check(tmp_path):
    folder = export(tmp_path)  # golden: everyone consents
    assert_export_compliance(folder, customers_frame(), set(), raw_opt_outs=blocked(("e:ana@example.es", "sms")))
    with pytest.raises(ComplianceError) as caught:
        assert_export_compliance(folder, customers_frame(), set(),
                                 raw_opt_outs=blocked(("e:ana@example.es", "email"), ("p:600000003", "all")))
    message = str(caught.value)
    assert "email.csv: 1 row(s) opted out of email in a delivered customer row, e.g. customer_id g01" in message
    assert "call_center.parquet: 1 row(s) opted out of phone in a delivered customer row, e.g. customer_id g03" in message


def test_an_erased_id_fails_the_check_in_the_extras_too(tmp_path):
    folder = export(tmp_path)
    with pytest.raises(ComplianceError) as caught:
        assert_export_compliance(folder, customers_frame(), set(), raw_opt_outs=blocked(("c:g06", "erased")))
    assert "customer_scores.parquet: 1 row(s) are erased, e.g. customer_id g06" in str(caught.value)
    with pytest.raises(ComplianceError, match="next_best_actions.parquet: 2 row"):
        assert_export_compliance(folder, customers_frame(), {"g05"})
