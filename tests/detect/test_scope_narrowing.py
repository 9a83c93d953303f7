"""Scans narrowed to the event codes the rules test (runner.narrow, compiler.event_codes)."""

from __future__ import annotations

from typing import Any

from ashiato.detect.sigma.compiler import And, Not, Or, Pred, event_codes
from ashiato.detect.sigma.pipeline import Field, Target
from ashiato.detect.sigma.runner import Job, narrow

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
