"""Turn what a responder hands over (files, folders, archives) into evidence files.

Archives are unpacked member by member into a private temporary folder, never next
to the evidence: evidence is opened read-only and never changed. Member names that
would leave the archive (absolute paths, ``..``, links) are refused. Nested archives
are followed up to ``MAX_DEPTH`` levels; what one input unpacks to, across all its
levels, is bounded by total size, member count and compression ratio, the same for
every archive type (7z included: declared sizes are checked first, then every byte
written is counted). Split archives (``x.7z.001``, ``x.002``...; ``x.z01``... ``x.zip``)
are joined first. Whatever is not read (too deep, refused, a bomb, encrypted, a disk
image) is a :class:`Skipped` the ingest records in the case, so coverage can say so.
"""

from __future__ import annotations

import bz2
import gzip
import hashlib
import lzma
import os
import re
import shutil
import stat
import tarfile
import tempfile
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import IO, Any

from ashiato.errors import EvidenceError
from ashiato.evidence import hash_ahead

MAX_DEPTH = 8
MAX_MEMBER_BYTES = 8 << 30  # one member may unpack to 8 GiB
MAX_TOTAL_BYTES = 64 << 30  # one input may unpack to 64 GiB, all levels together
MAX_MEMBERS = 200_000  # files one input may hold, all levels together
MAX_RATIO = 200  # a member may be at most 200 times its compressed size (plus 1 MiB)
_SLACK = 1 << 20
_ZIP_AES = 99  # WinZip AES (7-Zip's "zip AES-256"): the compression method zipfile refuses
_COPY = 1 << 20
_SPLIT_7Z = re.compile(r"^(?P<base>.+)\.(?P<n>\d{3})$")
_SPLIT_ZIP = re.compile(r"^(?P<base>.+)\.z(?P<n>\d{2})$", re.IGNORECASE)


@dataclass(frozen=True)
class EvidenceFile:
    """One file to ingest: ``path`` is readable locally, ``display`` is what the user gave."""

    path: Path
    display: str
    size: int
    container: str | None = None  # the archive it came from, if any


@dataclass
class Skipped:
    """Evidence that was not read: ``reason`` says why in the responder's words.

    ``kind``: empty, unreadable, link, too-deep, unsafe-path, bomb, encrypted, damaged,
    disk-image. Every kind but ``empty`` is evidence the case does not hold.
    """

    display: str
    reason: str
    container: str | None = None
    kind: str = "unreadable"
    size: int | None = None


class _Refused(EvidenceError):
    """A member or archive the walker will not read; ``kind`` as in :class:`Skipped`."""

    def __init__(self, message: str, kind: str) -> None:
        super().__init__(message)
        self.kind = kind


def sha256_of(path: Path) -> str:
    done = hash_ahead.take(path)  # hashed in a thread meanwhile (a large file given by name)
    if done is not None:
        return done
    with path.open("rb") as fh:
        # into one buffer reused, not a new 1 MB object per read: a quarter less CPU
        # over hundreds of small logs
        return hashlib.file_digest(fh, "sha256").hexdigest()


def archive_kind(path: Path) -> str | None:
    """Recognise an archive by its first bytes (names lie; content doesn't)."""
    try:
        with path.open("rb") as fh:
            head = fh.read(262)
    except OSError:
        return None
    # PK\x07\x08 starts the first part of a split zip
    if head.startswith((b"PK\x03\x04", b"PK\x05\x06", b"PK\x07\x08PK\x03\x04")):
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


def image_kind(path: Path) -> str | None:
    """A disk image ashiato does not open (VHDX, VHD, E01/Ex01, VMDK), by its magic."""
    try:
        with path.open("rb") as fh:
            head = fh.read(512)
            size = fh.seek(0, os.SEEK_END)
            tail = b""
            if size >= 512:
                fh.seek(size - 512)
                tail = fh.read(8)
    except OSError:
        return None
    if head.startswith(b"vhdxfile"):
        return "VHDX"
    if head.startswith(b"conectix") or tail.startswith(b"conectix"):
        return "VHD"
    if head.startswith((b"EVF\x09\x0d\x0a\xff\x00", b"EVF2\x0d\x0a\x81\x00")):
        return "E01"
    if head.startswith(b"KDMV"):
        return "VMDK"
    return None


class Walker:
    """Expands inputs into evidence files; owns the temporary folder for unpacked members.

    ``tmp_parent`` is where that folder is made (an ingest uses the case's own, so the
    next run can remove what a killed one left); ``password`` opens encrypted zip/7z.
    """

    def __init__(self, tmp_parent: Path | None = None, password: str | None = None) -> None:
        if tmp_parent is not None:
            tmp_parent.mkdir(parents=True, exist_ok=True)
        else:
            remove_stale(Path(tempfile.gettempdir()))
        self._tmp = Path(tempfile.mkdtemp(prefix="ashiato-", dir=tmp_parent))
        (self._tmp / _OWNER).write_text(str(os.getpid()), "ascii")
        self.password = password
        self.skipped: list[Skipped] = []
        self._n = 0
        self._volumes: dict[Path, list[int]] = {}  # joined split zips: where each part starts

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
                    consumed: set[str] = set()
                    for name in sorted(files):
                        if name in consumed:
                            continue
                        path = Path(root) / name
                        parts = _split_parts(path)
                        consumed.update(q.name for q in parts[1:])
                        yield from self._input(path, parts)
            else:
                yield from self._input(p, _split_parts(p))

    def _input(self, path: Path, parts: list[Path]) -> Iterator[EvidenceFile]:
        budget = _Budget(str(path))
        if len(parts) > 1:
            try:
                joined = self._join(parts)
            except OSError as exc:
                self._skip(str(path), f"can't join the split archive: {exc.strerror}", None,
                           "unreadable")  # fmt: skip
                return
            yield from self._file(joined, str(path), None, 0, budget)
        else:
            yield from self._file(path, str(path), None, 0, budget)

    def _join(self, parts: list[Path]) -> Path:
        """The parts of a split archive as one file (zip parts keep their offsets)."""
        target = self._target(parts[0].name)
        offsets = []
        with target.open("wb") as out:
            for part in parts:
                offsets.append(out.tell())
                with part.open("rb") as src:
                    shutil.copyfileobj(src, out, _COPY)
        self._volumes[target] = offsets
        return target

    def _skip(
        self, display: str, reason: str, container: str | None, kind: str, size: int | None = None
    ) -> None:
        self.skipped.append(Skipped(display, reason, container, kind, size))

    def _file(
        self, path: Path, display: str, container: str | None, depth: int, budget: _Budget
    ) -> Iterator[EvidenceFile]:
        try:
            st = path.lstat()
        except OSError as exc:
            self._skip(display, f"can't read: {exc.strerror}", container, "unreadable")
            return
        if stat.S_ISLNK(st.st_mode) or not stat.S_ISREG(st.st_mode):
            self._skip(display, "not a regular file (link or device)", container, "link")
            return
        if st.st_size == 0:
            self._skip(display, "empty file", container, "empty", 0)
            return
        kind = archive_kind(path)
        if kind is None:
            image = image_kind(path)
            if image is not None:
                self._skip(display, f"{image} disk image: not opened by ashiato; mount it or "
                           "export its logs with a forensic tool and ingest those", container,
                           "disk-image", st.st_size)  # fmt: skip
                return
            yield EvidenceFile(path, display, st.st_size, container)
            return
        if depth >= MAX_DEPTH:
            self._skip(display, f"archive nested deeper than {MAX_DEPTH} levels; unpack it "
                       "yourself and ingest the folder", container, "too-deep",
                       st.st_size)  # fmt: skip
            return
        try:
            yield from self._archive(path, display, kind, depth, budget)
        except _Refused as exc:
            self._skip(display, exc.message, container, exc.kind, st.st_size)
        except EvidenceError as exc:
            self._skip(display, exc.message, container, "unreadable", st.st_size)
        except (OSError, EOFError, zipfile.BadZipFile, tarfile.TarError, lzma.LZMAError) as exc:
            self._skip(display, f"damaged {kind} archive: {exc}", container, "damaged",
                       st.st_size)  # fmt: skip

    def _member(
        self, display: str, name: str, depth: int, budget: _Budget, target: Path
    ) -> Iterator[EvidenceFile]:
        budget.count(f"{display}!{name}")
        yield from self._file(target, f"{display}!{name}", display, depth + 1, budget)

    def _archive(
        self, path: Path, display: str, kind: str, depth: int, budget: _Budget
    ) -> Iterator[EvidenceFile]:
        if kind in ("gzip", "bzip2", "xz"):
            opener = {"gzip": gzip.open, "bzip2": bz2.open, "xz": lzma.open}[kind]
            inner = path.name
            for suffix in (".gz", ".tgz", ".bz2", ".xz"):
                if inner.lower().endswith(suffix):
                    inner = inner[: -len(suffix)] + (".tar" if suffix == ".tgz" else "")
                    break
            target = self._target(inner)
            with opener(path, "rb") as src:  # type: ignore[operator]
                budget.copy(src, target, f"{display}!{inner}", path.stat().st_size)
            yield from self._member(display, inner, depth, budget, target)
        elif kind == "zip":
            yield from self._zip(path, display, depth, budget)
        elif kind == "tar":
            with tarfile.open(path, "r:*") as tf:
                for member in tf:
                    if member.isdir():
                        continue
                    shown = f"{display}!{member.name}"
                    try:
                        name = _safe_member(member.name, display)
                        if not member.isfile():
                            raise _Refused(f"{display}!{name}: link or device refused", "link")
                        src = tf.extractfile(member)
                        if src is None:
                            continue
                        target = self._target(name)
                        budget.copy(src, target, shown, member.size)
                    except _Refused as exc:
                        self._skip(shown, exc.message, display, exc.kind, member.size)
                        continue
                    yield from self._member(display, name, depth, budget, target)
        elif kind == "7z":
            yield from self._sevenzip(path, display, budget, depth)

    def _zip(self, path: Path, display: str, depth: int, budget: _Budget) -> Iterator[EvidenceFile]:
        with zipfile.ZipFile(path) as zf:
            _fix_split_offsets(zf, self._volumes.get(path))
            pwd = self.password.encode("utf-8") if self.password else None
            for info in zf.infolist():
                if info.is_dir():
                    continue
                shown = f"{display}!{info.filename}"
                try:
                    name = _safe_member(info.filename, display)
                    if (info.external_attr >> 16) & 0o170000 == 0o120000:
                        raise _Refused(f"{display}!{name}: symbolic link refused", "link")
                    encrypted = bool(info.flag_bits & 0x1)
                    if encrypted and pwd is None:
                        raise _Refused(f"{shown}: not read: encrypted (give the password "
                                       "with --password)", "encrypted")  # fmt: skip
                    target = self._target(name)
                    try:
                        with zf.open(info, pwd=pwd if encrypted else None) as src:
                            budget.copy(src, target, shown, info.compress_size)
                    except NotImplementedError as exc:
                        if info.compress_type == _ZIP_AES:
                            raise _Refused(f"{shown}: not read: encrypted with AES, which "
                                           "ashiato can't open; unpack it with 7-Zip and "
                                           "ingest the folder", "encrypted") from exc  # fmt: skip
                        raise _Refused(f"{shown}: not read: {exc}", "damaged") from exc
                    except RuntimeError as exc:  # a wrong password
                        raise _Refused(f"{shown}: not read: encrypted ({exc})",
                                       "encrypted") from exc  # fmt: skip
                except _Refused as exc:
                    self._skip(shown, exc.message, display, exc.kind, info.file_size)
                    continue
                yield from self._member(display, name, depth, budget, target)

    def _sevenzip(
        self, path: Path, display: str, budget: _Budget, depth: int
    ) -> Iterator[EvidenceFile]:
        import py7zr
        from py7zr.exceptions import Bad7zFile, PasswordRequired

        try:
            zf = py7zr.SevenZipFile(path, "r", password=self.password)
        except PasswordRequired as exc:  # the member names themselves are encrypted
            raise _Refused(f"{display}: not read: encrypted (give the password with "
                           "--password)", "encrypted") from exc  # fmt: skip
        except Bad7zFile as exc:
            raise _Refused(f"{display}: damaged 7z archive: {exc}", "damaged") from exc
        except Exception as exc:
            if self.password:  # an encrypted header read with the wrong key is junk
                raise _Refused(f"{display}: not read: encrypted (the password did not open "
                               "it)", "encrypted") from exc  # fmt: skip
            raise _Refused(f"{display}: damaged 7z archive: {exc}", "damaged") from exc
        with zf:
            if zf.needs_password() and not self.password:
                raise _Refused(f"{display}: not read: encrypted (give the password with "
                               "--password)", "encrypted")  # fmt: skip
            infos = [i for i in zf.list() if not i.is_directory]
            wanted: dict[str, tuple[str, Path]] = {}
            declared = 0
            for info in infos:
                shown = f"{display}!{info.filename}"
                try:
                    name = _safe_member(info.filename, display)
                    if getattr(info, "is_symlink", False):
                        raise _Refused(f"{display}!{name}: symbolic link refused", "link")
                except _Refused as exc:
                    self._skip(shown, exc.message, display, exc.kind, info.uncompressed)
                    continue
                declared += info.uncompressed or 0
                wanted[info.filename] = (name, self._target(name))
            # solid blocks have no per-member compressed size: the ratio applies to the
            # whole archive, first to the sizes it declares, then to the bytes written
            limit = _ratio_limit(path.stat().st_size)
            if declared > limit:
                raise _Refused(f"{display}: declares {declared:,} bytes from "
                               f"{path.stat().st_size:,}: compression ratio over the limit "
                               "(possible archive bomb); not unpacked", "bomb")  # fmt: skip
            factory = _SevenZipTargets(wanted, budget, display, limit)
            try:
                # duck-typed: py7zr only calls create() (importing py7zr here would make
                # it a hard import of every ingest)
                zf.extract(targets=list(wanted), factory=factory)  # type: ignore[arg-type]
            except _Refused:
                raise
            except PasswordRequired as exc:
                raise _Refused(f"{display}: not read: encrypted (give the password with "
                               "--password)", "encrypted") from exc  # fmt: skip
            except Exception as exc:
                if factory.refused is not None:
                    raise factory.refused from exc
                if self.password and zf.needs_password():
                    raise _Refused(f"{display}: not read: encrypted (the password did not "
                                   "open it)", "encrypted") from exc  # fmt: skip
                raise _Refused(f"{display}: damaged 7z archive: {exc}", "damaged") from exc
            if factory.refused is not None:
                raise factory.refused
        for _filename, (name, target) in wanted.items():
            if target.is_file():
                yield from self._member(display, name, depth, budget, target)

    def _target(self, name: str) -> Path:
        self._n += 1
        d = self._tmp / str(self._n)
        d.mkdir()
        return d / (PurePosixPath(name).name or "member")


_OWNER = ".owner"  # the pid of the process that unpacks into a walker's folder


def remove_stale(parent: Path) -> None:
    """Remove walker folders under ``parent`` whose process is gone (a killed run).

    Only folders carrying a walker's owner file are touched, and only when no process
    with that id exists; a live process (or one we may not signal) keeps its folder.
    """
    for folder in parent.glob("ashiato-*"):
        try:
            pid = int((folder / _OWNER).read_text("ascii").strip())
        except (OSError, ValueError):
            continue
        if pid == os.getpid():
            continue
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            shutil.rmtree(folder, ignore_errors=True)
        except OSError:
            continue


def _ratio_limit(compressed: int) -> int:
    return min(MAX_TOTAL_BYTES, max(compressed, 1) * MAX_RATIO + _SLACK)


class _Budget:
    """Counts what one input unpacks, across all its nesting levels, to stop bombs early."""

    def __init__(self, display: str) -> None:
        self.display = display
        self.total = 0
        self.members = 0

    def count(self, name: str) -> None:
        self.members += 1
        if self.members > MAX_MEMBERS:
            raise _Refused(f"{self.display}: holds more than {MAX_MEMBERS:,} files (stopped at "
                           f"{name}); unpack it yourself if this is genuine", "bomb")  # fmt: skip

    def add(self, n: int, name: str) -> None:
        self.total += n
        if self.total > MAX_TOTAL_BYTES:
            raise _Refused(
                f"{self.display}: unpacks to more than {MAX_TOTAL_BYTES >> 30} GiB "
                f"(stopped at {name}); unpack it yourself if this is genuine",
                "bomb",
            )

    def copy(self, src: IO[bytes], target: Path, name: str, compressed: int) -> None:
        limit = min(MAX_MEMBER_BYTES, _ratio_limit(compressed))
        written = 0
        try:
            with target.open("wb") as out:
                while chunk := src.read(_COPY):
                    written += len(chunk)
                    self.add(len(chunk), name)
                    if written > limit:
                        raise _Refused(
                            f"{name}: compression ratio or size over the limit "
                            "(possible archive bomb); member skipped",
                            "bomb",
                        )
                    out.write(chunk)
        except _Refused:
            target.unlink(missing_ok=True)
            raise


class _SevenZipTargets:
    """py7zr writer factory: each wanted member to its own file, every byte counted."""

    def __init__(
        self, wanted: dict[str, tuple[str, Path]], budget: _Budget, display: str, limit: int
    ) -> None:
        self.wanted = wanted
        self.budget = budget
        self.display = display
        self.limit = limit
        self.written = 0
        self.refused: _Refused | None = None

    def create(self, filename: str) -> Any:
        return _LimitedFile(self, filename)


class _LimitedFile:
    def __init__(self, owner: _SevenZipTargets, filename: str) -> None:
        self.owner = owner
        entry = owner.wanted.get(filename)
        self.target = entry[1] if entry else None
        self.fh = self.target.open("wb") if self.target else None
        self.name = f"{owner.display}!{filename}"

    def write(self, s: bytes | bytearray) -> int:
        o = self.owner
        o.written += len(s)
        try:
            o.budget.add(len(s), self.name)
            if o.written > o.limit or o.written > MAX_MEMBER_BYTES * max(1, len(o.wanted)):
                raise _Refused(f"{o.display}: unpacks to more than {o.limit:,} bytes "
                               "(compression ratio over the limit, possible archive bomb); "
                               "not unpacked", "bomb")  # fmt: skip
        except _Refused as exc:
            o.refused = o.refused or exc
            self.close()
            if self.target is not None:
                self.target.unlink(missing_ok=True)
            raise
        if self.fh is not None:
            self.fh.write(s)
        return len(s)

    def read(self, size: int | None = None) -> bytes:
        return b""

    def seek(self, offset: int, whence: int = 0) -> int:
        return 0

    def flush(self) -> None:
        if self.fh is not None:
            self.fh.flush()

    def size(self) -> int:
        return self.owner.written

    def close(self) -> None:
        if self.fh is not None:
            self.fh.close()
            self.fh = None


def _split_parts(path: Path) -> list[Path]:
    """``[path]``, or every part of the split archive ``path`` belongs to, in order.

    Only parts that start an archive are joined: rotated logs named ``.001`` stay apart.
    """
    name = path.name
    m = _SPLIT_7Z.match(name)
    if m and m.group("n") == "001":
        parts = _numbered(path, m.group("base") + ".{:03d}")
        if len(parts) > 1 and archive_kind(path) is not None:
            return parts
        return [path]
    m = _SPLIT_ZIP.match(name)
    base = m.group("base") if m and m.group("n") == "01" else None
    if name.lower().endswith(".zip") and path.with_name(name[:-4] + ".z01").is_file():
        base, path = name[:-4], path.with_name(name[:-4] + ".z01")
    if base is not None:
        last = path.with_name(base + ".zip")
        if last.is_file() and archive_kind(path) == "zip":
            return [*_numbered(path, base + ".z{:02d}"), last]
    return [path]


def _numbered(first: Path, pattern: str) -> list[Path]:
    parts = [first]
    while (nxt := first.with_name(pattern.format(len(parts) + 1))).is_file():
        parts.append(nxt)
    return parts


def _fix_split_offsets(zf: zipfile.ZipFile, volumes: list[int] | None) -> None:
    """A joined split zip: member offsets count from the start of their own part."""
    if not volumes or len(volumes) < 2:
        return
    # zipfile took the central directory's part start as the one shift for every member
    shift = zf.start_dir - _cd_offset(zf)
    for info in zf.infolist():
        volume = getattr(info, "volume", 0)
        if 0 <= volume < len(volumes):
            info.header_offset = info.header_offset - shift + volumes[volume]


def _cd_offset(zf: zipfile.ZipFile) -> int:
    fp = zf.fp
    assert fp is not None
    endrec = zipfile._EndRecData(fp)  # type: ignore[attr-defined]
    return int(endrec[zipfile._ECD_OFFSET])  # type: ignore[attr-defined]


def _safe_member(name: str, display: str) -> str:
    """Refuse member names that would escape the extraction folder."""
    clean = name.replace("\\", "/")
    p = PurePosixPath(clean)
    if p.is_absolute() or ".." in p.parts or (len(clean) > 1 and clean[1] == ":"):
        raise _Refused(f"{display}!{name}: member path leaves the archive; refused", "unsafe-path")
    return str(p)
