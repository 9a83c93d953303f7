"""Plain impact without an attributed host: detected, with the leads and what settles it."""

from __future__ import annotations

import json
from pathlib import Path

from ashiato import lab
from ashiato.analysis.pipeline import investigate
from ashiato.case import Case
from ashiato.ingest import Options, ingest


def test_encrypted_share_with_no_host_signal_is_still_detected(tmp_path: Path) -> None:
    lab.generate("fileserver-encryption", tmp_path / "lab", seed=1)
    truth = json.loads((tmp_path / "lab" / "truth.json").read_text("utf-8"))
    ev = tmp_path / "lab" / "evidence"
    case = Case.create_or_open(tmp_path / "case", tz="Asia/Tokyo")
    # only the share listing (owners), DHCP and the DC: no client log, no share audit
    ingest(case, [ev / "fileserver-listing", ev / "dhcp", ev / "dc"], Options(tz="Asia/Tokyo"))
    f = investigate(case).to_dict()
    assert not [h for h in f["hosts"] if h["verdict"] == "infected"]
    assert f["incident"]["detected"] is True and f["incident"]["kind"] == "ransomware"
    summary = f["incident"]["summary"]
    assert "no host could be attributed" in summary
    assert f"\\{truth['patient_zero']['user']} owns" in summary  # the lead: the files' owner
    assert "5145" in summary  # what would settle it
