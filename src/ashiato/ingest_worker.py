"""The worker side of reading evidence in several processes (:mod:`ashiato.ingest_pool`).

A worker is ``python -c "from ashiato.ingest_worker import serve; serve()"``: it reads
:class:`Task` objects from stdin, reads their files into the case's Parquet parts with
:func:`ingest.read_file` (as the ingest's own process does, :func:`run_task`), and answers
each with a :class:`Done` (their results, catalogue rows and rejects) or an error message.
It writes nothing to the catalogue: the ingest's process does, in the order the evidence
was given. Messages are length-prefixed pickles on the worker's own pipes (never content
from evidence files as code: a pickle comes only from this package's own processes).
"""

from __future__ import annotations

import gc
import os
import pickle
import struct
import sys
import threading
import time
import traceback
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from queue import SimpleQueue
from typing import IO, Any

import duckdb
import pyarrow as pa

from ashiato.case import Case, PartBatch
from ashiato.evidence.walk import EvidenceFile
from ashiato.formats import registry
from ashiato.ingest import Catalogue, FileResult, Options, read_file
from ashiato.normalize import derive

READY = "ashiato ingest worker ready"  # a worker's first message, once it has imported
_REJECT_SCHEMA = pa.schema(
    [("evidence_id", pa.string()), ("record", pa.int64()), ("reason", pa.string()),
     ("raw", pa.binary())]
)  # fmt: skip


@dataclass(frozen=True)
class Job:
    """One evidence file to read: hashed, not a duplicate, with its zone and host."""

    index: int  # its place among the run's files (the catalogue's order)
    file: EvidenceFile
    sha: str
    tz: str
    host: str | None
    span: tuple[int, int, int] | None = None  # a part of a large file (Format.split)
    part: int = 0  # which part


@dataclass(frozen=True)
class Task:
    case_root: Path
    options: Options
    spill_dir: Path  # where a task's many rejects go (the case's temp folder)
    jobs: tuple[Job, ...]

    @property
    def size(self) -> int:
        """Bytes to read."""
        return sum(j.file.size if j.span is None else j.span[1] - j.span[0] for j in self.jobs)


@dataclass
class Done:
    """What a task read: per file its result and catalogue row, and the rejects (in
    memory, or in Arrow files when there were many)."""

    files: list[tuple[int, int, FileResult, Sequence[object]]]  # index, part, ...
    rejects: list[Sequence[object]]
    spills: list[Path]


@dataclass
class _SpillingCatalogue(Catalogue):
    """A task's catalogue: no connection; rejects past REJECTS_HELD go to a file."""

    folder: Path = Path()
    spills: list[Path] = field(default_factory=list)

    def flush_rejects(self, con: duckdb.DuckDBPyConnection | None) -> None:
        rejects, self.rejects = self.rejects, []
        if not rejects:
            return
        path = self.folder / f"rejects-{os.getpid()}-{len(self.spills)}-{time.monotonic_ns()}.arrow"
        table = pa.table(
            [pa.array([r[i] for r in rejects], f.type) for i, f in enumerate(_REJECT_SCHEMA)],
            schema=_REJECT_SCHEMA,
        )
        with pa.OSFile(str(path), "wb") as sink, pa.ipc.new_file(sink, _REJECT_SCHEMA) as out:
            out.write_table(table)
        self.spills.append(path)


def run_task(task: Task) -> Done:
    """Read a task's files (in a worker, or in the ingest's process)."""
    case = Case(task.case_root)
    options = task.options
    fmt_forced = registry.get(options.force_format) if options.force_format else None
    catalogue = _SpillingCatalogue(known={}, folder=task.spill_dir)
    shared = PartBatch(case, finish=derive) if options.batch_parts else None
    files: list[tuple[int, int, FileResult, Sequence[object]]] = []
    for job in task.jobs:
        result = read_file(case, None, job.file, job.sha, fmt_forced, job.tz, options,
                           job.host, catalogue=catalogue, shared=shared, span=job.span,
                           part=job.part)  # fmt: skip
        files.append((job.index, job.part, result, catalogue.rows.pop()))
    if shared is not None:
        shared.close()  # before the rows are sent: a part is in place before its rows count
    return Done(files, catalogue.rejects, catalogue.spills)


# the pipes carry pickles between this package's own processes (never evidence files)
_LEN = struct.Struct("<Q")


def send(fh: IO[bytes], obj: object) -> None:
    data = pickle.dumps(obj, protocol=pickle.HIGHEST_PROTOCOL)
    fh.write(_LEN.pack(len(data)))
    fh.write(data)
    fh.flush()


def recv(fh: IO[bytes]) -> Any:
    head = _read(fh, _LEN.size)
    if head is None:
        return None
    body = _read(fh, _LEN.unpack(head)[0])
    return None if body is None else pickle.loads(body)  # noqa: S301 - our own worker


def _read(fh: IO[bytes], n: int) -> bytes | None:
    buf = bytearray(n)
    view = memoryview(buf)
    got = 0
    while got < n:
        k = fh.readinto(view[got:])  # type: ignore[attr-defined]
        if not k:
            return None
        got += k
    return bytes(buf)


def serve() -> None:
    """A worker: read tasks from stdin, answer each with its Done (or an error message)."""
    from ashiato import nopandas

    out = os.fdopen(os.dup(1), "wb", buffering=0)
    os.dup2(2, 1)  # what a library prints can't garble the answers
    nopandas.hide()
    pa.array([None])  # as ingest does before gc.freeze
    gc.freeze()
    # tasks are read as they come, so the ingest's process never waits to hand one over
    inbox: SimpleQueue[Task | None] = SimpleQueue()

    def listen() -> None:
        while (task := recv(sys.stdin.buffer)) is not None:
            inbox.put(task)
        inbox.put(None)

    threading.Thread(target=listen, daemon=True).start()
    send(out, READY)
    while (task := inbox.get()) is not None:
        try:
            answer: Done | str = run_task(task)
        except Exception as exc:  # sent to the ingest, which stops with it
            names = ", ".join(j.file.display for j in task.jobs)
            answer = f"{type(exc).__name__}: {exc} (reading {names})\n{traceback.format_exc()}"
        send(out, answer)
