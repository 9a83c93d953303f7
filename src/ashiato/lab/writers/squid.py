"""Squid native ``access.log`` (domain.md 3.1): epoch UTC seconds with milliseconds.

``logformat squid %ts.%03tu %6tr %>a %Ss/%03>Hs %<st %rm %ru %[un %Sh/%<a %mt``
"""

from __future__ import annotations

from ashiato.lab.clock import epoch_squid
from ashiato.lab.sink import Data, StreamState


def render(st: StreamState, ts: int, e: Data) -> str:
    peer = e.get("server_ip")
    hier = f"HIER_DIRECT/{peer}" if peer else "HIER_NONE/-"
    return (f"{epoch_squid(ts)} {e['elapsed']:6d} {e['client']} {e.get('code', 'TCP_MISS')}/"
            f"{e['status']:03d} {e['bytes']} {e['method']} {e['url']} {e.get('user') or '-'} "
            f"{hier} {e.get('ctype') or '-'}")
