"""Windows events exported from Splunk as JSON lines (search export, ``output_mode=json``).

One ``{"preview": false, "result": {...}}`` object per line (or the bare result). The
result carries ``_time`` (the event's own time, with the offset of the exporting user's
zone), ``_raw`` and Splunk's extracted fields:

- ``XmlWinEventLog`` (``renderXml = true``): ``_raw`` is the event's XML, read exactly as
  ``wevtutil`` XML is (same safety rules: no DOCTYPE or ENTITY);
- classic ``WinEventLog``: the header fields (``EventCode``, ``LogName``,
  ``ComputerName``, ``SourceName``, ``RecordNumber``) and the extracted fields as data.
  Splunk names those after the message text (``Account_Name``...), not the XML, so
  fewer of them are mapped: ask for the XML rendering when you can.

Time: ``_time`` is the event's time (Splunk extracts it from the event, not the
indexing time ``_indextime``), with an explicit offset; the XML's SystemTime wins when
the raw event is XML. ``record`` is the line; the record ID is kept as
``winlog.record_id``.
"""

from __future__ import annotations

import xml.etree.ElementTree as ET
from collections.abc import Iterator, Mapping
from typing import Any

import pyarrow as pa

from ashiato.formats import wevtutil_xml
from ashiato.formats.base import Format, Sample, Source
from ashiato.formats.winevent import FIELDS, Row, WinEvent, integer, to_row, utc_text
from ashiato.formats.winevent_rows import json_line_events, sniff_json_line

_WHAT = "a Splunk Windows event (needs _time and EventCode, or _raw as <Event> XML)"
_UNSAFE = ("<!DOCTYPE", "<!ENTITY")


def sniff(sample: Sample) -> bool:
    def cut(head: str) -> bool:
        return '"result":{' in head and '"_time":' in head and "EventCode" in head

    return sniff_json_line(sample, _is_event, cut)


def _result(obj: Any) -> Mapping[str, Any] | None:
    if not isinstance(obj, dict):
        return None
    res = obj.get("result")
    return res if isinstance(res, dict) else obj


def _is_event(obj: Any) -> bool:
    res = _result(obj)
    if res is None or not isinstance(res.get("_time"), str):
        return False
    raw = res.get("_raw")
    return "EventCode" in res or (isinstance(raw, str) and raw.lstrip().startswith("<Event"))


def _one(v: Any) -> Any:
    """Splunk gives a multi-valued field as a list: the first value stands for it."""
    return v[0] if isinstance(v, list) and v else v


def _event(res: Mapping[str, Any]) -> WinEvent:
    raw = res.get("_raw")
    if isinstance(raw, str) and raw.lstrip().startswith("<Event"):
        if any(bad in raw for bad in _UNSAFE):
            raise ValueError("DOCTYPE/ENTITY declarations are not allowed")
        try:
            return wevtutil_xml.event_of(ET.fromstring(raw))  # noqa: S314 - no DTD here
        except ET.ParseError as exc:
            raise ValueError(f"bad XML in _raw: {exc}") from None
    data = {k: _one(v) for k, v in res.items() if not k.startswith("_") and k not in _HEADER}
    channel = _one(res.get("LogName")) or _one(res.get("Channel"))
    return WinEvent(
        provider=_one(res.get("SourceName")),
        event_id=integer(_one(res.get("EventCode"))),
        channel=channel,
        computer=_one(res.get("ComputerName")) or _one(res.get("host")),
        time=utc_text(res["_time"]),
        data=data,
        message=_one(res.get("Message")),
        record_id=integer(_one(res.get("RecordNumber"))),
    )


_HEADER = frozenset(
    "EventCode LogName Channel ComputerName SourceName RecordNumber Message EventType Type "
    "Keywords TaskCategory OpCode host source sourcetype index linecount punct splunk_server "
    "eventtype tag date_hour date_mday date_minute date_month date_second date_wday "
    "date_year date_zone timeendpos timestartpos".split()
)


def _row(obj: Any) -> tuple[Row, int | None]:
    res = _result(obj)
    assert res is not None  # json_line_events only passes accepted objects
    ev = _event(res)
    return to_row(ev), ev.record_id


def parse(source: Source) -> Iterator[pa.RecordBatch]:
    yield from json_line_events(source, _row, _WHAT, _is_event)


FORMAT = Format(
    name="splunk_json",
    dataset="windows.eventlog",
    description="Windows events exported from Splunk as JSON (XmlWinEventLog or WinEventLog)",
    sniff=sniff,
    parse=parse,
    fields=FIELDS,
)
