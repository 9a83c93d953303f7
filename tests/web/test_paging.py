"""Keyset paging: every row exactly once, forward and back, even where rows tie."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

from ashiato.case import Case, EventWriter
from ashiato.normalize import finalize_batch
from ashiato.schema import batch_from_columns
from ashiato.timeline import Filters
from ashiato.web.store import Cursor, Store


def _tied_case(root: Path, n: int = 60) -> Case:
    case = Case.create_or_open(root, tz="Asia/Tokyo")
    t0 = datetime(2015, 9, 10, 5, 0, tzinfo=UTC)
    for ev in ("b-evidence", "a-evidence"):
        cols = {
            # many rows share a second; one record gives three events (same sort key)
            "@timestamp": [t0 + timedelta(seconds=i // 12) for i in range(n)],
            "record": [i // 3 for i in range(n)],
            "message": [f"{ev} row {i}" for i in range(n)],
            "host.hostname": ["PC-01"] * n,
        }
        writer = EventWriter(case, ev, "test.tied")
        writer.add(finalize_batch(batch_from_columns(cols, n), ev, "test.tied"))
        writer.close()
    return case


def test_every_row_once_forward_and_back(tmp_path: Path) -> None:
    store = Store(_tied_case(tmp_path / "case"))
    for order in ("asc", "desc"):
        seen: list[str] = []
        pages = []
        after = None
        while True:
            page = store.timeline(Filters(host="pc-01"), after=after, limit=11, order=order)
            pages.append(page)
            seen += [r["message"] for r in page.rows]
            if not page.next:
                break
            after = page.next
        assert len(seen) == 120 and len(set(seen)) == 120, order
        times = [datetime.fromisoformat(str(r["@timestamp"])) for p in pages for r in p.rows]
        assert times == sorted(times, reverse=order == "desc")
        if order == "desc":
            continue
        back: list[str] = [r["message"] for r in pages[-1].rows]
        page = pages[-1]
        while page.prev:
            page = store.timeline(Filters(host="pc-01"), before=page.prev, limit=11, order=order)
            back = [r["message"] for r in page.rows] + back
        assert back == seen


def test_cursor_round_trip() -> None:
    c = Cursor(datetime(2015, 9, 10, 5, 0, 1, 500, tzinfo=UTC), "abc", 12, 2)
    assert Cursor.decode(c.encode()) == c
