"""Coverage, missing sources, tampering, clock skew and next steps on small cases."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from case_rows import make_ctx

from ashiato.analysis import clock_skew, tampering
from ashiato.analysis.coverage import coverage, next_steps
from ashiato.analysis.identity import Identity, Lease, Sighting

T0 = datetime(2015, 9, 10, 0, 0, tzinfo=UTC)
HOST, IP, USER = "pc-osk-0112", "10.31.3.25", "tanaka"
WINDOW = (T0 + timedelta(hours=10), T0 + timedelta(hours=14))


def at(hours: float) -> datetime:
    return T0 + timedelta(hours=hours)




def ident() -> Identity:
    i = Identity()
    i.leases[IP] = [Lease(IP, HOST, at(-24), at(48), "dhcp:1")]
    i.sightings[IP] = [Sighting(IP, HOST, USER, at(0), at(20), "logon", "sec:1")]
    return i


def win(hours: float, code: str, ds: str = "windows.security", **kw: Any) -> dict[str, Any]:
    provider = {"windows.security": "Microsoft-Windows-Security-Auditing",
                "windows.system": "Microsoft-Windows-Eventlog",
                "windows.sysmon": "Microsoft-Windows-Sysmon",
                "windows.powershell": "Microsoft-Windows-PowerShell"}[ds]  # fmt: skip
    row = {"@timestamp": at(hours), "event.dataset": ds, "event.code": code,
           "event.provider": provider, "host.name": HOST,
           "evidence_id": f"{ds}-{HOST}"}  # fmt: skip
    row.update(kw)
    return row


def squid(hours: float, url: str, **kw: Any) -> dict[str, Any]:
    row = {"@timestamp": at(hours), "event.dataset": "squid.access", "observer.type": "proxy",
           "source.ip": IP, "url.original": url, "evidence_id": "squid"}  # fmt: skip
    row.update(kw)
    return row


FS = {"host.name": "fs01", "evidence_id": "fs01-security"}


def tampering_rows() -> list[dict[str, Any]]:
    rows: list[dict[str, Any]] = []
    # Security: a busy log every 5 minutes from 00:00 to 11:00, records 1..133 with 3 lost
    rec = 0
    for i in range(133):
        rec += 4 if i == 50 else 1  # records 51..53 are gone
        rows.append(win(i / 12, "4624", record=rec, user_name=None))
    rows.append(win(11.05, "1102", **{"user.name": "admin", "user.domain": "CORP",
                                      "event.action": "log-cleared", "record": rec + 1}))
    # the log stays silent 11:05 – 15:00 while the PC keeps browsing every 5 minutes
    rows += [squid(h / 12, f"http://news.example.jp/{h}") for h in range(0, 180)]
    rows.append(win(15, "4624", record=rec + 2))
    system = [win(h, "7036", "windows.system") for h in range(0, 16)]
    system.append(win(12, "104", "windows.system", **{
        "user.name": "admin", "event.action": "log-cleared",
        "extra": json.dumps({"winlog": {"user_data": {"Channel": "Application",
                                                      "SubjectUserName": "admin"}}})}))  # fmt: skip
    rows += system
    rows += [
        # on the file server
        win(11.5, "4719", **FS, **{"user.name": "admin"}),
        win(3, "1100", **FS),  # a normal shutdown long before the window: not reported
        win(11.6, "1100", **FS),
        win(11.7, "4616", **FS, **{"user.name": "LOCAL SERVICE"}),  # time sync: not reported
        win(11.8, "4616", **FS, **{"user.name": "admin"}),
        win(11.2, "1", "windows.sysmon", **{"process.command_line": "wevtutil.exe cl Security ",
                                            "process.executable": r"C:\Windows\wevtutil.exe"}),
        win(11.3, "16", "windows.sysmon"),
    ]  # fmt: skip
    return rows


def test_tampering(tmp_path: Path) -> None:
    ctx = make_ctx(tmp_path, tampering_rows(),
                   {"windows.security-pc-osk-0112": "evtx", "windows.system-pc-osk-0112": "evtx",
                    "windows.sysmon-pc-osk-0112": "evtx", "squid": "squid"})  # fmt: skip
    found = tampering.find(ctx, ident(), WINDOW)
    kinds = [(t.kind, t.host, t.time) for t in found]
    assert kinds == [
        ("records_deleted", HOST, "2015-09-10T04:05:00Z"),
        ("log_cleared", HOST, "2015-09-10T11:03:00Z"),
        ("logging_stopped", HOST, "2015-09-10T11:03:00Z"),
        ("log_clear_command", HOST, "2015-09-10T11:12:00Z"),
        ("sysmon_config_changed", HOST, "2015-09-10T11:18:00Z"),
        ("audit_policy_changed", "fs01", "2015-09-10T11:30:00Z"),
        ("eventlog_service_shutdown", "fs01", "2015-09-10T11:36:00Z"),
        ("clock_changed", "fs01", "2015-09-10T11:48:00Z"),
        ("log_cleared", HOST, "2015-09-10T12:00:00Z"),
    ]
    gap = found[0].evidence
    assert gap[0].summary == ("3 record(s) missing in windows.security of pc-osk-0112 between "
                              "EventRecordID 50 (2015-09-10T04:05:00Z) and 54 "
                              "(2015-09-10T04:10:00Z)")  # fmt: skip
    assert [e.ref for e in gap] == ["windows.security-pc-osk-0112:50",
                                    "windows.security-pc-osk-0112:54"]  # fmt: skip
    assert found[1].evidence[0].summary == "Security log cleared on pc-osk-0112 by CORP\\admin"
    assert found[8].evidence[0].summary == "Application log cleared on pc-osk-0112 by admin"
    silence = found[2].evidence[0]
    assert silence.summary == (
        "windows.security of pc-osk-0112 silent from 2015-09-10T11:03:00Z (right after a log "
        "clear) while its address sent 47 network events until 2015-09-10T14:55:00Z (3.9 h); "
        "the log resumes 2015-09-10T15:00:00Z")  # fmt: skip
    assert silence.ref == "windows.security-pc-osk-0112:137"


def test_short_silence_after_a_clear(tmp_path: Path) -> None:
    """Cleared, then nothing for 75 minutes while the PC browses, then unplugged."""
    rows = [win(h / 60, "4624") for h in range(0, 600, 2)]
    rows.append(win(10.02, "1102", **{"event.action": "log-cleared", "user.name": "tanaka"}))
    rows += [squid(10 + m / 60, "http://news.example.jp/") for m in range(0, 75, 3)]
    rows += [win(14 + h / 60, "4624", **{"host.name": "pc-tky-0001"}) for h in range(0, 60)]
    found = tampering.find(make_ctx(tmp_path, rows), ident(), None)
    assert [t.kind for t in found] == ["log_cleared", "logging_stopped"]
    assert found[1].evidence[0].summary == (
        "windows.security of pc-osk-0112 silent from 2015-09-10T10:01:12Z (right after a log "
        "clear) while its address sent 24 network events until 2015-09-10T11:12:00Z (1.2 h)")
    # 40 minutes of quiet after a clear are normal for a log written every half hour
    fresh = [{k: v for k, v in r.items() if k != "record"} for r in rows]
    sparse = [win(h / 2, "4624") for h in range(0, 21)] + fresh[300:301]
    sparse += [win(10.7, "4624"), *fresh[301:]]
    found = tampering.find(make_ctx(tmp_path / "b", sparse), ident(), None)
    assert [t.kind for t in found] == ["log_cleared"]


def test_record_gaps_only_in_evtx_files(tmp_path: Path) -> None:
    ids = [*range(1, 41), *range(44, 70)]  # 41..43 gone from an otherwise whole log
    rows = [win(i / 60, "4624", record=r) for i, r in enumerate(ids)]
    assert len(tampering.record_gaps(make_ctx(tmp_path / "a", rows))) == 1  # no evidence table
    ctx = make_ctx(tmp_path / "b", rows, {"windows.security-pc-osk-0112": "eventviewer_csv"})
    assert tampering.record_gaps(ctx) == []  # CSV exports number lines, not records
    # evtx_dump JSON lines: record = line, the EventRecordID is in extra
    lines = [win(i / 60, "1", "windows.sysmon", extra=json.dumps({"winlog": {"record_id": r}}))
             for i, r in enumerate([*range(7, 40), *range(62, 90)])]  # fmt: skip
    ctx = make_ctx(tmp_path / "c", lines, {"windows.sysmon-pc-osk-0112": "evtx_jsonl"})
    [gap] = tampering.record_gaps(ctx)
    assert gap.evidence[0].summary.startswith("22 record(s) missing in windows.sysmon")
    assert [e.ref for e in gap.evidence] == ["windows.sysmon-pc-osk-0112:33",
                                             "windows.sysmon-pc-osk-0112:34"]  # fmt: skip
    # a lone missing ID in a small export is what an event-ID filter leaves: not claimed
    lone = [win(i / 60, "4624", record=r) for i, r in enumerate(range(1, 70)) if r != 30]
    ctx = make_ctx(tmp_path / "d", lone, {"windows.security-pc-osk-0112": "evtx"})
    gaps, [export] = tampering.record_scan(ctx)
    assert gaps == [] and (export.records, export.id_range) == (68, 69)


def _channel(name: str) -> str:
    return json.dumps({"winlog": {"channel": name}})


def test_filtered_export_is_not_a_deletion(tmp_path: Path) -> None:
    """A few records over a wide ID range (an event-ID filter): said once, under coverage."""
    rows = [win(i / 60, "4688", record=1000 + 37 * i + i % 5, extra=_channel("Security"))
            for i in range(40)]  # fmt: skip
    ctx = make_ctx(tmp_path, rows, {"windows.security-pc-osk-0112": "evtx"})
    gaps, [export] = tampering.record_scan(ctx)
    assert gaps == []
    assert export.note() == ("Security of pc-osk-0112: filtered export: 40 records over an "
                             "ID range of 1448; ask for the full log")  # fmt: skip
    _, missing, tamper, _, _ = coverage(ctx, ident(), None, [])
    assert not [t for t in tamper if t.kind == "records_deleted"]
    [said] = [m for m in missing if "filtered export" in m.why_it_matters]
    assert said.what == "The full log behind windows.security-pc-osk-0112.log"
    assert said.why_it_matters.startswith("Security of pc-osk-0112: filtered export: 40 records")


def test_record_ids_count_per_channel_and_host(tmp_path: Path) -> None:
    """Two channels (or two hosts) interleaved in one file each keep their own sequence."""
    # both PowerShell channels are one dataset (winevent.dataset_for): extra tells them apart
    ev = {"evidence_id": "merged", "ds": "windows.powershell"}
    rows = []
    for i in range(60):
        rows.append(win(i / 60, "4104", extra=_channel("Microsoft-Windows-PowerShell/Operational"),
                        record=500 + i, **ev))  # fmt: skip
        rows.append(win(i / 60 + 0.001, "400", extra=_channel("Windows PowerShell"),
                        record=90 + i, **ev))  # fmt: skip
        rows.append(win(i / 60 + 0.002, "4104", record=7000 + i,
                        extra=_channel("Microsoft-Windows-PowerShell/Operational"),
                        **ev, **{"host.name": "pc-osk-0113"}))  # fmt: skip
    ctx = make_ctx(tmp_path, rows, {"merged": "evtx"})
    assert tampering.record_scan(ctx) == ([], [])
    # one hole in one of the channels is still seen
    cut = [r for r in rows if r["record"] in (95, 96) and "Windows PowerShell" in r["extra"]]
    rows = [r for r in rows if r not in cut]
    [gap], [] = tampering.record_scan(make_ctx(tmp_path / "b", rows, {"merged": "evtx"}))
    assert "between EventRecordID 94" in gap.evidence[0].summary


def test_no_silence_when_the_pc_is_off(tmp_path: Path) -> None:
    rows = [win(h / 12, "4624") for h in range(0, 100)] + [win(20, "4624")]
    rows += [squid(h / 12, "http://news.example.jp/") for h in range(0, 100)]
    assert tampering.silences(make_ctx(tmp_path, rows), ident(), None, []) == []


def skew_rows() -> list[dict[str, Any]]:
    rows: list[dict[str, Any]] = []
    for i in range(6):
        conn = {"source.ip": IP, "source.port": 50000 + i, "destination.ip": "203.0.113.9",
                "destination.port": 80}  # fmt: skip
        rows.append(win(10 + i / 10, "3", "windows.sysmon", **conn))
        rows.append({"@timestamp": at(10 + i / 10) + timedelta(seconds=120 + i % 2),
                     "event.dataset": "fortinet.fortigate", "observer.name": "FG-OSAKA",
                     "observer.type": "firewall", "evidence_id": "fg", **conn})  # fmt: skip
        rows.append({"@timestamp": at(10 + i / 10) + timedelta(hours=9),
                     "event.dataset": "fortinet.fortigate", "observer.name": "FG-TOKYO",
                     "observer.type": "firewall", "evidence_id": "fg2", **conn})  # fmt: skip
        rows.append({"@timestamp": at(10 + i / 10) + timedelta(seconds=5),
                     "event.dataset": "suricata.eve", "observer.type": "ids",
                     "evidence_id": "eve", **conn})  # fmt: skip
        # the proxy and the IDS saw the same requests; the proxy runs 45 s behind
        url = f"http://cdn.example.net/a{i}.js"
        early = at(12 + i / 10) - timedelta(seconds=40)
        rows.append(squid(12 + i / 10, url) | {"@timestamp": early})
        rows.append({"@timestamp": at(12 + i / 10) + timedelta(seconds=5),
                     "event.dataset": "suricata.eve", "event.code": "http", "source.ip": IP,
                     "url.original": url, "evidence_id": "eve"})  # fmt: skip
    return rows


def test_clock_skew(tmp_path: Path) -> None:
    skews = clock_skew.estimate(make_ctx(tmp_path, skew_rows()))
    got = {s.source: s.offset_seconds for s in skews}
    assert got == {"fortinet.fortigate@FG-TOKYO": 32400.0, "fortinet.fortigate@FG-OSAKA": 120.5,
                   "squid.access": -40.0}  # fmt: skip
    tokyo, osaka = skews[0], skews[1]
    assert "time-zone misread" in tokyo.basis
    assert osaka.basis.startswith("6 connections seen by both fortinet.fortigate@FG-OSAKA and "
                                  "windows.sysmon@pc-osk-0112")  # fmt: skip
    assert "reference: Windows event logs" in osaka.basis
    assert not any(s.applied for s in skews)


def test_clock_skew_needs_repeated_evidence(tmp_path: Path) -> None:
    rows = [r for r in skew_rows() if r["event.dataset"] != "squid.access"][:8]
    assert clock_skew.estimate(make_ctx(tmp_path, rows)) == []  # fewer than 3 shared events


def test_coverage_whole(tmp_path: Path) -> None:
    rows = [
        *tampering_rows(),
        {"@timestamp": at(12), "event.dataset": "suricata.eve", "event.code": "alert",
         "observer.type": "ids", "source.ip": IP, "rule.name": "ET TROJAN CryptoWall Check-in",
         "url.domain": "c2.wxy-hosting.example", "evidence_id": "eve"},
        squid(12.5, "http://abcdefgh.onion.to/order"),
    ]  # fmt: skip
    ctx = make_ctx(tmp_path, rows)
    cov, missing, tamper, skews, steps = coverage(ctx, ident(), WINDOW, [HOST])
    sources = {s["dataset"]: s for s in cov["sources"]}
    assert sources["squid.access"] == {
        "dataset": "squid.access", "events": 181, "first": "2015-09-10T00:00:00Z",
        "last": "2015-09-10T14:55:00Z", "hosts": 0, "evidence_files": 1}  # fmt: skip
    assert sources["windows.security"]["hosts"] == 2
    # a day before the window and half a day after, clipped to the data (00:00 - 15:00)
    assert cov["hours_start"] == "2015-09-10T00:00:00Z"
    assert cov["window"] == ["2015-09-10T10:00:00Z", "2015-09-10T14:00:00Z"]
    assert cov["hours"]["squid.access"] == [12] * 12 + [13, 12, 12, 0]
    assert cov["hours"]["windows.security"][9:] == [12, 12, 6, 0, 0, 0, 1]
    whats = [m.what for m in missing]
    assert whats[:2] == ["File-share auditing (Security 5140/5145) from the file server",
                         "DHCP server logs"]  # fmt: skip
    for what in ("Mail gateway", "file listing",
                 "AV console", "Firewall traffic"):  # fmt: skip
        assert any(what in w for w in whats), what
    assert not any("Proxy" in w for w in whats) and not any("IDS" in w for w in whats)
    assert not any("Process-creation" in w for w in whats)  # Sysmon 1 is there
    share = missing[0]
    assert 'auditpol /set /subcategory:"Detailed File Share" /success:enable' in share.advice
    assert any(t.kind == "log_cleared" for t in tamper)
    assert skews == []
    assert steps[0].startswith(f"Isolate the infected hosts from the network now ({HOST})")
    assert steps[1].startswith("Preserve evidence")
    assert steps[2].startswith(f"Logs were cleared on {HOST} by CORP\\admin, admin")
    assert any(s.startswith("Collect: DHCP server logs") for s in steps)
    assert any("c2.wxy-hosting.example" in s and "abcdefgh.onion.to" in s for s in steps)
    assert any(f"({USER})" in s and s.startswith("Reset the passwords") for s in steps)


def test_missing_detailed_share_and_rolled_over_log(tmp_path: Path) -> None:
    rows = [
        win(12, "5140", **{"host.name": "fs01", "evidence_id": "fs"}),
        win(12.2, "4688", **{"process.executable": r"C:\Windows\System32\cmd.exe"}),
    ]  # fmt: skip
    _, missing, _, _, _ = coverage(make_ctx(tmp_path, rows), ident(), WINDOW, [HOST])
    whats = [m.what for m in missing]
    assert whats[0] == "Detailed file-share auditing (Security 5145) from the file server (fs01)"
    assert f"Command lines in 4688 on {HOST}" in whats
    assert f"windows.security of {HOST} before 2015-09-10T12:12:00Z" in whats
    assert "windows.security of fs01 before 2015-09-10T12:00:00Z" in whats


def test_empty_case(tmp_path: Path) -> None:
    ctx = make_ctx(tmp_path, [])
    cov, missing, tamper, skews, steps = coverage(ctx, Identity(), None, [])
    assert cov == {"sources": [], "hours": {}, "hours_start": None, "window": None}
    assert len(missing) >= 6 and tamper == [] and skews == []
    assert all(s.startswith("Collect: ") for s in steps)


def test_ids_only_web_and_mail_still_ask_for_proxy_and_mail_logs(tmp_path: Path) -> None:
    rows = [
        {"@timestamp": at(1), "event.dataset": "suricata.eve", "event.code": "http",
         "observer.type": "ids", "source.ip": IP, "url.original": "http://news.example.jp/",
         "evidence_id": "eve"},
        {"@timestamp": at(2), "event.dataset": "suricata.eve", "event.code": "smtp",
         "observer.type": "ids", "email.to.address": "tanaka@corp.example.jp",
         "evidence_id": "eve"},
    ]  # fmt: skip
    _, missing, _, _, _ = coverage(make_ctx(tmp_path, rows), ident(), None, [])
    why = {m.what: m.why_it_matters for m in missing}
    assert why["Proxy / web-filter access logs"].startswith("Web requests are seen only by the IDS")
    assert "the IDS saw some SMTP" in why["Mail gateway / mail server logs"]


def test_clock_reference_is_the_median_device_without_windows_logs() -> None:
    E = clock_skew.Edge
    edges = [E("fw@A", "suricata.eve", 500, 2.0, "connections"),
             E("fw@B", "suricata.eve", 500, 2.0, "connections"),
             E("fw@X", "suricata.eve", 500, 202.0, "connections"),
             E("squid.access", "suricata.eve", 500, 0.5, "web requests")]  # fmt: skip
    [x] = clock_skew.solve(edges)
    assert (x.source, x.offset_seconds) == ("fw@X", 200.0)
    assert "reference: the median clock of the connected sources (5 source(s))" in x.basis
    # two sources only: the IDS sensor is the reference
    [p] = clock_skew.solve([E("squid.access", "suricata.eve", 9, -45.0, "web requests")])
    assert (p.source, p.offset_seconds) == ("squid.access", -45.0)


def share_rows(fw: str, skew: timedelta, n: int = 8) -> list[dict[str, Any]]:
    """A branch firewall whose SMB sessions to the file server are its only shared sight:
    no Sysmon, no IDS; DHCP says who held the addresses. The firewall logs each session at
    its end (duration in extra); the file server logs the logon and share accesses."""
    rows: list[dict[str, Any]] = []
    for i in range(n):
        ip, port = f"10.31.3.{20 + i}", 49700 + 37 * i
        start = at(9 + i / 4)
        rows.append({"@timestamp": start - timedelta(minutes=30), "event.dataset": "windows.dhcp",
                     "event.code": "10", "source.ip": ip, "host.name": f"pc-osk-01{i:02d}",
                     "evidence_id": "dhcp"})  # fmt: skip
        conn = {"source.ip": ip, "source.port": port}
        rows.append(win(9 + i / 4, "4624", **FS, **conn, **{"winlog.logon.type": 3}))
        rows.append(win(9 + i / 4 + 0.0001, "5140", **FS, **conn))
        for k in range(5):  # a burst of file accesses in the same session
            rows.append(win(9 + i / 4 + 0.01 * (k + 1), "5145", **FS, **conn))
        length = 300 + 40 * i
        rows.append({"@timestamp": start + timedelta(seconds=length) + skew,
                     "event.dataset": "fortinet.fortigate", "observer.name": fw,
                     "observer.type": "firewall", "evidence_id": fw, **conn,
                     "destination.ip": "10.31.0.10", "destination.port": 445,
                     "extra": json.dumps({"event.duration": length * 1_000_000_000})})  # fmt: skip
    return rows


def test_clock_skew_from_share_audit_alone(tmp_path: Path) -> None:
    rows = share_rows("FG-OSAKA", timedelta(seconds=200))
    rows += share_rows("FG-SAPPORO", timedelta(hours=9, minutes=3))  # read in UTC, and 3 min fast
    ctx = make_ctx(tmp_path, rows)
    skews = {s.source: s for s in clock_skew.estimate(ctx)}
    osaka, sapporo = skews["fortinet.fortigate@FG-OSAKA"], skews["fortinet.fortigate@FG-SAPPORO"]
    assert (osaka.offset_seconds, osaka.pairs, osaka.spread_seconds) == (200.0, 8, 0.0)
    assert osaka.zone_error_hours is None and osaka.skew_seconds == 200.0
    assert osaka.basis.startswith("8 SMB sessions seen by both fortinet.fortigate@FG-OSAKA and "
                                  "windows.security@fs01")  # fmt: skip
    assert (sapporo.offset_seconds, sapporo.zone_error_hours, sapporo.skew_seconds) == (
        32580.0, 9.0, 180.0)  # fmt: skip
    assert "+9 h of it is a time-zone misread" in sapporo.basis
    assert "beyond the zone its clock is +180 s off" in sapporo.basis
    # only the skew is corrected: the zone error is left for a re-ingest with --tz-for
    fixed = clock_skew.apply(ctx.events, list(skews.values()))
    assert osaka.applied and sapporo.applied
    got = fixed.filter(fixed["observer.name"] == "FG-SAPPORO")["@timestamp"].min().execute()
    assert got.to_pydatetime() == at(9) + timedelta(seconds=300, hours=9)
    steps = next_steps(ctx, Identity(), [], [], [], [sapporo, osaka])
    assert steps[0].startswith("fortinet.fortigate@FG-SAPPORO reads +9 h off: it was ingested "
                               "in the wrong time zone")  # fmt: skip
    assert steps[1].startswith("The clock of fortinet.fortigate@FG-SAPPORO is +180 s off: "
                               "ashiato corrected for it")  # fmt: skip
    assert steps[2].startswith("The clock of fortinet.fortigate@FG-OSAKA is +200 s off")


def test_no_share_auditing_advice_without_shares_or_encryption(tmp_path: Path) -> None:
    # one workstation's malware case: no file server, nothing encrypted, so nothing to audit
    rows = [win(12, "4688", **{"process.executable": r"C:\Windows\System32\cmd.exe"})]
    _, missing, _, _, _ = coverage(make_ctx(tmp_path, rows), ident(), None, [HOST])
    assert not any("file-share auditing" in m.what.lower() for m in missing)
    assert not any("listing of the encrypted shares" in m.what for m in missing)
    # the same case once files were encrypted: the share log and the listing are asked for
    _, missing, _, _, _ = coverage(make_ctx(tmp_path / "enc", rows), ident(), WINDOW, [HOST])
    assert any("file-share auditing" in m.what.lower() for m in missing)
    assert any("listing of the encrypted shares" in m.what for m in missing)
