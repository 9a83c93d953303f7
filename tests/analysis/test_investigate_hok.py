"""`ashiato investigate` on the operator-driven lab scenarios, checked against their truth."""

from __future__ import annotations

import json
import re
from typing import Any

import pytest

from ashiato import lab
from ashiato.analysis.pipeline import investigate
from ashiato.case import Case
from ashiato.ingest import Options, ingest

CASES = [
    ("hands-on-keyboard", "full", 1, ()),
    ("hands-on-keyboard", "full", 2, ()),
    ("hands-on-keyboard", "default-logging", 1, ()),
    ("hands-on-keyboard", "default-logging", 2, ()),
    ("vpn-intrusion", "full", 1, ()),
    ("vpn-intrusion", "default-logging", 2, ()),
    # VPN, firewall, DC and ESXi logs but no host's own logs: the entry must still be named
    ("vpn-intrusion", "full", 3, ("endpoint",)),
]
# The chain's core per scenario, visible in both variants (parents count for sub-techniques).
CORE = {"hands-on-keyboard": ("T1569.002", "T1562.001", "T1070.001"),
        "vpn-intrusion": ("T1569.002", "T1490", "T1136.002")}


@pytest.fixture(scope="module", params=CASES,
                ids=[f"{s}-{v}-seed{n}" + "".join(f"-no-{m}" for m in miss)
                     for s, v, n, miss in CASES])
def result(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory):  # type: ignore[no-untyped-def]
    scenario, variant, seed, missing = request.param
    tmp = tmp_path_factory.mktemp(f"{scenario}-{variant}-{seed}")
    out = tmp / "lab"
    truth = lab.generate(scenario, out, seed=seed, variant=variant, missing=missing)
    case = Case.create_or_open(tmp / "case", tz="Asia/Tokyo")
    report = ingest(case, [out / "evidence"], Options(tz="Asia/Tokyo"))
    # the hypervisor's logs and its datastore listing too
    unrecognised = [f.display for f in report.files if f.status != "done"]
    with case.reader() as con:
        rows = con.execute("SELECT e.path, r.record FROM rejects r "
                           "JOIN evidence e USING (evidence_id)").fetchall()
    garbled = {(g["file"], g["line"]) for g in truth["garbled_lines"]}
    stray = [(p, r) for p, r in rows if ("evidence/" + p.split("/evidence/", 1)[1], r)
             not in garbled]
    return investigate(case).to_dict(), truth, {"unrecognised": unrecognised, "rejects": stray}


def _strings(obj: Any) -> str:
    return json.dumps(obj, ensure_ascii=False)


def _needs_hosts(truth: dict[str, Any]) -> None:
    if "endpoint" in truth["missing"]:
        pytest.skip("the hosts' own logs were not collected")


def _names(found: dict[str, Any], verdict: str) -> set[str]:
    return {h["host"] for h in found["hosts"] if h["verdict"] == verdict}


def test_every_file_ingests(result) -> None:  # type: ignore[no-untyped-def]
    _, _, problems = result
    # every file recognised, and records rejected only where the lab garbled a line
    assert problems == {"unrecognised": [], "rejects": []}


def test_incident_detected_as_ransomware(result) -> None:  # type: ignore[no-untyped-def]
    found, _, _ = result
    assert found["incident"]["detected"] is True
    assert found["incident"]["kind"] == "ransomware"


def test_encrypted_files_within_one_percent(result) -> None:  # type: ignore[no-untyped-def]
    found, truth, _ = result
    expected = truth["impact"]["encrypted_files"]
    got = found["impact"]["encrypted_files"]
    assert abs(got - expected) <= max(1, expected * 0.01), (got, expected)


def test_cleared_logs_found(result) -> None:  # type: ignore[no-untyped-def]
    found, truth, _ = result
    for t in truth["tampering"]:
        assert any(x["kind"] == t["kind"] and x["host"] == t["host"]
                   for x in found["tampering"]), t


def test_patient_zero_is_the_first_compromised_host(result) -> None:  # type: ignore[no-untyped-def]
    found, truth, _ = result
    assert found["patient_zero"] is not None, found["incident"]
    assert found["patient_zero"]["host"] == truth["patient_zero"]["host"]


def test_compromised_hosts_are_infected(result) -> None:  # type: ignore[no-untyped-def]
    found, truth, _ = result
    _needs_hosts(truth)
    expected = {h["host"] for h in truth["infected_hosts"]}
    assert _names(found, "infected") == expected


def test_techniques_in_incidents(result) -> None:  # type: ignore[no-untyped-def]
    found, truth, _ = result
    _needs_hosts(truth)
    incidents = found.get("incidents") or []
    got = set(re.findall(r"T\d{4}(?:\.\d{3})?", _strings(incidents)))
    core = CORE[truth["scenario"]]
    assert {t["id"] for t in truth["intrusion"]["techniques"]} >= set(core)
    for tid in core:
        assert tid in got or tid.split(".")[0] in got, (tid, sorted(got))


def test_lateral_edge_from_the_entry_host(result) -> None:  # type: ignore[no-untyped-def]
    found, truth, _ = result
    _needs_hosts(truth)
    edges = found.get("lateral_movement") or []  # docs/findings.md
    for edge in truth["intrusion"]["lateral"]:
        assert any(edge["source"] in _strings(e).lower() and edge["target"]
                   in _strings(e).lower() for e in edges), (edge, edges)


def test_entry_account_and_source(result) -> None:  # type: ignore[no-untyped-def]
    found, truth, _ = result
    entry = truth["intrusion"]["entry"]
    text = _strings({k: found.get(k) for k in ("vectors", "accounts", "entry")})
    assert entry["account"].split("\\")[-1] in text
    assert entry["source_ip"] in text
    vec = {v["host"]: v["type"] for v in found["vectors"]}
    assert vec.get(truth["vector"]["host"]) == "remote_access", found["vectors"]


def test_without_host_logs_says_what_to_collect(result) -> None:  # type: ignore[no-untyped-def]
    found, truth, _ = result
    if "endpoint" not in truth["missing"]:
        pytest.skip("the hosts' logs were collected")
    # the server the tunnel address reached over RDP is the first endpoint to collect
    assert truth["patient_zero"]["host"] in _strings(found["next_steps"]).lower()


def test_every_account_the_intruder_used(result) -> None:  # type: ignore[no-untyped-def]
    found, truth, _ = result
    text = _strings(found.get("accounts"))
    for a in truth["intrusion"]["accounts"]:
        assert a["sam"] in text, a


def test_exfiltration_destination_and_bytes(result) -> None:  # type: ignore[no-untyped-def]
    found, truth, _ = result
    ex = truth["intrusion"].get("exfiltration")
    if ex is None:
        pytest.skip("nothing was taken in this scenario")
    text = _strings(found.get("exfiltration"))
    assert "mega" in text.lower() and ex["host"] in text.lower()
    got = re.findall(r'"bytes": (\d+)', text)
    assert got and max(int(b) for b in got) >= ex["bytes"] * 0.99


def test_encrypted_datastores_and_new_domain_admin(result) -> None:  # type: ignore[no-untyped-def]
    found, truth, _ = result
    if truth["scenario"] != "vpn-intrusion":
        pytest.skip("no hypervisor and no new account in this scenario")
    text = _strings(found)
    for ds in truth["intrusion"].get("encrypted_datastores", []):
        assert ds["datastore"] in text and ds["host"] in text
    for acct in truth["intrusion"].get("new_accounts", []):
        assert acct["account"].split("\\")[-1] in _strings(found.get("accounts"))


def test_truth_file_agrees(result) -> None:  # type: ignore[no-untyped-def]
    _, truth, _ = result
    assert truth["patient_zero"]["host"] == truth["intrusion"]["patient_zero_host"]
    assert truth["infected_hosts"][0]["host"] == truth["patient_zero"]["host"]
