"""Where a case lives: a local folder or a URL (``file://``, ``s3://``, ``hdfs://``, ``gs://``...).

Files are reached through ``pyarrow.fs`` (and fsspec, when installed, for schemes pyarrow
doesn't know), so the same code runs on the driver and on Spark executors. Spark itself
reads the events through Hadoop's file systems: :func:`spark_url` maps ``s3://`` to
``s3a://`` for it.

A case at a URL is worked on through a local working copy of its catalogue
(``manifest.json``, ``case.duckdb``): :func:`working_copy` fetches it, :func:`push` sends it
back. The events are never copied: they stay where they are and the engine reads them there.
"""

from __future__ import annotations

import hashlib
import os
import re
import tempfile
from dataclasses import dataclass
from pathlib import Path

import pyarrow.fs as pafs

from ashiato.case import (
    _BATCH,
    _EMPTY,
    DB,
    EVENTS,
    MANIFEST,
    PART_STEM,
    Case,
    batch_evidence,
    drop_from_batch,
)
from ashiato.errors import CaseError

ENV_WORKDIR = "ASHIATO_WORKDIR"  # where working copies of remote catalogues are kept


_COLLAPSED = re.compile(r"^([a-zA-Z][a-zA-Z0-9+.-]+):/(?!/)")


def normalise(target: str | os.PathLike[str]) -> str:
    """A local path made absolute (``file://`` stripped), or the URL without a trailing /.

    A URL that went through ``pathlib.Path`` (``s3:/bucket/case``, as the CLI hands it
    over) gets its ``//`` back; ``hdfs:///path`` can't be told from ``hdfs://path`` then:
    name the namenode (``hdfs://nn:8020/path``).
    """
    text = os.fspath(target)
    hit = _COLLAPSED.match(text)
    if hit:
        rest = text[hit.end() :]
        text = f"file:///{rest}" if hit.group(1) == "file" else f"{hit.group(1)}://{rest}"
    if "://" in text:
        return text.rstrip("/")
    return str(Path(text).absolute())


def join(base: str, *parts: str) -> str:
    return "/".join([base.rstrip("/"), *(p.strip("/") for p in parts)])


def filesystem(url: str) -> tuple[pafs.FileSystem, str]:
    """The file system holding ``url`` and the path inside it."""
    url = normalise(url)
    if "://" not in url:
        return pafs.LocalFileSystem(), url
    if url.startswith("file://"):
        return pafs.LocalFileSystem(), "/" + url.removeprefix("file://").lstrip("/")
    try:
        fs, path = pafs.FileSystem.from_uri(url)
        return fs, path
    except ValueError:  # ArrowInvalid: a scheme pyarrow doesn't know
        pass
    try:
        import fsspec
    except ImportError as exc:
        raise CaseError(f"{url}: no file system for this scheme (pip install fsspec?)") from exc
    ffs, path = fsspec.core.url_to_fs(url)
    return pafs.PyFileSystem(pafs.FSSpecHandler(ffs)), str(path)


def spark_url(url: str) -> str:
    """The URL Hadoop's file systems understand (``s3://`` → ``s3a://``, paths → file:)."""
    url = normalise(url)
    if "://" not in url:
        return "file://" + url
    if url.startswith("s3://"):
        return "s3a://" + url.removeprefix("s3://")
    return url


def exists(url: str) -> bool:
    fs, path = filesystem(url)
    return bool(fs.get_file_info(path).type != pafs.FileType.NotFound)


def read_bytes(url: str) -> bytes:
    fs, path = filesystem(url)
    with fs.open_input_stream(path) as fh:
        data: bytes = fh.read()
    return data


def write_bytes(url: str, data: bytes) -> None:
    """Write a file whole: to ``.tmp`` beside it, then moved over it."""
    fs, path = filesystem(url)
    parent = path.rsplit("/", 1)[0]
    if parent:
        fs.create_dir(parent, recursive=True)
    tmp = path + ".tmp"
    with fs.open_output_stream(tmp) as fh:
        fh.write(data)
    fs.move(tmp, path)


def listing(url: str) -> list[str]:
    """Every file below ``url`` (paths inside its file system), or [] if it doesn't exist."""
    fs, path = filesystem(url)
    if fs.get_file_info(path).type == pafs.FileType.NotFound:
        return []
    infos = fs.get_file_info(pafs.FileSelector(path, recursive=True))
    return [i.path for i in infos if i.type == pafs.FileType.File]


def delete_events(events_url: str, evidence_ids: set[str],
                  unknown_besides: set[str] | None = None) -> int:  # fmt: skip
    """Remove Parquet parts (either layout) of ``evidence_ids``, every ``.tmp``, and, when
    ``unknown_besides`` is given, the parts of any evidence id not in it (leftovers)."""
    fs, _ = filesystem(events_url)
    n = 0
    for path in listing(events_url):
        name = path.rsplit("/", 1)[-1]
        stem = name.split(".", 1)[0]
        if _BATCH.fullmatch(stem) and name.endswith(".parquet"):
            n += _drop_batched(fs, path, evidence_ids, unknown_besides)
            continue
        if PART_STEM.fullmatch(stem):
            stem = stem[:16]
        orphan = unknown_besides is not None and bool(PART_STEM.fullmatch(stem)) and (
            stem not in unknown_besides)  # fmt: skip
        if stem in evidence_ids or orphan or name.endswith(".tmp"):
            fs.delete_file(path)
            n += 1
    return n


def _drop_batched(fs: pafs.FileSystem, path: str, evidence_ids: set[str],
                  unknown_besides: set[str] | None) -> int:  # fmt: skip
    """The rows of those evidence files out of a part several small files share (written
    by a local ingest, so on a local disk: rewritten without them); 1 if it went."""
    if not isinstance(fs, pafs.LocalFileSystem):
        return 0
    part = Path(path)
    held = batch_evidence(part)
    gone = held & evidence_ids
    if unknown_besides is not None:
        gone |= held - unknown_besides
    if not gone:
        return 0
    drop_from_batch(part, gone)
    return 0 if part.exists() else 1


@dataclass(frozen=True)
class CaseAt:
    """A case and the local folder holding its catalogue (itself, for a local case)."""

    url: str  # normalised: an absolute local path or a URL
    case: Case

    @property
    def remote(self) -> bool:
        return "://" in self.url

    @property
    def events_url(self) -> str:
        return join(self.url, EVENTS)

    def push(self, names: tuple[str, ...] | list[str] = (MANIFEST, DB)) -> None:
        """Send files of the working copy back to the remote case (no-op when local)."""
        if not self.remote:
            return
        for name in names:
            local = self.case.root / name
            if local.exists():
                write_bytes(join(self.url, name), local.read_bytes())


def open_case(target: Case | str | os.PathLike[str], *, create: bool = False,
              tz: str | None = None) -> CaseAt:  # fmt: skip
    """A case by folder or URL; for a URL, a local working copy of its catalogue."""
    if isinstance(target, Case):
        return CaseAt(str(target.root.absolute()), target)
    url = normalise(target)
    if "://" not in url:
        root = Path(url)
        return CaseAt(url, Case.create_or_open(root, tz=tz) if create else Case.open(root))
    work = working_copy(url, create=create)
    case = Case.create_or_open(work, tz=tz) if create else Case.open(work)
    at = CaseAt(url, case)
    if create:
        empty = join(at.events_url, _EMPTY)
        if not exists(empty):  # keeps the DuckDB view valid on a copy of the whole case
            write_bytes(empty, (case.events_dir / _EMPTY).read_bytes())
        at.push((MANIFEST,))
    return at


def working_copy(url: str, *, create: bool = False) -> Path:
    """Fetch a remote case's manifest and catalogue into a local folder (kept between runs)."""
    base = Path(os.environ.get(ENV_WORKDIR) or Path(tempfile.gettempdir()) / "ashiato-cases")
    work = base / hashlib.sha256(url.encode()).hexdigest()[:16]
    work.mkdir(parents=True, exist_ok=True)
    (work / "REMOTE").write_text(url + "\n", "utf-8")
    for name in (MANIFEST, DB):
        remote = join(url, name)
        if exists(remote):
            (work / name).write_bytes(read_bytes(remote))
        elif name == MANIFEST and not create:
            raise CaseError(f"{url} is not an ashiato case (no {MANIFEST})")
    return work
