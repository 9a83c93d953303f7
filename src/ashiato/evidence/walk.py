"""Turn what a responder hands over (files, folders, archives) into evidence files.

Archives are unpacked member by member into a private temporary folder, never next
to the evidence: evidence is opened read-only and never changed. Member names that
would leave the archive (absolute paths, ``..``, links) are refused, and size and
compression-ratio limits stop archive bombs. Nested archives are followed up to
``MAX_DEPTH`` levels.
"""

from __future__ import annotations

import bz2
import gzip
import hashlib
import lzma
import os
import shutil
import stat
import tarfile
import tempfile
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import IO

from ashiato.errors import EvidenceError

MAX_DEPTH = 3
MAX_MEMBER_BYTES = 8 << 30  # one member may unpack to 8 GiB
MAX_TOTAL_BYTES = 64 << 30  # one archive may unpack to 64 GiB
MAX_RATIO = 200  # a member may be at most 200 times its compressed size (plus 1 MiB)
_COPY = 1 << 20


@dataclass(frozen=True)
class EvidenceFile:
    """One file to ingest: ``path`` is readable locally, ``display`` is what the user gave."""

    path: Path
    display: str
    size: int
    container: str | None = None  # the archive it came from, if any


@dataclass
class Skipped:
    display: str
    reason: str


def sha256_of(path: Path) -> str:
    h = hashlib.sha256()
    with path.open("rb") as fh:
        while chunk := fh.read(_COPY):
            h.update(chunk)
    return h.hexdigest()


def archive_kind(path: Path) -> str | None:
    """Recognise an archive by its first bytes (names lie; content doesn't)."""
    try:
        with path.open("rb") as fh:
            head = fh.read(262)
    except OSError:
        return None
    if head.startswith(b"PK\x03\x04") or head.startswith(b"PK\x05\x06"):
        return "zip"
    if head.startswith(b"7z\xbc\xaf\x27\x1c"):
        return "7z"
    if head.startswith(b"\x1f\x8b"):
        return "gzip"
    if head.startswith(b"BZh"):
        return "bzip2"
    if head.startswith(b"\xfd7zXZ\x00"):
        return "xz"
    if len(head) >= 262 and head[257:262] == b"ustar":
        return "tar"
    return None


class Walker:
    """Expands inputs into evidence files; owns the temporary folder for unpacked members."""

    def __init__(self) -> None:
        self._tmp = Path(tempfile.mkdtemp(prefix="ashiato-"))
        self.skipped: list[Skipped] = []
        self._n = 0

    def close(self) -> None:
        shutil.rmtree(self._tmp, ignore_errors=True)

    def __enter__(self) -> Walker:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def walk(self, inputs: list[Path]) -> Iterator[EvidenceFile]:
        for p in inputs:
            p = p.absolute()
            if not p.exists():
                raise EvidenceError(f"no such file or folder: {p}")
            if p.is_dir():
                for root, dirs, files in os.walk(p, followlinks=False):
                    dirs.sort()
                    for name in sorted(files):
                        yield from self._file(Path(root) / name, str(Path(root) / name), None, 0)
            else:
                yield from self._file(p, str(p), None, 0)

    def _file(
        self, path: Path, display: str, container: str | None, depth: int
    ) -> Iterator[EvidenceFile]:
        try:
            st = path.lstat()
        except OSError as exc:
            self.skipped.append(Skipped(display, f"can't read: {exc.strerror}"))
            return
        if stat.S_ISLNK(st.st_mode) or not stat.S_ISREG(st.st_mode):
            self.skipped.append(Skipped(display, "not a regular file (link or device)"))
            return
        if st.st_size == 0:
            self.skipped.append(Skipped(display, "empty file"))
            return
        kind = archive_kind(path)
        if kind is None:
            yield EvidenceFile(path, display, st.st_size, container)
            return
        if depth >= MAX_DEPTH:
            self.skipped.append(Skipped(display, f"archive nested deeper than {MAX_DEPTH}"))
            return
        try:
            yield from self._archive(path, display, kind, depth)
        except EvidenceError as exc:
            self.skipped.append(Skipped(display, exc.message))
        except (OSError, EOFError, zipfile.BadZipFile, tarfile.TarError, lzma.LZMAError) as exc:
            self.skipped.append(Skipped(display, f"damaged {kind} archive: {exc}"))

    def _archive(self, path: Path, display: str, kind: str, depth: int) -> Iterator[EvidenceFile]:
        budget = _Budget(display)
        if kind in ("gzip", "bzip2", "xz"):
            opener = {"gzip": gzip.open, "bzip2": bz2.open, "xz": lzma.open}[kind]
            inner = path.name
            for suffix in (".gz", ".tgz", ".bz2", ".xz"):
                if inner.lower().endswith(suffix):
                    inner = inner[: -len(suffix)] + (".tar" if suffix == ".tgz" else "")
                    break
            target = self._target(inner)
            with opener(path, "rb") as src:  # type: ignore[operator]
                budget.copy(src, target, inner, path.stat().st_size)
            yield from self._file(target, f"{display}!{inner}", display, depth + 1)
        elif kind == "zip":
            with zipfile.ZipFile(path) as zf:
                for info in zf.infolist():
                    if info.is_dir():
                        continue
                    try:
                        name = _safe_member(info.filename, display)
                        if (info.external_attr >> 16) & 0o170000 == 0o120000:
                            raise EvidenceError(f"{display}!{name}: symbolic link refused")
                        target = self._target(name)
                        with zf.open(info) as src:
                            budget.copy(src, target, name, info.compress_size)
                    except EvidenceError as exc:
                        self.skipped.append(Skipped(f"{display}!{info.filename}", exc.message))
                        continue
                    yield from self._file(target, f"{display}!{name}", display, depth + 1)
        elif kind == "tar":
            with tarfile.open(path, "r:*") as tf:
                for member in tf:
                    if member.isdir():
                        continue
                    try:
                        name = _safe_member(member.name, display)
                        if not member.isfile():
                            raise EvidenceError(f"{display}!{name}: link or device refused")
                        src = tf.extractfile(member)
                        if src is None:
                            continue
                        target = self._target(name)
                        budget.copy(src, target, name, member.size)
                    except EvidenceError as exc:
                        self.skipped.append(Skipped(f"{display}!{member.name}", exc.message))
                        continue
                    yield from self._file(target, f"{display}!{name}", display, depth + 1)
        elif kind == "7z":
            yield from self._sevenzip(path, display, budget, depth)

    def _sevenzip(
        self, path: Path, display: str, budget: _Budget, depth: int
    ) -> Iterator[EvidenceFile]:
        import py7zr

        with py7zr.SevenZipFile(path, "r") as zf:
            infos = [i for i in zf.list() if not i.is_directory]
            for info in infos:
                name = _safe_member(info.filename, display)
                if info.uncompressed > MAX_MEMBER_BYTES:
                    raise EvidenceError(f"{display}!{name}: member larger than the limit")
                budget.add(info.uncompressed, name)
            outdir = self._target("7z")
            outdir.mkdir()
            # py7zr extracts whole solid blocks; names were checked above
            zf.extractall(path=outdir)  # noqa: S202 - member names checked above
        for info in infos:
            name = _safe_member(info.filename, display)
            target = outdir / name
            if target.is_file() and not target.is_symlink():
                yield from self._file(target, f"{display}!{name}", display, depth + 1)

    def _target(self, name: str) -> Path:
        self._n += 1
        d = self._tmp / str(self._n)
        d.mkdir()
        return d / (PurePosixPath(name).name or "member")


class _Budget:
    """Counts what an archive unpacks, to stop bombs early."""

    def __init__(self, display: str) -> None:
        self.display = display
        self.total = 0

    def add(self, n: int, name: str) -> None:
        self.total += n
        if self.total > MAX_TOTAL_BYTES:
            raise EvidenceError(
                f"{self.display}: unpacks to more than {MAX_TOTAL_BYTES >> 30} GiB "
                f"(stopped at {name}); unpack it yourself if this is genuine"
            )

    def copy(self, src: IO[bytes], target: Path, name: str, compressed: int) -> None:
        limit = min(MAX_MEMBER_BYTES, max(compressed, 1) * MAX_RATIO + (1 << 20))
        written = 0
        with target.open("wb") as out:
            while chunk := src.read(_COPY):
                written += len(chunk)
                self.add(len(chunk), name)
                if written > limit:
                    raise EvidenceError(
                        f"{self.display}!{name}: compression ratio or size over the limit "
                        "(possible archive bomb); member skipped"
                    )
                out.write(chunk)


def _safe_member(name: str, display: str) -> str:
    """Refuse member names that would escape the extraction folder."""
    clean = name.replace("\\", "/")
    p = PurePosixPath(clean)
    if p.is_absolute() or ".." in p.parts or (len(clean) > 1 and clean[1] == ":"):
        raise EvidenceError(f"{display}!{name}: member path leaves the archive; refused")
    return str(p)
