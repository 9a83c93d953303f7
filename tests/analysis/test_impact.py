"""Counting encrypted files: the ransomware's pattern, not every write inside the window."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from case_rows import make_ctx

from ashiato.analysis import impact

T0 = datetime(2015, 9, 10, 4, 0, tzinfo=UTC)  # 13:00 JST, the encryption starts
ROOT = "D:\\share\\営業\\見積"
ENCRYPTOR = "CORP\\tanaka"




def listed(name: str, minutes: float, owner: str, folder: str = ROOT) -> dict[str, Any]:
    when = T0 + timedelta(minutes=minutes)
    return {"@timestamp": when, "event.dataset": "file.listing", "evidence_id": "listing",
            "file.path": f"{folder}\\{name}", "file.mtime": when, "file.created": when,
            "file.owner": owner, "file.size": 40_000}  # fmt: skip


def notes(owner: str = ENCRYPTOR) -> list[dict[str, Any]]:
    # one pair per folder, written after its files: here the first and the last folder
    return [
        listed("HELP_DECRYPT.TXT", 1, owner, f"{ROOT}\\A"),
        listed("HELP_DECRYPT.TXT", 21, owner),
    ]


def old(name: str, owner: str) -> dict[str, Any]:
    row = listed(name, -60 * 24 * 30, owner)  # untouched for a month
    return row


def test_renamed_family_counts_only_renamed_files(tmp_path: Path) -> None:
    rows = notes()
    rows += [listed(f"見積書_{i}.xlsx.ccc", i, ENCRYPTOR) for i in range(20)]
    # colleagues keep saving into the folder while it is being encrypted
    rows += [listed("見積書_追加.xlsx", 15, "CORP\\suzuki"), listed("メモ.txt", 18, "CORP\\sato")]
    rows += [old("規程.pdf", "CORP\\suzuki")]
    imp = impact.analyse(make_ctx(tmp_path, rows))
    assert len(imp.encrypted) == 20
    assert imp.basis["share"] == {"files": 20, "low": 20, "high": 20, "basis": "renamed to .ccc",
                                  "excluded": 2}  # fmt: skip


def test_random_names_family(tmp_path: Path) -> None:
    rows = notes()
    exts = ("a8zk", "q0w", "zz81x", "mk2p", "r7e")  # CryptoWall 4: name and extension random
    rows += [listed(f"k3j9x{i:02d}q.{exts[i % 5]}", i, ENCRYPTOR) for i in range(15)]
    rows += [listed("議事録_0910.docx", 12, "CORP\\suzuki")]
    imp = impact.analyse(make_ctx(tmp_path, rows))
    assert len(imp.encrypted) == 15
    assert imp.basis["share"]["basis"] == "renamed to random names"
    assert imp.basis["share"]["excluded"] == 1


def test_names_kept_counts_the_encrypting_account(tmp_path: Path) -> None:
    # CryptoWall 3 style: rewritten in place, names kept; the encryptor's account wrote them
    rows = notes()
    rows += [listed(f"見積書_{i}.xlsx", i, ENCRYPTOR) for i in range(12)]
    rows += [listed("受注一覧.xlsx", 14, "CORP\\suzuki"), listed("予定表.xlsx", 16, "CORP\\ito")]
    imp = impact.analyse(make_ctx(tmp_path, rows))
    assert len(imp.encrypted) == 12
    b = imp.basis["share"]
    assert b["basis"] == f"written inside the window by {ENCRYPTOR.lower()}"
    assert (b["files"], b["excluded"]) == (12, 2)


def test_unknown_writers_give_a_range(tmp_path: Path) -> None:
    # no owner anywhere (a listing without the Owner column): nothing tells writes apart
    rows = [{**r, "file.owner": None} for r in notes()]
    rows += [{**listed(f"見積書_{i}.xlsx", i, ""), "file.owner": None} for i in range(6)]
    imp = impact.analyse(make_ctx(tmp_path, rows))
    b = imp.basis["share"]
    assert len(imp.encrypted) == 6
    assert (b["low"], b["high"], b["basis"]) == (0, 6, "written inside the window in note folders")


def test_unknown_note_name_learned_from_the_burst(tmp_path: Path) -> None:
    # a family no list knows: one odd extension appended in several folders, and the same
    # text file dropped into each of them in the same minutes
    folders = [f"{ROOT}\\{x}" for x in ("A", "B", "C", "D")]
    rows: list[dict[str, Any]] = []
    for n, folder in enumerate(folders):
        rows += [listed(f"見積書_{i}.xlsx.x7kq2p", n * 3 + i * 0.1, ENCRYPTOR, folder)
                 for i in range(5)]  # fmt: skip
        rows.append(listed("#RESTORE-NOW#.txt", n * 3 + 1, ENCRYPTOR, folder))
        rows.append(old("readme.txt", "CORP\\suzuki") | {"file.path": f"{folder}\\readme.txt"})
    rows.append(listed("メモ.txt", 5, "CORP\\sato", folders[0]))  # a colleague's save
    imp = impact.analyse(make_ctx(tmp_path, rows))
    assert imp.note_names == ["#RESTORE-NOW#.TXT"] and len(imp.notes) == 4
    assert len(imp.encrypted) == 20
    assert imp.basis["share"]["basis"] == "renamed to .x7kq2p"


def test_one_folder_of_renamed_files_is_no_encryption(tmp_path: Path) -> None:
    # someone keeps copies as .xlsx.orig next to a text file in one folder: not a burst
    rows = [listed(f"見積書_{i}.xlsx.orig", i, "CORP\\suzuki") for i in range(30)]
    rows.append(listed("変更点.txt", 5, "CORP\\suzuki"))
    imp = impact.analyse(make_ctx(tmp_path, rows))
    assert (imp.notes, imp.encrypted) == ([], [])
