"""A large EVTX read by two processes: the second part of its chunks in a worker.

Mapping a record to a row is Python work (~10 µs a record, several times the Rust
parser's own cost), so one process is the bottleneck on a large Security.evtx. EVTX
chunks are self-contained (64 KiB after a 4096-byte file header, each with its own
string and template tables), so a range of them, behind the file's own header, is an
EVTX file of its own: :class:`ChunkRange` shows one to the ``evtx`` package without
copying it. :func:`start` launches ``python -m ashiato.formats.evtx_parallel`` on the
range from the middle to the last whole chunk. The worker reads it in pieces of
:data:`PIECE_CHUNKS` chunks and hands each on as soon as it is done (its batches as an
Arrow IPC stream, its rejects and record numbers as JSON, its number on stdout), so the
parent, once through its own part, stores the worker's rows while the worker still
reads: only the last piece is left to store when the worker ends. The parent hands the
pieces on in order after its own rows, so rows, their order, rejects and record refs
are those of one pass. The partial tail chunk of a cut file stays with the parent
(:mod:`ashiato.formats.evtx`).

A reject message names the record read before the damage; the worker cannot know it
for damage before its own first record and writes :data:`_UNKNOWN` instead, which the
parent replaces by its own last record. If the worker fails in any way, the parent reads
the rest of the range (from the first piece it did not get) itself.
"""

from __future__ import annotations

import base64
import io
import subprocess
import sys
import tempfile
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import orjson
import pyarrow as pa

from ashiato.formats.base import Source
from ashiato.formats.evtx_ids import RecordIds

_FILE_HEADER = 4096
_CHUNK = 65536
_WORKER_START_CHUNKS = 256  # what the parent reads while a worker starts (see start)
# chunks in a piece the worker hands on (~2,700 records, ~4 MB of EVTX): small enough
# that little is left to store when the worker ends, large enough to cost nothing
PIECE_CHUNKS = 64
# storing a row (normalising, Parquet) against reading and mapping it, for the split
STORE_SHARE = 0.12
_UNKNOWN = -1  # "the record before this range": the parent's last record
_AFTER_UNKNOWN = f"after record {_UNKNOWN}"


class ChunkRange(io.RawIOBase):
    """Chunks ``[first, end)`` of an EVTX file behind its file header, read in place."""

    def __init__(self, path: Path, first: int, end: int) -> None:
        super().__init__()
        self._fh = path.open("rb")
        self._header = self._fh.read(_FILE_HEADER)
        self._base = first * _CHUNK  # file offset = range position + _base
        self._size = _FILE_HEADER + (end - first) * _CHUNK
        self._pos = 0

    def readable(self) -> bool:
        return True

    def seekable(self) -> bool:
        return True

    def tell(self) -> int:
        return self._pos

    def seek(self, offset: int, whence: int = io.SEEK_SET) -> int:
        base = {io.SEEK_SET: 0, io.SEEK_CUR: self._pos, io.SEEK_END: self._size}[whence]
        self._pos = max(0, base + offset)
        return self._pos

    def read(self, size: int | None = -1) -> bytes:
        left = max(0, self._size - self._pos)
        n = left if size is None or size < 0 else min(size, left)
        out = b""
        if n and self._pos < _FILE_HEADER:
            out = self._header[self._pos : self._pos + n]
            self._pos += len(out)
            n -= len(out)
        if n:
            self._fh.seek(self._base + self._pos)
            data = self._fh.read(n)
            self._pos += len(data)
            out += data
        return out

    def readinto(self, buffer: Any) -> int:
        data = self.read(len(buffer))
        buffer[: len(data)] = data
        return len(data)

    def close(self) -> None:
        self._fh.close()
        super().close()


@dataclass
class Worker:
    """A worker process reading chunks ``[first, end)`` into ``out``, ``piece`` at a time."""

    proc: subprocess.Popen[bytes]
    tmp: tempfile.TemporaryDirectory[str]
    first: int
    end: int
    piece: int = 0  # chunks a piece (set by start)

    @property
    def out(self) -> Path:
        return Path(self.tmp.name)

    def results(
        self, source: Source, seen: RecordIds, last: int,
        fallback: Callable[[int, int, int], Iterator[pa.RecordBatch]],
    ) -> Iterator[pa.RecordBatch]:  # fmt: skip
        """The worker's rejects (added to ``source``) and batches, piece by piece as it
        finishes them; from the first piece it did not finish (it failed), the rest of the
        range read here (``fallback``)."""
        for number, first in enumerate(range(self.first, self.end, self.piece)):
            if not self._finished(number):
                yield from fallback(first, self.end, last)
                return
            done = orjson.loads((self.out / f"{number}.json").read_bytes())
            for record, reason, raw in done["rejects"]:
                if record == _UNKNOWN:
                    record = last
                source.reject(record, reason.replace(_AFTER_UNKNOWN, f"after record {last}", 1),
                              base64.b64decode(raw))  # fmt: skip
            seen.update(done["seen"])  # runs of record numbers (RecordIds)
            if done["last"] != _UNKNOWN:
                last = done["last"]
            if done["rows"]:
                # read whole, then removed: the piece's pages don't stay in the page cache
                stream = self.out / f"{number}.arrow"
                with pa.OSFile(str(stream)) as fh:
                    batches = list(pa.ipc.open_stream(fh))
                stream.unlink()
                yield from batches

    def _finished(self, number: int) -> bool:
        """Wait for the worker to finish piece ``number`` (False: it ended without it)."""
        assert self.proc.stdout is not None
        while True:
            line = self.proc.stdout.readline()
            if not line:
                return False
            if line.strip() == str(number).encode():
                return True

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
        self.proc.wait()
        if self.proc.stdout is not None:
            self.proc.stdout.close()
        self.tmp.cleanup()


def start(source: Source) -> Worker | None:
    """Start a worker on the second part of the file's whole chunks (None if it can't)."""
    whole = (source.path.stat().st_size - _FILE_HEADER) // _CHUNK
    # the worker first spends ~0.2 s of CPU starting an interpreter and importing pyarrow
    # (what the parent reads of _WORKER_START_CHUNKS chunks; pandas stays out, nopandas);
    # the parent also stores every row, its own and the worker's (STORE_SHARE of the
    # cost of reading them), so it reads a little less than half
    first = round((whole * (1 - STORE_SHARE) + _WORKER_START_CHUNKS) / 2)
    first = max(1, min(first, whole - whole // 4))
    tmp = tempfile.TemporaryDirectory(prefix="ashiato-evtx-worker-")
    cmd = [sys.executable, "-m", "ashiato.formats.evtx_parallel", str(source.path),
           str(first), str(whole), tmp.name, source.tz.key, str(PIECE_CHUNKS)]  # fmt: skip
    try:
        proc = subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                                stderr=subprocess.DEVNULL)  # fmt: skip
    except OSError:
        tmp.cleanup()
        return None
    return Worker(proc, tmp, first, whole, PIECE_CHUNKS)


def _work(path: Path, first: int, end: int, out: Path, tz: str, piece: int) -> None:
    import gc
    from zoneinfo import ZoneInfo

    from ashiato.formats import evtx as evtx_format
    from ashiato.formats.winevent_rows import WinRows

    pa.array([None], pa.string())  # what pyarrow loads on its first conversion, as ingest
    gc.freeze()  # as ingest does: the collector's full passes skip the modules loaded

    source = Source(path=path, display=str(path), evidence_id="", encoding=None, tz=ZoneInfo(tz))
    rows = WinRows(source)
    last = _UNKNOWN
    for number, start_chunk in enumerate(range(first, end, piece)):
        seen = RecordIds()
        count = 0
        writer: pa.ipc.RecordBatchStreamWriter | None = None
        part = ChunkRange(path, start_chunk, min(start_chunk + piece, end))
        with pa.OSFile(str(out / f"{number}.arrow"), "wb") as sink:

            def put(batch: pa.RecordBatch | None) -> None:
                nonlocal writer, count
                if batch is None:
                    return
                if writer is None:
                    writer = pa.ipc.new_stream(sink, batch.schema)
                writer.write_batch(batch)
                count += batch.num_rows

            for rec in evtx_format._records(
                source, part, seen, tail=False, last=last, first_chunk=start_chunk
            ):
                last = rec["event_record_id"]
                put(evtx_format._add(source, rows, rec))
            put(rows.flush())
            if writer is not None:
                writer.close()
        part.close()
        rejects = [
            (r.record, r.reason, base64.b64encode(r.raw).decode()) for r in source.take_rejects()
        ]
        done = {"rows": count, "rejects": rejects, "seen": seen.runs(), "last": last}
        tmp = out / f"{number}.json.tmp"
        tmp.write_bytes(orjson.dumps(done))
        tmp.replace(out / f"{number}.json")
        sys.stdout.write(f"{number}\n")  # the parent reads piece by piece
        sys.stdout.flush()


if __name__ == "__main__":
    from ashiato import nopandas

    nopandas.hide()
    _work(Path(sys.argv[1]), int(sys.argv[2]), int(sys.argv[3]), Path(sys.argv[4]), sys.argv[5],
          int(sys.argv[6]))  # fmt: skip
