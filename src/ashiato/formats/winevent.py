"""One mapping from a Windows event to an event-schema row, shared by every Windows format.

EVTX, ``evtx_dump`` JSON lines, ``wevtutil`` XML and Event Viewer CSV all end up as a
:class:`WinEvent` (the System fields plus a flat name -> value dict of EventData or
UserData) and go through :func:`to_row`, so a 4624 means the same thing whichever way it
was exported.

What lands where:

- ``@timestamp`` = ``TimeCreated/@SystemTime`` (UTC); Sysmon events use their own
  ``UtcTime`` (when the event happened, not when it was logged).
- ``event.code`` = EventID, ``event.provider`` = Provider Name, ``event.severity`` = Level,
  ``host.hostname`` = Computer, ``event.dataset`` = one per channel (:func:`dataset_for`).
- ``extra`` keeps everything else: ``winlog.channel``, ``winlog.process.pid`` (Execution
  ProcessID, the process that wrote the event), ``winlog.user.identifier`` (Security
  UserID) and **all** the event's data, mapped or not, as one nested object under
  ``winlog.event_data`` (or ``winlog.user_data`` for UserData events such as 1102/104).
  A few derived values get their own extra key: ``workstation`` (the logon's source
  WorkstationName), ``file.local_path`` (5145 share path joined with the relative name).
- The key events of domain.md section 2 fill ECS columns (user, logon id/type, source
  address, process, file, share, access mask, DNS, threat name...) plus
  ``event.action``/``event.category``/``event.outcome``.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

Row = dict[str, Any]

_AUDIT_FAILURE = 0x10000000000000
_AUDIT_SUCCESS = 0x20000000000000
_UNSET = ("", "-")


@dataclass(slots=True)
class WinEvent:
    """The parts of one Windows event every exporter can give us."""

    provider: str | None
    event_id: int | None
    channel: str | None
    computer: str | None
    time: datetime | None
    record_id: int | None = None
    level: int | None = None
    keywords: str | None = None
    process_id: int | None = None
    user_id: str | None = None
    data: dict[str, Any] = field(default_factory=dict)
    user_data: bool = False
    message: str | None = None


# -- small value helpers (values come as str, int, bool or None) -----------------------


def text(d: Mapping[str, Any], key: str) -> str | None:
    """The value as a string; Windows' '-' placeholder and blanks become None."""
    v = d.get(key)
    if v is None:
        return None
    if not isinstance(v, str):
        return str(v)
    v = v.strip()
    return None if v in _UNSET else v


def integer(v: Any) -> int | None:
    """Decimal or ``0x`` hex to int (4688 PIDs are hex, Sysmon's decimal)."""
    if v is None or isinstance(v, bool):
        return None
    if isinstance(v, int):
        return v
    s = str(v).strip()
    try:
        if s[:2] in ("0x", "0X"):
            return int(s, 16)
        return int(s)
    except ValueError:
        return None


def hex_int(v: Any) -> int | None:
    """An access mask: always hex, with or without ``0x``."""
    if isinstance(v, int) and not isinstance(v, bool):
        return v
    if not isinstance(v, str):
        return None
    s = v.strip()
    try:
        return int(s, 16)
    except ValueError:
        return None


def ip(v: Any) -> str | None:
    """IpAddress as logged, with IPv4-mapped IPv6 (``::ffff:a.b.c.d``) unwrapped."""
    if not isinstance(v, str):
        return None
    s = v.strip()
    if s in _UNSET:
        return None
    if s[:7].lower() == "::ffff:" and "." in s:
        return s[7:]
    return s


def split_user(v: str | None) -> tuple[str | None, str | None]:
    """``DOMAIN\\user`` -> (user, domain)."""
    if not v:
        return None, None
    dom, sep, name = v.rpartition("\\")
    return (name or None, dom or None) if sep else (v, None)


def _basename(path: str | None) -> str | None:
    return path.rsplit("\\", 1)[-1] if path else None


_DATASETS = {
    "security": "windows.security",
    "system": "windows.system",
    "application": "windows.application",
    "microsoft-windows-sysmon/operational": "windows.sysmon",
    "microsoft-windows-powershell/operational": "windows.powershell",
    "windows powershell": "windows.powershell",
    "microsoft-windows-windows defender/operational": "windows.defender",
}
_NON_ALNUM = re.compile(r"[^a-z0-9]+")


def dataset_for(channel: str | None) -> str | None:
    """``Security`` -> ``windows.security``; other channels ``windows.<channel_slug>``."""
    if not channel:
        return None
    key = channel.lower()
    ds = _DATASETS.get(key)
    if ds is None:
        slug = _NON_ALNUM.sub("_", key).strip("_")
        ds = _DATASETS[key] = f"windows.{slug}" if slug else "windows.unknown"
    return ds


# Provider names as EVTX writes them and as Event Viewer's Source column shows them.
_KINDS = {
    "microsoft-windows-security-auditing": "security",
    "microsoft-windows-eventlog": "eventlog",
    "eventlog": "eventlog",
    "service control manager": "scm",
    "microsoft-windows-sysmon": "sysmon",
    "sysmon": "sysmon",
    "microsoft-windows-windows defender": "defender",
    "windows defender": "defender",
    "microsoft-windows-powershell": "powershell",
    "powershell": "powershell",
}


def provider_kind(provider: str | None) -> str:
    if not provider:
        return ""
    return _KINDS.get(provider.lower(), "")


# -- per-event handlers ------------------------------------------------------------------


def _subject(d: Mapping[str, Any], row: Row) -> None:
    row["user.name"] = text(d, "SubjectUserName")
    row["user.domain"] = text(d, "SubjectDomainName")
    row["user.id"] = text(d, "SubjectUserSid")
    row["winlog.logon.id"] = text(d, "SubjectLogonId")


def _target(d: Mapping[str, Any], row: Row) -> None:
    row["user.name"] = text(d, "TargetUserName")
    row["user.domain"] = text(d, "TargetDomainName")
    row["user.id"] = text(d, "TargetUserSid")
    row["winlog.logon.id"] = text(d, "TargetLogonId")
    row["winlog.logon.type"] = integer(d.get("LogonType"))


def _logon(d: Mapping[str, Any], row: Row) -> None:
    _target(d, row)
    row["source.ip"] = ip(d.get("IpAddress"))
    row["source.port"] = integer(text(d, "IpPort"))
    row["workstation"] = text(d, "WorkstationName")
    _process(d, row, "ProcessName", "ProcessId")


def _process(d: Mapping[str, Any], row: Row, exe_key: str, pid_key: str) -> None:
    exe = text(d, exe_key)
    row["process.executable"] = exe
    row["process.name"] = _basename(exe)
    row["process.pid"] = integer(text(d, pid_key))


def _kerberos(d: Mapping[str, Any], row: Row) -> None:
    name, _, realm = (text(d, "TargetUserName") or "").partition("@")
    row["user.name"] = name or None
    row["user.domain"] = text(d, "TargetDomainName") or realm or None
    row["user.id"] = text(d, "TargetSid")
    row["source.ip"] = ip(d.get("IpAddress"))
    row["source.port"] = integer(text(d, "IpPort"))
    status = text(d, "Status")
    if status is not None:
        row["event.outcome"] = "success" if integer(status) == 0 else "failure"


def _ntlm(d: Mapping[str, Any], row: Row) -> None:
    row["user.name"] = text(d, "TargetUserName")
    row["workstation"] = text(d, "Workstation")
    status = text(d, "Status")
    if status is not None:
        row["event.outcome"] = "success" if integer(status) == 0 else "failure"


def _explicit(d: Mapping[str, Any], row: Row) -> None:
    _subject(d, row)
    row["destination.domain"] = text(d, "TargetServerName")
    row["destination.ip"] = ip(d.get("IpAddress"))
    row["destination.port"] = integer(text(d, "IpPort"))
    _process(d, row, "ProcessName", "ProcessId")


def _object(d: Mapping[str, Any], row: Row) -> None:
    _subject(d, row)
    kind = text(d, "ObjectType")
    name = text(d, "ObjectName")
    if name and (kind == "File" or (kind is None and not name.upper().startswith("\\REGISTRY"))):
        row["file.path"] = name
        row["event.category"] = "file"
    row["file.access_mask"] = hex_int(d.get("AccessMask"))
    _process(d, row, "ProcessName", "ProcessId")


def _share(d: Mapping[str, Any], row: Row) -> None:
    _subject(d, row)
    row["file.share"] = text(d, "ShareName")
    rel = text(d, "RelativeTargetName")
    row["file.path"] = rel
    local = text(d, "ShareLocalPath")
    if local and local.startswith("\\??\\"):
        local = local[4:]
    if local and rel:
        row["file.local_path"] = local.rstrip("\\") + "\\" + rel.lstrip("\\")
    row["file.access_mask"] = hex_int(d.get("AccessMask"))
    row["source.ip"] = ip(d.get("IpAddress"))
    row["source.port"] = integer(text(d, "IpPort"))
    row["network.protocol"] = "smb"


def _proc_4688(d: Mapping[str, Any], row: Row) -> None:
    _subject(d, row)
    _process(d, row, "NewProcessName", "NewProcessId")
    row["process.command_line"] = text(d, "CommandLine")
    row["process.parent.pid"] = integer(text(d, "ProcessId"))
    row["process.parent.executable"] = text(d, "ParentProcessName")


def _proc_4689(d: Mapping[str, Any], row: Row) -> None:
    _subject(d, row)
    _process(d, row, "ProcessName", "ProcessId")


def _service(d: Mapping[str, Any], row: Row) -> None:
    # 7045 ImagePath / 4697 ServiceFileName is a command line as often as a path
    exe = text(d, "ImagePath") or text(d, "ServiceFileName")
    row["process.executable"] = exe
    if "SubjectUserName" in d:
        _subject(d, row)


def _cleared(d: Mapping[str, Any], row: Row) -> None:
    _subject(d, row)


_PROTO = {"6": "tcp", "17": "udp", "1": "icmp", "58": "ipv6-icmp"}


def _wfp(d: Mapping[str, Any], row: Row) -> None:
    row["source.ip"] = ip(d.get("SourceAddress"))
    row["source.port"] = integer(text(d, "SourcePort"))
    row["destination.ip"] = ip(d.get("DestAddress"))
    row["destination.port"] = integer(text(d, "DestPort"))
    row["network.transport"] = _PROTO.get(text(d, "Protocol") or "")
    _process(d, row, "Application", "ProcessID")


def _sysmon_common(d: Mapping[str, Any], row: Row) -> None:
    _process(d, row, "Image", "ProcessId")
    row["user.name"], row["user.domain"] = split_user(text(d, "User"))
    t = text(d, "UtcTime")
    if t:
        try:
            row["@timestamp"] = datetime.fromisoformat(t).replace(tzinfo=UTC)
        except ValueError:
            pass  # keep TimeCreated


def _sysmon_1(d: Mapping[str, Any], row: Row) -> None:
    _sysmon_common(d, row)
    row["process.command_line"] = text(d, "CommandLine")
    row["process.parent.executable"] = text(d, "ParentImage")
    row["process.parent.pid"] = integer(text(d, "ParentProcessId"))
    row["process.hash"] = text(d, "Hashes")
    row["winlog.logon.id"] = text(d, "LogonId")


def _sysmon_3(d: Mapping[str, Any], row: Row) -> None:
    _sysmon_common(d, row)
    row["source.ip"] = ip(d.get("SourceIp"))
    row["source.port"] = integer(d.get("SourcePort"))
    row["destination.ip"] = ip(d.get("DestinationIp"))
    row["destination.port"] = integer(d.get("DestinationPort"))
    row["destination.domain"] = text(d, "DestinationHostname")
    proto = text(d, "Protocol")
    row["network.transport"] = proto.lower() if proto else None


def _sysmon_file(d: Mapping[str, Any], row: Row) -> None:
    _sysmon_common(d, row)
    row["file.path"] = text(d, "TargetFilename")
    row["file.hash"] = text(d, "Hashes") or text(d, "Hash")


def _sysmon_22(d: Mapping[str, Any], row: Row) -> None:
    _sysmon_common(d, row)
    row["dns.question.name"] = text(d, "QueryName")
    row["dns.answers"] = text(d, "QueryResults")
    row["network.protocol"] = "dns"


def _defender_path(v: str | None) -> str | None:
    # "file:_C:\a.exe", "containerfile:_C:\x.zip; file:_C:\x.zip->y.exe", "regkey:_..."
    if not v:
        return None
    for part in v.split(";"):
        kind, sep, rest = part.strip().partition(":_")
        if sep and kind.lower() in ("file", "containerfile") and rest:
            return rest
    return None


def _defender(d: Mapping[str, Any], row: Row) -> None:
    row["rule.name"] = text(d, "Threat Name")
    row["rule.id"] = text(d, "Threat ID")
    row["rule.category"] = text(d, "Category Name")
    row["file.path"] = _defender_path(text(d, "Path"))
    exe = text(d, "Process Name")
    if exe and exe.lower() != "unknown":
        row["process.executable"] = exe
        row["process.name"] = _basename(exe)
    row["user.name"], row["user.domain"] = split_user(text(d, "Detection User"))
    row["observer.type"] = "antivirus"
    row["observer.vendor"] = "Microsoft"
    row["observer.name"] = "Windows Defender"


def _script_block(d: Mapping[str, Any], row: Row) -> None:
    row["file.path"] = text(d, "Path")


Handler = Callable[[Mapping[str, Any], Row], None] | None

# (provider kind, event id) -> (event.action, event.category, handler)
_EVENTS: dict[tuple[str, int], tuple[str, str | None, Handler]] = {
    ("security", 4624): ("logon", "authentication", _logon),
    ("security", 4625): ("logon-failed", "authentication", _logon),
    ("security", 4634): ("logoff", "authentication", _target),
    ("security", 4647): ("logoff", "authentication", _target),
    ("security", 4648): ("explicit-credential-logon", "authentication", _explicit),
    ("security", 4768): ("kerberos-tgt-request", "authentication", _kerberos),
    ("security", 4769): ("kerberos-service-ticket-request", "authentication", _kerberos),
    ("security", 4776): ("credential-validation", "authentication", _ntlm),
    ("security", 4656): ("object-handle-requested", None, _object),
    ("security", 4663): ("object-access", None, _object),
    ("security", 4658): ("object-handle-closed", None, _object),
    ("security", 4660): ("object-deleted", None, _object),
    ("security", 5140): ("share-session-opened", "file", _share),
    ("security", 5145): ("file-share-access", "file", _share),
    ("security", 4688): ("process-created", "process", _proc_4688),
    ("security", 4689): ("process-terminated", "process", _proc_4689),
    ("security", 4697): ("service-installed", "configuration", _service),
    ("security", 4698): ("scheduled-task-created", "configuration", _subject),
    ("security", 4699): ("scheduled-task-deleted", "configuration", _subject),
    ("security", 4702): ("scheduled-task-updated", "configuration", _subject),
    ("security", 4719): ("audit-policy-changed", "configuration", _subject),
    ("security", 4616): ("system-time-changed", "configuration", _subject),
    ("security", 4720): ("user-created", "iam", _subject),
    ("security", 4726): ("user-deleted", "iam", _subject),
    ("security", 4728): ("group-member-added", "iam", _subject),
    ("security", 4732): ("group-member-added", "iam", _subject),
    ("security", 4756): ("group-member-added", "iam", _subject),
    ("security", 5156): ("network-connection-allowed", "network", _wfp),
    ("security", 5157): ("network-connection-blocked", "network", _wfp),
    ("eventlog", 1102): ("log-cleared", "configuration", _cleared),
    ("eventlog", 104): ("log-cleared", "configuration", _cleared),
    ("eventlog", 1100): ("eventlog-service-shutdown", "configuration", None),
    ("eventlog", 6005): ("eventlog-service-started", "host", None),
    ("eventlog", 6006): ("eventlog-service-stopped", "host", None),
    ("eventlog", 6008): ("unexpected-shutdown", "host", None),
    ("scm", 7045): ("service-installed", "configuration", _service),
    ("sysmon", 1): ("process-created", "process", _sysmon_1),
    ("sysmon", 3): ("network-connection", "network", _sysmon_3),
    ("sysmon", 5): ("process-terminated", "process", _sysmon_common),
    ("sysmon", 11): ("file-created", "file", _sysmon_file),
    ("sysmon", 15): ("file-stream-created", "file", _sysmon_file),
    ("sysmon", 22): ("dns-query", "network", _sysmon_22),
    ("sysmon", 23): ("file-deleted", "file", _sysmon_file),
    ("sysmon", 26): ("file-deleted", "file", _sysmon_file),
    ("defender", 1116): ("malware-detected", "malware", _defender),
    ("defender", 1117): ("malware-action-taken", "malware", _defender),
    ("powershell", 4104): ("script-block-logged", "process", _script_block),
}

_KEYWORD_OUTCOME: dict[str, str | None] = {}


def _outcome(keywords: str) -> str | None:
    out = _KEYWORD_OUTCOME.get(keywords, "")
    if out != "":
        return out
    bits = hex_int(keywords) or 0
    out = "failure" if bits & _AUDIT_FAILURE else "success" if bits & _AUDIT_SUCCESS else None
    _KEYWORD_OUTCOME[keywords] = out
    return out


def to_row(ev: WinEvent) -> Row:
    """The event-schema row (plus extra keys) for one Windows event."""
    eid = ev.event_id
    row: Row = {
        "@timestamp": ev.time,
        "event.code": None if eid is None else str(eid),
        "event.provider": ev.provider,
        "event.severity": ev.level,
        "event.dataset": dataset_for(ev.channel),
        "host.hostname": ev.computer,
        "message": ev.message,
        "winlog.channel": ev.channel,
        "winlog.process.pid": ev.process_id,
        "winlog.user.identifier": ev.user_id,
    }
    data = ev.data
    if data:
        row["winlog.user_data" if ev.user_data else "winlog.event_data"] = data
    if eid is not None:
        spec = _EVENTS.get((provider_kind(ev.provider), eid))
        if spec is not None:
            action, category, handler = spec
            row["event.action"] = action
            row["event.category"] = category
            if handler is not None:
                handler(data, row)
    if ev.keywords and "event.outcome" not in row:
        row["event.outcome"] = _outcome(ev.keywords)
    if ev.user_id and row.get("user.id") is None and row.get("user.name") is None:
        row["user.id"] = ev.user_id
    return row


# -- evtx JSON (records_json / evtx_dump -o jsonl / xmltodict-style) ---------------------


def _attr(node: Any, name: str) -> Any:
    """An XML attribute in any of the JSON spellings: #attributes, @Name, Node_attributes."""
    if not isinstance(node, dict):
        return None
    attrs = node.get("#attributes")
    if isinstance(attrs, dict):
        return attrs.get(name)
    return node.get("@" + name)


def _scalar(v: Any) -> Any:
    if isinstance(v, dict):
        return v.get("#text")
    return v


def _flat_data(node: Any) -> tuple[dict[str, Any], bool]:
    """EventData / UserData as a flat name -> value dict; True when it was UserData."""
    if not isinstance(node, dict):
        return {}, False
    out: dict[str, Any] = {}
    for k, v in node.items():
        if k == "#attributes" or k[:1] == "@":
            continue
        if k == "Data" and isinstance(v, list | dict):
            # xmltodict: [{"@Name": "X", "#text": "v"}, ...]; evtx unnamed: {"#text": [...]}
            items = v if isinstance(v, list) else [v]
            for item in items:
                name = _attr(item, "Name")
                if name is not None:
                    out[str(name)] = _scalar(item)
                elif "Data" in out:
                    prev = out["Data"]
                    out["Data"] = [*prev, _scalar(item)] if isinstance(prev, list) else [prev, item]
                else:
                    out["Data"] = _scalar(item)
            continue
        out[k] = _scalar(v) if isinstance(v, dict) and "#text" in v else v
    return out, False


def _system_attr(system: Mapping[str, Any], key: str, name: str) -> Any:
    node = system.get(key)
    v = _attr(node, name)
    if v is None:
        sep = system.get(key + "_attributes")  # evtx --separate-json-attributes
        if isinstance(sep, dict):
            v = sep.get(name)
    return v


def from_json(event: Mapping[str, Any]) -> WinEvent:
    """A WinEvent from the ``Event`` object of evtx JSON output; raises ValueError if unusable."""
    system = event.get("System")
    if not isinstance(system, dict):
        raise ValueError("no System element")
    stamp = _system_attr(system, "TimeCreated", "SystemTime")
    if not isinstance(stamp, str):
        raise ValueError("no TimeCreated/@SystemTime")
    try:
        when = datetime.fromisoformat(stamp)
    except ValueError:
        raise ValueError(f"bad SystemTime {stamp[:40]!r}") from None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)  # SystemTime is UTC by definition
    raw_eid = system.get("EventID")
    eid = integer(_scalar(raw_eid))
    payload = event.get("EventData")
    user_data = False
    if payload is None and isinstance(event.get("UserData"), dict):
        # UserData holds one element named after the event (LogFileCleared, ...)
        children = [v for k, v in event["UserData"].items() if k != "#attributes"]
        payload = children[0] if len(children) == 1 else event["UserData"]
        user_data = True
    data, _ = _flat_data(payload)
    keywords = system.get("Keywords")
    return WinEvent(
        provider=_system_attr(system, "Provider", "Name"),
        event_id=eid,
        channel=_str_or_none(system.get("Channel")),
        computer=_str_or_none(system.get("Computer")),
        time=when,
        record_id=integer(system.get("EventRecordID")),
        level=integer(_scalar(system.get("Level"))),
        keywords=keywords if isinstance(keywords, str) else None,
        process_id=integer(_system_attr(system, "Execution", "ProcessID")),
        user_id=_str_or_none(_system_attr(system, "Security", "UserID")),
        data=data,
        user_data=user_data,
    )


def _str_or_none(v: Any) -> str | None:
    if v is None or isinstance(v, dict | list):
        return None
    return str(v)
