"""Events for the detection tests, stored the way the formats store them."""

from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import orjson

from ashiato.case import Case, EventWriter
from ashiato.normalize import finalize_batch
from ashiato.schema import NAMES, batch_from_columns

T0 = datetime(2015, 9, 9, 2, 0, tzinfo=UTC)


def sysmon(code: int, second: int = 0, **data: Any) -> dict[str, Any]:
    """A Sysmon event as the Windows formats store it (columns + raw EventData in extra)."""
    row: dict[str, Any] = {
        "@timestamp": T0 + timedelta(seconds=second),
        "event.dataset": "windows.sysmon",
        "event.code": str(code),
        "event.provider": "Microsoft-Windows-Sysmon",
        "host.hostname": data.pop("_host", "PC-01.corp.example"),
        "extra": {
            "winlog": {"channel": "Microsoft-Windows-Sysmon/Operational", "event_data": data}
        },
    }
    cols = {
        "Image": "process.executable",
        "CommandLine": "process.command_line",
        "ParentImage": "process.parent.executable",
        "TargetFilename": "file.path",
        "QueryName": "dns.question.name",
        "DestinationIp": "destination.ip",
        "DestinationPort": "destination.port",
    }
    for k, c in cols.items():
        if k in data:
            row[c] = data[k]
    return row


def write_case(root: Path, rows: Sequence[dict[str, Any]], evidence_id: str = "ev1") -> Case:
    case = Case.create_or_open(root, tz="UTC")
    by_ds: dict[str, list[dict[str, Any]]] = {}
    for r in rows:
        by_ds.setdefault(r.get("event.dataset") or "test", []).append(r)
    for n, (ds, part) in enumerate(by_ds.items()):
        writer = EventWriter(case, f"{evidence_id}-{n}", ds)
        writer.add(finalize_batch(batch(part), f"{evidence_id}-{n}", ds))
        writer.close()
    return case


def batch(rows: Sequence[dict[str, Any]]) -> Any:
    cols: dict[str, list[Any]] = {}
    for name in NAMES:
        vals = [r.get(name) for r in rows]
        if name == "extra":
            vals = [orjson.dumps(v).decode() if isinstance(v, dict) else v for v in vals]
        if name == "record" and all(v is None for v in vals):
            vals = list(range(1, len(rows) + 1))
        if name == "@timestamp":
            vals = [v or T0 for v in vals]
        if any(v is not None for v in vals):
            cols[name] = vals
    return batch_from_columns(cols, len(rows))
