"""One scale-1 run per scenario, shared by the lab tests (each run takes about a second)."""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

import pytest

from ashiato.lab import SCENARIOS, generate

SEED = 3


class Run:
    def __init__(self, root: Path, truth: dict[str, Any]) -> None:
        self.root = root
        self.truth = truth

    @property
    def evidence(self) -> Path:
        return self.root / "evidence"

    def read(self, rel: str, encoding: str = "utf-8") -> str:
        return (self.root / rel).read_text(encoding)


@pytest.fixture(scope="session")
def runs(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Run]:
    out: dict[str, Run] = {}
    for scenario in SCENARIOS:
        root = tmp_path_factory.mktemp(scenario)
        t = time.perf_counter()
        truth = generate(scenario, root, seed=SEED)
        secs = time.perf_counter() - t
        size = sum(p.stat().st_size for p in root.rglob("*") if p.is_file())
        print(f"lab {scenario}: {secs:.2f} s, {size / 1e6:.1f} MB")
        assert json.loads((root / "truth.json").read_text("utf-8")) == truth
        out[scenario] = Run(root, truth)
    return out
