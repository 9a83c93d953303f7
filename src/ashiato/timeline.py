"""The case's events in time order, filtered the way a responder pivots.

Filters are Ibis expressions with the user's values as literals: nothing typed on the
command line (or found in a log) is pasted into SQL text.
"""

from __future__ import annotations

import functools
import operator
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

import pyarrow as pa

from ashiato.case import Case
from ashiato.errors import QueryError
from ashiato.normalize import host_key

SEARCHED = (
    "message",
    "url.original",
    "file.path",
    "process.command_line",
    "process.executable",
    "rule.name",
    "dns.question.name",
    "email.subject",
    "email.attachments",
    "user.name",
    "host.hostname",
    "extra",
)

COLUMNS = (
    "@timestamp",
    "event.dataset",
    "event.code",
    "event.action",
    "host.name",
    "user.name",
    "source.ip",
    "source.port",
    "destination.ip",
    "destination.port",
    "url.original",
    "file.path",
    "process.command_line",
    "rule.name",
    "message",
    "evidence_id",
    "record",
)


@dataclass(frozen=True)
class Filters:
    host: str | None = None
    user: str | None = None
    ip: str | None = None
    start: str | None = None
    end: str | None = None
    search: str | None = None
    dataset: str | None = None


def parse_time(text: str, tz: str) -> datetime:
    """ISO 8601 date or date-time; without an offset it is read in the case zone."""
    try:
        value = datetime.fromisoformat(text.strip().replace("Z", "+00:00"))
    except ValueError as exc:
        raise QueryError(
            f"can't read time {text!r}; use ISO 8601, e.g. 2015-09-09T11:45:00+09:00"
        ) from exc
    if value.tzinfo is None:
        value = value.replace(tzinfo=ZoneInfo(tz))
    return value


def query(case: Case, filters: Filters, *, tz: str | None = None) -> Any:
    """An Ibis expression over ``events`` with the filters applied, oldest first."""
    con = case.ibis()
    t = con.table("events")
    zone = tz or case.tz
    conds = []
    if filters.host:
        key = host_key(filters.host)
        conds.append((t["host.name"] == key) | (t["host.ip"] == filters.host))
    if filters.user:
        conds.append(t["user.name"].lower() == filters.user.lower())
    if filters.ip:
        ip = filters.ip
        conds.append((t["source.ip"] == ip) | (t["destination.ip"] == ip) | (t["host.ip"] == ip))
    if filters.start:
        conds.append(t["@timestamp"] >= parse_time(filters.start, zone))
    if filters.end:
        conds.append(t["@timestamp"] <= parse_time(filters.end, zone))
    if filters.dataset:
        conds.append(t["event.dataset"].like(filters.dataset.replace("*", "%")))
    if filters.search:
        needle = filters.search.lower()
        hits = [t[col].lower().contains(needle).fill_null(False) for col in SEARCHED]
        conds.append(functools.reduce(operator.or_, hits))
    if conds:
        t = t.filter(conds)
    return t.order_by([t["@timestamp"], t["evidence_id"], t["record"]])


def batches(case: Case, filters: Filters, limit: int | None = None) -> Iterator[pa.RecordBatch]:
    expr = query(case, filters)
    if limit is not None:
        expr = expr.limit(limit)
    yield from expr.to_pyarrow_batches(chunk_size=65_536)
