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
    logon,
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


def test_entry_spraying_from_abroad(tmp_path: Path) -> None:
    ctx = make_ctx(tmp_path, intrusion())
    ent = remote_access.analyse(ctx)
    kinds = {(s.kind, s.user) for s in ent.signals}
    assert ("password_spray", VICTIM) in kinds
    assert ("foreign_login", VICTIM) in kinds
    assert ("new_source", VICTIM) in kinds
    assert ("off_hours", VICTIM) in kinds  # Saturday 02:00 JST
    assert ("concurrent_countries", VICTIM) in kinds  # home session still up
    # ordinary weekday sign-ins from home raise nothing
    assert not [s for s in ent.signals if s.user == "tanaka"]
    e = ent.entry
    assert e is not None
    assert (e["user"], e["source_ip"], e["country"], e["via"]) == (VICTIM, ATTACKER_IP, "RU", "vpn")
    assert e["tunnel_ip"] == TUNNEL and FS in e["rdp_to"]
    assert e["evidence"] and e["evidence"][0]["ref"].startswith("fgt-vpn:")
    rdp = [r for r in ent.rdp if r["host"] == FS]
    assert rdp and rdp[0]["vpn"]["public_ip"] == ATTACKER_IP and not rdp[0]["exposed"]
    steps = remote_access.next_steps(ctx, ent)
    assert VICTIM in steps[0] and ATTACKER_IP in steps[0]


def test_brute_force_is_not_spraying(tmp_path: Path) -> None:
    rows = [vpn(i, "vpn-login", "yamada", f"5.188.10.{1 + i % 3}", "failure") for i in range(6)]
    rows.append(vpn(7, "vpn-login", "yamada", "5.188.10.2", "success"))
    ent = remote_access.analyse(make_ctx(tmp_path, rows))
    kinds = [s.kind for s in ent.signals]
    assert "brute_force" in kinds and "password_spray" not in kinds
    assert ent.entry is not None and ent.entry["user"] == "yamada"


def test_failures_without_success_name_no_entry(tmp_path: Path) -> None:
    rows = [
        vpn(i, "vpn-login", u, ATTACKER_IP, "failure")
        for i, u in enumerate(["a", "b", "c", "d", "e", "f"])
    ]
    ent = remote_access.analyse(make_ctx(tmp_path, rows))
    assert [s.kind for s in ent.signals] == ["password_spray"]
    assert "none succeeded" in ent.signals[0].detail
    assert ent.entry is None


def test_exposed_rdp_from_a_public_address(tmp_path: Path) -> None:
    rows = [
        logon(0, "srv-app", "administrator", "45.137.21.9"),
        logon(5, "srv-app", "tanaka", "10.0.7.7"),
    ]
    ctx = make_ctx(tmp_path, rows)
    ent = remote_access.analyse(ctx)
    exposed = [s for s in ent.signals if s.kind == "exposed_rdp"]
    assert len(exposed) == 1 and exposed[0].source_ip == "45.137.21.9"
    assert exposed[0].country == "US"
    assert ent.entry is not None and ent.entry["via"] == "rdp"
    assert any("3389" in s for s in remote_access.next_steps(ctx, ent))


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


def test_repeated_night_sign_ins_count_once(tmp_path: Path) -> None:
    rows = [vpn(i * 60, "vpn-login", "ito", "126.0.0.5", "success") for i in range(6)]
    ent = remote_access.analyse(make_ctx(tmp_path, rows))  # Saturday 02:00-07:00 JST
    assert [(s.kind, s.user) for s in ent.signals] == [("off_hours", "ito")]
    assert ent.entry is None  # one weak kind of sign names no way in


def test_rdp_brute_force_from_the_internet(tmp_path: Path) -> None:
    """4625 failures from a public address, then 4624 type 10: brute force on exposed RDP."""
    from intrusion_case import sec

    rows = [
        sec(
            i,
            "4625",
            "srv-app",
            {"TargetUserName": "administrator"},
            **{
                "user.name": "administrator",
                "source.ip": "45.137.21.9",
                "winlog.logon.type": 3,
                "event.outcome": "failure",
            },
        )
        for i in range(40)
    ]
    # Kerberos pre-authentication failures keep user and address only in EventData
    rows += [
        sec(
            41 + i,
            "4771",
            "dc01",
            {"TargetUserName": f"user{i}", "IpAddress": "::ffff:91.215.85.1"},
        )
        for i in range(6)
    ]
    rows.append(logon(50, "srv-app", "administrator", "45.137.21.9"))
    # failures from inside are no entry
    rows += [
        sec(i, "4625", "srv-app", {}, **{"user.name": "tanaka", "source.ip": "10.0.7.7"})
        for i in range(10)
    ]
    ctx = make_ctx(tmp_path, rows)
    ent = remote_access.analyse(ctx)
    brute = [s for s in ent.signals if s.kind == "brute_force"]
    assert [(s.user, s.source_ip, s.got_in) for s in brute] == [
        ("administrator", "45.137.21.9", True)
    ]
    assert brute[0].detail.startswith("40 failed sign-ins for administrator")
    spray_ = [s for s in ent.signals if s.kind == "password_spray"]
    assert [(s.source_ip, s.got_in) for s in spray_] == [("91.215.85.1", False)]
    e = ent.entry
    assert e is not None and (e["user"], e["via"], e["country"]) == ("administrator", "rdp", "US")
    assert "brute_force" in e["signals"] and "exposed_rdp" in e["signals"]
