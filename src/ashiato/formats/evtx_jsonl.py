"""Windows events as JSON lines: ``evtx_dump -o jsonl`` and look-alikes.

One ``{"Event": {"System": {...}, "EventData": {...}}}`` object per line (domain.md
3.18). The spellings of the common converters are all read: ``#attributes`` objects
(evtx_dump), ``@Name`` keys and ``Data`` lists of ``{"@Name", "#text"}`` (xmltodict),
``Provider_attributes`` siblings (``--separate-json-attributes``); EventID may be a number
or ``{"#text": ...}``. Mapping is the shared one (:mod:`ashiato.formats.winevent`).

``record`` is the line number, as for every text format; the EventRecordID is kept in
``extra`` as ``winlog.record_id``.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pyarrow as pa

from ashiato.formats.base import Format, Sample, Source
from ashiato.formats.winevent import FIELDS, Row, integer
from ashiato.formats.winevent_rows import json_line_events, json_row, scalar, sniff_json_line


def sniff(sample: Sample) -> bool:
    return sniff_json_line(
        sample, _is_event, lambda head: head.startswith('{"Event":{') and '"System":{' in head
    )


def _is_event(obj: Any) -> bool:
    if not isinstance(obj, dict) or len(obj) != 1:
        return False
    event = obj.get("Event")
    return isinstance(event, dict) and isinstance(event.get("System"), dict)


def _row(obj: Any) -> tuple[Row, int | None]:
    event = obj["Event"]
    return json_row(event), integer(scalar(event["System"].get("EventRecordID")))


def parse(source: Source) -> Iterator[pa.RecordBatch]:
    yield from json_line_events(source, _row, 'an {"Event": {"System": ...}} object', _is_event)


FORMAT = Format(
    name="evtx_jsonl",
    dataset="windows.eventlog",
    description="Windows events as JSON lines (evtx_dump -o jsonl and similar converters)",
    sniff=sniff,
    parse=parse,
    fields=FIELDS,
)
