"""Evaluate many compiled rules over the events table: one prepared scan per scope.

For each scope (the rows a set of rules can match, e.g. Sysmon 1 + Security 4688):

1. **prepare**: one pass over ``events`` keeps the scope's rows and computes, once, every
   value the scope's rules read: raw ``extra`` values (all paths in a single JSON parse),
   lower-cased text for the case-insensitive tests, numbers for ``gt``/``lt``, and the
   text searched by keywords. The result is a temporary table.
2. **match**: rules are evaluated over that table in chunks, one query per chunk:
   ``WHERE rule_1 OR ... OR rule_n`` keeps the candidate rows (so each rule's first test
   runs once per row) and the SELECT gives one boolean column per rule for them.

Everything is an Ibis expression (the JSON extraction is one backend function, chosen
per backend in :func:`_json_paths`), so the same code can run on another engine.
"""

from __future__ import annotations

import itertools
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import orjson

from ashiato.detect.sigma.pipeline import Field, Scope, Target
from ashiato.detect.sigma.plan import KEYWORD, Plan, event_codes, fields_of, or_, to_ibis

# columns copied from the matched event into a hit
KEEP = (
    "@timestamp",
    "event.dataset",
    "event.code",
    "event.outcome",  # failed sign-ins are attempts, not acts (incidents)
    "host.name",
    "host.hostname",
    "host.ip",
    "user.name",
    "user.domain",
    "source.ip",
    "source.port",
    "destination.ip",
    "destination.port",
    "evidence_id",
    "record",
    "process.executable",
    "process.command_line",
    "file.path",
    "url.original",
    "dns.question.name",
    "rule.name",
    "message",
)
# text searched by keywords (plus the raw extra JSON)
KEYWORD_COLUMNS = (
    "message",
    "process.command_line",
    "process.executable",
    "process.parent.executable",
    "file.path",
    "url.original",
    "dns.question.name",
    "rule.name",
    "user.name",
    "email.subject",
)
CHUNK = 250  # rules per match query: bounds the size of one SQL statement


@dataclass
class Job:
    """One rule to evaluate: its plan, scope and the values its hits must carry."""

    key: int
    scope: Scope
    plan: Plan
    outputs: tuple[Field, ...] = ()


@dataclass
class Hit:
    key: int
    event: dict[str, Any]
    values: dict[str, Any] = field(default_factory=dict)  # Field.key -> value (outputs)
    partial: bool = False  # event: only what a correlation reads, until :func:`complete`


@dataclass
class Stats:
    scopes: int = 0
    rows_prepared: int = 0
    queries: int = 0
    seconds_prepare: float = 0.0
    seconds_match: float = 0.0
    errors: list[tuple[int, str]] = field(default_factory=list)  # (job key, reason)


def scope_filter(t: Any, scope: Scope) -> Any:
    import ibis

    parts = []
    for target in scope:
        parts.append(_target_filter(t, target))
    if any(p is None for p in parts):
        return ibis.literal(True)
    return _fold_or(parts)


def _target_filter(t: Any, target: Target) -> Any:
    conds = []
    if target.datasets:
        ds = t["event.dataset"]
        conds.append(ds == target.datasets[0] if len(target.datasets) == 1
                     else ds.isin(target.datasets))  # fmt: skip
    if target.codes:
        code = t["event.code"]
        conds.append(code == target.codes[0] if len(target.codes) == 1
                     else code.isin(target.codes))  # fmt: skip
    if target.observer_types:
        conds.append(t["observer.type"].isin(target.observer_types))
    if target.needs:
        conds.append(t[target.needs].notnull())
    if not conds:
        return None
    out = conds[0]
    for c in conds[1:]:
        out = out & c
    return out


def _fold_or(items: Sequence[Any]) -> Any:
    from ashiato.detect.sigma.plan import fold

    return fold(list(items), "or")


def run(
    events: Any, jobs: Sequence[Job], chunk: int = 0, engine: str = "auto",
    light: frozenset[int] = frozenset(),
) -> tuple[list[Hit], Stats]:  # fmt: skip
    """Evaluate every job over ``events`` (an Ibis table, or a DuckDB relation).

    ``light``: jobs whose hits only feed correlations; the DuckDB scan gives them
    ``partial`` events (time and reference), :func:`complete` reads the rest of those a
    correlation matched (thousands of proxy downloads, a handful in an exploit-kit chain).

    ``engine``: ``scan`` evaluates each scope's rules in one DuckDB statement
    (:mod:`.sqlscan`); ``ibis`` compiles the match queries with Ibis (any backend);
    ``sql`` is the earlier DuckDB path (a temporary table per scope, the plans rendered
    as a UNION ALL, see :mod:`.sqlpath`), kept to check the others against; ``auto``
    takes ``scan`` on DuckDB, else ``ibis``.
    """
    stats = Stats()
    if engine in ("auto", "scan"):
        from ashiato.detect.sigma import sqlscan

        rel = sqlscan.relation_of(events)
        if rel is not None:
            return sqlscan.run(rel, jobs, stats, light), stats
    chunk = chunk or CHUNK
    by_scope: dict[Scope, list[Job]] = {}
    for job in jobs:
        by_scope.setdefault(job.scope, []).append(job)
    hits: list[Hit] = []
    groups = [part for scope, group in by_scope.items() for part in split(scope, group)]
    base, drop = _base(events, [scope for scope, _ in groups], jobs, stats)
    try:
        for scope, group in groups:
            stats.scopes += 1
            hits.extend(_run_scope(base, scope, group, chunk, stats, engine))
    finally:
        if drop:
            _drop(events.get_backend(), drop)
    return hits, stats


def complete(events: Any, rows: Sequence[dict[str, Any]]) -> None:
    """Fill in place the ``partial`` events of :func:`run` (those ``rows``)."""
    if rows:
        from ashiato.detect.sigma import sqlscan

        rel = sqlscan.relation_of(events)
        if rel is not None:
            sqlscan.complete(rel, rows)


SPLIT_MAX = 8  # distinct event-code sets a scope is split into (beyond: one union scan)


def split(scope: Scope, jobs: list[Job]) -> list[tuple[Scope, list[Job]]]:
    """A scope's rules grouped by the event codes they test, each group with the scope
    narrowed to its codes: a rule on the few 4648s is then not prepared over the million
    5145s of a file server (raw fields are extracted for every row of a scan). Rule sets
    with many different code sets (SigmaHQ) keep one scan, narrowed to the union."""
    by_codes: dict[frozenset[str] | None, list[Job]] = {}
    for job in jobs:
        by_codes.setdefault(event_codes(job.plan), []).append(job)
    if None in by_codes or len(by_codes) == 1 or len(by_codes) > SPLIT_MAX:
        return [(narrow(scope, jobs), jobs)]
    return [(narrow(scope, part), part) for part in by_codes.values()]


def narrow(scope: Scope, jobs: Sequence[Job]) -> Scope:
    """The scope cut down to the event codes its rules test (a service's whole channel,
    e.g. every Security event, is scanned only for the 4625s and 1102s its rules want)."""
    union: set[str] = set()
    for job in jobs:
        codes = event_codes(job.plan)
        if codes is None:
            return scope
        union |= codes
    out = []
    for t in scope:
        kept = sorted(union if t.codes is None else union & set(t.codes))
        if kept:
            out.append(Target(t.datasets, tuple(kept), t.observer_types, t.needs))
    return tuple(out) or scope


def _base(
    events: Any, scopes: list[Scope], jobs: Sequence[Job], stats: Stats
) -> tuple[Any, str | None]:
    """With many scopes, copy the rows any of them can match once (one scan of the case
    instead of one per scope; the case is Parquet files and the copy stays in memory)."""
    if len(scopes) < 4:
        return events, None
    t0 = time.perf_counter()
    needed = {*KEEP, "extra", "event.dataset", "event.code", "observer.type"}
    needed |= {t.needs for s in scopes for t in s if t.needs}
    for job in jobs:
        for f, _v in itertools.chain(fields_of(job.plan), ((o, "s") for o in job.outputs)):
            if f == KEYWORD:
                needed |= set(KEYWORD_COLUMNS)
            elif f.column:
                needed.add(f.column)
    backend = events.get_backend()
    wanted = _fold_or([scope_filter(events, s) for s in scopes])
    name = f"_ashiato_hunt_base_{id(events):x}"
    cols = [c for c in events.columns if c in needed]
    try:
        table = backend.create_table(name, events.filter(wanted).select(*cols), temp=True)
    except Exception:  # a backend without temp tables: scan per scope
        return events, None
    stats.seconds_prepare += time.perf_counter() - t0
    return table, name


def _run_scope(
    events: Any, scope: Scope, jobs: list[Job], chunk: int, stats: Stats, engine: str
) -> list[Hit]:
    backend = events.get_backend()
    wanted: dict[tuple[Field, str], str] = {}
    for job in jobs:
        for f, view in itertools.chain(fields_of(job.plan), ((o, "s") for o in job.outputs)):
            if f == KEYWORD:
                for v in (view, view + "j"):
                    wanted.setdefault((f, v), f"_k{len(wanted)}")
            else:
                wanted.setdefault((f, view), f"_f{len(wanted)}")
    t0 = time.perf_counter()
    prepared = events.filter(scope_filter(events, scope)).select(
        *[c for c in KEEP if c in events.columns], **_prepare(events, wanted)
    )
    name = f"_ashiato_hunt_{id(prepared):x}_{stats.scopes}"
    try:
        if backend.name == "duckdb":
            table = backend.create_table(name, prepared, temp=True)
        else:  # Spark has no temporary tables through Ibis; a cached view does the same
            table = prepared.cache()
    except Exception as exc:  # one scope's failure (e.g. bad regex) must not stop the hunt
        stats.errors.extend((j.key, f"scan failed: {exc}") for j in jobs)
        return []
    try:
        n = int(table.count().execute())
        stats.rows_prepared += n
        stats.seconds_prepare += time.perf_counter() - t0
        if n == 0:
            return []
        t1 = time.perf_counter()
        if engine == "sql" or (engine == "auto" and backend.name == "duckdb"):
            from ashiato.detect.sigma.sqlpath import match_sql

            out = match_sql(backend.con, name, table.columns, jobs, wanted, stats)
        else:
            out = _match(table, jobs, wanted, chunk, stats)
        stats.seconds_match += time.perf_counter() - t1
        return out
    finally:
        if backend.name == "duckdb":
            _drop(backend, name)
        else:
            table.release()


def _drop(backend: Any, name: str) -> None:
    if backend.name == "duckdb":  # ibis 12's DROP for temp tables doesn't parse on duckdb 1.5
        backend.raw_sql(f'DROP TABLE IF EXISTS temp.main."{name}"')
    else:
        backend.drop_table(name, force=True)


def _prepare(t: Any, wanted: dict[tuple[Field, str], str]) -> dict[str, Any]:
    """Named Ibis expressions for every (field, view) the rules read."""
    paths: list[str] = []
    for f, _v in wanted:
        if f != KEYWORD and f.column is None:
            for p in f.paths:
                if p not in paths:
                    paths.append(p)
    raw = _json_paths(t, paths)
    out: dict[str, Any] = {}
    for (f, view), alias in wanted.items():
        if f == KEYWORD:
            out[alias] = _keyword_text(t, view)
            continue
        if f.column is not None:
            base = t[f.column]
        else:
            vals = [raw[p] for p in f.paths]
            base = vals[0] if len(vals) == 1 else _coalesce(vals)
        out[alias] = _view(base, view, f)
    return out


def _coalesce(vals: list[Any]) -> Any:
    import ibis

    return ibis.coalesce(*vals)


def _view(base: Any, view: str, f: Field) -> Any:
    if view == "n":
        if f.numeric:
            return base
        return base.cast("string").try_cast("float64")
    text = base if f.column is None or not f.numeric else base.cast("string")
    if f.column is not None and base.type().is_timestamp():
        text = base.cast("string")
    return text.lower() if view == "l" else text


def _keyword_text(t: Any, view: str) -> Any:
    import ibis

    if view.endswith("j"):
        text = t["extra"]
    else:
        cols = [t[c].cast("string") for c in KEYWORD_COLUMNS if c in t.columns]
        text = ibis.literal("\n").join([c.fill_null("") for c in cols])
    return text.lower() if view.startswith("l") else text


def _json_paths(t: Any, paths: list[str]) -> dict[str, Any]:
    """Raw values of ``extra`` at each JSON path, parsed once per row where possible."""
    if not paths:
        return {}
    import ibis
    import ibis.expr.datatypes as dt

    backend = t.get_backend().name
    if backend == "duckdb":
        many = _udfs()["duckdb_many"]
        arr = many(t["extra"], ibis.literal(paths, type=dt.Array(dt.string)))
        return {p: arr[i] for i, p in enumerate(paths)}
    one = _udfs()["get_json_object"]
    return {p: one(t["extra"], p) for p in paths}


_UDF_CACHE: dict[str, Callable[..., Any]] = {}


def _udfs() -> dict[str, Callable[..., Any]]:
    if not _UDF_CACHE:
        import ibis
        import ibis.expr.datatypes as dt

        def duckdb_many(doc: Any, paths: Any) -> Any:
            """DuckDB: ``extra ->> [paths]`` parses the document once for all paths."""

        def get_json_object(doc: Any, path: Any) -> Any:
            """Spark and Hive: one path at a time."""

        texts = dt.Array(dt.string)
        _UDF_CACHE["duckdb_many"] = ibis.udf.scalar.builtin(
            duckdb_many, name="json_extract_string", signature=((dt.string, texts), texts)
        )
        _UDF_CACHE["get_json_object"] = ibis.udf.scalar.builtin(
            get_json_object, name="get_json_object", signature=((dt.string, dt.string), dt.string)
        )
    return _UDF_CACHE


def _match(
    table: Any, jobs: list[Job], wanted: dict[tuple[Field, str], str], chunk: int, stats: Stats
) -> list[Hit]:
    def col(f: Field, view: str) -> Any:
        return table[wanted[(f, view)]]

    keep = [c for c in KEEP if c in table.columns]
    hits: list[Hit] = []
    for start in range(0, len(jobs), chunk):
        part = jobs[start : start + chunk]
        memo: dict[Plan, Any] = {}
        exprs: dict[str, Any] = {}
        plans: list[Plan] = []
        for i, job in enumerate(part):
            try:
                exprs[f"_r{i}"] = to_ibis(job.plan, col, memo).fill_null(False)
                plans.append(job.plan)
            except Exception as exc:
                stats.errors.append((job.key, f"can't build the expression: {exc}"))
        if not exprs:
            continue
        any_rule = to_ibis(or_(plans), col, memo)
        outs = {wanted[(o, "s")]: table[wanted[(o, "s")]]
                for job in part for o in job.outputs}  # fmt: skip
        q = table.filter(any_rule).select(*keep, **outs, **exprs)
        stats.queries += 1
        try:
            result = q.to_pyarrow()
        except Exception as exc:
            # retry rule by rule so one bad rule (e.g. a regex the engine refuses) is named
            hits.extend(_one_by_one(table, part, col, keep, wanted, stats, exc))
            continue
        hits.extend(_collect(result, part, wanted, keep))
    return hits


def _one_by_one(
    table: Any,
    part: list[Job],
    col: Callable[[Field, str], Any],
    keep: list[str],
    wanted: dict[tuple[Field, str], str],
    stats: Stats,
    first: Exception,
) -> list[Hit]:
    out: list[Hit] = []
    for job in part:
        try:
            expr = to_ibis(job.plan, col, {}).fill_null(False)
            outs = {wanted[(o, "s")]: table[wanted[(o, "s")]] for o in job.outputs}
            res = table.filter(expr).select(*keep, **outs, _r0=expr).to_pyarrow()
        except Exception as exc:
            stats.errors.append((job.key, f"query failed: {_short(exc)}"))
            continue
        stats.queries += 1
        out.extend(_collect(res, [job], wanted, keep))
    return out


def _short(exc: Exception) -> str:
    return str(exc).splitlines()[0][:300]


def _collect(result: Any, part: list[Job], wanted: dict[tuple[Field, str], str],
             keep: list[str]) -> list[Hit]:  # fmt: skip
    if result.num_rows == 0:
        return []
    events = result.select(keep).to_pylist()
    hits: list[Hit] = []
    for i, job in enumerate(part):
        name = f"_r{i}"
        if name not in result.column_names:
            continue
        flags = result.column(name).to_pylist()
        outs = {o.key: result.column(wanted[(o, "s")]).to_pylist() for o in job.outputs}
        for row, flag in enumerate(flags):
            if flag:
                values = {k: v[row] for k, v in outs.items()}
                hits.append(Hit(job.key, events[row], values))
    return hits


def dumps(value: Any) -> str:
    return orjson.dumps(value, default=str).decode()
