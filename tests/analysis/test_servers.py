"""Hypervisor, NAS and backup-server findings from the shared server interface."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from intrusion_case import at, make_ctx, servers

from ashiato.analysis import servers as servers_mod


def test_encryption_on_the_hypervisor(tmp_path: Path) -> None:
    srv = servers_mod.analyse(make_ctx(tmp_path, servers()))
    assert srv["encrypted_on_hypervisor"] == ["esx01"]
    [h] = srv["hypervisors"]
    assert h["datastores"] == ["datastore1"] and h["vm_files_encrypted"] == 3
    assert h["vms_powered_off"] == 2  # the esxcli kill and the hostd power-off
    assert h["ssh_enabled"] and "10.212.134.200" in h["source_ips"]
    note = srv["notes"][0]
    assert note.startswith("The encryption happened on the hypervisor esx01")
    assert note.index("SSH") < note.index("power-off") < note.index("renamed")
    assert [d["action"] for d in srv["backups_destroyed"]] == [
        "backup-job-deleted",
        "restore-point-deleted",
    ]
    assert srv["backups_destroyed"][0]["user"] == "svc_backup2"
    [nas] = srv["nas"]
    assert nas["host"] == "nas01" and nas["mass_changes"][0]["who"] == "suzuki"
    assert nas["mass_changes"][0]["count"] == 60
    steps = servers_mod.next_steps(srv)
    assert any("esx01" in s and "SSH" in s for s in steps)
    assert any("Backups were deleted" in s for s in steps)


def test_routine_hypervisor_work_is_not_encryption(tmp_path: Path) -> None:
    esx = {
        "host.name": "esx02",
        "observer.type": "hypervisor",
        "evidence_id": "esx02",
        "event.dataset": "esxi.hostd",
    }
    rows: list[dict[str, Any]] = [
        {
            **esx,
            "@timestamp": at(0),
            "event.action": "login",
            "event.outcome": "success",
            "user.name": "root",
        },
        {**esx, "@timestamp": at(1), "event.action": "vm-power-off"},
        # a snapshot consolidation renames disks to other VM names, not to a new extension
        {
            **esx,
            "@timestamp": at(2),
            "event.action": "file-rename",
            "file.path": "/vmfs/volumes/ds2/app/app-000001.vmdk",
        },
    ]
    for i in range(20):  # a user tidying a NAS share slowly: not a burst
        rows.append(
            {
                "@timestamp": at(10 + i * 10),
                "event.dataset": "synology.filexfer",
                "observer.type": "nas",
                "host.name": "nas01",
                "event.action": "file-delete",
                "user.name": "tanaka",
                "file.path": f"/volume1/home/old{i}.docx",
                "evidence_id": "nas01",
            }
        )
    srv = servers_mod.analyse(make_ctx(tmp_path, rows))
    assert srv["encrypted_on_hypervisor"] == [] and srv["notes"] == []
    assert srv["hypervisors"][0]["vms_powered_off"] == 1
    assert srv["nas"] == [] and srv["backups_destroyed"] == []
    assert servers_mod.next_steps(srv) == []


def test_windows_server_backup_catalogue_deleted(tmp_path: Path) -> None:
    row = {
        "@timestamp": at(0),
        "event.dataset": "windows.application",
        "event.code": "524",
        "event.provider": "Microsoft-Windows-Backup",
        "host.name": "bk01",
        "message": "The backup catalog has been deleted.",
        "evidence_id": "app-bk01",
    }
    srv = servers_mod.analyse(make_ctx(tmp_path, [row]))
    [d] = srv["backups_destroyed"]
    assert (d["host"], d["action"]) == ("bk01", "backup-catalog-deleted")


def test_encryptor_run_from_the_shell(tmp_path: Path) -> None:
    """No file log at all: the shell history shows the encryptor run against the datastore."""
    esx = {
        "host.name": "esx03",
        "observer.type": "hypervisor",
        "evidence_id": "esx03",
        "event.dataset": "esxi.shell",
        "user.name": "root",
    }
    rows = [
        {
            **esx,
            "@timestamp": at(0),
            "event.action": "shell-command",
            "process.command_line": "vim-cmd vmsvc/power.off 12",
        },
        {
            **esx,
            "@timestamp": at(1),
            "event.action": "shell-command",
            "process.command_line": "/tmp/svc-e --path /vmfs/volumes/ds-prod/ --threads 8",
        },
        {
            **esx,
            "@timestamp": at(2),
            "event.action": "shell-command",
            "process.command_line": "ls /vmfs/volumes/ds-prod/",
        },
    ]
    srv = servers_mod.analyse(make_ctx(tmp_path, rows))
    [h] = srv["hypervisors"]
    assert h["encrypted"] and h["datastores"] == ["ds-prod"]
    assert h["encryptor_commands"] == ["/tmp/svc-e --path /vmfs/volumes/ds-prod/ --threads 8"]
    assert "encryptor run" in h["note"]


def test_unnamed_esxi_log_named_after_its_folder(tmp_path: Path) -> None:
    """A local /var/log copy names no host: the collection folder does."""
    from intrusion_case import make_case

    from ashiato.analysis.context import Context

    rows = [
        {
            "@timestamp": at(0),
            "event.dataset": "esxi.shell",
            "observer.type": "hypervisor",
            "event.action": "shell-command",
            "evidence_id": "ev1",
            "process.command_line": "/tmp/e /vmfs/volumes/ds1/vm1/vm1-flat.vmdk",
        },
        {
            "@timestamp": at(1),
            "event.dataset": "esxi.hostd",
            "observer.type": "hypervisor",
            "event.action": "vm-power-off",
            "evidence_id": "ev2",
        },
    ]
    case = make_case(tmp_path, rows)
    with case.writer() as con:
        for ev, path in (
            ("ev1", "collect/ESX07/var/log/shell.log"),
            ("ev2", "collect/ESX07/var/log/hostd.log"),
        ):
            con.execute("INSERT INTO evidence (evidence_id, path) VALUES (?, ?)", [ev, path])
    srv = servers_mod.analyse(Context(events=case.ibis().table("events"), tz="UTC"))
    assert srv["encrypted_on_hypervisor"] == ["esx07"]


def test_hypervisor_reached_from_the_vpn(tmp_path: Path) -> None:
    from intrusion_case import spray

    from ashiato.analysis import remote_access

    ctx = make_ctx(tmp_path, servers() + spray())
    srv = servers_mod.analyse(ctx, remote_access.Pool(remote_access.sessions(ctx)))
    [h] = srv["hypervisors"]
    assert h["vpn"] == [
        {"ip": "10.212.134.200", "user": "suzuki", "public_ip": "5.188.10.1", "country": "RU"}
    ]
    assert "reached from the VPN address 10.212.134.200 (suzuki from 5.188.10.1, RU)" in h["note"]
