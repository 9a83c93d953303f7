"""Small cases built from event rows, for the analysis unit tests."""

from __future__ import annotations

from collections import defaultdict
from pathlib import Path
from typing import Any

from ashiato.analysis.context import Context
from ashiato.case import Case, EventWriter
from ashiato.normalize import finalize_batch
from ashiato.schema import NAMES, batch_from_columns


def make_case(tmp: Path, rows: list[dict[str, Any]], formats: dict[str, str] | None = None) -> Case:
    """A case holding ``rows`` (one Parquet part per ``evidence_id``; ``record`` numbered
    per evidence when missing); ``formats`` adds catalogue rows naming their formats."""
    case = Case.create_or_open(tmp / "case", tz="Asia/Tokyo")
    groups: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for r in rows:
        groups[r["evidence_id"]].append(r)
    for ev, rs in groups.items():
        for i, r in enumerate(rs, 1):
            r.setdefault("record", i)
        cols = {n: [r.get(n) for r in rs] for n in NAMES if n != "evidence_id"}
        w = EventWriter(case, ev, rs[0]["event.dataset"])
        w.add(finalize_batch(batch_from_columns(cols, len(rs)), ev, rs[0]["event.dataset"]))
        w.close()
    if formats:
        with case.writer() as con:
            for ev, fmt in formats.items():
                con.execute("INSERT INTO evidence (evidence_id, path, format) VALUES (?, ?, ?)",
                            [ev, f"{ev}.log", fmt])  # fmt: skip
    return case


def make_ctx(
    tmp: Path, rows: list[dict[str, Any]], formats: dict[str, str] | None = None
) -> Context:
    return Context(events=make_case(tmp, rows, formats).ibis().table("events"), tz="Asia/Tokyo")
