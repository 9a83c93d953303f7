"""A PC whose logs the responders collected: its Security and Sysmon channels and its $MFT.

Only a handful of PCs are collected (the suspect and a few others), so per-host detail here
does not grow with scale. Every method emits the events a Windows 7 client with Sysmon and
process-creation auditing (KB3004375 command lines) would write, and keeps the MFT in step.
"""

from __future__ import annotations

from dataclasses import dataclass

from ashiato.lab.clock import DAY, at, sysmon_utc
from ashiato.lab.ids import alnum, guid, hashes, rng_for
from ashiato.lab.share import TREE, fill_name, size_for
from ashiato.lab.sink import Data, Sink
from ashiato.lab.world import NETBIOS, Host
from ashiato.lab.writers.mftecmd import MftEntry

SYSTEM32 = "C:\\Windows\\System32"
EXPLORER = "C:\\Windows\\explorer.exe"
USERINIT = f"{SYSTEM32}\\userinit.exe"
WINLOGON = f"{SYSTEM32}\\winlogon.exe"
IEXPLORE = "C:\\Program Files\\Internet Explorer\\iexplore.exe"
OFFICE = "C:\\Program Files\\Microsoft Office\\Office14"
OUTLOOK = f"{OFFICE}\\OUTLOOK.EXE"
EXCEL = f"{OFFICE}\\EXCEL.EXE"
WINWORD = f"{OFFICE}\\WINWORD.EXE"
WSCRIPT = f"{SYSTEM32}\\wscript.exe"
VSSADMIN = f"{SYSTEM32}\\vssadmin.exe"


@dataclass(slots=True)
class Proc:
    image: str
    pid: int
    guid: str
    cmdline: str
    integrity: str = "Medium"


class Mft:
    """The C: volume's MFT, reduced to the system binaries and the user's profile."""

    def __init__(self, seq_seed: int) -> None:
        self.entries: list[MftEntry] = []
        self.live: dict[str, MftEntry] = {}  # upper-cased path -> entry in use
        self._next = 30_000 + seq_seed % 5_000
        self._usn = 400_000_000 + seq_seed % 1_000_000

    def _parent(self, path: str, ts: int) -> MftEntry | None:
        parent = path.rpartition("\\")[0]
        if parent.endswith(":"):  # C: root is entry 5
            return None
        return self.live.get(parent.upper()) or self.add(parent, 0, ts, is_dir=True)

    def add(self, path: str, size: int, ts: int, *, is_dir: bool = False,
            zone: str | None = None, modified: int | None = None) -> MftEntry:
        parent = self._parent(path, ts)
        parent_path = "." + path[2:].rpartition("\\")[0]
        self._next += 1
        self._usn += 96
        e = MftEntry(self._next, 1 + self._next % 5, parent.entry if parent else 5,
                     parent.seq if parent else 5, parent_path, path.rpartition("\\")[2], size,
                     is_dir, True, ts, modified if modified is not None else ts, ts,
                     1200 + self._next % 400, self._usn, zone)
        self.entries.append(e)
        self.live[path.upper()] = e
        return e

    def delete(self, path: str, ts: int) -> MftEntry:
        e = self.live.pop(path.upper())
        e.in_use = False
        e.changed = ts
        return e

    def files_under(self, folder: str) -> list[tuple[str, MftEntry]]:
        """Live files below ``folder`` (recursive), with their full paths."""
        prefix = "." + folder[2:].upper()
        out = []
        for e in self.live.values():
            pp = e.parent_path.upper()
            if not e.is_dir and (pp == prefix or pp.startswith(prefix + "\\")):
                out.append(("C:" + e.parent_path[1:] + "\\" + e.name, e))
        return out


class Endpoint:
    def __init__(self, host: Host, seed: int, sink: Sink, *, proc_audit: bool = True) -> None:
        self.host = host
        self.proc_audit = proc_audit  # "Audit Process Creation" with command lines (off by default)
        self.sink = sink
        self.rng = rng_for(seed, "endpoint", host.short)
        self.sec_key = f"ep:{host.short}:security"
        self.sys_key = f"ep:{host.short}:sysmon"
        self.profile = f"C:\\Users\\{host.user.sam}"
        self.mft = Mft(sum(map(ord, host.name)))
        self.logon_id = "0x3e7"
        self.logon_guid = guid(self.rng)
        self.explorer: Proc | None = None
        self.browser: Proc | None = None
        self._pid = 1200
        self.system = Proc("System", 4, guid(self.rng), "")
        self.cache_dirs = [alnum(self.rng, 8).upper() for _ in range(4)]
        self._seed_profile()

    def _seed_profile(self) -> None:
        """What the disk held before day 0: binaries, profile folders, the user's documents."""
        rng = self.rng
        t = at(-400, 9)
        for exe in (EXPLORER, USERINIT, WINLOGON, WSCRIPT, VSSADMIN, f"{SYSTEM32}\\cmd.exe",
                    IEXPLORE, OUTLOOK, EXCEL, WINWORD):
            self.mft.add(exe, rng.randint(180_000, 3_000_000), t)
        for sub in ("Desktop", "Documents", "Downloads", "AppData\\Roaming"):
            self.mft.add(f"{self.profile}\\{sub}", 0, t + DAY, is_dir=True)
        self.mft.add(self.temp, 0, t + DAY, is_dir=True)
        for d in self.cache_dirs:
            self.mft.add(f"{self.ie_cache}\\{d}", 0, t + DAY, is_dir=True)
        templates = [tpl for subs in TREE.values() for tpls in subs.values() for tpl in tpls]
        for n in range(rng.randint(18, 30)):
            folder = "Desktop" if n % 4 == 0 else "Documents"
            name = fill_name(rng.choice(templates), rng, n + 1)
            path = f"{self.profile}\\{folder}\\{name}"
            if path.upper() in self.mft.live:
                continue
            created = t + rng.randint(2, 390) * DAY
            self.mft.add(path, size_for(name, rng), created,
                         modified=created + rng.randint(0, 5) * DAY)

    @property
    def temp(self) -> str:
        return f"{self.profile}\\AppData\\Local\\Temp"

    @property
    def ie_cache(self) -> str:
        return (f"{self.profile}\\AppData\\Local\\Microsoft\\Windows\\Temporary Internet Files"
                "\\Content.IE5")

    # -- raw emitters --------------------------------------------------------------------

    def _sec(self, ts: int, eid: int, data: Data, pid: int = 512) -> None:
        self.sink.emit(self.sec_key, ts, {"id": eid, "data": data, "pid": pid,
                                          "tid": 600 + self.rng.randint(0, 300)})

    def _sysmon(self, ts: int, eid: int, data: Data) -> None:
        self.sink.emit(self.sys_key, ts, {"id": eid, "data": data, "pid": 1460, "tid": 1788,
                                          "user": "S-1-5-18"})

    def _user(self) -> str:
        return f"{NETBIOS}\\{self.host.user.sam}"

    # -- what happens on the PC --------------------------------------------------------------

    def logon(self, ts: int, ip: str) -> None:
        """Interactive logon at the start of the day: 4624 type 2, then userinit -> explorer."""
        self.logon_id = f"0x{self.rng.randint(0x100000, 0xFFFFFF):x}"
        self.logon_guid = guid(self.rng)
        u = self.host.user
        self._sec(ts, 4624, {
            "SubjectUserSid": "S-1-5-18", "SubjectUserName": f"{self.host.name}$",
            "SubjectDomainName": NETBIOS, "SubjectLogonId": "0x3e7", "TargetUserSid": u.sid,
            "TargetUserName": u.sam, "TargetDomainName": NETBIOS,
            "TargetLogonId": self.logon_id, "LogonType": 2, "LogonProcessName": "User32 ",
            "AuthenticationPackageName": "Negotiate", "WorkstationName": self.host.name,
            "LogonGuid": self.logon_guid, "TransmittedServices": "-", "LmPackageName": "-",
            "KeyLength": 0, "ProcessId": "0x1f0", "ProcessName": WINLOGON,
            "IpAddress": "127.0.0.1", "IpPort": "0",
        })
        winlogon = Proc(WINLOGON, 496, guid(self.rng), "winlogon.exe")
        init = self.spawn(ts + 900, USERINIT, USERINIT, winlogon)
        self.explorer = self.spawn(ts + 1800, EXPLORER, EXPLORER, init)
        self.browser = None

    def logoff(self, ts: int) -> None:
        u = self.host.user
        self._sec(ts, 4647, {"TargetUserSid": u.sid, "TargetUserName": u.sam,
                             "TargetDomainName": NETBIOS, "TargetLogonId": self.logon_id})

    def spawn(self, ts: int, image: str, cmdline: str, parent: Proc | None,
              integrity: str = "Medium") -> Proc:
        """Process creation: Sysmon 1 and Security 4688 (v1, with command line)."""
        parent = parent or self.explorer or self.system
        self._pid += self.rng.randint(4, 400) // 4 * 4
        p = Proc(image, self._pid, guid(self.rng), cmdline, integrity)
        cwd = self.profile + "\\" if image.lower() != WSCRIPT.lower() else self.temp + "\\"
        self._sysmon(ts, 1, {
            "UtcTime": sysmon_utc(ts), "ProcessGuid": p.guid, "ProcessId": p.pid,
            "Image": image, "CommandLine": cmdline, "CurrentDirectory": cwd,
            "User": self._user(), "LogonGuid": self.logon_guid, "LogonId": self.logon_id,
            "TerminalSessionId": 1, "IntegrityLevel": integrity, "Hashes": hashes(self.rng),
            "ParentProcessGuid": parent.guid, "ParentProcessId": parent.pid,
            "ParentImage": parent.image, "ParentCommandLine": parent.cmdline,
        })
        u = self.host.user
        if not self.proc_audit:
            return p
        self._sec(ts, 4688, {
            "SubjectUserSid": u.sid, "SubjectUserName": u.sam, "SubjectDomainName": NETBIOS,
            "SubjectLogonId": self.logon_id, "NewProcessId": f"0x{p.pid:x}",
            "NewProcessName": image,
            "TokenElevationType": "%%1938" if integrity != "High" else "%%1937",
            "ProcessId": f"0x{parent.pid:x}", "CommandLine": cmdline,
        }, pid=4)
        return p

    def ensure_browser(self, ts: int) -> Proc:
        if self.browser is None:
            self.browser = self.spawn(ts, IEXPLORE, f'"{IEXPLORE}" ', self.explorer)
        return self.browser

    def connect(self, ts: int, proc: Proc, src_ip: str, dst_ip: str, dport: int,
                dst_host: str = "") -> None:
        self._sysmon(ts, 3, {
            "UtcTime": sysmon_utc(ts), "ProcessGuid": proc.guid, "ProcessId": proc.pid,
            "Image": proc.image, "User": self._user() if proc.pid != 4 else "NT AUTHORITY\\SYSTEM",
            "Protocol": "tcp", "Initiated": True, "SourceIsIpv6": False, "SourceIp": src_ip,
            "SourceHostname": self.host.fqdn, "SourcePort": self.rng.randint(49200, 65000),
            "SourcePortName": "", "DestinationIsIpv6": False, "DestinationIp": dst_ip,
            "DestinationHostname": dst_host, "DestinationPort": dport,
            "DestinationPortName": {80: "http", 443: "https", 445: "microsoft-ds",
                                    25: "smtp"}.get(dport, ""),
        })

    def dns(self, ts: int, proc: Proc, name: str, answer: str) -> None:
        self._sysmon(ts, 22, {
            "UtcTime": sysmon_utc(ts), "ProcessGuid": proc.guid, "ProcessId": proc.pid,
            "QueryName": name, "QueryStatus": "0", "QueryResults": f"::ffff:{answer};",
            "Image": proc.image,
        })

    def create_file(self, ts: int, proc: Proc, path: str, size: int, *,
                    zone: str | None = None) -> MftEntry:
        """Sysmon 11 and a new MFT entry."""
        self._sysmon(ts, 11, {
            "UtcTime": sysmon_utc(ts), "ProcessGuid": proc.guid, "ProcessId": proc.pid,
            "Image": proc.image, "TargetFilename": path, "CreationUtcTime": sysmon_utc(ts),
        })
        return self.mft.add(path, size, ts, zone=zone)

    def clear_security_log(self, ts: int) -> None:
        """``wevtutil cl Security``: the 1102 is the first record of the emptied log."""
        u = self.host.user
        self.sink.emit(self.sec_key, ts, {"id": 1102, "pid": 812, "tid": 2644, "user_data": {
            "SubjectUserSid": u.sid, "SubjectUserName": u.sam, "SubjectDomainName": NETBIOS,
            "SubjectLogonId": self.logon_id}})

