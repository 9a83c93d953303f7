"""Detections grouped into incidents: one act, not one line per alert.

A responder reads "the logs of dc01 were cleared at 03:12 (90 logs in 3 s)", not 91
alerts. Each matched event counts once (under the most severe rule that matched it);
events of one ATT&CK technique on one host are one incident while they keep coming
within :data:`GAP` of each other; the same key value (one command line, one service)
on several hosts in one window is one mass deployment with many hosts.

Key values are what a responder searches for next: the command line, the service name
and binary, the share and file, the remote address, the URL, the threat name. When an
act repeats with a varying part (244 services whose names each carry a piece of a
script), the varying parts are joined in time order: that is what was smuggled.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from ashiato.analysis import attack
from ashiato.analysis.context import Context, evidence, extra_of
from ashiato.analysis.identity import Identity
from ashiato.analysis.indicators import is_internal
from ashiato.detect import sigma
from ashiato.exports import iso
from ashiato.findings import Incident
from ashiato.i18n import msg, said

GAP = timedelta(minutes=30)
_LEVEL = {name: i for i, name in enumerate(sigma.LEVELS)}
_NOT_ACCOUNTS = {"", "-", "system", "local service", "network service", "anonymous logon"}
_MANY = 8  # distinct values of one kind beyond which the varying parts are joined
_SERIES_ONLY = ("service binary", "service name")
_LOOKUP_LIMIT = 5000
_NEEDS_EXTRA = {"7045", "4697", "4698", "4702", "5140", "5145", "4625", "7", "12", "13", "14"}
_AT_THE_CONSOLE = {"2", "7"}  # interactive and unlock: typed here, not sent from elsewhere
_LOCAL = {"-", "::1", "127.0.0.1"}
# a success this long after the last failure from the same source still ends the guessing
GUESS_AFTER = timedelta(minutes=30)
# ten local failures within two seconds: no person types that fast
LOCAL_BURST = 10
LOCAL_BURST_SPAN = timedelta(seconds=2)
_GUESSING = "T1110"


@dataclass
class _Item:
    """One matched event with the rules that matched it."""

    event: dict[str, Any]
    level: str
    tags: list[str]
    titles: list[str]
    count: int = 1
    related: list[dict[str, Any]] = field(default_factory=list)
    host: str | None = None
    guessed: bool = False  # the successful logon that ended a guessing burst

    @property
    def time(self) -> datetime | None:
        t = self.event.get("@timestamp")
        return t if isinstance(t, datetime) else None


@dataclass
class _Group:
    key: str  # technique id, else the rule title
    items: list[_Item] = field(default_factory=list)
    hosts: set[str] = field(default_factory=set)

    @property
    def first(self) -> datetime | None:
        ts = [i.time for i in self.items if i.time]
        return min(ts) if ts else None

    @property
    def last(self) -> datetime | None:
        ts = [i.time for i in self.items if i.time]
        return max(ts) if ts else None


def build(ctx: Context, result: sigma.Result, ident: Identity | None = None) -> list[Incident]:
    """Incidents from a scan's detections, in time order (ids I1, I2, ...)."""
    items = _dedupe(result.detections)
    if not items:
        return []
    _add_details(ctx, items)
    for i in items:
        i.host = _actor(i.event, ident)
    groups = _merge_deployments(_split(items))
    if ctx.events is not None:
        groups = _guessed(ctx, groups)
    out = [_incident(g) for g in groups]
    out.sort(key=lambda i: (i.first or "", -_LEVEL.get(i.severity, 0), i.technique_name))
    for n, inc in enumerate(out, 1):
        inc.id = f"I{n}"
    return out


def _ref(e: dict[str, Any]) -> tuple[str, int]:
    return str(e.get("evidence_id")), int(e.get("record") or 0)


def _dedupe(detections: list[sigma.Detection]) -> list[_Item]:
    """One item per matched event, under its most severe rule (then the most specific)."""
    by_ref: dict[tuple[str, int], _Item] = {}
    # engines return hits in any order; ties between rules must fall the same way on each
    for d in sorted(detections, key=lambda d: (_ref(d.event), d.rule.title)):
        ref = _ref(d.event)
        level = d.rule.level
        have = by_ref.get(ref)
        if have is None:
            by_ref[ref] = _Item(
                dict(d.event),
                level,
                list(d.rule.tags),
                [d.rule.title],
                count=max(1, len(d.related)),
                related=list(d.related),
            )
            continue
        if d.rule.title not in have.titles:
            have.titles.append(d.rule.title)
        better = (_LEVEL.get(level, 0), attack.technique(d.rule.tags) is not None) > (
            _LEVEL.get(have.level, 0),
            attack.technique(have.tags) is not None,
        )
        if better:
            have.level, have.tags = level, list(d.rule.tags)
            have.titles.remove(d.rule.title)
            have.titles.insert(0, d.rule.title)
    return list(by_ref.values())


def _add_details(ctx: Context, items: list[_Item]) -> None:
    """The columns a hit does not carry: the service or task name in ``extra`` (the
    other key values - command line, path, URL, threat, address - come with the hit)."""
    want = [
        i for i in items
        if "extra" not in i.event and str(i.event.get("event.code")) in _NEEDS_EXTRA
    ][:_LOOKUP_LIMIT]  # fmt: skip
    if not want:
        return
    t = ctx.events
    by_ev: dict[str, set[int]] = {}
    for i in want:
        ev, rec = _ref(i.event)
        by_ev.setdefault(ev, set()).add(rec)
    cond = None
    for ev, recs in by_ev.items():
        c = (t["evidence_id"] == ev) & t["record"].isin(sorted(recs))
        cond = c if cond is None else cond | c
    cols = ["evidence_id", "record", "extra", "file.share", "file.name", "event.action",
            "event.outcome", "process.parent.executable", "winlog.logon.id"]  # fmt: skip
    q = t.filter(cond).select(*[c for c in cols if c in t.columns])
    found = {_ref(r): r for r in ctx.rows(q)}
    for i in want:
        extra = found.get(_ref(i.event))
        if extra:
            for k, v in extra.items():
                i.event.setdefault(k, v)


def _actor(e: dict[str, Any], ident: Identity | None) -> str | None:
    """The machine that acted: the client behind a share access (the file server only
    logged it), else the logging host, else the internal address of a network event
    resolved to its host at the time."""
    when = e.get("@timestamp")
    src = e.get("source.ip")

    def resolve(ip: str) -> str:
        return (ident.at(ip, when).host if ident else None) or ip

    shared = e.get("file.share") or str(e.get("event.code")) in ("5140", "5145")
    if shared and src and src not in _LOCAL:
        return resolve(str(src))
    if e.get("host.name"):
        return str(e["host.name"])
    for key in ("source.ip", "destination.ip"):
        ip = e.get(key)
        if ip and is_internal(str(ip)):
            return resolve(str(ip))
    return None


def _split(items: list[_Item]) -> list[_Group]:
    """Per technique × host, cut where the events stop for longer than GAP."""
    buckets: dict[tuple[str, str], list[_Item]] = {}
    for i in items:
        key = attack.technique(i.tags) or i.titles[0]
        buckets.setdefault((key, i.host or ""), []).append(i)
    groups: list[_Group] = []
    for (key, host), its in buckets.items():
        its.sort(key=lambda i: (_epoch(i.time), _ref(i.event)))
        cur: _Group | None = None
        last: datetime | None = None
        for i in its:
            if cur is None or (i.time and last and i.time - last > GAP):
                cur = _Group(key, hosts={host} if host else set())
                groups.append(cur)
            cur.items.append(i)
            last = i.time or last
    return groups


def _merge_deployments(groups: list[_Group]) -> list[_Group]:
    """The same technique and key value on several hosts within GAP: one incident."""
    by_value: dict[tuple[str, str], list[_Group]] = {}
    rest: list[_Group] = []
    for g in groups:
        values = _values(g.items)
        top = values[0] if values else None
        if top is None:
            rest.append(g)
        else:
            by_value.setdefault((g.key, top), []).append(g)
    for gs in by_value.values():
        gs.sort(key=lambda g: _epoch(g.first))
        cur = gs[0]
        rest.append(cur)
        for g in gs[1:]:
            if cur.last and g.first and g.first - cur.last <= GAP:
                cur.items.extend(g.items)
                cur.hosts |= g.hosts
            else:
                cur = g
                rest.append(cur)
    return rest


def _guessed(ctx: Context, groups: list[_Group]) -> list[_Group]:
    """A burst of failed logons followed by a successful one from the same source on the
    same host is one act: a password guessed, and the likely way in. The success joins
    the burst's incident (and leaves any other group it fell into)."""
    bursts = [g for g in groups if g.key.startswith(_GUESSING) and g.first and g.hosts]
    if not bursts:
        return groups
    tried: dict[tuple[str, str], list[_Group]] = {}
    for g in bursts:
        for i in g.items:
            for r in i.related or [i.event]:
                ip = str(r.get("source.ip") or "")
                if r.get("event.outcome") == "failure" and ip and ip not in _LOCAL:
                    for h in g.hosts:
                        key = (h, ip)
                        if g not in tried.setdefault(key, []):
                            tried[key].append(g)
    if not tried:
        return groups
    t = ctx.events
    lo = min(g.first for g in bursts if g.first)
    hi = max(g.last for g in bursts if g.last) + GUESS_AFTER
    hosts = sorted({h for h, _ip in tried})
    ips = sorted({ip for _h, ip in tried})
    q = t.filter(
        (t["event.code"] == "4624")
        & t["event.dataset"].startswith("windows.")
        & t["host.name"].isin(hosts)
        & t["source.ip"].isin(ips)
        & (t["@timestamp"] >= lo)
        & (t["@timestamp"] <= hi)
    )
    cols = ["@timestamp", "event.dataset", "event.code", "event.outcome", "host.name",
            "user.name", "user.domain", "source.ip", "winlog.logon.type", "winlog.logon.id",
            "evidence_id", "record"]  # fmt: skip
    q = q.select(*[c for c in cols if c in t.columns]).order_by(["@timestamp", "record"])
    wins = ctx.rows(q, limit=_LOOKUP_LIMIT)
    taken: set[tuple[str, int]] = set()
    for g in bursts:
        first, last = g.first, g.last
        for w in wins:
            when = w.get("@timestamp")
            if not isinstance(when, datetime) or first is None or last is None:
                continue
            if g in tried.get((str(w.get("host.name")), str(w.get("source.ip"))), []) and (
                first <= when <= last + GUESS_AFTER
            ):
                lead = max(g.items, key=lambda i: _LEVEL.get(i.level, 0))
                w = {**w, "event.outcome": "success"}
                g.items.append(_Item(w, lead.level, list(lead.tags), list(lead.titles),
                                     host=str(w["host.name"]), guessed=True))  # fmt: skip
                taken.add(_ref(w))
                break  # the first success is the one that matters
    if not taken:
        return groups
    out = []
    for g in groups:
        if g not in bursts:
            g.items = [i for i in g.items if _ref(i.event) not in taken]
        if g.items:
            out.append(g)
    return out


def _epoch(t: datetime | None) -> float:
    return t.timestamp() if t else float("inf")


def _service(data: dict[str, Any]) -> tuple[str, str] | None:
    name = data.get("ServiceName")
    if not name:
        return None
    return str(name), str(data.get("ImagePath") or data.get("ServiceFileName") or "")


def _event_data(e: dict[str, Any]) -> dict[str, Any]:
    return _data_of(extra_of(e))


def _data_of(extra: dict[str, Any]) -> dict[str, Any]:
    data = (extra.get("winlog") or {}).get("event_data")
    return data if isinstance(data, dict) else {}


def _key_of(e: dict[str, Any]) -> list[tuple[str, str]]:
    """(kind, value) pairs a responder would search for, most telling first."""
    out: list[tuple[str, str]] = []
    extra = extra_of(e)  # decoded once: every event of an incident comes through here
    data = _data_of(extra)
    command = e.get("process.command_line")
    svc = _service(data)
    if svc:
        name, image = svc
        out.append(("service", f"service {name}" + (f" → {image}" if image else "")))
        # series only: a burst's names or binaries may each carry a piece of a script
        out += [("service binary", image), ("service name", name)]
    elif command:
        out.append(("command", str(command)))
    if data.get("ImageLoaded") and data.get("Image"):  # Sysmon 7: who loaded what
        out.append(("module", f"{data['Image']} loaded {data['ImageLoaded']}"))
    registry = _registry(e, extra, data)
    path = str(e["file.path"]) if e.get("file.path") and not e.get("file.share") else None
    # Sysmon 11: the file created says more than its writer ("System": it came over SMB)
    early = path if not registry and not command else None
    if registry:  # Sysmon 12/13: the key (and value) changed says more than its writer
        out.append(("registry", registry))
    elif early:
        out.append(("file", early))
    if not svc and not command and e.get("process.executable"):
        out.append(("process", str(e["process.executable"])))  # e.g. Sysmon 10's opener
    if e.get("file.share"):
        out.append(("share", f"{e['file.share']}\\{e.get('file.name') or ''}".rstrip("\\")))
    if e.get("url.original"):
        out.append(("url", str(e["url.original"])))
    if e.get("rule.name"):
        out.append(("threat", str(e["rule.name"])))
    if path and not early:
        out.append(("file", path))
    if e.get("source.ip") and e.get("source.ip") not in ("-", "::1", "127.0.0.1"):
        out.append(("remote address", str(e["source.ip"])))
    return out


def _registry(e: dict[str, Any], extra: dict[str, Any], data: dict[str, Any]) -> str | None:
    key = extra.get("registry.path") or data.get("TargetObject")
    if not key or str(e.get("event.code")) not in ("12", "13", "14"):
        return None
    value = data.get("Details")
    return f"{key} = {value}" if value else str(key)


def _values(items: list[_Item]) -> list[str]:
    """The distinct key values, most frequent first; a long varying series is joined."""
    per_kind: dict[str, list[str]] = {}
    for i in sorted(items, key=lambda i: _epoch(i.time)):
        for kind, v in _key_of(i.event):
            per_kind.setdefault(kind, []).append(v[:1000])
    joined: list[str] = []
    out: list[str] = []
    for kind, vs in per_kind.items():
        distinct = list(dict.fromkeys(vs))
        if len(distinct) > _MANY and kind != "service":  # its parts are joined apart
            series = _joined(kind, distinct)
            if series:
                joined.append(series)
        if kind not in _SERIES_ONLY:
            out.extend(v for v, _n in Counter(vs).most_common(3))
    return list(dict.fromkeys(joined + out))[:8]


def _joined(kind: str, values: list[str]) -> str | None:
    """``N distinct …; varying parts in time order: …``: what a series of names carries
    (None when the varying parts are only counters)."""
    pre = _common_prefix(values)
    suf = _common_prefix([v[len(pre) :][::-1] for v in values])[::-1]
    middles = [v[len(pre) : len(v) - len(suf) if suf else None] for v in values]
    joined = "".join(middles)
    if joined.isdigit():
        return None
    text = f"{len(values)} distinct {kind} values"
    if pre or suf:
        text += f" of the form {pre!s}…{suf!s}"
    return said(f"{text}; varying parts in time order: {joined[:600]}",
                "incidents.series" + (".form" if pre or suf else ""), n=len(values),
                kind=msg(f"incidents.kind.{kind.replace(' ', '_')}"), form=f"{pre}…{suf}",
                parts=joined[:600])  # fmt: skip


def _common_prefix(values: list[str]) -> str:
    if not values:
        return ""
    lo, hi = min(values), max(values)
    n = 0
    while n < min(len(lo), len(hi)) and lo[n] == hi[n]:
        n += 1
    return lo[:n]


def _incident(g: _Group) -> Incident:
    items = sorted(g.items, key=lambda i: (_epoch(i.time), _ref(i.event)))
    level = max((i.level for i in items), key=lambda lv: _LEVEL.get(lv, 0))
    tags = next(i.tags for i in items if i.level == level)
    tech = attack.technique(tags)
    titles = list(dict.fromkeys(t for i in items for t in i.titles))
    accounts = Counter(
        str(i.event.get("user.name")).lower()
        for i in items
        if str(i.event.get("user.name") or "").lower() not in _NOT_ACCOUNTS
    )
    rows: list[dict[str, Any]] = []
    for i in items:
        rows.extend(i.related or [i.event])
    refs = rows[:4] + rows[-1:] if len(rows) > 5 else rows
    guess = next((i for i in items if i.guessed), None)
    start = g.first
    tried = all(map(_attempt, rows))
    local = tried and _local_machine_speed(rows) and all(map(_at_console, items))
    keys = _values([i for i in items if not i.guessed])
    names = [a for a, _n in accounts.most_common(10)]
    if guess is not None:
        # the guessed password opened a session: the host fell, whatever the rule's level
        level = max(level, "high", key=lambda lv: _LEVEL.get(lv, 0))
        w = guess.event
        who = str(w.get("user.name") or "?")
        fails = sum(i.count for i in items if not i.guessed)
        said = (
            f"{fails} failed logons from {iso(g.first)}, then {who} logged on (type "
            f"{w.get('winlog.logon.type')}) from {w.get('source.ip')}: a password guessed"
        )
        keys = [said, *keys]
        # the act is the logon that got in: the host fell then, not at the first failure
        start = guess.time
        names = list(dict.fromkeys([who.lower(), *names]))
        refs = [*[r for r in refs if _ref(r) != _ref(w)][:4], w]
    if local:
        ts = [t for r in rows if isinstance(t := r.get("@timestamp"), datetime)]
        ms = int((max(ts) - min(ts)).total_seconds() * 1000)
        n = sum(i.count for i in items)
        said = f"{n} failed logons in {ms} ms with no remote address: a program here"
        keys = [said, *keys]
    return Incident(
        id="",
        technique=tech,
        technique_name=attack.name(tech) or titles[0],
        tactic=attack.tactic(tags),
        severity=level,
        count=sum(i.count for i in items),
        first=iso(start),
        last=iso(g.last),
        hosts=sorted(g.hosts),
        accounts=names,
        key_values=keys[:8],
        rules=titles[:10],
        evidence=evidence(refs, limit=5),
        weighed=not (all(map(_file_mark, items)) or (tried and not local)),
        # a guessed password: the host fell at the logon that got in
        host_first=_host_first(items if guess is None else [guess], g.hosts),
    )


def _host_first(items: list[_Item], hosts: set[str]) -> dict[str, str]:
    """Each host's first event in the incident (items are in time order)."""
    out: dict[str, str] = {}
    for i in items:
        host = i.host or i.event.get("host.name")
        if host in hosts and host not in out and i.time is not None:
            out[str(host)] = str(iso(i.time))
    return out


def _attempt(e: dict[str, Any]) -> bool:
    """A failed sign-in logged here: the host was tried (or, a DC, checked the password),
    which says nothing of whether it fell; the entry analysis weighs the logon after."""
    return e.get("event.outcome") == "failure"


def _at_console(i: _Item) -> bool:
    """A 4625 of an interactive logon: RDP with NLA also logs failures without an address,
    but as network logons (type 3) naming the remote workstation."""
    return str(_event_data(i.event).get("LogonType")) in _AT_THE_CONSOLE


def _local_machine_speed(rows: list[dict[str, Any]]) -> bool:
    """Failed sign-ins with no remote address, faster than anyone types: a program on this
    very host is guessing passwords (LogonUser in a loop), so the operator is here."""
    if len(rows) < LOCAL_BURST or any(str(r.get("source.ip") or "-") not in _LOCAL for r in rows):
        return False
    ts = sorted(t for r in rows if isinstance(t := r.get("@timestamp"), datetime))
    n = LOCAL_BURST - 1
    return any(ts[i + n] - ts[i] <= LOCAL_BURST_SPAN for i in range(len(ts) - n))


def _file_mark(i: _Item) -> bool:
    """A ransom note or encrypted file seen on a disk or share: where files were hit. Who
    wrote them is decided by the first-writer analysis in hosts.py, not by every reader.
    Other file hits (a credential dumper's log, a tool dropped) are acts like any other."""
    e = i.event
    if attack.technique(i.tags) != "T1486" or e.get("process.command_line"):
        return False
    return bool(e.get("file.path") or e.get("file.name"))
