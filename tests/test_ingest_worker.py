"""A worker process (ingest_worker): says it is ready, answers each task, ends with its input."""

from __future__ import annotations

from pathlib import Path

from ashiato import ingest_pool, ingest_worker
from ashiato.case import Case
from ashiato.evidence.walk import EvidenceFile
from ashiato.ingest import Options


def test_a_worker_answers_a_failure_with_the_files_named(tmp_path: Path) -> None:
    case = Case.create_or_open(tmp_path / "case")
    gone = EvidenceFile(tmp_path / "gone.log", "evidence/gone.log", 10)
    job = ingest_worker.Job(0, gone, "0" * 64, "UTC", None)
    worker = ingest_pool._start()
    try:
        assert ingest_worker.recv(worker.out) == ingest_worker.READY
        worker.send(ingest_worker.Task(case.root, Options(), tmp_path, (job,)))
        answer = ingest_worker.recv(worker.out)
    finally:
        worker.stop()
    assert isinstance(answer, str)
    assert "FileNotFoundError" in answer and "evidence/gone.log" in answer
    assert worker.proc.returncode == 0  # the end of its input ends it
