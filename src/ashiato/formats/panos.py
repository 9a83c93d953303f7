"""Palo Alto Networks PAN-OS CSV logs (domain.md 3.4): TRAFFIC, THREAT, SYSTEM, CONFIG...

Each line is one comma-separated record, fields quoted when they hold a comma or a
quote (``""`` inside quotes), bare or behind a syslog header (RFC 3164 ``<14>Sep  9
11:45:08 PA-HQ 1,2015/09/09 ...``, RFC 5424, or a collector's ISO time). The CSV part
starts after the last space before the first comma. Columns are read by index; the
TRAFFIC and THREAT layouts differ from column 31 on:

- common: 6 Generated Time -> ``@timestamp`` (device-local, no offset: read in the
  source's zone), 7/8 source/destination address, 12/13 source/destination user
  (``corp\\tanaka`` -> user.name + user.domain; the destination user when there is no
  source user), 14 application -> network.protocol (``incomplete``,
  ``not-applicable``, ``unknown`` dropped), 24/25 ports, 29 protocol ->
  network.transport, 30 action -> event.action (outcome: allow/alert/continue/override
  = success; deny, drop, reset-*, block-*, sinkhole... = failure). Extra: ``subtype``
  (4), ``rule`` (11, the security policy), ``destination_user`` (13),
  ``nat_source_ip``/``nat_source_port`` (9/26, unless 0.0.0.0/0), ``source_zone``/
  ``destination_zone`` (16/17), ``session_id`` (22).
- TRAFFIC: 32 Bytes Sent -> source.bytes, 33 Bytes Received -> destination.bytes,
  52 Device Name -> observer.name (else the syslog header's host). Extra:
  ``network.bytes`` (31, both directions), ``event.duration`` (36 Elapsed Time, in ns),
  ``category`` (37, URL category), ``source_location``/``destination_location`` (41/42,
  country or range), ``session_end_reason`` (46).
- THREAT: 32 Threat ID ``name(id)`` -> rule.name + rule.id, 33 category ->
  rule.category, 34 severity -> event.severity (critical 2, high 3, medium 4, low 5,
  informational 6), 31 URL/Filename -> url.original for the ``url`` subtype or when the
  value has a ``/``, else file.name; 41 content type -> http.response.mime_type, 43
  file digest -> file.hash, 46 user agent, 49 referer, 50-52 mail sender, subject,
  recipient -> email.*, 59 Device Name -> observer.name, 63 HTTP method. Subtype ->
  event.category (url web; virus/wildfire malware; file/data file; else
  intrusion_detection). Extra: ``severity``, ``direction`` (35),
  ``source_location``/``destination_location`` (38/39), ``file_type`` (47),
  ``x_forwarded_for`` (48).
- SYSTEM: 8 event id -> event.code and event.action, 14 description -> message, 13
  severity -> event.severity; object, module in extra. CONFIG: 7 host -> source.ip, 9
  command -> event.action, 10 admin -> user.name, 12 result -> outcome, 13 path ->
  message. Other types (USERID, HIPMATCH...) keep the CSV after the Generated Time in
  ``message``.
- GLOBALPROTECT (PAN-OS 9.1+), in the shared remote-access interface (observer.type
  ``vpn``, event.dataset ``panos.globalprotect``): 8 event id -> event.code; ``portal-auth``
  / ``gateway-auth`` -> event.action ``vpn-login``, ``gateway-connected`` ->
  ``vpn-session-start``, ``gateway-logout`` -> ``vpn-session-end`` (other ids keep their
  name); 28 status -> outcome; 12 source user -> user.name/domain; 15/16 public IP ->
  source.ip; 17/18 private IP (the tunnel address) -> host.ip; 27 description (else 26
  error) -> message; 47 device name -> observer.name. Extra: stage, auth method, tunnel
  type, source region, client machine name/version/OS, reason, error, location, login
  duration, connect method, error code, portal, gateway.
- SYSTEM ``globalprotect`` entries of older PAN-OS: ``globalprotect{gateway,portal}-auth-
  succ|fail`` -> ``vpn-login`` (outcome), ``globalprotectgateway-config-succ`` ->
  ``vpn-session-start``, ``globalprotectgateway-logout-succ`` -> ``vpn-session-end``; the
  description's ``Login from:`` -> source.ip, ``Private IP:`` -> host.ip, ``User name:``
  -> user.name/domain, ``Reason:`` -> extra ``reason``; observer.type ``vpn``.

``event.dataset`` is ``panos.<type>`` (``panos.traffic``, ``panos.threat``...). The web
interface's "Export to CSV" writes the same columns in the same order under a header
row (``Domain,Receive Time,Serial #,Type,...``): the header row is skipped.

Parsing is vectorised per ~8 MB chunk: the comma and quote positions of the whole
chunk are found once with numpy, the separators are the commas outside quotes, and
each needed column is cut out of the chunk's bytes by index; numbers and times are
read from the bytes without making strings (no Python object per line). Lines that
are not PAN-OS CSV, have unbalanced quotes, too few columns for their type or an
unreadable time are rejected with the reason.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

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
MIN_FIELDS = {"TRAFFIC": 34, "THREAT": 35, "GLOBALPROTECT": 29}
MIN_OTHER = 7
GP = TYPES.index("GLOBALPROTECT")

_NULL = pa.scalar(None, pa.string())
_NO_ADDRESS = "0.0.0.0"  # noqa: S104 - PAN-OS writes it for "no NAT", nothing binds here
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


def sniff(sample: Sample) -> bool:
    return sample.mostly(_SNIFF.search)


def parse(source: Source) -> Iterator[pa.RecordBatch]:
    workers = int(source.options.get("workers", 2))

    def chunk(first: int, lines: pa.Array, rejects: vx.RejectList) -> pa.RecordBatch | None:
        return parse_chunk(source, first, lines, rejects)

    return vx.parse_parallel(source, chunk, workers, keep_ends=True)


# -- splitting a chunk into CSV fields -------------------------------------------------


@dataclass
class Fields:
    """Field spans of every line of a chunk: field k of line i is ``body[start:end]``.

    Values are cut out of the chunk's bytes with numpy (one gather per column), and
    integers and times are read from the bytes directly: no Python object per line,
    and no string is made for a number.
    """

    body: np.ndarray  # the chunk's bytes
    starts: np.ndarray  # where each line starts
    end: np.ndarray  # end of each line's content (line end excluded)
    sep: np.ndarray  # positions of the separating commas
    first_sep: np.ndarray  # index in ``sep`` of each line's first separator
    count: np.ndarray  # number of fields of each line (0: no comma at all)
    quoted: frozenset[int]  # columns that hold a quoted value somewhere in the chunk

    def select(self, rows: np.ndarray) -> Fields:
        """The same fields for ``rows`` only (the per-line arrays taken once, not per column)."""
        return Fields(
            self.body, self.starts[rows], self.end[rows], self.sep, self.first_sep[rows],
            self.count[rows], self.quoted,
        )  # fmt: skip

    def span(self, k: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """(starts, ends, present) of field ``k`` of every line; ends == starts when absent."""
        count = self.count
        have = count > k
        end = self.end
        top = len(self.sep) - 1
        idx = self.first_sep + k
        if k == 0:
            st = self.starts
        else:
            st = np.where(have, self.sep[np.minimum(idx - 1, top)] + 1, end)
        en = np.where(have & (count - 1 != k), self.sep[np.minimum(idx, top)], end)
        return st, en, have

    def text(self, k: int) -> pa.Array:
        """Field ``k`` as strings; null where absent or empty."""
        st, en, have = self.span(k)
        arr = gather(self.body, st, en, have & (en > st))
        if k in self.quoted:
            arr = _unquote(arr)
        return arr

    def integer(self, k: int) -> pa.Array:
        """Field ``k`` as int64; null where absent, empty or not digits."""
        st, en, have = self.span(k)
        return read_ints(self.body, st, en, have)

    def rest(self, k: int) -> pa.Array:
        """Everything from field ``k`` to the end of the line, as written."""
        st, _, have = self.span(k)
        return gather(self.body, st, self.end, have & (self.end > st))

    def header(self) -> pa.Array:
        """The text before the CSV part: up to the last space before the first comma."""
        st = self.starts
        top = len(self.sep) - 1
        first_comma = np.where(self.count > 0, self.sep[np.minimum(self.first_sep, top)], st)
        spaces = np.flatnonzero(self.body == 32)
        if not len(spaces):
            return pa.nulls(len(st), pa.string())
        i = np.searchsorted(spaces, first_comma) - 1
        last = spaces[np.maximum(i, 0)]
        valid = (i >= 0) & (last > st)
        return gather(self.body, st, np.where(valid, last, st), valid)


def gather(body: np.ndarray, st: np.ndarray, en: np.ndarray, valid: np.ndarray) -> pa.Array:
    """Strings ``body[st[i]:en[i]]``, null where not ``valid`` (spans on UTF-8 boundaries)."""
    n = len(st)
    lengths = np.where(valid, en - st, 0)
    offsets = np.zeros(n + 1, np.int64)
    np.cumsum(lengths, out=offsets[1:])
    total = int(offsets[-1])
    if total:
        idx = np.arange(total, dtype=np.int64)
        idx += np.repeat(st - offsets[:-1], lengths)
        data = body[idx]
    else:
        data = np.zeros(0, np.uint8)
    bitmap = None if valid.all() else pa.py_buffer(np.packbits(valid, bitorder="little"))
    return pa.StringArray.from_buffers(
        n, pa.py_buffer(offsets.astype(np.int32)), pa.py_buffer(data), bitmap
    )


def _digits(body: np.ndarray, st: np.ndarray, width: int) -> np.ndarray:
    """``width`` bytes from each start as numbers (byte - '0'); reads past the end clip."""
    idx = st[:, None] + np.arange(width)
    out: np.ndarray = body.take(idx, mode="clip").astype(np.int16) - 48
    return out


def read_ints(body: np.ndarray, st: np.ndarray, en: np.ndarray, valid: np.ndarray) -> pa.Array:
    """Decimal integers (up to 18 digits) in ``body[st:en]``; null if absent or not digits."""
    n = len(st)
    ln = en - st
    ok = valid & (ln > 0) & (ln <= 18)
    if not ok.any():
        return pa.nulls(n, pa.int64())
    width = int(ln[ok].max())
    d = _digits(body, st, width)
    value = np.zeros(n, np.int64)
    for j in range(width):
        col = d[:, j]
        inside = ln > j
        ok &= ~inside | ((col >= 0) & (col <= 9))
        value = np.where(inside, value * 10 + col, value)
    return pa.array(value, pa.int64(), mask=~ok)


_TIME_SEPS = {4: ord("/"), 7: ord("/"), 10: ord(" "), 13: ord(":"), 16: ord(":")}
_TIME_DIGITS = [i for i in range(19) if i not in _TIME_SEPS]


def read_times(body: np.ndarray, st: np.ndarray, en: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """``YYYY/MM/DD HH:MM:SS`` in ``body[st:en]`` -> (naive epoch seconds, readable)."""
    d = _digits(body, st, 19).astype(np.int64)
    ok = (en - st) == 19
    for i, ch in _TIME_SEPS.items():
        ok &= d[:, i] == ch - 48
    dig = d[:, _TIME_DIGITS]
    ok &= np.all((dig >= 0) & (dig <= 9), axis=1)
    dig = np.where(ok[:, None], dig, 0)
    year = dig[:, 0] * 1000 + dig[:, 1] * 100 + dig[:, 2] * 10 + dig[:, 3]
    month = dig[:, 4] * 10 + dig[:, 5]
    day = dig[:, 6] * 10 + dig[:, 7]
    hms = (dig[:, 8] * 10 + dig[:, 9]) * 3600 + (dig[:, 10] * 10 + dig[:, 11]) * 60
    hms += dig[:, 12] * 10 + dig[:, 13]
    ok &= (month >= 1) & (month <= 12) & (day >= 1) & (day <= 31) & (year >= 1971)
    ok &= (dig[:, 8] * 10 + dig[:, 9] < 24) & (dig[:, 10] < 6) & (dig[:, 12] < 6)
    month = np.where(ok, month, 1)
    first = _civil_days(year, month, np.ones_like(day))
    nxt = _civil_days(year + (month == 12), month % 12 + 1, np.ones_like(day))
    ok &= day <= nxt - first  # no 31 September
    return (first + day - 1) * 86400 + hms, ok


def _civil_days(y: np.ndarray, m: np.ndarray, d: np.ndarray) -> np.ndarray:
    """Days since 1970-01-01 of a proleptic Gregorian date (vectorised)."""
    y = y - (m <= 2)
    era = np.floor_divide(y, 400)
    yoe = y - era * 400
    doy = (153 * ((m + 9) % 12) + 2) // 5 + d - 1
    doe = yoe * 365 + yoe // 4 - yoe // 100 + doy
    out: np.ndarray = era * 146097 + doe - 719468
    return out


def localize_seconds(secs: np.ndarray, ok: np.ndarray, tz: ZoneInfo) -> pa.Array:
    """Naive wall-clock epoch seconds read in ``tz`` -> UTC timestamps (null where not ok).

    A chunk usually covers minutes: when its first and last times have the same UTC
    offset and lie less than a week apart, no DST change lies between them and one
    subtraction does; otherwise Arrow's ``assume_timezone`` handles every value.
    """
    good = secs[ok]
    if not len(good):
        return pa.nulls(len(secs), TS)
    lo, hi = int(good.min()), int(good.max())
    offsets = {_offset(v, tz) for v in (lo, hi)}
    if hi - lo < 7 * 86400 and len(offsets) == 1:
        utc = (secs - offsets.pop()) * 1_000_000
        return pa.array(utc, pa.int64(), mask=~ok).cast(pa.timestamp("us")).cast(TS)
    naive = pa.array(secs * 1_000_000, pa.int64(), mask=~ok).cast(pa.timestamp("us"))
    return vx.localize(naive, tz)


def _offset(naive_secs: int, tz: ZoneInfo) -> int:
    wall = datetime(1970, 1, 1) + timedelta(seconds=naive_secs)
    off = wall.replace(tzinfo=tz).utcoffset()
    return int(off.total_seconds()) if off is not None else 0


def _unquote(arr: pa.Array) -> pa.Array:
    q = pc.fill_null(pc.starts_with(arr, '"'), False)
    if not pc.any(q).as_py():
        return arr
    inner = pc.replace_substring(pc.utf8_slice_codeunits(arr, 1, -1), '""', '"')
    return pc.if_else(q, inner, arr)


def split_fields(lines: pa.Array) -> tuple[Fields, np.ndarray]:
    """The fields of a chunk of lines (line ends may be kept) and its bad-quote mask."""
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
    sep = commas
    quoted: frozenset[int] = frozenset()
    if len(quotes):
        q_line = np.searchsorted(starts, quotes, side="right") - 1
        per_line = np.bincount(q_line, minlength=len(starts))
        bad_quotes = (per_line & 1) == 1
        if bad_quotes.any():  # those lines are rejected; pair the others' quotes
            keep = ~bad_quotes[q_line]
            quotes, q_line = quotes[keep], q_line[keep]
        # quotes pair up line by line (a doubled "" inside a value is a pair too);
        # the commas between the two quotes of a pair are text, not separators
        lo = np.searchsorted(commas, quotes[0::2])
        hi = np.searchsorted(commas, quotes[1::2])
        inside = hi > lo
        if inside.any():
            lo, hi = lo[inside], hi[inside]
            lens = hi - lo
            idx = np.arange(int(lens.sum())) + np.repeat(lo - np.cumsum(lens) + lens, lens)
            mask = np.ones(len(commas), bool)
            mask[idx] = False
            sep = commas[mask]
    # line ends are never commas: a line's separators end where the next line's start
    bounds = np.searchsorted(sep, np.append(starts, len(body)))
    first_sep = bounds[:-1]
    count = np.diff(bounds)
    count = np.where(count > 0, count + 1, 0)
    if len(quotes):
        q_field = np.searchsorted(sep, quotes) - first_sep[q_line]
        quoted = frozenset(np.unique(q_field).tolist())
    if not len(sep):
        sep = np.zeros(1, np.int64)  # never read (every count is 0), but indexable
    return Fields(body, starts, ends, sep, first_sep, count, quoted), bad_quotes


# -- records ----------------------------------------------------------------------------


def parse_chunk(
    source: Source, first: int, lines: pa.Array, rejects: vx.RejectList
) -> pa.RecordBatch | None:
    f, bad_quotes = split_fields(lines)
    blank = _blank(f)
    st, en, _ = f.span(3)
    code = _type_codes(f.body, st, en)
    st, en, _ = f.span(6)
    secs, readable = read_times(f.body, st, en)
    minimum = np.where(code == 0, MIN_FIELDS["TRAFFIC"], MIN_OTHER)
    minimum[code == 1] = MIN_FIELDS["THREAT"]
    minimum[code == GP] = MIN_FIELDS["GLOBALPROTECT"]
    bad = ~blank & (bad_quotes | (code < 0) | (f.count < minimum) | ~readable)
    if bad.any():
        rows = np.flatnonzero(bad)
        sub = f.select(rows)
        types = sub.text(3).to_pylist()
        gens = sub.text(6).to_pylist()
        # the column header of a web-interface CSV export is not a record
        header = np.array([t == "Type" and (g or "").startswith("Generat") for t, g in
                           zip(types, gens, strict=True)], bool)  # fmt: skip
        reasons = [
            _reason(bool(bad_quotes[r]), int(f.count[r]), t, g)
            for r, t, g, h in zip(rows.tolist(), types, gens, header, strict=True)
            if not h
        ]
        vx.reject_rows(rejects, first, lines, rows[~header], reasons)
    good = ~(bad | blank)
    ts = localize_seconds(secs, good, source.tz)
    batches: list[pa.RecordBatch] = []
    for kind in (0, 1):
        rows = np.flatnonzero(good & (code == kind))
        if len(rows):
            build = _traffic if kind == 0 else _threat
            batches.append(build(f, rows, ts.take(pa.array(rows)), first))
    gp = np.flatnonzero(good & (code == GP))
    if len(gp):
        batches.append(_globalprotect(f, gp, ts.take(pa.array(gp)), first))
    other = np.flatnonzero(good & (code > 1) & (code != GP))
    if len(other):
        batches.append(_other(f, other, ts.take(pa.array(other)), first))
    if not batches:
        return None
    if len(batches) == 1:
        return batches[0]
    return pa.Table.from_batches(batches).combine_chunks().to_batches()[0]


def _type_codes(body: np.ndarray, st: np.ndarray, en: np.ndarray) -> np.ndarray:
    """0 TRAFFIC, 1 THREAT, 2+ another known type, -1 not a PAN-OS type."""
    code = np.full(len(st), -1, np.int64)
    ln = en - st
    first = np.where(ln > 0, body[np.minimum(st, len(body) - 1)], 0)
    for i, name in enumerate(TYPES):
        raw = name.encode()
        cand = np.flatnonzero((ln == len(raw)) & (first == raw[0]))
        if not len(cand):
            continue
        same = np.ones(len(cand), bool)
        for j, ch in enumerate(raw[1:], start=1):
            same &= body[st[cand] + j] == ch
        code[cand[same]] = i
    return code


def _blank(f: Fields) -> np.ndarray:
    out: np.ndarray = f.end == f.starts
    for i in np.flatnonzero((f.count == 0) & ~out & (f.end - f.starts < 256)).tolist():
        out[i] = not bytes(f.body[f.starts[i] : f.end[i]]).strip()
    return out


def _reason(bad_quotes: bool, count: int, ltype: str | None, gen: str | None) -> str:
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


def _not(arr: pa.Array, *values: str) -> pa.Array:
    """Null where the value is one of ``values`` (``0.0.0.0``, ``any``...)."""
    drop = pc.is_in(arr, value_set=pa.array(values))
    return pc.if_else(pc.fill_null(drop, False), _NULL, arr)


def _nonzero(arr: pa.Array) -> pa.Array:
    return pc.if_else(pc.fill_null(pc.equal(arr, 0), False), pa.scalar(None, arr.type), arr)


def _lookup(values: pa.Array, table: dict[str, int] | dict[str, str], typ: pa.DataType) -> pa.Array:
    keys = list(table)
    idx = pc.index_in(values, value_set=pa.array(keys))
    return pa.array([table[k] for k in keys], typ).take(idx)


def _users(src: pa.Array, dst: pa.Array) -> tuple[pa.Array, pa.Array]:
    """(user.name, user.domain) from ``DOMAIN\\user`` (source user, else destination).

    A log has few distinct users: the split runs on the dictionary of names.
    """
    user = pc.coalesce(src, dst)
    if user.null_count == len(user):
        return user, user
    enc = pc.dictionary_encode(user)
    names = enc.dictionary
    got = pc.extract_regex(names, r"^(?P<dom>.*)\\(?P<name>[^\\]*)$")
    dom = pc.struct_field(got, "dom")
    dom = pc.if_else(pc.equal(dom, ""), _NULL, dom)
    name = pc.coalesce(pc.struct_field(got, "name"), names)
    return name.take(enc.indices), dom.take(enc.indices)


def _outcome(action: pa.Array) -> pa.Array:
    ok = pc.is_in(action, value_set=pa.array(_SUCCESS))
    known = pc.is_valid(action)
    return pc.if_else(pc.fill_null(ok, False), "success", pc.if_else(known, "failure", _NULL))


def _device(f: Fields, rows: np.ndarray, k: int | None) -> pa.Array:
    """Device Name column ``k`` when written, else the syslog header's host."""
    m = len(rows)
    device = f.text(k) if k is not None else pa.nulls(m, pa.string())
    missing = np.flatnonzero(vx.mask(pc.is_null(device)))
    if not len(missing):
        return device
    got = pc.extract_regex(
        f.select(missing).header(),
        r"^(?:<\d{1,3}>1 \S+ (?P<h5>\S+)(?: .*)?|.*?(?:^|\s)(?P<h3>[^\s]+?):?)$",
    )
    host = pc.coalesce(
        vx.null_dash(pc.struct_field(got, "h5")), vx.null_dash(pc.struct_field(got, "h3"))
    )
    # a header without a host ends with its time: "<14>Sep  9 11:45:08"
    timeish = pc.match_substring_regex(host, r"^(?:\d\d:\d\d:\d\d|<\d+>|\d{4}-\d\d-\d\dT)")
    host = pc.if_else(pc.fill_null(timeish, False), _NULL, host)
    return pc.coalesce(device, vx.scatter(host, missing, m))


def _common(
    f: Fields, rows: np.ndarray, ts: pa.Array, first: int, dataset: str
) -> tuple[dict[str, pa.Array], list[tuple[str, pa.Array, bool]]]:
    """Columns TRAFFIC and THREAT share (0-30), and their ``extra`` members."""
    m = len(rows)
    action = f.text(30)
    users = _users(f.text(12), f.text(13))
    cols: dict[str, pa.Array] = {
        "@timestamp": ts,
        "event.dataset": vx.constant(dataset, m),
        "event.action": pc.utf8_lower(action),
        "event.outcome": _outcome(action),
        "event.provider": vx.constant(dataset.split(".")[1], m),
        "source.ip": f.text(7),
        "source.port": f.integer(24),
        "destination.ip": f.text(8),
        "destination.port": f.integer(25),
        "network.transport": pc.utf8_lower(f.text(29)),
        "network.protocol": _not(f.text(14), "incomplete", "not-applicable", "unknown"),
        "user.name": users[0],
        "user.domain": users[1],
        "observer.type": vx.constant("firewall", m),
        "observer.vendor": vx.constant("paloalto", m),
        "record": pa.array(rows + first, pa.int64()),
    }
    extra: list[tuple[str, pa.Array, bool]] = [
        ("subtype", f.text(4), True),
        ("rule", f.text(11), True),
        ("destination_user", f.text(13), True),
        ("nat_source_ip", _not(f.text(9), _NO_ADDRESS), True),
        ("nat_source_port", _nonzero(f.integer(26)), False),
        ("source_zone", f.text(16), True),
        ("destination_zone", f.text(17), True),
        ("session_id", f.text(22), True),
    ]
    return cols, extra


def _traffic(f: Fields, rows: np.ndarray, ts: pa.Array, first: int) -> pa.RecordBatch:
    f = f.select(rows)  # callers pass the chunk's fields and the rows to build
    m = len(rows)
    cols, extra = _common(f, rows, ts, first, "panos.traffic")
    elapsed = f.integer(36)
    cols |= {
        "event.category": vx.constant("network", m),
        "source.bytes": f.integer(32),
        "destination.bytes": f.integer(33),
        "observer.name": _device(f, rows, 52),
    }
    extra += [
        ("network.bytes", f.integer(31), False),
        ("event.duration", pc.multiply(elapsed, 1_000_000_000), False),
        ("category", _not(f.text(37), "any"), True),
        ("source_location", f.text(41), True),
        ("destination_location", f.text(42), True),
        ("session_end_reason", f.text(46), True),
    ]
    cols["extra"] = vx.json_objects(extra, m)
    return batch_from_columns(cols, m)


def _threat(f: Fields, rows: np.ndarray, ts: pa.Array, first: int) -> pa.RecordBatch:
    f = f.select(rows)  # callers pass the chunk's fields and the rows to build
    m = len(rows)
    cols, extra = _common(f, rows, ts, first, "panos.threat")
    subtype = pc.utf8_lower(f.text(4))
    tid = f.text(32)
    got = pc.extract_regex(tid, r"^(?P<name>.*?)\s*\((?P<id>\d+)\)$")
    name = pc.struct_field(got, "name")
    name = pc.if_else(pc.fill_null(pc.equal(name, ""), False), _NULL, name)
    severity = f.text(34)
    uf = f.text(31)
    as_url = pc.fill_null(pc.or_(pc.equal(subtype, "url"), pc.match_substring(uf, "/")), False)
    cols |= {
        "event.category": pc.coalesce(
            _lookup(subtype, _CATEGORY, pa.string()), vx.constant("intrusion_detection", m)
        ),
        "event.severity": _lookup(pc.utf8_lower(severity), _SEVERITY, pa.int32()),
        "url.original": pc.if_else(as_url, uf, _NULL),
        "file.name": pc.if_else(as_url, _NULL, uf),
        "file.hash": f.text(43),
        "http.response.mime_type": f.text(41),
        "user_agent.original": f.text(46),
        "http.request.referrer": f.text(49),
        "http.request.method": f.text(63),
        "email.from.address": f.text(50),
        "email.subject": f.text(51),
        "email.to.address": f.text(52),
        "rule.name": pc.if_else(pc.is_null(got), tid, name),
        "rule.id": pc.struct_field(got, "id"),
        "rule.category": _not(f.text(33), "any"),
        "observer.name": _device(f, rows, 59),
    }
    extra += [
        ("severity", severity, True),
        ("direction", f.text(35), True),
        ("source_location", f.text(38), True),
        ("destination_location", f.text(39), True),
        ("file_type", f.text(47), True),
        ("x_forwarded_for", f.text(48), True),
    ]
    cols["extra"] = vx.json_objects(extra, m)
    return batch_from_columns(cols, m)


def _other(f: Fields, rows: np.ndarray, ts: pa.Array, first: int) -> pa.RecordBatch:
    """SYSTEM, CONFIG and the other log types: their few useful columns, rest as text."""
    f = f.select(rows)  # callers pass the chunk's fields and the rows to build
    m = len(rows)
    ltype = f.text(3)
    system = pc.equal(ltype, "SYSTEM")
    config = pc.equal(ltype, "CONFIG")

    def c(k: int) -> pa.Array:
        return f.text(k)

    result = pc.utf8_lower(c(12))
    sev = pc.utf8_lower(c(13))
    # SYSTEM writes its Device Name at 22; CONFIG's place varies by version
    device = _device(f, rows, None)
    device = pc.coalesce(pc.if_else(system, c(22), _NULL), device)
    extra: list[tuple[str, pa.Array, bool]] = [
        ("subtype", c(4), True),
        ("object", pc.if_else(system, c(9), _NULL), True),
        ("module", pc.if_else(system, c(12), _NULL), True),
        ("severity", pc.if_else(system, c(13), _NULL), True),
        ("client", pc.if_else(config, c(11), _NULL), True),
        ("result", pc.if_else(config, c(12), _NULL), True),
    ]
    outcome = pc.if_else(
        pc.equal(result, "succeeded"),
        "success",
        pc.if_else(pc.equal(result, "failed"), "failure", _NULL),
    )
    no_sev = pa.scalar(None, pa.int32())
    gp = _system_globalprotect(c(8), c(14), system)
    cols: dict[str, pa.Array] = {
        "@timestamp": ts,
        "event.dataset": pc.binary_join_element_wise("panos.", pc.utf8_lower(ltype), ""),
        "event.code": pc.if_else(system, c(8), _NULL),
        "event.action": pc.coalesce(
            gp["action"], pc.if_else(config, c(9), pc.if_else(system, c(8), _NULL))
        ),
        "event.category": pc.coalesce(gp["category"], pc.if_else(config, "configuration", _NULL)),
        "event.outcome": pc.coalesce(gp["outcome"], pc.if_else(config, outcome, _NULL)),
        "event.severity": pc.if_else(system, _lookup(sev, _SEVERITY, pa.int32()), no_sev),
        "event.provider": pc.utf8_lower(ltype),
        "message": pc.if_else(system, c(14), pc.if_else(config, c(13), f.rest(7))),
        "source.ip": pc.coalesce(gp["source.ip"], pc.if_else(config, c(7), _NULL)),
        "host.ip": gp["host.ip"],
        "user.name": pc.coalesce(gp["user.name"], pc.if_else(config, c(10), _NULL)),
        "user.domain": gp["user.domain"],
        "observer.name": device,
        "observer.type": pc.if_else(pc.is_valid(gp["action"]), "vpn", "firewall"),
        "observer.vendor": vx.constant("paloalto", m),
        "extra": vx.json_objects([*extra, ("reason", gp["reason"], True)], m),
        "record": pa.array(rows + first, pa.int64()),
    }
    return batch_from_columns(cols, m)


# PAN-OS before 9.1 logs GlobalProtect in SYSTEM (subtype globalprotect): the event id
# says what, the description holds the fields as "Name: value, "
_GP_SYSTEM = {
    "globalprotectgateway-auth-succ": ("vpn-login", "authentication", "success"),
    "globalprotectportal-auth-succ": ("vpn-login", "authentication", "success"),
    "globalprotectgateway-auth-fail": ("vpn-login", "authentication", "failure"),
    "globalprotectportal-auth-fail": ("vpn-login", "authentication", "failure"),
    "globalprotectgateway-config-succ": ("vpn-session-start", "session", "success"),
    "globalprotectgateway-logout-succ": ("vpn-session-end", "session", "success"),
}
_GP_DESCRIPTION = {
    "source.ip": r"Login from: (?P<v>[0-9A-Fa-f.:]+)",
    "host.ip": r"Private IP: (?P<v>[0-9A-Fa-f.:]+)",
    "user": r"User name: (?P<v>[^,]+?)(?:,|\.?$)",
    "reason": r"Reason: (?P<v>.+?)(?:, Auth type:|\.?$)",
}


def _system_globalprotect(
    event_id: pa.Array, description: pa.Array, system: pa.Array
) -> dict[str, pa.Array]:
    n = len(event_id)
    known = pc.and_(system, pc.is_in(event_id, value_set=pa.array(list(_GP_SYSTEM))))
    known = pc.fill_null(known, False)
    out: dict[str, pa.Array] = {}
    for i, key in enumerate(("action", "category", "outcome")):
        table = {k: v[i] for k, v in _GP_SYSTEM.items()}
        out[key] = pc.if_else(known, _lookup(event_id, table, pa.string()), _NULL)
    if not pc.any(known).as_py():
        for key in ("source.ip", "host.ip", "user.name", "user.domain", "reason"):
            out[key] = pa.nulls(n, pa.string())
        return out
    got = {}
    for key, pattern in _GP_DESCRIPTION.items():
        value = pc.struct_field(pc.extract_regex(description, pattern), "v")
        got[key] = pc.if_else(known, value, _NULL)
    out["source.ip"], out["host.ip"], out["reason"] = (
        got["source.ip"],
        got["host.ip"],
        got["reason"],
    )
    out["user.name"], out["user.domain"] = _users(got["user"], pa.nulls(n, pa.string()))
    return out


# GLOBALPROTECT (PAN-OS 9.1+) event ids in the shared remote-access actions
_GP_EVENTS = {
    "portal-auth": ("vpn-login", "authentication"),
    "gateway-auth": ("vpn-login", "authentication"),
    "gateway-connected": ("vpn-session-start", "session"),
    "gateway-logout": ("vpn-session-end", "session"),
}


def _globalprotect(f: Fields, rows: np.ndarray, ts: pa.Array, first: int) -> pa.RecordBatch:
    """GLOBALPROTECT log (PAN-OS 9.1+): 8 event id, 9 stage, 10 auth method, 11 tunnel
    type, 12 source user, 13 source region, 14 machine name, 15/16 public IPv4/v6, 17/18
    private IPv4/v6, 21 client version, 22/23 client OS, 25 reason, 26 error, 27
    description, 28 status, 29 location, 30 login duration, 31 connect method, 32 error
    code, 33 portal, 41 gateway, 47 device name."""
    f = f.select(rows)  # callers pass the chunk's fields and the rows to build
    m = len(rows)
    event_id = pc.utf8_lower(f.text(8))
    status = pc.utf8_lower(f.text(28))
    action = pc.coalesce(
        _lookup(event_id, {k: v[0] for k, v in _GP_EVENTS.items()}, pa.string()), event_id
    )
    category = _lookup(event_id, {k: v[1] for k, v in _GP_EVENTS.items()}, pa.string())
    outcome = pc.if_else(
        pc.equal(status, "success"),
        "success",
        pc.if_else(pc.equal(status, "failure"), "failure", _NULL),
    )
    user = _users(f.text(12), pa.nulls(m, pa.string()))
    cols: dict[str, pa.Array] = {
        "@timestamp": ts,
        "event.dataset": vx.constant("panos.globalprotect", m),
        "event.code": f.text(8),
        "event.action": action,
        "event.category": category,
        "event.outcome": outcome,
        "event.provider": vx.constant("globalprotect", m),
        "message": pc.coalesce(f.text(27), f.text(26)),
        "source.ip": pc.coalesce(_not(f.text(15), _NO_ADDRESS), f.text(16)),
        "host.ip": pc.coalesce(_not(f.text(17), _NO_ADDRESS), f.text(18)),
        "user.name": user[0],
        "user.domain": user[1],
        "observer.name": _device(f, rows, 47),
        "observer.type": vx.constant("vpn", m),
        "observer.vendor": vx.constant("paloalto", m),
        "record": pa.array(rows + first, pa.int64()),
    }
    extra: list[tuple[str, pa.Array, bool]] = [
        ("stage", f.text(9), True),
        ("auth_method", f.text(10), True),
        ("tunnel_type", f.text(11), True),
        ("source_region", f.text(13), True),
        ("client.machine_name", f.text(14), True),
        ("client.version", f.text(21), True),
        ("client.os", f.text(22), True),
        ("client.os_version", f.text(23), True),
        ("reason", f.text(25), True),
        ("error", f.text(26), True),
        ("location", f.text(29), True),
        ("login_duration", f.integer(30), False),
        ("connect_method", f.text(31), True),
        ("error_code", f.text(32), True),
        ("portal", f.text(33), True),
        ("gateway", f.text(41), True),
    ]
    cols["extra"] = vx.json_objects(extra, m)
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
        "user.domain", "host.ip", "url.original", "file.name", "file.hash",
        "http.response.mime_type",
        "user_agent.original", "http.request.referrer", "http.request.method",
        "email.from.address", "email.subject", "email.to.address", "rule.name", "rule.id",
        "rule.category", "observer.name", "observer.type", "observer.vendor", "extra",
    ),
)  # fmt: skip
