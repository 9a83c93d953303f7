"""Windows DNS Server debug log (``%SystemRoot%\\System32\\dns\\dns.log``; domain.md 3.19).

After a header block (``DNS Server log file creation at ...``, the field key table),
each packet is one line::

    2015/09/09 11:47:30 0A3C PACKET  0000008A1B2C3D40 UDP Rcv 10.20.3.41      1130   Q
        [0001   D   NOERROR] A      (8)ip-addr(2)es(0)   (one line)

date, time (the server's locale: ``2015/09/09 11:47:30`` ja-JP, ``9/9/2015 11:47:30 AM``
en-US, day-first ``09/09/2015`` or ``09.09.2015`` elsewhere; local time, read in the
source's zone; whether ``a/b/yyyy`` is day-first is decided from the file's first
dates), thread id, context, packet id, protocol, ``Snd``/``Rcv``, remote address,
transaction id, ``R`` for responses, opcode (``Q`` query, ``N`` notify, ``U`` update),
``[flags-hex flag-chars RCODE]``, question type and the name in length-prefixed labels.

Mapping: the remote address is the packet's sender for ``Rcv`` (-> source.ip) and its
receiver for ``Snd`` (-> destination.ip): a client's query to this server is ``Rcv``
with the client in source.ip. Name -> dns.question.name (``ip-addr.es``); event.action
``query``/``response`` (``notify``/``update`` for those opcodes); event.outcome success
for a NOERROR response, failure for other response codes; network.transport udp/tcp,
network.protocol dns; extra ``dns.id``, ``dns.question.type``, ``dns.response_code``,
``dns.header_flags`` (A authoritative, T truncated, D recursion desired, R recursion
available), ``dns.direction`` (received/sent), ``thread``.

With "details" logging on, an indented dump follows each packet: its ``Remote addr
..., port N`` gives the port, and the ``DATA`` lines of its ANSWER SECTION become
dns.answers (comma-separated). The header block, the dump lines and blank lines are
not records; dated lines other than PACKET (``EVENT``, ``Note``) are kept with their
text in ``message``. Anything else is rejected.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

import pyarrow as pa

from ashiato.formats.base import Format, Rows, Sample, Source
from ashiato.formats.synonyms import TimeReader, slashed_order

Row = dict[str, Any]

_DATED = re.compile(
    r"^(?P<date>\d{1,4}[/.-]\d{1,2}[/.-]\d{1,4}) (?P<time>\d{1,2}:\d\d:\d\d)"
    r"(?: ?(?P<ampm>AM|PM|am|pm|午前|午後))? (?P<rest>.*)$"
)
_PACKET = re.compile(
    r"^(?P<thread>[0-9A-Fa-f]+) PACKET\s+(?P<pkt>[0-9A-Fa-f]+) (?P<proto>UDP|TCP) "
    r"(?P<dir>Snd|Rcv) (?P<ip>\S+)\s+(?P<xid>[0-9A-Fa-f]+) (?P<resp>[R ]) (?P<op>[QNU?]) "
    r"\[(?P<flags>[0-9A-Fa-f]{4})(?P<fchars>[ ATDR]*?)\s*(?P<rcode>[A-Z]+)\]\s+"
    r"(?P<qtype>\S+)\s+(?P<qname>\S+)"
)
_OTHER = re.compile(r"^(?P<thread>[0-9A-Fa-f]+) (?P<context>[A-Z]+)\s+(?P<text>.*)$")
_LABEL = re.compile(r"\(\d+\)")
_HEADER = re.compile(
    r"^(?:DNS Server log file creation|Log file wrap at|Message logging key|Field #|"
    r"(?:UDP|TCP) (?:question|response|packet) info at|-{3,})"
)
_REMOTE = re.compile(r"^\s+Remote addr (?P<ip>[^,\s]+), port (?P<port>\d+)")
_DATA = re.compile(r"^\s+DATA\s+(?P<value>.+?)\s*$")
_SECTION = re.compile(r"^\s+(?P<name>[A-Z]+) SECTION:")
_ACTIONS = {"Q": "query", "N": "notify", "U": "update", "?": "unknown"}


def sniff(sample: Sample) -> bool:
    lines = sample.first_lines(40)
    if any(ln.startswith("DNS Server log file creation at") for ln in lines[:3]):
        return True
    dated = [ln for ln in lines if _DATED.match(ln)]
    hits = 0
    for ln in dated:
        m = _DATED.match(ln)
        if m and _PACKET.match(m["rest"]):
            hits += 1
    return bool(dated) and hits >= max(1, (len(dated) + 1) // 2)


def _day_first(source: Source) -> bool:
    """Whether ``a/b/yyyy`` dates are day-first: the first date that tells, else no."""
    for number, line in source.lines():
        m = _DATED.match(line)
        if m:
            if m["ampm"]:
                return False  # 12-hour clocks go with month-first (en-US)
            order = slashed_order(m["date"])
            if order is not None:
                return order
            if m["date"][:4].isdigit():
                return False
        if number > 5000:
            break
    return False


class _Pending:
    """The packet being read: its detail dump may still add the port and answers."""

    def __init__(self) -> None:
        self.record = 0
        self.row: Row | None = None
        self.section = ""
        self.answers: list[str] = []

    def start(self, record: int, row: Row) -> None:
        self.record, self.row, self.section, self.answers = record, row, "", []

    def detail(self, line: str) -> None:
        row = self.row
        if row is None:
            return
        m = _SECTION.match(line)
        if m:
            self.section = m["name"]
            return
        m = _REMOTE.match(line)
        if m:
            key = "source.port" if row.get("dns.direction") == "received" else "destination.port"
            row[key] = int(m["port"])
            return
        if self.section == "ANSWER":
            m = _DATA.match(line)
            if m:
                self.answers.append(m["value"])

    def finish(self) -> tuple[int, Row] | None:
        row, self.row = self.row, None
        if row is None:
            return None
        if self.answers:
            row["dns.answers"] = ",".join(self.answers)
        return self.record, row


def parse(source: Source) -> Iterator[pa.RecordBatch]:
    reader = TimeReader(None, _day_first(source))
    rows = Rows(source)
    pending = _Pending()
    seen_record = False
    for number, line in source.lines():
        m = _DATED.match(line)
        if m is None:
            if not line.strip() or line[:1] in (" ", "\t") or _HEADER.match(line):
                if line[:1] in (" ", "\t"):
                    pending.detail(line)
                continue
            if not seen_record and number < 40:
                continue  # the rest of the header block
            source.reject(number, "not a DNS debug log line (no date and time)", line)
            continue
        done = pending.finish()
        if done is not None and (batch := rows.add(*done)) is not None:
            yield batch
        stamp = f"{m['date']} {m['time']}" + (f" {m['ampm']}" if m["ampm"] else "")
        when = reader(stamp)
        if when is None:
            source.reject(number, f"unreadable date and time: {stamp!r}", line)
            continue
        seen_record = True
        row = _packet(m["rest"]) or _other(m["rest"])
        row["@timestamp"] = when
        pending.start(number, row)
    done = pending.finish()
    if done is not None and (batch := rows.add(*done)) is not None:
        yield batch
    batch = rows.flush()
    if batch is not None:
        yield batch


def _base() -> Row:
    return {"observer.type": "dns", "observer.vendor": "microsoft", "event.category": "network"}


def _packet(rest: str) -> Row | None:
    p = _PACKET.match(rest)
    if p is None:
        return None
    response = p["resp"] == "R"
    received = p["dir"] == "Rcv"
    action = _ACTIONS.get(p["op"], "unknown") + ("-response" if response and p["op"] != "Q" else "")
    if p["op"] == "Q":
        action = "response" if response else "query"
    row = _base() | {
        "event.action": action,
        "network.transport": p["proto"].lower(),
        "network.protocol": "dns",
        "dns.question.name": _LABEL.sub(".", p["qname"]).strip(".") or ".",
        "dns.id": p["xid"],
        "dns.question.type": p["qtype"],
        "dns.direction": "received" if received else "sent",
        "thread": p["thread"],
    }
    if received:
        row["source.ip"] = p["ip"]
    else:
        row["destination.ip"] = p["ip"]
    if response:
        row["dns.response_code"] = p["rcode"]
        row["event.outcome"] = "success" if p["rcode"] == "NOERROR" else "failure"
    chars = p["fchars"].replace(" ", "")
    if chars:
        row["dns.header_flags"] = chars
    return row


def _other(rest: str) -> Row:
    row = _base()
    o = _OTHER.match(rest)
    if o is None:
        row["message"] = rest.strip()
        return row
    row["message"] = o["text"].strip()
    row["thread"] = o["thread"]
    row["event.provider"] = o["context"].lower()
    return row


FORMAT = Format(
    name="windows_dns",
    dataset="windows.dns",
    description="Windows DNS Server debug log (dns.log): queries and responses per packet",
    sniff=sniff,
    parse=parse,
    fields=(
        "@timestamp", "event.action", "event.category", "event.outcome", "event.provider",
        "message", "source.ip", "source.port", "destination.ip", "destination.port",
        "network.transport", "network.protocol", "dns.question.name", "dns.answers",
        "observer.type", "observer.vendor", "extra",
    ),
)  # fmt: skip
