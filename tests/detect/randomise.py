"""Rewrite host, user, service and file names of parsed events with random ones.

A rule or threshold that only fires because of a sample's names (a host called
"ATTACKER", a service called "evil") is tuned to the sample; every positive corpus test
runs again on the randomised events. The names are collected from the columns and the raw
EventData/UserData of the events, then replaced everywhere (columns, raw JSON, command
lines) as whole words, case-insensitively.
"""

from __future__ import annotations

import random
import re
import string
from typing import Any

import orjson
import pyarrow as pa

NAME_KEYS = (
    "ServiceName", "TargetUserName", "SubjectUserName", "TargetDomainName",
    "SubjectDomainName", "WorkstationName", "Workstation", "User", "TargetServerName",
    "Detection User", "AccountName", "UserContext", "TaskName",
)  # fmt: skip
# built-in principals and words that are not names anyone chose
KEEP = frozenset(
    "- . system local service network service nt authority localsystem anonymous logon "
    "n/a nt service window manager font driver host builtin administrators users".split(" ")
) | {"nt authority", "local service", "network service", "anonymous logon", "font driver host",
     "window manager", "nt service"}  # fmt: skip
# protocol words in pipe names: PsExec's stdio suffixes, and the system pipes a nested
# "<name>\pipe\spoolss" imitates
PIPE_WORDS = frozenset(("stdin", "stdout", "stderr", "pipe", "spoolss", "epmapper", "srvsvc",
                        "lsarpc", "samr", "netlogon"))  # fmt: skip
_SYSTEM_PATH = re.compile(r"(?i)\\(windows|program files( \(x86\))?|programdata\\microsoft)\\")


def _names(rows: list[dict[str, Any]]) -> tuple[set[str], set[str]]:
    names: set[str] = set()
    stems: set[str] = set()
    for r in rows:
        for col in ("host.name", "user.name", "user.domain"):
            if r.get(col):
                names.add(str(r[col]))
        if r.get("host.hostname"):
            names.add(str(r["host.hostname"]).split(".")[0])
        extra = orjson.loads(r["extra"]) if r.get("extra") else {}
        data = {**((extra.get("winlog") or {}).get("event_data") or {}),
                **((extra.get("winlog") or {}).get("user_data") or {})}  # fmt: skip
        for key in NAME_KEYS:
            v = data.get(key)
            if isinstance(v, str):
                for part in re.split(r"[\\@/]", v):
                    names.add(part.split(".")[0] if key == "TargetServerName" else part)
        if str(data.get("ShareName", "")).upper().endswith("IPC$"):
            continue  # named pipes (svcctl, atsvc) are protocol names, not chosen ones
        if r.get("event.dataset") == "windows.sysmon" and str(r.get("event.code")) in ("17", "18"):
            # a pipe's name: its chosen parts (tool, computer) change, the protocol's
            # ("-<pid>-stdin" of PsExec and its clones) stays
            pipe = str(data.get("PipeName") or "").lstrip("\\")
            names |= {p for p in re.split(r"[-\\]", pipe)
                      if not p.isdigit() and p.lower() not in PIPE_WORDS}  # fmt: skip
            continue
        for path in (r.get("file.path"), data.get("TargetFilename")):
            if isinstance(path, str) and path and not _SYSTEM_PATH.search(path):
                base = path.replace("/", "\\").rsplit("\\", 1)[-1]
                stem = base.rsplit(".", 1)[0]
                if stem:
                    stems.add(stem)
    names = {n.strip() for n in names if n and len(n.strip()) >= 3}
    return {n for n in names if n.lower() not in KEEP}, {s for s in stems if len(s) >= 3}


def _fake(rng: random.Random, like: str) -> str:
    alphabet = string.ascii_lowercase + string.digits
    out = "".join(rng.choice(alphabet) for _ in range(max(len(like), 6)))
    return "q" + out[1:] if like[:1].isalpha() else out  # stays a valid name start


def randomise(table: pa.Table, seed: int = 7) -> tuple[pa.Table, dict[str, str]]:
    """The events with every host, user, service and (non-system) file name replaced."""
    rows = table.to_pylist()
    names, stems = _names(rows)
    rng = random.Random(seed)
    mapping = {n: _fake(rng, n) for n in sorted(names | stems, key=lambda s: (-len(s), s))}
    if not mapping:
        return table, mapping
    pattern = re.compile(
        r"(?<![A-Za-z0-9])(" + "|".join(re.escape(n) for n in mapping) + r")(?![A-Za-z0-9])",
        re.IGNORECASE,
    )
    lower = {k.lower(): v for k, v in mapping.items()}

    def sub(text: str) -> str:
        return pattern.sub(lambda m: lower[m.group(1).lower()], text)

    out = []
    for r in rows:
        new = {}
        for k, v in r.items():
            if isinstance(v, str) and k not in ("evidence_id", "event.dataset", "event.code"):
                v = sub(v)
            new[k] = v
        out.append(new)
    return pa.Table.from_pylist(out, schema=table.schema), mapping
