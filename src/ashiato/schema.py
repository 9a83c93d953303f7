"""The normalised event schema, declared once.

Column names follow the Elastic Common Schema (ECS) where ECS has a name; the few
ashiato extensions are marked in their description. The Arrow schema, the DuckDB DDL
and docs/schema.md are all derived from ``FIELDS``.

Every row carries ``evidence_id`` and ``record`` (line number for text, EventRecordID for
EVTX) so that ``ashiato show`` can print the original record. Fields a format knows but
the schema lacks go to ``extra`` (a JSON object), never dropped.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import pyarrow as pa

TS = pa.timestamp("us", tz="UTC")


@dataclass(frozen=True)
class Field:
    name: str
    type: pa.DataType
    description: str


FIELDS: tuple[Field, ...] = (
    Field("@timestamp", TS, "When the event happened, UTC."),
    Field("event.dataset", pa.string(), "Source kind, e.g. windows.security, squid.access."),
    Field("event.code", pa.string(), "Vendor event code (EventID, log id, status)."),
    Field("event.action", pa.string(), "What happened, vendor wording normalised to lower case."),
    Field("event.category", pa.string(), "ECS category: network, web, authentication, file..."),
    Field("event.outcome", pa.string(), "success, failure or unknown."),
    Field("event.severity", pa.int32(), "Vendor severity as a number where one exists."),
    Field("event.provider", pa.string(), "Log provider or channel (EVTX Provider, device type)."),
    Field("message", pa.string(), "Short human-readable summary, when the source has one."),
    Field("source.ip", pa.string(), "Initiator address."),
    Field("source.port", pa.int32(), "Initiator port."),
    Field("source.bytes", pa.int64(), "Bytes sent by the initiator."),
    Field("destination.ip", pa.string(), "Responder address."),
    Field("destination.port", pa.int32(), "Responder port."),
    Field("destination.bytes", pa.int64(), "Bytes sent by the responder."),
    Field("destination.domain", pa.string(), "Responder host name when logged."),
    Field("network.transport", pa.string(), "tcp, udp, icmp..."),
    Field("network.protocol", pa.string(), "Application protocol: http, smb, smtp, dns..."),
    Field("host.name", pa.string(), "Host name normalised for joining: lower case, short form."),
    Field("host.hostname", pa.string(), "Host name as the log wrote it."),
    Field("host.ip", pa.string(), "Address of the host the event is about."),
    Field("host.mac", pa.string(), "MAC address of that host (DHCP)."),
    Field("user.name", pa.string(), "Account name, without domain."),
    Field("user.domain", pa.string(), "Account domain."),
    Field("user.id", pa.string(), "Account SID or id."),
    Field("winlog.logon.id", pa.string(), "Windows logon id (hex), joins 4624 with 4663/5145."),
    Field("winlog.logon.type", pa.int32(), "Windows logon type (2, 3, 10...)."),
    Field("process.pid", pa.int64(), "Process id (decimal)."),
    Field("process.executable", pa.string(), "Full image path."),
    Field("process.name", pa.string(), "Image file name."),
    Field("process.command_line", pa.string(), "Command line."),
    Field("process.parent.pid", pa.int64(), "Parent process id."),
    Field("process.parent.executable", pa.string(), "Parent image path."),
    Field("process.hash", pa.string(), "Hashes as logged (Sysmon Hashes=...)."),
    Field("file.path", pa.string(), "Full path of the file."),
    Field("file.name", pa.string(), "File name (basename)."),
    Field("file.extension", pa.string(), "Extension without dot, lower case."),
    Field("file.directory", pa.string(), "Folder containing the file."),
    Field("file.size", pa.int64(), "Size in bytes."),
    Field("file.owner", pa.string(), "Owner account as logged (DOMAIN\\user or SID)."),
    Field("file.created", TS, "Creation time, UTC."),
    Field("file.mtime", TS, "Last write time, UTC."),
    Field("file.share", pa.string(), "ashiato: SMB share name (5140/5145)."),
    Field("file.access_mask", pa.int64(), "ashiato: access mask bits (4663/5145)."),
    Field("file.hash", pa.string(), "File hash(es) as logged."),
    Field("url.original", pa.string(), "Requested URL as logged."),
    Field("url.domain", pa.string(), "Host part of the URL, lower case."),
    Field("url.path", pa.string(), "Path (and query) of the URL."),
    Field("http.request.method", pa.string(), "HTTP method."),
    Field("http.request.referrer", pa.string(), "Referer header."),
    Field("http.response.status_code", pa.int32(), "HTTP status."),
    Field("http.response.mime_type", pa.string(), "Response content type."),
    Field("user_agent.original", pa.string(), "User agent."),
    Field("dns.question.name", pa.string(), "Queried name, lower case, no trailing dot."),
    Field("dns.answers", pa.string(), "Answers as logged."),
    Field("email.from.address", pa.string(), "Sender."),
    Field("email.to.address", pa.string(), "Recipients, comma separated."),
    Field("email.subject", pa.string(), "Subject."),
    Field("email.attachments", pa.string(), "Attachment file names, comma separated."),
    Field("email.message_id", pa.string(), "Message-ID or queue id."),
    Field("rule.name", pa.string(), "Signature, rule or threat name."),
    Field("rule.id", pa.string(), "Signature or rule id."),
    Field("rule.category", pa.string(), "Signature category or classification."),
    Field("observer.name", pa.string(), "Device that logged the event (firewall, proxy, IDS)."),
    Field("observer.type", pa.string(), "firewall, proxy, ids, antivirus, mail, dhcp..."),
    Field("observer.vendor", pa.string(), "Vendor of the observer."),
    Field("extra", pa.string(), "JSON object of every field the schema lacks."),
    Field("evidence_id", pa.string(), "The evidence file this row came from."),
    Field("record", pa.int64(), "Line number (text) or record number (EVTX) in that file."),
)

NAMES: tuple[str, ...] = tuple(f.name for f in FIELDS)
EVENT_SCHEMA = pa.schema([pa.field(f.name, f.type) for f in FIELDS])
_TYPES: dict[str, pa.DataType] = {f.name: f.type for f in FIELDS}


def quote(name: str) -> str:
    """Quote a schema column for DuckDB; names come from FIELDS, never from logs."""
    if name not in _TYPES and not name.replace("_", "").isalnum():
        raise ValueError(f"not a schema column: {name!r}")
    return '"' + name.replace('"', '""') + '"'


def duckdb_type(t: pa.DataType) -> str:
    if pa.types.is_timestamp(t):
        return "TIMESTAMPTZ"
    if pa.types.is_int64(t):
        return "BIGINT"
    if pa.types.is_int32(t):
        return "INTEGER"
    return "VARCHAR"


def events_ddl(table: str = "events") -> str:
    cols = ",\n  ".join(f"{quote(f.name)} {duckdb_type(f.type)}" for f in FIELDS)
    return f"CREATE TABLE IF NOT EXISTS {table} (\n  {cols}\n)"


def batch_from_columns(
    columns: Mapping[str, Sequence[Any] | pa.Array | pa.ChunkedArray], length: int
) -> pa.RecordBatch:
    """Build a full-schema batch from the columns a format filled; the rest are null.

    Values are cast to the declared type, so a format may hand over strings for
    numeric fields (``"445"``); values that don't cast become null rather than failing
    the batch, and the format should have rejected such a record already.
    """
    arrays: list[pa.Array] = []
    for f in FIELDS:
        col = columns.get(f.name)
        if col is None:
            arrays.append(pa.nulls(length, type=f.type))
            continue
        arrays.append(_as_array(col, f.type, f.name))
    return pa.RecordBatch.from_arrays(arrays, schema=EVENT_SCHEMA)


def _as_array(col: Any, typ: pa.DataType, name: str) -> pa.Array:
    if isinstance(col, pa.ChunkedArray):
        col = col.combine_chunks()
    if not isinstance(col, pa.Array):
        try:
            return pa.array(col, type=typ)
        except (pa.ArrowInvalid, pa.ArrowTypeError, OverflowError):
            col = pa.array(col)
    if col.type == typ:
        return col
    if pa.types.is_timestamp(typ) and pa.types.is_timestamp(col.type) and col.type.tz is None:
        raise ValueError(f"{name}: naive timestamps must be localised before batching")
    try:
        return col.cast(typ)
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
        import pyarrow.compute as pc

        if pa.types.is_integer(typ):
            txt = col.cast(pa.string())
            ok = pc.match_substring_regex(txt, r"^-?\d+$")
            return pc.if_else(ok, txt, pa.scalar(None, pa.string())).cast(typ)
        return col.cast(pa.string()).cast(typ)


def markdown() -> str:
    """docs/schema.md, generated from FIELDS (a test keeps the file in step)."""
    lines = [
        "# The event schema",
        "",
        "Generated from `src/ashiato/schema.py` by `python -m ashiato.schema > docs/schema.md`.",
        "Times are UTC. `extra` holds every vendor field the schema lacks, as a JSON object.",
        "",
        "| column | type | meaning |",
        "|---|---|---|",
    ]
    for f in FIELDS:
        lines.append(f"| `{f.name}` | {duckdb_type(f.type)} | {f.description} |")
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    print(markdown(), end="")
