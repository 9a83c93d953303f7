"""Run one format over one file outside a case: for tests and ``formats --explain``."""

from __future__ import annotations

import tempfile
from pathlib import Path
from zoneinfo import ZoneInfo

import pyarrow as pa

from ashiato.evidence.encoding import detect
from ashiato.formats.base import SAMPLE_BYTES, Format, Reject, Source
from ashiato.formats.parts import Stored
from ashiato.normalize import finalize_batch
from ashiato.schema import EVENT_SCHEMA


def parse_file(
    fmt: Format, path: Path, tz: str = "UTC", **options: object
) -> tuple[pa.Table, list[Reject]]:
    """Parse ``path`` with ``fmt``; return the finalised events and the rejects."""
    with path.open("rb") as fh:
        head = fh.read(SAMPLE_BYTES)
    encoding = None if fmt.binary else detect(head)
    source = Source(
        path=path,
        display=str(path),
        evidence_id="test",
        encoding=encoding,
        tz=ZoneInfo(tz),
        year_hint=int(options.pop("year_hint", 2015)),  # type: ignore[call-overload]
        options=options,
    )
    with tempfile.TemporaryDirectory(prefix="ashiato-parts-") as folder:
        # a format may store rows itself in further parts (formats.parts): read in
        # order after what it yields, as a case's parts are
        source.parts = parts = FolderParts(folder)
        batches = list(fmt.parse(source))
        for part in sorted(parts.counted):
            with pa.memory_map(str(parts.path(part))) as fh:
                batches += list(pa.ipc.open_stream(fh))
        batches = [finalize_batch(b, "test", fmt.dataset) for b in batches]
        leftovers = sorted(p.name for p in Path(folder).iterdir() if p.stat().st_size)
        uncounted = [n for n in leftovers if int(n.split(".")[0]) not in parts.counted]
        if uncounted:  # a part given up must be removed, a part kept counted
            raise AssertionError(f"{fmt.name}: parts left behind: {uncounted}")
    table = pa.Table.from_batches(batches, schema=EVENT_SCHEMA)
    return table, source.rejects


class FolderParts:
    """A file's parts as Arrow IPC streams in a folder (formats.parts), for tests."""

    def __init__(self, folder: str) -> None:
        self.folder = Path(folder)
        self.counted: dict[int, Stored] = {}

    def path(self, part: int) -> Path:
        return self.folder / f"{part}.arrow"

    def open(self, part: int) -> _IpcPart:
        return _IpcPart(self.path(part))

    def count(self, part: int, stored: Stored) -> None:
        assert part not in self.counted, f"part {part} counted twice"
        self.counted[part] = stored

    def discard(self, part: int) -> None:
        self.path(part).unlink(missing_ok=True)
        self.path(part).with_suffix(".tmp").unlink(missing_ok=True)

    def spec(self) -> dict[str, str | None]:
        return {"factory": "ashiato.formats.testing:FolderParts", "folder": str(self.folder)}


class _IpcPart:
    def __init__(self, path: Path) -> None:
        self.path = path
        self.tmp = path.with_suffix(".tmp")
        self.stored = Stored()
        self._writer: pa.ipc.RecordBatchStreamWriter | None = None

    def add(self, batch: pa.RecordBatch) -> None:
        if self._writer is None:
            self._writer = pa.ipc.new_stream(str(self.tmp), batch.schema)
        self._writer.write_batch(batch)
        self.stored.add(batch)

    def close(self) -> Stored:
        if self._writer is not None:
            self._writer.close()
            self.tmp.replace(self.path)
        return self.stored

    def abort(self) -> None:
        if self._writer is not None:
            self._writer.close()
        self.tmp.unlink(missing_ok=True)
