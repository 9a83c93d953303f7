"""Veeam Backup & Replication events sent by syslog (``Veeam_MP``, RFC 5424).

``<PRI>1 2024-02-03T03:40:00.123456+09:00 VBRSRV01 Veeam_MP - - [origin
enterpriseId="31023"] [categoryId=0 instanceId=23090 JobID="..." JobName="FS01 daily"
UserName="CORP\\svc_backup" VbrHostName="vbrsrv01.corp.example.jp" ...
Description="Backup job 'FS01 daily' has been deleted."]``

The same events (by the same ids) reach the Windows event log from the ``Veeam MP``
source; ``winevent`` maps those with :data:`ACTIONS`. Here: instanceId -> event.code,
the header time (with its offset; a time without one is read in the source's zone),
Description -> message, UserName -> user.name/user.domain, VbrHostName (else the header
host) -> host.name (short, lower case) and observer.name, JobName/VmName/RepositoryName
(or Name) -> extra ``veeam.job``/``veeam.vm``/``veeam.repository``. Values are read as
``Key="value"``; Veeam writes XML with unescaped quotes inside ChangesXML and
UserFullInfo, so a key is only taken the first time it appears.

event.dataset ``veeam.backup``, observer.type ``backup``, observer.vendor ``veeam``.
Lines that are not Veeam syslog messages are rejected.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import datetime
from typing import Any

import pyarrow as pa

from ashiato.formats.base import Format, Rows, Sample, Source

Row = dict[str, Any]

# instanceId -> (event.action, event.category): the deletions that take recovery away
ACTIONS: dict[int, tuple[str, str]] = {
    23090: ("backup-job-deleted", "configuration"),
    10050: ("restore-point-deleted", "file"),
    28200: ("repository-deleted", "configuration"),
    30200: ("repository-deleted", "configuration"),
    32200: ("repository-deleted", "configuration"),
    41402: ("repository-deleted", "configuration"),
}

HEADER = re.compile(
    r"^(?:<\d{1,3}>)?1 (?P<ts>\S+) (?P<host>\S+) (?P<app>Veeam[_\w-]*) \S+ \S+ (?P<rest>.*)$"
)
_INSTANCE = re.compile(r"\binstanceId=(?P<id>\d+)")
_KV = re.compile(r'(?P<k>[A-Za-z]\w*)="(?P<v>(?:[^"\\]|\\.)*)"')


def sniff(sample: Sample) -> bool:
    return sample.mostly(lambda ln: HEADER.match(ln) and _INSTANCE.search(ln))


def parse(source: Source) -> Iterator[pa.RecordBatch]:
    rows = Rows(source)
    for record, line in source.lines():
        if not line.strip():
            continue
        m = HEADER.match(line)
        ts = _time(m["ts"]) if m else None
        if m is None or ts is None:
            source.reject(record, "not a Veeam syslog message (RFC 5424, Veeam_MP)", line)
            continue
        batch = rows.add(record, _row(m, ts))
        if batch is not None:
            yield batch
    batch = rows.flush()
    if batch is not None:
        yield batch


def _time(text: str) -> datetime | None:
    try:
        return datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        return None


def _unescape(value: str) -> str:
    return re.sub(r'\\(["\\\]])', r"\1", value)


def _row(m: re.Match[str], ts: datetime) -> Row:
    rest = m["rest"]
    kv: dict[str, str] = {}
    for pair in _KV.finditer(rest):
        kv.setdefault(pair["k"], _unescape(pair["v"]))
    row: Row = {
        "@timestamp": ts,
        "event.provider": m["app"],
        "observer.type": "backup",
        "observer.vendor": "veeam",
        "message": kv.get("Description"),
    }
    instance = _INSTANCE.search(rest)
    if instance:
        row["event.code"] = instance["id"]
        spec = ACTIONS.get(int(instance["id"]))
        if spec:
            row["event.action"], row["event.category"] = spec
            row["event.outcome"] = "success"
    user = kv.get("UserName", "").strip()
    if user:
        dom, sep, name = user.rpartition("\\")
        row["user.name"] = name if sep else user
        if sep and dom:
            row["user.domain"] = dom
    server = kv.get("VbrHostName") or m["host"]
    if server and server != "-":
        row["host.name"] = server.split(".", 1)[0].lower()
        row["observer.name"] = server
    row["veeam.job"] = kv.get("JobName")
    row["veeam.vm"] = kv.get("VmName")
    row["veeam.repository"] = kv.get("RepositoryName") or kv.get("Name")
    return row


FORMAT = Format(
    name="veeam",
    dataset="veeam.backup",
    description="Veeam Backup & Replication syslog events (Veeam_MP, RFC 5424)",
    sniff=sniff,
    parse=parse,
    fields=(
        "@timestamp", "event.code", "event.action", "event.category", "event.outcome",
        "event.provider", "message", "user.name", "user.domain", "host.name",
        "observer.name", "observer.type", "observer.vendor", "extra",
    ),
)  # fmt: skip
