"""Analyst notes (interviews, settings, observations) stored as events in the case.

They appear in the timeline and the report like any other event, under the dataset
``ashiato.note``, with the evidence id ``analyst-notes`` and a running record number.
"""

from __future__ import annotations

from datetime import UTC, datetime

import orjson

from ashiato.case import Case, EventWriter
from ashiato.normalize import finalize_batch
from ashiato.schema import batch_from_columns
from ashiato.timeline import parse_time

NOTES_ID = "analyst-notes"


def add_note(
    case: Case,
    text: str,
    when: str | None = None,
    host: str | None = None,
    user: str | None = None,
    tags: str | None = None,
) -> int:
    ts = parse_time(when, case.tz) if when else datetime.now(UTC)
    with case.writer() as con:
        row = con.execute(
            "SELECT coalesce(max(record), 0) + 1 FROM events WHERE evidence_id = ?", [NOTES_ID]
        ).fetchone()
        record = int(row[0]) if row else 1
        batch = batch_from_columns(
            {
                "@timestamp": [ts.astimezone(UTC)],
                "message": [text],
                "host.hostname": [host],
                "user.name": [user],
                "event.action": ["analyst-note"],
                "event.category": ["note"],
                "extra": [orjson.dumps({"tags": tags}).decode() if tags else None],
                "record": [record],
            },
            1,
        )
        # one small Parquet file per note: notes are few, and files are never rewritten
        writer = EventWriter(case, f"{NOTES_ID}-{record:06d}", "ashiato.note")
        writer.add(finalize_batch(batch, NOTES_ID, "ashiato.note"))
        writer.close()
        con.execute(
            """INSERT OR IGNORE INTO evidence (evidence_id, path, format, dataset, status)
               VALUES (?, 'analyst notes (ashiato note)', 'note', 'ashiato.note', 'done')""",
            [NOTES_ID],
        )
    return record
