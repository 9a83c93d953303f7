"""The hypervisor section from an ESXi shell.log written from the documented shape: VMs
stopped, disks renamed by hand, the host's own logs switched off and deleted."""

from __future__ import annotations

import shutil
from pathlib import Path

from ashiato.analysis import servers
from ashiato.analysis.context import Context
from ashiato.case import Case
from ashiato.ingest import Options, ingest

DATA = Path(__file__).resolve().parents[1] / "data" / "esxi"


def test_renamed_disks_and_log_tampering_from_the_shell(tmp_path: Path) -> None:
    folder = tmp_path / "evidence" / "esx07" / "var" / "log"
    folder.mkdir(parents=True)
    shutil.copy(DATA / "shell_by_hand.log", folder / "shell.log")
    case = Case.create_or_open(tmp_path / "case", tz="Asia/Tokyo")
    ingest(case, [tmp_path / "evidence"], Options(tz="Asia/Tokyo"))
    srv = servers.analyse(Context(events=case.ibis().table("events"), tz="Asia/Tokyo"))
    [h] = srv["hypervisors"]
    assert h["host"] == "esx07" and h["encrypted"]
    assert h["ssh_enabled"] == ["2023-02-03T10:00:01Z"]  # vim-cmd hostsvc/enable_ssh
    assert (h["vms_powered_off"], h["vm_ids"], h["vms"]) == (2, ["3", "2105123"], [])
    # the .bak copies an administrator makes are not encryption; the two .crypt0r are
    assert h["vm_files_encrypted"] == 2 and h["datastores"] == ["datastore1"]
    assert h["examples"] == [
        "/vmfs/volumes/datastore1/APP01/APP01-flat.vmdk.crypt0r",
        "/vmfs/volumes/datastore1/SQL01/SQL01-flat.vmdk.crypt0r",
    ]
    assert [t["command"].split()[0] for t in h["log_tampering"]] == ["esxcli", "rm", ">"]
    # the note echoed into the datastore and the web client's start page replaced; not a read
    assert h["ransom_notes"] == 2
    assert "3 command(s) against its own logs" in h["note"]
    steps = servers.next_steps(srv)
    assert any("esx07" in s and "syslog collector" in s for s in steps)


def test_one_stop_logged_three_ways_counts_once(tmp_path: Path) -> None:
    """vim-cmd in shell.log, hostd's task and its state transition for each of two VMs."""
    from intrusion_case import at, make_ctx

    esx = {"host.name": "esx08", "observer.type": "hypervisor", "evidence_id": "esx08"}
    rows = []
    for i, vm in enumerate(("APP01", "SQL01")):
        t = i * 0.5  # 30 s apart
        rows += [
            {**esx, "@timestamp": at(t), "event.dataset": "esxi.shell",
             "event.action": "shell-command",
             "process.command_line": f"vim-cmd vmsvc/power.off {i + 1}"},
            {**esx, "@timestamp": at(t + 0.01), "event.dataset": "esxi.hostd",
             "event.action": "vm-power-off", "extra": f'{{"vm_id": "{i + 1}"}}'},
            {**esx, "@timestamp": at(t + 0.02), "event.dataset": "esxi.hostd",
             "event.action": "vm-power-off",
             "file.path": f"/vmfs/volumes/datastore1/{vm}/{vm}.vmx"},
        ]  # fmt: skip
    [h] = servers.analyse(make_ctx(tmp_path, rows))["hypervisors"]
    assert h["vms_powered_off"] == 2 and h["vms"] == ["APP01", "SQL01"]
    assert h["vm_ids"] == ["1", "2"]
