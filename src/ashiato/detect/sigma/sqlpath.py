"""The DuckDB fast path of the match step: plans rendered as SQL text, on distinct rows.

Two things make it fast where the generic Ibis path is slow:

- **compile time**: Ibis spends ~30 ms per SigmaHQ rule compiling a large multi-rule
  query (graph rewrites); the plans are rendered to SQL directly (:func:`to_sql`);
- **repetition**: logs repeat themselves (the same service starts the same command line
  thousands of times), so rules run over the *distinct* combinations of the values they
  read (a 64-bit hash of the prepared columns) and hits are joined back to every event
  with that combination.

Each rule is one branch of a ``UNION ALL`` with its own ``WHERE`` (the engine stops
evaluating a rule's tests at the first false one); the result is (hash, rule) pairs.

SQL text is built here on purpose (S608): identifiers are the runner's own aliases and
temp-table names, quoted by :func:`q`; every value from a rule goes through
:func:`sql_literal`; nothing from the logs is pasted.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import pyarrow as pa

from ashiato.detect.sigma.pipeline import Field
from ashiato.detect.sigma.plan import (
    KEYWORD,
    And,
    Not,
    Or,
    Plan,
    Pred,
    _json_escape,
    _view,
    fields_of,
)
from ashiato.detect.sigma.runner import KEEP, Hit, Job, Stats

BRANCHES = 400  # rules per UNION ALL statement
LIST_MIN = 8  # equality tests of one column from which list_contains replaces IN


# -- plan -> DuckDB SQL (the fast path) --------------------------------------------------
#
# Ibis needs ~30 ms per SigmaHQ rule to compile a big multi-rule query (graph rewrites),
# i.e. over a minute for the Windows rule set before any data is read. On DuckDB the
# runner therefore renders the same plan straight to SQL text over the prepared table
# (whose columns are plain aliases); to_ibis stays the portable path, and the tests
# check that both give the same answers.

SqlColumns = Callable[[Field, str], str]  # (field, view) -> quoted column name


def sql_literal(value: str) -> str:
    return "'" + value.replace("'", "''") + "'"


def to_sql(plan: Plan, col: SqlColumns, memo: dict[int, str]) -> str:
    """``memo`` is keyed by ``id(plan)``: hashing a frozen plan walks all of it, and
    doing so at every level made hashing most of the rendering time."""
    hit = memo.get(id(plan))
    if hit is not None:
        return hit
    if isinstance(plan, And):
        items = sorted(plan.items, key=_late)  # stable: the compiler's order otherwise
        out = "(" + " AND ".join(to_sql(p, col, memo) for p in items) + ")"
    elif isinstance(plan, Or):
        out = "(" + " OR ".join(_or_items(plan.items, col, memo)) + ")"
    elif isinstance(plan, Not):
        out = f"(NOT coalesce({to_sql(plan.item, col, memo)}, false))"
    else:
        out = _sql_pred(plan, col)
    memo[id(plan)] = out
    return out


def _late(plan: Plan) -> int:
    """2 for a test of the keyword text, 1 of a JSON path of ``extra``, else 0: where the
    rows are read as the rules test them (:func:`.sqlscan._direct`) these parse or build
    text per row, so an AND runs them after its column tests (a 4624's LogonType is read
    only when its source address is a loopback one): ~10x less on a Security log."""
    worst = 0
    for f, _v in fields_of(plan):
        worst = max(worst, 2 if f == KEYWORD else 1 if f.column is None else 0)
    return worst


def _or_items(items: Sequence[Plan], col: SqlColumns, memo: dict[int, str]) -> list[str]:
    """The branches of an OR, where tests of one column are joined:

    - equalities into one ``IN`` (a long list: ``list_contains``, 3.5x faster nested in
      an OR): one lookup per row instead of one comparison per value (ransomware
      extensions...);
    - prefixes, suffixes or substrings of a computed value (``lower(x)``, a JSON path:
      where rows are tested as they are read, each test computed it again) into one
      regular expression of the literals: ``.onion``, ``.onion.to``... 10 suffixes, one
      ``lower`` per row.

    Same answers: an OR of comparisons is an IN list, an OR of literal matches is their
    alternation, and a NULL value gives NULL either way."""
    groups: dict[tuple[str, str], list[Any]] = {}
    order: list[tuple[str, str] | str] = []
    for p in items:
        key = _joinable(p, col)
        if key is None:
            order.append(to_sql(p, col, memo))
            continue
        if key not in groups:
            groups[key] = []
            order.append(key)
        assert isinstance(p, Pred)
        groups[key].append(p.value)
    parts: list[str] = []
    for k in order:
        if isinstance(k, str):
            parts.append(k)
            continue
        (op, c), values = k, groups[k]
        lits = [sql_literal(str(v)) for v in values]
        if op == "eq" and len(values) == 1:
            parts.append(f"({c} = {lits[0]})")
        elif op == "eq" and len(values) < LIST_MIN:
            parts.append(f"({c} IN ({', '.join(lits)}))")
        elif op == "eq":
            parts.append(f"list_contains([{', '.join(lits)}], {c})")
        elif len(values) == 1:
            fn = {"prefix": "starts_with", "suffix": "ends_with"}.get(op, op)
            parts.append(f"{fn}({c}, {lits[0]})")
        else:
            alt = "|".join(_re_literal(str(v)) for v in values)
            anchored = {"prefix": f"^(?:{alt})", "suffix": f"(?:{alt})$"}.get(op, alt)
            parts.append(f"regexp_matches({c}, {sql_literal(anchored)})")
    return parts


def _joinable(p: Plan, col: SqlColumns) -> tuple[str, str] | None:
    """(test, column SQL) of a test :func:`_or_items` may join with others, else None."""
    if not isinstance(p, Pred) or p.field is None or p.field == KEYWORD:
        return None
    if p.op == "eq" and not (p.value == "" and p.field.column):
        return ("eq", col(p.field, _view(p)))
    if p.op in ("prefix", "suffix", "contains"):
        c = col(p.field, _view(p))
        return None if c.startswith('"') else (p.op, c)  # a stored column: nothing to save
    return None


def _re_literal(text: str) -> str:
    """``text`` matched as itself by RE2: punctuation escaped, control characters as
    ``\\x{..}``, letters, digits and other characters as they are."""
    out = []
    for ch in text:
        if ch.isascii() and not ch.isalnum() and ch.isprintable() and ch != " ":
            out.append("\\" + ch)
        elif not ch.isprintable() or ch == " ":
            out.append(f"\\x{{{ord(ch):x}}}")
        else:
            out.append(ch)
    return "".join(out)


def _sql_pred(p: Pred, col: SqlColumns) -> str:
    if p.op == "const":
        return "true" if p.value else "false"
    assert p.field is not None
    if p.op in ("null", "any", "exists"):
        c = col(p.field, "s")
        present = p.op == "any" or (p.op == "exists" and p.value)
        return f"({c} IS NOT NULL)" if present else f"({c} IS NULL)"
    if p.op == "numeq":
        if p.field.numeric:
            num = int(p.value) if float(p.value).is_integer() else float(p.value)
            return f"({col(p.field, 'n')} = {num!r})"
        return f"({col(p.field, 'l')} = {sql_literal(str(p.value).lower())})"
    if p.op == "cmp":
        ops = {"lt": "<", "lte": "<=", "gt": ">", "gte": ">="}
        return f"({col(p.field, 'n')} {ops.get(p.extra, '<>')} {float(p.value)!r})"
    if p.op == "fieldref":
        a, b = col(p.field, "l"), col(p.extra, "l")
        fn = {"prefix": "starts_with", "suffix": "ends_with"}.get(p.value)
        return f"{fn}({a}, {b})" if fn else f"({a} = {b})"
    if p.field == KEYWORD:
        plain, js = col(KEYWORD, _view(p)), col(KEYWORD, _view(p) + "j")
        if p.op == "contains":
            return (f"(contains({plain}, {sql_literal(p.value)}) OR "
                    f"contains({js}, {sql_literal(_json_escape(p.value))}))")  # fmt: skip
        lit = sql_literal(p.value)
        return f"(regexp_matches({plain}, {lit}) OR regexp_matches({js}, {lit}))"
    c = col(p.field, _view(p))
    lit = sql_literal(str(p.value))
    if p.op == "eq":
        if p.value == "" and p.field.column:
            return f"({c} IS NULL OR {c} = '')"
        return f"({c} = {lit})"
    fn = {"prefix": "starts_with", "suffix": "ends_with", "contains": "contains",
          "like": "regexp_matches", "re": "regexp_matches"}[p.op]  # fmt: skip
    return f"{fn}({c}, {lit})"


def q(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def match_sql(
    con: Any, name: str, columns: Sequence[str], jobs: list[Job],
    wanted: dict[tuple[Field, str], str], stats: Stats,
) -> list[Hit]:  # fmt: skip
    fields = sorted(set(wanted.values()))
    source = f"temp.main.{q(name)}"
    distinct = f"temp.main.{q(name + '_d')}"
    cols = ", ".join(q(c) for c in fields)
    con.execute(f"ALTER TABLE {source} ADD COLUMN _h UBIGINT")
    con.execute(f"UPDATE {source} SET _h = hash({cols})")  # noqa: S608
    con.execute(
        f"CREATE TEMP TABLE {q(name + '_d')} AS "  # noqa: S608
        f"SELECT _h, {', '.join(f'any_value({q(c)}) AS {q(c)}' for c in fields)} "
        f"FROM {source} GROUP BY _h"
    )
    try:
        return _match(con, source, distinct, columns, jobs, wanted, stats)
    finally:
        con.execute(f"DROP TABLE IF EXISTS {distinct}")


def _match(
    con: Any, source: str, distinct: str, columns: Sequence[str], jobs: list[Job],
    wanted: dict[tuple[Field, str], str], stats: Stats,
) -> list[Hit]:  # fmt: skip
    def col(f: Field, view: str) -> str:
        return q(wanted[(f, view)])

    memo: dict[int, str] = {}
    pairs: list[pa.Table] = []
    for start in range(0, len(jobs), BRANCHES):
        part = list(enumerate(jobs))[start : start + BRANCHES]
        branches = [
            (i, f"SELECT _h, {i} AS _k FROM {distinct} WHERE {to_sql(j.plan, col, memo)}")  # noqa: S608
            for i, j in part
        ]
        stats.queries += 1
        try:
            pairs.append(con.execute(" UNION ALL ".join(b for _, b in branches)).to_arrow_table())
        except Exception:  # find the rule the engine refuses, run the others
            for i, sql in branches:
                try:
                    pairs.append(con.execute(sql).to_arrow_table())
                except Exception as exc:
                    stats.errors.append((jobs[i].key, f"query failed: {_short(exc)}"))
    found = pa.concat_tables(pairs) if pairs else None
    if found is None or found.num_rows == 0:
        return []
    keep = [c for c in KEEP if c in columns]
    outs = sorted({wanted[(o, "s")] for j in jobs for o in j.outputs})
    con.register("_ashiato_pairs", found)
    try:
        res = con.execute(
            f"SELECT p._k, {', '.join('s.' + q(c) for c in keep + outs)} "  # noqa: S608
            f"FROM _ashiato_pairs p JOIN {source} s USING (_h) ORDER BY p._k"
        ).to_arrow_table()
    finally:
        con.unregister("_ashiato_pairs")
    ks = res.column("_k").to_pylist()
    events = res.select(keep).to_pylist()
    outcols = {c: res.column(c).to_pylist() for c in outs}
    hits: list[Hit] = []
    for row, k in enumerate(ks):
        job = jobs[k]
        values = {o.key: outcols[wanted[(o, "s")]][row] for o in job.outputs}
        hits.append(Hit(job.key, events[row], values))
    return hits


def _short(exc: Exception) -> str:
    return str(exc).splitlines()[0][:300]
