"""Trend Micro OfficeScan detections as the console exports them."""

from __future__ import annotations

from ashiato.lab.context import Ctx
from ashiato.lab.world import Host


def av_hit(ctx: Ctx, ts: int, host: Host, ip: str, threat: str, path: str, result: str,
           scan: str = "リアルタイム検索") -> None:
    """One row of virus_log.csv; the "domain" column is the OfficeScan group (department)."""
    ctx.emit("av", ts, {"endpoint": host.name, "domain": host.user.dept + "部",
                        "threat": threat, "path": path, "result": result, "ip": ip,
                        "scan": scan})
