"""Zeek (Bro) logs: TSV with ``#fields`` headers, or JSON lines (domain.md 3.12).

TSV: the ``#separator``, ``#set_separator``, ``#empty_field``, ``#unset_field``, ``#path``,
``#fields`` and ``#types`` lines say how to read the lines after them; a file may hold
several logs one after the other (``#close`` then new headers). ``-`` (unset) and
``(empty)`` are null; escapes are decoded (``\\xNN``, and ``\\\\`` for one backslash as
Zeek 6 writes it: ``\\\\\\\\FS01\\\\share``). Parsed a chunk at a time with numpy (the
machinery in ``vector`` is shared with ``w3c``). JSON: one object per line with Zeek's dotted
names (``id.orig_h``), or Corelight's streaming shape (``@stream`` names the log, ids
flattened as ``id_orig_h`` by shippers that cannot store dots, ``@system`` the sensor,
kept in extra); ``ts`` is epoch seconds or ISO 8601.

The log kind (``#path``, JSON ``_path``; else guessed from the field names, then from the
file name) gives ``event.dataset`` ``zeek.<path>``. Mapped: ``ts`` (UTC) ->
``@timestamp``; ``id.orig_h/p`` -> source, ``id.resp_h/p`` -> destination; ``proto`` ->
``network.transport``; conn ``service`` -> ``network.protocol``, ``orig_bytes``/``resp_bytes``
-> source/destination bytes, ``conn_state`` -> ``event.action``; http ``host`` + ``uri`` ->
``url.*``, method, status, user agent, referrer, ``resp_mime_types``, ``username``; dns
``query`` -> ``dns.question.name``, ``answers`` -> ``dns.answers``; files ``filename`` ->
``file.path``, ``mime_type``, the strongest hash -> ``file.hash``, ``total_bytes`` (else
``seen_bytes``) -> ``file.size``; smtp ``mailfrom``/``rcptto`` (else the ``from``/``to``
headers) -> ``email.*``, ``subject``, ``msg_id``; ssl ``server_name`` ->
``destination.domain``; notice ``note`` -> ``rule.name``, ``msg`` -> ``message``;
smb_files ``action`` -> ``event.action`` (``SMB::FILE_OPEN`` -> ``file_open``), ``path`` ->
``file.share``, ``name`` -> ``file.path``, ``size``, times; a few more (smb_mapping, ftp,
ntlm, rdp, kerberos, ssh, weird, dhcp, dce_rpc). Every field not mapped is kept in
``extra`` under its Zeek name, typed as Zeek typed it (numbers, booleans, lists).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from pathlib import PurePath
from typing import Any

import numpy as np
import orjson
import pyarrow as pa
import pyarrow.compute as pc

from ashiato.formats import vector as vx
from ashiato.formats.base import Format, Sample, Source
from ashiato.schema import TS, batch_from_columns

_NULL = pa.scalar(None, pa.string())

# -- which log is it ----------------------------------------------------------------------

# fields that only one Zeek log has, for files without #path / _path
_SIGNS: tuple[tuple[str, frozenset[str]], ...] = tuple(
    (path, frozenset(names.split()))
    for path, names in (
        ("conn", "conn_state"),
        ("conn", "history orig_pkts"),
        ("dns", "query qtype_name"),
        ("dns", "query rcode"),
        ("http", "method uri trans_depth"),
        ("files", "fuid seen_bytes"),
        ("files", "fuid analyzers"),
        ("smtp", "mailfrom"),
        ("smtp", "helo rcptto"),
        ("ssl", "server_name cipher"),
        ("ssl", "version cipher"),
        ("notice", "note msg"),
        ("smb_files", "action path name"),
        ("smb_mapping", "path share_type"),
        ("x509", "certificate.version"),
        ("weird", "name notice peer"),
        ("kerberos", "request_type client"),
        ("dce_rpc", "endpoint operation"),
        ("dhcp", "msg_types"),
        ("dhcp", "assigned_ip lease_time"),
        ("ntp", "stratum"),
        ("ntlm", "domainname"),
        ("rdp", "cookie"),
        ("ssh", "auth_success"),
        ("ftp", "command reply_code"),
        ("software", "software_type"),
        ("known_services", "port_num service"),
        ("pe", "machine is_exe"),
        ("dpd", "failure_reason analyzer"),
        ("capture_loss", "percent_lost"),
        ("stats", "pkts_proc"),
        ("packet_filter", "filter node"),
    )
)
_NAME = re.compile(r"^([a-z][a-z0-9_]*)(?:[.-]|$)")


def log_path(names: set[str] | frozenset[str], filename: str) -> str:
    for path, sign in _SIGNS:
        if sign <= names:
            return path
    hit = _NAME.match(PurePath(filename).name.lower())
    return hit.group(1) if hit else "log"


# -- sniff --------------------------------------------------------------------------------


def sniff(sample: Sample) -> bool:
    lines = sample.first_lines(12)
    if not lines:
        return False
    if lines[0].startswith("#separator "):
        return any(ln.startswith("#fields") for ln in lines)
    if lines[0].startswith("#") and any(ln.startswith("#fields\t") for ln in lines):
        return any(ln.startswith("#types\t") for ln in lines)
    if not lines[0].startswith("{"):
        return False
    try:
        obj = orjson.loads(lines[0])
    except orjson.JSONDecodeError:
        return False
    return isinstance(obj, dict) and _zeek_json(obj)


def _zeek_json(obj: dict[str, Any]) -> bool:
    if "ts" not in obj:
        return False
    if "_path" in obj or ("uid" in obj and ("id.orig_h" in obj or "id_orig_h" in obj)):
        return True
    if "@stream" in obj and "uid" in obj:  # Corelight streaming: @stream names the log
        return True
    keys = frozenset(obj)  # files, x509, dhcp, stats...: fields only Zeek logs have
    return any(sign <= keys for _path, sign in _SIGNS)


# -- parse --------------------------------------------------------------------------------


def parse(source: Source) -> Iterator[pa.RecordBatch]:
    with source.path.open("rb") as fh:
        head = fh.read(4096).lstrip(b"\xef\xbb\xbf \t\r\n\x00\xff\xfe")
    if head.startswith(b"{"):
        return _parse_json(source)
    return _parse_tsv(source)


@dataclass(frozen=True)
class Header:
    sep: str = "\t"
    set_sep: str = ","
    empty: str = "(empty)"
    unset: str = "-"
    path: str | None = None
    fields: tuple[str, ...] | None = None
    types: tuple[str, ...] | None = None


_ESC = re.compile(rb"\\(?:x([0-9a-fA-F]{2})|(\\))")
_HEX = re.compile(rb"\\x([0-9a-fA-F]{2})")


def unescape(text: str, tsv: bool = True) -> str:
    """Decode Zeek's escapes: ``\\xNN``, and in TSV ``\\\\`` for a backslash (JSON
    strings have their own). Bytes that aren't UTF-8 stay escaped."""
    raw = (_ESC if tsv else _HEX).sub(_unesc, text.encode("utf-8", "surrogatepass"))
    return raw.decode("utf-8", "backslashreplace")


def _unesc(m: re.Match[bytes]) -> bytes:
    return bytes([int(m.group(1), 16)]) if m.group(1) else b"\\"


def _directive(h: Header, line: str) -> Header:
    if line.startswith("#separator "):
        return replace(h, sep=unescape(line[len("#separator ") :]))
    key, _, rest = line[1:].partition(h.sep)
    values = rest.split(h.sep) if rest else []
    if key == "set_separator" and values:
        return replace(h, set_sep=unescape(values[0]))
    if key == "empty_field" and values:
        return replace(h, empty=values[0])
    if key == "unset_field" and values:
        return replace(h, unset=values[0])
    if key == "path" and values:
        return replace(h, path=values[0], fields=None, types=None)
    if key == "fields":
        return replace(h, fields=tuple(values), types=None)
    if key == "types":
        return replace(h, types=tuple(values))
    return h


def _parse_tsv(source: Source) -> Iterator[pa.RecordBatch]:
    def segment(
        ln: vx.Lines, a: int, b: int, h: Header, first: int, rejects: vx.RejectList
    ) -> pa.RecordBatch | None:
        return _tsv_segment(source, ln, a, b, h, first, rejects)

    return vx.parse_headed(source, Header(), _directive, segment)


def _tsv_segment(
    source: Source, ln: vx.Lines, a: int, b: int, h: Header, first: int, rejects: vx.RejectList
) -> pa.RecordBatch | None:
    rows = a + np.flatnonzero(ln.end[a:b] > ln.start[a:b])
    if not len(rows):
        return None
    if h.fields is None:
        vx.reject_rows(rejects, first, ln.arr, rows, "data line before the #fields header")
        return None
    sep = h.sep.encode("utf-8")
    if len(sep) != 1:
        vx.reject_rows(rejects, first, ln.arr, rows, f"unsupported #separator {h.sep!r}")
        return None
    k = len(h.fields)
    sp = vx.split_rows(ln, rows, k, sep[0], quotes=False)
    bad = np.flatnonzero(~sp.ok)
    if len(bad):
        reasons = [f"expected {k} fields (per #fields), got {c}" for c in sp.count[bad].tolist()]
        vx.reject_rows(rejects, first, ln.arr, rows[bad], reasons)
    rows = rows[sp.ok]
    if not len(rows):
        return None
    fields = vx.Fields(ln.data, sp)
    nulls = (h.unset.encode("utf-8"), h.empty.encode("utf-8"))
    escaped = _has_escapes(ln.data[int(ln.start[rows[0]]) : int(ln.end[rows[-1]])])
    types = dict(zip(h.fields, h.types or (), strict=False))
    cols: dict[str, pa.Array] = {}
    for j, name in enumerate(h.fields):
        if name not in cols:
            col = fields.column(j, nulls)
            cols[name] = _unescape_all(col) if escaped else col
    path = h.path or log_path(frozenset(h.fields), source.display)
    n = len(rows)
    ts, bad_ts = vx.epoch(cols["ts"]) if "ts" in cols else (pa.nulls(n, TS), np.zeros(n, bool))
    out, used = _map(path, cols, n)
    used.add("ts")
    items = [
        (k, *_json_value(v, types.get(k, "string"), h.set_sep))
        for k, v in cols.items()
        if k not in used
    ]
    out["extra"] = vx.json_objects(items, n)
    return _finish(out, path, ts, bad_ts, rows, first, ln.arr, rejects)


def _has_escapes(body: np.ndarray) -> bool:
    return bool((body == 92).any())


def _unescape_all(arr: pa.Array, tsv: bool = True) -> pa.Array:
    has = vx.mask(pc.match_substring(arr, "\\" if tsv else "\\x"))
    if not has.any():
        return arr
    vals = arr.filter(pa.array(has)).to_pylist()
    fixed = pa.array([unescape(v, tsv) for v in vals], pa.string())
    return pc.replace_with_mask(arr, pa.array(has), fixed)


_INT_BYTES = np.zeros(256, bool)
_INT_BYTES[list(b"0123456789-")] = True
_NUM_BYTES = _INT_BYTES.copy()
_NUM_BYTES[list(b".eE+")] = True


def _numbers(arr: pa.Array, allowed: np.ndarray) -> bool:
    """True when every value is a plain number Zeek-style (``12``, ``-3``, ``0.447460``)."""
    off, data = vx.string_buffers(arr)
    used = data[off[0] : off[-1]]
    if not allowed[used].all():
        return False
    starts, ends = off[:-1], off[1:]
    live = ends > starts
    if arr.null_count:
        live &= np.asarray(arr.is_valid().to_numpy(zero_copy_only=False), bool)
    first = data[np.minimum(starts[live], max(len(data) - 1, 0))]
    last = data[np.maximum(ends[live] - 1, 0)]
    # JSON wants a digit (or minus) first and a digit last
    return bool(((first != 46) & (last >= 48) & (last <= 57)).all())


def _json_value(arr: pa.Array, typ: str, set_sep: str) -> tuple[pa.Array, bool]:
    """(JSON text or string, quoted?) for a field of Zeek type ``typ``."""
    if typ in ("count", "int", "port"):
        if _numbers(arr, _INT_BYTES):
            return arr, False
    elif typ in ("double", "interval", "time"):
        if _numbers(arr, _NUM_BYTES):
            return arr, False
    elif typ == "bool":
        false = pc.if_else(pc.equal(arr, "F"), "false", _NULL)
        return pc.if_else(pc.equal(arr, "T"), "true", false), False
    elif typ.startswith(("set[", "vector[", "table[")):
        items = pc.replace_substring(vx.json_escape(arr), set_sep, '","')
        return pc.binary_join_element_wise('["', items, '"]', ""), False
    return arr, True


def _finish(
    out: dict[str, pa.Array],
    path: str,
    ts: pa.Array,
    bad_ts: np.ndarray,
    rows: np.ndarray,
    first: int,
    lines: pa.Array | list[str],
    rejects: vx.RejectList,
) -> pa.RecordBatch:
    n = len(rows)
    out["@timestamp"] = ts
    out["record"] = pa.array(rows + first, pa.int64())
    out["event.dataset"] = vx.constant(f"zeek.{path}", n)
    out["observer.vendor"] = vx.constant("zeek", n)
    out["observer.type"] = vx.constant("ids", n)
    batch = batch_from_columns(out, n)
    if not bad_ts.any():
        return batch
    bad = np.flatnonzero(bad_ts)
    arr = lines if isinstance(lines, pa.Array) else pa.array(lines, pa.string())
    vx.reject_rows(rejects, first, arr, rows[bad], "ts is not a Unix time or ISO 8601 time")
    return batch.filter(pa.array(~bad_ts))


# -- JSON lines ---------------------------------------------------------------------------


def _flat(obj: dict[str, Any], prefix: str = "") -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, value in obj.items():
        if isinstance(value, dict):
            out.update(_flat(value, f"{prefix}{key}."))
        else:
            out[prefix + key] = value
    return out


_FLATTENED = {f"id_{k}": f"id.{k}" for k in ("orig_h", "orig_p", "resp_h", "resp_p")}


def _undot(obj: dict[str, Any]) -> None:
    """Shippers that cannot store dots (Corelight to some SIEMs) write ``id_orig_h``."""
    for flat, dotted in _FLATTENED.items():
        if flat in obj and dotted not in obj:
            obj[dotted] = obj.pop(flat)


def _text(value: Any) -> str | None:
    if value is None or value == "":
        return None
    if isinstance(value, bool):
        return "T" if value else "F"
    if isinstance(value, list):
        return ",".join(str(v) for v in value) if value else None
    return str(value)


def _parse_json(source: Source) -> Iterator[pa.RecordBatch]:
    def chunk(first: int, lines: pa.Array, rejects: vx.RejectList) -> pa.RecordBatch | None:
        groups: dict[str, list[tuple[int, dict[str, Any]]]] = {}
        for i, line in enumerate(lines.to_pylist()):
            if not line.strip():
                continue
            try:
                obj = orjson.loads(line)
            except orjson.JSONDecodeError as exc:
                rejects.append((first + i, f"not JSON: {exc}", line))
                continue
            if not isinstance(obj, dict):
                rejects.append((first + i, "not a JSON object", line))
                continue
            if "{" in line[1:]:  # a nested object (Zeek itself writes dotted names)
                obj = _flat(obj)
            if "id_orig_h" in obj or "id_resp_h" in obj:
                _undot(obj)
            path = obj.pop("_path", None)
            stream = obj.pop("@stream", None)
            if not path and isinstance(stream, str):
                path = stream
            if not isinstance(path, str) or not path:
                path = log_path(frozenset(obj), source.display)
            groups.setdefault(path, []).append((i, obj))
        out = [_json_group(path, rows, first, lines, rejects) for path, rows in groups.items()]
        if not out:
            return None
        return out[0] if len(out) == 1 else pa.concat_batches(out)

    workers = int(source.options.get("workers", 2))
    return vx.parse_parallel(source, chunk, workers)


def _json_group(
    path: str, rows: list[tuple[int, dict[str, Any]]], first: int, lines: pa.Array,
    rejects: vx.RejectList,
) -> pa.RecordBatch:  # fmt: skip
    n = len(rows)
    names: dict[str, None] = {}
    for _i, obj in rows:
        names.update(dict.fromkeys(obj))
    cols = _JsonColumns([obj for _i, obj in rows], names)
    ts, bad_ts = times(cols["ts"]) if "ts" in cols else (pa.nulls(n, TS), np.zeros(n, bool))
    mapped, used = _map(path, cols, n)
    used.add("ts")
    extras: list[str | None] = []
    for _i, obj in rows:
        rest = {k: v for k, v in obj.items() if k not in used and v is not None}
        extras.append(orjson.dumps(rest).decode() if rest else None)
    mapped["extra"] = pa.array(extras, pa.string())
    idx = np.array([i for i, _obj in rows], np.int64)
    return _finish(mapped, path, ts, bad_ts, idx, first, lines, rejects)


class _JsonColumns(Mapping[str, pa.Array]):
    """Fields of JSON records as string arrays, the way TSV gives them; made on first use
    (fields that only go to extra never need one)."""

    def __init__(self, objs: list[dict[str, Any]], names: dict[str, None]) -> None:
        self.objs, self.names = objs, names
        self._made: dict[str, pa.Array] = {}

    def __getitem__(self, name: str) -> pa.Array:
        if name not in self.names:
            raise KeyError(name)
        got = self._made.get(name)
        if got is None:
            got = _unescape_all(_column([o.get(name) for o in self.objs]), tsv=False)
            self._made[name] = got
        return got

    def __iter__(self) -> Iterator[str]:
        return iter(self.names)

    def __len__(self) -> int:
        return len(self.names)


def _column(values: list[Any]) -> pa.Array:
    """JSON values -> strings as Zeek's TSV writes them (T/F, comma-joined lists)."""
    try:
        arr = pa.array(values)
    except (pa.ArrowInvalid, pa.ArrowTypeError, OverflowError):  # mixed types
        return pa.array([_text(v) for v in values], pa.string())
    typ = arr.type
    if pa.types.is_boolean(typ):
        return pc.if_else(arr, "T", "F")
    if pa.types.is_list(typ):
        if not pa.types.is_string(typ.value_type):
            arr = arr.cast(pa.list_(pa.string()))
        arr = pc.binary_join(arr, ",")
    elif pa.types.is_null(typ):
        return pa.nulls(len(values), pa.string())
    elif not pa.types.is_string(typ):
        try:
            arr = arr.cast(pa.string())
        except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
            return pa.array([_text(v) for v in values], pa.string())
    return pc.if_else(pc.equal(arr, ""), _NULL, arr)


def times(arr: pa.Array) -> tuple[pa.Array, np.ndarray]:
    """Zeek times: epoch seconds or ISO 8601 (JSON logs) -> UTC; and the unreadable ones."""
    num = vx.mask(pc.match_substring_regex(arr, r"^-?\d+(?:\.\d+)?(?:[eE][-+]?\d+)?$"))
    if num.all():
        return vx.epoch(arr)
    ts, bad = vx.epoch(pc.if_else(pa.array(num), arr, _NULL))
    iso = pc.if_else(pa.array(num), _NULL, arr)
    try:
        other = iso.cast(TS)
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError):  # one odd value: read each
        other = pa.array([_iso(v) for v in iso.to_pylist()], TS)
    ts = pc.coalesce(ts, other)
    bad |= vx.mask(pc.and_(pc.is_valid(arr), pc.is_null(ts)))
    return ts, bad


def _iso(value: str | None) -> datetime | None:
    try:
        dt = datetime.fromisoformat(value) if value else None
    except ValueError:
        return None
    return dt.replace(tzinfo=UTC) if dt is not None and dt.tzinfo is None else dt


# -- mapping ------------------------------------------------------------------------------


class _Map:
    """Zeek fields in, ECS columns out; remembers which fields were used (the rest: extra)."""

    def __init__(self, c: Mapping[str, pa.Array], n: int) -> None:
        self.c, self.n = c, n
        self.out: dict[str, pa.Array] = {}
        self.used: set[str] = set()

    def get(self, name: str) -> pa.Array | None:
        v = self.c.get(name)
        if v is not None:
            self.used.add(name)
        return v

    def peek(self, name: str) -> pa.Array | None:
        """A field that is mapped and also kept in extra."""
        return self.c.get(name)

    def put(self, col: str, v: pa.Array | str | None) -> None:
        """Set ``col``; where it already has a value, that one wins."""
        if v is None:
            return
        arr = vx.constant(v, self.n) if isinstance(v, str) else v
        self.out[col] = pc.coalesce(self.out[col], arr) if col in self.out else arr


def _map(path: str, c: Mapping[str, pa.Array], n: int) -> tuple[dict[str, pa.Array], set[str]]:
    """ECS columns from Zeek fields; and the names used (the rest goes to extra)."""
    m = _Map(c, n)
    for zeek, ecs in (
        ("id.orig_h", "source.ip"), ("id.orig_p", "source.port"),
        ("id.resp_h", "destination.ip"), ("id.resp_p", "destination.port"),
    ):  # fmt: skip
        m.put(ecs, m.get(zeek))
    m.put("network.transport", _lower(m.get("proto")))
    handler = _PATHS.get(path)
    if handler is not None:
        handler(m)
    elif path in _PROTOCOLS:
        m.put("network.protocol", _PROTOCOLS[path])
    return m.out, m.used


def _lower(v: pa.Array | None) -> pa.Array | None:
    return None if v is None else pc.utf8_lower(v)


def _outcome(v: pa.Array | None) -> pa.Array | None:
    if v is None:
        return None
    return pc.if_else(pc.equal(v, "T"), "success", pc.if_else(pc.equal(v, "F"), "failure", _NULL))


def _conn(m: _Map) -> None:
    m.put("network.protocol", _lower(m.get("service")))
    m.put("source.bytes", m.get("orig_bytes"))
    m.put("destination.bytes", m.get("resp_bytes"))
    m.put("event.action", _lower(m.get("conn_state")))
    m.put("event.category", "network")


def _http(m: _Map) -> None:
    host, uri = m.get("host"), m.get("uri")
    if host is not None:
        whole = pc.binary_join_element_wise("http://", host, pc.fill_null(uri, "/"), "")
        m.put("url.original", whole)
        m.put("destination.domain", pc.utf8_lower(pc.replace_substring_regex(host, r":\d+$", "")))
    m.put("url.original", uri)
    m.put("url.path", uri)
    m.put("http.request.method", m.get("method"))
    m.put("http.request.referrer", m.get("referrer"))
    m.put("user_agent.original", m.get("user_agent"))
    status = m.get("status_code")
    m.put("http.response.status_code", status)
    m.put("http.response.mime_type", m.get("resp_mime_types"))
    m.put("user.name", m.get("username"))
    m.put("source.bytes", m.get("request_body_len"))
    m.put("destination.bytes", m.get("response_body_len"))
    m.put("network.protocol", "http")
    m.put("event.category", "web")
    if status is not None:
        code = vx.to_int(status)[0]
        m.put("event.outcome", pc.if_else(pc.greater_equal(code, 400), "failure", "success"))


def _dns(m: _Map) -> None:
    m.put("dns.question.name", m.get("query"))
    m.put("dns.answers", m.get("answers"))
    m.put("network.protocol", "dns")
    m.put("event.category", "network")


def _files(m: _Map) -> None:
    m.put("file.path", m.get("filename"))
    m.put("http.response.mime_type", m.get("mime_type"))
    for algo in ("sha256", "sha1", "md5"):  # the strongest one; all stay in extra
        m.put("file.hash", m.peek(algo))
    m.put("file.size", m.get("total_bytes"))
    m.put("file.size", m.peek("seen_bytes"))
    m.put("network.protocol", _lower(m.get("source")))
    m.put("event.category", "file")


def _smtp(m: _Map) -> None:
    def addr(v: pa.Array | None) -> pa.Array | None:
        return None if v is None else pc.replace_substring_regex(v, r"[<>]", "")

    m.put("email.from.address", addr(m.get("mailfrom")))
    m.put("email.to.address", addr(m.get("rcptto")))
    # the From:/To: headers stand in for a missing envelope, and stay in extra
    m.put("email.from.address", addr(m.peek("from")))
    m.put("email.to.address", addr(m.peek("to")))
    m.put("email.subject", m.get("subject"))
    m.put("email.message_id", m.get("msg_id"))
    m.put("user_agent.original", m.get("user_agent"))
    m.put("network.protocol", "smtp")
    m.put("event.category", "email")


def _ssl(m: _Map) -> None:
    m.put("destination.domain", _lower(m.get("server_name")))
    m.put("network.protocol", "tls")
    m.put("event.category", "network")


def _notice(m: _Map) -> None:
    m.put("rule.name", m.get("note"))
    m.put("message", m.get("msg"))
    m.put("source.ip", m.get("src"))
    m.put("destination.ip", m.get("dst"))
    m.put("destination.port", m.get("p"))
    m.put("event.category", "intrusion_detection")


def _smb_files(m: _Map) -> None:
    action = m.get("action")
    if action is not None:
        m.put("event.action", pc.utf8_lower(pc.replace_substring_regex(action, r"^SMB::", "")))
    m.put("file.share", m.get("path"))
    m.put("file.path", m.get("name"))
    m.put("file.size", m.get("size"))
    for zeek, ecs in (("times.modified", "file.mtime"), ("times.created", "file.created")):
        v = m.get(zeek)
        if v is not None:
            m.put(ecs, times(v)[0])
    m.put("network.protocol", "smb")
    m.put("event.category", "file")


def _smb_mapping(m: _Map) -> None:
    m.put("file.share", m.get("path"))
    m.put("network.protocol", "smb")


def _ftp(m: _Map) -> None:
    m.put("user.name", m.get("user"))
    m.put("event.action", _lower(m.get("command")))
    m.put("file.path", m.get("arg"))
    m.put("file.size", m.get("file_size"))
    m.put("network.protocol", "ftp")


def _ntlm(m: _Map) -> None:
    m.put("user.name", m.get("username"))
    m.put("user.domain", m.get("domainname"))
    m.put("event.outcome", _outcome(m.get("success")))
    m.put("network.protocol", "ntlm")
    m.put("event.category", "authentication")


def _rdp(m: _Map) -> None:
    m.put("user.name", m.get("cookie"))
    m.put("network.protocol", "rdp")


def _kerberos(m: _Map) -> None:
    m.put("event.outcome", _outcome(m.get("success")))
    m.put("event.action", _lower(m.get("request_type")))
    m.put("network.protocol", "kerberos")
    m.put("event.category", "authentication")


def _ssh(m: _Map) -> None:
    m.put("event.outcome", _outcome(m.get("auth_success")))
    m.put("network.protocol", "ssh")


def _weird(m: _Map) -> None:
    m.put("event.action", m.get("name"))


def _dhcp(m: _Map) -> None:
    m.put("host.mac", m.get("mac"))
    m.put("host.ip", m.get("assigned_addr"))
    m.put("host.ip", m.get("assigned_ip"))
    m.put("host.hostname", m.get("host_name"))
    m.put("network.protocol", "dhcp")


def _dce_rpc(m: _Map) -> None:
    m.put("event.action", _lower(m.get("operation")))
    m.put("network.protocol", "dcerpc")


_PATHS: dict[str, Callable[[_Map], None]] = {
    "conn": _conn, "http": _http, "dns": _dns, "files": _files, "smtp": _smtp, "ssl": _ssl,
    "notice": _notice, "smb_files": _smb_files, "smb_mapping": _smb_mapping, "ftp": _ftp,
    "ntlm": _ntlm, "rdp": _rdp, "kerberos": _kerberos, "ssh": _ssh, "weird": _weird,
    "dhcp": _dhcp, "dce_rpc": _dce_rpc,
}  # fmt: skip
_PROTOCOLS = {
    "sip": "sip", "snmp": "snmp", "mysql": "mysql", "irc": "irc", "radius": "radius",
    "modbus": "modbus", "dnp3": "dnp3", "socks": "socks", "ntp": "ntp", "syslog": "syslog",
    "tunnel": "tunnel", "rfb": "vnc", "x509": "tls", "ocsp": "tls", "pe": "smb",
}  # fmt: skip


FORMAT = Format(
    name="zeek",
    dataset="zeek.log",
    description="Zeek (Bro) logs: TSV with #fields headers or JSON lines",
    sniff=sniff,
    parse=parse,
    fields=(
        "@timestamp", "source.ip", "source.port", "source.bytes", "destination.ip",
        "destination.port", "destination.bytes", "destination.domain", "network.transport",
        "network.protocol", "event.action", "event.category", "event.outcome", "url.original",
        "url.path", "http.request.method", "http.request.referrer",
        "http.response.status_code", "http.response.mime_type", "user_agent.original",
        "user.name", "user.domain", "dns.question.name", "dns.answers", "file.path",
        "file.size", "file.hash", "file.share", "file.mtime", "file.created",
        "email.from.address", "email.to.address", "email.subject", "email.message_id",
        "rule.name", "message", "host.mac", "host.ip", "host.hostname", "observer.type",
        "observer.vendor", "extra",
    ),
)  # fmt: skip
