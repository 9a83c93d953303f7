"""Hands-on-keyboard building blocks shared by the intrusion storylines.

An operator, not a program, works through the network: a remote login, credentials taken
from LSASS, PsExec to the servers, Defender told to look away, shadow copies and logs
removed, then an encryptor run on the file server itself. Each step emits what the hosts
really log for it (see :mod:`ashiato.lab.winhost`) and records the truth as it goes:
compromised hosts (first malicious time), accounts, lateral edges and ATT&CK techniques.
"""

from __future__ import annotations

import functools
import random
from dataclasses import dataclass, field
from typing import Any

from ashiato.lab.clock import SECOND, iso_utc
from ashiato.lab.context import Ctx
from ashiato.lab.endpoint import Proc
from ashiato.lab.ids import alnum
from ashiato.lab.share import ROOT, FileEntry
from ashiato.lab.sink import StreamSpec
from ashiato.lab.story import Encrypted
from ashiato.lab.winhost import CHANNELS, CMD, POWERSHELL, SYSTEM32, Account, Logon, WinHost
from ashiato.lab.world import DOMAIN, DOMAIN_SID, SERVERS
from ashiato.lab.writers.winevt import jsonl_renderer

VARIANTS = ("full", "default-logging")
FS_IP = SERVERS["FS01"].ip
EARLIEST = -(1 << 62)
TECHNIQUES = {
    "T1110.001": "Brute Force: Password Guessing",
    "T1110.003": "Brute Force: Password Spraying",
    "T1133": "External Remote Services",
    "T1078.002": "Valid Accounts: Domain Accounts",
    "T1021.001": "Remote Services: Remote Desktop Protocol",
    "T1003.001": "OS Credential Dumping: LSASS Memory",
    "T1136.002": "Create Account: Domain Account",
    "T1098": "Account Manipulation",
    "T1570": "Lateral Tool Transfer",
    "T1021.002": "Remote Services: SMB/Windows Admin Shares",
    "T1569.002": "System Services: Service Execution",
    "T1047": "Windows Management Instrumentation",
    "T1562.001": "Impair Defenses: Disable or Modify Tools",
    "T1490": "Inhibit System Recovery",
    "T1070.001": "Indicator Removal: Clear Windows Event Logs",
    "T1560.001": "Archive Collected Data: Archive via Utility",
    "T1567.002": "Exfiltration Over Web Service: Exfiltration to Cloud Storage",
    "T1036.003": "Masquerading: Rename System Utilities",
    "T1021.004": "Remote Services: SSH",
    "T1529": "System Shutdown/Reboot",
    "T1486": "Data Encrypted for Impact",
    "T1219": "Remote Access Software",
    "T1543.003": "Create or Modify System Process: Windows Service",
    "T1053.005": "Scheduled Task/Job: Scheduled Task",
}
PSEXESVC = "PSEXESVC"


@dataclass(slots=True)
class Edge:
    source: str
    target: str
    account: str
    technique: str
    first: int
    last: int


@dataclass
class Intrusion:
    """The operator's state and the truth it leaves behind."""

    variant: str
    rng: random.Random
    hosts: dict[str, WinHost] = field(default_factory=dict)
    dc: WinHost | None = None  # where NTLM logons are validated (4776)
    compromised: dict[str, int] = field(default_factory=dict)  # host -> first malicious
    accounts: dict[str, dict[str, Any]] = field(default_factory=dict)
    edges: list[Edge] = field(default_factory=list)
    techniques: dict[str, dict[str, Any]] = field(default_factory=dict)
    entry: dict[str, Any] = field(default_factory=dict)
    cleared: list[dict[str, Any]] = field(default_factory=list)
    details: dict[str, Any] = field(default_factory=dict)

    @property
    def full(self) -> bool:
        return self.variant == "full"

    def compromise(self, host: str, ts: int) -> None:
        if host not in self.compromised or ts < self.compromised[host]:
            self.compromised[host] = ts

    def account(self, acct: Account, role: str, how: str, ts: int) -> None:
        a = self.accounts.setdefault(acct.qualified, {
            "account": acct.qualified, "sam": acct.sam, "roles": [], "evidence": [],
            "first_used": iso_utc(ts)})
        if role not in a["roles"]:
            a["roles"].append(role)
        if how not in a["evidence"]:
            a["evidence"].append(how)

    def technique(self, tid: str, host: str, ts: int) -> None:
        t = self.techniques.setdefault(tid, {"id": tid, "name": TECHNIQUES[tid], "hosts": [],
                                             "first": ts})
        if host not in t["hosts"]:
            t["hosts"].append(host)
        t["first"] = min(t["first"], ts)

    def edge(self, source: str, target: str, account: str, technique: str, ts: int) -> None:
        for e in self.edges:
            if (e.source, e.target, e.account, e.technique) == (source, target, account,
                                                                 technique):
                e.last = max(e.last, ts)
                return
        self.edges.append(Edge(source, target, account, technique, ts, ts))

    def truth(self) -> dict[str, Any]:
        first = min(self.compromised.items(), key=lambda kv: kv[1])
        return {
            "entry": self.entry,
            "compromised_hosts": [{"host": h, "first_malicious": iso_utc(t)}
                                  for h, t in sorted(self.compromised.items(),
                                                     key=lambda kv: kv[1])],
            "patient_zero_host": first[0],
            "accounts": list(self.accounts.values()),
            "lateral": [{"source": e.source, "target": e.target, "account": e.account,
                         "technique": e.technique, "first": iso_utc(e.first),
                         "last": iso_utc(e.last)} for e in self.edges],
            "techniques": [{**t, "first": iso_utc(t["first"])}
                           for t in sorted(self.techniques.values(), key=lambda t: t["first"])],
            "logs_cleared": [dict(c) for c in self.cleared],
            **self.details,
        }


# -- evidence streams --------------------------------------------------------------------


def server_streams(name: str, chans: tuple[str, ...], variant: str,
                   lost: dict[str, int] | None = None,
                   existing: dict[str, str] | None = None) -> tuple[list[StreamSpec],
                                                                    dict[str, str]]:
    """evtx_dump JSON lines per channel of one server, as `evidence/endpoint/<host>/`.

    ``existing`` maps channels already written elsewhere (FS01's Security goes to the
    file-server audit export) to their sink keys; ``lost`` gives the instant a channel was
    cleared, before which its records are numbered but gone.
    """
    short = name.lower()
    keys = dict(existing or {})
    specs: list[StreamSpec] = []
    for chan in chans:
        if chan == "sysmon" and variant != "full":
            continue  # no Sysmon in the default-logging variant
        if chan in keys:
            continue
        channel = CHANNELS[chan]
        key = f"srv:{short}:{chan}"
        keys[chan] = key
        cleared = (lost or {}).get(chan)
        specs.append(StreamSpec(
            key, "endpoint", f"evidence/endpoint/{short}/{channel.replace('/', '%4')}.jsonl",
            jsonl_renderer(channel, f"{name}.{DOMAIN}"), "evtx-jsonl", short, "UTC", True,
            lost=((EARLIEST, cleared),) if cleared is not None else ()))
    return specs, keys


# -- steps --------------------------------------------------------------------------------


def rdp_logon(intr: Intrusion, host: WinHost, ts: int, acct: Account, ip: str,
              client: str, *, admin: bool) -> Logon:
    """NLA passed (1149), the RemoteInteractive logon (4624 type 10) and its session (21/22)."""
    if intr.dc is not None:  # NLA from a machine outside the domain: NTLM, checked by the DC
        intr.dc.credential_validation(ts + 200, acct.sam, client)
    host.rdp_connection(ts, acct, ip)
    s = host.logon(ts + 700, acct, 10, ip, client, admin=admin)
    host.rdp_session(ts + 1_400, 21, acct, 2, ip)
    host.rdp_session(ts + 1_500, 22, acct, 2, ip)
    intr.compromise(host.short, ts)
    intr.technique("T1021.001", host.short, ts)
    return s


def dump_lsass(intr: Intrusion, host: WinHost, ts: int, s: Logon, tool: str,
               shell: Proc) -> str:
    """LSASS memory to a file: comsvcs.dll MiniDump or procdump; returns the dump path."""
    lsass_pid = 600 + intr.rng.randint(0, 60) * 4
    if tool == "comsvcs":
        dump = f"C:\\Users\\Public\\{alnum(intr.rng, 4)}.dmp"
        image = f"{SYSTEM32}\\rundll32.exe"
        cmd = f"rundll32.exe C:\\windows\\System32\\comsvcs.dll, MiniDump {lsass_pid} {dump} full"
    else:
        dump = f"C:\\ProgramData\\{alnum(intr.rng, 5)}.dmp"
        image = "C:\\ProgramData\\procdump64.exe"
        cmd = f"procdump64.exe -accepteula -ma lsass.exe {dump}"
    p = host.spawn(ts, image, cmd, shell, s)
    host.process_access(ts + 150, p, f"{SYSTEM32}\\lsass.exe", lsass_pid,
                        "0x1FFFFF" if tool == "comsvcs" else "0x1fffff", s.account.qualified)
    host.file_created(ts + 2_400, p, dump, s.account.qualified)
    intr.technique("T1003.001", host.short, ts)
    return dump


@dataclass(slots=True)
class PsExecRun:
    logon: Logon
    service: Proc
    started: int


def psexec(intr: Intrusion, src: WinHost, dst: WinHost, ts: int, s: Logon, tool: Proc,
           acct: Account, *, copy: str | None = None) -> PsExecRun:
    """PsExec from ``src`` to ``dst`` by address (NTLM, so the target logs our name).

    Source: 4648 naming the target and Sysmon 3 to 445. Target: 4624 type 3 and 4672 with one
    LogonId, 5145 on IPC$ (svcctl) and ADMIN$ (PSEXESVC.exe, the copied program), 7045 for
    PSEXESVC and 7036, then the stdin/stdout/stderr pipes named after the source computer.
    """
    src.explicit_credentials(ts, s, acct, dst.ip, dst.ip, tool)
    src.connect(ts + 20, tool, dst.ip, 445, s.account.qualified)
    t = ts + 250
    if intr.dc is not None:
        intr.dc.credential_validation(t - 60, acct.sam, src.name)
    remote = dst.logon(t, acct, 3, src.ip, src.name, admin=True)
    dst.share_access(t + 40, remote, "IPC$", "", "svcctl", "0x3", "%%4416 %%4417")
    dst.share_access(t + 90, remote, "ADMIN$", "\\??\\C:\\Windows", "PSEXESVC.exe",
                     "0x2", "%%4417")
    if copy:
        dst.share_access(t + 140, remote, "ADMIN$", "\\??\\C:\\Windows",
                         copy.rsplit("\\", 1)[-1], "0x2", "%%4417")
    dst.service_installed(t + 400, PSEXESVC, "%SystemRoot%\\PSEXESVC.exe")
    dst.service_state(t + 650, PSEXESVC, True)
    svc = dst.spawn(t + 600, "C:\\Windows\\PSEXESVC.exe", "C:\\Windows\\PSEXESVC.exe", None,
                    None, "System")
    for pipe in ("stdin", "stdout", "stderr"):
        dst.share_access(t + 900, remote, "IPC$", "",
                         f"{PSEXESVC}-{src.name}-{tool.pid}-{pipe}", "0x12019f")
    intr.compromise(dst.short, t)
    intr.edge(src.short, dst.short, acct.qualified, "psexec", t)
    for tid, host in (("T1021.002", dst.short), ("T1569.002", dst.short),
                      ("T1570", dst.short)):
        intr.technique(tid, host, t)
    intr.account(acct, "lateral", f"PsExec {src.short} -> {dst.short}", t)
    return PsExecRun(remote, svc, t)


def wmi_batch(intr: Intrusion, src: WinHost, dst: WinHost, ts: int, s: Logon, shell: Proc,
              acct: Account, password: str, batch: str) -> PsExecRun:
    """A batch file copied through ADMIN$, started with ``wmic /node: process call create``.

    Target: 4624 type 3 + 4672, 5145 on ADMIN$ for the batch, then cmd.exe whose parent is
    WmiPrvSE.exe (no service, so no 7045). Source: the wmic command line and 4648.
    """
    name = batch.rsplit("\\", 1)[-1]
    copy = src.spawn(ts, CMD, f"cmd.exe /c copy {name} \\\\{dst.ip}\\ADMIN$\\Temp\\{name}",
                     shell, s)
    src.explicit_credentials(ts + 50, s, acct, dst.ip, dst.ip, copy)
    if intr.dc is not None:
        intr.dc.credential_validation(ts + 150, acct.sam, src.name)
    remote = dst.logon(ts + 200, acct, 3, src.ip, src.name, admin=True)
    dst.share_access(ts + 260, remote, "ADMIN$", "\\??\\C:\\Windows", f"Temp\\{name}",
                     "0x2", "%%4417")
    t = ts + 20 * SECOND
    wmic = src.spawn(t, f"{SYSTEM32}\\wbem\\WMIC.exe",
                     f"wmic /node:{dst.ip} /user:{acct.qualified} /password:{password} "
                     f"process call create \"cmd.exe /c C:\\Windows\\Temp\\{name}\"", shell, s)
    src.connect(t + 30, wmic, dst.ip, 135, s.account.qualified)
    prv = dst.spawn(t + 400, f"{SYSTEM32}\\wbem\\WmiPrvSE.exe",
                    f"{SYSTEM32}\\wbem\\wmiprvse.exe -secured -Embedding", None, None, "System")
    run_shell = dst.spawn(t + 700, CMD, f"cmd.exe /c C:\\Windows\\Temp\\{name}", prv, remote)
    intr.compromise(dst.short, ts + 200)
    intr.edge(src.short, dst.short, acct.qualified, "wmi", ts + 200)
    for tid in ("T1047", "T1021.002", "T1570"):
        intr.technique(tid, dst.short, ts + 200)
    intr.account(acct, "lateral", f"WMI {src.short} -> {dst.short}", t)
    return PsExecRun(remote, run_shell, t + 700)


def impair_defender(intr: Intrusion, host: WinHost, ts: int, run: PsExecRun, shell: Proc,
                    exclusion: str) -> None:
    """Add-MpPreference exclusion + real-time monitoring off: PowerShell 400/600/4104, 5007."""
    script = (f"Add-MpPreference -ExclusionPath '{exclusion}'; "
              "Set-MpPreference -DisableRealtimeMonitoring $true")
    host_app = f"powershell.exe -ExecutionPolicy Bypass -NoProfile -Command \"{script}\""
    who = run.logon.account.qualified
    ps = host.spawn(ts, POWERSHELL, host_app, shell, run.logon)
    host.powershell(ts + 300, host_app, script, run.logon.account.sid)
    base = "HKLM\\SOFTWARE\\Microsoft\\Windows Defender"
    host.registry_set(ts + 1_200, ps, f"{base}\\Exclusions\\Paths\\{exclusion}",
                      "DWORD (0x00000000)", who)
    host.defender_setting(ts + 1_250, "", f"{base}\\Exclusions\\Paths\\{exclusion} = 0x0")
    host.defender_setting(ts + 1_800,
                          f"{base}\\Real-Time Protection\\DisableRealtimeMonitoring = 0x0",
                          f"{base}\\Real-Time Protection\\DisableRealtimeMonitoring = 0x1")
    host.defender_rtp_off(ts + 1_850)
    intr.technique("T1562.001", host.short, ts)


def delete_shadows(intr: Intrusion, host: WinHost, ts: int, run: PsExecRun,
                   shell: Proc) -> None:
    vss = f"{SYSTEM32}\\vssadmin.exe"
    host.spawn(ts, vss, "vssadmin.exe delete shadows /all /quiet", shell, run.logon)
    host.service_state(ts + 700, "Volume Shadow Copy", True)
    host.service_state(ts + 180_000, "Volume Shadow Copy", False)
    intr.technique("T1490", host.short, ts)


def clear_logs(intr: Intrusion, host: WinHost, ts: int, run: PsExecRun, shell: Proc,
               channels: tuple[str, ...]) -> None:
    """``wevtutil cl`` per channel, one second apart (the times are planned: streams lose
    every record written before them)."""
    wevtutil = f"{SYSTEM32}\\wevtutil.exe"
    for i, chan in enumerate(channels):
        t = ts + i * SECOND
        host.spawn(t - 200, wevtutil, f"wevtutil.exe cl {CHANNELS[chan]}", shell, run.logon)
        host.clear_log(t, chan, run.logon.account, run.logon.logon_id)
        intr.cleared.append({"host": host.short, "channel": CHANNELS[chan], "time": iso_utc(t),
                             "evidence": "1102" if chan == "security" else "104",
                             "key": host.keys.get(chan)})
    intr.technique("T1070.001", host.short, ts)


@dataclass(slots=True)
class Locker:
    ext: str
    note: str

    def new_name(self, name: str) -> str:
        return name + self.ext

    def is_ours(self, name: str) -> bool:
        return name == self.note or name.endswith(self.ext)


def new_locker(rng: random.Random) -> Locker:
    ext = "." + alnum(rng, 9)
    note = rng.choice((f"{ext[1:]}.README.txt", "RESTORE-MY-FILES.txt", "!!!READ_ME!!!.txt"))
    return Locker(ext, note)


def encrypt_share(ctx: Ctx, intr: Intrusion, host: WinHost, locker: Locker, proc: Proc,
                  owner: Account, start: int, stop: int) -> None:
    """The encryptor walks D:\\share on the server itself, folder by folder, until ``stop``."""
    folders = [rel for rel, _ in ctx.share.walk()]
    ctx.later(start, functools.partial(_encrypt_folder, intr=intr, host=host, locker=locker,
                                       proc=proc, owner=owner, folders=folders, idx=0,
                                       t=start, stop=stop))
    intr.technique("T1486", host.short, start)


def _encrypt_folder(ctx: Ctx, intr: Intrusion, host: WinHost, locker: Locker, proc: Proc,
                    owner: Account, folders: list[str], idx: int, t: int, stop: int) -> None:
    rng, share, facts = intr.rng, ctx.share, ctx.story.facts
    rel = folders[idx]
    folder = share.folders.get(rel)
    targets = sorted(n for n in (folder.files if folder else ())
                     if not locker.is_ours(n) and not n.lower().endswith((".exe", ".dll")))
    touched = False
    for name in targets:
        if t >= stop:
            break
        entry = share.folders[rel].files[name]
        dur = 20 + entry.size // 60_000 + rng.randint(0, 40)
        new = locker.new_name(name)
        share.remove(rel, name, t + dur)
        share.add(rel, FileEntry(new, entry.size + rng.randint(512, 1_024), t, t + dur,
                                 owner.qualified), t + dur)
        facts.encrypted.append(Encrypted("share", "fs01", f"{rel}\\{name}", f"{rel}\\{new}",
                                         t + dur // 2, owner.qualified, entry.owner))
        touched = True
        t += dur + rng.randint(2, 30)
    if touched and t < stop:
        t += rng.randint(5, 40)
        share.add(rel, FileEntry(locker.note, 1_870, t, t, owner.qualified), t)
        host.file_created(t, proc, f"{ROOT}\\{rel}\\{locker.note}", owner.qualified)
        facts.notes.append(("share", "fs01", f"{rel}\\{locker.note}", t))
    t += 20
    if idx + 1 < len(folders) and t < stop:
        ctx.later(t, functools.partial(_encrypt_folder, intr=intr, host=host, locker=locker,
                                       proc=proc, owner=owner, folders=folders, idx=idx + 1,
                                       t=t, stop=stop))


def domain_account(sam: str, rid: int) -> Account:
    return Account(sam, f"{DOMAIN_SID}-{rid}")
