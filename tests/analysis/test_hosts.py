"""Verdicts from lateral edges: what a session or a remote execution says about a host."""

from __future__ import annotations

from ashiato.analysis import hosts
from ashiato.analysis.known_admin import KnownAdmin
from ashiato.findings import LateralEdge


def _rdp(source: str, ip: str, account: str, target: str = "rds01",
         last: str = "2015-09-11T00:31:26Z") -> LateralEdge:
    return LateralEdge(source, ip, target, account, "rdp", "T1021.001",
                       "2015-09-07T01:22:41Z", last, 4, True,
                       "an RDP session was opened on the target")  # fmt: skip


def test_sessions_on_a_terminal_server_are_its_job_not_a_move() -> None:
    staff = [_rdp("pc-tky-8900", "10.20.3.24", "ogawa"), _rdp("pc-tky-2398", "10.20.3.21",
             "nakajima"), _rdp("pc-tky-0622", "10.20.3.31", "nishimura")]  # fmt: skip
    outside = _rdp("desktop-638901d", "203.0.113.57", "tanaka")
    views: dict[str, hosts.HostView] = {}
    hosts.add_lateral(views, [*staff, outside], KnownAdmin())
    rds = views["rds01"]
    # only the session from outside is weighed; the staff's are listed, said to be ordinary
    assert [s.detail.split(":")[0] for s in rds.signals] == ["desktop-638901d as tanaka"]
    assert all("everyday use" in e.why for e in staff)


def test_one_admin_reaching_a_server_once_is_still_a_session() -> None:
    # one machine, one account, one day: an admin (or an intruder) on a server, not its users
    once = "2015-09-07T01:40:00Z"
    edge = _rdp("pc-tky-8900", "10.20.3.24", "adm_yamaguchi", target="fs01", last=once)
    views: dict[str, hosts.HostView] = {}
    hosts.add_lateral(views, [edge, _rdp("pc-tky-8900", "10.20.3.24", "adm_yamaguchi")],
                      KnownAdmin())  # fmt: skip
    assert views["fs01"].medium() == {"lateral_in"}


def test_sessions_from_the_vpn_pool_always_count() -> None:
    edges = [_rdp(f"pc-{i}", f"10.20.3.{i}", f"user{i}") for i in range(5)]
    vpn = _rdp("10.212.134.200", "10.212.134.200", "nakamura")
    views: dict[str, hosts.HostView] = {}
    hosts.add_lateral(views, [*edges, vpn], KnownAdmin(), tunnels={"10.212.134.200"})
    assert [s.detail.split(":")[0] for s in views["rds01"].signals] == [
        "10.212.134.200 as nakamura"
    ]
