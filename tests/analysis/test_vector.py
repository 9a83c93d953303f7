"""Infection vector per infected host, on small cases written in the test."""

from __future__ import annotations

from collections import defaultdict
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from ashiato.analysis import vector_web
from ashiato.analysis.context import Context
from ashiato.analysis.identity import Identity, Lease, Sighting
from ashiato.analysis.vector import Found, decide, vectors
from ashiato.case import Case, EventWriter
from ashiato.normalize import finalize_batch
from ashiato.schema import NAMES, batch_from_columns

T0 = datetime(2015, 9, 10, 2, 0, tzinfo=UTC)  # first malicious activity (11:00 JST)
HOST, IP, USER = "pc-osk-0112", "10.31.3.25", "tanaka"


def at(minutes: float) -> datetime:
    return T0 + timedelta(minutes=minutes)


def make_ctx(tmp: Path, rows: list[dict[str, Any]], paths: dict[str, str] | None = None) -> Context:
    """A case holding ``rows`` (grouped into one evidence file per ``evidence_id``)."""
    case = Case.create_or_open(tmp / "case", tz="Asia/Tokyo")
    groups: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for r in rows:
        groups[r.get("evidence_id") or r["event.dataset"]].append(r)
    for ev, rs in groups.items():
        for i, r in enumerate(rs, 1):
            r.setdefault("record", i)
        cols = {n: [r.get(n) for r in rs] for n in NAMES if n != "evidence_id"}
        batch = batch_from_columns(cols, len(rs))
        w = EventWriter(case, ev, rs[0]["event.dataset"])
        w.add(finalize_batch(batch, ev, rs[0]["event.dataset"]))
        w.close()
    with case.writer() as con:
        for ev, path in (paths or {}).items():
            con.execute("INSERT INTO evidence (evidence_id, path) VALUES (?, ?)", [ev, path])
    return Context(events=case.ibis().table("events"), tz="Asia/Tokyo")


def ident() -> Identity:
    i = Identity()
    i.leases[IP] = [Lease(IP, HOST, at(-48 * 60), at(48 * 60), "dhcp:1")]
    i.sightings[IP] = [Sighting(IP, HOST, USER, at(-600), at(60), "logon", "sec:1")]
    return i


def sysmon1(minutes: float, parent: str, exe: str, cmd: str) -> dict[str, Any]:
    return {"@timestamp": at(minutes), "event.dataset": "windows.sysmon", "event.code": "1",
            "host.name": HOST, "user.name": USER, "process.parent.executable": parent,
            "process.executable": exe, "process.command_line": cmd,
            "evidence_id": "sysmon"}  # fmt: skip


def proxy(minutes: float, url: str, mime: str, ref: str | None = None,
          dst: str = "203.0.113.50") -> dict[str, Any]:  # fmt: skip
    return {"@timestamp": at(minutes), "event.dataset": "squid.access", "observer.type": "proxy",
            "source.ip": IP, "destination.ip": dst, "url.original": url,
            "http.request.method": "GET", "http.response.status_code": 200,
            "http.response.mime_type": mime, "http.request.referrer": ref,
            "evidence_id": "squid"}  # fmt: skip


AV_LATE = {"@timestamp": at(30 * 60), "event.dataset": "trendmicro.av",
           "observer.type": "antivirus", "host.name": HOST, "host.ip": IP,
           "rule.name": "TROJ_CRYPWALL.YOI",
           "file.path": r"C:\Users\tanaka\AppData\Local\Temp\a.exe",
           "evidence_id": "av"}  # fmt: skip


def mail_rows() -> list[dict[str, Any]]:
    temp = r"C:\Users\tanaka\AppData\Local\Temp"
    return [
        {"@timestamp": at(-40), "event.dataset": "generic.mailgw",
         "email.from.address": "info@billing-center.example",
         "email.to.address": "tanaka@corp.example.jp", "email.subject": "請求書",
         "email.attachments": "請求書_0910.zip", "evidence_id": "gw"},
        # a benign mail and one for a different user with a similar name: not the vector
        {"@timestamp": at(-50), "event.dataset": "generic.mailgw",
         "email.from.address": "eigyo@partner.example.co.jp",
         "email.to.address": "tanaka@corp.example.jp", "email.subject": "会議日程の件",
         "email.attachments": "日程表.xlsx", "evidence_id": "gw"},
        {"@timestamp": at(-45), "event.dataset": "generic.mailgw",
         "email.from.address": "info@billing-center.example",
         "email.to.address": "tanaka.hiroshi@corp.example.jp", "email.subject": "注文書",
         "email.attachments": "注文書.zip", "evidence_id": "gw"},
        sysmon1(-30, r"C:\Program Files\Microsoft Office\Office14\OUTLOOK.EXE",
                r"C:\Windows\explorer.exe", "explorer.exe"),
        sysmon1(-5, r"C:\Windows\explorer.exe", r"C:\Windows\System32\wscript.exe",
                rf'"C:\Windows\System32\WScript.exe" "{temp}\Temp1_請求書_0910.zip\請求書.js"'),
        sysmon1(0, r"C:\Windows\System32\wscript.exe", temp + r"\a.exe", temp + r"\a.exe"),
        sysmon1(-300, r"C:\Windows\explorer.exe", r"C:\Windows\notepad.exe", "notepad.exe"),
        AV_LATE,
    ]  # fmt: skip


def test_mail_attachment(tmp_path: Path) -> None:
    ctx = make_ctx(tmp_path, mail_rows())
    [v] = vectors(ctx, ident(), [(HOST, T0)])
    assert v.host == HOST
    assert v.type == "email_attachment"
    assert v.confidence == 0.9
    assert v.first_event_time == "2015-09-10T01:20:00Z"
    assert [e.summary.split(":")[0] for e in v.chain] == [
        "mail delivered", "opened from mail", "started by the script", "AV detection"]
    assert "請求書" in v.chain[0].summary and "tanaka@corp.example.jp" in v.chain[0].summary
    assert v.chain[0].ref == "gw:1" and v.chain[0].dataset == "generic.mailgw"
    assert [e.time for e in v.chain] == sorted(e.time or "" for e in v.chain)
    assert {"請求書", "請求書_0910.zip", "info@billing-center.example", "請求書.js",
            "a.exe"} <= set(v.artifacts)  # fmt: skip
    assert "注文書" not in v.artifacts  # tanaka.hiroshi is another user
    assert v.late_av_detection is not None
    assert v.late_av_detection.startswith("2015-09-11T08:00:00Z: TROJ_CRYPWALL.YOI")
    assert "30.0 h" in v.late_av_detection
    assert "no proxy / web logs in the case" in v.missing
    assert not any("process creation" in m for m in v.missing)


def test_mail_script_fetching_its_payload_is_still_mail(tmp_path: Path) -> None:
    rows = [*mail_rows(),
            proxy(-4.9, "http://qwert.files-share.test/x1y2z.exe", "application/octet-stream"),
            {"@timestamp": at(-4.85), "event.dataset": "suricata.eve", "event.code": "alert",
             "observer.type": "ids", "source.ip": "203.0.113.50", "destination.ip": IP,
             "rule.name": "ET CURRENT_EVENTS Terse alphanumeric executable downloader high "
                          "likelihood of being hostile", "evidence_id": "eve"}]  # fmt: skip
    ctx = make_ctx(tmp_path, rows)
    [v] = vectors(ctx, ident(), [(HOST, T0)])
    assert (v.type, v.confidence) == ("email_attachment", 0.9)
    assert [e.summary.split(":")[0] for e in v.chain] == [
        "mail delivered", "opened from mail", "payload download [first seen in the case]",
        "IDS/UTM alert", "started by the script", "AV detection"]
    assert {"qwert.files-share.test", "http://qwert.files-share.test/x1y2z.exe"} <= set(v.artifacts)


def test_mail_only_in_the_mail_log_is_medium(tmp_path: Path) -> None:
    rows = [r for r in mail_rows() if r["event.dataset"] == "generic.mailgw"]
    ctx = make_ctx(tmp_path, rows)
    [v] = vectors(ctx, ident(), [(HOST, T0)])
    assert (v.type, v.confidence) == ("email_attachment", 0.6)
    assert any(m.startswith(f"no process creation logs for {HOST}") for m in v.missing)
    assert v.late_av_detection is None


def driveby_rows() -> list[dict[str, Any]]:
    cache = r"C:\Users\tanaka\AppData\Local\Temp\Low"
    return [
        # the news site was visited the day before: known, domestic
        proxy(-26 * 60, "http://news.example.jp/", "text/html", dst="192.0.2.10"),
        proxy(-2, "http://news.example.jp/national/20150908.html", "text/html", dst="192.0.2.10"),
        proxy(-1.9, "http://news.example.jp/img/a.png", "image/png",
              "http://news.example.jp/national/20150908.html", dst="192.0.2.10"),
        proxy(-1.8, "http://redirect.example/gate.php?id=7", "text/html",
              "http://news.example.jp/national/20150908.html"),
        proxy(-1.7, "http://wxy-hosting.example/view/forum-topic-18412?wqe=2874619302", "text/html",
              "http://redirect.example/gate.php?id=7"),
        proxy(-1.6, "http://wxy-hosting.example/kPz3Wf.swf", "application/x-shockwave-flash",
              "http://wxy-hosting.example/view/forum-topic-18412?wqe=2874619302"),
        proxy(-1.5, "http://wxy-hosting.example/load?f=3", "application/octet-stream"),
        # later harmless traffic from the same host
        proxy(20, "http://www.weather.example.jp/", "text/html", dst="192.0.2.11"),
        {"@timestamp": at(-1.6), "event.dataset": "suricata.eve", "event.code": "alert",
         "observer.type": "ids", "source.ip": "203.0.113.50", "destination.ip": IP,
         "rule.name": "ET CURRENT_EVENTS Angler EK Flash Exploit", "evidence_id": "eve"},
        {"@timestamp": at(-1.4), "event.dataset": "windows.security", "event.code": "4688",
         "host.name": HOST, "user.name": USER,
         "process.parent.executable": r"C:\Program Files\Internet Explorer\iexplore.exe",
         "process.executable": cache + r"\a1b2c3.tmp",
         "process.command_line": cache + r"\a1b2c3.tmp",
         "evidence_id": "sec"},
    ]  # fmt: skip


def test_driveby(tmp_path: Path) -> None:
    ctx = make_ctx(tmp_path, driveby_rows())
    [v] = vectors(ctx, ident(), [(HOST, T0)])
    assert (v.type, v.confidence) == ("web_driveby", 0.9)
    roles = [e.summary.split(":")[0] for e in v.chain]
    assert roles == [
        "page visited",
        "redirect to a new/foreign host [first seen in the case]",
        "redirect to a new/foreign host [first seen in the case]",
        "exploit download [first seen in the case]",
        "IDS/UTM alert",
        "payload download [first seen in the case]",
        "started by the browser",
    ]
    assert v.first_event_time == "2015-09-10T01:58:00Z"
    assert "http://redirect.example/gate.php?id=7" in v.chain[1].summary
    assert v.artifacts == [
        "news.example.jp", "redirect.example", "wxy-hosting.example",
        "http://wxy-hosting.example/kPz3Wf.swf", "http://wxy-hosting.example/load?f=3",
        "a1b2c3.tmp"]  # fmt: skip
    assert v.late_av_detection is None


def test_driveby_foreign_by_geoip(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A known (not new) foreign host still counts as a redirect target by its country."""
    rows = [r for r in driveby_rows() if r["event.dataset"] == "squid.access"]
    rows.append(proxy(-30 * 60, "http://redirect.example/", "text/html"))  # seen before
    monkeypatch.setattr(vector_web, "country",
                        lambda ip: {"192.0.2.10": "JP", "203.0.113.50": "RU"}.get(ip or ""))
    ctx = make_ctx(tmp_path, rows)
    [v] = vectors(ctx, ident(), [(HOST, T0)])
    assert (v.type, v.confidence) == ("web_driveby", 0.6)  # proxy chain only
    assert v.chain[1].summary.startswith("redirect to a new/foreign host [RU]")
    assert any(m.startswith("no process creation logs") for m in v.missing)


def test_redirect_only_is_weak(tmp_path: Path) -> None:
    rows = [r for r in driveby_rows()[:5]]
    ctx = make_ctx(tmp_path, rows)
    [v] = vectors(ctx, ident(), [(HOST, T0)])
    assert (v.type, v.confidence) == ("web_driveby", 0.35)
    assert "redirect.example" in v.artifacts


def test_browser_cache_file_in_mft_without_host_name(tmp_path: Path) -> None:
    mft = {"@timestamp": at(-1.4), "event.dataset": "windows.mft", "evidence_id": "mft",
           "file.path": r"C:\Users\tanaka\AppData\Local\Microsoft\Windows\Temporary Internet Files"
                        r"\Content.IE5\Q1W2E3R4\a1b2c3.tmp"}  # fmt: skip
    other = dict(mft, evidence_id="mft2")
    rows = [r for r in driveby_rows() if r["event.dataset"] != "windows.security"]
    ctx = make_ctx(tmp_path, [*rows, mft, other],
                   paths={"mft": "collect/PC-OSK-0112/MFT_output.csv",
                          "mft2": "collect/PC-TKY-0001/MFT_output.csv"})  # fmt: skip
    [v] = vectors(ctx, ident(), [(HOST, T0)])
    assert (v.type, v.confidence) == ("web_driveby", 0.8)
    drops = [e for e in v.chain if e.summary.startswith("dropped in the browser cache")]
    assert [e.ref for e in drops] == ["mft:1"]


def test_nothing_found_lists_what_is_missing(tmp_path: Path) -> None:
    rows = [{"@timestamp": at(-5), "event.dataset": "windows.system", "event.code": "7036",
             "host.name": HOST}]  # fmt: skip
    ctx = make_ctx(tmp_path, rows)
    [v] = vectors(ctx, Identity(), [(HOST, T0)])
    assert (v.type, v.confidence, v.chain) == ("unknown", 0.0, [])
    assert v.first_event_time is None
    text = "\n".join(v.missing)
    for what in ("no process creation logs for pc-osk-0112", "no mail logs", "no AV logs",
                 "no address known for pc-osk-0112 at the time", "no IDS/UTM alerts"):  # fmt: skip
        assert what in text
    assert v.missing[-1] == (
        "nothing in the 24 h before 2015-09-10T02:00:00Z points to a vector (pc-osk-0112's own "
        "logs begin 2015-09-10T01:55:00Z): the infection may be older than that, or than the "
        "collected logs")


def test_remote_desktop_from_outside(tmp_path: Path) -> None:
    rows = [{"@timestamp": at(-20), "event.dataset": "windows.security", "event.code": "4624",
             "winlog.logon.type": 10, "source.ip": "198.51.100.77", "host.name": HOST,
             "user.name": "administrator", "evidence_id": "sec"}]  # fmt: skip
    ctx = make_ctx(tmp_path, rows)
    [v] = vectors(ctx, ident(), [(HOST, T0)])
    assert (v.type, v.confidence) == ("remote_access", 0.6)
    assert v.chain[0].summary.startswith("remote desktop logon from outside")


def test_rdp_from_inside_and_services_point_to_another_host(tmp_path: Path) -> None:
    rdp = {"@timestamp": at(-20), "event.dataset": "windows.security", "event.code": "4624",
           "winlog.logon.type": 10, "host.name": HOST, "user.name": "administrator",
           "evidence_id": "sec"}  # fmt: skip
    rows = [rdp | {"source.ip": "127.0.0.1"}, rdp | {"source.ip": "10.20.3.5"},
            {"@timestamp": at(-10), "event.dataset": "windows.system", "event.code": "7045",
             "host.name": HOST, "process.executable": r"%SystemRoot%\PSEXESVC.exe",
             "evidence_id": "sys"}]  # fmt: skip
    [v] = vectors(make_ctx(tmp_path, rows), ident(), [(HOST, T0)])
    assert (v.type, v.confidence) == ("lateral_movement", 0.5)
    assert [e.ref for e in v.chain] == ["sec:2", "sys:1"]  # not the local (loopback) session


def test_naive_time_and_several_hosts(tmp_path: Path) -> None:
    ctx = make_ctx(tmp_path, mail_rows())
    out = vectors(ctx, ident(), [(HOST, T0.replace(tzinfo=None)), ("pc-tky-0001", T0)])
    assert [(v.host, v.type) for v in out] == [
        (HOST, "email_attachment"), ("pc-tky-0001", "unknown")]


def test_decide_conflicting_signals() -> None:
    f = Found(mail=[{}], mail_exec=[{}])
    assert decide(f) == ("email_attachment", 0.9)
    f.ids = [{}]  # an exploit alert too: mail still wins, with less confidence
    assert decide(f) == ("email_attachment", 0.75)
    g = Found(web_exec=[{}], ids=[{}], mail=[{}])
    assert decide(g) == ("web_driveby", 0.75)
    assert decide(Found()) == ("unknown", 0.0)
