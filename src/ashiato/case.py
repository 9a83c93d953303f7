"""A case: a folder holding the events as Parquet, a DuckDB catalogue and a manifest.

    CASE/manifest.json
    CASE/case.duckdb                      evidence, aliases, rejects tables
    CASE/events/<dataset>/<evidence>.parquet   the normalised events (schema.FIELDS)
    CASE/events/dataset=<d>/day=<day>/<evidence>.parquet   the same, from a Spark ingest
    CASE/tmp/                             archives unpacked while an ingest runs

Events are written as one Parquet file per evidence file (written to ``.tmp`` and renamed
when the file is complete, so a killed ingest never leaves half a file behind). Parquet
is several times cheaper to write than inserting into DuckDB's own storage, streams with
flat memory, and is what other engines (Spark) read. Every connection sees them as the
view ``events``. One writer per case (DuckDB locks the catalogue for the process that
opens it read-write); readers open it read-only.

- ``evidence`` one row per evidence file: hash, format, encoding, zone, counts, status
  (``not read`` for what the walker refused or skipped, with the reason in ``error``)
- ``aliases``  other paths at which the same content was handed over
- ``rejects``  records that could not be parsed: evidence, line/record, reason, raw bytes
"""

from __future__ import annotations

import json
import re
import shutil
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
TMP = "tmp"  # archives unpacked during an ingest; never evidence itself
_EMPTY = "_schema/empty.parquet"  # zero rows: keeps the view valid before any evidence
CASE_SCHEMA = "ashiato.case/1"
_EVIDENCE_ID = re.compile(r"[0-9a-f]{16}")  # how an ingest names an evidence file's part

_DDL = (
    """CREATE TABLE IF NOT EXISTS evidence (
        evidence_id VARCHAR PRIMARY KEY, sha256 VARCHAR, path VARCHAR, container VARCHAR,
        size BIGINT, format VARCHAR, dataset VARCHAR, encoding VARCHAR, tz VARCHAR,
        status VARCHAR, rows BIGINT, rejected BIGINT, decode_errors BIGINT,
        first_ts TIMESTAMPTZ, last_ts TIMESTAMPTZ, ingested_at TIMESTAMPTZ, error VARCHAR)""",
    "CREATE TABLE IF NOT EXISTS aliases (evidence_id VARCHAR, path VARCHAR)",
    """CREATE TABLE IF NOT EXISTS rejects (
        evidence_id VARCHAR, record BIGINT, reason VARCHAR, raw BLOB)""",
    # lines read as CP932 in a UTF-8 file, or as UTF-8 in a CP932 one (cases made
    # before this column get it when next opened for writing)
    "ALTER TABLE evidence ADD COLUMN IF NOT EXISTS redecoded BIGINT DEFAULT 0",
)
# the evidence table's columns, in order (inserts name them: older cases lack the last)
EVIDENCE_COLUMNS = (
    "evidence_id", "sha256", "path", "container", "size", "format", "dataset", "encoding",
    "tz", "status", "rows", "rejected", "decode_errors", "first_ts", "last_ts",
    "ingested_at", "error", "redecoded",
)  # fmt: skip


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
        with case.writer():
            pass  # creates the tables
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
            for ddl in _DDL:  # the events view reads the catalogue: it must exist first
                con.execute(ddl)
            con.execute(self._view_sql(con))
            yield con
        finally:
            con.close()

    @contextmanager
    def reader(self) -> Iterator[duckdb.DuckDBPyConnection]:
        """A read-only connection that can't reach files outside the case's events."""
        try:
            con = duckdb.connect(str(self.db_path), read_only=True)
            con.execute(self._view_sql(con))
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
        con.raw_sql(self._view_sql(con.con))
        # DuckDB draws a progress bar on long queries; ashiato prints its own output
        con.raw_sql("SET enable_progress_bar = false")
        # analyses run ~100 queries over the same parts: read their footers once
        con.raw_sql("SET enable_object_cache = true")
        return con

    def _view_sql(self, con: duckdb.DuckDBPyConnection) -> str:
        # the path is the case's own folder, not log content; quotes are doubled anyway
        # both layouts (see the module docstring); partition folders are not columns
        # the case folder may hold glob characters ("case[1]"): they match themselves
        folder = "".join(f"[{c}]" if c in "[]*?" else c for c in str(self.events_dir))
        glob = (folder + "/**/*.parquet").replace("'", "''")
        hidden = self.hidden_parts(con)
        if not hidden:
            view = f"SELECT * FROM read_parquet('{glob}', hive_partitioning = false)"  # noqa: S608
        else:
            names = ", ".join("'" + str(p).replace("'", "''") + "'" for p in hidden)
            view = (  # paths of the case's own parts, quotes doubled
                f"SELECT * EXCLUDE (_part) FROM read_parquet('{glob}', hive_partitioning = "  # noqa: S608
                f"false, filename = '_part') WHERE _part NOT IN ({names})"
            )
        return f"CREATE OR REPLACE TEMP VIEW events AS {view}"

    def hidden_parts(self, con: duckdb.DuckDBPyConnection) -> list[Path]:
        """Parts an ingest wrote whose catalogue row is not committed as done.

        An ingest names each part after its evidence id and renames it into place just
        before the row is committed: a run killed in between leaves a part nobody may see
        (the next run removes it). Notes, detections and other parts are named otherwise.
        Listed when a connection opens (readers can't open while a writer runs), so the
        view costs nothing when, as usual, there are none.
        """
        parts = [p for p in self.events_dir.glob("**/*.parquet") if _EVIDENCE_ID.fullmatch(p.stem)]
        if not parts:
            return []
        done = {
            row[0]
            for row in con.execute(
                "SELECT evidence_id FROM evidence WHERE status = 'done'"
            ).fetchall()
        }
        return [p for p in parts if p.stem not in done]

    @property
    def tmp_dir(self) -> Path:
        """Where an ingest unpacks archives; emptied by the next writer if a run was killed."""
        return self.root / TMP

    def clear_tmp(self) -> None:
        """Remove what a killed run unpacked (call with the writer lock held)."""
        if self.tmp_dir.is_dir():
            shutil.rmtree(self.tmp_dir, ignore_errors=True)

    def drop_events(self, evidence_id: str) -> None:
        """Remove every Parquet part (finished or not) of one evidence file."""
        for part in self.events_dir.glob(f"**/{evidence_id}*.parquet*"):
            part.unlink()


SMALL_PART_ROWS = 16_384  # fewer rows than this in a file: snappy (EventWriter.flush)


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

    def flush(self, last: bool = False) -> None:
        if not self._pending:
            return
        table = pa.Table.from_batches(self._pending, schema=EVENT_SCHEMA)
        self._pending, self._rows = [], 0
        if self._writer is None:
            # zstd sets up a compressor per column (~70): ~3 ms a file, most of the cost of
            # storing a log of a few hundred events; a small file whole is stored snappy
            small = last and table.num_rows < SMALL_PART_ROWS
            codec = "snappy" if small else "zstd"
            self._writer = pq.ParquetWriter(self._tmp, EVENT_SCHEMA, compression=codec)
        self._writer.write_table(table)

    def close(self) -> None:
        """Make the events visible (nothing is written for an evidence file without events)."""
        self.flush(last=True)
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
