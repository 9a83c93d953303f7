"""DuckDB: every rule of a log source evaluated in ONE statement, rules as columns.

The runner groups rules by scope (log source, narrowed and split by event codes, see
:func:`.runner.split`). First one cheap read counts the rows of each named log (dataset,
event code): a scope the case has no rows for costs nothing. Then each scope is one
statement, of one of two kinds (:data:`DIRECT_MAX`, :data:`DIRECT_ROWS`):

- **row by row** (:func:`_direct`; few rules, a big log: a Security log, every event
  with a file path, a proxy): the scope's tests go down into the Parquet scan, the rules
  are one ``OR`` tested as the rows are read, nothing is copied (the 4.7M-event lab
  case's bundled rules: 16 s -> ~2 s CPU, the scan's own memory ~50 MB, not 0.9 GB);
- **on distinct values** (:func:`_scope`; many rules or a small log). When there are
  several such scopes their rows are first copied once from the case (one read of the
  Parquet files, only the columns the rules read). Then:

  1. ``g``: the scope's rows with every value its rules read (raw ``extra`` values from
     one JSON parse per row, lower-cased text, numbers), plus a hash of those values;
  2. ``d``: the distinct combinations of values (logs repeat themselves);
  3. ``m``: per combination, the rules that match it: rule k is
     ``CASE WHEN plan THEN k END`` in one list (in a CASE condition DuckDB evaluates an
     AND's later tests only on the rows where the earlier ones held), nulls dropped and
     unnested into (hash, rule) pairs;
  4. the pairs joined back to every row of ``g``.

Either way only the hits' references (evidence id, record) leave the engine; the
columns a hit carries are read once for all of them (:func:`_fetch`), so ``message``
or the clock-skew fix of ``@timestamp`` are never computed for the rows that don't match.

No temporary table per scope, no Ibis compilation: the plans are rendered as SQL text
(:func:`.sqlpath.to_sql`). SQL text is built here on purpose (S608): identifiers are our
own aliases and the schema's column names, quoted by ``q``; every value from a rule goes
through ``sql_literal``; nothing from the logs is pasted (record numbers are integers).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC
from typing import Any
from zoneinfo import ZoneInfo

import pyarrow as pa
import pyarrow.compute as pc

from ashiato.detect.sigma.pipeline import TIME_COLUMNS, Field, Scope, Target
from ashiato.detect.sigma.plan import KEYWORD, fields_of
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

    rel = DuckRelation(backend.con, f"({ibis.to_sql(events, dialect='duckdb')})")
    try:  # an expression over tables Ibis registers only when it runs (memtables...)
        _columns(rel)
    except Exception:
        return None  # the Ibis path runs it
    return rel


def run(
    rel: DuckRelation, jobs: Sequence[Job], stats: Stats, light: frozenset[int] = frozenset()
) -> list[Hit]:
    by_scope: dict[Scope, list[Job]] = {}
    for job in jobs:
        by_scope.setdefault(job.scope, []).append(job)
    groups = [part for scope, group in by_scope.items() for part in split(scope, group)]
    if not groups:
        return []
    return _run(rel, groups, stats, light)


def _run(
    rel: DuckRelation, groups: list[tuple[Scope, list[Job]]], stats: Stats, light: frozenset[int]
) -> list[Hit]:
    reads = _reads([j for _, group in groups for j in group])
    columns = _columns(rel)
    # a hit's row is named by its reference; its columns are read once, for the hits only
    refs = list(REF) if all(c in columns for c in REF) else []
    # rows per named log (Security 4624, Sysmon 1...): a scope the case has no rows for
    # costs nothing; a small one runs with the others on distinct values (below)
    named = [all(t.datasets for t in s) for s, _ in groups]
    targets = [t for (s, _), n in zip(groups, named, strict=True) if n for t in s]
    counts = _counts(rel, targets, columns) if targets else {}
    many: list[tuple[Scope, list[Job]]] = []
    few: list[tuple[Scope, list[Job]]] = []
    for (scope, group), n in zip(groups, named, strict=True):
        rows = _rows(scope, counts) if n else None
        if rows == 0:
            stats.scopes += 1  # done: no row to test
        elif len(group) <= DIRECT_MAX and (rows is None or rows >= DIRECT_ROWS):
            few.append((scope, group))
        else:
            many.append((scope, group))
    base, drop = rel.sql, None
    t0 = time.perf_counter()
    if len(many) >= 4:
        base = drop = q(f"_ashiato_scan_{id(stats):x}")
        pushed = _pushed([t for s, _ in many for t in s], columns)  # skips other logs' files
        wanted = pushed + "(" + " OR ".join(_scope_sql(s, columns) for s, _ in many) + ")"
        needed = _needed(many, reads, refs)
        cols = ", ".join(q(c) for c in columns if c in needed)
        with settings(rel.con, _LEAN):
            rel.con.execute(
                f"CREATE TEMP TABLE {drop} AS SELECT {cols} FROM {rel.sql} WHERE {wanted}"  # noqa: S608
            )
        row = rel.con.execute(f"SELECT count(*) FROM {drop}").fetchone()  # noqa: S608
        stats.rows_prepared = int(row[0]) if row else 0  # the rows any rule can match
    stats.seconds_prepare += time.perf_counter() - t0
    found: Found = []
    try:
        for scope, group in many:
            stats.scopes += 1
            t1 = time.perf_counter()
            with settings(rel.con, _FLUSH):
                found.extend(_scope(rel.con, base, columns, scope, group, reads, stats, refs))
            stats.seconds_match += time.perf_counter() - t1
    finally:
        if drop:
            rel.con.execute(f"DROP TABLE IF EXISTS temp.main.{drop}")
    for scope, group in few:
        stats.scopes += 1
        t1 = time.perf_counter()
        found.extend(_direct(rel.con, rel.sql, columns, scope, group, stats, refs))
        stats.seconds_match += time.perf_counter() - t1
    hits = _hits(rel, columns, found, refs, light)
    # in scope order, each rule's hits by reference, whichever statement found them
    rank = {j.key: n for n, j in enumerate(j for _, group in groups for j in group)}
    hits.sort(key=lambda h: rank[h.key])
    return hits


REF = ("evidence_id", "record")  # what names an event's row in a case
FETCH_LIST = 20_000  # hits whose record numbers are listed in the fetch (2.4x less CPU)
# A scope is tested row by row (:func:`_direct`) when it has few rules and many rows, else
# on distinct values (:func:`_scope`). Many rules: evaluating each once per distinct
# value wins (SigmaHQ's 1,000 process-creation rules). Few rows: a statement over the
# case per scope costs more than the rows; small scopes share one copy of their rows
# (SigmaHQ over the public EVTX corpus, 20k events: 2.8 s CPU that way, 3.9 s row by
# row). A log of any size, e.g. every event with a file path, counts as many rows.
DIRECT_MAX = 48
DIRECT_ROWS = 20_000


# Reading a case's hundreds of small Parquet files, DuckDB's file cache and the ordered
# insert of two threads tripled the hunt's peak memory (346 MB against 173 MB without,
# SigmaHQ rules over the public EVTX corpus) for no gain in speed: the copy is unordered
# (the hits are sorted at the end) and the files are read once.
_LEAN = {"preserve_insertion_order": "false", "enable_external_file_cache": "false"}
# Many statements, each planning hundreds of rules: DuckDB's allocator kept what each
# freed (~25 MB more at the peak); flushing after every task returns it at once. Only
# there: it doubles the CPU of a scan that reads rows as it tests them (Security log of
# the 4.7M-event lab case: 0.56 -> 1.31 s), whose memory is small anyway.
_FLUSH = {"allocator_flush_threshold": "1MB", "allocator_bulk_deallocation_flush_threshold": "1MB"}
# ``ashiato hunt`` (memory is the scan's alone there): everything DuckDB frees handed back
# at once. SigmaHQ over the public EVTX corpus peaked at 249 MB instead of 344 MB in as
# much CPU; the bundled rules over the 4.7M-event lab case at 217 MB instead of 286 MB,
# for 50 % more CPU in the scan (2.5-3.4 -> 3.9-5.2 s). investigate keeps DuckDB's own
# thresholds: its peak is set by other analyses.
RELEASE = {"allocator_flush_threshold": "0MB", "allocator_bulk_deallocation_flush_threshold": "0MB"}


@contextmanager
def settings(con: Any, values: dict[str, str]) -> Iterator[None]:
    """DuckDB settings changed for a while, then put back (the connection is the case's)."""
    import duckdb

    old = {}
    for name, value in values.items():
        try:  # (no bound parameter: binding one made DuckDB import pandas, +45 MB)
            row = con.execute(f"SELECT current_setting({sql_literal(name)})").fetchone()
            con.execute(f"SET {name} = {sql_literal(value)}")
        except duckdb.Error:  # an older DuckDB, a locked configuration: only slower
            continue
        if row is not None:
            old[name] = str(row[0])
    try:
        yield
    finally:
        for name, value in old.items():
            con.execute(f"SET {name} = {sql_literal(value)}")


def _columns(rel: DuckRelation) -> list[str]:
    cur = rel.con.execute(f"SELECT * FROM {rel.sql} LIMIT 0")  # noqa: S608
    return [d[0] for d in cur.description]


def _needed(groups: list[tuple[Scope, list[Job]]], reads: Reads, refs: list[str]) -> set[str]:
    needed = {*(refs or KEEP), "extra", "event.dataset", "event.code", "observer.type"}
    for scope, jobs in groups:
        needed |= {t.needs for t in scope if t.needs}
        for job in jobs:
            for f, _v in reads[id(job)]:
                if f == KEYWORD:
                    needed |= set(KEYWORD_COLUMNS)
                elif f.column:
                    needed.add(f.column)
    return needed


Reads = dict[int, list[tuple[Field, str]]]  # id(job) -> (field, view) pairs it reads


def _reads(jobs: Sequence[Job]) -> Reads:
    """What each job reads, walked once (a plan is walked again at every use otherwise)."""
    return {id(j): [*fields_of(j.plan), *((o, "s") for o in j.outputs)] for j in jobs}


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


Found = list[tuple[list[Job], dict[tuple[Field, str], str], pa.Table]]
# per statement: the scope's jobs, the aliases of the values read, and the rows matched:
# ``_k`` (a job's index), the row's reference (or its columns) and the hits' outputs


def _scope(
    con: Any, base: str, columns: list[str], scope: Scope, jobs: list[Job], reads: Reads,
    stats: Stats, refs: list[str],
) -> Found:  # fmt: skip
    wanted: dict[tuple[Field, str], str] = {}
    for job in jobs:
        for f, view in reads[id(job)]:
            if f == KEYWORD:
                for v in (view, view + "j"):
                    wanted.setdefault((f, v), f"_k{len(wanted)}")
            else:
                wanted.setdefault((f, view), f"_f{len(wanted)}")
    indexed = list(enumerate(jobs))
    try:
        return _query(con, base, columns, scope, jobs, indexed, wanted, stats, refs)
    except Exception:  # find the rule the engine refuses (e.g. a regex), run the others
        found: Found = []
        for i, job in indexed:
            try:
                found.extend(
                    _query(con, base, columns, scope, jobs, [(i, job)], wanted, stats, refs)
                )
            except Exception as exc:
                stats.errors.append((job.key, f"query failed: {_short(exc)}"))
        return found


def _query(
    con: Any, base: str, columns: list[str], scope: Scope, all_jobs: list[Job],
    jobs: list[tuple[int, Job]], wanted: dict[tuple[Field, str], str], stats: Stats,
    refs: list[str],
) -> Found:  # fmt: skip
    paths: dict[str, int] = {}
    for f, _v in wanted:
        if f != KEYWORD and f.column is None:
            for p in f.paths:
                paths.setdefault(p, len(paths) + 1)
    keep = refs or [c for c in KEEP if c in columns]
    values = [
        f"{_value_sql(f, v, lambda p: f'_j[{paths[p]}]', columns)} AS {q(a)}"
        for (f, v), a in wanted.items()
    ]
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
    order = ", ".join(["m._k", *(f"g.{q(c)}" for c in REF if c in keep)])
    memo: dict[int, str] = {}

    def col(f: Field, view: str) -> str:
        return q(wanted[(f, view)])

    def pairs(part: list[tuple[int, Job]]) -> str:
        """(hash, rule) for every distinct row ``d`` and rule of ``part`` that matches."""
        cases = ", ".join(f"CASE WHEN {to_sql(j.plan, col, memo)} THEN {i} END" for i, j in part)
        return f"SELECT _h, unnest(list_filter([{cases}], x -> x IS NOT NULL)) AS _k FROM d"  # noqa: S608

    chunks = [jobs[i : i + STATEMENT_MAX] for i in range(0, len(jobs), STATEMENT_MAX)]
    found: Found = []
    if len(chunks) == 1:
        sql = (
            f"WITH g AS MATERIALIZED ({g_sql}), d AS MATERIALIZED ({d_sql}), "  # noqa: S608
            f"m AS ({pairs(jobs)}) SELECT {picked} FROM m JOIN g USING (_h) ORDER BY {order}"
        )
        stats.queries += 1
        found.append((all_jobs, wanted, con.execute(sql).to_arrow_table()))
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
                found.append((all_jobs, wanted, con.execute(sql).to_arrow_table()))
        finally:
            con.execute(f"DROP TABLE IF EXISTS temp.main.{tg}")
            con.execute(f"DROP TABLE IF EXISTS temp.main.{td}")
    return found


def _direct(
    con: Any, base: str, columns: list[str], scope: Scope, jobs: list[Job], stats: Stats,
    refs: list[str],
) -> Found:  # fmt: skip
    """A scope of few rules: each row tested as it is read, no copy, no distinct values.

    The scope's tests (dataset, event code, a filled column) go down into the Parquet
    scan, which skips the files and row groups of other logs; the rules are one ``OR``
    in which DuckDB evaluates a rule's later tests (a JSON path, a regex) only on the
    rows where its first ones held, so ``extra`` is parsed only where a rule needs it
    (:func:`.sqlpath.to_sql` puts those tests last). Only the matched rows' references
    leave the engine (:func:`_hits` reads their columns).
    """
    keep = refs or [c for c in KEEP if c in columns]
    wanted: dict[tuple[Field, str], str] = {}
    for job in jobs:
        for o in job.outputs:
            wanted.setdefault((o, "s"), f"_o{len(wanted)}")
    memo: dict[int, str] = {}
    where = _pushed(scope, columns) + _scope_sql(scope, columns)

    def col(f: Field, view: str) -> str:
        return _value_sql(f, view, _json_path, columns)

    def statement(part: list[tuple[int, Job]]) -> str:
        tests = [to_sql(j.plan, col, memo) for _, j in part]
        cases = ", ".join(
            f"CASE WHEN {t} THEN {i} END" for (i, _j), t in zip(part, tests, strict=True)
        )
        picked = [*(q(c) for c in keep),
                  *(f"{col(f, v)} AS {q(a)}" for (f, v), a in wanted.items())]  # fmt: skip
        order = ", ".join(["_k", *(q(c) for c in REF if c in keep)])
        return (
            f"SELECT unnest(list_filter([{cases}], x -> x IS NOT NULL)) AS _k, "  # noqa: S608
            f"{', '.join(picked)} FROM {base} WHERE {where} AND ({' OR '.join(tests)}) "
            f"ORDER BY {order}"
        )

    indexed = list(enumerate(jobs))
    try:
        stats.queries += 1
        return [(jobs, wanted, con.execute(statement(indexed)).to_arrow_table())]
    except Exception:  # find the rule the engine refuses (e.g. a regex), run the others
        found: Found = []
        for i, job in indexed:
            try:
                stats.queries += 1
                found.append((jobs, wanted, con.execute(statement([(i, job)])).to_arrow_table()))
            except Exception as exc:
                stats.errors.append((job.key, f"query failed: {_short(exc)}"))
        return found


def _counts(
    rel: DuckRelation, targets: Sequence[Target], columns: Sequence[str]
) -> dict[tuple[Any, Any], int]:
    """Rows per (dataset, event code) among those ``targets`` name: one cheap read of two
    columns (a Windows rule set names logs a case rarely has: Defender, BitLocker...)."""
    if "event.dataset" not in columns:
        return {}
    code = q("event.code") if "event.code" in columns else "NULL"
    where = _pushed(targets, columns) + "true"
    rows = rel.con.execute(
        f'SELECT "event.dataset", {code}, count(*) FROM {rel.sql} WHERE {where} GROUP BY ALL'  # noqa: S608
    ).fetchall()
    return {(r[0], r[1]): int(r[2]) for r in rows}


def _rows(scope: Scope, counts: dict[tuple[Any, Any], int]) -> int:
    """At most how many rows ``scope`` has (its other tests are the scan's)."""
    return sum(
        n for (ds, code), n in counts.items()
        if any(t.datasets and ds in t.datasets and (not t.codes or code in t.codes)
               for t in scope)
    )  # fmt: skip


def _pushed(targets: Sequence[Target], columns: Sequence[str]) -> str:
    """``"event.dataset" IN (...) AND`` when every target names its logs (and codes): a
    test on one column the Parquet scan applies itself, to skip other logs' files."""
    out = ""
    for col, values in (("event.dataset", [t.datasets for t in targets]),
                        ("event.code", [t.codes for t in targets])):  # fmt: skip
        if col in columns and targets and all(values):
            union = sorted({v for vs in values for v in vs or ()})
            out += f"{q(col)} IN ({', '.join(sql_literal(v) for v in union)}) AND "
    return out


def _json_path(path: str) -> str:
    return f"json_extract_string({q('extra')}, {sql_literal(path)})"


def _hits(
    rel: DuckRelation, columns: list[str], found: Found, refs: list[str], light: frozenset[int]
) -> list[Hit]:
    """Hits in statement order, each with the columns of its event (``KEEP``; for the jobs
    in ``light``, only the time and the reference: see :func:`.runner.run`)."""
    keep = [c for c in KEEP if c in columns]
    parts = [(jobs, t) for jobs, _w, t in found if t.num_rows]
    rows: dict[tuple[Any, ...], dict[str, Any]] = {}
    if refs and parts:
        tables = [t for _j, t in parts]
        flags = [pa.array(_light(jobs, t, light)) for jobs, t in parts]
        full = [t.filter(pc.invert(f)).select(refs) for t, f in zip(tables, flags, strict=True)]
        lean = [t.filter(f).select(refs) for t, f in zip(tables, flags, strict=True)]
        rows = _fetch(rel, keep, refs, full)
        thin = [c for c in keep if c in ("@timestamp", *REF)]
        for ref, got in _fetch(rel, thin, refs, lean).items():
            rows.setdefault(ref, got)  # a row both kinds of rule matched: read in full
    hits: list[Hit] = []
    for jobs, wanted, res in found:
        if res.num_rows == 0:
            continue
        ks = res.column("_k").to_pylist()
        if refs:
            ids = zip(*(res.column(c).to_pylist() for c in refs), strict=True)
            events = [dict(rows.get(i) or dict(zip(refs, i, strict=True))) for i in ids]
        else:
            events = pylist(res.select(keep))
        outs = {a: res.column(a).to_pylist() for (_f, v), a in wanted.items()
                if v == "s" and a in res.column_names}  # fmt: skip
        for n, k in enumerate(ks):
            job = jobs[k]
            vals = {o.key: outs[wanted[(o, "s")]][n] for o in job.outputs}
            hits.append(Hit(job.key, events[n], vals, partial=len(events[n]) < len(keep)))
    return hits


def _light(jobs: list[Job], res: pa.Table, light: frozenset[int]) -> list[bool]:
    return [jobs[k].key in light for k in res.column("_k").to_pylist()]


def complete(rel: DuckRelation, events: Sequence[dict[str, Any]]) -> None:
    """Every ``KEEP`` column of these events, read by their references, in place."""
    columns = _columns(rel)
    if not all(c in columns for c in REF):
        return
    refs = list(REF)
    table = pa.table({c: [e.get(c) for e in events] for c in refs})
    rows = _fetch(rel, [c for c in KEEP if c in columns], refs, [table])
    for e in events:
        row = rows.get(tuple(e.get(c) for c in refs))
        if row is not None:
            e.clear()
            e.update(row)  # the columns in KEEP's order, as a hit read in full has them


def _fetch(
    rel: DuckRelation, keep: list[str], refs: list[str], parts: list[pa.Table]
) -> dict[tuple[Any, ...], dict[str, Any]]:
    """The ``keep`` columns of the rows named by ``parts`` (their references), read in one
    statement: the rules' scans read only the columns they test (``message``, the
    clock-skew fix of ``@timestamp``... are computed for the hits alone). The evidence
    ids as a literal list let the Parquet scan skip every file without a hit."""
    parts = [t for t in parts if t.num_rows]
    if not parts:
        return {}
    table = pa.concat_tables(parts).group_by(refs).aggregate([])
    name = f"_ashiato_refs_{id(table):x}"
    ev = table.column("evidence_id").to_pylist()
    ids = ", ".join(sql_literal(str(e)) for e in sorted({str(e) for e in ev}))
    where = f'e."evidence_id" IN ({ids})'
    records = sorted(set(table.column("record").to_pylist()))
    if 0 < len(records) <= FETCH_LIST and all(isinstance(r, int) for r in records):
        # the numbers themselves: the scan tests them before reading the other columns
        where += f' AND e."record" IN ({", ".join(str(r) for r in records)})'  # ints only
    on = " AND ".join(f"e.{q(c)} = r.{q(c)}" for c in refs)
    cols = ", ".join(f"e.{q(c)}" for c in keep)
    rel.con.register(name, table)
    try:
        res = rel.con.execute(
            f"SELECT {cols} FROM {rel.sql} AS e SEMI JOIN {q(name)} AS r ON {on} "  # noqa: S608
            f"WHERE {where}"
        ).to_arrow_table()
    finally:
        rel.con.unregister(name)
    return {tuple(r[c] for c in refs): r for r in pylist(res)}


def pylist(table: pa.Table) -> list[dict[str, Any]]:
    """Rows as dicts, zoned timestamps converted here: pyarrow imports pandas to convert
    them (+90 MB of the hunt's peak, for nothing else)."""
    cols: dict[str, list[Any]] = {}
    for name in table.column_names:
        col = table.column(name)
        if pa.types.is_timestamp(col.type) and col.type.tz:
            zone = ZoneInfo(col.type.tz)
            naive = col.cast(pa.timestamp(col.type.unit)).to_pylist()  # UTC wall time
            cols[name] = [None if v is None else v.replace(tzinfo=UTC).astimezone(zone)
                          for v in naive]  # fmt: skip
        else:
            cols[name] = col.to_pylist()
    names = list(cols)
    return [dict(zip(names, row, strict=True)) for row in zip(*cols.values(), strict=True)]


def _value_sql(
    f: Field, view: str, raw: Callable[[str], str], columns: Sequence[str]
) -> str:  # fmt: skip
    """The SQL of one (field, view) the rules read; mirrors ``runner._prepare``.
    ``raw``: the SQL of the raw value at a JSON path of ``extra``."""
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
        vals = [raw(p) for p in f.paths]
        base = vals[0] if len(vals) == 1 else f"coalesce({', '.join(vals)})"
    if view == "n":
        return base if f.numeric else f"TRY_CAST(CAST({base} AS VARCHAR) AS DOUBLE)"
    text = f"CAST({base} AS VARCHAR)" if cast else base
    return f"lower({text})" if view == "l" else text


def _short(exc: Exception) -> str:
    return str(exc).splitlines()[0][:300]
