"""A case: a folder holding the events as Parquet, a DuckDB catalogue and a manifest.

    CASE/manifest.json
    CASE/case.duckdb                      evidence, aliases, rejects tables
    CASE/events/<dataset>/<evidence>.parquet   the normalised events (schema.FIELDS)
    CASE/events/<dataset>/batch-<hash>.parquet  the events of several small files
    CASE/events/dataset=<d>/day=<day>/<evidence>.parquet   the same, from a Spark ingest
    CASE/tmp/                             archives unpacked while an ingest runs

Events are written as one Parquet file per evidence file (written to ``.tmp`` and renamed
when the file is complete, so a killed ingest never leaves half a file behind). Parquet
is several times cheaper to write than inserting into DuckDB's own storage, streams with
flat memory, and is what other engines (Spark) read. Small files (a few hundred events:
most of a triage collection) share a part (:class:`PartBatch`): a Parquet file costs
~2-3 ms to create whatever it holds. Such a part is named ``batch-<hash of its evidence
ids>`` and lists them in its Parquet metadata (``ashiato.evidence_ids``), so that hiding
uncommitted parts and removing one file's events work from the part alone. Every
connection sees them as the view ``events``. One writer per case (DuckDB locks the
catalogue for the process that opens it read-write); readers open it read-only.

- ``evidence`` one row per evidence file: hash, format, encoding, zone, counts, status
  (``not read`` for what the walker refused or skipped, with the reason in ``error``)
- ``aliases``  other paths at which the same content was handed over
- ``rejects``  records that could not be parsed: evidence, line/record, reason, raw bytes
"""

from __future__ import annotations

import atexit
import functools
import hashlib
import json
import os
import re
import shutil
import tempfile
from collections.abc import Callable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import duckdb
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from ashiato import __version__
from ashiato.errors import CaseError
from ashiato.schema import EVENT_SCHEMA

MANIFEST = "manifest.json"
DB = "case.duckdb"
EVENTS = "events"
TMP = "tmp"  # archives unpacked during an ingest; never evidence itself
ENV_MEMORY = "ASHIATO_MEMORY_LIMIT"  # DuckDB's budget for analyses, e.g. "2GB"
DEFAULT_MEMORY = "1GB"
_SIZE = re.compile(r"(?i)\d+(\.\d+)?\s*(b|[kmgt]i?b)")
_EMPTY = "_schema/empty.parquet"  # zero rows: keeps the view valid before any evidence
CASE_SCHEMA = "ashiato.case/1"
# how an ingest names an evidence file's part (-N: its Nth span, read apart: Format.split)
PART_STEM = re.compile(r"[0-9a-f]{16}(?:-[0-9]+)?")  # named by part_name
BATCH_PREFIX = "batch-"  # a part holding several small evidence files (PartBatch)
_BATCH = re.compile(r"batch-[0-9a-f]{16}")
# a batch part's metadata: its evidence ids, comma-separated
PART_EVIDENCE = b"ashiato.evidence_ids"
UNREADABLE = "unreadable"  # the evidence "held" by a batch part without that metadata

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
    def create_or_open(cls, root: Path, tz: str | None = None, tables: bool = True) -> Case:
        """The case at ``root``, made if missing. ``tables=False``: the catalogue's tables
        are left to the caller's next :meth:`writer`, which creates them (ingest: the
        store is opened once, not twice, ~30 ms)."""
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
            # not Schema.empty_table(): it imports pandas (~0.4 s)
            pq.write_table(pa.Table.from_batches([], schema=EVENT_SCHEMA), empty)
        if tables:
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
        # memory by a budget, not by the case's size: DuckDB's own default is 80 % of the
        # machine, which it fills on a big case; past the budget it spills to disk
        # literals, not bound parameters: DuckDB imports pandas (~0.5 s, 60-90 MB) for a
        # statement with parameters; the limit is checked first, the folder is our own
        limit = os.environ.get(ENV_MEMORY, DEFAULT_MEMORY).strip()
        if not _SIZE.fullmatch(limit):
            raise CaseError(f"${ENV_MEMORY}={limit!r}: give a size such as 1GB or 512MB")
        con.raw_sql(f"SET memory_limit = '{limit}'")
        con.raw_sql("SET temp_directory = '" + _spill_dir().replace("'", "''") + "'")
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
        """Parts an ingest wrote whose catalogue rows are not committed as done.

        An ingest names each part after its evidence id (or, for a batch of small files,
        lists the ids in the part's metadata) and renames it into place just before the
        rows are committed: a run killed in between leaves a part nobody may see (the
        next run removes it). Notes, detections and other parts are named otherwise.
        Listed when a connection opens (readers can't open while a writer runs), so the
        view costs nothing when, as usual, there are none.
        """
        parts = list(self.ingest_parts())
        if not parts:
            return []
        done = {
            row[0]
            for row in con.execute(
                "SELECT evidence_id FROM evidence WHERE status = 'done'"
            ).fetchall()
        }
        return [p for p, ids in parts if not ids <= done]

    def ingest_parts(self) -> Iterator[tuple[Path, set[str]]]:
        """Every part an ingest wrote, with the evidence ids it holds."""
        for p in self.events_dir.glob("**/*.parquet"):
            if PART_STEM.fullmatch(p.stem):
                yield p, {p.stem[:16]}
            elif _BATCH.fullmatch(p.stem):
                # unreadable (not written by an ingest): hidden, and removed by the next
                yield p, batch_evidence(p) or {UNREADABLE}

    def part_path(self, name: str, dataset: str) -> Path:
        """Where an ingest part named ``name`` of ``dataset`` goes (EventWriter)."""
        return self.events_dir / _safe(dataset) / f"{name}.parquet"

    @property
    def tmp_dir(self) -> Path:
        """Where an ingest unpacks archives; emptied by the next writer if a run was killed."""
        return self.root / TMP

    def clear_tmp(self) -> None:
        """Remove what a killed run unpacked (call with the writer lock held)."""
        if self.tmp_dir.is_dir():
            shutil.rmtree(self.tmp_dir, ignore_errors=True)

    def drop_events(self, evidence_id: str) -> None:
        """Remove every Parquet part (finished or not) of one evidence file, and its rows
        from the batch part it shares with other files."""
        for part in self.events_dir.glob(f"**/{evidence_id}*.parquet*"):
            part.unlink()
        for part in self.events_dir.glob(f"**/{BATCH_PREFIX}*.parquet"):
            if _BATCH.fullmatch(part.stem) and evidence_id in batch_evidence(part):
                drop_from_batch(part, {evidence_id})


def batch_evidence(part: Path) -> set[str]:
    """The evidence ids a batch part holds (from its metadata; none if unreadable).
    Remembered per file version: every connection lists them (hidden_parts)."""
    try:
        st = part.stat()
    except OSError:
        return set()
    return set(_batch_ids(str(part), st.st_mtime_ns, st.st_size))


@functools.lru_cache(maxsize=4096)
def _batch_ids(path: str, _mtime_ns: int, _size: int) -> frozenset[str]:
    try:
        meta = pq.read_schema(path).metadata or {}
    except (OSError, pa.ArrowException):
        return frozenset()
    return frozenset(i for i in meta.get(PART_EVIDENCE, b"").decode().split(",") if i)


def drop_from_batch(part: Path, evidence_ids: set[str]) -> None:
    """Rewrite a batch part without the rows of ``evidence_ids`` (removed when empty)."""
    keep = batch_evidence(part) - evidence_ids
    if not keep:
        part.unlink()
        return
    table = pq.read_table(part, schema=EVENT_SCHEMA)
    mask = pc.is_in(table.column("evidence_id"), pa.array(sorted(keep), pa.string()))
    _write_part(part, table.filter(mask), keep)


def _write_part(path: Path, table: pa.Table, evidence_ids: set[str]) -> None:
    """Write a batch part whole (``.tmp``, then renamed): its rows and its evidence ids."""
    meta = {**(EVENT_SCHEMA.metadata or {}), PART_EVIDENCE: ",".join(sorted(evidence_ids)).encode()}
    table = table.replace_schema_metadata(meta)
    codec = "snappy" if table.num_rows < SMALL_PART_ROWS else "zstd"
    tmp = path.with_suffix(".parquet.tmp")
    tmp.parent.mkdir(parents=True, exist_ok=True)
    pq.write_table(table, tmp, compression=codec, row_group_size=GROUP_ROWS)
    tmp.replace(path)


Finish = Callable[[pa.Table], pa.Table]  # last touches to rows before they are stored
SMALL_PART_ROWS = 16_384  # fewer rows than this in a file: snappy (EventWriter.flush)
# rows per Parquet row group: two groups are in memory while the previous one is written
# (1M Squid lines: 131,072 rows a group peaked at 540 MB, 65,536 at 420 MB, in as much time)
GROUP_ROWS = 65_536


class PartBatch:
    """The events of small evidence files, gathered into shared parts (one per dataset
    folder) instead of a Parquet file each.

    ``close()`` writes them; the ingest calls it before it commits the files' catalogue
    rows, so a part is in place before its rows count, as with one part per file. A batch
    is written early once it holds ``group_rows`` rows (memory stays bounded).
    """

    def __init__(
        self, case: Case, group_rows: int = GROUP_ROWS, finish: Finish | None = None
    ) -> None:
        self.case = case
        self.group_rows = group_rows
        self.finish = finish  # applied to each part's rows together before writing
        self._tables: dict[str, list[tuple[str, pa.Table]]] = {}
        self._rows: dict[str, int] = {}

    def add(self, dataset: str, evidence_id: str, table: pa.Table) -> None:
        self._tables.setdefault(dataset, []).append((evidence_id, table))
        self._rows[dataset] = self._rows.get(dataset, 0) + table.num_rows
        if self._rows[dataset] >= self.group_rows:
            self._write(dataset)

    def discard(self, evidence_id: str) -> None:
        """Forget a file added to the batch (its ingest failed after all)."""
        for dataset, tables in self._tables.items():
            kept = [(e, t) for e, t in tables if e != evidence_id]
            if len(kept) != len(tables):
                self._tables[dataset] = kept
                self._rows[dataset] = sum(t.num_rows for _, t in kept)

    def close(self) -> None:
        for dataset in list(self._tables):
            self._write(dataset)

    def _write(self, dataset: str) -> None:
        tables = self._tables.pop(dataset, [])
        self._rows.pop(dataset, None)
        if not tables:
            return
        ids = {e for e, _ in tables}
        # named by its evidence ids: a later batch may hold one of these files again
        # (read again after its rows were dropped) while this part keeps the others
        name = hashlib.sha256(",".join(sorted(ids)).encode()).hexdigest()[:16]
        path = self.case.events_dir / _safe(dataset) / f"{BATCH_PREFIX}{name}.parquet"
        try:
            table = _compact(pa.concat_tables([t for _, t in tables]))
            if self.finish is not None:
                table = self.finish(table)
            _write_part(path, table, ids)
        except (OSError, pa.ArrowException) as exc:
            raise CaseError(
                f"{path}: can't store the events of {len(tables)} small evidence files "
                f"({exc}); the next ingest reads them again"
            ) from exc


# the columns of a batch part left in pieces: most of its bytes (a row's raw fields, its
# line), which neither normalize.derive nor anything before the write reads
_BULKY = frozenset({"extra", "message"})


def _compact(table: pa.Table) -> pa.Table:
    """The table with each column but the bulky ones in one piece, not one per file:
    compute functions and the Parquet writer pay per piece (the public EVTX corpus, 299
    files in one part: derive and write 75 -> 35 ms), and copying the small columns
    costs a fraction of the batch's memory."""
    columns = [
        col if name in _BULKY or col.num_chunks < 2 else pa.chunked_array([col.combine_chunks()])
        for name, col in zip(table.column_names, table.columns, strict=True)
    ]
    return pa.Table.from_arrays(columns, schema=table.schema)


class EventWriter:
    """Streams one evidence file's events into its Parquet file in the case.

    The file is written as ``<name>.parquet.tmp`` and renamed by ``close()``; until then
    the events are invisible, so an interrupted ingest leaves nothing half-visible.

    A row group is finished and written on a thread of its own while the parser goes on
    with the next (Arrow's compute functions and the Parquet encoder release the GIL):
    one group at a time, so memory holds at most two groups.
    """

    def __init__(
        self, case: Case, evidence_id: str, dataset: str, group_rows: int = GROUP_ROWS,
        batch: PartBatch | None = None, finish: Finish | None = None,
    ) -> None:  # fmt: skip
        self.evidence_id = evidence_id
        self.dataset = dataset
        self.batch = batch  # where a small file's events go (None: a part of its own)
        self.finish = finish  # applied to the rows before they are written (not batched)
        self.path = case.part_path(evidence_id, dataset)  # its folder made when written
        self._tmp = self.path.with_suffix(".parquet.tmp")
        self.group_rows = group_rows
        self._writer: pq.ParquetWriter | None = None
        self._pending: list[pa.RecordBatch] = []
        self._rows = 0
        self._writing: Future[None] | None = None  # the group being written

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
        if not last and table.num_rows > self.group_rows:
            # whole row groups, the rest kept for the next: the file's layout must not
            # depend on the sizes of the batches a format hands on (an EVTX read by one
            # process or two), since analyses' ties may follow the row groups
            whole = table.num_rows - table.num_rows % self.group_rows
            rest = table.slice(whole)
            table = table.slice(0, whole)
            self._pending, self._rows = rest.to_batches(), rest.num_rows
        self._wait()
        if self._writer is None:
            # zstd sets up a compressor per column (~70): ~3 ms a file, most of the cost of
            # storing a log of a few hundred events; a small file whole is stored snappy
            small = last and table.num_rows < SMALL_PART_ROWS
            codec = "snappy" if small else "zstd"
            self._tmp.parent.mkdir(parents=True, exist_ok=True)
            self._writer = pq.ParquetWriter(self._tmp, EVENT_SCHEMA, compression=codec)
        if last:  # nothing to parse meanwhile: written here
            self._write(self._writer, table)
        else:
            self._writing = _writes().submit(self._write, self._writer, table)

    def _write(self, writer: pq.ParquetWriter, table: pa.Table) -> None:
        if self.finish is not None:
            table = self.finish(table)
        writer.write_table(table, row_group_size=self.group_rows)

    def _wait(self) -> None:
        """Until the group being written is written (its error raised here)."""
        writing, self._writing = self._writing, None
        if writing is not None:
            writing.result()

    def close(self) -> None:
        """Make the events visible (nothing is written for an evidence file without events).
        A small file's events go to the batch, if there is one, and are written with it."""
        if (self.batch is not None and self._writer is None and self._pending
                and self._rows < SMALL_PART_ROWS):  # fmt: skip
            table = pa.Table.from_batches(self._pending, schema=EVENT_SCHEMA)
            self._pending, self._rows = [], 0
            self.batch.add(self.dataset, self.evidence_id, table)
            return
        self.flush(last=True)
        self._wait()
        if self._writer is not None:
            self._writer.close()
            self._tmp.replace(self.path)
            self._writer = None

    def abort(self) -> None:
        self._pending, self._rows = [], 0
        try:
            self._wait()
        except (OSError, pa.ArrowException):
            pass  # the file is given up whatever went wrong writing it
        if self.batch is not None:
            self.batch.discard(self.evidence_id)
        if self._writer is not None:
            self._writer.close()
            self._writer = None
        self._tmp.unlink(missing_ok=True)


@functools.cache
def _writes() -> ThreadPoolExecutor:
    """The thread that writes row groups (one for the process: groups of several files
    are written one after another, in the order they come)."""
    return ThreadPoolExecutor(max_workers=1, thread_name_prefix="ashiato-parquet")


# a forked child (a large EVTX's second process, formats.evtx_parallel) has the pool but
# not its thread: it makes its own
os.register_at_fork(after_in_child=_writes.cache_clear)


def _safe(name: str) -> str:
    return "".join(c if c.isalnum() or c in "._-" else "_" for c in name) or "unknown"


def part_name(evidence_id: str, part: int) -> str:
    """The name of an evidence file's ``part`` (0: the file's only or first part)."""
    return f"{evidence_id}-{part}" if part else evidence_id


@functools.cache
def _spill_dir() -> str:
    """One folder per process for what DuckDB spills past its budget (two processes
    sharing one would collide), removed at exit."""
    path = tempfile.mkdtemp(prefix="ashiato-spill-")
    atexit.register(shutil.rmtree, path, True)
    return path
