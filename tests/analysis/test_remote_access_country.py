"""The country of a VPN sign-in: what the device's own geolocation logged (FortiGate
``srccountry``), when the offline table knows nothing of the address."""

from __future__ import annotations

from pathlib import Path

from ashiato.analysis import entry, remote_access
from ashiato.analysis.context import Context
from ashiato.case import Case
from ashiato.ingest import Options, ingest

# FortiOS 7 SSL-VPN event log lines (type=event subtype=vpn), as a FortiAnalyzer export
# writes them; 198.51.100.0/24 is a documentation range: no offline table places it
LOG = "\n".join(
    'date=2024-02-03 time={t} devname="FGT-EDGE" devid="FGT60F0000000001" logid="{logid}" '
    'type="event" subtype="vpn" level="{level}" vd="root" tz="+0900" logdesc="{desc}" '
    'action="{action}" tunneltype="ssl-tunnel" tunnelid={tid} remip={ip} {tunnel}'
    'srccountry="{country}" user="{user}" group="SSLVPN_Users" dst_host="N/A" '
    'reason="{reason}" msg="{msg}"'.format(**v)
    for v in (
        dict(t="02:10:01", logid="0101039426", level="alert", desc="SSL VPN login fail",
             action="ssl-login-fail", tid=0, ip="198.51.100.78", tunnel="",
             country="United States", user="suzuki", reason="sslvpn_login_permission_denied",
             msg="SSL user failed to logged in"),
        dict(t="02:12:41", logid="0101039424", level="information", desc="SSL VPN tunnel up",
             action="tunnel-up", tid=88591, ip="198.51.100.78", tunnel="tunnelip=10.212.134.200 ",
             country="United States", user="tanaka", reason="N/A", msg="SSL tunnel established"),
        dict(t="08:55:02", logid="0101039424", level="information", desc="SSL VPN tunnel up",
             action="tunnel-up", tid=88592, ip="203.0.113.10", tunnel="tunnelip=10.212.134.201 ",
             country="Japan", user="sato", reason="N/A", msg="SSL tunnel established"),
        dict(t="09:01:00", logid="0101039424", level="information", desc="SSL VPN tunnel up",
             action="tunnel-up", tid=88593, ip="203.0.113.11", tunnel="tunnelip=10.212.134.202 ",
             country="Reserved", user="ito", reason="N/A", msg="SSL tunnel established"),
    )
) + "\n"  # fmt: skip


def test_the_devices_country_names_the_session_and_the_foreign_login(tmp_path: Path) -> None:
    log = tmp_path / "evidence" / "FGT-EDGE_event.log"
    log.parent.mkdir()
    log.write_text(LOG, encoding="utf-8")
    case = Case.create_or_open(tmp_path / "case", tz="Asia/Tokyo")
    report = ingest(case, [log.parent], Options(tz="Asia/Tokyo"))
    assert [f.format for f in report.files] == ["fortigate"]
    ctx = Context(events=case.ibis().table("events"), tz="Asia/Tokyo")
    got = {s.user: s.country for s in remote_access.sessions(ctx)}
    # "Reserved" is FortiGate's word for an address its database does not place
    assert got == {"tanaka": "US", "sato": "JP", "ito": None}
    found = entry.analyse(ctx)
    foreign = [s for s in found.signals if s.kind == "foreign_login"]
    assert [(s.user, s.source_ip, s.country) for s in foreign] == [
        ("tanaka", "198.51.100.78", "US")
    ]
    assert found.entry is not None
    assert (found.entry["user"], found.entry["country"], found.entry["country_name"]) == (
        "tanaka", "US", "United States",
    )  # fmt: skip
    steps = entry.next_steps(ctx, found)
    assert "from 198.51.100.78 (United States)" in steps[0]


def test_country_names_and_codes() -> None:
    assert remote_access.country_code("United States") == "US"
    assert remote_access.country_code("Russian Federation") == "RU"
    assert remote_access.country_code("jp") == "JP"
    assert remote_access.country_code("Atlantis") == "Atlantis"  # kept as written
    assert remote_access.country_name("SG") == "Singapore"
    row = {"source.ip": "10.0.0.5", "extra": '{"srcloc": "10.0.0.0-10.255.255.255"}'}
    assert remote_access.row_country(row) is None  # PAN-OS names a private range
