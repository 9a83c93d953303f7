"""Postfix ``maillog`` (domain.md 3.13): RFC 3164 syslog, JST, no year."""

from __future__ import annotations

from ashiato.lab.clock import syslog_jst
from ashiato.lab.sink import Data, StreamState


def render(st: StreamState, ts: int, e: Data) -> str:
    return f"{syslog_jst(ts)} mx01 postfix/{e['daemon']}[{e['pid']}]: {e['msg']}"
