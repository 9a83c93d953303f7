"""Which accounts the intruder used, and what was done with them.

Starting from the entry account (:mod:`remote_access`) and the attacks that name their own
actor (DCSync 4662 with the replication rights, Kerberoasting 4769 with RC4, AS-REP
roasting 4768 without pre-authentication), follow what those accounts did: accounts they
created (4720), put in privileged groups (4728/4732/4756), whose passwords they reset
(4724), Group Policy objects they changed (5136/5141) and scheduled tasks pushed by Group
Policy (ScheduledTasks.xml written under SYSVOL); plus logons on the infected hosts from
the entry address, a public address or another infected host. New accounts and privileged
additions by anyone else are listed too, marked ``by_intruder: false``, for the responders
to confirm.

The Security events keep the target of 4720/4724/4728 only in EventData, so those fields
are read from ``extra`` (``winlog.event_data``) in Python, for the few rows that match.
"""

from __future__ import annotations

import re
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

import ibis

from ashiato.analysis import fetch
from ashiato.analysis.context import Context, extra_of, summary
from ashiato.analysis.identity import Identity
from ashiato.analysis.indicators import is_internal
from ashiato.engines import json_field
from ashiato.exports import iso
from ashiato.findings import Evidence
from ashiato.i18n import msg, msg_of, said

# DS-Replication-Get-Changes, -Get-Changes-All, -Get-Changes-In-Filtered-Set
REPLICATION_GUIDS = (
    r"(?i)(1131f6aa-9c07-11d1-f79f-00c04fc2dcd2|1131f6ad-9c07-11d1-f79f-00c04fc2dcd2"
    r"|89e95b76-444d-4c62-991a-0facbeda640c)"
)
PRIVILEGED_GROUP = (
    r"(?i)^(domain admins|enterprise admins|schema admins|administrators|account operators"
    r"|backup operators|server operators|print operators|dnsadmins|group policy creator owners"
    r"|enterprise key admins|key admins|remote desktop users|esx admins)$"
)
DOMAIN_GROUP = r"(?i)^(domain admins|enterprise admins|schema admins)$"
GPO_TASKS = (
    r"(?i)\\policies\\\{[0-9a-f-]+\}\\(machine|user)\\preferences\\scheduledtasks"
    r"\\scheduledtasks\.xml$"
)
CODES = ("4720", "4724", "4728", "4732", "4756", "4662", "4769", "4768", "5136", "5141")
LOGON_SLACK = timedelta(hours=24)
PUSH_HOSTS = 3  # one task on this many hosts at once was pushed, not set up by hand
PUSH_WINDOW = timedelta(hours=1)
ROUNDS = 3  # accounts found by accounts found by the entry account...
_PRIV = re.compile(PRIVILEGED_GROUP)
_DOMAIN = re.compile(DOMAIN_GROUP)
_REPL = re.compile(REPLICATION_GUIDS)


@dataclass
class Action:
    kind: str  # created | privileged_group | password_reset | dcsync | kerberoasting |
    # asrep_roasting | gpo_changed | gpo_deleted | gpo_scheduled_task | logon | entry
    actor: str | None
    target: str | None
    host: str | None
    time: datetime
    detail: str
    row: dict[str, Any]


@dataclass
class Account:
    name: str
    roles: set[str] = field(default_factory=set)
    hosts: set[str] = field(default_factory=set)
    by_intruder: bool = False
    actions: list[Action] = field(default_factory=list)


def _norm(name: Any) -> str | None:
    if not name or not isinstance(name, str):
        return None
    s = name.strip()
    if s.upper().startswith("CN="):  # MemberName is a DN
        s = s[3:].split(",", 1)[0]
    s = s.rsplit("\\", 1)[-1].split("@", 1)[0].strip().lower()
    return None if s in ("", "-", "system", "anonymous logon", "local service") else s


def _data(r: dict[str, Any]) -> dict[str, Any]:
    w = extra_of(r).get("winlog") or {}
    d = w.get("event_data") or w.get("user_data") or {}
    return d if isinstance(d, dict) else {}


def _rows(ctx: Context) -> list[dict[str, Any]]:
    t = ctx.events
    ed = ("winlog", "event_data")
    code = t["event.code"]
    sec = t["event.dataset"] == "windows.security"
    rc4 = (code == "4769") & ibis.coalesce(
        json_field(t["extra"], *ed, "TicketEncryptionType").lower().isin(["0x17", "23"]), False
    )
    nopreauth = (code == "4768") & ibis.coalesce(
        json_field(t["extra"], *ed, "PreAuthType") == "0", False
    )
    repl = (code == "4662") & ibis.coalesce(
        json_field(t["extra"], *ed, "Properties").re_search(REPLICATION_GUIDS), False
    )
    cls = json_field(t["extra"], *ed, "ObjectClass")
    gpo = code.isin(["5136", "5141"]) & ibis.coalesce(cls == "groupPolicyContainer", False)
    acl = (code == "5136") & ibis.coalesce(
        (cls == "domainDNS")
        & (json_field(t["extra"], *ed, "AttributeLDAPDisplayName") == "nTSecurityDescriptor"),
        False,
    )
    iam = code.isin(["4720", "4724", "4728", "4732", "4756"])
    wanted = rc4 | nopreauth | repl | gpo | acl | iam
    path = t["file.path"]
    tasks = ibis.coalesce(path.re_search(GPO_TASKS), False)
    # apart, so that each filter reaches the Parquet scan: `extra` is read for the Security
    # log alone and the paths of the other logs apart (their OR read both for every row);
    # a file server's millions of share paths get a substring test before the pattern
    audit = t.filter(sec).filter(wanted)
    listed = t.filter(t["event.dataset"] != "windows.security").filter(tasks)
    shared = t.filter(sec).filter(path.contains("cheduled") | path.contains("CHEDULED"))
    shared = shared.filter(tasks & ~ibis.coalesce(wanted, False))
    return fetch.rows(ctx, audit.union(listed).union(shared), limit=20000)


def actions(ctx: Context) -> list[Action]:
    """Every account-related action worth a responder's look, from the matching rows."""
    out: list[Action] = []
    acls: list[dict[str, Any]] = []
    kerb: dict[str, set[str]] = defaultdict(set)
    for r in _rows(ctx):
        d, code, ts, host = (
            _data(r),
            str(r.get("event.code") or ""),
            r["@timestamp"],
            r.get("host.name"),
        )
        actor = _norm(d.get("SubjectUserName")) or _norm(r.get("user.name"))
        target = _norm(d.get("TargetUserName"))
        if r.get("file.path") and re.search(GPO_TASKS, r["file.path"]):
            out.append(
                Action(
                    "gpo_scheduled_task",
                    actor,
                    None,
                    host,
                    ts,
                    said(f"scheduled task pushed by Group Policy: {r['file.path']}",
                         "accounts.detail.gpo_task", path=r["file.path"]),
                    r,
                )
            )
        elif code == "4720":
            name = _norm(d.get("SamAccountName")) or target
            out.append(
                Action(
                    "created",
                    actor,
                    name,
                    host,
                    ts,
                    said(f"{actor or '?'} created the account {name}",
                         "accounts.detail.created", actor=actor or "?", name=name),
                    r,
                )
            )
        elif code == "4724":
            out.append(
                Action(
                    "password_reset",
                    actor,
                    target,
                    host,
                    ts,
                    said(f"{actor or '?'} reset the password of {target}",
                         "accounts.detail.password_reset", actor=actor or "?", target=target),
                    r,
                )
            )
        elif code in ("4728", "4732", "4756"):
            group = str(d.get("TargetUserName") or "")
            member = _norm(d.get("MemberName")) or str(d.get("MemberSid") or "") or None
            if _PRIV.match(group):
                out.append(
                    Action(
                        "privileged_group",
                        actor,
                        member,
                        host,
                        ts,
                        said(f"{actor or '?'} added {member} to {group}",
                             "accounts.detail.added", actor=actor or "?", member=member,
                             group=group),
                        r,
                    )
                )
        elif code == "4662":
            if actor and not actor.endswith("$"):  # DCs replicate with their machine accounts
                out.append(
                    Action(
                        "dcsync",
                        actor,
                        None,
                        host,
                        ts,
                        said(f"{actor} requested directory replication (DCSync) on {host}",
                             "accounts.detail.dcsync", actor=actor, host=host),
                        r,
                    )
                )
        elif code == "4769":
            svc = _norm(d.get("ServiceName"))
            if svc and not svc.endswith("$") and svc != "krbtgt" and target:
                kerb[target].add(svc)
                out.append(
                    Action(
                        "kerberoasting",
                        target,
                        svc,
                        host,
                        ts,
                        said(f"{target} requested an RC4 service ticket for {svc} "
                             f"from {r.get('source.ip') or '?'}", "accounts.detail.kerberoasting",
                             target=target, service=svc, ip=r.get("source.ip") or "?"),
                        r,
                    )
                )
        elif code == "4768":
            if target and not target.endswith("$"):
                out.append(
                    Action(
                        "asrep_roasting",
                        None,
                        target,
                        host,
                        ts,
                        said(f"ticket for {target} issued without pre-authentication "
                             f"to {r.get('source.ip') or '?'}", "accounts.detail.asrep",
                             target=target, ip=r.get("source.ip") or "?"),
                        r,
                    )
                )
        elif code == "5136" and d.get("ObjectClass") == "domainDNS":
            acls.append(r)
        elif code in ("5136", "5141"):
            dn = str(d.get("ObjectDN") or "")
            attr = d.get("AttributeLDAPDisplayName")
            verb = "deleted" if code == "5141" else f"changed {attr or 'an attribute'} of"
            out.append(
                Action(
                    "gpo_deleted" if code == "5141" else "gpo_changed",
                    actor,
                    None,
                    host,
                    ts,
                    said(f"{actor or '?'} {verb} Group Policy {dn}",
                         "accounts.detail.gpo_deleted" if code == "5141" else
                         "accounts.detail.gpo_changed", actor=actor or "?", dn=dn,
                         attribute=attr or msg("accounts.an_attribute")),
                    r,
                )
            )
    # one RC4 ticket can be an old client; several service accounts by one requester is roasting
    out = [a for a in out if a.kind != "kerberoasting" or len(kerb[a.actor or ""]) >= 2]
    return _collapse(out + replication_grants(acls)) + task_pushes(ctx)


# an SDDL object ACE granting one of the replication rights: (OA;flags;CR;guid;;grantee)
_REPL_ACE = re.compile(r"\(OA;[^;()]*;CR;" + REPLICATION_GUIDS[4:] + r";[^;()]*;([^()]+)\)", re.I)


def replication_grants(rows: list[dict[str, Any]]) -> list[Action]:
    """The domain object's ACL changed (5136 on nTSecurityDescriptor) so that someone new
    holds the replication rights: DCSync prepared, whoever runs it later. One change logs
    the old descriptor (%%14675) and the new (%%14674) under one OpCorrelationID; the
    grantees in the new one only are the additions."""
    by: dict[str, dict[str, set[str]]] = defaultdict(lambda: {"old": set(), "new": set()})
    first: dict[str, dict[str, Any]] = {}
    for r in rows:
        d = _data(r)
        op = str(d.get("OperationType") or "")
        side = "new" if op.endswith("14674") else "old" if op.endswith("14675") else None
        if side is None:
            continue
        key = str(d.get("OpCorrelationID") or r.get("record"))
        aces = {m.group(2) for m in _REPL_ACE.finditer(str(d.get("AttributeValue") or ""))}
        by[key][side] |= aces
        if side == "new":
            first.setdefault(key, r)
    out: list[Action] = []
    for key, r in first.items():
        added = sorted(by[key]["new"] - by[key]["old"]) if by[key]["old"] else []
        actor = _norm(_data(r).get("SubjectUserName"))
        for sid in added:
            out.append(
                Action(
                    "dcsync_rights",
                    actor,
                    sid,
                    r.get("host.name"),
                    r["@timestamp"],
                    said(f"{actor or '?'} gave {sid} directory replication rights "
                         "(DCSync) on the domain object", "accounts.detail.dcsync_rights",
                         actor=actor or "?", sid=sid),
                    r,
                )
            )
    return out


def _collapse(acts: list[Action]) -> list[Action]:
    """The same action repeated (a GPO edit writes a 5136 per attribute save): once, counted."""
    first: dict[tuple[str, str | None, str | None, str], Action] = {}
    n: Counter[tuple[str, str | None, str | None, str]] = Counter()
    for a in acts:
        key = (a.kind, a.actor, a.target, a.detail)
        first.setdefault(key, a)
        n[key] += 1
    for key, a in first.items():
        if n[key] > 1:
            a.detail = said(a.detail + f" (×{n[key]})", "accounts.detail.times",
                            detail=msg_of(a.detail) or a.detail, n=n[key])
    return list(first.values())


def task_pushes(ctx: Context) -> list[Action]:
    """One scheduled task (4698, same name) created on several hosts within an hour: pushed
    centrally, as Group Policy deploys a ransomware launcher."""
    t = ctx.events
    q = t.filter((t["event.dataset"] == "windows.security") & (t["event.code"] == "4698"))
    by: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for r in fetch.rows(ctx, q, limit=20000):
        name = str(_data(r).get("TaskName") or "").strip()
        if name and r.get("host.name"):
            by[name.lower()].append(r)
    out: list[Action] = []
    for rs in by.values():
        for i, r in enumerate(rs):
            near = [x for x in rs[i:] if x["@timestamp"] - r["@timestamp"] <= PUSH_WINDOW]
            hosts = sorted({str(x["host.name"]) for x in near})
            if len(hosts) >= PUSH_HOSTS:
                name = str(_data(r).get("TaskName"))
                listed = ", ".join(hosts[:8]) + (" …" if len(hosts) > 8 else "")
                out.append(
                    Action(
                        "gpo_scheduled_task",
                        _norm(r.get("user.name")),
                        None,
                        r.get("host.name"),
                        r["@timestamp"],
                        said(f"scheduled task {name} created on {len(hosts)} hosts within "
                             f"an hour ({listed}): pushed centrally (Group Policy or a "
                             "remote tool)", "accounts.detail.task_push", name=name,
                             n=len(hosts), hosts=hosts[:8]),
                        r,
                    )
                )
                break
    return out


def analyse(
    ctx: Context,
    ident: Identity,
    entry: dict[str, Any] | None,
    infected: list[tuple[str, datetime]],
) -> dict[str, Any]:
    acts = actions(ctx)
    accts: dict[str, Account] = {}

    def add(name: str | None, role: str, a: Action | None, intruder: bool) -> None:
        if not name:
            return
        acc = accts.setdefault(name, Account(name))
        acc.roles.add(role)
        acc.by_intruder |= intruder
        if a is not None and all(a is not x for x in acc.actions):  # rounds meet it again
            acc.actions.append(a)
            if a.host:
                acc.hosts.add(a.host)

    if entry and entry.get("user"):
        add(entry["user"], "entry", None, True)
    for a in acts:  # attacks that name their own actor
        if a.kind in ("dcsync", "kerberoasting"):
            add(a.actor, a.kind, a, True)
        if a.kind in ("kerberoasting", "asrep_roasting"):
            add(a.target, "credentials_exposed", a, True)
        if a.kind == "dcsync_rights":
            add(a.target, "dcsync_rights", a, True)
    _logons(ctx, ident, entry, infected, add)
    for _ in range(ROUNDS):
        intruders = {n for n, a in accts.items() if a.by_intruder}
        for a in acts:
            mine = a.actor in intruders
            if a.kind == "created":
                add(a.target, "created", a, mine)
            elif a.kind == "privileged_group":
                add(a.target, "privileged_group", a, mine)
            elif a.kind == "password_reset" and mine:
                add(a.target, "password_reset", a, True)
            elif a.kind.startswith("gpo_") and mine:
                add(a.actor, a.kind, a, True)
            if a.kind == "created" and not mine and _made_for_intruder(a, accts, entry):
                # an account made during the intrusion and then used by the intruder was
                # made by the intruder: the account that made it was in their hands
                add(a.actor, "creator", a, True)
    return _result(accts, acts, entry)


def _made_for_intruder(a: Action, accts: dict[str, Account], entry: dict[str, Any] | None) -> bool:
    target = accts.get(a.target or "")
    if not a.actor or target is None or not target.by_intruder:
        return False
    if not target.roles - {"created", "privileged_group"}:
        return False  # nothing but its making says the intruder used it
    when = (entry or {}).get("time")
    if when:
        return a.time >= datetime.fromisoformat(str(when).replace("Z", "+00:00"))
    return True


def _logons(
    ctx: Context,
    ident: Identity,
    entry: dict[str, Any] | None,
    infected: list[tuple[str, datetime]],
    add: Any,
) -> None:
    """Logons from the entry session (its public or tunnel address while the entry account
    held it), and logons on the infected hosts from the internet or another infected host:
    the intruder moving with an account."""
    hosts = sorted({h for h, _ in infected})
    e = entry or {}
    entry_ips = sorted({x for x in (e.get("source_ip"), e.get("tunnel_ip")) if x})
    if not hosts and not entry_ips:
        return
    bad_ips = {ip for h in hosts for ip in ident.ips_of(h)}
    reached: dict[str, datetime] = {}
    t = ctx.events
    where = t["source.ip"].isin(entry_ips) if entry_ips else ibis.literal(False)
    if hosts:
        lo = min(t0 for _, t0 in infected) - LOGON_SLACK
        where = where | (t["host.name"].isin(hosts) & (t["@timestamp"] >= lo))
    q = t.filter(
        (t["event.code"] == "4624")
        & t["winlog.logon.type"].isin([3, 10])
        & t["source.ip"].notnull()
        & where
    )
    for r in fetch.rows(ctx, q, limit=5000):
        ip, user, host = r.get("source.ip"), _norm(r.get("user.name")), r.get("host.name")
        if not user or user.endswith("$") or ip in ("127.0.0.1", "::1"):
            continue
        res = ident.at(ip, r["@timestamp"])
        if res.host and res.host == host:
            continue  # the host talking to itself
        from_entry = ip in entry_ips and (not is_internal(ip) or res.user == e.get("user"))
        onto = host in hosts and (ip in bad_ips or not is_internal(ip) or res.host in hosts)
        if from_entry or onto:
            a = Action(
                "logon",
                user,
                None,
                host,
                r["@timestamp"],
                said(f"{user} logged on to {host} from {ip}", "accounts.detail.logon",
                     user=user, host=host, ip=ip),
                r,
            )
            add(user, "logon_on_compromised_host" if onto else "logon_from_entry", a, True)
            if from_entry and host:
                reached[host] = min(reached.get(host, r["@timestamp"]), r["@timestamp"])
    _onward(ctx, ident, reached, set(entry_ips), add)


def _onward(
    ctx: Context, ident: Identity, reached: dict[str, datetime], skip: set[str], add: Any
) -> None:
    """One hop on: logons from a host the entry session reached, after it was reached
    (the intruder moving on from the first server, maybe with another account)."""
    src: dict[str, tuple[str, datetime]] = {}
    for h, since in reached.items():
        for ip in ident.ips_of(h):
            if ip not in skip:
                src[ip] = (h, since)
    if not src:
        return
    t = ctx.events
    q = t.filter(
        (t["event.code"] == "4624")
        & t["winlog.logon.type"].isin([3, 10])
        & t["source.ip"].isin(sorted(src))
        & (t["@timestamp"] >= min(x[1] for x in src.values()))
    )
    for r in fetch.rows(ctx, q, limit=5000):
        ip, user, host = r["source.ip"], _norm(r.get("user.name")), r.get("host.name")
        origin, since = src[ip]
        if not user or user.endswith("$") or host == origin or r["@timestamp"] < since:
            continue
        if ident.host_at(ip, r["@timestamp"]) not in (origin, None):
            continue  # the address belonged to another machine by then
        a = Action(
            "logon",
            user,
            None,
            host,
            r["@timestamp"],
            said(f"{user} logged on to {host} from {origin} ({ip}), a host the intruder "
                 "reached", "accounts.detail.onward", user=user, host=host, origin=origin,
                 ip=ip),
            r,
        )
        add(user, "lateral_movement", a, True)


def _result(
    accts: dict[str, Account], acts: list[Action], entry: dict[str, Any] | None
) -> dict[str, Any]:
    intruder = [x for x in accts.values() if x.by_intruder]
    why: list[str] = []
    grants = [a for a in acts if a.kind == "dcsync_rights"]
    if grants:
        why.append(grants[0].detail)
    if any(a.kind == "dcsync" and a.actor in accts for a in acts):
        why.append(said(
            "directory replication (DCSync) by a non-DC account: every password hash, "
            "krbtgt's included, is in the intruder's hands", "accounts.why.dcsync"))
    for a in acts:
        grp = str(_data(a.row).get("TargetUserName") or "")
        if (
            a.kind == "privileged_group"
            and _DOMAIN.match(grp)
            and accts.get(a.target or "", Account("")).by_intruder
        ):
            why.append(said(f"{a.target} was added to {grp}", "accounts.why.added",
                            target=a.target, group=grp))
    if any(a.kind.startswith("gpo_") for a in acts if a.actor in {x.name for x in intruder}):
        why.append(said("Group Policy was changed by an intruder account", "accounts.why.gpo"))
    mine = {x.name for x in intruder}
    pushes = [
        a
        for a in acts
        if a.kind == "gpo_scheduled_task" and (a.row.get("event.code") == "4698" or a.actor in mine)
    ]
    if pushes:
        why.append(pushes[0].detail)
    out = []
    for acc in sorted(accts.values(), key=lambda x: (not x.by_intruder, x.name)):
        times = sorted(x.time for x in acc.actions)
        out.append(
            {
                "account": acc.name,
                "by_intruder": acc.by_intruder,
                "roles": sorted(acc.roles),
                "hosts": sorted(acc.hosts),
                "first_seen": iso(times[0]) if times else None,
                "last_seen": iso(times[-1]) if times else None,
                "evidence": (entry or {}).get("evidence", [])[:4] * ("entry" in acc.roles)
                + [
                    vars(Evidence.of(x.row, x.detail + " | " + summary(x.row)))
                    for x in sorted(acc.actions, key=lambda x: x.time)[:10]
                ],
            }
        )
    disable = sorted(x.name for x in intruder if "created" in x.roles)
    reset = sorted(x.name for x in intruder if "created" not in x.roles)
    return {
        "accounts": out,
        "actions": [
            {
                "kind": a.kind,
                "actor": a.actor,
                "target": a.target,
                "host": a.host,
                "time": iso(a.time),
                "detail": a.detail,
                "ref": f"{a.row.get('evidence_id')}:{a.row.get('record')}",
            }
            for a in acts[:300]
        ],
        "domain_compromised": bool(why),
        "why_domain_compromised": list(dict.fromkeys(why)),
        "disable": disable,
        "reset": reset,
        "krbtgt_reset": bool(why),
        "hosts_reached": _reached(intruder),
    }


def _reached(intruder: list[Account]) -> list[dict[str, Any]]:
    """Hosts an intruder account logged on to or acted on: first time per host."""
    first: dict[str, Action] = {}
    for acc in intruder:
        for a in acc.actions:
            if (
                a.host
                and a.actor == acc.name
                and (a.host not in first or a.time < first[a.host].time)
            ):
                first[a.host] = a
    return [
        {
            "host": h,
            "account": a.actor,
            "time": iso(a.time),
            "detail": a.detail,
            "ref": f"{a.row.get('evidence_id')}:{a.row.get('record')}",
        }
        for h, a in sorted(first.items(), key=lambda x: x[1].time)
    ]


def next_steps(acc: dict[str, Any]) -> list[str]:
    steps: list[str] = []
    if acc.get("disable"):
        steps.append(said(
            f"Disable the accounts the intruder created ({', '.join(acc['disable'])}) "
            "and remove them from every group; keep them (disabled) as evidence.",
            "steps.disable_accounts", accounts=acc["disable"]))
    if acc.get("reset"):
        steps.append(said(
            f"Reset the passwords of the accounts the intruder used or exposed "
            f"({', '.join(acc['reset'])}), end their sessions (VPN included) and "
            "check their group memberships and MFA enrolment.",
            "steps.reset_intruder_accounts", accounts=acc["reset"]))
    if acc.get("krbtgt_reset"):
        steps.append(said(
            "The domain is compromised ("
            + "; ".join(acc["why_domain_compromised"])
            + "): reset the krbtgt password twice, letting replication finish between "
            "the two resets (at least the ticket lifetime, 10 h by default), then "
            "reset every privileged and service account.", "steps.krbtgt",
            why=[msg_of(w) or w for w in acc["why_domain_compromised"]]))
    return steps
