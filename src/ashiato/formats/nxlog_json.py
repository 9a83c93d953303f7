"""Windows events shipped as flat JSON by NXLog (``im_msvistalog`` + ``to_json``).

One object per line, the System fields under NXLog's names (``EventID``, ``SourceName``,
``Channel``, ``Hostname``, ``RecordNumber``, ``EventTime``...) and every EventData field
at the top level beside them. The OTRF/Mordor security datasets are in this shape
(through Logstash, which adds ``@timestamp`` and ``host``). The event is rebuilt and
mapped by the same code as EVTX (``winevent``).

Time: ``EventTime`` is the collecting machine's local time without an offset, so it is
read in the source's zone (``--tz``/``--tz-for``); ``@timestamp`` (UTC, but the time
Logstash *received* the event) is the fallback. ``record`` is the line; the
RecordNumber is kept as ``winlog.record_id``.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime
from typing import Any

import orjson
import pyarrow as pa

from ashiato.formats.base import Format, Sample, Source
from ashiato.formats.winevent import FIELDS, Row, WinEvent, integer, to_row
from ashiato.formats.winevent_rows import json_line_events

# NXLog's and Logstash's own keys; everything else is EventData
_META = frozenset(
    "EventID RecordNumber ProviderGuid SourceName OpcodeValue EventTime SeverityValue "
    "SourceModuleType Channel ExecutionProcessID Severity Opcode EventType ThreadID Task "
    "EventReceivedTime port @version @timestamp tags Hostname host Keywords Version "
    "SourceModuleName Category Message Domain AccountName UserID AccountType "
    "ActivityID RelatedActivityID".split()
)
_REQUIRED = ("EventID", "SourceName", "Channel", "Hostname")


def sniff(sample: Sample) -> bool:
    lines = sample.first_lines(1)
    if not lines or not lines[0].lstrip("\ufeff").startswith("{"):
        return False
    try:
        obj = orjson.loads(lines[0].lstrip("\ufeff"))
    except orjson.JSONDecodeError:
        head = lines[0]
        return all(f'"{k}":' in head for k in _REQUIRED)
    return _is_event(obj)


def _event(obj: dict[str, Any]) -> WinEvent:
    stamp = obj.get("EventTime")
    when: str | datetime | None
    if isinstance(stamp, str) and stamp:
        when = datetime.fromisoformat(stamp.replace("/", "-"))
    else:
        when = obj.get("@timestamp")
    data = {k: v for k, v in obj.items() if k not in _META}
    return WinEvent(
        provider=obj.get("SourceName"),
        event_id=integer(obj.get("EventID")),
        channel=obj.get("Channel"),
        computer=obj.get("Hostname"),
        time=when,
        data=data,
        process_id=integer(obj.get("ExecutionProcessID")),
        user_id=obj.get("UserID"),
        message=obj.get("Message"),
        record_id=integer(obj.get("RecordNumber")),
    )


def _is_event(obj: Any) -> bool:
    return isinstance(obj, dict) and all(k in obj for k in _REQUIRED)


def _row(obj: Any) -> tuple[Row, int | None]:
    ev = _event(obj)
    return to_row(ev), ev.record_id


def parse(source: Source) -> Iterator[pa.RecordBatch]:
    what = f"an NXLog Windows event (needs {_REQUIRED})"
    yield from json_line_events(source, _row, what, _is_event)


FORMAT = Format(
    name="nxlog_json",
    dataset="windows.eventlog",
    description="Windows events as flat NXLog JSON (im_msvistalog; OTRF/Mordor datasets)",
    sniff=sniff,
    parse=parse,
    fields=FIELDS,
)
