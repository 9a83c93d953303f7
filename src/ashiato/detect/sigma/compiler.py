"""Sigma detection -> a small boolean plan -> Ibis expressions.

pySigma parses a rule and applies its value modifiers (``contains``, ``windash``,
``base64offset``...); :func:`plan_rule` turns the resulting condition tree into a *plan*
of :class:`Pred`, :class:`And`, :class:`Or` and :class:`Not` nodes over resolved fields
(:mod:`.pipeline`). The plan is engine-neutral and hashable, so the runner can share
one expression among every rule that tests the same thing, and :func:`to_ibis` turns it
into an Ibis boolean over a table whose columns the runner prepared (:func:`column`).

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

import re
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

from sigma.conditions import (
    ConditionAND,
    ConditionFieldEqualsValueExpression,
    ConditionNOT,
    ConditionOR,
    ConditionValueExpression,
)
from sigma.rule import SigmaRule
from sigma.types import (
    CompareOperators,
    Placeholder,
    SigmaBool,
    SigmaCasedString,
    SigmaCIDRExpression,
    SigmaCompareExpression,
    SigmaExists,
    SigmaExpansion,
    SigmaFieldReference,
    SigmaNull,
    SigmaNumber,
    SigmaRegularExpression,
    SigmaRegularExpressionFlag,
    SigmaString,
    SpecialChars,
)

from ashiato.detect.sigma.pipeline import Field, Resolved, Unsupported

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


# -- Sigma -> plan ------------------------------------------------------------------------


def plan_rule(rule: SigmaRule, resolved: Resolved) -> Plan:
    """The plan of a rule's detection (condition lists are OR-ed, as the spec says)."""
    try:
        roots = [cond.parsed for cond in rule.detection.parsed_condition]
    except Exception as exc:  # pySigma raises many kinds for bad conditions
        raise CompileError(f"condition: {exc}") from exc
    plan = or_(_node(root, resolved) for root in roots)
    for name, values in resolved.require:
        field = _field(resolved, name)
        plan = and_((plan, or_(Pred("eq", field, v.lower()) for v in values)))
    return plan


def _field(resolved: Resolved, name: str) -> Field:
    try:
        return resolved.field(name)
    except Unsupported as exc:
        raise CompileError(str(exc)) from exc


def _node(node: Any, resolved: Resolved) -> Plan:
    if node is None:
        raise CompileError("a detection is empty")
    if isinstance(node, ConditionAND):
        return and_(_node(a, resolved) for a in node.args)
    if isinstance(node, ConditionOR):
        return or_(_node(a, resolved) for a in node.args)
    if isinstance(node, ConditionNOT):
        return not_(_node(node.args[0], resolved))
    if isinstance(node, ConditionFieldEqualsValueExpression):
        return _value(_field(resolved, node.field), node.value, resolved)
    if isinstance(node, ConditionValueExpression):
        return _keyword(node.value)
    raise CompileError(f"unsupported condition element {type(node).__name__}")


def _value(field: Field, v: Any, resolved: Resolved) -> Plan:
    if isinstance(v, SigmaExpansion):
        return or_(_value(field, x, resolved) for x in v.values)
    if isinstance(v, SigmaString):  # SigmaCasedString included
        return _string(field, v, cased=isinstance(v, SigmaCasedString))
    if isinstance(v, SigmaRegularExpression):
        return Pred("re", field, regex_of(v))
    if isinstance(v, SigmaBool):
        return Pred("eq", field, "true" if v.boolean else "false")
    if isinstance(v, SigmaNumber):
        if isinstance(v.number, bool):
            raise CompileError("boolean number")
        return Pred("numeq", field, v.number)
    if isinstance(v, SigmaNull):
        return Pred("null", field)
    if isinstance(v, SigmaExists):
        return Pred("exists", field, bool(v.exists))
    if isinstance(v, SigmaCompareExpression):
        return Pred("cmp", field, v.number.number, extra=v.op.name.lower())
    if isinstance(v, SigmaCIDRExpression):
        return or_(_string(field, SigmaString(p), cased=True) for p in v.expand("*"))
    if isinstance(v, SigmaFieldReference):
        mode = "prefix" if v.starts_with else "suffix" if v.ends_with else "eq"
        return Pred("fieldref", field, mode, extra=_field(resolved, v.field))
    raise CompileError(f"unsupported value type {type(v).__name__}")


_ANY = re.compile(r".*")


def _parts(s: SigmaString) -> list[str | SpecialChars]:
    parts: list[str | SpecialChars] = []
    for p in s.s:
        if isinstance(p, Placeholder):
            raise CompileError(f"placeholder %{p.name}% has no value list")
        parts.append(p)
    return parts


def _string(field: Field, s: SigmaString, cased: bool) -> Plan:
    parts = _parts(s)
    norm: Callable[[str], str] = (lambda x: x) if cased else str.lower
    if not any(isinstance(p, SpecialChars) for p in parts):
        return Pred("eq", field, norm("".join(p for p in parts if isinstance(p, str))), cased)
    if all(p == SpecialChars.WILDCARD_MULTI for p in parts):
        return Pred("any", field)
    lead = parts[0] == SpecialChars.WILDCARD_MULTI
    trail = parts[-1] == SpecialChars.WILDCARD_MULTI
    middle = parts[int(lead) : len(parts) - int(trail)]
    if len(middle) == 1 and isinstance(middle[0], str):
        op = "contains" if lead and trail else "suffix" if lead else "prefix"
        return Pred(op, field, norm(middle[0]), cased)
    return Pred("like", field, _wild_regex(parts, norm, anchored=True), cased)


def _wild_regex(
    parts: list[str | SpecialChars], norm: Callable[[str], str], anchored: bool = False
) -> str:
    out = []
    for p in parts:
        if p == SpecialChars.WILDCARD_MULTI:
            out.append(".*")
        elif p == SpecialChars.WILDCARD_SINGLE:
            out.append(".")
        else:
            out.append(re.escape(norm(str(p))))
    body = "".join(out)
    return "(?s)" + (f"^{body}$" if anchored else body)


def _keyword(v: Any) -> Plan:
    if isinstance(v, SigmaNumber):
        v = SigmaString(str(v.number))
    if isinstance(v, SigmaExpansion):
        return or_(_keyword(x) for x in v.values)
    if isinstance(v, SigmaRegularExpression):
        return Pred("re", KEYWORD, regex_of(v))
    if not isinstance(v, SigmaString):
        raise CompileError(f"unsupported keyword type {type(v).__name__}")
    cased = isinstance(v, SigmaCasedString)
    parts = _parts(v)
    while parts and parts[0] == SpecialChars.WILDCARD_MULTI:
        parts = parts[1:]
    while parts and parts[-1] == SpecialChars.WILDCARD_MULTI:
        parts = parts[:-1]
    if not parts:
        return TRUE
    norm: Callable[[str], str] = (lambda x: x) if cased else str.lower
    if len(parts) == 1 and isinstance(parts[0], str):
        return Pred("contains", KEYWORD, norm(parts[0]), cased)
    return Pred("like", KEYWORD, _wild_regex(parts, norm), cased)


_FLAGS = {
    SigmaRegularExpressionFlag.IGNORECASE: "i",
    SigmaRegularExpressionFlag.MULTILINE: "m",
    SigmaRegularExpressionFlag.DOTALL: "s",
}


def regex_of(v: SigmaRegularExpression) -> str:
    pattern = v.regexp.original
    flags = "".join(sorted(_FLAGS[f] for f in v.flags if f in _FLAGS))
    if flags:
        pattern = f"(?{flags}){pattern}"
    check_regex(pattern)
    return pattern


@lru_cache(maxsize=4096)
def check_regex(pattern: str) -> None:
    """Refuse what RE2 (DuckDB's and Spark-compatible engines' dialect) can't run."""
    try:
        import re2  # google-re2, a pySigma dependency
    except ImportError:  # pragma: no cover - then DuckDB reports it at run time
        return
    try:
        re2.compile(pattern)
    except Exception as exc:
        raise CompileError(f"regular expression not supported by RE2: {pattern!r} ({exc})") from exc


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


__all__ = [
    "FALSE",
    "KEYWORD",
    "TRUE",
    "And",
    "CompareOperators",
    "CompileError",
    "Not",
    "Or",
    "Plan",
    "Pred",
    "fields_of",
    "plan_rule",
    "to_ibis",
]
