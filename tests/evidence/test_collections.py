from __future__ import annotations

import json
import zipfile
from pathlib import Path

from ashiato.evidence.collections import (
    CollectionInfo,
    detect_collection,
    detect_collections,
    host_for,
    hosts_for_files,
    plausible_host,
)
from ashiato.evidence.walk import Walker

KAPE = [
    "/cases/PC-TKY-0341/C/Windows/System32/winevt/Logs/Security.evtx",
    "/cases/PC-TKY-0341/C/Windows/prefetch/X9K2.TMP-5C1E2F3A.pf",
    "/cases/PC-TKY-0341/C/Windows/AppCompat/Programs/Amcache.hve",
    "/cases/PC-TKY-0341/C/$MFT",
    "/cases/PC-TKY-0341/C/Users/tanaka/AppData/Local/Microsoft/Windows/WebCache/WebCacheV01.dat",
    "/cases/PC-TKY-0341/2015-09-10T031500_ConsoleLog.txt",
]


def test_kape_folder_named_after_the_host() -> None:
    info = detect_collection(KAPE)
    assert info == CollectionInfo("kape", "PC-TKY-0341", "/cases/PC-TKY-0341/")
    hints = {info.root: info.host}
    assert {host_for(d, hints) for d in KAPE} == {"PC-TKY-0341"}
    assert host_for("/cases/other/firewall.log", hints) is None


def test_kape_generic_or_timestamp_folders_give_no_host() -> None:
    assert detect_collection(["/x/tout/C/Windows/prefetch/CMD.EXE-4A81B364.pf"]) == (
        CollectionInfo("kape", None, "/x/tout/")
    )
    assert detect_collection(["/x/20150910031500/C/$MFT"]) == (
        CollectionInfo("kape", None, "/x/20150910031500/")
    )
    # KAPE's %m with a timestamp before or after it
    assert host_for("/x/20150910031500_PC-TKY-0341/C/$MFT") == "PC-TKY-0341"
    assert host_for("/x/PC-TKY-0341_2015-09-10/C/$MFT") == "PC-TKY-0341"
    # shadow copies are below the same root
    assert host_for("/x/FS01/vss3/D/$MFT") == "FS01"


def test_kape_module_output_and_windows_paths() -> None:
    assert host_for(r"E:\KAPE\PC-TKY-0341\ProgramExecution\20150910_PECmd_Output.csv") == (
        "PC-TKY-0341"
    )
    assert host_for(r"E:\KAPE\mout\FileSystem\20150910_MFTECmd_$MFT_Output.csv") is None
    assert host_for(r"E:\Triage\WS-07\C\Windows\System32\winevt\Logs\System.evtx") == "WS-07"


def test_velociraptor_zip_with_client_info() -> None:
    z = "/cases/Collection-ws07.corp.example-2015-09-10T03_15_00Z.zip"
    listing = [
        f"{z}!uploads/auto/C%3A/Windows/System32/winevt/Logs/Security.evtx",
        f"{z}!uploads/ntfs/%5C%5C.%5CC%3A/$MFT",
        f"{z}!client_info.json",
        f"{z}!collection_context.json",
        f"{z}!log.json",
    ]
    docs = {
        f"{z}!client_info.json": json.dumps({"Hostname": "WS07", "Fqdn": "ws07.corp.example"}),
        f"{z}!collection_context.json": json.dumps({"session_id": "F.1"}),
    }
    info = detect_collection(listing, lambda n: docs[n].encode() if n in docs else None)
    assert info == CollectionInfo("velociraptor", "WS07", f"{z}!")
    # without reading the JSON, the archive's name still tells the host
    by_name = CollectionInfo("velociraptor", "ws07.corp.example", f"{z}!")
    assert detect_collection(listing) == by_name
    # the host hidden deeper in collection_context.json, Fqdn only
    deep = {f"{z}!collection_context.json": json.dumps({"client": {"fqdn": "ws07.example"}})}
    info = detect_collection(listing, lambda n: deep[n].encode() if n in deep else None)
    assert info is not None and info.host == "ws07.example"


def test_not_a_collection() -> None:
    assert detect_collection(["/logs/access.log", "/logs/eve.json"]) is None
    assert detect_collections([]) == []
    assert host_for("/logs/access.log") is None


def test_several_hosts_in_one_folder() -> None:
    listing = [
        "/case/PC01/C/Windows/prefetch/A.pf",
        "/case/PC02/C/Windows/prefetch/B.pf",
    ]
    found = detect_collections(listing)
    assert sorted((c.host, c.root) for c in found) == [
        ("PC01", "/case/PC01/"), ("PC02", "/case/PC02/"),
    ]  # fmt: skip
    hints = {c.root: c.host for c in found}
    assert host_for(listing[1], hints) == "PC02"


def test_plausible_host() -> None:
    assert plausible_host("PC-TKY-0341") == "PC-TKY-0341"
    assert plausible_host("fs01.corp.example") == "fs01.corp.example"
    assert plausible_host("tout") is None
    assert plausible_host("2015-09-10T03_15_00Z") is None
    assert plausible_host("my collection (copy)") is None


def test_walker_end_to_end(tmp_path: Path) -> None:
    z = tmp_path / "Collection-X-2015-09-10T03_15_00Z.zip"
    with zipfile.ZipFile(z, "w") as zf:
        zf.writestr("uploads/auto/C%3A/Windows/prefetch/CMD.EXE-4A81B364.pf", b"SCCA data")
        zf.writestr("client_info.json", json.dumps({"Hostname": "PC-TKY-0341"}))
        zf.writestr("results/Generic.Client.Info%2FBasicInformation.json", b"{}\n")
    kape = tmp_path / "FS01" / "D" / "$MFT"
    kape.parent.mkdir(parents=True)
    kape.write_bytes(b"FILE0")
    loose = tmp_path / "proxy.log"
    loose.write_text("1441770000.000 1 10.0.0.1 TCP_MISS/200 1 GET http://a.example/ - -\n")
    with Walker() as w:
        files = [(ev.display, ev.path) for ev in w.walk([tmp_path])]
        hosts = hosts_for_files(files)
    assert hosts == {
        f"{z}!uploads/auto/C%3A/Windows/prefetch/CMD.EXE-4A81B364.pf": "PC-TKY-0341",
        f"{z}!client_info.json": "PC-TKY-0341",
        f"{z}!results/Generic.Client.Info%2FBasicInformation.json": "PC-TKY-0341",
        str(kape): "FS01",
    }
