"""W3C extended log files, driven by their ``#Fields:`` header (domain.md 3.2, 3.7, 3.20).

One module reads them all: Blue Coat / Symantec ProxySG ELFF (``proxysg.access``, observer
type proxy), IIS (``iis.access``, web), the Windows Firewall ``pfirewall.log``
(``windows.firewall``, firewall) and any other W3C log (``w3c.log``). The software is
taken from ``#Software:`` and, without it, from the field names. Columns follow the
latest ``#Fields:`` line, so a file holding several header blocks (IIS restarts, a
changed ProxySG format) is read block by block. ``-`` is null; ProxySG quotes fields
that hold spaces (``"Mozilla/4.0 (...)"``), IIS writes spaces in the user agent as ``+``.

Mapping: ``c-ip``/``c-port`` -> source; ``s-ip``/``s-port`` -> destination (IIS; on a
proxy they are the proxy's own and stay in ``extra``); ``cs-host`` (+ ``cs-uri-scheme``,
``cs-uri-port``, ``cs-uri-path``/``cs-uri-stem``, ``cs-uri-query``) -> ``url.*``;
``sc-bytes`` -> ``destination.bytes``, ``cs-bytes`` -> ``source.bytes``; ``cs-username``
``DOMAIN\\user`` -> ``user.domain`` + ``user.name``; ``rs(Content-Type)`` (URL-decoded)
-> ``http.response.mime_type``; ``s-action`` (else ``sc-filter-result``) -> ``event.action``;
``x-virus-id`` -> ``rule.name``; pfirewall ``action``, ``protocol``, ``src-*``/``dst-*``,
``size`` (the packet's bytes, sent by the source) and ``pid``. Every other field is kept
in ``extra`` under its W3C name (``cs-categories`` URL-decoded).

Time: ``date time`` are UTC for IIS, ProxySG and other W3C logs (the W3C and IIS rule;
ProxySG writes GMT unless reconfigured: pass the format option ``w3c_local_time`` to read
them in the source's zone). ``pfirewall.log`` follows ``#Time Format:`` (``Local`` ->
the source's zone). An ``x-timestamp-unix`` field wins over ``date time``; a ``localtime``
field (``[dd/Mon/yyyy:HH:MM:SS +zzzz]``) is used when there is no date. A ``time`` field
without ``date`` (IIS 6 can log so) takes its day from the ``#Date:`` directive.

The module also holds the vectorised machinery for header-driven delimited logs that the
Zeek TSV reader shares: header state carried across chunks in file order, and field
spans found with numpy over a chunk's bytes.
"""

from __future__ import annotations

import re
import threading
import urllib.parse
from collections.abc import Callable, Iterator
from dataclasses import dataclass, replace
from datetime import datetime
from typing import TypeVar

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from ashiato.formats import vector as vx
from ashiato.formats.base import Format, Sample, Source
from ashiato.schema import TS, batch_from_columns

_NULL = pa.scalar(None, pa.string())

# -- shared machinery: header state in file order, field spans ------------------------


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
    off, data = vx.string_buffers(arr)
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
        secs = pc.if_else(ok, arr, _NULL).cast(pa.float64())
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
    off, data = vx.string_buffers(arr)
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
    before = vx.gather_strings(data, np.where(has, s, 0), np.where(has, at, 0))
    after = vx.gather_strings(data, np.where(has, at + 1, s), np.where(valid, e, s))
    before = pc.if_else(pa.array(has), before, _NULL)
    after = pc.if_else(pa.array(valid), after, _NULL)
    return before, after


def mask(arr: pa.Array) -> np.ndarray:
    """A boolean Arrow array as numpy, nulls false."""
    return np.asarray(pc.fill_null(arr, False).to_numpy(zero_copy_only=False), bool)


def unquote_percent(arr: pa.Array) -> pa.Array:
    """URL-decode (``%20`` -> space) the few values that hold a ``%``."""
    has = mask(pc.match_substring(arr, "%"))
    if not has.any():
        return arr
    rows = np.flatnonzero(has)
    fixed = [urllib.parse.unquote(v) for v in arr.take(pa.array(rows)).to_pylist()]
    return pc.replace_with_mask(arr, pa.array(has), pa.array(fixed, pa.string()))


# -- W3C headers -------------------------------------------------------------------------


@dataclass(frozen=True)
class Header:
    fields: tuple[str, ...] | None = None
    software: str | None = None
    time_format: str | None = None  # "#Time Format:" (pfirewall): Local or UTC
    date: str | None = None  # "#Date:", for logs whose #Fields: have a time but no date


def _directive(header: Header, line: str) -> Header:
    key, _, value = line[1:].partition(":")
    key, value = key.strip().lower(), value.strip()
    if key == "fields":
        return replace(header, fields=tuple(value.split()))
    if key == "software":
        # a new block starts with #Software: what the last block said no longer holds
        return Header(fields=header.fields, software=value)
    if key == "time format":
        return replace(header, time_format=value.lower())
    if key == "date":
        return replace(header, date=value)
    return header


_KINDS = {
    # kind: (dataset, observer.type, observer.vendor, event.category)
    "proxysg": ("proxysg.access", "proxy", "symantec", "web"),
    "iis": ("iis.access", "web", "microsoft", "web"),
    "firewall": ("windows.firewall", "firewall", "microsoft", "network"),
    "web": ("w3c.log", "web", None, "web"),
    "w3c": ("w3c.log", None, None, None),
}


def kind_of(header: Header) -> str:
    sw = (header.software or "").lower()
    names = set(header.fields or ())
    if "sgos" in sw or "proxysg" in sw or "blue coat" in sw or "bluecoat" in sw:
        return "proxysg"
    if "internet information services" in sw:
        return "iis"
    if "firewall" in sw or {"src-ip", "dst-ip", "action"} <= names:
        return "firewall"
    if names & {"s-action", "sc-filter-result", "cs-categories", "x-virus-id"}:
        return "proxysg"
    if "cs-method" in names or "cs-uri-stem" in names:
        return "web"
    return "w3c"


# -- sniff ------------------------------------------------------------------------------

_FIELDS_LINE = re.compile(r"^#Fields: *(\S+(?: +\S+){2,}) *$")
_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}[ \t]")


def sniff(sample: Sample) -> bool:
    lines = sample.first_lines(40)
    seen_fields = False
    for line in lines:
        if not line.startswith("#"):
            continue
        hit = _FIELDS_LINE.match(line)
        # Exchange tracking logs use #Fields: with commas: they are CSV, not W3C
        if hit and "," not in hit.group(1):
            seen_fields = True
            break
    if not seen_fields:
        return False
    directives = sum(1 for ln in lines if re.match(r"^#(Software|Version|Date|Fields):", ln))
    data = [ln for ln in lines if not ln.startswith("#")]
    return directives >= 2 or any(_DATE.match(ln) for ln in data)


# -- parse ------------------------------------------------------------------------------


H = TypeVar("H")
SegmentParser = Callable[[Lines, int, int, H, int, vx.RejectList], "pa.RecordBatch | None"]


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

    def chunk(first: int, arr: pa.Array, rejects: vx.RejectList) -> pa.RecordBatch | None:
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

    return vx.parse_parallel(source, chunk, workers, keep_ends=True)


def parse(source: Source) -> Iterator[pa.RecordBatch]:
    def segment(
        ln: Lines, a: int, b: int, header: Header, first: int, rejects: vx.RejectList
    ) -> pa.RecordBatch | None:
        return _segment(source, ln, a, b, header, first, rejects)

    return parse_headed(source, Header(), _directive, segment, trim=b" \t")


_TOKEN = re.compile(r'"[^"]*"|[^ \t"]+(?:"[^"]*"[^ \t"]*)*|"[^"]*$')


def _slow_split(line: str) -> list[str]:
    """Fields of a line the fast path could not split (runs of spaces, odd quoting)."""
    out = []
    for tok in _TOKEN.findall(line.strip()):
        if len(tok) >= 2 and tok[0] == '"' and tok[-1] == '"':
            tok = tok[1:-1]
        out.append(tok)
    return out


def _segment(
    source: Source, ln: Lines, a: int, b: int, header: Header, first: int, rejects: vx.RejectList
) -> pa.RecordBatch | None:
    rows = a + np.flatnonzero(ln.end[a:b] > ln.start[a:b])
    if not len(rows):
        return None
    if header.fields is None:
        vx.reject_rows(rejects, first, ln.arr, rows, "data line before any #Fields: header")
        return None
    names = header.fields
    k = len(names)
    sp = split_rows(ln, rows, k, 32, quotes=True)
    fast = rows[sp.ok]
    fields = Fields(ln.data, sp)
    slow_rows: list[int] = []
    slow_vals: list[list[str | None]] = []
    bad = rows[~sp.ok]
    if len(bad):
        texts = ln.arr.take(pa.array(bad)).to_pylist()
        wrong: list[int] = []
        reasons: list[str] = []
        for r, text in zip(bad.tolist(), texts, strict=True):
            toks = _slow_split(text.rstrip("\r\n"))
            if len(toks) == k:
                slow_rows.append(r)
                slow_vals.append([None if t in ("-", "") else t for t in toks])
            else:
                wrong.append(r)
                reasons.append(f"expected {k} fields (per #Fields:), got {len(toks)}")
        vx.reject_rows(rejects, first, ln.arr, np.array(wrong, np.int64), reasons)
    order = None
    all_rows = fast
    if slow_rows:
        all_rows = np.concatenate([fast, np.array(slow_rows, np.int64)])
        order = np.argsort(all_rows, kind="stable")
        all_rows = all_rows[order]
    cols: dict[str, pa.Array] = {}
    for j, name in enumerate(names):
        if name not in cols:  # a repeated name: the first one wins
            cols[name] = reorder(fields.column(j), [v[j] for v in slow_vals], order)
    if names[:2] == ("date", "time"):  # the usual layout: one span, no join
        cols[_DATETIME] = reorder(
            fields.column(0, (), last=1), [f"{v[0]} {v[1]}" for v in slow_vals], order
        )
    return _events(source, header, cols, all_rows, first, ln.arr, rejects)


def _split_user(user: pa.Array) -> tuple[pa.Array, pa.Array]:
    """``DOMAIN\\user`` -> (user, DOMAIN); a name without domain stays whole."""
    dom, name = split_first(user, 92)
    dom = pc.if_else(pc.equal(dom, ""), _NULL, dom)
    return pc.if_else(pc.equal(name, ""), _NULL, name), dom


def _join(*parts: pa.Array | str) -> pa.Array:
    return pc.binary_join_element_wise(*parts, "")


_DEFAULT_PORTS = pa.array(["http:80", "https:443", "ftp:21"])


def _url(c: dict[str, pa.Array], proxy: bool) -> tuple[pa.Array | None, pa.Array | None]:
    """(url.original, url.path) from whichever URL fields the log has."""
    path = c.get("cs-uri-path", c.get("cs-uri-stem"))
    query = c.get("cs-uri-query")
    pathq = path
    if query is not None:
        q = pc.if_else(pc.starts_with(query, "?"), query, _join("?", query))
        pathq = q if path is None else pc.coalesce(_join(path, q), path)
    full, host = c.get("cs-uri"), c.get("cs-host")
    if host is None:
        return (full if full is not None else pathq), pathq
    scheme, port = c.get("cs-uri-scheme"), c.get("cs-uri-port")
    if port is None and not proxy:
        port = c.get("s-port")  # a web server's own port is the URL's
    if scheme is None and port is not None:
        scheme = pc.if_else(pc.equal(port, "443"), "https", "http")
    hostport = host
    if port is not None:
        default = pc.is_in(_join(pc.fill_null(scheme, ""), ":", port), value_set=_DEFAULT_PORTS)
        add = pc.and_(pc.invert(default), pc.invert(pc.match_substring(host, ":")))
        hostport = pc.if_else(pc.fill_null(add, False), _join(host, ":", port), host)
    prefix = hostport if scheme is None else pc.coalesce(_join(scheme, "://", hostport), hostport)
    built = prefix if pathq is None else pc.coalesce(_join(prefix, pathq), prefix)
    method = c.get("cs-method")
    if method is not None and port is not None:  # CONNECT host:443, as Squid writes it
        connect = pc.fill_null(pc.equal(method, "CONNECT"), False)
        built = pc.if_else(connect, pc.coalesce(_join(host, ":", port), host), built)
    return (pc.coalesce(full, built) if full is not None else built), pathq


_INTS = {
    "source.port": ("c-port", "src-port"),
    "destination.port": ("s-port", "cs-uri-port", "r-port", "dst-port"),
    "source.bytes": ("cs-bytes", "size"),
    "destination.bytes": ("sc-bytes",),
    "http.response.status_code": ("sc-status",),
    "process.pid": ("pid",),
}
_INT32 = ("source.port", "destination.port", "http.response.status_code")
_STRINGS = {
    "source.ip": ("c-ip", "src-ip"),
    "destination.ip": ("s-supplier-ip", "r-ip", "s-ip", "dst-ip"),
    "http.request.method": ("cs-method",),
    "http.request.referrer": ("cs(Referer)",),
    "user_agent.original": ("cs(User-Agent)",),
    "http.response.mime_type": ("rs(Content-Type)",),
    "rule.name": ("x-virus-id",),
    "host.hostname": ("s-computername",),
}
_DATETIME = "date time"  # not a W3C name (they have no spaces): both fields in one span
_TIME_FIELDS = ("date", "time", "x-timestamp-unix", "localtime", _DATETIME)


def _events(
    source: Source,
    header: Header,
    c: dict[str, pa.Array],
    rows: np.ndarray,
    first: int,
    lines: pa.Array,
    rejects: vx.RejectList,
) -> pa.RecordBatch | None:
    n = len(rows)
    if not n:
        return None
    kind = kind_of(header)
    dataset, otype, vendor, category = _KINDS[kind]
    proxy = kind == "proxysg"
    used: set[str] = set(_TIME_FIELDS)
    # on a proxy s-ip/s-port are the proxy's own address and port (kept in extra)
    own = ("s-ip", "s-port") if proxy else ()
    ts, bad, time_why = _times(source, header, kind, c, n)
    why = dict.fromkeys(np.flatnonzero(bad).tolist(), time_why)
    out: dict[str, pa.Array] = {}
    for col, names in _INTS.items():
        for name in names:
            if name in c and name not in own:
                val, nonint = vx.to_int(c[name], pa.int32() if col in _INT32 else pa.int64())
                out[col] = pc.coalesce(out[col], val) if col in out else val
                bad_n = mask(nonint)
                if bad_n.any():
                    for r in np.flatnonzero(bad_n & ~bad).tolist():
                        why[r] = f"{name} is not a number"
                    bad |= bad_n
                used.add(name)
    for col, names in _STRINGS.items():
        for name in names:
            if name in c and name not in own:
                out[col] = pc.coalesce(out[col], c[name]) if col in out else c[name]
                used.add(name)
    if kind == "iis" and "user_agent.original" in out:
        out["user_agent.original"] = replace_byte(out["user_agent.original"], 43, 32)
    if "http.response.mime_type" in out:
        out["http.response.mime_type"] = unquote_percent(out["http.response.mime_type"])
    if "cs-username" in c:
        out["user.name"], out["user.domain"] = _split_user(c["cs-username"])
        used.add("cs-username")
    url, path = _url(c, proxy)
    if url is not None:
        out["url.original"] = url
        if path is not None:
            out["url.path"] = path
        used |= {"cs-uri", "cs-uri-scheme", "cs-uri-path", "cs-uri-stem", "cs-uri-query"}
    # the origin server: a name goes to destination.domain, an address to destination.ip
    for name in ("cs-host", "r-dns", "s-supplier-name"):
        if name in c:
            value = _host_only(c[name])
            is_ip = pc.match_substring_regex(value, r"^[\d.]+$|:")
            _first(out, "destination.ip", pc.if_else(is_ip, value, _NULL))
            _first(out, "destination.domain", pc.if_else(is_ip, _NULL, pc.utf8_lower(value)))
    used.add("cs-host")
    action = None
    for name in ("s-action", "action", "sc-filter-result"):
        if name in c:
            action = c[name] if action is None else pc.coalesce(action, c[name])
            if name != "sc-filter-result":
                used.add(name)
    if action is not None:
        out["event.action"] = pc.utf8_lower(action)
    if "protocol" in c:
        out["network.transport"] = pc.utf8_lower(c["protocol"])
        used.add("protocol")
    if category == "web":
        out["event.outcome"] = _outcome(out.get("http.response.status_code"), c, n)
    keep = ~bad
    bad_rows = np.flatnonzero(bad)
    if len(bad_rows):
        vx.reject_rows(rejects, first, lines, rows[bad_rows], [why[r] for r in bad_rows.tolist()])
    extra_items: list[tuple[str, pa.Array, bool]] = []
    for name, arr in c.items():
        if name not in used:
            if name in ("cs-categories", "sc-filter-category"):
                arr = unquote_percent(arr)
            extra_items.append((name, arr, True))
    out["extra"] = vx.json_objects(extra_items, n)
    out["@timestamp"] = ts
    out["record"] = pa.array(rows + first, pa.int64())
    for col, value in (
        ("event.dataset", dataset), ("observer.type", otype), ("observer.vendor", vendor),
        ("event.category", category),
    ):  # fmt: skip
        if value is not None:
            out[col] = vx.constant(value, n)
    if otype in ("proxy", "firewall") and "host.hostname" in out:
        out["observer.name"] = out.pop("host.hostname")
    if otype == "web" and "destination.ip" in out and "s-ip" in c:
        out["host.ip"] = c["s-ip"]
    batch = batch_from_columns(out, n)
    return batch if keep.all() else batch.filter(pa.array(keep))


def _host_only(arr: pa.Array) -> pa.Array:
    """``name:port``, ``[v6]:port``, a bare v6 address -> the host without the port."""
    got = pc.extract_regex(arr, r"^\[(?P<a>[^\]]+)\](?::\d+)?$|^(?P<b>[^:]+)(?::\d+)?$|^(?P<c>.*)$")
    parts = [pc.struct_field(got, k) for k in ("a", "b", "c")]
    return pc.coalesce(*(pc.if_else(pc.equal(p, ""), _NULL, p) for p in parts))


def _first(out: dict[str, pa.Array], col: str, value: pa.Array) -> None:
    """Fill ``col`` where it is still null."""
    out[col] = pc.coalesce(out[col], value) if col in out else value


def _outcome(status: pa.Array | None, c: dict[str, pa.Array], n: int) -> pa.Array:
    no = pa.repeat(pa.scalar(False), n)
    failed = no if status is None else pc.fill_null(pc.greater_equal(status, 400), False)
    for name in ("sc-filter-result", "s-action"):
        if name in c:
            denied = pc.match_substring(c[name], "DENIED", ignore_case=True)
            failed = pc.or_(failed, pc.fill_null(denied, False))
    ok = no if status is None else pc.fill_null(pc.less(status, 400), False)
    return pc.if_else(failed, "failure", pc.if_else(ok, "success", "unknown"))


def _times(
    source: Source, header: Header, kind: str, c: dict[str, pa.Array], n: int
) -> tuple[pa.Array, np.ndarray, str]:
    """(UTC timestamps, rows to reject, why) from whichever time fields the log has."""
    if "x-timestamp-unix" in c:
        ts, bad = epoch(c["x-timestamp-unix"])
        return ts, bad, "x-timestamp-unix is not a Unix time"
    if "date" in c and "time" in c:
        both = c[_DATETIME] if _DATETIME in c else _join(c["date"], " ", c["time"])
        naive, bad = naive_times(both)
        local = bool(source.options.get("w3c_local_time"))
        if kind == "firewall":
            local = header.time_format != "utc"
        ts = vx.localize(naive, source.tz) if local else naive.cast(TS)
        return ts, bad, "date/time is not YYYY-MM-DD HH:MM:SS"
    if "time" in c and header.date:
        return _time_only(c["time"], header.date, kind, source)
    if "localtime" in c:
        text = pc.utf8_trim(c["localtime"], "[]")
        ts = pc.strptime(text, format="%d/%b/%Y:%H:%M:%S %z", unit="us", error_is_null=True)
        bad = mask(pc.and_(pc.is_valid(text), pc.is_null(ts)))
        return ts.cast(TS), bad, "localtime is not dd/Mon/yyyy:HH:MM:SS +zzzz"
    return pa.nulls(n, TS), np.ones(n, bool), "no date/time fields in #Fields:"


def _time_only(
    time: pa.Array, date: str, kind: str, source: Source
) -> tuple[pa.Array, np.ndarray, str]:
    """A ``time`` field without ``date``: the day is the ``#Date:`` directive's (IIS 6
    can log this way); a time before the directive's is on the next day."""
    why = "time is not HH:MM:SS, or #Date: is not YYYY-MM-DD HH:MM:SS"
    try:
        start = datetime.fromisoformat(date.strip())
    except ValueError:
        return pa.nulls(len(time), TS), np.ones(len(time), bool), why
    naive, bad = naive_times(_join(start.date().isoformat(), " ", time))
    later = pc.less(naive, pa.scalar(start, pa.timestamp("us")))
    next_day = pc.add(naive, pa.scalar(86_400_000_000, pa.duration("us")))
    naive = pc.if_else(later, next_day, naive)
    local = kind == "firewall" or bool(source.options.get("w3c_local_time"))
    return (vx.localize(naive, source.tz) if local else naive.cast(TS)), bad, why


def naive_times(text: pa.Array) -> tuple[pa.Array, np.ndarray]:
    """``YYYY-MM-DD HH:MM:SS[.ffffff]`` -> naive timestamps; and the unreadable ones.

    Arrow's cast is fast and strict; a chunk it refuses is read value by value (still
    strictly: no 30 February), so one bad line costs its chunk, not the file.
    """
    try:
        ts = text.cast(pa.timestamp("us"))
        return ts, np.asarray(ts.is_null().to_numpy(zero_copy_only=False), bool)
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
        pass
    out: list[datetime | None] = []
    for value in text.to_pylist():
        try:
            dt = datetime.fromisoformat(value) if value else None
        except ValueError:
            dt = None
        out.append(dt if dt is None or dt.tzinfo is None else None)
    ts = pa.array(out, pa.timestamp("us"))
    return ts, np.asarray(ts.is_null().to_numpy(zero_copy_only=False), bool)


FORMAT = Format(
    name="w3c",
    dataset="w3c.log",
    description="W3C extended logs by #Fields: (ProxySG ELFF, IIS, Windows Firewall pfirewall.log)",
    sniff=sniff,
    parse=parse,
    fields=(
        "@timestamp", "event.action", "event.category", "event.outcome", "source.ip",
        "source.port", "source.bytes", "destination.ip", "destination.port",
        "destination.bytes", "destination.domain", "network.transport", "url.original",
        "url.path", "http.request.method", "http.request.referrer",
        "http.response.status_code", "http.response.mime_type", "user_agent.original",
        "user.name", "user.domain", "rule.name", "host.hostname", "host.ip", "process.pid",
        "observer.name", "observer.type", "observer.vendor", "extra",
    ),
)  # fmt: skip
