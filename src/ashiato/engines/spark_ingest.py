"""``ashiato ingest --engine spark``: the evidence files parsed on Spark executors.

The same steps as :mod:`ashiato.ingest`, with the per-file work spread over a cluster:

1. the driver walks the inputs (folders, archives) into evidence files;
2. **probe** (one Spark task per few files): SHA-256, encoding and format of each file,
   from the same ``detect`` and ``registry.sniff`` as a DuckDB ingest;
3. the driver skips content the case already holds, or that an earlier file of this run
   holds (an alias, as a DuckDB ingest does);
4. **parse** (one Spark task per evidence file, largest first): ``fmt.parse(Source(...))``,
   the collection's host, and ``normalize.finalize_batch``, written by the task itself as
   Parquet parts ``events/dataset=<dataset>/day=<YYYY-MM-DD>/<evidence_id>.parquet``
   (``.tmp`` until the whole file is parsed, so a failed file leaves nothing visible); the
   task returns only counts, time range and rejects;
5. the driver fills the ``evidence`` and ``rejects`` tables exactly as a DuckDB ingest does,
   in one transaction. As there, a file counts once its catalogue row is committed: parts
   a killed run wrote without one are removed by the next run, of either engine.

The case may be a folder or a URL (``s3://``, ``hdfs://``, ``file://``): executors write
through ``pyarrow.fs`` (see :mod:`ashiato.engines.store`), the catalogue is kept in a local
working copy and sent back at the end. Reading the result needs nothing special: the
DuckDB view and the Spark engine both read both layouts.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import duckdb
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from ashiato.case import GROUP_ROWS, _safe
from ashiato.engines import store
from ashiato.evidence.collections import hosts_for_files
from ashiato.evidence.encoding import detect
from ashiato.evidence.walk import EvidenceFile, Walker, sha256_of
from ashiato.formats import registry
from ashiato.formats.base import SAMPLE_BYTES, Sample, Source
from ashiato.formats.parts import Stored
from ashiato.ingest import (
    NOT_READ,
    FileResult,
    IngestReport,
    Options,
    Progress,
    _decode_sample,
    _record,
    _with_host,
    _year_hint,
    _zone_for,
    record_not_read,
    zone,
)
from ashiato.normalize import finalize_batch
from ashiato.schema import EVENT_SCHEMA

NULL_DAY = "__HIVE_DEFAULT_PARTITION__"  # what Spark and Hive call a NULL partition value
BUDGET_ROWS = 524_288  # rows one task holds before writing out its largest part


def ingest(
    target: str | os.PathLike[str],
    inputs: Sequence[Path],
    options: Options,
    *,
    master: str | None = None,
    progress: Progress | None = None,
) -> IngestReport:
    """Ingest ``inputs`` into the case at ``target`` (folder or URL) on Spark."""
    from ashiato.engines import spark, spark_master

    for _, tzname in options.tz_overrides:
        zone(tzname)
    forced = registry.get(options.force_format).name if options.force_format else None
    at = store.open_case(target, create=True, tz=options.tz)
    case_tz = options.tz or at.case.tz
    zone(case_tz)
    sc = spark.session(spark_master(master)).sparkContext
    report = IngestReport()
    with at.case.writer() as con, Walker(_tmp_parent(at), options.password) as walker:
        _drop_unfinished(at, con)
        files = list(walker.walk(list(inputs)))
        report.skipped = walker.skipped
        record_not_read(con, [p.absolute() for p in inputs], walker.skipped)
        if not files:
            return report
        # a triage collection names its host once; every file inside belongs to it
        hosts = hosts_for_files((ev.display, ev.path) for ev in files)
        probes = _run(sc, _probe, [(str(ev.path), ev.display, forced) for ev in files],
                      slices=min(len(files), 4 * sc.defaultParallelism))  # fmt: skip
        tasks: list[dict[str, Any]] = []
        pending: dict[str, tuple[EvidenceFile, FileResult, str]] = {}
        # as a DuckDB ingest: a file counts once its catalogue row is committed, and what
        # a killed run wrote without one is removed by the next run (_drop_unfinished)
        con.execute("BEGIN")
        try:
            for ev, probe in zip(files, probes, strict=True):
                tzname = _zone_for(ev.display, case_tz, options.tz_overrides)
                result = _admit(con, ev, probe, tzname, pending)
                report.files.append(result)
                if result.status != "ingesting":
                    if progress:
                        progress(ev.display, ev.size)
                    continue
                pending[result.evidence_id] = (ev, result, probe["sha"])
                tasks.append({
                    "events": at.events_url, "path": str(ev.path), "display": ev.display,
                    "evidence_id": result.evidence_id, "encoding": result.encoding,
                    "format": result.format, "tz": result.tz, "size": ev.size,
                    "host": hosts.get(ev.display), "year": options.year or _year_hint(ev),
                    "options": dict(options.format_options),
                })  # fmt: skip
            tasks.sort(key=lambda t: -int(t["size"]))  # largest first: long tasks start early
            for done in _run(sc, _parse, tasks, slices=len(tasks)):
                ev, result, sha = pending[done["evidence_id"]]
                _finish(con, ev, sha, result, done)
                if progress:
                    progress(ev.display, ev.size)
        finally:
            con.execute("COMMIT")
    at.push()
    return report


def _tmp_parent(at: store.CaseAt) -> Path:
    """The case's own temp folder, emptied first: the writer lock is held, so what is
    there was unpacked by a run that was killed."""
    at.case.clear_tmp()
    return at.case.tmp_dir


def _run(sc: Any, fn: Any, items: Sequence[Any], slices: int) -> list[Any]:
    if not items:
        return []
    out: list[Any] = sc.parallelize(list(items), max(1, slices)).map(fn).collect()
    return out


def _drop_unfinished(at: store.CaseAt, con: duckdb.DuckDBPyConnection) -> None:
    """As ingest._drop_unfinished, for both layouts and for a case at a URL: parts (and
    rejects) of files without a catalogue row, and files that failed, go."""
    known = {r[0] for r in con.execute("SELECT evidence_id FROM evidence").fetchall()}
    retry = {r[0] for r in con.execute(
        "SELECT evidence_id FROM evidence WHERE status NOT IN ('done', 'unrecognised', ?)",
        [NOT_READ],
    ).fetchall()}  # fmt: skip
    store.delete_events(at.events_url, retry, unknown_besides=known)
    con.execute("DELETE FROM rejects WHERE evidence_id NOT IN (SELECT evidence_id FROM evidence)")
    for evidence_id in retry:
        con.execute("DELETE FROM rejects WHERE evidence_id = ?", [evidence_id])
        con.execute("DELETE FROM evidence WHERE evidence_id = ?", [evidence_id])


def _admit(con: duckdb.DuckDBPyConnection, ev: EvidenceFile, probe: dict[str, Any],
           tzname: str, planned: dict[str, tuple[EvidenceFile, FileResult, str]],
           ) -> FileResult:  # fmt: skip
    """One probed file: duplicate, unrecognised (recorded), failed, or ingesting (to parse)."""
    if probe.get("error"):
        result = FileResult(ev.display, "-", "failed", tz=tzname, error=probe["error"])
        return result  # unreadable: nothing to record under a hash
    sha = str(probe["sha"])
    evidence_id = sha[:16]
    known = con.execute(
        "SELECT status, format FROM evidence WHERE evidence_id = ?", [evidence_id]
    ).fetchone()
    if known is None and evidence_id in planned:  # the same content earlier in this run
        known = ("ingesting", planned[evidence_id][1].format)
    if known is not None:
        con.execute("INSERT INTO aliases VALUES (?, ?)", [evidence_id, ev.display])
        return FileResult(ev.display, evidence_id, "duplicate", format=known[1])
    fmt = registry.get(probe["format"]) if probe["format"] else None
    result = FileResult(ev.display, evidence_id, "ingesting", tz=tzname)
    result.encoding = None if fmt is not None and fmt.binary else probe["encoding"]
    result.format = fmt.name if fmt else None
    if fmt is None:
        result.status = "unrecognised"
        result.error = "no format recognised this file; try `ashiato formats --explain FILE`"
        _record(con, ev, sha, result, fmt)
    return result


def _finish(con: duckdb.DuckDBPyConnection, ev: EvidenceFile, sha: str, result: FileResult,
            done: dict[str, Any]) -> None:  # fmt: skip
    result.status = str(done["status"])
    result.rows = int(done["rows"])
    result.rejected = int(done["rejected"])
    result.redecoded = int(done.get("redecoded") or 0)
    result.first, result.last = done["first"], done["last"]
    result.error = done["error"]
    if done["rejects"]:
        con.executemany(
            "INSERT INTO rejects VALUES (?, ?, ?, ?)",
            [(result.evidence_id, rec, reason, raw) for rec, reason, raw in done["rejects"]],
        )
    fmt = registry.get(str(result.format))
    _record(con, ev, sha, result, fmt, int(done["decode_errors"]))


# -- on the executors ---------------------------------------------------------------------


def _probe(item: tuple[str, str, str | None]) -> dict[str, Any]:
    """Hash and recognise one file (the driver-side part of ingest._ingest_one)."""
    path, display, forced = item
    try:
        sha = sha256_of(Path(path))
        with open(path, "rb") as fh:
            head = fh.read(SAMPLE_BYTES)
    except OSError as exc:
        return {"sha": None, "error": f"{type(exc).__name__}: {exc}"}
    encoding = detect(head)
    fmt = registry.get(forced) if forced else registry.sniff(
        Sample(head, _decode_sample(head, encoding), Path(display).name))  # fmt: skip
    return {"sha": sha, "encoding": encoding, "format": fmt.name if fmt else None}


def _parse(task: dict[str, Any]) -> dict[str, Any]:
    """Parse one evidence file into the case's partitioned Parquet; return what happened."""
    fmt = registry.get(str(task["format"]))
    source = Source(
        path=Path(task["path"]), display=task["display"], evidence_id=task["evidence_id"],
        encoding=task["encoding"], tz=zone(task["tz"]), year_hint=int(task["year"]),
        options=task["options"],
    )  # fmt: skip
    result = FileResult(task["display"], task["evidence_id"], "ingesting")
    writer = PartitionedWriter(task["events"], task["evidence_id"])
    host = task.get("host")
    stored = Stored()
    try:
        for batch in fmt.parse(source):
            if host is not None:
                batch = _with_host(batch, host)
            batch = finalize_batch(batch, source.evidence_id, fmt.dataset)
            stored.add(batch)
            writer.add(batch)
        writer.close()
        result.status = "done"
    except Exception as exc:  # on a cluster, one file's bug (any error) must not end the job
        writer.abort()  # as a DuckDB ingest: the file's rows go, its rejects stay
        result.status = "failed"
        result.error = f"{type(exc).__name__}: {exc}"
    result.rows, result.first, result.last = stored.rows, stored.first, stored.last
    rejects = [(r.record, r.reason, r.raw) for r in source.take_rejects()]
    return {
        "evidence_id": result.evidence_id, "status": result.status, "rows": result.rows,
        "rejected": source.rejected, "decode_errors": source.decode_errors,
        "redecoded": source.redecoded,
        "first": result.first, "last": result.last, "error": result.error, "rejects": rejects,
    }  # fmt: skip


class PartitionedWriter:
    """One evidence file's events, split by dataset and UTC day, as Parquet parts.

    ``<events>/dataset=<dataset>/day=<YYYY-MM-DD>/<evidence_id>.parquet``: each part is
    streamed to ``.tmp`` and renamed by ``close()``, once the whole evidence file is parsed.
    At most ``budget`` rows wait in memory; the largest part is written out first.
    """

    def __init__(self, events_url: str, evidence_id: str, group_rows: int = GROUP_ROWS,
                 budget: int = BUDGET_ROWS) -> None:  # fmt: skip
        self.fs, self.base = store.filesystem(events_url)
        self.evidence_id = evidence_id
        self.group_rows = group_rows
        self.budget = budget
        self._pending: dict[str, list[pa.RecordBatch]] = {}
        self._rows: dict[str, int] = {}
        self._writers: dict[str, tuple[pq.ParquetWriter, Any, str]] = {}

    def add(self, batch: pa.RecordBatch) -> None:
        if batch.num_rows == 0:
            return
        day = pc.cast(batch.column("@timestamp"), pa.date32()).cast(pa.string())
        ds = batch.column("event.dataset")
        keys = pc.binary_join_element_wise(
            pc.fill_null(ds, "unknown"), pc.fill_null(day, NULL_DAY), "\x00"
        )
        uniq = pc.unique(keys)
        for key in uniq.to_pylist():
            part = batch if len(uniq) == 1 else batch.filter(pc.equal(keys, key))
            self._pending.setdefault(key, []).append(part)
            self._rows[key] = self._rows.get(key, 0) + part.num_rows
            if self._rows[key] >= self.group_rows:
                self._flush(key)
        while sum(self._rows.values()) > self.budget:
            self._flush(max(self._rows, key=lambda k: self._rows[k]))

    def _flush(self, key: str) -> None:
        batches = self._pending.pop(key, [])
        self._rows.pop(key, None)
        if not batches:
            return
        if key not in self._writers:
            dataset, day = key.split("\x00", 1)
            folder = f"{self.base}/dataset={_safe(dataset)}/day={day}"
            self.fs.create_dir(folder, recursive=True)
            final = f"{folder}/{self.evidence_id}.parquet"
            sink = self.fs.open_output_stream(final + ".tmp")
            writer = pq.ParquetWriter(sink, EVENT_SCHEMA, compression="zstd")
            self._writers[key] = (writer, sink, final)
        table = pa.Table.from_batches(batches, schema=EVENT_SCHEMA)
        self._writers[key][0].write_table(table, row_group_size=self.group_rows)

    def close(self) -> None:
        for key in list(self._pending):
            self._flush(key)
        for writer, sink, _ in self._writers.values():
            writer.close()
            sink.close()
        for _, _, final in self._writers.values():
            self.fs.move(final + ".tmp", final)
        self._writers.clear()

    def abort(self) -> None:
        self._pending.clear()
        self._rows.clear()
        for writer, sink, final in self._writers.values():
            try:
                writer.close()
                sink.close()
            finally:
                self.fs.delete_file(final + ".tmp")
        self._writers.clear()
