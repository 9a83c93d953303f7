"""clock_skew.apply picks a skewed source's rows exactly as its label names them."""

from __future__ import annotations

from datetime import UTC, datetime

import ibis
import pyarrow as pa

from ashiato.analysis import clock_skew
from ashiato.findings import ClockSkew

T0 = datetime(2015, 11, 6, 4, 30, tzinfo=UTC)
# (dataset, host.name, observer.name): Windows logs by host (DHCP audit logs are not the
# host's clock), devices by observer name, the rest by dataset; names holding an "@"
ROWS = [
    ("windows.security", "fs01", None),
    ("windows.security", None, "fs01"),
    ("windows.security", "pc@1", None),
    ("windows.dhcp", "dc01", None),
    ("windows.dhcp", None, "dc01"),
    ("windows.dhcp", None, ""),
    ("fortinet.fortigate", "pc-osk-0112", "FG-OSAKA"),
    ("fortinet.fortigate", None, "FG@OSAKA"),
    ("fortinet.fortigate", None, ""),
    ("fortinet.fortigate", None, None),
    ("squid.access", "proxy01", None),
    ("zeek@x.conn", None, "y"),
    (None, "fs01", "FG-OSAKA"),
]


def _table() -> ibis.Table:
    cols = list(zip(*ROWS, strict=True))
    return ibis.memtable(pa.table({
        "@timestamp": pa.array([T0] * len(ROWS), pa.timestamp("us", tz="UTC")),
        "event.dataset": list(cols[0]), "host.name": list(cols[1]),
        "observer.name": list(cols[2]), "n": list(range(len(ROWS))),
    }))  # fmt: skip


def test_the_rows_moved_are_the_rows_the_label_names() -> None:
    t = _table()
    labels = [r["_l"] for r in t.mutate(_l=clock_skew._label(t)).order_by("n").to_pyarrow()
              .to_pylist()]  # fmt: skip
    sources = sorted({x for x in labels if x} | {"windows.security@?", "fortinet.fortigate@"})
    for source in sources:
        skew = ClockSkew(source=source, offset_seconds=120.0, basis="", pairs=3,
                         spread_seconds=0.0, zone_error_hours=None, skew_seconds=120.0)  # fmt: skip
        fixed = clock_skew.apply(t, [skew]).order_by("n").to_pyarrow().to_pylist()
        moved = [r["@timestamp"] != T0 for r in fixed]
        assert moved == [x == source for x in labels], source
        assert skew.applied
    assert labels[1] == "windows.security@?" and labels[7] == "fortinet.fortigate@FG@OSAKA"
