"""Accounts the intruder used: from the entry account through what it did in the domain."""

from __future__ import annotations

from pathlib import Path

import pytest
from intrusion_case import FS, VICTIM, at, domain, intrusion, make_ctx, sec

from ashiato.analysis import accounts, entry, identity


def _analyse(tmp: Path, rows: list[dict]) -> dict:  # type: ignore[type-arg]
    ctx = make_ctx(tmp, rows)
    ent = entry.analyse(ctx)
    return accounts.analyse(ctx, identity.build(ctx), ent.entry, [(FS, at(60))])


def test_intruder_accounts_from_the_vpn_entry(tmp_path: Path) -> None:
    acc = _analyse(tmp_path, intrusion())
    by = {a["account"]: a for a in acc["accounts"]}
    assert by[VICTIM]["by_intruder"] and "entry" in by[VICTIM]["roles"]
    assert "kerberoasting" in by[VICTIM]["roles"]
    assert {"logon_on_compromised_host", "logon_from_entry"} & set(by[VICTIM]["roles"])
    assert {FS, "dc01"} <= set(by[VICTIM]["hosts"])
    assert by[VICTIM]["evidence"][0]["ref"].startswith("fgt-vpn:")  # the entry first
    new = by["svc_backup2"]
    assert {"created", "privileged_group", "dcsync", "gpo_changed"} <= set(new["roles"])
    assert new["by_intruder"]
    assert len({e["ref"] for e in new["evidence"]}) == len(new["evidence"])
    assert "password_reset" in by["administrator"]["roles"]
    assert "credentials_exposed" in by["sql_svc"]["roles"]  # roasted service account
    assert "credentials_exposed" in by["legacy_app"]["roles"]  # AS-REP roasted
    # an ordinary hire by IT is listed, not blamed; a lone RC4 ticket is no roasting
    assert by["newhire"]["by_intruder"] is False
    assert "print_svc" not in by and "printer_user" not in by
    assert acc["disable"] == ["svc_backup2"]
    assert VICTIM in acc["reset"] and "newhire" not in acc["reset"]
    assert acc["domain_compromised"] and acc["krbtgt_reset"]
    steps = accounts.next_steps(acc)
    assert any("svc_backup2" in s and "Disable" in s for s in steps)
    assert any("krbtgt" in s and "twice" in s for s in steps)


def test_no_entry_no_blame(tmp_path: Path) -> None:
    """Without an entry or an attack, new accounts are listed for review only."""
    rows = [r for r in domain() if r["event.code"] in ("4720", "4728")]
    acc = _analyse(tmp_path, rows)
    assert acc["accounts"] and not any(a["by_intruder"] for a in acc["accounts"])
    assert not acc["domain_compromised"] and not acc["disable"]
    assert accounts.next_steps(acc) == []


def test_dc_replication_by_machine_account_is_normal(tmp_path: Path) -> None:
    props = "%%7688 {1131f6ad-9c07-11d1-f79f-00c04fc2dcd2}"
    rows = [
        sec(0, "4662", "dc01", {"SubjectUserName": "DC02$", "Properties": props}),
        sec(1, "4662", "dc01", {"SubjectUserName": "mallory", "Properties": props}),
    ]
    acts = accounts.actions(make_ctx(tmp_path, rows))
    assert [(a.kind, a.actor) for a in acts] == [("dcsync", "mallory")]


@pytest.mark.corpus
def test_real_dcsync_group_and_user_events(shared: Path, tmp_path: Path) -> None:
    from ashiato.analysis.context import Context
    from ashiato.case import Case
    from ashiato.ingest import Options, ingest

    s = shared / "evtx-attack-samples"
    files = [
        s / "Credential Access" / "CA_DCSync_4662.evtx",
        s / "Persistence" / "Network_Service_Guest_added_to_admins_4732.evtx",
        s / "Defense Evasion" / "DE_Fake_ComputerAccount_4720.evtx",
    ]
    case = Case.create_or_open(tmp_path / "case", tz="UTC")
    ingest(case, files, Options())
    acts = accounts.actions(Context(events=case.ibis().table("events"), tz="UTC"))
    kinds = {(a.kind, a.actor) for a in acts}
    assert ("dcsync", "administrator") in kinds
    groups = [a for a in acts if a.kind == "privileged_group"]
    assert groups and all("Administrators" in a.detail for a in groups)
    assert {a.target for a in groups} >= {"S-1-5-20"}  # NETWORK SERVICE by SID
    assert [a for a in acts if a.kind == "created"]


def test_scheduled_task_pushed_to_many_hosts(tmp_path: Path) -> None:
    """The same task created on four hosts within minutes: a central push (GPO)."""
    rows = [
        sec(
            i * 3,
            "4698",
            f"pc-{i:02}",
            {"TaskName": "\\Microsoft\\Update\\svcupd", "SubjectUserName": "PC$"},
        )
        for i in range(4)
    ]
    rows.append(sec(0, "4698", "pc-09", {"TaskName": "\\Adobe Acrobat Update Task"}))
    acts = accounts.actions(make_ctx(tmp_path, rows))
    [push] = [a for a in acts if a.kind == "gpo_scheduled_task"]
    assert "created on 4 hosts within an hour" in push.detail and "svcupd" in push.detail
    ctx = make_ctx(tmp_path / "b", rows)
    acc = accounts.analyse(ctx, identity.build(ctx), None, [])
    assert acc["domain_compromised"] and "4 hosts" in acc["why_domain_compromised"][0]


def test_one_hop_on_from_the_first_server(tmp_path: Path) -> None:
    """From srv-file01 (reached over the VPN) the intruder logs on to the backup server."""
    from intrusion_case import FS_IP, logon

    own = {
        "@timestamp": at(1),
        "event.dataset": "windows.sysmon",
        "event.code": "3",
        "host.name": FS,
        "source.ip": FS_IP,
        "destination.ip": "10.0.1.5",
        "evidence_id": "sysmon-fs",
    }  # the server's own address (Sysmon 3)
    before = logon(-600, "bk01", "backup_op", FS_IP, kind=3)  # routine, before the entry
    after = logon(70, "bk01", "administrator", FS_IP, kind=3)
    acc = _analyse(tmp_path, [*intrusion(), own, before, after])
    by = {a["account"]: a for a in acc["accounts"]}
    assert "lateral_movement" in by["administrator"]["roles"]
    assert "backup_op" not in by
    assert "bk01" in {r["host"] for r in acc["hosts_reached"]}


@pytest.mark.corpus
def test_real_replication_rights_granted(shared: Path, tmp_path: Path) -> None:
    """PrivExchange (EXCHANGE$ relayed) and PowerView Add-DomainObjectAcl: 5136 on the
    domain's nTSecurityDescriptor; the grantees new in the changed ACL are named."""
    from ashiato.analysis.context import Context
    from ashiato.case import Case
    from ashiato.ingest import Options, ingest

    s = shared / "evtx-attack-samples"
    files = [
        s / "Privilege Escalation" / "privexchange_dirkjan.evtx",
        s / "Persistence" / "DACL_DCSync_Right_Powerview_ Add-DomainObjectAcl.evtx",
        s / "Credential Access" / "ACL_ForcePwd_SPNAdd_User_Computer_Accounts.evtx",
    ]
    case = Case.create_or_open(tmp_path / "case", tz="UTC")
    ingest(case, files, Options())
    acts = accounts.actions(Context(events=case.ibis().table("events"), tz="UTC"))
    grants = {(a.actor, a.target) for a in acts if a.kind == "dcsync_rights"}
    assert ("exchange$", "S-1-5-21-2895268558-4179327395-2773671012-1151") in grants
    assert {actor for actor, _ in grants} == {"exchange$", "bob"}
    # the built-in holders (domain controllers DD, administrators BA, RODCs -498) are not new
    assert not {t for _, t in grants} & {"DD", "BA"}
    assert not any(t.endswith("-498") for _, t in grants)
    # 22 saves of two GPOs' versionNumber: two actions, counted
    gpo = [a for a in acts if a.kind == "gpo_changed"]
    assert len(gpo) == 2 and all("(×" in a.detail for a in gpo)


def test_replication_grant_synthetic(tmp_path: Path) -> None:
    old = "O:BAG:BAD:AI(OA;;CR;1131f6aa-9c07-11d1-f79f-00c04fc2dcd2;;DD)"
    new = old + "(OA;;CR;1131f6ad-9c07-11d1-f79f-00c04fc2dcd2;;S-1-5-21-1-2-3-1337)"
    base = {
        "SubjectUserName": VICTIM,
        "ObjectClass": "domainDNS",
        "OpCorrelationID": "{c1}",
        "AttributeLDAPDisplayName": "nTSecurityDescriptor",
        "ObjectDN": "DC=corp,DC=local",
    }
    rows = [
        sec(0, "5136", "dc01", {**base, "OperationType": "%%14675", "AttributeValue": old}),
        sec(0, "5136", "dc01", {**base, "OperationType": "%%14674", "AttributeValue": new}),
    ]
    acc = _analyse(tmp_path, rows)
    by = {a["account"]: a for a in acc["accounts"]}
    assert "dcsync_rights" in by["S-1-5-21-1-2-3-1337"]["roles"]
    assert acc["domain_compromised"] and acc["krbtgt_reset"]


@pytest.mark.corpus
def test_a_dcsync_alone_is_a_detected_intrusion(shared: Path, tmp_path: Path) -> None:
    # the DC only answered the replication request: a sign on it, not a verdict; but the
    # domain is compromised, so the incident is found and the summary says so
    from ashiato.analysis.pipeline import investigate
    from ashiato.case import Case
    from ashiato.ingest import Options, ingest

    case = Case.create_or_open(tmp_path / "case", tz="UTC")
    ingest(case, [shared / "evtx-attack-samples/Credential Access/CA_DCSync_4662.evtx"],
           Options(tz="UTC"))  # fmt: skip
    f = investigate(case).to_dict()
    assert {h["host"]: h["verdict"] for h in f["hosts"]}["dc1"] == "suspicious"
    assert f["accounts"]["domain_compromised"]
    assert f["incident"]["detected"] and f["incident"]["kind"] == "intrusion"
    summary = f["incident"]["summary"]
    assert summary.endswith("The domain is compromised: see the accounts to reset.")
    assert [m["msg"] for m in f["incident"]["summary_msg"]["msgs"]] == [
        "incident.suspicious_only", "incident.domain_compromised"]


def test_scheduled_task_written_under_sysvol(tmp_path: Path) -> None:
    """ScheduledTasks.xml under a policy's Preferences, seen by the DC's share audit (5145)
    and by a file listing: each is a task pushed by Group Policy; other SYSVOL files and
    the file server's ordinary share accesses are not."""
    policy = "\\\\?\\C:\\Windows\\SYSVOL\\domain\\Policies\\{31B2F340-016D-11D2-945F-00C04FB984F9}"
    task = policy + "\\Machine\\Preferences\\ScheduledTasks\\ScheduledTasks.xml"
    rows = [
        sec(1, "5145", "dc01", {"ShareName": "\\\\*\\SYSVOL", "SubjectUserName": "adm-x"},
            **{"file.path": task, "record": 1}),
        sec(2, "5145", "dc01", {"ShareName": "\\\\*\\SYSVOL"},
            **{"file.path": policy + "\\GPT.INI", "record": 2}),
        sec(3, "5145", "fs01", {"ShareName": "\\\\*\\DATA"},
            **{"file.path": "D:\\data\\ScheduledTasks\\plan.xlsx", "record": 3}),
        {"@timestamp": at(4), "event.dataset": "file.listing", "host.name": "dc02",
         "file.path": task.replace("MACHINE", "machine").lower(), "evidence_id": "mft-dc02",
         "record": 9},
    ]  # fmt: skip
    acts = accounts.actions(make_ctx(tmp_path, rows))
    pushed = sorted((a.host, a.row["file.path"]) for a in acts if a.kind == "gpo_scheduled_task")
    assert pushed == [("dc01", task), ("dc02", task.lower())]
