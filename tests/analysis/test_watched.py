"""A quiet host is clean only if something would have seen it through the incident."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from case_rows import make_ctx

from ashiato.analysis.identity import Identity, Lease
from ashiato.analysis.watched import watched

T0 = datetime(2015, 9, 10, 0, 0, tzinfo=UTC)
WINDOW = (T0 + timedelta(hours=4), T0 + timedelta(hours=5))


def at(hours: float) -> datetime:
    return T0 + timedelta(hours=hours)




def own(host: str, hours: float) -> dict[str, Any]:
    return {"@timestamp": at(hours), "event.dataset": "windows.security", "event.code": "4624",
            "host.name": host, "evidence_id": f"sec-{host}"}  # fmt: skip


def dhcp(host: str, ip: str, hours: float) -> dict[str, Any]:
    return {"@timestamp": at(hours), "event.dataset": "windows.dhcp", "event.code": "10",
            "host.hostname": host, "host.ip": ip, "evidence_id": "dhcp"}  # fmt: skip


def proxy(ip: str, hours: float) -> dict[str, Any]:
    return {"@timestamp": at(hours), "event.dataset": "squid.access", "observer.type": "proxy",
            "source.ip": ip, "url.original": "http://news.example.jp/",
            "evidence_id": "squid"}  # fmt: skip


def test_clean_needs_a_source_covering_the_window(tmp_path: Path) -> None:
    rows = [own("pc-a", h) for h in range(0, 9)]  # its own log runs through the window
    rows += [own("pc-d", h) for h in range(0, 2)]  # its own log stops hours before
    rows += [dhcp("pc-b", "10.31.3.30", 1), dhcp("pc-c", "10.31.3.31", 1)]
    # the proxy log spans the window; it has seen pc-c's address, never pc-b's
    rows += [proxy("10.31.3.31", 0.5), proxy("10.31.3.99", 3), proxy("10.31.3.99", 8)]
    ctx = make_ctx(tmp_path, rows)
    ident = Identity()
    ident.leases["10.31.3.30"] = [Lease("10.31.3.30", "pc-b", at(1), at(9), "dhcp:1")]
    ident.leases["10.31.3.31"] = [Lease("10.31.3.31", "pc-c", at(1), at(9), "dhcp:2")]
    got = watched(ctx, ident, ["pc-a", "pc-b", "pc-c", "pc-d"], WINDOW)
    assert got["pc-a"] == "its own windows.security log"
    assert got["pc-b"] == ""  # only the DHCP server named it: that watches nothing
    assert got["pc-c"] == "squid.access (sees 10.31.3.31)"
    assert got["pc-d"] == ""
    assert watched(ctx, ident, ["pc-a"], None) == {}  # no incident: nothing to cover
