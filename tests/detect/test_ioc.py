from __future__ import annotations

from pathlib import Path
from typing import Any

from detect_events import sysmon

from ashiato.detect import ioc


def test_stix(data: Path) -> None:
    summary, inds = ioc.parse((data / "detect" / "stix_bundle.json").read_bytes(), "s")
    got = {(i.type, i.value) for i in inds}
    assert got == {
        ("ip", "203.0.113.10"),
        ("domain", "c2.example"),
        ("sha256", "a" * 64),
        ("url", "lander.example/gate.php"),
    }
    assert summary.format == "stix" and any("AND" in s for s in summary.skipped)
    assert next(i for i in inds if i.value == "c2.example").description == "CryptoWall C2"


def test_misp(data: Path) -> None:
    summary, inds = ioc.parse((data / "detect" / "misp_event.json").read_bytes(), "m")
    got = {(i.type, i.value) for i in inds}
    assert ("md5", "0123456789abcdef0123456789abcdef") in got
    assert ("filename", "evil.exe") in got and ("domain", "tor2web.example") in got
    assert ("sha1", "0123456789abcdef0123456789abcdef01234567") in got
    assert any("btc" in s for s in summary.skipped)


def test_lists(data: Path) -> None:
    _, csv_inds = ioc.parse((data / "detect" / "iocs.csv").read_bytes(), "c")
    assert {(i.type, i.value) for i in csv_inds} == {
        ("url", "paystuff.example/pay"),
        ("ip", "192.0.2.0/28"),
    }
    _, txt = ioc.parse((data / "detect" / "iocs.txt").read_bytes(), "t")
    assert {(i.type, i.value) for i in txt} == {
        ("domain", "evil.example"),
        ("filename", "help_decrypt.html"),
        ("md5", "fedcba9876543210fedcba9876543210"),
    }


def test_match_everywhere(events_of: Any, data: Path) -> None:
    rows = [
        sysmon(22, 1, QueryName="www.C2.example"),  # subdomain
        sysmon(22, 2, QueryName="notc2.example"),  # not a subdomain
        sysmon(3, 3, DestinationIp="203.0.113.10"),
        sysmon(3, 4, DestinationIp="192.0.2.9"),  # in the CSV range
        sysmon(11, 5, TargetFilename="D:\\s\\help_decrypt.html"),
        {
            "event.dataset": "squid.access",
            "url.original": "http://paystuff.example/pay?id=1",
            "source.ip": "10.0.0.5",
        },
        {
            "event.dataset": "windows.sysmon",
            "event.code": "1",
            "process.hash": "MD5=FEDCBA9876543210FEDCBA9876543210,SHA256=" + "b" * 64,
        },
    ]
    loaded = ioc.load(
        [
            data / "detect" / n
            for n in ("stix_bundle.json", "misp_event.json", "iocs.csv", "iocs.txt")
        ]
    )
    hits, _ = ioc.match(events_of(rows), loaded)
    got = sorted((h.indicator.type, h.matched) for h in hits)
    assert got == sorted(
        [
            ("domain", "www.c2.example"),
            ("ip", "203.0.113.10"),
            ("ip", "192.0.2.9"),
            ("filename", "help_decrypt.html"),
            ("url", "http://paystuff.example/pay?id=1"),
            ("md5", "MD5=FEDCBA9876543210FEDCBA9876543210,SHA256=" + "b" * 64),
        ]
    )
    assert all(h.indicator.source.endswith(("json", "csv", "txt")) for h in hits)


def test_guess() -> None:
    assert ioc.guess("1.2.3.4") == "ip"
    assert ioc.guess("evil[.]example") == "domain"
    assert ioc.guess("payload.exe") == "filename"
    assert ioc.guess("hxxps://a.example/x") == "url"
    assert ioc.guess("a" * 40) == "sha1"
