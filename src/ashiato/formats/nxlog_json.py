"""Windows events shipped as flat JSON: NXLog (``im_msvistalog`` + ``to_json``) and alike.

One object per line, the System fields under NXLog's names (``EventID``, ``SourceName``,
``Channel``, ``Hostname``, ``RecordNumber``, ``EventTime``...) and every EventData field
at the top level beside them. The OTRF/Mordor security datasets are in this shape
(through Logstash, which adds ``@timestamp`` and ``host``), and so are Azure/Sentinel
exports (``TimeCreated``, ``Source``). Any provider counts: an object is a Windows event
by its shape (an EventID, a channel or provider, a host field), so a 6-line Raccine log in
the Application channel is read like Security. The event is rebuilt and mapped by the
same code as EVTX (``winevent``).

Time, per record, most trusted first (domain.md 8.4):

1. ``TimeCreated`` / ``SystemTime``: the event's own UTC time (Sysmon's ``UtcTime`` then
   wins in the mapping, as in EVTX);
2. ``EventTime``: the collecting machine's local time without an offset. Its zone is the
   one the file shows, when ``@timestamp`` (UTC) differs from it by the same whole number
   of hours (or :30/:45) across the file: the shipper stamped the receipt a moment later.
   Otherwise (a shipping backlog, or no ``@timestamp``) it is read in the source's stated
   zone (``--tz``/``--tz-for``);
3. ``@timestamp`` alone: the receipt time (Logstash/Fluentd), the last resort.

``record`` is the line; the RecordNumber is kept as ``winlog.record_id``.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta, timezone
from functools import partial
from typing import Any

import orjson
import pyarrow as pa

from ashiato.formats.base import Format, Sample, Source
from ashiato.formats.winevent import FIELDS, Row, WinEvent, integer, to_row, utc_text
from ashiato.formats.winevent_rows import json_line_events, sniff_json_line

# NXLog's and Logstash's own keys; everything else is EventData
_META = frozenset(
    "EventID RecordNumber ProviderGuid SourceName OpcodeValue EventTime SeverityValue "
    "SourceModuleType Channel ExecutionProcessID Severity Opcode EventType ThreadID Task "
    "EventReceivedTime port @version @timestamp tags Hostname host Keywords Version "
    "SourceModuleName Category Message Domain AccountName UserID AccountType "
    "ActivityID RelatedActivityID TimeCreated SystemTime Source ProviderName Computer "
    "Level EventRecordID ExecutionThreadID".split()
)
_PROVIDER = ("SourceName", "ProviderName", "Source")
_HOST = ("Hostname", "Computer")
_UTC_KEYS = ("TimeCreated", "SystemTime")  # the event's own time, UTC by definition
_WHAT = "a JSON Windows event (needs EventID, a Channel or SourceName, and Hostname)"
QUARTER = 900  # seconds: zones are whole hours, or :30/:45
ZONE_SAMPLE = 2000  # records read to see the file's zone
ZONE_SHARE = 0.8  # ... of which this share must show the same offset
ZONE_SLACK = 300  # seconds a shipper may take to stamp an event it just read


def sniff(sample: Sample) -> bool:
    def cut(head: str) -> bool:
        return '"EventID":' in head and any(f'"{k}":' in head for k in _HOST)

    return sniff_json_line(sample, _is_event, cut)


def _first(obj: dict[str, Any], keys: tuple[str, ...]) -> Any:
    for k in keys:
        v = obj.get(k)
        if v not in (None, ""):
            return v
    return None


def _local(stamp: Any) -> datetime | None:
    """NXLog's ``EventTime`` ("2015-09-09 11:40:01", "2015/09/09 ..."): naive local time."""
    if not isinstance(stamp, str) or not stamp:
        return None
    when = datetime.fromisoformat(stamp.replace("/", "-"))
    return when.replace(tzinfo=None) if when.tzinfo is None else when


def _utc(stamp: Any) -> datetime | None:
    if not isinstance(stamp, str) or not stamp:
        return None
    try:
        when = datetime.fromisoformat(stamp.replace("Z", "+00:00"))
    except ValueError:
        return None
    return when if when.tzinfo is not None else when.replace(tzinfo=UTC)


def _when(obj: dict[str, Any], zone: timezone | None) -> str | datetime | None:
    own = _first(obj, _UTC_KEYS)
    if isinstance(own, str):
        return utc_text(own)
    local = _local(obj.get("EventTime"))
    if local is not None:
        if local.tzinfo is None and zone is not None:
            return local.replace(tzinfo=zone)
        return local  # naive: the source's stated zone (WinRows localises it)
    received = obj.get("@timestamp")
    return received if isinstance(received, str) and received else None


def file_zone(source: Source) -> timezone | None:
    """The zone of ``EventTime`` shown by a constant offset to ``@timestamp`` (UTC).

    The shipper stamps the receipt a few seconds after the event, so the difference sits
    just above a whole quarter hour; records shipped late (a backlog) scatter and are
    outvoted. None when fewer than three records pair up or no offset dominates.
    """
    votes: Counter[int] = Counter()
    seen = 0
    for _, line in source.lines():
        if seen >= ZONE_SAMPLE:
            break
        if '"EventTime"' not in line or '"@timestamp"' not in line:
            continue
        try:
            obj = orjson.loads(line)
            local, utc = _local(obj.get("EventTime")), _utc(obj.get("@timestamp"))
        except (orjson.JSONDecodeError, ValueError, AttributeError):
            continue
        if local is None or utc is None or local.tzinfo is not None:
            continue
        seen += 1
        # received (UTC) minus local wall clock = minus the zone's offset, plus the lag
        diff = (utc - local.replace(tzinfo=UTC)).total_seconds()
        quarter = round(diff / QUARTER) * QUARTER
        if -2 <= diff - quarter <= ZONE_SLACK:
            votes[quarter] += 1
    if seen < 3 or not votes:
        return None
    quarter, n = votes.most_common(1)[0]
    if n < ZONE_SHARE * seen or abs(quarter) > 14 * 3600:
        return None
    return timezone(timedelta(seconds=-quarter))


def _event(obj: dict[str, Any], zone: timezone | None = None) -> WinEvent:
    data = {k: v for k, v in obj.items() if k not in _META}
    return WinEvent(
        provider=_first(obj, _PROVIDER),
        event_id=integer(obj.get("EventID")),
        channel=obj.get("Channel"),
        computer=_first(obj, _HOST),
        time=_when(obj, zone),
        data=data,
        level=integer(obj.get("Level")),
        keywords=_keywords(obj),
        process_id=integer(obj.get("ExecutionProcessID")),
        user_id=obj.get("UserID"),
        message=obj.get("Message"),
        record_id=integer(_first(obj, ("RecordNumber", "EventRecordID"))),
    )


_AUDIT = {"AUDIT_SUCCESS": "0x8020000000000000", "AUDIT_FAILURE": "0x8010000000000000"}


def _keywords(obj: dict[str, Any]) -> str | None:
    """Keywords as hex: NXLog writes the signed 64-bit number and names audits in EventType."""
    kw = obj.get("Keywords")
    if isinstance(kw, str) and kw.startswith("0x"):
        return kw
    number = integer(kw)
    if number is not None:
        return hex(number & (1 << 64) - 1)
    event_type = obj.get("EventType")
    return _AUDIT.get(event_type) if isinstance(event_type, str) else None


def _is_event(obj: Any) -> bool:
    """A Windows event by shape: an EventID, a channel or provider, and a host field."""
    return (
        isinstance(obj, dict)
        and "EventID" in obj
        and ("Channel" in obj or any(k in obj for k in _PROVIDER))
        and any(k in obj for k in _HOST)
    )


def _row(zone: timezone | None, obj: Any) -> tuple[Row, int | None]:
    ev = _event(obj, zone)
    return to_row(ev), ev.record_id


def parse(source: Source) -> Iterator[pa.RecordBatch]:
    yield from json_line_events(source, partial(_row, file_zone(source)), _WHAT, _is_event)


FORMAT = Format(
    name="nxlog_json",
    dataset="windows.eventlog",
    description="Windows events as flat JSON: NXLog im_msvistalog, OTRF/Mordor, Sentinel",
    sniff=sniff,
    parse=parse,
    fields=FIELDS,
)
