"""VMware ESXi 7.0 or 8.0 logs as they sit in /var/log (hostd.log, shell.log, auth.log,
vobd.log): the version is the run's (8.0 adds the severity header, see :func:`_v8`).

Each line starts with the UTC time in ISO 8601 with milliseconds and ``Z``. hostd writes
``<time> <level> hostd[<pid>] [Originator@6876 sub=<module> opID=<op> user=<user>] <text>``;
shell.log ``<time> shell[<pid>]: [<user>]: <command>`` for every command typed in the ESXi
Shell or over SSH; auth.log is sshd's syslog text; vobd.log carries the audit observations
(``[esx.audit.ssh.enabled]``). A listing of the datastores (``ls -lR /vmfs/volumes/`` as
the responders ran it) is written at collection time by :func:`ls_lr`.
"""

from __future__ import annotations

from collections.abc import Iterable

from ashiato.lab.clock import MS, iso_utc
from ashiato.lab.sink import Data, StreamState


def _ts(ms: int) -> str:
    return iso_utc(ms)  # 2015-09-10T12:03:08.629Z


# ESXi 8.0 writes the documented header: severity and PRI, then the thread name with a
# colon (In(166) Hostd[pid]: ...); 7.0 the level word after the time (info hostd[pid] ...)
_SEV8 = {"info": "In", "verbose": "Db", "warning": "Wa", "error": "Er"}
_PRI8 = {"In": 6, "Db": 7, "Wa": 4, "Er": 3}


def _v8(level: str, facility: int) -> str:
    sev = _SEV8.get(level, "In")
    return f"{sev}({facility * 8 + _PRI8[sev]})"


def hostd(st: StreamState, ts: int, e: Data, v8: bool = False) -> str:
    ctx = f"Originator@6876 sub={e['sub']}"
    if e.get("op"):
        ctx += f" opID={e['op']}"
    if e.get("user"):
        ctx += f" user={e['user']}"
    level, pid = e.get("level", "info"), e.get("pid", 2099385)
    if v8:
        return f"{_ts(ts)} {_v8(level, 20)} Hostd[{pid}]: [{ctx}] {e['text']}"
    return f"{_ts(ts)} {level} hostd[{pid}] [{ctx}] {e['text']}"


def shell(st: StreamState, ts: int, e: Data, v8: bool = False) -> str:
    head = f"{_v8('info', 1)} " if v8 else ""
    return f"{_ts(ts)} {head}shell[{e['pid']}]: [{e['user']}]: {e['command']}"


def auth(st: StreamState, ts: int, e: Data, v8: bool = False) -> str:
    head = f"{_v8('info', 4)} " if v8 else ""
    return f"{_ts(ts)} {head}{e['proc']}[{e['pid']}]: {e['text']}"


def vobd(st: StreamState, ts: int, e: Data, v8: bool = False) -> str:
    uptime = (ts // MS) % 10_000_000 * 1_000_000 + ts % MS * 1_000
    body = f"[{e['group']}] {uptime}us: [{e['id']}] {e['text']}"
    if v8:
        return f"{_ts(ts)} {_v8('info', 1)} vobd[{e.get('pid', 2097632)}]:  {body}"
    return f"{_ts(ts)} vobd[{e.get('pid', 2097632)}]: {body}"


def _when(mtime: int, year: int) -> str:
    import time

    t = time.gmtime(mtime // MS)
    # BusyBox prints the year instead of the time for files older than six months
    return time.strftime("%b %d %H:%M", t) if t.tm_year == year else time.strftime("%b %d  %Y", t)


def ls_lr(stores: Iterable[tuple[str, str, list[tuple[str, int, int]]]], year: int,
          listed_at: int) -> str:
    """``ls -lR /vmfs/volumes/`` as BusyBox prints it on ESXi: the volumes folder with one
    UUID folder per datastore and a ``name -> uuid`` link, then every folder below the UUID
    (``ls -R`` does not follow the links) with its sub-folders first listed as ``d`` lines.

    ``stores`` gives (name, uuid, [(path under the datastore, size, mtime_ms)]).
    """
    stores = list(stores)
    out = ["/vmfs/volumes:", f"total {1024 * len(stores)}"]
    for _, uuid, _ in sorted(stores, key=lambda x: x[1]):
        out.append(f"drwxr-xr-t    1 root     root     {73728:>12} {_when(listed_at, year)} {uuid}")
    for name, uuid, _ in sorted(stores):
        out.append(f"lrwxr-xr-x    1 root     root     {len(uuid):>12} {_when(listed_at, year)} "
                   f"{name} -> {uuid}")
    out.append("")
    for _, uuid, files in sorted(stores, key=lambda x: x[1]):
        folders: dict[str, list[tuple[str, int, int]]] = {"": []}
        for path, size, mtime in sorted(files):
            folder, _, base = path.rpartition("/")
            folders.setdefault(folder, []).append((base, size, mtime))
        for folder in sorted(folders):
            entries = [(f"d{name}", 73728, max((m for _, _, m in folders[name]), default=0))
                       for name in sorted(folders) if name and name.rpartition("/")[0] == folder]
            entries += [(f"-{base}", size, mtime) for base, size, mtime in folders[folder]]
            out.append(f"/vmfs/volumes/{uuid}" + (f"/{folder}" if folder else "") + ":")
            out.append(f"total {sum(size for _, size, _ in entries) // 1024}")
            for kind_name, size, mtime in sorted(entries, key=lambda e: e[0][1:]):
                kind, base = kind_name[0], kind_name[1:]
                mode = "drwxr-xr-x" if kind == "d" else "-rw-------"
                out.append(f"{mode}    1 root     root     {size:>12} {_when(mtime, year)} {base}")
            out.append("")
    return "\n".join(out) + "\n"
