"""Binary Windows event logs (``.evtx``), read with the Rust ``evtx`` parser.

Every record goes through the shared Windows mapping (:mod:`ashiato.formats.winevent`);
``record`` is the EventRecordID of the event (``System/EventRecordID``). Exported logs
number their records anew in the file; when that number differs it is kept in ``extra``
as ``winlog.file_record_id`` (the number ``evtx_dump`` and reject records use).

Damaged files are common (logs copied from a running
system, recovered from shadow copies or unallocated space): a bad record or chunk becomes
one reject and parsing goes on with the next; a file the parser can't open at all is one
reject, never an exception. A file cut inside a chunk keeps every record before the cut
(the tail chunk is read on its own). A record without ``System/TimeCreated/@SystemTime``
takes the time of its record header, noted in ``extra`` as ``winlog.time_source``.
"""

from __future__ import annotations

import io
import os
import re
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import evtx
import orjson
import pyarrow as pa

from ashiato import cores
from ashiato.formats import evtx_parallel
from ashiato.formats.base import Format, Sample, Source
from ashiato.formats.evtx_ids import RecordIds
from ashiato.formats.winevent import FIELDS, integer
from ashiato.formats.winevent_rows import WinRows, json_row

MAGIC = b"ElfFile\x00"
_RECORD_NO = re.compile(r"record number (\d+)")
_CHUNK_NO = re.compile(r"chunk number (\d+)")
# the parser moves forward on every error; this only guards against a library bug
_MAX_ERRORS_IN_A_ROW = 1_000_000
_FILE_HEADER = 4096
_CHUNK = 65536
_CHUNK_MAGIC = b"ElfChnk\x00"
# from this many whole 64 KiB chunks (16 MB) a worker process reads the second part of
# the file: below it, starting one costs more than it saves
PARALLEL_MIN_CHUNKS = 256
Put = Callable[[pa.RecordBatch], None]  # where a part's batches go (formats.parts)
_HEADER_TIME = re.compile(r"^(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d)(\.\d+)?Z?(?: UTC)?$")


def sniff(sample: Sample) -> bool:
    return sample.head.startswith(MAGIC)


def parse(source: Source) -> Iterator[pa.RecordBatch]:
    # the rows' batches are made and dropped by the thousand: pyarrow's default pool on
    # Linux (mimalloc) hands freed pages back to the system and faults them in again,
    # ~0.3 s of system time on 256 MB where jemalloc keeps them (and ~50 MB less peak)
    previous = pa.default_memory_pool()
    pool = _steady_pool()
    if pool is not None:
        pa.set_memory_pool(pool)
    try:
        yield from _parse(source)
    finally:
        if pool is not None:
            pa.set_memory_pool(previous)


def _steady_pool() -> pa.MemoryPool | None:
    """jemalloc where pyarrow has it (not on Windows), unless the user chose a pool."""
    if os.environ.get("ARROW_DEFAULT_MEMORY_POOL"):
        return None
    try:
        return pa.jemalloc_memory_pool()
    except NotImplementedError:
        return None


def _parse(source: Source) -> Iterator[pa.RecordBatch]:
    # a large file: the second part of its whole chunks is read by a worker process
    # meanwhile (evtx_parallel), which stores its rows itself
    worker = evtx_parallel.start(source) if _worth_a_worker(source.path) else None
    if worker is not None:
        try:
            _two_processes(source, worker)
        finally:
            worker.stop()
        return
    rows = WinRows(source)
    seen = RecordIds(kept=has_tail(source.path))
    for rec in _records(source, str(source.path), seen, tail=False):
        batch = _add(source, rows, rec)
        if batch is not None:
            yield batch
    yield from _tail(source, rows, seen)
    batch = rows.flush()
    if batch is not None:
        yield batch


def _two_processes(source: Source, worker: evtx_parallel.Worker) -> None:
    """The file's whole chunks up to the worker's range into part 0; then the rest of
    the worker's range, once it has handed it over (Worker.split), into part 2; then
    (once the worker's part 1 is in place) the tail of a cut file into part 3: read in
    order, the parts are one pass. If the worker failed, its range is read here, into
    part 1."""
    assert source.parts is not None
    rows = WinRows(source)
    seen = RecordIds(kept=has_tail(source.path))
    # part 0 is closed (its last row group written) while the worker still reads
    last = _into_part(source, 0, lambda put: read_into(
        source, rows, evtx_parallel.ChunkRange(source.path, 0, worker.first), seen, put, last=0
    ))  # fmt: skip
    split = worker.split()
    # the record before the rest is the worker's last, known when it ends: the rejects
    # of the rest wait (in a Source of their own) and follow the worker's
    rest = Source(path=source.path, display=source.display, evidence_id=source.evidence_id,
                  encoding=None, tz=source.tz)  # fmt: skip
    rest_last = evtx_parallel.UNKNOWN
    if split < worker.end:
        rest_last = _into_part(source, evtx_parallel.STOLEN_PART, lambda put: read_into(
            rest, rows, evtx_parallel.ChunkRange(source.path, split, worker.end), seen, put,
            last=evtx_parallel.UNKNOWN, first_chunk=split,
        ))  # fmt: skip
    after = worker.finish(source, seen, last)
    if after is None:  # it failed: its part is gone, its range is read here
        after = _into_part(source, evtx_parallel.WORKER_PART, lambda put: read_into(
            source, rows, evtx_parallel.ChunkRange(source.path, worker.first, split), seen,
            put, last=last, first_chunk=worker.first,
        ))  # fmt: skip
    evtx_parallel.replay(source, [(r.record, r.reason, r.raw) for r in rest.take_rejects()],
                         after)  # fmt: skip
    if rest_last != evtx_parallel.UNKNOWN:
        after = rest_last

    def tail(put: Put) -> int:
        for batch in _tail(source, rows, seen):
            put(batch)
        batch = rows.flush()
        if batch is not None:
            put(batch)
        return after

    _into_part(source, evtx_parallel.TAIL_PART, tail)


def _into_part(source: Source, part: int, read: Callable[[Put], int]) -> int:
    """Run ``read`` with the writer of part ``part`` (put in place and counted, or removed
    if anything fails); what ``read`` returns."""
    assert source.parts is not None
    writer = source.parts.open(part)
    try:
        out = read(writer.add)
        stored = writer.close()
    except BaseException:
        writer.abort()
        raise
    if stored.rows:
        source.parts.count(part, stored)
    return out


def read_into(
    source: Source, rows: WinRows, chunks: io.RawIOBase, seen: RecordIds,
    put: Put, *, last: int, first_chunk: int = 0,
) -> int:  # fmt: skip
    """Read a chunk range (all its rows put, the last batch flushed; the range closed);
    its last record (``last`` if it has none)."""
    with chunks:
        for rec in _records(source, chunks, seen, tail=False, last=last, first_chunk=first_chunk):
            last = rec["event_record_id"]
            batch = _add(source, rows, rec)
            if batch is not None:
                put(batch)
    batch = rows.flush()
    if batch is not None:
        put(batch)
    return last


def _tail(source: Source, rows: WinRows, seen: RecordIds) -> Iterator[pa.RecordBatch]:
    """The rows of the file's last, partial chunk."""
    # a file cut short (copied while written, carved, truncated in transit) ends inside
    # a chunk; the package skips a chunk it can't read whole, so that tail is read on
    # its own, padded to a full chunk: every record before the cut is kept, and the one
    # the cut went through becomes a reject
    tail = _padded_tail(source.path)
    if tail is None:
        return
    whole = _whole_records(tail[_FILE_HEADER:])
    for rec in _records(source, io.BytesIO(tail), seen, tail=True):
        if rec["event_record_id"] not in whole:
            # the zeros after the cut decode as an end of data: not the record
            source.reject(rec["event_record_id"], "EVTX record cut off where the "
                          "file ends (a truncated copy)", b"")  # fmt: skip
            continue
        batch = _add(source, rows, rec)
        if batch is not None:
            yield batch


def _worth_a_worker(path: Path) -> bool:
    try:
        size = path.stat().st_size
    except OSError:
        return False
    return (size - _FILE_HEADER) // _CHUNK >= PARALLEL_MIN_CHUNKS and _free_core()


def _free_core() -> bool:
    """Whether a second process would get a core of its own. Measured on the shared 2-core
    machine: with other work keeping the cores busy (load 3-4), two processes took 1.2-1.8x
    the time of one (more CPU in all: the worker's start-up and contention), so the worker
    is only started while other work leaves more than half a core idle besides this
    process's (cores.idle_cores; ``ASHIATO_EVTX_WORKER=always`` or ``never`` decides
    instead, for benchmarks)."""
    forced = os.environ.get("ASHIATO_EVTX_WORKER", "auto")  # always | never (benchmarks)
    if forced in ("always", "never"):
        return forced == "always"
    return len(cores.usable_cores()) > 1 and cores.idle_cores() > 0.5


def _records(
    source: Source,
    path: str | io.RawIOBase | io.BytesIO,
    seen: RecordIds,
    *,
    tail: bool,
    last: int | None = None,
    first_chunk: int = 0,
) -> Iterator[dict[str, Any]]:
    """The records the ``evtx`` package yields, damage turned into rejects. ``seen`` holds
    the header record numbers read so far: the tail pass skips those (a recovered file may
    repeat a number, and the main pass keeps every record it is given). ``last`` is the
    record read before these (default: the highest in ``seen``); a worker that cannot
    know it passes a placeholder the parent fills in. ``first_chunk``: where ``path`` (a
    chunk range) starts in the file, so that messages name the file's chunk numbers."""
    try:
        # one thread: the package's pool gains nothing here (records are handed out one
        # at a time) and its idle threads would spin against the worker process
        records = evtx.PyEvtxParser(path, number_of_threads=1).records_json()
    except Exception as exc:  # the library raises plain RuntimeError/OSError subclasses
        if not tail:
            source.reject(0, f"not a readable EVTX file: {exc}", b"")
        return
    if last is None:
        last = seen.highest()
    cut = path if isinstance(path, evtx_parallel.ChunkRange) else None
    keep = seen.add if seen.kept or tail else None
    errors_in_a_row = 0
    while True:
        try:
            rec = next(records)
        except StopIteration:
            break
        except Exception as exc:  # one damaged record or chunk; the iterator carries on
            if cut is not None and cut.stopped:
                break  # the range was cut short here: the chunk it says is missing isn't ours
            errors_in_a_row += 1
            if errors_in_a_row > _MAX_ERRORS_IN_A_ROW:
                source.reject(last, "EVTX parser kept failing; rest of file skipped", b"")
                break
            text = str(exc)
            if first_chunk:
                text = _CHUNK_NO.sub(lambda m: f"chunk number {int(m[1]) + first_chunk}", text, 1)
            m = _RECORD_NO.search(text)
            number = int(m.group(1)) if m else 0
            if not (tail and number in seen):
                source.reject(number, f"damaged EVTX data after record {last}: {text}", b"")
            continue
        if cut is not None and cut.stopped:
            break
        errors_in_a_row = 0
        if not isinstance(rec, dict):
            source.reject(
                last, f"EVTX parser returned {type(rec).__name__} after record {last}", b""
            )
            continue
        header_id = rec.get("event_record_id")
        if not isinstance(header_id, int) or (tail and header_id in seen):
            continue
        if keep is not None:
            keep(header_id)
        last = header_id
        yield rec


def _add(source: Source, rows: WinRows, rec: dict[str, Any]) -> pa.RecordBatch | None:
    header_id: int = rec["event_record_id"]
    data: str = rec["data"]
    header_time = False
    try:
        event = orjson.loads(data)["Event"]
        try:
            row = json_row(event)
        except ValueError as exc:
            # no System/TimeCreated/@SystemTime (damaged or hand-made): the record
            # header's own time is when the record was written
            stamp = _header_time(rec.get("timestamp"))
            if "TimeCreated" not in str(exc) or stamp is None:
                raise
            event["System"]["TimeCreated"] = {"#attributes": {"SystemTime": stamp}}
            row = json_row(event)
            header_time = True
        record_id = event["System"].get("EventRecordID")
    except (orjson.JSONDecodeError, KeyError, TypeError, ValueError, AttributeError) as exc:
        source.reject(header_id, f"unusable EVTX record: {exc}", data)
        return None
    if type(record_id) is not int:
        record_id = integer(record_id)
        if record_id is None:
            record_id = header_id
    if record_id != header_id:
        # exported or merged logs number their records anew; keep both numbers
        row["winlog"]["file_record_id"] = header_id
    if header_time:
        row["winlog"]["time_source"] = "record header (no System/TimeCreated/@SystemTime)"
    return rows.add(record_id, row)


def _header_time(value: Any) -> str | None:
    """The record header's time as the package prints it (``...6816408Z UTC``), as ISO."""
    if not isinstance(value, str):
        return None
    m = _HEADER_TIME.match(value.strip())
    return f"{m.group(1)}{(m.group(2) or '')[:7]}Z" if m else None


def _whole_records(chunk: bytes) -> set[int]:
    """Numbers of the records wholly present in a padded tail chunk (record layout: magic
    ``**\\0\\0``, size, number; the size is repeated in the record's last 4 bytes, which a
    cut record lacks)."""
    out: set[int] = set()
    off = 512  # records follow the chunk header
    while off + 28 <= len(chunk) and chunk[off : off + 4] == b"**\x00\x00":
        size = int.from_bytes(chunk[off + 4 : off + 8], "little")
        if size < 28 or off + size > len(chunk):
            break
        if int.from_bytes(chunk[off + size - 4 : off + size], "little") == size:
            out.add(int.from_bytes(chunk[off + 8 : off + 16], "little"))
        off += size
    return out


def has_tail(path: Path) -> bool:
    """Whether the file ends inside a chunk (cut short), leaving a tail to read on its own."""
    try:
        return _tail_bytes(path.stat().st_size) > 0
    except OSError:
        return True  # unknown: keep what the tail would need


def _tail_bytes(size: int) -> int:
    """How much of a file of ``size`` bytes lies after its last whole chunk."""
    return (size - _FILE_HEADER) % _CHUNK if size > _FILE_HEADER else 0


def _padded_tail(path: Path) -> bytes | None:
    """The file's last, incomplete chunk as an EVTX file of its own (file header + the
    chunk padded with zeros), or None when the file ends on a chunk boundary."""
    try:
        size = path.stat().st_size
        cut = _tail_bytes(size)
        if cut == 0:
            return None
        with path.open("rb") as fh:
            header = fh.read(_FILE_HEADER)
            fh.seek(size - cut)
            chunk = fh.read(cut)
    except OSError:
        return None
    if not chunk.startswith(_CHUNK_MAGIC):
        return None
    return header + chunk + b"\0" * (_CHUNK - cut)


FORMAT = Format(
    name="evtx",
    dataset="windows.eventlog",
    description="Windows event log files (.evtx), any channel",
    sniff=sniff,
    parse=parse,
    fields=FIELDS,
    binary=True,
)
