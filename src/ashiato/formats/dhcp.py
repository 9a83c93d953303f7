"""Windows DHCP Server audit log (``DhcpSrvLog-<Day>.log``, ``DhcpV6SrvLog-<Day>.log``).

The file opens with a free-text preamble ("Microsoft DHCP Service Activity Log", a legend
of event IDs, the QResult legend) and then a header line naming the columns::

    ID,Date,Time,Description,IP Address,Host Name,MAC Address,User Name, TransactionID, ...

Server 2003/2008 stop after ``MAC Address``, 2008 R2 after ``Dhcid.``, 2012+ add vendor and
user classes, relay agent information and ``DnsRegError``. Columns are mapped by position
(their order never changed; localised servers may translate the header), and the header
only decides how many there are and whether this is the DHCPv6 log. The preamble is not
data and is skipped; every line after the header that isn't a row is rejected.

``Date``/``Time`` are the server's local time (``MM/DD/YY``), read in ``source.tz``.
The leased address goes to ``host.ip``, the client's name to ``host.hostname`` and its MAC
(written as bare hex) to ``host.mac`` as ``00:15:5d:01:2a:41``. Everything else is kept in
``extra`` under ``dhcp.*``.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import orjson
import pyarrow as pa
import pyarrow.compute as pc

from ashiato.formats.base import BATCH_ROWS, Format, Sample, Source
from ashiato.schema import TS, batch_from_columns

# a data row: "10,09/08/15,08:55:12," (IDs run from 00 to 11xxx for DHCPv6)
_ROW = re.compile(r"^\d{1,5},\d{1,2}/\d{1,2}/\d{2,4},\d{1,2}:\d{2}:\d{2},")
_HEADER = re.compile(r"^ID,[^,]+,[^,]+,[^,]+,[^,]+,[^,]+,")
_HEX = re.compile(r"^[0-9A-Fa-f]{12}$")

# canonical names by position; extra keys become "dhcp.<name>"
_V4 = (
    "id",
    "date",
    "time",
    "description",
    "ip",
    "hostname",
    "mac",
    "user",
    "transaction_id",
    "qresult",
    "probation_time",
    "correlation_id",
    "dhcid",
    "vendor_class_hex",
    "vendor_class_ascii",
    "user_class_hex",
    "user_class_ascii",
    "relay_agent_information",
    "dns_reg_error",
)
_V6 = (
    "id",
    "date",
    "time",
    "description",
    "ip",
    "hostname",
    "error_code",
    "duid_length",
    "duid",
    "user",
    "dhcid",
    "subnet_prefix",
)
_MAPPED = frozenset(("id", "date", "time", "description", "ip", "hostname", "mac", "user"))

# event IDs whose outcome is plain (Microsoft's legend in the log preamble)
_FAILURE = frozenset(("13", "14", "15", "22", "31", "33", "34", "35", "36", "54", "56", "59"))
_SUCCESS = frozenset(("10", "11", "12", "20", "21", "32", "51", "55"))


def _sniff(sample: Sample) -> bool:
    lines = sample.first_lines(60)
    if not lines:
        return False
    if any(_is_title(ln) for ln in lines[:3]):
        return True
    header = [ln for ln in lines if ln.startswith("ID,")]
    if header and _header_kind(header[0]) is not None:
        return True
    # a fragment without preamble: every non-blank line is a DHCP row
    rows = sum(1 for ln in lines if _ROW.match(ln))
    return rows >= 3 and rows == len(lines)


def _is_title(line: str) -> bool:
    # "Microsoft DHCP Service Activity Log" / "... DHCPv6 ..." / a Japanese server's "... ログ"
    return "DHCP" in line and ("Activity Log" in line or "ログ" in line) and "," not in line


@dataclass(frozen=True)
class _Layout:
    """Where the mapped columns sit, and which of the rest go to ``extra``."""

    width: int  # columns in the header (0: no header seen)
    limit: int  # columns a row should have
    ip: int
    hostname: int
    mac: int | None
    user: int
    extra: tuple[tuple[int, str], ...]

    @classmethod
    def of(cls, names: tuple[str, ...], width: int) -> _Layout:
        limit = width or len(names)
        return cls(
            width=width,
            limit=limit,
            ip=names.index("ip"),
            hostname=names.index("hostname"),
            mac=names.index("mac") if "mac" in names else None,
            user=names.index("user"),
            extra=tuple(
                (i, f"dhcp.{name}") for i, name in enumerate(names[:limit]) if name not in _MAPPED
            ),
        )


def _header_kind(line: str) -> tuple[str, ...] | None:
    if not _HEADER.match(line):
        return None
    upper = line.upper()
    if "IPV6" in upper or "DUID" in upper:
        return _V6
    if "DATE" in upper or "MAC" in upper or line.count(",") >= 6:
        return _V4
    return None


class _Cols:
    def __init__(self) -> None:
        self.cols: dict[str, list[Any]] = {}
        self.n = 0

    def add(self, row: dict[str, Any]) -> None:
        n = self.n
        for key, value in row.items():
            col = self.cols.get(key)
            if col is None:
                col = self.cols[key] = [None] * BATCH_ROWS
            col[n] = value
        self.n = n + 1


def _parse(source: Source) -> Iterator[pa.RecordBatch]:
    layout: _Layout | None = None
    out = _Cols()
    for first, lines in source.line_chunks():
        for i, line in enumerate(lines):
            record = first + i
            if layout is None or line.startswith("ID,"):
                kind = _header_kind(line) if line.startswith("ID,") else None
                if kind is not None:
                    layout = _Layout.of(kind, line.count(",") + 1)
                    continue
                if layout is None:
                    if not _ROW.match(line):
                        continue  # preamble: title, event ID legend, QResult legend
                    layout = _Layout.of(_V4, 0)  # a fragment without header
            if not line or line.isspace():
                continue
            if _is_title(line):
                layout = None  # a second preamble (log appended after a restart)
                continue
            row = _row(line, layout, record, source)
            if row is None:
                continue
            out.add(row)
            if out.n == BATCH_ROWS:
                yield _emit(out, source)
                out = _Cols()
    if out.n:
        yield _emit(out, source)


def _row(line: str, lay: _Layout, record: int, source: Source) -> dict[str, Any] | None:
    if not _ROW.match(line):
        source.reject(record, "not a DHCP audit row (ID,MM/DD/YY,HH:MM:SS,...)", line)
        return None
    fields = line.split(",")
    nf = len(fields)
    if nf < 7:
        # even the oldest logs have ID..MAC Address; fewer means a cut line
        source.reject(record, f"expected {lay.width or 7} fields, got {nf}", line)
        return None
    try:
        ts = _when(fields[1], fields[2])
    except ValueError:
        source.reject(record, f"unreadable date/time {fields[1]!r} {fields[2]!r}", line)
        return None
    code = fields[0]
    row: dict[str, Any] = {
        "record": record,
        "@timestamp": ts,
        "event.code": code,
        "event.action": fields[3].strip().lower() or None,
    }
    if code in _FAILURE:
        row["event.outcome"] = "failure"
    elif code in _SUCCESS:
        row["event.outcome"] = "success"
    ip = fields[lay.ip].strip()
    if ip:
        row["host.ip"] = ip
    host = fields[lay.hostname].strip()
    if host:
        row["host.hostname"] = host
    if lay.mac is not None:
        mac = fields[lay.mac].strip()
        if mac:
            # client IDs that aren't 12 hex digits (RAS, long client ids) stay as written
            row["host.mac"] = _mac(mac) if _HEX.match(mac) else mac
    if lay.user < nf:
        user = fields[lay.user].strip()
        if user:
            row["user.name"] = user
    extra = {key: fields[i].strip() for i, key in lay.extra if i < nf and fields[i]}
    if nf > lay.limit and any(fields[lay.limit :]):
        # an unquoted comma inside a class string: keep what didn't fit, don't guess
        extra["dhcp.overflow"] = ",".join(fields[lay.limit :])
    if extra:
        row["extra"] = extra
    return row


def _when(date: str, time: str) -> datetime:
    month, day, year = date.split("/")
    hour, minute, second = time.split(":")
    y = int(year)
    if y < 100:
        y += 2000
    return datetime(y, int(month), int(day), int(hour), int(minute), int(second))


def _mac(hexstr: str) -> str:
    h = hexstr.lower()
    return f"{h[0:2]}:{h[2:4]}:{h[4:6]}:{h[6:8]}:{h[8:10]}:{h[10:12]}"


def _emit(out: _Cols, source: Source) -> pa.RecordBatch:
    n = out.n
    cols: dict[str, Any] = {k: v[:n] for k, v in out.cols.items()}
    naive = pa.array(cols.pop("@timestamp"), pa.timestamp("us"))
    local = pc.assume_timezone(naive, source.tz.key, ambiguous="earliest", nonexistent="earliest")
    cols["@timestamp"] = local.cast(TS)
    if "extra" in cols:
        cols["extra"] = [None if e is None else orjson.dumps(e).decode() for e in cols["extra"]]
    cols["event.category"] = pa.repeat(pa.scalar("network"), n)
    cols["observer.type"] = pa.repeat(pa.scalar("dhcp"), n)
    cols["observer.vendor"] = pa.repeat(pa.scalar("Microsoft"), n)
    return batch_from_columns(cols, n)


FORMAT = Format(
    name="dhcp",
    dataset="windows.dhcp",
    description="Windows DHCP Server audit log (DhcpSrvLog-*.log, DhcpV6SrvLog-*.log)",
    sniff=_sniff,
    parse=_parse,
    fields=(
        "@timestamp",
        "event.code",
        "event.action",
        "event.category",
        "event.outcome",
        "host.ip",
        "host.hostname",
        "host.mac",
        "user.name",
        "observer.type",
        "observer.vendor",
    ),
)
