"""The ``ashiato`` command's entry: evidence named to ingest is hashed from the start."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

import ashiato.__main__ as entry
import ashiato.cli
from ashiato.evidence import hash_ahead


@pytest.mark.parametrize(
    ("argv", "hashed"),
    [(["ingest", "CASE", "big.evtx", "--tz", "UTC"], ["CASE", "big.evtx", "UTC"]),
     (["investigate", "big.evtx", "--case", "C"], ["big.evtx", "C"]),
     (["report", "CASE"], None),
     ([], None)],
)  # fmt: skip
def test_paths_of_an_ingest_start_hashing_before_the_cli_loads(
    monkeypatch: pytest.MonkeyPatch, argv: list[str], hashed: list[str] | None
) -> None:
    started: list[list[str]] = []
    ran: list[bool] = []
    monkeypatch.setattr(sys, "argv", ["ashiato", *argv])
    monkeypatch.setattr(hash_ahead, "start", lambda paths: started.append(list(paths)))
    monkeypatch.setattr(ashiato.cli, "main", lambda: ran.append(True))
    entry.main()
    assert ran == [True]
    assert started == ([] if hashed is None else [hashed])


def test_a_large_file_named_is_hashed_once_and_handed_over(tmp_path: Path) -> None:
    from ashiato.evidence.walk import sha256_of

    big = tmp_path / "big.bin"
    big.write_bytes(b"\x01" * (hash_ahead.MIN_BYTES + 5))
    hash_ahead.start([str(big), str(tmp_path), "Asia/Tokyo"])  # a folder, a zone: skipped
    import hashlib

    assert sha256_of(big) == hashlib.sha256(big.read_bytes()).hexdigest()
    assert hash_ahead.take(big) is None  # handed over once; the next asks hash in place
