"""Extract contracts and expectation suites as files, plus the helpers that load them.

`extracts/<extract>.yaml` describes the columns of an extract (type, required, default, allowed values),
its primary and foreign keys; `extracts/_defaults.yaml` holds the parsing rules they share.
`suites/<extract>.json` is the Great Expectations suite whose row-level expectations (those with
`meta.rule`) decide what is quarantined. Nothing here imports Great Expectations or Dagster.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

CONTRACTS_DIR = Path(__file__).parent
EXTRACTS_DIR = CONTRACTS_DIR / "extracts"
SUITES_DIR = CONTRACTS_DIR / "suites"
DEFAULTS_FILE = "_defaults.yaml"
# Every extract with a contract file, in load order: customers first, as the other extracts reference it.
# `contacts` is the optional feedback of the marketing tools and the dialer on the pipeline's own lists.
EXTRACTS = ("customers", "purchases", "interactions", "contacts")
COLUMN_TYPES = ("VARCHAR", "INTEGER", "DOUBLE", "BOOLEAN", "DATE", "TIMESTAMP")


class ContractError(ValueError):
    """A delivered extract (or a contract file) breaks its contract; the run stops.

    `str()` is one sentence that starts with the file name; `file`, `column` and `value` stay
    available for metadata (value is the offending value or an example row).
    """

    def __init__(self, file: str | Path | None, column: str | None, value: Any, message: str):
        self.file = str(file) if file is not None else None
        self.column = column
        self.value = value
        self.message = message
        super().__init__(str(self))

    def __str__(self) -> str:
        where = Path(self.file).name if self.file else "extract"
        return f"{where}: {self.message}"


@dataclass(frozen=True)
class ColumnSpec:
    """One column of an extract as the contract describes it."""

    name: str
    type: str
    required: bool = False
    default: Any = None
    allowed: tuple[str, ...] | None = None
    normalize: str | None = None  # "lower": trim and lower-case before checking
    description: str = ""


@dataclass(frozen=True)
class ForeignKey:
    """Rows whose `column` is not in `table.references` break `rule`."""

    column: str
    table: str
    references: str
    rule: str


@dataclass(frozen=True)
class ExtractContract:
    """The parsed contract of one extract (see extracts/*.yaml)."""

    extract: str
    description: str
    required: bool  # the extract must be delivered
    allow_empty: bool  # a delivered extract may have no data rows
    primary_key: tuple[str, ...]
    foreign_keys: tuple[ForeignKey, ...]
    columns: tuple[ColumnSpec, ...]
    null_values: tuple[str, ...]
    true_values: tuple[str, ...]
    false_values: tuple[str, ...]
    timestamp_formats: tuple[str, ...]
    cast_rules: dict[str, str]
    duplicate_exact_rule: str
    impossible_date_rule: str
    path: str
    version_column: str | None = None  # newer versions of a primary key supersede older ones (change data capture)
    superseded_rule: str = "superseded"
    known_from: str | None = None  # DATE / TIMESTAMP column dating the record: after the as-of date it is not yet known

    @property
    def column_names(self) -> list[str]:
        return [c.name for c in self.columns]

    @property
    def required_columns(self) -> list[str]:
        return [c.name for c in self.columns if c.required]


def list_extracts(contracts_dir: Path | None = None) -> list[str]:
    """Names of the extracts that have a contract file."""
    folder = Path(contracts_dir or CONTRACTS_DIR) / "extracts"
    return sorted(p.stem for p in folder.glob("*.yaml") if not p.name.startswith("_"))


def load_contract(extract: str, contracts_dir: Path | None = None) -> ExtractContract:
    """Read `extracts/<extract>.yaml` merged over `extracts/_defaults.yaml`."""
    folder = Path(contracts_dir or CONTRACTS_DIR) / "extracts"
    path = folder / f"{extract}.yaml"
    if not path.exists():
        raise ContractError(path, None, extract, f"there is no contract for extract '{extract}'.")
    defaults = _read_yaml(folder / DEFAULTS_FILE)
    spec = _read_yaml(path)
    parsing = {**defaults.get("parsing", {}), **spec.get("parsing", {})}
    columns = tuple(_parse_column(path, c) for c in spec["columns"])
    names = [c.name for c in columns]
    for key in spec.get("primary_key", []):
        if key not in names:
            raise ContractError(path, key, key, f"primary key column '{key}' is not a declared column.")
    version = spec.get("version_column")
    if version is not None and (version not in names or not spec.get("primary_key")):
        raise ContractError(path, "version_column", version,
                            "version_column must name a declared column of an extract with a primary key.")
    return ExtractContract(
        extract=spec.get("extract", extract),
        description=spec.get("description", ""),
        required=bool(spec.get("required", True)),
        allow_empty=bool(spec.get("allow_empty", False)),
        primary_key=tuple(spec.get("primary_key", [])),
        foreign_keys=tuple(ForeignKey(**fk) for fk in spec.get("foreign_keys", [])),
        columns=columns,
        null_values=tuple(str(v) for v in parsing.get("null_values", [""])),
        true_values=tuple(str(v).lower() for v in parsing.get("true_values", [])),
        false_values=tuple(str(v).lower() for v in parsing.get("false_values", [])),
        timestamp_formats=tuple(parsing.get("timestamp_formats", [])),
        cast_rules=dict(defaults.get("cast_rules", {})) | dict(spec.get("cast_rules", {})),
        duplicate_exact_rule=defaults.get("duplicate_exact_rule", "duplicate_exact"),
        impossible_date_rule=defaults.get("impossible_date_rule", "impossible_date"),
        path=str(path),
        version_column=version,
        superseded_rule=defaults.get("superseded_rule", "superseded"),
        known_from=_known_from(path, spec, names),
    )


def _known_from(path: Path, spec: dict, names: list[str]) -> str | None:
    """The contract's `known_from` column, which must be one of its declared columns."""
    column = spec.get("known_from")
    if column is not None and column not in names:
        raise ContractError(path, "known_from", column, f"known_from column '{column}' is not a declared column.")
    return column


def load_suite(extract: str, contracts_dir: Path | None = None) -> dict:
    """Read `suites/<extract>.json` (a GX ExpectationSuite as a plain dict); remembers its path."""
    path = Path(contracts_dir or CONTRACTS_DIR) / "suites" / f"{extract}.json"
    if not path.exists():
        raise ContractError(path, None, extract, f"there is no expectation suite for extract '{extract}'.")
    try:
        suite = json.loads(path.read_text(encoding="utf-8"))
    except json.JSONDecodeError as exc:
        raise ContractError(path, None, None, f"is not valid JSON ({exc.msg} at line {exc.lineno}).") from exc
    for i, exp in enumerate(suite.get("expectations", [])):
        if "type" not in exp or "kwargs" not in exp:
            raise ContractError(path, None, exp, f"expectation #{i + 1} needs a 'type' and 'kwargs'.")
    suite.setdefault("meta", {})["path"] = str(path)
    return suite


def row_expectations(suite: dict) -> list[dict]:
    """The expectations that decide quarantine: those that carry `meta.rule`, in suite order."""
    return [e for e in suite.get("expectations", []) if (e.get("meta") or {}).get("rule")]


def expectation_column(expectation: dict) -> str | None:
    """The column an expectation reports on: kwargs column, a compound key, or meta.column."""
    kwargs = expectation.get("kwargs", {})
    if "column" in kwargs:
        return kwargs["column"]
    if "column_list" in kwargs:
        return ",".join(kwargs["column_list"])
    return (expectation.get("meta") or {}).get("column")


def check_required_columns(contract: ExtractContract, columns: list[str] | tuple[str, ...], file: Path | str) -> None:
    """Raise if a column the contract requires is not among `columns` (a file's header)."""
    missing = [c for c in contract.required_columns if c not in columns]
    if missing:
        found = ", ".join(columns) or "none"
        raise ContractError(
            file, missing[0], None,
            f"required column '{missing[0]}' of the {contract.extract} extract is missing (columns found: {found}).",
        )


def find_contract_suite_mismatches(contract: ExtractContract, suite: dict) -> list[str]:
    """Where the contract and the suite disagree (required, allowed values, keys); empty when consistent."""
    problems: list[str] = []
    exps = row_expectations(suite)

    def has(type_: str, **kwargs: Any) -> bool:
        return any(
            e["type"] == type_ and all(_same(e["kwargs"].get(k), v) for k, v in kwargs.items()) for e in exps
        )

    for col in contract.columns:
        if col.required and not has("expect_column_values_to_not_be_null", column=col.name):
            problems.append(f"required column '{col.name}' has no expect_column_values_to_not_be_null")
        if col.allowed and not has("expect_column_values_to_be_in_set", column=col.name, value_set=col.allowed):
            problems.append(f"allowed values of '{col.name}' have no matching expect_column_values_to_be_in_set")
    pk = list(contract.primary_key)
    if len(pk) == 1 and not has("expect_column_values_to_be_unique", column=pk[0]):
        problems.append(f"primary key '{pk[0]}' has no expect_column_values_to_be_unique")
    if len(pk) > 1 and not has("expect_compound_columns_to_be_unique", column_list=pk):
        problems.append(f"primary key {pk} has no expect_compound_columns_to_be_unique")
    rules = {e["meta"]["rule"] for e in exps}
    for fk in contract.foreign_keys:
        if fk.rule not in rules:
            problems.append(f"foreign key rule '{fk.rule}' has no expectation")
    names = set(contract.column_names)
    for e in exps:
        cols = [e["kwargs"]["column"]] if "column" in e["kwargs"] else e["kwargs"].get("column_list", [])
        problems += [f"expectation {e['type']} names unknown column '{c}'" for c in cols if c not in names]
    return problems


def _same(a: Any, b: Any) -> bool:
    if isinstance(a, (list, tuple)) and isinstance(b, (list, tuple)):
        return sorted(map(str, a)) == sorted(map(str, b))
    return a == b


def _parse_column(path: Path, raw: dict) -> ColumnSpec:
    type_ = str(raw.get("type", "VARCHAR")).upper()
    if type_ not in COLUMN_TYPES:
        raise ContractError(path, raw.get("name"), type_, f"column '{raw.get('name')}' has unknown type '{type_}'.")
    allowed = raw.get("allowed")
    return ColumnSpec(
        name=raw["name"],
        type=type_,
        required=bool(raw.get("required", False)),
        default=raw.get("default"),
        allowed=tuple(str(v) for v in allowed) if allowed else None,
        normalize=raw.get("normalize"),
        description=raw.get("description", ""),
    )


def _read_yaml(path: Path) -> dict:
    try:
        return yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    except yaml.YAMLError as exc:
        raise ContractError(path, None, None, f"is not valid YAML ({exc}).") from exc
