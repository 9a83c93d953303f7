"""The commands as a user types them (Typer's runner, in-process)."""

from __future__ import annotations

import json
from pathlib import Path

from typer.testing import CliRunner

from ashiato.cli import app

runner = CliRunner()


def test_demo_end_to_end(tmp_path: Path) -> None:
    res = runner.invoke(app, ["demo", "--out", str(tmp_path / "d")])
    assert res.exit_code == 0, res.output
    report = tmp_path / "d" / "case" / "report.html"
    assert report.exists()
    assert "report:" in res.output
    findings = json.loads((tmp_path / "d" / "case" / "findings.json").read_text("utf-8"))
    truth = json.loads((tmp_path / "d" / "lab" / "truth.json").read_text("utf-8"))
    assert findings["schema"] == "ashiato.findings/2"
    assert findings["patient_zero"]["host"] == truth["patient_zero"]["host"]

    case = tmp_path / "d" / "case"
    res = runner.invoke(app, ["note", str(case), "user noticed HELP_YOUR_FILES on screen",
                              "--time", "2015-09-10T13:30:00", "--host", "PC-X"])
    assert res.exit_code == 0, res.output
    res = runner.invoke(app, ["timeline", str(case), "--dataset", "ashiato.note",
                              "--format", "jsonl"])
    rows = [json.loads(x) for x in res.output.splitlines() if x.strip()]
    assert rows and rows[0]["message"].startswith("user noticed")
    assert rows[0]["@timestamp"] == "2015-09-10T04:30:00Z"  # naive time read as JST
    ref = f"{rows[0]['evidence_id']}:{rows[0]['record']}"
    res = runner.invoke(app, ["show", str(case), ref])
    assert res.exit_code == 0 and "user noticed" in res.output


def test_investigate_ingests_first_and_exit_codes(tmp_path: Path) -> None:
    empty = tmp_path / "nothing"
    empty.mkdir()
    (empty / "x.bin").write_bytes(b"\x00\x01\x02" * 100)
    res = runner.invoke(app, ["ingest", str(tmp_path / "c"), str(empty)])
    assert res.exit_code == 1  # nothing could be read
    res = runner.invoke(app, ["timeline", str(tmp_path / "missing")])
    assert res.exit_code == 2 and "not an ashiato case" in res.output
    res = runner.invoke(app, ["ingest", str(tmp_path / "c"), str(tmp_path / "nope")])
    assert res.exit_code == 2 and "no such file" in res.output


def test_formats_lists_every_format_with_fields() -> None:
    res = runner.invoke(app, ["formats", "--json"])
    assert res.exit_code == 0
    fmts = json.loads(res.output)
    names = {f["name"] for f in fmts}
    assert {"evtx", "squid", "fortigate", "suricata", "dhcp", "file_listing"} <= names
    assert all(f["dataset"] and f["fields"] for f in fmts)


def test_show_prints_the_original_xml_event(tmp_path: Path) -> None:
    from ashiato import lab

    lab.generate("fileserver-encryption", tmp_path / "lab", seed=3)
    case = tmp_path / "case"
    xml = tmp_path / "lab" / "evidence" / "fileserver-audit"
    assert runner.invoke(app, ["ingest", str(case), str(xml), "--tz", "Asia/Tokyo"]).exit_code == 0
    res = runner.invoke(app, ["timeline", str(case), "--search", "help_",
                              "--format", "jsonl", "--limit", "1"])
    row = json.loads(res.output.splitlines()[0])
    res = runner.invoke(app, ["show", str(case), f"{row['evidence_id']}:{row['record']}"])
    assert res.exit_code == 0, res.output
    assert f"<EventRecordID>{row['record']}</EventRecordID>" in res.output
