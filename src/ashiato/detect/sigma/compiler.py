"""Sigma detection (pySigma's parsed rule) -> a plan (:mod:`.plan`).

pySigma parses a rule and applies its value modifiers (``contains``, ``windash``,
``base64offset``...); :func:`plan_rule` turns the resulting condition tree into a *plan*
of :class:`Pred`, :class:`And`, :class:`Or` and :class:`Not` nodes over resolved fields
(:mod:`.pipeline`). The plan is engine-neutral and hashable, so the runner can share
one expression among every rule that tests the same thing; the semantics are listed in
:mod:`.plan`.
"""

from __future__ import annotations

import re
from collections.abc import Callable
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
from ashiato.detect.sigma.plan import (
    FALSE,
    KEYWORD,
    TRUE,
    And,
    CompileError,
    Not,
    Or,
    Plan,
    Pred,
    and_,
    event_codes,
    fields_of,
    not_,
    or_,
    to_ibis,
)

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
    "event_codes",
    "fields_of",
    "plan_rule",
    "to_ibis",
]
