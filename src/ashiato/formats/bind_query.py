"""ISC BIND (named) query log: the ``queries`` category, in a file channel or via syslog.

    09-Sep-2015 11:47:30.123 queries: info: client @0x7f8a1c0 10.20.3.41#51234
        (ip-addr.es): query: ip-addr.es IN A +E(0)K (10.0.0.2)   (one line)

The time is ``print-time``'s ``dd-Mon-yyyy HH:MM:SS.mmm`` (local time of the server, read
in the source's zone) or ``print-time iso8601`` (offset honoured); without it the line
needs a syslog header (``Sep  9 11:47:30 ns1 named[812]: client ...``; the shared peeler
infers the year). ``queries: info:`` (print-category / print-severity), the client
object ``@0x...`` (BIND 9.11+) and ``view NAME:`` are optional.

Mapping: client address/port -> source.ip/port; the queried name -> dns.question.name;
the address the query arrived on (last brackets) -> destination.ip; type, class and the
flags (``+`` recursion desired, ``-`` not, ``E(n)`` EDNS version, ``S`` signed, ``T``
TCP, ``D`` DO, ``C`` CD, ``V``/``K`` cookies) -> extra ``dns.question.type``,
``dns.question.class``, ``dns.flags``; ``view`` -> extra; network.transport tcp when
the flags have ``T``, else udp; event.action ``query``. The security category's
refusals (``query (cache) 'name/TYPE/IN' denied``, ``zone transfer ... denied``,
``update ... denied``) are kept too, as ``query-denied``, ``zone-transfer-denied``,
``update-denied`` with event.outcome failure. Other lines are rejected.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from functools import partial

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from ashiato.formats import vector as vx
from ashiato.formats.base import Format, Sample, Source
from ashiato.formats.syslog import YearState, peel
from ashiato.schema import TS, batch_from_columns

_CLIENT = (
    r"client (?:@0x[0-9a-fA-F]+ )?(?P<ip>[^\s#]+)#(?P<port>\d+)(?:/key \S+)? "
    r"\((?P<qn>[^)]*)\): (?:view (?P<view>[^:]+): )?"
)
QUERY = (
    _CLIENT + r"query: (?P<name>\S+) (?P<cls>\S+) (?P<type>\S+) (?P<flags>\S+)"
    r"(?: \((?P<server>[^)]*)\))?"
)
DENIED = (
    _CLIENT + r"(?P<what>query(?: \(cache\))?|zone transfer|update(?: '[^']*')?) "
    r"'(?P<name>[^/']+)/(?P<type>[^/']+)/(?P<cls>[^']+)' denied"
)
_OWN_TIME = (
    r"^(?:(?P<bt>\d{1,2}-[A-Za-z]{3}-\d{4} \d\d:\d\d:\d\d)(?:\.(?P<frac>\d{1,6}))?|"
    r"(?P<iso>\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(?:\.\d+)?(?:Z|[+-]\d\d:?\d\d)?)) "
)
_SNIFF = re.compile(
    r"\bclient (?:@0x[0-9a-fA-F]+ )?\S+#\d+(?:/key \S+)? \([^)]*\): (?:view [^:]+: )?"
    r"query: \S+ \S+ \S+ "
)
_NULL = pa.scalar(None, pa.string())


def sniff(sample: Sample) -> bool:
    return sample.mostly(_SNIFF.search)


def parse(source: Source) -> Iterator[pa.RecordBatch]:
    years = source.year_state()
    yield from vx.parse_chunks(source, partial(_parse_chunk, source, years))


def _parse_chunk(
    source: Source, years: YearState, first: int, lines: pa.Array, rejects: vx.RejectList
) -> pa.RecordBatch | None:
    n = len(lines)
    q = pc.extract_regex(lines, QUERY)
    is_q = vx.mask(pc.is_valid(q))
    todo = np.flatnonzero(~is_q)
    d = pc.extract_regex(lines.take(pa.array(todo)), DENIED) if len(todo) else None
    is_d = np.zeros(n, bool)
    if d is not None:
        is_d[todo[vx.mask(pc.is_valid(d))]] = True
    blank = vx.mask(pc.equal(pc.utf8_trim_whitespace(lines), ""))
    ok = is_q | is_d
    ts, host = _times(source, years, lines, ok)
    untimed = ok & vx.mask(pc.is_null(ts))
    bad = (~ok & ~blank) | untimed
    if bad.any():
        rows = np.flatnonzero(bad)
        reasons = [
            "no time (neither print-time nor a syslog header)" if untimed[r]
            else "not a BIND query log line (client ...: query: NAME CLASS TYPE FLAGS)"
            for r in rows.tolist()
        ]  # fmt: skip
        vx.reject_rows(rejects, first, lines, rows, reasons)
    keep = np.flatnonzero(ok & ~untimed)
    if not len(keep):
        return None

    def field(name: str) -> pa.Array:
        # an optional group that did not take part comes back as "", not null
        out = _blank(pc.struct_field(q, name))
        if d is not None and name in ("ip", "port", "view", "name", "type", "cls"):
            out = pc.coalesce(out, _blank(vx.scatter(pc.struct_field(d, name), todo, n)))
        return out

    sel = pa.array(keep)
    m = len(keep)
    flags = field("flags").take(sel)
    what = (
        vx.scatter(pc.struct_field(d, "what"), todo, n).take(sel)
        if d is not None
        else pa.nulls(m, pa.string())
    )
    denied = pc.is_valid(what)
    kind = pc.replace_substring_regex(what, r" \(cache\)$| '.*$", "")
    action = pc.if_else(
        denied,
        pc.binary_join_element_wise(pc.replace_substring(kind, " ", "-"), "denied", "-"),
        "query",
    )
    tcp = pc.fill_null(pc.match_substring(flags, "T"), False)
    extra = [
        ("dns.question.type", field("type").take(sel), True),
        ("dns.question.class", field("cls").take(sel), True),
        ("dns.flags", flags, True),
        ("view", field("view").take(sel), True),
    ]
    cols = {
        "@timestamp": ts.take(sel),
        "event.action": action,
        "event.category": vx.constant("network", m),
        "event.outcome": pc.if_else(denied, "failure", _NULL),
        "source.ip": field("ip").take(sel),
        "source.port": vx.to_int(field("port").take(sel), pa.int32())[0],
        "destination.ip": field("server").take(sel),
        "network.transport": pc.if_else(denied, _NULL, pc.if_else(tcp, "tcp", "udp")),
        "network.protocol": vx.constant("dns", m),
        "dns.question.name": field("name").take(sel),
        "observer.name": host.take(sel),
        "observer.type": vx.constant("dns", m),
        "observer.vendor": vx.constant("isc", m),
        "extra": vx.json_objects(extra, m),
        "record": pa.array(keep + first, pa.int64()),
    }
    return batch_from_columns(cols, m)


def _blank(arr: pa.Array) -> pa.Array:
    return pc.if_else(pc.fill_null(pc.equal(arr, ""), False), _NULL, arr)


def _times(
    source: Source, years: YearState, lines: pa.Array, ok: np.ndarray
) -> tuple[pa.Array, pa.Array]:
    """UTC time and syslog host of every line (null where not found)."""
    n = len(lines)
    got = pc.extract_regex(lines, _OWN_TIME)
    bt = pc.strptime(
        pc.struct_field(got, "bt"), format="%d-%b-%Y %H:%M:%S", unit="us", error_is_null=True
    )
    frac = pc.struct_field(got, "frac")
    micros = pc.fill_null(pc.utf8_rpad(frac, 6, "0").cast(pa.int64()), 0)
    bt = pc.add(bt.cast(pa.int64()), micros).cast(pa.timestamp("us"))
    ts = vx.localize(bt, source.tz)
    iso = _blank(pc.struct_field(got, "iso"))
    if iso.null_count < n:
        ts = pc.coalesce(ts, _iso(iso))
    host = pa.nulls(n, pa.string())
    need = np.flatnonzero(ok & vx.mask(pc.is_null(ts)))
    if len(need):
        env = peel(lines.take(pa.array(need)), source.tz, years)
        ts = pc.coalesce(ts, vx.scatter(env.timestamp, need, n))
        host = vx.scatter(env.host, need, n)
    return ts, host


def _iso(text: pa.Array) -> pa.Array:
    try:
        return text.cast(TS)
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
        out = []
        for v in text.to_pylist():
            try:
                out.append(pa.scalar(v).cast(TS).as_py() if v else None)
            except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
                out.append(None)
        return pa.array(out, TS)


FORMAT = Format(
    name="bind_query",
    dataset="bind.query",
    description="ISC BIND named query log (queries category), file channel or syslog",
    sniff=sniff,
    parse=parse,
    fields=(
        "@timestamp", "event.action", "event.category", "event.outcome", "source.ip",
        "source.port", "destination.ip", "network.transport", "network.protocol",
        "dns.question.name", "observer.name", "observer.type", "observer.vendor", "extra",
    ),
)  # fmt: skip
