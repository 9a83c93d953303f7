"""Amcache.hve read with regipy, on a synthetic hive built here (regf layout as
documented: base block, one hive bin, nk/vk/lh cells), committed under
tests/data/amcache and checked to stay byte-identical to what the builder makes."""

from __future__ import annotations

import importlib.util
import struct
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import pytest
from helpers import DATA, assert_claims_nothing_in_the_public_corpus, rows_by_record, sample_of

from ashiato.formats import registry
from ashiato.formats.amcache import FORMAT, INSTALL_HINT, TIME_MEANING
from ashiato.formats.testing import parse_file

AM = DATA / "amcache"
HIVE = AM / "Amcache.hve"
needs_regipy = pytest.mark.skipif(
    importlib.util.find_spec("regipy") is None,
    reason="regipy not installed (pip install ashiato[artifacts])",
)
_EPOCH = datetime(1601, 1, 1, tzinfo=UTC)
REG_SZ, REG_BINARY, REG_DWORD, REG_QWORD = 1, 3, 4, 11


# -- a minimal registry hive writer -------------------------------------------------


def ft(t: datetime | None) -> int:
    if t is None:
        return 0
    d = t - _EPOCH
    return (d.days * 86400 + d.seconds) * 10_000_000 + d.microseconds * 10


@dataclass
class Key:
    name: str
    written: datetime | None = None
    values: list[tuple[str, int, Any]] = field(default_factory=list)
    subkeys: list[Key] = field(default_factory=list)


def _data(kind: int, value: Any) -> bytes:
    if kind == REG_SZ:
        return str(value).encode("utf-16-le") + b"\x00\x00"
    if kind == REG_DWORD:
        return struct.pack("<I", value)
    if kind == REG_QWORD:
        return struct.pack("<Q", value)
    return bytes(value)


def _name(name: str) -> tuple[bytes, bool]:
    try:
        return name.encode("ascii"), True
    except UnicodeEncodeError:
        return name.encode("utf-16-le"), False


def _lh_hash(name: str) -> int:
    h = 0
    for c in name.upper():
        h = (h * 37 + ord(c)) & 0xFFFFFFFF
    return h


class _Bin:
    def __init__(self) -> None:
        self.buf = bytearray()

    def alloc(self, data: bytes) -> int:
        off = 0x20 + len(self.buf)  # offsets count from the first hive bin
        size = (4 + len(data) + 7) & ~7
        self.buf += struct.pack("<i", -size) + data + b"\x00" * (size - 4 - len(data))
        return off

    def patch(self, off: int, at: int, fmt: str, *values: int) -> None:
        struct.pack_into(fmt, self.buf, off - 0x20 + 4 + at, *values)

    def key(self, k: Key, parent: int, root: bool = False) -> int:
        raw, ascii_name = _name(k.name)
        flags = (0x20 if ascii_name else 0) | (0x0C if root else 0)
        nk = b"nk" + struct.pack("<HQ4sI", flags, ft(k.written), b"\x00" * 4, parent)
        nk += b"\x00" * (72 - len(nk)) + struct.pack("<HH", len(raw), 0) + raw
        off = self.alloc(nk)
        children = [self.key(c, off) for c in k.subkeys]
        sub_list = 0xFFFFFFFF
        if children:
            body = b"".join(struct.pack("<II", o, _lh_hash(c.name))
                            for o, c in zip(children, k.subkeys, strict=True))  # fmt: skip
            sub_list = self.alloc(b"lh" + struct.pack("<H", len(children)) + body)
        vks = []
        for name, kind, value in k.values:
            data = _data(kind, value)
            vname, vascii = _name(name)
            if len(data) <= 4:
                size, where = 0x80000000 | len(data), int.from_bytes(data.ljust(4, b"\0"), "little")
            else:
                size, where = len(data), self.alloc(data)
            vk = b"vk" + struct.pack("<HIIIHH", len(vname), size, where, kind, int(vascii), 0)
            vks.append(self.alloc(vk + vname))
        val_list = self.alloc(b"".join(struct.pack("<I", v) for v in vks)) if vks else 0xFFFFFFFF
        self.patch(off, 20, "<IIII", len(children), 0, sub_list, 0xFFFFFFFF)
        self.patch(off, 36, "<IIII", len(vks), val_list, 0xFFFFFFFF, 0xFFFFFFFF)
        return off


def build_hive(root: Key, file_name: str = "\\??\\C:\\Windows\\AppCompat\\Programs\\Amcache.hve",
               file_type: int = 0) -> bytes:  # fmt: skip
    b = _Bin()
    b.key(root, 0xFFFFFFFF, root=True)
    size = (0x20 + len(b.buf) + 4 + 4095) // 4096 * 4096
    free = size - 0x20 - len(b.buf)
    hbin = b"hbin" + struct.pack("<IIIIQI", 0, size, 0, 0, 0, 0)
    hbin += bytes(b.buf) + struct.pack("<i", free) + b"\x00" * (free - 4)
    base = bytearray(4096)
    struct.pack_into("<4sIIQIIIIIII", base, 0, b"regf", 1, 1, ft(datetime(2015, 9, 10, tzinfo=UTC)),
                     1, 5, file_type, 1, 0x20, size, 1)  # fmt: skip
    name = file_name[-31:].encode("utf-16-le")
    base[0x30 : 0x30 + len(name)] = name
    checksum = 0
    for i in range(0, 0x1FC, 4):
        checksum ^= struct.unpack_from("<I", base, i)[0]
    struct.pack_into("<I", base, 0x1FC, checksum)
    return bytes(base) + hbin


IE_PATH = ("c:\\users\\tanaka\\appdata\\local\\microsoft\\windows\\temporary internet files"
           "\\content.ie5\\ab12cd34\\x9k2.tmp")  # fmt: skip
SHA1 = "0a1b2c3d4e5f60718293a4b5c6d7e8f901234567"


def amcache_tree() -> Key:
    t = datetime(2015, 9, 9, 2, 45, 10, 555123, tzinfo=UTC)
    new_files = Key("InventoryApplicationFile", t, subkeys=[
        Key("x9k2.tmp|5a6b7c8d", t, [
            ("ProgramId", REG_SZ, "0000f1e2d3c4b5a6978800000000000000000000"),
            ("FileId", REG_SZ, "0000" + SHA1),
            ("LowerCaseLongPath", REG_SZ, IE_PATH),
            ("LongPathHash", REG_SZ, "x9k2.tmp|5a6b7c8d"),
            ("Name", REG_SZ, "x9k2.tmp"),
            ("LinkDate", REG_SZ, "09/01/2015 11:22:33"),
            ("Size", REG_QWORD, 231424),
            ("BinaryType", REG_SZ, "pe32_i386"),
            ("IsOsComponent", REG_DWORD, 0),
            ("IsPeFile", REG_DWORD, 1),
            ("Usn", REG_QWORD, 48211200),
        ]),
        Key("請求書.pdf.exe|1f2e3d4c", datetime(2015, 9, 9, 3, 2, 41, tzinfo=UTC), [
            ("LowerCaseLongPath", REG_SZ, "d:\\share\\営業\\見積\\請求書.pdf.exe"),
            ("Name", REG_SZ, "請求書.pdf.exe"),
            ("Size", REG_QWORD, 90112),
        ]),
        Key("notime.exe|00000000", None, [("Name", REG_SZ, "notime.exe")]),
    ])  # fmt: skip
    old_files = Key("File", t, subkeys=[
        Key("{a1b2c3d4-0000-11e4-8250-806e6f6e6963}", t, subkeys=[
            Key("1c", datetime(2015, 9, 9, 2, 45, 11, tzinfo=UTC), [
                ("15", REG_SZ, "C:\\Users\\tanaka\\AppData\\Local\\Temp\\Low\\x9k2.exe"),
                ("101", REG_SZ, "0000" + SHA1),
                ("6", REG_DWORD, 231424),
                ("11", REG_QWORD, ft(datetime(2015, 9, 9, 2, 45, 8, tzinfo=UTC))),
                ("12", REG_QWORD, ft(datetime(2015, 9, 9, 2, 45, 7, tzinfo=UTC))),
                ("f", REG_DWORD, 1441106553),  # 2015-09-01 11:22:33 UTC
                ("0", REG_SZ, "x9k2"),
            ]),
        ]),
    ])  # fmt: skip
    programs = Key("InventoryApplication", t, subkeys=[
        Key("0000abcdef0123456789abcdef0123456789abcd", datetime(2015, 9, 9, 4, tzinfo=UTC), [
            ("Name", REG_SZ, "Adobe Flash Player 18 ActiveX"),
            ("Version", REG_SZ, "18.0.0.203"),
            ("Publisher", REG_SZ, "Adobe Systems Incorporated"),
            ("InstallDate", REG_SZ, "07/15/2015 01:02:03"),
            ("RootDirPath", REG_SZ, "C:\\Windows\\SysWOW64\\Macromed\\Flash"),
        ]),
    ])  # fmt: skip
    return Key("{11517B7C-E79D-4e20-961B-75A811715ADD}", t, subkeys=[
        Key("Root", t, subkeys=[old_files, programs, new_files]),
    ])  # fmt: skip


def fixtures() -> dict[str, bytes]:
    hive = build_hive(amcache_tree())
    return {
        "Amcache.hve": hive,
        "Amcache.hve.LOG1": build_hive(amcache_tree(), file_type=1),
        "SYSTEM": build_hive(Key("ROOT", None, subkeys=[Key("Select")]),
                             file_name="\\SystemRoot\\System32\\Config\\SYSTEM"),
        "Amcache_cut.hve": hive[:4096 + 64],
    }  # fmt: skip


# -- tests --------------------------------------------------------------------------


def test_committed_fixtures_match_the_builder() -> None:
    for name, data in fixtures().items():
        assert (AM / name).read_bytes() == data, f"rebuild {name}: fixtures() changed"


@needs_regipy
def test_amcache_entries() -> None:
    table, rejects = parse_file(FORMAT, HIVE)
    rows = rows_by_record(table, keep_empty_strings=True)
    # hive order: Root\InventoryApplicationFile, then Root\File, then InventoryApplication
    assert sorted(rows) == [1, 2, 4, 5]
    assert [(r.record, r.reason) for r in rejects] == [
        (3, "Amcache entry 'notime.exe|00000000' has no usable time")
    ]
    assert rows[1] == {
        "@timestamp": datetime(2015, 9, 9, 2, 45, 10, 555123, tzinfo=UTC),
        "event.dataset": "windows.amcache",
        "event.provider": "amcache",
        "event.category": "process",
        "event.action": "program-executed",
        "message": f"x9k2.tmp recorded in Amcache ({IE_PATH})",
        "process.name": "x9k2.tmp",
        "process.executable": IE_PATH,
        "file.path": IE_PATH,
        "file.name": "x9k2.tmp",
        "file.extension": "tmp",
        "file.directory": IE_PATH.rsplit("\\", 1)[0],
        "file.size": 231424,
        "file.hash": f"SHA1={SHA1}",
        "extra": {
            "time_meaning": TIME_MEANING,
            "amcache_key": "x9k2.tmp|5a6b7c8d",
            "ProgramId": "0000f1e2d3c4b5a6978800000000000000000000",
            "LongPathHash": "x9k2.tmp|5a6b7c8d",
            "LinkDate": "2015-09-01T11:22:33+00:00",
            "BinaryType": "pe32_i386",
            "IsPeFile": 1,
            "Usn": 48211200,
        },
        "evidence_id": "test",
        "record": 1,
    }
    assert rows[2]["process.executable"] == "d:\\share\\営業\\見積\\請求書.pdf.exe"
    assert rows[2]["extra"]["amcache_key"] == "請求書.pdf.exe|1f2e3d4c"
    assert "file.hash" not in rows[2]
    old = rows[4]
    assert old["process.executable"] == "C:\\Users\\tanaka\\AppData\\Local\\Temp\\Low\\x9k2.exe"
    assert old["@timestamp"] == datetime(2015, 9, 9, 2, 45, 11, tzinfo=UTC)
    assert old["file.hash"] == f"SHA1={SHA1}"
    assert old["file.size"] == 231424
    assert old["file.created"] == datetime(2015, 9, 9, 2, 45, 7, tzinfo=UTC)
    assert old["file.mtime"] == datetime(2015, 9, 9, 2, 45, 8, tzinfo=UTC)
    assert old["extra"]["LinkDate"] == "2015-09-01T11:22:33+00:00"
    assert old["extra"]["ProductName"] == "x9k2"
    program = rows[5]
    assert program["@timestamp"] == datetime(2015, 7, 15, 1, 2, 3, tzinfo=UTC)
    assert program["event.category"] == "package"
    assert program["event.action"] == "program-installed"
    assert program["message"] == (
        "program installed: Adobe Flash Player 18 ActiveX 18.0.0.203 (Adobe Systems Incorporated)"
    )
    assert program["extra"]["time_meaning"] == "install date"


@needs_regipy
def test_damaged_hive_is_a_reject() -> None:
    table, rejects = parse_file(FORMAT, AM / "Amcache_cut.hve")
    assert table.num_rows == 0
    assert len(rejects) == 1
    assert rejects[0].record == 0
    assert rejects[0].reason.startswith("not a readable registry hive: ")


def test_without_regipy_says_what_to_do(monkeypatch: pytest.MonkeyPatch) -> None:
    import builtins

    real = builtins.__import__

    def no_regipy(name: str, *args: Any, **kwargs: Any) -> Any:
        if name.startswith("regipy"):
            raise ImportError(name)
        return real(name, *args, **kwargs)

    monkeypatch.setattr(builtins, "__import__", no_regipy)
    table, rejects = parse_file(FORMAT, HIVE)
    assert table.num_rows == 0
    assert [(r.record, r.reason) for r in rejects] == [(0, INSTALL_HINT)]


def test_sniff() -> None:
    s = sample_of(HIVE)
    assert s.text is None
    assert FORMAT.sniff(s)
    # registered (registry.sniff itself is checked in test_prefetch: loading every format
    # here, early in the run, would change csv.field_size_limit for the tests after it)
    assert "ashiato.formats.amcache" in registry.BUILTIN
    assert not FORMAT.sniff(sample_of(AM / "Amcache.hve.LOG1"))  # a transaction log
    assert not FORMAT.sniff(sample_of(AM / "SYSTEM"))  # another hive
    for path in sorted(DATA.rglob("*")):
        if path.is_file() and path.parent != AM:
            assert not FORMAT.sniff(sample_of(path)), path


@pytest.mark.corpus
def test_sniff_claims_nothing_in_the_public_corpus() -> None:
    assert_claims_nothing_in_the_public_corpus(FORMAT)
