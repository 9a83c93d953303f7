from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from helpers import DATA, SHARED, rows_by_record, utc_of

from ashiato.formats.base import Sample
from ashiato.formats.suricata import FORMAT
from ashiato.formats.testing import parse_file

EVE = DATA / "suricata" / "eve.json"
CORPUS = SHARED / "elastic-beats-testdata" / "suricata"


BASE = {"event.dataset": "suricata.eve", "observer.vendor": "suricata", "observer.type": "ids"}
BASE |= {"evidence_id": "test"}


@pytest.fixture(scope="module")
def eve() -> tuple[dict[int, dict[str, Any]], list[Any]]:
    table, rejects = parse_file(FORMAT, EVE, tz="Asia/Tokyo")
    return rows_by_record(table), rejects


def test_counts_and_rejects(eve: tuple[dict[int, dict[str, Any]], list[Any]]) -> None:
    rows, rejects = eve
    assert len(rows) == 11
    assert sorted(rows) == list(range(1, 12))  # line 12 is blank, not an event
    assert [(r.record, r.reason) for r in rejects] == [
        (13, "not valid JSON (unexpected end of data)"),
        (14, "not a JSON object"),
        (15, "no 'timestamp'"),
        (16, "unreadable timestamp 'yesterday'"),
    ]
    assert rejects[1].raw == b"[1,2,3]"


def test_http(eve: tuple[dict[int, dict[str, Any]], list[Any]]) -> None:
    assert eve[0][1] == BASE | {
        "record": 1,
        "@timestamp": utc_of("2015-09-09T02:45:05.903100+00:00"),
        "event.code": "http",
        "event.action": "http",
        "event.category": "web",
        "source.ip": "10.20.3.41",
        "source.port": 51234,
        "destination.ip": "203.0.113.77",
        "destination.port": 80,
        "destination.bytes": 48211,
        "network.transport": "tcp",
        "network.protocol": "http",
        "url.original": "http://qzx7.redirect.example/gate.php?id=19",
        "url.domain": "qzx7.redirect.example",
        "url.path": "/gate.php?id=19",
        "http.request.method": "GET",
        "http.request.referrer": "http://news.example.jp/top.html",
        "http.response.status_code": 200,
        "http.response.mime_type": "application/x-shockwave-flash",
        "user_agent.original": "Mozilla/4.0 (compatible; MSIE 8.0; Windows NT 6.1; Trident/4.0)",
        "extra": {
            "flow_id": 1294873001,
            "in_iface": "eth1",
            "tx_id": 1,
            "http": {"protocol": "HTTP/1.1"},
        },
    }


def test_alert(eve: tuple[dict[int, dict[str, Any]], list[Any]]) -> None:
    assert eve[0][2] == BASE | {
        "record": 2,
        "@timestamp": utc_of("2015-09-09T11:45:06.311204+09:00"),
        "event.code": "alert",
        "event.action": "allowed",
        "event.outcome": "success",
        "event.category": "intrusion_detection",
        "event.severity": 1,
        "source.ip": "203.0.113.77",
        "source.port": 80,
        "source.bytes": 712,
        "destination.ip": "10.20.3.41",
        "destination.port": 51234,
        "destination.bytes": 49870,
        "network.transport": "tcp",
        "network.protocol": "http",
        "rule.name": "ET CURRENT_EVENTS Angler EK Flash Exploit (example)",
        "rule.id": "2021000",
        "rule.category": "A Network Trojan was detected",
        "extra": {
            "flow_id": 1294873001,
            "alert": {"gid": 1, "rev": 2},
            "app_proto": "http",
            "flow": {
                "pkts_toserver": 6,
                "pkts_toclient": 40,
                "start": "2015-09-09T11:45:05.880000+0900",
            },
        },
    }


def test_fileinfo(eve: tuple[dict[int, dict[str, Any]], list[Any]]) -> None:
    row = eve[0][3]
    assert row == BASE | {
        "record": 3,
        "@timestamp": utc_of("2015-09-09T11:45:07.288+09:00"),
        "event.code": "fileinfo",
        "event.action": "fileinfo",
        "event.category": "file",
        "source.ip": "203.0.113.77",
        "source.port": 80,
        "destination.ip": "10.20.3.41",
        "destination.port": 51236,
        "network.transport": "tcp",
        "network.protocol": "http",
        "file.path": "/9fkd0",
        "file.name": "9fkd0",
        "file.size": 231424,
        "file.hash": "2f1a8b5c9d0e7f6a5b4c3d2e1f0a9b8c7d6e5f4a3b2c1d0e9f8a7b6c5d4e3f2a",
        "url.original": "http://qzx7.redirect.example/9fkd0",
        "url.domain": "qzx7.redirect.example",
        "url.path": "/9fkd0",
        "extra": {
            "flow_id": 1294873044,
            "app_proto": "http",
            "fileinfo": {
                "magic": "PE32 executable (GUI) Intel 80386, for MS Windows",
                "gaps": False,
                "state": "CLOSED",
                "md5": "0f343b0931126a20f133d67c2b018a3b",
                "stored": False,
                "tx_id": 0,
            },
        },
    }


def test_dns_v1_query_and_v2_answers(eve: tuple[dict[int, dict[str, Any]], list[Any]]) -> None:
    rows = eve[0]
    assert rows[4] == BASE | {
        "record": 4,
        "@timestamp": utc_of("2015-09-09T11:47:30.1+09:00"),
        "event.code": "dns",
        "event.action": "dns",
        "event.category": "network",
        "source.ip": "10.20.3.41",
        "source.port": 60123,
        "destination.ip": "10.0.0.2",
        "destination.port": 53,
        "network.transport": "udp",
        "network.protocol": "dns",
        "dns.question.name": "ip-addr.es",
        "extra": {
            "flow_id": 1294873101,
            "dns": {"type": "query", "id": 4411, "rrtype": "A", "tx_id": 0},
        },
    }
    # v2 "answers": the name is normalised (lower case, no trailing dot), rdata joined
    assert rows[5]["dns.question.name"] == "c2.payment.example"
    assert rows[5]["dns.answers"] == "tor2web.example,198.51.100.23"
    assert rows[5]["extra"]["dns"]["answers"][1]["rdata"] == "198.51.100.23"
    # v2 "grouped"
    assert rows[6]["dns.question.name"] == "cdn.example"
    assert rows[6]["dns.answers"] == "192.0.2.10,192.0.2.11"


def test_flow_and_tls(eve: tuple[dict[int, dict[str, Any]], list[Any]]) -> None:
    rows = eve[0]
    assert rows[7] == BASE | {
        "record": 7,
        "@timestamp": utc_of("2015-09-09T11:48:02.5+09:00"),
        "event.code": "flow",
        "event.action": "flow",
        "event.category": "network",
        "source.ip": "10.20.3.41",
        "source.port": 49822,
        "source.bytes": 2301,
        "destination.ip": "198.51.100.23",
        "destination.port": 443,
        "destination.bytes": 8812,
        "network.transport": "tcp",
        "network.protocol": "tls",
        "extra": {
            "flow_id": 1294873150,
            "app_proto": "tls",
            "flow": {
                "pkts_toserver": 12,
                "pkts_toclient": 10,
                "start": "2015-09-09T11:47:58.000000+0900",
                "end": "2015-09-09T11:48:01.900000+0900",
                "age": 3,
                "state": "closed",
                "reason": "timeout",
                "alerted": False,
            },
        },
    }
    assert rows[8]["destination.domain"] == "pay.tor2web.example"
    assert rows[8]["network.protocol"] == "tls"
    assert rows[8]["extra"]["tls"] == {
        "subject": "CN=pay.tor2web.example",
        "issuerdn": "CN=pay.tor2web.example",
        "version": "TLS 1.2",
    }


def test_smtp(eve: tuple[dict[int, dict[str, Any]], list[Any]]) -> None:
    assert eve[0][9] == BASE | {
        "record": 9,
        "@timestamp": utc_of("2015-09-08T08:02:11+00:00"),
        "event.code": "smtp",
        "event.action": "smtp",
        "event.category": "email",
        "source.ip": "192.0.2.55",
        "source.port": 40112,
        "destination.ip": "10.0.0.25",
        "destination.port": 25,
        "network.transport": "tcp",
        "network.protocol": "smtp",
        "email.from.address": "invoice@sender.example",
        "email.to.address": "tanaka@corp.example.jp",
        "email.subject": "Invoice 2015-09",
        "email.attachments": "invoice_0908.zip",
        "extra": {
            "flow_id": 1294870001,
            "app_proto": "smtp",
            # the envelope stays: it may name more recipients than the To: header
            "smtp": {
                "helo": "mail.sender.example",
                "mail_from": "<invoice@sender.example>",
                "rcpt_to": ["<tanaka@corp.example.jp>", "<suzuki@corp.example.jp>"],
            },
            "email": {"status": "PARSE_DONE"},
        },
    }


def test_other_event_types_are_kept(eve: tuple[dict[int, dict[str, Any]], list[Any]]) -> None:
    rows = eve[0]
    assert rows[10]["event.action"] == "ssh"
    assert rows[10]["extra"]["ssh"]["client"]["software_version"] == "PuTTY_Release_0.65"
    assert rows[11] == BASE | {
        "record": 11,
        "@timestamp": utc_of("2015-09-09T02:50:00+00:00"),
        "event.code": "stats",
        "event.action": "stats",
        "extra": {"stats": {"uptime": 3600, "decoder": {"pkts": 120000}}},
    }


def test_odd_times_and_ipv6(tmp_path: Path) -> None:
    path = tmp_path / "eve.json"
    lines = [
        # no offset: read in the source's zone (slow path for the whole batch)
        '{"timestamp":"2015-09-09T11:45:06.000001","event_type":"flow","src_ip":'
        '"fe80:0000:0000:0000:fada:0cff:fedc:87f1","dest_ip":"ff02:0000:0000:0000:0000:0000:0001:0002"}',
        '{"timestamp":"2015-09-09T11:45:07+09:00","event_type":"flow"}',
        '{"timestamp":"09/09/2015","event_type":"flow"}',
        # values of an unexpected type are not mapped, and not lost either
        '{"timestamp":"2015-09-09T11:45:08+09:00","event_type":"alert","src_port":"n/a",'
        '"dest_port":"445","proto":6,"alert":{"signature_id":"x1","severity":"high"},'
        '"flow":{"bytes_toserver":-1.5}}',
    ]
    path.write_text("\n".join(lines) + "\n")
    table, rejects = parse_file(FORMAT, path, tz="Asia/Tokyo")
    rows = rows_by_record(table)
    assert rows[1]["@timestamp"] == datetime(2015, 9, 9, 2, 45, 6, 1, tzinfo=UTC)
    assert rows[1]["source.ip"] == "fe80::fada:cff:fedc:87f1"
    assert rows[1]["destination.ip"] == "ff02::1:2"
    assert rows[2]["@timestamp"] == datetime(2015, 9, 9, 2, 45, 7, tzinfo=UTC)
    assert [(r.record, r.reason) for r in rejects] == [(3, "unreadable timestamp '09/09/2015'")]
    odd = rows[4]
    assert (odd["destination.port"], odd["network.transport"], odd["rule.id"]) == (445, "6", "x1")
    assert "source.port" not in odd and "event.severity" not in odd
    assert odd["extra"] == {
        "src_port": "n/a",
        "alert": {"severity": "high"},
        "flow": {"bytes_toserver": -1.5},
    }


def test_sniff() -> None:
    def sample(path: Path) -> Sample:
        head = path.read_bytes()[:65536]
        return Sample(head=head, text=head.decode("utf-8", "replace"), name=path.name)

    assert FORMAT.sniff(sample(EVE))
    others = [p for p in DATA.rglob("*") if p.is_file() and "suricata" not in p.parts]
    for path in others:
        assert not FORMAT.sniff(sample(path)), path
    plain = b"hello\nworld\n"
    assert not FORMAT.sniff(Sample(plain, plain.decode(), "x.txt"))
    other_json = b'{"Event":{"System":{"EventID":4624}}}\n'
    assert not FORMAT.sniff(Sample(other_json, other_json.decode(), "x.jsonl"))


@pytest.mark.corpus
def test_corpus_beats_samples() -> None:
    if not CORPUS.is_dir():
        pytest.skip("../shared/data not present")
    small, rejects = parse_file(FORMAT, CORPUS / "eve-small.log")
    assert (small.num_rows, len(rejects)) == (8, 0)
    rows = rows_by_record(small)
    assert [rows[i]["event.code"] for i in range(1, 9)] == [
        "ssh", "alert", "http", "fileinfo", "dns", "stats", "tls", "flow",
    ]  # fmt: skip
    assert rows[2]["rule.id"] == "2024833"
    assert rows[2]["destination.domain"] == "l2.io"
    assert rows[2]["@timestamp"] == datetime(2018, 7, 5, 19, 7, 20, 910626, tzinfo=UTC)
    assert rows[4]["file.hash"].startswith("f610428e")
    assert rows[5]["dns.answers"] == "172.217.13.110"
    assert rows[8]["source.ip"] == "fe80::fada:cff:fedc:87f1"

    one, rejects = parse_file(FORMAT, CORPUS / "eve-6.0.log")
    assert (one.num_rows, len(rejects)) == (1, 0)
    row = rows_by_record(one)[1]
    assert row["rule.name"] == "GPL ATTACK_RESPONSE id check returned root"
    assert row["url.original"] == "http://testmynids.org/uid/index.html"
    assert row["@timestamp"] == datetime(2021, 1, 27, 0, 28, 11, 488362, tzinfo=UTC)
    assert row["extra"]["ether"] == {
        "src_mac": "00:03:2d:3f:e5:63",
        "dest_mac": "00:1b:17:00:01:18",
    }
