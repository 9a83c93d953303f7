"""The DuckDB engine: the case's own ``case.duckdb`` and the ``events`` view over its Parquet."""

from __future__ import annotations

import re
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ashiato.case import Case
from ashiato.errors import CaseError

if TYPE_CHECKING:
    from ashiato.engines import Engine


def connect(case: Case | str | Path) -> Engine:
    from ashiato.engines import Engine
    from ashiato.engines.store import normalise

    if not isinstance(case, Case):
        where = normalise(case)
        if where.startswith("file://"):
            where = "/" + where.removeprefix("file://").lstrip("/")
        if "://" in where:
            raise CaseError(
                f"{where}: the DuckDB engine reads cases on this machine; copy the case here "
                "(e.g. `aws s3 sync URL DIR`) or use --engine spark"
            )
        case = Case.open(Path(where))
    con = case.ibis()
    return Engine(name="duckdb", case=case, backend=con, events=con.table("events"))


def json_field(col: Any, path: Sequence[str], as_: str) -> Any:
    value = col.cast("json")
    for key in path:
        # a key with a dot or space ("event.duration", "Threat Name") is quoted, or the
        # JSON path would read it as nested keys
        value = value[key if re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", key) else f'"{key}"']
    return value.unwrap_as(as_)


def epoch_seconds(ts: Any) -> Any:
    # DuckDB's epoch() is a DOUBLE with the fraction; Ibis types it as an integer
    return ts.epoch_seconds().cast("float64")
