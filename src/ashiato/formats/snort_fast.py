"""Snort / Suricata ``fast.log`` alerts (domain.md 3.11), a whole chunk at a time.

Layout::

    09/09-11:45:06.311204  [**] [1:2021000:2] ET CURRENT_EVENTS Angler EK (example) [**]
        [Classification: A Network Trojan was detected] [Priority: 1]
        {TCP} 203.0.113.77:80 -> 10.20.3.41:51234                            (one line)

Snort writes no year unless run with ``-y`` (Snort 2 ``09/09/15-``, Snort 3 year first:
``15/09/09-``); Suricata writes it (``09/09/2015-``) and may put ``[Drop]`` / ``[wDrop]``
before the first ``[**]``. Snort 3 puts the message in double quotes (dropped).
Without a year the year starts at ``Source.year_hint`` and rolls over when the month
goes back (Dec -> Jan), as for syslog. Times are local: read in the source's zone (Snort
``-U`` logs are UTC: ingest them with ``--tz UTC``).

Mapping: message -> ``rule.name``; ``gid:sid:rev`` -> ``rule.id``; Classification ->
``rule.category``; Priority -> ``event.severity``; ``{PROTO}`` -> ``network.transport``;
addresses and ports (IPv4 ``a.b.c.d:port``, IPv6 as ``[addr]:port`` or with the port
after the last ``:`` for TCP/UDP/SCTP) -> source/destination. ``[Drop]`` -> ``event.action``
(otherwise ``alert``). Lines that are not alerts are rejected.
"""

from __future__ import annotations

import re
from collections.abc import Iterator

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from ashiato.formats import vector as vx
from ashiato.formats import w3c
from ashiato.formats.base import Format, Sample, Source
from ashiato.formats.syslog import YearState
from ashiato.schema import batch_from_columns

LINE = (
    r"^(?P<a>\d\d)/(?P<b>\d\d)(?:/(?P<c>\d{4}|\d\d))?-"
    r"(?P<time>\d\d:\d\d:\d\d(?:\.\d{1,6})?)\s+(?:\[(?P<action>[A-Za-z]+)\]\s+)?"
    r"\[\*\*\]\s+\[(?P<rid>\d+:\d+:\d+)\]\s+(?P<msg>.*?)\s+\[\*\*\]"
    r"(?:\s+\[Classification:\s*(?P<cls>[^\]]*?)\s*\])?(?:\s+\[Priority:\s*(?P<prio>\d+)\])?"
    r"\s+\{(?P<proto>[^}]*)\}\s+(?P<src>\S+)\s+->\s+(?P<dst>\S+)\s*$"
)
_SNIFF = re.compile(
    r"^\d\d/\d\d(?:/\d{2,4})?-\d\d:\d\d:\d\d\.\d+\s+(?:\[[A-Za-z]+\]\s+)?\[\*\*\] \[\d+:\d+:\d+\] "
)
ADDR = (
    r"^(?:\[(?P<b>[^\]]+)\](?::(?P<bp>\d+))?"
    r"|(?P<v4>\d{1,3}(?:\.\d{1,3}){3})(?::(?P<v4p>\d+))?"
    r"|(?P<v6>[0-9A-Fa-f:.]*:[0-9A-Fa-f:.]*))$"
)
_PORTED = pa.array(["tcp", "udp", "sctp"])
_NULL = pa.scalar(None, pa.string())


def sniff(sample: Sample) -> bool:
    return sample.mostly(_SNIFF.match)


def parse(source: Source) -> Iterator[pa.RecordBatch]:
    workers = int(source.options.get("workers", 2))
    state = source.year_state()

    def chunk(first: int, lines: pa.Array, rejects: vx.RejectList) -> pa.RecordBatch | None:
        try:
            return _chunk(source, state, first, lines, rejects)
        finally:
            state.skip(first, len(lines))

    return vx.parse_parallel(source, chunk, workers)


def _chunk(
    source: Source, state: YearState, first: int, lines: pa.Array, rejects: vx.RejectList
) -> pa.RecordBatch | None:
    got = pc.extract_regex(lines, LINE)
    ok = vx.nonzero(pc.is_valid(got))
    blank = vx.nonzero(pc.equal(pc.utf8_trim_whitespace(lines), ""))
    bad = np.setdiff1d(np.arange(len(lines)), np.union1d(ok, blank))
    vx.reject_rows(rejects, first, lines, bad, "not a fast.log alert line")
    state.wait_turn(first)
    if not len(ok):
        return None
    g = got.take(pa.array(ok))

    def f(name: str) -> pa.Array:
        return _opt(pc.struct_field(g, name))

    year, mon, day = _date_parts(f("a"), f("b"), f("c"))
    ts = _times(year, mon, day, f("time"), source, state)
    unreadable = vx.nonzero(pc.is_null(ts))
    proto = pc.utf8_lower(pc.utf8_trim_whitespace(f("proto")))
    src_ip, src_port = _addr(f("src"), proto)
    dst_ip, dst_port = _addr(f("dst"), proto)
    vendor = pc.if_else(pc.equal(pc.utf8_length(year), 4), "suricata", "snort")
    m = len(ok)
    cols: dict[str, pa.Array] = {
        "@timestamp": ts,
        "event.action": pc.coalesce(pc.utf8_lower(f("action")), pa.scalar("alert")),
        "event.category": vx.constant("intrusion_detection", m),
        "event.severity": f("prio"),
        "rule.name": pc.replace_substring_regex(f("msg"), r'^"(.*)"$', r"\1"),  # Snort 3
        "rule.id": f("rid"),
        "rule.category": f("cls"),
        "network.transport": proto,
        "source.ip": src_ip,
        "source.port": src_port,
        "destination.ip": dst_ip,
        "destination.port": dst_port,
        "observer.type": vx.constant("ids", m),
        "observer.vendor": pc.fill_null(vendor, "snort"),
        "record": pa.array(ok + first, pa.int64()),
    }
    batch = batch_from_columns(cols, m)
    if len(unreadable):
        vx.reject_rows(rejects, first, lines, ok[unreadable], "unreadable date/time")
        keep = np.ones(m, bool)
        keep[unreadable] = False
        batch = batch.filter(pa.array(keep))
    return batch


def _date_parts(a: pa.Array, b: pa.Array, c: pa.Array) -> tuple[pa.Array, pa.Array, pa.Array]:
    """(year, month, day) from ``MM/DD``, ``MM/DD/YY``, ``MM/DD/YYYY`` or ``YY/MM/DD``.

    Snort 2 and Suricata write the month first; Snort 3 with ``-y`` writes the year
    first. A first number above 12 can only be a year; 2000-2012 would be ambiguous and
    are read month first.
    """
    year_first = pc.and_(pc.is_valid(c), pc.greater(a.cast(pa.int64()), 12))
    year_first = pc.fill_null(year_first, False)
    return (
        pc.if_else(year_first, a, c),
        pc.if_else(year_first, b, a),
        pc.if_else(year_first, c, b),
    )


def _times(
    year: pa.Array, mon: pa.Array, day: pa.Array, hms: pa.Array, source: Source, state: YearState
) -> pa.Array:
    """Wall-clock times in the source's zone -> UTC; the year inferred where absent."""
    month = mon.cast(pa.int64()).to_numpy(zero_copy_only=False)
    given = pc.fill_null(year.cast(pa.int64()), -1).to_numpy(zero_copy_only=False)
    has = given >= 0
    years = np.where(given < 100, 2000 + given, given)  # -y writes two digits
    none = np.flatnonzero(~has)
    if len(none):
        mo = month[none]
        prev = np.empty_like(mo)
        prev[0] = state.last_month or mo[0]
        prev[1:] = mo[:-1]
        rolls = np.cumsum((prev - mo) > 6)
        years[none] = state.year + rolls
        state.year = int(years[none][-1])
        state.assumed += len(none)
        state.last_month = int(mo[-1])
    text = pc.binary_join_element_wise(pa.array(years).cast(pa.string()), mon, day, "-")
    naive, _bad = w3c.naive_times(pc.binary_join_element_wise(text, hms, " "))
    return vx.localize(naive, source.tz)


def _opt(arr: pa.Array) -> pa.Array:
    """An optional regex group: "" when it did not take part -> null."""
    return pc.if_else(pc.equal(arr, ""), _NULL, arr)


def _addr(arr: pa.Array, proto: pa.Array) -> tuple[pa.Array, pa.Array]:
    """(address, port) from ``a.b.c.d:port``, ``[v6]:port``, ``v6:port`` or a bare address."""
    got = pc.extract_regex(arr, ADDR)
    v4, v4p, br, brp, v6 = (_opt(pc.struct_field(got, k)) for k in ("v4", "v4p", "b", "bp", "v6"))
    # unbracketed IPv6: the port is the group after the last ':' when the protocol has ports
    ported = pc.fill_null(pc.is_in(proto, value_set=_PORTED), False)
    split = pc.extract_regex(v6, r"^(?P<ip>.*):(?P<port>\d{1,5})$")
    v6_ip = pc.if_else(ported, pc.coalesce(pc.struct_field(split, "ip"), v6), v6)
    v6_port = pc.if_else(ported, pc.struct_field(split, "port"), _NULL)
    ip = pc.coalesce(v4, br, v6_ip, arr)
    port = pc.coalesce(v4p, brp, v6_port)
    return ip, port.cast(pa.int32())


FORMAT = Format(
    name="snort_fast",
    dataset="snort.alert",
    description="Snort/Suricata fast.log alerts ([**] [gid:sid:rev] msg ... {PROTO} src -> dst)",
    sniff=sniff,
    parse=parse,
    fields=(
        "@timestamp", "event.action", "event.category", "event.severity", "rule.name",
        "rule.id", "rule.category", "network.transport", "source.ip", "source.port",
        "destination.ip", "destination.port", "observer.type", "observer.vendor",
    ),
)  # fmt: skip
