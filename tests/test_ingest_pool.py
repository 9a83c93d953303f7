"""Several processes reading evidence (ingest_pool): the case is that of one process."""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from ashiato import ingest as ingest_module
from ashiato import ingest_pool, ingest_worker
from ashiato.case import Case
from ashiato.errors import AshiatoError
from ashiato.evidence.walk import EvidenceFile
from ashiato.ingest import Options, ingest


def _snapshot(case: Case) -> dict[str, Any]:
    """What a reader sees: every event (all columns; sorted by all of them, as rows of
    one record may share its number: a prefetch file's runs), the rejects, the catalogue
    in its own order (not sorted: it must not depend on which process finished first)
    and the aliases."""
    with case.reader() as con:
        events = con.execute("SELECT * FROM events ORDER BY ALL").fetchall()
        rejects = con.execute("SELECT * FROM rejects ORDER BY ALL").fetchall()
        catalogue = con.execute("SELECT * EXCLUDE (ingested_at) FROM evidence").fetchall()
        aliases = con.execute("SELECT * FROM aliases").fetchall()
    return {"events": events, "rejects": rejects, "catalogue": catalogue, "aliases": aliases}


def _ingest(root: Path, inputs: list[Path], workers: int) -> tuple[dict[str, Any], list[str]]:
    case = Case.create_or_open(root, tz="Asia/Tokyo")
    report = ingest(case, inputs, Options(workers=workers))
    return _snapshot(case), [f"{f.display} {f.status} {f.assumption}" for f in report.files]


def _squid(path: Path, n: int, junk: int) -> Path:
    """Squid native access.log lines, and ``junk`` lines it rejects."""
    lines = [f"{1441799534 + i}.{i:03d}    {100 + i} 10.0.0.{i % 250 + 1} TCP_MISS/200 "
             f"{1000 + i} GET http://example.com/{path.stem}/{i} - DIRECT/93.184.216.34 "
             "text/html" for i in range(n)]  # fmt: skip
    path.write_text("\n".join([*lines, *(f"junk {k}" for k in range(junk))]) + "\n", "utf-8")
    return path


@pytest.fixture
def mixed(tmp_path: Path, data: Path) -> Path:
    """Every unit fixture (some forty formats, year-less syslog, files no format reads),
    copies of one file (duplicates within the run) and logs with rejects."""
    root = tmp_path / "evidence"
    shutil.copytree(data, root / "data")
    shutil.copyfile(data / "squid" / "access.log", root / "copy-of-access.log")
    for i in range(4):
        _squid(root / f"proxy-{i}.log", 50 + i, junk=3)
    return root


@pytest.mark.parametrize("workers", [2, 3])
def test_workers_give_the_case_of_one_process(
    tmp_path: Path, mixed: Path, monkeypatch: pytest.MonkeyPatch, workers: int
) -> None:
    one, files_one = _ingest(tmp_path / "one", [mixed], 1)
    # small tasks: many of them, read by every process, answered out of order
    monkeypatch.setattr(ingest_pool, "TASK_FILES", 3)
    many, files_many = _ingest(tmp_path / "many", [mixed], workers)
    assert len(one["events"]) > 500
    assert len(one["rejects"]) >= 12
    assert any(row[9] == "unrecognised" for row in one["catalogue"])
    assert one["aliases"]
    assert files_many == files_one
    assert many == one


def test_many_rejects_go_through_a_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    logs = tmp_path / "logs"
    logs.mkdir()
    for i in range(6):
        _squid(logs / f"proxy-{i}.log", 20, junk=5)
    one, _ = _ingest(tmp_path / "one", [logs], 1)
    # in this process's own tasks (a worker keeps the default): rejects spilled to files
    monkeypatch.setattr(ingest_module, "REJECTS_HELD", 2)
    monkeypatch.setattr(ingest_pool, "TASK_FILES", 1)
    two, _ = _ingest(tmp_path / "two", [logs], 2)
    assert len(one["rejects"]) == 30
    assert two == one


def test_a_dead_worker_s_files_are_read_here(
    tmp_path: Path, mixed: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    one, _ = _ingest(tmp_path / "one", [mixed], 1)
    # says it is ready, then dies as its first task comes in
    dies = (
        "import pickle, struct, sys\n"
        f"ready = pickle.dumps({ingest_worker.READY!r})\n"
        "sys.stdout.buffer.write(struct.pack('<Q', len(ready)) + ready)\n"
        "sys.stdout.buffer.flush()\n"
        "sys.stdin.buffer.read(100)\n"
    )

    def dying() -> ingest_pool._Worker:
        cmd = [sys.executable, "-c", dies]
        return ingest_pool._Worker(subprocess.Popen(cmd, stdin=subprocess.PIPE,
                                                    stdout=subprocess.PIPE, bufsize=0))  # fmt: skip

    reclaimed: list[ingest_worker.Task] = []
    reclaim = ingest_pool._reclaim

    def counted(case: Case, w: ingest_pool._Worker) -> Iterator[ingest_worker.Task]:
        for task in reclaim(case, w):
            reclaimed.append(task)
            yield task

    monkeypatch.setattr(ingest_pool, "_start", dying)
    monkeypatch.setattr(ingest_pool, "_reclaim", counted)
    monkeypatch.setattr(ingest_pool, "TASK_FILES", 1)
    two, _ = _ingest(tmp_path / "two", [mixed], 2)
    assert reclaimed  # what it was given was read here
    assert two == one


def _files(n: int, size: int) -> list[EvidenceFile]:
    return [EvidenceFile(Path(f"/e/{i}"), f"/e/{i}", size) for i in range(n)]


def test_how_many_processes(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(ingest_pool.ENV_WORKERS, raising=False)
    monkeypatch.setattr(ingest_pool, "_idle_cores", lambda: 2)
    monkeypatch.setattr(ingest_pool, "_memory_slots", lambda: 4)
    assert ingest_pool.workers(None, _files(10, 10 << 20)) == 2
    assert ingest_pool.workers(None, _files(1, 1 << 30)) == 1  # one file: nothing to share
    assert ingest_pool.workers(None, _files(300, 1000)) == 1  # too little to repay a start
    assert ingest_pool.workers(3, _files(2, 10)) == 2  # asked for: at most one per file
    monkeypatch.setattr(ingest_pool, "_memory_slots", lambda: 1)  # memory for one only
    assert ingest_pool.workers(None, _files(10, 10 << 20)) == 1
    assert ingest_pool.workers(2, _files(10, 10 << 20)) == 2  # asked for: as many
    monkeypatch.setattr(ingest_pool, "_memory_slots", lambda: 4)
    monkeypatch.setattr(ingest_pool, "_idle_cores", lambda: 1)  # the other core is busy
    assert ingest_pool.workers(None, _files(10, 10 << 20)) == 1
    monkeypatch.setenv(ingest_pool.ENV_WORKERS, "2")
    assert ingest_pool.workers(None, _files(10, 1000)) == 2
    assert ingest_pool.workers(1, _files(10, 1000)) == 1  # the option wins
    monkeypatch.setenv(ingest_pool.ENV_WORKERS, "two")
    with pytest.raises(AshiatoError, match="ASHIATO_INGEST_WORKERS"):
        ingest_pool.workers(None, _files(10, 1000))


@pytest.mark.corpus
def test_real_samples_read_by_two_processes(
    tmp_path: Path, shared: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Real logs of many kinds: EVTX (damaged ones with rejects among them), Zeek,
    syslog, web and proxy logs, plaso's test files; 1 and 2 processes agree."""
    folders = ["deepbluecli", "evtx-parser-testfiles", "loghub", "zeek-zat",
               "elastic-beats-testdata", "plaso-testdata"]  # fmt: skip
    inputs = [shared / f for f in folders if (shared / f).is_dir()]
    one, files_one = _ingest(tmp_path / "one", inputs, 1)
    monkeypatch.setattr(ingest_pool, "TASK_FILES", 8)
    two, files_two = _ingest(tmp_path / "two", inputs, 2)
    assert len(one["events"]) > 10_000 and one["rejects"]
    assert files_two == files_one
    assert two == one


def _big_xml(path: Path, data: Path) -> Path:
    """wevtutil XML (events one per line and several on one line) with the damage a
    reader must report at the right line: an element never closed, text between events."""
    text = (data / "windows" / "wevtutil.xml").read_text("utf-8")
    events = [e for e in text.split("</Event>") if "<Event" in e]
    events = [e[e.index("<Event") :] + "</Event>" for e in events]
    out = []
    for i in range(40):
        for j, ev in enumerate(events):
            out.append(ev + ("" if (i + j) % 3 else "\n"))
        if i == 17:
            out.append("<Event xmlns='x'><System><EventID>1</EventID>\n")  # never closed
        if i == 23:
            out.append("stray text\n")
    path.write_text("".join(out), "utf-8")
    return path


@pytest.mark.parametrize("workers", [2, 3])
def test_a_large_xml_read_in_parts_is_read_as_whole(
    tmp_path: Path, data: Path, monkeypatch: pytest.MonkeyPatch, workers: int
) -> None:
    logs = tmp_path / "logs"
    logs.mkdir()
    _big_xml(logs / "Security.xml", data)
    for i in range(2):
        _squid(logs / f"proxy-{i}.log", 30, junk=2)
    one, files_one = _ingest(tmp_path / "one", [logs], 1)
    monkeypatch.setattr(ingest_pool, "SPLIT_BYTES", 1000)
    many, files_many = _ingest(tmp_path / "many", [logs], workers)
    parts = [p.stem for p in (tmp_path / "many" / "events").glob("*/*.parquet")]
    spans = [p for p in parts if re.fullmatch(r"[0-9a-f]{16}-[0-9]+", p)]
    assert len(spans) >= workers  # <id>, <id>-1, <id>-2...: read apart, more parts than processes
    assert len(one["events"]) > 250 and len(one["rejects"]) > 40
    assert files_many == files_one
    assert many == one


def test_a_part_of_a_file_left_by_a_killed_run_is_removed(tmp_path: Path) -> None:
    """A span's part (``<id>-N``) without its file's committed row is hidden, then
    removed by the next run, as a part of a whole file is."""
    logs = tmp_path / "logs"
    logs.mkdir()
    _squid(logs / "proxy.log", 10, junk=0)
    case = Case.create_or_open(tmp_path / "case")
    ingest(case, [logs], Options(workers=1))
    left = case.events_dir / "windows.eventlog" / "0123456789abcdef-1.parquet"
    left.parent.mkdir()
    shutil.copyfile(next(case.events_dir.glob("_schema/*.parquet")), left)
    with case.reader() as con:
        assert left in case.hidden_parts(con)
    ingest(case, [logs], Options(workers=1))
    assert not left.exists()


def test_one_large_file_that_splits_is_read_by_several(
    tmp_path: Path, data: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    xml = _big_xml(tmp_path / "Security.xml", data)
    log = _squid(tmp_path / "access.log", 3000, junk=0)
    zeek = (data / "zeek" / "conn.log").read_text("utf-8").splitlines(keepends=True)
    head = [ln for ln in zeek if ln.startswith("#")]
    body = [ln for ln in zeek if not ln.startswith("#")]
    tsv = tmp_path / "conn.log"  # its #fields header says what every line holds
    tsv.write_text("".join(head[:-1] + body * 400), "utf-8")
    monkeypatch.setattr(ingest_pool, "SPLIT_BYTES", 64 << 10)
    monkeypatch.setattr(ingest_pool, "MIN_BYTES", 0)
    monkeypatch.setattr(ingest_pool, "_idle_cores", lambda: 2)
    monkeypatch.delenv(ingest_pool.ENV_WORKERS, raising=False)
    assert ingest_pool.workers(None, [EvidenceFile(xml, str(xml), xml.stat().st_size)]) == 2
    # lines that stand alone are read in parts too; a log with a header is read whole
    assert ingest_pool.workers(None, [EvidenceFile(log, str(log), log.stat().st_size)]) == 2
    assert ingest_pool.workers(None, [EvidenceFile(tsv, str(tsv), tsv.stat().st_size)]) == 1
    one, _ = _ingest(tmp_path / "one", [xml, log], 1)
    two, _ = _ingest(tmp_path / "two", [xml, log], 2)
    assert two == one
