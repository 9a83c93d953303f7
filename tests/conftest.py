from __future__ import annotations

from pathlib import Path

import pytest

DATA = Path(__file__).resolve().parent / "data"
SHARED = Path(__file__).resolve().parents[2] / "shared" / "data"


@pytest.fixture
def data() -> Path:
    return DATA


@pytest.fixture
def shared() -> Path:
    """The real public logs beside the repo (../shared/data); corpus tests skip without it."""
    if not SHARED.is_dir():
        pytest.skip("../shared/data not present: corpus tests need the shared public logs")
    return SHARED


@pytest.fixture
def split_at_once(monkeypatch: pytest.MonkeyPatch) -> list[tuple[int, int, int]]:
    """A large EVTX's (forked) worker waits at its first chunk for the parent to ask for
    the rest, and shares however little it has: the split is certain, and half the
    worker's range is the parent's. What each split was: (first, split, end)."""
    import os

    from ashiato.formats import evtx_parallel

    call = evtx_parallel._Split.__call__

    def patient(split: evtx_parallel._Split, chunk: int) -> int:
        if split.control is not None:
            os.set_blocking(split.control, True)
        return call(split, chunk)

    monkeypatch.setattr(evtx_parallel._Split, "__call__", patient)
    monkeypatch.setattr(evtx_parallel, "_MIN_SPLIT_CHUNKS", 1)
    splits: list[tuple[int, int, int]] = []
    ask = evtx_parallel.Worker.split

    def asked(worker: evtx_parallel.Worker) -> int:
        splits.append((worker.first, ask(worker), worker.end))
        return splits[-1][1]

    monkeypatch.setattr(evtx_parallel.Worker, "split", asked)
    return splits
