"""Windows events as ``wevtutil qe /f:xml`` lines (domain.md 3.17), ``evtx_dump -o jsonl``
lines (3.18) and NXLog ``im_msvistalog`` JSON shipped through Logstash (8.4), from one
description of each event.

Emitters give ``{"id", "data" (ordered Data Name -> value), "pid", "tid"}`` and, for
UserData events such as 1102, ``"user_data"``. The System block (provider, task, keywords,
record number, computer) is filled in here, so both exports agree field for field.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from typing import Any
from xml.sax.saxutils import escape, quoteattr

from ashiato.lab.clock import SECOND, iso_utc, jst_tm, win_systemtime
from ashiato.lab.sink import Data, StreamState

NS = "http://schemas.microsoft.com/win/2004/08/events/event"
EVENTLOG_NS = "http://manifests.microsoft.com/win/2004/08/windows/eventlog"
SECURITY = ("Microsoft-Windows-Security-Auditing", "54849625-5478-4994-A5BA-3E3B0328C30D")
EVENTLOG = ("Microsoft-Windows-Eventlog", "fc65ddd8-d6ef-4962-83d5-6e5cfe9ce148")
SYSMON = ("Microsoft-Windows-Sysmon", "5770385F-C22A-43E0-BF4C-06F5698FFBD9")
SYSMON_CHANNEL = "Microsoft-Windows-Sysmon/Operational"
SCM = ("Service Control Manager", "555908d1-a6d7-4695-8e1e-26931d2012f4")
DEFENDER = ("Microsoft-Windows-Windows Defender", "11cd958a-c507-4ef3-b3f2-5fd9dfbd2c78")
DEFENDER_CHANNEL = "Microsoft-Windows-Windows Defender/Operational"
PS_CLASSIC = ("PowerShell", "")  # the "Windows PowerShell" classic log has no provider GUID
PS_CLASSIC_CHANNEL = "Windows PowerShell"
PS = ("Microsoft-Windows-PowerShell", "A0C1853B-5C40-4B15-8766-3CF1C58F985A")
PS_CHANNEL = "Microsoft-Windows-PowerShell/Operational"
LSM = ("Microsoft-Windows-TerminalServices-LocalSessionManager",
       "5D896912-022D-40AA-A3A8-4FA5515C76D7")
LSM_CHANNEL = "Microsoft-Windows-TerminalServices-LocalSessionManager/Operational"
RCM = ("Microsoft-Windows-TerminalServices-RemoteConnectionManager",
       "C76BAA63-AE81-421C-B425-340B4B24157F")
RCM_CHANNEL = "Microsoft-Windows-TerminalServices-RemoteConnectionManager/Operational"
TASKS = ("Microsoft-Windows-TaskScheduler", "DE7B24EA-73C8-4A09-985D-5BDADCFA9017")
TASKS_CHANNEL = "Microsoft-Windows-TaskScheduler/Operational"
BACKUP = ("Microsoft-Windows-Backup", "1db28f2e-8f80-4027-8c5a-a11f7f10f62d")
VEEAM = ("Veeam MP", "")  # Veeam B&R writes its events to its own classic log
VEEAM_CHANNEL = "Veeam Backup"
TERMINAL_NS = "Event_NS"
_AUDIT_OK = "0x8020000000000000"
_CLASSIC = "0x80000000000000"

# event id -> (provider, version, level, task, keywords); per channel because ids overlap.
_META: dict[str, dict[int, tuple[tuple[str, str], int, int, int, str]]] = {
    "Security": {
        4624: (SECURITY, 0, 0, 12544, _AUDIT_OK),
        4625: (SECURITY, 0, 0, 12544, "0x8010000000000000"),
        4648: (SECURITY, 0, 0, 12544, _AUDIT_OK),
        4672: (SECURITY, 0, 0, 12548, _AUDIT_OK),
        4720: (SECURITY, 0, 0, 13824, _AUDIT_OK),
        4728: (SECURITY, 0, 0, 13826, _AUDIT_OK),
        4732: (SECURITY, 0, 0, 13826, _AUDIT_OK),
        4634: (SECURITY, 0, 0, 12545, _AUDIT_OK),
        4647: (SECURITY, 0, 0, 12545, _AUDIT_OK),
        4663: (SECURITY, 0, 0, 12800, _AUDIT_OK),
        4688: (SECURITY, 1, 0, 13312, _AUDIT_OK),
        4768: (SECURITY, 0, 0, 14339, _AUDIT_OK),
        4769: (SECURITY, 0, 0, 14337, _AUDIT_OK),
        4776: (SECURITY, 0, 0, 14336, _AUDIT_OK),
        5140: (SECURITY, 0, 0, 12808, _AUDIT_OK),
        5145: (SECURITY, 0, 0, 12811, _AUDIT_OK),
        1102: (EVENTLOG, 0, 4, 104, "0x4020000000000000"),
    },
    SYSMON_CHANNEL: {
        1: (SYSMON, 5, 4, 1, "0x8000000000000000"),
        3: (SYSMON, 5, 4, 3, "0x8000000000000000"),
        10: (SYSMON, 3, 4, 10, "0x8000000000000000"),
        11: (SYSMON, 2, 4, 11, "0x8000000000000000"),
        13: (SYSMON, 2, 4, 13, "0x8000000000000000"),
        22: (SYSMON, 5, 4, 22, "0x8000000000000000"),
    },
    "System": {
        7045: (SCM, 0, 4, 0, "0x8080000000000000"),
        7036: (SCM, 0, 4, 0, "0x8080000000000000"),
        104: (EVENTLOG, 0, 4, 104, "0x8000000000000000"),
    },
    "Application": {
        524: (BACKUP, 0, 4, 0, "0x8000000000000000"),
    },
    DEFENDER_CHANNEL: {
        1116: (DEFENDER, 0, 3, 0, "0x8000000000000000"),
        1117: (DEFENDER, 0, 4, 0, "0x8000000000000000"),
        5001: (DEFENDER, 0, 3, 0, "0x8000000000000000"),
        5007: (DEFENDER, 0, 4, 0, "0x8000000000000000"),
    },
    PS_CLASSIC_CHANNEL: {
        400: (PS_CLASSIC, 0, 4, 4, _CLASSIC),
        403: (PS_CLASSIC, 0, 4, 4, _CLASSIC),
        600: (PS_CLASSIC, 0, 4, 6, _CLASSIC),
        800: (PS_CLASSIC, 0, 4, 8, _CLASSIC),
    },
    PS_CHANNEL: {
        4104: (PS, 1, 3, 2, "0x0"),  # Warning: logged by default for suspicious blocks
    },
    LSM_CHANNEL: {
        21: (LSM, 0, 4, 0, "0x1000000000000000"),
        22: (LSM, 0, 4, 0, "0x1000000000000000"),
        23: (LSM, 0, 4, 0, "0x1000000000000000"),
        24: (LSM, 0, 4, 0, "0x1000000000000000"),
        25: (LSM, 0, 4, 0, "0x1000000000000000"),
    },
    RCM_CHANNEL: {
        1149: (RCM, 0, 4, 0, "0x4000000001000000"),
    },
    TASKS_CHANNEL: {
        106: (TASKS, 0, 4, 106, "0x8000000000000000"),
    },
    VEEAM_CHANNEL: {
        10010: (VEEAM, 0, 4, 0, _CLASSIC),
        10050: (VEEAM, 0, 3, 0, _CLASSIC),
        23090: (VEEAM, 0, 3, 0, _CLASSIC),
    },
}
# UserData events: the element under <UserData> and its namespace.
_USER_DATA = {EVENTLOG[0]: ("LogFileCleared", EVENTLOG_NS), LSM[0]: ("EventXML", TERMINAL_NS),
              RCM[0]: ("EventXML", TERMINAL_NS)}


def _xml_value(v: Any) -> str:
    if isinstance(v, bool):
        return "true" if v else "false"
    return escape(str(v))


def xml_renderer(channel: str, computer: str) -> Callable[[StreamState, int, Data], str]:
    meta = _META[channel]

    def render(st: StreamState, ts: int, e: Data) -> str:
        (prov, guid), version, level, task, kw = meta[e["id"]]
        security = f'<Security UserID="{e["user"]}"/>' if e.get("user") else "<Security/>"
        provider = (f'<Provider Name="{prov}" Guid="{{{guid}}}"/>' if guid
                    else f'<Provider Name="{prov}"/>')
        event_id = (f"<EventID>{e['id']}</EventID>" if guid
                    else f"<EventID Qualifiers=\"0\">{e['id']}</EventID>")
        head = (
            f'<Event xmlns="{NS}"><System>{provider}'
            f"{event_id}<Version>{version}</Version><Level>{level}</Level>"
            f"<Task>{task}</Task><Opcode>0</Opcode><Keywords>{kw}</Keywords>"
            f'<TimeCreated SystemTime="{win_systemtime(ts)}"/>'
            f"<EventRecordID>{st.next_record()}</EventRecordID><Correlation/>"
            f'<Execution ProcessID="{e.get("pid", 4)}" ThreadID="{e.get("tid", 100)}"/>'
            f"<Channel>{channel}</Channel><Computer>{computer}</Computer>{security}</System>"
        )
        if "user_data" in e:
            root, ns = _USER_DATA[prov]
            ud = "".join(f"<{k}>{_xml_value(v)}</{k}>" for k, v in e["user_data"].items())
            body = f'<UserData><{root} xmlns="{ns}">{ud}</{root}></UserData>'
        elif isinstance(e["data"], list):  # classic events: unnamed <Data> in order
            body = "<EventData>" + "".join(
                f"<Data>{_xml_value(v)}</Data>" for v in e["data"]) + "</EventData>"
        else:
            body = "<EventData>" + "".join(
                f"<Data Name={quoteattr(k)}>{_xml_value(v)}</Data>" for k, v in e["data"].items()
            ) + "</EventData>"
        return head + body + "</Event>"

    return render


def jsonl_renderer(channel: str, computer: str) -> Callable[[StreamState, int, Data], str]:
    meta = _META[channel]

    def render(st: StreamState, ts: int, e: Data) -> str:
        (prov, guid), version, level, task, kw = meta[e["id"]]
        system = {
            "Provider": {"#attributes": {"Name": prov, "Guid": guid} if guid else {"Name": prov}},
            "EventID": e["id"] if guid else {"#attributes": {"Qualifiers": 0}, "#text": e["id"]},
            "Version": version, "Level": level, "Task": task, "Opcode": 0,
            "Keywords": kw, "TimeCreated": {"#attributes": {"SystemTime": win_systemtime(ts)}},
            "EventRecordID": st.next_record(), "Correlation": None,
            "Execution": {"#attributes": {"ProcessID": e.get("pid", 4),
                                          "ThreadID": e.get("tid", 100)}},
            "Channel": channel, "Computer": computer,
            "Security": {"#attributes": {"UserID": e["user"]}} if e.get("user") else None,
        }
        event: Data = {"#attributes": {"xmlns": NS}, "System": system}
        if "user_data" in e:
            root, ns = _USER_DATA[prov]
            event["UserData"] = {root: {"#attributes": {"xmlns": ns}, **e["user_data"]}}
        elif isinstance(e["data"], list):  # evtx_dump's shape for unnamed <Data>
            event["EventData"] = {"Data": {"#text": e["data"]}}
        else:
            event["EventData"] = e["data"]
        return json.dumps({"Event": event}, ensure_ascii=False, separators=(",", ":"))

    return render


# NXLog writes the audit keywords as the signed 64-bit number, and names the outcome
_NX_KEYWORDS = {_AUDIT_OK: ("-9214364837600034816", "AUDIT_SUCCESS")}
RECEIPT_LAG_MS = (700, 1_400, 2_100)  # Logstash stamps @timestamp when it receives the line


def nxlog_renderer(channel: str, computer: str,
                   collector: str) -> Callable[[StreamState, int, Data], str]:  # fmt: skip
    """NXLog JSON: ``EventTime`` is the machine's local (JST) wall clock without an offset;
    Logstash adds ``@timestamp`` (UTC, when it received the line, a second or two later)
    and ``host`` (the collector). Event data sit flat beside the System fields."""
    meta = _META[channel]

    def render(st: StreamState, ts: int, e: Data) -> str:
        (prov, guid), version, _level, task, kw = meta[e["id"]]
        record = st.next_record()
        local, _ = jst_tm(ts)
        received, _ = jst_tm(ts + SECOND)
        keywords, kind = _NX_KEYWORDS.get(kw, (str(int(kw, 16) - (1 << 64)), "INFO"))
        obj: Data = {
            "EventTime": time.strftime("%Y-%m-%d %H:%M:%S", local),
            "Hostname": computer, "Keywords": keywords, "EventType": kind,
            "SeverityValue": 2, "Severity": "INFO", "EventID": e["id"], "SourceName": prov,
            "ProviderGuid": "{" + guid + "}", "Version": version, "Task": task,
            "OpcodeValue": 0, "RecordNumber": record, "ExecutionProcessID": e.get("pid", 4),
            "ExecutionThreadID": e.get("tid", 100), "Channel": channel,
        }
        if e.get("user"):
            obj["UserID"] = e["user"]
        obj.update(e.get("user_data") or e["data"])
        obj.update({
            "EventReceivedTime": time.strftime("%Y-%m-%d %H:%M:%S", received),
            "SourceModuleName": "eventlog", "SourceModuleType": "im_msvistalog",
            "@version": "1", "@timestamp": iso_utc(ts + RECEIPT_LAG_MS[record % 3]),
            "host": collector, "port": 60234,
        })  # fmt: skip
        return json.dumps(obj, ensure_ascii=False, separators=(",", ":"))

    return render
