"""Encrypted VM files in a listing of an ESXi datastore.

When the encryption ran on the hypervisor no guest saw it; what responders collect is
a listing of the datastores (``ls -lR /vmfs/volumes/``, ``find``), read by
formats/ls_listing into ``file.listing`` rows with the datastore in ``file.share``.
There, a VM's own file (``.vmdk``, ``-flat.vmdk``, ``.vmx``, ``.nvram``...) with
something appended to its name (``APP01-flat.vmdk.locked3``) is encrypted when the same
suffix is on several VM files or is a known ransomware extension: ESXi never appends to
these names itself, except its lock and backup copies (``.lck``, ``.bak``...). The
notes are files of a note type (``.txt``, ``.html``...) written in the datastore, its
root or a VM folder that lost files, inside the span of the renames, or anywhere under
the datastores when their name is a known note.

Read by impact (the count of encrypted files) and servers (the hypervisor's section),
once per investigation (``Context.memo``).
"""

from __future__ import annotations

import re
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from ashiato.analysis.context import Context
from ashiato.analysis.indicators import RANSOM_EXTENSION, RANSOM_NOTE
from ashiato.engines import EVENT_ORDER

DATASTORE_ROOT = "/vmfs/volumes/"
VM_APPENDED = re.compile(
    r"(?i)\.(?:vmdk|vmx|vmxf|vmsd|vmsn|vswp|vmss|nvram|vmem|vmtx|vmfd)\.(?P<ext>[^./\\]+)$"
)
# what ESXi, backup products or an administrator append to VM files themselves
BENIGN_SUFFIXES = frozenset("lck bak old orig tmp backup save sav prev copy".split())
NOTE_EXTENSIONS = frozenset("txt html htm hta rtf url".split())
MIN_SAME_SUFFIX = 2  # one renamed disk is an administrator's doing; ransomware renames all
MARGIN = timedelta(minutes=30)
RECENT = timedelta(days=1)
_KNOWN_EXT = re.compile(RANSOM_EXTENSION)
_KNOWN_NOTE = re.compile(RANSOM_NOTE)


@dataclass
class Datastore:
    """One datastore's encrypted files and notes, as one listing shows them."""

    datastore: str
    evidence_id: str
    extension: str
    files: list[dict[str, Any]] = field(default_factory=list)
    notes: list[dict[str, Any]] = field(default_factory=list)
    vms: list[str] = field(default_factory=list)
    first: datetime | None = None
    last: datetime | None = None


def encrypted(ctx: Context) -> list[Datastore]:
    """The datastores whose listing shows encrypted VM files (memoised per Context)."""
    if "datastores" not in ctx.memo:
        ctx.memo["datastores"] = _find(ctx)
    found: list[Datastore] = ctx.memo["datastores"]
    return found


def _find(ctx: Context) -> list[Datastore]:
    t = ctx.events
    q = t.filter(
        (t["event.dataset"] == "file.listing")
        & t["file.path"].startswith(DATASTORE_ROOT)
        & (t["event.action"].fill_null("") != "directory")
    )
    rows = ctx.rows(ctx.select(q).order_by(EVENT_ORDER))
    by: dict[tuple[str, str], list[dict[str, Any]]] = defaultdict(list)
    for r in rows:
        ds = r.get("file.share") or str(r["file.path"])[len(DATASTORE_ROOT) :].split("/")[0]
        by[(str(r.get("evidence_id")), str(ds))].append(r)
    out = []
    for (ev, ds), rs in sorted(by.items()):
        hit = _datastore(ds, ev, rs)
        if hit is not None:
            out.append(hit)
    return out


def _suffix(r: dict[str, Any]) -> str | None:
    m = VM_APPENDED.search(str(r.get("file.name") or ""))
    if m is None:
        return None
    ext = m["ext"].lower()
    return None if ext in BENIGN_SUFFIXES or ext.isdigit() else ext


def _datastore(ds: str, ev: str, rows: list[dict[str, Any]]) -> Datastore | None:
    suffixes = Counter(s for r in rows if (s := _suffix(r)))
    taken = {s for s, n in suffixes.items() if n >= MIN_SAME_SUFFIX or _KNOWN_EXT.search("." + s)}
    if not taken:
        return None
    files = [r for r in rows if _suffix(r) in taken]
    hit = Datastore(ds, ev, ", ".join("." + s for s, _ in suffixes.most_common() if s in taken))
    hit.files = files
    times = [r["file.mtime"] for r in files if r.get("file.mtime")]
    if times:
        # a file only renamed keeps its old time (an empty .vmsd): the span is the last
        # day's writes
        hit.last = max(times)
        hit.first = min(t for t in times if t >= hit.last - RECENT)
    folders = {str(r.get("file.directory")) for r in files}
    roots = {_root(str(r["file.path"])) for r in files}
    hit.vms = sorted({f.rsplit("/", 1)[-1] for f in folders - roots})
    mine = {id(r) for r in files}
    for r in rows:
        name = str(r.get("file.name") or "")
        if id(r) in mine or "." not in name:
            continue
        known = bool(_KNOWN_NOTE.search(name))
        kind = name.rsplit(".", 1)[-1].lower() in NOTE_EXTENSIONS
        where = str(r.get("file.directory")) in folders | roots
        when = r.get("file.mtime")
        # a find listing has no times: the place alone says it
        inside = (
            hit.first is None
            or when is None
            or hit.first - MARGIN <= when <= (hit.last or hit.first) + MARGIN
        )
        if known or (kind and where and inside):
            hit.notes.append(r)
    return hit


def _root(path: str) -> str:
    """/vmfs/volumes/<ds> of a path under it."""
    parts = path.split("/")
    return "/".join(parts[:4])
