"""Windows events as batches: the readers' side of :mod:`ashiato.formats.winevent`.

``from_json``/``json_row`` turn an evtx JSON record (records_json, ``evtx_dump -o jsonl``,
xmltodict-style) into a :class:`~ashiato.formats.winevent.WinEvent` and its row, and
:class:`WinRows` batches rows for the EVTX hot path. The mapping itself (what lands in
which column) stays in ``winevent``.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator, Mapping
from datetime import UTC, datetime
from typing import Any

import orjson
import pyarrow as pa

from ashiato.formats.base import BATCH_ROWS, Sample, Source
from ashiato.formats.winevent import Row, WinEvent, event_row, integer, utc_text
from ashiato.schema import FIELDS, NAMES, TS, batch_from_columns

# -- evtx JSON (records_json / evtx_dump -o jsonl / xmltodict-style) ---------------------


def sniff_json_line(
    sample: Sample, is_event: Callable[[Any], bool], cut: Callable[[str], bool]
) -> bool:
    """The JSON-lines Windows formats' sniff: the first line parsed and judged by
    ``is_event``; a first line longer than the sample (it doesn't parse) is judged by
    ``cut`` on its text without spaces."""
    lines = sample.first_lines(1)
    if not lines:
        return False
    line = lines[0].lstrip("\ufeff").strip()
    if not line.startswith("{"):
        return False
    try:
        obj = orjson.loads(line)
    except orjson.JSONDecodeError:
        return cut(line.replace(" ", ""))
    return is_event(obj)


def _attr(node: Any, name: str) -> Any:
    """An XML attribute in any of the JSON spellings: #attributes, @Name, Node_attributes."""
    if not isinstance(node, dict):
        return None
    attrs = node.get("#attributes")
    if isinstance(attrs, dict):
        return attrs.get(name)
    return node.get("@" + name)


def scalar(v: Any) -> Any:
    """A JSON value, unwrapping ``{"#text": ...}`` (an element that also had attributes)."""
    if isinstance(v, dict):
        return v.get("#text")
    return v


def _flat_data(node: Any) -> dict[str, Any]:
    """EventData / UserData as a flat name -> value dict."""
    if not isinstance(node, dict):
        return {}
    out: dict[str, Any] = {}
    for k, v in node.items():
        if k == "#attributes" or k[:1] == "@":
            continue
        if k == "Data" and isinstance(v, list | dict):
            # xmltodict: [{"@Name": "X", "#text": "v"}, ...]; evtx unnamed: {"#text": [...]}
            items = v if isinstance(v, list) else [v]
            unnamed = []
            for item in items:
                name = _attr(item, "Name")
                if name is not None:
                    out[str(name)] = scalar(item)
                else:
                    unnamed.append(scalar(item))
            if unnamed:
                out["Data"] = unnamed[0] if len(unnamed) == 1 else unnamed
            continue
        out[k] = scalar(v) if isinstance(v, dict) and "#text" in v else v
    return out


def _system_attr(system: Mapping[str, Any], key: str, name: str) -> Any:
    node = system.get(key)
    if isinstance(node, dict):
        attrs = node.get("#attributes")
        if isinstance(attrs, dict):
            return attrs.get(name)
        v = node.get("@" + name)  # xmltodict
        if v is not None:
            return v
    sep = system.get(key + "_attributes")  # evtx_dump --separate-json-attributes
    return sep.get(name) if isinstance(sep, dict) else None


def from_json(event: Mapping[str, Any]) -> WinEvent:
    """A WinEvent from the ``Event`` object of evtx JSON output; raises ValueError if unusable."""
    ev = WinEvent(*_json_parts(event))
    system = event["System"]
    ev.record_id = integer(scalar(system.get("EventRecordID")))
    return ev


def json_row(event: Mapping[str, Any]) -> Row:
    """``to_row(from_json(event))`` in one step (the EVTX hot path)."""
    return event_row(*_json_parts(event), cached=True)


_JsonParts = tuple[
    Any, int | None, str | None, str | None, str, dict[str, Any], bool, int | None,
    str | None, int | None, str | None, None,
]  # fmt: skip


def _json_parts(event: Mapping[str, Any]) -> _JsonParts:
    """The WinEvent fields, in WinEvent order, from evtx-style JSON.

    Written for speed (it runs once per EVTX record): the common ``#attributes`` spelling
    is read directly and the other spellings only when that fails.
    """
    system = event.get("System")
    if not isinstance(system, dict):
        raise ValueError("no System element")
    try:
        stamp = system["TimeCreated"]["#attributes"]["SystemTime"]
    except (KeyError, TypeError):
        stamp = _system_attr(system, "TimeCreated", "SystemTime")
    when = utc_text(stamp)
    try:
        provider = system["Provider"]["#attributes"]["Name"]
    except (KeyError, TypeError):
        provider = _system_attr(system, "Provider", "Name")
    eid = system.get("EventID")
    if type(eid) is not int:  # not isinstance: a JSON true is an int too
        eid = integer(scalar(eid))
    payload = event.get("EventData")
    user_data = False
    if payload is None and isinstance(event.get("UserData"), dict):
        # UserData holds one element named after the event (LogFileCleared, ...)
        children = [v for k, v in event["UserData"].items() if k != "#attributes"]
        payload = children[0] if len(children) == 1 else event["UserData"]
        user_data = True
    if isinstance(payload, dict) and "Data" not in payload and "#attributes" not in payload:
        data: dict[str, Any] = payload  # already name -> value: no copy
    else:
        data = _flat_data(payload)
    keywords = system.get("Keywords")
    level = system.get("Level")
    channel = system.get("Channel")
    computer = system.get("Computer")
    uid = _system_attr(system, "Security", "UserID")
    pid = _system_attr(system, "Execution", "ProcessID")
    return (
        provider if isinstance(provider, str) else _str_or_none(provider),
        eid,
        channel if isinstance(channel, str) else _str_or_none(channel),
        computer if isinstance(computer, str) else _str_or_none(computer),
        when,
        data,
        user_data,
        level if type(level) is int else integer(scalar(level)),
        keywords if isinstance(keywords, str) else None,
        pid if type(pid) is int else integer(pid),
        uid if isinstance(uid, str) else _str_or_none(uid),
        None,
    )


def _str_or_none(v: Any) -> str | None:
    if v is None or isinstance(v, dict | list):
        return None
    return str(v)


# -- batching ----------------------------------------------------------------------------

_KNOWN = frozenset(NAMES)


class WinRows:
    """``base.Rows`` for Windows events: same contract (non-schema keys go to ``extra``).

    Tuned for the EVTX hot path (measured, see tests/formats/test_evtx.py):

    - ``@timestamp`` travels as ISO 8601 text and Arrow casts the whole column, because
      building Arrow timestamps from Python datetimes costs ~2 µs a row;
    - rows are turned into Arrow every ``chunk`` rows, while their dicts are still in the
      CPU cache (~20 % faster than holding 16k rows), and the chunks are handed on
      concatenated in batches of ``size`` rows.
    """

    def __init__(self, source: Source, size: int = BATCH_ROWS, chunk: int = 512) -> None:
        self.source = source
        self.size = size
        self.chunk = min(chunk, size)
        self._rows: list[tuple[int, Row]] = []
        self._done: list[pa.RecordBatch] = []
        self._done_rows = 0

    def add(self, record: int, row: Row) -> pa.RecordBatch | None:
        self._rows.append((record, row))
        if len(self._rows) >= self.chunk:
            self._done.append(self._convert())
            self._done_rows += self.chunk
            if self._done_rows >= self.size:
                return self._take()
        return None

    def flush(self) -> pa.RecordBatch | None:
        if self._rows:
            self._done.append(self._convert())
        return self._take() if self._done else None

    def _take(self) -> pa.RecordBatch:
        done, self._done, self._done_rows = self._done, [], 0
        return done[0] if len(done) == 1 else pa.concat_batches(done)

    def _convert(self) -> pa.RecordBatch:
        rows, self._rows = self._rows, []
        n = len(rows)
        dicts = [row for _, row in rows]
        # column by column over the keys any row has (one C-level union), not key by key
        # over every row (measured about as fast, a little simpler per column)
        keys = set().union(*dicts)
        cols: dict[str, Any] = {}
        for key in keys & _KNOWN:
            cols[key] = [row.get(key) for row in dicts]
        others = keys - _KNOWN
        extras: list[str | None]
        if not others:
            extras = [None] * n
        elif len(others) == 1:
            (key,) = others
            extras = [None if (v := row.get(key)) is None else _dumps({key: v}) for row in dicts]
        else:  # several: each row's own key order, as the row was built
            extras = []
            for row in dicts:
                # most rows have one or two (winlog, e.g. workstation): found without a
                # pass over all of the row's keys (~20), which took ~0.5 µs a row
                mine = row.keys() & others
                if len(mine) == 1:
                    (key,) = mine
                    extra = {} if (v := row[key]) is None else {key: v}
                elif len(mine) == 2:
                    for key in row:  # the first of the two (winlog: the 7th key)
                        if key in mine:
                            break
                    (second,) = mine - {key}
                    extra = {} if (v := row[key]) is None else {key: v}
                    if (v := row[second]) is not None:
                        extra[second] = v
                else:
                    extra = {k: v for k, v in row.items() if k in others and v is not None}
                extras.append(_dumps(extra) if extra else None)
        stamps = cols.pop("@timestamp", None) or [None] * n
        for i, value in enumerate(stamps):
            if value is not None and not isinstance(value, str):
                stamps[i] = self._iso(value)
        cols["@timestamp"] = _timestamps(stamps)
        cols["extra"] = extras
        cols["record"] = [r for r, _ in rows]
        # the ~50 columns no row filled: the same all-null arrays every time (pa.nulls for
        # each cost ~0.2 µs a row); arrays are immutable, so batches may share them
        nulls = _nulls(n)
        for name in _KNOWN - cols.keys():
            cols[name] = nulls[name]
        return batch_from_columns(cols, n)

    def _iso(self, value: Any) -> str | None:
        if isinstance(value, datetime):
            return self.source.localize(value).isoformat()
        return None


_NULLS: dict[int, dict[str, pa.Array]] = {}


def _nulls(n: int) -> dict[str, pa.Array]:
    """An all-null array of ``n`` for every schema column (kept for a few lengths: the
    chunk size, and the last chunk of each file)."""
    found = _NULLS.get(n)
    if found is None:
        if len(_NULLS) >= 8:
            _NULLS.clear()
        found = _NULLS[n] = {f.name: pa.nulls(n, type=f.type) for f in FIELDS}
    return found


def _dumps(extra: dict[str, Any]) -> str:
    try:
        return orjson.dumps(extra, default=str).decode()
    except TypeError:  # integers beyond 64 bits, which orjson refuses
        return json.dumps(extra, default=str, ensure_ascii=False)


def _timestamps(times: list[str | None]) -> pa.Array:
    try:
        return pa.array(times, pa.string()).cast(TS)
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
        pass  # e.g. 100 ns digits ("...33.8337335Z"): normalise one by one
    fixed: list[str | None] = []
    for t in times:
        try:
            when = datetime.fromisoformat(t) if t else None
        except ValueError:
            when = None  # formats check times before they add a row; this is a last guard
        if when is not None and when.tzinfo is None:
            when = when.replace(tzinfo=UTC)
        fixed.append(when.isoformat() if when else None)
    return pa.array(fixed, pa.string()).cast(TS)


def json_line_events(
    source: Source, to_row: Callable[[Any], tuple[Row, int | None]], what: str,
    accepts: Callable[[Any], bool],
) -> Iterator[pa.RecordBatch]:
    """Windows events one JSON object per line: ``accepts`` says whether an object is one
    (``what`` names the shape for the reject), ``to_row`` maps it and gives the
    EventRecordID (kept in extra; ``record`` is the line)."""
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
            if not accepts(obj):
                source.reject(number, f"not {what}", line)
                continue
            try:
                row, record_id = to_row(obj)
            except (ValueError, TypeError, KeyError, AttributeError) as exc:
                source.reject(number, f"unusable event: {exc}", line)
                continue
            if record_id is not None:
                row["winlog"]["record_id"] = record_id
            batch = rows.add(number, row)
            if batch is not None:
                yield batch
    batch = rows.flush()
    if batch is not None:
        yield batch
