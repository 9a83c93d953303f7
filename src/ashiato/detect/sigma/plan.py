"""The plan of a rule: a small boolean tree of field tests, independent of pySigma.

:mod:`.compiler` builds plans from pySigma's parsed rules; the runners render them (Ibis
here, DuckDB SQL in :mod:`.sqlpath`); :mod:`.cache` stores them. Nothing here imports
pySigma, so a hunt whose rule set is cached doesn't pay for it.

Semantics (those of the Sigma specification):

- strings compare case-insensitively unless ``|cased``; ``*`` and ``?`` are wildcards,
  ``\\*`` a literal star; a plain value must equal the whole field;
- ``|re`` is a case-sensitive RE2 search unless ``|i``; ``|m``/``|s`` set flags;
- a test on a missing field is false, so ``not`` of it is true (every ``not`` treats
  SQL NULL as false before negating);
- ``field: null`` is a missing or null field; ``|exists`` tests presence;
- keywords (values without a field) search the event's text: the message, the main
  text columns and the raw ``extra`` JSON.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from typing import Any

from ashiato.detect.sigma.pipeline import Field

KEYWORD = Field(column=None, paths=("\x00keywords",))


class CompileError(Exception):
    """The rule uses something the compiler can't express; the message says what."""


@dataclass(frozen=True)
class Pred:
    """One test of one field.

    ``op``: eq, prefix, suffix, contains, like (a regex made from wildcards), re,
    any (field set), null, exists, numeq, cmp, fieldref, const.
    """

    op: str
    field: Field | None
    value: Any = None
    cased: bool = False
    extra: Any = None  # cmp: operator; fieldref: other Field; re: None


@dataclass(frozen=True)
class And:
    items: tuple[Plan, ...]


@dataclass(frozen=True)
class Or:
    items: tuple[Plan, ...]


@dataclass(frozen=True)
class Not:
    item: Plan


Plan = Pred | And | Or | Not
TRUE = Pred("const", None, True)
FALSE = Pred("const", None, False)


def and_(items: Iterable[Plan]) -> Plan:
    out: list[Plan] = []
    for p in items:
        if p == TRUE:
            continue
        if p == FALSE:
            return FALSE
        out.extend(p.items if isinstance(p, And) else (p,))
    if not out:
        return TRUE
    # cheap tests first: the engine evaluates the next test only where the previous held
    out.sort(key=cost)
    return out[0] if len(out) == 1 else And(tuple(dict.fromkeys(out)))


_OP_COST = {
    "const": 0,
    "null": 1,
    "exists": 1,
    "any": 1,
    "numeq": 2,
    "eq": 2,
    "cmp": 3,
    "prefix": 4,
    "suffix": 4,
    "contains": 8,
    "fieldref": 8,
    "like": 30,
    "re": 30,
}
# fields whose values are long texts: scanning them costs more
LONG = frozenset(
    {
        "CommandLine",
        "ParentCommandLine",
        "ScriptBlockText",
        "Payload",
        "Details",
        "ContextInfo",
        "Data",
        "ImageLoaded",
        "TargetObject",
        "message",
    }
)


def cost(p: Plan) -> float:
    """A rough relative cost of evaluating a plan on one row."""
    if isinstance(p, Pred):
        c = float(_OP_COST.get(p.op, 10))
        f = p.field
        if f is not None and (
            f.column in ("process.command_line", "message")
            or any(x.rsplit('"', 2)[-2] in LONG for x in f.paths if '"' in x)
        ):
            c *= 4
        if f == KEYWORD:
            c *= 20
        return c
    if isinstance(p, Not):
        return cost(p.item) + 0.5
    if isinstance(p, And):
        return cost(p.items[0]) + 0.1 * sum(cost(x) for x in p.items[1:])
    return sum(cost(x) for x in p.items)


def or_(items: Iterable[Plan]) -> Plan:
    out: list[Plan] = []
    for p in items:
        if p == FALSE:
            continue
        if p == TRUE:
            return TRUE
        out.extend(p.items if isinstance(p, Or) else (p,))
    if not out:
        return FALSE
    return out[0] if len(out) == 1 else Or(tuple(dict.fromkeys(out)))


def not_(item: Plan) -> Plan:
    if item == TRUE:
        return FALSE
    if item == FALSE:
        return TRUE
    if isinstance(item, Not):
        return item.item
    return Not(item)


def event_codes(plan: Plan) -> frozenset[str] | None:
    """The event codes a row must have to match (``EventID: 4625`` ...), None if any.

    A necessary condition only: the runner narrows a scan to these codes, the plan
    itself still tests them.
    """
    if isinstance(plan, Pred):
        f = plan.field
        if (
            f is not None and f.column == "event.code" and plan.op in ("eq", "numeq")
            and isinstance(plan.value, int | str) and str(plan.value).isdigit()
        ):  # fmt: skip
            return frozenset((str(int(plan.value)),))
        return None
    if isinstance(plan, Or):
        union: set[str] = set()
        for p in plan.items:
            codes = event_codes(p)
            if codes is None:
                return None
            union |= codes
        return frozenset(union)
    if isinstance(plan, And):
        found: frozenset[str] | None = None
        for p in plan.items:
            codes = event_codes(p)
            if codes is not None:
                found = codes if found is None else found & codes
        return found
    return None


def fields_of(plan: Plan) -> Iterator[tuple[Field, str]]:
    """(field, view) pairs a plan reads; view: s (text), l (lower text), n (number)."""
    if isinstance(plan, And | Or):
        for p in plan.items:
            yield from fields_of(p)
    elif isinstance(plan, Not):
        yield from fields_of(plan.item)
    elif plan.field is not None:
        yield plan.field, _view(plan)
        if plan.op == "fieldref":
            yield plan.extra, "l"


def _view(p: Pred) -> str:
    if p.op == "cmp" or (p.op == "numeq" and p.field is not None and p.field.numeric):
        return "n"
    if p.op == "numeq":
        return "l"
    if p.op in ("null", "exists", "any"):
        return "s"
    if p.op == "re" or p.cased:
        return "s"
    return "l"


# -- plan -> Ibis -------------------------------------------------------------------------

Columns = Callable[[Field, str], Any]  # (field, view) -> Ibis column of the prepared table


def to_ibis(plan: Plan, col: Columns, memo: dict[Plan, Any]) -> Any:
    """An Ibis boolean (NULL never escapes a ``not``); ``memo`` shares equal sub-plans."""
    hit = memo.get(plan)
    if hit is not None:
        return hit
    if isinstance(plan, And):
        out = fold([to_ibis(p, col, memo) for p in plan.items], "and")
    elif isinstance(plan, Or):
        out = fold([to_ibis(p, col, memo) for p in plan.items], "or")
    elif isinstance(plan, Not):
        out = ~to_ibis(plan.item, col, memo).fill_null(False)
    else:
        out = _pred(plan, col)
    memo[plan] = out
    return out


def fold(items: list[Any], how: str) -> Any:
    """A balanced tree of binary ANDs/ORs: Ibis recurses on depth, so keep it ~log2(n)."""
    while len(items) > 1:
        pairs = []
        for i in range(0, len(items) - 1, 2):
            a, b = items[i], items[i + 1]
            pairs.append(a & b if how == "and" else a | b)
        if len(items) % 2:
            pairs.append(items[-1])
        items = pairs
    return items[0]


def _pred(p: Pred, col: Columns) -> Any:
    import ibis

    if p.op == "const":
        return ibis.literal(bool(p.value))
    assert p.field is not None
    if p.op == "null":
        return col(p.field, "s").isnull()
    if p.op == "exists":
        c = col(p.field, "s")
        return c.notnull() if p.value else c.isnull()
    if p.op == "any":
        return col(p.field, "s").notnull()
    if p.op == "numeq":
        if p.field.numeric:
            return col(p.field, "n") == p.value
        return col(p.field, "l") == str(p.value).lower()
    if p.op == "cmp":
        c = col(p.field, "n")
        ops = {"lt": c < p.value, "lte": c <= p.value, "gt": c > p.value, "gte": c >= p.value}
        return ops.get(p.extra, c != p.value)
    if p.op == "fieldref":
        a, b = col(p.field, "l"), col(p.extra, "l")
        if p.value == "prefix":
            return a.startswith(b)
        if p.value == "suffix":
            return a.endswith(b)
        return a == b
    if p.field == KEYWORD:
        plain, js = col(KEYWORD, _view(p)), col(KEYWORD, _view(p) + "j")
        if p.op == "contains":
            return plain.contains(p.value) | js.contains(_json_escape(p.value))
        return plain.re_search(p.value) | js.re_search(p.value)
    c = col(p.field, _view(p))
    if p.op == "eq":
        if p.value == "" and p.field.column:
            return c.isnull() | (c == "")  # the formats store empty and '-' as null
        return c == p.value
    if p.op == "prefix":
        return c.startswith(p.value)
    if p.op == "suffix":
        return c.endswith(p.value)
    if p.op == "contains":
        return c.contains(p.value)
    if p.op in ("like", "re"):
        return c.re_search(p.value)
    raise CompileError(f"unknown predicate {p.op}")


def _json_escape(text: str) -> str:
    """How a value appears inside the JSON text of ``extra`` (backslashes doubled...)."""
    import orjson

    return orjson.dumps(text).decode()[1:-1]
