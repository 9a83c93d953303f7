"""Windows DHCP Server audit log ``DhcpSrvLog-<Day>.log`` (one file per weekday).

The service writes the preamble below at the top of each file and overwrites a weekday's
file when that weekday comes round again, so only the last seven days survive. Date and
time are the server's local clock (JST) without an offset.

A Japanese server localises the preamble and the Description column (and writes the
ANSI code page, CP932); the IDs, the column order and the English header line stay.
Every assign and renew is followed by DNS update rows (30, 32) for the same address,
which say nothing about who holds it (domain.md 8.1).
"""

from __future__ import annotations

from ashiato.lab.clock import WEEKDAY_EN, dhcp_date_time, jst_weekday
from ashiato.lab.sink import Data, StreamState

_LEGEND = (
    ("00", "The log was started."),
    ("01", "The log was stopped."),
    ("02", "The log was temporarily paused due to low disk space."),
    ("10", "A new IP address was leased to a client."),
    ("11", "A lease was renewed by a client."),
    ("12", "A lease was released by a client."),
    ("13", "An IP address was found to be in use on the network."),
    ("14", "A lease request could not be satisfied because the scope's address pool was "
           "exhausted."),
    ("15", "A lease was denied."),
    ("16", "A lease was deleted."),
    ("17", "A lease was expired and DNS records for an expired leases have not been deleted."),
    ("18", "A lease was expired and DNS records were deleted."),
    ("20", "A BOOTP address was leased to a client."),
    ("21", "A dynamic BOOTP address was leased to a client."),
    ("22", "A BOOTP request could not be satisfied because the scope's address pool for "
           "BOOTP was exhausted."),
    ("23", "A BOOTP IP address was deleted after checking to see it was not in use."),
    ("24", "IP address cleanup operation has began."),
    ("25", "IP address cleanup statistics."),
    ("30", "DNS update request to the named DNS server."),
    ("31", "DNS update failed."),
    ("32", "DNS update successful."),
    ("33", "Packet dropped due to NAP policy."),
    ("34", "DNS update request failed.as the DNS update request queue limit exceeded."),
    ("35", "DNS update request failed."),
    ("36", "Packet dropped because the server is in failover standby role or the hash of the "
           "client ID does not match."),
    ("50+", "Codes above 50 are used for Rogue Server Detection information."),
)
HEADER_LINE = ("ID,Date,Time,Description,IP Address,Host Name,MAC Address,User Name, "
               "TransactionID, QResult,Probationtime, CorrelationID,Dhcid,VendorClass(Hex),"
               "VendorClass(ASCII),UserClass(Hex),UserClass(ASCII),RelayAgentInformation,"
               "DnsRegError.")
PREAMBLE = (
    "\t\tMicrosoft DHCP Service Activity Log",
    "",
    "",
    "Event ID  Meaning",
    *(f"{code}\t{text}" for code, text in _LEGEND),
    "",
    "QResult: 0: NoQuarantine, 1:Quarantine, 2:Drop Packet, 3:Probation,6:No Quarantine "
    "Information ProbationTime:Year-Month-Day Hour:Minute:Second:MilliSecond.",
    "",
    HEADER_LINE,
)
PREAMBLE_JA = (
    "\t\tMicrosoft DHCP サービス アクティビティ ログ",
    "",
    "",
    "イベント ID  意味",
    "00\tログが開始されました。",
    "01\tログが停止されました。",
    "02\tディスク領域の不足により、ログは一時停止しました。",
    "10\t新しい IP アドレスがクライアントにリースされました。",
    "11\tリースがクライアントによって更新されました。",
    "12\tリースがクライアントによって解放されました。",
    "13\tIP アドレスがネットワーク上で使用中であることがわかりました。",
    "15\tリースが拒否されました。",
    "16\tリースが削除されました。",
    "17\tリースの有効期限が切れました。期限切れのリースの DNS レコードは削除されていません。",
    "18\tリースの有効期限が切れ、DNS レコードが削除されました。",
    "24\tIP アドレスのクリーンアップ操作が開始されました。",
    "25\tIP アドレスのクリーンアップの統計です。",
    "30\t指定された DNS サーバーへの DNS 更新要求です。",
    "31\tDNS 更新が失敗しました。",
    "32\tDNS 更新が成功しました。",
    "50+\t50 以上のコードは不正なサーバーの検出情報に使われます。",
    "",
    "QResult: 0: NoQuarantine, 1:Quarantine, 2:Drop Packet, 3:Probation,6:No Quarantine "
    "Information ProbationTime:Year-Month-Day Hour:Minute:Second:MilliSecond.",
    "",
    HEADER_LINE,
)
_VENDOR = ("0x4D53465420352E30", "MSFT 5.0")  # what Windows clients send as vendor class
_DESCR = {10: "Assign", 11: "Renew", 12: "Release", 15: "NACK", 18: "Expired",
          24: "Database Cleanup Begin", 25: "Database Cleanup Statistics",
          30: "DNS Update Request", 32: "DNS Update Successful"}
_DESCR_JA = {10: "割り当て", 11: "更新", 12: "解放", 15: "NACK", 18: "期限切れ",
             24: "データベースのクリーンアップ開始", 25: "データベースのクリーンアップ統計",
             30: "DNS 更新要求", 32: "DNS 更新成功"}


def path_for(ts: int) -> str:
    return f"evidence/dhcp/DhcpSrvLog-{WEEKDAY_EN[jst_weekday(ts)]}.log"


def render(st: StreamState, ts: int, e: Data) -> str:
    return _render(_DESCR, ts, e)


def render_ja(st: StreamState, ts: int, e: Data) -> str:
    return _render(_DESCR_JA, ts, e)


def _render(names: dict[int, str], ts: int, e: Data) -> str:
    d, t = dhcp_date_time(ts)
    code: int = e["id"]
    if code in (24, 25):
        descr = names[code] if code == 24 or names is _DESCR_JA else e.get("text") or names[code]
        return f"{code},{d},{t},{descr},,,,,0,6,,,,,,,,,0"
    ip, host, mac = e["ip"], e.get("host", ""), e.get("mac", "")
    if code in (30, 32):
        return f"{code},{d},{t},{names[code]},{ip},{host},,,0,6,,,,,,,,,0"
    if code == 18:  # the cleanup expires the lease: no client in the exchange
        return f"{code},{d},{t},{names[code]},{ip},{host},{mac},,0,6,,,,,,,,,0"
    vhex, vasc = _VENDOR if code in (10, 11, 15) else ("", "")
    return (f"{code},{d},{t},{names[code]},{ip},{host},{mac},,{e['xid']},0,,,,"
            f"{vhex},{vasc},,,,0")
