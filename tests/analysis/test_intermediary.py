"""Signals on a NAT address go through the firewall's NAT table to the machine inside.

The FortiGate lines follow domain.md 3.3 (traffic logs at session end with ``trandisp``,
``transip``/``transport`` for source NAT, ``tranip``/``tranport`` for a virtual IP); the
Suricata alerts follow its EVE JSON (domain.md 3.10). The sensor sits outside the
firewall, so it sees the translated address and port.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

from ashiato.analysis import intermediary, network
from ashiato.analysis.context import Context
from ashiato.case import Case
from ashiato.ingest import Options, ingest

EGRESS = "198.51.100.2"  # the firewall's public address: every PC goes out as it
BRANCH_NAT = "10.0.254.1"  # a branch tunnel NAT'd to one inside address
C2 = "203.0.113.77"
PC, OTHER, BRANCH_PC = "10.20.3.41", "10.20.3.52", "10.40.1.17"
WEB, WEB_VIP = "10.0.0.80", "198.51.100.80"  # a server published through a virtual IP
ATTACKER = "192.0.2.66"
T0 = datetime(2015, 9, 9, 2, 45, 0, tzinfo=UTC)  # 11:45 JST


def _jst(when: datetime) -> tuple[str, str]:
    local = when + timedelta(hours=9)
    return f"{local:%Y-%m-%d}", f"{local:%H:%M:%S}"


def _traffic(end: datetime, src: str, sport: int, dst: str, dport: int, nat: str,
             duration: int = 4) -> str:  # fmt: skip
    d, t = _jst(end)
    return (f'date={d} time={t} devname="FG-TOKYO" devid="FG100D0000000001" '
            f'logid="0000000013" type="traffic" subtype="forward" level="notice" vd="root" '
            f"srcip={src} srcport={sport} srcintf=\"internal\" dstip={dst} dstport={dport} "
            f'dstintf="wan1" sessionid={sport + 800000} proto=6 action="close" policyid=3 '
            f'service="HTTP" dstcountry="Japan" srccountry="Reserved" {nat} '
            f"duration={duration} sentbyte=1432 rcvdbyte=23390 sentpkt=12 rcvdpkt=28")  # fmt: skip


def _alert(when: datetime, src: str, sport: int, dst: str, dport: int, sig: str) -> str:
    local = when + timedelta(hours=9)
    return json.dumps({
        "timestamp": f"{local:%Y-%m-%dT%H:%M:%S}.311204+0900", "flow_id": 1294873001 + sport,
        "in_iface": "eth1", "event_type": "alert", "src_ip": src, "src_port": sport,
        "dest_ip": dst, "dest_port": dport, "proto": "TCP",
        "alert": {"action": "allowed", "gid": 1, "signature_id": 2021000, "rev": 2,
                  "signature": sig, "category": "A Network Trojan was detected",
                  "severity": 1},
        "app_proto": "http"})  # fmt: skip


def _case(tmp: Path, fw: list[str], eve: list[str]) -> Context:
    ev = tmp / "evidence"
    ev.mkdir()
    (ev / "FG-TOKYO.log").write_text("\n".join(fw) + "\n", encoding="utf-8")
    (ev / "eve.json").write_text("\n".join(eve) + "\n", encoding="utf-8")
    case = Case.create_or_open(tmp / "case", tz="Asia/Tokyo")
    report = ingest(case, [ev], Options())
    assert {f.status for f in report.files} == {"done"}
    return Context(events=case.ibis().table("events"), tz="Asia/Tokyo")


def _snat(port: int) -> str:
    return f'trandisp="snat" transip={EGRESS} transport={port}'


def test_alerts_on_the_nat_address_go_to_the_pc_inside(tmp_path: Path) -> None:
    check_in = "ET TROJAN CryptoWall Check-in"
    fw = [
        # both PCs reach the same server through the egress address at the same minute
        _traffic(T0 + timedelta(seconds=4), PC, 51234, C2, 80, _snat(40123)),
        _traffic(T0 + timedelta(seconds=5), OTHER, 51300, C2, 80, _snat(40188)),
        # the branch's PCs reach the head office's file server as the tunnel's NAT address
        _traffic(
            T0 + timedelta(seconds=6),
            BRANCH_PC,
            49800,
            "10.0.0.10",
            445,
            f'trandisp="snat" transip={BRANCH_NAT} transport=62001',
        ),
        # a published web server: the attacker talks to the virtual IP
        _traffic(
            T0 + timedelta(seconds=9),
            ATTACKER,
            55001,
            WEB_VIP,
            80,
            f'trandisp="dnat" tranip={WEB} tranport=8080',
            duration=8,
        ),
        # a sniffer-mode session: FortiOS writes a translation to 0.0.0.0 port 0
        _traffic(
            T0 + timedelta(seconds=7),
            OTHER,
            51310,
            C2,
            443,
            'trandisp="snat" transip=0.0.0.0 transport=0',
        ),
    ]
    eve = [
        _alert(T0 + timedelta(seconds=1), EGRESS, 40123, C2, 80, check_in),
        _alert(T0 + timedelta(seconds=2), C2, 80, EGRESS, 40123, "ET CURRENT_EVENTS Angler EK"),
        _alert(
            T0 + timedelta(seconds=3),
            BRANCH_NAT,
            62001,
            "10.0.0.10",
            445,
            "ET TROJAN Possible Ransomware SMB Activity",
        ),
        _alert(
            T0 + timedelta(seconds=2),
            ATTACKER,
            55001,
            WEB_VIP,
            80,
            "ET TROJAN Webshell CnC Inbound",
        ),
        # nothing in the NAT table carried this one: no host to name, the NAT is none
        _alert(T0 + timedelta(hours=2), EGRESS, 40999, C2, 80, check_in),
    ]
    ctx = _case(tmp_path, fw, eve)
    table = intermediary.nat_table(ctx)
    assert table.addresses == {EGRESS, BRANCH_NAT, WEB_VIP}
    assert intermediary.nat_addresses(ctx) == table.addresses
    # looked up for the alerts' peers only: the file server's one session, not the rest
    assert len(intermediary.nat_table(ctx, {"10.0.0.10"}).sessions) == 1
    net = network.analyse(ctx)
    got = sorted((s.ip, s.detail) for s in net.signals if s.kind == "ids_alert")
    assert got == sorted([
        (PC, f"{check_in} (via NAT {EGRESS} on FG-TOKYO)"),
        (PC, f"ET CURRENT_EVENTS Angler EK (via NAT {EGRESS} on FG-TOKYO)"),
        (BRANCH_PC, f"ET TROJAN Possible Ransomware SMB Activity (via NAT {BRANCH_NAT} on "
                    "FG-TOKYO)"),
        (WEB, f"ET TROJAN Webshell CnC Inbound (via NAT {WEB_VIP} on FG-TOKYO)"),
    ])  # fmt: skip
    assert not [s for s in net.signals if s.ip in table.addresses]


def test_without_nat_rows_alerts_keep_their_inside_address(tmp_path: Path) -> None:
    fw = [_traffic(T0 + timedelta(seconds=4), PC, 51234, C2, 80, 'trandisp="noop"')]
    eve = [_alert(T0 + timedelta(seconds=1), PC, 51234, C2, 80, "ET TROJAN CryptoWall Check-in")]
    ctx = _case(tmp_path, fw, eve)
    assert intermediary.nat_table(ctx).addresses == set()
    net = network.analyse(ctx)
    assert [(s.ip, s.detail) for s in net.signals] == [(PC, "ET TROJAN CryptoWall Check-in")]
