"""Peel syslog envelopes off whole chunks of lines (vectorised; shared by text formats).

Three envelope shapes are recognised, per line:

- RFC 5424: ``<PRI>1 2015-09-09T11:45:07+09:00 host app procid msgid [sd] msg``. The
  time carries its offset (``Z`` or ``+hh:mm``); ``-`` means absent. Structured data
  is kept in ``sd`` as written.
- RFC 3164 (BSD): ``[<PRI>]Mmm dd HH:MM:SS [host] [tag[pid]:] msg``. No year and no
  zone: the wall-clock time is read in the source's zone, and the year starts at
  ``Source.year_hint`` (the year of the first line) and rolls over when the month
  goes back by more than six (Dec -> Jan). ``YearState`` carries this across chunks.
  A word followed by ``:`` (or ``[pid]:``) after the host is the tag (``app``); a
  line like ``Sep  9 11:45:07 FG-TOKYO date=...`` has a host and no tag.
- PRI only: ``<189>date=...`` (FortiGate and others sending bare messages).

Lines with no envelope come back unchanged in ``message`` with null envelope fields.
Formats call ``peel`` on the lines (or only the subset of lines) that need it: one
regular expression pass costs about as much as the rest of a fast parser.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass, field
from datetime import UTC, datetime
from zoneinfo import ZoneInfo

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from ashiato.formats import vector as vx
from ashiato.schema import TS

MONTHS = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")

RFC5424 = (
    r"^<(?P<pri>\d{1,3})>1 (?P<ts>\S+) (?P<host>\S+) (?P<app>\S+) (?P<procid>\S+) "
    r"(?P<msgid>\S+) (?P<sd>-|(?:\[(?:[^\]\"\\]|\\.|\"(?:[^\"\\]|\\.)*\")*\])+)"
    r"(?: (?P<msg>.*))?$"
)
RFC3164 = (
    r"^(?:<(?P<pri>\d{1,3})>)?(?P<mon>" + "|".join(MONTHS) + r") {1,2}(?P<day>\d{1,2}) "
    r"(?P<time>\d\d:\d\d:\d\d)(?:\.\d+)? (?:(?P<host>[^\s:\[\]]+) )?"
    r"(?:(?P<app>[^\s:\[\]]+)(?:\[(?P<pid>[^\]]*)\])?: )?(?P<msg>.*)$"
)
PRI_ONLY = r"^<(?P<pri>\d{1,3})>(?P<msg>.*)$"


@dataclass
class YearState:
    """Year inference state for RFC 3164 times, carried from chunk to chunk.

    Chunks may be parsed on several threads: a chunk that peels calls
    ``wait_turn(first)`` before, and every chunk calls ``skip(first, n)`` when done
    (in a ``finally``), so the state is used in file order.
    """

    year: int
    last_month: int = 0  # 0: nothing seen yet
    assumed: int = 0  # lines whose year came from this state (ingest names the assumption)
    _next: int = 1
    _done: dict[int, int] = field(default_factory=dict)
    _cond: threading.Condition = field(default_factory=threading.Condition)

    def wait_turn(self, first: int) -> None:
        """Block until every chunk before line ``first`` has called ``skip``."""
        with self._cond:
            self._cond.wait_for(lambda: self._next >= first)

    def skip(self, first: int, n: int) -> None:
        """Mark the chunk of ``n`` lines from ``first`` as done with the state."""
        with self._cond:
            self._done[first] = first + n
            while self._next in self._done:
                self._next = self._done.pop(self._next)
            self._cond.notify_all()


@dataclass
class Envelope:
    timestamp: pa.Array  # UTC; null where the line had no envelope time
    host: pa.Array
    app: pa.Array
    pri: pa.Array  # int32
    message: pa.Array  # the line after the envelope; the whole line when none
    kind: pa.Array  # "rfc5424", "rfc3164", "pri" or null


def peel(lines: pa.Array, tz: ZoneInfo, state: YearState) -> Envelope:
    """Split every line of ``lines`` into envelope fields and message."""
    n = len(lines)
    ts = pa.nulls(n, TS)
    host = app = kind = pa.nulls(n, pa.string())
    pri = pa.nulls(n, pa.int32())
    message = lines
    todo = np.ones(n, dtype=bool)

    def fill(rows: np.ndarray, fields: dict[str, pa.Array], name: str) -> None:
        nonlocal ts, host, app, pri, message, kind
        if not len(rows):
            return
        mask = np.zeros(n, dtype=bool)
        mask[rows] = True
        m = pa.array(mask)
        todo[rows] = False

        def put(old: pa.Array, new: pa.Array) -> pa.Array:
            return pc.if_else(m, vx.scatter(new, rows, n), old)

        if "ts" in fields:
            ts = put(ts, fields["ts"])
        if "host" in fields:
            host = put(host, vx.null_dash(fields["host"]))
        if "app" in fields:
            app = put(app, vx.null_dash(fields["app"]))
        pri = put(pri, vx.to_int(fields["pri"], pa.int32())[0])
        message = put(message, pc.fill_null(fields["msg"], ""))
        kind = put(kind, vx.constant(name, len(rows)))

    starts_lt = vx.nonzero(pc.starts_with(lines, "<"))
    if len(starts_lt):
        sub = lines.take(pa.array(starts_lt))
        got = pc.extract_regex(sub, RFC5424)
        ok = vx.nonzero(pc.is_valid(got))
        if len(ok):
            g = got.take(pa.array(ok))
            fields = {k: pc.struct_field(g, k) for k in ("pri", "host", "app", "msg")}
            fields["ts"] = _iso_times(pc.struct_field(g, "ts"), tz)
            fill(starts_lt[ok], fields, "rfc5424")
    rest = np.flatnonzero(todo)
    if len(rest):
        sub = lines.take(pa.array(rest))
        got = pc.extract_regex(sub, RFC3164)
        ok = vx.nonzero(pc.is_valid(got))
        if len(ok):
            g = got.take(pa.array(ok))
            fields = {k: pc.struct_field(g, k) for k in ("pri", "host", "app", "msg")}
            fields["ts"] = _bsd_times(
                pc.struct_field(g, "mon"),
                pc.struct_field(g, "day"),
                pc.struct_field(g, "time"),
                tz,
                state,
            )
            fill(rest[ok], fields, "rfc3164")
    rest = np.flatnonzero(todo)
    if len(rest):
        sub = lines.take(pa.array(rest))
        got = pc.extract_regex(sub, PRI_ONLY)
        ok = vx.nonzero(pc.is_valid(got))
        if len(ok):
            g = got.take(pa.array(ok))
            fill(
                rest[ok],
                {"pri": pc.struct_field(g, "pri"), "msg": pc.struct_field(g, "msg")},
                "pri",
            )
    return Envelope(ts, host, app, pri, message, kind)


def _bsd_times(
    mon: pa.Array, day: pa.Array, hms: pa.Array, tz: ZoneInfo, state: YearState
) -> pa.Array:
    month = (
        pc.add(pc.index_in(mon, value_set=pa.array(MONTHS)), 1)
        .to_numpy(zero_copy_only=False)
        .astype(np.int64)
    )
    prev = np.empty_like(month)
    prev[0] = state.last_month or month[0]
    prev[1:] = month[:-1]
    rolls = np.cumsum((prev - month) > 6)
    years = state.year + rolls
    state.year = int(years[-1])
    state.last_month = int(month[-1])
    state.assumed += len(month)
    text = pc.binary_join_element_wise(
        pa.array(years).cast(pa.string()), pa.array(month).cast(pa.string()),
        pc.utf8_lpad(day, 2, "0"), hms, "-",
    )  # fmt: skip
    naive = pc.strptime(text, format="%Y-%m-%d-%H:%M:%S", unit="us", error_is_null=True)
    return vx.localize(naive, tz)


def _iso_times(text: pa.Array, tz: ZoneInfo) -> pa.Array:
    """RFC 5424 times: offset honoured; a time without offset is read in ``tz``."""
    text = vx.null_dash(text)
    try:
        return text.cast(TS)
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
        pass
    out: list[datetime | None] = []
    for value in text.to_pylist():
        try:
            dt = datetime.fromisoformat(value.replace("Z", "+00:00")) if value else None
        except ValueError:
            dt = None
        if dt is not None and dt.tzinfo is None:
            dt = dt.replace(tzinfo=tz)
        out.append(dt.astimezone(UTC) if dt is not None else None)
    return pa.array(out, TS)
