"""Ingest real, partly damaged public logs end to end: nothing lost, nothing fatal."""

from __future__ import annotations

from pathlib import Path

import evtx
import pytest

from ashiato.case import Case
from ashiato.ingest import Options, ingest

pytestmark = pytest.mark.corpus


def _records_and_errors(path: Path) -> int:
    """What the evtx package yields: records plus errors, iterating past each error."""
    n = 0
    records = evtx.PyEvtxParser(str(path)).records_json()
    while True:
        try:
            next(records)
        except StopIteration:
            return n
        except Exception:  # a damaged record or chunk: counted too
            n += 1
        else:
            n += 1


def test_damaged_evtx_and_vendor_samples(shared: Path, tmp_path: Path) -> None:
    folders = [shared / "evtx-parser-testfiles", shared / "elastic-beats-testdata"]
    case = Case.create_or_open(tmp_path / "case", tz="Asia/Tokyo")
    report = ingest(case, folders, Options())
    assert report.anything_read
    assert not [f for f in report.files if f.status == "failed"]
    by_name = {Path(f.display).name: f for f in report.files}
    # the beats samples are read by their formats, with nothing rejected
    assert by_name["access1.log"].format == "squid" and by_name["access1.log"].rejected == 0
    assert by_name["traffic.log"].format == "fortigate" and by_name["traffic.log"].rejected == 0
    assert by_name["eve-small.log"].format == "suricata"
    # a damaged EVTX keeps its good records and counts the bad ones as rejects
    sysmon = next(f for f in report.files if f.display.endswith("samples/sysmon.evtx"))
    assert sysmon.rows > 300 and sysmon.rejected > 0
    with case.reader() as con:
        stored = dict(con.execute("SELECT path, rows + rejected FROM evidence").fetchall())
        kept = con.execute("SELECT count(*) FROM rejects WHERE evidence_id IN "
                           "(SELECT evidence_id FROM evidence WHERE format = 'evtx')").fetchone()
    assert kept is not None and kept[0] > 0
    for f in report.files:
        if f.format == "evtx" and f.status == "done":
            assert stored[f.display] == _records_and_errors(Path(f.display)), f.display
