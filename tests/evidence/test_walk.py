from __future__ import annotations

import gzip
import io
import os
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


# -- nesting, bombs, encryption, split archives, disk images (issue 13) ---------------


def _access_lines(n: int) -> bytes:
    # Apache combined log format (httpd docs, mod_log_config)
    return b"".join(
        b'192.0.2.%d - - [10/Oct/2023:13:%02d:%02d +0900] "GET /i%d.html HTTP/1.1" 200 %d '
        b'"-" "Mozilla/5.0"\n' % (i % 250 + 1, i // 60 % 60, i % 60, i, 100 + i)
        for i in range(n)
    )


def _tar_gz(members: dict[str, bytes]) -> bytes:
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w:gz") as tf:
        for name, data in members.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tf.addfile(info, io.BytesIO(data))
    return buf.getvalue()


def _zip(members: dict[str, bytes]) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as zf:
        for name, data in members.items():
            zf.writestr(name, data)
    return buf.getvalue()


def _walk(inputs: list[Path], **kw: object) -> tuple[dict[str, bytes], list[walk.Skipped]]:
    with Walker(**kw) as w:  # type: ignore[arg-type]
        found = {ev.display: ev.path.read_bytes() for ev in w.walk(inputs)}
        return found, list(w.skipped)


def test_zip_tar_gz_gz_is_read_completely(tmp_path: Path) -> None:
    log = _access_lines(2479)
    z = tmp_path / "collect.zip"
    z.write_bytes(_zip({"web/logs.tar.gz": _tar_gz({"httpd/access.log.gz": gzip.compress(log)})}))
    found, skipped = _walk([z])
    assert skipped == []
    [(display, data)] = found.items()
    assert display == f"{z}!web/logs.tar.gz!logs.tar!httpd/access.log.gz!access.log"
    assert data == log and data.count(b"\n") == 2479


def test_eight_levels_read_ninth_recorded_with_its_container(tmp_path: Path) -> None:
    data = b"deep line\n"
    blob = gzip.compress(data)  # level 1 unpacks the .gz
    for level in range(7):  # zip inside zip: 8 archive levels in all
        blob = _zip({f"l{level}.{'zip' if level else 'log.gz'}": blob})
    ok = tmp_path / "eight.zip"
    ok.write_bytes(blob)
    found, skipped = _walk([ok])
    assert list(found.values()) == [data] and skipped == []

    deeper = tmp_path / "nine.zip"
    deeper.write_bytes(_zip({"l7.zip": blob}))
    found, skipped = _walk([deeper])
    assert found == {}
    [s] = skipped
    assert s.kind == "too-deep" and "deeper than 8" in s.reason
    assert s.display.endswith("!l1.zip!l0.log.gz")
    assert s.container is not None and s.display.startswith(s.container + "!")


def test_refused_members_are_recorded_not_just_printed(tmp_path: Path) -> None:
    z = tmp_path / "ev.zip"
    with zipfile.ZipFile(z, "w") as zf:
        zf.writestr("../evil.log", "x\n")
        link = zipfile.ZipInfo("link.log")
        link.external_attr = (0o120777) << 16
        zf.writestr(link, "/etc/passwd")
    _, skipped = _walk([z])
    kinds = {s.display: (s.kind, s.container) for s in skipped}
    assert kinds == {f"{z}!../evil.log": ("unsafe-path", str(z)),
                     f"{z}!link.log": ("link", str(z))}  # fmt: skip


def test_7z_bomb_refused_from_its_declared_sizes(tmp_path: Path) -> None:
    import py7zr

    b = tmp_path / "bomb.7z"
    with py7zr.SevenZipFile(b, "w") as zf:
        zf.writestr(b"\0" * (40 << 20), "zeros.log")
    assert b.stat().st_size < 100_000
    found, skipped = _walk([b])
    assert found == {}
    [s] = skipped
    assert s.kind == "bomb" and "archive bomb" in s.reason


def test_7z_bomb_with_lying_sizes_stopped_while_streaming(tmp_path: Path, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    import py7zr

    b = tmp_path / "liar.7z"
    with py7zr.SevenZipFile(b, "w") as zf:
        zf.writestr(b"\0" * (40 << 20), "zeros.log")
    listed = py7zr.SevenZipFile.list

    def lying(self):  # type: ignore[no-untyped-def]
        infos = listed(self)
        for info in infos:
            info.uncompressed = 10  # what a crafted header could claim
        return infos

    monkeypatch.setattr(py7zr.SevenZipFile, "list", lying)
    with Walker(tmp_parent=tmp_path / "tmp") as w:
        assert list(w.walk([b])) == []
        [s] = w.skipped
        assert s.kind == "bomb"
        unpacked = [p for p in (tmp_path / "tmp").rglob("*") if p.is_file() and p.name != ".owner"]
        left = sum(p.stat().st_size for p in unpacked)
        assert left == 0  # the partial member is removed


def test_encrypted_zip_and_7z_not_read_without_password_read_with_it(tmp_path: Path) -> None:
    import py7zr

    s7 = tmp_path / "sample.7z"
    with py7zr.SevenZipFile(s7, "w", password="infected", header_encryption=True) as zf:
        zf.writestr(b"secret line\n", "a.log")
    plain = tmp_path / "plain.7z"
    with py7zr.SevenZipFile(plain, "w", password="infected") as zf:
        zf.writestr(b"names visible\n", "b.log")
    found, skipped = _walk([s7, plain])
    assert found == {}
    assert [(s.display, s.kind) for s in skipped] == [(str(s7), "encrypted"),
                                                       (str(plain), "encrypted")]  # fmt: skip
    assert all("not read: encrypted" in s.reason for s in skipped)
    found, skipped = _walk([s7, plain], password="infected")
    assert found == {f"{s7}!a.log": b"secret line\n", f"{plain}!b.log": b"names visible\n"}
    found, skipped = _walk([s7], password="wrong")
    assert found == {} and [s.kind for s in skipped] == ["encrypted"]


def test_zipcrypto_member_needs_the_password(tmp_path: Path) -> None:
    import shutil
    import subprocess

    if shutil.which("zip") is None:
        import pytest

        pytest.skip("the zip tool (Info-ZIP) is not installed")
    (tmp_path / "a.log").write_bytes(b"zipcrypto line\n")
    z = tmp_path / "enc.zip"
    subprocess.run(["zip", "-q", "-P", "infected", str(z), "a.log"], cwd=tmp_path, check=True)
    found, skipped = _walk([z])
    assert found == {} and [(s.display, s.kind) for s in skipped] == [(f"{z}!a.log", "encrypted")]
    found, skipped = _walk([z], password="infected")
    assert found == {f"{z}!a.log": b"zipcrypto line\n"} and skipped == []


def test_split_archives_are_joined(tmp_path: Path) -> None:
    import os
    import shutil
    import subprocess

    log = _access_lines(3000)
    whole = _zip({"access.log": log})
    parts = tmp_path / "7zip-split"
    parts.mkdir()
    for i in range(0, len(whole), 20_000):  # 7-Zip's "split to volumes": plain cuts
        (parts / f"collect.zip.{i // 20_000 + 1:03d}").write_bytes(whole[i : i + 20_000])
    assert len(list(parts.iterdir())) > 1
    found, skipped = _walk([parts])
    assert found == {f"{parts / 'collect.zip.001'}!access.log": log} and skipped == []

    # rotated logs numbered .001, .002 are not archives: read one by one
    rot = tmp_path / "rotated"
    rot.mkdir()
    (rot / "app.log.001").write_bytes(b"one\n")
    (rot / "app.log.002").write_bytes(b"two\n")
    found, _ = _walk([rot])
    assert sorted(found.values()) == [b"one\n", b"two\n"]

    if shutil.which("zip") is None:
        return
    zdir = tmp_path / "zip-split"
    zdir.mkdir()
    (tmp_path / "big.log").write_bytes(log + os.urandom(200_000).hex().encode())
    subprocess.run(["zip", "-q", "-s", "100k", str(zdir / "sp.zip"), "big.log"], cwd=tmp_path,
                   check=True)  # fmt: skip
    assert (zdir / "sp.z01").exists()
    found, skipped = _walk([zdir])
    assert found == {f"{zdir / 'sp.z01'}!big.log": (tmp_path / "big.log").read_bytes()}
    assert skipped == []


def test_disk_images_are_recorded_as_not_read(tmp_path: Path) -> None:
    (tmp_path / "C.vhdx").write_bytes(b"vhdxfile" + b"\0" * 1024)
    (tmp_path / "disk.E01").write_bytes(b"EVF\x09\x0d\x0a\xff\x00" + b"\1" * 1024)
    vhd = bytearray(4096)
    vhd[-512:-504] = b"conectix"  # a fixed VHD keeps its footer at the end
    (tmp_path / "fixed.vhd").write_bytes(bytes(vhd))
    found, skipped = _walk([tmp_path])
    assert found == {}
    assert {Path(s.display).name: s.kind for s in skipped} == {
        "C.vhdx": "disk-image", "disk.E01": "disk-image", "fixed.vhd": "disk-image"}  # fmt: skip
    assert all("not opened" in s.reason for s in skipped)


def test_7z_symlink_member_refused(tmp_path: Path) -> None:
    import os

    import py7zr

    src = tmp_path / "src"
    src.mkdir()
    (src / "real.log").write_bytes(b"real line\n")
    os.symlink("/etc/passwd", src / "link.log")
    a = tmp_path / "links.7z"
    with py7zr.SevenZipFile(a, "w") as zf:
        zf.write(src / "real.log", "real.log")
        zf.write(src / "link.log", "link.log")
    found, skipped = _walk([a])
    assert found == {f"{a}!real.log": b"real line\n"}
    assert [(s.display, s.kind) for s in skipped] == [(f"{a}!link.log", "link")]


def test_folders_of_killed_walkers_are_removed(tmp_path: Path) -> None:
    import subprocess
    import sys

    gone = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"],
                          capture_output=True, text=True, check=True)  # fmt: skip
    dead, alive, foreign = (tmp_path / f"ashiato-{n}" for n in ("dead", "alive", "foreign"))
    for folder in (dead, alive, foreign):
        (folder / "1").mkdir(parents=True)
        (folder / "1" / "unpacked.log").write_bytes(b"x" * 1000)
    (dead / ".owner").write_text(gone.stdout.strip())
    (alive / ".owner").write_text(str(os.getppid()))  # pytest's parent: running
    walk.remove_stale(tmp_path)
    assert not dead.exists() and alive.exists() and foreign.exists()
    with Walker(tmp_parent=tmp_path) as w:
        assert (w._tmp / ".owner").read_text() == str(os.getpid())


def test_aes_zip_says_what_to_do(tmp_path: Path) -> None:
    # WinZip AES (APPNOTE 4.4.5 method 99, with the encrypted flag): zipfile can't open it
    plain = b"PK\x03\x04\x14\x00\x00\x00\x08\x00"  # version, flags, method 8
    data = bytearray(_zip({"a.log": b"x" * 100}).replace(plain, plain[:6] + b"\x01\x00\x63\x00"))
    cd = data.find(b"PK\x01\x02")
    data[cd + 8 : cd + 12] = b"\x01\x00\x63\x00"
    z = tmp_path / "aes.zip"
    z.write_bytes(bytes(data))
    for password in (None, "infected"):
        found, skipped = _walk([z], password=password)
        assert found == {} and [s.kind for s in skipped] == ["encrypted"]
    assert "7-Zip" in skipped[0].reason
