"""Vectorised helpers shared by the fast text formats (Squid, FortiGate, syslog).

The fast formats never hold one Python object per line. ``line_arrays`` reads a text
file in ~8 MB chunks and hands each over as one Arrow string array (line ends
stripped, line numbers exact); the formats then work on whole chunks with Arrow
compute and numpy, and fall back to Python only for the few lines that are rejected.

Line numbers follow ``Source.line_chunks`` exactly: lines are split on ``\\n`` only,
trailing ``\\r`` are dropped, and a final line without newline still counts.

Also here: ``parse_parallel`` (two chunks parsed at once on threads, results in
file order), ``scan_kv`` (values of known keys in ``key=value`` lines without a
regular expression per key), JSON ``extra`` objects built column-wise, and
cast/localise helpers that report bad values instead of failing the chunk.
"""

from __future__ import annotations

import codecs
from collections import deque
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from zoneinfo import ZoneInfo

import numpy as np
import orjson
import pyarrow as pa
import pyarrow.compute as pc

from ashiato.formats.base import Source
from ashiato.schema import TS

CHUNK_BYTES = 8 << 20
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
    with source.path.open("rb") as fh:
        while True:
            chunk = fh.read(chunk_bytes)
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


def _as_utf8(source: Source, codec: str, body: bytes | memoryview) -> bytes | memoryview:
    if codec in ("utf_8", "utf_8_sig", "ascii"):
        return body  # split_lines validates, cheaper than decoding
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
    size = int(source.options.get("chunk_bytes", CHUNK_BYTES))
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
