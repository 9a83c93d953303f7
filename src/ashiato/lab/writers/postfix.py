"""Postfix ``maillog`` (domain.md 3.13, 8.2): RFC 3164 syslog, JST, no year.

Postfix daemons log as ``postfix/<daemon>[pid]``; the content filter as ``amavis[pid]``.
"""

from __future__ import annotations

from ashiato.lab.clock import syslog_jst
from ashiato.lab.sink import Data, StreamState


def render(st: StreamState, ts: int, e: Data) -> str:
    app = e.get("app") or f"postfix/{e['daemon']}"
    return f"{syslog_jst(ts)} mx01 {app}[{e['pid']}]: {e['msg']}"
