"""VMware ESXi 7.0 logs as they sit in /var/log (hostd.log, shell.log, auth.log, vobd.log).

Each line starts with the UTC time in ISO 8601 with milliseconds and ``Z``. hostd writes
``<time> <level> hostd[<pid>] [Originator@6876 sub=<module> opID=<op> user=<user>] <text>``;
shell.log ``<time> shell[<pid>]: [<user>]: <command>`` for every command typed in the ESXi
Shell or over SSH; auth.log is sshd's syslog text; vobd.log carries the audit observations
(``[esx.audit.ssh.enabled]``). A datastore listing (``ls -lR`` as the responders ran it) is
written at collection time by :func:`ls_lr`.
"""

from __future__ import annotations

from collections.abc import Iterable

from ashiato.lab.clock import MS, iso_utc
from ashiato.lab.sink import Data, StreamState


def _ts(ms: int) -> str:
    return iso_utc(ms)  # 2015-09-10T12:03:08.629Z


def hostd(st: StreamState, ts: int, e: Data) -> str:
    ctx = f"Originator@6876 sub={e['sub']}"
    if e.get("op"):
        ctx += f" opID={e['op']}"
    if e.get("user"):
        ctx += f" user={e['user']}"
    return f"{_ts(ts)} {e.get('level', 'info')} hostd[{e.get('pid', 2099385)}] [{ctx}] {e['text']}"


def shell(st: StreamState, ts: int, e: Data) -> str:
    return f"{_ts(ts)} shell[{e['pid']}]: [{e['user']}]: {e['command']}"


def auth(st: StreamState, ts: int, e: Data) -> str:
    return f"{_ts(ts)} {e['proc']}[{e['pid']}]: {e['text']}"


def vobd(st: StreamState, ts: int, e: Data) -> str:
    uptime = (ts // MS) % 10_000_000 * 1_000_000 + ts % MS * 1_000
    return f"{_ts(ts)} vobd[{e.get('pid', 2097632)}]: [{e['group']}] {uptime}us: [{e['id']}] " \
           f"{e['text']}"


def ls_lr(entries: Iterable[tuple[str, list[tuple[str, int, int]]]], year_of: int) -> str:
    """``ls -lR /vmfs/volumes/<ds>``: per folder, ``-rw------- 1 root root size Mon DD HH:MM name``.

    ``entries`` gives (folder, [(name, size, mtime_ms)]); BusyBox prints the year instead of
    the time for files older than six months.
    """
    import time

    out: list[str] = []
    for folder, files in entries:
        out.append(f"{folder}:")
        out.append(f"total {sum(s for _, s, _ in files) // 1024}")
        for name, size, mtime in files:
            t = time.gmtime(mtime // MS)
            when = (time.strftime("%b %d %H:%M", t) if t.tm_year == year_of
                    else time.strftime("%b %d  %Y", t))
            out.append(f"-rw-------    1 root     root     {size:>12} {when} {name}")
        out.append("")
    return "\n".join(out) + "\n"
