"""Lateral edges from events built as Windows logs them (domain.md §2): what is a move
and what is routine."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import duckdb
import ibis
import orjson
import pyarrow as pa

from ashiato.analysis import identity, lateral
from ashiato.analysis.context import Context
from ashiato.normalize import finalize_batch
from ashiato.schema import NAMES, batch_from_columns

T0 = datetime(2024, 6, 3, 1, 0, tzinfo=UTC)


def _events(rows: list[dict[str, Any]]) -> Any:
    cols: dict[str, list[Any]] = {}
    for name in NAMES:
        vals = [r.get(name) for r in rows]
        if name == "extra":
            vals = [orjson.dumps(v).decode() if isinstance(v, dict) else v for v in vals]
        cols[name] = vals
    cols["record"] = list(range(1, len(rows) + 1))
    batch = finalize_batch(batch_from_columns(cols, len(rows)), "ev1", "windows.security")
    con = duckdb.connect()
    con.register("_rows", pa.Table.from_batches([batch]))
    con.execute("CREATE TABLE events AS SELECT * FROM _rows")
    return ibis.duckdb.from_connection(con).table("events")


def _logon(second: int, host: str, ip: str, user: str, logon_id: str, ltype: int = 3,
           workstation: str = "") -> dict[str, Any]:  # fmt: skip
    return {
        "@timestamp": T0 + timedelta(seconds=second), "event.dataset": "windows.security",
        "event.code": "4624", "host.hostname": host, "source.ip": ip, "user.name": user,
        "winlog.logon.id": logon_id, "winlog.logon.type": ltype,
        "extra": {"winlog": {"event_data": {"WorkstationName": workstation}}},
    }  # fmt: skip


def _share(second: int, host: str, ip: str, user: str, logon_id: str, share: str, name: str,
           mask: int = 0x1) -> dict[str, Any]:  # fmt: skip
    return {
        "@timestamp": T0 + timedelta(seconds=second), "event.dataset": "windows.security",
        "event.code": "5145", "host.hostname": host, "source.ip": ip, "user.name": user,
        "winlog.logon.id": logon_id, "file.share": share, "file.name": name,
        "file.access_mask": mask,
    }  # fmt: skip


def _edges(rows: list[dict[str, Any]]) -> list[Any]:
    ctx = Context(events=_events(rows), tz="UTC")
    return lateral.analyse(ctx, identity.build(ctx))


def test_workstations_reading_a_file_server_are_no_edges() -> None:
    rows = []
    for n in range(8):
        ip, lid = f"10.1.0.{20 + n}", f"0x{100 + n:x}"
        rows.append(_logon(n, "FS01", ip, f"user{n}", lid, workstation=f"PC{n:02d}"))
        rows.append(_share(n + 1, "FS01", ip, f"user{n}", lid, r"\\*\営業", r"見積\a.xlsx", 0x6))
        rows.append(_share(n + 2, "FS01", ip, f"user{n}", lid, r"\\*\IPC$", "srvsvc"))
    assert _edges(rows) == []


def test_service_control_pipe_in_a_session_is_remote_execution() -> None:
    rows = [
        _logon(0, "SRV-DB", "10.1.0.77", "helpdesk", "0x3e8a", workstation="KIOSK-3"),
        _share(1, "SRV-DB", "10.1.0.77", "helpdesk", "0x3e8a", r"\\*\ADMIN$", "zz.exe", 0x2),
        _share(2, "SRV-DB", "10.1.0.77", "helpdesk", "0x3e8a", r"\\*\IPC$", "svcctl"),
    ]
    edges = {e.technique: e for e in _edges(rows)}
    assert set(edges) == {"admin_share", "service"}  # the bare logon is shown by these
    svc = edges["service"]
    assert (svc.source, svc.source_ip, svc.target) == ("kiosk-3", "10.1.0.77", "srv-db")
    assert svc.account == "helpdesk" and svc.execution
    assert not edges["admin_share"].execution and "system share" in edges["admin_share"].why


def test_rdp_and_first_seen_client_to_client_logons_are_edges() -> None:
    rows = [
        _logon(0, "PC-ACCT-2", "10.1.0.31", "sato", "0x51", ltype=10, workstation="PC-HR-9"),
        _logon(50, "PC-ACCT-7", "10.1.0.31", "sato", "0x52", workstation="PC-HR-9"),
    ]
    edges = {e.technique: e for e in _edges(rows)}
    assert edges["rdp"].target == "pc-acct-2" and edges["rdp"].execution
    assert edges["logon"].target == "pc-acct-7" and "first-seen pair" in edges["logon"].why


def test_an_address_outside_makes_the_account_the_entry_point() -> None:
    rows = [_logon(0, "JUMP01", "198.51.100.23", "vendor", "0x77", ltype=10)]
    (e,) = _edges(rows)
    assert e.source == "198.51.100.23" and "entry point" in e.why


def _busy_file_server(users: int) -> list[dict[str, Any]]:
    """A file server more than lateral.BUSY machines log on to all day."""
    return [
        _logon(n * 60, "FS01", f"10.1.1.{n}", f"user{n}", f"0x{n:x}", workstation=f"PC{n:02d}")
        for n in range(1, users + 1)
    ]


def test_a_busy_servers_logons_are_counted_not_listed_and_never_a_rare_pair() -> None:
    rows = _busy_file_server(lateral.BUSY + 5)
    ctx = Context(events=_events(rows), tz="UTC")
    busy = lateral._busy_targets(lateral._logon_sources(ctx))
    assert busy == {"fs01"}
    assert lateral._logons(ctx, [], busy) == []
    assert _edges(rows) == []


def test_execution_on_a_busy_server_still_finds_its_logon() -> None:
    rows = _busy_file_server(lateral.BUSY + 5)
    # the operator's session among the users': a PsExec service 30 s after the logon
    rows.append(_logon(5000, "FS01", "10.1.0.99", "adm-x", "0xbad", workstation="PC-OPS"))
    rows.append(_service(5030, "FS01", "PSEXESVC", r"%SystemRoot%\PSEXESVC.exe"))
    edges = _edges(rows)
    assert [(e.source, e.target, e.technique, e.account) for e in edges] == [
        ("pc-ops", "fs01", "psexec", "adm-x")
    ]
    # and a user's session named by its LogonId in a task event, hours after the logon
    task = {
        "@timestamp": T0 + timedelta(seconds=9000), "event.dataset": "windows.security",
        "event.code": "4698", "host.hostname": "FS01", "winlog.logon.id": "0x7",
        "extra": {"winlog": {"event_data": {"TaskName": "\\upd"}}},
    }  # fmt: skip
    edges = _edges([*_busy_file_server(lateral.BUSY + 5), task])
    assert [(e.source, e.target, e.technique, e.account) for e in edges] == [
        ("pc07", "fs01", "task", "user7")
    ]


def _ticket(second: int, dc: str, ip: str, user: str, service: str, code: str = "4769",
            status: str = "0x0") -> dict[str, Any]:  # fmt: skip
    return {
        "@timestamp": T0 + timedelta(seconds=second), "event.dataset": "windows.security",
        "event.code": code, "host.hostname": dc, "source.ip": ip, "user.name": user,
        "event.outcome": "success" if status == "0x0" else "failure",
        "extra": {"winlog": {"event_data": {
            "TargetUserName": f"{user}@CORP.EXAMPLE", "ServiceName": service,
            "IpAddress": f"::ffff:{ip}", "Status": status}}},
    }  # fmt: skip


def _service(second: int, host: str, name: str, image: str) -> dict[str, Any]:
    return {
        "@timestamp": T0 + timedelta(seconds=second), "event.dataset": "windows.system",
        "event.code": "7045", "host.hostname": host,
        "extra": {"winlog": {"event_data": {"ServiceName": name, "ImagePath": image}}},
    }  # fmt: skip


def test_a_dc_ticket_names_the_source_when_the_targets_logons_are_gone() -> None:
    """The file server's Security log was cleared: only its System 7045 and the DC's
    Kerberos events remain. The user's ticket for FS01$ just before the PsExec service
    names the client's address, and the client's own ticket (PC-77$) names the client."""
    rows = [
        _ticket(0, "DC01", "10.1.0.50", "PC-77$", "krbtgt", code="4768"),
        _ticket(100, "DC01", "10.1.0.61", "yamada", "FS01$"),  # an hour's routine visit...
        _ticket(110, "DC01", "10.1.0.50", "adm-x", "FS01$"),  # ...and the operator's
        _ticket(111, "DC01", "10.1.0.50", "adm-x", "FS01$", status="0x1b"),
        _service(115, "FS01", "PSEXESVC", r"%SystemRoot%\PSEXESVC.exe"),
        _ticket(4000, "DC01", "10.1.0.50", "adm-x", "FS02$"),  # no execution there
    ]
    edges = _edges(rows)
    assert [(e.source, e.target, e.technique, e.account) for e in edges] == [
        ("pc-77", "fs01", "psexec", "adm-x")
    ]
    assert edges[0].source_ip == "10.1.0.50" and "Kerberos ticket" in edges[0].why


def test_tickets_alone_are_no_edges() -> None:
    rows = [_ticket(n, "DC01", f"10.1.0.{20 + n}", f"user{n}", "FS01$") for n in range(5)]
    rows += [_ticket(9, "DC01", "10.1.0.20", "user0", "PC-HR-3$")]
    assert _edges(rows) == []
