"""Small files share Parquet parts (case.PartBatch): same case as one part per file."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from ashiato import case as case_module
from ashiato import ingest as ingest_module
from ashiato.case import Case, batch_evidence
from ashiato.errors import CaseError
from ashiato.ingest import Options, ingest


def _write(path: Path, lines: list[str]) -> Path:
    path.write_text("\n".join(lines) + "\n", "utf-8")
    return path


def _squid_lines(n: int, user: str) -> list[str]:
    """Squid native access.log lines (time, elapsed, client, code/status, bytes, method,
    URL, user, hierarchy/peer, type)."""
    return [f"{1441799534 + i}.{i:03d}    {100 + i} 10.0.0.{i + 1} TCP_MISS/200 {1000 + i} GET "
            f"http://example.com/{user}/{i} {user} DIRECT/93.184.216.34 text/html"
            for i in range(n)]  # fmt: skip


def _squid(path: Path, n: int, user: str, junk: bool = False) -> Path:
    lines = _squid_lines(n, user)
    return _write(path, [*lines, "junk"] if junk else lines)


def _snapshot(case: Case) -> dict[str, Any]:
    """Everything a reader sees: every event (all columns), rejects, the catalogue."""
    with case.reader() as con:
        events = con.execute("SELECT * FROM events ORDER BY evidence_id, record").fetchall()
        rejects = con.execute("SELECT * FROM rejects ORDER BY ALL").fetchall()
        catalogue = con.execute(
            "SELECT * EXCLUDE (ingested_at) FROM evidence ORDER BY evidence_id"
        ).fetchall()
        aliases = con.execute("SELECT * FROM aliases ORDER BY ALL").fetchall()
    return {"events": events, "rejects": rejects, "catalogue": catalogue, "aliases": aliases}


def _both(tmp_path: Path, inputs: list[Path]) -> tuple[Case, dict[str, Any], dict[str, Any]]:
    one = Case.create_or_open(tmp_path / "one-part-each", tz="Asia/Tokyo")
    ingest(one, inputs, Options(batch_parts=False))
    batched = Case.create_or_open(tmp_path / "batched", tz="Asia/Tokyo")
    ingest(batched, inputs, Options())
    return batched, _snapshot(one), _snapshot(batched)


def _parts(case: Case) -> list[Path]:
    return sorted(p for p in case.events_dir.glob("*/*.parquet") if p.parent.name != "_schema")


def test_small_files_share_a_part_and_read_the_same(tmp_path: Path) -> None:
    ev = tmp_path / "ev"
    ev.mkdir()
    for i in range(5):
        _squid(ev / f"access{i}.log", 3, f"u{i}", junk=True)
    _write(ev / "copy.log", (ev / "access0.log").read_text("utf-8").splitlines())  # a duplicate
    case, one, batched = _both(tmp_path, [ev])
    assert batched == one
    assert len(one["events"]) == 15 and len(one["rejects"]) == 5 and len(one["aliases"]) == 1
    parts = _parts(case)
    assert [p.name[:6] for p in parts] == ["batch-"]
    assert batch_evidence(parts[0]) == {row[0] for row in one["catalogue"]}


def test_many_rejects_are_stored_before_the_commit_the_same(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    ev = tmp_path / "ev"
    ev.mkdir()
    for i in range(4):
        _write(ev / f"access{i}.log", [*_squid_lines(2, f"u{i}"), "junk", "more junk"])
    held = Case.create_or_open(tmp_path / "held")
    ingest(held, [ev], Options())
    monkeypatch.setattr(ingest_module, "REJECTS_HELD", 3)
    early = Case.create_or_open(tmp_path / "early")
    ingest(early, [ev], Options())
    assert _snapshot(early)["rejects"] == _snapshot(held)["rejects"]
    assert len(_snapshot(held)["rejects"]) == 8


def test_dropping_one_file_of_a_batch_keeps_the_others(tmp_path: Path) -> None:
    ev = tmp_path / "ev"
    ev.mkdir()
    for i in range(3):
        _squid(ev / f"access{i}.log", 1, f"u{i}")
    case = Case.create_or_open(tmp_path / "case")
    ingest(case, [ev], Options())
    with case.reader() as con:
        found = con.execute("SELECT evidence_id FROM evidence ORDER BY path").fetchall()
    ids = [r[0] for r in found]
    case.drop_events(ids[1])
    with case.writer() as con:
        con.execute("DELETE FROM evidence WHERE evidence_id = ?", [ids[1]])
    with case.reader() as con:
        left = con.execute("SELECT evidence_id FROM events ORDER BY evidence_id").fetchall()
    assert [r[0] for r in left] == sorted([ids[0], ids[2]])
    (part,) = _parts(case)
    assert batch_evidence(part) == {ids[0], ids[2]}
    # read again: the file comes back, in a batch of its own
    ingest(case, [ev], Options())
    with case.reader() as con:
        assert con.execute("SELECT count(*) FROM events").fetchone() == (3,)
    assert len(_parts(case)) == 2


def test_a_file_read_again_does_not_replace_the_batch_it_left(tmp_path: Path) -> None:
    """The first file of a batch fails and is read again, alone: the part its batch
    left (holding the others) stays."""
    ev = tmp_path / "ev"
    ev.mkdir()
    for i in range(3):
        _squid(ev / f"access{i}.log", 1, f"u{i}")
    case = Case.create_or_open(tmp_path / "case")
    ingest(case, [ev], Options())
    with case.writer() as con:  # as if the first file's ingest had failed
        con.execute("UPDATE evidence SET status = 'failed' WHERE path LIKE '%access0.log'")
    report = ingest(case, [ev], Options())
    assert [r.status for r in report.files] == ["done", "duplicate", "duplicate"]
    with case.reader() as con:
        users = con.execute('SELECT "user.name" FROM events ORDER BY 1').fetchall()
    assert [u[0] for u in users] == ["u0", "u1", "u2"]
    assert len(_parts(case)) == 2


def test_a_batch_whose_rows_are_not_committed_is_hidden_then_cleared(tmp_path: Path) -> None:
    ev = tmp_path / "ev"
    ev.mkdir()
    for i in range(2):
        _squid(ev / f"access{i}.log", 1, f"u{i}")
    case = Case.create_or_open(tmp_path / "case")
    ingest(case, [ev], Options())
    # what a run killed after writing the batch but before its commit leaves
    with case.writer() as con:
        con.execute("DELETE FROM evidence")
    with case.reader() as con:
        assert con.execute("SELECT count(*) FROM events").fetchone() == (0,)
        assert case.hidden_parts(con) == _parts(case)
    stray = _parts(case)[0].with_name("batch-" + "f" * 16 + ".parquet")
    stray.write_bytes(b"PAR1 not a part")  # no evidence ids to read: hidden too
    with case.reader() as con:
        assert stray in case.hidden_parts(con)
    report = ingest(case, [ev], Options())
    assert [r.status for r in report.files] == ["done", "done"]
    assert len(_parts(case)) == 1  # the leftovers were removed
    with case.reader() as con:
        assert con.execute("SELECT count(*) FROM events").fetchone() == (2,)


def test_a_batch_that_cannot_be_written_is_read_again(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    ev = tmp_path / "ev"
    ev.mkdir()
    for i in range(3):
        _squid(ev / f"access{i}.log", 2, f"u{i}")
    case = Case.create_or_open(tmp_path / "case")

    def full(*_args: object) -> None:
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(case_module, "_write_part", full)
    with pytest.raises(CaseError, match="No space left on device"):
        ingest(case, [ev], Options())
    with case.reader() as con:  # nothing claims to be read
        assert con.execute("SELECT count(*) FROM evidence").fetchone() == (0,)
    monkeypatch.undo()
    report = ingest(case, [ev], Options())
    assert [r.status for r in report.files] == ["done"] * 3
    with case.reader() as con:
        assert con.execute("SELECT count(*) FROM events").fetchone() == (6,)


@pytest.mark.corpus
def test_evtx_corpus_reads_the_same_batched(shared: Path, tmp_path: Path) -> None:
    """Real EVTX (attack samples, DeepBlueCLI, damaged and truncated parser test files):
    every column of every row, rejects with their record refs, catalogue and aliases
    are those of one part per file."""
    inputs = [shared / "evtx-attack-samples", shared / "deepbluecli",
              shared / "evtx-parser-testfiles"]  # fmt: skip
    case, one, batched = _both(tmp_path, inputs)
    assert len(one["events"]) > 10_000 and one["rejects"]
    assert batched == one
    assert len(_parts(case)) < len(one["catalogue"]) // 10
