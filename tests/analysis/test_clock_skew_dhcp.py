"""Clock skew from DHCP: the server's acknowledgement and a sensor's sighting of the same
exchange. The Windows DHCP audit log follows domain.md 8.1 (the lab writer's preamble
and header, DNS-update rows after every assign and renew); Zeek's ``dhcp.log`` is its
JSON form (``ts`` of the exchange, ``assigned_addr``, ``msg_types``)."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

from ashiato.analysis import clock_skew
from ashiato.analysis.context import Context
from ashiato.case import Case
from ashiato.ingest import Options, ingest
from ashiato.lab.writers.dhcp import HEADER_LINE, PREAMBLE

DAY = datetime(2015, 9, 9, tzinfo=UTC)  # 09:00 JST = 00:00 UTC
PCS = [(f"PC-OSK-{n:04d}", f"10.31.3.{20 + i}", f"00155D0A{n:04d}") for i, n in
       enumerate((112, 245, 300, 311, 318, 402))]  # fmt: skip
SENSOR_FAST = 183  # seconds: the Zeek box's clock is three minutes ahead
MIN_RENEWALS = 20  # a branch's PCs renew every 4 h over the lab's five days


def _dhcp_row(code: int, what: str, when: datetime, pc: tuple[str, str, str]) -> list[str]:
    local = when + timedelta(hours=9)
    name, ip, mac = pc
    fqdn = f"{name}.corp.example.jp"
    d, t = f"{local:%m/%d/%y}", f"{local:%H:%M:%S}"
    tail = ",,0,6,,,,,,,,,0"
    return [f"{code},{d},{t},{what},{ip},{fqdn},{mac},,{1000 + code},0,,,,0x4D53465420352E30,"
            "MSFT 5.0,,,,0",
            f"30,{d},{t},DNS Update Request,{ip},{fqdn},{tail}",
            f"32,{d},{t},DNS Update Successful,{ip},{fqdn},{tail}"]  # fmt: skip


def _zeek(when: datetime, pc: tuple[str, str, str], renew: bool) -> str:
    name, ip, mac = pc
    mac_colon = ":".join(mac[i : i + 2] for i in range(0, 12, 2)).lower()
    return json.dumps({
        "ts": when.timestamp(), "uids": [f"C{abs(hash((ip, when))) % 10**8:08d}"],
        "client_addr": ip if renew else None, "server_addr": "10.31.0.5", "mac": mac_colon,
        "host_name": name, "domain": "corp.example.jp", "assigned_addr": ip,
        "lease_time": 691200.0,
        "msg_types": ["REQUEST", "ACK"] if renew else ["DISCOVER", "OFFER", "REQUEST", "ACK"],
        "duration": 0.0021})  # fmt: skip


def _case(tmp: Path, dhcp: list[str], zeek: list[str]) -> Context:
    ev = tmp / "evidence"
    ev.mkdir()
    text = "\r\n".join([*PREAMBLE, HEADER_LINE, *dhcp]) + "\r\n"
    (ev / "DhcpSrvLog-Wed.log").write_text(text, encoding="utf-8")
    (ev / "dhcp.log").write_text("\n".join(zeek) + "\n", encoding="utf-8")
    case = Case.create_or_open(tmp / "case", tz="Asia/Tokyo")
    report = ingest(case, [ev], Options())
    assert {f.status for f in report.files} == {"done"}, report.files
    return Context(events=case.ibis().table("events"), tz="Asia/Tokyo")


def _morning() -> tuple[list[str], list[str]]:
    dhcp: list[str] = []
    zeek: list[str] = []
    for i, pc in enumerate(PCS):
        boot = DAY - timedelta(minutes=25) + timedelta(minutes=7 * i, seconds=11 * i)
        renew = boot + timedelta(hours=4)  # T1 of the scope's 8-hour lease
        for when, code, what, is_renew in ((boot, 10, "Assign", False),
                                           (renew, 11, "Renew", True)):  # fmt: skip
            dhcp += _dhcp_row(code, what, when, pc)
            # the sensor writes the exchange's first packet: the ack is logged a moment later
            zeek.append(_zeek(when - timedelta(milliseconds=400)
                              + timedelta(seconds=SENSOR_FAST), pc, is_renew))  # fmt: skip
    return dhcp, zeek


def test_a_sensor_minutes_off_is_measured_against_the_dhcp_server(tmp_path: Path) -> None:
    dhcp, zeek = _morning()
    ctx = _case(tmp_path, dhcp, zeek)
    found = clock_skew.dhcp_edges(ctx)
    assert [(e.kind, e.n) for e in found] == [("DHCP exchanges", 12)]
    skews = clock_skew.estimate(ctx)
    assert [s.source for s in skews] == ["zeek.dhcp"]
    s = skews[0]
    # the server logs whole seconds: the sensor is 183 s ahead, give or take one
    assert abs(s.offset_seconds - SENSOR_FAST) <= 1.5
    assert s.pairs == 12 and s.zone_error_hours is None
    assert "12 DHCP exchanges seen by both zeek.dhcp and windows.dhcp" in s.basis


def test_an_address_acknowledged_twice_in_minutes_pairs_with_neither(tmp_path: Path) -> None:
    dhcp, zeek = _morning()
    # each morning assign is followed 3 minutes later by a second one (a PC rebooted):
    # the sensor's sighting could belong to either, so no pair is made of them
    for i, pc in enumerate(PCS):
        boot = DAY - timedelta(minutes=25) + timedelta(minutes=7 * i, seconds=11 * i)
        dhcp += _dhcp_row(10, "Assign", boot + timedelta(minutes=3), pc)
    ctx = _case(tmp_path, dhcp, zeek)
    found = clock_skew.dhcp_edges(ctx)
    assert [(e.kind, e.n) for e in found] == [("DHCP exchanges", 6)]  # the renewals only


def test_first_events_after_a_lease_are_not_paired(tmp_path: Path) -> None:
    """The PC's logon minutes after its lease is not the same act: no DHCP edge."""
    dhcp, _ = _morning()
    zeek = []
    for i, pc in enumerate(PCS):  # Zeek saw nothing of DHCP, only each PC's first session
        boot = DAY - timedelta(minutes=25) + timedelta(minutes=7 * i, seconds=11 * i)
        zeek.append(json.dumps({
            "ts": (boot + timedelta(seconds=40 + 30 * i)).timestamp(), "uid": f"Cb{i:06d}",
            "id.orig_h": pc[1], "id.orig_p": 49700 + i, "id.resp_h": "10.31.0.10",
            "id.resp_p": 88, "proto": "tcp", "service": "krb_tcp", "duration": 0.01,
            "orig_bytes": 1400, "resp_bytes": 1500, "conn_state": "SF"}))  # fmt: skip
    (tmp_path / "conn").mkdir()
    ctx = _case(tmp_path / "conn", dhcp, zeek)
    assert clock_skew.dhcp_edges(ctx) == []


def test_lab_branch_firewalls_measured_by_dhcp_renewals_alone(tmp_path: Path) -> None:
    """The lab's branch FortiGates log each PC's unicast DHCP renewal to the head office's
    server; with the share audit, the IDS and the endpoints missing, those renewals are
    the only witness of FG-OSAKA's +200 s and FG-SAPPORO's -47 s (truth.json)."""
    from ashiato.lab import generate

    out = tmp_path / "run"
    truth = generate("fileserver-encryption", out, seed=3,
                     missing=("fileserver-audit", "ids", "endpoint"))  # fmt: skip
    case = Case.create_or_open(tmp_path / "case", tz="Asia/Tokyo")
    ingest(case, [out / "evidence"], Options(tz="Asia/Tokyo"))
    ctx = Context(events=case.ibis().table("events"), tz="Asia/Tokyo")
    found = {s.source: s for s in clock_skew.estimate(ctx)}
    want = {f"fortinet.fortigate@{s['device']}": s["offset_seconds"] for s in truth["clock_skews"]}
    assert want == {"fortinet.fortigate@FG-OSAKA": 200, "fortinet.fortigate@FG-SAPPORO": -47}
    assert set(found) == set(want)
    for source, offset in want.items():
        got = found[source]
        assert abs(got.offset_seconds - offset) <= 1.5, got
        assert "DHCP exchanges seen by both" in got.basis and got.pairs >= MIN_RENEWALS
