"""EventRecordID gaps on the real public samples: filtered exports are not deletions."""

from __future__ import annotations

from pathlib import Path

import pyarrow as pa
import pyarrow.compute as pc
import pytest

from ashiato.analysis import tampering
from ashiato.analysis.context import Context
from ashiato.case import Case, EventWriter
from ashiato.formats.evtx import FORMAT as EVTX
from ashiato.formats.testing import parse_file
from ashiato.ingest import Options, ingest

pytestmark = pytest.mark.corpus

WINDOWS_LOGS = ("evtx-attack-samples", "deepbluecli", "sigmahq", "otrf-security-datasets",
                "evtx-parser-testfiles", "plaso-testdata")  # fmt: skip


def test_no_deletion_claimed_on_any_public_sample(shared: Path, tmp_path: Path) -> None:
    case = Case.create_or_open(tmp_path / "case", tz="UTC")
    ingest(case, [shared / d for d in WINDOWS_LOGS if (shared / d).exists()], Options())
    ctx = Context(events=case.ibis().table("events"), tz="UTC")
    gaps, filtered = tampering.record_scan(ctx)
    assert [g.evidence[0].summary for g in gaps] == []
    # the sparse ones are named, once per file, as filtered exports (101 on 2026-12-06)
    assert len(filtered) >= 50
    assert len({f.evidence_id for f in filtered}) == len(filtered)


def test_a_real_log_with_records_cut_out(shared: Path, tmp_path: Path) -> None:
    """A whole Security log (3,561 records, one ID missing where its author filtered one
    event) with 40 records cut out of its middle, as an eventlog editor would."""
    path = shared / "deepbluecli/evtx/smb-password-guessing-security.evtx"
    if not path.exists():
        pytest.skip(f"{path} not in ../shared/data")
    table, _ = parse_file(EVTX, path)
    rec = table.column("record")
    cut = pc.and_(pc.greater_equal(rec, 5000), pc.less(rec, 5040))
    table = table.filter(pc.invert(cut)).set_column(
        table.schema.get_field_index("evidence_id"), "evidence_id",
        pa.array(["deepblue"] * (table.num_rows - 40)))  # fmt: skip
    case = Case.create_or_open(tmp_path / "case", tz="UTC")
    w = EventWriter(case, "deepblue", "windows.security")
    for batch in table.to_batches():
        w.add(batch)
    w.close()
    with case.writer() as con:
        con.execute("INSERT INTO evidence (evidence_id, path, format) VALUES (?, ?, ?)",
                    ["deepblue", str(path), "evtx"])  # fmt: skip
    gaps, filtered = tampering.record_scan(Context(events=case.ibis().table("events"), tz="UTC"))
    assert filtered == []
    [gap] = gaps
    assert gap.evidence[0].summary.startswith("40 record(s) missing in windows.security of ")
    assert "between EventRecordID 4999 " in gap.evidence[0].summary
