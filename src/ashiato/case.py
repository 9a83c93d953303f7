"""A case: a folder holding the DuckDB store and a manifest.

One writer per case (DuckDB locks the file for the process that opens it read-write);
readers open it read-only. Table layout:

- ``events``   the normalised events (schema.FIELDS)
- ``evidence`` one row per evidence file: hash, format, encoding, zone, counts, status
- ``aliases``  other paths at which the same content was handed over
- ``rejects``  records that could not be parsed: evidence, line/record, reason, raw bytes
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import duckdb
import pyarrow as pa

from ashiato import __version__
from ashiato.errors import CaseError
from ashiato.schema import events_ddl

MANIFEST = "manifest.json"
DB = "case.duckdb"
CASE_SCHEMA = "ashiato.case/1"

_DDL = (
    events_ddl(),
    """CREATE TABLE IF NOT EXISTS evidence (
        evidence_id VARCHAR PRIMARY KEY, sha256 VARCHAR, path VARCHAR, container VARCHAR,
        size BIGINT, format VARCHAR, dataset VARCHAR, encoding VARCHAR, tz VARCHAR,
        status VARCHAR, rows BIGINT, rejected BIGINT, decode_errors BIGINT,
        first_ts TIMESTAMPTZ, last_ts TIMESTAMPTZ, ingested_at TIMESTAMPTZ, error VARCHAR)""",
    "CREATE TABLE IF NOT EXISTS aliases (evidence_id VARCHAR, path VARCHAR)",
    """CREATE TABLE IF NOT EXISTS rejects (
        evidence_id VARCHAR, record BIGINT, reason VARCHAR, raw BLOB)""",
)


@dataclass(frozen=True)
class Case:
    root: Path

    @property
    def db_path(self) -> Path:
        return self.root / DB

    @property
    def manifest(self) -> dict[str, Any]:
        try:
            data: dict[str, Any] = json.loads((self.root / MANIFEST).read_text("utf-8"))
        except FileNotFoundError as exc:
            raise CaseError(
                f"{self.root} is not an ashiato case (no {MANIFEST}); "
                "create one with `ashiato ingest CASE EVIDENCE...`"
            ) from exc
        return data

    @property
    def tz(self) -> str:
        return str(self.manifest.get("tz", "UTC"))

    @classmethod
    def create_or_open(cls, root: Path, tz: str | None = None) -> Case:
        root.mkdir(parents=True, exist_ok=True)
        case = cls(root)
        path = root / MANIFEST
        if not path.exists():
            manifest = {
                "schema": CASE_SCHEMA,
                "created": datetime.now(UTC).isoformat(timespec="seconds"),
                "tz": tz or "UTC",
                "ashiato": __version__,
            }
            path.write_text(json.dumps(manifest, indent=2), "utf-8")
        with case.writer() as con:
            for ddl in _DDL:
                con.execute(ddl)
        return case

    @classmethod
    def open(cls, root: Path) -> Case:
        case = cls(root)
        case.manifest  # noqa: B018 - raises a clear CaseError when it isn't a case
        if not case.db_path.exists():
            raise CaseError(f"{root}: the case store {DB} is missing; ingest evidence first")
        return case

    @contextmanager
    def writer(self) -> Iterator[duckdb.DuckDBPyConnection]:
        try:
            con = duckdb.connect(str(self.db_path))
        except duckdb.IOException as exc:
            raise CaseError(
                f"{self.db_path}: can't open the case for writing ({exc}); "
                "is another ashiato process using it?"
            ) from exc
        try:
            yield con
        finally:
            con.close()

    @contextmanager
    def reader(self) -> Iterator[duckdb.DuckDBPyConnection]:
        """A read-only connection that can't reach files outside the case."""
        try:
            con = duckdb.connect(
                str(self.db_path),
                read_only=True,
                config={"enable_external_access": False},
            )
        except duckdb.Error as exc:
            raise CaseError(f"{self.db_path}: can't open the case ({exc})") from exc
        try:
            yield con
        finally:
            con.close()

    def ibis(self) -> Any:
        """A read-only Ibis connection to the case store (analyses use this)."""
        import ibis

        return ibis.duckdb.connect(str(self.db_path), read_only=True)


class EventWriter:
    """Buffers finished batches and appends them to ``events`` in large inserts."""

    def __init__(self, con: duckdb.DuckDBPyConnection, flush_rows: int = 262_144) -> None:
        self.con = con
        self.flush_rows = flush_rows
        self._pending: list[pa.RecordBatch] = []
        self._rows = 0

    def add(self, batch: pa.RecordBatch) -> None:
        if batch.num_rows == 0:
            return
        self._pending.append(batch)
        self._rows += batch.num_rows
        if self._rows >= self.flush_rows:
            self.flush()

    def flush(self) -> None:
        if not self._pending:
            return
        table = pa.Table.from_batches(self._pending)
        self._pending, self._rows = [], 0
        self.con.register("_incoming", table)
        try:
            self.con.execute("INSERT INTO events SELECT * FROM _incoming")
        finally:
            self.con.unregister("_incoming")
