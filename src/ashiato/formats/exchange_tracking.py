"""Exchange message tracking logs (``MSGTRK*.LOG``; domain.md 3.14) and their PowerShell export.

The log is CSV after ``#Software``, ``#Version``, ``#Log-type: Message Tracking Log``,
``#Date`` and ``#Fields:`` lines; ``#Fields:`` names the columns (Exchange 2013+ has 30,
2010 has 26) and the columns are read by that name. A file whose header was cut off
is read with the 2013 or 2010 column set when its records have 30 or 26 fields.
``Get-MessageTrackingLog | Export-Csv`` writes the same events with PowerShell names
(``Timestamp``, ``ClientIp``, ``EventId``, ``Recipients``, ``Sender``...): they are mapped
to the same columns.

One event per line:

- ``date-time`` (UTC, ``Z``) -> ``@timestamp``; the PowerShell ``Timestamp`` is the
  exporting machine's local time without offset and is read in the source's zone;
- ``event-id`` -> event.code as written and event.action in lower case (receive,
  send, deliver, fail, defer, dsn, expand, redirect, resolve, submit, transfer,
  agentinfo, drop...); event.outcome failure for FAIL and DROP, success for the
  delivery steps, none for DEFER, DSN and the agent/bookkeeping events;
- ``source`` (SMTP, STOREDRIVER, AGENT...) -> event.provider (``SMTP`` also gives
  network.protocol ``smtp``);
- ``client-ip`` -> source.ip, ``server-ip`` -> destination.ip; observer.name is the
  server that wrote the line: ``server-hostname``, except for SEND where that is the
  next hop (-> destination.domain) and ``client-hostname`` is the sending server;
- ``sender-address`` -> email.from.address, ``recipient-address`` (``;``-separated) ->
  email.to.address comma-separated, ``message-subject`` -> email.subject,
  ``message-id`` -> email.message_id;
- every other column (client-hostname, connector-id, source-context,
  internal-message-id, network-message-id, recipient-status, total-bytes,
  recipient-count, return-path, directionality, original-client-ip, ...) -> ``extra``
  under its ``#Fields:`` name. Export-Csv writes ``System.String[]`` for list values
  (the recipients are lost in such an export): those columns are named in extra
  ``export_lost`` instead.

event.category email, observer.type mail, observer.vendor microsoft.
"""

from __future__ import annotations

import csv
import re
from collections.abc import Iterator
from datetime import datetime
from typing import Any

import pyarrow as pa

from ashiato.formats.base import Format, Rows, Sample, Source
from ashiato.formats.synonyms import TimeReader

Row = dict[str, Any]

FIELDS_2013 = (
    "date-time,client-ip,client-hostname,server-ip,server-hostname,source-context,"
    "connector-id,source,event-id,internal-message-id,message-id,network-message-id,"
    "recipient-address,recipient-status,total-bytes,recipient-count,"
    "related-recipient-address,reference,message-subject,sender-address,return-path,"
    "message-info,directionality,tenant-id,original-client-ip,original-server-ip,"
    "custom-data,transport-traffic-type,log-id,schema-version"
).split(",")
FIELDS_2010 = [f for f in FIELDS_2013 if f not in (
    "network-message-id", "transport-traffic-type", "log-id", "schema-version"
)]  # fmt: skip
# PowerShell (Get-MessageTrackingLog) property -> #Fields name
_POWERSHELL = {
    "timestamp": "date-time", "clientip": "client-ip", "clienthostname": "client-hostname",
    "serverip": "server-ip", "serverhostname": "server-hostname",
    "sourcecontext": "source-context", "connectorid": "connector-id", "source": "source",
    "eventid": "event-id", "internalmessageid": "internal-message-id",
    "messageid": "message-id", "networkmessageid": "network-message-id",
    "recipients": "recipient-address", "recipientstatus": "recipient-status",
    "totalbytes": "total-bytes", "recipientcount": "recipient-count",
    "relatedrecipientaddress": "related-recipient-address", "reference": "reference",
    "messagesubject": "message-subject", "sender": "sender-address",
    "returnpath": "return-path", "messageinfo": "message-info",
    "directionality": "directionality", "tenantid": "tenant-id",
    "originalclientip": "original-client-ip", "originalserverip": "original-server-ip",
    "eventdata": "custom-data", "customdata": "custom-data",
}  # fmt: skip
_MAPPED = {
    "client-ip": "source.ip", "server-ip": "destination.ip", "message-id": "email.message_id",
    "sender-address": "email.from.address", "message-subject": "email.subject",
    "source": "event.provider",
}  # fmt: skip
_INTS = frozenset({"total-bytes", "recipient-count"})
_FAILED = frozenset({"FAIL", "DROP", "BADMAIL", "POISONMESSAGE"})
_UNDECIDED = frozenset({"DEFER", "DSN", "AGENTINFO", "NOTIFYMAPI", "HAREDIRECT",
                        "HARECEIVE", "HADISCARD", "INITMESSAGECREATED", "PROCESS"})  # fmt: skip
# Export-Csv writes a .NET type name for arrays: the values are lost, not empty
_LOST = re.compile(r"^System\.[\w.`\[\],]*\[\]$")
_LOG_TYPE = re.compile(r"^\ufeff?#Log-type:\s*Message Tracking Log", re.I)
_FIELDS_2013_START = "#Fields: date-time,client-ip,"


def _key(name: str) -> str:
    return re.sub(r"[^a-z]", "", name.lower())


def _powershell_header(fields: list[str]) -> list[str] | None:
    """The #Fields names of a PowerShell export header, or None if it isn't one."""
    keys = [_key(f.lstrip("\ufeff")) for f in fields]
    if not {"timestamp", "eventid", "messageid"} <= set(keys):
        return None
    if not {"recipients", "sender"} & set(keys):
        return None
    return [_POWERSHELL.get(k, f.strip()) for k, f in zip(keys, fields, strict=True)]


def sniff(sample: Sample) -> bool:
    lines = sample.first_lines(8)
    for line in lines:
        if _LOG_TYPE.match(line) or line.lstrip("\ufeff").startswith(_FIELDS_2013_START):
            return True
    for line in lines[:3]:
        if line.lstrip("\ufeff").startswith("#TYPE "):
            continue
        return _powershell_header(next(csv.reader([line]), [])) is not None
    return False


def parse(source: Source) -> Iterator[pa.RecordBatch]:
    rows = Rows(source)
    fields: list[str] | None = None
    local_times = TimeReader(None, False)  # PowerShell en-US: M/D/YYYY h:mm:ss AM
    with source.text_stream() as fh:
        reader = csv.reader(fh)
        prev = 0
        while True:
            try:
                rec = next(reader)
            except StopIteration:
                break
            except csv.Error as exc:
                source.reject(prev + 1, f"unreadable CSV record: {exc}", "")
                prev = reader.line_num
                continue
            record, prev = prev + 1, reader.line_num
            if not rec or (len(rec) == 1 and not rec[0].strip()):
                continue
            head = rec[0].lstrip("\ufeff")
            if head.startswith("#"):
                if head.startswith("#Fields:"):
                    fields = [head[len("#Fields:") :].strip(), *rec[1:]]
                continue
            ps = _powershell_header(rec) if fields is None else None
            if ps is not None:
                fields = ps
                continue
            names = fields or _default(len(rec))
            if names is None:
                source.reject(record, "no #Fields: header before the record", _raw(rec))
                continue
            if len(rec) != len(names):
                reason = f"expected {len(names)} fields (as in #Fields:), got {len(rec)}"
                source.reject(record, reason, _raw(rec))
                continue
            row = _row(dict(zip(names, rec, strict=True)), local_times)
            if row is None:
                source.reject(record, "date-time is not a readable time", _raw(rec))
                continue
            batch = rows.add(record, row)
            if batch is not None:
                yield batch
    batch = rows.flush()
    if batch is not None:
        yield batch


def _default(n: int) -> list[str] | None:
    if n == len(FIELDS_2013):
        return FIELDS_2013
    if n == len(FIELDS_2010):
        return FIELDS_2010
    return None


def _raw(rec: list[str]) -> str:
    return ",".join(f'"{v}"' if "," in v else v for v in rec)


def _row(rec: dict[str, str], local_times: TimeReader) -> Row | None:
    text = rec.get("date-time", "").strip()
    when: datetime | None
    try:
        when = datetime.fromisoformat(text)
    except ValueError:
        when = local_times(text) if text else None
    if when is None:
        return None
    event = rec.get("event-id", "").strip().upper()
    row: Row = {
        "@timestamp": when,
        "event.category": "email",
        "observer.type": "mail",
        "observer.vendor": "microsoft",
    }
    if event:
        row["event.code"] = event
        row["event.action"] = event.lower()
        if event in _FAILED:
            row["event.outcome"] = "failure"
        elif event not in _UNDECIDED:
            row["event.outcome"] = "success"
    for name, value in rec.items():
        value = value.strip()
        if not value or value == "-" or name in ("date-time", "event-id"):
            continue
        if _LOST.match(value):
            row.setdefault("export_lost", []).append(name)
            continue
        target = _MAPPED.get(name)
        if target is not None:
            row[target] = value
        elif name == "recipient-address":
            row["email.to.address"] = ",".join(p.strip() for p in value.split(";") if p.strip())
        elif name in _INTS and value.isdigit():
            row[name] = int(value)
        else:
            row[name] = value
    if row.get("event.provider", "").upper() == "SMTP":
        row["network.protocol"] = "smtp"
    # the server that wrote the line: the receiving one, or for SEND the sending one
    here, there = row.get("server-hostname"), row.get("client-hostname")
    if event == "SEND":
        here, there = there, here
        if there:
            row["destination.domain"] = there
    if here:
        row["observer.name"] = here
    return row


FORMAT = Format(
    name="exchange_tracking",
    dataset="exchange.tracking",
    description="Exchange message tracking log (MSGTRK*.LOG, #Fields: CSV) or its "
    "Get-MessageTrackingLog | Export-Csv export",
    sniff=sniff,
    parse=parse,
    fields=(
        "@timestamp", "event.code", "event.action", "event.category", "event.outcome",
        "event.provider", "source.ip", "destination.ip", "network.protocol",
        "email.from.address", "email.to.address", "email.subject", "email.message_id",
        "destination.domain", "observer.name", "observer.type", "observer.vendor", "extra",
    ),
)  # fmt: skip
