"""Large files hashed ahead in a thread give the digest hashing in place gives."""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

import pytest

from ashiato.evidence import hash_ahead
from ashiato.evidence.walk import sha256_of


@pytest.fixture(autouse=True)
def _small_is_large(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(hash_ahead, "MIN_BYTES", 1000)
    monkeypatch.setattr(hash_ahead, "_BLOCK", 4096)  # many blocks, the last one short


def _file(path: Path, size: int, seed: bytes = b"x") -> Path:
    path.write_bytes((hashlib.sha256(seed).digest() * (size // 32 + 1))[:size])
    return path


def test_a_file_hashed_ahead_gives_its_own_digest(tmp_path: Path) -> None:
    f = _file(tmp_path / "Security.evtx", 300_000)
    hash_ahead.start([f, tmp_path, tmp_path / "missing"])  # folders and the missing: left
    assert hash_ahead.take(f) == hashlib.sha256(f.read_bytes()).hexdigest()
    assert hash_ahead.take(f) is None  # handed over once: a second read hashes again
    assert sha256_of(f) == hashlib.sha256(f.read_bytes()).hexdigest()


def test_small_files_are_not_hashed_ahead(tmp_path: Path) -> None:
    f = _file(tmp_path / "a.log", 999)
    hash_ahead.start([f])
    assert hash_ahead.take(f) is None


def test_a_file_changed_after_its_hash_is_hashed_again(tmp_path: Path) -> None:
    f = _file(tmp_path / "Security.evtx", 300_000)
    hash_ahead.start([f])
    hash_ahead._ahead[hash_ahead._key(f)].result()  # type: ignore[index]
    _file(f, 300_001, b"y")  # grew after its hash was made
    os.utime(f, ns=(1, 1))
    assert hash_ahead.take(f) is None
    assert sha256_of(f) == hashlib.sha256(f.read_bytes()).hexdigest()
