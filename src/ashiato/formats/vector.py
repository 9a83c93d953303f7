"""Vectorised helpers shared by the fast text formats (Squid, FortiGate, syslog).

The fast formats never hold one Python object per line. ``line_arrays`` reads a text
file in ~2 MB chunks and hands each over as one Arrow string array (line ends
stripped, line numbers exact); the formats then work on whole chunks with Arrow
compute and numpy, and fall back to Python only for the few lines that are rejected.

Line numbers follow ``Source.line_chunks`` exactly: lines are split on ``\\n`` only,
trailing ``\\r`` are dropped, and a final line without newline still counts.

Also here: ``parse_parallel`` (two chunks parsed at once on threads, results in
file order) and ``parse_chunks`` (the same on one thread); ``parse_headed`` with
``Lines``/``split_rows``/``Fields`` (logs whose ``#`` header lines say how to read the
lines after them: W3C, Zeek TSV); ``scan_kv`` (values of known keys in ``key=value``
lines without a regular expression per key); JSON ``extra`` objects built column-wise;
and cast/localise helpers that report bad values instead of failing the chunk.
"""

from __future__ import annotations

import codecs
import threading
import urllib.parse
from collections import deque
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import TypeVar
from zoneinfo import ZoneInfo

import numpy as np
import orjson
import pyarrow as pa
import pyarrow.compute as pc

from ashiato.evidence.encoding import LineCounts, decode_lines, mixed_main
from ashiato.formats.base import Source, numbered_spans
from ashiato.schema import TS

# read and parse this much at a time (at most three chunks in flight, see parse_parallel):
# each chunk's Arrow and numpy intermediates are ~15x its size; 1M Squid lines parsed
# peaked at 350 MB with 8 MB chunks, 165 MB with 2 MB ones, in as much time
CHUNK_BYTES = 2 << 20
_NULL_STR = pa.scalar(None, pa.string())
# codecs whose bytes for "\n" and "\r" are never part of a multi-byte character, so a
# chunk can be cut at a newline byte before decoding
_ASCII_SAFE = frozenset(
    {"utf_8", "utf_8_sig", "ascii", "cp932", "shift_jis", "euc_jp", "latin_1", "cp1252"}
)


def _codec(name: str) -> str:
    return codecs.lookup(name).name.replace("-", "_")


def line_arrays(
    source: Source, chunk_bytes: int = CHUNK_BYTES, keep_ends: bool = False
) -> Iterator[tuple[int, pa.Array]]:
    """Yield ``(number of the first line, string array of lines)`` for a text source.

    With ``keep_ends`` each value keeps its ``\n`` / ``\r\n`` (saves a copy for parsers
    that treat line ends as separators anyway).
    """
    if source.encoding is None:
        raise ValueError(f"{source.display} is binary; it has no lines")
    codec = _codec(source.encoding)
    if codec not in _ASCII_SAFE:
        # UTF-16 and friends: the generic decoder, then one conversion per chunk
        for first, lines in source.line_chunks():
            yield first, pa.array([ln + "\n" for ln in lines] if keep_ends else lines, pa.string())
        return
    first = 1
    tail = b""
    bom = codec in ("utf_8_sig", "utf_8")
    left = -1  # bytes still to read (-1: to the end of the file)
    with source.path.open("rb") as fh:
        if source.span is not None:  # a part of the file (Format.split): from a line start
            start, end, first = source.span
            fh.seek(start)
            left = end - start
            bom = bom and start == 0  # the byte-order mark is at the start of the file only
        while True:
            chunk = fh.read(chunk_bytes if left < 0 else min(chunk_bytes, left))
            left -= len(chunk)
            final = not chunk
            data = tail + chunk if tail else chunk
            if bom:
                if len(data) < 3 and not final:
                    tail = data
                    continue
                if data.startswith(codecs.BOM_UTF8):
                    data = data[3:]
                bom = False
            if final:
                if not data:
                    return
                body: bytes | memoryview = data
                tail = b""
            else:
                cut = data.rfind(b"\n")
                if cut < 0:
                    tail = data
                    continue
                body, tail = memoryview(data)[: cut + 1], data[cut + 1 :]
            arr = split_lines(_as_utf8(source, codec, body), source, keep_ends)
            yield first, arr
            first += len(arr)
            if final:
                return


def split_at_lines(path: Path, parts: int) -> list[tuple[int, int, int]]:
    """``Format.split`` for logs of self-contained lines (no header, no state carried from
    line to line): about ``parts`` spans, each but the first starting after a newline near
    its ideal place, with the number of the line it starts on (counted as
    :func:`line_arrays` counts: every ``\n`` ends a line)."""
    size = path.stat().st_size
    cuts = [0]
    with path.open("rb") as fh:
        for k in range(1, parts):
            at = max(size * k // parts, cuts[-1] + 1)
            fh.seek(at - 1)
            while True:  # the first line start at or after ``at``
                block = fh.read(1 << 16)
                nl = block.find(b"\n")
                if nl >= 0 or not block:
                    break
                at += len(block)
            if nl < 0:
                break  # the rest is one line
            cut = at + nl
            if cut >= size:
                break
            cuts.append(cut)
        return numbered_spans(fh, cuts, size)


def _as_utf8(source: Source, codec: str, body: bytes | memoryview) -> bytes | memoryview:
    if codec in ("utf_8", "utf_8_sig", "ascii"):
        return body  # split_lines validates, cheaper than decoding
    if codec == "cp932":  # lines re-saved as UTF-8 are read as UTF-8 (decode_lines)
        counts = LineCounts()
        text = decode_lines(bytes(body), codec, counts)
        source.redecoded += counts.redecoded
        source.decode_errors += counts.errors
        return text.encode("utf-8", "surrogatepass")
    try:
        return bytes(body).decode(codec).encode("utf-8")
    except UnicodeDecodeError:
        source.decode_errors += 1
        return bytes(body).decode(codec, errors="replace").encode("utf-8")


def split_lines(
    body: bytes | memoryview, source: Source | None = None, keep_ends: bool = False
) -> pa.Array:
    """Split UTF-8 ``body`` into lines without their ``\n`` / ``\r\n``, zero-copy.

    Every ``\n`` ends a line; text after the last one is one more line. Invalid UTF-8
    is replaced (and counted on ``source``) the way ``Source.line_chunks`` does it.
    """
    buf = np.frombuffer(body, dtype=np.uint8)
    nl = np.flatnonzero(buf == 10)
    n = len(nl) + (0 if len(buf) and buf[-1] == 10 else 1)
    offsets = np.empty(n + 1, dtype=np.int32)
    offsets[0] = 0
    offsets[1 : len(nl) + 1] = nl + 1
    offsets[-1] = len(buf)
    arr = pa.StringArray.from_buffers(n, pa.py_buffer(offsets), pa.py_buffer(body))
    try:
        arr.validate(full=True)
    except pa.ArrowInvalid:
        if source is not None and mixed_main(source.encoding) == "utf_8":
            # lines that are not UTF-8 are read as CP932 (decode_lines), counted
            counts = LineCounts()
            fixed = decode_lines(bytes(body), "utf_8", counts).encode("utf-8", "surrogatepass")
            source.redecoded += counts.redecoded
            source.decode_errors += counts.errors
            return split_lines(fixed, None, keep_ends)
        if source is not None:
            source.decode_errors += 1
        fixed = bytes(body).decode("utf-8", errors="replace").encode("utf-8")
        return split_lines(fixed, None, keep_ends)
    if keep_ends:
        return arr
    return pc.utf8_rtrim(arr, characters="\r\n")


def string_buffers(arr: pa.Array) -> tuple[np.ndarray, np.ndarray]:
    """(int64 offsets, uint8 data) of a string array, both starting at the array's first value."""
    if arr.offset or arr.type != pa.string():
        arr = pa.concat_arrays([arr.cast(pa.string())])
    off = np.frombuffer(arr.buffers()[1], dtype=np.int32)[: len(arr) + 1].astype(np.int64)
    data_buf = arr.buffers()[2]
    data = (
        np.frombuffer(data_buf, dtype=np.uint8) if data_buf is not None else np.zeros(0, np.uint8)
    )
    return off, data


def gather_strings(data: np.ndarray, starts: np.ndarray, ends: np.ndarray) -> pa.Array:
    """A string array of ``data[starts[i]:ends[i]]``; spans must lie on UTF-8 boundaries."""
    lengths = np.maximum(ends - starts, 0)
    n = len(starts)
    offsets = np.zeros(n + 1, dtype=np.int64)
    np.cumsum(lengths, out=offsets[1:])
    total = int(offsets[-1])
    if total:
        # index of every output byte: its span's start plus its position within the span
        idx = np.arange(total, dtype=np.int64)
        idx += np.repeat(starts - offsets[:-1], lengths)
        out = data[idx]
    else:
        out = np.zeros(0, dtype=np.uint8)
    if total < 2**31:
        return pa.StringArray.from_buffers(
            n, pa.py_buffer(offsets.astype(np.int32)), pa.py_buffer(out)
        )
    return pa.LargeStringArray.from_buffers(n, pa.py_buffer(offsets), pa.py_buffer(out)).cast(
        pa.string()
    )


def scatter(values: pa.Array, rows: np.ndarray, n: int) -> pa.Array:
    """An array of length ``n`` holding ``values[i]`` at ``rows[i]`` and null elsewhere."""
    where = np.full(n, -1, dtype=np.int64)
    where[rows] = np.arange(len(rows), dtype=np.int64)
    idx = pa.array(where, mask=where < 0)
    return values.take(idx)


def constant(value: str, n: int) -> pa.Array:
    return pa.repeat(pa.scalar(value, pa.string()), n)


def null_dash(arr: pa.Array) -> pa.Array:
    """Treat ``-`` (and empty) as null, as the log formats do."""
    blank = pc.or_(pc.equal(arr, "-"), pc.equal(arr, ""))
    return pc.if_else(blank, _NULL_STR, arr)


_INT64 = pa.int64()


def to_int(arr: pa.Array, typ: pa.DataType = _INT64) -> tuple[pa.Array, pa.Array]:
    """Cast strings to integers; return (values, bad) where ``bad`` marks non-integers.

    Clean chunks take the fast cast; only a chunk with a bad value pays for the check.
    """
    try:
        return arr.cast(typ), pa.repeat(pa.scalar(False), len(arr))
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
        ok = pc.match_substring_regex(arr, r"^[+-]?\d{1,18}$")
        ok = pc.fill_null(ok, True)  # nulls are not bad, just absent
        clean = pc.if_else(ok, arr, _NULL_STR)
        try:
            return clean.cast(typ), pc.invert(ok)
        except (pa.ArrowInvalid, pa.ArrowNotImplementedError):  # out of range for typ
            return pa.nulls(len(arr), typ), pc.invert(pc.is_null(arr))


def localize(naive: pa.Array, tz: ZoneInfo | str) -> pa.Array:
    """Naive wall-clock times read in ``tz`` (IANA name or ``+09:00``) -> UTC timestamps."""
    name = tz if isinstance(tz, str) else tz.key
    if name in ("UTC", "Etc/UTC", "+00:00"):
        return naive.cast(pa.timestamp("us")).cast(TS)
    aware = pc.assume_timezone(
        naive.cast(pa.timestamp("us")), timezone=name, ambiguous="earliest",
        nonexistent="earliest",
    )  # fmt: skip
    return aware.cast(TS)


def json_escape(arr: pa.Array) -> pa.Array:
    """Escape string values for embedding between JSON quotes.

    Vendor strings are attacker-controlled; almost none need escaping, so a byte scan
    decides, and only the rows that do need it go through orjson.
    """
    off, data = string_buffers(arr)
    used = data[off[0] : off[-1]] if len(off) else data
    if not ((used < 0x20) | (used == 0x22) | (used == 0x5C)).any():
        return arr
    needs = pc.fill_null(pc.match_substring_regex(arr, r'[\x00-\x1f"\\]'), False)
    idx = pc.indices_nonzero(needs)
    vals = arr.take(idx).to_pylist()
    esc = pa.array([orjson.dumps(v).decode()[1:-1] for v in vals], pa.string())
    return pc.replace_with_mask(arr, needs, esc)


def json_objects(items: Sequence[tuple[str, pa.Array, bool]], n: int) -> pa.Array:
    """Build one JSON object per row from (key, values, quoted) columns; nulls are left out.

    ``quoted=False`` is for values known to be JSON numbers (integer arrays). Rows with
    no value give null. Keys come from the format's code, never from the log. All of
    it is one ``binary_join_element_wise`` call: a column without nulls contributes its
    literal key text and values directly, one with nulls a piece that is null (and
    then empty) where the value is missing.
    """
    parts: list[pa.Array | str] = []
    # every member starts with a comma; the first comma is cut off at the end unless
    # the first member is never missing
    lead_ok = False
    for key, values, quoted in items:
        if values.null_count == len(values):
            continue
        vals = json_escape(values) if quoted else values.cast(pa.string())
        q = '"' if quoted else ""
        head = f'"{key}":{q}' if not parts else f',"{key}":{q}'
        if not parts and values.null_count == 0:
            lead_ok = True
        if values.null_count == 0:
            parts += [head, vals, q] if q else [head, vals]
        else:
            piece_head = head if head.startswith(",") else "," + head
            parts.append(pc.binary_join_element_wise(piece_head, vals, q, ""))
    if not parts:
        return pa.nulls(n, pa.string())
    body = pc.binary_join_element_wise(*parts, "", null_handling="replace", null_replacement="")
    if not lead_ok:
        body = pc.utf8_slice_codeunits(body, 1)
    obj = pc.binary_join_element_wise("{", body, "}", "")
    return pc.if_else(pc.equal(body, ""), _NULL_STR, obj)


def mask(arr: pa.Array) -> np.ndarray:
    """A boolean Arrow array as a numpy bool array (nulls count as false)."""
    return np.asarray(pc.fill_null(arr, False).to_numpy(zero_copy_only=False), dtype=bool)


def nonzero(mask: pa.Array | np.ndarray) -> np.ndarray:
    """Positions where ``mask`` is true (nulls count as false)."""
    if isinstance(mask, np.ndarray):
        return np.flatnonzero(mask)
    out: np.ndarray = pc.indices_nonzero(pc.fill_null(mask, False)).to_numpy()
    return out


RejectList = list[tuple[int, str, str]]


def reject_rows(
    out: RejectList, first: int, lines: pa.Array, rows: np.ndarray, reasons: Sequence[str] | str
) -> None:
    """Collect ``lines[rows]`` as (record, reason, raw) rejects; blank lines are skipped."""
    if not len(rows):
        return
    raw = lines.take(pa.array(rows)).to_pylist()
    for i, (row, line) in enumerate(zip(rows.tolist(), raw, strict=True)):
        if line is None or not line.strip():
            continue
        line = line.rstrip("\r\n")
        reason = reasons if isinstance(reasons, str) else reasons[i]
        out.append((first + row, reason, line))


ChunkParser = Callable[[int, pa.Array, RejectList], "pa.RecordBatch | None"]


def chunk_bytes(source: Source) -> int:
    """The read size; tests pass a tiny ``chunk_bytes`` option to cross chunk boundaries."""
    return int(source.options.get("chunk_bytes", CHUNK_BYTES))


def parse_chunks(source: Source, parse_chunk: ChunkParser) -> Iterator[pa.RecordBatch]:
    """Run ``parse_chunk(first, lines, rejects)`` over the chunks of ``source`` in order on
    this thread, recording each chunk's rejects before its batch (if any) is yielded."""
    for first, lines in line_arrays(source, chunk_bytes(source)):
        rejects: RejectList = []
        batch = parse_chunk(first, lines, rejects)
        _flush_rejects(source, rejects)
        if batch is not None:
            yield batch


def parse_parallel(
    source: Source, parse_chunk: ChunkParser, workers: int = 2, keep_ends: bool = False
) -> Iterator[pa.RecordBatch]:
    """Run ``parse_chunk(first, lines, rejects)`` over the chunks of ``source`` on threads.

    Arrow compute and numpy release the GIL, so two chunks are parsed at once while the
    caller stores the previous batch. Results (and rejects) come back in file order, and
    at most ``workers + 1`` chunks are in memory, so memory stays flat on any file size.
    ``keep_ends`` is passed to ``line_arrays``; ``source.options["chunk_bytes"]`` changes
    the chunk size (tests use tiny ones to cross chunk boundaries).
    """
    size = chunk_bytes(source)
    if workers <= 1:
        for first, lines in line_arrays(source, size, keep_ends):
            rejects: RejectList = []
            batch = parse_chunk(first, lines, rejects)
            _flush_rejects(source, rejects)
            if batch is not None and batch.num_rows:
                yield batch
        return
    pending: deque[tuple[Future[pa.RecordBatch | None], RejectList]] = deque()
    with ThreadPoolExecutor(max_workers=workers, thread_name_prefix="ashiato-parse") as pool:
        for first, lines in line_arrays(source, size, keep_ends):
            rej: RejectList = []
            pending.append((pool.submit(parse_chunk, first, lines, rej), rej))
            while len(pending) > workers:
                yield from _done(source, *pending.popleft())
        while pending:
            yield from _done(source, *pending.popleft())


def _done(
    source: Source, fut: Future[pa.RecordBatch | None], rejects: RejectList
) -> Iterator[pa.RecordBatch]:
    batch = fut.result()
    _flush_rejects(source, rejects)
    if batch is not None and batch.num_rows:
        yield batch


def _flush_rejects(source: Source, rejects: RejectList) -> None:
    for record, reason, raw in rejects:
        source.reject(record, reason, raw)


# -- key=value scanning -------------------------------------------------------------
#
# Finds the values of a fixed set of keys in ``key=value`` / ``key="quoted value"`` lines
# (FortiGate and similar) with numpy over the chunk's bytes, without a regular
# expression per key: every '=' is located once, the key in front of it is identified
# by its bytes (at most 15), '=' inside quotes is ignored, and each value's span is
# found with word-at-a-time byte tests. Cost is independent of the number of keys.

_PAD = 16
_ONES7F = np.uint64(0x7F7F7F7F7F7F7F7F)
_SPACES = np.uint64(0x2020202020202020)
_H1 = np.uint64(0x9E3779B97F4A7C15)
_H2 = np.uint64(0xC2B2AE3D27D4EB4F)


def _space_bytes(w: np.ndarray) -> np.ndarray:
    """0x80 in every byte of ``w`` that is a space, 0 elsewhere (no cross-byte carries)."""
    t = w ^ _SPACES
    return ~(((t & _ONES7F) + _ONES7F) | t | _ONES7F)


def _high_byte(z: np.ndarray) -> np.ndarray:
    """Index (0-7) of the highest marked byte of ``z``; -1 when none."""
    e = np.frexp(z.astype(np.float64))[1]
    return (e - 8) // 8


def _low_byte(z: np.ndarray) -> np.ndarray:
    """Index (0-7) of the lowest marked byte of ``z``; -1 when none."""
    return _high_byte(z & (~z + np.uint64(1)))


def _key_hash(lo: np.ndarray, hi: np.ndarray, length: np.ndarray, bits: int) -> np.ndarray:
    h = (lo * _H1) ^ (hi * _H2) ^ length.astype(np.uint64)
    return (h >> np.uint64(64 - bits)).astype(np.int64)


class KeyTable:
    """The keys to find, hashed for ``scan_kv``. Keys are ASCII, 1-15 bytes."""

    def __init__(self, keys: Sequence[str]) -> None:
        self.keys = tuple(keys)
        raw = [k.encode("ascii") for k in self.keys]
        if any(not 0 < len(k) < 16 or b" " in k or b"=" in k for k in raw):
            raise ValueError("keys must be 1-15 bytes without space or '='")
        self.lo = np.array(
            [int.from_bytes(k[-8:] if len(k) > 8 else k, "little") for k in raw], np.uint64
        )
        self.hi = np.array(
            [int.from_bytes(k[:-8], "little") if len(k) > 8 else 0 for k in raw], np.uint64
        )
        self.len = np.array([len(k) for k in raw], np.int64)
        for bits in range(10, 20):
            h = _key_hash(self.lo, self.hi, self.len, bits)
            if len(set(h.tolist())) == len(raw):
                break
        else:  # pragma: no cover - would need thousands of keys
            raise ValueError("key hash collision")
        self.bits = bits
        self.table = np.full(1 << bits, -1, np.int64)
        self.table[h] = np.arange(len(raw))


def _words(pad: np.ndarray) -> np.ndarray:
    """Unaligned little-endian uint64 starting at every byte of ``pad``."""
    return np.ndarray(shape=(len(pad) - 7,), dtype="<u8", buffer=pad.data, strides=(1,))


def _identify(words: np.ndarray, eq: np.ndarray, table: KeyTable) -> tuple[np.ndarray, np.ndarray]:
    """Keep the '=' positions preceded by a separator and a key of ``table``; their ids."""
    w1 = words[eq - 8]
    j1 = _high_byte(_space_bytes(w1))
    length = 7 - j1  # 8 when there is no space in the 8 bytes before '='
    lo = w1 >> (np.minimum(8 * (8 - length), 63)).astype(np.uint64)
    hi = np.zeros(len(eq), np.uint64)
    longer = np.flatnonzero(j1 < 0)
    if len(longer):  # keys of 8 or more bytes: look 8 bytes further back
        w2 = words[eq[longer] - 16]
        j2 = _high_byte(_space_bytes(w2))
        ln = np.where(j2 >= 0, 15 - j2, 16)
        length[longer] = ln
        lo[longer] = w1[longer]
        hi[longer] = w2 >> (8 * (16 - np.clip(ln, 9, 16))).astype(np.uint64)
        hi[longer[ln == 8]] = 0
    kid = table.table[_key_hash(lo, hi, length, table.bits)]
    ok = (kid >= 0) & (length > 0) & (length < 16)
    safe = np.where(ok, kid, 0)
    ok &= (table.lo[safe] == lo) & (table.hi[safe] == hi) & (table.len[safe] == length)
    sel = np.flatnonzero(ok)
    return eq[sel], kid[sel]


def scan_kv(lines: pa.Array, table: KeyTable) -> tuple[dict[str, pa.Array], np.ndarray]:
    """Values of ``table``'s keys in every line (null where absent) and keys found per line.

    ``lines`` may keep their line ends (``line_arrays(keep_ends=True)``). A ``<PRI>``
    prefix counts as a separator. The first occurrence of a key in a line wins.
    """
    n = len(lines)
    off, data = string_buffers(lines)
    body = data[off[0] : off[-1]]
    off = off - off[0]
    pad = np.full(len(body) + 2 * _PAD, 32, np.uint8)
    pad[_PAD : _PAD + len(body)] = body
    starts = off[:-1] + _PAD
    ends = off[1:] + _PAD  # exclusive, line end included
    nonempty = ends > starts
    # line ends become separators, so values stop there
    content_end = ends.copy()
    for ch in (10, 13):
        hit = nonempty & (content_end > starts) & (pad[content_end - 1] == ch)
        pad[content_end[hit] - 1] = 32
        content_end[hit] -= 1
    # "<189>date=...": the '>' of a leading PRI is a separator too
    lt = np.flatnonzero(nonempty & (pad[starts] == 60))
    for k in range(2, 6):
        pos = starts[lt] + k
        hit = (pos < ends[lt]) & (pad[np.minimum(pos, len(pad) - 1)] == 62)
        pad[pos[hit]] = 32
        lt = lt[~hit]
    words = _words(pad)
    eq = np.flatnonzero(pad == 61)
    eq, kid = _identify(words, eq, table)
    line = np.searchsorted(starts, eq, side="right") - 1
    # '=' between quotes is part of a value, not a key
    qpos = np.flatnonzero(pad == 34)
    qi = np.zeros(len(eq), np.int64)
    if len(qpos):
        qpos = qpos[pad[qpos - 1] != 92]  # \" is not a delimiter
        qi = np.searchsorted(qpos, eq)
        base = np.searchsorted(qpos, starts)
        if (np.diff(base) & 1).any() or (len(qpos) - base[-1]) & 1:
            inside = ((qi - base[line]) & 1) == 1  # a line with an odd number of quotes
        else:
            inside = (qi & 1) == 1  # quotes pair up line by line: one global parity
        if inside.any():
            keep = ~inside
            eq, kid, line, qi = eq[keep], kid[keep], line[keep], qi[keep]
    vstart = eq + 1
    cend = content_end[line]
    quoted = (pad[vstart] == 34) & (vstart < cend)
    vend = np.empty_like(vstart)
    q = np.flatnonzero(quoted)
    if len(q):
        nxt = qi[q] + 1  # qpos[qi] is the opening quote right after '='
        close = np.where(nxt < len(qpos), qpos[np.minimum(nxt, len(qpos) - 1)], cend[q])
        vend[q] = np.minimum(close, cend[q])
    u = np.flatnonzero(~quoted)
    pos = vstart[u]
    todo = np.arange(len(u))
    for _ in range(8):
        if not len(todo):
            break
        j = _low_byte(_space_bytes(words[pos[todo]]))
        found = j >= 0
        vend[u[todo[found]]] = pos[todo[found]] + j[found]
        todo = todo[~found]
        pos[todo] += 8
    if len(todo):  # a value longer than 64 bytes without quotes: cut at the line end
        rows = u[todo]
        vend[rows] = cend[rows]
    vstart = np.where(quoted, vstart + 1, vstart)
    vend = np.maximum(np.minimum(vend, cend), vstart)
    # "-" and empty values are absent, as in every log format here
    length = vend - vstart
    real = (length > 1) | ((length == 1) & (pad[vstart] != 45))
    if not real.all():
        vstart, vend, kid, line = vstart[real], vend[real], kid[real], line[real]
    spans = _interleaved(pad, vstart, vend)
    # where[k, row]: index of key k's value in row (the first occurrence wins)
    where = np.full((len(table.keys), n), -1, np.int64)
    where[kid[::-1], line[::-1]] = np.arange(len(kid) - 1, -1, -1) * 2
    out: dict[str, pa.Array] = {}
    for k, key in enumerate(table.keys):
        row = where[k]
        if (row < 0).all():
            out[key] = pa.nulls(n, pa.string())
        else:
            out[key] = spans.take(pa.array(row, mask=row < 0))
    return out, np.bincount(line, minlength=n)


def _interleaved(pad: np.ndarray, starts: np.ndarray, ends: np.ndarray) -> pa.Array:
    """Zero-copy string array over ``pad``: span i at 2*i, the gap after it at 2*i+1.

    The spans are sorted and disjoint, so the offsets rise monotonically; ``take`` on
    the even positions then copies only the values' bytes.
    """
    m = len(starts)
    offsets = np.empty(2 * m + 1, np.int64)
    offsets[0:-1:2] = starts
    offsets[1::2] = ends
    offsets[-1] = ends[-1] if m else 0
    if m and (np.diff(offsets) < 0).any():  # overlapping spans: copy them instead
        return gather_strings(pad, np.repeat(starts, 2), np.repeat(ends, 2))
    if offsets[-1] >= 2**31:
        raise ValueError("chunk too large")
    return pa.StringArray.from_buffers(
        2 * m, pa.py_buffer(offsets.astype(np.int32)), pa.py_buffer(pad)
    )


# -- header-driven delimited logs (W3C, Zeek TSV): header state in file order, field spans


class Turnstile:
    """Lets chunks parsed on several threads read and update header state in file order.

    A chunk calls ``wait(first)`` before it reads the state and ``done(first, n)`` in a
    ``finally`` when it has applied its own header lines, so chunk k+1 sees the header
    that chunk k left in force.
    """

    def __init__(self) -> None:
        self._next = 1
        self._done: dict[int, int] = {}
        self._cond = threading.Condition()

    def wait(self, first: int) -> None:
        with self._cond:
            self._cond.wait_for(lambda: self._next >= first)

    def done(self, first: int, n: int) -> None:
        with self._cond:
            self._done[first] = first + n
            while self._next in self._done:
                self._next = self._done.pop(self._next)
            self._cond.notify_all()


@dataclass
class Lines:
    """A chunk's lines as spans over its bytes (``end`` excludes the line end)."""

    arr: pa.Array
    data: np.ndarray
    start: np.ndarray
    end: np.ndarray

    @property
    def comment(self) -> np.ndarray:
        """Lines starting with ``#`` (directives and remarks)."""
        if not len(self.data):
            return np.zeros(len(self.start), bool)
        first = self.data[np.minimum(self.start, len(self.data) - 1)]
        out: np.ndarray = (self.end > self.start) & (first == 35)
        return out


def lines_of(arr: pa.Array, trim: bytes = b"") -> Lines:
    """Spans of a chunk's lines (kept with their ends); ``trim`` bytes are cut at the end too."""
    off, data = string_buffers(arr)
    start = off[:-1].copy()
    end = off[1:].copy()
    if len(data):
        # one "\n", one "\r", then any number (up to 64) of the trim bytes
        for chars, times in ((b"\n", 1), (b"\r", 1), (trim, 64)):
            todo = np.flatnonzero(end > start) if chars else np.zeros(0, np.int64)
            for _ in range(times):
                if not len(todo):
                    break
                hit = np.isin(data[end[todo] - 1], np.frombuffer(chars, np.uint8))
                todo = todo[hit]
                end[todo] -= 1
                todo = todo[end[todo] > start[todo]]
    return Lines(arr, data, start, end)


def segments(ln: Lines) -> list[tuple[int, int, list[int]]]:
    """Runs of non-comment lines: ``(first row, end row, comment rows before the run)``."""
    comments = np.flatnonzero(ln.comment).tolist()
    out: list[tuple[int, int, list[int]]] = []
    pos, pending = 0, list[int]()
    for c in [*comments, len(ln.start)]:
        if c > pos:
            out.append((pos, c, pending))
            pending = []
        if c < len(ln.start):
            pending.append(c)
        pos = c + 1
    if pending:
        out.append((len(ln.start), len(ln.start), pending))
    return out


@dataclass
class Split:
    """Rows split into ``k`` fields; ``ok`` marks them among the rows asked for.

    For the ok rows: field 0 starts at ``starts``, field j > 0 right after separator
    ``seps[:, j - 1]``; field j ends at ``seps[:, j]``, the last one at ``ends``.
    """

    ok: np.ndarray
    count: np.ndarray  # fields found in each row asked for
    starts: np.ndarray
    ends: np.ndarray
    seps: np.ndarray  # (ok rows, k - 1)
    quotes: bool


def split_rows(ln: Lines, rows: np.ndarray, k: int, sep: int, quotes: bool) -> Split:
    """Find the ``k`` fields of each of ``rows`` (ascending, non-empty, no comments).

    Separators inside double quotes don't split when ``quotes``; the quotes around a
    whole field are dropped. Rows with another number of fields are not ``ok``.
    """
    data = ln.data
    lo, hi = int(ln.start[rows[0]]), int(ln.end[rows[-1]])
    body = data[lo:hi]
    sp = np.flatnonzero(body == sep) + lo
    starts, ends = ln.start[rows], ln.end[rows]
    m = len(rows)
    q = np.flatnonzero(body == 34) + lo if quotes else np.zeros(0, np.int64)
    if not len(q) and len(sp) == m * (k - 1):
        # the common case: if each row's first and last of its k-1 separators lie
        # inside it, every row has exactly k-1 (the total is right and they are sorted)
        grid = sp.reshape(m, k - 1)
        if k == 1 or ((grid[:, 0] > starts).all() and (grid[:, -1] < ends).all()):
            return Split(np.ones(m, bool), np.full(m, k), starts, ends, grid, False)
    row = np.searchsorted(starts, sp, side="right") - 1
    keep = sp < ends[row]
    if len(q):
        inside = (np.searchsorted(q, sp) - np.searchsorted(q, starts[row])) & 1
        keep &= inside == 0
    if not keep.all():
        sp, row = sp[keep], row[keep]
    count = np.bincount(row, minlength=m) + 1
    ok = count == k
    okr = np.flatnonzero(ok)
    first = np.zeros(m + 1, np.int64)
    np.cumsum(count - 1, out=first[1:])
    seps = sp[first[okr][:, None] + np.arange(k - 1)]
    return Split(ok, count, starts[okr], ends[okr], seps, bool(len(q)))


class Fields:
    """Columns of split rows as string arrays, copying only the bytes of each value.

    Where every field starts and ends, and which ones are null tokens, is worked out
    for the whole (rows x fields) grid at once: numpy is cheap per element and costly
    per call.
    """

    def __init__(self, data: np.ndarray, split: Split) -> None:
        if len(data) >= 2**31:
            raise ValueError("chunk too large")
        self.data = data
        m, k = len(split.starts), split.seps.shape[1] + 1
        self.m, self.k = m, k
        # (fields x rows): one field's values are contiguous
        self.s = np.empty((k, m), np.int64)
        self.e = np.empty((k, m), np.int64)
        self.s[0] = split.starts
        self.s[1:] = split.seps.T + 1
        self.e[:-1] = split.seps.T
        self.e[-1] = split.ends
        self._raw_s, self._raw_e = self.s, self.e
        if split.quotes and m:
            first = data[np.minimum(self.s, len(data) - 1)]
            last = data[np.maximum(self.e - 1, 0)]
            strip = ((self.e - self.s) >= 2) & (first == 34) & (last == 34)
            self.s, self.e = self.s + strip, self.e - strip
        self._even = pa.array(np.arange(0, 2 * m, 2, dtype=np.int64))
        self._nulls: dict[tuple[bytes, ...], np.ndarray] = {}

    def null(self, tokens: tuple[bytes, ...]) -> np.ndarray:
        """(fields x rows): empty, or one of ``tokens``."""
        got = self._nulls.get(tokens)
        if got is not None:
            return got
        data, s, e = self.data, self.s, self.e
        length = e - s
        out: np.ndarray = length == 0
        first = data[np.minimum(s, len(data) - 1)] if len(data) else np.zeros_like(s)
        for token in tokens:
            hit = (length == len(token)) & (first == token[0])
            if len(token) > 1:
                cand = np.flatnonzero(hit)
                flat_s = s.ravel()
                for i, b in enumerate(token[1:], 1):
                    if not len(cand):
                        break
                    same = data[flat_s[cand] + i] == b
                    hit.ravel()[cand[~same]] = False
                    cand = cand[same]
            out |= hit
        self._nulls[tokens] = out
        return out

    def column(
        self, j: int, nulls: tuple[bytes, ...] = (b"-",), last: int | None = None
    ) -> pa.Array:
        """Field ``j`` (or fields ``j`` to ``last`` with their separators) of every row."""
        if last is None:
            s, e = self.s[j], self.e[j]
            null = self.null(nulls)[j]
        else:
            s, e = self._raw_s[j], self._raw_e[last]
            null = np.zeros(self.m, bool)
        m = self.m
        offsets = np.empty(2 * m + 1, np.int32)
        offsets[0 : 2 * m : 2] = s
        offsets[1 : 2 * m : 2] = e
        offsets[-1] = e[-1] if m else 0
        spans = pa.StringArray.from_buffers(2 * m, pa.py_buffer(offsets), pa.py_buffer(self.data))
        got = spans.take(self._even)
        if not null.any():
            return got
        # nulls via a validity bitmap: cheaper than a masked index array
        valid = pa.py_buffer(np.packbits(~null, bitorder="little"))
        return pa.Array.from_buffers(pa.string(), m, [valid, *got.buffers()[1:]])


def reorder(fast: pa.Array, slow: list[str | None], order: np.ndarray | None) -> pa.Array:
    """Fast-path values then slow-path values, put back in row order."""
    if order is None:
        return fast
    return pa.concat_arrays([fast, pa.array(slow, pa.string())]).take(pa.array(order))


def epoch(arr: pa.Array) -> tuple[pa.Array, np.ndarray]:
    """Unix epoch seconds (text) -> UTC timestamps; also the mask of unreadable values."""
    try:
        secs = arr.cast(pa.float64())
        bad = np.zeros(len(arr), bool)
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
        ok = pc.fill_null(pc.match_substring_regex(arr, r"^-?\d{1,11}(?:\.\d{1,9})?$"), True)
        secs = pc.if_else(ok, arr, _NULL_STR).cast(pa.float64())
        bad = ~np.asarray(ok.to_numpy(zero_copy_only=False), bool)
    fine = pc.fill_null(pc.and_(pc.is_finite(secs), pc.less(pc.abs(secs), 1e11)), True)
    bad |= ~np.asarray(fine.to_numpy(zero_copy_only=False), bool)
    secs = pc.if_else(fine, secs, pa.scalar(None, pa.float64()))
    micros = pc.round(pc.multiply(secs, 1e6)).cast(pa.int64())
    return micros.cast(pa.timestamp("us")).cast(TS), bad


def replace_byte(arr: pa.Array, old: int, new: int) -> pa.Array:
    """``arr`` with every byte ``old`` replaced by ``new`` (both ASCII): same offsets."""
    if arr.type != pa.string() or arr.offset:
        arr = pa.concat_arrays([arr.cast(pa.string())])
    validity, offsets, data = arr.buffers()
    if data is None:
        return arr
    raw = np.frombuffer(data, np.uint8)
    hit = raw == old
    if not hit.any():
        return arr
    fixed = np.where(hit, np.uint8(new), raw)
    return pa.Array.from_buffers(pa.string(), len(arr), [validity, offsets, pa.py_buffer(fixed)])


def split_first(arr: pa.Array, byte: int) -> tuple[pa.Array, pa.Array]:
    """(text before the first ``byte`` or null, text after it or the whole value)."""
    off, data = string_buffers(arr)
    n = len(arr)
    pos = np.flatnonzero(data[off[0] : off[-1]] == byte) + off[0]
    row = np.searchsorted(off, pos, side="right") - 1
    at = np.full(n, -1, np.int64)
    if len(pos):
        firsts = np.ones(len(pos), bool)
        firsts[1:] = row[1:] != row[:-1]
        at[row[firsts]] = pos[firsts]
    valid = np.asarray(arr.is_valid().to_numpy(zero_copy_only=False), bool)
    has = (at >= 0) & valid
    s, e = off[:-1], off[1:]
    before = gather_strings(data, np.where(has, s, 0), np.where(has, at, 0))
    after = gather_strings(data, np.where(has, at + 1, s), np.where(valid, e, s))
    before = pc.if_else(pa.array(has), before, _NULL_STR)
    after = pc.if_else(pa.array(valid), after, _NULL_STR)
    return before, after


def unquote_percent(arr: pa.Array) -> pa.Array:
    """URL-decode (``%20`` -> space) the few values that hold a ``%``."""
    has = mask(pc.match_substring(arr, "%"))
    if not has.any():
        return arr
    rows = np.flatnonzero(has)
    fixed = [urllib.parse.unquote(v) for v in arr.take(pa.array(rows)).to_pylist()]
    return pc.replace_with_mask(arr, pa.array(has), pa.array(fixed, pa.string()))


H = TypeVar("H")
SegmentParser = Callable[[Lines, int, int, H, int, RejectList], "pa.RecordBatch | None"]


def parse_headed(
    source: Source,
    initial: H,
    directive: Callable[[H, str], H],
    segment: SegmentParser[H],
    trim: bytes = b"",
) -> Iterator[pa.RecordBatch]:
    """Parse a log whose ``#`` header lines say how to read the lines after them.

    Chunks are parsed on threads; only the header lines are applied one chunk after
    the other (``Turnstile``), then ``segment(lines, a, b, header, first, rejects)``
    parses each run of data lines ``a:b`` with the header in force before it.
    """
    workers = int(source.options.get("workers", 2))
    state = [initial]
    gate = Turnstile()

    def chunk(first: int, arr: pa.Array, rejects: RejectList) -> pa.RecordBatch | None:
        headers: list[H] = []
        try:  # the next chunk waits for this one's turn: give it up whatever happens
            ln = lines_of(arr, trim)
            segs = segments(ln)
            gate.wait(first)
            for _a, _b, comments in segs:
                for c in comments:
                    state[0] = directive(state[0], arr[c].as_py().rstrip("\r\n"))
                headers.append(state[0])
        finally:
            gate.done(first, len(arr))
        out = []
        for (a, b, _c), header in zip(segs, headers, strict=True):
            if b > a:
                batch = segment(ln, a, b, header, first, rejects)
                if batch is not None and batch.num_rows:
                    out.append(batch)
        if not out:
            return None
        return out[0] if len(out) == 1 else pa.concat_batches(out)

    return parse_parallel(source, chunk, workers, keep_ends=True)
