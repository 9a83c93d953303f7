"""Mail-gateway message export ``gateway.csv`` (CP932, JST without offset).

Postfix does not log attachment names, so the gateway's own CSV export is where they are.
"""

from __future__ import annotations

from ashiato.lab.clock import jst_slash
from ashiato.lab.sink import Data, StreamState
from ashiato.lab.writers import csv_line

HEADER = "日時,送信者,受信者,件名,添付ファイル,サイズ,結果"


def render(st: StreamState, ts: int, e: Data) -> str:
    return csv_line((jst_slash(ts), e["sender"], e["rcpt"], e["subject"],
                     ";".join(e.get("attachments", ())), e["size"], e["result"]))
