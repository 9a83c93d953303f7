"""What the web UI reads from a case, and the one thing it writes (analyst notes).

Reads go through short-lived read-only connections (Ibis over the case's DuckDB view,
or Case.reader()); every value a user typed reaches the query as an Ibis literal.
DuckDB lets a process hold a file either read-only or read-write, so a note is written
under an exclusive lock while no reader connection is open, and the write connection
is closed again at once.
"""

from __future__ import annotations

import base64
import binascii
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

import orjson

from ashiato.case import Case
from ashiato.errors import QueryError
from ashiato.exports import iso
from ashiato.findings import FILE as FINDINGS_FILE
from ashiato.normalize import host_key
from ashiato.timeline import Filters, query

PAGE_DEFAULT = 100
PAGE_MAX = 1000
ROW_COLUMNS = (
    "@timestamp",
    "event.dataset",
    "event.code",
    "event.action",
    "host.name",
    "host.ip",
    "user.name",
    "source.ip",
    "source.port",
    "destination.ip",
    "destination.port",
    "url.original",
    "file.path",
    "process.command_line",
    "rule.name",
    "email.subject",
    "dns.question.name",
    "message",
    "extra",
    "evidence_id",
    "record",
)


class RWLock:
    """Many readers or one writer (threads of the web server)."""

    def __init__(self) -> None:
        self._cond = threading.Condition()
        self._readers = 0
        self._writer = False

    @contextmanager
    def read(self) -> Iterator[None]:
        with self._cond:
            while self._writer:
                self._cond.wait()
            self._readers += 1
        try:
            yield
        finally:
            with self._cond:
                self._readers -= 1
                self._cond.notify_all()

    @contextmanager
    def write(self) -> Iterator[None]:
        with self._cond:
            while self._writer or self._readers:
                self._cond.wait()
            self._writer = True
        try:
            yield
        finally:
            with self._cond:
                self._writer = False
                self._cond.notify_all()


@dataclass(frozen=True)
class Cursor:
    """Where a timeline page ends: the sort key of its last row, and how many rows with
    exactly that key were already shown (one record can give several events)."""

    ts: datetime
    evidence_id: str
    record: int
    skip: int = 0

    def encode(self) -> str:
        raw = orjson.dumps([iso(self.ts), self.evidence_id, self.record, self.skip])
        return base64.urlsafe_b64encode(raw).decode().rstrip("=")

    @classmethod
    def decode(cls, text: str) -> Cursor:
        try:
            raw = base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))
            ts, eid, rec, skip = orjson.loads(raw)
            when = datetime.fromisoformat(str(ts).replace("Z", "+00:00"))
            return cls(when, str(eid), int(rec), max(int(skip), 0))
        except (ValueError, TypeError, binascii.Error, orjson.JSONDecodeError) as exc:
            raise QueryError("bad page cursor; start again from the first page") from exc


@dataclass
class Page:
    rows: list[dict[str, Any]]
    next: str | None = None
    prev: str | None = None
    limit: int = PAGE_DEFAULT
    order: str = "asc"
    filters: dict[str, Any] = field(default_factory=dict)


def _key(row: dict[str, Any]) -> tuple[Any, Any, Any]:
    return (row["@timestamp"], row["evidence_id"], row["record"])


class Store:
    def __init__(self, case: Case) -> None:
        self.case = case
        self.lock = RWLock()
        self._cache: dict[str, tuple[float, Any]] = {}
        self._cache_lock = threading.Lock()

    # -- connections -------------------------------------------------------------------

    @contextmanager
    def ibis(self) -> Iterator[Any]:
        with self.lock.read():
            con = self.case.ibis()
            try:
                yield con
            finally:
                con.disconnect()

    def _rows(self, expr: Any) -> list[dict[str, Any]]:
        return list(expr.to_pyarrow().to_pylist())

    # -- findings and derived data, cached while findings.json is unchanged --------------

    def _stamp(self) -> float:
        try:
            return (self.case.root / FINDINGS_FILE).stat().st_mtime
        except FileNotFoundError:
            return -1.0

    def _cached(self, name: str, build: Any) -> Any:
        stamp = self._stamp()
        with self._cache_lock:
            hit = self._cache.get(name)
            if hit is not None and hit[0] == stamp:
                return hit[1]
        value = build()
        with self._cache_lock:
            self._cache[name] = (stamp, value)
        return value

    def findings(self) -> dict[str, Any] | None:
        def build() -> dict[str, Any] | None:
            from ashiato.findings import load

            try:
                return load(self.case.root)
            except FileNotFoundError:
                return None

        result: dict[str, Any] | None = self._cached("findings", build)
        return result

    def series(self) -> dict[str, Any]:
        from ashiato.report import series as series_mod

        def build() -> dict[str, Any]:
            f = self.findings() or {}
            with self.lock.read():
                return series_mod.build(self.case, f)

        result: dict[str, Any] = self._cached("series", build)
        return result

    def identity(self) -> Any:
        def build() -> Any:
            from ashiato.analysis import identity
            from ashiato.analysis.context import Context

            with self.ibis() as con:
                return identity.build(Context(events=con.table("events"), tz=self.case.tz))

        return self._cached("identity", build)

    # -- timeline ----------------------------------------------------------------------------

    def timeline(
        self,
        filters: Filters,
        *,
        after: str | None = None,
        before: str | None = None,
        limit: int = PAGE_DEFAULT,
        order: str = "asc",
    ) -> Page:
        """One page of the filtered timeline, by keyset: only ``limit`` rows are read out."""
        if order not in ("asc", "desc"):
            raise QueryError("order must be asc or desc")
        limit = min(max(int(limit), 1), PAGE_MAX)
        ascending = order == "asc"
        cursor = Cursor.decode(after or before or "") if (after or before) else None
        forward = before is None
        scan_ascending = ascending if forward else not ascending
        with self.lock.read():
            expr = query(self.case, filters)
            try:
                rows = self._page_rows(expr, cursor, scan_ascending, limit + 1)
            finally:
                expr._find_backend().disconnect()
        more = len(rows) > limit
        rows = rows[:limit]
        if not forward:
            rows.reverse()
        page = Page(rows=rows, limit=limit, order=order)
        if rows:
            # the cursor past the last row shown, and the one before the first
            last_more = more if forward else cursor is not None
            first_more = (cursor is not None) if forward else more
            if last_more:
                page.next = self._cursor(rows, rows[-1], cursor if forward else None).encode()
            if first_more:
                page.prev = self._cursor(rows, rows[0], cursor if not forward else None).encode()
        return page

    @staticmethod
    def _cursor(
        rows: list[dict[str, Any]], edge: dict[str, Any], came_from: Cursor | None
    ) -> Cursor:
        key = _key(edge)
        shown = sum(1 for r in rows if _key(r) == key)
        if came_from is not None and (came_from.ts, came_from.evidence_id, came_from.record) == key:
            shown += came_from.skip
        return Cursor(key[0], str(key[1]), int(key[2]), shown)

    def _page_rows(
        self, expr: Any, cursor: Cursor | None, ascending: bool, n: int
    ) -> list[dict[str, Any]]:
        t = expr
        ts, eid, rec = t["@timestamp"], t["evidence_id"], t["record"]
        skip = 0
        if cursor is not None:
            same_ts = ts == cursor.ts
            same_ev = same_ts & (eid == cursor.evidence_id)
            if ascending:
                cond = (ts > cursor.ts) | (same_ts & (eid > cursor.evidence_id))
                cond = cond | (same_ev & (rec >= cursor.record))
            else:
                cond = (ts < cursor.ts) | (same_ts & (eid < cursor.evidence_id))
                cond = cond | (same_ev & (rec <= cursor.record))
            t = t.filter(cond)
            skip = cursor.skip
        cols = [c for c in ROW_COLUMNS if c in t.columns]
        # rows that share the key (one record, several events) are ordered by all the
        # shown columns, so the offset inside a tie is stable from one page to the next;
        # the descending order is the exact reverse, nulls included
        rest = [t[c] for c in cols if c not in ("@timestamp", "evidence_id", "record")]
        if ascending:
            keys = [k.asc(nulls_first=False) for k in (ts, eid, rec, *rest)]
        else:
            keys = [k.desc(nulls_first=True) for k in (ts, eid, rec, *rest)]
        t = t.select(cols).order_by(keys).limit(n, offset=skip)
        return self._rows(t)

    # -- entities --------------------------------------------------------------------------

    def seen(self, kind: str, value: str) -> dict[str, Any]:
        """First and last event and the count per source for a host, user or address."""
        with self.ibis() as con:
            t = con.table("events")
            if kind == "host":
                cond = t["host.name"] == (host_key(value) or value)
            elif kind == "user":
                cond = t["user.name"].lower() == value.lower()
            else:
                cond = (
                    (t["source.ip"] == value)
                    | (t["destination.ip"] == value)
                    | (t["host.ip"] == value)
                )
            hit = t.filter(cond)
            agg = hit.group_by("event.dataset").aggregate(
                n=hit.count(), first=hit["@timestamp"].min(), last=hit["@timestamp"].max()
            )
            rows = self._rows(agg.order_by(agg["n"].desc()))
        firsts = [r["first"] for r in rows if r["first"] is not None]
        lasts = [r["last"] for r in rows if r["last"] is not None]
        return {
            "first_seen": iso(min(firsts)) if firsts else None,
            "last_seen": iso(max(lasts)) if lasts else None,
            "events": sum(int(r["n"]) for r in rows),
            "by_dataset": [
                {
                    "dataset": r["event.dataset"],
                    "events": int(r["n"]),
                    "first": iso(r["first"]),
                    "last": iso(r["last"]),
                }
                for r in rows
            ],
        }

    def leases(self, *, host: str | None = None, ip: str | None = None) -> list[dict[str, Any]]:
        ident = self.identity()
        out = []
        for r in ident.history():
            if (host is None or r["host"] == host) and (ip is None or r["ip"] == ip):
                out.append({**r, "start": iso(r["start"]), "end": iso(r["end"])})
        return out

    # -- raw record, notes -----------------------------------------------------------------

    def record(self, ref: str) -> dict[str, Any]:
        from ashiato.show import show

        with self.lock.read():
            shown = show(self.case, ref)
        return {
            "ref": shown.ref,
            "evidence": shown.evidence,
            "events": shown.events,
            "original": shown.original,
            "note": shown.note,
        }

    def add_note(
        self, text: str, when: str | None, host: str | None, user: str | None, tags: str | None
    ) -> str:
        from ashiato.notes import NOTES_ID, add_note

        if not text.strip():
            raise QueryError("a note needs some text")
        if len(text) > 20_000:
            raise QueryError("a note is limited to 20,000 characters")
        with self.lock.write():
            record = add_note(
                self.case, text, when or None, host or None, user or None, tags or None
            )
        return f"{NOTES_ID}:{record}"


def case_name(root: Path) -> str:
    return root.resolve().name
