"""A large EVTX read by two processes: the second part of its chunks in a worker.

Mapping a record to a row is Python work (~10 µs a record, several times the Rust
parser's own cost), so one process is the bottleneck on a large Security.evtx. EVTX
chunks are self-contained (64 KiB after a 4096-byte file header, each with its own
string and template tables), so a range of them, behind the file's own header, is an
EVTX file of its own: :class:`ChunkRange` shows one to the ``evtx`` package without
copying it. :func:`start` launches ``python -m ashiato.formats.evtx_parallel`` on the
range from the middle to the last whole chunk; the worker writes its batches to an Arrow
IPC stream (lz4) and its rejects to JSON, and the parent hands them on after its own
rows, so rows, their order, rejects and record refs are those of one pass. The
partial tail chunk of a cut file stays with the parent (:mod:`ashiato.formats.evtx`).

A reject message names the record read before the damage; the worker cannot know it
for damage before its own first record and writes :data:`_UNKNOWN` instead, which the
parent replaces by its own last record. If the worker fails in any way, the parent reads
the range itself.
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
    """A worker process reading chunks ``[first, end)`` into ``out``."""

    proc: subprocess.Popen[bytes]
    tmp: tempfile.TemporaryDirectory[str]
    first: int
    end: int

    @property
    def out(self) -> Path:
        return Path(self.tmp.name)

    def results(
        self, source: Source, seen: RecordIds, last: int,
        fallback: Callable[[int, int, int], Iterator[pa.RecordBatch]],
    ) -> Iterator[pa.RecordBatch]:  # fmt: skip
        """The worker's rejects (added to ``source``) and batches, after it ends; the
        range read here (``fallback``) if the worker failed."""
        result = self.out / "result.json"
        if self.proc.wait() != 0 or not result.exists():
            yield from fallback(self.first, self.end, last)
            return
        done = orjson.loads(result.read_bytes())
        for number, reason, raw in done["rejects"]:
            if number == _UNKNOWN:
                number = last
            source.reject(number, reason.replace(_AFTER_UNKNOWN, f"after record {last}", 1),
                          base64.b64decode(raw))  # fmt: skip
        seen.update(done["seen"])  # runs of record numbers (RecordIds)
        if done["rows"]:
            with pa.OSFile(str(self.out / "batches.arrow")) as fh:
                yield from pa.ipc.open_stream(fh)

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()
        self.tmp.cleanup()


def start(source: Source) -> Worker | None:
    """Start a worker on the second part of the file's whole chunks (None if it can't)."""
    whole = (source.path.stat().st_size - _FILE_HEADER) // _CHUNK
    # about half each, the parent a little more: the worker first spends ~0.18 s of CPU
    # starting an interpreter and importing pyarrow (what the parent reads of ~250
    # chunks at ~0.75 ms each; pandas stays out, nopandas), the parent also finalises
    # and stores every row (~1.5 µs a record against ~17 µs to read and map one)
    first = min((whole + _WORKER_START_CHUNKS) // 2, whole - whole // 4)
    tmp = tempfile.TemporaryDirectory(prefix="ashiato-evtx-worker-")
    cmd = [sys.executable, "-m", "ashiato.formats.evtx_parallel", str(source.path),
           str(first), str(whole), tmp.name, source.tz.key]  # fmt: skip
    try:
        proc = subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                                stderr=subprocess.DEVNULL)  # fmt: skip
    except OSError:
        tmp.cleanup()
        return None
    return Worker(proc, tmp, first, whole)


def _work(path: Path, first: int, end: int, out: Path, tz: str) -> None:
    import gc
    from zoneinfo import ZoneInfo

    from ashiato.formats import evtx as evtx_format
    from ashiato.formats.winevent_rows import WinRows

    pa.array([None], pa.string())  # what pyarrow loads on its first conversion, as ingest
    gc.freeze()  # as ingest does: the collector's full passes skip the modules loaded

    source = Source(path=path, display=str(path), evidence_id="", encoding=None, tz=ZoneInfo(tz))
    rows = WinRows(source)
    seen = RecordIds()
    count = 0
    writer: pa.ipc.RecordBatchStreamWriter | None = None
    options = pa.ipc.IpcWriteOptions(compression="lz4")
    part = ChunkRange(path, first, end)
    with pa.OSFile(str(out / "batches.arrow"), "wb") as sink:

        def put(batch: pa.RecordBatch | None) -> None:
            nonlocal writer, count
            if batch is None:
                return
            if writer is None:
                writer = pa.ipc.new_stream(sink, batch.schema, options=options)
            writer.write_batch(batch)
            count += batch.num_rows

        for rec in evtx_format._records(
            source, part, seen, tail=False, last=_UNKNOWN, first_chunk=first
        ):
            put(evtx_format._add(source, rows, rec))
        put(rows.flush())
        if writer is not None:
            writer.close()
    rejects = [(r.record, r.reason, base64.b64encode(r.raw).decode()) for r in source.rejects]
    tmp = out / "result.json.tmp"
    tmp.write_bytes(orjson.dumps({"rows": count, "rejects": rejects, "seen": seen.runs()}))
    tmp.replace(out / "result.json")  # written whole or not at all


if __name__ == "__main__":
    from ashiato import nopandas

    nopandas.hide()
    _work(Path(sys.argv[1]), int(sys.argv[2]), int(sys.argv[3]), Path(sys.argv[4]), sys.argv[5])
