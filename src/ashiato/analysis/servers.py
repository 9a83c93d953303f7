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

import re
from collections import defaultdict
from datetime import timedelta
from typing import Any

import ibis

from ashiato.analysis import datastores, fetch
from ashiato.analysis.context import Context, extra_of, summary
from ashiato.analysis.indicators import RANSOM_EXTENSION, RANSOM_NOTE
from ashiato.analysis.remote_access import Pool
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
# the hypervisor's own logs switched off, redirected or deleted from its shell
LOG_TAMPER_CMD = (
    r"(?i)(esxcli\s+system\s+syslog\s+config\s+set"
    r"|esxcli\s+system\s+auditrecords\s+(local|remote)\s+disable"
    r"|/etc/init\.d/vmsyslogd\s+stop"
    r"|\brm\b[^;|&]*(/var/log|/var/run/log|/scratch/log|\.ash_history)"
    r"|(^|[;&|]\s*)(:|echo\s*(\"\"|'')?|cat\s+/dev/null)?\s*>\s*/var/(run/)?log/"
    r"|history\s+-c|unset\s+HISTFILE)"
)
# SSH or the shell switched on from a command line rather than the host client
SSH_ON_CMD = (
    r"(?i)(vim-cmd\s+hostsvc/(enable|start)_(ssh|esx_shell)"
    r"|/etc/init\.d/SSH\s+start"
    r"|esxcli\s+network\s+firewall\s+ruleset\s+set\b.*sshServer"
    r"|esxcli\s+system\s+ssh\s+set\b)"
)
# a note written from the shell into a datastore, or over the host's login banner and
# its web client's start page (ESXiArgs replaced /etc/motd and hostd's index.html)
NOTE_CMD = (
    r"(?i)((>>?|\btee(\s+-a)?|\bcp\s+\S+|\bmv\s+\S+|-O)\s*['\"]?/vmfs/volumes/[^'\";|&>]*"
    r"\.(txt|html?|hta)\b"
    r"|(>>?|\btee(\s+-a)?|\bcp\s+\S+|\bmv\s+\S+)\s*['\"]?"
    r"(/etc/motd|/usr/lib/vmware/hostd/docroot/(ui/)?index\.html)\b)"
)
# mv disk.vmdk disk.vmdk.xyz typed (or scripted) in the shell
_MV = re.compile(r"^(?:\S*/)?mv\s+(?:-\w+\s+)*(?P<old>\S+)\s+(?P<new>\S+)\s*$")
MASS_CHANGES = 50  # renames/deletes by one account on one NAS in one hour
HOUR = timedelta(hours=1)
_VM = re.compile(VM_FILE)
# disk.vmdk.akira, disk.vmdk.abcd1234: a VM file's name with something appended
_VM_PLUS = re.compile(r"(?i)\.(vmdk|vmx|vmxf|vmsd|vmsn|vswp|vmss|nvram|vmem)\.[^./\\]+$")
_NOTE = re.compile(RANSOM_NOTE)
_EXT = re.compile(RANSOM_EXTENSION)
_OFF = re.compile(POWER_OFF_CMD)
_ENCRYPT = re.compile(ENCRYPT_CMD)
_TAMPER = re.compile(LOG_TAMPER_CMD)
_NOTE_CMD = re.compile(NOTE_CMD)
_SSH_ON = re.compile(SSH_ON_CMD)
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
    return fetch.rows(ctx, q, limit=200_000)


def _named(r: dict[str, Any]) -> bool:
    return bool(r.get("host.name") or r.get("observer.name"))


_GENERIC = {"var", "log", "logs", "run", "scratch", "tmp", "evidence", "esxi", "vmware", "",
            "hypervisor", "hypervisors", "datastores", "commands"}  # fmt: skip


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
    listed = datastores.encrypted(ctx)
    names = evidence_names(
        ctx, {r["evidence_id"] for r in rows if not _named(r)} | {d.evidence_id for d in listed}
    )
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
    on_listing = _listing_hosts(listed, names, sorted(h for k, h in by if k == "hypervisor"))
    for host in on_listing:
        by.setdefault(("hypervisor", host), [])
    hyper = [
        _hypervisor(h, rs, pool or Pool([]), on_listing.get(h, []))
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


def _listing_hosts(
    listed: list[datastores.Datastore], names: dict[str, str], hypervisors: list[str]
) -> dict[str, list[datastores.Datastore]]:
    """The hypervisor each datastore listing is of: the folder it was collected in, else
    the one hypervisor whose logs the case holds."""
    out: dict[str, list[datastores.Datastore]] = defaultdict(list)
    for d in listed:
        host = names.get(d.evidence_id)
        if host is None:
            host = hypervisors[0] if len(hypervisors) == 1 else "unnamed hypervisor"
        out[host].append(d)
    return out


def _hypervisor(
    host: str,
    rows: list[dict[str, Any]],
    pool: Pool,
    listed: list[datastores.Datastore] | None = None,
) -> dict[str, Any]:
    """``listed``: the datastores a listing of this host shows encrypted."""
    listed = listed or []
    cmds = [r for r in rows if r.get("event.action") == "shell-command"]
    ssh = [
        r
        for r in rows
        if r.get("event.action") in ("ssh-enabled", "shell-enabled")
        or (
            r.get("event.action") == "shell-command"
            and _SSH_ON.search(r.get("process.command_line") or "")
        )
    ]
    tamper = [r for r in cmds if _TAMPER.search(r.get("process.command_line") or "")]
    off = [
        r
        for r in rows
        if r.get("event.action") == "vm-power-off"
        or (
            r.get("event.action") == "shell-command"
            and _OFF.search(r.get("process.command_line") or "")
        )
    ]
    stopped = _stopped(off)
    files = [
        r
        for r in rows
        if r.get("event.action") in ("file-rename", "file-write", "file-delete")
        and r.get("file.path")
    ]
    vm_hit = [r for r in files if _vm_encrypted(r)] + [r for r in cmds if _mv_encrypted(r)]
    notes = [r for r in files if _NOTE.search(_basename(r["file.path"]))]
    notes += [r for r in cmds if _NOTE_CMD.search(r.get("process.command_line") or "")]
    logins = [r for r in rows if r.get("event.action") == "login"]
    runs = [r for r in cmds if _ENCRYPT.search(r.get("process.command_line") or "")]
    encrypted = bool(vm_hit) or (bool(notes or runs) and bool(off)) or bool(listed)
    texts = [r.get("file.path") or r.get("process.command_line") or "" for r in vm_hit + notes]
    texts += [str(r.get("process.command_line") or "") for r in runs]
    stores = {m for x in texts for m in re.findall(r"/vmfs/volumes/([^/\s'\"]+)", x)}
    stores |= {d.datastore for d in listed}
    on_disk = [r for d in listed for r in d.files]
    notes_on_disk = [r for d in listed for r in d.notes]
    refs = {name for r in off if (name := _vm_name(r))}
    # esxcli names a VM by its world id and vim-cmd by its vmid: numbers, not names
    vms = sorted({x for x in refs if not x.isdigit()} | {v for d in listed for v in d.vms})
    vm_ids = sorted((x for x in refs if x.isdigit()), key=int)
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
            steps.append(f"{stopped} VM power-off(s) from {iso(off[0]['@timestamp'])}")
            ids.append(msg("servers.step.off", n=stopped, time=iso(off[0]["@timestamp"])))
        if runs:
            steps.append(
                f"encryptor run {iso(runs[0]['@timestamp'])}: "
                f"{str(runs[0].get('process.command_line'))[:120]}"
            )
            ids.append(msg("servers.step.run", time=iso(runs[0]["@timestamp"]),
                           command=str(runs[0].get("process.command_line"))[:120]))
        if tamper:
            steps.append(
                f"{len(tamper)} command(s) against its own logs from "
                f"{iso(tamper[0]['@timestamp'])}: "
                f"{str(tamper[0].get('process.command_line'))[:120]}"
            )
            ids.append(msg("servers.step.tamper", n=len(tamper),
                           time=iso(tamper[0]["@timestamp"]),
                           command=str(tamper[0].get("process.command_line"))[:120]))
        if vm_hit or notes:
            first = (vm_hit or notes)[0]
            steps.append(
                f"{len(vm_hit)} VM file(s) renamed or rewritten from {iso(first['@timestamp'])}"
                + (f", ransom note(s) {len(notes)}" if notes else "")
            )
            ids.append(msg("servers.step.files" + (".notes" if notes else ""), n=len(vm_hit),
                           time=iso(first["@timestamp"]), notes=len(notes)))  # fmt: skip
        for d in listed:
            steps.append(
                f"the listing of {d.datastore} shows {len(d.files)} VM file(s) renamed to "
                f"{d.extension}"
                + (f" ({len(d.vms)} VM(s))" if d.vms else "")
                + (f" from {iso(d.first)}" if d.first else "")
                + (
                    f", note(s) {', '.join(sorted({str(n['file.name']) for n in d.notes}))}"
                    if d.notes
                    else ""
                )
            )
            ids.append(msg("servers.step.listing", datastore=d.datastore, n=len(d.files),
                           extension=d.extension, vms=len(d.vms),
                           first=iso(d.first) if d.first else "",
                           notes=sorted({str(n["file.name"]) for n in d.notes})))  # fmt: skip
        note = said(
            f"The encryption happened on the hypervisor {host}"
            + (f" (datastores {', '.join(sorted(stores))})" if stores else "")
            + ": "
            + " → ".join(steps)
            + ". The guests' own logs would not show it; "
            "every VM on it is affected, whatever its own logs say.",
            "servers.hypervisor_note" + (".datastores" if stores else ""),
            host=host, datastores=sorted(stores), steps=msgs(*ids, join="steps"),
        )
    chain = sorted(
        ssh[:3]
        + tamper[:3]
        + off[:5]
        + runs[:3]
        + (vm_hit or notes)[:5]
        + on_disk[:3]
        + notes_on_disk[:2],
        key=lambda r: (r["@timestamp"] is None, r["@timestamp"] or 0),
    )
    return {
        "host": host,
        "encrypted": encrypted,
        "ssh_enabled": sorted({iso(r["@timestamp"]) for r in ssh})[:10],
        "shell_commands": len(cmds),
        "vms_powered_off": stopped,
        "vms": vms[:50],
        "vm_ids": vm_ids[:50],
        "vm_files_encrypted": max(len(vm_hit), len(on_disk)),
        "ransom_notes": max(len(notes), len(notes_on_disk)),
        "extensions": sorted({d.extension for d in listed}),
        "encryptor_commands": [str(r.get("process.command_line"))[:300] for r in runs[:5]],
        "log_tampering": [
            {"time": iso(r["@timestamp"]), "command": str(r.get("process.command_line"))[:300]}
            for r in tamper[:20]
        ],
        "datastores": sorted(stores),
        "examples": [_target(r) for r in (vm_hit or on_disk)[:10]],
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


SAME_STOP = timedelta(seconds=10)


def _stopped(off: list[dict[str, Any]]) -> int:
    """How many VMs were stopped. One stop is logged several ways within seconds (the
    command in shell.log, hostd's task, its state transition): a row joins the stop just
    before it unless that stop already has a row of its way."""
    stops: list[tuple[Any, set[str]]] = []
    for r in sorted(off, key=lambda x: x["@timestamp"]):
        way = (
            "command"
            if r.get("event.action") == "shell-command"
            else ("state" if r.get("file.path") else "task")
        )
        last = stops[-1] if stops else None
        if last and r["@timestamp"] - last[0] <= SAME_STOP and way not in last[1]:
            last[1].add(way)
        else:
            stops.append((r["@timestamp"], {way}))
    return len(stops)


def _mv_encrypted(r: dict[str, Any]) -> bool:
    """``mv APP01-flat.vmdk APP01-flat.vmdk.locked`` typed in the shell."""
    m = _MV.match(str(r.get("process.command_line") or ""))
    if m is None:
        return False
    old, new = m["old"].strip("'\""), m["new"].strip("'\"")
    return bool(_VM.search(old)) and new.startswith(old) and _appended(new)


def _appended(path: str) -> bool:
    """A VM file's name with a suffix ESXi, backups or an administrator would not add."""
    if not _VM_PLUS.search(path):
        return False
    suffix = path.rsplit(".", 1)[-1].lower()
    return suffix not in datastores.BENIGN_SUFFIXES and not suffix.isdigit()


def _target(r: dict[str, Any]) -> str:
    """The encrypted file a row names (a rename's new name, or the mv's target)."""
    if r.get("file.path"):
        return str(r["file.path"])
    m = _MV.match(str(r.get("process.command_line") or ""))
    return m["new"].strip("'\"") if m else str(r.get("process.command_line") or "")


def _vm_encrypted(r: dict[str, Any]) -> bool:
    """A VM file renamed to another extension (disk.vmdk → disk.vmdk.akira) or rewritten
    under a ransomware extension."""
    path = r["file.path"]
    if r.get("event.action") == "file-rename":
        old = _old_path(r)
        if old and _VM.search(old) and not _VM.search(path):
            return _appended(path) or not path.startswith(old)
    return _appended(path)


def _old_path(r: dict[str, Any]) -> str | None:
    extra = extra_of(r)
    for key in ("old_path", "file.old_path", "from", "source_path", "old"):
        if isinstance(extra.get(key), str):
            return str(extra[key])
    return None


def _vm_name(r: dict[str, Any]) -> str | None:
    cmd = r.get("process.command_line") or r.get("message") or ""
    m = re.search(r"(?i)(?:--world-id[= ]|power\.\w+\s+)(\S+)", cmd)
    if m:
        return m.group(1)
    name = str(r.get("file.name") or "")
    return re.sub(r"(?i)\.vmx$", "", name) or None


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
    for h in srv.get("hypervisors", []):
        if h.get("log_tampering"):
            steps.append(said(
                f"Hypervisor {h['host']}: its own logs were deleted or redirected "
                f"({h['log_tampering'][0]['command'][:80]}): take the copies from the "
                "syslog collector or vCenter (events, tasks) and the vm-support bundle's "
                "var/run/log before anything else is lost.", "steps.hypervisor_logs",
                host=h["host"], command=h["log_tampering"][0]["command"][:80]))  # fmt: skip
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
