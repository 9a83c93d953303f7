"""Trend Micro OfficeScan virus log CSV export (domain.md 3.15; CP932, agent-local JST)."""

from __future__ import annotations

from ashiato.lab.clock import jst_slash
from ashiato.lab.sink import Data, StreamState
from ashiato.lab.writers import csv_line

HEADER = "日時,エンドポイント,ドメイン,セキュリティ上の脅威,ファイルパス,検索の種類,結果,IPアドレス"


def render(st: StreamState, ts: int, e: Data) -> str:
    return csv_line((jst_slash(ts), e["endpoint"], e["domain"], e["threat"], e["path"],
                     e.get("scan", "リアルタイム検索"), e["result"], e["ip"]))
