"""Scans narrowed to the event codes the rules test (runner.narrow, compiler.event_codes)."""

from __future__ import annotations

from typing import Any

from ashiato.detect.sigma.compiler import And, Not, Or, Pred, event_codes
from ashiato.detect.sigma.pipeline import Field, Target
from ashiato.detect.sigma.runner import SPLIT_MAX, Job, narrow, split

CODE = Field(column="event.code")
OTHER = Field(paths=('$.winlog.event_data."X"',))


def code(v: Any) -> Pred:
    return Pred("numeq", CODE, v)


def test_codes_a_match_needs() -> None:
    assert event_codes(And((code(4625), Pred("eq", OTHER, "a")))) == {"4625"}
    assert event_codes(Or((code(4625), code(4771)))) == {"4625", "4771"}
    assert event_codes(Or((code(4625), Pred("eq", OTHER, "a")))) is None  # the other branch
    assert event_codes(Not(code(4625))) is None
    assert event_codes(And((Or((code(1), code(2))), code(2)))) == {"2"}
    assert event_codes(Pred("eq", CODE, "0104")) == {"104"}
    assert event_codes(Pred("contains", CODE, "10")) is None


def test_narrow_keeps_every_rule_of_the_scope() -> None:
    scope = (Target(datasets=("windows.security",)),)
    a = Job(0, scope, And((code(4625), Pred("eq", OTHER, "x"))))
    b = Job(1, scope, code(1102))
    assert narrow(scope, [a, b]) == (Target(("windows.security",), ("1102", "4625")),)
    c = Job(2, scope, Pred("eq", OTHER, "x"))  # reads every event: no narrowing
    assert narrow(scope, [a, c]) == scope
    sysmon = (Target(("windows.sysmon",), ("1",)), Target(("windows.security",), ("4688",)))
    assert narrow(sysmon, [Job(3, sysmon, code(4688))]) == (sysmon[1],)


def test_split_by_code_sets() -> None:
    scope = (Target(datasets=("windows.security",)),)
    a = Job(0, scope, code(5145))
    b = Job(1, scope, And((code(4648), Pred("eq", OTHER, "x"))))
    c = Job(2, scope, code(4648))
    parts = split(scope, [a, b, c])
    assert [(s, [j.key for j in g]) for s, g in parts] == [
        ((Target(("windows.security",), ("5145",)),), [0]),
        ((Target(("windows.security",), ("4648",)),), [1, 2]),
    ]
    many = [Job(i, scope, code(1000 + i)) for i in range(SPLIT_MAX + 1)]
    assert len(split(scope, many)) == 1  # a large rule set keeps one scan
