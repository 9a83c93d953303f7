"""Windows Prefetch files (``C:\\Windows\\Prefetch\\<EXE>-<HASH>.pf``), read directly.

Prefetch is on by default on client Windows (not on servers) and shows that a program
ran, how often, and when: one timestamp on XP/Vista/7, up to eight from Windows 8 on.
Layout (format versions 17 XP, 23 Vista/7, 26 8.1, 30 10, 31 11): an 84-byte header
(version, ``SCCA``, executable name in UTF-16 cut to 29 characters, path hash), a file
information block (section offsets, last run FILETIMEs, run count), the list of files
the program loaded in its first seconds (full device paths, ``\\VOLUME{...}\\...`` or
``\\DEVICE\\HARDDISKVOLUME1\\...``), and the volumes (device path, serial, creation time).

Windows 10 and 11 compress the file (``MAM\\x04`` + size + LZXPRESS Huffman). That is
decompressed with ``dissect.util`` when it is installed (``pip install
ashiato[artifacts]``); without it such a file is one reject saying how to proceed
(install it, or run PECmd and ingest its CSV, see :mod:`ashiato.formats.ez_csv`).

One event per recorded run time (``windows.prefetch``, category ``process``, action
``program-executed``, ``@timestamp`` = that run, UTC). ``process.executable`` and
``file.path`` are the executable's full path as the loaded-files list has it (upper
case device form, e.g. ``\\VOLUME{...}\\USERS\\TANAKA\\...\\CONTENT.IE5\\AB12CD34\\X9K2.TMP``),
``process.name`` the header's name. ``extra``: ``run_count``, ``run_index`` (1 = last
run), ``prefetch_hash``, ``prefetch_version``, ``volume_name``, ``volume_serial``,
``volume_created``, ``files_loaded`` (how many). ``record`` = ``run_index``.
"""

from __future__ import annotations

import re
import struct
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

import pyarrow as pa

from ashiato.formats.base import Format, Rows, Sample, Source

SIGNATURE = b"SCCA"
VERSIONS = {17: "Windows XP/2003", 23: "Windows Vista/7", 26: "Windows 8.1", 30: "Windows 10",
            31: "Windows 11"}  # fmt: skip
MAX_BYTES = 64 << 20  # real prefetch files are kilobytes; anything this big isn't one
INSTALL_HINT = (
    "Windows 10 compressed prefetch: install ashiato[artifacts] (dissect.util) to read it, "
    "or parse with PECmd and ingest its CSV"
)
_EPOCH = datetime(1601, 1, 1, tzinfo=UTC)
_HEADER = 84


class PrefetchError(ValueError):
    """Not a prefetch file this reader can use; the message says why."""


@dataclass
class Volume:
    device: str
    serial: str
    created: datetime | None


@dataclass
class Prefetch:
    version: int
    name: str
    hash: str
    run_count: int
    run_times: list[datetime]
    files: list[str] = field(default_factory=list)
    volumes: list[Volume] = field(default_factory=list)
    bad_times: list[tuple[int, int]] = field(default_factory=list)  # (slot, raw FILETIME)


def filetime(value: int) -> datetime | None:
    """A FILETIME (100 ns since 1601, UTC); None for 0 or a value past year 9999."""
    if value <= 0:
        return None
    try:
        return _EPOCH + timedelta(microseconds=value // 10)
    except OverflowError:
        return None


def find_executable(name: str, files: list[str]) -> str | None:
    """The loaded file that is the executable itself (the header keeps 29 characters)."""
    if not name:
        return None
    want = name.upper()
    for f in files:
        if re.split(r"[\\/]", f)[-1].upper() == want:
            return f
    if len(name) >= 29:
        for f in files:
            if re.split(r"[\\/]", f)[-1].upper().startswith(want):
                return f
    return None


def decompress(data: bytes) -> bytes:
    """Undo the ``MAM`` compression of Windows 10/11 prefetch files."""
    if len(data) < 8:
        raise PrefetchError("MAM header cut short")
    kind = data[3]
    size = struct.unpack_from("<I", data, 4)[0]
    body = data[12:] if kind & 0x80 else data[8:]  # 0x80: a CRC32 follows the size
    if size > MAX_BYTES:
        raise PrefetchError(f"MAM header claims {size} bytes uncompressed; not a prefetch file")
    try:
        from dissect.util.compression import lznt1, lzxpress, lzxpress_huffman
    except ImportError:
        raise PrefetchError(INSTALL_HINT) from None
    algo = kind & 0x0F
    codecs = {4: lzxpress_huffman.decompress, 3: lzxpress.decompress, 2: lznt1.decompress}
    if algo not in codecs:
        raise PrefetchError(f"unknown MAM compression type {algo}")
    try:
        out = codecs[algo](body)
    except Exception as exc:  # damaged streams surface as any exception in the library
        raise PrefetchError(f"damaged compressed prefetch: {type(exc).__name__}: {exc}") from None
    if len(out) < size:
        raise PrefetchError(f"compressed prefetch decompressed to {len(out)} of {size} bytes")
    return bytes(out[:size])


def _cut(off: int, buf: bytes) -> PrefetchError:
    return PrefetchError(f"file cut short or damaged: offset {off} is past its end "
                         f"({len(buf)} bytes)")  # fmt: skip


def _u32(buf: bytes, off: int) -> int:
    if off < 0 or off + 4 > len(buf):
        raise _cut(off, buf)
    return int(struct.unpack_from("<I", buf, off)[0])


def _u64(buf: bytes, off: int) -> int:
    if off < 0 or off + 8 > len(buf):
        raise _cut(off, buf)
    return int(struct.unpack_from("<Q", buf, off)[0])


def _utf16(buf: bytes, off: int, nbytes: int) -> str:
    raw = buf[off : off + nbytes]
    return raw.decode("utf-16-le", errors="replace").split("\x00", 1)[0]


def parse_scca(buf: bytes) -> Prefetch:
    """Read an uncompressed prefetch file (raises PrefetchError saying what is wrong)."""
    if len(buf) < _HEADER or buf[4:8] != SIGNATURE:
        raise PrefetchError("no SCCA signature: not a prefetch file")
    version = _u32(buf, 0)
    if version not in VERSIONS:
        raise PrefetchError(f"unknown prefetch format version {version}")
    name = _utf16(buf, 16, 60)
    hash_ = f"{_u32(buf, 76):08X}"
    info = _HEADER
    metrics_off = _u32(buf, info)
    names_off, names_size = _u32(buf, info + 16), _u32(buf, info + 20)
    vol_off, vol_count = _u32(buf, info + 24), _u32(buf, info + 28)
    if version == 17:
        slots, count_at = [info + 36], info + 60
    elif version == 23:
        slots, count_at = [info + 44], info + 68
    else:
        slots = [info + 44 + 8 * i for i in range(8)]
        # Windows 10 builds shortened the information block by 8 bytes; the metrics
        # array starts right after it, so its offset tells the two layouts apart
        count_at = info + 116 if version >= 30 and metrics_off - info < 220 else info + 124
    run_times: list[datetime] = []
    bad: list[tuple[int, int]] = []
    for i, off in enumerate(slots, 1):
        raw = _u64(buf, off)
        t = filetime(raw)
        if t is not None:
            run_times.append(t)
        elif raw:
            bad.append((i, raw))
    pf = Prefetch(version, name, hash_, _u32(buf, count_at), run_times, bad_times=bad)
    if names_off and names_size and names_off + names_size <= len(buf):
        text = buf[names_off : names_off + names_size].decode("utf-16-le", errors="replace")
        pf.files = [f for f in text.split("\x00") if f]
    entry = 40 if version == 17 else 96 if version >= 30 else 104
    if vol_count > 256:
        raise PrefetchError(f"{vol_count} volumes claimed; the file is damaged")
    for i in range(vol_count):
        at = vol_off + i * entry
        dev_off, dev_chars = _u32(buf, at), _u32(buf, at + 4)
        device = _utf16(buf, vol_off + dev_off, min(dev_chars, 32768) * 2)
        pf.volumes.append(Volume(device, f"{_u32(buf, at + 16):08X}", filetime(_u64(buf, at + 8))))
    return pf


def read(data: bytes) -> Prefetch:
    """Read a prefetch file's bytes, compressed or not."""
    if data[:3] == b"MAM":
        data = decompress(data)
    return parse_scca(data)


def _sniff(sample: Sample) -> bool:
    head = sample.head
    if len(head) >= 8 and head[4:8] == SIGNATURE:
        return int.from_bytes(head[:4], "little") in VERSIONS
    return len(head) >= 8 and head[:3] == b"MAM" and head[3] & 0x7F in (2, 3, 4)


def _parse(source: Source) -> Iterator[pa.RecordBatch]:
    size = source.path.stat().st_size
    if size > MAX_BYTES:
        source.reject(0, f"{size} bytes: too large for a prefetch file", b"")
        return
    data = source.path.read_bytes()
    try:
        pf = read(data)
    except PrefetchError as exc:
        source.reject(0, str(exc), data[:512])
        return
    for slot, raw in pf.bad_times:
        source.reject(slot, f"run time slot {slot}: invalid FILETIME 0x{raw:016X}", b"")
    if not pf.run_times:
        source.reject(0, f"{pf.name}: no run time recorded in the prefetch file", data[:512])
        return
    path = find_executable(pf.name, pf.files)
    vol = _volume_of(path, pf.volumes)
    rows = Rows(source)
    n = len(pf.run_times)
    for i, t in enumerate(pf.run_times, 1):
        rows.add(i, {
            "@timestamp": t,
            "event.dataset": "windows.prefetch",
            "event.provider": "prefetch",
            "event.category": "process",
            "event.action": "program-executed",
            "process.name": pf.name,
            "process.executable": path,
            "file.path": path,
            "message": f"{pf.name} executed (prefetch run {i} of {n} recorded, "
                       f"run count {pf.run_count})",
            "run_index": i,
            "run_count": pf.run_count,
            "prefetch_hash": pf.hash,
            "prefetch_version": f"{pf.version} ({VERSIONS[pf.version]})",
            "volume_name": vol.device if vol else None,
            "volume_serial": vol.serial if vol else None,
            "volume_created": vol.created if vol else None,
            "files_loaded": len(pf.files),
        })  # fmt: skip
    batch = rows.flush()
    if batch is not None:
        yield batch


def _volume_of(path: str | None, volumes: list[Volume]) -> Volume | None:
    if path:
        for v in volumes:
            if v.device and path.upper().startswith(v.device.upper()):
                return v
    return volumes[0] if volumes else None


FORMAT = Format(
    name="prefetch",
    dataset="windows.prefetch",
    description="Windows Prefetch files (.pf), XP to 11 (Windows 10/11 compressed ones need "
    "ashiato[artifacts])",
    sniff=_sniff,
    parse=_parse,
    fields=(
        "@timestamp", "event.category", "event.action", "event.provider", "process.name",
        "process.executable", "file.path", "message",
    ),
    binary=True,
)  # fmt: skip
