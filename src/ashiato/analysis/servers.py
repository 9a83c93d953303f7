"""The servers behind the files: hypervisors, NAS and backup servers.

Ransomware now encrypts the VMware datastore from the ESXi shell (SSH turned on, VMs
powered off with ``esxcli``/``vim-cmd``, ``.vmdk`` files renamed or rewritten), so no guest
logs anything; it empties NAS shares over SMB/SFTP and deletes backup jobs, restore
points, repositories and the Windows Server Backup catalogue first. Rows follow the shared
server interface: ``observer.type`` hypervisor / nas / backup, ``event.action`` among
``ssh-enabled``, ``shell-enabled``, ``shell-command``, ``vm-power-off``, ``file-rename``,
``file-delete``, ``file-write``, ``login``, ``backup-job-deleted``... and ``host.name`` =
the server.
"""

from __future__ import annotations

import json
import re
from collections import defaultdict
from datetime import timedelta
from typing import Any

import ibis

from ashiato.analysis.context import Context, summary
from ashiato.analysis.indicators import RANSOM_EXTENSION, RANSOM_NOTE
from ashiato.analysis.remote_access import Pool
from ashiato.engines import EVENT_ORDER
from ashiato.exports import iso
from ashiato.findings import Evidence
from ashiato.i18n import msg, msgs, said
from ashiato.normalize import host_key

SERVER_TYPES = ("hypervisor", "nas", "backup")
SERVER_DATASETS = r"^(esxi|synology|qnap|veeam)\."
BACKUP_DESTROYED = (
    "backup-job-deleted",
    "restore-point-deleted",
    "repository-deleted",
    "backup-catalog-deleted",
)
VM_FILE = r"(?i)\.(vmdk|vmx|vmxf|vmsd|vmsn|vswp|vmss|nvram|vmem|vmtx|vmfd)$"
POWER_OFF_CMD = (
    r"(?i)(esxcli\s+vm\s+process\s+kill|vim-cmd\s+vmsvc/power\.(off|shutdown|suspend)"
    r"|vim-cmd\s+hostsvc/autostartmanager/enable_autostart\s+false)"
)
# a program from a scratch folder (or named for it) run against the datastores
ENCRYPT_CMD = (
    r"(?i)^((nohup|setsid|exec|nice|sh|/bin/sh)\s+)*"  # detached from the SSH session
    r"(\S*/(tmp|scratch|var/tmp|vmfs/volumes/[^/\s]+)/|\./)\S+\s.*(/vmfs/volumes|\.vmdk)"
    r"|\bencrypt\S*\s.*/vmfs/volumes"
)
MASS_CHANGES = 50  # renames/deletes by one account on one NAS in one hour
HOUR = timedelta(hours=1)
_VM = re.compile(VM_FILE)
# disk.vmdk.akira, disk.vmdk.abcd1234: a VM file's name with something appended
_VM_PLUS = re.compile(r"(?i)\.(vmdk|vmx|vmxf|vmsd|vmsn|vswp|vmss|nvram|vmem)\.[^./\\]+$")
_NOTE = re.compile(RANSOM_NOTE)
_EXT = re.compile(RANSOM_EXTENSION)
_OFF = re.compile(POWER_OFF_CMD)
_ENCRYPT = re.compile(ENCRYPT_CMD)
SERVER_ACTIONS = (
    "ssh-enabled",
    "shell-enabled",
    "shell-command",
    "vm-power-off",
    "file-rename",
    "file-delete",
    "file-write",
    "login",
)


def _rows(ctx: Context) -> list[dict[str, Any]]:
    """Only the actions read here: a vmkernel or NAS log holds millions of other lines."""
    t = ctx.events
    ds = t["event.dataset"]
    server = (
        t["observer.type"].isin(list(SERVER_TYPES))
        | ibis.coalesce(ds.re_search(SERVER_DATASETS), False)
    ) & t["event.action"].isin(list(SERVER_ACTIONS))
    wsb = (ds == "windows.application") & (t["event.code"] == "524")  # catalogue deleted
    q = t.filter(server | wsb | t["event.action"].isin(list(BACKUP_DESTROYED)))
    return ctx.rows(ctx.select(q).order_by(list(EVENT_ORDER)), limit=200_000)


def _named(r: dict[str, Any]) -> bool:
    return bool(r.get("host.name") or r.get("observer.name"))


_GENERIC = {"var", "log", "logs", "run", "scratch", "tmp", "evidence", "esxi", "vmware", ""}


def evidence_names(ctx: Context, ids: set[str]) -> dict[str, str]:
    """A server's own log copied off it (ESXi /var/log) names no host: use the folder it
    was collected in (``esx01/var/log/hostd.log`` → esx01)."""
    if not ids:
        return {}
    try:
        ev = ctx.events.get_backend().table("evidence")
        q = ev.filter(ev["evidence_id"].isin(sorted(ids))).select("evidence_id", "path")
        paths = {r["evidence_id"]: str(r["path"] or "") for r in ctx.rows(q)}
    except Exception:  # a bare events table (other engines) has no evidence table
        return {}
    out: dict[str, str] = {}
    for ev_id, path in paths.items():
        parts = re.split(r"[\\/!]", path)[:-1]
        name = next((p for p in reversed(parts) if p.lower() not in _GENERIC), None)
        if name:
            out[ev_id] = host_key(name) or name
    return out


def _kind(r: dict[str, Any]) -> str:
    ot = r.get("observer.type")
    ds = str(r.get("event.dataset") or "")
    if ot in SERVER_TYPES:
        return str(ot)
    if ds.startswith("esxi."):
        return "hypervisor"
    if ds.startswith(("synology.", "qnap.")):
        return "nas"
    return "backup"


def _basename(path: str) -> str:
    return re.split(r"[\\/]", path)[-1]


def analyse(ctx: Context, pool: Pool | None = None) -> dict[str, Any]:
    """``pool``: the VPN sessions, so that a login to the hypervisor from a tunnel address
    names the remote user and where they came from."""
    by: dict[tuple[str, str], list[dict[str, Any]]] = defaultdict(list)
    backups: list[dict[str, Any]] = []
    rows = _rows(ctx)
    names = evidence_names(ctx, {r["evidence_id"] for r in rows if not _named(r)})
    for r in rows:
        if not _named(r):
            r["host.name"] = names.get(r["evidence_id"]) or f"unnamed {_kind(r)}"
        action = r.get("event.action")
        if action in BACKUP_DESTROYED or (
            r.get("event.dataset") == "windows.application" and r.get("event.code") == "524"
        ):
            backups.append(r)
            continue
        by[(_kind(r), str(r.get("host.name") or r.get("observer.name") or "?"))].append(r)
    hyper = [
        _hypervisor(h, rs, pool or Pool([]))
        for (k, h), rs in sorted(by.items())
        if k == "hypervisor"
    ]
    nas = [_nas(h, rs) for (k, h), rs in sorted(by.items()) if k == "nas"]
    nas = [n for n in nas if n["mass_changes"] or n["ransom_files"]]
    destroyed = [
        {
            "host": r.get("host.name") or r.get("observer.name"),
            "action": r.get("event.action") or "backup-catalog-deleted",
            "time": iso(r["@timestamp"]),
            "user": r.get("user.name"),
            "source_ip": r.get("source.ip"),
            "detail": (r.get("message") or summary(r))[:300],
            "ref": f"{r.get('evidence_id')}:{r.get('record')}",
        }
        for r in backups[:200]
    ]
    notes = [h["note"] for h in hyper if h["note"]]
    if destroyed:
        hosts = sorted({str(d["host"]) for d in destroyed if d["host"]})
        notes.append(said(
            f"Backups were destroyed on {', '.join(hosts) or 'the backup server'} "
            f"({len(destroyed)} deletion(s), first {destroyed[0]['time']}): do not "
            "count on them for recovery; look for offline or immutable copies.",
            "servers.backups_destroyed", hosts=hosts or msg("servers.the_backup_server"),
            n=len(destroyed), time=destroyed[0]["time"]))  # fmt: skip
    return {
        "hypervisors": [{k: v for k, v in h.items() if k != "rows"} for h in hyper],
        "nas": nas,
        "backups_destroyed": destroyed,
        "encrypted_on_hypervisor": sorted(h["host"] for h in hyper if h["encrypted"]),
        "notes": notes,
        "evidence": [vars(e) for e in _evidence([r for h in hyper for r in h["rows"]] + backups)],
    }


def _hypervisor(host: str, rows: list[dict[str, Any]], pool: Pool) -> dict[str, Any]:
    ssh = [r for r in rows if r.get("event.action") in ("ssh-enabled", "shell-enabled")]
    cmds = [r for r in rows if r.get("event.action") == "shell-command"]
    off = [
        r
        for r in rows
        if r.get("event.action") == "vm-power-off"
        or (
            r.get("event.action") == "shell-command"
            and _OFF.search(r.get("process.command_line") or "")
        )
    ]
    files = [
        r
        for r in rows
        if r.get("event.action") in ("file-rename", "file-write", "file-delete")
        and r.get("file.path")
    ]
    vm_hit = [r for r in files if _vm_encrypted(r)]
    notes = [r for r in files if _NOTE.search(_basename(r["file.path"]))]
    logins = [r for r in rows if r.get("event.action") == "login"]
    runs = [r for r in cmds if _ENCRYPT.search(r.get("process.command_line") or "")]
    encrypted = bool(vm_hit) or (bool(notes or runs) and bool(off))
    texts = [r["file.path"] for r in vm_hit + notes]
    texts += [str(r.get("process.command_line") or "") for r in runs]
    datastores = sorted({m for x in texts for m in re.findall(r"/vmfs/volumes/([^/\s'\"]+)", x)})
    vms = sorted({name for r in off if (name := _vm_name(r))})
    vpn = _via_vpn(ssh + cmds + logins, pool)
    note = None
    if encrypted:
        steps = []
        ids: list[Any] = []
        if vpn:
            v = vpn[0]
            steps.append(
                f"reached from the VPN address {v['ip']} ({v['user']} from "
                f"{v['public_ip']}, {v['country'] or 'country unknown'})"
            )
            ids.append(msg("servers.step.vpn", ip=v["ip"], user=v["user"],
                           public_ip=v["public_ip"],
                           country=v["country"] or msg("country_unknown")))  # fmt: skip
        if ssh:
            steps.append(f"SSH/shell enabled {iso(ssh[0]['@timestamp'])}")
            ids.append(msg("servers.step.ssh", time=iso(ssh[0]["@timestamp"])))
        if off:
            steps.append(f"{len(off)} VM power-off(s) from {iso(off[0]['@timestamp'])}")
            ids.append(msg("servers.step.off", n=len(off), time=iso(off[0]["@timestamp"])))
        if runs:
            steps.append(
                f"encryptor run {iso(runs[0]['@timestamp'])}: "
                f"{str(runs[0].get('process.command_line'))[:120]}"
            )
            ids.append(msg("servers.step.run", time=iso(runs[0]["@timestamp"]),
                           command=str(runs[0].get("process.command_line"))[:120]))
        if vm_hit or notes:
            first = (vm_hit or notes)[0]
            steps.append(
                f"{len(vm_hit)} VM file(s) renamed or rewritten from {iso(first['@timestamp'])}"
                + (f", ransom note(s) {len(notes)}" if notes else "")
            )
            ids.append(msg("servers.step.files" + (".notes" if notes else ""), n=len(vm_hit),
                           time=iso(first["@timestamp"]), notes=len(notes)))  # fmt: skip
        note = said(
            f"The encryption happened on the hypervisor {host}"
            + (f" (datastores {', '.join(datastores)})" if datastores else "")
            + ": "
            + " → ".join(steps)
            + ". The guests' own logs would not show it; "
            "every VM on it is affected, whatever its own logs say.",
            "servers.hypervisor_note" + (".datastores" if datastores else ""),
            host=host, datastores=datastores, steps=msgs(*ids, join="steps"),
        )
    chain = sorted(
        ssh[:3] + off[:5] + runs[:3] + (vm_hit or notes)[:5], key=lambda r: r["@timestamp"]
    )
    return {
        "host": host,
        "encrypted": encrypted,
        "ssh_enabled": [iso(r["@timestamp"]) for r in ssh[:10]],
        "shell_commands": len(cmds),
        "vms_powered_off": len(off),
        "vms": vms[:50],
        "vm_files_encrypted": len(vm_hit),
        "ransom_notes": len(notes),
        "encryptor_commands": [str(r.get("process.command_line"))[:300] for r in runs[:5]],
        "datastores": datastores,
        "examples": [r["file.path"] for r in vm_hit[:10]],
        "users": sorted({str(r["user.name"]) for r in ssh + cmds + logins if r.get("user.name")}),
        "source_ips": sorted(
            {str(r["source.ip"]) for r in ssh + cmds + logins if r.get("source.ip")}
        ),
        "vpn": vpn,
        "note": note,
        "rows": chain,
        "evidence": [vars(e) for e in _evidence(chain)],
    }


def _via_vpn(rows: list[dict[str, Any]], pool: Pool) -> list[dict[str, Any]]:
    """The VPN sessions behind the addresses that logged in or ran commands."""
    out: dict[str, dict[str, Any]] = {}
    for r in rows:
        s = pool.at(r.get("source.ip"), r["@timestamp"])
        if s is not None and r["source.ip"] not in out:
            out[r["source.ip"]] = {
                "ip": r["source.ip"],
                "user": s.user,
                "public_ip": s.public_ip,
                "country": s.country,
            }
    return list(out.values())


def _vm_encrypted(r: dict[str, Any]) -> bool:
    """A VM file renamed to another extension (disk.vmdk → disk.vmdk.akira) or rewritten
    under a ransomware extension."""
    path = r["file.path"]
    if r.get("event.action") == "file-rename":
        old = _old_path(r)
        if old and _VM.search(old) and not _VM.search(path):
            return True
    return bool(_VM_PLUS.search(path))


def _old_path(r: dict[str, Any]) -> str | None:
    try:
        extra = json.loads(r.get("extra") or "{}")
    except ValueError:
        return None
    if not isinstance(extra, dict):
        return None
    for key in ("old_path", "file.old_path", "from", "source_path", "old"):
        if isinstance(extra.get(key), str):
            return str(extra[key])
    return None


def _vm_name(r: dict[str, Any]) -> str | None:
    cmd = r.get("process.command_line") or r.get("message") or ""
    m = re.search(r"(?i)(?:--world-id[= ]|power\.\w+\s+)(\S+)", cmd)
    return m.group(1) if m else (r.get("file.name") or None)


def _nas(host: str, rows: list[dict[str, Any]]) -> dict[str, Any]:
    changes = [r for r in rows if r.get("event.action") in ("file-rename", "file-delete")]
    per: dict[tuple[str, Any], list[dict[str, Any]]] = defaultdict(list)
    for r in changes:
        per[(str(r.get("user.name") or r.get("source.ip") or "?"), None)].append(r)
    bursts = []
    for (who, _), rs in per.items():
        i = 0
        for j, r in enumerate(rs):  # sliding hour
            while r["@timestamp"] - rs[i]["@timestamp"] > HOUR:
                i += 1
            if j - i + 1 >= MASS_CHANGES:
                bursts.append(
                    {
                        "who": who,
                        "from": iso(rs[i]["@timestamp"]),
                        "count": sum(1 for x in rs if x["@timestamp"] >= rs[i]["@timestamp"]),
                        "source_ips": sorted(
                            {str(x["source.ip"]) for x in rs if x.get("source.ip")}
                        ),
                    }
                )
                break
    ransom = [
        r
        for r in rows
        if r.get("file.path")
        and (_EXT.search(r["file.path"]) or _NOTE.search(_basename(r["file.path"])))
    ]
    return {
        "host": host,
        "renames": sum(r.get("event.action") == "file-rename" for r in changes),
        "deletes": sum(r.get("event.action") == "file-delete" for r in changes),
        "mass_changes": bursts,
        "ransom_files": len(ransom),
        "examples": [r["file.path"] for r in ransom[:10]],
        "evidence": [vars(e) for e in _evidence((ransom or changes)[:10])],
    }


def _evidence(rows: list[dict[str, Any]]) -> list[Evidence]:
    return [Evidence.of(r, summary(r)) for r in rows[:12]]


def next_steps(srv: dict[str, Any]) -> list[str]:
    steps: list[str] = []
    for h in srv.get("hypervisors", []):
        if h["encrypted"]:
            steps.append(said(
                f"Hypervisor {h['host']}: disable SSH and the ESXi shell, change the "
                "root password and lockdown mode, collect /var/log (hostd, shell, auth, "
                "vmkernel) and /var/run/log before a reboot; treat every VM on "
                f"{', '.join(h['datastores']) or 'its datastores'} as encrypted.",
                "steps.hypervisor", host=h["host"], account="root",
                logs="/var/log (hostd, shell, auth, vmkernel)", run_log="/var/run/log",
                datastores=h["datastores"] or msg("servers.its_datastores")))  # fmt: skip
    if srv.get("backups_destroyed"):
        steps.append(said(
            "Backups were deleted: check offline, tape, immutable or cloud copies "
            "before any restore; collect the backup server's job history and logs.",
            "steps.backups_deleted"))
    for n in srv.get("nas", []):
        who = [b["who"] for b in n["mass_changes"]]
        steps.append(said(
            f"NAS {n['host']}: disable the accounts behind the mass changes "
            f"({', '.join(b['who'] for b in n['mass_changes']) or 'see findings'}) "
            "and check its snapshots (Btrfs/QNAP snapshots) before restoring.",
            "steps.nas", host=n["host"], who=who or msg("servers.see_findings")))
    return steps
