"""Sigma rules over a case: load (pySigma), map (:mod:`.pipeline`), compile
(:mod:`.compiler` into :mod:`.plan`), cache (:mod:`.cache`), evaluate (:mod:`.runner`,
on DuckDB :mod:`.sqlscan`), correlate (:mod:`.correlation`).

:func:`load` reads files and folders of rules and collects every problem instead of
raising; :func:`compile_rules` turns them into a :class:`Program` (plain data);
:func:`compiled` does both, or reads the program cached for the same files;
:func:`execute` runs a program and returns the hits together with the rules that could
not run and why, so nothing is skipped silently. :func:`hunt` is compile + execute.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ashiato.detect.sigma import correlation
from ashiato.detect.sigma.pipeline import Field, Resolved, Unsupported
from ashiato.detect.sigma.plan import CompileError
from ashiato.detect.sigma.runner import Hit, Job, Stats, complete, run

if TYPE_CHECKING:  # pySigma is imported only when rules are parsed (not from the cache)
    from sigma.collection import SigmaCollection
    from sigma.correlations import SigmaCorrelationRule
    from sigma.rule import SigmaRule

    Rule = SigmaRule | SigmaCorrelationRule

LEVELS = ("informational", "low", "medium", "high", "critical")
SKIPPED_STATUS = ("deprecated", "unsupported")


@dataclass
class Problem:
    title: str
    path: str
    reason: str
    id: str | None = None


@dataclass
class RuleInfo:
    key: int
    title: str
    id: str | None
    level: str
    path: str
    kind: str  # rule | correlation
    tags: list[str] = field(default_factory=list)
    logsource: str = ""


@dataclass
class Detection:
    """One event (or, for a correlation, the last of its events) a rule matched."""

    rule: RuleInfo
    event: dict[str, Any]
    related: list[dict[str, Any]] = field(default_factory=list)  # correlation: all events
    group: dict[str, Any] = field(default_factory=dict)


@dataclass
class Result:
    rules: list[RuleInfo]
    detections: list[Detection]
    problems: list[Problem]
    stats: Stats


@dataclass
class Correlation:
    """A correlation rule compiled: its info key, the plain :class:`correlation.Spec`."""

    key: int
    spec: correlation.Spec
    generate: bool
    group_names: list[str]


@dataclass
class Program:
    """A rule set compiled, as plain data (what :mod:`.cache` stores): the rules that
    run (``jobs``, ``infos[job.key]``), the correlations over them, and every rule
    that can't run with the reason (``problems``: loading first, then compiling)."""

    infos: list[RuleInfo]
    jobs: list[Job]
    correlations: list[Correlation]
    problems: list[Problem]


def load(paths: Sequence[Path]) -> tuple[list[Rule], list[Problem]]:
    """Every rule in the files and folders (``*.yml``/``*.yaml``), and what failed to load."""
    import yaml
    from sigma.collection import SigmaCollection
    from sigma.exceptions import SigmaRuleLocation

    loader: Any = getattr(yaml, "CSafeLoader", yaml.SafeLoader)  # libyaml: ~8x faster
    rules: list[Rule] = []
    problems: list[Problem] = []
    for path in _files(paths, problems):
        try:
            docs = list(yaml.load_all(path.read_text("utf-8"), Loader=loader))
        except (OSError, UnicodeDecodeError, yaml.YAMLError) as exc:
            problems.append(Problem(path.name, str(path), f"can't read YAML: {_line(exc)}"))
            continue
        docs = [d for d in docs if d is not None]
        if not all(isinstance(d, dict) for d in docs):
            problems.append(Problem(path.name, str(path), "not a Sigma rule (no mapping)"))
            continue
        try:
            coll = SigmaCollection.from_dicts(
                docs, collect_errors=True, source=SigmaRuleLocation(path), resolve_references=False
            )
        except Exception as exc:
            problems.append(Problem(path.name, str(path), f"pySigma: {_line(exc)}"))
            continue
        for rule in coll.rules:
            if rule.errors:
                problems.append(_problem(rule, path, "; ".join(_line(e) for e in rule.errors)))
            else:
                rules.append(rule)
        for err in coll.errors:
            if not any(err in r.errors for r in coll.rules):
                problems.append(Problem(path.name, str(path), _line(err)))
    return rules, problems


def _files(paths: Sequence[Path], problems: list[Problem]) -> Iterable[Path]:
    for p in paths:
        if p.is_dir():
            yield from sorted(x for x in p.rglob("*") if x.suffix in (".yml", ".yaml"))
        elif p.is_file():
            yield p
        else:
            problems.append(Problem(p.name, str(p), "no such file or folder"))


def _line(exc: BaseException) -> str:
    return " ".join(str(exc).split())[:400]


def _problem(rule: Rule, path: Path | None, reason: str) -> Problem:
    return Problem(rule.title or "?", str(path or _path(rule)), reason, _id(rule))


def _id(rule: Rule) -> str | None:
    return str(rule.id) if rule.id else None


def _path(rule: Rule) -> str:
    src = rule.source
    return str(src.path) if src is not None and src.path else ""


def _level(rule: Rule) -> str:
    lv = getattr(rule, "level", None)
    return lv.name.lower() if lv is not None else "medium"


def hunt(
    events: Any, rules: Sequence[Rule], min_level: str = "low", engine: str = "auto"
) -> Result:
    """Run ``rules`` over ``events`` (Ibis table); rules below ``min_level`` don't run."""
    return execute(events, compile_rules(rules), min_level, engine)


def compiled(paths: Sequence[Path], unique: bool = False) -> Program:
    """The rule files and folders loaded and compiled, from the cache when the same
    files (by content) were compiled before by the same code; ``unique``: a rule id
    given twice runs once."""
    from ashiato.detect.sigma import cache

    key = cache.fingerprint(paths, unique)
    program = cache.get(key)
    if program is None:
        rules, problems = load(paths)
        program = compile_rules(unique_rules(rules) if unique else rules)
        program.problems[:0] = problems
        cache.put(key, program)
    return program


def unique_rules(rules: list[Rule]) -> list[Rule]:
    """A rule given twice (same id, e.g. a folder passed by flag and by env) runs once."""
    seen: set[str] = set()
    out = []
    for r in rules:
        rid = str(r.id) if r.id else None
        if rid is not None and rid in seen:
            continue
        if rid is not None:
            seen.add(rid)
        out.append(r)
    return out


def compile_rules(rules: Sequence[Rule]) -> Program:
    """Map and compile every rule (pySigma objects) into a :class:`Program`."""
    from sigma.collection import SigmaCollection
    from sigma.correlations import SigmaCorrelationRule

    from ashiato.detect.sigma.compiler import plan_rule
    from ashiato.detect.sigma.pipeline import resolve

    problems: list[Problem] = []
    coll = SigmaCollection(list(rules), resolve_references=False)
    infos: list[RuleInfo] = []
    jobs: dict[int, Job] = {}
    resolved_of: dict[int, Resolved] = {}
    key_of: dict[int, int] = {}  # id(rule) -> job key
    corr: list[tuple[RuleInfo, SigmaCorrelationRule]] = []
    for rule in coll.rules:
        status = rule.status.name.lower() if rule.status else ""
        info = RuleInfo(
            key=len(infos), title=rule.title or "?", id=_id(rule), level=_level(rule),
            path=_path(rule), kind="correlation" if isinstance(rule, SigmaCorrelationRule)
            else "rule", tags=[str(t) for t in rule.tags or ()],
        )  # fmt: skip
        if status in SKIPPED_STATUS:
            problems.append(_problem(rule, None, f"status {status}: not run"))
            continue
        if isinstance(rule, SigmaCorrelationRule):
            corr.append((info, rule))
            infos.append(info)
            continue
        ls = rule.logsource
        info.logsource = "/".join(x for x in (ls.product, ls.category, ls.service) if x)
        try:
            res = resolve(ls.product, ls.category, ls.service)
            plan = plan_rule(rule, res)
        except (Unsupported, CompileError) as exc:
            problems.append(_problem(rule, None, str(exc)))
            continue
        infos.append(info)
        jobs[info.key] = Job(info.key, res.scope, plan)
        resolved_of[info.key] = res
        key_of[id(rule)] = info.key
    correlations: list[Correlation] = []
    for info, crule in corr:
        try:
            spec = _spec(crule, coll, key_of, jobs, resolved_of)
        except (CompileError, Unsupported) as exc:
            problems.append(_problem(crule, None, str(exc)))
            continue
        names = [str(n) for n in crule.group_by or []]
        correlations.append(Correlation(info.key, spec, bool(crule.generate), names))
    return Program(infos, list(jobs.values()), correlations, problems)


def execute(events: Any, program: Program, min_level: str = "low", engine: str = "auto") -> Result:
    """Run a compiled rule set over ``events`` (an Ibis table or a :class:`DuckRelation`)."""
    floor = LEVELS.index(min_level)
    infos = program.infos
    problems = list(program.problems)
    # base rules that only correlations use (generate: false) are not reported alone
    referenced = {k for c in program.correlations for k in c.spec.keys}
    generated = {k for c in program.correlations if c.generate for k in c.spec.keys}
    wanted = [
        j for j in program.jobs
        if LEVELS.index(infos[j.key].level) >= floor or j.key in referenced
    ]  # fmt: skip
    # hits of a base rule only a correlation reports need its time alone, until it matches
    light = frozenset(referenced - generated)
    hits, stats = run(events, wanted, engine=engine, light=light)
    for key, reason in stats.errors:
        info = infos[key]
        problems.append(Problem(info.title, info.path, reason, info.id))
    by_key: dict[int, list[Hit]] = {}
    for h in hits:
        by_key.setdefault(h.key, []).append(h)
    detections: list[Detection] = []
    failed = {k for k, _ in stats.errors}
    for j in wanted:
        info = infos[j.key]
        if (j.key in referenced and j.key not in generated) or LEVELS.index(info.level) < floor:
            continue
        detections.extend(Detection(info, h.event) for h in by_key.get(j.key, ()))
    for c in program.correlations:
        info = infos[c.key]
        if LEVELS.index(info.level) < floor or failed & set(c.spec.keys):
            continue
        for m in correlation.evaluate(c.spec, by_key):
            group = dict(zip(c.group_names, m.group, strict=False))
            detections.append(Detection(info, m.events[-1], m.events, group))
    partial = {id(h.event) for h in hits if h.partial}
    if partial:
        todo = {id(e): e for d in detections for e in (d.event, *d.related) if id(e) in partial}
        complete(events, list(todo.values()))
    ran = {j.key for j in wanted} | {c.key for c in program.correlations}
    shown = [i for i in infos if i.key in ran and LEVELS.index(i.level) >= floor]
    return Result(shown, detections, problems, stats)


def _spec(
    rule: SigmaCorrelationRule,
    coll: SigmaCollection,
    key_of: dict[int, int],
    jobs: dict[int, Job],
    resolved_of: dict[int, Resolved],
) -> correlation.Spec:
    from sigma.correlations import SigmaCorrelationRule, SigmaExtendedCorrelationCondition

    try:
        rule.resolve_rule_references(coll)
    except Exception as exc:
        raise CompileError(f"referenced rule not found: {_line(exc)}") from exc
    refs: list[Any] = list(rule.rules or rule.referenced_rules or [])
    keys: list[int] = []
    names: dict[int, str] = {}
    for ref in refs:
        target = ref.rule
        if isinstance(target, SigmaCorrelationRule):
            raise CompileError("correlations of correlations are not supported")
        key = key_of.get(id(target))
        if key is None:
            raise CompileError(f"referenced rule {ref.reference!r} could not be compiled")
        keys.append(key)
        names[key] = ref.reference
    ctype = rule.type.name.lower()
    if ctype not in ("event_count", "value_count", "value_sum", "value_avg",
                     "temporal", "temporal_ordered"):  # fmt: skip
        raise CompileError(f"correlation type {ctype} is not supported")
    aliases = {a.alias: {r.reference: f for r, f in a.mapping.items()} for a in rule.aliases}

    def field_of(key: int, name: str) -> Field:
        alias = aliases.get(name)
        if alias is not None:
            name = alias.get(names[key], name)
        return resolved_of[key].field(name)

    group: list[dict[int, str]] = []
    outputs: dict[int, list[Field]] = {k: [] for k in keys}
    for gname in rule.group_by or []:
        per: dict[int, str] = {}
        for k in keys:
            f = field_of(k, gname)
            outputs[k].append(f)
            per[k] = f.key
        group.append(per)
    spec = correlation.Spec(ctype, keys, names, group, float(rule.timespan.seconds))
    cond = rule.condition
    if isinstance(cond, SigmaExtendedCorrelationCondition):
        spec.expression = _expression(cond._parsed)
    else:
        spec.op = cond.op.name.lower()
        spec.count = float(cond.count)
        if cond.fieldref:
            vref = cond.fieldref if isinstance(cond.fieldref, str) else cond.fieldref[0]
            for k in keys:
                f = field_of(k, vref)
                outputs[k].append(f)
                spec.value[k] = f.key
    for k, fs in outputs.items():
        job = jobs[k]
        job.outputs = tuple(dict.fromkeys((*job.outputs, *fs)))
    return spec


def _expression(node: Any) -> correlation.Expr:
    from sigma.correlations import (
        CorrelationConditionAND,
        CorrelationConditionNOT,
        CorrelationConditionOR,
        SigmaRuleReference,
    )

    if isinstance(node, SigmaRuleReference):
        return ("ref", node.reference)
    parts = [_expression(a) for a in node.args]
    if isinstance(node, CorrelationConditionAND):
        return ("and", parts)
    if isinstance(node, CorrelationConditionOR):
        return ("or", parts)
    if isinstance(node, CorrelationConditionNOT):
        return ("not", parts[:1])
    raise CompileError(f"unsupported correlation condition {type(node).__name__}")
