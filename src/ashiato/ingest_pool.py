"""Several evidence files read at once: the ingest's own process and worker processes.

Reading a log (sniff, parse, map, normalise, write its Parquet parts) is Python work on
one core. With several files and an idle core, :func:`read_all` hands groups of files
(*tasks*) to worker processes (:mod:`ashiato.ingest_worker`, started afresh: no fork of
a process holding a DuckDB connection) and reads tasks itself while they work. Only the
ingest's process writes the catalogue (DuckDB has one writer): a task's files are read
by :func:`ingest.read_file` into parts of their own or a shared batch part (written
before the task's result is sent), and their catalogue rows come back to be inserted
here, in the order of the evidence given (not the order in which tasks finish), so the
catalogue, evidence ids, rows, rejects and record refs are those of one process
(tests/test_ingest_pool.py). Rows are committed every COMMIT_SECONDS up to the first
file still being read: a run killed meanwhile reads the files after it again.

Files are hashed here, in order, before they are handed out: a second copy of a file is
a duplicate of the first whichever process is faster, and two processes never write the
same file's part. Tasks are handed out largest first, to workers once they say they are
ready (a worker slow to start holds nothing up), by a thread of this process
(:class:`_Feeder`) that also takes their answers while this process reads the smallest
tasks itself. A worker never
starts a second-level one (``ASHIATO_EVTX_WORKER=never`` in its environment): the files
are the parallelism. If a worker dies, what it was reading is dropped and read here
instead.

A large file whose format can be cut into parts read apart (``Format.split``: the XML of
``wevtutil``, at an ``<Event`` that starts a line) is handed out as one task per part;
each part's events go to a part of their own (``<evidence id>-N.parquet``) and the
results are put together here (counts added up, times widened) into the file's one
catalogue row.

Memory: each process reads one file at a time with the same bounds as a single-process
ingest (streamed batches, shared parts written every ``GROUP_ROWS`` rows); a worker's
rejects go to an Arrow file once ``REJECTS_HELD`` have gathered.
"""

from __future__ import annotations

import dataclasses
import os
import select
import subprocess
import sys
import threading
import time
from collections import deque
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from queue import Empty, SimpleQueue
from typing import IO

import duckdb
import pyarrow as pa

from ashiato import cores
from ashiato.case import EVIDENCE_COLUMNS, Case
from ashiato.errors import AshiatoError
from ashiato.evidence.encoding import detect
from ashiato.evidence.walk import EvidenceFile, sha256_of
from ashiato.formats import registry
from ashiato.formats.base import SAMPLE_BYTES, Format, Sample
from ashiato.ingest import (
    COMMIT_SECONDS,
    REJECTS_HELD,
    Catalogue,
    FileResult,
    IngestReport,
    Options,
    Progress,
    _decode_sample,
    _zone_for,
)
from ashiato.ingest_worker import READY, Done, Job, Task, recv, run_task, send

ENV_WORKERS = "ASHIATO_INGEST_WORKERS"  # processes reading evidence at once; 1: this one only
MAX_AUTO = 4  # at most this many by default, whatever the cores: memory is per process
# what one process reading evidence may take at its peak (a one-process ingest of the
# scale-20 lab case: 550-660 MB); by default no more processes than free memory holds
PROCESS_MEMORY = 640 << 20
MIN_FILES = 2
# less to read than this: a worker's start-up (~0.4 s of CPU, on the idle core) isn't
# repaid in time (the public EVTX corpus, 33 MB in 304 files, ~1.1 s of CPU in one
# process: 1.28-1.32 s wall in two against 1.43-1.54 s in one at load ~2, 0.45 s more CPU)
MIN_BYTES = 16 << 20
TASK_FILES = 64  # files per task at most (small ones are ~2-3 ms each)
TASK_BYTES = 8 << 20  # bytes per task at most (a larger file is a task of its own)
SPLIT_BYTES = 128 << 20  # a file this large is read in parts if its format can (Format.split)
IN_FLIGHT = 2  # tasks handed to a worker ahead: one to read, one waiting (not near the end)


def workers(
    requested: int | None, files: Sequence[EvidenceFile], options: Options | None = None
) -> int:
    """How many processes read ``files`` (this one included): ``requested`` (or
    ``$ASHIATO_INGEST_WORKERS``) if given, else one per idle core when there are several
    files (or a large one read in parts) and enough bytes to repay starting a worker."""
    if os.name != "posix":  # answers are awaited with select() on pipes: POSIX only
        return 1
    if requested is None:
        env = os.environ.get(ENV_WORKERS, "").strip()
        if env and env != "auto":
            try:
                requested = int(env)
            except ValueError as exc:
                raise AshiatoError(
                    f"${ENV_WORKERS}={env!r}: give a number of processes (1: no workers) or auto"
                ) from exc
    # what can be read at once: the files, a large one that splits counting for its parts
    pieces = sum(_pieces(f, options or Options()) for f in files)
    if requested is not None and requested > 0:
        return max(1, min(requested, pieces))
    if pieces < MIN_FILES or sum(f.size for f in files) < MIN_BYTES:
        return 1
    return max(1, min(MAX_AUTO, pieces, _idle_cores(), _memory_slots()))


def _pieces(ev: EvidenceFile, options: Options) -> int:
    if ev.size < SPLIT_BYTES or _splits(ev, options) is None:
        return 1
    return int(ev.size // SPLIT_BYTES)


def _memory_slots() -> int:
    """How many processes' peaks the memory not in use holds (no limit where unknown)."""
    try:
        free = os.sysconf("SC_AVPHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")
    except (ValueError, OSError, AttributeError):  # not on this platform
        return MAX_AUTO
    # page cache counts as used here: a low figure, so the budget errs on the safe side
    return max(1, free // PROCESS_MEMORY)


def _idle_cores() -> int:
    """Cores not kept busy by other work (cores.idle_cores): on a shared machine a second
    process on a busy core costs more CPU and saves no time."""
    return max(1, int(cores.idle_cores() + 0.5))


@dataclass
class _Worker:
    proc: subprocess.Popen[bytes]
    tasks: deque[Task] = field(default_factory=deque)  # sent, not answered yet
    # said it is ready: until then it is given nothing, so a worker slow to start (a
    # busy machine) holds no task up while this process could read it
    started: bool = False

    @property
    def out(self) -> IO[bytes]:
        assert self.proc.stdout is not None
        return self.proc.stdout

    def send(self, task: Task) -> None:
        assert self.proc.stdin is not None
        self.tasks.append(task)  # first: if it dies meanwhile, the task is read elsewhere
        send(self.proc.stdin, task)

    def stop(self) -> None:
        if self.proc.stdin is not None:
            try:
                self.proc.stdin.close()  # the worker's loop ends
            except OSError:
                pass
        try:
            self.proc.wait(timeout=5)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()


def _start() -> _Worker:
    import ashiato

    env = dict(os.environ)
    env["ASHIATO_EVTX_WORKER"] = "never"  # the files are the parallelism: no second level
    # this very package, wherever it was imported from (a checkout, tests)
    root = str(Path(ashiato.__file__).resolve().parents[1])
    env["PYTHONPATH"] = os.pathsep.join([root, *filter(None, [env.get("PYTHONPATH")])])
    cmd = [sys.executable, "-c", "from ashiato.ingest_worker import serve; serve()"]
    proc = subprocess.Popen(cmd, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                            stderr=subprocess.DEVNULL, env=env, bufsize=0)  # fmt: skip
    return _Worker(proc)


def read_all(
    case: Case,
    con: duckdb.DuckDBPyConnection,
    catalogue: Catalogue,
    files: Sequence[EvidenceFile],
    hosts: Mapping[str, str],
    options: Options,
    case_tz: str,
    report: IngestReport,
    progress: Progress | None,
    processes: int,
) -> None:
    """Read ``files`` with ``processes`` processes (this one and workers), their results
    appended to ``report`` and their rows to ``catalogue`` in the order of ``files``;
    committed every COMMIT_SECONDS as a single-process ingest does."""
    spill_dir = case.tmp_dir / "rejects"
    spill_dir.mkdir(parents=True, exist_ok=True)
    pool = [_start() for _ in range(processes - 1)]  # they import while this one hashes
    order = _Order(catalogue, files, report, progress)
    # largest first: workers take from the large end, this process from the small end,
    # so that it is never long away from handing out work and answers
    tasks = deque(_tasks(case, options, spill_dir, files, hosts, case_tz, catalogue, order,
                         processes))  # fmt: skip
    mine: deque[Task] = deque()  # tasks of a dead worker, read here
    feeder = _Feeder(pool, tasks, processes)
    committed = time.monotonic()
    try:
        feeder.start()
        while True:
            with feeder.lock:  # not while it hands a task over (it would be in neither)
                task = mine.popleft() if mine else tasks.pop() if tasks else None
                idle = task is None and not feeder.busy()
            if task is not None:
                _take(con, catalogue, order, run_task(task))
            elif idle and feeder.answers.empty():
                break
            # answers come in meanwhile; when there is nothing left to read here, wait
            for w, answer in feeder.take(wait=task is None):
                if answer is None:  # died: its tasks are read here
                    mine.extend(_reclaim(case, w))
                elif isinstance(answer, str):
                    raise AshiatoError(f"an ingest worker failed: {answer}")
                else:
                    _take(con, catalogue, order, answer)
            order.emit()
            if time.monotonic() - committed > COMMIT_SECONDS:
                catalogue.flush(con)
                con.execute("COMMIT")
                con.execute("BEGIN")
                committed = time.monotonic()
        order.emit()
        assert order.next == len(order.entries), "an evidence file was not read"
    finally:
        feeder.stop()
        for w in pool:
            w.stop()


class _Feeder(threading.Thread):
    """Hands tasks to the workers and takes their answers while this process reads a
    task of its own (a worker that finished need not wait for it); the answers are
    used by this process's own thread between its tasks (the catalogue is its alone)."""

    def __init__(self, pool: list[_Worker], tasks: deque[Task], processes: int) -> None:
        super().__init__(name="ashiato-ingest-feeder", daemon=True)
        self.pool = list(pool)
        self.tasks = tasks
        self.processes = processes
        self.lock = threading.Lock()
        self.answers: SimpleQueue[tuple[_Worker, Done | str | None]] = SimpleQueue()
        self._halt = threading.Event()
        self._failed: BaseException | None = None

    def busy(self) -> bool:
        """Whether a worker holds a task (call with the lock held)."""
        return any(w.tasks for w in self.pool)

    def take(self, wait: bool) -> Iterator[tuple[_Worker, Done | str | None]]:
        """The answers so far (at least one, or a short wait, if ``wait``)."""
        if self._failed is not None:
            raise AshiatoError(f"handing out ingest tasks failed: {self._failed}")
        if wait:
            try:
                yield self.answers.get(timeout=0.05)
            except Empty:
                return
        while not self.answers.empty():
            yield self.answers.get()

    def stop(self) -> None:
        self._halt.set()
        if self.is_alive():
            self.join()

    def run(self) -> None:
        try:
            while not self._halt.is_set():
                with self.lock:
                    for w in list(self.pool):
                        while w.started and self.tasks and _wants(w, self.tasks, self.processes):
                            try:
                                w.send(self.tasks.popleft())
                            except OSError:  # died: this process reads its tasks
                                self.pool.remove(w)
                                self.answers.put((w, None))
                                break
                    listening = [w for w in self.pool if w.tasks or not w.started]
                if not listening:
                    if self._halt.wait(0.05):
                        return
                    continue
                for w in _ready(listening, timeout=0.05):
                    answer = recv(w.out)
                    with self.lock:
                        if answer is None:  # died: this process reads its tasks
                            self.pool.remove(w)
                            self.answers.put((w, None))
                        elif answer == READY:
                            w.started = True
                        else:
                            w.tasks.popleft()
                            self.answers.put((w, answer))
        except BaseException as exc:  # raised in the ingest's own thread (take)
            self._failed = exc


def _wants(w: _Worker, tasks: deque[Task], processes: int) -> bool:
    """Whether a worker is given the next task now: when it has none, or as a second one
    ahead (it reads it without waiting for this process, which may be reading a task of
    its own, to hand one over) while there are plenty left: near the end it would wait
    behind the first while another process has nothing to do."""
    return not w.tasks or (len(w.tasks) < IN_FLIGHT and len(tasks) >= IN_FLIGHT * processes)


def _ready(workers: list[_Worker], timeout: float) -> list[_Worker]:
    """The workers with an answer to read (waiting for one at most ``timeout`` s)."""
    readable, _, _ = select.select([w.out for w in workers], [], [], timeout)
    return [w for w in workers if w.out in readable]


def _reclaim(case: Case, w: _Worker) -> Iterator[Task]:
    """A dead worker's tasks, whatever it wrote of them removed."""
    w.stop()
    for task in w.tasks:
        for job in task.jobs:
            case.drop_events(job.sha[:16])
    yield from w.tasks
    w.tasks.clear()


def _take(con: duckdb.DuckDBPyConnection, catalogue: Catalogue, order: _Order, done: Done) -> None:
    for index, part, result, row in done.files:
        order.done.setdefault(index, []).append((part, result, row))
    catalogue.rejects.extend(done.rejects)
    if len(catalogue.rejects) >= REJECTS_HELD:
        catalogue.flush_rejects(con)
    for path in done.spills:
        with pa.memory_map(str(path)) as src:
            table = pa.ipc.open_file(src).read_all()
        con.register("_ashiato_rejects", table)
        try:
            con.execute("INSERT INTO rejects SELECT * FROM _ashiato_rejects")
        finally:
            con.unregister("_ashiato_rejects")
        path.unlink()


@dataclass
class _Order:
    """The run's files in the order given; results are handed on in that order."""

    catalogue: Catalogue
    files: Sequence[EvidenceFile]
    report: IngestReport
    progress: Progress | None
    # per file: its evidence id and whether it is a duplicate (set as files are hashed)
    entries: list[tuple[str, bool]] = field(default_factory=list)
    parts: dict[int, int] = field(default_factory=dict)  # files read in several parts
    done: dict[int, list[tuple[int, FileResult, Sequence[object]]]] = field(default_factory=dict)
    next: int = 0

    def emit(self) -> None:
        """Hand on the results of the files read so far, up to the first still being read."""
        while self.next < len(self.entries):
            evidence_id, duplicate = self.entries[self.next]
            ev = self.files[self.next]
            if duplicate:
                # the copy read earlier in this run has its row in by now (same order)
                fmt = self.catalogue.known.get(evidence_id)
                self.catalogue.aliases.append((evidence_id, ev.display))
                result = FileResult(ev.display, evidence_id, "duplicate", format=fmt)
            elif len(self.done.get(self.next, ())) == self.parts.get(self.next, 1):
                result, row = _merge(self.done.pop(self.next))
                self.catalogue.add(result.evidence_id, result.format, row)
            else:
                return
            self.report.files.append(result)
            if self.progress:
                self.progress(ev.display, ev.size)
            self.next += 1


_COLUMN = {name: i for i, name in enumerate(EVIDENCE_COLUMNS)}


def _merge(
    pieces: list[tuple[int, FileResult, Sequence[object]]],
) -> tuple[FileResult, Sequence[object]]:
    """The result and catalogue row of a file read in parts: counts added up, times
    widened, failed if any part failed."""
    if len(pieces) == 1:
        return pieces[0][1], pieces[0][2]
    pieces = sorted(pieces, key=lambda p: p[0])
    results = [r for _, r, _ in pieces]
    merged = dataclasses.replace(results[0])
    merged.rows = sum(r.rows for r in results)
    merged.rejected = sum(r.rejected for r in results)
    merged.redecoded = sum(r.redecoded for r in results)
    firsts = [r.first for r in results if r.first is not None]
    lasts = [r.last for r in results if r.last is not None]
    merged.first = min(firsts) if firsts else None
    merged.last = max(lasts) if lasts else None
    failed = [r for r in results if r.status != "done"]
    if failed:
        merged.status, merged.error = failed[0].status, failed[0].error
    row = list(pieces[0][2])
    decode_errors = sum(int(str(w[_COLUMN["decode_errors"]] or 0)) for _, _, w in pieces)
    for name, value in (("status", merged.status), ("rows", merged.rows),
                        ("rejected", merged.rejected), ("decode_errors", decode_errors),
                        ("first_ts", merged.first), ("last_ts", merged.last),
                        ("error", merged.error), ("redecoded", merged.redecoded)):  # fmt: skip
        row[_COLUMN[name]] = value
    return merged, row


def _split(ev: EvidenceFile, options: Options, processes: int) -> list[tuple[int, int, int]] | None:
    """The spans of a large file whose format can be read in parts (Format.split)."""
    if processes < 2 or ev.size < SPLIT_BYTES:
        return None
    split = _splits(ev, options)
    if split is None:
        return None
    # more parts than processes (up to four each, of SPLIT_BYTES / 2 or more), so that
    # they end about together: two halves of a file beside other work seldom do
    parts = max(processes, min(4 * processes, ev.size // (SPLIT_BYTES // 2)))
    spans = split(ev.path, parts)
    return spans if len(spans) > 1 else None


def _splits(
    ev: EvidenceFile, options: Options
) -> Callable[[Path, int], list[tuple[int, int, int]]] | None:
    """How the file's format cuts it into parts, if it can (its first bytes sniffed as
    read_file sniffs them)."""
    try:
        with ev.path.open("rb") as fh:
            head = fh.read(SAMPLE_BYTES)
    except OSError:
        return None  # read_file says what is wrong with it
    encoding = detect(head)
    # cut at ASCII markup: only where such bytes are always characters of their own
    if encoding not in ("utf-8", "utf-8-sig", "ascii"):
        return None
    text = _decode_sample(head, encoding)
    if options.force_format:
        fmt: Format | None = registry.get(options.force_format)
    else:
        fmt = registry.sniff(Sample(head, text, Path(ev.display).name))
    return None if fmt is None else fmt.split


def _tasks(
    case: Case,
    options: Options,
    spill_dir: Path,
    files: Sequence[EvidenceFile],
    hosts: Mapping[str, str],
    case_tz: str,
    catalogue: Catalogue,
    order: _Order,
    processes: int,
) -> list[Task]:
    """The files hashed in order (a copy is a duplicate of the first one given) and
    grouped into tasks: consecutive files up to TASK_FILES and about an eighth of each
    process's share of the bytes; the largest tasks first, so that a big log is not
    the last thing read while the other processes have nothing left to do."""
    total = sum(f.size for f in files)
    budget = max(256 << 10, min(TASK_BYTES, total // (processes * 8)))
    seen = set(catalogue.known)
    tasks: list[tuple[int, Task]] = []
    jobs: list[Job] = []
    size = 0
    for i, ev in enumerate(files):
        sha = sha256_of(ev.path)
        evidence_id = sha[:16]
        duplicate = evidence_id in seen
        seen.add(evidence_id)
        order.entries.append((evidence_id, duplicate))
        if duplicate:
            continue
        tz = _zone_for(ev.display, case_tz, options.tz_overrides)
        spans = _split(ev, options, processes)
        if spans is not None:  # a task per part, whoever reads it
            order.parts[i] = len(spans)
            for part, span in enumerate(spans):
                job = Job(i, ev, sha, tz, hosts.get(ev.display), span, part)
                tasks.append((span[1] - span[0], Task(case.root, options, spill_dir, (job,))))
            continue
        if jobs and (size + ev.size > budget or len(jobs) >= TASK_FILES):
            tasks.append((size, Task(case.root, options, spill_dir, tuple(jobs))))
            jobs, size = [], 0
        jobs.append(Job(i, ev, sha, tz, hosts.get(ev.display)))
        size += ev.size
    if jobs:
        tasks.append((size, Task(case.root, options, spill_dir, tuple(jobs))))
    tasks.sort(key=lambda t: -t[0])  # stable: equal sizes stay in the order given
    return [task for _, task in tasks]
