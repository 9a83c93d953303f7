"""Lateral movement: who moved from which machine to which, as which account, and how.

Direction follows where each event is logged:

- on the **target**: network and RDP logons (4624 type 3/10, the client address and
  WorkstationName), share access (5145: ADMIN$/C$ writes, the svcctl/atsvc pipes and the
  PsExec-style ``<tool>-<SOURCE>-<pid>-stdin`` pipes, which name the source computer),
  services installed (7045/4697), tasks registered (4698/4702, TaskScheduler 106), and
  processes whose parent is WmiPrvSE (WMI), wsmprovhost/winrshost (WinRM) or an
  ``-Embedding`` DCOM server (MMC20, Office ``/automation``); RDP reconnects (4778) and
  RemoteConnectionManager 1149 (the connection passed NLA: not yet a logon);
- on the **source**: 4648 (explicit credentials) naming the target server, with the
  service class (RPCSS, cifs, TERMSRV, HTTP) telling the technique;
- in **network logs**: flows between internal hosts on 3389/5985/5986 (and 135/445
  between clients);
- on a **domain controller**: a Kerberos service ticket (4769) for a computer account,
  requested by a user from an address just before execution on that computer, names the
  source when the target's own logon events are gone (the address becomes a host through
  the identity timeline: the client's own 4768/4769 as ``PC$``).

A logon alone is routine (a workstation reading a file server over 445 is no move). An
edge needs execution on the target (in the same logon session, or within seconds of a
network logon when the process events carry no session) or an unusual pair: an
interactive RDP session, an admin-share write, or a client talking to a client (a
target that only one or two machines ever log on to). A domain controller, or a server
that more than BUSY machines log on to, is never a rare pair: its network logons are not
listed one by one, only those an execution event points at (its LogonId, or a logon just
before a service, task or process on it).
"""

from __future__ import annotations

import functools
import heapq
import re
from collections.abc import Collection, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

import ibis

from ashiato.analysis import fetch
from ashiato.analysis.context import EVENT_COLUMNS, Context, evidence, extra_of
from ashiato.analysis.identity import Identity
from ashiato.analysis.indicators import is_internal
from ashiato.analysis.servers import evidence_names
from ashiato.engines import EVENT_ORDER
from ashiato.exports import iso
from ashiato.findings import LateralEdge
from ashiato.i18n import msg, msg_of, said
from ashiato.normalize import host_key

ATTACK = {
    "psexec": "T1569.002",
    "service": "T1569.002",
    "task": "T1053.005",
    "wmi": "T1047",
    "dcom": "T1021.003",
    "winrm": "T1021.006",
    "rdp": "T1021.001",
    "admin_share": "T1021.002",
    "logon": "T1078",
    "smb": "T1021.002",
    "rpc": "T1021",
    "ssh": "T1021.004",
}
EXECUTING = {"psexec", "service", "task", "wmi", "dcom", "winrm"}
TIE = timedelta(seconds=10)  # a process event without a session ties to a logon this close
SERVICE_TIE = timedelta(minutes=2)
_TIE_MAX = max(TIE, SERVICE_TIE)
_TIED_CODES = {"7045", "4697", "4698", "4702", "106", "200", "1", "4688"}  # _attach, _tie
BUSY = 20  # machines or addresses logging on to a server that everybody uses
LIMIT = 200000
_LOCAL = {None, "", "-", "::1", "127.0.0.1", "0.0.0.0"}  # noqa: S104 (compared, not bound)
_MACHINE = re.compile(r"\$$")
_ADDRESS = re.compile(r"^[\d.a-f][\d.:a-f]*$")  # a target named by its address, to resolve
# PsExec and its clones name their pipes <tool>-<SOURCE COMPUTER>-<pid>-stdin|stdout|stderr
_TOOL_PIPE = re.compile(
    r"(?i)^(?:\\pipe\\)?([a-z0-9_]+)-([a-z0-9._-]+?)-\d+-(stdin|stdout|stderr)$"
)
_EXEC_PIPE = re.compile(r"(?i)(psexesvc|remcom|paexec|csexec|rexesvc)")
_SHELL = re.compile(
    r"(?i)\\(cmd|powershell|pwsh|rundll32|regsvr32|mshta|wscript|cscript|certutil|bitsadmin"
    r"|whoami|net1?|hostname|ipconfig|systeminfo|tasklist|reg|schtasks|sc|vssadmin|wmic)\.exe$"
)
_REMOTE_IMAGE = re.compile(r"(?i)(\\\\[^\\]+\\admin\$|\\\\127\.0\.0\.1\\)")
_WMI = re.compile(r"(?i)\\wmiprvse\.exe$")
_WINRM = re.compile(r"(?i)\\(wsmprovhost|winrshost)\.exe$")
_DCOM_SERVER = re.compile(
    r"(?i)\\(mmc|excel|winword|outlook|powerpnt|visio|explorer)\.exe\"?\s.*(-embedding|/automation)"
)
_SPN = {"rpcss": "wmi", "cifs": "admin_share", "termsrv": "rdp", "http": "winrm", "wsman": "winrm",
        "host": "task"}  # fmt: skip
# (a DC's service tickets, 4769, are read apart: only around executions without a source)
_CODES = ["4624", "4648", "5145", "7045", "4697", "4698", "4702", "106", "200", "4688", "1",
          "4778", "1149"]  # fmt: skip
# a ticket this long before execution on its computer (or this long after: the DC's clock)
TICKET_BEFORE = timedelta(minutes=2)
TICKET_AFTER = timedelta(seconds=10)
_SERVICE_PORTS = {3389: "rdp", 5985: "winrm", 5986: "winrm", 135: "rpc", 445: "smb"}


@dataclass
class Move:
    """One piece of evidence of a move, before edges are formed."""

    target: str
    technique: str
    time: datetime | None
    row: dict[str, Any]
    source_ip: str | None = None
    source_name: str | None = None
    account: str | None = None
    execution: bool = False
    session: tuple[str, str] | None = None
    note: str = ""


@dataclass
class _Session:
    host: str
    logon_id: str
    ip: str | None
    name: str | None
    account: str | None
    logon_type: int | None
    time: datetime | None
    row: dict[str, Any]
    moves: list[Move] = field(default_factory=list)


def analyse(ctx: Context, ident: Identity) -> list[LateralEdge]:
    sources = _logon_sources(ctx)
    busy = _domain_controllers(ctx) | _busy_targets(sources)
    others = _candidates(ctx)
    moves = _moves(list(heapq.merge(_logons(ctx, others, busy), others, key=_event_order)))
    _source_from_tickets(moves, _tickets(ctx, moves))
    moves += _network_moves(ctx)
    moves += _rpc_moves(ctx)
    moves += _server_moves(ctx)
    return _edges(moves, ident, busy, _station_names(sources, busy))


def _domain_controllers(ctx: Context) -> set[str]:
    """Hosts that issue Kerberos tickets (4768/4769): everyone logs on to them."""
    t = ctx.events
    q = t.filter(t["event.code"].isin(["4768", "4769"]) & t["host.name"].notnull())
    return {r["host.name"] for r in ctx.rows(q.select("host.name").distinct())}


def _network_logons(ctx: Context) -> Any:
    t = ctx.events
    return t.filter(
        t["event.dataset"].startswith("windows.")
        & (t["event.code"] == "4624")
        & t["winlog.logon.type"].isin([3, 10])
        & t["host.name"].notnull()
    )


def _station(t: Any) -> Any:
    """A 4624's WorkstationName, read from extra (it is the only field of it needed)."""
    return t["extra"].re_extract(r'"(?:workstation|WorkstationName)":"([^"]*)"', 1)


def _logon_sources(ctx: Context) -> list[dict[str, Any]]:
    """The network logons per target, logon type, address and WorkstationName, with the
    last one's time: who logs on where, in one pass over the logons' ``extra``."""
    q = _network_logons(ctx)
    q = q.mutate(_ws=_station(q))
    keys = ["host.name", "winlog.logon.type", "source.ip", "_ws"]
    return ctx.rows(q.group_by(keys).aggregate(last=q["@timestamp"].max()))


def _busy_targets(sources: list[dict[str, Any]]) -> set[str]:
    """Servers that take network logons from more than BUSY machines or addresses (file
    servers, like domain controllers): a logon to them is how everybody works."""
    seen: dict[str, set[str]] = {}
    for r in sources:
        who = r["_ws"] or r["source.ip"]  # the WorkstationName, else the address
        if r["winlog.logon.type"] == 3 and who is not None:
            seen.setdefault(r["host.name"], set()).add(who)
    return {host for host, who in seen.items() if len(who) > BUSY}


def _logons(ctx: Context, others: list[dict[str, Any]], busy: set[str]) -> list[dict[str, Any]]:
    """The network logons that can be part of a move, in event order: every one on a
    machine few others log on to, RDP logons, and on busy servers those whose session
    (LogonId) an execution event names or that came just before one (the session a
    service, task or process ties to). A busy server's hundreds of thousands of other
    logons are users at work: never listed, never a rare pair."""
    q = _network_logons(ctx)
    keep = ~q["host.name"].isin(sorted(busy)) | (q["winlog.logon.type"] == 10)
    sessions = {
        (r["host.name"], _logon_id(r))
        for r in others
        if r.get("host.name") in busy
    }
    tied = [
        r for r in others if r.get("host.name") in busy and r.get("@timestamp") is not None
        and str(r.get("event.code")) in _TIED_CODES
    ]  # fmt: skip
    cols = [c for c in _LOGON_COLUMNS if c in q.columns]
    wanted = q.mutate(_lid=q["winlog.logon.id"].cast("string").fill_null("None"))
    parts = [wanted.filter(keep)]
    if sessions:
        by_id = ibis.memtable(
            {"_h": [h for h, _ in sessions], "_l": [lid for _, lid in sessions]}
        )
        parts.append(
            wanted.semi_join(
                by_id, [wanted["host.name"] == by_id["_h"], wanted["_lid"] == by_id["_l"]]
            )
        )
    if tied:
        win = ibis.memtable(
            {
                "_h": [r["host.name"] for r in tied],
                "_lo": [r["@timestamp"] - _TIE_MAX for r in tied],
                "_hi": [r["@timestamp"] for r in tied],
            }
        )
        ts = wanted["@timestamp"]
        parts.append(
            wanted.semi_join(
                win, [wanted["host.name"] == win["_h"], ts >= win["_lo"], ts <= win["_hi"]]
            )
        )
    # of extra only the WorkstationName; the message feeds summaries, which keep 200 chars
    parts = [
        p.select(*cols, extra=_station(p).fill_null(""), message=p["message"].substr(0, 200))
        for p in parts
    ]
    rows = ibis.union(*parts, distinct=True) if len(parts) > 1 else parts[0]
    return ctx.rows(rows.order_by(EVENT_ORDER), limit=LIMIT)


def _logon_id(row: dict[str, Any]) -> str:
    """The LogonId sessions are keyed by (a row without one gives "None", on both sides)."""
    return str(row.get("winlog.logon.id"))


def _station_names(sources: list[dict[str, Any]], busy: set[str]) -> dict[str, str]:
    """The computer name each address last gave in a busy server's logons (WorkstationName):
    those logons are not listed, but they still name addresses other moves come from."""
    last: dict[str, tuple[datetime, str]] = {}
    for r in sources:
        ip, ws, when = r["source.ip"], r["_ws"], r["last"]
        if r["host.name"] in busy and ip is not None and ws and when is not None:
            if ip not in last or when > last[ip][0]:
                last[ip] = (when, ws)
    out: dict[str, str] = {}
    for ip_text, (_, ws) in last.items():
        ip, name = _ip(ip_text), _name(ws)
        if ip and name:
            out[ip] = name
    return out


_COLUMNS = (
    "@timestamp", "event.dataset", "event.code", "event.action", "event.outcome", "host.name",
    "user.name", "user.domain", "source.ip", "source.port", "destination.ip",
    "destination.port", "destination.domain", "file.path", "file.name", "file.share",
    "file.access_mask", "process.executable", "process.command_line", "process.name",
    "process.parent.executable", "process.pid", "process.parent.pid", "observer.name",
    "rule.name", "winlog.logon.id", "winlog.logon.type", "evidence_id", "record",
)  # fmt: skip
# a network logon's session and its evidence summary (context.summary) read no more
_LOGON_COLUMNS = (
    "@timestamp", "event.dataset", "event.code", "event.action", "event.outcome", "host.name",
    "user.name", "source.ip", "destination.ip", "destination.port", "process.command_line",
    "file.path", "rule.name", "winlog.logon.id", "winlog.logon.type", "evidence_id", "record",
)  # fmt: skip


def _candidates(ctx: Context) -> list[dict[str, Any]]:
    """The events other than logons that can be part of a move: on a busy file server
    nearly all 5145 are users opening documents (network logons: :func:`_logons`)."""
    t = ctx.events
    code = t["event.code"]
    q = t.filter(t["event.dataset"].startswith("windows.") & code.isin(_CODES))
    share = t["file.share"].upper().fill_null("")
    pipe = t["file.name"].lower().fill_null("")
    admin = share.endswith("ADMIN$") | share.re_search(r"\\[A-Z]\$$")
    ipc = share.endswith("IPC$") & (
        pipe.isin(["svcctl", "atsvc", "\\pipe\\svcctl", "\\pipe\\atsvc"])
        | pipe.re_search(_TOOL_PIPE.pattern.removeprefix("(?i)"))
        | pipe.re_search(_EXEC_PIPE.pattern.removeprefix("(?i)"))
    )
    q = q.filter((code != "5145") | admin | ipc)
    # the message only feeds evidence summaries, which keep 200 characters of it; the
    # rows are read by reference: the filter looks at every 5145 of a busy file server
    others = q.filter(code != "4624").mutate(message=t["message"].substr(0, 200))
    cols = [*(c for c in _COLUMNS if c in t.columns), "extra", "message"]
    return fetch.rows(ctx, others, cols, limit=LIMIT)


def _event_order(row: dict[str, Any]) -> tuple[Any, ...]:
    """EVENT_ORDER in Python, nulls last as the engines sort them, to merge sorted parts."""
    when = row.get("@timestamp")
    return (when is None, when or 0, row.get("evidence_id") or "", row.get("record") or 0)


def _data(row: dict[str, Any]) -> dict[str, Any]:
    raw = row.get("extra")
    if not raw:
        return {}
    if str(row.get("event.code")) == "4624":  # only the WorkstationName was selected
        return {"WorkstationName": raw}
    extra = extra_of(row)
    win = extra.get("winlog") or {}
    data = {**(win.get("user_data") or {}), **(win.get("event_data") or {})}
    if extra.get("workstation"):
        data.setdefault("WorkstationName", extra["workstation"])
    return data


@functools.lru_cache(maxsize=65536)  # a few hundred accounts and names over 100k+ logons
def _user(name: Any) -> str | None:
    n = str(name or "").strip()
    if n.lower() in ("", "-", "system", "anonymous logon") or _MACHINE.search(n):
        return None
    return n.split("\\")[-1].lower()


@functools.lru_cache(maxsize=65536)
def _name(v: Any) -> str | None:
    n = host_key(str(v or "").strip() or None)
    return None if n in (None, "-", "localhost", "unknown") else n


def _ip(v: Any) -> str | None:
    s = str(v or "").strip()
    if s in _LOCAL or s.startswith("fe80:") or s.startswith("127."):
        return None
    return s


def _moves(rows: list[dict[str, Any]]) -> list[Move]:
    sessions: dict[tuple[str, str], _Session] = {}
    network: dict[str, list[_Session]] = {}  # host -> remote network logons in time order
    procs: dict[tuple[str, int], dict[str, Any]] = {}  # (host, pid) -> creating event
    moves: list[Move] = []
    for r in rows:
        host = r.get("host.name")
        if not host:
            continue
        code = str(r.get("event.code"))
        data = (
            _data(r) if code not in ("1", "4688") or not r.get("process.parent.executable") else {}
        )
        when = r.get("@timestamp")
        if code == "4624":
            ip = _ip(r.get("source.ip"))
            ltype = r.get("winlog.logon.type")
            name = _name(data.get("WorkstationName"))
            if ltype not in (3, 10) or (ip is None and not name) or name == host:
                continue
            s = _Session(
                host,
                _logon_id(r),
                ip,
                name,
                _user(r.get("user.name")),
                ltype,
                when,
                r,
            )
            sessions[(host, s.logon_id)] = s
            network.setdefault(host, []).append(s)
            tech = "rdp" if ltype == 10 else "logon"
            moves.append(
                Move(host, tech, when, r, ip, name, s.account, ltype == 10, (host, s.logon_id))
            )
        elif code == "4648":
            target = host_key(r.get("destination.domain") or data.get("TargetServerName"))
            if not target or target in (host, "localhost") or target.startswith("127."):
                continue
            spn = str(data.get("TargetInfo") or "").split("/")[0].lower()
            moves.append(
                Move(
                    target,
                    _SPN.get(spn, "logon"),
                    when,
                    r,
                    None,
                    host,
                    _user(data.get("TargetUserName")),
                    note=said("explicit credentials", "lateral.note.explicit"),
                )
            )
        elif code == "5145":
            m = _share_move(host, r)
            if m is not None:
                moves.append(m)
        elif code in ("7045", "4697"):
            image = str(data.get("ImagePath") or data.get("ServiceFileName") or "")
            name = str(data.get("ServiceName") or "")
            tech = "psexec" if _EXEC_PIPE.search(image + " " + name) else "service"
            m = Move(host, tech, when, r, execution=True, note=said(f"service {name} → {image}",
                                                                 "lateral.note.service",
                                                                 name=name, image=image))
            _tie(m, network.get(host, []), SERVICE_TIE)
            # a service installed locally (software, drivers) is no move; the rules judge it
            if m.session or tech == "psexec" or _REMOTE_IMAGE.search(image):
                moves.append(m)
        elif code in ("4698", "4702", "106", "200"):
            if code == "200" and not r.get("winlog.logon.id"):
                continue
            m = Move(
                host,
                "task",
                when,
                r,
                execution=True,
                note=said(f"task {data.get('TaskName') or ''}".strip(), "lateral.note.task",
                          name=data.get("TaskName") or ""),
            )
            _attach(m, sessions, network.get(host, []), r)
            if m.session or m.source_ip or m.source_name:
                moves.append(m)
        elif code in ("1", "4688"):
            pid = r.get("process.pid")
            if pid is not None:
                procs[(host, int(pid))] = r
            m = _process_move(host, r, procs)
            if m is not None:
                _attach(m, sessions, network.get(host, []), r)
                if (
                    m.session
                    or m.source_ip
                    or m.source_name
                    or _SHELL.search(str(r.get("process.executable") or ""))
                ):
                    moves.append(m)
        elif code == "4778":
            ip = _ip(data.get("ClientAddress"))
            name = _name(data.get("ClientName"))
            if ip or name:
                moves.append(
                    Move(
                        host,
                        "rdp",
                        when,
                        r,
                        ip,
                        name,
                        _user(data.get("AccountName")),
                        True,
                        note=said("RDP session reconnected", "lateral.note.rdp_reconnected"),
                    )
                )
        elif code == "1149":
            ip = _ip(data.get("Param3"))
            if ip:
                moves.append(
                    Move(
                        host,
                        "rdp",
                        when,
                        r,
                        ip,
                        None,
                        _user(data.get("Param1")),
                        note=said("RDP connection passed NLA (not yet a logon)",
                                  "lateral.note.nla"),
                    )
                )
    for m in moves:  # execution in a session makes its logon a move with execution
        if m.execution and m.session and m.session in sessions:
            sessions[m.session].moves.append(m)
    for m in moves:
        if m.technique in ("logon", "rdp") and m.session in sessions:
            s = sessions[m.session]
            if any(x is not m for x in s.moves):
                m.execution = True
    return moves


def _unsourced(m: Move) -> bool:
    """Execution with no logon behind it: a DC's service ticket may name the visitor."""
    return m.execution and not (m.source_ip or m.source_name or m.session)


def _tickets(ctx: Context, moves: list[Move]) -> dict[str, list[_Session]]:
    """computer -> the service tickets a DC issued for its computer account (HOST/CIFS/
    RPCSS of PC$) to a user, around the executions that need one (a DC issues tens of
    thousands a day: reading them all cost more than the rest of lateral movement)."""
    times = sorted({m.time for m in moves if m.time is not None and _unsourced(m)})
    if not times:
        return {}
    t = ctx.events
    q = t.filter(
        t["event.dataset"].startswith("windows.")
        & (t["event.code"] == "4769")
        & t["source.ip"].notnull()
        & ibis.coalesce(t["event.outcome"] != "failure", True)
        & t["extra"].re_search(r'"ServiceName":"[^"$]+\$"')
    )
    near = ibis.memtable(
        {"_lo": [w - TICKET_BEFORE for w in times], "_hi": [w + TICKET_AFTER for w in times]}
    )
    ts = q["@timestamp"]
    q = q.semi_join(near, [ts >= near["_lo"], ts <= near["_hi"]])
    tickets: dict[str, list[_Session]] = {}
    for r in fetch.rows(ctx, q, [c for c in (*_LOGON_COLUMNS, "extra") if c in q.columns]):
        host = r.get("host.name")
        target = _name(str(_data(r).get("ServiceName") or "").removesuffix("$"))
        ip = _ip(r.get("source.ip"))
        account = _user(r.get("user.name"))
        # a computer's own tickets are how it works; a user's ticket is a visit
        if host and target and ip and account and target != host:
            tickets.setdefault(target, []).append(
                _Session(target, "", ip, None, account, None, r.get("@timestamp"), r)
            )
    return tickets


def _source_from_tickets(moves: list[Move], tickets: dict[str, list[_Session]]) -> None:
    for m in moves:
        if _unsourced(m):
            _ticket(m, tickets.get(m.target, []))


def _ticket(m: Move, tickets: list[_Session]) -> None:
    """The service ticket (4769 on a DC) for the target's computer account requested just
    before the execution; of several, the account's own, then the latest."""
    if m.time is None:
        return
    near = [
        s for s in tickets
        if s.time and -TICKET_AFTER <= m.time - s.time <= TICKET_BEFORE
    ]  # fmt: skip
    if not near:
        return
    own = [s for s in near if m.account and s.account == m.account]
    s = max(own or near, key=lambda s: _epoch(s.time))
    m.source_ip, m.account = s.ip, m.account or s.account
    dc = s.row.get("host.name")
    m.note = f"{m.note}; source from the Kerberos ticket {dc} issued for it".lstrip("; ")


def _epoch(t: datetime | None) -> float:
    return t.timestamp() if t else 0.0


def _share_move(host: str, r: dict[str, Any]) -> Move | None:
    share = str(r.get("file.share") or "").upper()
    name = str(r.get("file.name") or r.get("file.path") or "")
    ip = _ip(r.get("source.ip"))
    account = _user(r.get("user.name"))
    if ip is None:
        return None
    session = (host, _logon_id(r))
    when = r.get("@timestamp")
    if share.endswith("IPC$"):
        pipe = name.lower().removeprefix("\\pipe\\")
        tool = _TOOL_PIPE.match(pipe)
        if tool or _EXEC_PIPE.search(pipe):
            src = host_key(tool.group(2)) if tool else None
            return Move(host, "psexec", when, r, ip, src, account, True, session, f"pipe {name}")
        if pipe == "svcctl":
            return Move(host, "service", when, r, ip, None, account, True, session, "pipe svcctl")
        if pipe == "atsvc":
            return Move(host, "task", when, r, ip, None, account, True, session, "pipe atsvc")
        return None
    if share.endswith("ADMIN$") or re.search(r"\\[A-Z]\$$", share):
        mask = int(r.get("file.access_mask") or 0)
        if mask & 0x6:  # write or append data: a file put on the admin share
            return Move(
                host,
                "admin_share",
                when,
                r,
                ip,
                None,
                account,
                False,
                session,
                said(f"write to {share}\\{name}".rstrip("\\"), "lateral.note.write",
                     path=f"{share}\\{name}".rstrip("\\")),
            )
    return None


def _parent(host: str, r: dict[str, Any], procs: dict[tuple[str, int], dict[str, Any]]) -> str:
    parent = r.get("process.parent.executable")
    if parent:
        return str(parent)
    ppid = r.get("process.parent.pid")
    p = procs.get((host, int(ppid))) if ppid is not None else None
    return str(p.get("process.executable") or "") if p else ""


def _process_move(
    host: str, r: dict[str, Any], procs: dict[tuple[str, int], dict[str, Any]]
) -> Move | None:
    parent = _parent(host, r, procs)
    exe = str(r.get("process.executable") or "")
    cmd = str(r.get("process.command_line") or "")
    when = r.get("@timestamp")
    account = _user(r.get("user.name"))
    if _WMI.search(parent) and not _WMI.search(exe):
        return Move(
            host,
            "wmi",
            when,
            r,
            account=account,
            execution=True,
            note=said(f"WmiPrvSE started {cmd or exe}", "lateral.note.started",
                      parent="WmiPrvSE", what=cmd or exe),
        )
    if _WINRM.search(parent):
        return Move(
            host,
            "winrm",
            when,
            r,
            account=account,
            execution=True,
            note=said(f"{parent.rsplit(chr(92), 1)[-1]} started {cmd or exe}",
                      "lateral.note.started", parent=parent.rsplit(chr(92), 1)[-1],
                      what=cmd or exe),
        )
    # the DCOM server itself (mmc.exe -Embedding, excel.exe /automation -Embedding), or a
    # shell it started when only the child was logged with its parent's name
    mmc_child = re.search(r"(?i)\\mmc\.exe$", parent) is not None and bool(_SHELL.search(exe))
    if _DCOM_SERVER.search(f"{exe} {cmd}") or mmc_child:
        return Move(
            host, "dcom", when, r, account=account, execution=True,
            note=said(f"DCOM server {cmd or exe}", "lateral.note.dcom", what=cmd or exe),
        )
    return None


def _attach(
    m: Move, sessions: dict[tuple[str, str], _Session], recent: list[_Session], r: dict[str, Any]
) -> None:
    """The network logon behind an execution: its session if logged, else one just before."""
    s = sessions.get((m.target, _logon_id(r)))
    if s is not None:
        _take(m, s)
        return
    _tie(m, recent, TIE)


def _tie(m: Move, recent: list[_Session], window: timedelta) -> None:
    if m.time is None:
        return
    near = [s for s in recent if s.time and timedelta(0) <= m.time - s.time <= window]
    if near:
        _take(m, near[-1])


def _take(m: Move, s: _Session) -> None:
    m.session = (s.host, s.logon_id)
    m.source_ip = m.source_ip or s.ip
    m.source_name = m.source_name or s.name
    m.account = m.account or s.account


# DCE/RPC operations (Zeek dce_rpc) that make the server run something
_RPC_EXEC = {
    "createservicew": "service", "createservicea": "service", "startservicew": "service",
    "schrpcregistertask": "task", "schrpcrun": "task", "netrjobadd": "task",
    "execmethod": "wmi", "remotecreateinstance": "dcom",
}  # fmt: skip


def _rpc_moves(ctx: Context) -> list[Move]:
    """Zeek dce_rpc: a service created or a task registered over the wire is execution."""
    t = ctx.events
    q = t.filter((t["event.dataset"] == "zeek.dce_rpc") & t["event.action"].isin(list(_RPC_EXEC)))
    agg = q.group_by(["source.ip", "destination.ip", "event.action"]).aggregate(
        n=q.count(), first=q["@timestamp"].min(),
        ev=q["evidence_id"].min(), rec=q["record"].min(),
    )  # fmt: skip
    out = []
    for r in ctx.rows(agg, limit=LIMIT):
        src, dst, op = r["source.ip"], r["destination.ip"], r["event.action"]
        if not src or not dst or src == dst:
            continue
        row = {"@timestamp": r["first"], "event.dataset": "zeek.dce_rpc", "source.ip": src,
               "destination.ip": dst, "event.action": op, "evidence_id": r["ev"],
               "record": r["rec"]}  # fmt: skip
        tech = _RPC_EXEC[op]
        out.append(Move(str(dst), tech, r["first"], row, str(src), execution=tech != "dcom",
                        note=said(f"{r['n']}× {op} over DCE/RPC", "lateral.note.rpc",
                                  n=r["n"], op=op)))  # fmt: skip
    return out


def _server_moves(ctx: Context) -> list[Move]:
    """Sign-ins to a hypervisor or NAS from an inside address (ESXi sshd/hostd, NAS
    connection logs): the way to the datastores, which no Windows log shows."""
    t = ctx.events
    q = t.filter(
        t["observer.type"].isin(["hypervisor", "nas"])
        & (t["event.action"] == "login")
        & ibis.coalesce(t["event.outcome"] != "failure", True)
        & t["source.ip"].notnull()
    )
    cols = [c for c in EVENT_COLUMNS if c in t.columns]
    rows = ctx.rows(q.select(*cols).order_by(EVENT_ORDER), limit=LIMIT)
    names = evidence_names(ctx, {r["evidence_id"] for r in rows if not r.get("host.name")})
    out = []
    for r in rows:
        host = r.get("host.name") or r.get("observer.name") or names.get(r["evidence_id"])
        ip = _ip(r.get("source.ip"))
        if not host or not ip or not is_internal(ip):
            continue
        text = f"{r.get('event.provider') or ''} {r.get('message') or ''}"
        tech = "ssh" if re.search(r"(?i)\bssh", text) else "logon"
        note = said(f"{r.get('event.dataset')} sign-in", "lateral.note.sign_in",
                    dataset=r.get("event.dataset"))
        target = host_key(str(host)) or str(host)
        user = _user(r.get("user.name"))
        out.append(Move(target, tech, r["@timestamp"], r, ip, account=user, note=note))
    return out


def _network_moves(ctx: Context) -> list[Move]:
    """Flows between internal hosts on remote-administration ports (firewall, Zeek)."""
    t = ctx.events
    if "destination.port" not in t.columns:
        return []
    q = t.filter(
        t["observer.type"].isin(["firewall", "ids", "network"])
        | t["event.dataset"].isin(["zeek.conn", "zeek.rdp", "zeek.smb_mapping"])
    )
    q = q.filter(t["destination.port"].isin(list(_SERVICE_PORTS)) & t["source.ip"].notnull())
    agg = q.group_by(["source.ip", "destination.ip", "destination.port"]).aggregate(
        n=q.count(),
        first=q["@timestamp"].min(),
        last=q["@timestamp"].max(),
        ev=q["evidence_id"].min(),
        rec=q["record"].min(),
    )
    out = []
    for r in ctx.rows(agg, limit=LIMIT):
        src, dst = r["source.ip"], r["destination.ip"]
        if not (is_internal(src) and is_internal(dst)) or src == dst:
            continue
        row = {"@timestamp": r["first"], "event.dataset": "flows", "source.ip": src,
               "destination.ip": dst, "destination.port": r["destination.port"],
               "evidence_id": r["ev"], "record": r["rec"]}  # fmt: skip
        tech = _SERVICE_PORTS[int(r["destination.port"])]
        out.append(
            Move(
                str(dst),
                tech,
                r["first"],
                row,
                str(src),
                note=said(f"{r['n']} flows to port {r['destination.port']}", "lateral.note.flows",
                          n=r["n"], port=r["destination.port"]),
            )
        )
    return out


def _edges(
    moves: list[Move],
    ident: Identity,
    busy: Collection[str] = (),
    stations: Mapping[str, str] | None = None,
) -> list[LateralEdge]:
    # resolve names: the address at the time, else the name the event gave
    by_ip = [m for m in moves if m.target and _ADDRESS.match(m.target)]
    for m, host in zip(by_ip, ident.hosts_at([(m.target, m.time) for m in by_ip]), strict=True):
        m.target = host or m.target
    sourced = [m for m in moves if m.source_ip]
    asks = [(m.source_ip, m.time) for m in sourced]
    for m, name in zip(sourced, ident.hosts_at(asks), strict=True):
        # an inbound connection seen on the target can make the identity timeline
        # give the client's address to the target: never resolve a move onto itself
        if name and name != m.target:
            m.source_name = name
    named = {**(stations or {})}  # the unlisted logons' names give way to the moves' own
    named.update({m.source_ip: m.source_name for m in moves if m.source_ip and m.source_name})
    for m in moves:  # a pipe or WorkstationName names the computer behind an address
        if m.source_ip and not m.source_name:
            m.source_name = named.get(m.source_ip)
    inbound: dict[str, set[str]] = {}
    for m in moves:
        src = m.source_name or m.source_ip
        if src and not m.execution:
            inbound.setdefault(m.target, set()).add(src)
    groups: dict[tuple[str, str, str | None, str], list[Move]] = {}
    for m in moves:
        src = m.source_name or m.source_ip or "unknown source"
        if src == m.target:
            continue
        groups.setdefault((src, m.target, m.account, m.technique), []).append(m)
    other_pairs = {(s, t) for (s, t, _a, tech) in groups if tech != "logon"}
    edges: list[LateralEdge] = []
    for (src, target, account, tech), ms in groups.items():
        execution = any(m.execution for m in ms)
        if tech == "logon" and (src, target) in other_pairs:
            continue  # the logon behind a service/WMI/task edge: shown by that edge
        # a logon to a domain controller or a busy server is how every machine works
        seen_from = inbound.get(target, set()) if target not in busy else {"*", "**", "***"}
        why = _why(tech, execution, ms, seen_from, src)
        if why is None:
            continue
        times = [m.time for m in ms if m.time]
        rows = [m.row for m in ms]
        edges.append(
            LateralEdge(
                source=src,
                source_ip=next((m.source_ip for m in ms if m.source_ip), None),
                target=target,
                account=account,
                technique=tech,
                attack=ATTACK.get(tech, "T1021"),
                first=iso(min(times)) if times else None,
                last=iso(max(times)) if times else None,
                count=len(ms),
                execution=execution,
                why=why,
                evidence=evidence(rows[:4] + rows[-1:] if len(rows) > 5 else rows, limit=5),
            )
        )
    edges.sort(key=lambda e: (e.first or "", e.source, e.target))
    return edges


_LABEL = {
    "psexec": "PsExec-style remote service", "service": "a service installed remotely",
    "task": "a scheduled task registered remotely", "wmi": "WMI remote execution",
    "dcom": "DCOM remote execution", "winrm": "PowerShell remoting (WinRM)",
    "rdp": "an RDP session", "admin_share": "writes to an administrative share",
    "logon": "a network logon", "smb": "SMB traffic", "rpc": "RPC traffic",
    "ssh": "an SSH session",
}  # fmt: skip
_PAIR_ONLY = ("logon", "wmi", "winrm", "smb", "rpc")


def _why(tech: str, execution: bool, ms: list[Move], inbound: set[str], src: str) -> str | None:
    """Why this pair is a move, as a sentence; None when it is routine traffic."""
    label = _LABEL.get(tech, tech)
    distinct = list(dict.fromkeys(m.note for m in ms if m.note))
    notes = "; ".join(distinct)[:300]
    tail = f" ({notes})" if notes else ""
    outside = any(m.source_ip and not is_internal(m.source_ip) for m in ms)
    where = " from outside the network: the account is the entry point" if outside else ""
    args = {
        "label": msg(f"lateral.label.{tech}") if tech in _LABEL else tech,
        "where": msg("lateral.outside") if outside else "",
        "notes": msg("lateral.notes", notes=[msg_of(n) or n for n in distinct]) if notes else "",
    }
    if execution and tech in EXECUTING:
        return said(f"{label} ran code on the target{where}{tail}", "lateral.why.ran", **args)
    if tech == "rdp":
        if execution:
            return said(f"{label} was opened on the target{where}{tail}", "lateral.why.opened",
                        **args)  # fmt: skip
        return said(f"an RDP connection reached the target{where}{tail}",
                    "lateral.why.rdp_reached", **args)  # fmt: skip
    if execution:
        return said(f"{label} was followed by execution in the same session{where}{tail}",
                    "lateral.why.followed", **args)  # fmt: skip
    if tech == "ssh":  # a shell on a server: rare enough to show every time
        return said(f"{label} was opened on the target{where}{tail}", "lateral.why.opened",
                    **args)  # fmt: skip
    if tech == "admin_share":
        return said(f"{label}: a file was placed on the target's system share{where}{tail}",
                    "lateral.why.admin_share", **args)  # fmt: skip
    if tech in ("wmi", "winrm") and any(m.row.get("event.code") == "4648" for m in ms):
        return said(f"{label} was requested with explicit credentials from the source{tail}",
                    "lateral.why.explicit", **args)  # fmt: skip
    if len(inbound) <= 2 and src != "unknown source" and tech in _PAIR_ONLY:
        return said(f"{label} between machines that rarely talk (first-seen pair){where}{tail}",
                    "lateral.why.rare", **args)  # fmt: skip
    return None
