"""Sigma correlation rules over the hits of their base rules.

The base rules run in the normal scan (:mod:`.runner`) and their hits carry the values
of the correlation's ``group-by`` fields (and of the counted field), resolved through
each base rule's own field mapping and the correlation's ``aliases``. Hits are few, so
the windows are computed here, in Python, per group:

- ``event_count`` / ``value_count`` / ``value_sum`` / ``value_avg``: for ``gt``/``gte``
  a sliding window of ``timespan`` ending at each hit (one match per burst: after a
  match the window restarts behind it); for the other operators, windows anchored at
  the first hit and laid end to end;
- ``temporal``: every referenced rule (or the extended condition) seen within
  ``timespan``;
- ``temporal_ordered``: the referenced rules seen in the listed order within
  ``timespan`` of the first.
"""

from __future__ import annotations

import operator
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

_OPS: dict[str, Callable[[float, float], bool]] = {
    "gt": operator.gt,
    "gte": operator.ge,
    "lt": operator.lt,
    "lte": operator.le,
    "eq": operator.eq,
    "neq": operator.ne,
}


Expr = tuple[str, Any]


def holds(expr: Expr, seen: set[str]) -> bool:
    """Whether an extended condition holds for the rule names seen in a window."""
    op, arg = expr
    if op == "ref":
        return arg in seen
    if op == "and":
        return all(holds(x, seen) for x in arg)
    if op == "or":
        return any(holds(x, seen) for x in arg)
    return not holds(arg[0], seen)


@dataclass
class Spec:
    """A correlation in plain terms (built from a SigmaCorrelationRule by the caller)."""

    type: str  # event_count, value_count, value_sum, value_avg, temporal, temporal_ordered
    keys: list[int]  # base job keys, in the rule's order
    names: dict[int, str]  # job key -> the name the condition uses
    group: list[dict[int, str]]  # per group-by field: job key -> Field.key in hit values
    seconds: float
    op: str = "gte"
    count: float = 1
    value: dict[int, str] = field(default_factory=dict)  # job key -> Field.key counted
    # extended temporal condition: a tree of ('ref', name), ('and'|'or', [..]), ('not', [x])
    expression: Expr | None = None


@dataclass
class Item:
    ts: datetime
    key: int
    event: dict[str, Any]
    value: Any


@dataclass
class Match:
    group: tuple[Any, ...]
    events: list[dict[str, Any]]
    measured: float  # the count, distinct count, sum or average that met the condition


def evaluate(spec: Spec, hits: Mapping[int, Sequence[Any]]) -> list[Match]:
    """Correlation matches; ``hits`` maps job key -> runner Hits of that base rule."""
    groups: dict[tuple[Any, ...], list[Item]] = {}
    for key in dict.fromkeys(spec.keys):
        for h in hits.get(key, ()):
            ts = h.event.get("@timestamp")
            if ts is None:
                continue
            g = tuple(_norm(h.values.get(gf.get(key, ""))) for gf in spec.group)
            if spec.group and all(v is None for v in g):
                continue  # no value to group on: such events don't correlate
            vf = spec.value.get(key)
            groups.setdefault(g, []).append(
                Item(ts, key, h.event, h.values.get(vf) if vf else None)
            )
    out: list[Match] = []
    for g, items in groups.items():
        items.sort(key=lambda it: it.ts)
        if spec.type in ("temporal", "temporal_ordered"):
            out.extend(_temporal(spec, g, items))
        else:
            out.extend(_counting(spec, g, items))
    out.sort(key=lambda m: str(m.events[-1].get("@timestamp")))
    return out


def _norm(v: Any) -> Any:
    return v.lower() if isinstance(v, str) else v


def _measure(spec: Spec, window: Sequence[Item]) -> float:
    if spec.type == "event_count":
        return float(len(window))
    values = [it.value for it in window if it.value is not None]
    if spec.type == "value_count":
        return float(len({_norm(v) for v in values}))
    nums = []
    for v in values:
        try:
            nums.append(float(v))
        except (TypeError, ValueError):
            continue
    if spec.type == "value_sum":
        return sum(nums)
    if spec.type == "value_avg":
        return sum(nums) / len(nums) if nums else 0.0
    raise ValueError(f"correlation type {spec.type} is not supported")


def _counting(spec: Spec, g: tuple[Any, ...], items: list[Item]) -> list[Match]:
    test = _OPS[spec.op]
    out: list[Match] = []
    if spec.op in ("gt", "gte"):
        start = 0
        j = 0
        while j < len(items):
            while (items[j].ts - items[start].ts).total_seconds() > spec.seconds:
                start += 1
            window = items[start : j + 1]
            m = _measure(spec, window)
            if test(m, spec.count):
                out.append(Match(g, [it.event for it in window], m))
                start = j + 1
            j += 1
        return out
    i = 0
    while i < len(items):
        j = i
        while j < len(items) and (items[j].ts - items[i].ts).total_seconds() <= spec.seconds:
            j += 1
        window = items[i:j]
        m = _measure(spec, window)
        if test(m, spec.count):
            out.append(Match(g, [it.event for it in window], m))
        i = j
    return out


def _temporal(spec: Spec, g: tuple[Any, ...], items: list[Item]) -> list[Match]:
    wanted = list(dict.fromkeys(spec.keys))
    need = len(wanted) if spec.count <= 1 else int(spec.count)
    out: list[Match] = []
    i = 0
    while i < len(items):
        end = i
        while end < len(items) and (items[end].ts - items[i].ts).total_seconds() <= spec.seconds:
            end += 1
        window = items[i:end]
        found = _ordered(wanted, window) if spec.type == "temporal_ordered" else None
        if spec.type == "temporal":
            seen = {it.key for it in window}
            names = {spec.names.get(k, str(k)) for k in seen}
            if spec.expression:
                ok = holds(spec.expression, names)
            else:
                ok = len(seen & set(wanted)) >= need
            if ok:
                found = [it for it in window if it.key in seen]
        if found:
            out.append(Match(g, [it.event for it in found], float(len(found))))
            last = found[-1]
            i = items.index(last, i) + 1
            continue
        i += 1
    return out


def _ordered(wanted: list[int], window: list[Item]) -> list[Item] | None:
    """The first events of the window that show the rules in order (from the first)."""
    if not window or window[0].key != wanted[0]:
        return None
    chain = [window[0]]
    pos = 1
    for key in wanted[1:]:
        while pos < len(window) and window[pos].key != key:
            pos += 1
        if pos >= len(window):
            return None
        chain.append(window[pos])
        pos += 1
    return chain
