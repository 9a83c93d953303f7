"""Cases for the web UI tests: a lab incident, and a lab-like case full of markup.

Both are built once per session; tests that write (notes) work on a copy.
"""

from __future__ import annotations

import hashlib
import shutil
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from ashiato.case import Case, EventWriter
from ashiato.normalize import finalize_batch
from ashiato.schema import batch_from_columns

# what an attacker can put in a file name, a URL, a user agent or a host name
SCRIPT = "<script>alert('xss-script')</script>"
IMG = '"><img src=x onerror=alert("xss-img")>'
SVG = "<svg/onload=alert('xss-svg')>"
PAYLOADS = (SCRIPT, IMG, SVG)


def cached_lab_case(factory: pytest.TempPathFactory) -> Case:
    """The demo's incident (fileserver encryption, seed 7), ingested and investigated once
    per session in the session's base temp folder (tests/report/conftest.py: same rule)."""
    from ashiato import lab
    from ashiato.analysis.pipeline import investigate
    from ashiato.ingest import Options, ingest

    root = factory.getbasetemp() / "ashiato-lab-case"
    done = root / "built"
    if not done.exists():
        shutil.rmtree(root, ignore_errors=True)
        root.mkdir(parents=True)
        lab.generate("fileserver-encryption", root / "lab", seed=7)
        case = Case.create_or_open(root / "case", tz="Asia/Tokyo")
        ingest(case, [root / "lab" / "evidence"], Options(tz="Asia/Tokyo"))
        investigate(case)
        done.write_text("ok", "utf-8")
    return Case.open(root / "case")


def copy_case(case: Case, dest: Path) -> Case:
    shutil.copytree(case.root, dest)
    return Case.open(dest)


@pytest.fixture(scope="session")
def lab_case(tmp_path_factory: pytest.TempPathFactory) -> Case:
    return cached_lab_case(tmp_path_factory)


@pytest.fixture
def lab_copy(lab_case: Case, tmp_path: Path) -> Case:
    return copy_case(lab_case, tmp_path / "case")


# -- the hostile case -------------------------------------------------------------------


def _write(case: Case, con: Any, evidence_id: str, dataset: str, rows: list[dict[str, Any]],
           lines: list[str] | None = None, fmt: str = "test") -> None:
    """Events (and optionally the evidence file they were read from) into the case."""
    names = sorted({k for r in rows for k in r})
    cols = {k: [r.get(k) for r in rows] for k in names}
    cols["record"] = [r.get("record", i + 1) for i, r in enumerate(rows)]
    batch = finalize_batch(batch_from_columns(cols, len(rows)), evidence_id, dataset)
    writer = EventWriter(case, evidence_id, dataset)
    writer.add(batch)
    writer.close()
    sha = path = encoding = None
    if lines is not None:
        file = case.root.parent / "evidence" / f"{evidence_id}.log"
        file.parent.mkdir(parents=True, exist_ok=True)
        file.write_text("\n".join(lines) + "\n", "utf-8")
        sha, path, encoding = hashlib.sha256(file.read_bytes()).hexdigest(), str(file), "utf-8"
    con.execute(
        "INSERT INTO evidence (evidence_id, sha256, path, format, dataset, encoding, status, "
        "rows) VALUES (?, ?, ?, ?, ?, ?, 'done', ?)",
        [evidence_id, sha, path or f"{evidence_id}.log", fmt, dataset, encoding, len(rows)],
    )


def build_xss_case(root: Path) -> Case:
    """An encryption incident whose names, URLs and agents carry markup, then investigated."""
    from ashiato.analysis.pipeline import investigate

    case = Case.create_or_open(root / "case", tz="Asia/Tokyo")
    t0 = datetime(2015, 9, 10, 5, 0, tzinfo=UTC)
    ip = "10.1.1.50"
    with case.writer() as con:
        _write(case, con, "dhcp0000000000001", "windows.dhcp", [
            {"@timestamp": t0 - timedelta(hours=3), "event.code": "10", "event.action": "assign",
             "host.hostname": "PC-XSS.corp.example", "host.ip": ip},
            {"@timestamp": t0 - timedelta(hours=2), "event.code": "10", "event.action": "assign",
             "host.hostname": IMG, "host.ip": "10.1.1.51"},
        ])
        proxy: list[dict[str, Any]] = []
        lines: list[str] = []
        for i, (url, agent) in enumerate([
            (f"http://k6hc98e1pf9bi7ij.onion.to/{SCRIPT}", IMG),
            (f"http://evil.example/gate.php?q={IMG}", SCRIPT),
            (f"http://k6hc98e1pf9bi7ij.onion.to/pay/{SVG}", SVG),
            (f"http://evil.example/{SCRIPT}.exe", IMG),
        ]):
            ts = t0 + timedelta(minutes=2 + i)
            lines.append(f"{ts.timestamp():.3f} 10 {ip} TCP_MISS/200 512 GET {url} - {agent}")
            proxy.append({"@timestamp": ts, "source.ip": ip, "destination.ip": "198.51.100.66",
                          "url.original": url, "http.request.method": "GET",
                          "user_agent.original": agent, "event.action": "tcp_miss",
                          "http.response.status_code": 200, "record": i + 1})
        _write(case, con, "proxy000000000001", "squid.access", proxy, lines, fmt="squid")
        files: list[dict[str, Any]] = []
        for i in range(12):
            ts = t0 + timedelta(minutes=10, seconds=20 * i)
            folder = f"\\\\fs01\\{IMG}\\営業{i % 3}"
            name = f"{SCRIPT}見積_{i}.xlsx.locky" if i % 4 else "HELP_DECRYPT.TXT"
            files.append({"@timestamp": ts, "event.code": "5145",
                          "event.action": "file-share-access",
                          "host.hostname": "FS01", "source.ip": ip, "user.name": "yamada",
                          "file.path": f"{folder}\\{name}", "file.share": f"\\\\*\\{IMG}",
                          "file.owner": f"CORP\\{SVG}", "file.access_mask": 2})
        _write(case, con, "audit000000000001", "windows.security", files)
        flows = [{"@timestamp": t0 + timedelta(minutes=m), "source.ip": ip,
                  "destination.ip": "10.1.1.10", "destination.port": 445,
                  "source.bytes": 5_000_000 * (m + 1), "destination.bytes": 1000,
                  "event.action": "flow"} for m in range(8, 16)]
        _write(case, con, "flows000000000001", "suricata.eve", flows)
        sysmon = [{"@timestamp": t0 + timedelta(minutes=1), "event.code": "1",
                   "event.action": "process-created", "host.hostname": "PC-XSS",
                   "user.name": "yamada",
                   "process.command_line": f"C:\\Windows\\System32\\vssadmin.exe Delete Shadows "
                                           f"/All /Quiet {SCRIPT}"},
                  {"@timestamp": t0 + timedelta(minutes=1, seconds=5), "event.code": "11",
                   "event.action": "file-created", "host.hostname": "PC-XSS",
                   "file.path": f"C:\\Users\\yamada\\Desktop\\{IMG}\\HELP_DECRYPT.TXT"}]
        _write(case, con, "sysmon00000000001", "windows.sysmon", sysmon)
    investigate(case)
    return case


@pytest.fixture(scope="session")
def payloads() -> dict[str, str]:
    return {"script": SCRIPT, "img": IMG, "svg": SVG}


@pytest.fixture(scope="session")
def xss_case(tmp_path_factory: pytest.TempPathFactory) -> Case:
    return build_xss_case(tmp_path_factory.mktemp("xss"))
