"""Suricata ``eve.json`` (domain.md 3.10): one object per line, sensor-local time with offset.

Suricata escapes non-ASCII in JSON strings (``\\uXXXX``), so Japanese attachment names in
``fileinfo``/``smtp`` records arrive escaped, as they would from a real sensor.
"""

from __future__ import annotations

import json

from ashiato.lab.clock import jst_offset_iso
from ashiato.lab.sink import Data, StreamState


def render(st: StreamState, ts: int, e: Data) -> str:
    rec: Data = {"timestamp": jst_offset_iso(ts), "flow_id": e["flow_id"], "in_iface": "eth1",
                 "event_type": e["event_type"], "src_ip": e["src_ip"],
                 "src_port": e["src_port"], "dest_ip": e["dest_ip"],
                 "dest_port": e["dest_port"], "proto": e.get("proto", "TCP")}
    for k, v in e.items():
        if k not in rec:
            rec[k] = v
    return json.dumps(rec, ensure_ascii=True, separators=(",", ":"))
