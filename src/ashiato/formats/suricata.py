"""Suricata EVE JSON (``eve.json``): one JSON object per line (domain.md 3.10).

Every ``event_type`` is kept: alert, http, dns, flow, fileinfo, smtp and tls are mapped
to schema columns, anything else (ssh, stats, anomaly, smb...) is kept generically with
``event.action`` = ``event_type``. ``event.code`` is always the ``event_type``; for alerts
``event.action`` is the alert action (allowed/blocked) so that "what the IDS did" is one
column. Whatever is not mapped (``flow_id``, ``in_iface``, ``app_proto``, ``tx_id``, TTLs,
packet counts, TLS certificate details...) stays in ``extra`` with EVE's own nesting, so
events of one connection can be joined on ``extra.flow_id``.

Times carry the sensor's offset (``+0900``) and are converted with it; a line without a
readable ``timestamp`` is rejected, as is a line that is not a JSON object.
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Callable, Iterator
from datetime import datetime
from typing import Any

import orjson
import pyarrow as pa

from ashiato.formats.base import BATCH_ROWS, Format, Sample, Source
from ashiato.schema import TS, batch_from_columns

_CATEGORY = {
    "alert": "intrusion_detection",
    "drop": "intrusion_detection",
    "anomaly": "intrusion_detection",
    "http": "web",
    "fileinfo": "file",
    "smtp": "email",
}
# app_proto values that say "no protocol recognised" rather than naming one
_NO_PROTO = {"failed", "unknown", ""}
_APP_EVENTS = frozenset(("http", "dns", "tls", "smtp", "ssh", "smb", "ftp", "dhcp", "rdp"))
_ANGLE = re.compile(r"<([^<>]*)>")


_COLUMNS = (
    "record",
    "@timestamp",
    "event.code",
    "event.action",
    "event.category",
    "event.outcome",
    "event.severity",
    "source.ip",
    "source.port",
    "source.bytes",
    "destination.ip",
    "destination.port",
    "destination.bytes",
    "destination.domain",
    "network.transport",
    "network.protocol",
    "url.original",
    "url.domain",
    "url.path",
    "http.request.method",
    "http.request.referrer",
    "http.response.status_code",
    "http.response.mime_type",
    "user_agent.original",
    "dns.question.name",
    "dns.answers",
    "file.path",
    "file.size",
    "file.hash",
    "email.from.address",
    "email.to.address",
    "email.subject",
    "email.attachments",
    "email.message_id",
    "rule.name",
    "rule.id",
    "rule.category",
    "observer.name",
    "extra",
)


class _Batch:
    """Column lists for up to ``size`` events (a dict per row would cost twice as much).

    ``@timestamp`` holds EVE's text until ``emit`` converts the whole column at once; the
    raw lines are kept until then so a row whose time Arrow can't read is rejected whole.
    """

    def __init__(self, source: Source, size: int) -> None:
        self.source = source
        self.size = size
        self.n = 0
        self.cols: dict[str, list[Any]] = {c: [None] * size for c in _COLUMNS}
        self.raw: list[str] = []

    def add(self, row: dict[str, Any], line: str) -> None:
        cols, n = self.cols, self.n
        for key, value in row.items():
            cols[key][n] = value
        self.raw.append(line)
        self.n = n + 1

    def emit(self) -> pa.RecordBatch:
        n = self.n
        cols: dict[str, Any] = {k: (v if n == self.size else v[:n]) for k, v in self.cols.items()}
        cols["@timestamp"], keep = self._times(cols["@timestamp"], cols["record"])
        cols["observer.vendor"] = pa.repeat(pa.scalar("suricata"), n)
        cols["observer.type"] = pa.repeat(pa.scalar("ids"), n)
        batch = batch_from_columns(cols, n)
        if keep is not None:
            batch = batch.filter(pa.array(keep))
        self.cols = {c: [None] * self.size for c in _COLUMNS}
        self.raw = []
        self.n = 0
        return batch

    def _times(self, text: list[str], records: list[int]) -> tuple[pa.Array, list[bool] | None]:
        try:
            return pa.array(text, pa.string()).cast(TS), None
        except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
            pass
        # slow path, only for a batch holding an odd time: read each one on its own
        values: list[datetime | None] = []
        keep: list[bool] = []
        for i, value in enumerate(text):
            ts = _timestamp(value, self.source)
            if ts is None:
                self.source.reject(records[i], f"unreadable timestamp {value!r}", self.raw[i])
            values.append(ts)
            keep.append(ts is not None)
        return pa.array(values, TS), keep


def _sniff(sample: Sample) -> bool:
    lines = sample.first_lines(5)
    if not lines or not lines[0].lstrip().startswith("{"):
        return False
    for line in lines:
        if '"event_type"' not in line:
            continue
        try:
            obj = orjson.loads(line)
        except orjson.JSONDecodeError:
            continue
        if isinstance(obj, dict) and "event_type" in obj and "timestamp" in obj:
            return True
    return False


def _parse(source: Source) -> Iterator[pa.RecordBatch]:
    out = _Batch(source, BATCH_ROWS)
    for first, lines in source.line_chunks():
        for i, line in enumerate(lines):
            if not line or line.isspace():
                continue
            record = first + i
            try:
                obj = orjson.loads(line)
            except orjson.JSONDecodeError as exc:
                source.reject(record, f"not valid JSON ({exc.msg})", line)
                continue
            if not isinstance(obj, dict):
                source.reject(record, "not a JSON object", line)
                continue
            ts = obj.pop("timestamp", None)
            if not isinstance(ts, str):
                source.reject(record, "no 'timestamp'", line)
                continue
            row: dict[str, Any] = {"record": record, "@timestamp": ts}
            _map(row, obj)
            out.add(row, line)
            if out.n == out.size:
                yield out.emit()
    if out.n:
        yield out.emit()


def _timestamp(value: str, source: Source) -> datetime | None:
    try:
        ts = datetime.fromisoformat(value)
    except ValueError:
        return None
    # EVE always writes the sensor's offset; a bare time is read in the source's zone
    return source.localize(ts)


def _map(out: dict[str, Any], ev: dict[str, Any]) -> None:
    etype = _str(ev, "event_type") or "unknown"
    out["event.code"] = etype
    out["event.action"] = etype
    _put(out, "observer.name", _str(ev, "host"))
    category = _CATEGORY.get(etype)
    if category is None and "src_ip" in ev:
        category = "network"
    if category:
        out["event.category"] = category
    _endpoints(out, ev)

    app = ev.get("app_proto")
    if isinstance(app, str) and app.lower() not in _NO_PROTO:
        out["network.protocol"] = app.lower()
    elif etype in _APP_EVENTS:
        out["network.protocol"] = etype

    for key, handler in _SECTIONS:
        sub = ev.get(key)
        if type(sub) is dict:
            handler(out, sub)
            if not sub:
                del ev[key]
    smtp = ev.get("smtp")
    email = ev.get("email")
    if type(smtp) is dict or type(email) is dict:
        _mail(out, smtp if type(smtp) is dict else {}, email if type(email) is dict else {})
        for key in ("smtp", "email"):
            if key in ev and not ev[key]:
                del ev[key]
    if ev:
        out["extra"] = orjson.dumps(ev, option=orjson.OPT_NON_STR_KEYS).decode()


def _endpoints(out: dict[str, Any], ev: dict[str, Any]) -> None:
    for key, col in (("src_ip", "source.ip"), ("dest_ip", "destination.ip")):
        ip = _str(ev, key)
        if ip is not None:
            out[col] = _ip(ip)
    for key, col in (("src_port", "source.port"), ("dest_port", "destination.port")):
        port = _int(ev, key)
        if port is not None:
            out[col] = port
    # ``proto`` is a name (TCP) or, for protocols Suricata doesn't name, a number
    proto = _text(ev, "proto")
    if proto is not None:
        out["network.transport"] = proto.lower()


def _ip(text: str) -> str:
    # EVE writes IPv6 uncompressed (fe80:0000:...); other sources write the short form
    if ":" not in text:
        return text
    try:
        return ipaddress.ip_address(text).compressed
    except ValueError:
        return text


def _alert(out: dict[str, Any], a: dict[str, Any]) -> None:
    action = _str(a, "action")
    if action is not None:
        out["event.action"] = action.lower()
        # the outcome of the connection attempt: a blocked one did not get through
        if action.lower() == "blocked":
            out["event.outcome"] = "failure"
        elif action.lower() == "allowed":
            out["event.outcome"] = "success"
    _put(out, "rule.name", _text(a, "signature"))
    _put(out, "rule.id", _text(a, "signature_id"))
    _put(out, "rule.category", _text(a, "category"))
    _put(out, "event.severity", _int(a, "severity"))


def _flow(out: dict[str, Any], f: dict[str, Any]) -> None:
    _put(out, "source.bytes", _int(f, "bytes_toserver"))
    _put(out, "destination.bytes", _int(f, "bytes_toclient"))


def _http(out: dict[str, Any], h: dict[str, Any]) -> None:
    host = _str(h, "hostname")
    url = _str(h, "url")
    port = h.get("http_port")
    if url is not None:
        if url.startswith(("http://", "https://")) or host is None:
            out["url.original"] = url
        elif url.startswith("/"):
            hostport = f"{host}:{port}" if isinstance(port, int) else host
            out["url.original"] = f"http://{hostport}{url}"
        else:
            out["url.original"] = url  # CONNECT host:port, or a relative oddity
        if url.startswith("/"):
            out["url.path"] = url
    if host is not None:
        out["url.domain"] = host.lower()
        if url is None:
            out["url.original"] = f"http://{host}/"
    method = _str(h, "http_method")
    if method is not None:
        out["http.request.method"] = method.upper()
    _put(out, "http.request.referrer", _str(h, "http_refer"))
    _put(out, "user_agent.original", _str(h, "http_user_agent"))
    _put(out, "http.response.mime_type", _str(h, "http_content_type"))
    _put(out, "http.response.status_code", _int(h, "status"))
    if out.get("destination.bytes") is None:
        # the body length only when the flow totals (the better figure) are absent
        _put(out, "destination.bytes", _int(h, "length"))


def _dns(out: dict[str, Any], d: dict[str, Any]) -> None:
    name = _str(d, "rrname")
    if name is None:
        queries = d.get("queries")  # EVE DNS v3 (Suricata 8): the list stays in extra
        if isinstance(queries, list) and queries and isinstance(queries[0], dict):
            first = queries[0].get("rrname")
            name = first if isinstance(first, str) and first else None
    _put(out, "dns.question.name", name)
    rdata: list[str] = []
    single = _text(d, "rdata")  # v1: one answer record per line
    if single is not None:
        rdata.append(single)
    answers = d.get("answers")  # v2/v3; kept in extra with types and TTLs
    if isinstance(answers, list):
        rdata.extend(str(a["rdata"]) for a in answers if isinstance(a, dict) and "rdata" in a)
    grouped = d.get("grouped")  # v2 "grouped" format
    if not rdata and isinstance(grouped, dict):
        for values in grouped.values():
            if isinstance(values, list):
                rdata.extend(str(v) for v in values if not isinstance(v, dict))
    if rdata:
        out["dns.answers"] = ",".join(rdata)


def _tls(out: dict[str, Any], t: dict[str, Any]) -> None:
    sni = _str(t, "sni")
    if sni is not None:
        out["destination.domain"] = sni.rstrip(".").lower()


def _fileinfo(out: dict[str, Any], f: dict[str, Any]) -> None:
    _put(out, "file.path", _str(f, "filename"))
    _put(out, "file.size", _int(f, "size"))
    for algo in ("sha256", "sha1", "md5"):  # the strongest one; the others stay in extra
        digest = _str(f, algo)
        if digest is not None:
            out["file.hash"] = digest
            break


def _mail(out: dict[str, Any], smtp: dict[str, Any], email: dict[str, Any]) -> None:
    # header fields (email.*) first, as ECS defines them; the envelope when absent
    sender = _str(email, "from") or _str(smtp, "mail_from")
    if sender is not None:
        out["email.from.address"] = _address(sender)
    rcpt = _strings(email, "to") or _strings(smtp, "rcpt_to")
    if rcpt:
        out["email.to.address"] = ",".join(_address(r) for r in rcpt)
    _put(out, "email.subject", _str(email, "subject"))
    _put(out, "email.message_id", _str(email, "message_id"))
    attachments = _strings(email, "attachment")
    if attachments:
        out["email.attachments"] = ",".join(attachments)


_SECTIONS: tuple[tuple[str, Callable[[dict[str, Any], dict[str, Any]], None]], ...] = (
    ("alert", _alert),
    ("flow", _flow),  # before http: flow totals win over the http body length
    ("http", _http),
    ("dns", _dns),
    ("fileinfo", _fileinfo),
    ("tls", _tls),
)


def _address(text: str) -> str:
    m = _ANGLE.search(text)
    return (m.group(1) if m else text).strip()


# The readers below take a value out of the event only when it has the expected type,
# so anything odd stays in ``extra`` instead of being lost.


def _str(d: dict[str, Any], key: str) -> str | None:
    value = d.get(key)
    if isinstance(value, str) and value:
        del d[key]
        return value
    return None


def _text(d: dict[str, Any], key: str) -> str | None:
    """A string, or a number written as one (``proto: 6``, ``signature_id``)."""
    value = d.get(key)
    if isinstance(value, str | int) and not isinstance(value, bool) and value != "":
        del d[key]
        return str(value)
    return None


def _int(d: dict[str, Any], key: str) -> int | None:
    value = d.get(key)
    if type(value) is int:
        del d[key]
        return value
    if isinstance(value, str) and value.isdigit():
        del d[key]
        return int(value)
    return None


def _strings(d: dict[str, Any], key: str) -> list[str]:
    value = d.get(key)
    if isinstance(value, str) and value:
        del d[key]
        return [value]
    if isinstance(value, list) and value and all(isinstance(v, str) for v in value):
        del d[key]
        return value
    return []


def _put(out: dict[str, Any], col: str, value: object) -> None:
    if value is not None:
        out[col] = value


FORMAT = Format(
    name="suricata",
    dataset="suricata.eve",
    description="Suricata EVE JSON lines (eve.json): alerts, http, dns, flow, fileinfo, smtp, tls",
    sniff=_sniff,
    parse=_parse,
    fields=(*_COLUMNS[1:-1], "observer.type", "observer.vendor"),
)
