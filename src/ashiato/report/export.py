"""Exports for other tools: the timeline for Timesketch, the encrypted files, the IOCs.

- ``timeline`` (csv, jsonl): every event with Timesketch's required ``datetime`` (ISO
  8601), ``timestamp_desc`` and ``message`` first, ``timestamp`` (microseconds) and then
  the ECS fields and the ``ref``; imported by Timesketch as it is. Streams, so a case of
  millions of events is written with flat memory.
- ``encrypted`` (csv, jsonl): the restore list (CASE/encrypted_files.csv) again.
- ``iocs`` (csv, jsonl, stix): C2 domains, payment sites, public-IP lookups, the public
  addresses those names were reached at and payload URLs, from findings.json and the
  events, then the URLs, domains, addresses, hashes and file names of ``findings.iocs``
  (analysis/iocs.py); ``stix`` is a STIX 2.1 bundle of indicators (internal addresses
  left out).

CSV cells are written through exports.safe_cell (formula prefixes neutralised).
"""

from __future__ import annotations

import csv
import ipaddress
import uuid
from collections.abc import Iterator
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import IO, Any
from urllib.parse import urlsplit

import orjson

from ashiato.case import Case
from ashiato.errors import CaseError, QueryError
from ashiato.exports import iso, write_csv, write_jsonl
from ashiato.schema import FIELDS
from ashiato.timeline import Filters, query

WHAT = ("timeline", "encrypted", "iocs")
FORMATS: dict[str, tuple[str, ...]] = {
    "timeline": ("csv", "jsonl"),
    "encrypted": ("csv", "jsonl"),
    "iocs": ("csv", "jsonl", "stix"),
}
MEDIA = {"csv": "text/csv", "jsonl": "application/x-ndjson", "stix": "application/json"}
SUFFIX = {"csv": "csv", "jsonl": "jsonl", "stix": "stix.json"}

TIMESKETCH_FIRST = ["datetime", "timestamp_desc", "message", "timestamp"]
ECS_COLUMNS = [f.name for f in FIELDS if f.name not in ("@timestamp", "message")]
TIMELINE_COLUMNS = TIMESKETCH_FIRST + ECS_COLUMNS + ["ref"]
ENCRYPTED_COLUMNS = ["path", "share", "size", "last_write_utc", "owner", "host", "ref"]
IOC_COLUMNS = [
    "type", "value", "role", "first_seen", "last_seen", "sightings", "related", "ref",
    "defanged", "internal",
]  # fmt: skip

_TIME_MEANING = {
    "file.listing": "Last Written",
    "windows.mft": "Created",
    "ashiato.note": "Analyst Note",
}
# a fixed namespace so the same indicator gets the same STIX id in every export
_NAMESPACE = uuid.UUID("0b7f5a52-2f4e-4d0e-9c61-5c1a8a7e3d11")


def check(what: str, fmt: str) -> None:
    if what not in FORMATS:
        raise QueryError(f"--what must be one of {', '.join(WHAT)}, not {what!r}")
    if fmt not in FORMATS[what]:
        raise QueryError(f"{what} exports as {', '.join(FORMATS[what])}, not {fmt!r}")


def export(case: Case, what: str, fmt: str, out: IO[str], filters: Filters | None = None) -> int:
    """Write one export to ``out``; returns the number of rows (indicators for stix)."""
    check(what, fmt)
    if what == "timeline":
        rows = timeline_rows(case, filters or Filters())
        if fmt == "csv":
            return write_csv(out, TIMELINE_COLUMNS, rows)
        return write_jsonl(out, ({k: v for k, v in r.items() if v is not None} for r in rows))
    if what == "encrypted":
        enc = encrypted_rows(case)
        if fmt == "csv":
            return write_csv(out, ENCRYPTED_COLUMNS, enc)
        return write_jsonl(out, enc)
    found = iocs(case)
    if fmt == "stix":
        bundle = stix_bundle(found)
        out.write(orjson.dumps(bundle, option=orjson.OPT_INDENT_2).decode() + "\n")
        return len(bundle["objects"]) - 1  # the identity is not an indicator
    records = [ioc_row(i) for i in found]
    if fmt == "csv":
        return write_csv(out, IOC_COLUMNS, records)
    return write_jsonl(out, records)


# -- timeline ------------------------------------------------------------------------------


def timeline_rows(case: Case, filters: Filters) -> Iterator[dict[str, Any]]:
    expr = query(case, filters)
    try:
        for batch in expr.to_pyarrow_batches(chunk_size=65_536):
            for r in batch.to_pylist():
                yield timesketch(r)
    finally:
        expr._find_backend().disconnect()


def timesketch(r: dict[str, Any]) -> dict[str, Any]:
    """One event as a Timesketch row (required fields first, then the ECS fields)."""
    from ashiato.analysis.context import summary

    ts = r.get("@timestamp")
    dataset = str(r.get("event.dataset") or "")
    row: dict[str, Any] = {
        "datetime": iso(ts) if isinstance(ts, datetime) else ts,
        "timestamp_desc": _TIME_MEANING.get(dataset, "Event Recorded"),
        "message": r.get("message") or summary(r) or dataset,
        "timestamp": int(ts.timestamp() * 1_000_000) if isinstance(ts, datetime) else None,
    }
    for col in ECS_COLUMNS:
        value = r.get(col)
        row[col] = iso(value) if isinstance(value, datetime) else value
    row["ref"] = f"{r.get('evidence_id')}:{r.get('record')}"
    return row


def _findings(case: Case) -> dict[str, Any]:
    # not at start-up: the CLI imports this module to register `export`, and findings
    # brings babel (~20 ms of every command, ingest included)
    from ashiato.findings import load

    try:
        return load(case.root)
    except FileNotFoundError as exc:
        raise CaseError(
            f"{case.root}: no findings.json yet; run `ashiato investigate {case.root}` first"
        ) from exc


# -- encrypted files -------------------------------------------------------------------------


def encrypted_rows(case: Case) -> list[dict[str, Any]]:
    findings = _findings(case)
    name = (findings.get("impact") or {}).get("encrypted_files_csv") or ""
    path = case.root / Path(str(name)).name
    if not name or not path.is_file():
        return []
    with path.open("r", encoding="utf-8-sig", newline="") as fh:
        return [{c: row.get(c) or None for c in ENCRYPTED_COLUMNS} for row in csv.DictReader(fh)]


# -- indicators ------------------------------------------------------------------------------


@dataclass
class Ioc:
    type: str  # domain-name | ipv4-addr | ipv6-addr | url
    value: str
    role: str  # c2 | payment_site | ip_lookup | c2_address | payload_url | payload_host
    first_seen: str | None = None
    last_seen: str | None = None
    sightings: int = 0
    related: str | None = None
    ref: str | None = None
    defanged: str | None = None
    internal: bool = False


def _kind(value: str) -> str:
    try:
        return "ipv6-addr" if ipaddress.ip_address(value).version == 6 else "ipv4-addr"
    except ValueError:
        return "url" if "://" in value else "domain-name"


_ADDRESS_ROLE = {
    "c2": "c2_address",
    "payment_site": "payment_address",
    "payload_host": "payload_address",
}


def iocs(case: Case) -> list[Ioc]:
    """The indicators in findings.json, with when and how often the events saw them."""
    from ashiato.analysis.indicators import is_internal

    f = _findings(case)
    imp = f.get("impact") or {}
    found: dict[str, Ioc] = {}

    def add(value: Any, role: str, related: str | None = None) -> None:
        text = str(value or "").strip()
        if text and text not in found:
            found[text] = Ioc(_kind(text), text, role, related=related)

    for v in imp.get("c2") or []:
        add(v, "c2")
    for v in imp.get("payment_sites") or []:
        add(v, "payment_site")
    for v in imp.get("ip_lookups") or []:
        add(v, "ip_lookup")
    for vec in f.get("vectors") or []:
        for a in vec.get("artifacts") or []:
            if str(a).lower().startswith(("http://", "https://")):
                add(a, "payload_url")
                host = urlsplit(str(a)).hostname
                if host:
                    add(host, "payload_host", related=str(a))
    names = [i.value for i in found.values() if i.type == "domain-name"]
    addrs = [i.value for i in found.values() if i.type in ("ipv4-addr", "ipv6-addr")]
    urls = [i.value for i in found.values() if i.type == "url"]
    con = case.ibis()
    try:
        t = con.table("events")
        seen: list[tuple[str, dict[str, Any]]] = []
        for col, values in (
            ("url.domain", names),
            ("destination.domain", names),
            ("dns.question.name", names),
            ("destination.ip", addrs),
            ("url.original", urls),
        ):
            if not values:
                continue
            hit = t.filter(t[col].isin(values))
            agg = hit.group_by(hit[col].name("_v")).aggregate(
                first=hit["@timestamp"].min(),
                last=hit["@timestamp"].max(),
                n=hit.count(),
                eid=hit["evidence_id"].min(),
                rec=hit["record"].min(),
            )
            seen += [(str(r["_v"]), r) for r in agg.to_pyarrow().to_pylist()]
        # the public addresses the C2 and payment names were reached at
        ips: list[dict[str, Any]] = []
        if names:
            web = t.filter(
                (t["url.domain"].isin(names) | t["destination.domain"].isin(names))
                & t["destination.ip"].notnull()
            )
            dom = web["url.domain"].fill_null(web["destination.domain"])
            ips = (
                web.group_by([web["destination.ip"].name("ip"), dom.name("dom")])
                .aggregate(
                    first=web["@timestamp"].min(),
                    last=web["@timestamp"].max(),
                    n=web.count(),
                    eid=web["evidence_id"].min(),
                    rec=web["record"].min(),
                )
                .to_pyarrow()
                .to_pylist()
            )
    finally:
        con.disconnect()
    for value, r in seen:
        _merge(found[value], r)
    _add_found(found, f.get("iocs") or [])
    for r in sorted(ips, key=lambda r: (str(r["ip"]), str(r["dom"]))):
        ip = str(r["ip"])
        if is_internal(ip) or _kind(ip) == "domain-name":
            continue
        source = found.get(str(r["dom"]))
        role = _ADDRESS_ROLE.get(source.role if source else "c2")
        if role is None:
            continue  # public-IP lookup services are not the attacker's
        if ip not in found:
            found[ip] = Ioc(_kind(ip), ip, role, related=str(r["dom"]))
        _merge(found[ip], r)
    return list(found.values())


# findings.iocs types -> the STIX-flavoured types of this export
_FINDING_TYPES = {
    "url": "url", "domain": "domain-name", "ipv4": "ipv4-addr", "ipv6": "ipv6-addr",
    "md5": "md5", "sha1": "sha1", "sha256": "sha256", "filename": "file-name",
}  # fmt: skip


def _add_found(found: dict[str, Ioc], items: list[dict[str, Any]]) -> None:
    """The indicators analysis/iocs.py pulled from commands, scripts and detections."""
    for item in items:
        kind = _FINDING_TYPES.get(str(item.get("type")))
        value = str(item.get("value") or "").strip()
        if not kind or not value or value in found:
            continue
        refs = [e.get("ref") for e in item.get("evidence") or [] if e.get("ref")]
        found[value] = Ioc(
            kind, value, (item.get("sources") or ["observed"])[0],
            first_seen=item.get("first_seen"), last_seen=item.get("last_seen"),
            sightings=int(item.get("count") or 0), related=", ".join(item.get("hosts") or [])
            or None, ref=refs[0] if refs else None, defanged=item.get("defanged"),
            internal=bool(item.get("internal")),
        )  # fmt: skip


def _merge(ioc: Ioc, r: dict[str, Any]) -> None:
    first, last = iso(r["first"]) or None, iso(r["last"]) or None
    if first and (ioc.first_seen is None or first < ioc.first_seen):
        ioc.first_seen = first
        ioc.ref = f"{r['eid']}:{r['rec']}"
    if last and (ioc.last_seen is None or last > ioc.last_seen):
        ioc.last_seen = last
    ioc.sightings += int(r["n"] or 0)


def ioc_row(ioc: Ioc) -> dict[str, Any]:
    return asdict(ioc)


# -- STIX 2.1 ----------------------------------------------------------------------------------


def _stix_time(value: str | None) -> str:
    ts = datetime.fromisoformat(value.replace("Z", "+00:00")) if value else datetime.now(UTC)
    return ts.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.") + f"{ts.microsecond // 1000:03d}Z"


def _pattern_literal(value: str) -> str:
    # STIX patterning string literal: backslash and quote are escaped
    return "'" + value.replace("\\", "\\\\").replace("'", "\\'") + "'"


_PATTERN_PATH = {
    "domain-name": "domain-name:value",
    "ipv4-addr": "ipv4-addr:value",
    "ipv6-addr": "ipv6-addr:value",
    "url": "url:value",
    "md5": "file:hashes.MD5",
    "sha1": "file:hashes.'SHA-1'",
    "sha256": "file:hashes.'SHA-256'",
    "file-name": "file:name",
}
_ROLE_TEXT = {
    "c2": "command-and-control server contacted by an infected host",
    "payment_site": "ransom payment site (Tor gateway)",
    "ip_lookup": "public-IP lookup made by the malware",
    "c2_address": "address a C2 name was reached at",
    "payment_address": "address a payment site was reached at",
    "payload_url": "URL the payload was downloaded from",
    "payload_host": "host the payload was downloaded from",
    "payload_address": "address the payload was downloaded from",
    "command_line": "named in a command line",
    "service": "named in the command of an installed service",
    "decoded": "named in an encoded PowerShell command (decoded)",
    "script_block": "named in a PowerShell script block",
    "antivirus": "caught by the antivirus",
    "process_hash": "hash of a program run from a user-writable folder",
    "file_hash": "hash of a file in a user-writable folder",
    "ids": "external end of an IDS alert",
    "proxy": "reached through the proxy",
}


def stix_bundle(found: list[Ioc], now: str | None = None) -> dict[str, Any]:
    """A STIX 2.1 bundle: the tool as identity, one indicator per IOC."""
    created = _stix_time(now)
    identity_id = "identity--" + str(uuid.uuid5(_NAMESPACE, "ashiato"))
    objects: list[dict[str, Any]] = [
        {
            "type": "identity",
            "spec_version": "2.1",
            "id": identity_id,
            "created": created,
            "modified": created,
            "name": "ashiato",
            "identity_class": "system",
        }
    ]
    for i in found:
        if i.internal or i.type not in _PATTERN_PATH:
            continue  # an internal address means nothing to anyone outside
        indicator: dict[str, Any] = {
            "type": "indicator",
            "spec_version": "2.1",
            "id": "indicator--" + str(uuid.uuid5(_NAMESPACE, f"{i.type}|{i.value}")),
            "created_by_ref": identity_id,
            "created": created,
            "modified": created,
            "name": f"{i.role}: {i.value}",
            "description": _ROLE_TEXT.get(i.role, i.role)
            + (f" ({i.related})" if i.related else "")
            + (f"; seen {i.sightings} times, first at {i.first_seen}" if i.sightings else ""),
            "indicator_types": ["malicious-activity"],
            "pattern": f"[{_PATTERN_PATH[i.type]} = {_pattern_literal(i.value)}]",
            "pattern_type": "stix",
            "pattern_version": "2.1",
            "valid_from": _stix_time(i.first_seen) if i.first_seen else created,
            "labels": [i.role],
        }
        if i.ref:
            indicator["external_references"] = [
                {
                    "source_name": "ashiato",
                    "external_id": i.ref,
                    "description": "ashiato show CASE REF prints the original record",
                }
            ]
        objects.append(indicator)
    return {
        "type": "bundle",
        "id": "bundle--" + str(uuid.uuid4()),
        "objects": objects,
    }


def default_name(what: str, fmt: str) -> str:
    return f"{what}.{SUFFIX[fmt]}"


def main_command(
    case: Path, what: str, fmt: str, output: Path | None, filters: Filters | None = None
) -> tuple[Path | None, int]:
    """What ``ashiato export`` does: write to ``output`` (``-`` or None for stdout)."""
    import sys

    c = Case.open(case)
    check(what, fmt)
    if output is None or str(output) == "-":
        return None, export(c, what, fmt, sys.stdout, filters)
    # Excel reads Japanese CSV right with a BOM; Timesketch wants the bare header
    encoding = "utf-8-sig" if fmt == "csv" and what != "timeline" else "utf-8"
    with output.open("w", encoding=encoding, newline="") as fh:
        n = export(c, what, fmt, fh, filters)
    return output, n


if __name__ == "__main__":  # python -m ashiato.report.export CASE --what iocs --format stix
    import typer

    from ashiato.cli import export as command  # the CLI's own command, its options declared there

    typer.run(command)
