"""ISC dhcpd lines in syslog (``/var/log/messages``, ``daemon.log``, ``dhcpd.log``).

dhcpd logs each step of an exchange as one line after the syslog header::

    Sep 10 08:40:11 dhcp01 dhcpd[1234]: DHCPACK on 10.31.3.25 to 00:15:5d:0a:01:12
        (PC-OSK-0112) via eth0                                              (one line)
    Sep 10 13:30:00 dhcp01 dhcpd[1234]: DHCPRELEASE of 10.31.3.25 from
        00:15:5d:0a:01:12 (PC-OSK-0112) via eth0 (found)                    (one line)
    Sep 10 09:05:02 dhcp01 dhcpd[1234]: DHCPNAK on 10.31.3.25 to 00:15:5d:0a:02:45 via eth0

The verb goes to ``event.action`` (lower case: dhcpack, dhcprelease, dhcpnak, dhcpoffer,
dhcprequest, dhcpdiscover, dhcpdecline, dhcpinform, bootreply...), the address to
``host.ip``, the MAC to ``host.mac``, the client's name (the parenthesised hostname) to
``host.hostname``, the interface or relay after ``via`` to ``extra["dhcp.via"]``. What
the verbs do to a lease is the identity analysis' business (analysis/identity.py).
Other dhcpd lines ("Wrote 12 leases to leases file.") are kept with their text in
``message``; only lines without a syslog time are rejected. The syslog header is read by
the shared peeler (RFC 3164: no year, the source's zone).
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from functools import partial

import numpy as np
import orjson
import pyarrow as pa
import pyarrow.compute as pc

from ashiato.formats import vector as vx
from ashiato.formats.base import Format, Sample, Source
from ashiato.formats.syslog import YearState, peel
from ashiato.schema import batch_from_columns

_SNIFF = re.compile(r"\bdhcpd(?:\[\d+\])?: ")
_LINE = (
    r"^(?P<verb>DHCP[A-Z]+|BOOT(?:REPLY|REQUEST))\b"
    r"(?: (?:on|of|for) (?P<ip>[0-9A-Fa-f.:]+[0-9A-Fa-f]))?"
    r"(?: \([^)]*\))?"
    r"(?: (?:to|from) (?P<mac>(?:[0-9A-Fa-f]{1,2}:){5}[0-9A-Fa-f]{1,2}))?"
    r"(?: \((?P<host>[^)]*)\))?"
    r"(?: via (?P<via>\S+))?"
)
_NULL = pa.scalar(None, pa.string())


def sniff(sample: Sample) -> bool:
    return sample.mostly(_SNIFF.search)


def parse(source: Source) -> Iterator[pa.RecordBatch]:
    years = YearState(source.year_hint)
    yield from vx.parse_chunks(source, partial(_parse_chunk, source, years))


def _parse_chunk(
    source: Source, years: YearState, first: int, lines: pa.Array, rejects: vx.RejectList
) -> pa.RecordBatch | None:
    env = peel(lines, source.tz, years)
    blank = vx.mask(pc.equal(pc.utf8_trim_whitespace(lines), ""))
    timed = vx.mask(pc.is_valid(env.timestamp))
    bad = np.flatnonzero(~timed & ~blank)
    vx.reject_rows(rejects, first, lines, bad, "no syslog time (not a dhcpd log line)")
    keep = np.flatnonzero(timed)
    if not len(keep):
        return None
    sel = pa.array(keep)
    message = env.message.take(sel)
    got = pc.extract_regex(message, _LINE)

    def part(name: str) -> pa.Array:
        arr = pc.struct_field(got, name)
        return pc.if_else(pc.equal(arr, ""), _NULL, arr)

    verb = pc.utf8_lower(part("verb"))
    mac = pc.utf8_lower(part("mac"))
    via = part("via")
    extra = pa.array(
        [None if v is None else orjson.dumps({"dhcp.via": v}).decode() for v in via.to_pylist()],
        pa.string(),
    )
    n = len(keep)
    cols = {
        "record": pa.array(keep + first, pa.int64()),
        "@timestamp": env.timestamp.take(sel),
        "event.action": verb,
        "event.category": vx.constant("network", n),
        "host.ip": part("ip"),
        "host.mac": mac,
        "host.hostname": part("host"),
        "message": message,
        "observer.name": env.host.take(sel),
        "observer.type": vx.constant("dhcp", n),
        "observer.vendor": vx.constant("ISC", n),
        "extra": extra,
    }
    return batch_from_columns(cols, n)


FORMAT = Format(
    name="isc-dhcpd",
    dataset="isc.dhcpd",
    description="ISC dhcpd syslog lines (DHCPACK/DHCPRELEASE/DHCPNAK ... on/of <ip> to/from <mac>)",
    sniff=sniff,
    parse=parse,
    fields=(
        "@timestamp",
        "event.action",
        "event.category",
        "host.ip",
        "host.mac",
        "host.hostname",
        "message",
        "observer.name",
        "observer.type",
        "observer.vendor",
    ),
)
