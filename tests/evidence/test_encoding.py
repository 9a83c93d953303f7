from __future__ import annotations

import codecs

from ashiato.evidence.encoding import detect

JA = (
    "日時,エンドポイント,ファイルパス\n"
    "2015/09/09 11:46:30,PC-TKY-0341,C:\\Users\\表示\\ソフト～.tmp\n"
)


def test_boms() -> None:
    assert detect(codecs.BOM_UTF8 + JA.encode()) == "utf-8-sig"
    assert detect(JA.encode("utf-16")) == "utf-16"


def test_utf16le_without_bom() -> None:
    assert detect("a,b,c\n1,2,3\n".encode("utf-16-le") * 20) == "utf-16-le"


def test_utf8_and_cp932() -> None:
    assert detect(JA.encode()) == "utf-8"
    # 表 and ソ carry 0x5C as trail byte in CP932; the wave dash exists only in cp932
    assert detect(JA.encode("cp932")) == "cp932"


def test_utf8_cut_inside_a_character_is_still_utf8() -> None:
    data = ("営業" * 100).encode()
    assert detect(data[:-1]) == "utf-8"


def test_binary() -> None:
    assert detect(b"ElfFile\x00\x00\x00\x00\x01\x02") is None


def test_utf8_with_a_garbled_line_stays_utf8() -> None:
    good = ("date=2015-09-09 time=11:45:07 devname=\"FG-OSAKA\" srcip=10.31.5.20\n" * 200).encode()
    assert detect(good + b"\x8f\xff\xfe\x00garbage\x9c\n" + good) == "utf-8"
