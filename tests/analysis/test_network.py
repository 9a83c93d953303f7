"""Network indicators on logs as mail servers write them: the content filter is no host."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from case_rows import make_ctx

from ashiato.analysis import identity, network
from ashiato.analysis.context import Context
from ashiato.analysis.indicators import is_client, never_a_host
from ashiato.case import Case
from ashiato.ingest import Options, ingest

DATA = Path(__file__).resolve().parents[1] / "data"


@pytest.mark.parametrize(
    "ip",
    ["127.0.0.1", "127.0.1.1", "::1", "::ffff:127.0.0.1", "169.254.12.7", "fe80::1c2:3ff:fe4",
     "224.0.0.251", "ff02::fb", "255.255.255.255", "0.0.0.0", "::", "", None],
)  # fmt: skip
def test_never_a_host(ip: str | None) -> None:
    assert never_a_host(ip)
    assert not is_client(ip)


@pytest.mark.parametrize("ip", ["10.31.3.25", "192.168.1.10", "172.16.0.5", "fd00::25"])
def test_internal_clients_are_hosts(ip: str) -> None:
    assert not never_a_host(ip) and is_client(ip)


def test_postfix_content_filter_is_not_a_spam_bot(tmp_path: Path) -> None:
    # 24 outbound messages, each handed to amavis on 127.0.0.1:10024 and re-injected
    # from 127.0.0.1 as a new queue id that then goes to the recipient's MX on port 25
    case = Case.create_or_open(tmp_path / "case", tz="Asia/Tokyo")
    report = ingest(
        case, [DATA / "postfix" / "maillog-amavis"], Options(tz="Asia/Tokyo", year=2015)
    )
    assert [f.status for f in report.files] == ["done"]
    ctx = Context(events=case.ibis().table("events"), tz="Asia/Tokyo")
    t = ctx.events
    outbound = t.filter((t["source.ip"] == "127.0.0.1") & (t["destination.port"] == 25))
    assert ctx.rows(outbound.aggregate(n=outbound.count()))[0]["n"] == 24  # the shape is real
    net = network.analyse(ctx)
    assert net.spam is None
    assert not [s for s in net.signals if never_a_host(s.ip)]
    ident = identity.build(ctx)
    assert ident.at("127.0.0.1", datetime(2015, 12, 30, 1, 0, tzinfo=UTC)).host is None


def test_c2_belongs_to_infected_hosts() -> None:
    t = datetime(2015, 9, 10, 4, 0, tzinfo=UTC)
    net = network.NetworkFindings()
    # the infected PC's beacons, from an address only identity ties to it
    net.rare_posts.append(network.HostSignal("10.31.3.25", t, "c2", "shop.tatami-ya.example", {}))
    # another PC's adware beacon, equally rare and POSTed
    net.rare_posts.append(network.HostSignal("10.20.3.41", t, "c2", "track.toolbar.example", {}))
    names = {"10.31.3.25": "pc-osk-0112", "10.20.3.41": "pc-tky-0341"}
    c2 = network.c2_of(net, lambda ip, when: names.get(ip, ip), {"pc-osk-0112"})
    assert c2 == ["shop.tatami-ya.example"]




def test_alert_on_the_proxy_goes_to_the_client_that_asked(tmp_path: Path) -> None:
    """Explicit proxy 10.0.0.8: the IDS outside it sees the proxy as every web client."""
    t0 = datetime(2015, 9, 10, 4, 0, tzinfo=UTC)
    proxy, pc, other = "10.0.0.8", "10.31.3.25", "10.20.3.41"
    rows: list[dict[str, Any]] = []
    for i in range(120):  # ordinary browsing: the proxy log has the PCs, the IDS the proxy
        when = t0 + timedelta(minutes=i)
        client = pc if i % 2 else other
        rows.append({"@timestamp": when, "event.dataset": "squid.access",
                     "observer.type": "proxy", "source.ip": client,
                     "url.original": f"http://news{i % 7}.example.jp/",
                     "http.request.method": "GET", "destination.ip": f"203.0.113.{i % 7 + 1}",
                     "evidence_id": "squid"})  # fmt: skip
        rows.append({"@timestamp": when, "event.dataset": "suricata.eve", "observer.type": "ids",
                     "source.ip": proxy, "destination.ip": f"203.0.113.{i % 7 + 1}",
                     "destination.port": 80, "evidence_id": "eve"})  # fmt: skip
    hit = t0 + timedelta(minutes=30, seconds=20)
    rows.append({"@timestamp": hit, "event.dataset": "squid.access", "observer.type": "proxy",
                 "source.ip": pc, "url.original": "http://shop.tatami-ya.example/wp/gate.php",
                 "http.request.method": "POST", "destination.ip": "192.0.2.201",
                 "evidence_id": "squid"})  # fmt: skip
    rows.append({"@timestamp": hit + timedelta(seconds=1), "event.dataset": "suricata.eve",
                 "observer.type": "ids", "source.ip": proxy, "destination.ip": "192.0.2.201",
                 "destination.port": 80, "rule.name": "ET TROJAN CryptoWall Check-in",
                 "evidence_id": "eve"})  # fmt: skip
    net = network.analyse(make_ctx(tmp_path, rows))
    alerts = [s for s in net.signals if s.kind == "ids_alert"]
    assert [(s.ip, s.detail) for s in alerts] == [
        (pc, "ET TROJAN CryptoWall Check-in (via proxy 10.0.0.8)")
    ]
    assert not [s for s in net.signals if s.ip == proxy]


def test_mail_to_the_firms_own_server_is_not_spam(tmp_path: Path) -> None:
    """A PC (or a monitoring box) handing 40 messages to the internal relay is ordinary
    mail (Zeek smtp.log of the WRCCDC 2018 capture named such a box a spam bot); 25
    sessions straight to Internet MXs from another PC are the bot."""
    t0 = datetime(2018, 3, 24, 17, 15, tzinfo=UTC)
    rows: list[dict[str, Any]] = []
    for i in range(40):
        rows.append({"@timestamp": t0 + timedelta(minutes=i), "event.dataset": "zeek.smtp",
                     "source.ip": "10.164.94.120", "source.port": 40000 + i,
                     "destination.ip": "10.47.8.208", "destination.port": 25,
                     "evidence_id": "smtp"})  # fmt: skip
    for i in range(25):
        rows.append({"@timestamp": t0 + timedelta(minutes=i, seconds=30),
                     "event.dataset": "zeek.conn", "source.ip": "10.47.3.155",
                     "source.port": 50000 + i, "destination.ip": f"198.51.100.{i + 1}",
                     "destination.port": 25, "evidence_id": "conn"})  # fmt: skip
    net = network.analyse(make_ctx(tmp_path, rows))
    assert [(s.ip, s.detail) for s in net.signals if s.kind == "spam"] == [
        ("10.47.3.155", "25 SMTP connections")
    ]
    assert net.spam is not None and net.spam["ip"] == "10.47.3.155"
    assert net.spam["destinations"] == 25
