"""Palo Alto Networks PAN-OS CSV logs (domain.md 3.4): TRAFFIC, THREAT, SYSTEM, CONFIG...

Each line is one comma-separated record, fields quoted when they hold a comma or a
quote (``""`` inside quotes), bare or behind a syslog header (RFC 3164 ``<14>Sep  9
11:45:08 PA-HQ 1,2015/09/09 ...``, RFC 5424, or a collector's ISO time). The CSV part
starts after the last space before the first comma. Columns are read by index; the
TRAFFIC and THREAT layouts differ from column 31 on:

- common: 6 Generated Time -> ``@timestamp`` (device-local, no offset: read in the
  source's zone; Receive Time is kept in ``extra``), 7/8 source/destination address,
  12/13 source/destination user (``corp\\tanaka`` -> user.name + user.domain; the
  destination user is used when there is no source user), 14 application ->
  network.protocol, 24/25 ports, 29 protocol -> network.transport, 30 action ->
  event.action (outcome: allow/alert/continue/override = success, deny, drop,
  reset-*, block-* and sinkhole = failure). NAT addresses and ports, rule (policy),
  zones, interfaces, session id, serial number -> ``extra``.
- TRAFFIC: 32 Bytes Sent -> source.bytes, 33 Bytes Received -> destination.bytes,
  31 Bytes (total) -> extra ``network.bytes``, 35 Start Time, 36 Elapsed Time
  (-> extra ``event.duration`` in ns), 37 URL category, 41/42 source/destination
  location (country), 44/45 packets sent/received, 46 Session End Reason, 52 Device
  Name -> observer.name (else the syslog host).
- THREAT: 32 Threat ID ``name(id)`` -> rule.name + rule.id, 33 category ->
  rule.category, 34 severity -> event.severity (critical 2, high 3, medium 4, low 5,
  informational 6) and extra ``severity``, 31 URL/Filename -> url.original for the
  ``url`` subtype or when the value has a ``/``, else file.name; 35 direction, 38/39
  locations, 41 content type, 43 file digest -> file.hash, 46 user agent, 48
  X-Forwarded-For, 49 referer, 50-52 mail sender/subject/recipient, 59 Device Name,
  63 HTTP method.
- SYSTEM: 8 event id -> event.code, 9 object, 12 module, 13 severity, 14 description ->
  message. CONFIG: 7 host -> source.ip, 9 command -> event.action, 10 admin ->
  user.name, 11 client, 12 result -> outcome, 13 path -> message. Other types (USERID,
  GLOBALPROTECT, HIPMATCH...) keep the CSV after the Generated Time in ``message``.

``event.dataset`` is ``panos.<type>`` (``panos.traffic``, ``panos.threat``...).

Parsing is vectorised per ~8 MB chunk: the comma, quote and space positions of the
whole chunk are found once with numpy, the separators are the commas outside quotes,
and each needed column is cut out of the chunk's bytes by index (no Python object
per line). Lines that are not PAN-OS CSV, have unbalanced quotes, too few columns for
their type or an unreadable time are rejected with the reason.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from ashiato.formats import vector as vx
from ashiato.formats.base import Format, Sample, Source
from ashiato.schema import TS, batch_from_columns

TYPES = (
    "TRAFFIC", "THREAT", "SYSTEM", "CONFIG", "HIPMATCH", "HIP-MATCH", "GLOBALPROTECT",
    "USERID", "AUTH", "DECRYPTION", "TUNNEL", "GTP", "SCTP", "CORRELATION", "IPTAG",
)  # fmt: skip
# fewest columns a record of the type needs (through the last column read by index
# that every PAN-OS version since 6 writes)
MIN_FIELDS = {"TRAFFIC": 34, "THREAT": 35}
MIN_OTHER = 7

_NULL = pa.scalar(None, pa.string())
_SNIFF = re.compile(
    r"(?:^|[\s>])[^\s,]*,\d{4}/\d\d/\d\d \d\d:\d\d:\d\d,[^,]*,(?:" + "|".join(TYPES) + r"),"
)
_SUCCESS = ("allow", "alert", "continue", "override")
_SEVERITY = {"critical": 2, "high": 3, "medium": 4, "low": 5, "informational": 6}
_CATEGORY = {
    "url": "web", "virus": "malware", "wildfire": "malware", "wildfire-virus": "malware",
    "spyware": "intrusion_detection", "vulnerability": "intrusion_detection",
    "flood": "intrusion_detection", "scan": "intrusion_detection",
    "packet": "intrusion_detection", "file": "file", "data": "file",
}  # fmt: skip
_TRANSPORT_OK = r"^[a-z0-9-]+$"


def sniff(sample: Sample) -> bool:
    lines = sample.first_lines(10)
    if not lines:
        return False
    hits = sum(1 for ln in lines if _SNIFF.search(ln))
    return hits >= max(1, (len(lines) + 1) // 2)


def parse(source: Source) -> Iterator[pa.RecordBatch]:
    workers = int(source.options.get("workers", 2))

    def chunk(first: int, lines: pa.Array, rejects: vx.RejectList) -> pa.RecordBatch | None:
        return parse_chunk(source, first, lines, rejects)

    return vx.parse_parallel(source, chunk, workers, keep_ends=True)


# -- splitting a chunk into CSV fields -------------------------------------------------


@dataclass
class Fields:
    """Field spans of every line of a chunk: field k of line i is ``body[start:end]``."""

    body: np.ndarray  # the chunk's bytes
    csv_start: np.ndarray  # where the CSV part of each line starts
    end: np.ndarray  # end of each line's content (line end excluded)
    sep: np.ndarray  # positions of the separating commas, in file order
    first_sep: np.ndarray  # index in ``sep`` of each line's first separator
    count: np.ndarray  # number of fields of each line
    quoted: bool  # the chunk has double quotes somewhere

    def column(self, k: int, rows: np.ndarray) -> pa.Array:
        """Field ``k`` of ``rows`` as strings; null where the line has no such field."""
        have = self.count[rows] > k
        idx = self.first_sep[rows] + k
        end = self.end[rows]
        if k == 0:
            st = self.csv_start[rows]
        else:
            st = np.where(have, self.sep[np.minimum(idx - 1, len(self.sep) - 1)] + 1, end)
        last = self.count[rows] - 1 == k
        en = np.where(
            have & ~last, self.sep[np.minimum(idx, max(len(self.sep) - 1, 0))], end
        )
        en = np.where(have, en, end)
        arr = _spans(self.body, st, en, have)
        if self.quoted:
            arr = _unquote(arr)
        return arr

    def rest(self, k: int, rows: np.ndarray) -> pa.Array:
        """Everything from field ``k`` to the end of the line, as written."""
        have = self.count[rows] > k
        end = self.end[rows]
        if k == 0:
            st = self.csv_start[rows]
        else:
            idx = self.first_sep[rows] + k - 1
            st = np.where(have, self.sep[np.minimum(idx, max(len(self.sep) - 1, 0))] + 1, end)
        return _spans(self.body, st, end, have)

    def header(self, rows: np.ndarray, starts: np.ndarray) -> pa.Array:
        """The text before the CSV part (the syslog header; empty when bare)."""
        st = starts[rows]
        en = np.maximum(self.csv_start[rows] - 1, st)
        return _spans(self.body, st, en, self.csv_start[rows] > st)


def _spans(body: np.ndarray, st: np.ndarray, en: np.ndarray, valid: np.ndarray) -> pa.Array:
    """Strings ``body[st[i]:en[i]]`` (null where not ``valid``); spans in file order.

    The spans are disjoint and rise, so one zero-copy array over the chunk's bytes
    holds span i at 2*i and the gap after it at 2*i+1; ``take`` copies the values.
    """
    m = len(st)
    if m == 0:
        return pa.array([], pa.string())
    offsets = np.empty(2 * m + 1, np.int64)
    offsets[0:-1:2] = st
    offsets[1::2] = en
    offsets[-1] = en[-1]
    if (np.diff(offsets) < 0).any():  # pragma: no cover - guarded by construction
        return vx.gather_strings(body, st, en).filter(pa.array(valid))
    arr = pa.StringArray.from_buffers(
        2 * m, pa.py_buffer(offsets.astype(np.int32)), pa.py_buffer(body)
    )
    idx = np.arange(0, 2 * m, 2, dtype=np.int64)
    return arr.take(pa.array(idx, mask=~valid))


def _unquote(arr: pa.Array) -> pa.Array:
    q = pc.fill_null(pc.starts_with(arr, '"'), False)
    if not pc.any(q).as_py():
        return arr
    inner = pc.replace_substring(pc.utf8_slice_codeunits(arr, 1, -1), '""', '"')
    return pc.if_else(q, inner, arr)


def split_fields(lines: pa.Array) -> tuple[Fields, np.ndarray, np.ndarray]:
    """(fields, line starts, bad-quote mask) of a chunk of lines (line ends may be kept)."""
    off, data = vx.string_buffers(lines)
    body = data[off[0] : off[-1]]
    off = off - off[0]
    starts, ends = off[:-1], off[1:].copy()
    for ch in (10, 13):  # drop "\n" then "\r"
        hit = (ends > starts) & (body[np.maximum(ends - 1, 0)] == ch)
        ends[hit] -= 1
    commas = np.flatnonzero(body == 44)
    quotes = np.flatnonzero(body == 34)
    bad_quotes = np.zeros(len(starts), bool)
    quoted = len(quotes) > 0
    if quoted:
        q_lo = np.searchsorted(quotes, starts)
        q_n = np.searchsorted(quotes, ends) - q_lo
        bad_quotes = (q_n & 1) == 1
        before = np.searchsorted(quotes, commas)
        if bad_quotes.any():
            line = np.searchsorted(starts, commas, side="right") - 1
            before = before - q_lo[line]
        sep = commas[(before & 1) == 0]
    else:
        sep = commas
    first_sep = np.searchsorted(sep, starts)
    n_sep = np.searchsorted(sep, ends) - first_sep
    has = n_sep > 0
    first_comma = sep[np.minimum(first_sep, max(len(sep) - 1, 0))] if len(sep) else starts
    first_comma = np.where(has, first_comma, ends)
    spaces = np.flatnonzero(body == 32)
    csv_start = starts.copy()
    if len(spaces):
        before_sp = np.searchsorted(spaces, first_comma) - 1
        sp = spaces[np.maximum(before_sp, 0)]
        in_line = (before_sp >= 0) & (sp >= starts) & has
        csv_start = np.where(in_line, sp + 1, starts)
    count = np.where(has, n_sep + 1, 0)
    return (
        Fields(body, csv_start, ends, sep, first_sep, count, quoted),
        starts,
        bad_quotes,
    )


# -- records ----------------------------------------------------------------------------


def parse_chunk(
    source: Source, first: int, lines: pa.Array, rejects: vx.RejectList
) -> pa.RecordBatch | None:
    n = len(lines)
    f, starts, bad_quotes = split_fields(lines)
    blank = (f.end == starts) | (f.count == 0) & _blank(f.body, starts, f.end)
    everything = np.arange(n)
    ltype = f.column(3, everything)
    is_type = _np(pc.is_in(ltype, value_set=pa.array(TYPES)))
    gen = f.column(6, everything)
    naive = pc.strptime(gen, format="%Y/%m/%d %H:%M:%S", unit="us", error_is_null=True)
    no_time = _np(pc.is_null(naive))
    minimum = np.full(n, MIN_OTHER)
    traffic = _np(pc.equal(ltype, "TRAFFIC"))
    threat = _np(pc.equal(ltype, "THREAT"))
    minimum[traffic] = MIN_FIELDS["TRAFFIC"]
    minimum[threat] = MIN_FIELDS["THREAT"]
    short = f.count < minimum
    bad = ~blank & (bad_quotes | ~is_type | short | no_time)
    if bad.any():
        rows = np.flatnonzero(bad)
        types = ltype.take(pa.array(rows)).to_pylist()
        gens = gen.take(pa.array(rows)).to_pylist()
        reasons = [
            _reason(bool(bad_quotes[r]), int(f.count[r]), t, g, bool(no_time[r]))
            for r, t, g in zip(rows.tolist(), types, gens, strict=True)
        ]
        vx.reject_rows(rejects, first, lines, rows, reasons)
    good = ~(bad | blank)
    ts = vx.localize(naive, source.tz)
    batches: list[pa.RecordBatch] = []
    main = np.flatnonzero(good & (traffic | threat))
    if len(main):
        batches.append(_traffic_threat(f, starts, main, ts, first))
    other = np.flatnonzero(good & ~(traffic | threat))
    if len(other):
        batches.append(_other(f, starts, other, ts, ltype, first))
    if not batches:
        return None
    if len(batches) == 1:
        return batches[0]
    table = pa.Table.from_batches(batches)
    order = pc.sort_indices(table.column("record"))
    return table.take(order).combine_chunks().to_batches()[0]


def _blank(body: np.ndarray, starts: np.ndarray, ends: np.ndarray) -> np.ndarray:
    out = np.zeros(len(starts), bool)
    for i in np.flatnonzero(ends - starts < 64).tolist():
        out[i] = not bytes(body[starts[i] : ends[i]]).strip()
    return out


def _reason(bad_quotes: bool, count: int, ltype: str | None, gen: str | None, no_time: bool) -> str:
    if bad_quotes:
        return "unbalanced double quotes in the CSV record"
    if count < MIN_OTHER:
        return f"not a PAN-OS CSV record: {count} comma-separated fields"
    if ltype not in TYPES:
        return f"column 4 (Type) is {ltype!r}, not a PAN-OS log type"
    need = MIN_FIELDS.get(ltype or "", MIN_OTHER)
    if count < need:
        return f"{ltype} record with {count} fields; expected at least {need}"
    return f"Generated Time is not YYYY/MM/DD HH:MM:SS: {gen!r}"


def _np(mask: pa.Array) -> np.ndarray:
    return np.asarray(pc.fill_null(mask, False).to_numpy(zero_copy_only=False), dtype=bool)


def _blank_null(arr: pa.Array) -> pa.Array:
    """Empty fields are absent."""
    if arr.null_count == len(arr):
        return arr
    return pc.if_else(pc.equal(pc.binary_length(arr), 0), _NULL, arr)


def _not(arr: pa.Array, *values: str) -> pa.Array:
    """Null where the value is empty or one of ``values`` (``0.0.0.0``, ``any``...)."""
    drop = pc.is_in(arr, value_set=pa.array(["", *values]))
    return pc.if_else(pc.fill_null(drop, False), _NULL, arr)


def _int(arr: pa.Array, typ: pa.DataType = pa.int64()) -> pa.Array:
    return vx.to_int(_blank_null(arr), typ)[0]


def _lookup(values: pa.Array, table: dict[str, int] | dict[str, str], typ: pa.DataType) -> pa.Array:
    keys = list(table)
    idx = pc.index_in(values, value_set=pa.array(keys))
    return pa.array([table[k] for k in keys], typ).take(idx)


def _users(src: pa.Array, dst: pa.Array) -> tuple[pa.Array, pa.Array]:
    """(user.name, user.domain) from ``DOMAIN\\user`` (source user, else destination)."""
    user = pc.coalesce(_blank_null(src), _blank_null(dst))
    if user.null_count == len(user):
        return user, user
    has_dom = pc.fill_null(pc.match_substring(user, "\\"), False)
    if not pc.any(has_dom).as_py():
        return user, pa.nulls(len(user), pa.string())
    parts = pc.split_pattern(user, "\\", max_splits=1, reverse=True)
    name = pc.list_element(parts, -1) if hasattr(pc, "list_element") else user
    dom = pc.list_element(parts, 0)
    return pc.if_else(has_dom, name, user), pc.if_else(has_dom, dom, _NULL)


def _outcome(action: pa.Array) -> pa.Array:
    ok = pc.is_in(action, value_set=pa.array(_SUCCESS))
    known = pc.is_valid(action)
    return pc.if_else(pc.fill_null(ok, False), "success", pc.if_else(known, "failure", _NULL))


def _header_host(f: Fields, starts: np.ndarray, rows: np.ndarray) -> pa.Array:
    """The host of the syslog header: RFC 5424's third word, else the last word."""
    head = pc.utf8_trim_whitespace(f.header(rows, starts))
    got = pc.extract_regex(
        head,
        r"^(?:<\d{1,3}>1 \S+ (?P<h5>\S+)(?: .*)?|.*?(?:^|\s)(?P<h3>[^\s]+?):?)$",
    )
    host = pc.coalesce(
        vx.null_dash(pc.struct_field(got, "h5")), vx.null_dash(pc.struct_field(got, "h3"))
    )
    # a header without host ends with its time: "<14>Sep  9 11:45:08"
    timeish = pc.match_substring_regex(host, r"^(?:\d\d:\d\d:\d\d|<\d+>|\d{4}-\d\d-\d\dT)")
    return pc.if_else(pc.fill_null(timeish, False), _NULL, host)


def _traffic_threat(
    f: Fields, starts: np.ndarray, rows: np.ndarray, ts_all: pa.Array, first: int
) -> pa.RecordBatch:
    m = len(rows)

    def c(k: int) -> pa.Array:
        return f.column(k, rows)

    ltype = c(3)
    subtype = c(4)
    is_threat = pc.equal(ltype, "THREAT")
    threat_rows = _np(is_threat)
    any_threat = bool(threat_rows.any())
    any_traffic = not bool(threat_rows.all())
    action = _blank_null(c(30))
    users = _users(c(12), c(13))
    idx = pa.array(rows)

    def pick(traffic_k: int | None, threat_k: int | None) -> pa.Array:
        """A column whose index depends on the type (null where the type lacks it)."""
        t = c(traffic_k) if traffic_k is not None and any_traffic else None
        h = c(threat_k) if threat_k is not None and any_threat else None
        if t is None and h is None:
            return pa.nulls(m, pa.string())
        if h is None:
            return pc.if_else(is_threat, _NULL, t)
        if t is None:
            return pc.if_else(is_threat, h, _NULL)
        return pc.if_else(is_threat, h, t)

    device = _blank_null(pick(52, 59))
    missing_dev = _np(pc.is_null(device))
    if missing_dev.any():
        sub = np.flatnonzero(missing_dev)
        hosts = _header_host(f, starts, rows[sub])
        device = pc.coalesce(device, vx.scatter(hosts, sub, m))
    category = pc.if_else(is_threat, _NULL, "network")
    rule_name = rule_id = threat_cat = severity = url = file_name = pa.nulls(m, pa.string())
    sev_num = pa.nulls(m, pa.int32())
    if any_threat:
        tid = pick(None, 32)
        got = pc.extract_regex(tid, r"^(?P<name>.*?)\s*\((?P<id>\d+)\)$")
        rule_name = pc.coalesce(
            _blank_null(pc.struct_field(got, "name")),
            pc.if_else(pc.is_null(got), _blank_null(tid), _NULL),
        )
        rule_id = pc.struct_field(got, "id")
        threat_cat = _not(pick(None, 33), "any")
        severity = _blank_null(pick(None, 34))
        sev_num = _lookup(severity, _SEVERITY, pa.int32())
        sub_low = pc.utf8_lower(subtype)
        category = pc.coalesce(
            category, _lookup(sub_low, _CATEGORY, pa.string()), pc.if_else(is_threat, "intrusion_detection", _NULL)
        )
        uf = _blank_null(pick(None, 31))
        as_url = pc.fill_null(
            pc.or_(pc.equal(sub_low, "url"), pc.match_substring(uf, "/")), False
        )
        url = pc.if_else(as_url, uf, _NULL)
        file_name = pc.if_else(as_url, _NULL, uf)
    elapsed = _int(pick(36, None))
    extra: list[tuple[str, pa.Array, bool]] = [
        ("subtype", _blank_null(subtype), True),
        ("receive_time", c(1), True),
        ("serial", _blank_null(c(2)), True),
        ("rule", _blank_null(c(11)), True),
        ("destination_user", _blank_null(c(13)), True),
        ("nat_source_ip", _not(c(9), "0.0.0.0"), True),
        ("nat_destination_ip", _not(c(10), "0.0.0.0"), True),
        ("nat_source_port", _not(c(26), "0"), True),
        ("nat_destination_port", _not(c(27), "0"), True),
        ("vsys", _blank_null(c(15)), True),
        ("source_zone", _blank_null(c(16)), True),
        ("destination_zone", _blank_null(c(17)), True),
        ("inbound_interface", _blank_null(c(18)), True),
        ("outbound_interface", _blank_null(c(19)), True),
        ("session_id", _blank_null(c(22)), True),
        ("repeat_count", _int(c(23)), False),
        ("network.bytes", _int(pick(31, None)), False),
        ("start_time", _blank_null(pick(35, None)), True),
        ("event.duration", pc.multiply(elapsed, 1_000_000_000), False),
        ("category", _not(pick(37, None), "any"), True),
        ("severity", severity, True),
        ("direction", _blank_null(pick(None, 35)), True),
        ("source_location", _blank_null(pick(41, 38)), True),
        ("destination_location", _blank_null(pick(42, 39)), True),
        ("source.packets", _int(pick(44, None)), False),
        ("destination.packets", _int(pick(45, None)), False),
        ("session_end_reason", _blank_null(pick(46, None)), True),
        ("file_type", _blank_null(pick(None, 47)), True),
        ("x_forwarded_for", _blank_null(pick(None, 48)), True),
    ]
    cols: dict[str, pa.Array] = {
        "@timestamp": ts_all.take(idx),
        "event.dataset": pc.if_else(is_threat, "panos.threat", "panos.traffic"),
        "event.action": pc.utf8_lower(action),
        "event.category": category,
        "event.outcome": _outcome(action),
        "event.severity": sev_num,
        "event.provider": pc.utf8_lower(ltype),
        "source.ip": _blank_null(c(7)),
        "source.port": _int(c(24), pa.int32()),
        "source.bytes": _int(pick(32, None)),
        "destination.ip": _blank_null(c(8)),
        "destination.port": _int(c(25), pa.int32()),
        "destination.bytes": _int(pick(33, None)),
        "network.transport": pc.utf8_lower(_blank_null(c(29))),
        "network.protocol": _not(c(14), "incomplete", "not-applicable", "unknown"),
        "user.name": users[0],
        "user.domain": users[1],
        "url.original": url,
        "file.name": file_name,
        "file.hash": _blank_null(pick(None, 43)),
        "http.response.mime_type": _blank_null(pick(None, 41)),
        "user_agent.original": _blank_null(pick(None, 46)),
        "http.request.referrer": _blank_null(pick(None, 49)),
        "http.request.method": _blank_null(pick(None, 63)),
        "email.from.address": _blank_null(pick(None, 50)),
        "email.subject": _blank_null(pick(None, 51)),
        "email.to.address": _blank_null(pick(None, 52)),
        "rule.name": rule_name,
        "rule.id": rule_id,
        "rule.category": threat_cat,
        "observer.name": device,
        "observer.type": vx.constant("firewall", m),
        "observer.vendor": vx.constant("paloalto", m),
        "extra": vx.json_objects(extra, m),
        "record": pa.array(rows + first, pa.int64()),
    }
    return batch_from_columns(cols, m)


def _other(
    f: Fields, starts: np.ndarray, rows: np.ndarray, ts_all: pa.Array, ltype_all: pa.Array, first: int
) -> pa.RecordBatch:
    """SYSTEM, CONFIG and the other log types: their few useful columns, rest as text."""
    m = len(rows)
    idx = pa.array(rows)
    ltype = ltype_all.take(idx)

    def c(k: int) -> pa.Array:
        return _blank_null(f.column(k, rows))

    system = pc.equal(ltype, "SYSTEM")
    config = pc.equal(ltype, "CONFIG")
    result = pc.utf8_lower(c(12))
    sev = pc.utf8_lower(c(13))
    device = _header_host(f, starts, rows)
    extra: list[tuple[str, pa.Array, bool]] = [
        ("subtype", c(4), True),
        ("receive_time", c(1), True),
        ("serial", c(2), True),
        ("object", pc.if_else(system, c(9), _NULL), True),
        ("module", pc.if_else(system, c(12), _NULL), True),
        ("severity", pc.if_else(system, c(13), _NULL), True),
        ("client", pc.if_else(config, c(11), _NULL), True),
        ("result", pc.if_else(config, c(12), _NULL), True),
    ]
    outcome = pc.if_else(
        pc.equal(result, "succeeded"), "success", pc.if_else(pc.equal(result, "failed"), "failure", _NULL)
    )
    cols: dict[str, pa.Array] = {
        "@timestamp": ts_all.take(idx),
        "event.dataset": pc.binary_join_element_wise("panos.", pc.utf8_lower(ltype), ""),
        "event.code": pc.if_else(system, c(8), _NULL),
        "event.action": pc.if_else(config, c(9), pc.if_else(system, c(8), _NULL)),
        "event.category": pc.if_else(config, "configuration", _NULL),
        "event.outcome": pc.if_else(config, outcome, _NULL),
        "event.severity": pc.if_else(system, _lookup(sev, _SEVERITY, pa.int32()), pa.scalar(None, pa.int32())),
        "event.provider": pc.utf8_lower(ltype),
        "message": pc.if_else(
            system, c(14), pc.if_else(config, c(13), _blank_null(f.rest(7, rows)))
        ),
        "source.ip": pc.if_else(config, c(7), _NULL),
        "user.name": pc.if_else(config, c(10), _NULL),
        "observer.name": device,
        "observer.type": vx.constant("firewall", m),
        "observer.vendor": vx.constant("paloalto", m),
        "extra": vx.json_objects(extra, m),
        "record": pa.array(rows + first, pa.int64()),
    }
    return batch_from_columns(cols, m)


FORMAT = Format(
    name="panos",
    dataset="panos.traffic",
    description="Palo Alto Networks PAN-OS CSV logs (TRAFFIC, THREAT, SYSTEM, CONFIG...), "
    "bare or in syslog",
    sniff=sniff,
    parse=parse,
    fields=(
        "@timestamp", "event.dataset", "event.code", "event.action", "event.category",
        "event.outcome", "event.severity", "event.provider", "message", "source.ip",
        "source.port", "source.bytes", "destination.ip", "destination.port",
        "destination.bytes", "network.transport", "network.protocol", "user.name",
        "user.domain", "url.original", "file.name", "file.hash", "http.response.mime_type",
        "user_agent.original", "http.request.referrer", "http.request.method",
        "email.from.address", "email.subject", "email.to.address", "rule.name", "rule.id",
        "rule.category", "observer.name", "observer.type", "observer.vendor", "extra",
    ),
)  # fmt: skip
