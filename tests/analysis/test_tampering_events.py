"""Sysmon and Event Log stops: read from the service state each event carries."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from case_rows import make_ctx

from ashiato.analysis import tampering

T0 = datetime(2015, 9, 10, 11, 0, tzinfo=UTC)


def _row(minute: int, ds: str, code: str, data: dict[str, str],
         **kw: Any) -> dict[str, Any]:  # fmt: skip
    row = {"@timestamp": T0 + timedelta(minutes=minute), "event.dataset": ds,
           "event.code": code, "host.name": "pc-osk-0112", "evidence_id": f"{ds}-pc",
           "extra": json.dumps({"winlog": {"event_data": data}})}  # fmt: skip
    row.update(kw)
    return row


def test_stops_of_sysmon_and_the_event_log_only(tmp_path: Path) -> None:
    rows = [
        # Sysmon 4: the Sysmon service state changed (its own last word before a stop)
        _row(1, "windows.sysmon", "4", {"State": "Stopped", "Version": "15.0"}),
        _row(2, "windows.sysmon", "4", {"State": "Started", "Version": "15.0"}),
        # System 7036 (Service Control Manager): param1 the service, param2 its new state
        _row(3, "windows.system", "7036", {"param1": "Sysmon64", "param2": "stopped"}),
        _row(4, "windows.system", "7036", {"param1": "Print Spooler", "param2": "stopped"}),
        _row(5, "windows.system", "7036", {"param1": "Windows Event Log", "param2": "停止"}),
        _row(6, "windows.system", "7036", {"param1": "Windows Event Log", "param2": "running"}),
        # the same codes elsewhere mean other things
        _row(7, "windows.security", "4", {"State": "Stopped"}),
        _row(8, "windows.sysmon", "1", {"State": "Stopped"},
             **{"process.command_line": "wevtutil cl System"}),
    ]  # fmt: skip
    found = tampering._events(make_ctx(tmp_path, rows), None)
    assert [(t.kind, t.time) for t in found] == [
        ("sysmon_stopped", "2015-09-10T11:01:00Z"),
        ("sysmon_stopped", "2015-09-10T11:03:00Z"),
        ("sysmon_stopped", "2015-09-10T11:05:00Z"),
        ("log_clear_command", "2015-09-10T11:08:00Z"),
    ]
