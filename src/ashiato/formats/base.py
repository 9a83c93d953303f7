"""What a format module provides, and what it is given.

A format module exports one ``FORMAT = Format(...)``: a cheap ``sniff(sample)`` that
never raises, and a streaming ``parse(source)`` that yields Arrow record batches in the
event schema (``schema.batch_from_columns`` or ``Rows`` build them). Records that can't be
parsed go to ``source.reject(...)``: they are stored in the case's ``rejects`` table, never
dropped silently.
"""

from __future__ import annotations

import codecs
import csv
import io
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any
from zoneinfo import ZoneInfo

import orjson
import pyarrow as pa

from ashiato.evidence.encoding import LineCounts, decode_lines, mixed_main
from ashiato.schema import batch_from_columns

if TYPE_CHECKING:
    from ashiato.formats.parts import Parts
    from ashiato.formats.syslog import YearState

# exports carry long message cells (Event Viewer CSV, AccessToString); one limit for
# the whole process, set here once, so no format changes it behind another's back
CSV_FIELD_LIMIT = 1 << 24
csv.field_size_limit(CSV_FIELD_LIMIT)

SAMPLE_BYTES = 64 * 1024
BATCH_ROWS = 16_384
_CHUNK_BYTES = 8 << 20


@dataclass(frozen=True)
class Sample:
    """The first bytes of a file, as bytes and (for text) decoded lines."""

    head: bytes
    text: str | None
    name: str

    @property
    def lines(self) -> list[str]:
        if self.text is None:
            return []
        lines = self.text.split("\n")
        if len(self.head) >= SAMPLE_BYTES and len(lines) > 1:
            lines = lines[:-1]  # the last one is probably cut
        return [ln.rstrip("\r") for ln in lines]

    def first_lines(self, n: int, skip_blank: bool = True) -> list[str]:
        out = [ln for ln in self.lines if ln.strip() or not skip_blank]
        return out[:n]

    def mostly(self, test: Callable[[str], object], n: int = 10) -> bool:
        """At least half of the first ``n`` non-blank lines pass ``test`` (a junk line or a
        header does not stop a format from being recognised; one stray match does not
        make it)."""
        lines = self.first_lines(n)
        hits = sum(1 for ln in lines if test(ln))
        return bool(lines) and hits >= max(1, (len(lines) + 1) // 2)


@dataclass
class Reject:
    record: int
    reason: str
    raw: bytes


@dataclass
class Source:
    """One evidence file opened for parsing."""

    path: Path
    display: str
    evidence_id: str
    encoding: str | None
    tz: ZoneInfo
    year_hint: int = 1970
    options: Mapping[str, Any] = field(default_factory=dict)
    rejects: list[Reject] = field(default_factory=list)
    rejected: int = 0
    decode_errors: int = 0
    redecoded: int = 0  # lines read in the other of UTF-8/CP932 (encoding.decode_lines)
    year_states: list[YearState] = field(default_factory=list)
    # a part of the file read on its own (Format.split): its first byte, its end and the
    # number of the line it starts on; None: the whole file. Read through text_stream.
    span: tuple[int, int, int] | None = None
    # where the format may store rows itself, in parts after the ones it yields (a large
    # EVTX's second process: formats.parts); None: everything is yielded
    parts: Parts | None = None

    def year_state(self) -> YearState:
        """The year state for year-less times, starting at ``year_hint``; ingest asks it
        afterwards whether the file's year was assumed (:attr:`year_assumed`)."""
        from ashiato.formats.syslog import YearState

        state = YearState(self.year_hint)
        self.year_states.append(state)
        return state

    @property
    def year_assumed(self) -> bool:
        """True when some times of the file had no year and took it from ``year_hint``."""
        return any(s.assumed for s in self.year_states)

    def reject(self, record: int, reason: str, raw: str | bytes) -> None:
        """Keep a record that could not be parsed (stored with the case, never dropped)."""
        self.rejected += 1
        data = raw.encode("utf-8", "surrogateescape") if isinstance(raw, str) else raw
        self.rejects.append(Reject(record, reason, data[:65536]))

    def take_rejects(self) -> list[Reject]:
        out, self.rejects = self.rejects, []
        return out

    def localize(self, naive: datetime) -> datetime:
        """Read a timestamp without offset in this source's time zone; return it in UTC."""
        if naive.tzinfo is None:
            naive = naive.replace(tzinfo=self.tz)
        return naive.astimezone(UTC)

    # -- text access -------------------------------------------------------------

    def line_chunks(self) -> Iterator[tuple[int, list[str]]]:
        """Yield ``(number of the first line, lines)`` in chunks; line ends stripped."""
        if self.encoding is None:
            raise ValueError(f"{self.display} is binary; it has no lines")
        if self.span is not None:  # a format that splits reads text_stream
            raise ValueError(f"{self.display}: a part of a file is read as a text stream")
        main = mixed_main(self.encoding)
        if main is not None:
            yield from self._mixed_chunks(main)
            return
        decoder = codecs.getincrementaldecoder(self.encoding)(errors="strict")
        first = 1
        tail = ""
        with self.path.open("rb") as fh:
            while True:
                chunk = fh.read(_CHUNK_BYTES)
                final = not chunk
                text = self._decode(decoder, chunk, final)
                text = tail + text
                if final:
                    lines = text.split("\n") if text else []
                    tail = ""
                else:
                    cut = text.rfind("\n")
                    if cut < 0:
                        tail = text
                        continue
                    lines = text[:cut].split("\n")
                    tail = text[cut + 1 :]
                if lines:
                    yield first, [ln[:-1] if ln.endswith("\r") else ln for ln in lines]
                    first += len(lines)
                if final:
                    return

    def _mixed_chunks(self, main: str) -> Iterator[tuple[int, list[str]]]:
        first = 1
        for text in _recoded_texts(self, main):
            lines = text.split("\n")
            yield first, [ln[:-1] if ln.endswith("\r") else ln for ln in lines]
            first += len(lines)

    def _decode(self, decoder: codecs.IncrementalDecoder, chunk: bytes, final: bool) -> str:
        try:
            return decoder.decode(chunk, final=final)
        except UnicodeDecodeError:
            # keep going with replacement characters, and say so in the evidence table
            self.decode_errors += 1
            decoder.reset()
            return chunk.decode(self.encoding or "utf-8", errors="replace")

    def lines(self) -> Iterator[tuple[int, str]]:
        for first, chunk in self.line_chunks():
            for i, line in enumerate(chunk):
                yield first + i, line

    def text_stream(self) -> io.TextIOWrapper:
        """The whole file as text with universal newlines off (for csv and multi-line XML)."""
        if self.encoding is None:
            raise ValueError(f"{self.display} is binary; it has no text")
        main = mixed_main(self.encoding)
        if main is not None:  # decided line by line, handed on as UTF-8
            raw = io.BufferedReader(_Recoded(self, main), buffer_size=1 << 16)
            return io.TextIOWrapper(raw, encoding="utf-8", errors="replace", newline="")
        if self.span is not None:
            start, end, _ = self.span
            # the byte-order mark is at the start of the file only
            encoding = "utf-8" if start and self.encoding == "utf-8-sig" else self.encoding
            return io.TextIOWrapper(
                io.BufferedReader(_Span(self.path, start, end)), encoding=encoding,
                errors="replace", newline="",
            )  # fmt: skip
        return io.TextIOWrapper(
            self.path.open("rb"), encoding=self.encoding, errors="replace", newline=""
        )


class _Span(io.RawIOBase):
    """Bytes ``[start, end)`` of a file, read as a file of their own."""

    def __init__(self, path: Path, start: int, end: int) -> None:
        super().__init__()
        self._fh = path.open("rb")
        self._fh.seek(start)
        self._left = end - start

    def readable(self) -> bool:
        return True

    def readinto(self, b: Any) -> int:
        n = min(len(b), self._left)
        if n <= 0:
            return 0
        got = self._fh.readinto(memoryview(b)[:n])
        self._left -= got
        return got

    def close(self) -> None:
        self._fh.close()
        super().close()


def numbered_spans(fh: IO[bytes], cuts: Sequence[int], size: int) -> list[tuple[int, int, int]]:
    """What ``Format.split`` answers, from the offsets where the parts start (the first
    0): each part's first byte, its end and the number of the line it starts on (every
    ``\n`` ends a line), counted in one read of the file up to the last cut."""
    spans = []
    fh.seek(0)
    line, pos = 1, 0
    for start, end in zip(cuts, [*cuts[1:], size], strict=True):
        while pos < start:
            block = fh.read(min(8 << 20, start - pos))
            line += block.count(b"\n")
            pos += len(block)
        spans.append((start, end, line))
    return spans


def _recoded_texts(source: Source, main: str) -> Iterator[str]:
    """The file as text in chunks of whole lines (the last one without its newline),
    each line UTF-8 or CP932 (encoding.decode_lines); counts go to ``source``."""
    counts = LineCounts()
    tail = b""
    start, end = source.span[:2] if source.span is not None else (0, -1)
    with source.path.open("rb") as fh:
        fh.seek(start)
        while True:
            # a span starts and ends at the start of a line (Format.split)
            chunk = fh.read(_CHUNK_BYTES if end < 0 else min(_CHUNK_BYTES, end - fh.tell()))
            if not chunk:
                if tail:
                    yield decode_lines(tail, main, counts)
                break
            data = tail + chunk if tail else chunk
            cut = data.rfind(b"\n")
            if cut < 0:
                tail = data
                continue
            body, tail = data[:cut], data[cut + 1 :]
            yield decode_lines(body, main, counts)
            source.redecoded, source.decode_errors = (
                source.redecoded + counts.redecoded,
                source.decode_errors + counts.errors,
            )
            counts = LineCounts()
    source.redecoded += counts.redecoded
    source.decode_errors += counts.errors


class _Recoded(io.RawIOBase):
    """A mixed UTF-8/CP932 file as UTF-8 bytes, for ``Source.text_stream``."""

    def __init__(self, source: Source, main: str) -> None:
        super().__init__()
        self._texts = _recoded_texts(source, main)
        self._buf = b""
        self._pos = 0
        self._first = True

    def readable(self) -> bool:
        return True

    def readinto(self, b: Any) -> int:
        while self._pos >= len(self._buf):
            text = next(self._texts, None)
            if text is None:
                return 0
            # the chunks are whole lines cut at their newline: put it back between them
            data = text.encode("utf-8", "surrogatepass")
            self._buf, self._pos = (data if self._first else b"\n" + data), 0
            self._first = False
        n = min(len(b), len(self._buf) - self._pos)
        b[:n] = self._buf[self._pos : self._pos + n]
        self._pos += n
        return n


Parser = Callable[[Source], Iterable[pa.RecordBatch]]


@dataclass(frozen=True)
class Format:
    """A log format ashiato can read."""

    name: str
    dataset: str
    description: str
    sniff: Callable[[Sample], bool]
    parse: Parser
    fields: tuple[str, ...] = ()
    binary: bool = False
    # cuts a large file into about N spans (Source.span) that read apart give the rows
    # and rejects of the whole file (ingest_pool reads them on several processes)
    split: Callable[[Path, int], list[tuple[int, int, int]]] | None = None


class Rows:
    """Collects parsed records as dicts of schema columns and emits full batches.

    For formats parsed in plain Python. ``@timestamp`` (and ``file.*`` times) may be an
    aware datetime, or a naive one read in the source's zone. Keys that are not schema
    columns go to ``extra``.
    """

    def __init__(self, source: Source, size: int = BATCH_ROWS) -> None:
        self.source = source
        self.size = size
        self._rows: list[tuple[int, dict[str, Any]]] = []

    def add(self, record: int, row: dict[str, Any]) -> pa.RecordBatch | None:
        self._rows.append((record, row))
        if len(self._rows) >= self.size:
            return self.flush()
        return None

    def flush(self) -> pa.RecordBatch | None:
        if not self._rows:
            return None
        rows, self._rows = self._rows, []
        return rows_to_batch(self.source, rows)


_TIME_COLUMNS = ("@timestamp", "file.created", "file.mtime")


def rows_to_batch(source: Source, rows: list[tuple[int, dict[str, Any]]]) -> pa.RecordBatch:
    from ashiato.schema import NAMES

    known = set(NAMES)
    cols: dict[str, list[Any]] = {}
    n = len(rows)
    extras: list[str | None] = [None] * n
    for i, (_record, row) in enumerate(rows):
        extra: dict[str, Any] | None = None
        for key, value in row.items():
            if value is None or value == "":
                continue
            if key in known:
                if key in _TIME_COLUMNS and isinstance(value, datetime):
                    value = source.localize(value)
                col = cols.get(key)
                if col is None:
                    col = cols[key] = [None] * n
                col[i] = value
            else:
                if extra is None:
                    extra = {}
                extra[key] = value
        if extra:
            extras[i] = orjson.dumps(extra, default=str).decode()
    cols_any: dict[str, Any] = dict(cols)
    cols_any["extra"] = extras
    cols_any["record"] = [r for r, _ in rows]
    return batch_from_columns(cols_any, n)
