"""A case: a folder holding the events as Parquet, a DuckDB catalogue and a manifest.

    CASE/manifest.json
    CASE/case.duckdb                      evidence, aliases, rejects tables
    CASE/events/<dataset>/<evidence>.parquet   the normalised events (schema.FIELDS)
    CASE/events/dataset=<d>/day=<day>/<evidence>.parquet   the same, from a Spark ingest

Events are written as one Parquet file per evidence file (written to ``.tmp`` and renamed
when the file is complete, so a killed ingest never leaves half a file behind). Parquet
is several times cheaper to write than inserting into DuckDB's own storage, streams with
flat memory, and is what other engines (Spark) read. Every connection sees them as the
view ``events``. One writer per case (DuckDB locks the catalogue for the process that
opens it read-write); readers open it read-only.

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
import pyarrow.parquet as pq

from ashiato import __version__
from ashiato.errors import CaseError
from ashiato.schema import EVENT_SCHEMA

MANIFEST = "manifest.json"
DB = "case.duckdb"
EVENTS = "events"
_EMPTY = "_schema/empty.parquet"  # zero rows: keeps the view valid before any evidence
CASE_SCHEMA = "ashiato.case/1"

_DDL = (
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
    def events_dir(self) -> Path:
        return self.root / EVENTS

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
        case.events_dir.mkdir(exist_ok=True)
        empty = case.events_dir / _EMPTY
        if not empty.exists():
            empty.parent.mkdir(exist_ok=True)
            pq.write_table(EVENT_SCHEMA.empty_table(), empty)
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
            con.execute(self._view_sql())
            yield con
        finally:
            con.close()

    @contextmanager
    def reader(self) -> Iterator[duckdb.DuckDBPyConnection]:
        """A read-only connection that can't reach files outside the case's events."""
        try:
            con = duckdb.connect(str(self.db_path), read_only=True)
            con.execute(self._view_sql())
            row = con.execute("SELECT current_setting('enable_external_access')").fetchone()
            # a second reader of the same file in this process shares the database
            # instance, already locked to the events folder by the first one
            if row is None or row[0]:
                con.execute("SET allowed_directories = ?", [[str(self.events_dir) + "/"]])
                con.execute("SET enable_external_access = false")
        except duckdb.Error as exc:
            raise CaseError(f"{self.db_path}: can't open the case ({exc})") from exc
        try:
            yield con
        finally:
            con.close()

    def ibis(self) -> Any:
        """A read-only Ibis connection to the case store (analyses use this)."""
        import ibis

        con = ibis.duckdb.connect(str(self.db_path), read_only=True)
        con.raw_sql(self._view_sql())
        # DuckDB draws a progress bar on long queries; ashiato prints its own output
        con.raw_sql("SET enable_progress_bar = false")
        return con

    def _view_sql(self) -> str:
        # the path is the case's own folder, not log content; quotes are doubled anyway
        # both layouts (see the module docstring); partition folders are not columns
        glob = str(self.events_dir / "**" / "*.parquet").replace("'", "''")
        view = f"read_parquet('{glob}', hive_partitioning = false)"
        return f"CREATE OR REPLACE TEMP VIEW events AS SELECT * FROM {view}"  # noqa: S608

    def drop_events(self, evidence_id: str) -> None:
        """Remove every Parquet part (finished or not) of one evidence file."""
        for part in self.events_dir.glob(f"**/{evidence_id}*.parquet*"):
            part.unlink()


class EventWriter:
    """Streams one evidence file's events into its Parquet file in the case.

    The file is written as ``<name>.parquet.tmp`` and renamed by ``close()``; until then
    the events are invisible, so an interrupted ingest leaves nothing half-visible.
    """

    def __init__(self, case: Case, evidence_id: str, dataset: str, group_rows: int = 131_072):
        folder = case.events_dir / _safe(dataset)
        folder.mkdir(parents=True, exist_ok=True)
        self.path = folder / f"{evidence_id}.parquet"
        self._tmp = self.path.with_suffix(".parquet.tmp")
        self.group_rows = group_rows
        self._writer: pq.ParquetWriter | None = None
        self._pending: list[pa.RecordBatch] = []
        self._rows = 0

    def add(self, batch: pa.RecordBatch) -> None:
        if batch.num_rows == 0:
            return
        self._pending.append(batch)
        self._rows += batch.num_rows
        if self._rows >= self.group_rows:
            self.flush()

    def flush(self) -> None:
        if not self._pending:
            return
        table = pa.Table.from_batches(self._pending, schema=EVENT_SCHEMA)
        self._pending, self._rows = [], 0
        if self._writer is None:
            self._writer = pq.ParquetWriter(self._tmp, EVENT_SCHEMA, compression="zstd")
        self._writer.write_table(table)

    def close(self) -> None:
        """Make the events visible (nothing is written for an evidence file without events)."""
        self.flush()
        if self._writer is not None:
            self._writer.close()
            self._tmp.replace(self.path)
            self._writer = None

    def abort(self) -> None:
        if self._writer is not None:
            self._writer.close()
            self._writer = None
        self._tmp.unlink(missing_ok=True)


def _safe(name: str) -> str:
    return "".join(c if c.isalnum() or c in "._-" else "_" for c in name) or "unknown"
