"""``investigate`` fills entry, accounts, exfiltration and servers (issue 16)."""

from __future__ import annotations

import json
from pathlib import Path

import case_rows
from intrusion_case import (
    ATTACKER_IP,
    TUNNEL,
    VICTIM,
    at,
    intrusion,
    make_case,
    normal_use,
    spray,
)

from ashiato.analysis.pipeline import investigate


def test_vpn_logs_without_endpoint_logs(tmp_path: Path) -> None:
    """Only the VPN and the firewall: still the entry account, and what to collect."""
    rows = normal_use() + spray()
    for i, dst in enumerate(["10.0.5.10", "10.0.5.10", "10.0.1.5"]):
        rows.append(
            {
                "@timestamp": at(3 + i),
                "event.dataset": "fortigate.traffic",
                "observer.type": "firewall",
                "source.ip": TUNNEL,
                "destination.ip": dst,
                "destination.port": 3389,
                "evidence_id": "fgt-traffic",
            }
        )
    case = make_case(tmp_path, rows)
    f = investigate(case)
    e = f.entry["entry"]
    assert (e["user"], e["source_ip"], e["country"]) == (VICTIM, ATTACKER_IP, "RU")
    assert VICTIM in f.accounts["reset"]
    assert f.exfiltration["verdict"] in ("cannot_be_ruled_out", "possible")
    collect = [s for s in f.next_steps if s.startswith("Collect endpoint evidence")]
    assert collect and "10.0.5.10" in collect[0] and "10.0.1.5" in collect[0]
    assert TUNNEL in collect[0] and "Security.evtx" in collect[0]
    assert f.next_steps[0].startswith(f"The way in: VPN sign-in of {VICTIM}")
    assert "RU" in f.incident["entry"]


def test_findings_json_carries_the_new_sections(tmp_path: Path) -> None:
    case = make_case(tmp_path, intrusion())
    investigate(case)
    data = json.loads((case.root / "findings.json").read_text("utf-8"))
    assert {"entry", "accounts", "exfiltration", "servers"} <= set(data)
    assert data["entry"]["entry"]["user"] == VICTIM
    assert "svc_backup2" in data["accounts"]["disable"]
    assert data["exfiltration"]["verdict"] == "likely"
    assert data["servers"]["encrypted_on_hypervisor"] == ["esx01"]
    assert data["incident"]["kind"] == "ransomware" and data["incident"]["detected"]
    assert "esx01" in data["incident"]["summary"] and "nas01" in data["incident"]["summary"]
    assert any("krbtgt" in s for s in data["next_steps"])


def test_hands_on_keyboard_hosts_are_marked(tmp_path: Path) -> None:
    case = make_case(tmp_path, intrusion())
    f = investigate(case)
    by = {h.host: h for h in f.hosts}
    assert by["srv-file01"].verdict == "infected"  # the renamed rclone ran there
    assert any(
        r.startswith("A data-transfer tool ran here: rclone (renamed)")
        for r in by["srv-file01"].reasons
    )
    assert by["dc01"].verdict == "suspicious"
    assert any(r.startswith("The intruder's account was used here:") for r in by["dc01"].reasons)
    # one verdict path: the transfer tool and the encrypted VMs are signals like any other,
    # so they rank and date the host like the malware signals do
    assert by["srv-file01"].first_malicious is not None
    assert by["esx01"].verdict == "infected" and by["nas01"].verdict == "infected"
    assert by["bk01"].verdict == "suspicious"
    reached = {r["host"]: r for r in f.accounts["hosts_reached"]}
    assert {"srv-file01", "dc01"} <= set(reached)
    assert reached["srv-file01"]["account"] == VICTIM
    assert not f.incident["summary"].startswith("No host")


def test_no_vpn_log_in_a_compromised_domain_asks_for_it(tmp_path: Path) -> None:
    from intrusion_case import domain

    f = investigate(make_case(tmp_path, domain()))
    assert f.accounts["domain_compromised"]
    assert any(m["what"] == "VPN / remote-access logs" for m in f.coverage["missing"])
    assert any(s.startswith("Collect: VPN / remote-access logs") for s in f.next_steps)
    # with the VPN log in the case, it isn't asked for
    g = investigate(make_case(tmp_path / "b", domain() + spray()))
    assert not any(m["what"] == "VPN / remote-access logs" for m in g.coverage["missing"])


def test_exfiltration_host_gets_its_remote_access_vector(tmp_path: Path) -> None:
    f = investigate(make_case(tmp_path, intrusion()))
    [v] = [v for v in f.vectors if v.host == "srv-file01"]
    assert v.type == "remote_access"
    assert any(f"VPN sign-in of {VICTIM} from {ATTACKER_IP} (RU)" in e.summary for e in v.chain)


def test_findings_do_not_depend_on_the_order_rows_are_stored(tmp_path: Path) -> None:
    """The engine returns rows in whatever order its scan and threads give, which ties
    in time leave open: the findings must not follow it (hosts met in another order)."""
    rows = intrusion()
    for i, r in enumerate(rows):
        r.setdefault("record", i + 1)

    def findings(tmp: Path, rs: list[dict[str, object]]) -> dict[str, object]:
        # case_rows keeps each row's record number (intrusion_case renumbers in time order)
        data = investigate(case_rows.make_case(tmp, [dict(r) for r in rs])).to_dict()
        data.pop("generated", None)
        return data

    assert findings(tmp_path / "a", rows) == findings(tmp_path / "b", rows[::-1])
