"""VMware ESXi host logs: hostd, vpxa, shell, auth, vobd, vmkernel and syslog.log.

One line is ``<time> [severity] [program[pid]:] message``; the shapes differ by version:

- 6.x/7.x: ``2023-02-03T10:12:13.123Z info hostd[2099369] [Originator@6876 sub=...
  opID=... user=root] Task Created : ...``; ``...Z shell[1234]: [root]: esxcli ...``;
  ``...Z sshd[1]: Accepted ...``; vmkernel ``...Z cpu3:2099369)...``; vobd ``...Z:
  [UserLevelCorrelator] ...``.
- 8.x: a two-letter severity with its PRI (``In(166)``, ``Wa(164)``, ``Er(163)``...) and
  a capitalised program with a colon: ``...Z In(166) Hostd[2098450]: [Originator@6876
  ...] ...``, ``...Z In(182) vmkernel: cpu0:2098001)...``; the later lines of one
  multi-line message carry the documented LINE-MARKER ``+`` (``In(166)+ Hostd[...]: -->
  ...``): kept, extra ``continuation`` true.
- a copy received by a syslog server may carry ``<PRI>`` and the host name after the time
  (``<166>2023-...Z esx01.example Hostd: info hostd[...] ...``), or the collector's own
  RFC 3164 / 5424 header (``Feb  3 19:12:13 esx01 Hostd: info hostd[...] ...``, read by
  the shared syslog peeler: no year, so the source's year hint; no zone, so the source's
  zone): host -> host.name and observer.name, the header's program when the message
  has none.

The local files name no host; when they come from an unpacked vm-support bundle
(``esx-<host>-<date>--<time>-<pid>/var/run/log/hostd.log``) the folder's host is
host.name for every line that names none.

Times end in ``Z`` (UTC); a time without offset is read in the source's zone. Lines
without a time of their own (``-->`` continuations of a multi-line hostd record, junk)
are rejected with the reason.

Every row: observer.type ``hypervisor``, observer.vendor ``vmware``, event.dataset
``esxi.<log>`` from the program (hostd, vpxa, shell, auth for sshd, vobd, vmkernel,
syslog for the rest; sftp-server and DCUI write to syslog.log), event.provider the
program (ESXShell's switches go to esxi.shell), event.severity from the 8.x PRI, the 7.x
level word, or the ``<PRI>`` a collector kept. Messages read into the
shared hypervisor actions:

- ``ssh-enabled``: vobd/hostd ``SSH access has been enabled`` (``esx.audit.ssh.enabled``),
  shell.log ``SSH: SSH login enabled``; ``shell-enabled``: ``The ESX(i) command line shell
  has been enabled`` (``esx.audit.shell.enabled``), ``ESXi Shell ... enabled``.
- ``shell-command``: shell.log ``[user]: command`` -> user.name, process.command_line,
  process.name (the first word).
- ``login`` (outcome): sshd ``Accepted|Failed <method> for [invalid user] U from IP port
  P`` and ``PAM: Authentication failure for U from IP``; hostd ``User U@IP logged in``,
  ``Accepted|Rejected password for user U from IP``, ``SSH login has failed for 'U@IP'``;
  vobd ``SSH session was opened for 'U@IP'``; DCUI ``User U logged in``.
- ``vm-power-off`` / ``vm-power-on``: hostd ``Task Created : haTask-<vmid>-vim.
  VirtualMachine.powerOff|shutdownGuest|powerOn-...`` (the task's ``user=`` -> user.name,
  vm id in extra ``vm_id``) and ``State Transition (VM_STATE_ON -> VM_STATE_POWERING_OFF)``
  or, for a VM killed (``esxcli vm process kill``), ``ON -> OFF`` (the
  ``sub=Vmsvc.vm:<path>.vmx`` -> file.path).
- ``file-delete``: hostd ``Deletion of file or directory [ds] path ... initiated from
  'agent@IP'``, sftp-server ``remove name "path"``; ``file-rename``: sftp-server ``rename
  old "a" new "b"`` (file.path = the new name, extra ``file.old_path``); ``file-write``:
  sftp-server ``close "path" bytes read R written W`` with W > 0 (extra
  ``bytes_read``/``bytes_written``) and hostd ``File upload to path``; ``file-read``:
  hostd ``File download from path`` (a datastore file taken away; source.ip, agent);
  sftp-server ``session opened for local user U from [IP]`` is a ``login``.
- ``user-created``: hostd ``Account U was created``; ``password-changed``: ``Login
  password for user U has been changed`` / ``Password was changed for account U``
  (the account in extra ``target_user``; user.name stays who did it).

The hostd metadata (``sub``, ``opID``) goes to extra; its ``user=`` is user.name.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from datetime import datetime
from pathlib import Path
from typing import Any

import pyarrow as pa

from ashiato.formats import vector as vx
from ashiato.formats.base import Format, Rows, Sample, Source
from ashiato.formats.syslog import RFC3164, RFC5424, YearState, peel

Row = dict[str, Any]

_TIME = r"(?P<ts>\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(?:\.\d+)?(?:Z|[+-]\d\d:?\d\d)?)"
_PROG = r"(?P<prog>[A-Za-z][\w.-]*)(?:\[(?P<pid>\w+)\]:?|:)"
LINE = re.compile(
    r"^(?:<(?P<envpri>\d{1,3})>)?" + _TIME + r":? +"
    r"(?:(?P<host>[\w.-]+) (?=[A-Za-z][\w.-]*(?:\[\w+\])?: ))?"
    r"(?:(?P<sev>Em|Al|Cr|Er|Wa|No|In|Db)\((?P<pri>\d+)\)(?P<more>\+)? +"
    r"|(?P<level>info|verbose|warning|error|critical|debug|trivia|panic) +)?"
    r"(?:" + _PROG + r" +)?(?P<msg>.*)$"
)
# the message after a collector's RFC 3164/5424 header (which the shared peeler reads)
BODY = re.compile(
    r"^(?:(?P<sev>Em|Al|Cr|Er|Wa|No|In|Db)\((?P<pri>\d+)\)(?P<more>\+)? +"
    r"|(?P<level>info|verbose|warning|error|critical|debug|trivia|panic) +)?"
    r"(?:" + _PROG + r" +)?(?P<msg>.*)$"
)
_ENVELOPE = re.compile(RFC5424 + "|" + RFC3164.replace("(?P<", "(?P<b_"))
# a syslog server's copy repeats the 7.x level and program after its own header
_INNER = re.compile(
    r"^(?P<level>info|verbose|warning|error|critical|debug|trivia|panic) "
    r"(?P<prog>[A-Za-z][\w.-]*)\[(?P<pid>\w+)\] (?P<msg>.*)$"
)
_VMKERNEL = re.compile(r"^cpu\d+:\d+\)")
_META = re.compile(r"^\[(?P<meta>(?:Originator@\d+|[0-9A-Fa-f]{8} \w+ '[^']*')[^\]]*)\] ?")
_SD = re.compile(r"\[Originator@\d+(?: [^\]]*)?\]")
_META_KV = re.compile(r"(?P<k>sub|opID|user)=(?P<v>\S+)")

# programs only ESXi has (a syslog server's copy is recognised by them), and the
# common ones its local files also hold
_ESXI_ONLY = frozenset({
    "hostd", "vpxa", "vobd", "vmkernel", "shell", "fdm", "rhttpproxy", "vmauthd", "esxcli",
    "hostd-probe", "vmsyslogd", "jumpstart", "vmkwarning", "vmksummary", "hostprofiletrace",
    "sdrsinjector", "storagerm", "settingsd", "esxupdate", "vitd", "sfcb-vmware_base",
    "vmkeventd", "esxshell",
})  # fmt: skip
_LOCAL_PROGS = _ESXI_ONLY | {"sshd", "ssh", "sftp-server", "dcui", "crond", "envoy"}
_DATASET = {
    "hostd": "hostd", "hostd-probe": "hostd", "vpxa": "vpxa", "shell": "shell",
    "ssh": "shell", "esxshell": "shell", "sshd": "auth", "vobd": "vobd", "vmkernel": "vmkernel",
    "vmkwarning": "vmkernel", "fdm": "fdm",
}  # fmt: skip
_SEVERITY = {"Em": 0, "Al": 1, "Cr": 2, "Er": 3, "Wa": 4, "No": 5, "In": 6, "Db": 7}
_LEVEL = {
    "panic": 0, "critical": 2, "error": 3, "warning": 4, "info": 6, "verbose": 7,
    "debug": 7, "trivia": 7,
}  # fmt: skip

_IP = r"(?P<ip>[0-9A-Fa-f.:]+)"
_SSHD_LOGIN = re.compile(
    r"^(?P<res>Accepted|Failed) (?P<method>\S+) for (?:invalid user |illegal user )?"
    r"(?P<user>\S+) from " + _IP + r" port (?P<port>\d+)"
)
_PAM_FAIL = re.compile(
    r"PAM: Authentication failure for (?:illegal user |invalid user )?(?P<user>\S+) from " + _IP
)
_HOSTD_LOGIN = re.compile(r"User (?P<user>[^@\s]+)@" + _IP + r" logged (?P<io>in|out)")
_HOSTD_PASSWORD = re.compile(
    r"(?P<res>Accepted|Rejected) password for user (?P<user>\S+) from " + _IP
)
_SSH_FAILED = re.compile(r"SSH login has failed for '(?P<user>[^@']+)@" + _IP + "'")
_SSH_OPENED = re.compile(r"SSH session was opened for '(?P<user>[^@']+)@" + _IP + "'")
_DCUI_LOGIN = re.compile(r"^User (?P<user>\S+) logged in")
_SSH_ENABLED = re.compile(
    r"SSH access has been enabled|esx\.audit\.ssh\.enabled|^SSH login enabled", re.I
)
_SHELL_ENABLED = re.compile(
    r"command line shell has been enabled|esx\.audit\.shell\.enabled"
    r"|ESXi Shell\b.*\benabled|^ESXi shell login enabled",
    re.I,
)
_SHELL_CMD = re.compile(r"^\[(?P<user>[^\]]+)\]: (?P<cmd>.+)$")
_TASK = re.compile(r"Task Created : haTask-(?P<vm>[^-\s]+)-vim\.VirtualMachine\.(?P<op>\w+)-\d+")
_TASK_OPS = {"powerOff": "vm-power-off", "shutdownGuest": "vm-power-off",
             "powerOn": "vm-power-on"}  # fmt: skip
_TRANSITION = re.compile(r"State Transition \(VM_STATE_(?P<from>\w+) -> VM_STATE_(?P<to>\w+)\)")
_VMX = re.compile(r"^Vmsvc\.vm:(?P<path>.+\.vmx)$")
_HOSTD_DELETE = re.compile(
    r"Deletion of file or directory (?P<path>.+?) from \S+ was initiated from "
    r"'(?P<agent>[^']*?)@" + _IP + "'"
)
_HOSTD_TRANSFER = re.compile(
    r"File (?P<dir>upload to|download from) path '?(?P<path>[^']+?)'? was initiated from "
    r"'(?P<agent>[^']*?)@" + _IP
)
_ACCOUNT_CREATED = re.compile(r"Account '?(?P<user>[^'\s]+)'? was created")
_PASSWORD_CHANGED = re.compile(
    r"Login password for user '?(?P<user>[^'\s]+?)'? has been changed"
    r"|Password was changed for account '?(?P<user2>[^'\s]+?)'?(?: on|\.|$)"
)
_SFTP_RENAME = re.compile(r'^(?:posix-)?rename old "(?P<old>[^"]*)" new "(?P<new>[^"]*)"')
_SFTP_REMOVE = re.compile(r'^(?:remove name|rmdir name) "(?P<path>[^"]*)"')
_SFTP_SESSION = re.compile(r"^session opened for local user (?P<user>\S+) from \[" + _IP + r"\]")
_SFTP_CLOSE = re.compile(
    r'^close "(?P<path>[^"]*)" bytes read (?P<read>\d+) written (?P<written>\d+)'
)


def _enveloped(line: str) -> bool:
    """An RFC 3164/5424 line from a collector whose program is one only ESXi has."""
    e = _ENVELOPE.match(line)
    if e is None:
        return False
    app = e["app"] or e["b_app"] or ""
    return app.lower() in _ESXI_ONLY


def _sniff_line(line: str) -> bool:
    m = LINE.match(line)
    if not m:
        return _enveloped(line)
    prog = (m["prog"] or "").lower()
    if m["host"]:  # a syslog server's copy: only ESXi's own programs
        return prog in _ESXI_ONLY
    if prog:
        return True
    msg = m["msg"]
    return bool(_VMKERNEL.match(msg) or "Correlator]" in msg[:24])


def _esxi_marker(line: str) -> bool:
    if "Originator@6876" in line or _VMKERNEL.search(line) or "Correlator]" in line:
        return True
    m = LINE.match(line)
    if m is None:
        return _enveloped(line)
    prog = (m["prog"] or "").lower()
    return prog in (_ESXI_ONLY if m["host"] else _LOCAL_PROGS)


def _sniff_or_more(line: str) -> bool:
    # hostd dumps objects over many "-->" lines (a start-up or a task's arguments): a file
    # may begin with more of them than of timed lines
    return _sniff_line(line) or line.lstrip().startswith("-->")


def sniff(sample: Sample) -> bool:
    lines = sample.first_lines(60)
    timed = [ln for ln in lines if not ln.lstrip().startswith("-->")]
    return (
        any(_esxi_marker(ln) for ln in timed[:20])
        and sum(1 for ln in timed[:20] if _sniff_line(ln)) >= max(1, (len(timed[:20]) + 1) // 2)
        and sample.mostly(_sniff_or_more, 60)
    )


# a vm-support bundle is unpacked as esx-<host>-<YYYY-MM-DD>--<HH.MM>-<pid>/...
_BUNDLE = re.compile(r"^esx-(?P<host>.+?)-\d{4}-\d\d-\d\d--\d")


def bundle_host(path: Path) -> str | None:
    """The host name in the folder of a vm-support bundle the file came from, if any."""
    for part in reversed(path.parts):
        m = _BUNDLE.match(part)
        if m:
            return m["host"]
    return None


def parse(source: Source) -> Iterator[pa.RecordBatch]:
    rows = Rows(source)
    years = YearState(source.year_hint)
    # the local files name no host: the bundle's folder does
    bundle = bundle_host(Path(source.display)) or bundle_host(source.path)
    for first, chunk in vx.line_arrays(source, vx.chunk_bytes(source)):
        lines: list[str] = [ln.rstrip("\r") for ln in chunk.to_pylist()]
        found = [LINE.match(ln) for ln in lines]
        others = [i for i, m in enumerate(found) if m is None and lines[i].strip()]
        position = {i: k for k, i in enumerate(others)}
        relayed = _relayed([lines[i] for i in others], source, years)
        for i, line in enumerate(lines):
            record = first + i
            if not line.strip():
                continue
            m = found[i]
            got = (m.groupdict(), _time(m["ts"])) if m else relayed.get(position[i])
            if got is None or got[1] is None:
                reason = (
                    "continuation of the previous record (no time of its own)"
                    if line.lstrip().startswith("-->")
                    else "not an ESXi log line (no ISO time or syslog header at the start)"
                )
                source.reject(record, reason, line)
                continue
            groups = got[0]
            if bundle and not groups.get("host"):
                groups = {**groups, "host": bundle}
            batch = rows.add(record, _row(groups, got[1]))
            if batch is not None:
                yield batch
    batch = rows.flush()
    if batch is not None:
        yield batch


def _relayed(
    lines: list[str], source: Source, years: YearState
) -> dict[int, tuple[dict[str, str | None], datetime | None]]:
    """Lines behind a collector's RFC 3164/5424 header: their groups, by position."""
    if not lines:
        return {}
    env = peel(pa.array(lines, pa.string()), source.tz, years)
    out: dict[int, tuple[dict[str, str | None], datetime | None]] = {}
    for k, (ts, host, app, msg) in enumerate(
        zip(env.timestamp.to_pylist(), env.host.to_pylist(), env.app.to_pylist(),
            env.message.to_pylist(), strict=True)
    ):  # fmt: skip
        if ts is None or app is None:
            continue
        # RFC 5424 carries hostd's [Originator@6876 sub=... user=...] as structured data,
        # which the envelope reader takes off the message: put it back in front
        sd = _SD.search(lines[k])
        if sd and sd.group(0) not in (msg or ""):
            msg = f"{sd.group(0)} {msg or ''}"
        g = BODY.match(msg or "")
        groups: dict[str, str | None] = g.groupdict() if g else {"msg": msg}
        if not groups.get("prog"):
            groups["prog"] = app
        groups["host"] = host
        out[k] = (groups, ts)
    return out


def _time(text: str) -> datetime | None:
    try:
        return datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        return None


def _row(m: dict[str, str | None], ts: datetime) -> Row:
    prog, pid, level = m.get("prog"), m.get("pid"), m.get("level")
    msg = m.get("msg") or ""
    inner = _INNER.match(msg) if m.get("host") else None
    if inner:
        prog, pid, msg, level = inner["prog"], inner["pid"], inner["msg"], inner["level"]
    if prog is None and _VMKERNEL.match(msg):
        prog = "vmkernel"
    elif prog is None and "Correlator]" in msg[:24]:
        prog = "vobd"
    key = (prog or "").lower()
    row: Row = {
        "@timestamp": ts,
        "event.dataset": f"esxi.{_DATASET.get(key, 'syslog')}",
        "event.provider": key or None,
        "observer.type": "hypervisor",
        "observer.vendor": "vmware",
        "message": msg,
    }
    sev = m.get("sev")
    if sev:
        row["event.severity"] = _SEVERITY[sev]
    elif level:
        row["event.severity"] = _LEVEL[level]
    elif m.get("envpri"):
        row["event.severity"] = int(m["envpri"] or 0) & 7
    if m.get("more"):
        row["continuation"] = True  # 8.x: a later line of a multi-line message
    if pid and pid.isdigit():
        row["process.pid"] = int(pid)
    host = m.get("host")
    if host:
        row["host.name"] = host.split(".")[0].lower()
        row["host.hostname"] = row["observer.name"] = host
    meta = _META.match(msg)
    if meta:
        for kv in _META_KV.finditer(meta["meta"]):
            if kv["k"] == "user":
                _user(row, kv["v"])
            else:
                row[kv["k"]] = kv["v"]
        msg = msg[meta.end() :]
    handler = _HANDLERS.get(key, _generic)
    handler(msg, row)
    return row


def _user(row: Row, user: str) -> None:
    dom, sep, name = user.rpartition("\\")
    if sep:
        row["user.domain"], row["user.name"] = dom, name
    else:
        row["user.name"] = user


def _act(row: Row, action: str, category: str, outcome: str | None = "success") -> None:
    row["event.action"], row["event.category"] = action, category
    if outcome:
        row["event.outcome"] = outcome


def _login(row: Row, ok: bool, user: str, ip: str | None) -> None:
    _act(row, "login", "authentication", "success" if ok else "failure")
    _user(row, user)
    if ip:
        row["source.ip"] = ip


def _switches(msg: str, row: Row) -> bool:
    if _SSH_ENABLED.search(msg):
        _act(row, "ssh-enabled", "configuration")
        return True
    if _SHELL_ENABLED.search(msg):
        _act(row, "shell-enabled", "configuration")
        return True
    return False


def _hostd(msg: str, row: Row) -> None:
    if _switches(msg, row):
        return
    if t := _TASK.search(msg):
        row["vm_id"] = t["vm"]
        action = _TASK_OPS.get(t["op"])
        if action:
            _act(row, action, "host")
        return
    if s := _TRANSITION.search(msg):
        # a guest killed (esxcli vm process kill) goes from ON to OFF at once; a power-off
        # passes POWERING_OFF, whose second step (POWERING_OFF -> OFF) is not another one
        frm, to = s["from"], s["to"]
        action = None
        if frm == "ON" and to in ("POWERING_OFF", "OFF"):
            action = "vm-power-off"
        elif to == "POWERING_ON" or (frm == "OFF" and to == "ON"):
            action = "vm-power-on"
        if action:
            _act(row, action, "host")
            vmx = _VMX.match(row.get("sub", ""))
            if vmx:
                row["file.path"] = vmx["path"]
        return
    if u := _HOSTD_LOGIN.search(msg):
        if u["io"] == "in":
            _login(row, True, u["user"], u["ip"])
        else:
            _act(row, "logout", "authentication")
            _user(row, u["user"])
            row["source.ip"] = u["ip"]
        return
    if p := _HOSTD_PASSWORD.search(msg):
        _login(row, p["res"] == "Accepted", p["user"], p["ip"])
        return
    if f := _SSH_FAILED.search(msg):
        _login(row, False, f["user"], f["ip"])
        return
    if d := _HOSTD_DELETE.search(msg):
        _act(row, "file-delete", "file")
        row["file.path"], row["source.ip"], row["user_agent.original"] = (
            d["path"], d["ip"], d["agent"],
        )  # fmt: skip
        return
    if up := _HOSTD_TRANSFER.search(msg):
        _act(row, "file-write" if up["dir"] == "upload to" else "file-read", "file")
        row["file.path"], row["source.ip"], row["user_agent.original"] = (
            up["path"], up["ip"], up["agent"],
        )  # fmt: skip
        return
    if a := _ACCOUNT_CREATED.search(msg):
        _act(row, "user-created", "iam")
        row["target_user"] = a["user"]
        return
    if pw := _PASSWORD_CHANGED.search(msg):
        _act(row, "password-changed", "iam")
        row["target_user"] = pw["user"] or pw["user2"]


def _shell(msg: str, row: Row) -> None:
    if _switches(msg, row):
        return
    c = _SHELL_CMD.match(msg)
    if c:
        _act(row, "shell-command", "process", None)
        _user(row, c["user"])
        cmd = c["cmd"].strip()
        row["process.command_line"] = cmd
        first = cmd.split()[0] if cmd.split() else ""
        row["process.name"] = first.rsplit("/", 1)[-1]


def _sshd(msg: str, row: Row) -> None:
    if a := _SSHD_LOGIN.match(msg):
        _login(row, a["res"] == "Accepted", a["user"], a["ip"])
        row["source.port"] = int(a["port"])
        row["auth_method"] = a["method"]
    elif p := _PAM_FAIL.search(msg):
        _login(row, False, p["user"], p["ip"])


def _vobd(msg: str, row: Row) -> None:
    if _switches(msg, row):
        return
    if o := _SSH_OPENED.search(msg):
        _login(row, True, o["user"], o["ip"])
    elif f := _SSH_FAILED.search(msg):
        _login(row, False, f["user"], f["ip"])


def _sftp(msg: str, row: Row) -> None:
    if o := _SFTP_SESSION.match(msg):
        _login(row, True, o["user"], o["ip"])
    elif r := _SFTP_RENAME.match(msg):
        _act(row, "file-rename", "file")
        row["file.path"], row["file.old_path"] = r["new"], r["old"]
    elif d := _SFTP_REMOVE.match(msg):
        _act(row, "file-delete", "file")
        row["file.path"] = d["path"]
    elif c := _SFTP_CLOSE.match(msg):
        written = int(c["written"])
        row["file.path"] = c["path"]
        row["bytes_read"], row["bytes_written"] = int(c["read"]), written
        if written:
            _act(row, "file-write", "file")


def _dcui(msg: str, row: Row) -> None:
    if u := _DCUI_LOGIN.match(msg):
        _login(row, True, u["user"], None)


def _generic(msg: str, row: Row) -> None:
    _switches(msg, row)


_HANDLERS: dict[str, Callable[[str, Row], None]] = {
    "hostd": _hostd, "vpxa": _hostd, "shell": _shell, "ssh": _shell, "sshd": _sshd,
    "vobd": _vobd, "sftp-server": _sftp, "dcui": _dcui,
}  # fmt: skip


FORMAT = Format(
    name="esxi",
    dataset="esxi.syslog",
    description="VMware ESXi host logs (hostd, shell, auth, vobd, vmkernel, syslog; 6.x-8.x)",
    sniff=sniff,
    parse=parse,
    fields=(
        "@timestamp", "event.dataset", "event.action", "event.category", "event.outcome",
        "event.severity", "event.provider", "message", "host.name", "host.hostname",
        "user.name", "user.domain", "source.ip", "source.port", "process.pid",
        "process.name", "process.command_line", "file.path", "user_agent.original",
        "observer.name", "observer.type", "observer.vendor", "extra",
    ),
)  # fmt: skip
