"""Administration the organisation declared as its own (an IT vendor's PsExec or RDP).

Declared in the case, in either or both ways, and read at every ``investigate`` so the
verdicts are recomputed with it:

- ``CASE/known_admin.toml``::

      accounts = ["itvendor", "svc_deploy"]   # accounts whose remote work is routine
      sources = ["admin-pc01", "10.0.5.20"]   # machines (name or address) they work from

- an analyst note tagged ``known-admin``: ``ashiato note CASE "IT vendor maintenance"
  --tags known-admin --user itvendor --host admin-pc01``.

A declared edge stays in findings (marked as such) but is no signal; an incident whose
accounts are all declared admins is no signal either. Nothing else is excused: a
declared account clearing logs or deleting shadow copies is still a finding, because
those rules are about what was done, not who moved.
"""

from __future__ import annotations

import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import orjson

from ashiato.analysis.context import Context
from ashiato.errors import AshiatoError
from ashiato.normalize import host_key

FILE = "known_admin.toml"
TAG = "known-admin"
# what declared admins do routinely; anything else they do is still weighed
_ROUTINE_TACTICS = {"lateral-movement", "execution", None}


@dataclass
class KnownAdmin:
    accounts: set[str] = field(default_factory=set)
    sources: set[str] = field(default_factory=set)

    def covers_edge(self, edge: Any) -> bool:
        account = (edge.account or "").lower()
        src = {str(edge.source).lower(), str(edge.source_ip or "").lower()}
        return bool(account and account in self.accounts) or bool(src & self.sources)

    def covers_incident(self, inc: Any) -> bool:
        if not self.accounts or not inc.accounts or inc.tactic not in _ROUTINE_TACTICS:
            return False
        return all(a.lower() in self.accounts for a in inc.accounts)


def load(case_root: Path, ctx: Context) -> KnownAdmin:
    known = KnownAdmin()
    path = case_root / FILE
    if path.is_file():
        try:
            data = tomllib.loads(path.read_text("utf-8"))
        except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError) as exc:
            raise AshiatoError(f"{path}: cannot read the known-admin list: {exc}") from exc
        known.accounts |= {_account(a) for a in data.get("accounts", []) if str(a).strip()}
        known.sources |= {_source(s) for s in data.get("sources", []) if str(s).strip()}
    t = ctx.events
    notes = t.filter((t["event.dataset"] == "ashiato.note") & t["extra"].contains(TAG))
    for r in ctx.rows(notes.select("user.name", "host.name", "extra")):
        try:
            tags = str((orjson.loads(r["extra"]) or {}).get("tags") or "")
        except orjson.JSONDecodeError:
            continue
        if TAG not in [x.strip().lower() for x in tags.split(",")]:
            continue
        if r.get("user.name"):
            known.accounts.add(_account(r["user.name"]))
        if r.get("host.name"):
            known.sources.add(_source(r["host.name"]))
    return known


def _account(a: Any) -> str:
    return str(a).strip().split("\\")[-1].split("@")[0].lower()


def _source(s: Any) -> str:
    return host_key(str(s)) or str(s).strip().lower()
