"""Impact: ransom notes, encrypted files, the encryption window, shares and owners.

Notes are recognised by name (indicators.RANSOM_NOTE) wherever a file name is logged:
file listings, $MFT, 5145/4663 on the file server, Sysmon 11, AV rows. The folders that
hold notes and the times the notes were written give the encryption window; within
those folders, files last written inside the window are the encrypted ones (this holds
for CryptoWall 3, which keeps names, as well as for renaming families). Anywhere, a known
ransomware extension marks a file as encrypted too.
"""

from __future__ import annotations

import re
from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from ashiato.analysis.context import Context, evidence
from ashiato.analysis.indicators import RANSOM_EXTENSION, RANSOM_NOTE
from ashiato.engines import EVENT_ORDER
from ashiato.exports import iso, write_csv
from ashiato.findings import Evidence

LISTINGS = ("file.listing", "windows.mft")
MARGIN = timedelta(minutes=10)


@dataclass
class Impact:
    notes: list[dict[str, Any]] = field(default_factory=list)
    encrypted: list[dict[str, Any]] = field(default_factory=list)
    window: tuple[datetime, datetime] | None = None
    note_names: list[str] = field(default_factory=list)
    shares: dict[str, int] = field(default_factory=dict)
    owners: dict[str, int] = field(default_factory=dict)
    evidence: list[Evidence] = field(default_factory=list)
    source: str = "none"


def _share_of(path: str, share_field: str | None, host: str | None = None) -> str:
    if path.startswith((".\\", "./")):
        return f"local disk of {host}" if host else "local disk"  # $MFT paths of a client
    if share_field:
        return share_field.strip("\\").split("\\")[-1] or share_field
    parts = [p for p in re.split(r"[\\/]+", path) if p]
    if path.startswith("\\\\") and len(parts) >= 2:
        return parts[1]
    if len(parts) >= 2 and re.match(r"^[A-Za-z]:$", parts[0]):
        return parts[1]
    return parts[0] if parts else "?"


def _time(r: dict[str, Any]) -> datetime | None:
    t: datetime | None = r.get("file.mtime") or r.get("file.created") or r.get("@timestamp")
    return t


def analyse(ctx: Context) -> Impact:
    t = ctx.events
    named = t.filter(t["file.name"].notnull())
    note_q = named.filter(named["file.name"].re_search(RANSOM_NOTE))
    notes = ctx.rows(ctx.select(note_q).order_by(EVENT_ORDER))
    imp = Impact()
    listed = [n for n in notes if n["event.dataset"] in LISTINGS]
    # a listing is the inventory; audit events repeat the same note many times
    chosen = listed or notes
    imp.source = "file listing" if listed else ("audit events" if notes else "none")
    seen: dict[str, dict[str, Any]] = {}
    for n in chosen:
        key = _key(n)
        if key not in seen:
            seen[key] = n
    imp.notes = list(seen.values())
    imp.note_names = sorted({str(n["file.name"]).upper() for n in imp.notes})
    times = [x for x in (_time(n) for n in imp.notes) if x is not None]
    if times:
        imp.window = (min(times), max(times))

    enc = _encrypted(ctx, imp, bool(listed))
    imp.encrypted = enc
    all_times = times + [x for x in (_time(e) for e in enc) if x is not None]
    if all_times:
        imp.window = (min(all_times), max(all_times))
    shares: Counter[str] = Counter()
    owners: Counter[str] = Counter()
    for r in enc + imp.notes:
        shares[
            _share_of(str(r.get("file.path") or ""), r.get("file.share"), r.get("host.name"))
        ] += 1
        owner = r.get("file.owner") or r.get("user.name")
        if owner:
            owners[str(owner)] += 1
    imp.shares = dict(shares.most_common())
    imp.owners = dict(owners.most_common())
    imp.evidence = evidence(imp.notes[:5] + enc[:5])
    return imp


def _key(r: dict[str, Any]) -> str:
    path = str(r.get("file.path") or r.get("file.name") or "").lower().replace("/", "\\")
    host = r.get("host.name") or ""
    return f"{host}|{r.get('file.share') or ''}|{path}"


def _encrypted(ctx: Context, imp: Impact, have_listing: bool) -> list[dict[str, Any]]:
    t = ctx.events
    datasets = list(LISTINGS) if have_listing else ["windows.security", "windows.sysmon"]
    files = t.filter(t["event.dataset"].isin(datasets) & t["file.name"].notnull())
    files = files.filter(~files["file.name"].re_search(RANSOM_NOTE))
    conds = [files["file.name"].re_search(RANSOM_EXTENSION)]
    note_dirs = sorted({str(n["file.directory"]) for n in imp.notes if n.get("file.directory")})
    if imp.window is not None and note_dirs:
        lo, hi = imp.window[0] - MARGIN, imp.window[1] + MARGIN
        # renaming families create the encrypted file, and a user who opens and saves
        # it later moves its mtime out of the window: either time inside counts
        when = files["file.mtime"].fill_null(files["@timestamp"])
        made = files["file.created"].fill_null(when)
        inside = when.between(lo, hi) | made.between(lo, hi)
        conds.append(files["file.directory"].isin(note_dirs) & inside)
    q = files.filter(conds[0] if len(conds) == 1 else conds[0] | conds[1])
    if not have_listing:
        # from audit events: writes only (WriteData/AppendData, or Sysmon file creation)
        mask = q["file.access_mask"].fill_null(0)
        q = q.filter(((mask & 0x6) != 0) | (q["event.dataset"] == "windows.sysmon"))
    q = q.filter(q["event.action"].fill_null("") != "directory")
    rows = ctx.rows(ctx.select(q).order_by(EVENT_ORDER))
    out: dict[str, dict[str, Any]] = {}
    for r in rows:
        out.setdefault(_key(r), r)
    return list(out.values())


def write_restore_list(imp: Impact, path: Path) -> Path:
    """The encrypted files as CSV, for restoring from backup (formula-safe)."""
    cols = ["path", "share", "size", "last_write_utc", "owner", "host", "ref"]
    rows = [
        {
            "path": r.get("file.path"),
            "share": _share_of(str(r.get("file.path") or ""), r.get("file.share")),
            "size": r.get("file.size"),
            "last_write_utc": iso(_time(r)),
            "owner": r.get("file.owner"),
            "host": r.get("host.name"),
            "ref": f"{r.get('evidence_id')}:{r.get('record')}",
        }
        for r in imp.encrypted
    ]
    with path.open("w", encoding="utf-8-sig", newline="") as fh:
        write_csv(fh, cols, rows)
    return path
