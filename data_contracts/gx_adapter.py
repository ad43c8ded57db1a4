"""Run a Great Expectations suite on a DuckDB table and return a plain result (no Dagster types).

GX runs through its SQL datasource on the caller's DuckDB database: the SQLAlchemy engine gets a
cursor of the caller's connection (`con.cursor()`), so it sees the same database (file or in-memory)
without opening the file a second time with another configuration. The asset layer turns
`SuiteResult` into a Dagster AssetCheckResult.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, replace
from typing import Any

import duckdb
import duckdb_engine
import great_expectations as gx
from great_expectations.data_context.types.base import ProgressBarsConfig

from data_contracts import expectation_column

COUNT_FREE_TYPES = {"unexpected_rows_expectation"}  # report observed_value instead of unexpected_count


@dataclass(frozen=True)
class ExpectationOutcome:
    """One expectation's result; unexpected_percent is GX's (of non-null rows for column expectations)."""

    expectation_type: str
    column: str | None
    rule: str | None
    success: bool
    unexpected_count: int
    unexpected_percent: float
    examples: tuple[Any, ...]


@dataclass(frozen=True)
class SuiteResult:
    """A suite run on one table, expectations in suite order."""

    suite: str
    table: str
    success: bool
    row_count: int
    expectations: tuple[ExpectationOutcome, ...]

    def unexpected_by_rule(self) -> dict[str, int]:
        """Unexpected rows summed per meta.rule (comparable to StageResult.violations_by_rule)."""
        totals: dict[str, int] = {}
        for outcome in self.expectations:
            if outcome.rule:
                totals[outcome.rule] = totals.get(outcome.rule, 0) + outcome.unexpected_count
        return totals

    def with_examples(self, examples: Mapping[tuple[str, str | None], tuple[Any, ...]]) -> SuiteResult:
        """The same result with each rule expectation's examples taken from `examples[(rule, column)]`."""
        outcomes = tuple(replace(o, examples=examples.get((o.rule, o.column), o.examples)) if o.rule else o
                         for o in self.expectations)
        return replace(self, expectations=outcomes)


class _DialectName(str):
    """A dialect name usable where GX expects a GXSqlDialect member (it reads `.value`)."""

    @property
    def value(self) -> str:
        return str(self)


def enable_duckdb_persisted_connection() -> None:
    """Make GX keep its DuckDB connection open between running a query and fetching its rows.

    Out of the box GX closes (and so rolls back) the connection first and every metric fails with
    "list index out of range" (GX issues #10738, #11579). This is the only place that touches GX
    private names; tests/data_contracts/test_gx_adapter.py fails loudly if they change.
    """
    from great_expectations.execution_engine import sqlalchemy_execution_engine as engine_module

    dialects = getattr(engine_module, "_PERSISTED_CONNECTION_DIALECTS", None)
    requires = getattr(engine_module, "_dialect_requires_persisted_connection", None)
    if not isinstance(dialects, tuple) or not callable(requires):
        raise RuntimeError(
            "great_expectations changed its SQL engine internals (_PERSISTED_CONNECTION_DIALECTS / "
            "_dialect_requires_persisted_connection not found); revisit data_contracts/gx_adapter.py."
        )
    if "duckdb" not in dialects:
        engine_module._PERSISTED_CONNECTION_DIALECTS = (*dialects, _DialectName("duckdb"))


def validate_table(
    con: duckdb.DuckDBPyConnection,
    table: str,
    suite: dict,
    *,
    parameters: dict[str, Any] | None = None,
    max_examples: int = 0,
) -> SuiteResult:
    """Validate `table` of `con`'s database with `suite` (a suite dict as in suites/*.json).

    With `max_examples` > 0 GX also fetches that many unexpected values per expectation, each with a second
    query as costly as the count (a window over the whole table for uniqueness). With 0 (the default) GX
    asks for LIMIT 0, which DuckDB answers at once; the night takes its examples from the quarantine
    instead (`SuiteResult.with_examples`), where every unexpected row is kept with its raw value.
    """
    enable_duckdb_persisted_connection()
    context = gx.get_context(mode="ephemeral")
    context.variables.progress_bars = ProgressBarsConfig(globally=False)
    datasource = context.data_sources.add_sql(
        name="warehouse",
        connection_string="duckdb:///:memory:",  # only names the dialect: connections come from `creator`
        kwargs={"creator": lambda: duckdb_engine.ConnectionWrapper(con.cursor())},
    )
    try:
        batch = datasource.add_table_asset(name=table, table_name=table).add_batch_definition_whole_table("all")
        gx_suite = context.suites.add(gx.ExpectationSuite(
            name=suite.get("name", table), expectations=suite["expectations"], meta=suite.get("meta", {})))
        definition = context.validation_definitions.add(
            gx.ValidationDefinition(name=f"{gx_suite.name}_on_{table}", data=batch, suite=gx_suite))
        run = definition.run(
            expectation_parameters=parameters or {},
            result_format={"result_format": "SUMMARY", "partial_unexpected_count": max_examples},
        )
    finally:
        datasource.get_engine().dispose()
    row_count = con.execute(f'SELECT count(*) FROM "{table}"').fetchone()[0]
    position = {e.id: i for i, e in enumerate(gx_suite.expectations)}
    results = sorted(run.results, key=lambda r: position.get(r.expectation_config.id, len(position)))
    outcomes = tuple(_outcome(r, table, row_count) for r in results)
    return SuiteResult(gx_suite.name, table, bool(run.success), row_count, outcomes)


def _outcome(result: Any, table: str, row_count: int) -> ExpectationOutcome:
    """Flatten one GX ExpectationValidationResult; raise if GX could not evaluate it."""
    config = result.expectation_config
    info = result.exception_info or {}
    errors = [v for v in info.values() if isinstance(v, dict) and v.get("raised_exception")]
    if info.get("raised_exception"):
        errors.append(info)
    values = result.result or {}
    counted = "observed_value" if config.type in COUNT_FREE_TYPES else "unexpected_count"
    if errors or (row_count and counted not in values and "observed_value" not in values):
        message = (errors[0].get("exception_message") or "").splitlines()[0] if errors else "no result"
        raise RuntimeError(f"GX could not evaluate {config.type} on {table}: {message}")
    if config.type in COUNT_FREE_TYPES:
        count = int(values.get("observed_value") or 0)
        percent = 100.0 * count / row_count if row_count else 0.0
    else:
        count = int(values.get("unexpected_count") or 0)
        percent = float(values.get("unexpected_percent") or 0.0)
    meta = config.meta or {}
    spec = {"type": config.type, "kwargs": dict(config.kwargs), "meta": meta}
    return ExpectationOutcome(
        expectation_type=config.type,
        column=expectation_column(spec),
        rule=meta.get("rule"),
        success=bool(result.success),
        unexpected_count=count,
        unexpected_percent=percent,
        examples=tuple(values.get("partial_unexpected_list") or ()),
    )
