from __future__ import annotations

import gzip
import shutil
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from helpers import (
    DATA,
    SHARED,
    assert_claims_no_other_fixture,
    assert_registry_routes,
    plain,
    rows_by_record,
    sample_of,
)

from ashiato.formats.base import Sample
from ashiato.formats.testing import parse_file
from ashiato.formats.zeek import FORMAT, log_path, unescape

ZEEK = DATA / "zeek"
ZAT = SHARED / "zeek-zat" / "data"
WRCCDC = SHARED / "zeek-wrccdc-2018"
UA_IE8 = "Mozilla/4.0 (compatible; MSIE 8.0; Windows NT 6.1; Trident/4.0)"
BASE = {"observer.type": "ids", "observer.vendor": "zeek", "evidence_id": "test"}

Rows = dict[int, dict[str, Any]]


def epoch(s: float) -> datetime:
    return datetime.fromtimestamp(s, UTC)


def _parse(name: str, **options: object) -> tuple[Rows, list[tuple[int, str]]]:
    table, rejects = parse_file(FORMAT, ZEEK / name, **options)
    rows = rows_by_record(table, keep_empty_strings=True)
    return rows, sorted((r.record, r.reason) for r in rejects)


# -- TSV ------------------------------------------------------------------------------


def test_conn_tsv() -> None:
    rows, rejects = _parse("conn.log")
    assert sorted(rows) == [9, 10, 11]  # 12 is blank
    assert rejects == [
        (13, "expected 21 fields (per #fields), got 4"),
        (14, "ts is not a Unix time or ISO 8601 time"),
    ]
    assert rows[9] == BASE | {
        "@timestamp": epoch(1441766733.120042),
        "event.dataset": "zeek.conn",
        "event.action": "sf",
        "event.category": "network",
        "source.ip": "10.20.3.41",
        "source.port": 51302,
        "source.bytes": 1903372111,
        "destination.ip": "10.0.0.20",
        "destination.port": 445,
        "destination.bytes": 1879001232,
        "network.transport": "tcp",
        "network.protocol": "smb",
        "extra": {
            "uid": "CgT3aX1bq2",
            "duration": 2841.55012,
            "local_orig": True,
            "local_resp": True,
            "missed_bytes": 0,
            "history": "ShADadFf",
            "orig_pkts": 1400311,
            "orig_ip_bytes": 1963383000,
            "resp_pkts": 1388002,
            "resp_ip_bytes": 1934501000,
        },
        "record": 9,
    }
    # "-" is unset: no duration, no bytes
    dns = rows[11]
    assert "source.bytes" not in dns and "duration" not in dns["extra"]
    assert (dns["network.transport"], dns["network.protocol"]) == ("udp", "dns")


def test_mixed_tsv_reads_each_header_block() -> None:
    rows, rejects = _parse("mixed.log")
    assert rejects == []
    assert [rows[r]["event.dataset"] for r in sorted(rows)] == [
        "zeek.http", "zeek.dns", "zeek.files", "zeek.smtp", "zeek.ssl", "zeek.notice",
        "zeek.smb_files", "zeek.rdp",
    ]  # fmt: skip


def _by_dataset(rows: Rows) -> dict[str, dict[str, Any]]:
    return {r["event.dataset"]: r for r in rows.values()}


def test_http_tsv() -> None:
    http = _by_dataset(_parse("mixed.log")[0])["zeek.http"]
    assert http == BASE | {
        "@timestamp": epoch(1441766705.903811),
        "event.dataset": "zeek.http",
        "event.category": "web",
        "event.outcome": "success",
        "source.ip": "10.20.3.41",
        "source.port": 51234,
        "source.bytes": 0,
        "destination.ip": "203.0.113.77",
        "destination.port": 80,
        "destination.bytes": 48211,
        "destination.domain": "qzx7.redirect.example",
        "network.protocol": "http",
        "url.original": "http://qzx7.redirect.example/gate.php?id=19",
        "url.domain": "qzx7.redirect.example",
        "url.path": "/gate.php?id=19",
        "http.request.method": "GET",
        "http.request.referrer": "http://news.example.jp/top.html",
        "http.response.status_code": 200,
        "http.response.mime_type": "application/x-shockwave-flash",
        "user_agent.original": UA_IE8,
        "extra": {
            "uid": "ChttpA0001",
            "trans_depth": 1,
            "version": "1.1",
            "status_msg": "OK",
            "resp_fuids": ["FhttpA0001"],
        },
        "record": 9,
    }


def test_dns_tsv() -> None:
    dns = _by_dataset(_parse("mixed.log")[0])["zeek.dns"]
    assert dns["dns.question.name"] == "qzx7.redirect.example"
    assert dns["dns.answers"] == "203.0.113.77,qzx7-cdn.example"
    assert dns["network.protocol"] == "dns"
    assert dns["extra"]["rcode_name"] == "NOERROR"
    assert dns["extra"]["TTLs"] == ["300.000000", "60.000000"]
    assert dns["extra"]["RD"] is True


def test_files_tsv_decodes_escapes() -> None:
    files = _by_dataset(_parse("mixed.log")[0])["zeek.files"]
    sha256 = "ca978112ca1bbdcafac231b39a23dc4da786eff8147c4e72b9807785afee48bb"
    assert files == BASE | {
        "@timestamp": epoch(1441766707.288),
        "event.dataset": "zeek.files",
        "event.category": "file",
        "source.ip": "10.20.3.41",
        "source.port": 51236,
        "destination.ip": "203.0.113.77",
        "destination.port": 80,
        "network.protocol": "http",
        "file.path": "請求書.exe",  # \xe8\xab\x8b... in the log
        "file.name": "請求書.exe",
        "file.extension": "exe",
        "file.size": 231424,
        "file.hash": sha256,
        "http.response.mime_type": "application/x-dosexec",
        "extra": {
            "fuid": "FfileA0001",
            "uid": "ChttpA0002",
            "depth": 0,
            "analyzers": ["MD5", "SHA1", "SHA256"],
            "duration": 1.29,
            "local_orig": False,
            "is_orig": False,
            "seen_bytes": 231424,
            "missing_bytes": 0,
            "overflow_bytes": 0,
            "timedout": False,
            "md5": "0cc175b9c0f1b6a831c399e269772661",
            "sha1": "86f7e437faa5a7fce15d1ddcb9eaeaea377667b8",
            "sha256": sha256,
        },
        "record": 28,
    }


def test_smtp_ssl_notice_tsv() -> None:
    by = _by_dataset(_parse("mixed.log")[0])
    smtp = by["zeek.smtp"]
    assert smtp["email.from.address"] == "billing@example.net"  # envelope, without <>
    assert smtp["email.to.address"] == "tanaka@example.co.jp"
    assert smtp["email.subject"] == "請求書 Invoice 0909"
    assert smtp["email.message_id"] == "<20150909005320.1234@example.net>"
    assert smtp["extra"]["from"] == '"Billing" <billing@example.net>'  # the header stays
    assert smtp["event.category"] == "email"
    ssl = by["zeek.ssl"]
    assert ssl["destination.domain"] == "mail.example.com"
    assert ssl["network.protocol"] == "tls"
    assert ssl["extra"]["established"] is True
    notice = by["zeek.notice"]
    assert notice == BASE | {
        "@timestamp": epoch(1441766707.3),
        "event.dataset": "zeek.notice",
        "event.category": "intrusion_detection",
        "message": "Malware Hash Registry Detection rate: 40%",
        "rule.name": "TeamCymruMalwareHashRegistry::Match",
        "source.ip": "10.20.3.41",
        "source.port": 51236,
        "destination.ip": "203.0.113.77",
        "destination.port": 80,
        "network.transport": "tcp",
        "extra": {
            "uid": "ChttpA0002",
            "fuid": "FfileA0001",
            "file_mime_type": "application/x-dosexec",
            "file_desc": "http://qzx7.redirect.example/9fkd0",
            "sub": "https://www.virustotal.com/gui/search/x",
            "actions": ["Notice::ACTION_LOG"],
            "suppress_for": 3600.0,
        },
        "record": 55,
    }


def test_smb_files_tsv() -> None:
    smb = _by_dataset(_parse("mixed.log")[0])["zeek.smb_files"]
    assert smb == BASE | {
        "@timestamp": epoch(1441766734.0),
        "event.dataset": "zeek.smb_files",
        "event.action": "file_rename",
        "event.category": "file",
        "source.ip": "10.20.3.41",
        "source.port": 51302,
        "destination.ip": "10.0.0.20",
        "destination.port": 445,
        "network.protocol": "smb",
        "file.share": "\\\\FS01\\share",  # Zeek writes a backslash as \\ in TSV
        "file.path": "経理\\report.xlsx.encrypted",
        "file.name": "report.xlsx.encrypted",
        "file.extension": "encrypted",
        "file.directory": "経理",
        "file.size": 48128,
        "file.mtime": epoch(1441766734.0),
        "file.created": epoch(1420070400.0),
        "extra": {
            "uid": "CgT3aX1bq2",
            "fuid": "FsmbA00001",
            "prev_name": "経理\\report.xlsx",
            "times.accessed": 1441766734.0,
            "times.changed": 1441766734.0,
        },
        "record": 64,
    }


def test_other_logs_keep_everything() -> None:
    rdp = _by_dataset(_parse("mixed.log")[0])["zeek.rdp"]
    assert rdp["user.name"] == "administrator"
    assert rdp["network.protocol"] == "rdp"
    assert rdp["extra"] == {
        "uid": "CrdpA00001",
        "result": "encrypted",
        "security_protocol": "HYBRID",
    }


def test_unescape() -> None:
    assert unescape("\\\\\\\\FS01\\\\a\\x09b\\xe8\\xa1\\xa8") == "\\\\FS01\\a\tb表"
    assert unescape("bad \\xff byte") == "bad \\xff byte"  # not UTF-8: kept escaped
    # JSON: backslashes are JSON's business; only \xNN is Zeek's
    assert unescape(r"\\FS01\\xe8\xa1\xa8", tsv=False) == r"\\FS01" + "\\表"
    assert unescape("O=Example\\, Inc.") == "O=Example\\, Inc."


def test_data_before_fields_is_rejected(tmp_path: Path) -> None:
    log = tmp_path / "conn.log"
    log.write_text("#separator \\x09\n#path\tconn\n1441766733.1\tCx\n")
    table, rejects = parse_file(FORMAT, log)
    assert table.num_rows == 0
    assert [(r.record, r.reason) for r in rejects] == [(3, "data line before the #fields header")]


# -- JSON -----------------------------------------------------------------------------


def test_conn_json() -> None:
    rows, rejects = _parse("conn.json")
    assert rejects == [
        (3, "ts is not a Unix time or ISO 8601 time"),
        (4, "not JSON: unexpected end of data: line 1 column 58 (char 57)"),
        (5, "not a JSON object"),
    ]
    assert rows[1] == BASE | {
        "@timestamp": epoch(1441766733.120042),
        "event.dataset": "zeek.conn",  # no _path: known by its fields
        "event.action": "sf",
        "event.category": "network",
        "source.ip": "10.20.3.41",
        "source.port": 51302,
        "source.bytes": 1903372111,
        "destination.ip": "10.0.0.20",
        "destination.port": 445,
        "destination.bytes": 1879001232,
        "network.transport": "tcp",
        "network.protocol": "smb",
        "extra": {
            "uid": "CgT3aX1bq2",
            "duration": 2841.55012,
            "local_orig": True,
            "local_resp": True,
            "missed_bytes": 0,
            "history": "ShADadFf",
            "orig_pkts": 1400311,
            "orig_ip_bytes": 1963383000,
            "resp_pkts": 1388002,
            "resp_ip_bytes": 1934501000,
        },
        "record": 1,
    }
    # ISO time, nested "id" object
    assert rows[2]["@timestamp"] == epoch(1441766706.903811)
    assert rows[2]["destination.ip"] == "203.0.113.77"
    assert rows[2]["source.port"] == 51234


def test_mixed_json_by_path() -> None:
    rows, rejects = _parse("mixed.json")
    assert rejects == []
    http, smb, ntlm, dns = (rows[i] for i in (1, 2, 3, 4))
    assert http == BASE | {
        "@timestamp": epoch(1441766705.903811),
        "event.dataset": "zeek.http",
        "event.category": "web",
        "event.outcome": "failure",
        "source.ip": "10.20.3.41",
        "source.port": 51234,
        "source.bytes": 1200,
        "destination.ip": "203.0.113.77",
        "destination.port": 80,
        "destination.bytes": 0,
        "destination.domain": "h1.wensa.example",
        "network.protocol": "http",
        "url.original": "http://h1.wensa.example:8080/api1/aZ_2Fx_2B",
        "url.domain": "h1.wensa.example",
        "url.path": "/api1/aZ_2Fx_2B",
        "http.request.method": "POST",
        "http.response.status_code": 404,
        "http.response.mime_type": "text/html",
        "user_agent.original": UA_IE8,
        "extra": {
            "_write_ts": "2015-09-09T02:45:06.000000Z",
            "uid": "ChttpA0001",
            "trans_depth": 1,
            "version": "1.1",
            "status_msg": "Not Found",
            "tags": [],
        },
        "record": 1,
    }
    assert smb["file.share"] == "\\\\FS01\\share"  # JSON has its own escapes
    assert smb["file.path"] == "経理\\HELP_DECRYPT.html"
    assert smb["file.name"] == "HELP_DECRYPT.html"
    assert smb["event.action"] == "file_open"
    assert ntlm["user.name"] == "tanaka" and ntlm["user.domain"] == "CORP"
    assert ntlm["event.outcome"] == "success"
    assert ntlm["extra"]["hostname"] == "PC-TKY-0341"
    assert dns["dns.question.name"] == "w8.wensa.example"
    assert "dns.answers" not in dns


def test_log_path_guess() -> None:
    assert log_path(frozenset({"ts", "uid", "conn_state"}), "x.json") == "conn"
    assert log_path(frozenset({"ts", "name"}), "loaded_scripts.log") == "loaded_scripts"
    assert log_path(frozenset({"ts"}), "conn.09:00:00-10:00:00.log.gz") == "conn"


@pytest.mark.parametrize("workers", [1, 2])
@pytest.mark.parametrize("name", ["conn.log", "mixed.log", "conn.json", "mixed.json"])
def test_small_chunks_keep_headers_and_line_numbers(workers: int, name: str) -> None:
    whole, whole_rej = parse_file(FORMAT, ZEEK / name)
    small, small_rej = parse_file(FORMAT, ZEEK / name, chunk_bytes=80, workers=workers)
    assert plain(small, by_record=True) == plain(whole, by_record=True)
    assert sorted((r.record, r.raw) for r in small_rej) == sorted(
        (r.record, r.raw) for r in whole_rej
    )


# -- sniffing -------------------------------------------------------------------------


def test_sniff_accepts_zeek_fixtures() -> None:
    for path in ZEEK.iterdir():
        assert FORMAT.sniff(sample_of(path)), path


def test_sniff_rejects_other_fixtures() -> None:
    assert_claims_no_other_fixture(FORMAT, "zeek", sample_of)
    for text in ("hello\nworld\n", '{"ts": 1, "user": "a"}\n', "#fields\tts\n1\n"):
        assert not FORMAT.sniff(Sample(text.encode(), text, "a.log")), text


def test_registry_routes_fixtures_here() -> None:
    assert_registry_routes(ZEEK.iterdir(), "zeek")


# -- real logs ------------------------------------------------------------------------

# loaded_scripts.log in JSON is just {"name": ...}: parsed when the format is named, not
# claimed by sniffing
_NOT_SNIFFED = {"loaded_scripts.log"}


def _unpacked(path: Path, tmp: Path) -> Path:
    if path.suffix != ".gz":
        return path
    out = tmp / path.name[:-3]
    with gzip.open(path) as src, out.open("wb") as dst:
        shutil.copyfileobj(src, dst)
    return out


def _data_lines(path: Path) -> int:
    with path.open("rb") as fh:
        return sum(1 for ln in fh if ln.strip() and not ln.startswith(b"#"))


def _corpus(base: Path) -> list[Path]:
    if not base.is_dir():
        pytest.skip("../shared/data not present")
    # http.log.corrupt.gz is a damaged archive (the evidence walker reports it)
    found = base.rglob("*")
    return sorted(p for p in found if p.suffix in (".log", ".gz") and "corrupt" not in p.name)


@pytest.mark.corpus
@pytest.mark.slow  # wrccdc: ~160,000 records, half of them JSON
@pytest.mark.parametrize("base", [ZAT, WRCCDC], ids=["zat", "wrccdc"])
def test_real_zeek_logs_parse_without_rejects(base: Path, tmp_path: Path) -> None:
    for path in _corpus(base):
        log = _unpacked(path, tmp_path)
        if path.parent.name != "json" or log.name not in _NOT_SNIFFED:
            assert FORMAT.sniff(sample_of(log)), path
        table, rejects = parse_file(FORMAT, log)
        assert rejects == [], (path, rejects[:3])
        assert table.num_rows == _data_lines(log), path
        stem = log.name.split(".")[0]
        expected = "zeek." + ("conn" if stem == "conn_date_issue" else stem)
        if stem == "tor_ssl":
            expected = "zeek.ssl"
        if stem.startswith("dhcp"):
            expected = "zeek.dhcp"
        datasets = set(table.column("event.dataset").to_pylist())
        assert datasets <= {expected}, (path, datasets)


@pytest.mark.corpus
def test_wrccdc_tsv_and_json_agree(tmp_path: Path) -> None:
    if not WRCCDC.is_dir():
        pytest.skip("../shared/data not present")
    for name in ("smb_files", "smb_mapping", "ntlm", "notice", "ftp", "smtp", "rdp"):
        tsv_log = _unpacked(WRCCDC / "zeek-default" / f"{name}.log.gz", tmp_path)
        json_log = _unpacked(WRCCDC / "zeek-json" / f"{name}.json.gz", tmp_path)
        tsv, js = parse_file(FORMAT, tsv_log)[0], parse_file(FORMAT, json_log)[0]
        for col in tsv.schema.names:
            if col not in ("extra", "record"):
                assert tsv.column(col).to_pylist() == js.column(col).to_pylist(), (name, col)


@pytest.mark.corpus
def test_zat_malware_http_and_admin_shares(tmp_path: Path) -> None:
    if not ZAT.is_dir():
        pytest.skip("../shared/data not present")
    http = rows_by_record(parse_file(FORMAT, ZAT / "json" / "http.log")[0], keep_empty_strings=True)
    posts = [r for r in http.values() if r.get("http.request.method") == "POST"]
    assert any(r["url.domain"] == "h1.wensa.at" for r in posts)
    smb_mapping = _unpacked(WRCCDC / "zeek-default" / "smb_mapping.log.gz", tmp_path)
    mapping = parse_file(FORMAT, smb_mapping)[0]
    shares = set(mapping.column("file.share").to_pylist())
    assert any(s and s.endswith("\\ADMIN$") and s.startswith("\\\\") for s in shares)


def test_corelight_streaming_json() -> None:
    """@stream names the log; ids dotted or flattened (id_orig_h); @system kept."""
    path = ZEEK / "corelight.json"
    assert FORMAT.sniff(sample_of(path))
    table, rejects = parse_file(FORMAT, path)
    assert rejects == []
    rows = sorted(table.to_pylist(), key=lambda r: r["record"])
    assert [r["event.dataset"] for r in rows] == ["zeek.conn", "zeek.dns", "zeek.conn"]
    for r in rows:
        assert r["source.ip"] == "10.20.3.41" and r["destination.ip"] in ("10.20.0.10", "10.20.0.5")
    assert (rows[0]["source.port"], rows[0]["destination.port"]) == (51302, 445)
    assert rows[1]["dns.question.name"] == "c2.wxy-hosting.example"
    assert "id_orig_h" not in (rows[0]["extra"] or "")
    assert "sensor-hq" in rows[0]["extra"]
