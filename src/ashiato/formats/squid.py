"""Squid native ``access.log`` (domain.md 3.1), parsed a whole chunk at a time.

Layout (``logformat squid %ts.%03tu %6tr %>a %Ss/%03>Hs %<st %rm %ru %[un %Sh/%<a %mt``)::

    1441766705.412    238 10.20.3.41 TCP_MISS/200 1874 GET http://news.example.jp/ -
        HIER_DIRECT/192.0.2.10 text/html   (one line)

Mapping: epoch (UTC) -> ``@timestamp``; client -> ``source.ip``; result code, lower
case -> ``event.action`` (``tcp_miss``); status -> ``http.response.status_code`` (``000``,
no reply, -> null); reply size -> ``destination.bytes`` (bytes sent to the client);
method, URL (``CONNECT host:443`` stays as logged; ``url.domain`` is derived by
normalize); ident user -> ``user.name``; the peer after ``/`` -> ``destination.ip`` (or
``destination.domain`` when Squid logged a name); type -> ``http.response.mime_type``.
``extra`` holds ``event.duration`` (nanoseconds, from the elapsed milliseconds),
``squid.hierarchy_code`` and, for lines with more than 10 fields, ``squid.trailing``.
``event.outcome`` is failure for ``*_DENIED`` and status >= 400, success for 1xx-3xx.
``-`` is null. Lines that don't have the 10 fields or whose time, status or sizes are
not numbers are rejected with the reason.
"""

from __future__ import annotations

import re
from collections.abc import Iterator

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from ashiato.formats import vector as vx
from ashiato.formats.base import Format, Sample, Source
from ashiato.schema import TS, batch_from_columns

NFIELDS = 10
_LINE = re.compile(
    r"^\d{9,11}(?:\.\d{1,6})?\s+-?\d+ \S+ [A-Za-z_]+/\d{3} -?\d+ \S+ \S+ \S+ [A-Za-z_]+/\S+"
)


def sniff(sample: Sample) -> bool:
    return sample.mostly(_LINE.match)


def parse(source: Source) -> Iterator[pa.RecordBatch]:
    workers = int(source.options.get("workers", 2))
    return vx.parse_parallel(source, parse_chunk, workers)


def parse_chunk(first: int, lines: pa.Array, rejects: vx.RejectList) -> pa.RecordBatch | None:
    n = len(lines)
    fields, count = _fields(lines)
    good = count >= NFIELDS
    ts_s, elapsed_s, client, code_status, size_s, method, url, user, hier, mime = (
        _take(fields, i, good) for i in range(NFIELDS)
    )
    ts, bad_ts = _epoch(ts_s)
    elapsed, bad_el = vx.to_int(elapsed_s)
    size, bad_size = vx.to_int(size_s)
    status, code, bad_status = _code_status(code_status)
    bad = (
        ~good | vx.mask(bad_ts) | vx.mask(bad_el) | vx.mask(bad_size) | vx.mask(bad_status)
    )  # fmt: skip
    blank = pc.equal(pc.binary_length(lines), 0).to_numpy(zero_copy_only=False)
    bad_rows = np.flatnonzero(bad & ~blank)
    if len(bad_rows):
        reasons = [
            _reason(int(count[r]), bool(bad_ts[r].as_py()), bool(bad_status[r].as_py()))
            for r in bad_rows
        ]
        vx.reject_rows(rejects, first, lines, bad_rows, reasons)
    keep = ~(bad | blank)
    if not keep.any():
        return None
    rows = np.flatnonzero(keep)
    sel = pa.array(rows)
    if len(rows) == n:
        sel = None

    def k(arr: pa.Array) -> pa.Array:
        return arr if sel is None else arr.take(sel)

    level, peer = _split_once(k(hier), "/")
    peer = vx.null_dash(peer)
    peer_is_ip = pc.match_substring_regex(peer, r"^[0-9.]+$|:")
    status_k = k(status)
    status_k = pc.if_else(pc.equal(status_k, 0), pa.scalar(None, pa.int32()), status_k)
    code_k = k(code)
    denied = pc.match_substring(code_k, "DENIED")
    m = len(rows)
    outcome = pc.if_else(
        pc.fill_null(pc.or_kleene(denied, pc.greater_equal(status_k, 400)), False),
        "failure",
        pc.if_else(pc.fill_null(pc.less(status_k, 400), False), "success", "unknown"),
    )
    duration = pc.multiply(k(elapsed), 1_000_000)
    extra_items: list[tuple[str, pa.Array, bool]] = [
        ("event.duration", duration, False),
        ("squid.hierarchy_code", vx.null_dash(level), True),
    ]
    trailing = np.flatnonzero(count[rows] > NFIELDS)
    if len(trailing):
        extra_items.append(("squid.trailing", _trailing(fields, count, rows, trailing, m), True))
    cols: dict[str, pa.Array] = {
        "@timestamp": k(ts),
        "event.action": pc.utf8_lower(code_k),
        "event.category": vx.constant("web", m),
        "event.outcome": outcome,
        "source.ip": k(client),
        "destination.ip": pc.if_else(peer_is_ip, peer, pa.scalar(None, pa.string())),
        "destination.domain": pc.if_else(peer_is_ip, pa.scalar(None, pa.string()), peer),
        "destination.bytes": k(size),
        "http.request.method": k(method),
        "url.original": vx.null_dash(k(url)),
        "user.name": vx.null_dash(k(user)),
        "http.response.status_code": status_k,
        "http.response.mime_type": vx.null_dash(k(mime)),
        "observer.type": vx.constant("proxy", m),
        "observer.vendor": vx.constant("squid", m),
        "extra": vx.json_objects(extra_items, m),
        "record": pa.array(rows + first, pa.int64()),
    }
    return batch_from_columns(cols, m)


def _reason(count: int, bad_ts: bool, bad_status: bool) -> str:
    if count < NFIELDS:
        return f"expected {NFIELDS} space-separated fields, got {count}"
    if bad_ts:
        return "time is not a Unix epoch (seconds.milliseconds)"
    if bad_status:
        return "result is not CODE/status (e.g. TCP_MISS/200)"
    return "elapsed time or size is not a number"


class _Fields:
    """Space-separated fields of every line: runs of spaces count as one separator."""

    def __init__(self, values: pa.Array, starts: np.ndarray) -> None:
        self.values = values
        self.starts = starts


def _fields(lines: pa.Array) -> tuple[_Fields, np.ndarray]:
    parts = pc.split_pattern(lines, " ")
    off = parts.offsets.to_numpy().astype(np.int64)  # absolute positions in .values
    flat = parts.values
    nonempty = pc.greater(pc.binary_length(flat), 0).to_numpy(zero_copy_only=False)
    csum = np.zeros(len(nonempty) + 1, dtype=np.int64)
    np.cumsum(nonempty, out=csum[1:])
    starts = csum[off[:-1]]
    count = csum[off[1:]] - starts
    if nonempty.all():
        return _Fields(flat, starts), count
    return _Fields(flat.filter(pa.array(nonempty)), starts), count


def _take(fields: _Fields, i: int, good: np.ndarray) -> pa.Array:
    idx = np.where(good, fields.starts + i, -1)
    return fields.values.take(pa.array(idx, mask=~good))


def _epoch(arr: pa.Array) -> tuple[pa.Array, pa.Array]:
    try:
        secs = arr.cast(pa.float64())
        unreadable = pa.repeat(pa.scalar(False), len(arr))
    except pa.ArrowInvalid:
        ok = pc.fill_null(pc.match_substring_regex(arr, r"^\d{1,11}(?:\.\d{1,6})?$"), True)
        secs = pc.if_else(ok, arr, pa.scalar(None, pa.string())).cast(pa.float64())
        unreadable = pc.invert(ok)
    # nan, inf and times past the year 5000 would not fit a timestamp
    fine = pc.and_(pc.is_finite(secs), pc.less(pc.abs(secs), 1e11))
    bad = pc.or_(unreadable, pc.invert(pc.fill_null(fine, True)))
    secs = pc.if_else(pc.fill_null(fine, False), secs, pa.scalar(None, pa.float64()))
    micros = pc.round(pc.multiply(secs, 1e6)).cast(pa.int64())
    return micros.cast(pa.timestamp("us")).cast(TS), bad


def _code_status(arr: pa.Array) -> tuple[pa.Array, pa.Array, pa.Array]:
    # %03>Hs is always three digits, so the status is the last three characters
    sep_ok = pc.equal(pc.utf8_slice_codeunits(arr, -4, -3), "/")
    status_s = pc.utf8_slice_codeunits(arr, -3)
    status, bad_num = vx.to_int(status_s, pa.int32())
    code = pc.utf8_slice_codeunits(arr, 0, -4)
    bad = pc.or_(pc.invert(pc.fill_null(sep_ok, True)), bad_num)
    return status, code, bad


def _split_once(arr: pa.Array, sep: str) -> tuple[pa.Array, pa.Array]:
    """(before the first ``sep``, after it or null) for every value."""
    parts = pc.split_pattern(pc.fill_null(arr, ""), sep, max_splits=1)
    lens = pc.list_value_length(parts).to_numpy(zero_copy_only=False)
    first = parts.offsets.to_numpy().astype(np.int64)[:-1]  # absolute, like .values
    has_two = lens >= 2
    left = parts.values.take(pa.array(first))
    right = parts.values.take(pa.array(np.where(has_two, first + 1, 0), mask=~has_two))
    return left, right


def _trailing(
    fields: _Fields, count: np.ndarray, rows: np.ndarray, trailing: np.ndarray, m: int
) -> pa.Array:
    """Fields after the tenth, joined by one space (rare: custom log formats)."""
    out: list[str | None] = [None] * m
    for j in trailing.tolist():
        r = int(rows[j])
        start = int(fields.starts[r]) + NFIELDS
        tail = fields.values.slice(start, int(count[r]) - NFIELDS).to_pylist()
        out[j] = " ".join(str(t) for t in tail)
    return pa.array(out, pa.string())


FORMAT = Format(
    name="squid",
    dataset="squid.access",
    description="Squid native access.log (epoch time, result code/status, peer)",
    sniff=sniff,
    parse=parse,
    split=vx.split_at_lines,  # lines stand alone: a large log is read in parts
    fields=(
        "@timestamp", "event.action", "event.category", "event.outcome", "source.ip",
        "destination.ip", "destination.domain", "destination.bytes", "http.request.method",
        "url.original", "user.name", "http.response.status_code", "http.response.mime_type",
        "observer.type", "observer.vendor", "extra",
    ),
)  # fmt: skip
