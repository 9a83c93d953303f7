"""Postfix ``maillog``: one event per message, joined by queue id (domain.md 3.13).

Syslog envelopes are peeled by the shared :mod:`ashiato.formats.syslog` (RFC 3164:
no year, so the year starts at ``source.year_hint`` and rolls over Dec -> Jan; no
zone, so times are read in ``source.tz``; RFC 5424/ISO times keep their offset).

Every ``postfix/<daemon>[pid]: <QUEUEID>: ...`` line is folded into one open message
(``smtpd client=``, ``cleanup message-id=``, ``qmgr from= size= nrcpt=``, each
``smtp|local|lmtp|virtual|pipe|error`` ``to= relay= delay= dsn= status=``, ``bounce``
notifications, header-check ``Subject:``), and the message becomes ONE event when
``qmgr`` logs ``removed`` or at the end of the file (``extra["postfix.complete"]`` is
then false). Memory is bounded by the open messages (the oldest are emitted, marked
incomplete, beyond ``MAX_OPEN``). ``@timestamp``/``record`` are those of the message's
first line; the other line numbers are in ``extra["postfix.lines"]``.

Message event: email.from.address (``from=``; the null sender ``<>`` is
``extra["postfix.null_sender"]``), email.to.address (every ``to=``, comma separated),
email.message_id (Message-ID, else the queue id), email.subject (only when a
header_checks ``warning|info|hold: header Subject:`` line logged it), source.ip /
``extra["source.domain"]`` / source.port from ``client=host[ip]:port``, user.name from
``sasl_username=``, source.bytes = ``size=``, destination.domain/ip/port from the
delivering ``relay=``, event.action = the overall status (sent, deferred, bounced,
expired, reject, discard, hold, removed, queued), event.outcome (success for sent,
failure for bounced/expired/reject/discard, else unknown). Per-recipient status,
dsn, delay, nrcpt, queue id and other lines' text (up to 20 notes) stay in ``extra``.

``NOQUEUE: reject: RCPT from host[ip]: <reason>; from=<..> to=<..> proto= helo=<..>``
lines are events of their own (event.action reject, outcome failure).

Other well-formed syslog lines are kept as small events, never rejected: postfix lines
without a queue id get event.action = their verb (connect, disconnect,
lost-connection, timeout, warning, statistics...) and the client from ``from
host[ip]``; other programs' lines (dovecot, amavis, opendkim...) keep their text in
``message`` and the program in event.provider. Only lines without a syslog time are
rejected. observer.name = the syslog host, observer.type mail, observer.vendor postfix.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from email.errors import HeaderParseError
from email.header import decode_header, make_header
from typing import Any

import pyarrow as pa

from ashiato.formats import syslog
from ashiato.formats import vector as vx
from ashiato.formats.base import Format, Rows, Sample, Source

Row = dict[str, Any]
MAX_OPEN = 200_000
_MAX_NOTES = 20
_MAX_LINES = 1000

_QID = re.compile(r"([0-9A-F]{5,12}|[0-9B-DF-HJ-NP-TV-Zb-df-hj-np-tv-z]{10,20}): (.*)$")
_KV = re.compile(r"(?:^|, )([\w-]+)=(<[^>]*>|[^,]*)")
_SPACE_KV = re.compile(r"(\w+)=(<[^>]*>|\S*)")
_CLIENT = re.compile(r"([^\s\[]*)\[(?:IPv6:)?([^\]]*)\](?::(\d+))?")
_NOQUEUE = re.compile(
    r"NOQUEUE: ([\w-]+): ([\w-]+(?: [\w-]+)?) from ([^\s\[]*\[[^\]]*\](?::\d+)?): (.*?)"
    r"(?:; ((?:\w+=(?:<[^>]*>|\S*) ?)+))?$"
)
_SUBJECT = re.compile(r"(?:warning|info|hold|reject|discard|redirect): header Subject: (.*?) from ")
_VERB = re.compile(
    r"(lost connection|too many errors|improper command pipelining|connect|disconnect|timeout"
    r"|[a-z][a-z_-]*)(?: |:|$)"
)
_SASL = re.compile(r"warning: ([^\s\[]*\[[^\]]*\]): SASL \S+ authentication failed")
_DELIVERY = ("sent", "deferred", "bounced", "expired", "deliverable", "undeliverable")
_FAILED = {"bounced", "expired", "reject", "discard", "undeliverable"}
_NOT_SYSLOG = "not a syslog line (expected 'Mmm dd hh:mm:ss host program[pid]: text')"
_TAG = re.compile(r"postfix(?:-[\w.-]+)?(?:/[\w.-]+)*/([\w.-]+)$")


def _addr(v: str | None) -> str | None:
    if v is None:
        return None
    v = v.strip()
    if v.startswith("<") and v.endswith(">"):
        v = v[1:-1]
    return v or None


def _client(value: str, row: Row) -> None:
    m = _CLIENT.match(value)
    if m is None:
        return
    host, ip, port = m.groups()
    if ip and ip != "unknown":
        row["source.ip"] = ip
    if host and host != "unknown":
        row["source.domain"] = host
    if port:
        row["source.port"] = int(port)


@dataclass(slots=True)
class _Msg:
    qid: str
    record: int
    ts: int  # UTC microseconds
    host: str | None
    lines: list[int] = field(default_factory=list)
    info: Row = field(default_factory=dict)  # schema columns and extra keys
    rcpt: dict[str, str] = field(default_factory=dict)  # recipient -> last status
    relay: str | None = None
    verdict: str | None = None  # reject / discard / hold from a check
    notes: list[str] = field(default_factory=list)

    def note(self, text: str) -> None:
        if len(self.notes) < _MAX_NOTES:
            self.notes.append(text)

    def feed(self, daemon: str, rest: str) -> bool:
        """Fold one line into the message; True when qmgr removed it."""
        if rest == "removed":
            return True
        if rest.startswith(("client=", "message-id=", "from=", "to=", "orig_")) or (
            "=" in rest.split(" ", 1)[0] and ", " in rest
        ):
            self._kv(rest)
        elif rest.startswith("uid="):  # pickup: "uid=1000 from=<root>", local submission
            kv = dict(_SPACE_KV.findall(rest))
            self.info["postfix.uid"] = kv.get("uid")
            self._sender(kv.get("from"))
        elif rest.startswith("sender non-delivery notification: "):
            self.info["postfix.ndr_queue_id"] = rest.rsplit(" ", 1)[-1]
        else:
            m = _SUBJECT.match(rest)
            if m:
                self.info["email.subject"] = _decode_subject(m[1])
            verb = rest.split(":", 1)[0]
            if verb in ("reject", "milter-reject", "discard", "hold"):
                self.verdict = "reject" if verb == "milter-reject" else verb
            self.note(f"{daemon}: {rest}")
        return False

    def _sender(self, sender: str | None) -> None:
        if sender is None:
            return
        addr = _addr(sender)
        if addr:
            self.info["email.from.address"] = addr
        else:
            self.info["postfix.null_sender"] = True

    def _kv(self, rest: str) -> None:
        status_text = None
        cut = rest.find(", status=")
        if cut >= 0:
            status_text = rest[cut + 9 :]
            rest = rest[:cut]
        elif rest.startswith("status="):
            status_text, rest = rest[7:], ""
        kv = dict(_KV.findall(rest))
        info = self.info
        if "client" in kv:
            _client(kv["client"], info)
        if "sasl_username" in kv:
            info["user.name"] = kv["sasl_username"]
        if "message-id" in kv:
            info["email.message_id"] = _addr(kv["message-id"])
        if "from" in kv:
            self._sender(kv["from"])
        if "size" in kv and kv["size"].isdigit():
            info["source.bytes"] = int(kv["size"])
        if "nrcpt" in kv:
            info["postfix.nrcpt"] = kv["nrcpt"].split(" ", 1)[0]
        status = status_text.split(" ", 1)[0] if status_text else None
        to = _addr(kv.get("to"))
        if to is not None:
            self.rcpt[to] = status or self.rcpt.get(to, "")
            if kv.get("relay") and (self.relay is None or status == "sent"):
                self.relay = kv["relay"]
            for key in ("delay", "delays", "dsn"):
                if key in kv:
                    info[f"postfix.{key}"] = kv[key]
        elif status:  # qmgr "from=<..>, status=expired, returned to sender"
            self.verdict = status
        if status_text:
            info["postfix.status_detail"] = status_text

    def row(self, complete: bool) -> Row:
        row: Row = {
            "@timestamp": self.ts, "event.category": "email", "observer.name": self.host,
            "observer.type": "mail", "observer.vendor": "postfix", "event.provider": "postfix",
            "postfix.queue_id": self.qid,
        }  # fmt: skip
        row.update(self.info)
        row.setdefault("email.message_id", self.qid)
        if "source.ip" in row:
            row["network.protocol"] = "smtp"  # received over SMTP, not from pickup
        statuses = list(self.rcpt.values())
        if self.rcpt:
            row["email.to.address"] = ",".join(self.rcpt)
            if len(set(statuses)) > 1:
                row["postfix.recipient_status"] = dict(self.rcpt)
        action = _overall(statuses) or self.verdict or ("removed" if complete else "queued")
        row["event.action"] = action
        row["event.outcome"] = (
            "success" if action == "sent" else "failure" if action in _FAILED else "unknown"
        )
        if self.relay:
            _relay(self.relay, row)
        if len(self.lines) > 1:
            row["postfix.lines"] = self.lines[1:]
        if self.notes:
            row["postfix.notes"] = self.notes
        if not complete:
            row["postfix.complete"] = False
        return row


def _overall(statuses: list[str]) -> str | None:
    known = [s for s in statuses if s]
    if not known:
        return None
    if all(s == "sent" for s in known):
        return "sent"
    for s in ("bounced", "expired", "undeliverable", "deferred"):
        if s in known:
            return s
    return known[-1]


def _relay(relay: str, row: Row) -> None:
    row["postfix.relay"] = relay
    m = _CLIENT.match(relay)
    if m is None:
        if relay not in ("none", "local"):
            row["destination.domain"] = relay
        return
    host, ip, port = m.groups()
    if host:
        row["destination.domain"] = host
    if ip:
        row["destination.ip"] = ip
    if port:
        row["destination.port"] = int(port)


def _noqueue(rest: str, row: Row) -> None:
    m = _NOQUEUE.match(rest)
    if m is None:
        verb = rest[9:].split(":", 1)[0].strip()
        row["event.action"] = verb or "noqueue"
        row["message"] = rest
        return
    verb, stage, client, reason, kvs = m.groups()
    row["event.action"] = "reject" if verb == "milter-reject" else verb
    row["event.outcome"] = "failure" if row["event.action"] in _FAILED else "unknown"
    row["event.category"] = "email"
    row["network.protocol"] = "smtp"
    row["message"] = reason
    row["postfix.stage"] = stage
    _client(client, row)
    for k, v in _SPACE_KV.findall(kvs or ""):
        if k == "from":
            row["email.from.address"] = _addr(v)
        elif k == "to":
            row["email.to.address"] = _addr(v)
        else:
            row[f"postfix.{k}"] = _addr(v) or v


def _small(rest: str, row: Row) -> None:
    """A postfix line without a queue id: keep it, with its verb and client."""
    row["message"] = rest
    sasl = _SASL.match(rest)
    if sasl:  # password guessing against submission: worth its own action
        _client(sasl[1], row)
        row["event.action"] = "sasl-auth-failed"
        row["event.outcome"] = "failure"
        row["event.category"] = "authentication"
        return
    m = _VERB.match(rest)
    if m:
        row["event.action"] = m[1].replace(" ", "-").replace("_", "-")
    idx = rest.find(" from ")
    if idx >= 0:
        _client(rest[idx + 6 :], row)
        if row.get("event.action") in ("connect", "disconnect"):
            row["event.category"] = "network"


def _line_row(ts: int, host: str | None, app: str | None, postfix: bool = True) -> Row:
    row: Row = {"@timestamp": ts, "observer.name": host, "observer.type": "mail",
                "event.provider": app}  # fmt: skip
    if postfix:
        row["observer.vendor"] = "postfix"
    return row


def _decode_subject(raw: str) -> str:
    """MIME encoded-words (``=?ISO-2022-JP?B?...?=``) as text; the raw form if undecodable."""
    if "=?" not in raw:
        return raw
    try:
        return str(make_header(decode_header(raw)))
    except (LookupError, ValueError, UnicodeDecodeError, HeaderParseError):
        return raw


def parse(source: Source) -> Iterator[pa.RecordBatch]:
    rows = Rows(source)
    state = source.year_state()
    open_: dict[str, _Msg] = {}
    daemons: dict[str | None, str | None] = {}  # program tag -> postfix daemon (or None)
    for first, lines in vx.line_arrays(source):
        env = syslog.peel(lines, source.tz, state)
        stamps = env.timestamp.cast(pa.int64()).to_pylist()
        hosts, apps = env.host.to_pylist(), env.app.to_pylist()
        texts = env.message.to_pylist()
        for i, ts in enumerate(stamps):
            record = first + i
            if ts is None:
                raw = lines[i].as_py() or ""
                if not raw.strip():
                    continue
                kind = env.kind[i].as_py()
                why = _NOT_SYSLOG if kind is None else "syslog line without a valid date"
                source.reject(record, why, raw)
                continue
            app = apps[i]
            if app in daemons:
                daemon = daemons[app]
            else:
                tag = _TAG.match(app) if app and app.startswith("postfix") else None
                daemon = daemons[app] = tag[1] if tag else None
            if daemon is None:
                row = _line_row(ts, hosts[i], app, postfix=False)
                row["message"] = texts[i]
                out = rows.add(record, row)
            else:
                out = _postfix_line(rows, open_, record, ts, hosts[i], daemon, app or "", texts[i])
            if out is not None:
                yield out
            while len(open_) > MAX_OPEN:
                oldest = next(iter(open_.values()))
                del open_[oldest.qid]
                out = rows.add(oldest.record, oldest.row(complete=False))
                if out is not None:
                    yield out
    for msg in sorted(open_.values(), key=lambda m: m.record):
        out = rows.add(msg.record, msg.row(complete=False))
        if out is not None:
            yield out
    out = rows.flush()
    if out is not None:
        yield out


def _postfix_line(
    rows: Rows,
    open_: dict[str, _Msg],
    record: int,
    ts: int,
    host: str | None,
    daemon: str,
    app: str,
    text: str,
) -> pa.RecordBatch | None:
    m = _QID.match(text)
    if m is None:
        row = _line_row(ts, host, app)
        if text.startswith("NOQUEUE: "):
            _noqueue(text, row)
        else:
            _small(text, row)
        return rows.add(record, row)
    qid, rest = m[1], m[2]
    msg = open_.get(qid)
    if msg is None:
        msg = open_[qid] = _Msg(qid, record, ts, host)
    if len(msg.lines) < _MAX_LINES:
        msg.lines.append(record)
    if msg.feed(daemon, rest):
        del open_[qid]
        return rows.add(msg.record, msg.row(complete=True))
    return None


def sniff(sample: Sample) -> bool:
    lines = sample.first_lines(40)
    if not lines:
        return False
    shaped = [ln for ln in lines if _SYSLOG_SHAPE.match(ln)]
    tagged = sum(1 for ln in shaped if _POSTFIX_TAG.search(ln))
    return (
        len(shaped) >= 0.8 * len(lines)
        and tagged >= min(3, len(lines))
        and tagged >= 0.3 * len(shaped)
    )


_SYSLOG_SHAPE = re.compile(
    r"(?:<\d{1,3}>)?(?:[A-Z][a-z]{2} [ \d]\d \d\d:\d\d:\d\d|<\d{1,3}>1 \S+) "
)
_POSTFIX_TAG = re.compile(r" postfix(?:-[\w.-]+)?(?:/[\w.-]+)+\[\d+\]: ")


FORMAT = Format(
    name="postfix",
    dataset="postfix.mail",
    description="Postfix maillog (syslog): one event per message joined by queue id, "
    "NOQUEUE rejects, connection lines",
    sniff=sniff,
    parse=parse,
    fields=(
        "@timestamp", "email.from.address", "email.to.address", "email.message_id",
        "email.subject", "source.ip", "source.port", "source.bytes", "user.name",
        "destination.domain", "destination.ip", "destination.port", "event.action",
        "event.outcome", "event.category", "network.protocol", "message", "observer.name",
        "observer.type", "observer.vendor",
    ),
)  # fmt: skip
