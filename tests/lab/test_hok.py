"""The hands-on-keyboard scenario: its truth recounted from the Windows, firewall and share
evidence, in both logging variants, and every file it writes is recognised by ingest."""

from __future__ import annotations

import csv
import hashlib
import io
import json
import re
from pathlib import Path
from typing import Any

import pytest

from ashiato.case import Case
from ashiato.ingest import Options, ingest
from ashiato.lab import LabError, generate

SEED = 5


def _events(path: Path) -> list[dict[str, Any]]:
    return [json.loads(line)["Event"] for line in path.read_text("utf-8").splitlines()]


def _data(e: dict[str, Any]) -> dict[str, Any]:
    return e.get("EventData") or next(iter(e["UserData"].values()))


def _eid(e: dict[str, Any]) -> int:
    v = e["System"]["EventID"]
    return int(v["#text"] if isinstance(v, dict) else v)


def _xml_events(path: Path) -> list[dict[str, str]]:
    """FS01's wevtutil export, one event per line, as {EventID, EventRecordID, Data...}."""
    out = []
    for line in path.read_text("utf-8").splitlines():
        d = dict(re.findall(r'<Data Name="([^"]+)">([^<]*)</Data>', line))
        d["EventID"] = re.search(r"<EventID>(\d+)</EventID>", line).group(1)  # type: ignore[union-attr]
        d["EventRecordID"] = re.search(r"<EventRecordID>(\d+)<", line).group(1)  # type: ignore[union-attr]
        out.append(d)
    return out


@pytest.fixture(scope="module")
def hok(tmp_path_factory: pytest.TempPathFactory) -> dict[str, tuple[Path, dict[str, Any]]]:
    out = {}
    for variant in ("full", "default-logging"):
        root = tmp_path_factory.mktemp(f"hok-{variant}")
        out[variant] = (root, generate("hands-on-keyboard", root, seed=SEED, variant=variant))
    return out


def _digest(root: Path) -> str:
    h = hashlib.sha256()
    for p in sorted(root.rglob("*")):
        if p.is_file():
            h.update(str(p.relative_to(root)).encode() + p.read_bytes())
    return h.hexdigest()


def test_deterministic_per_seed(hok, tmp_path: Path) -> None:
    root, truth = hok["default-logging"]
    again = generate("hands-on-keyboard", tmp_path / "a", seed=SEED, variant="default-logging")
    assert again == truth and _digest(tmp_path / "a") == _digest(root)
    other = generate("hands-on-keyboard", tmp_path / "b", seed=SEED + 1,
                     variant="default-logging")
    assert other["intrusion"]["entry"] != truth["intrusion"]["entry"] or \
        other["patient_zero"]["first_malicious"] != truth["patient_zero"]["first_malicious"]


def test_unknown_variant_is_refused(tmp_path: Path) -> None:
    with pytest.raises(LabError, match="no variant"):
        generate("hands-on-keyboard", tmp_path, variant="sysmon-only")
    with pytest.raises(LabError, match="no variant"):
        generate("benign", tmp_path, variant="default-logging")


def test_entry_by_guessed_rdp_logon(hok) -> None:
    root, truth = hok["full"]
    entry = truth["intrusion"]["entry"]
    assert truth["patient_zero"]["host"] == "rds01" == truth["intrusion"]["patient_zero_host"]
    assert truth["vector"]["type"] == "remote_access" and truth["vector"]["via"] == "rdp"
    sec = _events(root / "evidence/endpoint/rds01/Security.jsonl")
    fails = [e for e in sec if _eid(e) == 4625 and _data(e)["IpAddress"] == entry["source_ip"]]
    rdp = [e for e in sec if _eid(e) == 4624 and _data(e)["LogonType"] == "10"]
    ok = [e for e in rdp if not _data(e)["IpAddress"].startswith("10.")]
    assert len(fails) >= 20 and len(ok) == 1 and len(rdp) > 3  # staff use RDS01 too
    assert _data(ok[0])["IpAddress"] == entry["source_ip"]
    assert "CORP\\" + _data(ok[0])["TargetUserName"] == entry["account"]
    assert max(e["System"]["TimeCreated"]["#attributes"]["SystemTime"] for e in fails) < \
        ok[0]["System"]["TimeCreated"]["#attributes"]["SystemTime"]
    # NLA from outside the domain is NTLM: the DC names the operator's machine for every try
    client = _data(ok[0])["WorkstationName"]
    nxlog = (root / "evidence/dc/DC01_Security.json").read_text("utf-8").splitlines()
    dc = [e for e in map(json.loads, nxlog) if int(e["EventID"]) == 4776]  # flat NXLog JSON
    assert sum(d["Workstation"] == client and d["Status"] != "0x0" for d in dc) == len(fails)
    assert [d["TargetUserName"] for d in dc if d["Workstation"] == client
            and d["Status"] == "0x0"] == [_data(ok[0])["TargetUserName"]]
    rcm = _events(root / "evidence/endpoint/rds01/"
                  "Microsoft-Windows-TerminalServices-RemoteConnectionManager%4Operational.jsonl")
    outside = [_data(e)["Param3"] for e in rcm
               if _eid(e) == 1149 and not _data(e)["Param3"].startswith("10.")]
    assert outside == [entry["source_ip"]]
    fw = (root / "evidence/firewall/FG-TOKYO.log").read_text("utf-8")
    forwarded = [ln for ln in fw.splitlines()
                 if f"srcip={entry['source_ip']} " in ln and "tranip=10.0.0.50" in ln]
    assert len(forwarded) == len(fails) + 1
    assert all(f'srccountry="{entry["country"]}"' in ln for ln in forwarded)


def test_psexec_to_the_file_server_shares_one_logon_id(hok) -> None:
    root, truth = hok["full"]
    admin = next(a for a in truth["intrusion"]["accounts"] if "lateral" in a["roles"])
    fs = _xml_events(root / "evidence/fileserver-audit/FS01_Security.xml")
    logons = [e for e in fs if e["EventID"] == "4624" and e["TargetUserName"] == admin["sam"]]
    assert logons and all(e["LogonType"] == "3" and e["IpAddress"] == "10.0.0.50"
                          and e["WorkstationName"] == "RDS01" for e in logons)
    lid = logons[-1]["TargetLogonId"]
    shares = {(e["ShareName"], e["RelativeTargetName"]) for e in fs
              if e["EventID"] == "5145" and e["SubjectLogonId"] == lid}
    assert ("\\\\*\\IPC$", "svcctl") in shares and ("\\\\*\\ADMIN$", "PSEXESVC.exe") in shares
    assert any(r.startswith("PSEXESVC-RDS01-") for _, r in shares)
    system = [_data(e) for e in _events(root / "evidence/endpoint/fs01/System.jsonl")
              if _eid(e) == 7045]
    assert system and {d["ServiceName"] for d in system} == {"PSEXESVC"}
    assert system[0]["ImagePath"] == "%SystemRoot%\\PSEXESVC.exe"
    rds = _events(root / "evidence/endpoint/rds01/Security.jsonl")
    explicit = [_data(e) for e in rds if _eid(e) == 4648]
    assert {d["TargetUserName"] for d in explicit} == {admin["sam"]}
    edge = truth["intrusion"]["lateral"][0]
    assert (edge["source"], edge["target"], edge["account"]) == ("rds01", "fs01",
                                                                  admin["account"])


def test_defender_exclusion_shadow_copies_and_cleared_logs(hok) -> None:
    root, truth = hok["full"]
    defender = [_data(e) for e in _events(
        root / "evidence/endpoint/fs01/Microsoft-Windows-Windows Defender%4Operational.jsonl")]
    assert any("\\Exclusions\\Paths\\" in d.get("New Value", "") for d in defender)
    ps = _events(root / "evidence/endpoint/fs01/Microsoft-Windows-PowerShell%4Operational.jsonl")
    assert "Add-MpPreference -ExclusionPath" in _data(ps[0])["ScriptBlockText"]
    sysmon = [_data(e) for e in _events(
        root / "evidence/endpoint/fs01/Microsoft-Windows-Sysmon%4Operational.jsonl")
        if _eid(e) == 1]
    vss = [d for d in sysmon if "vssadmin.exe delete shadows /all /quiet" in d["CommandLine"]]
    assert len(vss) == 1
    if truth["intrusion"]["lateral"][0]["technique"] == "wmi":  # a batch started over WMI
        assert vss[0]["ParentCommandLine"].startswith("cmd.exe /c C:\\Windows\\Temp\\")
        parent = next(d for d in sysmon if d["ProcessGuid"] == vss[0]["ParentProcessGuid"])
        assert parent["ParentImage"].endswith("\\wbem\\WmiPrvSE.exe")
    fs = _xml_events(root / "evidence/fileserver-audit/FS01_Security.xml")
    lost = next(t for t in truth["tampering"] if t["channel"] == "Security")["records_lost"]
    # the cleared log starts with its 1102, numbered after every record that was lost
    assert fs[0]["EventID"] == "1102" or "1102" in {e["EventID"] for e in fs[:1]}
    assert int(fs[0]["EventRecordID"]) == lost[-1] + 1
    system = _events(root / "evidence/endpoint/fs01/System.jsonl")
    assert _eid(system[0]) == 104 and _data(system[0])["Channel"] == "System"


def test_encrypted_share_counts_match_the_listing(hok) -> None:
    root, truth = hok["full"]
    text = (root / "evidence/fileserver-listing/share_listing.csv").read_bytes().decode("cp932")
    rows = list(csv.DictReader(io.StringIO("\n".join(text.splitlines()[1:]))))
    ext, note = truth["impact"]["extension"], truth["impact"]["note_names"][0]
    enc = [r for r in rows if r["FullName"].endswith(ext)]
    notes = [r for r in rows if r["FullName"].endswith("\\" + note)]
    assert len(enc) == truth["impact"]["encrypted_files"] > 50
    assert len(notes) == truth["impact"]["ransom_notes"]
    admin = next(a for a in truth["intrusion"]["accounts"] if "lateral" in a["roles"])
    assert {r["Owner"] for r in enc + notes} == {admin["account"]}


def test_default_logging_keeps_only_the_defaults(hok) -> None:
    root, truth = hok["default-logging"]
    assert truth["variant"] == "default-logging" and truth["audit"] is False
    assert not list(root.rglob("*Sysmon*"))
    for path in root.glob("evidence/endpoint/*/Security.jsonl"):
        assert '"EventID":4688' not in path.read_text("utf-8"), path
    fs = (root / "evidence/fileserver-audit/FS01_Security.xml").read_text("utf-8")
    assert not re.search(r"<EventID>(4688|5140|5145|4663)</EventID>", fs)
    # what survives by default still tells the story
    assert "<EventID>1102</EventID>" in fs and "<EventID>4672</EventID>" in fs
    assert '"ServiceName":"PSEXESVC"' in (root / "evidence/endpoint/fs01/System.jsonl"
                                          ).read_text("utf-8")
    assert "Exclusions" in (root / "evidence/endpoint/fs01/"
                            "Microsoft-Windows-Windows Defender%4Operational.jsonl"
                            ).read_text("utf-8")
    rds = (root / "evidence/endpoint/rds01/Security.jsonl").read_text("utf-8")
    assert '"LogonType":"10"' in rds and '"EventID":4625' in rds
    # persistence on the entry server: a remote-access tool as a service, a boot task
    persist = {(x["kind"], x["name"]) for x in truth["intrusion"]["persistence"]}
    services = [_data(e) for e in _events(root / "evidence/endpoint/rds01/System.jsonl")
                if _eid(e) == 7045]
    assert [d["ServiceName"] for d in services] == ["AnyDesk Service"]
    assert services[0]["StartType"] == "auto start"
    tasks = _events(root / "evidence/endpoint/rds01/"
                    "Microsoft-Windows-TaskScheduler%4Operational.jsonl")
    assert {("scheduled_task", _data(e)["TaskName"]) for e in tasks} == {
        p for p in persist if p[0] == "scheduled_task"}


@pytest.mark.parametrize("variant", ["full", "default-logging"])
def test_every_file_is_recognised(hok, variant: str, tmp_path: Path) -> None:
    root, _ = hok[variant]
    case = Case.create_or_open(tmp_path / "case", tz="Asia/Tokyo")
    report = ingest(case, [root / "evidence"], Options(tz="Asia/Tokyo"))
    assert all(f.status == "done" for f in report.files), [
        (f.display, f.status, f.error) for f in report.files if f.status != "done"]
    with case.reader() as con:
        rejects = con.execute("SELECT count(*) FROM rejects r JOIN evidence e USING "
                              "(evidence_id) WHERE e.path LIKE '%/endpoint/%'").fetchone()
    assert rejects == (0,)
