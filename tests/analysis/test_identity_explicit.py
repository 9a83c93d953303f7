"""A static server address named from both ends of one connection (identity, issue 16):
4648 on the source to an address, the same account's network logon on the target."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from case_rows import make_ctx

from ashiato.analysis import identity

T0 = datetime(2023, 2, 3, 12, 13, 22, tzinfo=UTC)


def _explicit(host: str, target_ip: str, user: str, dt: float) -> dict[str, Any]:
    data = {"SubjectUserName": "ikeda", "TargetUserName": user, "TargetServerName": target_ip,
            "TargetInfo": target_ip, "ProcessName": "C:\\ProgramData\\PsExec64.exe",
            "IpAddress": target_ip, "IpPort": "445"}  # fmt: skip
    return {
        "@timestamp": T0 + timedelta(seconds=dt), "event.dataset": "windows.security",
        "event.code": "4648", "host.name": host, "user.name": "ikeda",
        "destination.ip": target_ip, "destination.domain": target_ip,
        "extra": json.dumps({"winlog": {"event_data": data}}), "evidence_id": f"{host}-sec",
    }  # fmt: skip


def _logon(host: str, user: str, src: str, ws: str, dt: float) -> dict[str, Any]:
    return {
        "@timestamp": T0 + timedelta(seconds=dt), "event.dataset": "windows.security",
        "event.code": "4624", "host.name": host, "user.name": user, "source.ip": src,
        "winlog.logon.type": 3, "extra": json.dumps({"workstation": ws}),
        "evidence_id": f"{host}-sec",
    }  # fmt: skip


def test_psexec_to_an_address_names_the_server_that_logged_the_logon(tmp_path: Path) -> None:
    rows = [
        _explicit("rds01", "10.0.0.20", "svc_update", 0),
        _logon("fs01", "svc_update", "10.0.0.50", "RDS01", 0.25),
        # the same account elsewhere, from another machine: not this connection
        _logon("bkup01", "svc_update", "10.0.0.60", "PC-OSK-0112", 1),
    ]
    ident = identity.build(make_ctx(tmp_path, rows))
    got = ident.at("10.0.0.20", T0 + timedelta(minutes=20))  # the upload, later
    assert got.host == "fs01"
    assert got.basis.startswith("explicit-credential logon from rds01 met on fs01's own log")


def test_two_targets_at_once_or_none_name_nobody(tmp_path: Path) -> None:
    rows = [
        _explicit("rds01", "10.0.0.20", "svc_update", 0),
        _logon("fs01", "svc_update", "10.0.0.50", "RDS01", 0.2),
        _logon("bkup01", "svc_update", "10.0.0.50", "RDS01", 0.3),
        _explicit("rds01", "10.0.0.40", "admin2", 600),  # no logon of admin2 anywhere
        # a logon too late to be this connection
        _logon("web01", "admin2", "10.0.0.50", "RDS01", 600 + 300),
    ]
    ident = identity.build(make_ctx(tmp_path, rows))
    assert ident.at("10.0.0.20", T0).host is None
    assert ident.at("10.0.0.40", T0 + timedelta(seconds=600)).host is None
