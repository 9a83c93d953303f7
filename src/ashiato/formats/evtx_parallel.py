"""A large EVTX read by two processes: the second part of its chunks in a worker.

Mapping a record to a row is Python work (~10 µs a record, several times the Rust
parser's own cost), so one process is the bottleneck on a large Security.evtx. EVTX
chunks are self-contained (64 KiB after a 4096-byte file header, each with its own
string and template tables), so a range of them, behind the file's own header, is an
EVTX file of its own: :class:`ChunkRange` shows one to the ``evtx`` package without
copying it. :func:`start` forks a worker (on Linux: it has the parent's modules loaded
already; elsewhere it runs ``python -m ashiato.formats.evtx_parallel``) on the range
from a little before the middle to the last whole chunk. The worker reads it in pieces of
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
import os
import signal
import subprocess
import sys
import tempfile
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any, Protocol

import orjson
import pyarrow as pa

from ashiato.formats.base import Source
from ashiato.formats.evtx_ids import RecordIds

_FILE_HEADER = 4096
_CHUNK = 65536
# what the parent reads while a worker starts (see start): a new interpreter importing
# pyarrow takes ~0.25 s of CPU, a forked copy of the parent next to nothing
_WORKER_START_CHUNKS = 256
_FORK_START_CHUNKS = 8
# chunks in a piece the worker hands on (~2,700 records, ~4 MB of EVTX): small enough
# that little is left to store when the worker ends, large enough to cost nothing
PIECE_CHUNKS = 64
# storing a row (normalising, Parquet: ~1.9 µs) against reading and mapping it (~10.4 µs
# on one core, measured over the spliced 256 MB file), for the split
STORE_SHARE = 0.15
_LZ4 = pa.ipc.IpcWriteOptions(compression="lz4")
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


class Process(Protocol):
    """What the parent needs of a worker process (a ``subprocess.Popen`` or a fork)."""

    @property
    def stdout(self) -> IO[bytes] | None: ...

    def poll(self) -> int | None: ...

    def kill(self) -> None: ...

    def wait(self) -> int: ...


class Forked:
    """A child made by ``os.fork``, seen as a ``Popen``: its pid and the pipe it writes."""

    def __init__(self, pid: int, stdout: IO[bytes]) -> None:
        self.pid = pid
        self.stdout: IO[bytes] | None = stdout
        self.returncode: int | None = None

    def poll(self) -> int | None:
        if self.returncode is None:
            pid, status = os.waitpid(self.pid, os.WNOHANG)
            if pid:
                self.returncode = os.waitstatus_to_exitcode(status)
        return self.returncode

    def kill(self) -> None:
        if self.poll() is None:
            os.kill(self.pid, signal.SIGKILL)

    def wait(self) -> int:
        if self.returncode is None:
            _, status = os.waitpid(self.pid, 0)
            self.returncode = os.waitstatus_to_exitcode(status)
        return self.returncode


@dataclass
class Worker:
    """A worker process reading chunks ``[first, end)`` into ``out``, ``piece`` at a time."""

    proc: Process
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
                # read and removed at once: the pieces not yet read are what the temp
                # folder holds (lz4: ~100-300 bytes a row instead of ~930, for a 4 GB log
                # read while the parent is still at its own part)
                stream = self.out / f"{number}.arrow"
                with pa.memory_map(str(stream)) as fh:
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
    fork = _can_fork()
    # the parent reads while the worker starts (_WORKER_START_CHUNKS, pandas stays out
    # of a new interpreter: nopandas); it also stores every row, its own and the
    # worker's (STORE_SHARE of the cost of reading them), so it reads a little less
    head_start = _FORK_START_CHUNKS if fork else _WORKER_START_CHUNKS
    first = round((whole * (1 - STORE_SHARE) + head_start) / 2)
    first = max(1, min(first, whole - whole // 4))
    tmp = tempfile.TemporaryDirectory(prefix="ashiato-evtx-worker-")
    args = (source.path, first, whole, Path(tmp.name), source.tz.key, PIECE_CHUNKS)
    try:
        proc = _fork(*args) if fork else _spawn(*args)
    except OSError:
        tmp.cleanup()
        return None
    return Worker(proc, tmp, first, whole, PIECE_CHUNKS)


def _can_fork() -> bool:
    """A fork shares the parent's loaded modules: no interpreter start nor imports
    (~0.25 s of CPU, a tenth of the work on 256 MB). Linux only: on macOS a forked child
    may crash in system libraries, Windows has no fork. ``ASHIATO_EVTX_FORK=0`` spawns."""
    return sys.platform == "linux" and os.environ.get("ASHIATO_EVTX_FORK", "1") != "0"


def _spawn(path: Path, first: int, end: int, out: Path, tz: str, piece: int) -> Process:
    cmd = [sys.executable, "-m", "ashiato.formats.evtx_parallel", str(path), str(first),
           str(end), str(out), tz, str(piece)]  # fmt: skip
    return subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                            stderr=subprocess.DEVNULL)  # fmt: skip


def _fork(path: Path, first: int, end: int, out: Path, tz: str, piece: int) -> Process:
    read_end, write_end = os.pipe()
    parent = os.getpid()
    pid = os.fork()
    if pid == 0:  # the child: never returns into the parent's code, whatever happens
        code = 1
        try:
            os.close(read_end)
            # the parent's ^C stops it and it kills us; our own would end us midway
            signal.signal(signal.SIGINT, signal.SIG_IGN)
            _die_with(parent)
            _work(path, first, end, out, tz, piece, lambda n: _say(write_end, n))
            code = 0
        finally:
            # no atexit handlers, finalizers nor buffered output of the parent's
            os._exit(code)
    os.close(write_end)
    return Forked(pid, os.fdopen(read_end, "rb"))


def _die_with(parent: int) -> None:
    """End this child when the parent does (killed outright, it can't kill us)."""
    try:
        import ctypes

        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG
    except (OSError, AttributeError):
        pass
    if os.getppid() != parent:  # it ended before the line above
        os._exit(1)


def _say(fd: int, number: int) -> None:
    os.write(fd, f"{number}\n".encode())


def _print(number: int) -> None:
    sys.stdout.write(f"{number}\n")
    sys.stdout.flush()


def _work(
    path: Path, first: int, end: int, out: Path, tz: str, piece: int,
    done_piece: Callable[[int], None] = _print,
) -> None:  # fmt: skip
    """Read chunks ``[first, end)`` piece by piece into ``out``, telling ``done_piece``
    the number of each as it is written whole."""
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
                    writer = pa.ipc.new_stream(sink, batch.schema, options=_LZ4)
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
        done_piece(number)  # the parent reads piece by piece


if __name__ == "__main__":
    from ashiato import nopandas

    nopandas.hide()
    _work(Path(sys.argv[1]), int(sys.argv[2]), int(sys.argv[3]), Path(sys.argv[4]), sys.argv[5],
          int(sys.argv[6]))  # fmt: skip
