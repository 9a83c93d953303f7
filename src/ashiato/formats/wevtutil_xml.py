"""Windows events as XML: ``wevtutil qe <log> /f:xml`` and Event Viewer "Save as XML".

``wevtutil`` writes one ``<Event xmlns=...>`` element per record with no root element
(often many on one line); Event Viewer wraps them in ``<Events>``. The file is streamed:
the text is cut into ``<Event>...</Event>`` fragments and each fragment is parsed on its
own, so a damaged record costs one reject (at the line where it began) and files of any
size never sit in memory whole. ``record`` is the EventRecordID (the line number when a
record has none); the line is kept in ``extra`` as ``line``.

Safety: fragments are parsed by the stdlib parser, which never fetches external
entities; a fragment or preamble that declares a DOCTYPE or ENTITY is rejected outright,
so entity-expansion bombs cannot reach the parser.
"""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from collections.abc import Iterator
from pathlib import Path
from typing import IO, Any

import pyarrow as pa

from ashiato.formats.base import Format, Sample, Source, numbered_spans
from ashiato.formats.winevent import FIELDS, WinEvent, integer, to_row, utc_text
from ashiato.formats.winevent_rows import WinRows

_START = re.compile(r"<Event[\s>]")
_END = "</Event>"
_READ = 1 << 20
_MAX_EVENT = 16 << 20  # no real event is this long; stop buffering and reject instead
# what may stand between events: declarations, the <Events> wrapper, comments, space
_GAP_OK = re.compile(r"(?:\s+|<\?xml[^>]*\?>|</?Events\b[^>]*>|<!--.*?-->)*", re.S)
_UNSAFE = ("<!DOCTYPE", "<!ENTITY")
# where a file can be cut (split): an <Event at the start of a line after a closed one (a
# UTF-8 file's lines are decoded one by one, in CP932 when not UTF-8: a line stays whole)
_CUT = re.compile(rb"</Event>\s*\n(<Event[\s>])")
_CUT_WINDOW = 4 << 20  # looked for this far after each cut's ideal place


def sniff(sample: Sample) -> bool:
    text = (sample.text or "").lstrip("\ufeff \t\r\n")
    if text.startswith("<?xml"):
        text = text[text.find("?>") + 2 :].lstrip()
    if not text.startswith("<Event"):
        return False
    return "<System>" in text and "<EventID" in text


def parse(source: Source) -> Iterator[pa.RecordBatch]:
    rows = WinRows(source)
    with source.text_stream() as stream:
        first_line = source.span[2] if source.span is not None else 1
        for line, fragment, problem in fragments(stream, first_line):
            if problem is not None:
                source.reject(line, problem, fragment)
                continue
            if any(bad in fragment for bad in _UNSAFE):
                source.reject(line, "DOCTYPE/ENTITY declarations are not allowed", fragment)
                continue
            try:
                ev = _event(ET.fromstring(fragment))  # noqa: S314 - no DTD reaches here
            except ET.ParseError as exc:
                source.reject(line, f"bad XML in <Event> starting here: {exc}", fragment)
                continue
            except ValueError as exc:
                source.reject(line, f"unusable <Event>: {exc}", fragment)
                continue
            row = to_row(ev)
            row["line"] = line
            batch = rows.add(ev.record_id if ev.record_id is not None else line, row)
            if batch is not None:
                yield batch
    batch = rows.flush()
    if batch is not None:
        yield batch


def fragments(stream: IO[str], line: int = 1) -> Iterator[tuple[int, str, str | None]]:
    """Yield ``(line, text, problem)``: each ``<Event>`` element's text (problem None),
    or a piece that is not one (unterminated element, stray text) with the reason.
    ``line``: the number of the stream's first line."""
    buf = ""
    pos = 0  # everything before pos is handled
    eof = False
    while True:
        if not eof:
            chunk = stream.read(_READ)
            eof = not chunk
            buf = buf[pos:] + chunk
            pos = 0
        while True:
            m = _START.search(buf, pos)
            if m is not None:
                gap_end = m.start()
            elif eof:
                gap_end = len(buf)
            elif len(buf) - pos > _MAX_EVENT:  # megabytes without an event: judge them now
                gap_end = len(buf) - 8
            else:
                gap_end = pos  # wait for more text: a declaration may be cut in two
            if gap_end > pos:
                stray = _stray(buf, pos, gap_end)
                if stray is not None:
                    where = line + buf.count("\n", pos, stray)
                    yield where, buf[stray:gap_end], "text outside any <Event> element"
                line += buf.count("\n", pos, gap_end)
                pos = gap_end
            if m is None:
                break
            end = buf.find(_END, m.end())
            nxt = _START.search(buf, m.end(), end if end >= 0 else len(buf))
            if nxt is not None:  # a new <Event> before this one closed
                yield line, buf[pos : nxt.start()], "<Event> element never closed"
                line += buf.count("\n", pos, nxt.start())
                pos = nxt.start()
                continue
            if end < 0:
                if eof:
                    yield line, buf[pos:], "<Event> element never closed (file ends)"
                    pos = len(buf)
                elif len(buf) - pos > _MAX_EVENT:
                    yield line, buf[pos : pos + 65536], "<Event> element longer than 16 MiB"
                    line += buf.count("\n", pos, len(buf))
                    pos = len(buf)
                break  # need more text
            stop = end + len(_END)
            yield line, buf[pos:stop], None
            line += buf.count("\n", pos, stop)
            pos = stop
        if eof:
            return


def _stray(buf: str, start: int, end: int) -> int | None:
    """Offset of the first text between events that isn't markup we expect, if any."""
    m = _GAP_OK.match(buf, start, end)
    if m is None or m.end() >= end:
        return None
    return m.end()


def _local(tag: str) -> str:
    return tag.rpartition("}")[2]


def _event(root: ET.Element) -> WinEvent:
    if _local(root.tag) != "Event":
        raise ValueError(f"root element is <{_local(root.tag)}>")
    system: dict[str, ET.Element] = {}
    data: dict[str, Any] = {}
    user_data = False
    message: str | None = None
    for part in root:
        name = _local(part.tag)
        if name == "System":
            system = {_local(c.tag): c for c in part}
        elif name == "EventData":
            data = _event_data(part)
        elif name == "UserData":
            inner = list(part)
            data = {_local(c.tag): c.text for c in inner[0]} if len(inner) == 1 else {}
            user_data = True
        elif name == "RenderingInfo":
            msg = next((c.text for c in part if _local(c.tag) == "Message"), None)
            message = msg.strip().split("\n", 1)[0].strip() if msg else None
    if not system:
        raise ValueError("no <System> element")
    when = _attr(system, "TimeCreated", "SystemTime")
    return WinEvent(
        provider=_attr(system, "Provider", "Name"),
        event_id=integer(_text(system, "EventID")),
        channel=_text(system, "Channel"),
        computer=_text(system, "Computer"),
        time=utc_text(when),
        data=data,
        user_data=user_data,
        level=integer(_text(system, "Level")),
        keywords=_text(system, "Keywords"),
        process_id=integer(_attr(system, "Execution", "ProcessID")),
        user_id=_attr(system, "Security", "UserID"),
        message=message,
        record_id=integer(_text(system, "EventRecordID")),
    )


event_of = _event  # one parsed <Event> element -> WinEvent (splunk_json reads _raw with it)


def _event_data(node: ET.Element) -> dict[str, Any]:
    out: dict[str, Any] = {}
    unnamed: list[str | None] = []
    for child in node:
        name = child.get("Name")
        if name is not None:
            out[name] = child.text
        elif _local(child.tag) == "Data":
            unnamed.append(child.text)
        else:  # <Binary> and friends
            out[_local(child.tag)] = child.text
    if unnamed:
        out["Data"] = unnamed[0] if len(unnamed) == 1 else unnamed
    return out


def _text(system: dict[str, ET.Element], key: str) -> str | None:
    node = system.get(key)
    return node.text if node is not None else None


def _attr(system: dict[str, ET.Element], key: str, name: str) -> str | None:
    node = system.get(key)
    return node.get(name) if node is not None else None


def split(path: Path, parts: int) -> list[tuple[int, int, int]]:
    """About ``parts`` spans of the file, each but the first starting at an ``<Event``
    that starts a line after a ``</Event>`` (where the whole file's reading ends one
    fragment and starts the next, see :func:`fragments`), with the number of its first
    line. A file without such places (``wevtutil`` may write every event on one line) is
    one span."""
    size = path.stat().st_size
    cuts = [0]
    with path.open("rb") as fh:
        for k in range(1, parts):
            at = max(size * k // parts, cuts[-1] + 1)
            fh.seek(at)
            m = _CUT.search(fh.read(_CUT_WINDOW))
            if m is not None:
                cuts.append(at + m.start(1))
        return numbered_spans(fh, cuts, size)


FORMAT = Format(
    name="wevtutil_xml",
    dataset="windows.eventlog",
    description="Windows events as XML (wevtutil qe /f:xml, Event Viewer 'Save as XML')",
    sniff=sniff,
    parse=parse,
    fields=FIELDS,
    split=split,
)
