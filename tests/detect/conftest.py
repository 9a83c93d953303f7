from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import pytest
from detect_events import batch, write_case

from ashiato.case import Case


@pytest.fixture(autouse=True)
def _rule_cache(tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch) -> None:
    """Compiled rule sets go to a folder of the test session, not the user's cache."""
    monkeypatch.setenv("ASHIATO_CACHE_DIR", str(tmp_path_factory.getbasetemp() / "cache"))


@pytest.fixture
def make_case(tmp_path: Path) -> Callable[..., Case]:
    def make(rows: Sequence[dict[str, Any]]) -> Case:
        return write_case(tmp_path / "case", rows)

    return make


@pytest.fixture
def events_of() -> Callable[..., Any]:
    """An Ibis events table (DuckDB, in memory) holding the rows."""
    import duckdb
    import ibis
    import pyarrow as pa

    from ashiato.normalize import finalize_batch

    def make(rows: Sequence[dict[str, Any]]) -> Any:
        con = duckdb.connect()
        table = pa.Table.from_batches([finalize_batch(batch(rows), "ev1", "test")])
        con.register("_rows", table)
        con.execute("CREATE TABLE events AS SELECT * FROM _rows")
        con.unregister("_rows")
        return ibis.duckdb.from_connection(con).table("events")

    return make
