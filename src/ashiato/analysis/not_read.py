"""Evidence the responders handed over that the case does not hold.

The ingest catalogues every file it could not read: members refused or skipped in
archives (too deep, outside the archive, links, bombs, encrypted, disk images) with
status ``not read``, files no format recognised (``unrecognised``) and files whose
parsing failed. Coverage lists them so "no sign of X" is never said about logs that
were in the evidence but never looked at.
"""

from __future__ import annotations

from typing import Any

from ashiato.i18n import said

STATUSES = ("not read", "unrecognised", "failed")
LIMIT = 5000


def not_read(backend: Any) -> list[dict[str, Any]]:
    """``[{path, container, status, reason, size}]`` for evidence not read, by path."""
    ev = backend.table("evidence")
    q = (
        ev.filter(ev.status.isin(STATUSES))
        .select("path", "container", "status", reason=ev.error, size=ev["size"])
        .order_by("path")
        .limit(LIMIT)
    )
    rows: list[dict[str, Any]] = q.to_pyarrow().to_pylist()
    for r in rows:
        r["size"] = int(r["size"]) if r["size"] is not None else None
        if r["reason"] == UNRECOGNISED:  # our own words; a parser's error stays as it is
            r["reason"] = said(
                UNRECOGNISED, "not_read.unrecognised", command="ashiato formats --explain FILE"
            )
    return rows


UNRECOGNISED = "no format recognised this file; try `ashiato formats --explain FILE`"
