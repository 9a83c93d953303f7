"""Network indicators on logs as mail servers write them: the content filter is no host."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest

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
