"""Eric Zimmerman's program-execution CSVs: PECmd, AmcacheParser, AppCompatCacheParser.

Most victims have no Sysmon and no 4688; what ran on a PC is then read from Prefetch,
Amcache and the ShimCache, and responders hand those over as the CSVs these tools write
(KAPE's ``ProgramExecution`` module folder). The file kind is told by its header, never by
its name; columns are found by name (their order and number changed between builds), and
AmcacheParser's older builds wrote tab separated files, which are read too. All times
are UTC (the tools convert; ``yyyy-MM-dd HH:mm:ss`` by default, ``.fffffff`` with
``--mp``); the 7th fractional digit is dropped.

- **PECmd** ``*_PECmd_Output.csv`` -> ``windows.prefetch``: one event per run time
  (``LastRun``, ``PreviousRun0..6``: up to 8), ``event.action`` ``program-executed``,
  ``@timestamp`` = that run. ``process.executable``/``file.path`` = the executable's full
  path, found in ``FilesLoaded`` (the entry ending in ``\\<ExecutableName>``; device form
  such as ``\\VOLUME{...}\\USERS\\...\\CONTENT.IE5\\AB12CD34\\X9K2.TMP``, as PECmd writes it);
  ``process.name`` = ``ExecutableName``. ``extra``: ``run_count``, ``run_index`` (1 = the
  last run), ``prefetch_hash``, ``prefetch_file``, ``prefetch_version``,
  ``prefetch_created`` (``SourceCreated``: the .pf was created at the first run, give or
  take 10 s), ``volume_name``/``volume_serial``/``volume_created``, ``note``.
- **PECmd timeline** ``*_PECmd_Output_Timeline.csv`` (``RunTime,ExecutableName``, the name
  being the full path) -> one ``program-executed`` event per line.
- **AmcacheParser** file entries (``*_UnassociatedFileEntries.csv``,
  ``*_AssociatedFileEntries.csv``; Windows 10 and the older Windows 7/8 layout) ->
  ``windows.amcache``, ``program-executed``. ``@timestamp`` = the file key's last write
  (``FileKeyLastWriteTimestamp``, old layout ``FileIDLastWriteTimestamp``): when Windows
  recorded the file, usually its first run; it is not updated at every run, and a file
  can be inventoried without running, so it is evidence of presence and, most often,
  of execution. ``file.hash`` = ``SHA1=<hex>``; ``LinkDate`` (the PE compile time, not an
  execution) and the rest go to ``extra``.
- **AmcacheParser** program entries (``*_ProgramEntries.csv``) -> category ``package``,
  action ``program-installed``, ``@timestamp`` = ``InstallDate`` when present, else the
  key's last write.
- **AppCompatCacheParser** -> ``windows.shimcache``. ``@timestamp`` = ``LastModifiedTimeUTC``:
  the executable's own last-modified time ($STANDARD_INFORMATION), **not** when it ran;
  ``extra["time_meaning"]`` says so. ``event.action`` is ``program-executed`` only when the
  ``Executed`` column says ``Yes`` (the Windows 7/8 insert flag), else ``program-seen``.

Rows carry their own ``event.dataset``; the format's dataset ``windows.execution`` is
only what the evidence table shows for the file.
"""

from __future__ import annotations

import csv
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import pyarrow as pa

from ashiato.formats.base import Format, Rows, Sample, Source
from ashiato.formats.prefetch import find_executable

Row = dict[str, Any]

_TIME_RE = re.compile(
    r"^(\d{4})[-/](\d{1,2})[-/](\d{1,2})[ T](\d{1,2}):(\d{2})(?::(\d{2})(?:\.(\d{1,9}))?)?"
    r"\s*(Z|[+-]\d{2}:?\d{2})?$"
)
_PREVIOUS = tuple(f"previousrun{i}" for i in range(7))
_BASE: Row = {"event.category": "process", "event.action": "program-executed"}


class _Bad(Exception):
    """A row that can't be read; the message is the reject reason."""


def parse_time(text: str) -> datetime | None:
    """An EZ tool time (UTC, no offset unless one is written); None when empty."""
    text = text.strip()
    if not text:
        return None
    m = _TIME_RE.match(text)
    if m is None:
        raise ValueError(text)
    y, mo, d, h, mi, s, frac, off = m.groups()
    us = int((frac or "0")[:6].ljust(6, "0"))
    t = datetime(int(y), int(mo), int(d), int(h), int(mi), int(s or 0), us, tzinfo=UTC)
    if off and off != "Z":
        sign = 1 if off[0] == "+" else -1
        digits = off[1:].replace(":", "")
        t -= sign * timedelta(hours=int(digits[:2]), minutes=int(digits[2:]))
    return t


# -- the file kinds ----------------------------------------------------------------


@dataclass(frozen=True)
class _Kind:
    name: str
    needs: frozenset[str]  # lower-case header names that identify the kind
    # (row by lower-case header, original header spelling by lower-case name) -> events
    events: Callable[[dict[str, str], dict[str, str]], list[Row]]


def _t(row: dict[str, str], col: str, required: bool = False) -> datetime | None:
    raw = row.get(col, "")
    try:
        t = parse_time(raw)
    except ValueError:  # no match, or out of range (month 13...)
        name = _HEADER_CASE.get(col, col)
        raise _Bad(f"can't read the time in column {name!r}: {raw!r}") from None
    if t is None and required:
        raise _Bad(f"no time in column {_HEADER_CASE.get(col, col)!r}")
    return t


# display names for reject reasons (header case as the tools write it)
_HEADER_CASE = {
    "lastrun": "LastRun",
    "runtime": "RunTime",
    "filekeylastwritetimestamp": "FileKeyLastWriteTimestamp",
    "fileidlastwritetimestamp": "FileIDLastWriteTimestamp",
    "keylastwritetimestamp": "KeyLastWriteTimestamp",
    "lastwritetimestamp": "LastWriteTimestamp",
    "lastmodifiedtimeutc": "LastModifiedTimeUTC",
    "installdate": "InstallDate",
    "linkdate": "LinkDate",
    "sourcecreated": "SourceCreated",
    "volume0created": "Volume0Created",
    "created": "Created",
    "lastmodified": "LastModified",
    "lastmodifiedstore": "LastModifiedStore",
    "volumeidlastwritetimestamp": "VolumeIDLastWriteTimestamp",
}


def _int(text: str | None) -> int | None:
    text = (text or "").strip().replace(",", "")
    return int(text) if text.lstrip("-").isdigit() else None


def _basename(path: str) -> str:
    return re.split(r"[\\/]", path)[-1]


def _exe_path(name: str, loaded: str) -> str | None:
    """The entry of PECmd's FilesLoaded (", " separated) that is the executable itself."""
    return find_executable(name, [f.strip() for f in loaded.split(", ") if f.strip()])


def _pecmd(row: dict[str, str], _names: dict[str, str]) -> list[Row]:
    name = row.get("executablename", "").strip()
    times: list[datetime] = []
    for col in ("lastrun", *_PREVIOUS):
        t = _t(row, col)
        if t is not None:
            times.append(t)
    if not times:
        failed = row.get("parsingerror", "").strip().lower() == "true"
        raise _Bad("no run time in LastRun/PreviousRun0-6"
                   + (" (PECmd could not parse this prefetch file)" if failed else ""))  # fmt: skip
    path = _exe_path(name, row.get("filesloaded", ""))
    run_count = _int(row.get("runcount"))
    common: Row = {
        **_BASE,
        "event.dataset": "windows.prefetch",
        "event.provider": "prefetch",
        "process.name": name or None,
        "process.executable": path,
        "file.path": path,
        "run_count": run_count,
        "prefetch_hash": row.get("hash") or None,
        "prefetch_file": row.get("sourcefilename") or None,
        "prefetch_version": row.get("version") or None,
        "prefetch_created": _t(row, "sourcecreated"),
        "volume_name": row.get("volume0name") or None,
        "volume_serial": row.get("volume0serial") or None,
        "volume_created": _t(row, "volume0created"),
        "note": row.get("note") or None,
    }
    out = []
    for i, t in enumerate(times, 1):
        msg = f"{name} executed (prefetch run {i} of {len(times)} recorded"
        msg += f", run count {run_count})" if run_count is not None else ")"
        out.append({**common, "@timestamp": t, "run_index": i, "message": msg})
    return out


def _timeline(row: dict[str, str], _names: dict[str, str]) -> list[Row]:
    exe = row.get("executablename", "").strip()
    if not exe:
        raise _Bad("no ExecutableName")
    full = exe if ("\\" in exe or "/" in exe) else None
    return [{
        **_BASE,
        "@timestamp": _t(row, "runtime", required=True),
        "event.dataset": "windows.prefetch",
        "event.provider": "prefetch",
        "process.name": _basename(exe),
        "process.executable": full,
        "file.path": full,
        "message": f"{_basename(exe)} executed (prefetch timeline)",
    }]  # fmt: skip


_AMCACHE_MAPPED = frozenset(
    ("filekeylastwritetimestamp", "fileidlastwritetimestamp", "fullpath", "name", "sha1")
)
_AMCACHE_TIME = (
    "Amcache key last write: when Windows recorded the file, usually its first run"
)


def _amcache_file(row: dict[str, str], names: dict[str, str]) -> list[Row]:
    old = "fileidlastwritetimestamp" in row
    when = _t(row, "fileidlastwritetimestamp" if old else "filekeylastwritetimestamp", True)
    path = row.get("fullpath", "").strip()
    name = row.get("name", "").strip() or (_basename(path) if path else "")
    if not path and not name:
        raise _Bad("no FullPath or Name")
    sha1 = row.get("sha1", "").strip().lower()
    if len(sha1) == 44 and sha1.startswith("0000"):  # the raw FileId value
        sha1 = sha1[4:]
    out: Row = {
        **_BASE,
        "@timestamp": when,
        "event.dataset": "windows.amcache",
        "event.provider": "amcache",
        "process.name": name,
        "process.executable": path or None,
        "file.path": path or None,
        "file.hash": f"SHA1={sha1}" if sha1 else None,
        "file.size": _int(row.get("filesize") if old else row.get("size")),
        "time_meaning": _AMCACHE_TIME,
        "message": f"{name} recorded in Amcache" + (f" ({path})" if path else ""),
    }
    if old:
        out["file.created"] = _t(row, "created")
        out["file.mtime"] = _t(row, "lastmodified")
    for key, value in row.items():
        if key in _AMCACHE_MAPPED or key in ("size", "filesize", "created", "lastmodified"):
            continue
        if key in _HEADER_CASE:
            out[_HEADER_CASE[key]] = _t(row, key)
        elif value.strip():
            out[names.get(key, key)] = value.strip()
    return [out]


def _amcache_program(row: dict[str, str], names: dict[str, str]) -> list[Row]:
    old = "programname_0" in row
    written = _t(row, "lastwritetimestamp" if old else "keylastwritetimestamp", True)
    installed = None if old else _t(row, "installdate")
    name = (row.get("programname_0") if old else row.get("name")) or ""
    version = (row.get("programversion_1") if old else row.get("version")) or ""
    publisher = (row.get("vendorname_2") if old else row.get("publisher")) or ""
    out: Row = {
        "@timestamp": installed or written,
        "event.dataset": "windows.amcache",
        "event.provider": "amcache",
        "event.category": "package",
        "event.action": "program-installed",
        "time_meaning": "install date" if installed else "Amcache key last write",
        "message": f"program installed: {name} {version}".rstrip()
        + (f" ({publisher})" if publisher else ""),
    }
    for key, value in row.items():
        if value.strip() and key not in ("keylastwritetimestamp", "lastwritetimestamp"):
            out[names.get(key, key)] = value.strip()
    return [out]


def _shimcache(row: dict[str, str], _names: dict[str, str]) -> list[Row]:
    path = row.get("path", "").strip()
    if not path:
        raise _Bad("no Path")
    when = _t(row, "lastmodifiedtimeutc", required=True)
    executed = row.get("executed", "").strip()
    ran = executed.lower() == "yes"
    return [{
        "@timestamp": when,
        "event.dataset": "windows.shimcache",
        "event.provider": "shimcache",
        "event.category": "process",
        "event.action": "program-executed" if ran else "program-seen",
        "process.name": _basename(path),
        "process.executable": path,
        "file.path": path,
        "file.mtime": when,
        "time_meaning": "file last modified (ShimCache), not the execution time",
        "executed": executed or None,
        "cache_entry_position": _int(row.get("cacheentryposition")),
        "control_set": _int(row.get("controlset")),
        "duplicate": (row.get("duplicate", "").strip().lower() == "true") or None,
        "source_file": row.get("sourcefile") or None,
        "message": f"{_basename(path)} in the ShimCache"
        + (" (executed flag set)" if ran else ""),
    }]  # fmt: skip


_KINDS: tuple[_Kind, ...] = (
    _Kind("pecmd", frozenset(("executablename", "runcount", "lastrun")), _pecmd),
    _Kind("pecmd-timeline", frozenset(("runtime", "executablename")), _timeline),
    _Kind("amcache-file", frozenset(("filekeylastwritetimestamp", "sha1", "fullpath")),
          _amcache_file),
    _Kind("amcache-file-old", frozenset(("fileidlastwritetimestamp", "sha1", "fullpath")),
          _amcache_file),
    _Kind("amcache-program", frozenset(("programid", "keylastwritetimestamp", "installdate")),
          _amcache_program),
    _Kind("amcache-program-old", frozenset(("programid", "lastwritetimestamp", "programname_0")),
          _amcache_program),
    _Kind("shimcache", frozenset(("path", "lastmodifiedtimeutc", "cacheentryposition")),
          _shimcache),
)  # fmt: skip

def _split(line: str) -> list[str] | None:
    line = line.lstrip("\ufeff")
    delim = "\t" if line.count("\t") > line.count(",") else ","
    try:
        return next(csv.reader([line], delimiter=delim))
    except (csv.Error, StopIteration):
        return None


def _kind_of(header: list[str]) -> _Kind | None:
    names = {h.strip().lower() for h in header}
    for kind in _KINDS:
        if kind.needs <= names:
            return kind
    return None


def _sniff(sample: Sample) -> bool:
    lines = sample.first_lines(1)
    if not lines:
        return False
    first = lines[0]
    low = first.lower()
    if not any(k in low for k in ("executablename", "sha1", "programid", "lastmodifiedtimeutc")):
        return False
    header = _split(first)
    return header is not None and _kind_of(header) is not None


def _parse(source: Source) -> Iterator[pa.RecordBatch]:
    rows = Rows(source)
    with source.text_stream() as fh:
        first = fh.readline()
        header = _split(first.rstrip("\r\n"))
        kind = _kind_of(header) if header else None
        if header is None or kind is None:
            source.reject(1, "not a PECmd, AmcacheParser or AppCompatCacheParser header", first)
            return
        delim = "\t" if first.count("\t") > first.count(",") else ","
        keys = [h.strip().lower() for h in header]
        names = {k: h.strip() for k, h in zip(keys, header, strict=True)}
        reader = csv.reader(fh, delimiter=delim)
        line = 2  # the line the next record starts on
        while True:
            start = line
            try:
                fields = next(reader)
            except StopIteration:
                break
            except csv.Error as exc:
                source.reject(start, f"CSV error: {exc}", b"")
                line = reader.line_num + 2
                continue
            line = reader.line_num + 2
            if not fields or (len(fields) == 1 and not fields[0].strip()):
                continue  # blank line
            if len(fields) != len(keys):
                source.reject(start, f"expected {len(keys)} fields (as in the header), "
                              f"got {len(fields)}", delim.join(fields))  # fmt: skip
                continue
            try:
                events = kind.events(dict(zip(keys, fields, strict=True)), names)
            except _Bad as exc:
                source.reject(start, str(exc), delim.join(fields))
                continue
            for ev in events:
                batch = rows.add(start, ev)
                if batch is not None:
                    yield batch
    last = rows.flush()
    if last is not None:
        yield last


FORMAT = Format(
    name="ez_execution_csv",
    dataset="windows.execution",
    description="Program execution history from Eric Zimmerman's tools: PECmd (Prefetch) "
    "CSV and timeline, AmcacheParser file/program entries, AppCompatCacheParser (ShimCache)",
    sniff=_sniff,
    parse=_parse,
    fields=(
        "@timestamp", "event.dataset", "event.category", "event.action", "event.provider",
        "process.name", "process.executable", "file.path", "file.hash", "file.size",
        "file.created", "file.mtime", "message",
    ),
)  # fmt: skip
