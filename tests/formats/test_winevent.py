from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import orjson
import pytest

from ashiato.formats.base import Source
from ashiato.formats.winevent import (
    WinEvent,
    dataset_for,
    executable_of,
    hex_int,
    integer,
    ip,
    split_user,
    to_row,
)
from ashiato.formats.winevent_rows import WinRows, from_json, json_row


def _source(tz: str = "UTC") -> Source:
    return Source(path=Path("x"), display="x", evidence_id="t", encoding="utf-8", tz=ZoneInfo(tz))


def _security(eid: int, data: dict[str, Any], keywords: str = "0x8020000000000000") -> WinEvent:
    return WinEvent(
        provider="Microsoft-Windows-Security-Auditing",
        event_id=eid,
        channel="Security",
        computer="DC01.corp.example.jp",
        time="2015-09-09T02:40:00.900000Z",
        data=data,
        level=0,
        keywords=keywords,
        process_id=612,
    )


def _ecs(row: dict[str, Any]) -> dict[str, Any]:
    """The row without None values and without the winlog extra object."""
    return {k: v for k, v in row.items() if v is not None and k != "winlog"}


def test_value_helpers() -> None:
    assert ip("::ffff:192.0.2.41") == "192.0.2.41"
    assert ip("::FFFF:192.0.2.41") == "192.0.2.41"
    assert ip("::1") == "::1"
    assert ip("fe80::1") == "fe80::1"
    assert ip("-") is None
    assert ip("") is None
    assert ip(None) is None
    assert integer("0x2bc") == 700
    assert integer("4460") == 4460
    assert integer(3) == 3
    assert integer(True) is None
    assert integer("-") is None
    assert integer("0xzz") is None
    assert hex_int("0x120089") == 0x120089
    assert hex_int("%%1539\r\n\t\t\t\t") is None
    assert split_user("CORP\\tanaka") == ("tanaka", "CORP")
    assert split_user("NT AUTHORITY\\SYSTEM") == ("SYSTEM", "NT AUTHORITY")
    assert split_user("tanaka") == ("tanaka", None)
    assert split_user(None) == (None, None)


def test_dataset_per_channel() -> None:
    assert dataset_for("Security") == "windows.security"
    assert dataset_for("System") == "windows.system"
    assert dataset_for("Microsoft-Windows-Sysmon/Operational") == "windows.sysmon"
    assert dataset_for("Microsoft-Windows-PowerShell/Operational") == "windows.powershell"
    assert dataset_for("Windows PowerShell") == "windows.powershell"
    assert dataset_for("Microsoft-Windows-Windows Defender/Operational") == "windows.defender"
    assert (
        dataset_for("Microsoft-Windows-TerminalServices-LocalSessionManager/Operational")
        == "windows.microsoft_windows_terminalservices_localsessionmanager_operational"
    )
    assert dataset_for("Application") == "windows.application"
    assert dataset_for(None) is None


def test_executable_of_command_lines() -> None:
    assert executable_of('"C:\\Program Files\\x y\\a.exe" -k') == "C:\\Program Files\\x y\\a.exe"
    assert (
        executable_of("C:\\Users\\Public\\svchost32.exe -s") == "C:\\Users\\Public\\svchost32.exe"
    )
    assert executable_of("%COMSPEC% /b /c start x") == "%COMSPEC%"
    assert executable_of("\\\\127.0.0.1\\ADMIN$\\a1b2.exe") == "\\\\127.0.0.1\\ADMIN$\\a1b2.exe"


def test_kerberos_service_ticket() -> None:
    row = to_row(
        _security(
            4769,
            {
                "TargetUserName": "tanaka@CORP.EXAMPLE.JP",
                "TargetDomainName": "CORP.EXAMPLE.JP",
                "ServiceName": "FS01$",
                "IpAddress": "::ffff:192.0.2.41",
                "IpPort": "51301",
                "Status": "0x0",
            },
        )
    )
    assert _ecs(row) == {
        "@timestamp": "2015-09-09T02:40:00.900000Z",
        "event.code": "4769",
        "event.provider": "Microsoft-Windows-Security-Auditing",
        "event.dataset": "windows.security",
        "event.severity": 0,
        "host.hostname": "DC01.corp.example.jp",
        "event.action": "kerberos-service-ticket-request",
        "event.category": "authentication",
        "event.outcome": "success",
        "user.name": "tanaka",
        "user.domain": "CORP.EXAMPLE.JP",
        "source.ip": "192.0.2.41",
        "source.port": 51301,
    }
    assert row["winlog"]["channel"] == "Security"
    assert row["winlog"]["process_id"] == 612
    assert row["winlog"]["event_data"]["ServiceName"] == "FS01$"


def test_logon_failure_outcome_and_null_sid() -> None:
    row = to_row(
        _security(
            4625,
            {
                "TargetUserSid": "S-1-0-0",
                "TargetUserName": "administrator",
                "TargetDomainName": "CORP",
                "LogonType": "3",
                "WorkstationName": "-",
                "IpAddress": "-",
                "IpPort": "-",
                "ProcessId": "0x0",
                "ProcessName": "-",
            },
            keywords="0x8010000000000000",
        )
    )
    assert row["event.outcome"] == "failure"
    assert row["user.name"] == "administrator"
    assert row["user.id"] is None  # the NULL SID says nothing
    assert row["source.ip"] is None
    assert row["source.port"] is None
    assert row.get("process.pid") is None  # ProcessId 0x0 with no name: no process
    assert row["winlog.logon.type"] == 3


def test_object_access_only_maps_files() -> None:
    base = {
        "SubjectUserName": "tanaka",
        "SubjectDomainName": "CORP",
        "SubjectLogonId": "0x3a7f12",
        "AccessMask": "0x10",
        "ProcessId": "0x2fcc",
        "ProcessName": "C:\\x.exe",
    }
    key = to_row(_security(4663, base | {"ObjectType": "Key", "ObjectName": "\\REGISTRY\\X"}))
    assert key.get("file.path") is None
    assert key["event.category"] is None
    assert key["process.pid"] == 0x2FCC
    assert key["file.access_mask"] == 0x10
    f = to_row(_security(4663, base | {"ObjectType": "File", "ObjectName": "D:\\share\\a.txt"}))
    assert f["file.path"] == "D:\\share\\a.txt"
    assert f["event.category"] == "file"


def test_wfp_connection() -> None:
    row = to_row(
        _security(
            5156,
            {
                "ProcessID": 812,
                "Application": "\\device\\harddiskvolume1\\windows\\system32\\svchost.exe",
                "SourceAddress": "192.0.2.41",
                "SourcePort": "49822",
                "DestAddress": "203.0.113.80",
                "DestPort": "443",
                "Protocol": 6,
            },
        )
    )
    assert row["network.transport"] == "tcp"
    assert row["destination.ip"] == "203.0.113.80"
    assert row["destination.port"] == 443
    assert row["process.pid"] == 812
    assert row["process.name"] == "svchost.exe"


def test_unmapped_event_keeps_everything_and_uses_security_userid() -> None:
    ev = WinEvent(
        provider="Microsoft-Windows-TerminalServices-RemoteConnectionManager",
        event_id=1149,
        channel="Microsoft-Windows-TerminalServices-RemoteConnectionManager/Operational",
        computer="PC-TKY-0341",
        time="2015-09-09T02:40:00Z",
        data={"Param1": "tanaka", "Param2": "CORP", "Param3": "192.0.2.41"},
        user_data=True,
        level=4,
        user_id="S-1-5-20",
    )
    row = to_row(ev)
    assert row.get("event.action") is None
    assert row["user.id"] == "S-1-5-20"
    assert row["winlog"] == {
        "channel": "Microsoft-Windows-TerminalServices-RemoteConnectionManager/Operational",
        "user_sid": "S-1-5-20",
        "user_data": {"Param1": "tanaka", "Param2": "CORP", "Param3": "192.0.2.41"},
    }


def test_sysmon_does_not_take_the_service_sid_as_user() -> None:
    ev = WinEvent(
        provider="Microsoft-Windows-Sysmon",
        event_id=11,
        channel="Microsoft-Windows-Sysmon/Operational",
        computer="PC",
        time="2015-09-09T02:40:00Z",
        data={"UtcTime": "2015-09-09 02:39:59.5", "TargetFilename": "C:\\a.txt", "ProcessId": 4},
        user_id="S-1-5-18",
    )
    row = to_row(ev)
    assert row.get("user.id") is None
    assert row["@timestamp"] == "2015-09-09T02:39:59.5Z"  # Sysmon's own UtcTime
    assert row["file.path"] == "C:\\a.txt"


def test_defender_paths() -> None:
    ev = WinEvent(
        provider="Microsoft-Windows-Windows Defender",
        event_id=1117,
        channel="Microsoft-Windows-Windows Defender/Operational",
        computer="PC",
        time="2015-09-09T02:40:00Z",
        data={
            "Threat Name": "Ransom:Win32/Crowti.A",
            "Path": "containerfile:_C:\\a.zip; file:_C:\\a.zip->b.exe",
            "Process Name": "Unknown",
            "Detection User": "CORP\\tanaka",
        },
    )
    row = to_row(ev)
    assert row["file.path"] == "C:\\a.zip"
    assert row.get("process.executable") is None
    assert row["rule.name"] == "Ransom:Win32/Crowti.A"
    assert row["event.category"] == "malware"


def test_from_json_spellings() -> None:
    xmltodict = {
        "@xmlns": "http://schemas.microsoft.com/win/2004/08/events/event",
        "System": {
            "Provider": {"@Name": "Microsoft-Windows-Security-Auditing"},
            "EventID": {"@Qualifiers": "", "#text": "4634"},
            "Level": "0",
            "TimeCreated": {"@SystemTime": "2015-09-09T03:00:00.1234567Z"},
            "EventRecordID": "42",
            "Execution": {"@ProcessID": "612"},
            "Security": {"@UserID": "S-1-5-18"},
            "Channel": "Security",
            "Computer": "FS01",
        },
        "EventData": {
            "Data": [
                {"@Name": "TargetUserName", "#text": "tanaka"},
                {"@Name": "TargetLogonId", "#text": "0x3a7f12"},
                {"@Name": "LogonType", "#text": "3"},
                {"@Name": "Empty"},
            ]
        },
    }
    ev = from_json(xmltodict)
    assert (ev.provider, ev.event_id, ev.record_id, ev.process_id, ev.user_id, ev.level) == (
        "Microsoft-Windows-Security-Auditing",
        4634,
        42,
        612,
        "S-1-5-18",
        0,
    )
    assert ev.data == {
        "TargetUserName": "tanaka",
        "TargetLogonId": "0x3a7f12",
        "LogonType": "3",
        "Empty": None,
    }
    separate = {
        "System": {
            "Provider": None,
            "Provider_attributes": {"Name": "Service Control Manager"},
            "EventID": 7045,
            "TimeCreated": None,
            "TimeCreated_attributes": {"SystemTime": "2015-09-09T03:00:00Z"},
        },
        "EventData": {"Data": {"#text": ["a", "b"]}},
    }
    ev = from_json(separate)
    assert ev.provider == "Service Control Manager"
    assert ev.data == {"Data": ["a", "b"]}
    with pytest.raises(ValueError, match="TimeCreated"):
        from_json({"System": {"EventID": 1}})
    with pytest.raises(ValueError, match="bad time"):
        json_row({"System": {"TimeCreated": {"#attributes": {"SystemTime": "yesterday"}}}})


def test_winrows_batches_times_and_extra() -> None:
    rows = WinRows(_source("Asia/Tokyo"), size=4, chunk=2)
    out = []
    stamps: list[Any] = [
        "2015-09-09T02:52:14.1234567Z",  # 100 ns digits: normalised
        datetime(2015, 9, 9, 11, 52, 14),  # naive: the source's zone (JST)
        datetime(2015, 9, 9, 2, 52, 14, tzinfo=UTC),
        "2015-09-09T11:52:14+09:00",
        "2015-09-09T02:52:14Z",
    ]
    for i, stamp in enumerate(stamps):
        batch = rows.add(i + 1, {"@timestamp": stamp, "event.code": "1", "workstation": "PC"})
        if batch is not None:
            out.append(batch)
    last = rows.flush()
    assert last is not None
    out.append(last)
    assert [b.num_rows for b in out] == [4, 1]
    times = [t for b in out for t in b.column("@timestamp").to_pylist()]
    assert times[0] == datetime(2015, 9, 9, 2, 52, 14, 123456, tzinfo=UTC)
    assert set(times[1:]) == {datetime(2015, 9, 9, 2, 52, 14, tzinfo=UTC)}
    assert orjson.loads(out[0].column("extra")[0].as_py()) == {"workstation": "PC"}
    assert out[1].column("record").to_pylist() == [5]
    assert rows.flush() is None


def test_extra_with_huge_integers_still_serialises() -> None:
    rows = WinRows(_source())
    rows.add(1, {"@timestamp": "2015-09-09T02:52:14Z", "winlog": {"event_data": {"X": 2**70}}})
    batch = rows.flush()
    assert batch is not None
    assert orjson.loads(batch.column("extra")[0].as_py()) == {
        "winlog": {"event_data": {"X": 2**70}}
    }


# -- remote access and backup servers (issue 16) -------------------------------------------


def _server_event(
    provider: str, channel: str, eid: int, data: dict[str, Any], **kw: Any
) -> WinEvent:
    computer = kw.pop("computer", "RDG01.corp.example.jp")
    return WinEvent(
        provider=provider, event_id=eid, channel=channel, computer=computer,
        time="2024-02-03T01:00:00.000000Z", data=data, level=4, **kw,
    )  # fmt: skip


_RDG = ("Microsoft-Windows-TerminalServices-Gateway",
        "Microsoft-Windows-TerminalServices-Gateway/Operational")  # fmt: skip


def test_rd_gateway_login_session_and_bytes() -> None:
    info = {
        "Username": "CORP\\tanaka", "IpAddress": "185.220.101.5", "AuthType": "NTLM",
        "Resource": "fs01.corp.example.jp", "ConnectionProtocol": "HTTP", "ErrorCode": 0,
    }  # fmt: skip
    login = to_row(_server_event(*_RDG, 200, info, user_data=True))
    assert (login["event.action"], login["event.category"], login["event.outcome"]) == (
        "vpn-login", "authentication", "success",
    )  # fmt: skip
    assert (login["user.name"], login["user.domain"], login["source.ip"]) == (
        "tanaka", "CORP", "185.220.101.5",
    )  # fmt: skip
    assert (login["observer.type"], login["observer.vendor"], login["observer.name"]) == (
        "vpn", "microsoft", "RDG01.corp.example.jp",
    )  # fmt: skip
    denied = to_row(_server_event(*_RDG, 201, info | {"ErrorCode": 23003}, user_data=True))
    assert (denied["event.action"], denied["event.outcome"]) == ("vpn-login", "failure")
    start = to_row(_server_event(*_RDG, 302, info, user_data=True))
    assert (start["event.action"], start["destination.domain"]) == (
        "vpn-session-start", "fs01.corp.example.jp",
    )  # fmt: skip
    end = to_row(_server_event(*_RDG, 303, info | {"BytesReceived": 52428800,
                                           "BytesTransfered": 1048576,
                                           "SessionDuration": 5400}, user_data=True))  # fmt: skip
    assert end["event.action"] == "vpn-session-end"
    # the client transferred (sent) BytesTransfered and received BytesReceived
    assert (end["source.bytes"], end["destination.bytes"]) == (1048576, 52428800)
    assert end["event.duration"] == 5400 * 1_000_000_000
    failed = to_row(_server_event(*_RDG, 304, info | {"ErrorCode": 1326}, user_data=True))
    assert (failed["event.action"], failed["event.outcome"]) == ("vpn-session-start", "failure")


def test_nps_radius_decisions() -> None:
    data = {
        "SubjectUserSid": "S-1-5-21-1-2-3-1105", "SubjectUserName": "tanaka",
        "SubjectDomainName": "CORP", "FullyQualifiedSubjectUserName": "CORP\\tanaka",
        "CallingStationID": "185.220.101.5", "CalledStationID": "203.0.113.1",
        "NASIPv4Address": "10.0.0.1", "ClientName": "FGT-EDGE", "ClientIPAddress": "10.0.0.1",
        "AuthenticationType": "MS-CHAPv2", "Reason": "Access granted.",
    }  # fmt: skip
    granted = to_row(_security(6272, data))
    assert (granted["event.action"], granted["event.outcome"]) == ("vpn-login", "success")
    assert (granted["user.name"], granted["user.domain"], granted["source.ip"]) == (
        "tanaka", "CORP", "185.220.101.5",
    )  # fmt: skip
    assert (granted["observer.type"], granted["observer.name"]) == ("vpn", "FGT-EDGE")
    assert granted["nps.client_ip"] == "10.0.0.1"
    denied = to_row(_security(6273, data | {
        "SubjectUserName": "-", "SubjectDomainName": "-",
        "FullyQualifiedSubjectUserName": "CORP\\admin", "CallingStationID": "00-11-22-33-44-55",
        "Reason": "Authentication failed due to a user credentials mismatch.",
    }, keywords="0x8010000000000000"))  # fmt: skip
    assert (denied["event.outcome"], denied["user.name"], denied["user.domain"]) == (
        "failure", "admin", "CORP",
    )  # fmt: skip
    assert "source.ip" not in denied or denied["source.ip"] is None
    assert denied["calling_station_id"] == "00-11-22-33-44-55"
    assert to_row(_security(6274, data))["event.outcome"] == "failure"


def test_veeam_deletions() -> None:
    def veeam(eid: int, data: dict[str, Any]) -> dict[str, Any]:
        return to_row(
            _server_event(
                "Veeam MP", "Veeam Backup", eid, data, computer="VBRSRV01.corp.example.jp"
            )
        )

    job = veeam(23090, {"JobName": "FS01 daily", "UserName": "CORP\\svc_backup",
                        "VbrHostName": "vbrsrv01.corp.example.jp",
                        "Description": "Backup job 'FS01 daily' has been deleted."})  # fmt: skip
    assert (job["event.action"], job["event.dataset"]) == ("backup-job-deleted", "veeam.backup")
    assert (job["user.name"], job["user.domain"], job["veeam.job"]) == (
        "svc_backup", "CORP", "FS01 daily",
    )  # fmt: skip
    assert (job["observer.type"], job["observer.vendor"], job["host.name"]) == (
        "backup", "veeam", "vbrsrv01",
    )  # fmt: skip
    assert job["message"] == "Backup job 'FS01 daily' has been deleted."
    point = veeam(10050, {"VmName": "FS01", "UserName": "CORP\\svc_backup"})
    assert (point["event.action"], point["veeam.vm"]) == ("restore-point-deleted", "FS01")
    for eid in (28200, 30200, 32200):
        repo = veeam(eid, {"RepositoryName": "Repo01"})
        assert (repo["event.action"], repo["veeam.repository"]) == ("repository-deleted", "Repo01")


def test_windows_server_backup_catalog_deleted() -> None:
    row = to_row(_server_event("Microsoft-Windows-Backup", "Application", 524, {},
                        computer="BK01.corp.example.jp"))  # fmt: skip
    assert (row["event.action"], row["event.dataset"]) == (
        "backup-catalog-deleted", "windows.application",
    )  # fmt: skip
    assert (row["observer.type"], row["observer.vendor"], row["host.name"]) == (
        "backup", "microsoft", "bk01",
    )  # fmt: skip
    other = to_row(_server_event("Microsoft-Windows-Backup", "Application", 4, {}))
    assert "event.action" not in other


def test_rd_gateway_userdata_from_an_evtx_json_record() -> None:
    # the shape evtx_dump writes for a 303: UserData holds one EventInfo element
    record = {
        "Event": {
            "System": {
                "Provider": {"#attributes": {"Name": _RDG[0]}},
                "EventID": 303,
                "Level": 4,
                "TimeCreated": {"#attributes": {"SystemTime": "2024-02-03T04:41:50.123456Z"}},
                "EventRecordID": 90,
                "Channel": _RDG[1],
                "Computer": "RDG01.corp.example.jp",
            },
            "UserData": {
                "EventInfo": {
                    "#attributes": {"xmlns": "aag"},
                    "Username": "CORP\\tanaka",
                    "IpAddress": "185.220.101.5",
                    "AuthType": "NTLM",
                    "Resource": "fs01.corp.example.jp",
                    "BytesReceived": 52428800,
                    "BytesTransfered": 1048576,
                    "SessionDuration": 5400,
                    "ConnectionProtocol": "HTTP",
                    "ErrorCode": 0,
                }
            },
        }
    }
    row = json_row(record["Event"])
    assert (row["event.action"], row["user.name"], row["source.ip"]) == (
        "vpn-session-end", "tanaka", "185.220.101.5",
    )  # fmt: skip
    assert (row["source.bytes"], row["destination.bytes"]) == (1048576, 52428800)
    assert row["event.dataset"] == "windows.microsoft_windows_terminalservices_gateway_operational"
def _event(provider: str, eid: int, channel: str, data: dict[str, Any]) -> dict[str, Any]:
    return to_row(WinEvent(provider=provider, event_id=eid, channel=channel, computer="PC",
                           time="2015-09-09T02:40:00Z", data=data))  # fmt: skip


SYSMON = ("Microsoft-Windows-Sysmon", "Microsoft-Windows-Sysmon/Operational")


def test_sysmon_access_pipes_and_registry() -> None:
    dump = _event(*SYSMON[:1], 10, SYSMON[1], {
        "UtcTime": "2015-09-09 02:39:58.1", "SourceImage": "C:\\Users\\tanaka\\a.exe",
        "SourceProcessId": "4120", "TargetImage": "C:\\Windows\\system32\\lsass.exe",
        "TargetProcessId": "612", "GrantedAccess": "0x1010",
        "SourceUser": "CORP\\tanaka"})  # fmt: skip
    assert (dump["process.executable"], dump["process.pid"], dump["user.name"]) == (
        "C:\\Users\\tanaka\\a.exe", 4120, "tanaka")  # fmt: skip
    assert dump["target.process.executable"] == "C:\\Windows\\system32\\lsass.exe"
    assert dump["@timestamp"] == "2015-09-09T02:39:58.1Z"
    pipe = _event(SYSMON[0], 17, SYSMON[1], {"PipeName": "\\PSEXESVC", "Image": "C:\\p.exe"})
    assert (pipe["file.path"], pipe["event.action"]) == ("\\PSEXESVC", "pipe-created")
    run_key = _event(SYSMON[0], 13, SYSMON[1], {
        "EventType": "SetValue", "Image": "C:\\Users\\tanaka\\a.exe", "User": "CORP\\tanaka",
        "TargetObject": "HKU\\S-1-5-21-1\\Software\\Microsoft\\Windows\\CurrentVersion\\Run\\x",
        "Details": "C:\\Users\\tanaka\\a.exe"})  # fmt: skip
    assert run_key["registry.path"].endswith("CurrentVersion\\Run\\x")
    assert run_key["registry.data"] == "C:\\Users\\tanaka\\a.exe"
    assert run_key["user.name"] == "tanaka" and "file.path" not in run_key


def test_rdp_session_reconnect() -> None:
    row = to_row(_security(4778, {"AccountName": "tanaka", "AccountDomain": "CORP",
                                  "LogonID": "0x3a7f12", "SessionName": "RDP-Tcp#3",
                                  "ClientName": "PC-TKY-0341",
                                  "ClientAddress": "10.20.3.41"}))  # fmt: skip
    assert (row["user.name"], row["source.ip"], row["workstation"]) == (
        "tanaka", "10.20.3.41", "PC-TKY-0341")  # fmt: skip
    local = to_row(_security(4779, {"AccountName": "tanaka", "ClientAddress": "LOCAL"}))
    assert local["source.ip"] is None and local["event.action"] == "session-disconnected"


def test_dns_server_analytic_and_defender_spaces() -> None:
    dns = ("Microsoft-Windows-DNSServer", "Microsoft-Windows-DNSServer/Analytical")
    q = _event(dns[0], 256, dns[1], {"Source": "10.20.3.41", "QNAME": "c2.example.net.",
                                     "QTYPE": "1", "InterfaceIP": "10.20.0.5"})  # fmt: skip
    assert (q["source.ip"], q["dns.question.name"]) == ("10.20.3.41", "c2.example.net")
    out = _event(dns[0], 260, dns[1], {"Destination": "8.8.8.8", "QNAME": "c2.example.net."})
    assert out["destination.ip"] == "8.8.8.8" and out["event.action"] == "dns-query-forwarded"
    defender = ("Microsoft-Windows-Windows Defender",
                "Microsoft-Windows-Windows Defender/Operational")  # fmt: skip
    failed = _event(defender[0], 1119, defender[1], {"Threat Name": "Ransom:Win32/Locky",
                                                     "Detection User": "CORP\\tanaka"})  # fmt: skip
    assert (failed["rule.name"], failed["user.name"]) == ("Ransom:Win32/Locky", "tanaka")
    setting = _event(defender[0], 5007, defender[1], {
        "Old Value": "", "New Value": "HKLM\\SOFTWARE\\Microsoft\\Windows Defender\\Exclusions"
                                      "\\Paths\\C:\\Users = 0x0"})  # fmt: skip
    assert setting["registry.path"].endswith("Exclusions\\Paths\\C:\\Users")
    assert setting["registry.data"] == "0x0"
