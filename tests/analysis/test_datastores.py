"""VMs encrypted on the hypervisor, counted from a listing of its datastores: the
ls_listing fixtures ingested as a responder would, then impact and servers read them."""

from __future__ import annotations

import os
from datetime import datetime
from pathlib import Path
from typing import Any

from ashiato.analysis import datastores, impact, servers
from ashiato.analysis.context import Context
from ashiato.case import Case
from ashiato.ingest import Options, ingest

DATA = Path(__file__).resolve().parents[1] / "data" / "ls_listing"


def _ctx(tmp: Path, files: dict[str, str | bytes]) -> Context:
    """A case of ``files`` (relative path -> fixture name or text), saved on 2023-02-03."""
    saved = datetime.fromisoformat("2023-02-03T11:00:00+00:00").timestamp()
    for rel, what in files.items():
        out = tmp / "evidence" / rel
        out.parent.mkdir(parents=True, exist_ok=True)
        data = (DATA / what).read_bytes() if what in os.listdir(DATA) else what
        out.write_bytes(data if isinstance(data, bytes) else data.encode())
        os.utime(out, (saved, saved))
    case = Case.create_or_open(tmp / "case", tz="Asia/Tokyo")
    report = ingest(case, [tmp / "evidence"], Options(tz="Asia/Tokyo"))
    assert [f.format for f in report.files] == ["ls_listing"] * len(files)
    return Context(events=case.ibis().table("events"), tz="Asia/Tokyo")


def test_vm_files_renamed_on_a_datastore_are_counted(tmp_path: Path) -> None:
    ctx = _ctx(tmp_path, {"esx01/datastores_ls-lR.txt": "esxi_datastores_ls-lR.txt"})
    [hit] = datastores.encrypted(ctx)
    assert (hit.datastore, hit.extension, hit.vms) == ("datastore1", ".locked3", ["APP01", "FS01"])
    # five of APP01's files (its empty .vmsd renamed, kept its 2022 time) and three of FS01's;
    # not vmware.log, not the VMFS system files, not the backup NFS store
    assert len(hit.files) == 8
    assert {r["file.name"] for r in hit.notes} == {"How To Restore Your Files.txt"}

    imp = impact.analyse(ctx)
    assert len(imp.encrypted) == 8 and len(imp.notes) == 1
    assert imp.shares == {"datastore1": 9}
    assert imp.basis["datastore1"]["basis"] == "VM files renamed to .locked3 on the datastore"
    assert imp.note_names == ["HOW TO RESTORE YOUR FILES.TXT"]

    srv = servers.analyse(ctx)
    assert srv["encrypted_on_hypervisor"] == ["esx01"]  # the folder it was collected in
    [h] = srv["hypervisors"]
    assert (h["datastores"], h["vm_files_encrypted"], h["ransom_notes"]) == (
        ["datastore1"], 8, 1,
    )  # fmt: skip
    assert h["vms"] == ["APP01", "FS01"] and h["extensions"] == [".locked3"]
    assert "the listing of datastore1 shows 8 VM file(s) renamed to .locked3" in h["note"]
    assert any("esx01" in s for s in servers.next_steps(srv))


def test_a_find_listing_without_times(tmp_path: Path) -> None:
    ctx = _ctx(tmp_path, {"esx01/find.txt": "find_paths.txt"})
    [hit] = datastores.encrypted(ctx)
    assert (hit.datastore, len(hit.files), hit.first) == ("datastore2", 3, None)
    assert [r["file.name"] for r in hit.notes] == ["How To Restore Your Files.txt"]
    assert len(impact.analyse(ctx).encrypted) == 3


def test_what_esxi_and_administrators_append_is_not_encryption(tmp_path: Path) -> None:
    listing = (
        "/vmfs/volumes/datastore1/APP01:\n"
        "-rw-------    1 root     root           562 Feb  3 10:14 APP01.vmdk\n"
        "-rwxr-xr-x    1 root     root          3371 Feb  3 10:14 APP01.vmx\n"
        "-rwxr-xr-x    1 root     root          3371 Jan 12 09:00 APP01.vmx.bak\n"
        "-rw-------    1 root     root           562 Jan 12 09:00 APP01.vmdk.lck\n"
        "-rw-------    1 root     root           562 Jan 12 09:00 APP01.vmdk.1\n"
        # one disk an administrator set aside: one suffix, once
        "-rw-------    1 root     root     10737418240 Jan 12 09:00 APP01_1-flat.vmdk.old2019\n"
        "-rw-r--r--    1 root     root          1200 Feb  3 10:15 notes.txt\n"
    )
    ctx = _ctx(tmp_path, {"esx02/ls.txt": listing})
    assert datastores.encrypted(ctx) == []
    assert impact.analyse(ctx).encrypted == []
    srv: dict[str, Any] = servers.analyse(ctx)
    assert srv["hypervisors"] == [] and srv["encrypted_on_hypervisor"] == []


def test_a_known_ransomware_extension_counts_once(tmp_path: Path) -> None:
    listing = (
        "/vmfs/volumes/ds3/WEB01:\n"
        "-rw-------    1 root     root     42949672960 Feb  3 10:14 WEB01-flat.vmdk.akira\n"
        "-rw-r--r--    1 root     root          2000 Feb  3 10:14 akira_readme.txt\n"
    )
    ctx = _ctx(tmp_path, {"esx03/ls.txt": listing})
    [hit] = datastores.encrypted(ctx)
    assert (hit.extension, len(hit.files), len(hit.notes)) == (".akira", 1, 1)
    # the general rule (a known extension) and the datastore rule do not count it twice
    imp = impact.analyse(ctx)
    assert len(imp.encrypted) == 1 and len(imp.notes) == 1
