from __future__ import annotations

from pathlib import Path
from typing import Any

import orjson
from detect_events import sysmon
from typer.testing import CliRunner

from ashiato.cli import app
from ashiato.detect.hunt import DATASET, hunt

ROWS = [
    sysmon(
        1,
        1,
        Image="C:\\Windows\\System32\\vssadmin.exe",
        CommandLine="vssadmin.exe Delete Shadows /All /Quiet",
        ParentImage="C:\\Users\\a\\AppData\\Roaming\\x.exe",
    ),
    sysmon(22, 2, QueryName="evil.example"),
    sysmon(1, 3, Image="C:\\Windows\\System32\\notepad.exe", CommandLine="notepad"),
]


def detections(case: Any) -> list[dict[str, Any]]:
    with case.reader() as con:
        cur = con.execute(f"SELECT * FROM events WHERE \"event.dataset\" = '{DATASET}'")
        names = [d[0] for d in cur.description]
        return [dict(zip(names, r, strict=True)) for r in cur.fetchall()]


def test_hunt_stores_and_replaces(make_case: Any, data: Path) -> None:
    case = make_case(ROWS)
    rep = hunt(case, [], [data / "detect" / "iocs.txt"])
    assert rep.stored == 2
    rows = detections(case)
    sig = next(r for r in rows if r["rule.category"] == "sigma")
    assert sig["rule.name"] == "Shadow Copy or Backup Deletion" and sig["event.severity"] == 4
    assert sig["host.name"] == "pc-01" and sig["record"] == 1 and sig["evidence_id"]
    extra = orjson.loads(sig["extra"])["detection"]
    assert extra["level"] == "high" and extra["code"] == "1"
    ioc_row = next(r for r in rows if r["rule.category"] == "ioc")
    assert orjson.loads(ioc_row["extra"])["detection"]["source"].endswith("iocs.txt")
    # re-running replaces: no duplicates, and an empty hunt leaves nothing
    assert hunt(case, [], [data / "detect" / "iocs.txt"]).stored == 2
    assert len(detections(case)) == 2
    hunt(case, [], [])
    assert len(detections(case)) == 1


def test_cli(make_case: Any, tmp_path: Path) -> None:
    case = make_case(ROWS)
    bad = tmp_path / "bad.yml"
    bad.write_text(
        "title: broken\nlogsource: {product: aws}\ndetection:\n  s: {a: b}\n  condition: s\n",
        "utf-8",
    )
    res = CliRunner().invoke(app, ["hunt", str(case.root), "--sigma", str(bad), "--json"])
    assert res.exit_code == 0, res.output
    out = orjson.loads(res.output)
    assert out["stored"] == 0 and "aws" in out["not_run"][0]["reason"]
    res = CliRunner().invoke(app, ["hunt", str(case.root)])
    assert res.exit_code == 0 and "Shadow Copy" in res.output
