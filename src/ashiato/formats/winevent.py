"""One mapping from a Windows event to an event-schema row, shared by every Windows format.

EVTX, ``evtx_dump`` JSON lines, ``wevtutil`` XML and Event Viewer CSV all end up as a
:class:`WinEvent` (the System fields plus a flat name -> value dict of EventData or
UserData) and go through :func:`to_row`, so a 4624 means the same thing whichever way it
was exported. Reading evtx JSON records and batching rows (:class:`WinRows`) are in
``winevent_rows``.

What lands where:

- ``@timestamp`` = ``TimeCreated/@SystemTime`` (UTC); Sysmon events use their own
  ``UtcTime`` (when the event happened, not when it was logged).
- ``event.code`` = EventID, ``event.provider`` = Provider Name, ``event.severity`` = Level,
  ``host.hostname`` = Computer, ``event.dataset`` = one per channel (:func:`dataset_for`).
- ``extra`` keeps everything else under one ``winlog`` object: ``channel``, ``process_id``
  (Execution ProcessID: the process that wrote the event), ``user_sid`` (Security UserID)
  and **all** the event's data, mapped or not, as ``event_data`` (name -> value; or
  ``user_data`` for UserData events such as 1102/104). In DuckDB:
  ``extra->>'$.winlog.event_data.ShareLocalPath'``. A few derived values get their own
  top-level extra key: ``workstation`` (the logon's source WorkstationName) and
  ``file.local_path`` (5145: share path joined with the relative name). Formats add
  what only they know: ``winlog.file_record_id`` (EVTX), ``winlog.record_id`` (JSON
  lines), ``line`` (XML), ``winlog.task`` (CSV).
- The key events of domain.md section 2 fill ECS columns (user, logon id/type, source
  address, process, file, share, access mask, DNS, threat name...) plus
  ``event.action``/``event.category``; ``event.outcome`` comes from the audit
  success/failure Keywords (or the Kerberos/NTLM Status).
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from ashiato.detect import decode
from ashiato.formats.veeam import ACTIONS as VEEAM_ACTIONS

Row = dict[str, Any]

_AUDIT_FAILURE = 0x10000000000000
_AUDIT_SUCCESS = 0x20000000000000
_UNSET = ("", "-")
_NULL_SID = "S-1-0-0"  # "nobody": 4625 for an unknown account, network 4624 subjects


# The columns the Windows formats fill (Format.fields).
FIELDS: tuple[str, ...] = (
    "@timestamp",
    "event.code",
    "event.action",
    "event.category",
    "event.outcome",
    "event.severity",
    "event.provider",
    "host.hostname",
    "user.name",
    "user.domain",
    "user.id",
    "winlog.logon.id",
    "winlog.logon.type",
    "source.ip",
    "source.port",
    "destination.ip",
    "destination.port",
    "destination.domain",
    "network.transport",
    "process.pid",
    "process.executable",
    "process.name",
    "process.command_line",
    "process.parent.pid",
    "process.parent.executable",
    "process.hash",
    "file.path",
    "file.share",
    "file.access_mask",
    "file.hash",
    "dns.question.name",
    "dns.answers",
    "rule.name",
    "rule.id",
    "rule.category",
    "message",
    "network.protocol",
    "observer.name",
    "observer.type",
    "observer.vendor",
    "event.dataset",
    "source.bytes",
    "destination.bytes",
    "host.name",
)


@dataclass(slots=True)
class WinEvent:
    """The parts of one Windows event every exporter can give us."""

    provider: str | None
    event_id: int | None
    channel: str | None
    computer: str | None
    time: str | datetime | None  # ISO 8601 text with zone, or a datetime (naive = source zone)
    data: dict[str, Any] = field(default_factory=dict)
    user_data: bool = False  # data came from <UserData> (1102, 104...)
    level: int | None = None
    keywords: str | None = None
    process_id: int | None = None
    user_id: str | None = None
    message: str | None = None
    record_id: int | None = None


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
    ds = _DATASETS.get(channel)
    if ds is None:
        key = channel.lower()
        ds = _DATASETS.get(key)
        if ds is None:
            slug = _NON_ALNUM.sub("_", key).strip("_")
            ds = f"windows.{slug}" if slug else "windows.unknown"
        if len(_DATASETS) < 10_000:  # a cache, bounded against hostile input
            _DATASETS[channel] = ds
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
    "microsoft-windows-dnsserver": "dns_server",
    # default-on channels read for remote access, tasks, WMI and backups (issue 11)
    "microsoft-windows-terminalservices-localsessionmanager": "lsm",
    "microsoft-windows-terminalservices-clientactivexcore": "rdpclient",
    "microsoft-windows-taskscheduler": "taskscheduler",
    "microsoft-windows-wmi-activity": "wmi",
}


_KIND_CACHE: dict[str, str] = {}


def provider_kind(provider: str | None) -> str:
    """Which family of mapped events a provider belongs to ('' for none)."""
    if not provider:
        return ""
    kind = _KIND_CACHE.get(provider)
    if kind is None:
        kind = _KINDS.get(provider.lower(), "")
        if len(_KIND_CACHE) < 10_000:
            _KIND_CACHE[provider] = kind
    return kind


def is_mapped(provider: str, event_id: int) -> bool:
    """Whether events of this provider and ID have a mapping (the corpus mapping test)."""
    return (provider_kind(provider), event_id) in _EVENTS


def utc_text(value: Any) -> str:
    """Check an ISO 8601 UTC time and return it with an explicit zone (Arrow casts it)."""
    if not isinstance(value, str):
        raise ValueError("no TimeCreated/@SystemTime")
    stamp: str = value
    try:
        when = datetime.fromisoformat(stamp)
    except ValueError:
        raise ValueError(f"bad time {stamp[:40]!r}") from None
    if len(stamp) > 27:  # longer than "2016-09-19T16:50:06.477878Z": maybe 100 ns digits
        stamp = _micro(stamp)
    if when.tzinfo is None:  # SystemTime and Sysmon UtcTime are UTC by definition
        return stamp.replace(" ", "T", 1) + "Z"
    return stamp


def _micro(stamp: str) -> str:
    """Cut fractions to microseconds (Arrow refuses more digits than the unit holds)."""
    dot = stamp.find(".")
    if dot < 0:
        return stamp
    end = dot + 1
    while end < len(stamp) and stamp[end].isdigit():
        end += 1
    return stamp[: dot + 7] + stamp[end:] if end - dot > 7 else stamp


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
    pid = integer(text(d, pid_key))
    if exe is None and pid == 0:
        return  # 4624/4625 over the network: ProcessName "-", ProcessId 0x0 = no process
    row["process.executable"] = exe
    row["process.name"] = _basename(exe)
    row["process.pid"] = pid


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
    _decoded(row["process.command_line"], row)
    row["process.parent.pid"] = integer(text(d, "ProcessId"))
    row["process.parent.executable"] = text(d, "ParentProcessName")


def _proc_4689(d: Mapping[str, Any], row: Row) -> None:
    _subject(d, row)
    _process(d, row, "ProcessName", "ProcessId")


def executable_of(command: str) -> str:
    """The program part of a command line: ``"C:\\a b\\x.exe" -k`` -> ``C:\\a b\\x.exe``."""
    command = command.strip()
    if command.startswith('"'):
        end = command.find('"', 1)
        return command[1:end] if end > 0 else command[1:]
    low = command.lower()
    for ext in (".exe", ".com", ".bat", ".cmd", ".dll", ".sys", ".ps1"):
        at = low.find(ext)
        if at > 0 and (len(command) == at + len(ext) or command[at + len(ext)] == " "):
            return command[: at + len(ext)]
    return command.split(" ", 1)[0]


def _service(d: Mapping[str, Any], row: Row) -> None:
    # 7045 ImagePath / 4697 ServiceFileName is a command line as often as a path
    command = text(d, "ImagePath") or text(d, "ServiceFileName")
    if command:
        row["process.command_line"] = command
        row["process.executable"] = executable_of(command)
        row["process.name"] = _basename(row["process.executable"])
        _decoded(command, row)
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
            row["@timestamp"] = utc_text(t)
        except ValueError:
            pass  # keep TimeCreated


def _sysmon_1(d: Mapping[str, Any], row: Row) -> None:
    _sysmon_common(d, row)
    row["process.command_line"] = text(d, "CommandLine")
    _decoded(row["process.command_line"], row)
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


def _sysmon_access(d: Mapping[str, Any], row: Row) -> None:
    """Sysmon 10: the source process opened the target (lsass for a credential dump)."""
    _process(d, row, "SourceImage", "SourceProcessId")
    row["user.name"], row["user.domain"] = split_user(text(d, "SourceUser"))
    row["target.process.executable"] = text(d, "TargetImage")
    row["target.process.pid"] = integer(text(d, "TargetProcessId"))
    t = text(d, "UtcTime")
    if t:
        try:
            row["@timestamp"] = utc_text(t)
        except ValueError:
            pass  # keep TimeCreated


def _sysmon_pipe(d: Mapping[str, Any], row: Row) -> None:
    """Sysmon 17/18: a named pipe created or connected (PsExec, Cobalt Strike...)."""
    _sysmon_common(d, row)
    row["file.path"] = text(d, "PipeName")


def _sysmon_registry(d: Mapping[str, Any], row: Row) -> None:
    """Sysmon 12/13/14: the key or value (``registry.path`` in extra), 13's data, 14's new
    name. Registry paths are not files: they stay out of ``file.path``."""
    _sysmon_common(d, row)
    row["registry.path"] = text(d, "TargetObject")
    row["registry.data"] = text(d, "Details") or text(d, "NewName")


def _rdp_session(d: Mapping[str, Any], row: Row) -> None:
    """4778/4779: an RDP session reconnected or disconnected, from ClientName at ClientAddress."""
    row["user.name"] = text(d, "AccountName")
    row["user.domain"] = text(d, "AccountDomain")
    row["winlog.logon.id"] = text(d, "LogonID")
    addr = ip(d.get("ClientAddress"))
    row["source.ip"] = addr if addr and addr.lower() not in ("unknown", "local") else None
    row["workstation"] = text(d, "ClientName")


def _dns_server(d: Mapping[str, Any], row: Row) -> None:
    """DNS Server analytic 256 (query received: Source is the client) and 260 (recursion
    out: Destination is the upstream server)."""
    name = text(d, "QNAME")
    row["dns.question.name"] = name.rstrip(".") if name else None
    row["source.ip"] = ip(d.get("Source"))
    row["destination.ip"] = ip(d.get("Destination"))
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
    if text(d, "New Value"):  # 5007: a setting changed ("HKLM\...\Exclusions\... = 0x0")
        key, _, value = (text(d, "New Value") or "").partition(" = ")
        row["registry.path"], row["registry.data"] = key or None, value or None
    row["observer.type"] = "antivirus"
    row["observer.vendor"] = "Microsoft"
    row["observer.name"] = "Windows Defender"


def _script_block(d: Mapping[str, Any], row: Row) -> None:
    row["file.path"] = text(d, "Path")
    _decoded(text(d, "ScriptBlockText"), row)


def _decoded(command: str | None, row: Row) -> None:
    # what -EncodedCommand / FromBase64String hide, for rules and IOCs (detect/decode.py)
    hidden = _decode_long(command) if command and len(command) >= _LONG else decode.decode(command)
    if hidden:
        row["decoded"] = hidden


# Long texts (script blocks, loaders) cost decode() up to milliseconds each, and logs
# repeat them: PowerShell logs the same script block every time a script runs (the
# public attack samples hold ~30 % repeats). Their results are kept, texts and results
# bounded together (a decoded text can be far longer than its command).
_LONG = 256
_CACHE_CHARS = 4 << 20
_decode_cache: dict[str, str | None] = {}
_cached_chars = 0


def _decode_long(command: str) -> str | None:
    global _cached_chars
    try:
        return _decode_cache[command]
    except KeyError:
        pass
    hidden = decode.decode(command)
    size = len(command) + len(hidden or "")
    if _cached_chars + size > _CACHE_CHARS:
        _decode_cache.clear()
        _cached_chars = 0
    if size <= _CACHE_CHARS:
        _decode_cache[command] = hidden
        _cached_chars += size
    return hidden


_HOST_APP = re.compile(r"HostApplication=([^\r\n]*)")


def _ps_classic(d: Mapping[str, Any], row: Row) -> None:
    # Windows PowerShell 400/403/600/800 keep "Key=Value" lines in unnamed Data
    # strings; HostApplication is the command line that started the engine
    values = d.get("Data")
    parts = values if isinstance(values, list) else [values]
    # exporters that keep only the rendered text (NXLog im_msvistalog) have it in Message
    parts = [*parts, row.get("message")]
    for v in parts:
        if isinstance(v, str) and "HostApplication=" in v:
            m = _HOST_APP.search(v)
            command = m.group(1).strip() if m else ""
            if command:
                row["process.command_line"] = command
                row["process.executable"] = executable_of(command)
                row["process.name"] = _basename(row["process.executable"])
                _decoded(command, row)
            return


def _address(v: Any) -> str | None:
    # fields that hold an address or a word ("LOCAL", a host name) depending on the case
    s = ip(v)
    try:
        return str(ipaddress.ip_address(s)) if s else None
    except ValueError:
        return None


def _lsm_session(d: Mapping[str, Any], row: Row) -> None:
    # LocalSessionManager 21/22/24/25: UserData User, SessionID, Address ("LOCAL" at the console)
    row["user.name"], row["user.domain"] = split_user(text(d, "User"))
    row["source.ip"] = _address(d.get("Address"))


def _rdp_client(d: Mapping[str, Any], row: Row) -> None:
    # RDPClient 1024 names the server as typed, 1102 its address
    value = text(d, "Value")
    address = _address(value)
    if address:
        row["destination.ip"] = address
    elif value:
        row["destination.domain"] = value


def _task(d: Mapping[str, Any], row: Row) -> None:
    # TaskScheduler 106 (registered: UserContext) and 200/201 (action: ActionName)
    if "UserContext" in d:
        row["user.name"], row["user.domain"] = split_user(text(d, "UserContext"))
    action = text(d, "ActionName")
    if action and "\\" in action:
        row["process.executable"] = action
        row["process.name"] = _basename(action)


# -- remote access (RD Gateway, NPS) and backup servers (Veeam, Windows Server Backup) --
# In the shared remote-access and server interfaces (docs/formats.md): the gateway or
# the RADIUS server is the observer, the remote user's address is source.ip.

_KINDS.update(
    {
        "microsoft-windows-terminalservices-gateway": "rdgateway",
        "veeam mp": "veeam",
        "veeam backup": "veeam",
        "microsoft-windows-backup": "wsb",
    }
)
_IPV4_OR_6 = re.compile(r"^(?:\d{1,3}(?:\.\d{1,3}){3}|[0-9A-Fa-f:]*:[0-9A-Fa-f:.]+)$")


def _observer(row: Row, kind: str, vendor: str) -> None:
    row["observer.type"] = kind
    row["observer.vendor"] = vendor
    row["observer.name"] = row.get("host.hostname")


def _rd_gateway(d: Mapping[str, Any], row: Row) -> None:
    # UserData/EventInfo: Username (DOMAIN\user), IpAddress (the client), Resource (the
    # internal computer), BytesReceived/BytesTransfered/SessionDuration on 202/303
    row["user.name"], row["user.domain"] = split_user(text(d, "Username"))
    row["source.ip"] = ip(d.get("IpAddress"))
    row["destination.domain"] = text(d, "Resource")
    # "the client transferred %6 (BytesTransfered) bytes and received %5 (BytesReceived)"
    row["source.bytes"] = integer(text(d, "BytesTransfered"))
    row["destination.bytes"] = integer(text(d, "BytesReceived"))
    duration = integer(text(d, "SessionDuration"))
    if duration is not None:
        row["event.duration"] = duration * 1_000_000_000
    error = integer(text(d, "ErrorCode"))
    failed = row["event.code"] in ("201", "301", "304") or bool(error)
    row["event.outcome"] = "failure" if failed else "success"
    row["network.protocol"] = "rdp"
    _observer(row, "vpn", "microsoft")


def _nps(d: Mapping[str, Any], row: Row) -> None:
    # 6272 granted, 6273 denied, 6274 discarded, 6278 granted full access
    name, domain = text(d, "SubjectUserName"), text(d, "SubjectDomainName")
    if name is None:
        name, domain = split_user(text(d, "FullyQualifiedSubjectUserName"))
    row["user.name"], row["user.domain"] = name, domain
    row["user.id"] = text(d, "SubjectUserSid")
    calling = text(d, "CallingStationID")
    if calling and _IPV4_OR_6.match(calling):
        row["source.ip"] = ip(calling)
    elif calling:
        row["calling_station_id"] = calling
    row["event.outcome"] = "success" if row["event.code"] in ("6272", "6278") else "failure"
    _observer(row, "vpn", "microsoft")
    row["observer.name"] = text(d, "ClientName") or row.get("host.hostname")
    row["nps.client_ip"] = ip(d.get("ClientIPAddress"))
    row["nps.nas_ip"] = ip(d.get("NASIPv4Address")) or ip(d.get("NASIPv6Address"))
    row["nps.reason"] = text(d, "Reason")


def _veeam(d: Mapping[str, Any], row: Row) -> None:
    row["event.dataset"] = "veeam.backup"
    row["user.name"], row["user.domain"] = split_user(text(d, "UserName"))
    row["veeam.job"] = text(d, "JobName")
    row["veeam.vm"] = text(d, "VmName")
    row["veeam.repository"] = text(d, "RepositoryName") or text(d, "Name")
    description = text(d, "Description")
    if description and "message" not in row:
        row["message"] = description
    row["event.outcome"] = "success"
    _observer(row, "backup", "veeam")
    row["host.name"] = short_host(text(d, "VbrHostName") or row.get("host.hostname"))


def _wsb(d: Mapping[str, Any], row: Row) -> None:
    row["event.outcome"] = "success"
    _observer(row, "backup", "microsoft")
    row["host.name"] = short_host(row.get("host.hostname"))


def short_host(name: str | None) -> str | None:
    """``VBRSRV01.tech.local`` -> ``vbrsrv01`` (host.name is the short, lower-case form)."""
    return name.split(".", 1)[0].lower() if name else None


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
    ("security", 4771): ("kerberos-preauth-failed", "authentication", _kerberos),
    ("security", 4776): ("credential-validation", "authentication", _ntlm),
    ("security", 4656): ("object-handle-requested", None, _object),
    ("security", 4663): ("object-access", None, _object),
    ("security", 4658): ("object-handle-closed", None, _object),
    ("security", 4660): ("object-deleted", None, _object),
    ("security", 5140): ("share-session-opened", "file", _share),
    ("security", 5145): ("file-share-access", "file", _share),
    ("security", 4688): ("process-created", "process", _proc_4688),
    ("security", 4662): ("directory-object-access", None, _subject),
    ("security", 4672): ("special-privileges-assigned", "iam", _subject),
    ("security", 4778): ("session-reconnected", "session", _rdp_session),
    ("security", 4779): ("session-disconnected", "session", _rdp_session),
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
    ("sysmon", 10): ("process-accessed", "process", _sysmon_access),
    ("sysmon", 12): ("registry-key-created-or-deleted", "configuration", _sysmon_registry),
    ("sysmon", 13): ("registry-value-set", "configuration", _sysmon_registry),
    ("sysmon", 14): ("registry-renamed", "configuration", _sysmon_registry),
    ("sysmon", 17): ("pipe-created", "process", _sysmon_pipe),
    ("sysmon", 18): ("pipe-connected", "process", _sysmon_pipe),
    ("sysmon", 11): ("file-created", "file", _sysmon_file),
    ("sysmon", 15): ("file-stream-created", "file", _sysmon_file),
    ("sysmon", 22): ("dns-query", "network", _sysmon_22),
    ("sysmon", 23): ("file-deleted", "file", _sysmon_file),
    ("sysmon", 26): ("file-deleted", "file", _sysmon_file),
    ("defender", 1116): ("malware-detected", "malware", _defender),
    ("defender", 1117): ("malware-action-taken", "malware", _defender),
    ("defender", 1119): ("malware-action-failed", "malware", _defender),
    ("defender", 5007): ("av-configuration-changed", "configuration", _defender),
    ("dns_server", 256): ("dns-query-received", "network", _dns_server),
    ("dns_server", 260): ("dns-query-forwarded", "network", _dns_server),
    ("powershell", 4104): ("script-block-logged", "process", _script_block),
    ("powershell", 400): ("powershell-engine-started", "process", _ps_classic),
    ("powershell", 403): ("powershell-engine-stopped", "process", _ps_classic),
    ("powershell", 600): ("powershell-provider-started", "process", _ps_classic),
    ("powershell", 800): ("powershell-pipeline-executed", "process", _ps_classic),
    ("lsm", 21): ("remote-session-logon", "session", _lsm_session),
    ("lsm", 22): ("remote-session-shell-started", "session", _lsm_session),
    ("lsm", 24): ("remote-session-disconnected", "session", _lsm_session),
    ("lsm", 25): ("remote-session-reconnected", "session", _lsm_session),
    ("rdpclient", 1024): ("rdp-client-connecting", "network", _rdp_client),
    ("rdpclient", 1102): ("rdp-client-connecting", "network", _rdp_client),
    ("taskscheduler", 106): ("scheduled-task-registered", "configuration", _task),
    ("taskscheduler", 200): ("scheduled-task-action-started", "process", _task),
    ("taskscheduler", 201): ("scheduled-task-action-completed", "process", _task),
    ("wmi", 5857): ("wmi-provider-loaded", "process", None),
    ("wmi", 5858): ("wmi-error", "process", None),
    ("wmi", 5859): ("wmi-subscription-registered", "configuration", None),
    ("wmi", 5860): ("wmi-temporary-subscription", "configuration", None),
    ("wmi", 5861): ("wmi-permanent-subscription", "configuration", None),
}

_EVENTS.update(
    {
        ("rdgateway", 200): ("vpn-login", "authentication", _rd_gateway),
        ("rdgateway", 201): ("vpn-login", "authentication", _rd_gateway),
        ("rdgateway", 300): ("rdg-resource-authorization", "authentication", _rd_gateway),
        ("rdgateway", 301): ("rdg-resource-authorization", "authentication", _rd_gateway),
        ("rdgateway", 302): ("vpn-session-start", "session", _rd_gateway),
        ("rdgateway", 304): ("vpn-session-start", "session", _rd_gateway),
        ("rdgateway", 303): ("vpn-session-end", "session", _rd_gateway),
        ("rdgateway", 202): ("vpn-session-end", "session", _rd_gateway),
        ("security", 6272): ("vpn-login", "authentication", _nps),
        ("security", 6273): ("vpn-login", "authentication", _nps),
        ("security", 6274): ("vpn-login", "authentication", _nps),
        ("security", 6278): ("vpn-login", "authentication", _nps),
        **{("veeam", eid): (act, cat, _veeam) for eid, (act, cat) in VEEAM_ACTIONS.items()},
        ("wsb", 524): ("backup-catalog-deleted", "configuration", _wsb),
    }
)

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
    return event_row(
        ev.provider,
        ev.event_id,
        ev.channel,
        ev.computer,
        ev.time,
        ev.data,
        ev.user_data,
        ev.level,
        ev.keywords,
        ev.process_id,
        ev.user_id,
        ev.message,
    )


# What a row's head (the columns set from the System fields, and the event's action and
# category) is for one provider, event id, channel, computer and level: a few hundred
# combinations in a log, looked up once each instead of once per record (~0.4 µs).
# Dict keys compare by value: only values of the declared types are remembered.
_Head = tuple[Row, str, Handler]
_HEADS: dict[tuple[Any, ...], _Head] = {}


def _head(
    provider: str | None, eid: int | None, channel: str | None, computer: str | None,
    level: int | None, remember: bool = True,
) -> _Head:  # fmt: skip
    template: Row = {
        "@timestamp": None,
        "event.code": None if eid is None else str(eid),
        "event.provider": provider or None,
        "event.dataset": dataset_for(channel),
        "event.severity": level,
        "host.hostname": computer or None,
        "winlog": None,
    }
    kind = provider_kind(provider)
    handler: Handler = None
    spec = None if eid is None else _EVENTS.get((kind, eid))
    if spec is not None:
        template["event.action"], template["event.category"], handler = spec
    head = (template, kind, handler)
    if remember:
        if len(_HEADS) >= 10_000:  # bounded against hostile input
            _HEADS.clear()
        _HEADS[provider, eid, channel, computer, level] = head
    return head


def event_row(
    provider: str | None,
    eid: int | None,
    channel: str | None,
    computer: str | None,
    time: str | datetime | None,
    data: dict[str, Any],
    user_data: bool,
    level: int | None,
    keywords: str | None,
    process_id: int | None,
    user_id: str | None,
    message: str | None,
    cached: bool = False,
) -> Row:
    """:func:`to_row` without the WinEvent, for the EVTX hot path. ``cached``: the
    System values have the declared types (str, int not bool, or None), as evtx JSON
    readers make sure, so the row's head may be remembered for them (equal values of
    other types, 1 and True, would share it)."""
    winlog: dict[str, Any] = {"channel": channel}
    if process_id is not None:
        winlog["process_id"] = process_id
    if user_id:
        winlog["user_sid"] = user_id
    if data:
        winlog["user_data" if user_data else "event_data"] = data
    if cached:
        try:
            head = _HEADS[provider, eid, channel, computer, level]
        except KeyError:
            head = _head(provider, eid, channel, computer, level)
    else:
        head = _head(provider, eid, channel, computer, level, remember=False)
    template, kind, handler = head
    row = template.copy()
    row["@timestamp"] = time
    row["winlog"] = winlog
    if message:
        row["message"] = message
    if handler is not None:
        handler(data, row)
    if "event.action" in template and row.get("user.id") == _NULL_SID:
        row["user.id"] = None
    # Security UserID says who caused the event, except for Sysmon and Defender, whose
    # service (S-1-5-18) writes every event
    if (
        user_id
        and row.get("user.id") is None
        and row.get("user.name") is None
        and kind not in ("sysmon", "defender")
    ):
        row["user.id"] = user_id
    if keywords and "event.outcome" not in row:
        outcome = _outcome(keywords)
        if outcome:
            row["event.outcome"] = outcome
    return row
