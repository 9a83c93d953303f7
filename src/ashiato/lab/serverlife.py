"""What the intrusion scenarios' servers log on ordinary days, so their logs are not all attack.

RDS01: staff at HQ use remote desktop in office hours (1149, 4624 type 10, LSM 21/22, then
24/23 and 4634 when they sign out; Office starting, under full telemetry). Every server:
Windows Update's services start and stop (7036) and a monitoring agent runs a PowerShell
check every few hours (400/600/403 naming its HostApplication; an ordinary script is not
script-block logged by default). BKUP01: Veeam's nightly restore points (10010).
"""

from __future__ import annotations

import functools
import random

from ashiato.lab.clock import MINUTE, SECOND, at, is_workday
from ashiato.lab.context import Ctx
from ashiato.lab.endpoint import EXCEL, WINWORD, Proc
from ashiato.lab.ids import guid
from ashiato.lab.story import Story
from ashiato.lab.winhost import Account, WinHost
from ashiato.lab.world import DOMAIN, DOMAIN_SID

MONITOR = ("powershell.exe -NoProfile -NonInteractive -ExecutionPolicy Bypass -File "
           "\"C:\\Program Files\\Zabbix Agent 2\\scripts\\{name}.ps1\"")
CHECKS = ("check_services", "disk_health", "windows_updates")


def schedule(story: Story, hosts: dict[str, WinHost], days: int, seed: int,
             vms: tuple[str, ...] = ()) -> None:
    for day in range(days):
        for host in hosts.values():
            story.add(at(day, 3, 10), functools.partial(_housekeeping, host=host, day=day,
                                                        seed=seed))
        if "rds01" in hosts and is_workday(day):
            story.add(at(day, 8, 50), functools.partial(_remote_desktop, host=hosts["rds01"],
                                                        day=day, seed=seed))
        if "bkup01" in hosts and vms:
            story.add(at(day, 1, 0), functools.partial(_nightly_backup, host=hosts["bkup01"],
                                                       day=day, seed=seed, vms=vms))


def _housekeeping(ctx: Ctx, host: WinHost, day: int, seed: int) -> None:
    rng = random.Random(f"{seed}|serverlife|{host.short}|{day}")
    t = at(day, 3, 10) + rng.randint(0, 20) * MINUTE
    for svc in ("Windows Update", "Windows Modules Installer"):
        host.service_state(t, svc, True)
        host.service_state(t + rng.randint(3, 25) * MINUTE, svc, False)
        t += rng.randint(1, 4) * SECOND
    for hour in range(4, 24, 6):
        ts = at(day, hour) + rng.randint(0, 59) * MINUTE
        name = CHECKS[(hour // 6 + day) % len(CHECKS)]
        host.powershell(ts, MONITOR.format(name=name), "", "S-1-5-18", block_logged=False)


def _remote_desktop(ctx: Ctx, host: WinHost, day: int, seed: int) -> None:
    """Three to six staff from HQ PCs work on RDS01 for a while."""
    rng = random.Random(f"{seed}|serverlife-rdp|{day}")
    hq = [h for h in ctx.world.hosts if h.site.hq]
    for i, pc in enumerate(rng.sample(hq, min(len(hq), rng.randint(3, 6)))):
        start = at(day, 9) + rng.randint(0, 6 * 60) * MINUTE + rng.randint(0, 59_999)
        ip = ctx.plan.ip_of(pc, start)
        if ip is None:
            continue
        acct = Account(pc.user.sam, f"{DOMAIN_SID}-{pc.user.rid}")
        session = 3 + i
        host.rdp_connection(start, acct, ip)
        s = host.logon(start + 700, acct, 10, ip, pc.name)
        host.rdp_session(start + 1_400, 21, acct, session, ip)
        host.rdp_session(start + 1_500, 22, acct, session, ip)
        explorer = Proc("C:\\Windows\\explorer.exe", 7000 + 4 * i, guid(rng),
                        "C:\\Windows\\explorer.exe")
        app = rng.choice((EXCEL, WINWORD))
        host.spawn(start + rng.randint(20, 90) * SECOND, app, f'"{app}"', explorer, s,
                   integrity="Medium")
        end = start + rng.randint(20, 150) * MINUTE
        host.rdp_session(end, 24, acct, session, ip)
        host.rdp_session(end + 800, 23, acct, session, ip)
        host.logoff(end + 900, s)


def _nightly_backup(ctx: Ctx, host: WinHost, day: int, seed: int, vms: tuple[str, ...]) -> None:
    rng = random.Random(f"{seed}|serverlife-veeam|{day}")
    t = at(day, 1, 0) + rng.randint(0, 10) * MINUTE
    for vm in vms:
        t += rng.randint(3, 14) * MINUTE
        host.veeam(t, 10010, {
            "OibID": guid(rng).strip("{}").lower(), "OriginalOibID": guid(rng).strip("{}").lower(),
            "VmRef": f"vm-{10 + vms.index(vm)}", "VmName": vm,
            "ServerName": f"esxi01.{DOMAIN}", "DateTime": "", "IsCorrupted": "False",
            "Platform": "0", "StorageSize": str(rng.randint(2, 30) * 1_073_741_824),
            "RepositoryID": "6f1e2d3c-4b5a-4968-8776-a5b4c3d2e1f0", "IsFull": str(day % 7 == 5),
            "VbrHostName": f"{host.name}.{DOMAIN}", "VbrVersion": "12.0.0.1420", "Version": "1",
            "Description": f"VM '{vm}' restore point has been created."})
