"""Who held which address when, from DHCP audit logs written the way servers write them."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from ashiato.analysis import identity
from ashiato.analysis.context import Context
from ashiato.analysis.identity import LEASE_MAX, Identity, dhcp_effect, lease_time
from ashiato.case import Case
from ashiato.ingest import Options, ingest

DATA = Path(__file__).resolve().parents[1] / "data" / "dhcp"


def jst(hhmm: str) -> datetime:
    """A time on 2015-09-10 JST (the fixture's day) as UTC."""
    h, m = map(int, hhmm.split(":"))
    return datetime(2015, 9, 10, h, m, tzinfo=UTC) - timedelta(hours=9)


def build(tmp: Path, *files: Path) -> Identity:
    case = Case.create_or_open(tmp / "case", tz="Asia/Tokyo")
    report = ingest(case, list(files), Options(tz="Asia/Tokyo"))
    assert all(f.status == "done" for f in report.files)
    return identity.build(Context(events=case.ibis().table("events"), tz="Asia/Tokyo"))


@pytest.fixture(scope="module")
def ja(tmp_path_factory: pytest.TempPathFactory) -> Identity:
    return build(tmp_path_factory.mktemp("ja"), DATA / "DhcpSrvLog-Thu-ja.log")


def test_dns_update_rows_do_not_end_a_lease(ja: Identity) -> None:
    # 30/32 follow every assign and renew in the same second: the lease runs on
    assert ja.at("10.31.3.25", jst("08:41")).host == "pc-osk-0112"
    assert ja.at("10.31.3.25", jst("11:00")).host == "pc-osk-0112"
    assert ja.at("10.31.3.25", jst("13:29")).host == "pc-osk-0112"


def test_nack_and_conflict_end_nobodys_lease(ja: Identity) -> None:
    # 09:05 B was refused .25 (15) and 10:12 a conflict (13) was logged on it: A keeps it
    assert ja.at("10.31.3.25", jst("09:06")).host == "pc-osk-0112"
    assert ja.at("10.31.3.25", jst("10:13")).host == "pc-osk-0112"
    assert [lease.host for lease in ja.leases["10.31.3.25"]] == ["pc-osk-0112", "pc-osk-0245"]


def test_release_and_reuse_by_another_pc(ja: Identity) -> None:
    # A released .25 at 13:30 (12); B took it at 14:02: each time resolves to its PC
    assert ja.at("10.31.3.25", jst("13:45")).host is None
    assert ja.at("10.31.3.25", jst("14:05")).host == "pc-osk-0245"
    first = ja.leases["10.31.3.25"][0]
    assert first.end == jst("13:30")


def test_old_address_left_when_the_pc_gets_another(ja: Identity) -> None:
    # B held .26 from 09:05; from 14:02 it is on .25, so .26 no longer means B
    assert ja.at("10.31.3.26", jst("12:00")).host == "pc-osk-0245"
    assert ja.at("10.31.3.26", jst("15:00")).host is None
    assert ja.ips_of("pc-osk-0245") == ["10.31.3.25", "10.31.3.26"]


def test_shared_mac_keeps_two_hosts_apart(ja: Identity) -> None:
    # one dock NIC (same MAC) under two names: two hosts, never merged
    assert ja.at("10.31.3.40", jst("10:00")).host == "note-sato"
    assert ja.at("10.31.3.40", jst("15:30")).host == "note-kato"
    assert ja.ips_of("note-sato") == ja.ips_of("note-kato") == ["10.31.3.40"]


def test_a_nameless_client_still_takes_the_address(ja: Identity) -> None:
    # 11:00 a client that sends no host name gets .50: PC-OSK-0300 no longer holds it
    assert ja.at("10.31.3.50", jst("10:00")).host == "pc-osk-0300"
    assert ja.at("10.31.3.50", jst("11:30")).host is None


def test_loopback_is_never_a_host(ja: Identity) -> None:
    for ip in ("127.0.0.1", "::1", "169.254.10.3", "0.0.0.0", "255.255.255.255"):
        assert ja.at(ip, jst("10:00")).host is None


def test_event_ids_not_descriptions() -> None:
    start, end = "start", "end"
    table = {"10": start, "11": start, "20": start, "21": start, "12": end, "16": end,
             "17": end, "18": end, "13": None, "15": None, "30": None, "31": None,
             "32": None, "33": None, "34": None, "35": None, "36": None, "24": None,
             "25": None, "51": None, "00": None}  # fmt: skip
    for code, want in table.items():
        assert dhcp_effect("windows.dhcp", code, "whatever the server's language") == want, code
    # ISC dhcpd speaks in verbs
    assert dhcp_effect("isc.dhcpd", None, "DHCPACK") == "start"
    assert dhcp_effect("isc.dhcpd", None, "DHCPRELEASE") == "end"
    assert dhcp_effect("isc.dhcpd", None, "DHCPNAK") is None


def test_lease_time_from_renewal_rhythm() -> None:
    t0 = datetime(2015, 9, 7, 0, 0, tzinfo=UTC)
    # 8-hour scope: clients renew every 4 hours
    regular = {
        ("10.0.0.5", f"pc-{i}"): [t0 + timedelta(hours=4 * k + i) for k in range(3)]
        for i in range(4)
    }
    assert lease_time(regular) == timedelta(hours=8)
    # reboots at random moments: no rhythm, the default stands
    ragged = {("10.0.0.6", "pc"): [t0 + timedelta(hours=h) for h in (0, 1, 7, 30, 31, 55, 90)]}
    assert lease_time(ragged) == LEASE_MAX
    # PCs booting every morning renew about every 24 h, whatever the scope's lease time
    mornings = {
        ("10.0.0.7", f"pc-{i}"): [t0 + timedelta(days=d, minutes=7 * i + d) for d in range(5)]
        for i in range(3)
    }
    assert lease_time(mornings) == LEASE_MAX
    assert lease_time({}) == LEASE_MAX


def test_english_and_japanese_logs_agree(tmp_path: Path) -> None:
    # the same rows with English descriptions give the same leases
    raw = (DATA / "DhcpSrvLog-Thu-ja.log").read_bytes().decode("cp932")
    for ja_word, en in (("割り当て", "Assign"), ("更新", "Renew"), ("解放", "Release"),
                        ("期限切れ", "Expired"), ("競合", "Conflict"),
                        ("DNS 更新要求", "DNS Update Request"),
                        ("DNS 更新成功", "DNS Update Successful")):  # fmt: skip
        raw = raw.replace(f",{ja_word},", f",{en},")
    en_file = tmp_path / "DhcpSrvLog-Thu.log"
    en_file.write_bytes(raw.encode("ascii", "replace"))
    en_ident = build(tmp_path, en_file)
    ja_ident = build(tmp_path / "again", DATA / "DhcpSrvLog-Thu-ja.log")

    def shape(i: Identity) -> list[tuple[str, str, datetime, datetime]]:
        return [(r["ip"], r["host"], r["start"], r["end"]) for r in i.history()]

    assert shape(en_ident) == shape(ja_ident)


@pytest.mark.slow
@pytest.mark.parametrize("seed", [2, 13])  # 13: a Japanese server (CP932, localised rows)
def test_lab_dhcp_alone_answers_every_check(tmp_path: Path, seed: int) -> None:
    """From the lab's DHCP log alone (DNS rows after every grant, NACKs, expiries, addresses
    changing hands day to day), every address-to-PC fact in truth.json holds."""
    from ashiato import lab

    out = tmp_path / "lab"
    truth = lab.generate("fileserver-encryption", out, seed=seed,
                         missing=[s for s in lab.SOURCES if s != "dhcp"])  # fmt: skip
    ident = build(tmp_path, out / "evidence")
    checks = truth["dhcp_checks"]
    assert len(checks) > 10
    wrong = [
        (c["ip"], c["time"], c["host"], ident.at(c["ip"], datetime.fromisoformat(c["time"])).host)
        for c in checks
        if ident.at(c["ip"], datetime.fromisoformat(c["time"])).host != c["host"]
    ]
    assert wrong == []


def _sysmon3(host: str, rec: int, utc: str, src: str, sport: int, dst: str, dport: int,
             initiated: bool, proto: str = "tcp") -> str:  # fmt: skip
    """Sysmon 3 as NXLog im_msvistalog ships it as JSON (the OTRF datasets' shape)."""
    import json

    return json.dumps({
        "EventTime": utc.replace("T", " ")[:19], "Hostname": f"{host}.theshire.local",
        "EventID": 3, "SourceName": "Microsoft-Windows-Sysmon", "SeverityValue": 2,
        "Channel": "Microsoft-Windows-Sysmon/Operational", "RecordNumber": rec,
        "ProviderGuid": "{5770385F-C22A-43E0-BF4C-06F5698FFBD9}", "SourceModuleType":
        "im_msvistalog", "@timestamp": utc + "Z", "UtcTime": utc.replace("T", " "),
        "Protocol": proto, "Initiated": "true" if initiated else "false", "Image": "System",
        "User": "NT AUTHORITY\\SYSTEM", "SourceIsIpv6": "false", "SourceIp": src,
        "SourceHostname": "-", "SourcePort": str(sport), "SourcePortName": "-",
        "DestinationIsIpv6": "false", "DestinationIp": dst, "DestinationHostname": "-",
        "DestinationPort": str(dport), "DestinationPortName": "-", "RuleName": "-"})  # fmt: skip


def test_sysmon_inbound_connection_names_the_destination_as_the_host(tmp_path: Path) -> None:
    # ws5 (.5) opens SMB to ws6 (.6): ws5 logs it as initiated, ws6 as received, and both
    # records carry SourceIp .5; ws6 also receives a NetBIOS datagram to the broadcast
    seen = (
        ("WORKSTATION5", "2020-09-20T06:57:48.481", "172.18.39.5", 50504, 445, True, "tcp"),
        ("WORKSTATION6", "2020-09-20T06:57:46.164", "172.18.39.5", 50504, 445, False, "tcp"),
        ("WORKSTATION6", "2020-09-20T06:58:20.436", "172.18.39.255", 138, 138, False, "udp"),
    )
    lines = [
        _sysmon3(host, i, utc, src, sport, "172.18.39.6", dport, out, proto)
        for i, (host, utc, src, sport, dport, out, proto) in enumerate(seen, 1)
    ]
    path = tmp_path / "sysmon.json"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    ident = build(tmp_path, path)
    when = datetime(2020, 9, 20, 6, 58, tzinfo=UTC)
    hosts = {ip: {s.host for s in ss} for ip, ss in ident.sightings.items()}
    assert hosts == {"172.18.39.5": {"workstation5"}, "172.18.39.6": {"workstation6"}}
    assert ident.at("172.18.39.5", when).host == "workstation5"
    assert ident.at("172.18.39.6", when).host == "workstation6"


def test_evtx_dump_keeps_initiated_as_a_boolean(tmp_path: Path) -> None:
    """The same inbound connections as ``evtx_dump -o jsonl`` prints them (the lab's
    writer): ``Initiated`` is JSON false, not the string NXLog writes."""
    from ashiato.lab.clock import MS
    from ashiato.lab.sink import StreamSpec, StreamState
    from ashiato.lab.writers.winevt import jsonl_renderer

    channel = "Microsoft-Windows-Sysmon/Operational"
    ts = int(datetime(2021, 4, 20, 20, 34, 8, tzinfo=UTC).timestamp()) * MS
    seen = (
        ("WORKSTATION6", "10.0.2.255", 137, "10.0.2.17", 137, False, "udp"),  # broadcast
        ("WORKSTATION6", "10.0.2.30", 50100, "10.0.2.17", 445, False, "tcp"),
        ("WORKSTATION7", "10.0.2.30", 50100, "10.0.2.17", 445, True, "tcp"),
    )
    lines = []
    for host, src, sport, dst, dport, out, proto in seen:
        render = jsonl_renderer(channel, f"{host}.theshire.local")
        spec = StreamSpec(host, "endpoint", "Sysmon.jsonl", render, "evtx-jsonl", host, "UTC", True)
        data = {"RuleName": "-", "UtcTime": "2021-04-20 20:34:08.340", "ProcessId": 4,
                "Image": "System", "User": "NT AUTHORITY\\SYSTEM", "Protocol": proto,
                "Initiated": out, "SourceIsIpv6": False, "SourceIp": src,
                "SourceHostname": "-", "SourcePort": sport, "DestinationIsIpv6": False,
                "DestinationIp": dst, "DestinationPort": dport}  # fmt: skip
        lines.append(render(StreamState(spec), ts, {"id": 3, "user": "S-1-5-18", "data": data}))
    path = tmp_path / "Sysmon.jsonl"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    ident = build(tmp_path, path)
    hosts = {ip: {s.host for s in ss} for ip, ss in ident.sightings.items()}
    assert hosts == {"10.0.2.17": {"workstation6"}, "10.0.2.30": {"workstation7"}}


def _plain_nearest(spans: list[identity.Sighting], when: datetime) -> identity.Sighting | None:
    """The definition: smallest gap (0 inside a span) within the window, first of equals."""
    best, best_gap = None, None
    for s in spans:
        gap = max(timedelta(0), s.first - when, when - s.last)
        if gap <= identity.SIGHTING_WINDOW and (best_gap is None or gap < best_gap):
            best, best_gap = s, gap
    return best


def test_nearest_sighting_is_the_definition() -> None:
    # overlapping, touching and far-apart spans, asked at random times and at the ties
    import random

    rnd = random.Random(7)
    base = datetime(2015, 9, 10, tzinfo=UTC)
    for _ in range(40):
        spans = []
        for k in range(rnd.randint(1, 3 * identity.SCAN_MAX)):  # scanned, and as arrays
            first = base + timedelta(hours=rnd.uniform(0, 200))
            last = first + timedelta(hours=rnd.choice([0, 0.5, 3, 30]))
            spans.append(identity.Sighting("10.0.0.9", f"pc{k}", None, first, last, "b", "r"))
        ident = Identity(sightings={"10.0.0.9": spans})
        probes = [base + timedelta(hours=rnd.uniform(-30, 260)) for _ in range(300)]
        # exactly on every edge, window boundary and midpoint between two spans: the ties
        w = identity.SIGHTING_WINDOW
        probes += [t for s in spans for t in (s.first, s.last, s.first - w, s.last + w)]
        probes += [a.last + (b.first - a.last) / 2 for a in spans for b in spans]
        for when in probes:
            assert ident._nearest("10.0.0.9", when, "host") is _plain_nearest(spans, when)


def test_many_lookups_at_once_are_the_single_lookups() -> None:
    # leases (first holding one wins) over sightings (nearest, first of equals, within
    # the window), nameless sightings skipped, unknown and loopback addresses, no time
    import random

    rnd = random.Random(11)
    base = datetime(2015, 9, 10, tzinfo=UTC)
    for _ in range(20):
        ident = Identity()
        for ip in ("10.0.0.1", "10.0.0.2", "10.0.0.3"):
            for k in range(rnd.randint(0, 8)):
                start = base + timedelta(hours=rnd.uniform(0, 200))
                end = start + timedelta(hours=rnd.choice([1, 8, 48]))
                lease = identity.Lease(ip, f"lease{k}", start, end, "r")
                ident.leases.setdefault(ip, []).append(lease)
            for k in range(rnd.randint(0, 12)):
                first = base + timedelta(hours=rnd.uniform(0, 200))
                last = first + timedelta(hours=rnd.choice([0, 0.5, 3, 30]))
                host = rnd.choice([f"seen{k}", None])
                user = "u" if host is None else None
                s = identity.Sighting(ip, host, user, first, last, "b", "r")
                ident.sightings.setdefault(ip, []).append(s)
        asks: list[tuple[str | None, datetime | None]] = [
            (
                rnd.choice(["10.0.0.1", "10.0.0.2", "10.0.0.3", "10.0.0.4", "127.0.0.1", None]),
                rnd.choice([None] + [base + timedelta(hours=rnd.uniform(-30, 260))] * 9),
            )
            for _ in range(400)
        ]
        assert ident.hosts_at(asks) == [ident.host_at(ip, when) for ip, when in asks]
