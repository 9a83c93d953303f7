"""The Amcache registry hive (``C:\\Windows\\AppCompat\\Programs\\Amcache.hve``), read directly.

Windows records here the executables it has seen run or inventoried, with their full
path and SHA1, so it survives the deletion of the payload. The hive is read with
``regipy`` when it is installed (``pip install ashiato[artifacts]``); without it the file
is one reject saying how to proceed (install it, or run AmcacheParser and ingest its CSV,
see :mod:`ashiato.formats.ez_csv`).

- ``Root\\InventoryApplicationFile\\*`` (Windows 10/11) and ``Root\\File\\{volume}\\*``
  (Windows 7 with the compatibility update, 8, 8.1) -> one ``windows.amcache`` event per
  file: category ``process``, action ``program-executed``, ``process.executable`` /
  ``file.path`` = the recorded full path (Windows 10 stores it lower case),
  ``file.hash`` = ``SHA1=<hex>``, ``file.size``. ``@timestamp`` = **the key's last write**:
  when Windows recorded the file, usually its first run; it is not updated at each run
  and a file can be inventoried without running, so read it as "present, most likely
  run, by then". ``LinkDate`` (PE compile time) and the rest go to ``extra``.
- ``Root\\InventoryApplication\\*`` (installed programs) -> category ``package``, action
  ``program-installed``, ``@timestamp`` = ``InstallDate`` when readable, else the key's
  last write.

A "dirty" hive copied from a running system may lack its latest entries, which sit in
``Amcache.hve.LOG1/LOG2``; those logs are not replayed here (AmcacheParser does).
``record`` numbers the entries in hive order (1-based). Transaction-log files, which
also begin with ``regf``, are not claimed.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import pyarrow as pa

from ashiato.formats.base import Format, Rows, Sample, Source
from ashiato.formats.prefetch import filetime

INSTALL_HINT = (
    "Amcache.hve needs regipy: install ashiato[artifacts], "
    "or parse it with AmcacheParser and ingest its CSV"
)
TIME_MEANING = "Amcache key last write: when Windows recorded the file, usually its first run"
# Windows 7/8 Root\File values are numbered; the names responders use
_OLD_FILE = {
    "0": "ProductName", "1": "CompanyName", "2": "FileVersionNumber", "3": "LanguageCode",
    "5": "FileVersionString", "6": "FileSize", "c": "FileDescription", "f": "LinkDate",
    "11": "LastModified", "12": "Created", "15": "FullPath", "17": "LastModifiedStore",
    "100": "ProgramID", "101": "SHA1",
}  # fmt: skip
_US_TIME = re.compile(r"^(\d{1,2})/(\d{1,2})/(\d{4}) (\d{1,2}):(\d{2}):(\d{2})$")


def _sniff(sample: Sample) -> bool:
    head = sample.head
    if len(head) < 0x70 or head[:4] != b"regf" or head[0x1C:0x20] != b"\x00\x00\x00\x00":
        return False  # not a hive, or a transaction log (file type 1/2)
    name = head[0x30:0x70].decode("utf-16-le", errors="replace").lower()
    return "amcache" in name or b"InventoryApplicationFile" in head


def _clean(value: Any) -> Any:
    if isinstance(value, bytes):
        return value.hex()
    if isinstance(value, str):
        return value.rstrip("\x00")
    return value


def _values(key: Any) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for v in key.iter_values(as_json=True, trim_values=False) or ():
        out[str(v.name)] = _clean(v.value)
    return out


def _us_time(text: Any) -> datetime | None:
    """Amcache's ``MM/dd/yyyy HH:mm:ss`` strings (UTC)."""
    m = _US_TIME.match(str(text or "").strip())
    if m is None:
        return None
    mo, d, y, h, mi, s = (int(g) for g in m.groups())
    try:
        return datetime(y, mo, d, h, mi, s, tzinfo=UTC)
    except ValueError:
        return None


def _int(value: Any) -> int | None:
    if isinstance(value, int):
        return value
    text = str(value or "").strip()
    if re.fullmatch(r"\d+", text):
        return int(text)
    if re.fullmatch(r"0x[0-9a-fA-F]+", text):
        return int(text, 16)
    return None


def _sha1(value: Any) -> str | None:
    text = str(value or "").strip().lower()
    if len(text) == 44 and text.startswith("0000"):
        text = text[4:]
    return f"SHA1={text}" if re.fullmatch(r"[0-9a-f]{40}", text) else None


def _file_event(key: Any, old: bool) -> dict[str, Any]:
    vals = _values(key)
    if old:
        vals = {_OLD_FILE.get(k, k): v for k, v in vals.items()}
        path = str(vals.pop("FullPath", "") or "")
        sha1 = vals.pop("SHA1", None)
        size = _int(vals.pop("FileSize", None))
        name = path.rsplit("\\", 1)[-1]
    else:
        path = str(vals.pop("LowerCaseLongPath", "") or "")
        sha1 = vals.pop("FileId", None)
        size = _int(vals.pop("Size", None))
        name = str(vals.pop("Name", "") or "") or path.rsplit("\\", 1)[-1]
    row: dict[str, Any] = {
        "@timestamp": filetime(key.header.last_modified),
        "event.dataset": "windows.amcache",
        "event.provider": "amcache",
        "event.category": "process",
        "event.action": "program-executed",
        "process.name": name or None,
        "process.executable": path or None,
        "file.path": path or None,
        "file.hash": _sha1(sha1),
        "file.size": size,
        "message": f"{name} recorded in Amcache" + (f" ({path})" if path else ""),
        "time_meaning": TIME_MEANING,
        "amcache_key": key.name,
    }
    if old:
        for col, field in (("Created", "file.created"), ("LastModified", "file.mtime")):
            t = vals.pop(col, None)
            row[field] = filetime(t) if isinstance(t, int) else None
        link = vals.pop("LinkDate", None)
        if isinstance(link, int) and link > 0:
            vals["LinkDate"] = datetime.fromtimestamp(link, UTC)
        store = vals.pop("LastModifiedStore", None)
        if isinstance(store, int):
            vals["LastModifiedStore"] = filetime(store)
    elif "LinkDate" in vals:
        vals["LinkDate"] = _us_time(vals["LinkDate"]) or vals["LinkDate"]
    for k, v in vals.items():
        if v not in (None, "", 0) and k not in row:
            row[k] = v
    return row


def _program_event(key: Any) -> dict[str, Any]:
    vals = _values(key)
    installed = _us_time(vals.get("InstallDate"))
    name, version = vals.get("Name") or key.name, vals.get("Version") or ""
    publisher = vals.get("Publisher") or ""
    row: dict[str, Any] = {
        "@timestamp": installed or filetime(key.header.last_modified),
        "event.dataset": "windows.amcache",
        "event.provider": "amcache",
        "event.category": "package",
        "event.action": "program-installed",
        "message": f"program installed: {name} {version}".rstrip()
        + (f" ({publisher})" if publisher else ""),
        "time_meaning": "install date" if installed else "Amcache key last write",
        "amcache_key": key.name,
    }
    for k, v in vals.items():
        if v not in (None, "") and k not in row:
            row[k] = v
    return row


def _entries(hive: Any) -> Iterator[tuple[str, Any, bool]]:
    """(kind, key, old layout) for every file and program entry in the hive."""
    from regipy.exceptions import RegistryKeyNotFoundException

    def key(path: str) -> Any:
        try:
            return hive.get_key(path)
        except RegistryKeyNotFoundException:
            return None

    files = key("\\Root\\InventoryApplicationFile")
    for sub in (files.iter_subkeys() if files else None) or ():
        yield "file", sub, False
    old = key("\\Root\\File")
    for volume in (old.iter_subkeys() if old else None) or ():
        for sub in volume.iter_subkeys() or ():
            yield "file", sub, True
    programs = key("\\Root\\InventoryApplication")
    for sub in (programs.iter_subkeys() if programs else None) or ():
        yield "program", sub, False


def _parse(source: Source) -> Iterator[pa.RecordBatch]:
    try:
        from regipy.registry import RegistryHive
    except ImportError:  # the optional artifacts extra
        source.reject(0, INSTALL_HINT, b"")
        return
    try:
        opener: Any = RegistryHive  # typed or not, depending on the regipy release
        hive = opener(str(source.path))
    except Exception as exc:  # regipy raises construct and its own errors alike
        source.reject(0, f"not a readable registry hive: {type(exc).__name__}: {exc}", b"")
        return
    rows = Rows(source)
    record = 0
    entries = _entries(hive)
    while True:
        try:
            kind, sub, old = next(entries)
        except StopIteration:
            break
        except Exception as exc:  # a damaged key list: what was read stays
            source.reject(record + 1, f"damaged hive, reading stopped: {exc}", b"")
            break
        record += 1
        try:
            row = _program_event(sub) if kind == "program" else _file_event(sub, old)
        except Exception as exc:  # one damaged key
            source.reject(record, f"damaged Amcache entry {sub.name!r}: {exc}", b"")
            continue
        if row["@timestamp"] is None:
            source.reject(record, f"Amcache entry {sub.name!r} has no usable time", b"")
            continue
        batch = rows.add(record, row)
        if batch is not None:
            yield batch
    if record == 0:
        source.reject(0, "no Amcache file or program entries in this hive", b"")
    batch = rows.flush()
    if batch is not None:
        yield batch


FORMAT = Format(
    name="amcache",
    dataset="windows.amcache",
    description="Amcache.hve registry hive: executables Windows recorded (path, SHA1) and "
    "installed programs (needs ashiato[artifacts])",
    sniff=_sniff,
    parse=_parse,
    fields=(
        "@timestamp", "event.category", "event.action", "event.provider", "process.name",
        "process.executable", "file.path", "file.hash", "file.size", "file.created",
        "file.mtime", "message",
    ),
    binary=True,
)  # fmt: skip
