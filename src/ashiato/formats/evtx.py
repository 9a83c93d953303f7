"""Binary Windows event logs (``.evtx``), read with the Rust ``evtx`` parser.

Every record goes through the shared Windows mapping (:mod:`ashiato.formats.winevent`);
``record`` is the EventRecordID of the event (``System/EventRecordID``). Exported logs
number their records anew in the file; when that number differs it is kept in ``extra``
as ``winlog.file_record_id`` (the number ``evtx_dump`` and reject records use).

Damaged files are common (logs copied from a running
system, recovered from shadow copies or unallocated space): a bad record or chunk becomes
one reject and parsing goes on with the next; a file the parser can't open at all is one
reject, never an exception.
"""

from __future__ import annotations

import re
from collections.abc import Iterator

import evtx
import orjson
import pyarrow as pa

from ashiato.formats.base import Format, Sample, Source
from ashiato.formats.winevent import FIELDS, integer
from ashiato.formats.winevent_rows import WinRows, json_row

MAGIC = b"ElfFile\x00"
_RECORD_NO = re.compile(r"record number (\d+)")
# the parser moves forward on every error; this only guards against a library bug
_MAX_ERRORS_IN_A_ROW = 1_000_000


def sniff(sample: Sample) -> bool:
    return sample.head.startswith(MAGIC)


def parse(source: Source) -> Iterator[pa.RecordBatch]:
    rows = WinRows(source)
    try:
        records = evtx.PyEvtxParser(str(source.path)).records_json()
    except Exception as exc:  # the library raises plain RuntimeError/OSError subclasses
        source.reject(0, f"not a readable EVTX file: {exc}", b"")
        return
    last = 0
    errors_in_a_row = 0
    while True:
        try:
            rec = next(records)
        except StopIteration:
            break
        except Exception as exc:  # one damaged record or chunk; the iterator carries on
            errors_in_a_row += 1
            if errors_in_a_row > _MAX_ERRORS_IN_A_ROW:
                source.reject(last, "EVTX parser kept failing; rest of file skipped", b"")
                break
            m = _RECORD_NO.search(str(exc))
            number = int(m.group(1)) if m else 0
            source.reject(number, f"damaged EVTX data after record {last}: {exc}", b"")
            continue
        errors_in_a_row = 0
        if not isinstance(rec, dict):
            source.reject(
                last, f"EVTX parser returned {type(rec).__name__} after record {last}", b""
            )
            continue
        header_id: int = rec["event_record_id"]
        data: str = rec["data"]
        try:
            event = orjson.loads(data)["Event"]
            row = json_row(event)
            record_id = event["System"].get("EventRecordID")
        except (orjson.JSONDecodeError, KeyError, TypeError, ValueError, AttributeError) as exc:
            source.reject(header_id, f"unusable EVTX record: {exc}", data)
            continue
        if type(record_id) is not int:
            record_id = integer(record_id)
            if record_id is None:
                record_id = header_id
        if record_id != header_id:
            # exported or merged logs number their records anew; keep both numbers
            row["winlog"]["file_record_id"] = header_id
        last = header_id
        batch = rows.add(record_id, row)
        if batch is not None:
            yield batch
    batch = rows.flush()
    if batch is not None:
        yield batch


FORMAT = Format(
    name="evtx",
    dataset="windows.eventlog",
    description="Windows event log files (.evtx), any channel",
    sniff=sniff,
    parse=parse,
    fields=FIELDS,
    binary=True,
)
