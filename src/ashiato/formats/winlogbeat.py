"""Windows events shipped by Winlogbeat (7.x, 8.x) as JSON lines, or as Elasticsearch hits.

One document per line: ECS fields beside a ``winlog`` object holding the Windows side
(``channel``, ``event_id``, ``provider_name``, ``computer_name``, ``record_id``,
``event_data`` or ``user_data``, ``process.pid``, ``user.identifier``). A document may
come wrapped as an Elasticsearch hit (``{"_index": ..., "_source": {...}}``). Winlogbeat 7
writes ``event_id`` as a number, 8 as a string; both are read. The event is rebuilt and
mapped by the same code as EVTX (``winevent``).

Time: Winlogbeat sets ``@timestamp`` from the event record itself (the event's
TimeCreated, UTC), and ``event.created`` when it read the record, so a shipping backlog
shows in ``event.created`` only; ``winlog.time_created`` (8.x), when present, is the
record's own time and wins. ``record`` is the line; the record ID is kept as
``winlog.record_id``.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any

import pyarrow as pa

from ashiato.formats.base import Format, Sample, Source
from ashiato.formats.winevent import FIELDS, Row, WinEvent, integer, to_row, utc_text
from ashiato.formats.winevent_rows import json_line_events, sniff_json_line

_WHAT = "a Winlogbeat document (needs winlog.event_id and winlog.channel or provider_name)"
_OUTCOMES = ("success", "failure")


def sniff(sample: Sample) -> bool:
    return sniff_json_line(
        sample, _is_event, lambda head: '"winlog":{' in head and '"event_id":' in head
    )


def _doc(obj: Any) -> Mapping[str, Any] | None:
    if not isinstance(obj, dict):
        return None
    source = obj.get("_source")
    return source if isinstance(source, dict) else obj


def _is_event(obj: Any) -> bool:
    doc = _doc(obj)
    if doc is None:
        return False
    winlog = doc.get("winlog")
    return (
        isinstance(winlog, dict)
        and winlog.get("event_id") not in (None, "")
        and bool(winlog.get("channel") or winlog.get("provider_name"))
    )


def _get(node: Any, *path: str) -> Any:
    for key in path:
        if not isinstance(node, dict):
            return None
        node = node.get(key)
    return node


def _event(doc: Mapping[str, Any]) -> WinEvent:
    winlog = doc["winlog"]
    own = winlog.get("time_created") or doc.get("@timestamp")
    if not isinstance(own, str) or not own:
        raise ValueError("no @timestamp")
    data = winlog.get("event_data")
    user_data = False
    if not isinstance(data, dict):
        data = winlog.get("user_data")
        user_data = isinstance(data, dict)
    computer = winlog.get("computer_name") or _get(doc, "host", "hostname")
    message = doc.get("message")
    return WinEvent(
        provider=winlog.get("provider_name"),
        event_id=integer(winlog.get("event_id")),
        channel=winlog.get("channel"),
        computer=computer if isinstance(computer, str) else None,
        time=utc_text(own),
        data=dict(data) if isinstance(data, dict) else {},
        user_data=user_data,
        process_id=integer(_get(winlog, "process", "pid")),
        user_id=_get(winlog, "user", "identifier"),
        message=message.split("\n", 1)[0].strip() if isinstance(message, str) else None,
        record_id=integer(winlog.get("record_id")),
    )


def _row(obj: Any) -> tuple[Row, int | None]:
    doc = _doc(obj)
    assert doc is not None  # json_line_events only passes accepted objects
    ev = _event(doc)
    row = to_row(ev)
    outcome = _get(doc, "event", "outcome")
    if "event.outcome" not in row and outcome in _OUTCOMES:
        row["event.outcome"] = outcome  # Winlogbeat renders the audit keywords as words
    return row, ev.record_id


def parse(source: Source) -> Iterator[pa.RecordBatch]:
    yield from json_line_events(source, _row, _WHAT, _is_event)


FORMAT = Format(
    name="winlogbeat",
    dataset="windows.eventlog",
    description="Windows events shipped by Winlogbeat 7/8 (JSON lines or Elasticsearch hits)",
    sniff=sniff,
    parse=parse,
    fields=FIELDS,
)
