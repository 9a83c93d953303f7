"""Upload traffic from an address no log names, tied to the one host where a transfer tool
had just started (a file server's static address, only its process log collected)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from ashiato.analysis import exfiltration

T = datetime(2023, 2, 3, 12, 35, 22, tzinfo=UTC)


def _flow(ip: str, dest: str, minutes: float, host: str | None = None) -> dict[str, Any]:
    first = T + timedelta(minutes=minutes)
    return {"host": host, "source_ip": ip, "destination": dest, "bytes": 1_100_000_000,
            "first": first.isoformat().replace("+00:00", "Z"), "last": None}  # fmt: skip


def _tool(host: str, minutes: float) -> dict[str, Any]:
    when = T + timedelta(minutes=minutes)
    return {"host": host, "what": "rclone (renamed)", "time": when.isoformat(),
            "command_line": "winupd.exe copy C:\\ProgramData\\s mega:bk",
            "row": {"@timestamp": when}}  # fmt: skip


def test_the_host_where_the_tool_had_just_started() -> None:
    items = [
        _flow("10.0.0.20", "mega.co.nz", 0.05),
        _flow("10.0.0.20", "gfs270n121.userstorage.mega.co.nz", 1.5),
        _flow("10.0.0.20", "203.0.113.9", -600),  # days-old routine traffic stays unnamed
        _flow("10.0.0.31", "mega.co.nz", 0.1, host="pc-tky-0001"),  # already named: kept
    ]
    exfiltration._by_tool(items, [_tool("fs01", 0)])
    assert [i["host"] for i in items] == ["fs01", "fs01", None, "pc-tky-0001"]
    assert items[0]["host_basis"] == (
        "rclone (renamed) started on fs01 at 2023-02-03T12:35:22Z, 3 s before; "
        "no log ties 10.0.0.20 to a host"
    )


def test_tools_on_two_hosts_or_too_long_before_name_nobody() -> None:
    both = [_flow("10.0.0.20", "mega.co.nz", 0.5)]
    exfiltration._by_tool(both, [_tool("fs01", 0), _tool("bkup01", 0.2)])
    late = [_flow("10.0.0.20", "mega.co.nz", 45)]  # the tool started 45 minutes earlier
    exfiltration._by_tool(late, [_tool("fs01", 0)])
    assert both[0]["host"] is None and late[0]["host"] is None
