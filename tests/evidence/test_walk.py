from __future__ import annotations

import gzip
import io
import tarfile
import zipfile
from pathlib import Path

from ashiato.evidence import walk
from ashiato.evidence.walk import Walker


def _names(inputs: list[Path]) -> tuple[list[str], list[str]]:
    with Walker() as w:
        found = [(ev.display, ev.path.read_bytes()) for ev in w.walk(inputs)]
        skipped = [f"{s.display}: {s.reason}" for s in w.skipped]
    return [d for d, _ in found], skipped


def test_folder_walk_is_sorted_and_skips_empty(tmp_path: Path) -> None:
    (tmp_path / "b").mkdir()
    (tmp_path / "b" / "2.log").write_text("two\n")
    (tmp_path / "a.log").write_text("one\n")
    (tmp_path / "empty.log").write_text("")
    found, skipped = _names([tmp_path])
    assert [Path(f).name for f in found] == ["a.log", "2.log"]
    assert any("empty" in s for s in skipped)


def test_zip_member_leaving_archive_is_refused(tmp_path: Path) -> None:
    z = tmp_path / "ev.zip"
    with zipfile.ZipFile(z, "w") as zf:
        zf.writestr("logs/ok.log", "fine\n")
        zf.writestr("../../evil.log", "escape\n")
        zf.writestr("/abs.log", "escape\n")
    found, skipped = _names([z])
    assert found == [f"{z}!logs/ok.log"]
    assert sum("leaves the archive" in s for s in skipped) == 2
    assert not (tmp_path.parent / "evil.log").exists()


def test_nested_tar_gz_in_zip(tmp_path: Path) -> None:
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w:gz") as tf:
        data = b"inner line\n"
        info = tarfile.TarInfo("var/log/inner.log")
        info.size = len(data)
        tf.addfile(info, io.BytesIO(data))
    z = tmp_path / "case.zip"
    with zipfile.ZipFile(z, "w") as zf:
        zf.writestr("collect/logs.tar.gz", buf.getvalue())
    found, _ = _names([z])
    assert found == [f"{z}!collect/logs.tar.gz!logs.tar!var/log/inner.log"]


def test_tar_symlink_refused(tmp_path: Path) -> None:
    t = tmp_path / "x.tar"
    with tarfile.open(t, "w") as tf:
        info = tarfile.TarInfo("link")
        info.type = tarfile.SYMTYPE
        info.linkname = "/etc/passwd"
        tf.addfile(info)
    found, skipped = _names([t])
    assert found == []
    assert any("link" in s for s in skipped)


def test_gzip_bomb_stopped(tmp_path: Path, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    monkeypatch.setattr(walk, "MAX_RATIO", 10)
    g = tmp_path / "bomb.log.gz"
    g.write_bytes(gzip.compress(b"A" * (8 << 20)))
    found, skipped = _names([g])
    assert found == []
    assert any("archive bomb" in s for s in skipped)


def test_archive_found_by_content_not_name(tmp_path: Path) -> None:
    z = tmp_path / "not-a-zip.log"
    with zipfile.ZipFile(z, "w") as zf:
        zf.writestr("a.log", "x\n")
    found, _ = _names([z])
    assert found == [f"{z}!a.log"]
