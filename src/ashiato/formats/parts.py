"""Rows a format stores itself, in parts of the evidence file's own (``Source.parts``).

A format hands its rows on by yielding batches: they become the file's part 0. A format
that reads a large file in two processes (:mod:`ashiato.formats.evtx_parallel`) lets the
second process store its share itself, as part 1, instead of sending every row back: the
caller (``ingest.read_file``, or ``formats.testing`` for tests) says where, through a
:class:`Parts`. Parts read in their order (0, 1, 2...) give the rows of one pass.

A part is written under a temporary name and only put in place by ``close()``; a part
the format gives up (its process died) is removed with ``discard``. What a part written
by the format holds is told to the caller with ``count``, so that the file's row
count and first/last times are those of one pass. A worker started afresh (no fork)
rebuilds the :class:`Parts` from ``spec()`` (:func:`from_spec`).
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Protocol

import pyarrow as pa
import pyarrow.compute as pc


@dataclass
class Stored:
    """What a part holds: its rows and the first and last ``@timestamp`` among them."""

    rows: int = 0
    first: datetime | None = None
    last: datetime | None = None

    def add(self, batch: pa.RecordBatch) -> None:
        self.rows += batch.num_rows
        ts = batch.column("@timestamp")
        if ts.null_count == len(ts):
            return
        lo, hi = (v.as_py() for v in pc.min_max(ts).values())
        self.widen(lo, hi)

    def widen(self, lo: datetime | None, hi: datetime | None) -> None:
        if lo is not None and (self.first is None or lo < self.first):
            self.first = lo
        if hi is not None and (self.last is None or hi > self.last):
            self.last = hi

    def to_json(self) -> dict[str, Any]:
        """For a pipe (orjson writes datetimes as RFC 3339, microseconds kept)."""
        return {"rows": self.rows, "first": self.first, "last": self.last}

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Stored:
        def time(v: str | None) -> datetime | None:
            return None if v is None else datetime.fromisoformat(v)

        return cls(int(data["rows"]), time(data["first"]), time(data["last"]))


class PartWriter(Protocol):
    def add(self, batch: pa.RecordBatch) -> None: ...

    def close(self) -> Stored:
        """Put the part in place (nothing when it holds no rows); what it holds."""
        ...

    def abort(self) -> None: ...


class Parts(Protocol):
    """Where one evidence file's parts go (part 0: what the format yields)."""

    def open(self, part: int) -> PartWriter: ...

    def count(self, part: int, stored: Stored) -> None:
        """What a part the format wrote holds, once it is in place (whichever process
        wrote it): the file's row count and first/last times."""
        ...

    def discard(self, part: int) -> None:
        """Remove a part, in place or half-written (the process writing it failed)."""
        ...

    def spec(self) -> dict[str, str | None]:
        """What :func:`from_spec` needs to open these parts in a new interpreter:
        ``factory`` (``module:function``) and its keyword arguments, all strings."""
        ...


def from_spec(spec: dict[str, str | None]) -> Parts:
    """The :class:`Parts` described by ``spec()`` (in a worker started afresh)."""
    args = dict(spec)
    factory = args.pop("factory")
    assert factory is not None
    module, _, name = factory.partition(":")
    made: Parts = getattr(importlib.import_module(module), name)(**args)
    return made
