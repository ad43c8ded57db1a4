"""Find the extract files in a landing folder and load them, typed by their contract, into `raw_<extract>`.

Each file is read once and written once: every contract column is typed on the way in (models/ingest/casting.py:
null tokens, normalisation, defaults), with `_source_file` and `_source_row` (its 1-based data row) and,
for a row holding a value that does not read as its type, the cast rule broken; such a row and one missing
a required value also keep the row as delivered (`_raw_record`, JSON). Staging then quarantines the bad rows and renames the rest to `stg_<extract>`.
Raw files are only read, never modified. A broken delivery (empty file, malformed or truncated CSV,
missing required column, empty required extract) raises `ContractError` naming the file.
"""

from __future__ import annotations

import codecs
import csv
import gzip
import hashlib
import logging
import re
import tempfile
import zlib
from dataclasses import dataclass
from datetime import date, datetime, timezone
from pathlib import Path

import duckdb

from data_contracts import ContractError, ExtractContract, check_required_columns, list_extracts, load_contract
from models.ingest.casting import CAST_COLUMNS, cast_sql, sql_ident, sql_literal

log = logging.getLogger(__name__)

FORMATS = (("csv.gz", ".csv.gz"), ("csv", ".csv"), ("parquet", ".parquet"))  # longest suffix first
DELIMITERS = (",", ";", "\t", "|")
MAX_FIELD_BYTES = 32 * 1024 * 1024  # one CSV line (a long note) may be this large
CHUNK_BYTES = 1 << 20
BOM = codecs.BOM_UTF8
RAW_EXTRA_COLUMNS = (("_source_file", "VARCHAR"), ("_source_row", "BIGINT"), *((c, "VARCHAR") for c in CAST_COLUMNS))


@dataclass(frozen=True)
class DuplicateDelivery:
    """A file skipped because its content (sha256) equals an earlier delivered file."""

    file: Path
    same_as: Path
    sha256: str


@dataclass(frozen=True)
class LandingScan:
    """The extract files found in a landing folder and the duplicate deliveries skipped."""

    extracts: dict[str, list[Path]]
    duplicates: list[DuplicateDelivery]


@dataclass(frozen=True)
class FileLoad:
    """One delivered file as loaded (one `ingest_log` row)."""

    file: str
    sha256: str
    format: str
    encoding: str | None
    delimiter: str | None
    rows: int


@dataclass(frozen=True)
class IngestInfo:
    """What `load_raw` loaded into `table`."""

    extract: str
    table: str
    rows: int
    columns: tuple[str, ...]  # as delivered (the union of the files' headers)
    files: tuple[FileLoad, ...]


@dataclass(frozen=True)
class _Source:
    path: Path
    format: str
    sha256: str
    encoding: str | None
    delimiter: str | None
    file_columns: tuple[str, ...]  # as read (parquet names; CSV positions c0, c1, ...)
    columns: tuple[str, ...]  # normalized header names


def scan_landing(landing_dir: Path) -> LandingScan:
    """Group the files of `landing_dir` by extract and skip files whose sha256 repeats an earlier one."""
    landing_dir = Path(landing_dir)
    if not landing_dir.is_dir():
        raise ContractError(landing_dir, None, None, "the landing folder does not exist.")
    names = list_extracts()
    files = sorted((p for p in landing_dir.iterdir() if p.is_file() and _extract_of(p, names)), key=_natural_key)
    found = {name: [p for p in files if _extract_of(p, names) == name] for name in names}
    duplicates = _find_duplicates([p for name in names for p in found[name]])
    skipped = {d.file for d in duplicates}
    extracts = {name: [p for p in paths if p not in skipped] for name, paths in found.items()}
    for name in names:
        if load_contract(name).required and not extracts[name]:
            raise ContractError(
                landing_dir, None, name,
                f"no {name} extract was delivered (expected {name}.csv, {name}.csv.gz or {name}.parquet, "
                f"optionally in parts such as {name}_part2.csv).",
            )
    return LandingScan({k: v for k, v in extracts.items() if v}, duplicates)


def discover_extracts(landing_dir: Path) -> dict[str, list[Path]]:
    """Extract name -> its files (customers and purchases required, interactions optional: see the contracts).

    Duplicate deliveries are skipped and logged as warnings; use `scan_landing` to get them as data.
    """
    scan = scan_landing(landing_dir)
    for dup in scan.duplicates:
        log.warning("Skipped %s: duplicate delivery of %s (sha256 %s).", dup.file.name, dup.same_as.name, dup.sha256)
    return scan.extracts


def load_raw(con: duckdb.DuckDBPyConnection, extract: str, paths: list[Path]) -> IngestInfo:
    """Replace `raw_<extract>` with the typed rows of `paths` (`raw_table_ddl`) and append to `ingest_log`.

    Either every file is loaded or the previous table stays: the rows go into the work table
    `_load_<extract>` (one transaction), which a second transaction numbers and renames to `raw_<extract>`.
    Numbering in the loading transaction would cost DuckDB a rewrite of the new table at commit (1.3 s more
    per 5M rows, measured); a kill between the two leaves `_load_<extract>`, which the next load replaces.
    An optional extract that was not delivered (no paths) becomes an empty table.
    """
    contract = load_contract(extract)
    if not paths and contract.required:
        raise ContractError(None, None, extract, f"no files were given for the required {extract} extract.")
    sources = [_inspect_source(Path(p)) for p in paths]
    for source in sources:
        check_required_columns(contract, source.columns, source.path)
    table, work = f"raw_{extract}", f"_load_{extract}"
    columns = _union_columns(sources) if sources else contract.column_names
    loads: list[FileLoad] = []
    con.execute("BEGIN TRANSACTION")
    try:
        con.execute(f"CREATE OR REPLACE TABLE {work} ({raw_table_ddl(contract)})")
        with tempfile.TemporaryDirectory(prefix="nba_ingest_") as tmp:
            for source in sources:
                rows = _insert_source(con, work, contract, source, Path(tmp))
                loads.append(FileLoad(source.path.name, source.sha256, source.format, source.encoding,
                                      source.delimiter, rows))
        total = sum(load.rows for load in loads)
        if sources and total == 0 and not contract.allow_empty:
            raise ContractError(
                sources[0].path, None, None,
                f"has a header but no data rows, and the {extract} extract must not be empty.",
            )
        con.execute("COMMIT")
    except BaseException:
        con.execute("ROLLBACK")
        raise
    con.execute("BEGIN TRANSACTION")
    try:
        _number_rows(con, work)
        con.execute(f"DROP TABLE IF EXISTS {table}")
        con.execute(f"ALTER TABLE {work} RENAME TO {table}")
        _append_ingest_log(con, extract, loads)
        con.execute("COMMIT")
    except BaseException:
        con.execute("ROLLBACK")
        raise
    return IngestInfo(extract, table, total, tuple(columns), tuple(loads))


def raw_table_ddl(contract: ExtractContract) -> str:
    """Columns of `raw_<extract>`: the typed contract columns, then `RAW_EXTRA_COLUMNS`: `_source_file`,
    `_source_row` (1-based data row of its file) and `CAST_COLUMNS` (set only on a row with an unreadable
    value). The rows are stored in file order, so a row id is the row's position in the load."""
    typed = ", ".join(f"{sql_ident(c.name)} {c.type}" for c in contract.columns)
    return f"{typed}, " + ", ".join(f"{name} {type_}" for name, type_ in RAW_EXTRA_COLUMNS)


def _extract_of(path: Path, extracts: list[str]) -> str | None:
    """The extract a file `<extract>[_part].csv|.csv.gz|.parquet` belongs to, else None."""
    name = path.name.lower()
    if name.startswith("."):
        return None
    for _, suffix in FORMATS:
        if name.endswith(suffix):
            stem = name[: -len(suffix)]
            for extract in extracts:
                if stem == extract or re.match(rf"{extract}[_\-.]", stem):
                    return extract
            return None
    return None


def _format_of(path: Path) -> str:
    name = path.name.lower()
    for fmt, suffix in FORMATS:
        if name.endswith(suffix):
            return fmt
    raise ContractError(path, None, path.suffix, "is not a .csv, .csv.gz or .parquet file.")


def _natural_key(path: Path) -> list:
    return [int(part) if part.isdigit() else part for part in re.split(r"(\d+)", path.name.lower())]


def _find_duplicates(paths: list[Path]) -> list[DuplicateDelivery]:
    """Files whose bytes equal an earlier file's; only same-size files are hashed."""
    by_size: dict[int, list[Path]] = {}
    for path in paths:
        by_size.setdefault(path.stat().st_size, []).append(path)
    duplicates = []
    for group in by_size.values():
        first_by_hash: dict[str, Path] = {}
        for path in group if len(group) > 1 else []:
            digest = _sha256(path)
            if digest in first_by_hash:
                duplicates.append(DuplicateDelivery(path, first_by_hash[digest], digest))
            else:
                first_by_hash[digest] = path
    return duplicates


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        while chunk := fh.read(CHUNK_BYTES):
            digest.update(chunk)
    return digest.hexdigest()


def _inspect_source(path: Path) -> _Source:
    """Hash the file, detect its encoding and delimiter and read its header (nothing is loaded)."""
    if not path.is_file():
        raise ContractError(path, None, None, "does not exist.")
    if path.stat().st_size == 0:
        raise ContractError(path, None, None, "is empty (0 bytes); a header line was expected.")
    fmt = _format_of(path)
    digest = _sha256(path)
    if fmt == "parquet":
        names = _parquet_columns(path)
        return _Source(path, fmt, digest, None, None, tuple(names), _normalize_header(path, names))
    encoding = _detect_encoding(path, fmt)
    delimiter, names = _read_csv_header(path, fmt, encoding)
    positions = tuple(f"c{i}" for i in range(len(names)))
    return _Source(path, fmt, digest, encoding, delimiter, positions, _normalize_header(path, names))


def _content_chunks(path: Path, fmt: str):
    """The file's bytes, decompressed if gzip; corrupt gzip becomes a ContractError."""
    opener = gzip.open if fmt == "csv.gz" else open
    try:
        with opener(path, "rb") as fh:
            while chunk := fh.read(CHUNK_BYTES):
                yield chunk
    except (OSError, EOFError, zlib.error) as exc:
        what = "a readable gzip file, it may be truncated" if fmt == "csv.gz" else "readable"
        raise ContractError(path, None, None, f"is not {what} ({exc}).") from exc


def _detect_encoding(path: Path, fmt: str) -> str:
    """utf-8 (utf-8-sig with a BOM) if the whole file is valid UTF-8, else cp1252 (latin-1 if not cp1252)."""
    decoder = codecs.getincrementaldecoder("utf-8")()
    head, size = b"", 0
    try:
        for chunk in _content_chunks(path, fmt):
            head, size = head or chunk[:3], size + len(chunk)
            decoder.decode(chunk)
        decoder.decode(b"", final=True)
    except UnicodeDecodeError:
        return "cp1252" if _decodes_as(path, fmt, "cp1252") else "latin-1"
    if size == 0:
        raise ContractError(path, None, None, "is empty once decompressed; a header line was expected.")
    return "utf-8-sig" if head.startswith(BOM) else "utf-8"


def _decodes_as(path: Path, fmt: str, encoding: str) -> bool:
    """Whether the whole (decompressed) file decodes in `encoding`."""
    decoder = codecs.getincrementaldecoder(encoding)()
    try:
        for chunk in _content_chunks(path, fmt):
            decoder.decode(chunk)
        decoder.decode(b"", final=True)
    except UnicodeDecodeError:
        return False
    return True


def _read_csv_header(path: Path, fmt: str, encoding: str) -> tuple[str, list[str]]:
    """Sniff the delimiter from the header line (the candidate that occurs most) and split it."""
    opener = gzip.open if fmt == "csv.gz" else open
    with opener(path, "rt", encoding=encoding, newline="") as fh:
        line = fh.readline(MAX_FIELD_BYTES).rstrip("\r\n")
    counts = {d: line.count(d) for d in DELIMITERS}
    delimiter = max(DELIMITERS, key=lambda d: (counts[d], -DELIMITERS.index(d)))
    names = next(csv.reader([line], delimiter=delimiter), [])
    return delimiter, names


def _parquet_columns(path: Path) -> list[str]:
    try:
        with duckdb.connect() as con:
            rows = con.execute("DESCRIBE SELECT * FROM read_parquet(?)", [str(path)]).fetchall()
    except duckdb.Error as exc:
        raise ContractError(path, None, None, f"is not a readable Parquet file ({_first_line(exc)}).") from exc
    return [r[0] for r in rows]


def _normalize_header(path: Path, names: list[str]) -> tuple[str, ...]:
    """Lower-case and strip header names; blank names become column<i>; repeated names are an error."""
    normalized = [n.strip().lower() or f"column{i}" for i, n in enumerate(names)]
    seen: set[str] = set()
    for name in normalized:
        if name in seen or name.startswith("_source_"):
            raise ContractError(path, name, name, f"column '{name}' appears twice in the header (or is reserved).")
        seen.add(name)
    return tuple(normalized)


def _union_columns(sources: list[_Source]) -> list[str]:
    """All columns of all files, in order of first appearance."""
    columns: list[str] = []
    for source in sources:
        columns += [c for c in source.columns if c not in columns]
    return columns


def _insert_source(con: duckdb.DuckDBPyConnection, table: str, contract: ExtractContract, source: _Source,
                   tmp: Path) -> int:
    """Append one file, typed, to `table` (its rows are numbered later, `_number_rows`); returns the rows."""
    text = ", ".join(
        f"CAST({sql_ident(f)} AS VARCHAR) AS {sql_ident(c)}" for f, c in zip(source.file_columns, source.columns)
    )
    delivered = f"(SELECT {text} FROM {_reader_sql(source, tmp)})"
    sql = (f"INSERT INTO {table} BY NAME SELECT *, {sql_literal(source.path.name)} AS _source_file "
           f"FROM ({cast_sql(contract, delivered, source.columns)})")
    try:
        return int(con.execute(sql).fetchone()[0])
    except duckdb.Error as exc:
        raise _read_error(source, exc) from exc


def _number_rows(con: duckdb.DuckDBPyConnection, table: str) -> None:
    """Set `_source_row` from the row ids of a committed load: one insert per file appended its rows in file
    order with consecutive row ids (preserve_insertion_order, DuckDB's default, set by the warehouse), while
    `row_number() OVER ()` would have read each file on one thread."""
    firsts = con.execute(f"SELECT _source_file, min(rowid) FROM {table} GROUP BY ALL ORDER BY ALL").fetchall()
    for file, first in firsts:
        con.execute(f"UPDATE {table} SET _source_row = rowid - ? + 1 WHERE _source_file = ?", [first, file])


def _reader_sql(source: _Source, tmp: Path) -> str:
    if source.format == "parquet":
        return f"read_parquet({sql_literal(str(source.path))})"
    path, compression = source.path, "gzip" if source.format == "csv.gz" else "none"
    if source.encoding not in ("utf-8", "utf-8-sig"):
        path, compression = _transcode_to_utf8(source, tmp), "none"
    columns = "{" + ", ".join(f"{sql_literal(c)}: 'VARCHAR'" for c in source.file_columns) + "}"
    return (
        f"read_csv({sql_literal(str(path))}, delim={sql_literal(source.delimiter)}, quote='\"', escape='\"', "
        f"header=true, auto_detect=false, strict_mode=true, columns={columns}, compression='{compression}', "
        f"max_line_size={MAX_FIELD_BYTES}, buffer_size={2 * MAX_FIELD_BYTES})"
    )


def _transcode_to_utf8(source: _Source, tmp: Path) -> Path:
    """Write a UTF-8 copy of a cp1252 / latin-1 file into `tmp` (the delivered file is left untouched)."""
    target = tmp / f"{source.path.name}.utf8.csv"
    decoder = codecs.getincrementaldecoder(source.encoding)()
    with open(target, "w", encoding="utf-8", newline="") as out:
        for chunk in _content_chunks(source.path, source.format):
            out.write(decoder.decode(chunk))
        out.write(decoder.decode(b"", final=True))
    return target


def _read_error(source: _Source, exc: duckdb.Error) -> ContractError:
    """Turn a DuckDB reader error into one sentence naming the file and the line."""
    text = str(exc)
    line = re.search(r"CSV Error on Line: (\d+)", text)
    original = re.search(r"Original Line: ?(.*)\n(.*)", text)
    if line:
        reason = original.group(2).strip().rstrip(".") if original else _first_line(exc)
        example = original.group(1)[:200] if original else None
        return ContractError(
            source.path, None, example,
            f"line {line.group(1)} is malformed ({reason}); the file may be truncated or half-written, "
            f"so it was not loaded: {example!r}.",
        )
    return ContractError(source.path, None, None, f"could not be read as {source.format} ({_first_line(exc)}).")


def _append_ingest_log(con: duckdb.DuckDBPyConnection, extract: str, loads: list[FileLoad]) -> None:
    con.execute(
        "CREATE TABLE IF NOT EXISTS ingest_log(extract VARCHAR, file VARCHAR, sha256 VARCHAR, format VARCHAR, "
        "encoding VARCHAR, rows BIGINT, loaded_at TIMESTAMP)"
    )
    loaded_at = datetime.now(timezone.utc).replace(tzinfo=None)
    if not loads:
        return
    con.executemany(
        "INSERT INTO ingest_log VALUES (?, ?, ?, ?, ?, ?, ?)",
        [[extract, x.file, x.sha256, x.format, x.encoding, x.rows, loaded_at] for x in loads],
    )


def _first_line(exc: Exception) -> str:
    return str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__


def first_purchase_date(landing_dir: Path, floor: date) -> date | None:
    """The date of the earliest purchase in the landing folder's purchases extract on or after `floor` (earlier
    dates are placeholders the contract quarantines), or None when the folder has no readable purchases. Reads the
    extract as the night does (`load_raw`), into a throwaway in-memory database."""
    try:
        paths = scan_landing(Path(landing_dir)).extracts.get("purchases", [])
        if not paths:
            return None
        with duckdb.connect() as con:
            load_raw(con, "purchases", paths)
            first = con.execute("SELECT CAST(min(order_ts) AS DATE) FROM raw_purchases WHERE order_ts >= ?",
                                [floor]).fetchone()[0]
    except (ContractError, duckdb.Error):
        return None
    return first
