"""truth.json agrees with the evidence it describes, recounted from the files themselves."""

from __future__ import annotations

import csv
import io
import itertools
import json
import re
from datetime import UTC, datetime, timedelta
from pathlib import Path

from ashiato.lab import SCENARIOS

JST = timedelta(hours=9)


def _utc(iso: str) -> datetime:
    return datetime.strptime(iso, "%Y-%m-%dT%H:%M:%S.%fZ").replace(tzinfo=UTC)


def _listing(root: Path) -> list[dict[str, str]]:
    text = (root / "evidence/fileserver-listing/share_listing.csv").read_bytes().decode("cp932")
    lines = text.splitlines()
    assert lines[0] == "#TYPE Selected.System.IO.FileInfo"
    return list(csv.DictReader(io.StringIO("\n".join(lines[1:]))))


def _dhcp_holder(root: Path, ip: str, when: datetime) -> str | None:
    """Who held ``ip`` at ``when`` according to the DHCP audit logs (last grant before it)."""
    holder: tuple[datetime, str] | None = None
    for path in sorted((root / "evidence/dhcp").glob("DhcpSrvLog-*.log")):
        for line in path.read_text("utf-8").splitlines():
            f = line.split(",")
            if len(f) < 7 or f[0] not in ("10", "11", "12") or f[4] != ip:
                continue
            ts = datetime.strptime(f"{f[1]} {f[2]}", "%m/%d/%y %H:%M:%S").replace(tzinfo=UTC) - JST
            if ts <= when and (holder is None or ts >= holder[0]):
                holder = (ts, "" if f[0] == "12" else f[5].split(".")[0].lower())
    return holder[1] if holder else None


def test_every_scenario_generates(runs) -> None:
    assert set(runs) == set(SCENARIOS)
    for name, run in runs.items():
        t = run.truth
        assert t["schema"] == "ashiato.lab.truth/1" and t["scenario"] == name
        assert (run.root / "truth.json").is_file() and (run.root / "encrypted_files.csv").is_file()
        for src in t["sources"]:
            for f in src["files"]:
                assert (run.root / f).is_file(), f


def test_share_counts_match_the_listing(runs) -> None:
    run = runs["fileserver-encryption"]
    imp, pz = run.truth["impact"], run.truth["patient_zero"]
    rows = _listing(run.root)
    names = {r["FullName"].rsplit("\\", 1)[1] for r in rows}
    notes = [r for r in rows if r["FullName"].rsplit("\\", 1)[1] in imp["note_names"]]
    share = next(b for b in imp["by_location"] if b["location"] == "share")
    assert len(notes) == share["ransom_notes"] > 0
    assert {r["Owner"] for r in notes} == {f"CORP\\{pz['user']}"}
    with (run.root / "encrypted_files.csv").open(encoding="utf-8") as fh:
        enc = list(csv.DictReader(fh))
    assert len(enc) == imp["encrypted_files"]
    on_share = [e for e in enc if e["location"] == "share"]
    assert len(on_share) == share["encrypted_files"]
    listed = {r["FullName"]: r for r in rows}
    for e in on_share:
        assert e["new_path"] in listed and listed[e["new_path"]]["Owner"] == f"CORP\\{pz['user']}"
        again = listed.get(e["original_path"])  # a colleague may have saved a new copy since
        assert again is None or again["Owner"] != f"CORP\\{pz['user']}"
    assert len(names) > 100
    start, end = _utc(imp["window"]["start"]), _utc(imp["window"]["end"])
    assert start == _utc(pz["first_encryption"]) and end > start


def test_local_counts_match_the_mft(runs) -> None:
    for name in ("fileserver-encryption", "mail-attachment", "drive-by"):
        run = runs[name]
        t = run.truth
        pz = t["patient_zero"]["host"]
        local = next(b for b in t["impact"]["by_location"] if b["location"] == "local")
        mft = next((run.evidence / "endpoint" / pz).glob("*_MFTECmd_$MFT_Output.csv"))
        rows = list(csv.DictReader(mft.open(encoding="utf-8")))
        live = [r for r in rows if r["InUse"] == "True"]
        notes = sum(r["FileName"] in t["impact"]["note_names"] for r in live)
        assert notes == local["ransom_notes"]
        with (run.root / "encrypted_files.csv").open(encoding="utf-8") as fh:
            new = {e["new_path"] for e in csv.DictReader(fh) if e["location"] == "local"}
        live_paths = {"C:" + r["ParentPath"][1:] + "\\" + r["FileName"] for r in live}
        assert len(new) == local["encrypted_files"] and new <= live_paths


def test_patient_zero_address_is_in_dhcp_at_first_encryption(runs) -> None:
    for name in ("fileserver-encryption", "log-tampering", "mail-attachment", "drive-by"):
        run = runs[name]
        pz = run.truth["patient_zero"]
        when = _utc(pz["first_encryption"])
        assert _dhcp_holder(run.root, pz["ip"], when) == pz["host"], name


def test_dhcp_checks_hold_and_addresses_move(runs) -> None:
    run = runs["fileserver-encryption"]
    checks = run.truth["dhcp_checks"]
    pz = run.truth["patient_zero"]
    for c in checks:
        assert _dhcp_holder(run.root, c["ip"], _utc(c["time"])) == c["host"], c
    # the patient zero's address belonged to another PC the day before
    assert any(c["ip"] == pz["ip"] and c["host"] != pz["host"] for c in checks)


def test_benign_has_no_patient_zero(runs) -> None:
    t = runs["benign"].truth
    assert t["incident"] == {"detected": False, "kind": None}
    assert t["patient_zero"] is None and t["vector"] is None and t["infected_hosts"] == []
    assert t["impact"]["encrypted_files"] == 0 and t["impact"]["ransom_notes"] == 0
    rows = _listing(runs["benign"].root)
    renamed = [r for r in rows if "_old." in r["FullName"] or "\\旧年度\\" in r["FullName"]]
    assert len(renamed) == t["decoys"]["renamer"]["renamed"] >= 100


def test_log_tampering_leaves_a_record_gap(runs) -> None:
    run = runs["log-tampering"]
    tam = {x["kind"]: x for x in run.truth["tampering"]}
    pz = run.truth["patient_zero"]["host"]
    ep = run.evidence / "endpoint" / pz
    sec = [json.loads(x)["Event"]["System"] for x in ep.joinpath("Security.jsonl").open()]
    assert [s["EventID"] for s in sec] == [1102]
    assert sec[0]["EventRecordID"] == tam["log_cleared"]["records_lost"][1] + 1
    sysmon = [json.loads(x)["Event"]["System"]["EventRecordID"]
              for x in ep.joinpath("Sysmon.jsonl").open()]
    gaps = [(a, b) for a, b in itertools.pairwise(sysmon) if b != a + 1]
    lo, hi = tam["records_deleted"]["records_lost"]
    assert gaps == [(lo - 1, hi + 1)]
    assert run.truth["answerable"]["tampering"] is True


def test_spam_connections_match_the_firewall(runs) -> None:
    run = runs["spam-bot"]
    spam = run.truth["impact"]["spam"]
    lines = (run.evidence / "firewall/FG-TOKYO.log").read_text("utf-8").splitlines()
    n = sum(1 for x in lines if " dstport=25 " in x and 'service="SMTP"' in x)
    assert n == spam["connections"] >= 100
    assert run.truth["vector"]["type"] == "unknown"
    assert run.truth["answerable"]["vector"]["answerable"] is False
    # the bot talks to the Internet directly: mx01 never sees it
    maillog = (run.evidence / "mail/maillog").read_text("utf-8")
    assert not re.search(r"\[10\.(20|3\d)\.", maillog)
