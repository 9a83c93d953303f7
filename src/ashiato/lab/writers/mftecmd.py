"""MFTECmd ``$MFT`` CSV (domain.md 3.22): UTF-8, times UTC with seven fractional digits."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from ashiato.lab.clock import mft_utc
from ashiato.lab.writers import csv_line

HEADER = ("EntryNumber,SequenceNumber,InUse,ParentEntryNumber,ParentSequenceNumber,ParentPath,"
          "FileName,Extension,FileSize,ReferenceCount,ReparseTarget,IsDirectory,HasAds,IsAds,"
          "SI<FN,uSecZeros,Copied,SiFlags,NameType,Created0x10,Created0x30,LastModified0x10,"
          "LastModified0x30,LastRecordChange0x10,LastRecordChange0x30,LastAccess0x10,"
          "LastAccess0x30,UpdateSequenceNumber,LogfileSequenceNumber,SecurityId,"
          "ObjectIdFileDroid,LoggedUtilStream,ZoneIdContents")


@dataclass(slots=True)
class MftEntry:
    entry: int
    seq: int
    parent: int
    parent_seq: int
    parent_path: str  # ".\Users\yamada\Documents"
    name: str
    size: int
    is_dir: bool
    in_use: bool
    created: int
    modified: int
    changed: int
    security_id: int
    usn: int
    zone: str | None = None


def _b(v: bool) -> str:
    return "True" if v else "False"


def row(e: MftEntry) -> str:
    ext = "" if e.is_dir or "." not in e.name else "." + e.name.rsplit(".", 1)[1]
    c, m, ch = mft_utc(e.created), mft_utc(e.modified), mft_utc(e.changed)
    return csv_line((
        e.entry, e.seq, _b(e.in_use), e.parent, e.parent_seq, e.parent_path, e.name, ext,
        0 if e.is_dir else e.size, 1, "", _b(e.is_dir), _b(e.zone is not None), "False",
        "False", "False", "False", "Directory" if e.is_dir else "Archive", "Windows",
        c, c, m, "", ch, "", m, "", e.usn, e.usn // 7 + 88_000_000, e.security_id, "", "",
        e.zone or "",
    ))


def write(path: Path, entries: Iterable[MftEntry]) -> int:
    """Write the CSV (CRLF, as the .NET tool does); returns the number of rows."""
    n = 0
    with path.open("w", encoding="utf-8", newline="\r\n") as f:
        f.write(HEADER + "\n")
        for e in entries:
            f.write(row(e) + "\n")
            n += 1
    return n
