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

import orjson
import pyarrow as pa

from ashiato.formats.base import Format, Sample, Source
from ashiato.formats.winevent import FIELDS, integer
from ashiato.formats.winevent_rows import WinRows, json_row, scalar


def sniff(sample: Sample) -> bool:
    lines = sample.first_lines(1)
    if not lines:
        return False
    line = lines[0].lstrip("\ufeff").strip()
    if not line.startswith("{"):
        return False
    try:
        obj = orjson.loads(line)
    except orjson.JSONDecodeError:
        # a first line longer than the sample: judge by its start
        compact = line.replace(" ", "")
        return compact.startswith('{"Event":{') and '"System":{' in compact
    return _is_event(obj)


def _is_event(obj: Any) -> bool:
    if not isinstance(obj, dict) or len(obj) != 1:
        return False
    event = obj.get("Event")
    return isinstance(event, dict) and isinstance(event.get("System"), dict)


def parse(source: Source) -> Iterator[pa.RecordBatch]:
    rows = WinRows(source)
    for first, lines in source.line_chunks():
        for offset, line in enumerate(lines):
            if not line or line.isspace():
                continue
            number = first + offset
            try:
                obj = orjson.loads(line)
            except orjson.JSONDecodeError as exc:
                source.reject(number, f"not JSON: {exc}", line)
                continue
            if not _is_event(obj):
                source.reject(number, 'not an {"Event": {"System": ...}} object', line)
                continue
            event = obj["Event"]
            try:
                row = json_row(event)
            except (ValueError, TypeError, KeyError, AttributeError) as exc:
                source.reject(number, f"unusable event: {exc}", line)
                continue
            record_id = integer(scalar(event["System"].get("EventRecordID")))
            if record_id is not None:
                row["winlog"]["record_id"] = record_id
            batch = rows.add(number, row)
            if batch is not None:
                yield batch
    batch = rows.flush()
    if batch is not None:
        yield batch


FORMAT = Format(
    name="evtx_jsonl",
    dataset="windows.eventlog",
    description="Windows events as JSON lines (evtx_dump -o jsonl and similar converters)",
    sniff=sniff,
    parse=parse,
    fields=FIELDS,
)
