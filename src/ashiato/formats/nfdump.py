"""nfdump flow records exported with ``nfdump -r FILE -o csv`` (NetFlow v5/v9/IPFIX, sFlow).

The header names the columns (``ts,te,td,sa,da,sp,dp,pr,flg,fwd,stos,ipkt,ibyt,opkt,obyt,
in,out,sas,das,smk,dmk,dtos,dir,nh,nhb,svln,dvln,ismc,odmc,idmc,osmc,mpls1,...,mpls10,cl,
sl,al,ra,eng,exid,tr``); columns are found by name, so older or newer column sets work.
After the records nfdump prints a ``Summary`` block (``Summary``, a
``flows,bytes,packets,avg_bps,avg_pps,avg_bpp`` header and one line of totals) and,
without ``-q``, ``Time window:``, ``Total flows processed:`` and ``Sys:`` lines: these
are not records and are skipped, not rejected. A repeated header (files concatenated)
is skipped too.

Mapping: ``ts`` (flow start, ``YYYY-MM-DD HH:MM:SS[.mmm]`` in the local time of the
machine that ran nfdump: read in the source's zone) -> ``@timestamp``; ``te`` -> extra
``end``; ``td`` (seconds) -> extra ``event.duration`` (ns); ``sa``/``da``/``sp``/``dp`` ->
source/destination ip/port; ``pr`` -> network.transport (lower case); ``ibyt``/``ipkt``
(the flow's direction, sa -> da) -> source.bytes / extra ``source.packets``;
``obyt``/``opkt`` (the reverse direction, only in bidirectional exports such as NSEL or
IPFIX biflows) -> destination.bytes / ``destination.packets`` when not 0; ``flg`` ->
``tcp_flags``; ``in``/``out`` (SNMP interface indexes), ``sas``/``das`` (AS numbers), ``nh``
(next hop) -> extra when set; ``ra`` (the exporting router) -> observer.name.

Plain NetFlow records one direction per flow: the reply traffic of a connection is a
second record with sa and da swapped, so ``source`` is the sender of that record's
packets, not necessarily the connection's initiator.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from zoneinfo import ZoneInfo

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from ashiato.formats import vector as vx
from ashiato.formats.base import Format, Sample, Source
from ashiato.schema import batch_from_columns

DEFAULT_HEADER = (
    "ts,te,td,sa,da,sp,dp,pr,flg,fwd,stos,ipkt,ibyt,opkt,obyt,in,out,sas,das,smk,dmk,dtos,"
    "dir,nh,nhb,svln,dvln,ismc,odmc,idmc,osmc,"
    + ",".join(f"mpls{i}" for i in range(1, 11))
    + ",cl,sl,al,ra,eng,exid,tr"
)
_HEADER_START = "ts,te,td,"
_SKIP = (
    r"^(?:Summary\s*$|flows,bytes,packets,|Time window:|Total flows processed:|Sys:|"
    r"\d+(?:\.\d+)?(?:,\d+(?:\.\d+)?){5}\s*$|ts,te,td,)"
)
_TIME = r"^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d(?:\.\d{1,6})?$"
_NULL = pa.scalar(None, pa.string())
_ROW = re.compile(
    r"^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d(?:\.\d+)?,\d{4}-\d\d-\d\d \d\d:\d\d:\d\d(?:\.\d+)?,"
    r"[\d.]+,[0-9a-fA-F.:]+,[0-9a-fA-F.:]+,\d+,[\d.]+,"
)
NEEDED = ("ts", "sa", "da")


def sniff(sample: Sample) -> bool:
    lines = sample.first_lines(10)
    if not lines:
        return False
    if lines[0].lstrip("\ufeff").startswith("ts,te,td,sa,da,sp,dp,pr,"):
        return True
    hits = sum(1 for ln in lines if _ROW.match(ln))
    return hits >= max(1, (len(lines) + 1) // 2)


def _header(source: Source) -> list[str]:
    for _, line in source.lines():
        text = line.strip().lstrip("\ufeff")
        if not text:
            continue
        if text.startswith(_HEADER_START):
            return text.split(",")
        break
    return DEFAULT_HEADER.split(",")


def parse(source: Source) -> Iterator[pa.RecordBatch]:
    header = _header(source)
    pos = {name: i for i, name in enumerate(header)}
    missing = [k for k in NEEDED if k not in pos]

    def chunk(first: int, lines: pa.Array, rejects: vx.RejectList) -> pa.RecordBatch | None:
        return _parse_chunk(first, lines, header, pos, missing, rejects, source.tz)

    yield from vx.parse_chunks(source, chunk)


def _parse_chunk(
    first: int,
    lines: pa.Array,
    header: list[str],
    pos: dict[str, int],
    missing: list[str],
    rejects: vx.RejectList,
    tz: ZoneInfo,
) -> pa.RecordBatch | None:
    lines = pc.utf8_ltrim(lines, "\ufeff")
    blank = vx.mask(pc.equal(pc.utf8_trim_whitespace(lines), ""))
    skip = vx.mask(pc.match_substring_regex(lines, _SKIP)) | blank
    parts = pc.split_pattern(lines, ",")
    count = pc.list_value_length(parts).to_numpy(zero_copy_only=False)
    starts = parts.offsets.to_numpy().astype(np.int64)[:-1]
    flat = parts.values
    wrong = (count != len(header)) & ~skip
    good = ~wrong & ~skip

    def col(name: str) -> pa.Array:
        if name not in pos:
            return pa.nulls(len(lines), pa.string())
        idx = np.where(good, starts + pos[name], -1)
        arr = flat.take(pa.array(idx, mask=~good))
        return pc.if_else(pc.equal(arr, ""), _NULL, arr)

    ts = _times(col("ts"))
    bad_ts = good & vx.mask(pc.is_null(ts))
    if missing:
        bad_ts = good.copy()
    bad = wrong | bad_ts
    if bad.any():
        rows = np.flatnonzero(bad)
        reasons = []
        for r in rows.tolist():
            if wrong[r]:
                reasons.append(
                    f"expected {len(header)} comma-separated fields (as in the header), "
                    f"got {int(count[r])}"
                )
            elif missing:
                reasons.append(f"the header has no {', '.join(missing)} column")
            else:
                reasons.append("ts is not YYYY-MM-DD HH:MM:SS[.mmm]")
        vx.reject_rows(rejects, first, lines, rows, reasons)
    keep = np.flatnonzero(good & ~bad_ts)
    if not len(keep):
        return None
    sel = pa.array(keep)

    def k(name: str) -> pa.Array:
        return col(name).take(sel)

    m = len(keep)
    cols = _columns(k, m, keep + first)
    cols["@timestamp"] = vx.localize(ts.take(sel), tz)
    return batch_from_columns(cols, m)


def _times(text: pa.Array) -> pa.Array:
    """Naive timestamps of ``YYYY-MM-DD HH:MM:SS[.ffffff]``; null where unreadable."""
    ok = pc.fill_null(pc.match_substring_regex(text, _TIME), False)
    text = pc.if_else(ok, text, _NULL)
    try:
        return text.cast(pa.timestamp("us"))
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
        pass
    whole = pc.strptime(
        pc.utf8_slice_codeunits(text, 0, 19), format="%Y-%m-%d %H:%M:%S", unit="us",
        error_is_null=True,
    )  # fmt: skip
    frac = pc.struct_field(pc.extract_regex(text, r"\.(?P<f>\d{1,6})$"), "f")
    micros = pc.fill_null(pc.utf8_rpad(frac, 6, "0").cast(pa.int64()), 0)
    return pc.add(whole.cast(pa.int64()), micros).cast(pa.timestamp("us"))


def _num(arr: pa.Array) -> pa.Array:
    return vx.to_int(arr)[0]


def _nonzero(arr: pa.Array) -> pa.Array:
    return pc.if_else(pc.fill_null(pc.equal(arr, 0), False), pa.scalar(None, arr.type), arr)


def _not(arr: pa.Array, *values: str) -> pa.Array:
    drop = pc.fill_null(pc.is_in(arr, value_set=pa.array(values)), False)
    return pc.if_else(drop, _NULL, arr)


def _columns(get: Callable[[str], pa.Array], m: int, records: np.ndarray) -> dict[str, pa.Array]:
    seconds = pc.if_else(
        pc.fill_null(pc.match_substring_regex(get("td"), r"^\d+(?:\.\d+)?$"), False),
        get("td"),
        _NULL,
    ).cast(pa.float64())
    duration = pc.round(pc.multiply(seconds, 1e9)).cast(pa.int64())
    flags = _not(pc.utf8_trim(get("flg"), " "), "........", "")
    none = ("0.0.0.0", "::")  # noqa: S104 - nfdump's "no address"
    extra = [
        ("end", get("te"), True),
        ("event.duration", duration, False),
        ("tcp_flags", flags, True),
        ("source.packets", _num(get("ipkt")), False),
        ("destination.packets", _nonzero(_num(get("opkt"))), False),
        ("in_interface", _nonzero(_num(get("in"))), False),
        ("out_interface", _nonzero(_num(get("out"))), False),
        ("source.as", _nonzero(_num(get("sas"))), False),
        ("destination.as", _nonzero(_num(get("das"))), False),
        ("next_hop", _not(get("nh"), *none), True),
    ]
    return {
        "event.action": vx.constant("flow", m),
        "event.category": vx.constant("network", m),
        "source.ip": get("sa"),
        "source.port": vx.to_int(get("sp"), pa.int32())[0],
        "source.bytes": _num(get("ibyt")),
        "destination.ip": get("da"),
        "destination.port": vx.to_int(get("dp"), pa.int32())[0],
        "destination.bytes": _nonzero(_num(get("obyt"))),
        "network.transport": pc.utf8_lower(get("pr")),
        "observer.name": _not(get("ra"), *none),
        "observer.type": vx.constant("flow", m),
        "observer.vendor": vx.constant("nfdump", m),
        "extra": vx.json_objects(extra, m),
        "record": pa.array(records, pa.int64()),
    }


FORMAT = Format(
    name="nfdump",
    dataset="nfdump.flow",
    description="nfdump -o csv flow records (NetFlow/IPFIX/sFlow), Summary block skipped",
    sniff=sniff,
    parse=parse,
    fields=(
        "@timestamp", "event.action", "event.category", "source.ip", "source.port",
        "source.bytes", "destination.ip", "destination.port", "destination.bytes",
        "network.transport", "observer.name", "observer.type", "observer.vendor", "extra",
    ),
)  # fmt: skip
