"""DuckDB: every rule of a log source evaluated in ONE statement, rules as columns.

The runner groups rules by scope (log source, narrowed and split by event codes, see
:func:`.runner.split`). When there are several scopes, the rows any of them can match are
first copied once from the case (one read of the Parquet files, only the columns the
rules read). Then each scope is one statement:

1. ``g``: the scope's rows with the columns a hit carries and every value its rules read
   (raw ``extra`` values from one JSON parse per row, lower-cased text, numbers), plus a
   hash of those values;
2. ``d``: the distinct combinations of values (logs repeat themselves);
3. ``m``: per combination, the rules that match it: rule k is
   ``CASE WHEN plan THEN k END`` in one list (in a CASE condition DuckDB evaluates an
   AND's later tests only on the rows where the earlier ones held), nulls dropped and
   unnested into (hash, rule) pairs;
4. the pairs joined back to every row of ``g``: only hits leave the engine.

No temporary table per scope, no Ibis compilation: the plans are rendered as SQL text
(:func:`.sqlpath.to_sql`). SQL text is built here on purpose (S608): identifiers are our
own aliases and the schema's column names, quoted by ``q``; every value from a rule goes
through ``sql_literal``; nothing from the logs is pasted.
"""

from __future__ import annotations

import itertools
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

from ashiato.detect.sigma.pipeline import TIME_COLUMNS, Field, Scope, Target
from ashiato.detect.sigma.plan import KEYWORD, Plan, fields_of
from ashiato.detect.sigma.runner import KEEP, KEYWORD_COLUMNS, Hit, Job, Stats, split
from ashiato.detect.sigma.sqlpath import q, sql_literal, to_sql

STATEMENT_MAX = 300  # rules per statement


@dataclass(frozen=True)
class DuckRelation:
    """Rows on a DuckDB connection: a quoted table name or a parenthesised query. The
    hunt passes the case's ``events`` view this way, so it never imports Ibis."""

    con: Any
    sql: str


def relation_of(events: Any) -> DuckRelation | None:
    """``events`` as a :class:`DuckRelation` when it lives in DuckDB, else None."""
    if isinstance(events, DuckRelation):
        return events
    try:
        backend = events.get_backend()
    except AttributeError:
        return None
    if backend.name != "duckdb":
        return None
    import ibis

    return DuckRelation(backend.con, f"({ibis.to_sql(events, dialect='duckdb')})")


def run(rel: DuckRelation, jobs: Sequence[Job], stats: Stats) -> list[Hit]:
    by_scope: dict[Scope, list[Job]] = {}
    for job in jobs:
        by_scope.setdefault(job.scope, []).append(job)
    groups = [part for scope, group in by_scope.items() for part in split(scope, group)]
    if not groups:
        return []
    with _settings(rel.con, _FLUSH):
        return _run(rel, groups, stats)


def _run(rel: DuckRelation, groups: list[tuple[Scope, list[Job]]], stats: Stats) -> list[Hit]:
    columns = _columns(rel)
    base, drop = rel.sql, None
    t0 = time.perf_counter()
    if len(groups) >= 4:
        base = drop = q(f"_ashiato_scan_{id(stats):x}")
        wanted = " OR ".join(_scope_sql(s, columns) for s, _ in groups)
        needed = _needed(groups)
        columns = [c for c in columns if c in needed]
        cols = ", ".join(q(c) for c in columns)
        with _settings(rel.con, _LEAN):
            rel.con.execute(
                f"CREATE TEMP TABLE {drop} AS SELECT {cols} FROM {rel.sql} WHERE {wanted}"  # noqa: S608
            )
    stats.seconds_prepare += time.perf_counter() - t0
    hits: list[Hit] = []
    try:
        for scope, group in groups:
            stats.scopes += 1
            t1 = time.perf_counter()
            hits.extend(_scope(rel.con, base, columns, scope, group, stats))
            stats.seconds_match += time.perf_counter() - t1
    finally:
        if drop:
            rel.con.execute(f"DROP TABLE IF EXISTS temp.main.{drop}")
    return hits


# Reading a case's hundreds of small Parquet files, DuckDB's file cache and the ordered
# insert of two threads tripled the hunt's peak memory (346 MB against 173 MB without,
# SigmaHQ rules over the public EVTX corpus) for no gain in speed: the copy is unordered
# (the hits are sorted at the end) and the files are read once.
_LEAN = {"preserve_insertion_order": "false", "enable_external_file_cache": "false"}
# Many statements, each planning hundreds of rules: DuckDB's allocator kept what each
# freed (~25 MB more at the peak); flushing after every task returns it at once.
_FLUSH = {"allocator_flush_threshold": "1MB", "allocator_bulk_deallocation_flush_threshold": "1MB"}


@contextmanager
def _settings(con: Any, values: dict[str, str]) -> Iterator[None]:
    """DuckDB settings changed for a while, then put back (the connection is the case's)."""
    old = {}
    for name, value in values.items():
        row = con.execute("SELECT current_setting(?)", [name]).fetchone()
        if row is None:
            continue
        old[name] = str(row[0])
        con.execute(f"SET {name} = {sql_literal(value)}")
    try:
        yield
    finally:
        for name, value in old.items():
            con.execute(f"SET {name} = {sql_literal(value)}")


def _columns(rel: DuckRelation) -> list[str]:
    cur = rel.con.execute(f"SELECT * FROM {rel.sql} LIMIT 0")  # noqa: S608
    return [d[0] for d in cur.description]


def _needed(groups: list[tuple[Scope, list[Job]]]) -> set[str]:
    needed = {*KEEP, "extra", "event.dataset", "event.code", "observer.type"}
    for scope, jobs in groups:
        needed |= {t.needs for t in scope if t.needs}
        for job in jobs:
            for f, _v in _reads(job):
                if f == KEYWORD:
                    needed |= set(KEYWORD_COLUMNS)
                elif f.column:
                    needed.add(f.column)
    return needed


def _reads(job: Job) -> Any:
    return itertools.chain(fields_of(job.plan), ((o, "s") for o in job.outputs))


def _scope_sql(scope: Scope, columns: Sequence[str]) -> str:
    parts = [_target_sql(t, columns) for t in scope]
    if any(p is None for p in parts) or not parts:
        return "true"
    return "(" + " OR ".join(p for p in parts if p) + ")"


def _target_sql(t: Target, columns: Sequence[str]) -> str | None:
    conds = []
    for col, values in (("event.dataset", t.datasets), ("event.code", t.codes),
                        ("observer.type", t.observer_types)):  # fmt: skip
        if values:
            if col not in columns:
                return "false"
            conds.append(f"{q(col)} IN ({', '.join(sql_literal(v) for v in values)})")
    if t.needs:
        conds.append(f"{q(t.needs)} IS NOT NULL" if t.needs in columns else "false")
    return "(" + " AND ".join(conds) + ")" if conds else None


def _scope(
    con: Any, base: str, columns: list[str], scope: Scope, jobs: list[Job], stats: Stats
) -> list[Hit]:
    wanted: dict[tuple[Field, str], str] = {}
    for job in jobs:
        for f, view in _reads(job):
            if f == KEYWORD:
                for v in (view, view + "j"):
                    wanted.setdefault((f, v), f"_k{len(wanted)}")
            else:
                wanted.setdefault((f, view), f"_f{len(wanted)}")
    try:
        return _query(con, base, columns, scope, list(enumerate(jobs)), wanted, stats)
    except Exception:  # find the rule the engine refuses (e.g. a regex), run the others
        hits: list[Hit] = []
        for i, job in enumerate(jobs):
            try:
                hits.extend(_query(con, base, columns, scope, [(i, job)], wanted, stats))
            except Exception as exc:
                stats.errors.append((job.key, f"query failed: {_short(exc)}"))
        return hits


def _query(
    con: Any, base: str, columns: list[str], scope: Scope, jobs: list[tuple[int, Job]],
    wanted: dict[tuple[Field, str], str], stats: Stats,
) -> list[Hit]:  # fmt: skip
    paths: dict[str, int] = {}
    for f, _v in wanted:
        if f != KEYWORD and f.column is None:
            for p in f.paths:
                paths.setdefault(p, len(paths) + 1)
    keep = [c for c in KEEP if c in columns]
    values = [f"{_value_sql(f, v, paths, columns)} AS {q(a)}" for (f, v), a in wanted.items()]
    aliases = [q(a) for a in wanted.values()]
    inner = "*"
    if paths:
        plist = ", ".join(sql_literal(p) for p in paths)
        inner = f'*, json_extract_string("extra", [{plist}]) AS _j'
    g = (
        f"SELECT {', '.join([*(q(c) for c in keep), *values])} "  # noqa: S608
        f"FROM (SELECT {inner} FROM {base} WHERE {_scope_sql(scope, columns)})"
    )
    hashed = f"hash({', '.join(aliases)})" if aliases else "0::UBIGINT"
    anys = ", ".join(f"any_value({a}) AS {a}" for a in aliases)
    g_sql = f"SELECT *, {hashed} AS _h FROM ({g})"  # noqa: S608
    d_sql = f"SELECT _h{', ' + anys if anys else ''} FROM g GROUP BY _h"  # noqa: S608
    outs = sorted({wanted[(o, "s")] for _, j in jobs for o in j.outputs})
    picked = ", ".join(["m._k", *(f"g.{q(c)}" for c in [*keep, *outs])])
    order = ", ".join(["m._k", *(f"g.{q(c)}" for c in ("evidence_id", "record") if c in keep)])
    memo: dict[Plan, str] = {}

    def col(f: Field, view: str) -> str:
        return q(wanted[(f, view)])

    def pairs(part: list[tuple[int, Job]]) -> str:
        """(hash, rule) for every distinct row ``d`` and rule of ``part`` that matches."""
        cases = ", ".join(f"CASE WHEN {to_sql(j.plan, col, memo)} THEN {i} END" for i, j in part)
        return f"SELECT _h, unnest(list_filter([{cases}], x -> x IS NOT NULL)) AS _k FROM d"  # noqa: S608

    chunks = [jobs[i : i + STATEMENT_MAX] for i in range(0, len(jobs), STATEMENT_MAX)]
    results = []
    if len(chunks) == 1:
        sql = (
            f"WITH g AS MATERIALIZED ({g_sql}), d AS MATERIALIZED ({d_sql}), "  # noqa: S608
            f"m AS ({pairs(jobs)}) SELECT {picked} FROM m JOIN g USING (_h) ORDER BY {order}"
        )
        stats.queries += 1
        results.append(con.execute(sql).to_arrow_table())
    else:
        # many rules: the rows and their distinct values once, then a statement per chunk
        # (planning one statement of 1,100 SigmaHQ rules held ~80 MB more at its peak)
        tag = f"_ashiato_scan_{id(memo):x}"
        tg, td = q(tag + "_g"), q(tag + "_d")
        try:
            con.execute(f"CREATE TEMP TABLE {tg} AS {g_sql}")
            con.execute(f"CREATE TEMP TABLE {td} AS {d_sql.replace(' FROM g ', f' FROM {tg} ')}")
            for part in chunks:
                stats.queries += 1
                sql = (
                    f"WITH d AS (SELECT * FROM {td}), m AS ({pairs(part)}) "  # noqa: S608
                    f"SELECT {picked} FROM m JOIN {tg} g USING (_h) ORDER BY {order}"
                )
                results.append(con.execute(sql).to_arrow_table())
        finally:
            con.execute(f"DROP TABLE IF EXISTS temp.main.{tg}")
            con.execute(f"DROP TABLE IF EXISTS temp.main.{td}")
    by_index = dict(jobs)
    hits: list[Hit] = []
    for res in results:
        if res.num_rows == 0:
            continue
        ks = res.column("_k").to_pylist()
        events = res.select(keep).to_pylist()
        outcols = {c: res.column(c).to_pylist() for c in outs}
        for row, k in enumerate(ks):
            job = by_index[k]
            vals = {o.key: outcols[wanted[(o, "s")]][row] for o in job.outputs}
            hits.append(Hit(job.key, events[row], vals))
    return hits


def _value_sql(f: Field, view: str, paths: dict[str, int], columns: Sequence[str]) -> str:
    """The SQL of one (field, view) the rules read; mirrors ``runner._prepare``."""
    if f == KEYWORD:
        if view.endswith("j"):
            text = q("extra")
        else:
            cols = [f"coalesce(CAST({q(c)} AS VARCHAR), '')"
                    for c in KEYWORD_COLUMNS if c in columns]  # fmt: skip
            text = f"concat_ws(chr(10), {', '.join(cols)})" if cols else "''"
        return f"lower({text})" if view.startswith("l") else text
    cast = False
    if f.column is not None:
        base = q(f.column) if f.column in columns else "CAST(NULL AS VARCHAR)"
        cast = f.numeric or f.column in TIME_COLUMNS
    else:
        vals = [f"_j[{paths[p]}]" for p in f.paths]
        base = vals[0] if len(vals) == 1 else f"coalesce({', '.join(vals)})"
    if view == "n":
        return base if f.numeric else f"TRY_CAST(CAST({base} AS VARCHAR) AS DOUBLE)"
    text = f"CAST({base} AS VARCHAR)" if cast else base
    return f"lower({text})" if view == "l" else text


def _short(exc: Exception) -> str:
    return str(exc).splitlines()[0][:300]
