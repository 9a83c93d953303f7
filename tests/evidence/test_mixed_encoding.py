"""Files that mix UTF-8 and CP932 are read back exactly, line by line, and counted.

Real shapes: a CP932 file listing (PowerShell 5.1 on Japanese Windows) with some lines
re-saved as UTF-8 by a later script; a UTF-8 proxy log where some requests carry
CP932 bytes. Strict UTF-8 is tried first on each line, then CP932.
"""

from __future__ import annotations

from pathlib import Path
from zoneinfo import ZoneInfo

from ashiato.case import Case
from ashiato.evidence.encoding import LineCounts, decode_lines, detect
from ashiato.formats.base import Source
from ashiato.ingest import Options, ingest

NAMES = ["請求書_2015年9月.xlsx", "議事録（営業部）.docx", "ソフト～表示.txt", "予定表.xlsx",
         "顧客リスト①.csv", "報告書.pdf"]  # fmt: skip


def _query(case: Case, sql: str) -> list[tuple[object, ...]]:
    with case.reader() as con:
        return con.execute(sql).fetchall()


def test_cp932_listing_with_utf8_lines(tmp_path: Path) -> None:
    # PowerShell Export-Csv of Get-ChildItem: quoted header and values
    lines = ['"FullName","Length","CreationTime","LastWriteTime"']
    utf8_rows = {1, 4}  # these were re-saved as UTF-8
    body = [lines[0].encode("cp932")]
    for i, name in enumerate(NAMES):
        times = f'"2015/09/09 11:00:0{i}","2015/09/09 11:52:1{i}"'
        row = f'"D:\\共有\\営業\\{name}","{1000 + i}",{times}'
        body.append(row.encode("utf-8" if i in utf8_rows else "cp932"))
    ev = tmp_path / "listing.csv"
    ev.write_bytes(b"\r\n".join(body) + b"\r\n")
    case = Case.create_or_open(tmp_path / "case", tz="Asia/Tokyo")
    report = ingest(case, [ev], Options())
    [f] = report.files
    assert (f.format, f.encoding, f.status, f.rows, f.redecoded) == (
        "file_listing", "cp932", "done", 6, 2)  # fmt: skip
    paths = [r[0] for r in _query(case, 'SELECT "file.path" FROM events ORDER BY record')]
    assert paths == [f"D:\\共有\\営業\\{n}" for n in NAMES]
    assert _query(case, "SELECT redecoded, decode_errors FROM evidence") == [(2, 0)]


def test_utf8_proxy_log_with_cp932_lines(tmp_path: Path) -> None:
    # Squid native format; the user names and URLs carry Japanese text
    cp932_rows = {2, 3, 5}
    body = []
    for i, name in enumerate(NAMES):
        url = f"http://intra.example.jp/docs/{name}"
        line = f"1441766705.{i:03d}    238 10.20.3.41 TCP_MISS/200 1874 GET {url} - HIER_DIRECT/x -"
        body.append(line.encode("cp932" if i in cp932_rows else "utf-8"))
    ev = tmp_path / "access.log"
    ev.write_bytes(b"\n".join(body) + b"\n")
    case = Case.create_or_open(tmp_path / "case")
    [f] = ingest(case, [ev], Options()).files
    assert (f.format, f.encoding, f.rows, f.redecoded) == ("squid", "utf-8", 6, 3)
    urls = [r[0] for r in _query(case, 'SELECT "url.original" FROM events ORDER BY record')]
    assert urls == [f"http://intra.example.jp/docs/{n}" for n in NAMES]
    assert _query(case, "SELECT redecoded, decode_errors FROM evidence") == [(3, 0)]


def test_lines_of_a_mixed_file_and_what_cannot_be_read(tmp_path: Path) -> None:
    good = ["2015/09/09 11:52:14 user=田中 path=C:\\共有\\請求書.xlsx", "plain ascii"]
    data = (good[0].encode("cp932") + b"\n" + good[1].encode() + b"\n"
            + "2015/09/09 11:53:00 user=鈴木 path=議事録.docx".encode() + b"\n"
            + b"broken \x81\x7f a lead byte without its trail\n")  # fmt: skip
    path = tmp_path / "mixed.log"
    path.write_bytes(data)
    source = Source(path, str(path), "x", detect(data), ZoneInfo("UTC"))
    assert source.encoding == "utf-8"  # one line of each: the tie goes to UTF-8
    lines = [line for _, line in source.lines()]
    assert lines[:3] == [good[0], good[1], "2015/09/09 11:53:00 user=鈴木 path=議事録.docx"]
    assert "\ufffd" in lines[3]
    assert (source.redecoded, source.decode_errors) == (1, 1)
    # the same through the text stream (csv and XML formats read it this way)
    source = Source(path, str(path), "x", "cp932", ZoneInfo("UTC"))
    with source.text_stream() as fh:
        assert fh.read().split("\n")[:3] == lines[:3]
    assert source.redecoded == 1


def test_decode_lines_tries_utf8_first_on_every_line() -> None:
    counts = LineCounts()
    body = "東京\n".encode("cp932") + "大阪\n".encode() + "名古屋".encode("cp932")
    assert decode_lines(body, "cp932", counts) == "東京\n大阪\n名古屋"
    assert counts == LineCounts(redecoded=1, errors=0)
    counts = LineCounts()
    assert decode_lines("東京\n".encode() + "大阪".encode("cp932"), "utf_8", counts) == "東京\n大阪"
    assert counts == LineCounts(redecoded=1, errors=0)


def test_euc_jp_iso2022jp_and_utf16be_without_bom(tmp_path: Path) -> None:
    samba = "Sep  9 11:52:14 fs01 smbd[2211]: 共有フォルダ「営業」に接続しました ユーザ=田中\n"
    data = samba.encode("euc_jp") * 30
    assert detect(data) == "euc_jp"
    path = tmp_path / "messages"
    path.write_bytes(data)
    source = Source(path, str(path), "x", "euc_jp", ZoneInfo("UTC"))
    assert {line for _, line in source.lines() if line} == {samba.rstrip("\n")}
    assert detect("Subject: 請求書の送付\n".encode("iso2022_jp") * 10) == "iso2022_jp"
    csv = "日時,ホスト,イベント\n2015/09/09 11:52:14,PC-TKY-0341,ログオン\n"
    assert detect(csv.encode("utf-16-be") * 10) == "utf-16-be"
    assert detect(csv.encode("utf-16-le") * 10) == "utf-16-le"
