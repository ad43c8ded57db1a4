"""The contract and suite files: they load, agree with each other and with docs/architecture.md."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

import data_contracts
from data_contracts import (
    CONTRACTS_DIR, ContractError, find_contract_suite_mismatches, list_extracts, load_contract, load_suite,
    row_expectations,
)
from models.ingest.staging import expectation_predicate, suite_parameters
from tests.data_contracts.helpers import AS_OF, architecture_columns

EXTRACTS = ["contacts", "customers", "interactions", "purchases"]


def test_every_extract_has_a_contract_and_a_suite():
    assert list_extracts() == EXTRACTS == sorted(data_contracts.EXTRACTS)
    assert sorted(p.stem for p in (CONTRACTS_DIR / "suites").glob("*.json")) == EXTRACTS


@pytest.mark.parametrize("extract", EXTRACTS)
def test_contract_columns_are_the_architecture_stg_columns(extract):
    contract = load_contract(extract)
    expected = architecture_columns(f"stg_{extract}")
    assert [(c.name, c.type) for c in contract.columns] + [("_source_row", "BIGINT")] == expected


@pytest.mark.parametrize("extract", EXTRACTS)
def test_contract_and_suite_agree(extract):
    assert find_contract_suite_mismatches(load_contract(extract), load_suite(extract)) == []


@pytest.mark.parametrize("extract", EXTRACTS)
def test_every_suite_expectation_is_a_named_row_rule_that_compiles(extract):
    suite = load_suite(extract)
    assert row_expectations(suite) == suite["expectations"]  # every expectation carries meta.rule
    params = suite_parameters(AS_OF, 0)
    predicates = [expectation_predicate(e, f"typed_{extract}", params, suite) for e in suite["expectations"]]
    assert all(p and "$PARAMETER" not in p for p in predicates)


def test_the_defaults_file_documents_what_stops_the_run_and_what_is_quarantined():
    text = (CONTRACTS_DIR / "extracts" / "_defaults.yaml").read_text(encoding="utf-8")
    assert "WHAT STOPS THE RUN" in text and "WHAT IS QUARANTINED" in text
    for case in ("empty (0 bytes)", "truncated", "required column", "allow_empty", "max_bad_row_share"):
        assert case in text
    contract = load_contract("purchases")
    assert contract.cast_rules["DOUBLE"] == "invalid_number" and contract.impossible_date_rule == "impossible_date"


def test_contract_error_is_one_sentence_starting_with_the_file_name():
    err = ContractError("/landing/purchases.csv", "amount", "abc", "column 'amount' holds 'abc'.")
    assert str(err) == "purchases.csv: column 'amount' holds 'abc'."
    assert (err.file, err.column, err.value) == ("/landing/purchases.csv", "amount", "abc")


def test_an_unknown_column_type_in_a_contract_is_reported(tmp_path):
    folder = tmp_path / "extracts"
    folder.mkdir()
    (folder / "_defaults.yaml").write_text("parsing: {}\n")
    (folder / "customers.yaml").write_text("columns:\n  - {name: customer_id, type: UUID}\n")
    with pytest.raises(ContractError, match="customers.yaml: column 'customer_id' has unknown type 'UUID'"):
        load_contract("customers", tmp_path)


@pytest.mark.parametrize("module", ["data_contracts/__init__.py", "data_contracts/gx_adapter.py",
                                    "models/ingest/casting.py", "models/ingest/load.py", "models/ingest/staging.py"])
def test_contract_code_does_not_import_dagster(module):
    tree = ast.parse((Path(__file__).parents[2] / module).read_text(encoding="utf-8"))
    imported = {alias.name.split(".")[0] for node in ast.walk(tree) if isinstance(node, ast.Import)
                for alias in node.names}
    imported |= {node.module.split(".")[0] for node in ast.walk(tree)
                 if isinstance(node, ast.ImportFrom) and node.module}
    assert "dagster" not in imported
