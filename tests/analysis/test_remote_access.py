"""VPN sessions, the identity join across the VPN pool, entry findings, exposed RDP."""

from __future__ import annotations

from pathlib import Path

import pytest
from intrusion_case import (
    ATTACKER_IP,
    FS,
    HOME_IP,
    HOME_TUNNEL,
    TUNNEL,
    VICTIM,
    at,
    intrusion,
    make_ctx,
    normal_use,
    spray,
    vpn,
)

from ashiato.analysis import identity, remote_access
from ashiato.analysis.vector import vectors


def test_sessions_join_login_tunnel_and_end(tmp_path: Path) -> None:
    ctx = make_ctx(tmp_path, normal_use() + spray())
    sess = remote_access.sessions(ctx)
    bad = [s for s in sess if s.public_ip == ATTACKER_IP]
    assert len(bad) == 1  # the eight failures open nothing
    s = bad[0]
    assert (s.user, s.tunnel_ip, s.country) == (VICTIM, TUNNEL, "RU")
    assert s.start == at(0) and s.end == at(300)
    assert s.source_bytes == 4_000_000_000
    # login + start + end rows, all kept for the evidence
    assert [r["event.action"] for r in s.rows] == [
        "vpn-login",
        "vpn-session-start",
        "vpn-session-end",
    ]
    pool = remote_access.Pool(sess)
    assert pool.at(TUNNEL, at(5)) is s
    assert pool.at(TUNNEL, at(400)) is None  # after the session ended
    # the home tunnel address, handed out every day, resolves to that day's session
    home = pool.at(HOME_TUNNEL, at(-1))
    assert home is not None and home.public_ip == HOME_IP and home.country == "JP"


def test_identity_resolves_the_vpn_pool_to_the_remote_user(tmp_path: Path) -> None:
    ctx = make_ctx(tmp_path, normal_use() + spray())
    ident = identity.build(ctx)
    res = ident.at(TUNNEL, at(5))
    assert res.user == VICTIM
    assert any("VPN session from 5.188.10.1 (RU)" in s.basis for s in ident.sightings[TUNNEL])


def test_vector_is_remote_access_through_the_vpn(tmp_path: Path) -> None:
    ctx = make_ctx(tmp_path, intrusion())
    ident = identity.build(ctx)
    [v] = vectors(ctx, ident, [(FS, at(60))])
    assert v.type == "remote_access"
    lines = [e.summary for e in v.chain]
    assert any(f"VPN sign-in of {VICTIM} from {ATTACKER_IP} (RU)" in s for s in lines)
    assert any(f"remote desktop logon from the VPN address {TUNNEL}" in s for s in lines)
    assert lines.index(next(s for s in lines if "VPN sign-in" in s)) < lines.index(
        next(s for s in lines if "remote desktop logon" in s)
    )


@pytest.mark.corpus
def test_terminal_services_1149_real_sample(shared: Path, tmp_path: Path) -> None:
    """TerminalServices 1149 keeps user and address in UserData Param1/Param3."""
    from ashiato.analysis.context import Context
    from ashiato.case import Case
    from ashiato.ingest import Options, ingest

    src = shared / "evtx-attack-samples" / "Command and Control"
    name = "DE_RDP_Tunneling_TerminalServices-RemoteConnectionManagerOperational_1149.evtx"
    case = Case.create_or_open(tmp_path / "case", tz="Asia/Tokyo")
    ingest(case, [src / name], Options())
    ctx = Context(events=case.ibis().table("events"), tz="Asia/Tokyo")
    rdp = remote_access.rdp_logons(ctx, remote_access.Pool([]))
    pairs = {(r["user"], r["source_ip"]) for r in rdp}
    assert ("administrator", "10.0.2.16") in pairs
    assert not any(r["exposed"] for r in rdp)  # a private address is not the internet


def test_refused_gateway_connection_opens_no_session(tmp_path: Path) -> None:
    """RD Gateway style: 304 is a session-start with outcome failure; 302 names the computer."""
    rows = [
        vpn(0, "vpn-login", "sato", "126.0.0.9", "success"),
        vpn(
            0.1,
            "vpn-session-start",
            "sato",
            "126.0.0.9",
            "failure",
            **{"destination.domain": "SRV-ERP.corp.local"},
        ),
        vpn(
            1,
            "vpn-session-start",
            "sato",
            "126.0.0.9",
            "success",
            **{"destination.domain": "SRV-FILE01.corp.local"},
        ),
    ]
    [s] = remote_access.sessions(make_ctx(tmp_path, rows))
    assert s.resources == ["srv-file01"]
