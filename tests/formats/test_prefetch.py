"""Binary Prefetch files: synthetic ones built here (layout as documented), committed
under tests/data/prefetch and checked to stay byte-identical to what the builder makes."""

from __future__ import annotations

import importlib.util
import struct
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from helpers import DATA, assert_claims_nothing_in_the_public_corpus, rows_in_order, sample_of

from ashiato.formats import registry
from ashiato.formats.base import Sample
from ashiato.formats.prefetch import FORMAT, INSTALL_HINT, find_executable, read
from ashiato.formats.testing import parse_file

PF = DATA / "prefetch"
HAVE_DISSECT = importlib.util.find_spec("dissect.util") is not None
needs_dissect = pytest.mark.skipif(
    not HAVE_DISSECT, reason="dissect.util not installed (pip install ashiato[artifacts])"
)
_EPOCH = datetime(1601, 1, 1, tzinfo=UTC)


# -- builder ------------------------------------------------------------------------


def ft(t: datetime) -> int:
    delta = t - _EPOCH
    return (delta.days * 86400 + delta.seconds) * 10_000_000 + delta.microseconds * 10


def build_pf(
    version: int,
    name: str,
    hash_: int,
    runs: list[datetime],
    run_count: int,
    files: list[str],
    volumes: list[tuple[str, int, datetime]],
    short_info: bool = False,
) -> bytes:
    """An uncompressed prefetch file of format ``version`` (17, 23, 26, 30)."""
    info_size = 216 if short_info else {17: 68, 23: 156, 26: 224, 30: 224}[version]
    vol_entry = 40 if version == 17 else 96 if version >= 30 else 104
    metrics_off = 84 + info_size
    names = b""
    metrics = b""
    for f in files:
        if version == 17:
            metrics += struct.pack("<IIIII", 0, 0, len(names), len(f), 0)
        else:
            metrics += struct.pack("<IIIIIIQ", 0, 0, 0, len(names), len(f), 0, 0)
        names += f.encode("utf-16-le") + b"\x00\x00"
    names_off = metrics_off + len(metrics)  # no trace chains
    vol_off = names_off + len(names)
    entries = b""
    strings = b""
    for dev, serial, created in volumes:
        dev_off = vol_entry * len(volumes) + len(strings)
        entries += struct.pack("<IIQI", dev_off, len(dev), ft(created), serial).ljust(
            vol_entry, b"\x00"
        )
        strings += dev.encode("utf-16-le") + b"\x00\x00"
    vol_blob = entries + strings
    info = bytearray(info_size)
    struct.pack_into("<IIIIIIIII", info, 0, metrics_off, len(files), names_off, 0,
                     names_off, len(names), vol_off, len(volumes), len(vol_blob))  # fmt: skip
    if version == 17:
        struct.pack_into("<QxxxxxxxxxxxxxxxxI", info, 36, ft(runs[0]) if runs else 0, run_count)
    elif version == 23:
        struct.pack_into("<QxxxxxxxxxxxxxxxxI", info, 44, ft(runs[0]) if runs else 0, run_count)
    else:
        for i, t in enumerate(runs[:8]):
            struct.pack_into("<Q", info, 44 + 8 * i, ft(t))
        struct.pack_into("<I", info, 116 if short_info else 124, run_count)
    body = bytes(info) + metrics + names + vol_blob
    header = bytearray(84)
    struct.pack_into("<I4sII", header, 0, version, b"SCCA", 0x11, 84 + len(body))
    header[16:76] = name[:29].encode("utf-16-le").ljust(60, b"\x00")
    struct.pack_into("<I", header, 76, hash_)
    return bytes(header) + body


def mam_compress(data: bytes) -> bytes:
    """``MAM\\x04`` + size + an LZXPRESS Huffman stream of literals only (< 64 KiB):
    every byte value gets an 8-bit code, so the bit stream is the bytes themselves,
    packed in little-endian 16-bit words."""
    assert len(data) < 60_000
    table = bytes([0x88] * 128 + [0x00] * 128)  # 4-bit code lengths of symbols 0..511
    payload = data + b"\x00" * 8  # the decoder reads ahead of the last literal
    if len(payload) % 2:
        payload += b"\x00"
    words = b"".join(bytes((payload[i + 1], payload[i])) for i in range(0, len(payload), 2))
    return b"MAM\x04" + struct.pack("<I", len(data)) + table + words


T = datetime(2015, 9, 9, 2, 45, 9, tzinfo=UTC)
VOL8 = "\\VOLUME{01d0a1b2c3d4e5f6-4a3b2c1d}"
IE = (VOL8 + "\\USERS\\TANAKA\\APPDATA\\LOCAL\\MICROSOFT\\WINDOWS\\TEMPORARY INTERNET FILES"
      "\\CONTENT.IE5\\AB12CD34\\X9K2.TMP")  # fmt: skip
HDD = "\\DEVICE\\HARDDISKVOLUME2"
VOL_CREATED = datetime(2014, 4, 1, 0, 12, 30, tzinfo=UTC)
LONG = "AVERYLONGEXECUTABLENAMEFORTEST.EXE"  # 34 characters: the header keeps 29


def fixtures() -> dict[str, bytes]:
    win8 = build_pf(
        26, "X9K2.TMP", 0x5C1E2F3A,
        [T + timedelta(minutes=6, seconds=41), T + timedelta(minutes=1, seconds=53), T], 3,
        [VOL8 + "\\WINDOWS\\SYSTEM32\\NTDLL.DLL", IE, VOL8 + "\\WINDOWS\\SYSTEM32\\CRYPTSP.DLL"],
        [(VOL8, 0x4A3B2C1D, VOL_CREATED)],
    )
    win7 = build_pf(
        23, "CMD.EXE", 0x4A81B364, [datetime(2015, 9, 9, 2, 54, 58, 123456, tzinfo=UTC)], 57,
        [HDD + "\\WINDOWS\\SYSTEM32\\NTDLL.DLL", HDD + "\\WINDOWS\\SYSTEM32\\CMD.EXE"],
        [(HDD, 0xB0A4C1D2, VOL_CREATED)],
    )
    xp = build_pf(
        17, "請求書.PDF.EXE", 0x0BADF00D, [datetime(2015, 9, 9, 3, 2, 41, tzinfo=UTC)], 1,
        ["\\DEVICE\\HARDDISKVOLUME1\\DOCUMENTS AND SETTINGS\\TANAKA\\LOCAL SETTINGS\\TEMP"
         "\\TEMP1_請求書.ZIP\\請求書.PDF.EXE"],
        [("\\DEVICE\\HARDDISKVOLUME1", 0x12345678, VOL_CREATED)],
    )
    win10 = build_pf(
        30, LONG, 0x022A1004,
        [datetime(2015, 9, 9, 2, 58, 0, tzinfo=UTC), datetime(2015, 9, 9, 2, 57, 0, tzinfo=UTC)],
        2, [VOL8 + "\\WINDOWS\\SYSTEM32\\NTDLL.DLL", VOL8 + "\\USERS\\PUBLIC\\" + LONG],
        [(VOL8, 0x4A3B2C1D, VOL_CREATED)], short_info=True,
    )
    return {
        "X9K2.TMP-5C1E2F3A.pf": win8,
        "CMD.EXE-4A81B364.pf": win7,
        "請求書.PDF.EXE-0BADF00D.pf": xp,
        "AVERYLONGEXECUTABLENAMEFORTE-022A1004.pf": mam_compress(win10),
        "NORUNS.EXE-00000001.pf": build_pf(26, "NORUNS.EXE", 1, [], 0, [], []),
        "TRUNCATED.EXE-00000002.pf": win8[:200],
    }  # fmt: skip


# -- helpers ------------------------------------------------------------------------


# -- tests --------------------------------------------------------------------------


def test_committed_fixtures_match_the_builder() -> None:
    for name, data in fixtures().items():
        assert (PF / name).read_bytes() == data, f"rebuild {name}: fixtures() changed"


def test_windows8_eight_run_times_and_ie_cache_path() -> None:
    table, rejects = parse_file(FORMAT, PF / "X9K2.TMP-5C1E2F3A.pf")
    assert rejects == []
    rows = rows_in_order(table)
    assert len(rows) == 3
    assert [r["@timestamp"] for r in rows] == [
        datetime(2015, 9, 9, 2, 51, 50, tzinfo=UTC),
        datetime(2015, 9, 9, 2, 47, 2, tzinfo=UTC),
        datetime(2015, 9, 9, 2, 45, 9, tzinfo=UTC),
    ]
    folder = IE.rsplit("\\", 1)[0]
    assert rows[0] == {
        "@timestamp": datetime(2015, 9, 9, 2, 51, 50, tzinfo=UTC),
        "event.dataset": "windows.prefetch",
        "event.provider": "prefetch",
        "event.category": "process",
        "event.action": "program-executed",
        "message": "X9K2.TMP executed (prefetch run 1 of 3 recorded, run count 3)",
        "process.name": "X9K2.TMP",
        "process.executable": IE,
        "file.path": IE,
        "file.name": "X9K2.TMP",
        "file.extension": "tmp",
        "file.directory": folder,
        "extra": {
            "run_index": 1,
            "run_count": 3,
            "prefetch_hash": "5C1E2F3A",
            "prefetch_version": "26 (Windows 8.1)",
            "volume_name": VOL8,
            "volume_serial": "4A3B2C1D",
            "volume_created": "2014-04-01T00:12:30+00:00",
            "files_loaded": 3,
        },
        "evidence_id": "test",
        "record": 1,
    }
    assert [r["record"] for r in rows] == [1, 2, 3]
    # what the vector analysis looks for: the IE cache folder in the executed path
    assert "\\TEMPORARY INTERNET FILES\\CONTENT.IE5\\" in rows[2]["process.executable"]


def test_windows7_single_run() -> None:
    table, rejects = parse_file(FORMAT, PF / "CMD.EXE-4A81B364.pf")
    assert rejects == []
    (row,) = rows_in_order(table)
    assert row["@timestamp"] == datetime(2015, 9, 9, 2, 54, 58, 123456, tzinfo=UTC)
    assert row["process.executable"] == HDD + "\\WINDOWS\\SYSTEM32\\CMD.EXE"
    assert row["extra"]["run_count"] == 57
    assert row["extra"]["prefetch_version"] == "23 (Windows Vista/7)"
    assert row["extra"]["volume_serial"] == "B0A4C1D2"


def test_windows_xp_japanese_name() -> None:
    table, rejects = parse_file(FORMAT, PF / "請求書.PDF.EXE-0BADF00D.pf")
    assert rejects == []
    (row,) = rows_in_order(table)
    assert row["process.name"] == "請求書.PDF.EXE"
    assert row["process.executable"].endswith("\\TEMP1_請求書.ZIP\\請求書.PDF.EXE")
    assert row["@timestamp"] == datetime(2015, 9, 9, 3, 2, 41, tzinfo=UTC)
    assert row["extra"]["run_count"] == 1


@needs_dissect
def test_windows10_compressed_and_truncated_name() -> None:
    table, rejects = parse_file(FORMAT, PF / "AVERYLONGEXECUTABLENAMEFORTE-022A1004.pf")
    assert rejects == []
    rows = rows_in_order(table)
    assert len(rows) == 2
    assert rows[0]["process.name"] == LONG[:29]
    # the 29-character header name is completed from the loaded-files list
    assert rows[0]["process.executable"] == VOL8 + "\\USERS\\PUBLIC\\" + LONG
    assert rows[0]["extra"]["run_count"] == 2  # the shorter Windows 10 information block
    assert rows[0]["extra"]["prefetch_version"] == "30 (Windows 10)"


def test_windows10_without_dissect_says_what_to_do(monkeypatch: pytest.MonkeyPatch) -> None:
    import builtins

    real = builtins.__import__

    def no_dissect(name: str, *args: Any, **kwargs: Any) -> Any:
        if name.startswith("dissect"):
            raise ImportError(name)
        return real(name, *args, **kwargs)

    monkeypatch.setattr(builtins, "__import__", no_dissect)
    table, rejects = parse_file(FORMAT, PF / "AVERYLONGEXECUTABLENAMEFORTE-022A1004.pf")
    assert table.num_rows == 0
    assert [(r.record, r.reason) for r in rejects] == [(0, INSTALL_HINT)]
    assert "PECmd" in INSTALL_HINT and "ashiato[artifacts]" in INSTALL_HINT


def test_damaged_files_are_rejects() -> None:
    table, rejects = parse_file(FORMAT, PF / "NORUNS.EXE-00000001.pf")
    assert table.num_rows == 0
    assert [(r.record, r.reason) for r in rejects] == [
        (0, "NORUNS.EXE: no run time recorded in the prefetch file")
    ]
    table, rejects = parse_file(FORMAT, PF / "TRUNCATED.EXE-00000002.pf")
    assert table.num_rows == 0
    assert [(r.record, r.reason) for r in rejects] == [
        (0, "file cut short or damaged: offset 208 is past its end (200 bytes)")
    ]


def test_bad_mam_stream_is_a_reject(tmp_path: Path) -> None:
    p = tmp_path / "BAD.pf"
    p.write_bytes(b"MAM\x04" + struct.pack("<I", 5000) + b"\x88" * 128 + b"\x00" * 140)
    table, rejects = parse_file(FORMAT, p)
    assert table.num_rows == 0
    assert len(rejects) == 1
    if HAVE_DISSECT:
        assert rejects[0].reason.startswith("compressed prefetch decompressed to ")
    else:
        assert rejects[0].reason == INSTALL_HINT


def test_unknown_version_and_invalid_time(tmp_path: Path) -> None:
    data = bytearray(fixtures()["CMD.EXE-4A81B364.pf"])
    struct.pack_into("<Q", data, 84 + 44, 0x7FFF_FFFF_FFFF_FFFF)  # past year 9999
    p = tmp_path / "x.pf"
    p.write_bytes(bytes(data))
    table, rejects = parse_file(FORMAT, p)
    assert table.num_rows == 0
    assert [(r.record, r.reason) for r in rejects] == [
        (1, "run time slot 1: invalid FILETIME 0x7FFFFFFFFFFFFFFF"),
        (0, "CMD.EXE: no run time recorded in the prefetch file"),
    ]
    struct.pack_into("<I", data, 0, 99)
    p.write_bytes(bytes(data))
    assert not FORMAT.sniff(sample_of(p))
    assert [r.reason for r in parse_file(FORMAT, p)[1]] == ["unknown prefetch format version 99"]


def test_find_executable() -> None:
    files = ["\\V\\A\\NTDLL.DLL", "\\V\\B\\X9K2.TMP"]
    assert find_executable("x9k2.tmp", files) == "\\V\\B\\X9K2.TMP"
    assert find_executable("MISSING.EXE", files) is None
    assert find_executable("", files) is None


def test_read_gives_the_structure() -> None:
    pf = read((PF / "X9K2.TMP-5C1E2F3A.pf").read_bytes())
    assert (pf.version, pf.name, pf.hash, pf.run_count) == (26, "X9K2.TMP", "5C1E2F3A", 3)
    assert pf.volumes[0].device == VOL8 and pf.volumes[0].created == VOL_CREATED
    assert len(pf.files) == 3


def test_sniff_mine_and_not_others() -> None:
    for name in ("X9K2.TMP-5C1E2F3A.pf", "CMD.EXE-4A81B364.pf", "請求書.PDF.EXE-0BADF00D.pf",
                 "AVERYLONGEXECUTABLENAMEFORTE-022A1004.pf"):  # fmt: skip
        s = sample_of(PF / name)
        assert s.text is None, f"{name} must look binary to the ingest"
        assert FORMAT.sniff(s), name
        assert registry.sniff(s) is FORMAT, name
    hive = sample_of(DATA / "amcache" / "Amcache.hve")  # the other binary format of this work
    assert registry.sniff(hive) is not None and registry.sniff(hive) is not FORMAT
    assert registry.sniff(hive).name == "amcache"  # type: ignore[union-attr]
    for path in sorted(DATA.rglob("*")):
        if path.is_file() and path.parent != PF:
            assert not FORMAT.sniff(sample_of(path)), path
    assert not FORMAT.sniff(Sample(b"hello world\n", "hello world\n", "x.txt"))


@pytest.mark.corpus
def test_sniff_claims_nothing_in_the_public_corpus() -> None:
    assert_claims_nothing_in_the_public_corpus(FORMAT)
