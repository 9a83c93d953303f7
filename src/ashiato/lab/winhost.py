"""A Windows Server the intruder works on: every channel it logs by default, and Sysmon/4688.

Each method emits what Windows writes for one act, with the real field names of each event
(7045 ServiceName/ImagePath/ServiceType/StartType/AccountName; 5145 ShareName/
RelativeTargetName/IpAddress/SubjectLogonId; ...). ``full`` telemetry adds Sysmon and
process-creation auditing with command lines; without it only the defaults remain
(Security logons, System, Defender, PowerShell, TerminalServices), as on most servers.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field

from ashiato.lab.clock import sysmon_utc
from ashiato.lab.endpoint import Proc
from ashiato.lab.ids import guid, hashes
from ashiato.lab.sink import Data, Sink
from ashiato.lab.world import DOMAIN, NETBIOS

SYSTEM32 = "C:\\Windows\\System32"
POWERSHELL = f"{SYSTEM32}\\WindowsPowerShell\\v1.0\\powershell.exe"
CMD = f"{SYSTEM32}\\cmd.exe"
SYSTEM_SID = "S-1-5-18"
# Channel -> the file name the responders' export gave it.
CHANNELS = {
    "security": "Security", "system": "System", "application": "Application",
    "sysmon": "Microsoft-Windows-Sysmon/Operational",
    "defender": "Microsoft-Windows-Windows Defender/Operational",
    "ps": "Windows PowerShell", "psop": "Microsoft-Windows-PowerShell/Operational",
    "lsm": "Microsoft-Windows-TerminalServices-LocalSessionManager/Operational",
    "rcm": "Microsoft-Windows-TerminalServices-RemoteConnectionManager/Operational",
    "veeam": "Veeam Backup",
    "tasks": "Microsoft-Windows-TaskScheduler/Operational",
}


@dataclass(frozen=True, slots=True)
class Account:
    sam: str
    sid: str
    domain: str = NETBIOS

    @property
    def qualified(self) -> str:
        return f"{self.domain}\\{self.sam}"


@dataclass(slots=True)
class Logon:
    """One logon session on the host: who, from where, and the id that ties events together."""

    account: Account
    logon_id: str
    ip: str
    port: int
    workstation: str
    logon_type: int


@dataclass
class WinHost:
    name: str  # NetBIOS name, upper case: FS01
    ip: str
    sink: Sink
    rng: random.Random
    keys: dict[str, str]  # channel short name -> sink key
    full: bool  # Sysmon and 4688 with command lines
    audit_shares: bool = False  # "Detailed File Share" auditing (5140/5145)
    _pid: int = 3000
    _logons: int = 0
    procs: dict[str, Proc] = field(default_factory=dict)

    @property
    def short(self) -> str:
        return self.name.lower()

    @property
    def fqdn(self) -> str:
        return f"{self.name}.{DOMAIN}"

    def _emit(self, chan: str, ts: int, event: Data) -> None:
        key = self.keys.get(chan)
        if key is not None:
            self.sink.emit(key, ts, event)

    def new_logon_id(self) -> str:
        self._logons += 1
        return f"0x{self.rng.randint(0x100000, 0x7FFFFFF):x}"

    # -- Security: logons ---------------------------------------------------------------

    def logon(self, ts: int, account: Account, logon_type: int, ip: str, workstation: str,
              *, admin: bool = False, ntlm: bool = True) -> Logon:
        """4624 (and 4672 when the account holds admin rights here)."""
        s = Logon(account, self.new_logon_id(), ip, self.rng.randint(49152, 65535),
                  workstation, logon_type)
        interactive = logon_type in (2, 10)
        self._emit("security", ts, {"id": 4624, "pid": 636, "data": {
            "SubjectUserSid": SYSTEM_SID if interactive else "S-1-0-0",
            "SubjectUserName": f"{self.name}$" if interactive else "-",
            "SubjectDomainName": NETBIOS if interactive else "-",
            "SubjectLogonId": "0x3e7" if interactive else "0x0",
            "TargetUserSid": account.sid, "TargetUserName": account.sam,
            "TargetDomainName": account.domain, "TargetLogonId": s.logon_id,
            "LogonType": str(logon_type),
            "LogonProcessName": "User32 " if interactive else ("NtLmSsp " if ntlm else "Kerberos"),
            "AuthenticationPackageName": "Negotiate" if interactive or not ntlm else "NTLM",
            "WorkstationName": workstation if ntlm or interactive else "-",
            "LogonGuid": "{00000000-0000-0000-0000-000000000000}",
            "TransmittedServices": "-", "LmPackageName": "NTLM V2" if ntlm and not interactive
            else "-", "KeyLength": "128" if ntlm and not interactive else "0",
            "ProcessId": "0x5a4" if interactive else "0x0",
            "ProcessName": f"{SYSTEM32}\\svchost.exe" if interactive else "-",
            "IpAddress": ip, "IpPort": str(s.port),
            "ImpersonationLevel": "%%1833", "RestrictedAdminMode": "-",
            "TargetOutboundUserName": "-", "TargetOutboundDomainName": "-",
            "VirtualAccount": "%%1843", "TargetLinkedLogonId": "0x0",
            "ElevatedToken": "%%1842" if admin else "%%1843"}})
        if admin:
            self._emit("security", ts, {"id": 4672, "pid": 636, "data": {
                "SubjectUserSid": account.sid, "SubjectUserName": account.sam,
                "SubjectDomainName": account.domain, "SubjectLogonId": s.logon_id,
                "PrivilegeList": "SeSecurityPrivilege SeBackupPrivilege SeRestorePrivilege "
                                 "SeTakeOwnershipPrivilege SeDebugPrivilege "
                                 "SeSystemEnvironmentPrivilege SeLoadDriverPrivilege "
                                 "SeImpersonatePrivilege"}})
        return s

    def logon_failed(self, ts: int, user: str, ip: str, workstation: str,
                     logon_type: int = 3) -> None:
        """4625: unknown user name or bad password (0xC000006D / 0xC000006A)."""
        sub = "0xc0000064" if self.rng.random() < 0.4 else "0xc000006a"
        self._emit("security", ts, {"id": 4625, "pid": 636, "data": {
            "SubjectUserSid": "S-1-0-0", "SubjectUserName": "-", "SubjectDomainName": "-",
            "SubjectLogonId": "0x0", "TargetUserSid": "S-1-0-0", "TargetUserName": user,
            "TargetDomainName": "", "Status": "0xc000006d", "FailureReason": "%%2313",
            "SubStatus": sub, "LogonType": str(logon_type), "LogonProcessName": "NtLmSsp ",
            "AuthenticationPackageName": "NTLM", "WorkstationName": workstation,
            "TransmittedServices": "-", "LmPackageName": "-", "KeyLength": "0",
            "ProcessId": "0x0", "ProcessName": "-", "IpAddress": ip,
            "IpPort": str(self.rng.randint(49152, 65535))}})

    def credential_validation(self, ts: int, user: str, workstation: str,
                              status: str = "0x0") -> None:
        """4776 on a domain controller: an NTLM logon anywhere in the domain was checked here,
        naming the client computer (0xc000006a bad password, 0xc0000064 no such user)."""
        self._emit("security", ts, {"id": 4776, "pid": 572, "data": {
            "PackageName": "MICROSOFT_AUTHENTICATION_PACKAGE_V1_0", "TargetUserName": user,
            "Workstation": workstation, "Status": status}})

    def logoff(self, ts: int, s: Logon) -> None:
        self._emit("security", ts, {"id": 4634, "data": {
            "TargetUserSid": s.account.sid, "TargetUserName": s.account.sam,
            "TargetDomainName": s.account.domain, "TargetLogonId": s.logon_id,
            "LogonType": str(s.logon_type)}})

    def explicit_credentials(self, ts: int, s: Logon, target: Account, server: str,
                             server_ip: str, proc: Proc) -> None:
        """4648 on the source: a process used other credentials towards ``server``."""
        self._emit("security", ts, {"id": 4648, "pid": 636, "data": {
            "SubjectUserSid": s.account.sid, "SubjectUserName": s.account.sam,
            "SubjectDomainName": s.account.domain, "SubjectLogonId": s.logon_id,
            "LogonGuid": "{00000000-0000-0000-0000-000000000000}",
            "TargetUserName": target.sam, "TargetDomainName": target.domain,
            "TargetLogonGuid": "{00000000-0000-0000-0000-000000000000}",
            "TargetServerName": server, "TargetInfo": server,
            "ProcessId": f"0x{proc.pid:x}", "ProcessName": proc.image,
            "IpAddress": server_ip, "IpPort": "445"}})

    # -- processes (Sysmon 1 + 4688 only with full telemetry) ---------------------------

    def spawn(self, ts: int, image: str, cmdline: str, parent: Proc | None, s: Logon | None,
              integrity: str = "High", pe: dict[str, str] | None = None) -> Proc:
        """Process creation; ``pe`` overrides the version-resource fields Sysmon reports
        (OriginalFileName survives a rename of the binary)."""
        self._pid += self.rng.randint(4, 400) // 4 * 4
        p = Proc(image, self._pid, guid(self.rng), cmdline, integrity)
        parent = parent or Proc(f"{SYSTEM32}\\services.exe", 612, guid(self.rng), "")
        user = s.account.qualified if s else "NT AUTHORITY\\SYSTEM"
        logon_id = s.logon_id if s else "0x3e7"
        if self.full:
            self._emit("sysmon", ts, {"id": 1, "pid": 2020, "tid": 3120, "user": SYSTEM_SID,
                                      "data": {
                "RuleName": "-", "UtcTime": sysmon_utc(ts), "ProcessGuid": p.guid,
                "ProcessId": p.pid, "Image": image, "FileVersion": "-", "Description": "-",
                "Product": "-", "Company": "-", "OriginalFileName": image.rsplit("\\", 1)[-1],
                "CommandLine": cmdline, "CurrentDirectory": f"{SYSTEM32}\\", "User": user,
                "LogonGuid": guid(self.rng), "LogonId": logon_id,
                "TerminalSessionId": 2 if s and s.logon_type == 10 else 0,
                "IntegrityLevel": integrity, "Hashes": hashes(self.rng),
                "ParentProcessGuid": parent.guid, "ParentProcessId": parent.pid,
                "ParentImage": parent.image, "ParentCommandLine": parent.cmdline,
                "ParentUser": user, **(pe or {})}})
            self._emit("security", ts, {"id": 4688, "pid": 4, "data": {
                "SubjectUserSid": s.account.sid if s else SYSTEM_SID,
                "SubjectUserName": s.account.sam if s else f"{self.name}$",
                "SubjectDomainName": s.account.domain if s else NETBIOS,
                "SubjectLogonId": logon_id, "NewProcessId": f"0x{p.pid:x}",
                "NewProcessName": image, "TokenElevationType": "%%1937",
                "ProcessId": f"0x{parent.pid:x}", "CommandLine": cmdline}})
        return p

    def process_access(self, ts: int, source: Proc, target_image: str, target_pid: int,
                       access: str, user: str) -> None:
        if self.full:
            self._emit("sysmon", ts, {"id": 10, "pid": 2020, "tid": 3120, "user": SYSTEM_SID,
                                      "data": {
                "RuleName": "-", "UtcTime": sysmon_utc(ts), "SourceProcessGUID": source.guid,
                "SourceProcessId": source.pid, "SourceThreadId": self.rng.randint(1000, 9000),
                "SourceImage": source.image, "TargetProcessGUID": guid(self.rng),
                "TargetProcessId": target_pid, "TargetImage": target_image,
                "GrantedAccess": access,
                "CallTrace": f"{SYSTEM32}\\ntdll.dll+9d4c4|{SYSTEM32}\\dbgcore.DLL+61ba|"
                             f"{SYSTEM32}\\comsvcs.dll+3a6b1",
                "SourceUser": user, "TargetUser": "NT AUTHORITY\\SYSTEM"}})

    def file_created(self, ts: int, proc: Proc, path: str, user: str) -> None:
        if self.full:
            self._emit("sysmon", ts, {"id": 11, "pid": 2020, "tid": 3120, "user": SYSTEM_SID,
                                      "data": {
                "RuleName": "-", "UtcTime": sysmon_utc(ts), "ProcessGuid": proc.guid,
                "ProcessId": proc.pid, "Image": proc.image, "TargetFilename": path,
                "CreationUtcTime": sysmon_utc(ts), "User": user}})

    def registry_set(self, ts: int, proc: Proc, key: str, value: str, user: str) -> None:
        if self.full:
            self._emit("sysmon", ts, {"id": 13, "pid": 2020, "tid": 3120, "user": SYSTEM_SID,
                                      "data": {
                "RuleName": "-", "EventType": "SetValue", "UtcTime": sysmon_utc(ts),
                "ProcessGuid": proc.guid, "ProcessId": proc.pid, "Image": proc.image,
                "TargetObject": key, "Details": value, "User": user}})

    def connect(self, ts: int, proc: Proc, dst_ip: str, dport: int, user: str) -> None:
        if self.full:
            self._emit("sysmon", ts, {"id": 3, "pid": 2020, "tid": 3120, "user": SYSTEM_SID,
                                      "data": {
                "RuleName": "-", "UtcTime": sysmon_utc(ts), "ProcessGuid": proc.guid,
                "ProcessId": proc.pid, "Image": proc.image, "User": user, "Protocol": "tcp",
                "Initiated": True, "SourceIsIpv6": False, "SourceIp": self.ip,
                "SourceHostname": self.fqdn, "SourcePort": self.rng.randint(49200, 65000),
                "SourcePortName": "", "DestinationIsIpv6": False, "DestinationIp": dst_ip,
                "DestinationHostname": "", "DestinationPort": dport,
                "DestinationPortName": {445: "microsoft-ds", 443: "https",
                                        22: "ssh", 3389: "ms-wbt-server"}.get(dport, "")}})

    # -- shares and services ------------------------------------------------------------

    def share_access(self, ts: int, s: Logon, share: str, local: str, rel: str,
                     mask: str = "0x12019f",
                     access: str = "%%1538 %%1541 %%4416 %%4417 %%4418 %%4419 %%4420 "
                                   "%%4423 %%4424") -> None:
        """5140 then 5145 (needs "Detailed File Share" auditing, off by default)."""
        if not self.audit_shares:
            return
        subject = {"SubjectUserSid": s.account.sid, "SubjectUserName": s.account.sam,
                   "SubjectDomainName": s.account.domain, "SubjectLogonId": s.logon_id}
        self._emit("security", ts, {"id": 5140, "data": {
            **subject, "ObjectType": "File", "IpAddress": s.ip, "IpPort": str(s.port),
            "ShareName": f"\\\\*\\{share}", "ShareLocalPath": local, "AccessMask": "0x1",
            "AccessList": "%%4416"}})
        self._emit("security", ts + 3, {"id": 5145, "data": {
            **subject, "ObjectType": "File", "IpAddress": s.ip, "IpPort": str(s.port),
            "ShareName": f"\\\\*\\{share}", "ShareLocalPath": local, "RelativeTargetName": rel,
            "AccessMask": mask, "AccessList": access, "AccessReason": "-"}})

    def service_installed(self, ts: int, name: str, image: str, account: str = "LocalSystem",
                          start: str = "demand start") -> None:
        self._emit("system", ts, {"id": 7045, "pid": 612, "user": SYSTEM_SID, "data": {
            "ServiceName": name, "ImagePath": image, "ServiceType": "user mode service",
            "StartType": start, "AccountName": account}})

    def service_state(self, ts: int, name: str, running: bool) -> None:
        """7036 from a ja-JP server: param2 is the localised state, Binary the service key."""
        self._emit("system", ts, {"id": 7036, "pid": 612, "data": {
            "param1": name, "param2": "実行中" if running else "停止",
            "Binary": (name.encode("utf-16-le") + b"\0\0").hex().upper()}})

    def task_registered(self, ts: int, name: str, user: str) -> None:
        """106: a scheduled task was registered (TaskScheduler/Operational)."""
        self._emit("tasks", ts, {"id": 106, "pid": 1280, "user": SYSTEM_SID, "data": {
            "TaskName": name, "UserContext": user}})

    # -- Defender -----------------------------------------------------------------------

    def defender_setting(self, ts: int, old: str, new: str) -> None:
        """5007: the configuration changed; Old/New Value are "HKLM\\...\\Name = value"."""
        self._emit("defender", ts, {"id": 5007, "data": {
            "Product Name": "Microsoft Defender Antivirus", "Product Version": "4.18.2302.7",
            "Old Value": old, "New Value": new}})

    def defender_rtp_off(self, ts: int) -> None:
        self._emit("defender", ts, {"id": 5001, "data": {
            "Product Name": "Microsoft Defender Antivirus", "Product Version": "4.18.2302.7"}})

    def defender_detection(self, ts: int, threat: str, severity: str, category: str,
                           path: str, user: str, process: str) -> None:
        """1116 (detected) and 1117 (action taken: quarantined)."""
        tid = str(self.rng.randint(2147700000, 2147800000))
        common = {"Product Name": "Microsoft Defender Antivirus",
                  "Product Version": "4.18.2302.7",
                  "Detection ID": "{" + guid(self.rng).strip("{}") + "}",
                  "Detection Time": sysmon_utc(ts).replace(" ", "T") + "Z",
                  "Threat ID": tid, "Threat Name": threat, "Severity ID": "5",
                  "Severity Name": severity, "Category ID": "34", "Category Name": category,
                  "FWLink": f"https://go.microsoft.com/fwlink/?linkid=37020&name={threat}"
                            f"&threatid={tid}&enterprise=0",
                  "Status Code": "1", "State": "1", "Source ID": "3",
                  "Source Name": "Real-Time Protection", "Process Name": process,
                  "Detection User": user, "Path": f"file:_{path}", "Origin ID": "1",
                  "Origin Name": "Local machine", "Execution ID": "1",
                  "Execution Name": "Suspended", "Type ID": "0", "Type Name": "Concrete",
                  "Pre Execution Status": "0", "Engine Version": "1.1.20100.6",
                  "Signature Version": "1.385.1234.0"}
        self._emit("defender", ts, {"id": 1116, "data": common})
        self._emit("defender", ts + 900, {"id": 1117, "data": {
            **common, "Action ID": "2", "Action Name": "Quarantine",
            "Error Code": "0x00000000", "Error Description": "この操作を正しく終了しました。"}})

    # -- PowerShell ---------------------------------------------------------------------

    def powershell(self, ts: int, host_app: str, script: str, user: str,
                   block_logged: bool = True) -> None:
        """400 (engine start, HostApplication), 600 per provider, 4104 and 403.

        Without script-block logging turned on, Windows still writes 4104 (as a warning)
        for blocks that look suspicious; an ordinary script leaves 400/600/403 only.
        """
        runspace = guid(self.rng).strip("{}").lower()
        host_id = guid(self.rng).strip("{}").lower()

        def details(state: str, prev: str, seq: int) -> str:
            return (f"NewEngineState={state}\n\tPreviousEngineState={prev}\n\n"
                    f"\tSequenceNumber={seq}\n\n\tHostName=ConsoleHost\n\tHostVersion=5.1.17763.316"
                    f"\n\tHostId={host_id}\n\tHostApplication={host_app}\n"
                    f"\tEngineVersion=5.1.17763.316\n\tRunspaceId={runspace}\n\tPipelineId=\n"
                    "\tCommandName=\n\tCommandType=\n\tScriptName=\n\tCommandPath=\n"
                    "\tCommandLine=")

        for i, prov in enumerate(("Registry", "Alias", "Environment", "FileSystem",
                                  "Function", "Variable")):
            self._emit("ps", ts + i, {"id": 600, "data": [
                prov, "Started",
                f"ProviderName={prov}\n\tNewProviderState=Started\n\n\tSequenceNumber={i + 1}"
                f"\n\n\tHostName=ConsoleHost\n\tHostVersion=5.1.17763.316\n\tHostId={host_id}"
                f"\n\tHostApplication={host_app}\n\tEngineVersion=\n\tRunspaceId=\n"
                "\tPipelineId=\n\tCommandName=\n\tCommandType=\n\tScriptName=\n"
                "\tCommandPath=\n\tCommandLine="]})
        self._emit("ps", ts + 40, {"id": 400, "data": ["Available", "None",
                                                        details("Available", "None", 13)]})
        if block_logged:
            self._emit("psop", ts + 120, {"id": 4104, "pid": 4420, "user": user, "data": {
                "MessageNumber": 1, "MessageTotal": 1, "ScriptBlockText": script,
                "ScriptBlockId": guid(self.rng).strip("{}").lower(), "Path": ""}})
        self._emit("ps", ts + 2_500, {"id": 403, "data": ["Stopped", "Available",
                                                           details("Stopped", "Available", 15)]})

    # -- backup software ----------------------------------------------------------------

    def veeam(self, ts: int, eid: int, data: Data) -> None:
        """Veeam B&R's own event (documented parameters as named data)."""
        self._emit("veeam", ts, {"id": eid, "pid": 3412, "data": data})

    def backup_catalog_deleted(self, ts: int) -> None:
        """524 from Windows Server Backup: "The backup catalog has been deleted"."""
        self._emit("application", ts, {"id": 524, "pid": 2280, "user": SYSTEM_SID, "data": {}})

    # -- remote desktop -----------------------------------------------------------------

    def rdp_connection(self, ts: int, account: Account, ip: str) -> None:
        """1149: the connection passed network-level authentication (not yet a logon)."""
        self._emit("rcm", ts, {"id": 1149, "pid": 1048, "user": "S-1-5-20", "user_data": {
            "Param1": account.sam, "Param2": account.domain, "Param3": ip}})

    def rdp_session(self, ts: int, eid: int, account: Account, session: int, ip: str) -> None:
        """21 logon, 22 shell start, 23 logoff, 24 disconnected, 25 reconnected."""
        data: Data = {"User": account.qualified, "SessionID": session}
        if eid != 23:  # "Session logoff succeeded" names no address
            data["Address"] = ip
        self._emit("lsm", ts, {"id": eid, "pid": 1048, "user": SYSTEM_SID, "user_data": data})

    # -- log clearing -------------------------------------------------------------------

    def clear_log(self, ts: int, channel: str, who: Account, logon_id: str) -> None:
        """``wevtutil cl``: 1102 opens the emptied Security log; 104 in System for the rest."""
        if channel == "security":
            self._emit("security", ts, {"id": 1102, "pid": 1016, "tid": 5204, "user_data": {
                "SubjectUserSid": who.sid, "SubjectUserName": who.sam,
                "SubjectDomainName": who.domain, "SubjectLogonId": logon_id}})
        else:
            self._emit("system", ts, {"id": 104, "pid": 1016, "tid": 5204, "user": who.sid,
                                      "user_data": {
                "SubjectUserName": who.sam, "SubjectDomainName": who.domain,
                "Channel": CHANNELS[channel], "BackupPath": ""}})
