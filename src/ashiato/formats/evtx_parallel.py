"""A large EVTX read by two processes: the second part of its chunks in a worker.

Mapping a record to a row is Python work (~10 µs a record, several times the Rust
parser's own cost), so one process is the bottleneck on a large Security.evtx. EVTX
chunks are self-contained (64 KiB after a 4096-byte file header, each with its own
string and template tables), so a range of them, behind the file's own header, is an
EVTX file of its own: :class:`ChunkRange` shows one to the ``evtx`` package without
copying it. :func:`start` forks a worker (on Linux: it has the parent's modules loaded
already; elsewhere it runs ``python -m ashiato.formats.evtx_parallel``) on the range
after which there are as many records as before it (the chunk headers say how many) to
the last whole chunk. The worker stores its rows itself, as the
file's part 1 (``Source.parts``: normalised and written to Parquet as the parent does
its part 0), and hands the parent only what the catalogue needs: its rejects, the
record numbers it read (the tail of a cut file skips those), its last record and what
its part holds (rows, first and last time), as one JSON document on a pipe when it is
done. No rows cross between the processes, so each does half of all the work. The
parent, done with its part 0, asks the worker for half of what it has left
(:meth:`Worker.split`) and reads that into part 2, so that the two end together. Parts
0, 1, 2 (and 3: the partial tail chunk of a cut file, read by the parent last:
:mod:`ashiato.formats.evtx`) read in order give the rows of one pass; rejects and
record refs are those of one pass.

A reject message names the record read before the damage; the worker cannot know it
for damage before its own first record and writes :data:`UNKNOWN` instead, which the
parent replaces by its own last record (and the worker's last, for the parent's share
of the worker's range: :func:`replay`). If the worker fails in any way (dies at once or
midway, is killed, writes nonsense), its part is removed and the parent reads the rest
of its range itself. The parent's ^C or death kills the worker.
"""

from __future__ import annotations

import base64
import io
import os
import signal
import struct
import subprocess
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any, Protocol

import orjson

from ashiato.formats.base import Source
from ashiato.formats.evtx_ids import RecordIds
from ashiato.formats.parts import Parts, Stored, from_spec

_FILE_HEADER = 4096
_CHUNK = 65536
# what the parent reads while a worker starts (see start): a new interpreter importing
# pyarrow takes ~0.25 s of CPU, a forked copy of the parent next to nothing
_WORKER_START_CHUNKS = 256
_FORK_START_CHUNKS = 8
_MAX_CHUNK_RECORDS = _CHUNK // 24  # more in a chunk header is damage (a record is >= 24 bytes)
WORKER_PART = 1  # the worker's rows: the file's part 1 (the parent's are part 0)
STOLEN_PART = 2  # the rest of the worker's range, read by the parent (Worker.split)
TAIL_PART = 3  # the partial last chunk of a cut file, read by the parent last
# fewer chunks left than this (~0.5 ms of work a chunk): not worth a part of its own
_MIN_SPLIT_CHUNKS = 16
_SAMPLED_HEADERS = 1024  # chunk headers read to find where half the records are
UNKNOWN = -1  # "the record before this range": known to the parent, filled in by replay
_AFTER_UNKNOWN = f"after record {UNKNOWN}"


class ChunkRange(io.RawIOBase):
    """Chunks ``[first, end)`` of an EVTX file behind its file header, read in place.

    ``until``, if given, is asked at the start of each chunk the parser reads which chunk
    the range now ends before: the worker's range may be cut short while it is read
    (:class:`_Split`). The parser reads a chunk only once it has handed out every record
    of the one before, so the range then ends there, as if the file did: :attr:`stopped`
    tells the reader that what the parser says next (that the chunk is missing) is not
    damage."""

    def __init__(
        self, path: Path, first: int, end: int, until: Callable[[int], int] | None = None
    ) -> None:
        super().__init__()
        self._fh = path.open("rb")
        self._header = self._fh.read(_FILE_HEADER)
        self._first = first
        self._base = first * _CHUNK  # file offset = range position + _base
        self._size = _FILE_HEADER + (end - first) * _CHUNK
        self._pos = 0
        self._until = until
        self.stopped = False

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
        if self._until is not None and not self.stopped and self._pos >= _FILE_HEADER:
            at, within = divmod(self._pos - _FILE_HEADER, _CHUNK)
            if within == 0 and self._first + at >= self._until(self._first + at):
                self.stopped = True
        if self.stopped:
            return b""
        left = max(0, self._size - self._pos)
        n = left if size is None or size < 0 else min(size, left)
        out = b""
        if n and self._pos < _FILE_HEADER:
            out = self._header[self._pos : self._pos + n]
            self._pos += len(out)
            n -= len(out)
        if n:
            data = _read_at(self._fh, n, self._base + self._pos)  # one call, one copy
            self._pos += len(data)
            out = out + data if out else data
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
    """A worker process reading chunks ``[first, end)`` into ``parts`` (part 1), or
    ``[first, split())`` once the parent has taken the rest."""

    proc: Process
    parts: Parts
    first: int
    end: int
    control: IO[bytes] | None = None  # where the parent asks for the rest (split)
    accepted: bool = False  # its part is the file's (finish): kept when it is stopped
    stopped: bool = False
    _said: bytes = b""  # what split() read of the worker's final report

    def split(self) -> int:
        """Ask the worker for half of what it has still to read: the chunk from which the
        parent reads the rest itself (``end``: none, the worker reads on to the end).
        Records cost about the same wherever they are, but the two processes don't: the
        parent starts first, the worker pays for its fork, and one core may be slower or
        busier; so whichever way the first split erred, the parent, done with its part,
        takes half the worker's remainder (into :data:`STOLEN_PART`)."""
        control, self.control = self.control, None
        if control is None or self.proc.stdout is None:
            return self.end
        try:
            with control:
                control.write(b"s")
        except OSError:  # it has ended already: nothing left to share
            return self.end
        line = self.proc.stdout.readline()  # within one chunk of the worker's reading
        if not line.startswith(b"split "):
            self._said = line  # no answer: it had read its last chunk (its report)
            return self.end
        try:
            at = int(line[6:])
        except ValueError:
            return self.end
        return at if self.first <= at <= self.end else self.end

    def finish(self, source: Source, seen: RecordIds, last: int) -> int | None:
        """Wait for the worker to end; its rejects into ``source`` (after the parent's),
        its record numbers into ``seen``, its part counted. The last record it read, or
        None if it failed (its part removed: the parent reads the range itself)."""
        assert self.proc.stdout is not None
        data = self._said + self.proc.stdout.read()
        if self.proc.wait() != 0:
            self.stop()
            return None
        try:
            done = orjson.loads(data)
            stored = Stored.from_json(done["stored"])
            found = [(int(rec), str(reason), base64.b64decode(raw))
                     for rec, reason, raw in done["rejects"]]  # fmt: skip
            runs = done["seen"]
            end = int(done["last"])
        except (orjson.JSONDecodeError, KeyError, TypeError, ValueError):
            self.stop()
            return None
        replay(source, found, last)
        seen.update(runs)  # runs of record numbers (RecordIds)
        if stored.rows:  # a part without rows is not written
            self.parts.count(WORKER_PART, stored)
        self.accepted = True
        return last if end == UNKNOWN else end

    def stop(self) -> None:
        """End the worker if it still runs; its part removed unless it was accepted (once:
        a part 1 written afterwards is the parent's, reading the range itself)."""
        if self.stopped:
            return
        self.stopped = True
        if self.control is not None:
            self.control.close()
        if self.proc.poll() is None:
            self.proc.kill()
        self.proc.wait()
        if self.proc.stdout is not None:
            self.proc.stdout.close()
        if not self.accepted:
            self.parts.discard(WORKER_PART)


def replay(source: Source, rejects: list[tuple[int, str, bytes]], last: int) -> None:
    """Rejects of a range read without knowing the record before it (a worker's, or the
    parent's share of the worker's range) into ``source``, ``last`` being that record."""
    for record, reason, raw in rejects:
        if record == UNKNOWN:
            record = last
        source.reject(record, reason.replace(_AFTER_UNKNOWN, f"after record {last}", 1), raw)


def start(source: Source) -> Worker | None:
    """Start a worker on the second part of the file's whole chunks (None if it can't:
    no :attr:`Source.parts` to store its rows in, or no process)."""
    if source.parts is None:
        return None
    whole = (source.path.stat().st_size - _FILE_HEADER) // _CHUNK
    fork = _can_fork()
    # each process reads and stores half the records; the parent reads while the worker
    # starts (_WORKER_START_CHUNKS, pandas stays out of a new interpreter: nopandas)
    head_start = _FORK_START_CHUNKS if fork else _WORKER_START_CHUNKS
    first = max(1, min(_middle(source.path, whole, head_start), whole - whole // 4))
    args = (source.path, first, whole, source.tz.key, source.parts)
    try:
        proc, control = _fork(*args) if fork else _spawn(*args)
    except OSError:
        return None
    return Worker(proc, source.parts, first, whole, control)


def _middle(path: Path, whole: int, head_start: int) -> int:
    """The chunk from which the worker reads: as many records after it as before it,
    past the parent's ``head_start`` chunks. Mapping a record is most of the work, and
    chunks hold from a few records to hundreds; each chunk's header gives its first and
    last record numbers (a damaged header counts none)."""
    return _halfway(path, 0, whole, head_start)


def _halfway(path: Path, lo: int, hi: int, head_start: int = 0) -> int:
    """The chunk of ``[lo, hi]`` after which there are as many records in ``[lo, hi)``
    as before it, past ``head_start`` chunks (:func:`_middle`). Up to
    :data:`_SAMPLED_HEADERS` headers are read, evenly spread, each standing for the
    chunks up to the next (~1.5 µs a header: all of a 4 GB file's took 0.1 s before the
    fork; the split at the end, Worker.split, evens out what the estimate misses)."""
    whole = hi - lo
    step = max(1, -(-whole // _SAMPLED_HEADERS))
    counts = [0] * whole
    with path.open("rb", buffering=0) as fh:
        for i in range(0, whole, step):
            header = _read_at(fh, 24, _FILE_HEADER + (lo + i) * _CHUNK)
            if header[:8] == b"ElfChnk\x00" and len(header) == 24:
                first, last = struct.unpack_from("<QQ", header, 8)
                if first <= last < first + _MAX_CHUNK_RECORDS:
                    counts[i : i + step] = [last - first + 1] * min(step, whole - i)
    return lo + _half(counts, head_start)


def _half(counts: list[int], head_start: int) -> int:
    whole = len(counts)
    total = sum(counts)
    if not total:
        return round((whole + head_start) / 2)
    head = sum(counts[:head_start])
    target = head + (total - head) / 2
    seen = 0
    for i, n in enumerate(counts):
        seen += n
        if seen >= target:
            return i + 1
    return whole


def _read_at(fh: IO[bytes], size: int, offset: int) -> bytes:
    if hasattr(os, "pread"):  # one system call instead of two (not on Windows)
        return os.pread(fh.fileno(), size, offset)
    fh.seek(offset)
    return fh.read(size)


def _can_fork() -> bool:
    """A fork shares the parent's loaded modules: no interpreter start nor imports
    (~0.25 s of CPU, a tenth of the work on 256 MB). Linux only: on macOS a forked child
    may crash in system libraries, Windows has no fork. ``ASHIATO_EVTX_FORK=0`` spawns."""
    return sys.platform == "linux" and os.environ.get("ASHIATO_EVTX_FORK", "1") != "0"


def _spawn(path: Path, first: int, end: int, tz: str, parts: Parts
           ) -> tuple[Process, IO[bytes] | None]:  # fmt: skip
    cmd = [sys.executable, "-m", "ashiato.formats.evtx_parallel", str(path), str(first),
           str(end), tz, orjson.dumps(parts.spec()).decode()]  # fmt: skip
    proc = subprocess.Popen(cmd, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                            stderr=subprocess.DEVNULL)  # fmt: skip
    return proc, proc.stdin  # its standard input: where the parent asks for the rest


def _fork(path: Path, first: int, end: int, tz: str, parts: Parts
          ) -> tuple[Process, IO[bytes] | None]:  # fmt: skip
    read_end, write_end = os.pipe()
    asked, ask = os.pipe()  # the parent asks for the rest (Worker.split)
    parent = os.getpid()
    pid = os.fork()
    if pid == 0:  # the child: never returns into the parent's code, whatever happens
        code = 1
        try:
            os.close(read_end)
            os.close(ask)
            # the parent's ^C stops it and it kills us; our own would end us midway
            signal.signal(signal.SIGINT, signal.SIG_IGN)
            _die_with(parent)
            with open(write_end, "wb") as out:
                _work(path, first, end, tz, parts, out, asked)
            code = 0
        finally:
            # no atexit handlers, finalizers nor buffered output of the parent's
            os._exit(code)
    os.close(write_end)
    os.close(asked)
    return Forked(pid, os.fdopen(read_end, "rb")), os.fdopen(ask, "wb", buffering=0)


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


class _Split:
    """The worker's side of :meth:`Worker.split`, asked at the start of each chunk it
    reads (:class:`ChunkRange`): the chunk its range ends before. Once the parent has
    asked (a byte on ``control``, looked for without waiting: one system call a 64 KiB
    chunk), that is where half the records left are behind, told to the parent on
    ``out`` as ``split N``; the parent reads from there. Too little left to share (a
    few chunks: a part of its own costs the parent more) and the range stays whole."""

    def __init__(self, path: Path, end: int, control: int | None, out: IO[bytes]) -> None:
        self.path = path
        self.end = end
        self.out = out
        self.control = control
        if control is not None:
            try:
                os.set_blocking(control, False)
            except OSError:  # a pipe that can't be polled (Windows before 3.12): no split
                self.control = None

    def __call__(self, chunk: int) -> int:
        if self.control is None:
            return self.end
        try:
            asked = os.read(self.control, 1)
        except BlockingIOError:
            return self.end
        except OSError:
            asked = b""
        self.control = None  # asked (or the parent is gone): once
        if not asked:
            return self.end
        if self.end - chunk >= _MIN_SPLIT_CHUNKS:
            self.end = _halfway(self.path, chunk, self.end)
        self.out.write(b"split %d\n" % self.end)
        self.out.flush()
        return self.end


def _work(
    path: Path, first: int, end: int, tz: str, parts: Parts, out: IO[bytes],
    control: int | None = None,
) -> None:  # fmt: skip
    """Read chunks ``[first, end)`` into part 1 of ``parts`` (or fewer: ``control`` is
    where the parent asks for the rest, :class:`_Split`); once it is in place, what the
    parent needs (:meth:`Worker.finish`) to ``out``."""
    import gc
    from zoneinfo import ZoneInfo

    import pyarrow as pa

    from ashiato.formats import evtx as evtx_format
    from ashiato.formats.winevent_rows import WinRows

    pa.array([None])  # what pyarrow loads on its first conversion, as ingest
    gc.freeze()  # as ingest does: the collector's full passes skip the modules loaded

    source = Source(path=path, display=str(path), evidence_id="", encoding=None, tz=ZoneInfo(tz))
    seen = RecordIds(kept=evtx_format.has_tail(path))
    writer = parts.open(WORKER_PART)
    try:
        rng = ChunkRange(path, first, end, _Split(path, end, control, out))
        last = evtx_format.read_into(
            source, WinRows(source), rng, seen, writer.add, last=UNKNOWN, first_chunk=first
        )
        stored = writer.close()
    except BaseException:
        writer.abort()
        raise
    rejects = [
        (r.record, r.reason, base64.b64encode(r.raw).decode()) for r in source.take_rejects()
    ]
    done = {"stored": stored.to_json(), "rejects": rejects, "seen": seen.runs(), "last": last}
    out.write(orjson.dumps(done))
    out.flush()


if __name__ == "__main__":
    from ashiato import nopandas

    nopandas.hide()
    _work(Path(sys.argv[1]), int(sys.argv[2]), int(sys.argv[3]), sys.argv[4],
          from_spec(orjson.loads(sys.argv[5])), sys.stdout.buffer, sys.stdin.fileno())  # fmt: skip
