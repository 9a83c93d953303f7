"""Determinism, missing sources, audit off, and the exact shape of each vendor format."""

from __future__ import annotations

import hashlib
import json
import re
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

from ashiato.lab import SOURCES, LabError, generate

SEED = 3  # same as conftest: the runs fixture is the reference output


def _digests(root: Path) -> dict[str, str]:
    return {str(p.relative_to(root)): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(root.rglob("*")) if p.is_file()}


def test_same_arguments_give_identical_bytes(runs, tmp_path: Path) -> None:
    generate("fileserver-encryption", tmp_path / "again", seed=SEED)
    assert _digests(tmp_path / "again") == _digests(runs["fileserver-encryption"].root)


def test_missing_and_audit_off(runs, tmp_path: Path) -> None:
    out = tmp_path / "partial"
    truth = generate("fileserver-encryption", out, seed=SEED, missing=["dhcp", "endpoint"],
                     audit=False)
    assert not (out / "evidence/dhcp").exists() and not (out / "evidence/endpoint").exists()
    assert truth["missing"] == ["dhcp", "endpoint"] and truth["audit"] is False
    # the hypervisor's logs exist only in the vpn-intrusion scenario
    assert {s["source"] for s in truth["sources"]} == set(SOURCES) - {"dhcp", "endpoint",
                                                                      "hypervisor"}
    full = runs["fileserver-encryption"]
    # removing sources only stops them being written: the rest is byte-identical
    for rel in ("evidence/proxy/access.log", "evidence/firewall/FG-OSAKA.log",
                "evidence/ids/eve.json", "evidence/dc/DC01_Security.json"):
        assert (out / rel).read_bytes() == (full.root / rel).read_bytes(), rel
    fs = (out / "evidence/fileserver-audit/FS01_Security.xml").read_text("utf-8")
    assert "<EventID>4624</EventID>" in fs
    assert not re.search(r"<EventID>(5140|5145|4663)</EventID>", fs)
    assert truth["patient_zero"] == full.truth["patient_zero"]


def test_bad_requests_are_refused(tmp_path: Path) -> None:
    with pytest.raises(LabError, match="unknown scenario"):
        generate("nope", tmp_path)
    with pytest.raises(LabError, match="unknown source"):
        generate("benign", tmp_path, missing=["printer"])


def test_dhcp_log_layout(runs) -> None:
    run = runs["fileserver-encryption"]
    files = sorted((run.evidence / "dhcp").glob("DhcpSrvLog-*.log"))
    # the workdays, and the night after the last one when lapsed leases expire
    assert {f.name for f in files} >= {f"DhcpSrvLog-{d}.log" for d in ("Fri", "Mon", "Thu",
                                                                       "Tue", "Wed")}
    raw = files[0].read_bytes()
    assert raw.startswith(b"\t\tMicrosoft DHCP Service Activity Log\r\n")
    lines = raw.decode("ascii").split("\r\n")
    header = lines.index("ID,Date,Time,Description,IP Address,Host Name,MAC Address,User Name,"
                         " TransactionID, QResult,Probationtime, CorrelationID,Dhcid,"
                         "VendorClass(Hex),VendorClass(ASCII),UserClass(Hex),UserClass(ASCII),"
                         "RelayAgentInformation,DnsRegError.")
    assign = next(x for x in lines[header:] if x.startswith("10,"))
    assert re.fullmatch(r"10,\d\d/\d\d/15,\d\d:\d\d:\d\d,Assign,10\.\d+\.\d+\.\d+,PC-[A-Z]{3}-"
                        r"\d{4}\.corp\.example\.jp,00155D[0-9A-F]{6},,\d+,0,,,,"
                        r"0x4D53465420352E30,MSFT 5\.0,,,,0", assign)
    # every assign and renew is followed by DNS update rows naming the same address
    rows = [x.split(",") for x in lines[header + 1:] if x]
    for i, r in enumerate(rows):
        if r[0] in ("10", "11"):
            after = {(x[0], x[4]) for x in rows[i + 1:i + 8]}
            assert {("30", r[4]), ("32", r[4])} <= after, r
    assert any(r[0] == "18" for f in files for r in _rows(f, "ascii"))


def _rows(path: Path, encoding: str) -> list[list[str]]:
    lines = path.read_text(encoding).splitlines()
    return [x.split(",") for x in lines if x[:3].rstrip(",").isdigit()]


def test_dhcp_japanese_server(tmp_path: Path) -> None:
    """A Japanese DHCP server (seed 13): localised preamble and descriptions in CP932,
    the same IDs, and a NACK for an address that had gone to another PC."""
    generate("benign", tmp_path, seed=13)
    files = sorted((tmp_path / "evidence/dhcp").glob("DhcpSrvLog-*.log"))
    raw = files[0].read_bytes()
    assert raw.startswith("\t\tMicrosoft DHCP サービス アクティビティ ログ\r\n".encode("cp932"))
    rows = sorted((r for f in files for r in _rows(f, "cp932")),
                  key=lambda r: (r[1][6:], r[1][:5], r[2]))
    assert {r[3] for r in rows if r[0] == "10"} == {"割り当て"}
    assert {r[3] for r in rows if r[0] == "32"} == {"DNS 更新成功"}
    held = {}  # ip -> mac of its latest assign
    refused = 0
    for r in rows:
        if r[0] in ("10", "11"):
            held[r[4]] = r[6]
        elif r[0] == "15":
            assert held.get(r[4]) not in (None, r[6])  # refused: someone else holds it
            refused += 1
    assert refused


def test_windows_exports_parse(runs) -> None:
    run = runs["mail-attachment"]
    for line in (run.evidence / "fileserver-audit/FS01_Security.xml").open(encoding="utf-8"):
        ev = ET.fromstring(line)
        assert ev.tag.endswith("Event")
    for path in run.evidence.rglob("*.jsonl"):
        for line in path.open(encoding="utf-8"):
            assert json.loads(line)["Event"]["System"]["TimeCreated"]["#attributes"][
                "SystemTime"].endswith("Z")
    pz = run.truth["patient_zero"]["host"]
    raw = (run.evidence / "endpoint" / pz / "Security.csv").read_bytes()
    header = "\ufeffレベル,日付と時刻,ソース,イベント ID,タスクのカテゴリ\r\n"
    assert raw.startswith(header.encode())
    assert "ソース ネットワーク アドレス:" in raw.decode("utf-8-sig")


def test_network_formats(runs) -> None:
    run = runs["drive-by"]
    ip = run.truth["patient_zero"]["ip"]
    proxy = (run.evidence / "proxy/access.log").read_bytes().decode("utf-8", "replace")
    squid = re.compile(r"\d{10}\.\d{3} +\d+ \S+ [A-Z_]+/\d{3} \d+ [A-Z]+ \S+ \S+ \S+/\S+ \S+")
    bad = [n for n, x in enumerate(proxy.split("\n"), 1) if x and not squid.fullmatch(x)]
    assert bad == [g["line"] for g in run.truth["garbled_lines"] if "proxy" in g["file"]]
    assert re.search(rf" {re.escape(ip)} TCP_MISS/200 \d+ GET \S+ \S+ \S+ "
                     r"application/x-shockwave-flash", proxy)
    fg = (run.evidence / "firewall/FG-TOKYO.log").read_text("utf-8")
    assert re.search(rf'type="utm" subtype="ips" .*dstip={re.escape(ip)} ', fg)
    osaka = (run.evidence / "firewall/FG-OSAKA.log").read_bytes().decode("utf-8", "replace")
    m = re.match(r"(\w{3} +\d+ \d\d:\d\d:\d\d) FG-OSAKA date=(\S+) time=(\S+) ", osaka)
    assert m and 'tz="' not in osaka.split("\n")[0]
    eve = [json.loads(x) for x in (run.evidence / "ids/eve.json").open()]
    alerts = [e for e in eve if e["event_type"] == "alert" and e["dest_ip"] == ip]
    assert any("EK" in e["alert"]["signature"] for e in alerts)
    assert all(e["timestamp"].endswith("+0900") for e in eve)


def test_cp932_exports(runs) -> None:
    run = runs["mail-attachment"]
    gw = (run.evidence / "mail/gateway.csv").read_bytes().decode("cp932")
    assert gw.startswith("日時,送信者,受信者,件名,添付ファイル,サイズ,結果\r\n")
    zip_name = next(a for a in run.truth["vector"]["artifacts"] if a.endswith(".zip"))
    assert zip_name in gw
    av = (run.evidence / "av/virus_log.csv").read_bytes().decode("cp932")
    assert av.startswith("日時,エンドポイント,ドメイン,セキュリティ上の脅威,ファイルパス,"
                         "検索の種類,結果,IPアドレス\r\n")
    pz = run.truth["patient_zero"]["host"].upper()
    assert any(x.split(",")[1] == pz and x.split(",")[3].startswith("RANSOM_")
               for x in av.splitlines()[1:])


def test_maillog_content_filter_hop(runs) -> None:
    """Postfix hands every message to amavis on 127.0.0.1:10024; the filter re-injects it
    from 127.0.0.1 under a new queue id (domain.md 8.2), or discards it when infected."""
    log = runs["mail-attachment"].read("evidence/mail/maillog")
    handed = re.findall(r"\]: ([0-9A-F]{10}): to=<[^>]+>, relay=127\.0\.0\.1\[127\.0\.0\.1\]:10024,"
                        r".*status=sent \(250 2\.0\.0 from MTA\(smtp:\[127\.0\.0\.1\]:10025\): "
                        r"250 2\.0\.0 Ok: queued as ([0-9A-F]{10})\)", log)
    assert len(handed) > 50
    reinjected = set(re.findall(r"\]: ([0-9A-F]{10}): client=localhost\[127\.0\.0\.1\]", log))
    assert {b for _, b in handed} == reinjected
    assert all(a != b for a, b in handed)
    assert re.search(r" amavis\[\d+\]: \(\d+-\d\d\) Passed CLEAN \{RelayedInbound\}", log)
    blocked = re.findall(r"Blocked INFECTED \(([^)]+)\) .*Queue-ID: ([0-9A-F]{10}),", log)
    assert blocked
    for virus, q in blocked:
        assert f"{q}: to=" in log and "discarded, id=" in log and f"INFECTED: {virus})" in log
    # and the re-injected message, not the original, is what reaches the next relay
    out = re.findall(r"\]: ([0-9A-F]{10}): to=<[^>]+>, relay=(?!127\.0\.0\.1)", log)
    assert set(out) <= reinjected
