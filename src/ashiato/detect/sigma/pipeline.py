"""Where a Sigma rule's events live in the ``events`` table and what its field names mean.

A Sigma rule names a *log source* (``product``/``category``/``service``) and fields in that
source's vocabulary (Sysmon names for Windows, W3C names for proxies...). This module turns
both into ashiato terms:

- the log source becomes a :class:`Scope`: a set of :class:`Target` (datasets, event codes,
  observer types) that selects the rows the rule can match; rules with the same scope are
  evaluated together in one scan;
- each field becomes a :class:`Field`: an event-schema column where ashiato fills that
  column with the very value the log had (``Image`` -> ``process.executable`` for process
  creation), otherwise the raw value kept in ``extra`` (Windows: every EventData value
  under ``$.winlog.event_data``, UserData under ``$.winlog.user_data``; other sources: a
  top-level key of ``extra``).

A field name that is already a schema column (``url.domain``, ``http.response.mime_type``)
means that column in every scope, so ashiato's own rules can be written in ECS names.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

from ashiato.formats.winevent import dataset_for
from ashiato.schema import FIELDS

_TYPES = {f.name: f.type for f in FIELDS}
INT_COLUMNS = frozenset(n for n, t in _TYPES.items() if str(t) in ("int32", "int64"))
TIME_COLUMNS = frozenset(n for n, t in _TYPES.items() if str(t).startswith("timestamp"))


@dataclass(frozen=True, order=True)
class Target:
    """Rows of these datasets (any if None), event codes and observer types."""

    datasets: tuple[str, ...] | None = None
    codes: tuple[str, ...] | None = None
    observer_types: tuple[str, ...] | None = None
    needs: str | None = None  # a column that must be filled (dns.question.name for dns)

    def describe(self) -> str:
        bits = []
        if self.datasets:
            bits.append("dataset " + "|".join(self.datasets))
        if self.codes:
            bits.append("code " + "|".join(self.codes))
        if self.observer_types:
            bits.append("observer " + "|".join(self.observer_types))
        if self.needs:
            bits.append(f"{self.needs} set")
        return " ".join(bits) or "all events"


Scope = tuple[Target, ...]


@dataclass(frozen=True, order=True)
class Field:
    """A value to read: a schema column, or the first raw ``extra`` path that has one."""

    column: str | None = None
    paths: tuple[str, ...] = ()

    @property
    def numeric(self) -> bool:
        return self.column in INT_COLUMNS

    @property
    def key(self) -> str:
        return self.column if self.column else "|".join(self.paths)


@dataclass(frozen=True)
class Resolved:
    """A log source in ashiato terms."""

    scope: Scope
    family: str  # windows, proxy, firewall, dns, webserver, antivirus
    columns: Mapping[str, str] = field(default_factory=dict)  # sigma field -> column
    raw_prefix: str = "$"  # where unmapped fields are looked up in extra
    aliases: Mapping[str, tuple[str, ...]] = field(default_factory=dict)  # raw alternatives
    require: tuple[tuple[str, tuple[str, ...]], ...] = ()  # (field, values) added to the rule

    def field(self, name: str) -> Field:
        if name == DECODED:
            return Field(paths=(DECODED_PATH,))
        if name in _TYPES and name not in ("extra",):
            return Field(column=name)
        col = self.columns.get(name)
        if col is not None:
            return Field(column=col)
        names = self.aliases.get(name, (name,))
        return Field(paths=tuple(raw_path(self.raw_prefix, n) for n in names))


# what an -EncodedCommand / FromBase64String hid, decoded at ingest (detect/decode.py)
DECODED = "ashiato.decoded"
DECODED_PATH = '$."decoded"'


class Unsupported(Exception):
    """The log source has no counterpart in ashiato's events."""


# -- Windows ----------------------------------------------------------------------------

_SYSMON = dataset_for("Microsoft-Windows-Sysmon/Operational") or "windows.sysmon"
_SECURITY = "windows.security"
_PS = dataset_for("Microsoft-Windows-PowerShell/Operational") or "windows.powershell"
_PS_CLASSIC = dataset_for("Windows PowerShell") or "windows.powershell"

# service -> channel(s), as the Sigma taxonomy defines them
SERVICE_CHANNELS: dict[str, tuple[str, ...]] = {
    "security": ("Security",),
    "system": ("System",),
    "application": ("Application",),
    "sysmon": ("Microsoft-Windows-Sysmon/Operational",),
    "powershell": ("Microsoft-Windows-PowerShell/Operational",),
    "powershell-classic": ("Windows PowerShell",),
    "windefend": ("Microsoft-Windows-Windows Defender/Operational",),
    "taskscheduler": ("Microsoft-Windows-TaskScheduler/Operational",),
    "wmi": ("Microsoft-Windows-WMI-Activity/Operational",),
    "dns-client": ("Microsoft-Windows-DNS Client Events/Operational",),
    "dns-server": ("DNS Server",),
    "dns-server-analytic": ("Microsoft-Windows-DNS-Server/Analytical",),
    "dns-server-audit": ("Microsoft-Windows-DNS-Server/Audit",),
    "firewall-as": ("Microsoft-Windows-Windows Firewall With Advanced Security/Firewall",),
    "bits-client": ("Microsoft-Windows-Bits-Client/Operational",),
    "codeintegrity-operational": ("Microsoft-Windows-CodeIntegrity/Operational",),
    "appxdeployment-server": ("Microsoft-Windows-AppXDeploymentServer/Operational",),
    "appxpackaging-om": ("Microsoft-Windows-AppxPackaging/Operational",),
    "appmodel-runtime": ("Microsoft-Windows-AppModel-Runtime/Admin",),
    "msexchange-management": ("MSExchange Management",),
    "ntlm": ("Microsoft-Windows-NTLM/Operational",),
    "applocker": (
        "Microsoft-Windows-AppLocker/EXE and DLL",
        "Microsoft-Windows-AppLocker/MSI and Script",
        "Microsoft-Windows-AppLocker/Packaged app-Deployment",
        "Microsoft-Windows-AppLocker/Packaged app-Execution",
    ),
    "security-mitigations": (
        "Microsoft-Windows-Security-Mitigations/Kernel Mode",
        "Microsoft-Windows-Security-Mitigations/User Mode",
    ),
    "printservice-admin": ("Microsoft-Windows-PrintService/Admin",),
    "printservice-operational": ("Microsoft-Windows-PrintService/Operational",),
    "smbclient-security": ("Microsoft-Windows-SmbClient/Security",),
    "smbclient-connectivity": ("Microsoft-Windows-SmbClient/Connectivity",),
    "smbserver-connectivity": ("Microsoft-Windows-SMBServer/Connectivity",),
    "terminalservices-localsessionmanager": (
        "Microsoft-Windows-TerminalServices-LocalSessionManager/Operational",
    ),
    "shell-core": ("Microsoft-Windows-Shell-Core/Operational",),
    "certificateservicesclient-lifecycle-system": (
        "Microsoft-Windows-CertificateServicesClient-Lifecycle-System/Operational",
    ),
    "driver-framework": ("Microsoft-Windows-DriverFrameworks-UserMode/Operational",),
    "ldap": ("Microsoft-Windows-LDAP-Client/Debug",),
    "diagnosis-scripted": ("Microsoft-Windows-Diagnosis-Scripted/Operational",),
    "lsa-server": ("Microsoft-Windows-LSA/Operational",),
    "openssh": ("OpenSSH/Operational",),
    "capi2": ("Microsoft-Windows-CAPI2/Operational",),
    "microsoft-servicebus-client": ("Microsoft-ServiceBus-Client",),
    "iis-configuration": ("Microsoft-IIS-Configuration/Operational",),
    "vhdmp": ("Microsoft-Windows-VHDMP/Operational",),
    "bitlocker": (
        "Microsoft-Windows-BitLocker/BitLocker Management",
        "Microsoft-Windows-BitLocker-API/Management",
    ),
    "terminalservices-rdpclient": ("Microsoft-Windows-TerminalServices-RDPClient/Operational",),
}


def _sysmon(*codes: int) -> Target:
    return Target(datasets=(_SYSMON,), codes=tuple(str(c) for c in codes))


# category -> targets (Sysmon event ids, or the built-in log that records the same thing)
CATEGORIES: dict[str, Scope] = {
    "process_creation": (_sysmon(1), Target(datasets=(_SECURITY,), codes=("4688",))),
    "process_termination": (_sysmon(5), Target(datasets=(_SECURITY,), codes=("4689",))),
    "file_change": (_sysmon(2),),
    "network_connection": (_sysmon(3),),
    "sysmon_status": (_sysmon(4, 16),),
    "driver_load": (_sysmon(6),),
    "image_load": (_sysmon(7),),
    "create_remote_thread": (_sysmon(8),),
    "raw_access_thread": (_sysmon(9),),
    "process_access": (_sysmon(10),),
    "file_event": (_sysmon(11),),
    "registry_add": (_sysmon(12),),
    "registry_delete": (_sysmon(12),),
    "registry_set": (_sysmon(13),),
    "registry_rename": (_sysmon(14),),
    "registry_event": (_sysmon(12, 13, 14),),
    "create_stream_hash": (_sysmon(15),),
    "pipe_created": (_sysmon(17, 18),),
    "wmi_event": (_sysmon(19, 20, 21),),
    "dns_query": (_sysmon(22),),
    "file_delete": (_sysmon(23, 26),),
    "clipboard_capture": (_sysmon(24),),
    "process_tampering": (_sysmon(25),),
    "file_block_executable": (_sysmon(27),),
    "file_block_shredding": (_sysmon(28),),
    "file_executable_detected": (_sysmon(29),),
    "sysmon_error": (_sysmon(255),),
    "ps_script": (Target(datasets=(_PS,), codes=("4104",)),),
    "ps_module": (Target(datasets=(_PS,), codes=("4103",)),),
    "ps_classic_start": (Target(datasets=(_PS_CLASSIC,), codes=("400",)),),
    "ps_classic_provider_start": (Target(datasets=(_PS_CLASSIC,), codes=("600",)),),
    "ps_classic_script": (Target(datasets=(_PS_CLASSIC,), codes=("800",)),),
}

# Sysmon event 12 carries both: the taxonomy tells them apart by EventType
_REQUIRE: dict[str, tuple[tuple[str, tuple[str, ...]], ...]] = {
    "registry_add": (("EventType", ("CreateKey",)),),
    "registry_delete": (("EventType", ("DeleteKey", "DeleteValue")),),
}

# Columns that hold exactly the EventData value of the same name, per category.
_IMAGE = {"Image": "process.executable"}
_WIN_COMMON = {
    "EventID": "event.code",
    "Provider_Name": "event.provider",
    "Computer": "host.hostname",
    "ComputerName": "host.hostname",
}
_WIN_COLUMNS: dict[str, dict[str, str]] = {
    "process_creation": {
        **_IMAGE,
        "CommandLine": "process.command_line",
        "ParentImage": "process.parent.executable",
        "ProcessId": "process.pid",
        "ParentProcessId": "process.parent.pid",
        "LogonId": "winlog.logon.id",
    },
    "process_termination": dict(_IMAGE),
    "network_connection": {
        **_IMAGE,
        "DestinationIp": "destination.ip",
        "DestinationPort": "destination.port",
        "SourceIp": "source.ip",
        "SourcePort": "source.port",
        "DestinationHostname": "destination.domain",
    },
    "file_event": {**_IMAGE, "TargetFilename": "file.path"},
    "file_delete": {**_IMAGE, "TargetFilename": "file.path"},
    "create_stream_hash": {**_IMAGE, "TargetFilename": "file.path"},
    "dns_query": {**_IMAGE, "QueryName": "dns.question.name", "QueryResults": "dns.answers"},
}
# 4688 names for the Sysmon 1 fields Sigma rules use
_WIN_ALIASES: dict[str, dict[str, tuple[str, ...]]] = {
    "process_creation": {
        "User": ("User", "SubjectUserName"),
        "IntegrityLevel": ("IntegrityLevel",),
    },
}

_OTHER: dict[str, tuple[Scope, dict[str, str]]] = {
    "proxy": (
        (Target(observer_types=("proxy",)),),
        {
            "c-uri": "url.original",
            "cs-uri": "url.original",
            "c-uri-stem": "url.path",
            "cs-uri-stem": "url.path",
            "cs-host": "url.domain",
            "r-dns": "url.domain",
            "cs-method": "http.request.method",
            "c-useragent": "user_agent.original",
            "cs-user-agent": "user_agent.original",
            "cs-referrer": "http.request.referrer",
            "cs-referer": "http.request.referrer",
            "sc-status": "http.response.status_code",
            "sc-content-type": "http.response.mime_type",
            "rs-content-type": "http.response.mime_type",
            "c-ip": "source.ip",
            "src_ip": "source.ip",
            "dst_ip": "destination.ip",
            "cs-bytes": "source.bytes",
            "sc-bytes": "destination.bytes",
            "cs-username": "user.name",
        },
    ),
    "webserver": (
        (Target(observer_types=("web",)),),
        {
            "cs-uri-query": "url.original",
            "cs-uri-stem": "url.path",
            "cs-method": "http.request.method",
            "sc-status": "http.response.status_code",
            "c-useragent": "user_agent.original",
            "cs-user-agent": "user_agent.original",
            "cs-referer": "http.request.referrer",
            "cs-referrer": "http.request.referrer",
            "c-ip": "source.ip",
            "s-ip": "destination.ip",
            "cs-host": "url.domain",
            "cs-username": "user.name",
        },
    ),
    "firewall": (
        (Target(observer_types=("firewall",)),),
        {
            "src_ip": "source.ip",
            "dst_ip": "destination.ip",
            "src_port": "source.port",
            "dst_port": "destination.port",
            "action": "event.action",
            "protocol": "network.transport",
            "application": "network.protocol",
            "username": "user.name",
        },
    ),
    "dns": (
        (Target(needs="dns.question.name"),),
        {
            "query": "dns.question.name",
            "answer": "dns.answers",
            "src_ip": "source.ip",
            "dst_ip": "destination.ip",
        },
    ),
    "antivirus": (
        (Target(observer_types=("antivirus",)),),
        {
            "Signature": "rule.name",
            "Filename": "file.path",
            "Computer": "host.hostname",
            "ComputerName": "host.hostname",
            "User": "user.name",
        },
    ),
}


# ashiato's own log sources (bundled rules), in ECS names: any dataset with the column
_ASHIATO: dict[str, Scope] = {
    "file": (Target(needs="file.path"),),
    "process": (Target(needs="process.command_line"),),
}


def resolve(product: str | None, category: str | None, service: str | None) -> Resolved:
    """The scope and field mapping of a log source; raises :class:`Unsupported`."""
    product = (product or "").lower() or None
    category = (category or "").lower() or None
    service = (service or "").lower() or None
    if product == "ashiato" and category in _ASHIATO and not service:
        return Resolved(scope=_ASHIATO[category], family="ashiato")
    if product in (None, "windows") and category in _OTHER and not service:
        scope, cols = _OTHER[category]
        return Resolved(scope=scope, family=category, columns=cols)
    if product is None and category in CATEGORIES:
        product = "windows"
    if product != "windows":
        raise Unsupported(
            f"log source {_describe(product, category, service)}: "
            "ashiato has no events of that kind"
        )
    return _windows(category, service)


def _windows(category: str | None, service: str | None) -> Resolved:
    common = dict(_WIN_COMMON)
    if category:
        scope = CATEGORIES.get(category)
        if scope is None:
            raise Unsupported(
                f"log source windows/{category}: no Windows log ashiato reads records it"
            )
        if service:  # narrow to the service's channels
            wanted = set(_service_datasets(service))
            scope = tuple(t for t in scope if t.datasets and set(t.datasets) & wanted)
            if not scope:
                raise Unsupported(f"log source windows/{category}/{service}: no such events")
        return Resolved(
            scope=scope,
            family="windows",
            columns={**common, **_WIN_COLUMNS.get(category, {})},
            raw_prefix="$.winlog.event_data",
            aliases=_WIN_ALIASES.get(category, {}),
            require=_REQUIRE.get(category, ()),
        )
    if service:
        datasets = _service_datasets(service)
        # UserData events (1102, 104...) keep their data under user_data
        return Resolved(
            scope=(Target(datasets=datasets),),
            family="windows",
            columns=common,
            raw_prefix="$.winlog.event_data",
            aliases=_UserDataAliases(),
        )
    return Resolved(
        scope=(Target(datasets=None, observer_types=None),),
        family="windows",
        columns=common,
        raw_prefix="$.winlog.event_data",
    )


class _UserDataAliases(dict[str, tuple[str, ...]]):
    """Look a field up in EventData, then in UserData (1102 SubjectUserName...)."""

    def get(self, key: str, default: object = None) -> tuple[str, ...]:
        return (key, "\x00user_data\x00" + key)


def _service_datasets(service: str) -> tuple[str, ...]:
    channels = SERVICE_CHANNELS.get(service)
    if channels is None:
        raise Unsupported(f"log source windows/{service}: unknown Windows service")
    out: list[str] = []
    for ch in channels:
        ds = dataset_for(ch)
        if ds and ds not in out:
            out.append(ds)
    return tuple(out)


def _describe(product: str | None, category: str | None, service: str | None) -> str:
    return "/".join(p for p in (product, category, service) if p) or "(empty)"


def raw_path(prefix: str, name: str) -> str:
    """The JSON path of one raw field (UserData alternatives are marked by ``\\x00``)."""
    if '"' in name or "\\" in name:
        raise Unsupported(f"field name {name!r} can't be looked up")
    if name.startswith("\x00user_data\x00"):
        return f'$.winlog.user_data."{name.split(chr(0))[2]}"'
    return f'{prefix}."{name}"'
