"""Trend Micro OfficeScan / Apex One (ウイルスバスター Corp.) virus and spyware log CSV.

The console's "CSV形式ですべてエクスポート" and the Apex Central data views write localised
headers whose set and order vary by version and log type (domain.md 3.15), so columns
are mapped by **header name** (Japanese and English), reusing the table reader of
:mod:`ashiato.formats.generic_table` with a Trend-specific synonym table:

- ``@timestamp``: ``生成``/``Generated`` (agent time) first, then ``日時``/``Date/Time``, then
  ``受信日時``/``Received`` (server receive time: an agent offline for days uploads late);
  the time not used stays in ``extra``. Naive local times in the source's zone.
- ``エンドポイント``/``Endpoint`` (else ``製品のエンティティ/エンドポイント``) -> host.hostname;
  ``IPアドレス``/``製品/エンドポイントIP`` -> host.ip; ``MACアドレス`` -> host.mac;
  ``ユーザ (アカウント)``/``User`` -> user.name (``DOMAIN\\user`` split);
  ``セキュリティ上の脅威``/``ウイルス/不正プログラム``/``スパイウェア/グレーウェア`` -> rule.name;
  ``ファイルパス`` (+ ``ファイル`` when the path is only the folder) -> file.path;
  ``詳細`` -> message; ``管理サーバのエンティティ名`` -> observer.name.
- ``結果``/``Result`` -> event.action as logged (English lower-cased) plus
  ``extra["trendmicro.action_en"]`` (deleted, quarantined, cleaned, renamed,
  access-denied, passed, or ``<verb>-failed``) and event.outcome (success, failure,
  unknown for "passed").
- ``検索の種類``/``Scan Type`` -> ``extra["trendmicro.scan_type"]`` as logged and
  ``trendmicro.scan_type_en`` (real-time, manual, scheduled, scan-now);
  ``ドメイン``/``Domain`` (the OfficeScan agent group, not a Windows domain) ->
  ``extra["trendmicro.domain"]``. Other columns go to ``extra`` under their header.
- event.category malware, observer.type antivirus, observer.vendor trendmicro.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from functools import lru_cache

import pyarrow as pa

from ashiato.formats.base import Format, Sample, Source
from ashiato.formats.generic_table import Profile, Row, find_header, parse_table
from ashiato.formats.synonyms import TIME, build_lookup
from ashiato.formats.tabular import split_domain_user

_TABLE: dict[str, tuple[str, ...]] = {
    TIME: (
        "生成", "generated", "生成日時", "日時", "date/time", "datetime", "検出日時", "発生日時",
        "受信日時", "received",
    ),
    "host.hostname": (
        "エンドポイント", "endpoint", "コンピュータ", "computer",
        "製品のエンティティ/エンドポイント", "product entity/endpoint",
    ),
    "host.ip": (
        "IPアドレス", "ip address", "製品/エンドポイントIP", "product/endpoint ip", "endpoint ip",
    ),
    "host.mac": ("MACアドレス", "mac address"),
    "user.name": (
        "ユーザ (アカウント)", "user (account)", "ユーザ", "ユーザー", "user", "ログオンユーザ",
    ),
    "rule.name": (
        "セキュリティ上の脅威", "security threat", "ウイルス/不正プログラム", "virus/malware",
        "スパイウェア/グレーウェア", "spyware/grayware", "脅威名", "threat name",
    ),
    "file.path": ("ファイルパス", "file path", "感染ファイルのパス", "infected file path"),
    "trendmicro.file": ("ファイル", "file", "感染ファイル", "infected file"),
    "event.action": ("結果", "result", "action", "処理結果", "action result"),
    "trendmicro.scan_type": ("検索の種類", "scan type"),
    "trendmicro.domain": ("ドメイン", "domain"),
    "message": ("詳細", "details"),
    "observer.name": (
        "管理サーバのエンティティ名", "managing server entity name", "managing server",
    ),
}  # fmt: skip

# vendor wording -> normalised English action
_ACTIONS: tuple[tuple[str, str], ...] = (
    ("アクセス拒否", "access-denied"), ("拡張子変更", "renamed"), ("名前の変更", "renamed"),
    ("駆除済み", "cleaned"), ("駆除", "cleaned"), ("隔離", "quarantined"), ("削除", "deleted"),
    ("処理不要", "passed"), ("放置", "passed"),
    ("access denied", "access-denied"), ("deny access", "access-denied"),
    ("renamed", "renamed"), ("rename", "renamed"), ("cleaned", "cleaned"), ("clean", "cleaned"),
    ("quarantined", "quarantined"), ("quarantine", "quarantined"), ("deleted", "deleted"),
    ("delete", "deleted"), ("no action required", "passed"), ("passed", "passed"),
    ("pass", "passed"),
)  # fmt: skip
_FAILED = ("できません", "失敗", "不可", "unable", "failed", "could not", "cannot")
_SENTENCE = re.compile(r"[.。;；]")
_VERB = {"access-denied": "deny", "renamed": "rename", "cleaned": "clean",
         "quarantined": "quarantine", "deleted": "delete", "passed": "pass"}  # fmt: skip
_SCANS = (
    ("リアルタイム", "real-time"), ("real-time", "real-time"), ("realtime", "real-time"),
    ("予約", "scheduled"), ("scheduled", "scheduled"), ("手動", "manual"), ("manual", "manual"),
    ("今すぐ", "scan-now"), ("scan now", "scan-now"),
)  # fmt: skip


def _last_action(text: str) -> str | None:
    """The action word that comes last in ``text`` (the longest one where two start together)."""
    best: tuple[int, int, str] | None = None
    for word, norm in _ACTIONS:
        pos = text.rfind(word)
        if pos >= 0 and (best is None or (pos, len(word)) > best[:2]):
            best = (pos, len(word), norm)
    return best[2] if best else None


@lru_cache(maxsize=4096)  # a log holds a handful of distinct result texts
def normalise_action(result: str) -> tuple[str | None, str]:
    """(English action, outcome) for a Trend result such as ``隔離`` or ``Unable to clean``.

    A second action after a failed first one ("駆除できません。隔離", "Unable to clean
    file. File quarantined.") is what happened in the end, so the last sentence that
    names an action decides; a failure word in that sentence ("隔離できません", "could
    not delete") makes it ``<verb>-failed``.
    """
    for sentence in reversed(_SENTENCE.split(result.lower())):
        action = _last_action(sentence)
        if action is None:
            continue
        if any(w in sentence for w in _FAILED):
            return f"{_VERB[action]}-failed", "failure"
        return action, "unknown" if action == "passed" else "success"
    return None, "unknown"


@lru_cache(maxsize=1024)
def _scan_type(text: str) -> str | None:
    low = text.lower()
    return next((norm for word, norm in _SCANS if word in low), None)


def _join_file(row: Row, extra: Row) -> None:
    path: str | None = row.get("file.path")
    name: str | None = row.pop("trendmicro.file", None)
    if not name:
        return
    if not path:
        row["file.path"] = name
        return
    base = path.replace("/", "\\").rsplit("\\", 1)[-1]
    if path.endswith(("\\", "/")):
        row["file.path"] = path + name
    elif base != name and "." not in base and "." in name:
        row["file.path"] = path + ("/" if "/" in path and "\\" not in path else "\\") + name
    elif base != name:
        extra["trendmicro.file"] = name  # e.g. the member name inside an archive


def _finish(row: Row, extra: Row) -> None:
    result = row.get("event.action")
    if result:
        action, outcome = normalise_action(result)
        if action:
            extra["trendmicro.action_en"] = action
        row["event.outcome"] = outcome
        if result.isascii():
            row["event.action"] = result.lower()
    _join_file(row, extra)
    for key in ("trendmicro.scan_type", "trendmicro.domain"):
        if key in row:
            extra[key] = row.pop(key)
    scan = extra.get("trendmicro.scan_type")
    if scan:
        norm = _scan_type(str(scan))
        if norm:
            extra["trendmicro.scan_type_en"] = norm
    split_domain_user(row)


_PROFILE = Profile(
    build_lookup(_TABLE, schema_names=False),  # only Trend's own column names
    constants={
        "event.category": "malware",
        "observer.type": "antivirus",
        "observer.vendor": "trendmicro",
    },
    finish=_finish,
)


def sniff(sample: Sample) -> bool:
    found = find_header(sample.first_lines(12), _PROFILE)
    return found is not None and any(t == "rule.name" for _, t in found[2].mapped)


def parse(source: Source) -> Iterator[pa.RecordBatch]:
    return parse_table(source, _PROFILE)


FORMAT = Format(
    name="trendmicro",
    dataset="trendmicro.av",
    description="Trend Micro OfficeScan / Apex One (ウイルスバスター Corp.) virus/spyware log "
    "CSV export, Japanese or English headers",
    sniff=sniff,
    parse=parse,
    fields=(
        "@timestamp", "host.hostname", "host.ip", "host.mac", "user.name", "user.domain",
        "rule.name", "file.path", "event.action", "event.outcome", "event.category", "message",
        "observer.name", "observer.type", "observer.vendor",
    ),
)  # fmt: skip
