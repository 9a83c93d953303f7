"""The way in: spraying, brute force, abroad, new source, off-hours, two countries,
exposed RDP, and the entry they point at."""

from __future__ import annotations

from pathlib import Path

from intrusion_case import (
    ATTACKER_IP,
    FS,
    TUNNEL,
    VICTIM,
    intrusion,
    logon,
    make_ctx,
    vpn,
)

from ashiato.analysis import entry


def test_entry_spraying_from_abroad(tmp_path: Path) -> None:
    ctx = make_ctx(tmp_path, intrusion())
    ent = entry.analyse(ctx)
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
    steps = entry.next_steps(ctx, ent)
    assert VICTIM in steps[0] and ATTACKER_IP in steps[0]


def test_brute_force_is_not_spraying(tmp_path: Path) -> None:
    rows = [vpn(i, "vpn-login", "yamada", f"5.188.10.{1 + i % 3}", "failure") for i in range(6)]
    rows.append(vpn(7, "vpn-login", "yamada", "5.188.10.2", "success"))
    ent = entry.analyse(make_ctx(tmp_path, rows))
    kinds = [s.kind for s in ent.signals]
    assert "brute_force" in kinds and "password_spray" not in kinds
    assert ent.entry is not None and ent.entry["user"] == "yamada"


def test_failures_without_success_name_no_entry(tmp_path: Path) -> None:
    rows = [
        vpn(i, "vpn-login", u, ATTACKER_IP, "failure")
        for i, u in enumerate(["a", "b", "c", "d", "e", "f"])
    ]
    ent = entry.analyse(make_ctx(tmp_path, rows))
    assert [s.kind for s in ent.signals] == ["password_spray"]
    assert "none succeeded" in ent.signals[0].detail
    assert ent.entry is None


def test_exposed_rdp_from_a_public_address(tmp_path: Path) -> None:
    rows = [
        logon(0, "srv-app", "administrator", "45.137.21.9"),
        logon(5, "srv-app", "tanaka", "10.0.7.7"),
    ]
    ctx = make_ctx(tmp_path, rows)
    ent = entry.analyse(ctx)
    exposed = [s for s in ent.signals if s.kind == "exposed_rdp"]
    assert len(exposed) == 1 and exposed[0].source_ip == "45.137.21.9"
    assert exposed[0].country == "US"
    assert ent.entry is not None and ent.entry["via"] == "rdp"
    assert any("3389" in s for s in entry.next_steps(ctx, ent))


def test_repeated_night_sign_ins_count_once(tmp_path: Path) -> None:
    rows = [vpn(i * 60, "vpn-login", "ito", "126.0.0.5", "success") for i in range(6)]
    ent = entry.analyse(make_ctx(tmp_path, rows))  # Saturday 02:00-07:00 JST
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
    ent = entry.analyse(ctx)
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


def test_new_client_machine(tmp_path: Path) -> None:
    """GlobalProtect logs the client's machine name: a new one for the account is a sign."""
    import json

    def gp(minutes: float, machine: str) -> dict:  # type: ignore[type-arg]
        return vpn(
            minutes,
            "vpn-login",
            "mori",
            "126.0.0.8",
            "success",
            extra=json.dumps({"client.machine_name": machine}),
        )

    rows = [
        gp(-7 * 1440 + 60 * 16, "PC-MORI01"),
        gp(-6 * 1440 + 60 * 16, "pc-mori01"),
        gp(-5 * 1440 + 60 * 16, "DESKTOP-8F3K2QX"),
    ]
    ent = entry.analyse(make_ctx(tmp_path, rows))
    [dev] = [s for s in ent.signals if s.kind == "new_device"]
    assert "'desktop-8f3k2qx'" in dev.detail
