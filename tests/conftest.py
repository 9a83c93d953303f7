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
