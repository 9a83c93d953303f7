"""The account that made an account the intruder then used was in the intruder's hands
(credentials dumped on the first server, then used to make a new domain admin)."""

from __future__ import annotations

from pathlib import Path

from intrusion_case import DC, FS, TUNNEL, at, intrusion, logon, make_ctx, sec

from ashiato.analysis import accounts, entry, identity


def _analyse(tmp: Path, rows: list[dict]) -> dict:  # type: ignore[type-arg]
    ctx = make_ctx(tmp, rows)
    ent = entry.analyse(ctx)
    return accounts.analyse(ctx, identity.build(ctx), ent.entry, [(FS, at(60))])


def _created(minutes: float, actor: str, new: str) -> dict:  # type: ignore[type-arg]
    return sec(
        minutes,
        "4720",
        DC,
        {"SubjectUserName": actor, "SubjectDomainName": "CORP", "TargetUserName": new,
         "SamAccountName": new},
        **{"user.name": actor, "event.action": "user-created"},
    )  # fmt: skip


def test_the_maker_of_an_account_the_intruder_used_is_compromised(tmp_path: Path) -> None:
    rows = [
        *intrusion(),
        _created(40, "adm_kato", "svc_update"),  # after the entry, by a stolen admin
        logon(90, FS, "svc_update", TUNNEL, kind=3),  # then used from the VPN session
        _created(45, "it_admin", "yamamoto"),  # an ordinary hire the same day, never misused
    ]
    acc = _analyse(tmp_path, rows)
    by = {a["account"]: a for a in acc["accounts"]}
    assert by["svc_update"]["by_intruder"] and "created" in by["svc_update"]["roles"]
    assert by["adm_kato"]["by_intruder"] and by["adm_kato"]["roles"] == ["creator"]
    assert "adm_kato" in acc["reset"] and "svc_update" in acc["disable"]
    assert by["yamamoto"]["by_intruder"] is False
    assert "it_admin" not in by and "it_admin" not in acc["reset"]


def test_an_account_made_before_the_entry_blames_nobody(tmp_path: Path) -> None:
    rows = [
        *intrusion(),
        _created(-3000, "adm_kato", "svc_update"),  # made two days before the way in
        logon(90, FS, "svc_update", TUNNEL, kind=3),
    ]
    by = {a["account"]: a for a in _analyse(tmp_path, rows)["accounts"]}
    assert "adm_kato" not in by or not by["adm_kato"]["by_intruder"]
