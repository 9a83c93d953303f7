"""Linux netfilter ``LOG`` target lines (iptables / ip6tables / nftables ``log``; domain.md 3.6).

The kernel message follows a syslog header (``kern.log``, ``messages``, ``ufw.log``)::

    Sep  9 11:45:04 gw01 kernel: [812334.12] FWD-ACCEPT IN=eth1 OUT=eth0 SRC=10.20.3.41
        DST=203.0.113.77 LEN=52 TOS=0x00 PREC=0x00 TTL=127 ID=3312 DF PROTO=TCP SPT=51234
        DPT=80 WINDOW=8192 RES=0x00 SYN URGP=0   (one line)

The header is RFC 3164 (no year: the shared peeler infers it from the source's year
hint, and reads the time in the source's zone), RFC 5424, or rsyslog's high-precision
``2015-09-09T11:45:04.123456+09:00 gw01 kernel: ...`` (offset honoured). Lines
without one (``dmesg`` output: only the uptime in brackets) can't be placed in time
and are rejected, as are lines without ``SRC=``/``DST=``.

Mapping: SRC/DST/SPT/DPT -> source/destination ip/port; PROTO -> network.transport
(lower case); the log prefix (``FWD-DROP``, ``[UFW BLOCK]``) -> rule.name, and the
first action word in it -> event.action (drop, reject, block for block/deny, accept for
accept/allow/pass) with event.outcome failure/success; the syslog host ->
observer.name. ``IN=`` empty means the packet was sent by the host itself, ``OUT=``
empty that it was addressed to it; both go to extra (``in_interface``,
``out_interface``) with ``mac``, ``len``, ``ttl``, ``id``, ``tcp_flags`` (SYN, ACK...),
``icmp_type``/``icmp_code``, ``uid``/``gid`` (``--log-uid``) and ``mark``.

Parsing is vectorised per chunk (``vector.scan_kv`` for the ``KEY=value`` pairs, the
shared syslog peeler for the header); chunks are parsed in file order so the year
inference sees months in order.
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

KEYS = vx.KeyTable(
    ("IN", "OUT", "MAC", "SRC", "DST", "LEN", "TTL", "ID", "PROTO", "SPT", "DPT", "TYPE",
     "CODE", "UID", "GID", "MARK")
)  # fmt: skip
_NULL = pa.scalar(None, pa.string())
_SNIFF = re.compile(r"\bIN=\S* OUT=\S* .*\bSRC=\S+ DST=\S+ ")
_ISO = (
    r"^(?:<\d{1,3}>)?(?P<ts>\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(?:\.\d+)?(?:Z|[+-]\d\d:?\d\d)?) "
    r"(?P<host>\S+) (?:(?P<app>[^\s:\[\]]+)(?:\[\d+\])?: )?(?P<msg>.*)$"
)
_PREFIX = r"^(?:\[\s*\d+\.\d+\]\s?)?(?P<prefix>.*?)\s*IN="
_FLAGS = r"\bRES=0x[0-9a-fA-F]+ (?P<flags>(?:(?:CWR|ECE|URG|ACK|PSH|RST|SYN|FIN) )*)URGP="
_ACTIONS = (
    ("drop", r"(?i)drop"), ("reject", r"(?i)reject"), ("block", r"(?i)block|den(?:y|ied)"),
    ("accept", r"(?i)accept|allow|pass"),
)  # fmt: skip


def sniff(sample: Sample) -> bool:
    return sample.mostly(_SNIFF.search)


def parse(source: Source) -> Iterator[pa.RecordBatch]:
    years = source.year_state()
    yield from vx.parse_chunks(source, partial(_parse_chunk, source, years))


def _parse_chunk(
    source: Source, years: YearState, first: int, lines: pa.Array, rejects: vx.RejectList
) -> pa.RecordBatch | None:
    v, _found = vx.scan_kv(lines, KEYS)
    is_log = vx.mask(pc.and_(pc.is_valid(v["SRC"]), pc.is_valid(v["DST"])))
    blank = vx.mask(pc.equal(pc.utf8_trim_whitespace(lines), ""))
    rows = np.flatnonzero(is_log)
    env = peel(lines.take(pa.array(rows)), source.tz, years) if len(rows) else None
    ts = env.timestamp if env is not None else pa.nulls(0, TS)
    host = env.host if env is not None else pa.nulls(0, pa.string())
    message = env.message if env is not None else pa.nulls(0, pa.string())
    if env is not None and env.kind.null_count:
        # rsyslog's ISO times (RFC 3339 without the "1 " of RFC 5424)
        got = pc.extract_regex(lines.take(pa.array(rows)), _ISO)
        iso = pc.struct_field(got, "ts").cast(TS)
        none = pc.is_null(env.kind)
        ts = pc.if_else(none, iso, ts)
        host = pc.if_else(none, pc.struct_field(got, "host"), host)
        message = pc.if_else(pc.and_(none, pc.is_valid(got)), pc.struct_field(got, "msg"), message)
    timed = vx.mask(pc.is_valid(ts))
    bad = np.flatnonzero(~is_log & ~blank)
    untimed = rows[~timed]
    if len(bad) or len(untimed):
        all_bad = np.concatenate([bad, untimed])
        reasons = ["no netfilter LOG fields (SRC= and DST=)"] * len(bad)
        reasons += ["no syslog time (a kernel line with only its uptime)"] * len(untimed)
        order = np.argsort(all_bad, kind="stable")
        vx.reject_rows(rejects, first, lines, all_bad[order], [reasons[i] for i in order])
    if not timed.any():
        return None
    keep = rows[timed]
    sel = pa.array(np.flatnonzero(timed))
    ts, host, message = ts.take(sel), host.take(sel), message.take(sel)
    v = {k: a.take(pa.array(keep)) for k, a in v.items()}
    return batch_from_columns(_columns(v, ts, host, message, keep + first), len(keep))


def _columns(
    v: dict[str, pa.Array],
    ts: pa.Array,
    host: pa.Array,
    message: pa.Array,
    records: np.ndarray,
) -> dict[str, pa.Array]:
    m = len(records)
    prefix = pc.struct_field(pc.extract_regex(message, _PREFIX), "prefix")
    prefix = pc.utf8_trim(prefix, " :")
    prefix = pc.if_else(pc.equal(prefix, ""), _NULL, prefix)
    action = pa.nulls(m, pa.string())
    for word, pattern in reversed(_ACTIONS):  # the first listed wins
        hit = pc.fill_null(pc.match_substring_regex(prefix, pattern), False)
        action = pc.if_else(hit, word, action)
    outcome = pc.if_else(
        pc.equal(action, "accept"), "success", pc.if_else(pc.is_valid(action), "failure", _NULL)
    )
    flags = pc.struct_field(pc.extract_regex(message, _FLAGS), "flags")
    flags = pc.utf8_rtrim(flags, " ")
    flags = pc.if_else(pc.equal(flags, ""), _NULL, pc.replace_substring(flags, " ", ","))
    extra = [
        ("in_interface", v["IN"], True),
        ("out_interface", v["OUT"], True),
        ("mac", v["MAC"], True),
        ("len", vx.to_int(v["LEN"])[0], False),
        ("ttl", vx.to_int(v["TTL"])[0], False),
        ("id", v["ID"], True),
        ("tcp_flags", flags, True),
        ("icmp_type", vx.to_int(v["TYPE"])[0], False),
        ("icmp_code", vx.to_int(v["CODE"])[0], False),
        ("uid", v["UID"], True),
        ("gid", v["GID"], True),
        ("mark", v["MARK"], True),
    ]
    return {
        "@timestamp": ts,
        "event.action": action,
        "event.category": vx.constant("network", m),
        "event.outcome": outcome,
        "source.ip": v["SRC"],
        "source.port": vx.to_int(v["SPT"], pa.int32())[0],
        "destination.ip": v["DST"],
        "destination.port": vx.to_int(v["DPT"], pa.int32())[0],
        "network.transport": pc.utf8_lower(v["PROTO"]),
        "rule.name": prefix,
        "observer.name": host,
        "observer.type": vx.constant("firewall", m),
        "observer.vendor": vx.constant("netfilter", m),
        "extra": vx.json_objects(extra, m),
        "record": pa.array(records, pa.int64()),
    }


FORMAT = Format(
    name="iptables",
    dataset="iptables.log",
    description="Linux netfilter LOG lines (iptables, ufw, nftables log) in syslog",
    sniff=sniff,
    parse=parse,
    fields=(
        "@timestamp", "event.action", "event.category", "event.outcome", "source.ip",
        "source.port", "destination.ip", "destination.port", "network.transport",
        "rule.name", "observer.name", "observer.type", "observer.vendor", "extra",
    ),
)  # fmt: skip
