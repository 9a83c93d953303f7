"""Event Viewer "Save All Events As... CSV" from a ja-JP Windows 7 (domain.md 3.16).

Five named columns plus an unnamed sixth holding the rendered, localised, multi-line
message; local time (JST) without an offset in ``YYYY/MM/DD H:MM:SS``; no record numbers.
SIDs appear resolved to names, as Event Viewer shows them.
"""

from __future__ import annotations

from ashiato.lab.clock import jst_ja_culture
from ashiato.lab.sink import Data, StreamState
from ashiato.lab.writers import csv_line

HEADER = "レベル,日付と時刻,ソース,イベント ID,タスクのカテゴリ"
_TASK = {4624: "ログオン", 4634: "ログオフ", 4647: "ログオフ", 4688: "プロセス作成",
         1102: "ログの消去"}
_ELEVATION = {"%%1936": "TokenElevationTypeDefault (1)", "%%1937": "TokenElevationTypeFull (2)",
              "%%1938": "TokenElevationTypeLimited (3)"}


def _who(sid: str, domain: str, name: str) -> str:
    if sid == "S-1-5-18":
        return "SYSTEM"
    if sid == "S-1-0-0":
        return "NULL SID"
    return f"{domain}\\{name}"


def _subject(d: Data, prefix: str = "Subject") -> str:
    who = _who(d[prefix + "UserSid"], d[prefix + "DomainName"], d[prefix + "UserName"])
    return (f"\tセキュリティ ID:\t\t{who}\n"
            f"\tアカウント名:\t\t{d[prefix + 'UserName']}\n"
            f"\tアカウント ドメイン:\t\t{d[prefix + 'DomainName']}\n"
            f"\tログオン ID:\t\t{d[prefix + 'LogonId']}")


def message(event_id: int, d: Data) -> str:
    if event_id == 4624:
        return (
            "アカウントが正常にログオンしました。\n\nサブジェクト:\n" + _subject(d) +
            f"\n\nログオン タイプ:\t\t\t{d['LogonType']}\n\n新しいログオン:\n" +
            _subject(d, "Target") + f"\n\tログオン GUID:\t\t{d['LogonGuid']}\n\n"
            f"プロセス情報:\n\tプロセス ID:\t\t{d['ProcessId']}\n"
            f"\tプロセス名:\t\t{d['ProcessName']}\n\n"
            f"ネットワーク情報:\n\tワークステーション名:\t{d['WorkstationName']}\n"
            f"\tソース ネットワーク アドレス:\t{d['IpAddress']}\n"
            f"\tソース ポート:\t\t{d['IpPort']}\n\n"
            f"詳細な認証情報:\n\tログオン プロセス:\t\t{d['LogonProcessName']}\n"
            f"\t認証パッケージ:\t{d['AuthenticationPackageName']}\n"
            f"\t移行されたサービス:\t{d['TransmittedServices']}\n"
            f"\tパッケージ名 (NTLM のみ):\t{d['LmPackageName']}\n"
            f"\tキーの長さ:\t\t{d['KeyLength']}\n\n"
            "このイベントは、ログオン セッションが作成されると生成されます。"
        )
    if event_id == 4688:
        return (
            "新しいプロセスが作成されました。\n\nサブジェクト:\n" + _subject(d) +
            f"\n\nプロセス情報:\n\t新しいプロセス ID:\t\t{d['NewProcessId']}\n"
            f"\t新しいプロセス名:\t{d['NewProcessName']}\n"
            f"\tトークン昇格の種類:\t{_ELEVATION.get(d['TokenElevationType'], '-')}\n"
            f"\t作成元プロセス ID:\t{d['ProcessId']}\n"
            f"\tプロセスのコマンド ライン:\t{d.get('CommandLine', '')}"
        )
    if event_id in (4634, 4647):
        head = "アカウントがログオフしました。" if event_id == 4634 else "ユーザー開始のログオフ:"
        return (head + "\n\nサブジェクト:\n" + _subject(d, "Target") +
                (f"\n\nログオン タイプ:\t\t\t{d['LogonType']}" if "LogonType" in d else ""))
    if event_id == 1102:
        return ("監査ログが消去されました。\nサブジェクト:\n"
                f"\tセキュリティ ID:\t{d['SubjectDomainName']}\\{d['SubjectUserName']}\n"
                f"\tアカウント名:\t{d['SubjectUserName']}\n"
                f"\tドメイン名:\t{d['SubjectDomainName']}\n"
                f"\tログオン ID:\t{d['SubjectLogonId']}")
    raise ValueError(f"no ja-JP message template for event {event_id}")


def render(st: StreamState, ts: int, e: Data) -> str:
    d = e.get("user_data") or e["data"]
    source = ("Microsoft-Windows-Eventlog" if e["id"] == 1102
              else "Microsoft-Windows-Security-Auditing")
    return csv_line(("情報", jst_ja_culture(ts), source, e["id"], _TASK[e["id"]],
                     message(e["id"], d)))
