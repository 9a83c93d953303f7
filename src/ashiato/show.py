"""``ashiato show CASE REF``: the stored event and the original record behind a reference.

A reference is ``EVIDENCE_ID:RECORD`` as printed in timelines and findings. The original
is read again from the evidence (verified by its hash); members of archives are
unpacked again to a temporary folder.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ashiato.case import Case
from ashiato.errors import EvidenceError, QueryError
from ashiato.evidence.encoding import LineCounts, decode_lines, mixed_main
from ashiato.evidence.walk import Walker, sha256_of


@dataclass
class Shown:
    ref: str
    evidence: dict[str, Any]
    events: list[dict[str, Any]]
    original: str | None
    note: str | None = None


def parse_ref(ref: str) -> tuple[str, int]:
    """``EVIDENCE_ID:RECORD``; records count from 1 (a line number or an EVTX record id)."""
    try:
        evidence_id, record = ref.rsplit(":", 1)
        number = int(record)
    except ValueError as exc:
        raise QueryError(f"bad reference {ref!r}; expected EVIDENCE_ID:RECORD") from exc
    if number < 1 or not evidence_id:
        raise QueryError(f"bad reference {ref!r}: records are numbered from 1")
    return evidence_id, number


def show(case: Case, ref: str) -> Shown:
    evidence_id, record = parse_ref(ref)
    with case.reader() as con:
        cur = con.execute("SELECT * FROM evidence WHERE evidence_id = ?", [evidence_id])
        names = [d[0] for d in cur.description]
        row = cur.fetchone()
        if row is None:
            raise QueryError(f"no evidence {evidence_id!r} in this case")
        evidence = dict(zip(names, row, strict=True))
        cur = con.execute(
            "SELECT * FROM events WHERE evidence_id = ? AND record = ?", [evidence_id, record]
        )
        names = [d[0] for d in cur.description]
        events = [
            {k: v for k, v in zip(names, r, strict=True) if v is not None} for r in cur.fetchall()
        ]
        rej = con.execute(
            "SELECT reason, raw FROM rejects WHERE evidence_id = ? AND record = ?",
            [evidence_id, record],
        ).fetchall()
    if not events and not rej:
        # never print some other line as "the original record" of a ref that isn't one
        raise QueryError(
            f"no record {record} in evidence {evidence_id} ({evidence.get('path')}): "
            "no event and no rejected record has this number"
        )
    shown = Shown(ref, evidence, events, None)
    if rej:
        shown.note = f"rejected at ingest: {rej[0][0]}"
        shown.original = bytes(rej[0][1]).decode("utf-8", "replace")
        return shown
    if not evidence.get("sha256"):
        shown.note = "no evidence file behind this record (entered with `ashiato note`)"
        return shown
    try:
        shown.original = _original(evidence, record)
    except EvidenceError as exc:
        shown.note = exc.message
    return shown


def _original(evidence: dict[str, Any], record: int) -> str | None:
    container = evidence.get("container")
    path_text: str = evidence["path"]
    with Walker() as walker:
        if container:
            found = None
            for ev in walker.walk([Path(container.split("!", 1)[0])]):
                if ev.display == path_text:
                    found = ev.path
                    break
            if found is None:
                raise EvidenceError(f"{path_text}: no longer found in {container}")
            path = found
        else:
            path = Path(path_text)
        if not path.exists():
            raise EvidenceError(f"{path_text}: evidence file no longer at this path")
        if sha256_of(path) != evidence["sha256"]:
            raise EvidenceError(f"{path_text}: content changed since ingest (hash differs)")
        if evidence.get("encoding") is None:
            return _evtx_record(path, record)
        if evidence.get("format") == "wevtutil_xml":
            return _xml_record(path, evidence["encoding"], record)
        return _text_record(path, evidence["encoding"], record)


def _text_record(path: Path, encoding: str, record: int) -> str | None:
    # record is the line number where the record starts; multi-line records (CSV
    # messages, XML) show the following lines too
    out: list[str] = []
    for n, line in enumerate(_lines(path, encoding), start=1):
        if n >= record:
            out.append(line.rstrip("\r\n"))
            if len(out) >= 1 and not _continues(out):
                break
            if len(out) >= 40:
                break
    return "\n".join(out) if out else None


def _lines(path: Path, encoding: str) -> Iterator[str]:
    """The file's lines decoded as the ingest decoded them (line by line for UTF-8/CP932)."""
    main = mixed_main(encoding)
    if main is None:
        with path.open("r", encoding=encoding, errors="replace", newline="") as fh:
            yield from fh
        return
    with path.open("rb") as raw:
        for line in raw:
            yield decode_lines(line, main, LineCounts())


def _xml_record(path: Path, encoding: str, record: int) -> str | None:
    # wevtutil writes many events on one line: the record is the EventRecordID
    from ashiato.formats.wevtutil_xml import fragments

    tag = f"<EventRecordID>{record}</EventRecordID>"
    with path.open("r", encoding=encoding, errors="replace", newline="") as fh:
        for _line, text, _problem in fragments(fh):
            if tag in text:
                return text
    return None


def _continues(lines: list[str]) -> bool:
    text = "\n".join(lines)
    return text.count('"') % 2 == 1


def _evtx_record(path: Path, record: int) -> str | None:
    import evtx

    for rec in evtx.PyEvtxParser(str(path)).records():
        if isinstance(rec, dict) and rec.get("event_record_id") == record:
            return str(rec.get("data"))
    return None
