"""``ashiato ingest``: evidence in, one normalised case out.

Per evidence file: hash it, skip it if the case already holds that content, detect
encoding and format from its first bytes, parse it into batches, store events and
rejects, and record what happened in the ``evidence`` table. A file is marked
``done`` only after all its rows are stored; rows of a file that was interrupted
(killed run, crash) are removed and the file is parsed again on the next run, so the
case is always consistent. One bad file never stops the run.
"""

from __future__ import annotations

import fnmatch
import hashlib
import os
import tempfile
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import duckdb
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from ashiato.case import (
    EVIDENCE_COLUMNS,
    PART_STEM,
    Case,
    EventWriter,
    PartBatch,
    drop_from_batch,
    part_name,
)
from ashiato.collector import few_collections
from ashiato.errors import AshiatoError, EvidenceError
from ashiato.evidence import hash_ahead, years
from ashiato.evidence.collections import hosts_for_files
from ashiato.evidence.encoding import LineCounts, decode_lines, detect, mixed_main
from ashiato.evidence.walk import EvidenceFile, Skipped, Walker, sha256_of
from ashiato.formats import registry
from ashiato.formats.base import SAMPLE_BYTES, Format, Sample, Source
from ashiato.formats.parts import Stored
from ashiato.normalize import derive, stamp

COMMIT_SECONDS = 2.0
REJECTS_HELD = 10_000  # rejects kept for the next commit at most; more are inserted at once
_GUESS = "year guessed"  # a year-less file before _settle_years dates it
MIN_YEAR = 1990  # earlier first/last times are unset clocks, not a case's dates


@dataclass
class FileResult:
    display: str
    evidence_id: str
    status: str  # done | duplicate | unrecognised | failed
    format: str | None = None
    encoding: str | None = None
    tz: str | None = None
    rows: int = 0
    rejected: int = 0
    redecoded: int = 0  # lines read in the other of UTF-8/CP932
    first: datetime | None = None
    last: datetime | None = None
    error: str | None = None
    assumption: str | None = None  # e.g. the year given to year-less syslog times, and why


@dataclass
class IngestReport:
    files: list[FileResult] = field(default_factory=list)
    skipped: list[Skipped] = field(default_factory=list)

    @property
    def rows(self) -> int:
        return sum(f.rows for f in self.files)

    @property
    def anything_read(self) -> bool:
        return any(f.status in ("done", "duplicate") for f in self.files)


@dataclass(frozen=True)
class Options:
    tz: str | None = None  # zone for naive timestamps; default: the case's
    tz_overrides: Sequence[tuple[str, str]] = ()  # (glob on the evidence path, zone)
    force_format: str | None = None
    year: int | None = None  # year for year-less syslog times
    password: str | None = None  # opens encrypted zip/7z (often "infected")
    format_options: dict[str, object] = field(default_factory=dict)
    batch_parts: bool = True  # small files share Parquet parts (False: one part per file)
    # processes reading evidence files at once (None: $ASHIATO_INGEST_WORKERS, else as
    # many as there are idle cores, when there is enough to read: ingest_pool.workers)
    workers: int | None = None


Progress = Callable[[str, int], None]  # (what is being read, bytes done with)


def zone(name: str) -> ZoneInfo:
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError) as exc:
        raise AshiatoError(
            f"unknown time zone {name!r}; use an IANA name such as Asia/Tokyo or UTC"
        ) from exc


def ingest(
    case: Case, inputs: Sequence[Path], options: Options, progress: Progress | None = None
) -> IngestReport:
    # large files named here are hashed in a thread while the case opens (the CLI starts
    # this earlier still, before its imports)
    hash_ahead.start(inputs)
    report = IngestReport()
    # millions of short-lived rows go by (collector.few_collections: ~10 % of the CPU of
    # an EVTX ingest, before). What pyarrow loads the first time it converts a Python
    # list is loaded first, so that it is left out of the collector's passes too (the
    # formats are imported as files need them: registry.sniff); inferring a type loads
    # dateutil, which the writer thread's first compute call with a Python scalar would
    # otherwise load in each process (an EVTX worker's too), ~10 ms each.
    pa.array([None])
    with few_collections():
        return _ingest(case, inputs, options, progress, report)


def _ingest(
    case: Case, inputs: Sequence[Path], options: Options, progress: Progress | None,
    report: IngestReport,
) -> IngestReport:  # fmt: skip
    fmt_forced = registry.get(options.force_format) if options.force_format else None
    for _, tzname in options.tz_overrides:
        zone(tzname)
    case_tz = options.tz or case.tz
    zone(case_tz)
    with case.writer() as con:
        _drop_unfinished(case, con)
        # the writer lock is held: nothing else unpacks into the case's temp folder, so
        # whatever is there was left by a killed run
        case.clear_tmp()
        walker = Walker(case.tmp_dir, options.password)
        try:
            _walk_and_ingest(case, con, walker, inputs, options, fmt_forced, case_tz, report,
                             progress)  # fmt: skip
        finally:
            walker.close()
            case.clear_tmp()
    return report


def _settle_years(
    case: Case,
    con: duckdb.DuckDBPyConnection,
    report: IngestReport,
    files: Sequence[EvidenceFile],
    fmt_forced: Format | None,
    options: Options,
    case_tz: str,
    hosts: Mapping[str, str],
) -> None:
    """Give each year-less file the year the evidence shows (evidence.years), parsing it
    again when the first guess (its modification year) was wrong."""
    pending = {f.evidence_id for f in report.files if f.status == "done" and f.assumption == _GUESS}
    if not pending:
        return
    others = [
        (lo, hi)
        for ev_id, lo, hi in con.execute(
            "SELECT evidence_id, first_ts, last_ts FROM evidence WHERE status = 'done' "
            "AND first_ts IS NOT NULL AND last_ts IS NOT NULL"
        ).fetchall()
        if ev_id not in pending and lo.year >= MIN_YEAR and hi.year >= MIN_YEAR
    ]
    by_display = {ev.display: ev for ev in files}
    for i, result in enumerate(report.files):
        ev = by_display.get(result.display)
        if result.evidence_id not in pending or ev is None or result.first is None:
            continue
        assert result.last is not None
        mtime = datetime.fromtimestamp(ev.path.stat().st_mtime, UTC)
        rotated = years.rotation_date(Path(ev.display).name)
        first, last = result.first.astimezone(UTC), result.last.astimezone(UTC)
        choice = years.choose(first, last, others, rotated, mtime)
        if choice.shift:
            # read again with the right year (its catalogue row goes in at once)
            case.drop_events(result.evidence_id)
            con.execute("DELETE FROM rejects WHERE evidence_id = ?", [result.evidence_id])
            con.execute("DELETE FROM evidence WHERE evidence_id = ?", [result.evidence_id])
            tzname = _zone_for(ev.display, case_tz, options.tz_overrides)
            result = _ingest_one(case, con, ev, fmt_forced, tzname, options,
                                 hosts.get(ev.display), _year_hint(ev) + choice.shift)  # fmt: skip
            report.files[i] = result
        if result.first is not None:
            result.assumption = f"year {result.first.year} assumed, {choice.basis}"


def _walk_and_ingest(
    case: Case,
    con: duckdb.DuckDBPyConnection,
    walker: Walker,
    inputs: Sequence[Path],
    options: Options,
    fmt_forced: Format | None,
    case_tz: str,
    report: IngestReport,
    progress: Progress | None,
) -> None:
    from ashiato import ingest_pool  # it imports this module

    # list everything first: a triage collection (KAPE folder, Velociraptor zip)
    # names its host once, and every file inside it belongs to that host
    files = list(walker.walk(list(inputs)))
    record_not_read(con, [p.absolute() for p in inputs], walker.skipped)
    hosts = hosts_for_files((ev.display, ev.path) for ev in files)
    # the catalogue is committed every couple of seconds, not per file (a commit costs
    # milliseconds, and triage collections hold hundreds of small logs); what a kill
    # loses is cleaned up by _drop_unfinished and parsed again on the next run
    con.execute("BEGIN")
    committed = time.monotonic()
    catalogue = Catalogue.of(con)
    # small files' events share Parquet parts, written before their rows are committed
    shared = PartBatch(case, finish=derive) if options.batch_parts else None
    workers = ingest_pool.workers(options.workers, files, options)
    try:
        if workers > 1:
            ingest_pool.read_all(case, con, catalogue, files, hosts, options, case_tz,
                                 report, progress, workers)  # fmt: skip
        for ev in files if workers == 1 else ():
            tzname = _zone_for(ev.display, case_tz, options.tz_overrides)
            host = hosts.get(ev.display)
            result = _ingest_one(case, con, ev, fmt_forced, tzname, options, host,
                                 catalogue=catalogue, shared=shared)  # fmt: skip
            report.files.append(result)
            if progress:
                progress(ev.display, ev.size)
            if time.monotonic() - committed > COMMIT_SECONDS:
                catalogue.flush(con, shared)
                con.execute("COMMIT")
                con.execute("BEGIN")
                committed = time.monotonic()
        catalogue.flush(con, shared)
        _settle_years(case, con, report, files, fmt_forced, options, case_tz, hosts)
    finally:
        catalogue.flush(con, shared)
        con.execute("COMMIT")
    report.skipped = walker.skipped


@dataclass
class Catalogue:
    """The catalogue rows of one run (evidence, aliases, rejects), inserted together
    before each commit rather than one INSERT per file (~1 ms each: most of what storing
    a log of a few events costs), and the evidence ids the case holds (read once, not
    looked up per file).

    The parts of the files are already in place when their rows go in, as before: a run
    killed before the commit leaves parts without rows, which the next run removes.
    """

    known: dict[str, str | None]  # evidence_id -> format
    rows: list[Sequence[object]] = field(default_factory=list)
    aliases: list[Sequence[object]] = field(default_factory=list)
    rejects: list[Sequence[object]] = field(default_factory=list)

    @classmethod
    def of(cls, con: duckdb.DuckDBPyConnection) -> Catalogue:
        return cls(dict(con.execute("SELECT evidence_id, format FROM evidence").fetchall()))

    def add(self, evidence_id: str, fmt: str | None, row: Sequence[object]) -> None:
        self.known[evidence_id] = fmt
        self.rows.append(row)

    def flush(self, con: duckdb.DuckDBPyConnection, batch: PartBatch | None = None) -> None:
        """Insert the rows gathered, after writing the batch part that holds their events."""
        if batch is not None:
            try:
                batch.close()
            except BaseException:
                # those files' events are not stored: without their rows they are read
                # again by the next run (parts of their own, already in place, are then
                # removed as leftovers)
                self.rows, self.aliases, self.rejects = [], [], []
                raise
        rows, self.rows = self.rows, []
        if rows:
            insert_rows(con, "evidence", EVIDENCE_COLUMNS, _EVIDENCE_TYPES, rows)
        aliases, self.aliases = self.aliases, []
        if aliases:
            insert_rows(con, "aliases", ("evidence_id", "path"), (_S, _S), aliases)
        self.flush_rejects(con)

    def flush_rejects(self, con: duckdb.DuckDBPyConnection | None) -> None:
        """Insert the rejects gathered (before their file's row: a run killed before the
        commit leaves rejects without a row, which the next run removes)."""
        assert con is not None  # only a worker's catalogue has no connection (ingest_pool)
        rejects, self.rejects = self.rejects, []
        if rejects:
            insert_rows(con, "rejects", ("evidence_id", "record", "reason", "raw"),
                        (_S, _I, _S, pa.binary()), rejects)  # fmt: skip


NOT_READ = "not read"  # evidence status of what the walker skipped (see record_not_read)


def not_read_id(display: str) -> str:
    """The catalogue id of evidence that was not read (it has no content hash)."""
    data = b"not read\0" + display.encode("utf-8", "surrogateescape")
    return hashlib.sha256(data).hexdigest()[:16]


def record_not_read(
    con: duckdb.DuckDBPyConnection, inputs: Sequence[Path], skipped: Sequence[Skipped]
) -> None:
    """Catalogue what the walker did not read, so coverage and the report can say so.

    Rows under these inputs from an earlier run are replaced: a file read this time
    (e.g. with ``--password``) is no longer listed as not read. Empty files hold no
    evidence and are not listed.
    """
    for p in inputs:
        shown = str(p)
        con.execute(
            "DELETE FROM evidence WHERE status = ? AND (path = ? OR starts_with(path, ?) "
            "OR starts_with(path, ?))",
            [NOT_READ, shown, shown + "!", shown.rstrip("/") + "/"],
        )
    now = datetime.now(UTC)
    rows = [
        [not_read_id(s.display), None, s.display, s.container, s.size, None, None, None, None,
         NOT_READ, 0, 0, 0, None, None, now, s.reason, 0]
        for s in skipped
        if s.kind != "empty"
    ]  # fmt: skip
    if rows:
        insert_rows(con, "evidence", EVIDENCE_COLUMNS, _EVIDENCE_TYPES, rows, replace=True)


def insert_rows(
    con: duckdb.DuckDBPyConnection, table: str, columns: Sequence[str],
    types: Sequence[pa.DataType], rows: Sequence[Sequence[object]], replace: bool = False,
) -> None:  # fmt: skip
    """Insert many rows in one statement through an Arrow table (executemany costs
    ~0.4 ms a row). ``table`` and ``columns`` are fixed names, never log content.

    The table reaches DuckDB as a Parquet file it reads itself, not registered: DuckDB
    imports ``pyarrow.dataset`` for any Arrow object handed to it, ~0.1-0.2 s of CPU
    (threads included) once per process, a tenth of ingesting the public EVTX corpus;
    writing and reading the file costs ~5 ms."""
    data = pa.table({c: pa.array([r[i] for r in rows], types[i]) for i, c in enumerate(columns)})
    names = ", ".join(f'"{c}"' for c in columns)
    verb = "INSERT OR REPLACE" if replace else "INSERT"
    fd, path = tempfile.mkstemp(prefix="ashiato-rows-", suffix=".parquet")
    os.close(fd)
    try:
        pq.write_table(data, path, compression="none")
        con.execute(
            f"{verb} INTO {table} ({names}) SELECT {names} FROM read_parquet(?)",  # noqa: S608
            [path],
        )
    finally:
        os.unlink(path)


def _zone_for(display: str, default: str, overrides: Sequence[tuple[str, str]]) -> str:
    for pattern, tzname in overrides:
        if fnmatch.fnmatch(display, pattern) or fnmatch.fnmatch(Path(display).name, pattern):
            return tzname
    return default


def _drop_unfinished(case: Case, con: duckdb.DuckDBPyConnection) -> None:
    """Remove what an interrupted run left behind, so those files are parsed again.

    An evidence file counts only once its catalogue row is committed; Parquet parts
    (finished or not) and rejects of files without such a row are leftovers.
    """
    # ** : both layouts (<dataset>/ and a Spark ingest's dataset=<d>/day=<day>/)
    for tmp in case.events_dir.glob("**/*.parquet.tmp"):
        tmp.unlink()
    known = {row[0] for row in con.execute("SELECT evidence_id FROM evidence").fetchall()}
    for part, ids in case.ingest_parts():
        if not ids <= known:
            if PART_STEM.fullmatch(part.stem):
                part.unlink()
            else:  # a batch: its rows are committed together, but keep any that were
                drop_from_batch(part, ids - known)
    con.execute("DELETE FROM rejects WHERE evidence_id NOT IN (SELECT evidence_id FROM evidence)")
    # a file that failed (or an older run left in progress) is tried again
    for (evidence_id,) in con.execute(
        "SELECT evidence_id FROM evidence WHERE status NOT IN ('done', 'unrecognised', ?)",
        [NOT_READ],
    ).fetchall():
        case.drop_events(evidence_id)
        con.execute("DELETE FROM rejects WHERE evidence_id = ?", [evidence_id])
        con.execute("DELETE FROM evidence WHERE evidence_id = ?", [evidence_id])


def _ingest_one(
    case: Case,
    con: duckdb.DuckDBPyConnection,
    ev: EvidenceFile,
    fmt_forced: Format | None,
    tzname: str,
    options: Options,
    host: str | None = None,
    year: int | None = None,
    catalogue: Catalogue | None = None,
    shared: PartBatch | None = None,
) -> FileResult:
    sha = sha256_of(ev.path)
    evidence_id = sha[:16]
    if catalogue is not None:
        duplicate = evidence_id in catalogue.known
        known_format = catalogue.known.get(evidence_id)
    else:
        found = con.execute(
            "SELECT format FROM evidence WHERE evidence_id = ?", [evidence_id]
        ).fetchone()
        duplicate = found is not None
        known_format = found[0] if found is not None else None
    if duplicate and catalogue is not None:
        catalogue.aliases.append((evidence_id, ev.display))
        return FileResult(ev.display, evidence_id, "duplicate", format=known_format)
    if duplicate:
        con.execute("INSERT INTO aliases VALUES (?, ?)", [evidence_id, ev.display])
        return FileResult(ev.display, evidence_id, "duplicate", format=known_format)
    return read_file(case, con, ev, sha, fmt_forced, tzname, options, host, year, catalogue,
                     shared)  # fmt: skip


def read_file(
    case: Case,
    con: duckdb.DuckDBPyConnection | None,
    ev: EvidenceFile,
    sha: str,
    fmt_forced: Format | None,
    tzname: str,
    options: Options,
    host: str | None = None,
    year: int | None = None,
    catalogue: Catalogue | None = None,
    shared: PartBatch | None = None,
    span: tuple[int, int, int] | None = None,
    part: int = 0,
) -> FileResult:
    """Read one evidence file (hashed, not held by the case) into the case: its events
    into Parquet parts, its catalogue row and rejects into ``catalogue`` (without one,
    into the catalogue through ``con``). A worker process has a catalogue and no
    connection (ingest_pool). ``span``: only that part of the file (Format.split), its
    events in a part of their own numbered ``part``."""
    evidence_id = sha[:16]
    with ev.path.open("rb") as fh:
        head = fh.read(SAMPLE_BYTES)
    encoding = detect(head)
    text = _decode_sample(head, encoding)
    fmt = fmt_forced or registry.sniff(Sample(head, text, Path(ev.display).name))
    result = FileResult(ev.display, evidence_id, "ingesting", tz=tzname)
    result.encoding = None if fmt is not None and fmt.binary else encoding
    result.format = fmt.name if fmt else None
    if fmt is None:
        result.status = "unrecognised"
        result.error = "no format recognised this file; try `ashiato formats --explain FILE`"
        _record(con, ev, sha, result, fmt, catalogue=catalogue)
        return result

    source = Source(
        path=ev.path,
        display=ev.display,
        evidence_id=evidence_id,
        encoding=result.encoding,
        tz=zone(tzname),
        year_hint=year or options.year or _year_hint(ev),
        options=options.format_options,
        span=span,
    )
    if span is None:
        writer = EventWriter(case, evidence_id, fmt.dataset, batch=shared, finish=derive)
        source.parts = parts = FileParts(case, evidence_id, fmt.dataset, host, writer)
    else:
        name = part_name(evidence_id, part)
        writer = EventWriter(case, name, fmt.dataset, finish=derive)
        parts = None
    main = _PartRows(writer, evidence_id, fmt.dataset, host)
    try:
        for batch in fmt.parse(source):
            main.add(batch)
            _store_rejects(con, source, catalogue)
        stored = main.close()
        if parts is not None:
            stored = parts.total(stored)
        _store_rejects(con, source, catalogue)
        result.status = "done"
        if source.year_assumed:
            # named in the ingest table; without --year, settled once the case's other
            # sources are in (_settle_years)
            result.assumption = f"year {options.year} given (--year)" if options.year else _GUESS
    except (AshiatoError, OSError, ValueError, pa.ArrowException, duckdb.Error) as exc:
        # the file stays marked failed: its partial rows are dropped and it is parsed
        # again by the next run; the rejects so far are kept for the responder to see
        main.abort()
        if parts is not None:
            parts.abort()
        stored = main.stored
        _store_rejects(con, source, catalogue)
        result.status = "failed"
        result.error = f"{type(exc).__name__}: {exc}"
    result.rows, result.first, result.last = stored.rows, stored.first, stored.last
    result.rejected = source.rejected
    result.redecoded = source.redecoded
    _record(con, ev, sha, result, fmt, source.decode_errors, catalogue)
    return result


class _PartRows:
    """Rows on their way into one of a file's parts: the host a collection names filled
    in, evidence id and dataset stamped (the rest of normalize.finalize_batch is applied
    by the writer, together with other small files' rows), counted."""

    def __init__(self, writer: EventWriter, evidence_id: str, dataset: str,
                 host: str | None) -> None:  # fmt: skip
        self.writer = writer
        self.evidence_id = evidence_id
        self.dataset = dataset
        self.host = host
        self.stored = Stored()

    def add(self, batch: pa.RecordBatch) -> None:
        if self.host is not None:
            batch = _with_host(batch, self.host)
        batch = stamp(batch, self.evidence_id, self.dataset)
        self.stored.add(batch)
        self.writer.add(batch)

    def close(self) -> Stored:
        self.writer.close()
        return self.stored

    def abort(self) -> None:
        self.writer.abort()


class FileParts:
    """Where the parts a format writes itself go (formats.parts): ``<evidence id>-N``
    beside the file's part 0 (``main``, which then stays a part of its own rather than
    joining a batch of small files, so that its parts read in order are one pass)."""

    def __init__(self, case: Case | str, evidence_id: str, dataset: str,
                 host: str | None = None, main: EventWriter | None = None) -> None:  # fmt: skip
        self.case = case if isinstance(case, Case) else Case(Path(case))
        self.evidence_id = evidence_id
        self.dataset = dataset
        self.host = host
        self.main = main
        self._counted: list[Stored] = []
        self._made: set[int] = set()

    def open(self, part: int) -> _PartRows:
        self._own_part()
        self._made.add(part)
        return _PartRows(EventWriter(self.case, self._name(part), self.dataset, finish=derive),
                         self.evidence_id, self.dataset, self.host)  # fmt: skip

    def count(self, part: int, stored: Stored) -> None:
        self._own_part()
        self._made.add(part)
        self._counted.append(stored)

    def discard(self, part: int) -> None:
        path = self.case.part_path(self._name(part), self.dataset)
        path.unlink(missing_ok=True)
        path.with_suffix(".parquet.tmp").unlink(missing_ok=True)

    def spec(self) -> dict[str, str | None]:
        return {"factory": "ashiato.ingest:FileParts", "case": str(self.case.root),
                "evidence_id": self.evidence_id, "dataset": self.dataset,
                "host": self.host}  # fmt: skip

    def total(self, main: Stored) -> Stored:
        """What all the file's parts hold, part 0 (``main``) with the ones counted."""
        out = Stored(main.rows, main.first, main.last)
        for s in self._counted:
            out.rows += s.rows
            out.widen(s.first, s.last)
        return out

    def abort(self) -> None:
        """Remove the parts written besides part 0 (the file failed)."""
        for part in self._made:
            self.discard(part)

    def _name(self, part: int) -> str:
        # part 0 is named as the file's only part would be (the writer of read_file
        # then holds no rows: a format writing its own parts yields none)
        return part_name(self.evidence_id, part)

    def _own_part(self) -> None:
        if self.main is not None:
            self.main.batch = None


def _with_host(batch: pa.RecordBatch, host: str) -> pa.RecordBatch:
    """Fill the host a collection names into rows whose format could not tell it."""
    i = batch.schema.get_field_index("host.hostname")
    col = batch.column(i)
    if col.null_count == 0:
        return batch
    filled = pc.coalesce(col, pa.scalar(host, pa.string()))
    return batch.set_column(i, batch.schema.field(i), filled)


def _decode_sample(head: bytes, encoding: str | None) -> str | None:
    if encoding is None:
        return None
    main = mixed_main(encoding)
    if main is not None:  # the way the file will be read: line by line
        cut = head.rfind(b"\n") if len(head) >= SAMPLE_BYTES else -1
        return decode_lines(head if cut < 0 else head[: cut + 1], main, LineCounts())
    import codecs

    return codecs.getincrementaldecoder(encoding)(errors="replace").decode(head, final=False)


def _year_hint(ev: EvidenceFile) -> int:
    try:
        return datetime.fromtimestamp(ev.path.stat().st_mtime, UTC).year
    except OSError as exc:
        raise EvidenceError(f"{ev.display}: can't stat ({exc})") from exc


def _store_rejects(
    con: duckdb.DuckDBPyConnection | None, source: Source, catalogue: Catalogue | None
) -> None:
    rejects = source.take_rejects()
    if rejects and catalogue is not None:  # inserted with the file's catalogue row
        catalogue.rejects.extend((source.evidence_id, r.record, r.reason, r.raw) for r in rejects)
        if len(catalogue.rejects) >= REJECTS_HELD:  # a badly damaged large file: not all in memory
            catalogue.flush_rejects(con)
    elif rejects:
        assert con is not None
        con.executemany(
            "INSERT INTO rejects VALUES (?, ?, ?, ?)",
            [(source.evidence_id, r.record, r.reason, r.raw) for r in rejects],
        )


def _record(
    con: duckdb.DuckDBPyConnection | None,
    ev: EvidenceFile,
    sha: str,
    r: FileResult,
    fmt: Format | None,
    decode_errors: int = 0,
    catalogue: Catalogue | None = None,
) -> None:
    row = [
        r.evidence_id,
        sha,
        ev.display,
        ev.container,
        ev.size,
        r.format,
        fmt.dataset if fmt else None,
        r.encoding,
        r.tz,
        r.status,
        r.rows,
        r.rejected,
        decode_errors,
        r.first,
        r.last,
        datetime.now(UTC),
        r.error,
        r.redecoded,
    ]
    if catalogue is None:
        assert con is not None
        con.execute(_INSERT, row)
    else:
        catalogue.add(r.evidence_id, r.format, row)


_S, _I, _T = pa.string(), pa.int64(), pa.timestamp("us", tz="UTC")
# the Arrow type of each of EVIDENCE_COLUMNS
_EVIDENCE_TYPES = (_S, _S, _S, _S, _I, _S, _S, _S, _S, _S, _I, _I, _I, _T, _T, _T, _S, _I)
_INSERT = (
    f"INSERT INTO evidence ({', '.join(EVIDENCE_COLUMNS)}) "  # noqa: S608 - fixed names
    f"VALUES ({', '.join('?' * len(EVIDENCE_COLUMNS))})"
)
