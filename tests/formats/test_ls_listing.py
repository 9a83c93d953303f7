"""ls -l / ls -lR / find listings: fixtures written from the GNU coreutils and BusyBox
output shapes (an ESXi datastore listed over SSH, a NAS volume, long-iso and full-iso
times, a Japanese locale, find -ls and plain find)."""

from __future__ import annotations

import os
from datetime import UTC, datetime
from pathlib import Path

import pytest
from helpers import (
    DATA,
    Rows,
    assert_claims_no_other_fixture,
    assert_registry_routes,
    rows_by_record,
    text_sample,
    utc_of,
)

from ashiato.formats.base import Sample
from ashiato.formats.ls_listing import FORMAT
from ashiato.formats.testing import parse_file

FOLDER = DATA / "ls_listing"


def parsed(path: Path, tz: str = "Asia/Tokyo") -> tuple[Rows, list[tuple[int, str]]]:
    table, rejects = parse_file(FORMAT, path, tz=tz, year_hint=2023)
    return rows_by_record(table), [(r.record, r.reason) for r in rejects]


def _saved(tmp_path: Path, name: str, when: str) -> Path:
    """The fixture as a responder saved it at ``when`` (the file's time anchors the year)."""
    out = tmp_path / name
    out.write_bytes((FOLDER / name).read_bytes())
    ts = datetime.fromisoformat(when).timestamp()
    os.utime(out, (ts, ts))
    return out


def test_esxi_datastore_busybox_listing(tmp_path: Path) -> None:
    rows, rejects = parsed(
        _saved(tmp_path, "esxi_datastores_ls-lR.txt", "2023-02-03T11:00:00+00:00")
    )
    assert rejects == []
    link = rows[6]
    assert (link["event.action"], link["file.path"], link["extra"]["target"]) == (
        "symlink", "/vmfs/volumes/datastore1", "5f3c1a2b-0d1e2f30-4a5b-001122334455",
    )  # fmt: skip
    disk = rows[20]
    assert disk["file.path"] == (
        "/vmfs/volumes/5f3c1a2b-0d1e2f30-4a5b-001122334455/APP01/APP01-flat.vmdk.locked3"
    )
    # the UUID folder is named by the link printed before it
    assert (disk["file.share"], disk["file.name"], disk["file.size"]) == (
        "datastore1", "APP01-flat.vmdk.locked3", 85899345920,
    )  # fmt: skip
    # ESXi's clock is UTC whatever the case's zone
    assert disk["@timestamp"] == disk["file.mtime"] == utc_of("2023-02-03T10:14:00+00:00")
    assert (disk["file.owner"], disk["user.name"], disk["extra"]["mode"]) == (
        "root", "root", "-rw-------",
    )  # fmt: skip
    note = rows[16]
    assert note["file.name"] == "How To Restore Your Files.txt"
    assert note["event.action"] == "file-listed"
    assert rows[14]["event.action"] == "directory"
    # an older file shows its year; a December time in a February listing is last year's
    assert rows[23]["@timestamp"] == utc_of("2022-09-14T00:00:00+00:00")
    assert rows[26]["@timestamp"] == utc_of("2022-12-28T03:12:00+00:00")
    assert rows[37]["file.share"] == "nfs-backup"


def test_nas_gnu_listing_quoted_japanese_names_in_local_time(tmp_path: Path) -> None:
    rows, rejects = parsed(_saved(tmp_path, "nas_gnu_ls-lR.txt", "2023-02-04T09:00:00+09:00"))
    assert rejects == []
    enc = rows[9]
    assert enc["file.path"] == "/volume1/share/経理/2023年度 予算.xlsx.akira"
    assert enc["file.extension"] == "akira" and enc["file.directory"] == "/volume1/share/経理"
    # a NAS in Japan prints JST: read in the source's zone
    assert enc["@timestamp"] == utc_of("2023-02-03T19:41:00+09:00")
    assert (enc["file.owner"], enc["extra"]["group"]) == ("yamada", "users")
    assert rows[5]["file.name"] == "README_TO_DECRYPT.txt"  # quotes removed
    assert rows[11]["extra"]["target"] == "/volume1/share/経理/2021"
    assert rows[12]["extra"]["mode"].startswith("c") and "file.size" not in rows[12]
    assert "file.share" not in enc  # only datastores name a share from the path


def test_iso_styles_human_sizes_and_a_japanese_locale(tmp_path: Path) -> None:
    rows, rejects = parsed(_saved(tmp_path, "long_iso.txt", "2023-02-04T09:00:00+09:00"))
    assert rejects == []
    assert rows[3]["@timestamp"] == utc_of("2023-02-03T19:41:00+09:00")
    assert rows[4]["file.size"] == int(1.2 * 2**30)
    assert rows[4]["extra"]["size_approximate"] == "1.2G"
    assert rows[5]["@timestamp"] == utc_of("2023-02-03T10:42:13.123456+00:00")
    assert rows[6]["@timestamp"] == utc_of("2023-02-03T19:43:00+09:00")  #  2月  3 19:43


def test_busybox_full_times() -> None:
    rows, rejects = parsed(FOLDER / "busybox_le.txt")  # ls -le on the ESXi shell
    assert rejects == []
    assert rows[2]["@timestamp"] == utc_of("2023-02-03T10:14:07+00:00")
    assert rows[3]["file.share"] == "datastore1"


def test_find_ls_and_plain_find() -> None:
    rows, rejects = parsed(FOLDER / "find_ls.txt")
    assert rejects == []
    assert rows[1]["event.action"] == "directory"
    assert rows[2]["file.path"].endswith("/APP01/APP01-flat.vmdk.locked3")
    assert rows[2]["file.size"] == 85899345920 and rows[2]["file.share"] == "datastore1"
    rows, rejects = parsed(FOLDER / "find_paths.txt")
    assert rejects == []
    assert [r["event.action"] for r in rows.values()] == [
        "directory", "directory", "file-listed", "file-listed", "file-listed", "file-listed",
    ]  # fmt: skip
    assert rows[6]["file.path"] == "/vmfs/volumes/datastore2/How To Restore Your Files.txt"
    assert rows[6]["file.share"] == "datastore2" and "@timestamp" not in rows[6]


def test_lines_of_another_kind_are_rejected(tmp_path: Path) -> None:
    path = tmp_path / "ls.txt"
    path.write_text(
        "/data:\ntotal 8\n-rw-r--r-- 1 a b 10 Feb  3 10:11 x.txt\n"
        "ls: cannot access '/data/y': Permission denied\n"
        "-rw-r--r-- 1 a b 10 Feb 31 10:11 bad-date.txt\n",
        encoding="utf-8",
    )
    rows, rejects = parsed(path)
    assert list(rows) == [3]
    assert [r for r, _ in rejects] == [4, 5]


def test_sniff() -> None:
    paths = sorted(FOLDER.iterdir())
    for path in paths:
        assert FORMAT.sniff(text_sample(path)), path
    assert_registry_routes(paths, "ls_listing")
    assert_claims_no_other_fixture(FORMAT, "ls_listing")
    # one path, or a log that mentions paths, is not a listing
    for text in ("/var/log/messages\n", "Feb  3 10:11:12 host sshd[1]: /tmp/x\n" * 5):
        assert not FORMAT.sniff(Sample(text.encode(), text, "x.txt"))


def test_year_without_a_saved_time_is_the_hint() -> None:
    # the repository's copy has no meaningful file time: the hint's year, December at most
    rows, _ = parsed(FOLDER / "find_ls.txt")
    assert rows[2]["@timestamp"] == datetime(2023, 2, 3, 10, 14, tzinfo=UTC)


@pytest.mark.corpus
def test_claims_nothing_in_the_public_corpus() -> None:
    from helpers import assert_claims_nothing_in_the_public_corpus

    assert_claims_nothing_in_the_public_corpus(FORMAT)
