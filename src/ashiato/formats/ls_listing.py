"""Directory listings printed by ``ls -l``/``ls -lR`` and ``find`` (GNU coreutils, BusyBox).

Responders list an ESXi datastore (``ls -lR /vmfs/volumes/ > datastores_ls-lR.txt``) or
a NAS volume over SSH when the guests saw nothing of the encryption. Shapes read:

- a long line: type and permissions (``-rw-------``, an SELinux ``.`` or ACL ``+``
  after them), links, owner, group, size (``8, 0`` for a device; ``1.2G`` from ``-h``,
  kept approximate), time, name. Time as ``Feb  3 10:11`` (the last six months),
  ``Feb  3  2022`` (older), ``2023-02-03 10:11`` (``--time-style=long-iso``),
  ``2023-02-03 10:11:12.123456789 +0900`` (``--full-time``), ``Sat Feb  3 10:11:12 2023``
  (BusyBox ``ls -le``, the seconds ESXi's shell can show), or a Japanese locale's
  `` 2月  3 10:11``. Optional inode and block counts before it (``ls -lis``,
  ``find -ls``, whose name is the whole path). A name GNU quoted (``'a b.txt'``) is
  unquoted; a symbolic link's ``name -> target`` keeps the target in extra ``target``.
- ``ls -R`` folder headers (``/vmfs/volumes/datastore1/APP01:``) give the folder of the
  lines below them; ``total N`` lines are skipped.
- ``find``'s plain output: one absolute path a line (no time, no size). A path that is
  the prefix of the next one is a folder (find prints a folder before its contents).

A year-less time is in the six months before the listing was made: its year is the
year of the file's own modification time (the moment it was saved), one less when that
would put it more than a day after it. ESXi runs in UTC whatever the site's zone, so a
listing of ``/vmfs/`` is read in UTC; any other listing in the source's zone.

Rows: dataset ``file.listing`` (the same as a PowerShell inventory: impact reads both),
``event.action`` ``file-listed``, ``directory`` or ``symlink``; ``file.path``,
``file.size``, ``file.mtime`` and ``@timestamp``, ``file.owner``/``user.name`` (the
owner), extra ``group``, ``mode``, ``links``. Under ``/vmfs/volumes/<ds>/`` the datastore
is ``file.share``: a datastore listed by its UUID takes its name from the
``name -> uuid`` link printed earlier in the listing.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import pyarrow as pa

from ashiato.formats.base import Format, Rows, Sample, Source

_MONTHS = {m: i for i, m in enumerate(
    "jan feb mar apr may jun jul aug sep oct nov dec".split(), start=1)}  # fmt: skip
_MODE = r"(?P<mode>[-dlcbpsD][-rwxsStTlL]{9})[.+@]?"
_SIZE = r"(?P<size>\d+(?:\.\d+)?[KMGTPE]?|\d+,\s*\d+)"
_DATE = (
    # BusyBox ls -e / GNU --full-time's older style: Sat Feb  3 10:11:12 2023
    r"[A-Z][a-z]{2}\s+(?P<fmon>[A-Z][a-z]{2})\s+(?P<fday>\d{1,2})\s+"
    r"(?P<fhh>\d\d):(?P<fmm>\d\d):(?P<fss>\d\d)\s+(?P<fyear>\d{4})"
    r"|(?:(?P<mon>[A-Za-z]{3})\s+(?P<day>\d{1,2})"
    r"|(?P<jmon>\d{1,2})月\s+(?P<jday>\d{1,2})日?)"
    r"\s+(?:(?P<hh>\d{1,2}):(?P<mm>\d\d)|(?P<year>\d{4}))"
    r"|(?P<iso>\d{4}-\d\d-\d\d)\s+(?P<ihh>\d\d):(?P<imm>\d\d)(?::(?P<iss>\d\d)(?:\.(?P<frac>\d+))?)?"
    r"(?:\s+(?P<off>[+-]\d{4}))?"
)
LONG = re.compile(
    r"^\s*(?:\d+\s+){0,2}"
    + _MODE
    + r"\s+(?P<links>\d+)\s+(?P<owner>\S+)\s+(?P<group>\S+)\s+"
    + _SIZE
    + r"\s+(?:"
    + _DATE
    + r") (?P<name>.+)$"
)
HEADER = re.compile(r"^(?P<dir>(?:/|\.|[A-Za-z]:[\\/])[^\n]*):$")
TOTAL = re.compile(r"^total \d+(?:\.\d+)?[KMGTPE]?$")
_FIND = re.compile(r"^/[^\0\t]*$")
_DATASTORE = re.compile(r"^/vmfs/volumes/(?P<ds>[^/]+)(?:/|$)")
_UNITS = {"": 1, "K": 1 << 10, "M": 1 << 20, "G": 1 << 30, "T": 1 << 40, "P": 1 << 50,
          "E": 1 << 60}  # fmt: skip
_ACTIONS = {"d": "directory", "l": "symlink"}


def _sniff(sample: Sample) -> bool:
    lines = sample.first_lines(30)
    longs = sum(1 for ln in lines if LONG.match(ln))
    if longs >= 2:
        return sample.mostly(
            lambda ln: bool(LONG.match(ln) or HEADER.match(ln) or TOTAL.match(ln)), 30
        )
    # plain find output: absolute paths only, several of them sharing a folder
    if len(lines) < 3 or not all(_FIND.match(ln) for ln in lines):
        return False
    return len({ln.rsplit("/", 1)[0] for ln in lines}) < len(lines)


def _parse(source: Source) -> Iterator[pa.RecordBatch]:
    rows = Rows(source)
    ref = _saved_at(source)
    years = source.year_state()  # counts the times whose year was assumed
    folder = ""
    links: dict[str, str] = {}  # datastore uuid -> name (from /vmfs/volumes/<name> -> uuid)
    pending: tuple[int, str] | None = None  # a find path, until the next one says if a folder
    for record, raw in source.lines():
        line = raw.rstrip("\r")
        if not line.strip() or TOTAL.match(line):
            continue
        if pending is not None:
            rec, path = pending
            is_dir = line.startswith(path.rstrip("/") + "/")
            batch = rows.add(rec, _plain_row(path, is_dir, links))
            pending = None
            if batch is not None:
                yield batch
        m = LONG.match(line)
        if m:
            row = _long_row(m, folder, ref, source, links)
            if m["hh"] is not None:
                years.assumed += 1
            if row is None:
                source.reject(record, "unreadable date in an ls line", line)
                continue
            batch = rows.add(record, row)
        elif h := HEADER.match(line):
            folder = h["dir"].rstrip("/") or "/"
            continue
        elif _FIND.match(line):
            pending = (record, line)
            continue
        else:
            source.reject(record, "not an ls -l line, folder header or find path", line)
            continue
        if batch is not None:
            yield batch
    if pending is not None:
        rows.add(pending[0], _plain_row(pending[1], False, links))
    batch = rows.flush()
    if batch is not None:
        yield batch


def _saved_at(source: Source) -> datetime:
    """When the listing was saved: its file's time when that agrees with the year hint."""
    try:
        saved = datetime.fromtimestamp(source.path.stat().st_mtime, UTC)
    except OSError:
        saved = None
    if saved is None or saved.year != source.year_hint:
        return datetime(source.year_hint, 12, 31, 23, 59, tzinfo=UTC)
    return saved


def _long_row(
    m: re.Match[str], folder: str, ref: datetime, source: Source, links: dict[str, str]
) -> dict[str, Any] | None:
    name = m["name"]
    kind = m["mode"][0]
    target = None
    if kind == "l" and " -> " in name:
        name, target = name.split(" -> ", 1)
    name = _unquote(name)
    path = name if name.startswith("/") else (f"{folder.rstrip('/')}/{name}" if folder else name)
    ts = _time(m, path, ref, source)
    if ts is None:
        return None
    row = _base(path, _ACTIONS.get(kind, "file-listed"), links)
    if kind == "l" and target:
        row["target"] = _unquote(target)
        if folder.rstrip("/") == "/vmfs/volumes" and "/" not in target:
            links[target] = name  # the datastore's name for its UUID folder
    row["@timestamp"] = row["file.mtime"] = ts
    row["file.size"] = _size(m["size"])
    if m["size"][-1:].isalpha():
        row["size_approximate"] = m["size"]
    row["file.owner"] = row["user.name"] = m["owner"]
    row["group"], row["mode"], row["links"] = m["group"], m["mode"], int(m["links"])
    return row


def _plain_row(path: str, is_dir: bool, links: dict[str, str]) -> dict[str, Any]:
    return _base(path, "directory" if is_dir else "file-listed", links)


def _base(path: str, action: str, links: dict[str, str]) -> dict[str, Any]:
    row: dict[str, Any] = {"event.action": action, "event.category": "file", "file.path": path}
    ds = _DATASTORE.match(path)
    if ds and path.rstrip("/") != ds.group(0).rstrip("/"):
        row["file.share"] = links.get(ds["ds"], ds["ds"])
    return row


def _unquote(name: str) -> str:
    # GNU ls quotes names with spaces or quotes when writing to a terminal
    if len(name) >= 2 and name[0] == name[-1] and name[0] in "'\"":
        return name[1:-1].replace("'\\''", "'")
    return name


def _size(text: str) -> int | None:
    if "," in text:
        return None  # a device's major, minor
    unit = text[-1] if text[-1].isalpha() else ""
    number = text[:-1] if unit else text
    try:
        return int(float(number) * _UNITS[unit])
    except (ValueError, KeyError):
        return None


def _time(m: re.Match[str], path: str, ref: datetime, source: Source) -> datetime | None:
    utc = path.startswith("/vmfs/")
    try:
        if m["fyear"]:
            month = _MONTHS.get(m["fmon"].lower(), 0)
            ts = datetime(int(m["fyear"]), month, int(m["fday"]), int(m["fhh"]), int(m["fmm"]),
                          int(m["fss"]))  # fmt: skip
        elif m["iso"]:
            y, mo, d = (int(x) for x in m["iso"].split("-"))
            micro = int((m["frac"] or "0")[:6].ljust(6, "0"))
            ts = datetime(y, mo, d, int(m["ihh"]), int(m["imm"]), int(m["iss"] or 0), micro)
            if m["off"]:
                off = m["off"]
                sign = -1 if off[0] == "-" else 1
                delta = timedelta(hours=int(off[1:3]), minutes=int(off[3:5]))
                return ts.replace(tzinfo=timezone(sign * delta)).astimezone(UTC)
        else:
            month = _MONTHS.get((m["mon"] or "").lower()) or int(m["jmon"] or 0)
            day = int(m["day"] or m["jday"])
            if m["year"]:
                ts = datetime(int(m["year"]), month, day)
            else:
                ts = datetime(ref.year, month, day, int(m["hh"]), int(m["mm"]))
                if ts.replace(tzinfo=UTC) > ref.replace(tzinfo=UTC) + timedelta(days=1):
                    ts = ts.replace(year=ref.year - 1)  # the six months before the listing
    except ValueError:
        return None
    return ts.replace(tzinfo=UTC) if utc else source.localize(ts)


FORMAT = Format(
    name="ls_listing",
    dataset="file.listing",
    description="ls -l / ls -lR / find listings (GNU, BusyBox; ESXi datastores, NAS volumes)",
    sniff=_sniff,
    parse=_parse,
    fields=(
        "@timestamp", "event.action", "event.category", "file.path", "file.size",
        "file.mtime", "file.owner", "file.share", "user.name", "extra",
    ),
)  # fmt: skip
