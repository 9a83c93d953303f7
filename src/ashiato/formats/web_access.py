"""Apache / Nginx / Tomcat access logs in common or combined format, a chunk at a time.

Layout (``%h %l %u %t "%r" %>s %b`` and combined's ``"%{Referer}i" "%{User-agent}i"``)::

    192.0.2.7 - tanaka [09/Sep/2015:11:45:05 +0900] "GET /wp/admin.php?x=1 HTTP/1.1"
        200 1874 "http://news.example.jp/" "Mozilla/4.0 (compatible; MSIE 8.0)"

A leading virtual host (``vhost_combined``: ``www.example.jp:443 192.0.2.7 - - [...]``) is
read too, and fields after the user agent are kept in ``extra`` (``trailing``). The time
carries its offset, which is honoured (a time without one is read in the source's zone).
Apache escapes ``"`` inside fields as ``\\"`` (unescaped in referrer and user agent);
Tomcat does not escape at all, so a request line with bare quotes is read by its last
``" status bytes`` instead.

Mapping: client -> ``source.ip`` (a host name goes to ``extra.source.address``); user ->
``user.name``; request -> ``http.request.method``, ``url.original``/``url.path``, protocol
version in ``extra`` (a request line that is not ``METHOD URI [PROTO]`` -- TLS bytes
sent to the HTTP port, scanners -- stays whole in ``extra.request``); status, bytes
(``destination.bytes``), referrer, user agent. ``event.outcome`` is failure for status
>= 400. The dataset is ``nginx.access`` or ``apache.access`` when the file's path names
the server (``/var/log/nginx/``, ``httpd``, ``apache2``), otherwise ``web.access``.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import PureWindowsPath

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from ashiato.formats import vector as vx
from ashiato.formats.base import Format, Sample, Source
from ashiato.schema import TS, batch_from_columns

_Q = r'"((?:[^"\\]|\\.)*)"'  # a quoted field with Apache's \" escapes
_HEAD = r"^(?:(?P<vhost>\S+) )?(?P<host>\S+) (?P<ident>\S+) (?P<user>\S+) \[(?P<time>[^\]]+)\] "
STRICT = (
    _HEAD + r'"(?P<request>(?:[^"\\]|\\.)*)" (?P<status>\d{3}|-) (?P<bytes>\d+|-)'
    r'(?: "(?P<referer>(?:[^"\\]|\\.)*)" "(?P<ua>(?:[^"\\]|\\.)*)")?(?P<rest>.*)$'
)
# Tomcat and others that don't escape: the request runs to the last `" status bytes`
LOOSE = (
    _HEAD + r'"(?P<request>.*)" (?P<status>\d{3}|-) (?P<bytes>\d+|-)'
    r'(?: "(?P<referer>[^"]*)" "(?P<ua>.*)")?(?P<rest>)$'
)
_SNIFF = re.compile(
    r'^(?:\S+ )?\S+ \S+ \S+ \[\d{2}/[A-Z][a-z]{2}/\d{4}:\d\d:\d\d:\d\d(?: [+-]\d{4})?\] "'
)
_METHOD = r"^[A-Za-z][A-Za-z_-]*$"
_PROTO = r"^[A-Za-z]+/[\d.]+$"
_NULL = pa.scalar(None, pa.string())
_NAMES = (
    "vhost", "host", "ident", "user", "time", "request", "status", "bytes", "referer", "ua",
    "rest",
)  # fmt: skip
_NOT_ACCESS = 'not an access log line (host ident user [time] "request" status bytes)'
_BAD_TIME = "unreadable time (expected dd/Mon/yyyy:HH:MM:SS +zzzz)"


def sniff(sample: Sample) -> bool:
    return sample.mostly(_SNIFF.match)


def dataset_of(display: str) -> str:
    """The web server named by the file's path, if it is."""
    parts = [p.lower() for p in PureWindowsPath(display.replace("!", "/")).parts]
    if any(p.startswith("nginx") for p in parts):
        return "nginx.access"
    if any(p in ("httpd", "apache", "apache2") or p.startswith("apache") for p in parts):
        return "apache.access"
    return "web.access"


def parse(source: Source) -> Iterator[pa.RecordBatch]:
    if source.encoding is None:
        # raw bytes in a request line (TLS handshakes, NULs) make some logs look binary;
        # they are text: invalid UTF-8 is replaced and counted
        source.encoding = "utf-8"
    dataset = dataset_of(source.display)
    workers = int(source.options.get("workers", 2))

    def chunk(first: int, lines: pa.Array, rejects: vx.RejectList) -> pa.RecordBatch | None:
        return _chunk(source, dataset, first, lines, rejects)

    return vx.parse_parallel(source, chunk, workers)


def _opt(arr: pa.Array) -> pa.Array:
    """An optional regex group ("" when it did not take part) or ``-`` -> null."""
    return pc.if_else(pc.or_(pc.equal(arr, ""), pc.equal(arr, "-")), _NULL, arr)


def _match(lines: pa.Array) -> tuple[dict[str, pa.Array], np.ndarray]:
    """Fields of the lines that are access log lines; their positions.

    Most lines are split on ``"`` and spaces (cheap); lines with escaped quotes or an
    odd shape go through the regular expressions (strict, then loose).
    """
    fast, fast_rows = _split_fast(lines)
    rest = np.setdiff1d(np.arange(len(lines)), fast_rows)
    if not len(rest):
        return fast, fast_rows
    sub = lines.take(pa.array(rest))
    got = pc.extract_regex(sub, STRICT)
    ok = pc.is_valid(got)
    if not _all(ok):
        got = pc.if_else(ok, got, pc.extract_regex(sub, LOOSE))
    hit = vx.nonzero(pc.is_valid(got))
    g = got.take(pa.array(hit))
    slow = {k: pc.struct_field(g, k) for k in _NAMES}
    rows = np.concatenate([fast_rows, rest[hit]])
    order = pa.array(np.argsort(rows, kind="stable"))
    merged = {k: pa.concat_arrays([fast[k], slow[k]]).take(order) for k in _NAMES}
    return merged, np.sort(rows)


# no word may start with "[": the head is split at the first " [" (a user name "[x]" or
# a host "[::1]" would shift every field); such lines take the regular expressions
_HEAD_OK = r"^(?:[^\s\[]\S* )?[^\s\[]\S* [^\s\[]\S* [^\s\[]\S* \[[^\]]+\] $"
_MID7 = r"^ (?:\d{3}|-) (?:\d+|-) $"
_MID3 = r"^ (?:\d{3}|-) (?:\d+|-)$"


def _split_fast(lines: pa.Array) -> tuple[dict[str, pa.Array], np.ndarray]:
    """Common and combined lines without escaped quotes, split on ``"`` and spaces."""
    parts = pc.split_pattern(lines, '"')
    count = pc.list_value_length(parts).to_numpy(zero_copy_only=False)
    off = parts.offsets.to_numpy()[:-1].astype(np.int64)
    vals = parts.values
    escaped = _escaped_quotes(lines)
    rows = np.flatnonzero(((count == 7) | (count == 3)) & ~escaped)
    if not len(rows):
        return {k: pa.array([], pa.string()) for k in _NAMES}, rows
    seven = count[rows] == 7
    head, request, mid, _ref, gap = (
        vals.take(pa.array(off[rows] + i, mask=~seven if i > 2 else None)) for i in range(5)
    )
    ok = vx.mask(pc.match_substring_regex(head, _HEAD_OK))
    mid7 = vx.mask(pc.match_substring_regex(mid, _MID7))
    ok &= np.where(seven, mid7, vx.mask(pc.match_substring_regex(mid, _MID3)))
    ok &= ~seven | vx.mask(pc.equal(gap, " "))
    rows, seven = rows[ok], seven[ok]
    keep = pa.array(np.flatnonzero(ok))
    head, request, mid = head.take(keep), request.take(keep), mid.take(keep)
    who_time = pc.split_pattern(head, " [", max_splits=1)
    who, when = _nth(who_time, 0), _nth(who_time, 1)
    words = pc.split_pattern(who, " ")
    n_words = pc.list_value_length(words).to_numpy(zero_copy_only=False)
    status_bytes = pc.split_pattern(pc.utf8_trim(mid, " "), " ")
    out = {
        "vhost": _nth(words, 0, n_words == 4),
        "host": _nth(words, n_words - 3),
        "ident": _nth(words, n_words - 2),
        "user": _nth(words, n_words - 1),
        "time": pc.utf8_slice_codeunits(when, 0, -2),
        "request": request,
        "status": _nth(status_bytes, 0),
        "bytes": _nth(status_bytes, 1),
    }
    for name, i in (("referer", 3), ("ua", 5), ("rest", 6)):
        out[name] = vals.take(pa.array(off[rows] + i, mask=~seven))
    return out, rows


def _escaped_quotes(lines: pa.Array) -> np.ndarray:
    """Lines holding a ``\\"`` (Apache's escaped quote), found in the chunk's bytes."""
    off, data = vx.string_buffers(lines)
    body = data[off[0] : off[-1]]
    quotes = np.flatnonzero(body[1:] == 34) + 1
    hits = quotes[body[quotes - 1] == 92] + off[0]
    out = np.zeros(len(lines), bool)
    out[np.searchsorted(off, hits, side="right") - 1] = True
    return out


def _nth(lists: pa.Array, i: int | np.ndarray, where: np.ndarray | None = None) -> pa.Array:
    """Item ``i`` (per row if an array) of every list; null where ``where`` is false."""
    off = lists.offsets.to_numpy()[:-1].astype(np.int64)
    idx = off + i
    return lists.values.take(pa.array(idx, mask=None if where is None else ~where))


def _all(mask: pa.Array) -> bool:
    return bool(pc.all(pc.fill_null(mask, False)).as_py())


def _chunk(
    source: Source, dataset: str, first: int, lines: pa.Array, rejects: vx.RejectList
) -> pa.RecordBatch | None:
    f, ok = _match(lines)
    blank = vx.nonzero(pc.match_substring_regex(lines, r"^\s*$"))
    bad = np.setdiff1d(np.arange(len(lines)), np.union1d(ok, blank))
    vx.reject_rows(rejects, first, lines, bad, _NOT_ACCESS)
    if not len(ok):
        return None
    m = len(ok)
    ts = _times(f["time"], source)
    bad_ts = vx.nonzero(pc.is_null(ts))
    method, uri, proto = _request(f["request"])
    host = f["host"]
    is_ip = pc.match_substring_regex(host, r"^[\d.]+$|^[0-9A-Fa-f:]*:[0-9A-Fa-f:.]*$")
    vhost = _opt(f["vhost"])
    status = _opt(f["status"]).cast(pa.int32())
    extra: list[tuple[str, pa.Array, bool]] = [
        ("source.address", pc.if_else(is_ip, _NULL, host), True),
        ("ident", _opt(f["ident"]), True),
        ("http.version", proto, True),
        ("request", pc.if_else(pc.is_valid(method), _NULL, _opt(f["request"])), True),
        ("trailing", _opt(pc.utf8_trim_whitespace(f["rest"])), True),
    ]
    fail = pc.greater_equal(status, 400)
    cols: dict[str, pa.Array] = {
        "@timestamp": ts,
        "event.category": vx.constant("web", m),
        "event.outcome": pc.if_else(fail, "failure", "success"),
        "source.ip": pc.if_else(is_ip, host, _NULL),
        "user.name": _opt(f["user"]),
        "http.request.method": method,
        "url.original": uri,
        "url.path": pc.if_else(pc.starts_with(uri, "/"), uri, _NULL),
        "http.response.status_code": status,
        "destination.bytes": _opt(f["bytes"]),
        "http.request.referrer": _unescape(_opt(f["referer"])),
        "user_agent.original": _unescape(_opt(f["ua"])),
        "destination.domain": pc.utf8_lower(pc.replace_substring_regex(vhost, r":\d+$", "")),
        "destination.port": pc.struct_field(pc.extract_regex(vhost, r":(?P<p>\d+)$"), "p"),
        "observer.type": vx.constant("web", m),
        "event.dataset": vx.constant(dataset, m),
        "extra": vx.json_objects(extra, m),
        "record": pa.array(ok + first, pa.int64()),
    }
    batch = batch_from_columns(cols, m)
    if len(bad_ts):
        vx.reject_rows(rejects, first, lines, ok[bad_ts], _BAD_TIME)
        keep = np.ones(m, bool)
        keep[bad_ts] = False
        batch = batch.filter(pa.array(keep))
    return batch


def _request(req: pa.Array) -> tuple[pa.Array, pa.Array, pa.Array]:
    """``METHOD URI [PROTO]`` -> (method, uri, proto); all null when it isn't one."""
    first = pc.split_pattern(pc.fill_null(req, ""), " ", max_splits=1)
    two = pc.list_value_length(first).to_numpy(zero_copy_only=False) == 2
    method = _nth(first, 0)
    rest = _nth(first, 1, two)
    last = pc.split_pattern(pc.fill_null(rest, ""), " ", max_splits=1, reverse=True)
    has_proto = pc.list_value_length(last).to_numpy(zero_copy_only=False) == 2
    proto = _nth(last, 1, has_proto)
    has_proto &= vx.mask(pc.match_substring_regex(proto, _PROTO))
    proto = pc.if_else(pa.array(has_proto), proto, _NULL)
    uri = pc.if_else(pa.array(has_proto), _nth(last, 0), rest)
    valid = pc.and_(pc.match_substring_regex(method, _METHOD), pa.array(two))
    valid = pc.and_(pc.fill_null(valid, False), pc.not_equal(pc.fill_null(uri, ""), ""))
    method, uri, proto = (pc.if_else(valid, a, _NULL) for a in (method, uri, proto))
    return method, uri, proto


def _unescape(arr: pa.Array) -> pa.Array:
    r"""Apache's ``\"`` and ``\\`` inside quoted fields; ``\xNN`` stays as logged."""
    return pc.replace_substring_regex(arr, r'\\(["\\])', r"\1")


_TIME = r"^\d\d/[A-Za-z]{3}/\d{4}:\d\d:\d\d:\d\d(?: [+-]\d\d:?\d\d)?$"


def _times(text: pa.Array, source: Source) -> pa.Array:
    """``dd/Mon/yyyy:HH:MM:SS +zzzz`` -> UTC; without an offset read in the source's zone.

    Null where unreadable, including dates that don't exist (strptime would roll
    31 February over into March).
    """
    text = pc.if_else(pc.fill_null(pc.match_substring_regex(text, _TIME), False), text, _NULL)
    naive = pc.strptime(
        pc.utf8_slice_codeunits(text, 0, 20), format="%d/%b/%Y:%H:%M:%S", unit="us",
        error_is_null=True,
    )  # fmt: skip
    day = pc.utf8_slice_codeunits(text, 0, 2).cast(pa.int64())
    naive = pc.if_else(pc.equal(pc.day(naive), day), naive, pa.scalar(None, naive.type))
    has_zone = pc.greater(pc.binary_length(text), 20)
    zone = pc.replace_substring(pc.utf8_slice_codeunits(text, 21), ":", "")
    zone = pc.if_else(has_zone, zone, "+0000")
    minutes = pc.add(
        pc.multiply(pc.utf8_slice_codeunits(zone, 1, 3).cast(pa.int64()), 60),
        pc.utf8_slice_codeunits(zone, 3, 5).cast(pa.int64()),
    )  # fmt: skip
    minutes = pc.if_else(pc.starts_with(zone, "-"), pc.negate(minutes), minutes)
    offset = pc.multiply(minutes, 60_000_000).cast(pa.duration("us"))
    with_offset = pc.subtract(naive, offset).cast(pa.timestamp("us")).cast(TS)
    local = pc.invert(pc.fill_null(has_zone, True))
    if not vx.mask(local).any():
        return with_offset
    return pc.if_else(local, vx.localize(naive, source.tz), with_offset)


FORMAT = Format(
    name="web_access",
    dataset="web.access",
    description="Apache/Nginx/Tomcat access logs (common, combined, vhost_combined)",
    sniff=sniff,
    parse=parse,
    split=vx.split_at_lines,  # lines stand alone: a large log is read in parts
    fields=(
        "@timestamp", "event.category", "event.outcome", "source.ip", "user.name",
        "http.request.method", "url.original", "url.path", "http.response.status_code",
        "destination.bytes", "http.request.referrer", "user_agent.original",
        "destination.domain", "destination.port", "observer.type", "extra",
    ),
)  # fmt: skip
