"""The one-statement scan gives the very hits of the earlier path (SigmaHQ rules over the
public EVTX corpus), through the rule cache too. Needs ../shared/data."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import ibis
import pytest

from ashiato.case import Case
from ashiato.detect import sigma
from ashiato.detect.sigma import cache
from ashiato.detect.sigma.sqlscan import DuckRelation
from ashiato.ingest import Options, ingest


def _hits(result: sigma.Result) -> list[tuple[Any, ...]]:
    return sorted(
        (d.rule.id or d.rule.title, d.event["evidence_id"], d.event["record"],
         tuple(sorted((k, str(v)) for k, v in d.event.items())))
        for d in result.detections
    )  # fmt: skip


@pytest.mark.corpus
@pytest.mark.slow
def test_scan_hits_equal_the_earlier_path(shared: Path, tmp_path: Path) -> None:
    case = Case.create_or_open(tmp_path / "case", tz="UTC")
    ingest(case, [shared / "evtx-attack-samples", shared / "deepbluecli"], Options(tz="UTC"))
    program = sigma.compiled([shared / "sigmahq" / "rules" / "windows"])
    assert len(program.jobs) > 2300
    cached = cache.decode(cache.encode(program))
    with case.writer() as con:
        old = sigma.execute(ibis.duckdb.from_connection(con).table("events"), program,
                            "informational", engine="sql")  # fmt: skip
        new = sigma.execute(DuckRelation(con, "events"), cached, "informational")
    assert not old.stats.errors and not new.stats.errors
    before, after = _hits(old), _hits(new)
    assert len(before) > 5000  # the corpus is full of attacks: thousands of hits
    assert after == before
