"""``hands-on-keyboard``: ransomware by an operator who came in over exposed RDP.

RDS01, a remote-desktop server published on FG-TOKYO's address (TCP/3389 forwarded), is
guessed into in the evening: a burst of failed network logons from one foreign address,
then a RemoteInteractive logon with a staff account that is local administrator there.
Over the session the operator pastes tools in (Defender quarantines mimikatz), dumps LSASS
with comsvcs.dll and finds an IT administrator's credentials, then reaches FS01 by address
(PsExec, or per seed a batch file copied through ADMIN$ and started with ``wmic /node``):
Defender exclusion and real-time protection off, shadow copies deleted, System and Security
cleared, and a PsExec run copies and starts the encryptor on D:\\share.

Variants (``generate(..., variant=...)``, CLI ``--variant``): ``full`` adds Sysmon and
process-creation auditing with command lines on every Windows host; ``default-logging``
keeps only what Windows logs out of the box (no Sysmon, no 4688, no file-share auditing).
"""

from __future__ import annotations

import functools
import random
from dataclasses import dataclass

from ashiato.lab import serverlife
from ashiato.lab.clock import MINUTE, SECOND, at, iso_utc
from ashiato.lab.context import Ctx
from ashiato.lab.endpoint import Proc
from ashiato.lab.ids import alnum, guid, hex_id
from ashiato.lab.scenarios.intrusion import (
    Intrusion,
    Locker,
    clear_logs,
    delete_shadows,
    domain_account,
    dump_lsass,
    encrypt_share,
    impair_defender,
    new_locker,
    psexec,
    rdp_logon,
    server_streams,
    wmi_batch,
)
from ashiato.lab.sink import Sink
from ashiato.lab.story import Story
from ashiato.lab.winhost import CMD, SYSTEM32, Account, Logon, WinHost
from ashiato.lab.world import EGRESS_IP, SERVERS, SURNAMES, World

RDS = ("RDS01", "10.0.0.50")
FS = ("FS01", SERVERS["FS01"].ip)
RDS_CHANNELS = ("security", "system", "sysmon", "defender", "ps", "lsm", "rcm", "tasks")
FS_CHANNELS = ("security", "system", "sysmon", "defender", "ps", "psop")
# Where guessing bots and operators connect from (RFC 5737 addresses, countries as the
# firewall's geo database would label them).
ORIGINS = (("203.0.113.57", "Russian Federation"), ("203.0.113.140", "Netherlands"),
           ("198.51.100.201", "Viet Nam"), ("203.0.113.88", "Romania"),
           ("198.51.100.233", "Brazil"))
GUESSED = ("administrator", "admin", "user", "test", "guest", "scanner", "backup", "sql",
           "owner", "support")


@dataclass
class Plan:
    """Every instant fixed before any file is opened (cleared logs lose what came before)."""

    t: dict[str, int]
    origin: tuple[str, str]
    client: str
    entry: Account
    admin: Account
    password: str
    tools_dir: str
    encryptor: str
    locker: Locker
    first_hop: str  # "psexec" or "wmi": how the operator first reaches FS01
    task: str  # the boot task's name, dressed as maintenance


def _admin(world: World, rng: random.Random) -> Account:
    taken = {u.sam for u in world.users}
    sur = rng.choice([s for s in SURNAMES if f"adm_{s}" not in taken])
    return domain_account(f"adm_{sur}", 1050 + rng.randint(0, 40))


def plan(story: Story, world: World, rng: random.Random, day: int) -> Plan:
    t0 = at(day, 19) + rng.randint(0, 100) * MINUTE + rng.randint(0, 59_999)
    t: dict[str, int] = {"brute": t0}
    t["login"] = t0 + rng.randint(18, 30) * MINUTE
    t["tools"] = t["login"] + rng.randint(2, 4) * MINUTE
    t["dump"] = t["tools"] + rng.randint(3, 6) * MINUTE
    t["psexec1"] = t["dump"] + rng.randint(4, 8) * MINUTE
    t["defender"] = t["psexec1"] + rng.randint(40, 90) * SECOND
    t["vss"] = t["defender"] + rng.randint(40, 90) * SECOND
    t["clear"] = t["vss"] + rng.randint(40, 90) * SECOND
    t["psexec2"] = t["clear"] + rng.randint(2, 4) * MINUTE
    t["encrypt"] = t["psexec2"] + 5 * SECOND
    t["leave"] = t["encrypt"] + rng.randint(3, 8) * MINUTE
    user = rng.choice(world.users)
    p = Plan(t, rng.choice(ORIGINS),
             rng.choice(("WIN-" + hex_id(rng, 11), "DESKTOP-" + hex_id(rng, 7), "kali")),
             domain_account(user.sam, user.rid), _admin(world, rng),
             alnum(rng, 6).capitalize() + "!" + str(rng.randint(10, 99)),
             rng.choice(("C:\\Users\\Public", "C:\\PerfLogs", "C:\\Users\\Public\\Music")),
             alnum(rng, rng.randint(5, 8)) + ".exe", new_locker(rng),
             rng.choice(("psexec", "wmi")),
             rng.choice(("WinSvcUpdate", "MicrosoftEdgeUpdateCore", "OneDrive Sync Task",
                         "GoogleUpdateTaskMachine")))
    story.day = day
    story.vector = "remote_access"
    # The first user in the next morning finds the notes; IT takes the share offline.
    story.share_offline_at = at(day + 1, 8) + rng.randint(20, 50) * MINUTE
    # FS01's System and Security are cleared: their earlier records are gone.
    fs_lost = {"system": t["clear"], "security": t["clear"] + SECOND}
    specs, _ = server_streams(RDS[0], RDS_CHANNELS, story.variant)
    fs_specs, _ = server_streams(FS[0], FS_CHANNELS, story.variant, fs_lost,
                                 existing={"security": "fs01"})
    story.extra_streams += specs + fs_specs
    story.lost["fs01"] = fs_lost["security"]
    story.details["plan"] = p
    return p


def dc_host(sink: Sink, seed: int) -> WinHost:
    """DC01 as far as the operator's NTLM logons reach it (its Security export)."""
    return WinHost("DC01", SERVERS["DC01"].ip, sink, random.Random(f"{seed}|dc01"),
                   {"security": "dc01"}, False)


def _hosts(story: Story, sink: Sink, audit: bool, seed: int) -> tuple[WinHost, WinHost]:
    full = story.variant == "full"
    keys: dict[str, dict[str, str]] = {}
    for name, chans in ((RDS[0], RDS_CHANNELS), (FS[0], FS_CHANNELS)):
        keys[name] = {c: f"srv:{name.lower()}:{c}" for c in chans}
    keys["FS01"]["security"] = "fs01"
    rds = WinHost(RDS[0], RDS[1], sink, random.Random(f"{seed}|rds01"), keys["RDS01"], full)
    fs = WinHost(FS[0], FS[1], sink, random.Random(f"{seed}|fs01"), keys["FS01"], full,
                 audit_shares=audit)
    return rds, fs


def arm(story: Story, sink: Sink, seed: int, audit: bool, days: int) -> Intrusion:
    p: Plan = story.details["plan"]
    intr = Intrusion(story.variant, random.Random(f"{seed}|hok-run"))
    rds, fs = _hosts(story, sink, audit, seed)
    intr.hosts = {"rds01": rds, "fs01": fs}
    intr.dc = dc_host(sink, seed)
    intr.details["host_ips"] = {h.short: h.ip for h in (rds, fs)}
    story.details["intrusion"] = intr
    serverlife.schedule(story, intr.hosts, days, seed)
    story.add(p.t["brute"], functools.partial(_brute_force, intr=intr, p=p, rds=rds))
    story.add(p.t["login"], functools.partial(_session, intr=intr, p=p, rds=rds, fs=fs))
    return intr


def rdp_fw(ctx: Ctx, ts: int, end: int, src: str, country: str, dst: str, sent: int,
           rcvd: int) -> None:
    """One forwarded RDP session as FG-TOKYO logs it (virtual IP on the public address)."""
    sport = 40000 + ctx.port() % 20000
    ctx.emit("fw:FG-TOKYO", end, {
        "kind": "traffic", "srcip": src, "srcport": sport, "srcintf": "wan1", "dstip": EGRESS_IP,
        "dstport": 3389, "dstintf": "internal", "policyid": 7, "service": "RDP",
        "duration": max(1, (end - ts) // 1000), "sentbyte": sent, "rcvdbyte": rcvd,
        "action": "close", "dstcountry": "Reserved", "srccountry": country, "tranip": dst,
        "tranport": 3389})


def _brute_force(ctx: Ctx, intr: Intrusion, p: Plan, rds: WinHost) -> None:
    """Guessing through NLA: each try is a short TCP session and a 4625 type 3."""
    rng, (ip, country) = intr.rng, p.origin
    names = [*GUESSED, p.entry.sam]
    domain_users = {u.sam for u in ctx.world.users}
    t = p.t["brute"]
    while t < p.t["login"] - 20 * SECOND:
        name = rng.choice(names)
        if intr.dc is not None:  # NLA passes every guess to the DC (local names fail there)
            intr.dc.credential_validation(t + 450, name, p.client,
                                          "0xc000006a" if name in domain_users
                                          else "0xc0000064")
        rds.logon_failed(t + 600, name, ip, p.client)
        rdp_fw(ctx, t, t + rng.randint(900, 2_500), ip, country, RDS[1],
               rng.randint(1_900, 3_200), rng.randint(2_800, 4_600))
        t += rng.randint(6, 40) * SECOND
    intr.technique("T1110.001", "rds01", p.t["brute"])
    intr.entry.update(kind="rdp", source_ip=ip, country=country, host="rds01",
                      account=p.entry.qualified, time=iso_utc(p.t["login"]),
                      failed_before=True)


def _session(ctx: Ctx, intr: Intrusion, p: Plan, rds: WinHost, fs: WinHost) -> None:
    rng, t, (ip, country) = intr.rng, p.t, p.origin
    s = rdp_logon(intr, rds, t["login"], p.entry, ip, p.client, admin=True)
    intr.technique("T1133", "rds01", t["login"])
    intr.technique("T1078.002", "rds01", t["login"])
    intr.account(p.entry, "entry", f"RDP from {ip} ({country}) to rds01", t["login"])
    explorer = Proc("C:\\Windows\\explorer.exe", 5120, guid(rng), "C:\\Windows\\explorer.exe")
    clip = Proc("C:\\Windows\\System32\\rdpclip.exe", 4410, guid(rng), "rdpclip")
    who = p.entry.qualified
    # Tools pasted over the RDP clipboard; Defender takes mimikatz at once.
    mimi = f"{p.tools_dir}\\mimikatz.exe"
    rds.file_created(t["tools"], clip, mimi, who)
    rds.defender_detection(t["tools"] + 1_300, "HackTool:Win32/Mimikatz!pz", "High",
                           "Tool", mimi, who, "C:\\Windows\\System32\\rdpclip.exe")
    psexe = f"{p.tools_dir}\\PsExec64.exe"
    rds.file_created(t["tools"] + 40 * SECOND, clip, psexe, who)
    rds.file_created(t["tools"] + 55 * SECOND, clip, f"{p.tools_dir}\\{p.encryptor}", who)
    shell = rds.spawn(t["dump"] - 20 * SECOND, CMD, "\"C:\\Windows\\system32\\cmd.exe\"",
                      explorer, s)
    dump_lsass(intr, rds, t["dump"], s, "comsvcs", shell)
    intr.account(p.admin, "credential_dumped", "taken from LSASS on rds01", t["dump"])
    _persist(intr, rds, t["dump"] + 90 * SECOND, s, shell, clip, p)
    if p.first_hop == "psexec":  # an interactive shell on FS01
        tool = rds.spawn(t["psexec1"] - 300, psexe,
                         f"PsExec64.exe \\\\{FS[1]} -accepteula -u {p.admin.qualified} "
                         f"-p {p.password} cmd.exe", shell, s)
        run = psexec(intr, rds, fs, t["psexec1"], s, tool, p.admin)
        fs_shell = fs.spawn(run.started + 800, CMD, "cmd.exe", run.service, run.logon)
    else:  # a batch file run through WMI; its steps below are children of that cmd.exe
        batch = f"{p.tools_dir}\\{alnum(rng, 4)}.bat"
        rds.file_created(t["psexec1"] - 90 * SECOND, shell, batch, who)
        run = wmi_batch(intr, rds, fs, t["psexec1"], s, shell, p.admin, p.password, batch)
        fs_shell = run.service
    impair_defender(intr, fs, t["defender"], run, fs_shell, "C:\\Windows")
    delete_shadows(intr, fs, t["vss"], run, fs_shell)
    clear_logs(intr, fs, t["clear"], run, fs_shell, ("system", "security"))
    if p.first_hop == "psexec":
        fs.service_state(t["clear"] + 20 * SECOND, "PSEXESVC", False)
    fs.logoff(t["clear"] + 21 * SECOND, run.logon)
    # Second PsExec: copy the encryptor through ADMIN$ and start it detached.
    tool2 = rds.spawn(t["psexec2"] - 300, psexe,
                      f"PsExec64.exe \\\\{FS[1]} -accepteula -u {p.admin.qualified} "
                      f"-p {p.password} -d -c {p.tools_dir}\\{p.encryptor} -path D:\\share",
                      shell, s)
    run2 = psexec(intr, rds, fs, t["psexec2"], s, tool2, p.admin, copy=p.encryptor)
    enc = fs.spawn(t["encrypt"], f"C:\\Windows\\{p.encryptor}",
                   f"C:\\Windows\\{p.encryptor} -path D:\\share", run2.service, run2.logon)
    fs.service_state(t["encrypt"] + 2 * SECOND, "PSEXESVC", False)
    encrypt_share(ctx, intr, fs, p.locker, enc, p.admin, t["encrypt"] + 3 * SECOND,
                  t["encrypt"] + 6 * 60 * MINUTE)
    rds.rdp_session(t["leave"], 24, p.entry, 2, ip)
    rdp_fw(ctx, t["login"], t["leave"] + 500, ip, country, RDS[1],
           rng.randint(9_000_000, 40_000_000), rng.randint(60_000_000, 250_000_000))
    ctx.story.details.update(note_names=[p.locker.note], rename="append",
                             extension=p.locker.ext, family="hok-locker")


def _persist(intr: Intrusion, rds: WinHost, ts: int, s: Logon, shell: Proc, clip: Proc,
             p: Plan) -> None:
    """A way back in that survives a password reset: AnyDesk as a service, and a boot task."""
    who = p.entry.qualified
    pasted = f"{p.tools_dir}\\AnyDesk.exe"
    rds.file_created(ts, clip, pasted, who)
    target = "C:\\ProgramData\\AnyDesk\\AnyDesk.exe"
    rds.spawn(ts + 20 * SECOND, pasted, f'{pasted} --install "C:\\ProgramData\\AnyDesk" '
              "--start-with-win --silent", shell, s,
              pe={"Description": "AnyDesk", "Product": "AnyDesk",
                  "Company": "AnyDesk Software GmbH", "OriginalFileName": "AnyDesk.exe"})
    rds.service_installed(ts + 23 * SECOND, "AnyDesk Service", f'"{target}" --service',
                          start="auto start")
    rds.service_state(ts + 24 * SECOND, "AnyDesk Service", True)
    task = p.task
    rds.spawn(ts + 60 * SECOND, f"{SYSTEM32}\\schtasks.exe",
              f'schtasks /create /tn "{task}" /tr "{target}" /sc onstart /ru SYSTEM /f',
              shell, s)
    rds.task_registered(ts + 61 * SECOND, f"\\{task}", who)
    intr.technique("T1219", "rds01", ts + 20 * SECOND)
    intr.technique("T1543.003", "rds01", ts + 23 * SECOND)
    intr.technique("T1053.005", "rds01", ts + 61 * SECOND)
    intr.details["persistence"] = [
        {"host": "rds01", "kind": "service", "name": "AnyDesk", "path": target},
        {"host": "rds01", "kind": "scheduled_task", "name": f"\\{task}", "path": target}]
