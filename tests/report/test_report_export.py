"""Exports: Timesketch timeline, encrypted files, IOCs as CSV and STIX 2.1."""

from __future__ import annotations

import csv
import io
import json
import re
from datetime import datetime
from pathlib import Path

from ashiato.case import Case
from ashiato.findings import load
from ashiato.report.export import (
    TIMELINE_COLUMNS,
    Ioc,
    export,
    iocs,
    main_command,
    stix_bundle,
)
from ashiato.timeline import Filters


def _count(case: Case) -> int:
    con = case.ibis()
    try:
        return int(con.table("events").count().execute())
    finally:
        con.disconnect()


def test_timeline_csv_is_timesketch_ready(lab_case: Case) -> None:
    buf = io.StringIO()
    n = export(lab_case, "timeline", "csv", buf)
    assert n == _count(lab_case)
    rows = list(csv.DictReader(io.StringIO(buf.getvalue())))
    assert list(rows[0])[:3] == ["datetime", "timestamp_desc", "message"]
    assert list(rows[0]) == TIMELINE_COLUMNS
    assert all(r["message"] and r["timestamp_desc"] for r in rows)
    assert all(re.match(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?Z$", r["datetime"]) for r in rows)
    times = [datetime.fromisoformat(r["datetime"].replace("Z", "+00:00")) for r in rows]
    assert times == sorted(times)


def test_timeline_jsonl_filtered(lab_case: Case) -> None:
    pz = load(lab_case.root)["patient_zero"]["host"]
    buf = io.StringIO()
    n = export(lab_case, "timeline", "jsonl", buf, Filters(host=pz))
    lines = [json.loads(x) for x in buf.getvalue().splitlines()]
    assert n == len(lines) > 10
    assert all({"datetime", "timestamp_desc", "message"} <= set(r) for r in lines)
    assert all(r.get("host.name") == pz or r.get("host.ip") == pz for r in lines)
    assert all(isinstance(r["timestamp"], int) for r in lines)


def test_encrypted_list_and_iocs(lab_case: Case, tmp_path: Path) -> None:
    f = load(lab_case.root)
    out, n = main_command(lab_case.root, "encrypted", "csv", tmp_path / "enc.csv")
    assert out is not None and n == f["impact"]["encrypted_files"]
    assert out.read_bytes().startswith(b"\xef\xbb\xbf")  # BOM: Excel reads the Japanese names
    found = {i.value: i for i in iocs(lab_case)}
    for domain in f["impact"]["c2"] + f["impact"]["payment_sites"]:
        assert domain in found and found[domain].first_seen and found[domain].sightings
    assert any(i.type == "ipv4-addr" and i.role == "c2_address" for i in found.values())
    out, n = main_command(lab_case.root, "iocs", "stix", tmp_path / "iocs.json")
    assert out is not None
    bundle = json.loads(out.read_text("utf-8"))
    assert bundle["type"] == "bundle" and bundle["id"].startswith("bundle--")
    indicators = [o for o in bundle["objects"] if o["type"] == "indicator"]
    # internal addresses (findings.iocs) stay out of what is shared
    assert len(indicators) == n == len([i for i in found.values() if not i.internal])
    for o in indicators:
        assert o["spec_version"] == "2.1" and o["pattern_type"] == "stix"
        assert re.match(
            r"^\[((domain-name|ipv4-addr|ipv6-addr|url):value|file:name"
            r"|file:hashes\.(MD5|'SHA-1'|'SHA-256')) = '.*'\]$",
            o["pattern"],
        )
        assert re.match(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$", o["valid_from"])


def test_hostile_values_stay_inert_in_exports() -> None:
    bad = Ioc("url", "http://x.example/'] OR [file:name = 'a", "payload_url")
    bundle = stix_bundle([bad], now="2015-09-10T00:00:00Z")
    pattern = bundle["objects"][1]["pattern"]
    assert pattern == "[url:value = 'http://x.example/\\'] OR [file:name = \\'a']"
    ids = {o["id"] for o in stix_bundle([bad])["objects"]}
    assert bundle["objects"][1]["id"] in ids  # same indicator, same id
    buf = io.StringIO()
    from ashiato.exports import write_csv
    from ashiato.report.export import IOC_COLUMNS, ioc_row

    write_csv(buf, IOC_COLUMNS, [ioc_row(Ioc("domain-name", "=cmd|' /C calc'!A0", "c2"))])
    assert "'=cmd" in buf.getvalue()
