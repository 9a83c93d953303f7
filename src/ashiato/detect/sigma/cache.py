"""Compiled rule sets kept between runs, keyed by the rules' content and the compiler's code.

Parsing 2,400 SigmaHQ rules with pySigma and compiling them takes seconds; the result
(a :class:`~ashiato.detect.sigma.Program`: plans, scopes, correlation specs, problems)
is plain data, stored here as JSON (never pickle: nothing in a cache file can run). The
key hashes every rule file's path and bytes, the ``unique`` flag, the source of the
modules that shape a compiled rule and pySigma's version, so an edited rule, a new
mapping or an upgrade compiles afresh. Anything wrong with the cache (unreadable,
stale format, read-only folder) only means compiling again.

Folder: ``$ASHIATO_CACHE_DIR``, else ``$XDG_CACHE_HOME/ashiato``, else
``~/.cache/ashiato`` (``%LOCALAPPDATA%\\ashiato\\cache`` on Windows); files under
``sigma/``, the newest :data:`KEEP` kept.
"""

from __future__ import annotations

import hashlib
import os
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import orjson

from ashiato.detect.sigma.correlation import Spec
from ashiato.detect.sigma.pipeline import Field, Target
from ashiato.detect.sigma.plan import And, Not, Or, Plan, Pred
from ashiato.detect.sigma.runner import Job

if TYPE_CHECKING:
    from ashiato.detect.sigma import Program

FORMAT = 1  # bump when the stored shape changes
KEEP = 8  # compiled rule sets kept
_CODE = ("__init__.py", "cache.py", "compiler.py", "correlation.py", "pipeline.py", "plan.py")


def folder() -> Path:
    env = os.environ.get("ASHIATO_CACHE_DIR")
    if env:
        return Path(env) / "sigma"
    if sys.platform == "win32" and os.environ.get("LOCALAPPDATA"):
        return Path(os.environ["LOCALAPPDATA"]) / "ashiato" / "cache" / "sigma"
    xdg = os.environ.get("XDG_CACHE_HOME")
    base = Path(xdg) if xdg else Path.home() / ".cache"
    return base / "ashiato" / "sigma"


def fingerprint(paths: Sequence[Path], unique: bool) -> str:
    """A hash of the rule files (paths and bytes, in load order) and of the compiler."""
    from ashiato import schema
    from ashiato.detect.sigma import _files
    from ashiato.formats import winevent

    h = hashlib.blake2b(digest_size=20)
    h.update(f"{FORMAT}|{unique}|{_pysigma_version()}".encode())
    here = Path(__file__).parent
    for p in [*(here / n for n in _CODE), Path(schema.__file__), Path(winevent.__file__)]:
        h.update(p.read_bytes())
    problems: list[Any] = []
    for p in _files(paths, problems):
        h.update(b"\x00f" + str(p).encode("utf-8", "surrogateescape") + b"\x00")
        try:
            h.update(p.read_bytes())
        except OSError as exc:  # load() reports it; the key just differs
            h.update(repr(exc).encode())
    for prob in problems:
        h.update(b"\x00m" + prob.path.encode("utf-8", "surrogateescape"))
    return h.hexdigest()


def _pysigma_version() -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("pysigma")
    except PackageNotFoundError:  # pragma: no cover
        return "?"


def get(key: str) -> Program | None:
    path = folder() / f"{key}.json"
    try:
        data = orjson.loads(path.read_bytes())
        program = decode(data)
    except (OSError, ValueError, KeyError, TypeError, IndexError):
        return None
    try:
        os.utime(path)  # recently used: kept by the pruning
    except OSError:
        pass
    return program


def put(key: str, program: Program) -> None:
    base = folder()
    try:
        base.mkdir(parents=True, exist_ok=True)
        tmp = base / f"{key}.{os.getpid()}.tmp"
        tmp.write_bytes(orjson.dumps(encode(program)))
        os.replace(tmp, base / f"{key}.json")  # readers never see half a file
        old = sorted(base.glob("*.json"), key=lambda p: p.stat().st_mtime, reverse=True)
        for stale in old[KEEP:]:
            stale.unlink(missing_ok=True)
    except (OSError, TypeError):  # a read-only home, a value JSON can't hold: compile
        return


# -- Program <-> JSON ---------------------------------------------------------------------


def encode(program: Program) -> dict[str, Any]:
    return {
        "format": FORMAT,
        "infos": [vars(i) for i in program.infos],
        "jobs": [
            [j.key, [_target(t) for t in j.scope], _plan(j.plan), [_field(o) for o in j.outputs]]
            for j in program.jobs
        ],
        "correlations": [
            {
                "key": c.key,
                "generate": c.generate,
                "group_names": c.group_names,
                "spec": _spec(c.spec),
            }
            for c in program.correlations
        ],
        "problems": [vars(p) for p in program.problems],
    }


def decode(data: dict[str, Any]) -> Program:
    from ashiato.detect.sigma import Correlation, Problem, Program, RuleInfo

    if data.get("format") != FORMAT:
        raise ValueError("cache format")
    fields: dict[tuple[Any, ...], Field] = {}  # one object per field, as compiling gives
    return Program(
        infos=[RuleInfo(**i) for i in data["infos"]],
        jobs=[_job_of(j, fields) for j in data["jobs"]],
        correlations=[
            Correlation(c["key"], _spec_of(c["spec"]), c["generate"], c["group_names"])
            for c in data["correlations"]
        ],
        problems=[Problem(**p) for p in data["problems"]],
    )


def _job_of(d: list[Any], fields: dict[tuple[Any, ...], Field]) -> Job:
    key, scope, plan, outs = d
    targets = tuple(_target_of(t) for t in scope)
    return Job(key, targets, _plan_of(plan, fields), tuple(_field_of(o, fields) for o in outs))


def _field(f: Field) -> list[Any]:
    return [f.column, list(f.paths)]


def _field_of(d: list[Any], seen: dict[tuple[Any, ...], Field]) -> Field:
    key = (d[0], *d[1])
    f = seen.get(key)
    if f is None:
        f = seen[key] = Field(d[0], tuple(d[1]))
    return f


def _tuple(v: Any) -> tuple[str, ...] | None:
    return None if v is None else tuple(v)


def _target(t: Target) -> list[Any]:
    return [t.datasets, t.codes, t.observer_types, t.needs]


def _target_of(d: list[Any]) -> Target:
    return Target(_tuple(d[0]), _tuple(d[1]), _tuple(d[2]), d[3])


def _plan(p: Plan) -> list[Any]:
    if isinstance(p, And):
        return ["and", [_plan(x) for x in p.items]]
    if isinstance(p, Or):
        return ["or", [_plan(x) for x in p.items]]
    if isinstance(p, Not):
        return ["not", _plan(p.item)]
    extra = {"field": _field(p.extra)} if isinstance(p.extra, Field) else p.extra
    return ["pred", p.op, None if p.field is None else _field(p.field), p.value, p.cased, extra]


def _plan_of(d: list[Any], seen: dict[tuple[Any, ...], Field]) -> Plan:
    kind = d[0]
    if kind == "and":
        return And(tuple(_plan_of(x, seen) for x in d[1]))
    if kind == "or":
        return Or(tuple(_plan_of(x, seen) for x in d[1]))
    if kind == "not":
        return Not(_plan_of(d[1], seen))
    _, op, field, value, cased, extra = d
    if isinstance(extra, dict):
        extra = _field_of(extra["field"], seen)
    return Pred(op, None if field is None else _field_of(field, seen), value, cased, extra)


def _spec(s: Spec) -> dict[str, Any]:
    return {
        "type": s.type, "keys": s.keys, "names": list(s.names.items()),
        "group": [list(g.items()) for g in s.group], "seconds": s.seconds, "op": s.op,
        "count": s.count, "value": list(s.value.items()), "expression": s.expression,
    }  # fmt: skip


def _expr_of(d: Any) -> Any:
    op, arg = d
    return (op, arg) if op == "ref" else (op, [_expr_of(x) for x in arg])


def _spec_of(d: dict[str, Any]) -> Spec:
    return Spec(
        type=d["type"], keys=list(d["keys"]), names={int(k): v for k, v in d["names"]},
        group=[{int(k): v for k, v in g} for g in d["group"]], seconds=float(d["seconds"]),
        op=d["op"], count=float(d["count"]), value={int(k): v for k, v in d["value"]},
        expression=None if d["expression"] is None else _expr_of(d["expression"]),
    )  # fmt: skip
