"""``ashiato hunt``: run Sigma rules and IOC lists over a case and store the hits.

Hits become events of the dataset ``ashiato.detection`` so the timeline, ``investigate``
and the report see them like any other event:

- ``@timestamp``, ``host.*``, ``user.*``, ``source.ip``/``destination.ip`` (and ports)
  are copied from the matched event, and so are ``evidence_id``/``record``: a
  detection's reference *is* the matched record, so ``ashiato show`` prints both the
  event and the original log line behind it;
- ``rule.name``/``rule.id`` name the rule or indicator, ``rule.category`` is ``sigma``,
  ``sigma-correlation`` or ``ioc``, ``event.severity`` the level (1 informational ...
  5 critical) and ``message`` a one-line summary;
- ``extra.detection`` keeps the level, rule file, tags, the matched event's dataset and
  code, and for correlations every related event reference and the group values.

Re-running replaces every earlier detection (the hunt is one statement about the case).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from importlib import resources
from pathlib import Path
from typing import Any

import orjson
import pyarrow as pa

from ashiato.case import Case, EventWriter
from ashiato.detect import ioc as ioc_mod
from ashiato.detect import sigma
from ashiato.schema import batch_from_columns

DATASET = "ashiato.detection"
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_US = timedelta(microseconds=1)
LEVEL_NUMBER = {name: i + 1 for i, name in enumerate(sigma.LEVELS)}
_COPIED = (
    "host.name", "host.hostname", "host.ip", "user.name", "user.domain",
    "source.ip", "source.port", "destination.ip", "destination.port",
)  # fmt: skip


@dataclass
class RuleSummary:
    title: str
    id: str | None
    level: str
    kind: str
    hits: int
    hosts: list[str]


@dataclass
class HuntReport:
    rules: list[RuleSummary]
    problems: list[sigma.Problem]
    ioc_sources: list[ioc_mod.SourceSummary] = field(default_factory=list)
    stored: int = 0
    stats: dict[str, Any] = field(default_factory=dict)


def bundled_rules() -> Path:
    """The folder of ashiato's own curated rules."""
    return Path(str(resources.files("ashiato.detect") / "rules"))


def hunt(
    case: Case,
    sigma_paths: Sequence[Path] = (),
    ioc_paths: Sequence[Path] = (),
    min_level: str = "low",
) -> HuntReport:
    """Run the rules (the bundled ones when ``sigma_paths`` is empty) and the IOC lists."""
    from ashiato.detect.sigma.sqlscan import RELEASE, DuckRelation, settings

    if min_level not in sigma.LEVELS:
        from ashiato.errors import QueryError

        raise QueryError(f"--min-level must be one of {', '.join(sigma.LEVELS)}")
    program = sigma.compiled(list(sigma_paths) or [bundled_rules()])
    loaded = ioc_mod.load(ioc_paths)
    with case.writer() as con:  # the writer lock: one hunt at a time
        for old in (case.events_dir / DATASET).glob("*.parquet*"):
            old.unlink()  # the events view reads the folder at each query: they're gone
        with settings(con, RELEASE):
            result = sigma.execute(DuckRelation(con, "events"), program, min_level)
        ioc_hits: list[ioc_mod.IocHit] = []
        sources: list[ioc_mod.SourceSummary] = []
        if loaded:  # Ibis only when there are indicators to match
            import ibis

            events = ibis.duckdb.from_connection(con).table("events")
            ioc_hits, sources = ioc_mod.match(events, loaded)
        rows = [_sigma_row(d) for d in result.detections] + [_ioc_row(h) for h in ioc_hits]
        stored = _store(case, rows)
    report = HuntReport(
        rules=_summaries(result, ioc_hits), problems=result.problems,
        ioc_sources=sources, stored=stored,
        stats={"scopes": result.stats.scopes, "rows_scanned": result.stats.rows_prepared,
               "queries": result.stats.queries,
               "seconds_prepare": round(result.stats.seconds_prepare, 2),
               "seconds_match": round(result.stats.seconds_match, 2)},
    )  # fmt: skip
    return report


def _summaries(result: sigma.Result, ioc_hits: list[ioc_mod.IocHit]) -> list[RuleSummary]:
    counts: dict[int, list[dict[str, Any]]] = {}
    for d in result.detections:
        counts.setdefault(d.rule.key, []).append(d.event)
    out = []
    for info in result.rules:
        evs = counts.get(info.key, [])
        hosts = sorted({str(e.get("host.name")) for e in evs if e.get("host.name")})
        out.append(RuleSummary(info.title, info.id, info.level, info.kind, len(evs), hosts))
    by_ioc: dict[tuple[str, str], list[ioc_mod.IocHit]] = {}
    for h in ioc_hits:
        by_ioc.setdefault((h.indicator.type, h.indicator.value), []).append(h)
    for (typ, value), hs in by_ioc.items():
        hosts = sorted({str(h.event.get("host.name")) for h in hs if h.event.get("host.name")})
        out.append(RuleSummary(f"IOC {typ} {value}", None, "high", "ioc", len(hs), hosts))
    out.sort(key=lambda r: (-LEVEL_NUMBER.get(r.level, 0), -r.hits, r.title))
    return out


def _base(event: dict[str, Any]) -> dict[str, Any]:
    row = {k: event.get(k) for k in _COPIED}
    row["@timestamp"] = event.get("@timestamp")
    row["evidence_id"] = event.get("evidence_id")
    row["record"] = event.get("record")
    return row


def _what(event: dict[str, Any]) -> str:
    for key in ("process.command_line", "file.path", "url.original", "dns.question.name",
                "process.executable", "rule.name", "message"):  # fmt: skip
        if event.get(key):
            return str(event[key])[:200]
    return ""


def _sigma_row(d: sigma.Detection) -> dict[str, Any]:
    ev = d.event
    row = _base(ev)
    kind = "sigma-correlation" if d.rule.kind == "correlation" else "sigma"
    detail: dict[str, Any] = {
        "engine": kind, "level": d.rule.level, "rule_file": d.rule.path, "tags": d.rule.tags,
        "logsource": d.rule.logsource, "dataset": ev.get("event.dataset"),
        "code": ev.get("event.code"),
    }  # fmt: skip
    if d.related:
        detail["events"] = [f"{e.get('evidence_id')}:{e.get('record')}" for e in d.related[:50]]
        detail["count"] = len(d.related)
        detail["group"] = d.group
    what = _what(ev)
    row.update({
        "event.action": "correlation-matched" if d.related else "sigma-matched",
        "rule.name": d.rule.title, "rule.id": d.rule.id, "rule.category": kind,
        "event.severity": LEVEL_NUMBER.get(d.rule.level, 3),
        "message": f"[{d.rule.level}] {d.rule.title}" + (f": {what}" if what else ""),
        "extra": orjson.dumps({"detection": detail}, default=str).decode(),
    })  # fmt: skip
    return row


def _ioc_row(h: ioc_mod.IocHit) -> dict[str, Any]:
    ind = h.indicator
    row = _base(h.event)
    detail = {
        "engine": "ioc", "level": "high", "type": ind.type, "value": ind.value,
        "source": ind.source, "description": ind.description, "matched_column": h.column,
        "matched_value": h.matched, "dataset": h.event.get("event.dataset"),
    }  # fmt: skip
    row.update({
        "event.action": "ioc-matched", "rule.name": f"IOC {ind.type} {ind.value}",
        "rule.id": ind.id, "rule.category": "ioc", "event.severity": LEVEL_NUMBER["high"],
        "message": f"[ioc] {ind.type} {ind.value} in {h.column}"
        + (f" ({ind.description})" if ind.description else ""),
        "extra": orjson.dumps({"detection": detail}, default=str).decode(),
    })  # fmt: skip
    return row


def _store(case: Case, rows: list[dict[str, Any]]) -> int:
    if not rows:
        return 0
    rows.sort(key=lambda r: (str(r.get("@timestamp")), str(r.get("rule.name"))))
    cols: dict[str, list[Any]] = {}
    for k in {k for r in rows for k in r}:
        cols[k] = [r.get(k) for r in rows]
    # as microseconds: pyarrow converting zoned datetimes imports pandas (+90 MB)
    cols["@timestamp"] = pa.array(
        [None if t is None else (t - _EPOCH) // _US for t in cols["@timestamp"]],
        pa.timestamp("us", tz="UTC"),
    )
    cols["event.dataset"] = [DATASET] * len(rows)
    cols["event.provider"] = ["ashiato.hunt"] * len(rows)
    cols["event.category"] = ["intrusion_detection"] * len(rows)
    writer = EventWriter(case, "hunt", DATASET)
    try:
        writer.add(batch_from_columns(cols, len(rows)))
        writer.close()
    except BaseException:
        writer.abort()
        raise
    return len(rows)
