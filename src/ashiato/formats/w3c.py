"""W3C extended log files, driven by their ``#Fields:`` header (domain.md 3.2, 3.7, 3.20).

One module reads them all: Blue Coat / Symantec ProxySG ELFF (``proxysg.access``, observer
type proxy), IIS (``iis.access``, web), the Windows Firewall ``pfirewall.log``
(``windows.firewall``, firewall) and any other W3C log (``w3c.log``). The software is
taken from ``#Software:`` and, without it, from the field names. Columns follow the
latest ``#Fields:`` line, so a file holding several header blocks (IIS restarts, a
changed ProxySG format) is read block by block. ``-`` is null; ProxySG quotes fields
that hold spaces (``"Mozilla/4.0 (...)"``), IIS writes spaces in the user agent as ``+``.

Mapping: ``c-ip``/``c-port`` -> source; ``s-ip``/``s-port`` -> destination (IIS; on a
proxy they are the proxy's own and stay in ``extra``); ``cs-host`` (+ ``cs-uri-scheme``,
``cs-uri-port``, ``cs-uri-path``/``cs-uri-stem``, ``cs-uri-query``) -> ``url.*``;
``sc-bytes`` -> ``destination.bytes``, ``cs-bytes`` -> ``source.bytes``; ``cs-username``
``DOMAIN\\user`` -> ``user.domain`` + ``user.name``; ``rs(Content-Type)`` (URL-decoded)
-> ``http.response.mime_type``; ``s-action`` (else ``sc-filter-result``) -> ``event.action``;
``x-virus-id`` -> ``rule.name``; pfirewall ``action``, ``protocol``, ``src-*``/``dst-*``,
``size`` (the packet's bytes, sent by the source) and ``pid``. Every other field is kept
in ``extra`` under its W3C name (``cs-categories`` URL-decoded).

Time: ``date time`` are UTC for IIS, ProxySG and other W3C logs (the W3C and IIS rule;
ProxySG writes GMT unless reconfigured: pass the format option ``w3c_local_time`` to read
them in the source's zone). ``pfirewall.log`` follows ``#Time Format:`` (``Local`` ->
the source's zone). An ``x-timestamp-unix`` field wins over ``date time``; a ``localtime``
field (``[dd/Mon/yyyy:HH:MM:SS +zzzz]``) is used when there is no date. A ``time`` field
without ``date`` (IIS 6 can log so) takes its day from the ``#Date:`` directive.

The vectorised machinery for header-driven delimited logs (header state carried across
chunks in file order, field spans found with numpy) is in ``vector``, shared with Zeek.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass, replace
from datetime import datetime

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from ashiato.formats import vector as vx
from ashiato.formats.base import Format, Sample, Source
from ashiato.schema import TS, batch_from_columns

_NULL = pa.scalar(None, pa.string())

# -- W3C headers -------------------------------------------------------------------------


@dataclass(frozen=True)
class Header:
    fields: tuple[str, ...] | None = None
    software: str | None = None
    time_format: str | None = None  # "#Time Format:" (pfirewall): Local or UTC
    date: str | None = None  # "#Date:", for logs whose #Fields: have a time but no date


def _directive(header: Header, line: str) -> Header:
    key, _, value = line[1:].partition(":")
    key, value = key.strip().lower(), value.strip()
    if key == "fields":
        return replace(header, fields=tuple(value.split()))
    if key == "software":
        # a new block starts with #Software: what the last block said no longer holds
        return Header(fields=header.fields, software=value)
    if key == "time format":
        return replace(header, time_format=value.lower())
    if key == "date":
        return replace(header, date=value)
    return header


_KINDS = {
    # kind: (dataset, observer.type, observer.vendor, event.category)
    "proxysg": ("proxysg.access", "proxy", "symantec", "web"),
    "iis": ("iis.access", "web", "microsoft", "web"),
    "firewall": ("windows.firewall", "firewall", "microsoft", "network"),
    "web": ("w3c.log", "web", None, "web"),
    "w3c": ("w3c.log", None, None, None),
}


def kind_of(header: Header) -> str:
    sw = (header.software or "").lower()
    names = set(header.fields or ())
    if "sgos" in sw or "proxysg" in sw or "blue coat" in sw or "bluecoat" in sw:
        return "proxysg"
    if "internet information services" in sw:
        return "iis"
    if "firewall" in sw or {"src-ip", "dst-ip", "action"} <= names:
        return "firewall"
    if names & {"s-action", "sc-filter-result", "cs-categories", "x-virus-id"}:
        return "proxysg"
    if "cs-method" in names or "cs-uri-stem" in names:
        return "web"
    return "w3c"


# -- sniff ------------------------------------------------------------------------------

_FIELDS_LINE = re.compile(r"^#Fields: *(\S+(?: +\S+){2,}) *$")
_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}[ \t]")


def sniff(sample: Sample) -> bool:
    lines = sample.first_lines(40)
    seen_fields = False
    for line in lines:
        if not line.startswith("#"):
            continue
        hit = _FIELDS_LINE.match(line)
        # Exchange tracking logs use #Fields: with commas: they are CSV, not W3C
        if hit and "," not in hit.group(1):
            seen_fields = True
            break
    if not seen_fields:
        return False
    directives = sum(1 for ln in lines if re.match(r"^#(Software|Version|Date|Fields):", ln))
    data = [ln for ln in lines if not ln.startswith("#")]
    return directives >= 2 or any(_DATE.match(ln) for ln in data)


# -- parse ------------------------------------------------------------------------------


def parse(source: Source) -> Iterator[pa.RecordBatch]:
    def segment(
        ln: vx.Lines, a: int, b: int, header: Header, first: int, rejects: vx.RejectList
    ) -> pa.RecordBatch | None:
        return _segment(source, ln, a, b, header, first, rejects)

    return vx.parse_headed(source, Header(), _directive, segment, trim=b" \t")


_TOKEN = re.compile(r'"[^"]*"|[^ \t"]+(?:"[^"]*"[^ \t"]*)*|"[^"]*$')


def _slow_split(line: str) -> list[str]:
    """Fields of a line the fast path could not split (runs of spaces, odd quoting)."""
    out = []
    for tok in _TOKEN.findall(line.strip()):
        if len(tok) >= 2 and tok[0] == '"' and tok[-1] == '"':
            tok = tok[1:-1]
        out.append(tok)
    return out


def _segment(
    source: Source, ln: vx.Lines, a: int, b: int, header: Header, first: int, rejects: vx.RejectList
) -> pa.RecordBatch | None:
    rows = a + np.flatnonzero(ln.end[a:b] > ln.start[a:b])
    if not len(rows):
        return None
    if header.fields is None:
        vx.reject_rows(rejects, first, ln.arr, rows, "data line before any #Fields: header")
        return None
    names = header.fields
    k = len(names)
    sp = vx.split_rows(ln, rows, k, 32, quotes=True)
    fast = rows[sp.ok]
    fields = vx.Fields(ln.data, sp)
    slow_rows: list[int] = []
    slow_vals: list[list[str | None]] = []
    bad = rows[~sp.ok]
    if len(bad):
        texts = ln.arr.take(pa.array(bad)).to_pylist()
        wrong: list[int] = []
        reasons: list[str] = []
        for r, text in zip(bad.tolist(), texts, strict=True):
            toks = _slow_split(text.rstrip("\r\n"))
            if len(toks) == k:
                slow_rows.append(r)
                slow_vals.append([None if t in ("-", "") else t for t in toks])
            else:
                wrong.append(r)
                reasons.append(f"expected {k} fields (per #Fields:), got {len(toks)}")
        vx.reject_rows(rejects, first, ln.arr, np.array(wrong, np.int64), reasons)
    order = None
    all_rows = fast
    if slow_rows:
        all_rows = np.concatenate([fast, np.array(slow_rows, np.int64)])
        order = np.argsort(all_rows, kind="stable")
        all_rows = all_rows[order]
    cols: dict[str, pa.Array] = {}
    for j, name in enumerate(names):
        if name not in cols:  # a repeated name: the first one wins
            cols[name] = vx.reorder(fields.column(j), [v[j] for v in slow_vals], order)
    if names[:2] == ("date", "time"):  # the usual layout: one span, no join
        cols[_DATETIME] = vx.reorder(
            fields.column(0, (), last=1), [f"{v[0]} {v[1]}" for v in slow_vals], order
        )
    return _events(source, header, cols, all_rows, first, ln.arr, rejects)


def _split_user(user: pa.Array) -> tuple[pa.Array, pa.Array]:
    """``DOMAIN\\user`` -> (user, DOMAIN); a name without domain stays whole."""
    dom, name = vx.split_first(user, 92)
    dom = pc.if_else(pc.equal(dom, ""), _NULL, dom)
    return pc.if_else(pc.equal(name, ""), _NULL, name), dom


def _join(*parts: pa.Array | str) -> pa.Array:
    return pc.binary_join_element_wise(*parts, "")


_DEFAULT_PORTS = pa.array(["http:80", "https:443", "ftp:21"])


def _url(c: dict[str, pa.Array], proxy: bool) -> tuple[pa.Array | None, pa.Array | None]:
    """(url.original, url.path) from whichever URL fields the log has."""
    path = c.get("cs-uri-path", c.get("cs-uri-stem"))
    query = c.get("cs-uri-query")
    pathq = path
    if query is not None:
        q = pc.if_else(pc.starts_with(query, "?"), query, _join("?", query))
        pathq = q if path is None else pc.coalesce(_join(path, q), path)
    full, host = c.get("cs-uri"), c.get("cs-host")
    if host is None:
        return (full if full is not None else pathq), pathq
    scheme, port = c.get("cs-uri-scheme"), c.get("cs-uri-port")
    if port is None and not proxy:
        port = c.get("s-port")  # a web server's own port is the URL's
    if scheme is None and port is not None:
        scheme = pc.if_else(pc.equal(port, "443"), "https", "http")
    hostport = host
    if port is not None:
        default = pc.is_in(_join(pc.fill_null(scheme, ""), ":", port), value_set=_DEFAULT_PORTS)
        add = pc.and_(pc.invert(default), pc.invert(pc.match_substring(host, ":")))
        hostport = pc.if_else(pc.fill_null(add, False), _join(host, ":", port), host)
    prefix = hostport if scheme is None else pc.coalesce(_join(scheme, "://", hostport), hostport)
    built = prefix if pathq is None else pc.coalesce(_join(prefix, pathq), prefix)
    method = c.get("cs-method")
    if method is not None and port is not None:  # CONNECT host:443, as Squid writes it
        connect = pc.fill_null(pc.equal(method, "CONNECT"), False)
        built = pc.if_else(connect, pc.coalesce(_join(host, ":", port), host), built)
    return (pc.coalesce(full, built) if full is not None else built), pathq


_INTS = {
    "source.port": ("c-port", "src-port"),
    "destination.port": ("s-port", "cs-uri-port", "r-port", "dst-port"),
    "source.bytes": ("cs-bytes", "size"),
    "destination.bytes": ("sc-bytes",),
    "http.response.status_code": ("sc-status",),
    "process.pid": ("pid",),
}
_INT32 = ("source.port", "destination.port", "http.response.status_code")
_STRINGS = {
    "source.ip": ("c-ip", "src-ip"),
    "destination.ip": ("s-supplier-ip", "r-ip", "s-ip", "dst-ip"),
    "http.request.method": ("cs-method",),
    "http.request.referrer": ("cs(Referer)",),
    "user_agent.original": ("cs(User-Agent)",),
    "http.response.mime_type": ("rs(Content-Type)",),
    "rule.name": ("x-virus-id",),
    "host.hostname": ("s-computername",),
}
_DATETIME = "date time"  # not a W3C name (they have no spaces): both fields in one span
_TIME_FIELDS = ("date", "time", "x-timestamp-unix", "localtime", _DATETIME)


def _events(
    source: Source,
    header: Header,
    c: dict[str, pa.Array],
    rows: np.ndarray,
    first: int,
    lines: pa.Array,
    rejects: vx.RejectList,
) -> pa.RecordBatch | None:
    n = len(rows)
    if not n:
        return None
    kind = kind_of(header)
    dataset, otype, vendor, category = _KINDS[kind]
    proxy = kind == "proxysg"
    used: set[str] = set(_TIME_FIELDS)
    # on a proxy s-ip/s-port are the proxy's own address and port (kept in extra)
    own = ("s-ip", "s-port") if proxy else ()
    ts, bad, time_why = _times(source, header, kind, c, n)
    why = dict.fromkeys(np.flatnonzero(bad).tolist(), time_why)
    out: dict[str, pa.Array] = {}
    for col, names in _INTS.items():
        for name in names:
            if name in c and name not in own:
                val, nonint = vx.to_int(c[name], pa.int32() if col in _INT32 else pa.int64())
                out[col] = pc.coalesce(out[col], val) if col in out else val
                bad_n = vx.mask(nonint)
                if bad_n.any():
                    for r in np.flatnonzero(bad_n & ~bad).tolist():
                        why[r] = f"{name} is not a number"
                    bad |= bad_n
                used.add(name)
    for col, names in _STRINGS.items():
        for name in names:
            if name in c and name not in own:
                out[col] = pc.coalesce(out[col], c[name]) if col in out else c[name]
                used.add(name)
    if kind == "iis" and "user_agent.original" in out:
        out["user_agent.original"] = vx.replace_byte(out["user_agent.original"], 43, 32)
    if "http.response.mime_type" in out:
        out["http.response.mime_type"] = vx.unquote_percent(out["http.response.mime_type"])
    if "cs-username" in c:
        out["user.name"], out["user.domain"] = _split_user(c["cs-username"])
        used.add("cs-username")
    url, path = _url(c, proxy)
    if url is not None:
        out["url.original"] = url
        if path is not None:
            out["url.path"] = path
        used |= {"cs-uri", "cs-uri-scheme", "cs-uri-path", "cs-uri-stem", "cs-uri-query"}
    # the origin server: a name goes to destination.domain, an address to destination.ip
    for name in ("cs-host", "r-dns", "s-supplier-name"):
        if name in c:
            value = _host_only(c[name])
            is_ip = pc.match_substring_regex(value, r"^[\d.]+$|:")
            _first(out, "destination.ip", pc.if_else(is_ip, value, _NULL))
            _first(out, "destination.domain", pc.if_else(is_ip, _NULL, pc.utf8_lower(value)))
    used.add("cs-host")
    action = None
    for name in ("s-action", "action", "sc-filter-result"):
        if name in c:
            action = c[name] if action is None else pc.coalesce(action, c[name])
            if name != "sc-filter-result":
                used.add(name)
    if action is not None:
        out["event.action"] = pc.utf8_lower(action)
    if "protocol" in c:
        out["network.transport"] = pc.utf8_lower(c["protocol"])
        used.add("protocol")
    if category == "web":
        out["event.outcome"] = _outcome(out.get("http.response.status_code"), c, n)
    keep = ~bad
    bad_rows = np.flatnonzero(bad)
    if len(bad_rows):
        vx.reject_rows(rejects, first, lines, rows[bad_rows], [why[r] for r in bad_rows.tolist()])
    extra_items: list[tuple[str, pa.Array, bool]] = []
    for name, arr in c.items():
        if name not in used:
            if name in ("cs-categories", "sc-filter-category"):
                arr = vx.unquote_percent(arr)
            extra_items.append((name, arr, True))
    out["extra"] = vx.json_objects(extra_items, n)
    out["@timestamp"] = ts
    out["record"] = pa.array(rows + first, pa.int64())
    for col, value in (
        ("event.dataset", dataset), ("observer.type", otype), ("observer.vendor", vendor),
        ("event.category", category),
    ):  # fmt: skip
        if value is not None:
            out[col] = vx.constant(value, n)
    if otype in ("proxy", "firewall") and "host.hostname" in out:
        out["observer.name"] = out.pop("host.hostname")
    if otype == "web" and "destination.ip" in out and "s-ip" in c:
        out["host.ip"] = c["s-ip"]
    batch = batch_from_columns(out, n)
    return batch if keep.all() else batch.filter(pa.array(keep))


def _host_only(arr: pa.Array) -> pa.Array:
    """``name:port``, ``[v6]:port``, a bare v6 address -> the host without the port."""
    got = pc.extract_regex(arr, r"^\[(?P<a>[^\]]+)\](?::\d+)?$|^(?P<b>[^:]+)(?::\d+)?$|^(?P<c>.*)$")
    parts = [pc.struct_field(got, k) for k in ("a", "b", "c")]
    return pc.coalesce(*(pc.if_else(pc.equal(p, ""), _NULL, p) for p in parts))


def _first(out: dict[str, pa.Array], col: str, value: pa.Array) -> None:
    """Fill ``col`` where it is still null."""
    out[col] = pc.coalesce(out[col], value) if col in out else value


def _outcome(status: pa.Array | None, c: dict[str, pa.Array], n: int) -> pa.Array:
    no = pa.repeat(pa.scalar(False), n)
    failed = no if status is None else pc.fill_null(pc.greater_equal(status, 400), False)
    for name in ("sc-filter-result", "s-action"):
        if name in c:
            denied = pc.match_substring(c[name], "DENIED", ignore_case=True)
            failed = pc.or_(failed, pc.fill_null(denied, False))
    ok = no if status is None else pc.fill_null(pc.less(status, 400), False)
    return pc.if_else(failed, "failure", pc.if_else(ok, "success", "unknown"))


def _times(
    source: Source, header: Header, kind: str, c: dict[str, pa.Array], n: int
) -> tuple[pa.Array, np.ndarray, str]:
    """(UTC timestamps, rows to reject, why) from whichever time fields the log has."""
    if "x-timestamp-unix" in c:
        ts, bad = vx.epoch(c["x-timestamp-unix"])
        return ts, bad, "x-timestamp-unix is not a Unix time"
    if "date" in c and "time" in c:
        both = c[_DATETIME] if _DATETIME in c else _join(c["date"], " ", c["time"])
        naive, bad = naive_times(both)
        local = bool(source.options.get("w3c_local_time"))
        if kind == "firewall":
            local = header.time_format != "utc"
        ts = vx.localize(naive, source.tz) if local else naive.cast(TS)
        return ts, bad, "date/time is not YYYY-MM-DD HH:MM:SS"
    if "time" in c and header.date:
        return _time_only(c["time"], header.date, kind, source)
    if "localtime" in c:
        text = pc.utf8_trim(c["localtime"], "[]")
        ts = pc.strptime(text, format="%d/%b/%Y:%H:%M:%S %z", unit="us", error_is_null=True)
        bad = vx.mask(pc.and_(pc.is_valid(text), pc.is_null(ts)))
        return ts.cast(TS), bad, "localtime is not dd/Mon/yyyy:HH:MM:SS +zzzz"
    return pa.nulls(n, TS), np.ones(n, bool), "no date/time fields in #Fields:"


def _time_only(
    time: pa.Array, date: str, kind: str, source: Source
) -> tuple[pa.Array, np.ndarray, str]:
    """A ``time`` field without ``date``: the day is the ``#Date:`` directive's (IIS 6
    can log this way); a time before the directive's is on the next day."""
    why = "time is not HH:MM:SS, or #Date: is not YYYY-MM-DD HH:MM:SS"
    try:
        start = datetime.fromisoformat(date.strip())
    except ValueError:
        return pa.nulls(len(time), TS), np.ones(len(time), bool), why
    naive, bad = naive_times(_join(start.date().isoformat(), " ", time))
    later = pc.less(naive, pa.scalar(start, pa.timestamp("us")))
    next_day = pc.add(naive, pa.scalar(86_400_000_000, pa.duration("us")))
    naive = pc.if_else(later, next_day, naive)
    local = kind == "firewall" or bool(source.options.get("w3c_local_time"))
    return (vx.localize(naive, source.tz) if local else naive.cast(TS)), bad, why


def naive_times(text: pa.Array) -> tuple[pa.Array, np.ndarray]:
    """``YYYY-MM-DD HH:MM:SS[.ffffff]`` -> naive timestamps; and the unreadable ones.

    Arrow's cast is fast and strict; a chunk it refuses is read value by value (still
    strictly: no 30 February), so one bad line costs its chunk, not the file.
    """
    try:
        ts = text.cast(pa.timestamp("us"))
        return ts, np.asarray(ts.is_null().to_numpy(zero_copy_only=False), bool)
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
        pass
    out: list[datetime | None] = []
    for value in text.to_pylist():
        try:
            dt = datetime.fromisoformat(value) if value else None
        except ValueError:
            dt = None
        out.append(dt if dt is None or dt.tzinfo is None else None)
    ts = pa.array(out, pa.timestamp("us"))
    return ts, np.asarray(ts.is_null().to_numpy(zero_copy_only=False), bool)


FORMAT = Format(
    name="w3c",
    dataset="w3c.log",
    description="W3C extended logs by #Fields: (ProxySG ELFF, IIS, Windows Firewall pfirewall.log)",
    sniff=sniff,
    parse=parse,
    fields=(
        "@timestamp", "event.action", "event.category", "event.outcome", "source.ip",
        "source.port", "source.bytes", "destination.ip", "destination.port",
        "destination.bytes", "destination.domain", "network.transport", "url.original",
        "url.path", "http.request.method", "http.request.referrer",
        "http.response.status_code", "http.response.mime_type", "user_agent.original",
        "user.name", "user.domain", "rule.name", "host.hostname", "host.ip", "process.pid",
        "observer.name", "observer.type", "observer.vendor", "extra",
    ),
)  # fmt: skip
