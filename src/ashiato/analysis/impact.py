"""Impact: ransom notes, encrypted files, the encryption window, shares and owners.

Notes are recognised by name (indicators.RANSOM_NOTE) wherever a file name is logged:
file listings, $MFT, 5145/4663 on the file server, Sysmon 11, AV rows; when no name is
known, a listing's burst names them (_learned_notes). The folders that
hold notes and the times the notes were written give the encryption window; within
those folders, files last written inside the window are the encrypted ones (this holds
for CryptoWall 3, which keeps names, as well as for renaming families). Anywhere, a known
ransomware extension marks a file as encrypted too.

Users keep saving files in those folders while the encryption runs, so "written inside
the window" is only a candidate: a file counts when its change matches the ransomware's
pattern, learned from the candidates themselves (most of them renamed to one new
extension, or to random names), or, for families that keep names, when it was written
by the account that wrote the notes (its owner in a listing, its session in audit
events). The rest are benign writes; where nothing can tell them apart the count per
share is a range (``Impact.basis``).
"""

from __future__ import annotations

import re
from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from ashiato.analysis import datastores, fetch
from ashiato.analysis.context import Context, evidence
from ashiato.analysis.indicators import (
    COMMON_EXTENSIONS,
    RANDOM_NAME,
    RANSOM_EXTENSION,
    RANSOM_NOTE,
    py,
)
from ashiato.engines import EVENT_ORDER
from ashiato.exports import iso, write_csv
from ashiato.findings import Evidence
from ashiato.i18n import msg, said

LISTINGS = ("file.listing", "windows.mft")
MARGIN = timedelta(minutes=10)
PATTERN_SHARE = 0.3  # a new extension (or random names) on this share of candidates is the family's


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
    # per share: {"files", "low", "high", "basis", "excluded"}: how the count was made
    basis: dict[str, dict[str, Any]] = field(default_factory=dict)


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
    notes = fetch.rows(ctx, note_q)
    imp = Impact()
    listed = [n for n in notes if n["event.dataset"] in LISTINGS]
    if not notes:
        # a family whose note name no list knows: the burst it leaves in a listing says it
        listed = notes = _learned_notes(ctx)
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

    enc, imp.basis = _classify(_encrypted(ctx, imp, bool(listed)), imp)
    if not imp.notes and len(enc) < MIN_WITHOUT_NOTE:
        # a tool's own "data.enc" is no encryption of anyone's files: without a note it
        # takes a run of them
        enc, imp.basis = [], {}
    enc += _on_datastores(ctx, imp, enc)
    imp.encrypted = enc
    all_times = [x for x in (_time(e) for e in enc + imp.notes) if x is not None]
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


def _on_datastores(ctx: Context, imp: Impact, enc: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """VM files encrypted on a hypervisor's datastore (its listing; analysis/datastores):
    the guests saw nothing, the count must still hold them. Adds the notes found there."""
    known = {_key(r) for r in enc}
    added: list[dict[str, Any]] = []
    for hit in datastores.encrypted(ctx):
        new = [r for r in hit.files if _key(r) not in known]
        known |= {_key(r) for r in new}
        added += new
        imp.basis[hit.datastore] = {
            "files": len(hit.files),
            "low": len(hit.files),
            "high": len(hit.files),
            "basis": said(f"VM files renamed to {hit.extension} on the datastore",
                          "impact.basis.datastore", ext=hit.extension),
            "excluded": 0,
        }
        noted = {_key(n) for n in imp.notes}
        imp.notes += [n for n in hit.notes if _key(n) not in noted]
    if added:
        imp.note_names = sorted({str(n["file.name"]).upper() for n in imp.notes})
        if imp.source == "none":
            imp.source = "datastore listing"
    return added


# A note is a message: the same small text/page/picture dropped in every folder it hit
NOTE_EXTENSIONS = frozenset("txt html htm hta rtf url bmp png jpg".split())
MIN_WITHOUT_NOTE = 5  # encrypted-looking files that count as impact when no note was found
MIN_BURST_FOLDERS = 3  # one person renaming files to an odd extension does it in one folder
_APPENDED = (
    r"(?i)\.(" + "|".join(sorted(COMMON_EXTENSIONS)) + r")\.[a-z0-9]{2,16}$"
)  # built from our own list, never from log values


def _learned_notes(ctx: Context) -> list[dict[str, Any]]:
    """Notes by shape when no name matched: in a file listing, one uncommon extension
    appended over ordinary ones (``report.pdf.qhxnlihrg``) across several folders, and a
    file of the same note-like name written into most of those folders in the same span.
    """
    t = ctx.events
    listed = t.filter(t["event.dataset"].isin(list(LISTINGS)) & t["file.name"].notnull())
    appended = ctx.rows(ctx.select(listed.filter(listed["file.name"].re_search(_APPENDED))))
    by_ext: dict[str, list[dict[str, Any]]] = {}
    for r in appended:
        ext = _ext(str(r["file.name"]))
        if ext not in COMMON_EXTENSIONS:
            by_ext.setdefault(ext, []).append(r)
    best: list[dict[str, Any]] = []
    for rows in by_ext.values():
        if len({r.get("file.directory") for r in rows}) > len(
            {r.get("file.directory") for r in best}
        ):
            best = rows
    dirs = {str(r["file.directory"]) for r in best if r.get("file.directory")}
    times = [x for x in map(_time, best) if x is not None]
    if len(dirs) < MIN_BURST_FOLDERS or not times:
        return []
    lo, hi = min(times) - MARGIN, max(times) + MARGIN
    when = listed["file.mtime"].fill_null(listed["file.created"])
    q = listed.filter(listed["file.directory"].isin(sorted(dirs)) & when.between(lo, hi))
    rows = [
        r
        for r in ctx.rows(ctx.select(q).order_by(EVENT_ORDER))
        if _ext(str(r["file.name"])) in NOTE_EXTENSIONS
    ]
    spread: dict[str, set[str]] = {}
    for r in rows:
        spread.setdefault(str(r["file.name"]).lower(), set()).add(str(r["file.directory"]))
    names = {n for n, d in spread.items() if len(d) >= max(MIN_BURST_FOLDERS, len(dirs) / 2)}
    return [r for r in rows if str(r["file.name"]).lower() in names]


def _key(r: dict[str, Any]) -> str:
    path = str(r.get("file.path") or r.get("file.name") or "").lower().replace("/", "\\")
    host = r.get("host.name") or ""
    return f"{host}|{r.get('file.share') or ''}|{path}"


def _encrypted(ctx: Context, imp: Impact, have_listing: bool) -> list[dict[str, Any]]:
    t = ctx.events
    datasets = list(LISTINGS) if have_listing else ["windows.security", "windows.sysmon"]
    files = fetch.any_of(t, "event.dataset", datasets)
    files = files.filter(files["file.name"].notnull())
    files = files.filter(~files["file.name"].re_search(RANSOM_NOTE))
    learned = sorted({str(n["file.name"]).upper() for n in imp.notes})
    if learned:
        files = files.filter(~files["file.name"].upper().isin(learned))
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
    rows = ctx.rows(ctx.select(q).order_by(EVENT_ORDER))  # thousands: fetch.rows costs more
    out: dict[str, dict[str, Any]] = {}
    for r in rows:
        out.setdefault(_key(r), r)
    return list(out.values())


def _share_key(r: dict[str, Any]) -> str:
    return _share_of(str(r.get("file.path") or ""), r.get("file.share"), r.get("host.name"))


def _ext(name: str) -> str:
    return name.rsplit(".", 1)[-1].lower() if "." in name else ""


def _writer_test(encryptor: str | None, sessions: set[tuple[Any, Any]]) -> Any:
    """Was this file written by the account (listing owner) or session that wrote the notes?"""

    def mine(r: dict[str, Any]) -> bool:
        owner = str(r.get("file.owner") or "").lower()
        if encryptor and owner == encryptor:
            return True
        return (r.get("host.name"), r.get("winlog.logon.id")) in sessions

    return mine


def _classify(
    rows: list[dict[str, Any]], imp: Impact
) -> tuple[list[dict[str, Any]], dict[str, dict[str, Any]]]:
    """Keep the candidates whose change matches the ransomware's pattern, per share."""
    known_ext = py(RANSOM_EXTENSION)
    random_name = py(RANDOM_NAME)
    note_owners = Counter(
        str(n.get("file.owner")).lower() for n in imp.notes if n.get("file.owner")
    )
    encryptor = note_owners.most_common(1)[0][0] if note_owners else None
    sessions = {
        (n.get("host.name"), n.get("winlog.logon.id"))
        for n in imp.notes
        if n.get("winlog.logon.id")
    }
    by_share: dict[str, list[dict[str, Any]]] = {}
    for r in rows:
        by_share.setdefault(_share_key(r), []).append(r)
    kept: list[dict[str, Any]] = []
    basis: dict[str, dict[str, Any]] = {}
    for share, cands in by_share.items():
        names = [str(r.get("file.name") or "") for r in cands]
        odd = Counter(e for e in map(_ext, names) if e and e not in COMMON_EXTENSIONS)
        ext, n_ext = odd.most_common(1)[0] if odd else ("", 0)
        n_random = sum(
            1 for x in names if random_name.match(x) and _ext(x) not in COMMON_EXTENSIONS
        )
        take: list[dict[str, Any]] = []
        unsure: list[dict[str, Any]] = []

        mine = _writer_test(encryptor, sessions)

        if n_ext >= PATTERN_SHARE * len(cands) and n_ext >= n_random:
            how = said(f"renamed to .{ext}", "impact.basis.renamed_ext", ext=f".{ext}")
            take = [
                r
                for r, x in zip(cands, names, strict=True)
                if _ext(x) == ext or known_ext.search(x) or mine(r)
            ]
        elif n_random >= PATTERN_SHARE * len(cands):
            how = said("renamed to random names", "impact.basis.renamed_random")
            take = [
                r
                for r, x in zip(cands, names, strict=True)
                if (random_name.match(x) and _ext(x) not in COMMON_EXTENSIONS)
                or known_ext.search(x)
                or mine(r)
            ]
        else:
            # names kept: rewritten in place; only the encrypting account or session counts
            for r, x in zip(cands, names, strict=True):
                if known_ext.search(x) or mine(r):
                    take.append(r)
                elif (encryptor and r.get("file.owner")) or (sessions and r.get("winlog.logon.id")):
                    continue  # another account's write: benign
                else:
                    unsure.append(r)  # nothing says who wrote it
            who = encryptor or ("the note-writing session" if sessions else None)
            how = (
                said(f"written inside the window by {who}", "impact.basis.written_by",
                     who=encryptor or msg("impact.basis.note_session"))
                if who
                else said("written inside the window in note folders",
                          "impact.basis.written_in_note_folders")
            )  # fmt: skip
        take += unsure
        excluded = len(cands) - len(take)
        basis[share] = {
            "files": len(take),
            "low": len(take) - len(unsure),
            "high": len(take),
            "basis": how,
            "excluded": excluded,
        }
        kept += take
    return kept, basis


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
