"""File inventories exported from PowerShell with ``Export-Csv`` (domain.md 3.23, 6.2).

Two shapes are common in incident response, both read by header name (any order, any
case, optional ``#TYPE ...`` first line):

- ``Get-ChildItem -Recurse | Select-Object FullName,Length,CreationTime,LastWriteTime,
  @{n='Owner';e={(Get-Acl $_.FullName).Owner}}`` (or the whole FileInfo object, or
  ``Name`` + ``DirectoryName``);
- ``Get-ChildItem -Recurse | Get-Acl | Export-Csv``: ``Path`` = ``Microsoft.PowerShell.
  Core\\FileSystem::D:\\share\\...``, ``Owner``, ``Sddl``, a multi-line ``AccessToString``.

Mapping: ``FullName``/``Path``/``PSPath`` (provider prefix removed) → ``file.path``,
``Length`` → ``file.size``, ``CreationTime`` → ``file.created``, ``LastWriteTime`` →
``file.mtime``, ``Owner`` → ``file.owner`` and ``user.domain``/``user.name`` (a SID goes
to ``user.id``). ``@timestamp`` is the last write time (the creation time when the export
has no write time, none for a bare ``Get-Acl`` export): encryption rewrites files, so
that is when a listed file last changed. Folders (``Mode`` ``d-----``, ``Attributes``
containing ``Directory``, ``PSIsContainer`` True) get ``event.action`` ``directory``,
files ``file-listed``. Other columns go to ``extra`` under their own names, except the
ones PowerShell fills with type names or that repeat the path (``Access``, ``PSDrive``,
``PSChildName``, ``BaseName``, ``VersionInfo``...).

Times are written in the exporting machine's culture and zone, without offset: read in
``source.tz`` (``*Utc`` columns, when exported, are used instead and read as UTC).
Accepted: ``2015/09/09 11:52:14`` (ja-JP), ``9/9/2015 11:52:14 AM`` (en-US), ``2015-09-09
11:52:14``, ``09.09.2015 11:52:14`` (de-DE), and ``09/09/2015 11:52:14`` read day first
(en-GB/fr-FR: a 24-hour clock with the year last) unless the option ``dayfirst`` is
False; a value that only makes sense the other way round is read that way.

Windows PowerShell 5.1 writes ASCII by default, turning Japanese names into ``?``: such
rows are kept and marked in ``extra.data_quality`` (``?`` can't occur in a real Windows
file name).
"""

from __future__ import annotations

import csv
import re
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta, timezone
from functools import lru_cache
from typing import Any, TextIO

import orjson
import pyarrow as pa
import pyarrow.compute as pc

from ashiato.formats.base import BATCH_ROWS, Format, Sample, Source
from ashiato.schema import TS, batch_from_columns

_PROVIDER = re.compile(r"^Microsoft\.PowerShell\.Core\\FileSystem::", re.IGNORECASE)
_LONG_PREFIX = re.compile(r"^\\\\\?\\(?:UNC\\)?")
_SID = re.compile(r"^S-1-\d+(?:-\d+)+$")
_TIME = re.compile(
    r"""^\s*(?:
        (?P<Y>\d{4})[-/.](?P<m>\d{1,2})[-/.](?P<d>\d{1,2})
      | (?P<a>\d{1,2})(?P<sep>[-/.])(?P<b>\d{1,2})(?P=sep)(?P<y>\d{4}))
    (?:[ T]+(?P<jp>午前|午後)?\s*
        (?P<H>\d{1,2}):(?P<M>\d{2})(?::(?P<S>\d{2})(?:[.,](?P<f>\d{1,7}))?)?
        \s*(?P<ampm>[AaPp]\.?[Mm]\.?)?
        \s*(?P<tz>Z|[+-]\d{2}:?\d{2})?)?\s*$""",
    re.VERBOSE,
)
_LOSSY_NOTE = "non-ASCII characters lost: '?' in the path (Export-Csv ASCII encoding)"

_PATHS = ("fullname", "path", "pspath")
_SIGNS = frozenset(
    (
        "length",
        "lastwritetime",
        "creationtime",
        "lastwritetimeutc",
        "creationtimeutc",
        "owner",
        "sddl",
        "mode",
        "attributes",
    )
)
# columns PowerShell fills with .NET type names, or that only repeat the path
_NOISE = frozenset(
    (
        "pspath",
        "psparentpath",
        "pschildname",
        "psdrive",
        "psprovider",
        "access",
        "accessrighttype",
        "accessruletype",
        "auditruletype",
        "name",
        "basename",
        "extension",
        "directory",
        "directoryname",
        "parent",
        "root",
        "exists",
        "versioninfo",
        "fullname",
        "path",
    )
)


def _sniff(sample: Sample) -> bool:
    lines = [ln for ln in sample.first_lines(3) if not ln.startswith("#TYPE")]
    if not lines:
        return False
    try:
        names = {n.strip().lower() for n in next(csv.reader([lines[0].lstrip("\ufeff")]))}
    except csv.Error:
        return False
    if "created0x10" in names:  # MFTECmd, which has its own reader
        return False
    has_path = (
        "fullname" in names
        or "pspath" in names
        or ("path" in names and "owner" in names)
        or ("name" in names and bool(names & {"directory", "directoryname"}))
    )
    return has_path and bool(names & _SIGNS)


@dataclass(frozen=True)
class _Columns:
    """Positions of the columns this reader maps (None when absent)."""

    width: int
    path: int | None
    pspath: int | None
    name: int | None
    folder: int | None
    size: int | None
    created: int | None
    created_utc: bool
    mtime: int | None
    mtime_utc: bool
    owner: int | None
    mode: int | None
    attributes: int | None
    container: int | None
    extra: tuple[tuple[int, str], ...]

    @classmethod
    def of(cls, header: list[str]) -> _Columns:
        low = [h.strip().lower() for h in header]

        def pos(*names: str) -> int | None:
            for name in names:
                if name in low:
                    return low.index(name)
            return None

        created_utc, mtime_utc = pos("creationtimeutc"), pos("lastwritetimeutc")
        mapped = {"length", "owner", "creationtimeutc", "lastwritetimeutc"}
        mapped |= {"creationtime", "lastwritetime"}
        if "lastaccesstimeutc" in low:
            mapped.add("lastaccesstime")  # the same instant in local time
        return cls(
            width=len(header),
            path=pos("fullname", "path"),
            pspath=pos("pspath"),
            name=pos("name", "pschildname"),
            folder=pos("directoryname", "directory", "psparentpath"),
            size=pos("length"),
            created=created_utc if created_utc is not None else pos("creationtime"),
            created_utc=created_utc is not None,
            mtime=mtime_utc if mtime_utc is not None else pos("lastwritetime"),
            mtime_utc=mtime_utc is not None,
            owner=pos("owner"),
            mode=pos("mode"),
            attributes=pos("attributes"),
            container=pos("psiscontainer"),
            extra=tuple(
                (i, header[i].strip())
                for i, name in enumerate(low)
                if name not in _NOISE and name not in mapped and name not in low[:i]
            ),
        )


class _Tap:
    """Line iterator for csv.reader that remembers the text of the current record."""

    def __init__(self, fh: TextIO) -> None:
        self._fh = fh
        self.buf: list[str] = []

    def __iter__(self) -> _Tap:
        return self

    def __next__(self) -> str:
        line = next(self._fh)
        self.buf.append(line)
        return line

    def text(self) -> str:
        return "".join(self.buf).rstrip("\r\n")


class _Batch:
    """Columns for one batch, appended to row by row.

    Times are kept naive (local, or already UTC for ``*Utc`` columns and values with an
    offset) and localised a column at a time when the batch is emitted: converting
    aware datetimes one by one is what makes row-wise builders slow.
    """

    def __init__(self, source: Source, cols: _Columns, dayfirst: bool) -> None:
        self.source, self.cols, self.dayfirst = source, cols, dayfirst
        self.n = 0
        self.record: list[int] = []
        self.action: list[str] = []
        self.path: list[str | None] = []
        self.size: list[int | None] = []
        self.owner: list[str | None] = []
        self.user: list[str | None] = []
        self.domain: list[str | None] = []
        self.sid: list[str | None] = []
        self.extra: list[str | None] = []
        self.times: tuple[list[datetime | None], list[datetime | None]] = ([], [])
        self.aware: tuple[list[int], list[int]] = ([], [])  # rows whose time is UTC

    def add(self, cells: list[str], record: int, tap: _Tap) -> bool:
        cols, source = self.cols, self.source
        if len(cells) != cols.width:
            source.reject(record, f"expected {cols.width} fields, got {len(cells)}", tap.text())
            return False
        stamps: list[datetime | None] = [None, None]
        for k, idx in enumerate((cols.created, cols.mtime)):
            if idx is None or not cells[idx].strip():
                continue
            ts = _parse_time(cells[idx], self.dayfirst)
            if ts is None:
                source.reject(record, f"unreadable time {cells[idx]!r}", tap.text())
                return False
            if ts.tzinfo is not None:
                self.aware[k].append(self.n)
                ts = ts.astimezone(UTC).replace(tzinfo=None)
            stamps[k] = ts
        self.times[0].append(stamps[0])
        self.times[1].append(stamps[1])
        self.record.append(record)

        extra: dict[str, str] = {}
        path = _path(cells, cols)
        if "?" in path and "?" in _LONG_PREFIX.sub("", path):
            extra["data_quality"] = _LOSSY_NOTE
        self.path.append(path or None)
        size = cells[cols.size].strip() if cols.size is not None else ""
        self.size.append(int(size) if size.isdigit() else None)
        owner = cells[cols.owner].strip() if cols.owner is not None else ""
        user = domain = sid = None
        if _SID.match(owner):
            sid = owner  # not resolved on the exporting machine
        elif "\\" in owner:
            domain, user = owner.split("\\", 1)
        elif owner:
            user = owner
        self.owner.append(owner or None)
        self.user.append(user)
        self.domain.append(domain)
        self.sid.append(sid)
        self.action.append("directory" if _is_dir(cells, cols) else "file-listed")
        for i, name in cols.extra:
            if cells[i] != "":
                extra[name] = cells[i]
        self.extra.append(orjson.dumps(extra).decode() if extra else None)
        self.n += 1
        return True

    def emit(self) -> pa.RecordBatch:
        n, cols = self.n, self.cols
        created = self._localise(0, cols.created_utc)
        mtime = self._localise(1, cols.mtime_utc)
        columns: dict[str, Any] = {
            "record": self.record,
            "@timestamp": mtime if cols.mtime is not None else created,
            "event.action": self.action,
            "event.category": pa.repeat(pa.scalar("file"), n),
            "file.path": self.path,
            "file.size": self.size,
            "file.created": created,
            "file.mtime": mtime,
            "file.owner": self.owner,
            "user.name": self.user,
            "user.domain": self.domain,
            "user.id": self.sid,
            "extra": self.extra,
        }
        return batch_from_columns(columns, n)

    def _localise(self, k: int, utc_column: bool) -> pa.Array:
        naive = pa.array(self.times[k], pa.timestamp("us"))
        if utc_column or naive.null_count == len(naive):
            return naive.cast(TS)  # a naive value cast to a zone is read as UTC
        local = pc.assume_timezone(
            naive, self.source.tz.key, ambiguous="earliest", nonexistent="earliest"
        ).cast(TS)
        if not self.aware[k]:
            return local
        mask = [False] * len(naive)
        for i in self.aware[k]:
            mask[i] = True
        return pc.if_else(pa.array(mask), naive.cast(TS), local)


def _parse(source: Source) -> Iterator[pa.RecordBatch]:
    dayfirst = bool(source.options.get("dayfirst", True))
    out: _Batch | None = None
    with source.text_stream() as fh:
        tap = _Tap(fh)
        reader = csv.reader(tap)
        line = 0
        for cells in reader:
            record, line = line + 1, reader.line_num
            if not cells or (len(cells) == 1 and not cells[0].strip()):
                tap.buf.clear()
                continue
            if out is None:
                tap.buf.clear()
                if record == 1 and cells[0].lstrip("\ufeff").startswith("#TYPE"):
                    continue
                cells[0] = cells[0].lstrip("\ufeff")
                out = _Batch(source, _Columns.of(cells), dayfirst)
                continue
            out.add(cells, record, tap)
            tap.buf.clear()
            if out.n == BATCH_ROWS:
                yield out.emit()
                out = _Batch(source, out.cols, dayfirst)
    if out is not None and out.n:
        yield out.emit()


def _path(cells: list[str], cols: _Columns) -> str:
    for idx in (cols.path, cols.pspath):
        if idx is not None and cells[idx].strip():
            return _PROVIDER.sub("", cells[idx].strip())
    name = cells[cols.name].strip() if cols.name is not None else ""
    folder = cells[cols.folder].strip() if cols.folder is not None else ""
    folder = _PROVIDER.sub("", folder)
    if folder and name:
        return folder.rstrip("\\") + "\\" + name
    return name or folder


def _is_dir(cells: list[str], cols: _Columns) -> bool:
    if cols.mode is not None and cells[cols.mode].startswith("d"):
        return True
    if cols.attributes is not None and "directory" in cells[cols.attributes].lower():
        return True
    return cols.container is not None and cells[cols.container].strip().lower() == "true"


@lru_cache(maxsize=1 << 16)  # listings repeat times: a folder copied or encrypted at once
def _parse_time(text: str, dayfirst: bool = True) -> datetime | None:
    """A PowerShell ``DateTime.ToString()`` in one of the common cultures; naive unless
    the text carries an offset."""
    m = _TIME.match(text)
    if m is None:
        return None
    g = m.groupdict()
    ampm = (g["ampm"] or "").replace(".", "").lower() or {"午前": "am", "午後": "pm"}.get(
        g["jp"] or "", ""
    )
    if g["Y"] is not None:
        year, month, day = int(g["Y"]), int(g["m"]), int(g["d"])
    else:
        year, first, second = int(g["y"]), int(g["a"]), int(g["b"])
        # "." is day first everywhere; "/" with AM/PM is en-US month first
        day_first = g["sep"] == "." or (not ampm and dayfirst)
        day, month = (first, second) if day_first else (second, first)
        if month > 12 >= day:
            day, month = month, day
    hour = int(g["H"] or 0)
    if ampm == "pm" and hour < 12:
        hour += 12
    elif ampm == "am" and hour == 12:
        hour = 0
    micro = int((g["f"] or "0")[:6].ljust(6, "0"))
    try:
        ts = datetime(year, month, day, hour, int(g["M"] or 0), int(g["S"] or 0), micro)
    except ValueError:
        return None
    if g["tz"]:
        ts = ts.replace(tzinfo=_offset(g["tz"]))
    return ts


def _offset(text: str) -> timezone:
    if text == "Z":
        return UTC
    sign = -1 if text[0] == "-" else 1
    digits = text[1:].replace(":", "")
    return timezone(sign * timedelta(hours=int(digits[:2]), minutes=int(digits[2:])))


FORMAT = Format(
    name="file_listing",
    dataset="file.listing",
    description="PowerShell file inventory CSV (Get-ChildItem | Select/Get-Acl | Export-Csv)",
    sniff=_sniff,
    parse=_parse,
    fields=(
        "@timestamp",
        "event.action",
        "event.category",
        "file.path",
        "file.size",
        "file.created",
        "file.mtime",
        "file.owner",
        "user.name",
        "user.domain",
        "user.id",
    ),
)
