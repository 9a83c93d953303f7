"""Run one format over one file outside a case: for tests and ``formats --explain``."""

from __future__ import annotations

from pathlib import Path
from zoneinfo import ZoneInfo

import pyarrow as pa

from ashiato.evidence.encoding import detect
from ashiato.formats.base import SAMPLE_BYTES, Format, Reject, Source
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
    batches = [finalize_batch(b, "test", fmt.dataset) for b in fmt.parse(source)]
    table = pa.Table.from_batches(batches, schema=EVENT_SCHEMA)
    return table, source.rejects
