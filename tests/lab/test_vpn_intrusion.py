"""The VPN intrusion scenario (issue 16): truth recounted from the FortiGate, Windows, Veeam
and ESXi evidence; the case without endpoint logs; every Windows and firewall file ingests."""

from __future__ import annotations

import hashlib
import json
import re
from collections import Counter
from pathlib import Path
from typing import Any

import pytest

from ashiato.case import Case
from ashiato.ingest import Options, ingest
from ashiato.lab import generate

SEED = 4


def _nxlog(path: Path) -> list[dict[str, Any]]:
    """The DC's Security log as NXLog writes it: one flat JSON object per event."""
    return [{"id": int(e["EventID"]), **e}
            for e in map(json.loads, path.read_text("utf-8").splitlines())]


def _events(path: Path) -> list[dict[str, Any]]:
    out = []
    for line in path.read_text("utf-8").splitlines():
        e = json.loads(line)["Event"]
        eid = e["System"]["EventID"]
        out.append({"id": int(eid["#text"] if isinstance(eid, dict) else eid),
                    **(e.get("EventData") or next(iter(e.get("UserData", {None: {}}).values())))})
    return out


def _kv(line: str) -> dict[str, str]:
    return {k: v.strip('"') for k, v in re.findall(r'(\w+)=("[^"]*"|\S+)', line)}


@pytest.fixture(scope="module")
def vpn(tmp_path_factory: pytest.TempPathFactory) -> dict[str, tuple[Path, dict[str, Any]]]:
    out = {}
    for name, kw in (("full", {"variant": "full"}),
                     ("default-logging", {"variant": "default-logging"}),
                     ("no-endpoint", {"variant": "full", "missing": ["endpoint"]})):
        root = tmp_path_factory.mktemp(f"vpn-{name}")
        out[name] = (root, generate("vpn-intrusion", root, seed=SEED, **kw))  # type: ignore[arg-type]
    return out


def _fortigate(root: Path) -> list[dict[str, str]]:
    return [_kv(ln) for ln in (root / "evidence/firewall/FG-TOKYO.log").read_text(
        "utf-8").splitlines()]


def test_deterministic_per_seed(vpn, tmp_path: Path) -> None:
    root, truth = vpn["default-logging"]
    again = generate("vpn-intrusion", tmp_path / "a", seed=SEED, variant="default-logging")

    def digest(r: Path) -> str:
        h = hashlib.sha256()
        for p in sorted(r.rglob("*")):
            if p.is_file():
                h.update(str(p.relative_to(r)).encode() + p.read_bytes())
        return h.hexdigest()

    assert again == truth and digest(tmp_path / "a") == digest(root)


def test_spraying_then_success_from_abroad(vpn) -> None:
    root, truth = vpn["full"]
    entry = truth["intrusion"]["entry"]
    vpn_events = [e for e in _fortigate(root) if e.get("subtype") == "vpn"]
    sprayed = [e for e in vpn_events if e["action"] == "ssl-login-fail"
               and e["remip"] in entry["spray_ips"]]
    per_user = Counter(e["user"] for e in sprayed)
    assert len(per_user) == entry["sprayed_accounts"] >= 20
    assert max(per_user.values()) <= 2  # spraying: many accounts, few tries each
    assert all(e["logid"] == "0101039426" and e["type"] == "event" for e in sprayed)
    up = [e for e in vpn_events if e["action"] == "tunnel-up" and e["remip"] == entry[
        "source_ip"]]
    assert len(up) == 1 and up[0]["user"] == entry["account"].split("\\")[-1]
    assert up[0]["tunnelip"] == entry["tunnel_ip"] and up[0]["srccountry"] == entry["country"]
    # the same tunnel address served a member of staff earlier: only time tells them apart
    earlier = [e for e in vpn_events if e["action"] == "tunnel-up"
               and e.get("tunnelip") == entry["tunnel_ip"] and e["user"] != up[0]["user"]]
    assert earlier and all(e["srccountry"] == "Japan" for e in earlier)


def test_rdp_from_the_tunnel_and_a_new_domain_admin(vpn) -> None:
    root, truth = vpn["full"]
    entry = truth["intrusion"]["entry"]
    rds = _events(root / "evidence/endpoint/rds01/Security.jsonl")
    rdp = [e for e in rds if e["id"] == 4624 and e["LogonType"] == "10"]
    pool = [e["IpAddress"] for e in rdp if e["IpAddress"].startswith("10.212.134.")]
    assert pool == [entry["tunnel_ip"]] and len(rdp) > 3  # staff use RDS01 from the LAN
    new = truth["intrusion"]["new_accounts"][0]
    sam = new["account"].split("\\")[-1]
    dc = [e for e in _nxlog(root / "evidence/dc/DC01_Security.json")
          if e["id"] in (4720, 4728, 4732)]
    assert [e["id"] for e in dc] == [4720, 4728, 4732]
    assert dc[0]["TargetUserName"] == sam
    assert {e["TargetUserName"] for e in dc[1:]} == {"Domain Admins", "Administrators"}
    assert {e["MemberSid"] for e in dc[1:]} == {dc[0]["TargetSid"]}
    creator = new["created_by"].split("\\")[-1]
    assert {e["SubjectUserName"] for e in dc} == {creator}
    sysmon = _events(root / "evidence/endpoint/rds01/Microsoft-Windows-Sysmon%4Operational.jsonl")
    assert any(e["id"] == 10 and e["TargetImage"].endswith("lsass.exe") for e in sysmon)


def test_backups_destroyed(vpn) -> None:
    root, truth = vpn["default-logging"]
    gone = truth["intrusion"]["backups_deleted"]
    veeam = _events(root / "evidence/endpoint/bkup01/Veeam Backup.jsonl")
    assert sorted(e["JobName"] for e in veeam if e["id"] == 23090) == sorted(gone["veeam_jobs"])
    assert sum(e["id"] == 10050 for e in veeam) == gone["restore_points"]
    app = _events(root / "evidence/endpoint/bkup01/Application.jsonl")
    assert [e["id"] for e in app] == [524]


def test_exfiltration_bytes_match_the_firewall(vpn) -> None:
    root, truth = vpn["full"]
    ex = truth["intrusion"]["exfiltration"]
    mega = [e for e in _fortigate(root) if e.get("app") == "MEGA"]
    assert {e["srcip"] for e in mega} == {"10.0.0.20"}
    assert sum(int(e["sentbyte"]) for e in mega) == ex["bytes"] > 2_000_000_000
    assert {e["hostname"] for e in mega} == set(ex["hostnames"])
    sysmon = _events(root / "evidence/endpoint/fs01/Microsoft-Windows-Sysmon%4Operational.jsonl")
    renamed = [e for e in sysmon if e["id"] == 1 and e["OriginalFileName"] == "rclone.exe"]
    assert len(renamed) == 1 and renamed[0]["Image"] == ex["binary"]
    assert not renamed[0]["Image"].lower().endswith("rclone.exe")
    assert any(e["id"] == 1 and e["CommandLine"].startswith("7za.exe a ") for e in sysmon)


def test_the_upload_on_the_ids_too(vpn) -> None:
    root, truth = vpn["default-logging"]
    ex = truth["intrusion"]["exfiltration"]
    eve = [json.loads(ln) for ln in (root / "evidence/ids/eve.json").read_text().splitlines()]
    tls = {e["flow_id"]: e["tls"]["sni"] for e in eve
           if e["event_type"] == "tls" and e["src_ip"] == "10.0.0.20"}
    assert set(tls.values()) == set(ex["hostnames"])
    flows = [e for e in eve if e["event_type"] == "flow" and e["flow_id"] in tls]
    assert sum(e["flow"]["bytes_toserver"] for e in flows) == ex["bytes"]
    asked = {e["dns"]["rrname"] for e in eve if e["event_type"] == "dns"
             and e["src_ip"] == "10.0.0.20"}
    assert set(ex["hostnames"]) <= asked


def test_esxi_vms_powered_off_and_datastores_encrypted(vpn) -> None:
    root, truth = vpn["full"]
    base = root / "evidence/hypervisor/esxi01"
    shell = (base / "shell.log").read_text("utf-8").splitlines()
    # ESXi 7.0 (no header) or 8.0 (In(14), the documented severity and PRI)
    assert all(re.match(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z (In\(14\) )?shell\[\d+\]: "
                        r"\[root\]: ", ln) for ln in shell)
    stops = [ln for ln in shell if "vmsvc/power.off" in ln or "vm process kill" in ln]
    enc = truth["intrusion"]["encrypted_datastores"]
    assert len(stops) == sum(len(d["vms"]) for d in enc)
    assert "SSH access has been enabled." in (base / "hostd.log").read_text("utf-8")
    assert "[esx.audit.ssh.enabled]" in (base / "vobd.log").read_text("utf-8")
    hostd = (base / "hostd.log").read_text("utf-8")
    v8 = " In(14) shell[" in shell[0]
    assert (" In(166) Hostd[" in hostd) == v8 and (" info hostd[" in hostd) != v8
    listing = (base / "datastores_ls-lR.txt").read_text("utf-8")
    # ls -lR /vmfs/volumes/: UUID folders, each datastore's name a link to its UUID
    blocks = dict(b.split(":\n", 1) for b in listing.strip().split("\n\n"))
    links = dict(re.findall(r"^l\S+ +1 root +root +\d+ .{12} (\S+) -> (\S+)$",
                            blocks["/vmfs/volumes"], re.M))
    assert sorted(links) == sorted(d["datastore"] for d in enc)
    for d in enc:
        root = f"/vmfs/volumes/{links[d['datastore']]}"
        assert re.search(r"^-\S+ .* " + re.escape(d["note"].rsplit("/", 1)[-1]) + "$",
                         blocks[root], re.M)
        for vm in d["vms"]:
            assert re.search(rf"^d\S+ .* {vm}$", blocks[root], re.M)  # its folder
        names = {f.removeprefix(f"/vmfs/volumes/{d['datastore']}/") for f in d["files"]}
        listed = {f"{folder.removeprefix(root + '/')}/{name}"
                  for folder, text in blocks.items() if folder.startswith(root + "/")
                  for name in re.findall(r" (\S+" + re.escape(d["extension"]) + r")$", text,
                                         re.M)}
        assert names == listed and len(names) == d["files_renamed"]
    assert truth["impact"]["encrypted_files"] == sum(d["files_renamed"] for d in enc)


def test_without_endpoint_logs_the_network_evidence_is_unchanged(vpn) -> None:
    root, truth = vpn["no-endpoint"]
    full_root, full = vpn["full"]
    assert not (root / "evidence/endpoint").exists()
    assert truth["intrusion"]["entry"] == full["intrusion"]["entry"]
    for rel in ("evidence/firewall/FG-TOKYO.log", "evidence/dc/DC01_Security.json",
                "evidence/hypervisor/esxi01/shell.log"):
        assert (root / rel).read_bytes() == (full_root / rel).read_bytes(), rel


@pytest.mark.parametrize("name", ["full", "no-endpoint"])
def test_windows_and_network_files_are_recognised(vpn, name: str, tmp_path: Path) -> None:
    root, _ = vpn[name]
    case = Case.create_or_open(tmp_path / "case", tz="Asia/Tokyo")
    report = ingest(case, [root / "evidence"], Options(tz="Asia/Tokyo"))
    bad = [(f.display, f.status) for f in report.files
           if f.status != "done" and "/hypervisor/" not in f.display]
    assert bad == []


def test_esxi_files_are_recognised(vpn, tmp_path: Path) -> None:
    root, _ = vpn["full"]
    case = Case.create_or_open(tmp_path / "case", tz="Asia/Tokyo")
    report = ingest(case, [root / "evidence/hypervisor"], Options(tz="Asia/Tokyo"))
    logs = [f for f in report.files if f.display.endswith(".log")]
    assert len(logs) == 4 and all(f.status == "done" for f in logs), [
        (f.display, f.status) for f in report.files]
    # the responders' listing of the datastores is read too (formats/ls_listing)
    listing = [f for f in report.files if f.display.endswith("datastores_ls-lR.txt")]
    assert [(f.format, f.status) for f in listing] == [("ls_listing", "done")]
