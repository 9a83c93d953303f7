"""Event Viewer "Save All Events As... CSV" exports, Japanese and English (domain.md 3.16).

Header ``レベル,日付と時刻,ソース,イベント ID,タスクのカテゴリ`` (or ``Level,Date and Time,
Source,Event ID,Task Category``; Security exports may start with ``キーワード``/``Keywords``)
and an unnamed sixth column with the whole rendered, localised message, quoted over many
lines. There is no EventRecordID, no computer name and no structured EventData, so the
key fields are scraped from the message's ``Label: value`` lines into the EventData names
they render (``アカウント名`` -> ``SubjectUserName``...) and go through the shared mapping.

Times are local to the exporting PC, without offset: read in ``source.tz``. ``record`` is
the line on which the CSV row starts. The channel is inferred from the Source column
(Security-Auditing -> Security...); unknown providers get the generic dataset.
"""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Iterator
from datetime import datetime
from typing import Any

import pyarrow as pa

from ashiato.formats.base import Format, Sample, Source
from ashiato.formats.winevent import FIELDS, WinEvent, integer, provider_kind, to_row
from ashiato.formats.winevent_rows import WinRows

_HEADERS = (
    ("レベル", "日付と時刻", "ソース", "イベント ID", "タスクのカテゴリ"),
    ("キーワード", "日付と時刻", "ソース", "イベント ID", "タスクのカテゴリ"),
    ("Level", "Date and Time", "Source", "Event ID", "Task Category"),
    ("Keywords", "Date and Time", "Source", "Event ID", "Task Category"),
)
_LEVELS = {
    "情報": 4, "警告": 3, "エラー": 2, "重大": 1, "詳細": 5,
    "information": 4, "warning": 3, "error": 2, "critical": 1, "verbose": 5,
}  # fmt: skip
_KEYWORDS = {
    "成功の監査": "0x8020000000000000",
    "失敗の監査": "0x8010000000000000",
    "audit success": "0x8020000000000000",
    "audit failure": "0x8010000000000000",
}
_YMD = re.compile(r"(\d{4})[/-](\d{1,2})[/-](\d{1,2})[ T](\d{1,2}):(\d{2}):(\d{2})$")
_MDY = re.compile(r"(\d{1,2})/(\d{1,2})/(\d{4}) (\d{1,2}):(\d{2}):(\d{2})(?: ?([AaPp][Mm]))?$")

# message label (whitespace collapsed, case folded) -> what it is
_LABELS = {
    "account name": "account", "アカウント名": "account",
    "account domain": "domain", "アカウント ドメイン": "domain",
    "domain name": "domain", "ドメイン名": "domain",
    "logon id": "logon_id", "ログオン id": "logon_id",
    "security id": "sid", "セキュリティ id": "sid",
    "logon type": "LogonType", "ログオン タイプ": "LogonType",
    "workstation name": "WorkstationName", "ワークステーション名": "WorkstationName",
    "source network address": "IpAddress", "ソース ネットワーク アドレス": "IpAddress",
    "source address": "IpAddress", "ソース アドレス": "IpAddress",
    "client address": "IpAddress", "クライアント アドレス": "IpAddress",
    "network address": "IpAddress", "ネットワーク アドレス": "IpAddress",
    "source port": "IpPort", "ソース ポート": "IpPort",
    "client port": "IpPort", "クライアント ポート": "IpPort",
    "port": "IpPort", "ポート": "IpPort",
    "process name": "ProcessName", "プロセス名": "ProcessName",
    "process id": "ProcessId", "プロセス id": "ProcessId",
    "new process name": "NewProcessName", "新しいプロセス名": "NewProcessName",
    "new process id": "NewProcessId", "新しいプロセス id": "NewProcessId",
    "process command line": "CommandLine", "プロセス コマンド ライン": "CommandLine",
    "creator process id": "ProcessId", "作成元プロセス id": "ProcessId",
    "creator process name": "ParentProcessName", "作成元プロセス名": "ParentProcessName",
    "share name": "ShareName", "共有名": "ShareName",
    "share path": "ShareLocalPath", "共有パス": "ShareLocalPath",
    "relative target name": "RelativeTargetName", "相対ターゲット名": "RelativeTargetName",
    "access mask": "AccessMask", "アクセス マスク": "AccessMask",
    "object name": "ObjectName", "オブジェクト名": "ObjectName",
    "object type": "ObjectType", "オブジェクトの種類": "ObjectType",
    "service name": "ServiceName", "サービス名": "ServiceName",
    "service file name": "service_file", "サービス ファイル名": "service_file",
    "service account": "service_account", "サービス アカウント": "service_account",
    "task name": "TaskName", "タスク名": "TaskName",
    "logon account": "TargetUserName", "ログオン アカウント": "TargetUserName",
    "source workstation": "Workstation", "ソース ワークステーション": "Workstation",
    "status": "Status", "状態": "Status", "result code": "Status", "結果コード": "Status",
    "sub status": "SubStatus", "サブ状態": "SubStatus",
}  # fmt: skip
# Security events whose only account block renders the Target* fields
_TARGET_FIRST = frozenset({4634, 4647, 4768, 4769, 4776})
_ACCOUNT = {
    "account": ("SubjectUserName", "TargetUserName"),
    "domain": ("SubjectDomainName", "TargetDomainName"),
    "logon_id": ("SubjectLogonId", "TargetLogonId"),
    "sid": ("SubjectUserSid", "TargetUserSid"),
}
_CHANNELS = {
    "security": "Security",
    "scm": "System",
    "sysmon": "Microsoft-Windows-Sysmon/Operational",
    "defender": "Microsoft-Windows-Windows Defender/Operational",
}


def _header(fields: list[str]) -> bool:
    names = tuple(f.strip().lstrip("\ufeff") for f in fields[:5])
    return names in _HEADERS and all(not f.strip() for f in fields[5:])


def sniff(sample: Sample) -> bool:
    lines = sample.first_lines(1)
    if not lines:
        return False
    try:
        first = next(csv.reader([lines[0]]))
    except (csv.Error, StopIteration):
        return False
    return _header(first)


def parse(source: Source) -> Iterator[pa.RecordBatch]:
    rows = WinRows(source)
    with source.text_stream() as stream:
        reader = csv.reader(stream)
        line = 1
        keyword_column = False
        while True:
            try:
                fields = next(reader)
            except StopIteration:
                break
            except csv.Error as exc:  # e.g. a field over csv's 128 KiB limit: skip that row
                source.reject(line, f"unreadable CSV row: {exc}", b"")
                line = reader.line_num + 1
                continue
            start, line = line, reader.line_num + 1
            if start == 1:
                if not _header(fields):
                    source.reject(1, "not an Event Viewer CSV header", _as_csv(fields))
                    return
                keyword_column = fields[0].strip().lstrip("\ufeff") in ("キーワード", "Keywords")
                continue
            if not fields or (len(fields) == 1 and not fields[0].strip()):
                continue
            try:
                ev = _event(fields, keyword_column)
            except ValueError as exc:
                source.reject(start, str(exc), _as_csv(fields))
                continue
            row = to_row(ev)
            if len(fields) > 4 and fields[4]:
                row["winlog"]["task"] = fields[4]
            batch = rows.add(start, row)
            if batch is not None:
                yield batch
    batch = rows.flush()
    if batch is not None:
        yield batch


def _event(fields: list[str], keyword_column: bool) -> WinEvent:
    if len(fields) < 5:
        raise ValueError(f"expected 6 fields, got {len(fields)}")
    level_or_kw, when, provider, eid_text, _task = (f.strip() for f in fields[:5])
    message = fields[5] if len(fields) > 5 else ""
    eid = integer(eid_text)
    if eid is None:
        raise ValueError(f"Event ID is not a number: {eid_text[:40]!r}")
    time = _time(when)
    kind = provider_kind(provider)
    label = level_or_kw.casefold()
    return WinEvent(
        provider=provider or None,
        event_id=eid,
        channel=_channel(kind, provider, eid),
        computer=None,
        time=time,
        data=_scrape(message, kind, eid),
        level=None if keyword_column else _LEVELS.get(label),
        keywords=_KEYWORDS.get(label) if keyword_column else None,
        message=_first_line(message),
    )


def _time(text: str) -> datetime:
    m = _YMD.match(text)
    if m:
        y, mo, d, h, mi, s = (int(g) for g in m.groups())
    else:
        m = _MDY.match(text)
        if not m:
            raise ValueError(f"unreadable date and time {text[:40]!r}")
        mo, d, y, h, mi, s = (int(g) for g in m.groups()[:6])
        half = (m.group(7) or "").upper()
        if half and not 1 <= h <= 12:
            raise ValueError(f"bad 12-hour time {text[:40]!r}")
        if half == "PM" and h != 12:
            h += 12
        elif half == "AM" and h == 12:
            h = 0
    try:
        return datetime(y, mo, d, h, mi, s)  # naive: the exporting PC's zone (source.tz)
    except ValueError:
        raise ValueError(f"impossible date and time {text[:40]!r}") from None


def _channel(kind: str, provider: str, eid: int) -> str | None:
    if kind == "eventlog":
        return "Security" if eid in (1100, 1101, 1102) else "System"
    if kind == "powershell":
        low = provider.lower()
        return "Windows PowerShell" if low == "powershell" else f"{provider}/Operational"
    return _CHANNELS.get(kind)


def _pairs(message: str) -> Iterator[tuple[str, str]]:
    """``(label, value)`` for every ``Label: value`` line of a rendered message."""
    for raw in message.splitlines():
        label, sep, value = raw.replace("：", ":").partition(":")
        if sep and label.strip():
            yield label, value.strip()


def _scrape(message: str, kind: str, eid: int) -> dict[str, Any]:
    if kind == "sysmon":
        # Sysmon renders its EventData names verbatim ("Image: C:\\...")
        out: dict[str, Any] = {}
        for label, value in _pairs(message):
            out.setdefault(label.strip(), value)
        return out
    data: dict[str, Any] = {}
    seen: dict[str, int] = {}
    for label, value in _pairs(message):
        what = _LABELS.get(" ".join(label.split()).casefold())
        if what is None:
            continue
        if what in _ACCOUNT:
            # first account block = Subject, second = New Logon / Target
            n = seen.get(what, 0)
            seen[what] = n + 1
            if n > 1:
                continue
            names = _ACCOUNT[what]
            name = names[1] if (n == 1 or eid in _TARGET_FIRST) else names[0]
            data.setdefault(name, value)
        elif what == "service_file":
            data.setdefault("ImagePath" if kind == "scm" else "ServiceFileName", value)
        elif what == "service_account":
            data.setdefault("AccountName" if kind == "scm" else "ServiceAccount", value)
        else:
            data.setdefault(what, value)
    if data.get("ObjectType") in ("ファイル", "file"):
        data["ObjectType"] = "File"
    return data


def _as_csv(fields: list[str]) -> str:
    """A rejected row as CSV again (the reader does not keep the raw text)."""
    out = io.StringIO()
    csv.writer(out, lineterminator="\r\n").writerow(fields)
    return out.getvalue()


def _first_line(message: str) -> str | None:
    for raw in message.splitlines():
        if raw.strip():
            return raw.strip()
    return None


FORMAT = Format(
    name="eventviewer_csv",
    dataset="windows.eventlog",
    description="Event Viewer 'Save as CSV' exports (Japanese or English), fields from the message",
    sniff=sniff,
    parse=parse,
    fields=FIELDS,
)
