"""Channels Windows keeps by default that issue 11's rules read: their fields in ECS."""

from __future__ import annotations

import base64
from typing import Any

from ashiato.formats.winevent import WinEvent, to_row


def row(provider: str, channel: str, eid: int, data: dict[str, Any], ud: bool = False) -> Any:
    return to_row(WinEvent(provider, eid, channel, "PC-07", "2024-05-10T01:00:00Z", data, ud))


def test_remote_desktop_sessions_and_client() -> None:
    lsm = "Microsoft-Windows-TerminalServices-LocalSessionManager"
    r = row(lsm, f"{lsm}/Operational", 21,
            {"User": "CORP\\sato", "SessionID": "2", "Address": "10.20.1.7"}, ud=True)  # fmt: skip
    assert (r["event.action"], r["user.name"], r["user.domain"]) == (
        "remote-session-logon",
        "sato",
        "CORP",
    )
    assert r["source.ip"] == "10.20.1.7"
    r = row(lsm, f"{lsm}/Operational", 25, {"User": "CORP\\sato", "Address": "LOCAL"}, ud=True)
    assert r["event.action"] == "remote-session-reconnected" and r.get("source.ip") is None
    client = "Microsoft-Windows-TerminalServices-ClientActiveXCore"
    ch = "Microsoft-Windows-TerminalServices-RDPClient/Operational"
    assert row(client, ch, 1024, {"Value": "fs01.corp.example.jp"})["destination.domain"] == (
        "fs01.corp.example.jp"
    )
    assert row(client, ch, 1102, {"Value": "10.20.0.5"})["destination.ip"] == "10.20.0.5"


def test_task_scheduler_kerberos_backup() -> None:
    ts = "Microsoft-Windows-TaskScheduler"
    r = row(ts, f"{ts}/Operational", 106, {"TaskName": "\\upd", "UserContext": "CORP\\adm"})
    assert (r["event.action"], r["user.name"]) == ("scheduled-task-registered", "adm")
    r = row(ts, f"{ts}/Operational", 200,
            {"TaskName": "\\upd", "ActionName": "C:\\Users\\Public\\u.exe"})  # fmt: skip
    assert r["process.name"] == "u.exe"
    data = {"TargetUserName": "adm", "IpAddress": "::ffff:10.20.1.7", "Status": "0x18"}
    r = row("Microsoft-Windows-Security-Auditing", "Security", 4771, data)
    assert (r["user.name"], r["source.ip"], r["event.outcome"]) == ("adm", "10.20.1.7", "failure")
    assert row("Microsoft-Windows-Backup", "Application", 524, {})["event.action"] == (
        "backup-catalog-deleted"
    )


def test_windows_powershell_host_application_and_decoding() -> None:
    script = "Get-Process"
    enc = base64.b64encode(script.encode("utf-16-le")).decode()
    detail = (f"\tHostName=ConsoleHost\r\n\tHostApplication=powershell.exe -enc {enc}\r\n"
              "\tEngineVersion=5.1\r\n")  # fmt: skip
    r = row("PowerShell", "Windows PowerShell", 800, {"Data": ["Get-Process", "", detail]})
    assert r["process.command_line"] == f"powershell.exe -enc {enc}"
    assert r["process.name"] == "powershell.exe"
    assert r["decoded"] == script  # kept as extra.decoded
    r = row("PowerShell", "Windows PowerShell", 400, {"Data": ["Available", "None", "x=1"]})
    assert r.get("process.command_line") is None


def test_host_application_from_the_rendered_message() -> None:
    # NXLog (OTRF datasets) keeps only the rendered Message of Windows PowerShell events
    msg = (
        "Engine state is changed from None to Available. \r\n\r\nDetails: \r\n"
        "\tNewEngineState=Available\r\n\tHostName=ConsoleHost\r\n"
        "\tHostApplication=powershell -nop -w hidden -c IEX 1\r\n\tEngineVersion=5.1\r\n"
    )
    r = to_row(WinEvent("PowerShell", 400, "Windows PowerShell", "PC-07",
                        "2024-05-10T01:00:00Z", {}, message=msg))  # fmt: skip
    assert r["process.command_line"] == "powershell -nop -w hidden -c IEX 1"
