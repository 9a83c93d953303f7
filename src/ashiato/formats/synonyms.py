"""Header synonyms, user mapping files and time reading for table exports.

The synonym table says which vendor column name means which event-schema column. It is
used by ``generic_table`` (any vendor's CSV/TSV/JSON-lines export) and, with its own
table, by ``trendmicro``. Names are compared after :func:`header_key` folds away case,
width (NFKC: full-width ``ＩＰ`` = ``IP``), spaces, underscores, hyphens and dots, so
``Source IP``, ``source_ip``, ``source.ip`` and ``SourceIP`` are one name.

A user mapping file (:func:`load_mapping`, documented in ``docs/mapping.md``) names
columns the table doesn't cover and beats it.

:class:`TimeReader` reads the many ways vendors write a time (ISO 8601, ``YYYY/MM/DD``,
``MM/DD/YYYY`` or ``DD/MM/YYYY``, Japanese ``年月日``, month names, epochs).

Time columns get three pseudo targets: ``@timestamp`` (a full date and time), ``@date``
and ``@time`` (a date column and a time-of-day column that are combined). Within one
target the earlier name wins when a header has several (``event time`` beats ``date``);
the losers go to ``extra``.
"""

from __future__ import annotations

import json
import re
import tomllib
import unicodedata
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta, timezone
from email.utils import parsedate_to_datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from ashiato.errors import FormatError
from ashiato.schema import FIELDS

TIME, DATE, CLOCK = "@timestamp", "@date", "@time"

# target -> names, most specific first
SYNONYMS: dict[str, tuple[str, ...]] = {
    TIME: (
        "@timestamp", "timestamp", "event time", "eventtime", "time generated", "generated",
        "datetime", "date/time", "date time", "date-time", "log time", "time stamp",
        "日時", "発生日時", "検出日時", "受信日時", "送信日時", "受付日時", "生成日時",
        "記録日時", "ts",
    ),
    DATE: ("date", "日付", "年月日"),
    CLOCK: ("time", "時刻", "時間"),
    "host.hostname": (
        "hostname", "host", "host.name", "computer", "computer name", "computername",
        "endpoint", "device", "device name", "machine", "machine name", "client name",
        "ホスト名", "ホスト", "コンピュータ名", "コンピューター名", "コンピュータ", "端末名",
        "端末", "エンドポイント", "デバイス名",
    ),
    "host.ip": ("ip address", "ip", "host ip", "endpoint ip", "device ip", "IPアドレス"),
    "host.mac": ("mac address", "mac", "MACアドレス"),
    "user.name": (
        "user", "username", "user name", "account", "account name", "login",
        "ユーザ", "ユーザー", "ユーザ名", "ユーザー名", "アカウント", "アカウント名",
    ),
    "user.domain": ("user domain", "account domain", "ユーザドメイン"),
    "source.ip": (
        "src", "src ip", "srcip", "source ip", "source address", "src addr", "client ip",
        "client address", "c-ip", "id.orig_h", "送信元IP", "送信元IPアドレス", "送信元アドレス",
    ),
    "destination.ip": (
        "dst", "dst ip", "dstip", "dest", "dest ip", "destination ip", "destination address",
        "dst addr", "server ip", "s-ip", "id.resp_h", "宛先IP", "宛先IPアドレス", "送信先IP",
        "送信先IPアドレス", "送信先アドレス",
    ),
    "source.port": (
        "src port", "srcport", "sport", "source port", "client port", "id.orig_p", "送信元ポート",
    ),
    "destination.port": (
        "dst port", "dstport", "dport", "dest port", "destination port", "server port", "id.resp_p",
        "宛先ポート", "送信先ポート",
    ),
    "url.original": ("url", "uri", "request url", "url.original", "アクセス先", "アクセス先URL"),
    "destination.domain": ("domain", "destination domain", "dest domain", "ドメイン", "ドメイン名"),
    "event.action": (
        "action", "result", "disposition", "verdict", "action taken", "結果", "処理",
        "アクション", "処理結果", "対処", "措置",
    ),
    "email.from.address": (
        "from", "sender", "sender address", "mail from", "envelope from", "from address",
        "送信者", "差出人", "送信者アドレス", "送信元メールアドレス",
    ),
    "email.to.address": (
        "to", "recipient", "recipients", "rcpt", "rcpt to", "recipient address", "to address",
        "受信者", "宛先", "宛先アドレス", "受信者アドレス",
    ),
    "email.subject": ("subject", "件名", "題名", "メール件名"),
    "email.attachments": (
        "attachment", "attachments", "attachment name", "attachment names", "file attachment",
        "添付ファイル", "添付ファイル名", "添付",
    ),
    "email.message_id": ("message id", "messageid", "msgid", "internet message id", "メッセージID"),
    "file.path": (
        "file path", "filepath", "full path", "path", "file", "file name", "filename",
        "ファイルパス", "パス", "ファイル", "ファイル名",
    ),
    "file.hash": ("sha256", "sha1", "md5", "hash", "file hash", "ハッシュ", "ハッシュ値"),
    "rule.name": (
        "threat", "threat name", "virus", "virus name", "malware", "malware name", "detection",
        "detection name", "signature", "脅威", "脅威名", "ウイルス名", "検出名", "ウイルス",
        "不正プログラム名",
    ),
    "rule.category": ("category", "threat type", "カテゴリ", "カテゴリー", "分類"),
    "file.size": ("size", "bytes", "file size", "サイズ", "ファイルサイズ"),
    "message": (
        "message", "msg", "description", "details", "detail", "詳細", "説明", "メッセージ", "内容",
    ),
    "event.code": ("event id", "eventid", "event code", "イベントID"),
    "event.severity": ("severity", "重要度", "深刻度"),
    "process.name": ("process name", "process", "image name", "プロセス名"),
    "process.executable": ("image", "process path", "executable", "プロセスパス"),
    "process.command_line": ("command line", "commandline", "cmdline", "コマンドライン"),
    "process.pid": ("pid", "process id", "プロセスID"),
    "http.request.method": ("method", "http method", "request method"),
    "http.response.status_code": ("status code", "http status", "sc-status"),
    "user_agent.original": ("user agent", "useragent", "ユーザーエージェント"),
    "observer.name": ("observer", "sensor", "appliance", "gateway"),
}  # fmt: skip

_FOLD = str.maketrans("", "", " _-.\t\u3000")
SCHEMA_NAMES = frozenset(f.name for f in FIELDS)


def header_key(name: str) -> str:
    """The comparison key of a header: NFKC, case-folded, without spaces, ``_``, ``-``, ``.``."""
    return unicodedata.normalize("NFKC", name.strip().lstrip("\ufeff")).casefold().translate(_FOLD)


Lookup = dict[str, tuple[str, int]]


def build_lookup(table: dict[str, tuple[str, ...]], schema_names: bool = True) -> Lookup:
    """Folded header -> (target, priority); a lower priority wins within a target.

    With ``schema_names``, a column already named after a schema column (JSON from
    ECS-speaking tools: ``source.ip``, ``@timestamp``) maps to it as well.
    """
    out: Lookup = {}
    for target, names in table.items():
        for prio, name in enumerate(names):
            out.setdefault(header_key(name), (target, prio))
    if schema_names:
        for name in SCHEMA_NAMES - {"extra", "evidence_id", "record", "event.dataset"}:
            out.setdefault(header_key(name), (name, 50))
    return out


LOOKUP: Lookup = build_lookup(SYNONYMS)


# -- user mapping files (``--mapping FILE``; docs/mapping.md) ------------------------------

_MAPPING_KEYS = frozenset(
    {"time", "time_format", "tz", "fields", "dataset", "set", "day_first", "delimiter", "synonyms"}
)
_NOT_MAPPABLE = frozenset({"@timestamp", "extra", "evidence_id", "record"})
_PREFIXES = frozenset(n.split(".", 1)[0] for n in SCHEMA_NAMES if "." in n)


@dataclass(frozen=True)
class Mapping:
    """A user's description of one export's columns; it beats the synonym table."""

    fields: dict[str, str]  # target column (schema name or extra key) -> header
    time: tuple[str, ...] = ()  # one header, or several joined with a space (date + time)
    time_format: str | None = None  # strptime format; %z honoured
    tz: str | None = None  # zone of naive times (else the source's)
    dataset: str | None = None
    constants: dict[str, str] = field(default_factory=dict)  # "set": fixed values
    day_first: bool | None = None
    delimiter: str | None = None
    synonyms: bool = True  # still map columns the file doesn't name


def load_mapping(path: object) -> Mapping | None:
    """Read and check a JSON or TOML mapping file; None when no file was given."""
    if path is None or path == "":
        return None
    p = Path(str(path))
    try:
        text = p.read_text("utf-8-sig")
    except OSError as exc:
        raise FormatError(f"mapping file {p}: can't read it ({exc.strerror})") from exc
    try:
        if text.lstrip().startswith("{"):
            data = json.loads(text)
        else:
            data = tomllib.loads(text)
    except (ValueError, tomllib.TOMLDecodeError) as exc:
        raise FormatError(f"mapping file {p}: neither valid JSON nor TOML ({exc})") from exc
    if not isinstance(data, dict):
        raise FormatError(f"mapping file {p}: expected an object/table at the top")
    return _check(p, data)


def _check(p: Path, data: dict[str, Any]) -> Mapping:
    def fail(msg: str) -> FormatError:
        return FormatError(f"mapping file {p}: {msg} (see docs/mapping.md)")

    unknown = set(data) - _MAPPING_KEYS
    if unknown:
        raise fail(f"unknown key(s) {sorted(unknown)}; known: {sorted(_MAPPING_KEYS)}")
    fields = data.get("fields", {})
    consts = data.get("set", {})
    for name, table in (("fields", fields), ("set", consts)):
        if not isinstance(table, dict) or not all(
            isinstance(k, str) and isinstance(v, str) for k, v in table.items()
        ):
            raise fail(f'"{name}" must map column names to strings')
        for target in table:
            if target in _NOT_MAPPABLE:
                raise fail(f'"{target}" can\'t be set in "{name}" (use "time" for the time)')
            if target not in SCHEMA_NAMES and target.split(".", 1)[0] in _PREFIXES:
                raise fail(f'"{target}" in "{name}" is not an event-schema column (docs/schema.md)')
    time = data.get("time", ())
    if isinstance(time, str):
        time = (time,)
    if not isinstance(time, list | tuple) or not all(isinstance(t, str) for t in time):
        raise fail('"time" must be a header name or a list of header names')
    for key in ("time_format", "tz", "dataset", "delimiter"):
        if key in data and not isinstance(data[key], str):
            raise fail(f'"{key}" must be a string')
    for key in ("day_first", "synonyms"):
        if key in data and not isinstance(data[key], bool):
            raise fail(f'"{key}" must be true or false')
    tz = data.get("tz")
    if tz is not None:
        try:
            ZoneInfo(tz)
        except (ZoneInfoNotFoundError, ValueError) as exc:
            raise fail(f"unknown time zone {tz!r}; use an IANA name such as Asia/Tokyo") from exc
    delim = data.get("delimiter")
    if delim is not None:
        delim = {"tab": "\t", "\\t": "\t"}.get(delim, delim)
        if len(delim) != 1:
            raise fail('"delimiter" must be one character (or "tab")')
    dataset = data.get("dataset")
    if dataset is not None and not re.fullmatch(r"[a-z0-9][a-z0-9_.-]{0,63}", dataset):
        raise fail('"dataset" must look like vendor.product (lower case, digits, . _ -)')
    return Mapping(
        fields=dict(fields),
        time=tuple(time),
        time_format=data.get("time_format"),
        tz=tz,
        dataset=dataset,
        constants=dict(consts),
        day_first=data.get("day_first"),
        delimiter=delim,
        synonyms=data.get("synonyms", True),
    )


# -- reading time values ---------------------------------------------------------------------------

_YMD = re.compile(r"(\d{4})\s*[-/.年]\s*(\d{1,2})\s*[-/.月]\s*(\d{1,2})\s*日?")
DMY = re.compile(r"(\d{1,2})[-/.](\d{1,2})[-/.](\d{4})")
_HMS = re.compile(
    r"(?:T|\s*)(午前|午後)?\s*(\d{1,2})\s*[:時]\s*(\d{2})(?:\s*[:分]\s*(\d{2})(?:[.,](\d{1,9}))?秒?)?"
    r"\s*([AaPp]\.?[Mm]\.?)?\s*(Z|UTC|GMT|JST|[+-]\d{2}:?\d{2})?$"
)
_MONTH_FIRST = re.compile(r"(?:[A-Za-z]{3},?\s+)?([A-Za-z]{3})[a-z]*\.?\s+(\d{1,2}),?\s+(\d{4})")
_DAY_FIRST = re.compile(r"(?:[A-Za-z]{3},?\s+)?(\d{1,2})[-\s]([A-Za-z]{3})[a-z]*[-\s,]+(\d{4})")
_MONTH_NAMES = ("jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec")
_MONTHS = {m: i for i, m in enumerate(_MONTH_NAMES, 1)}
_ZONES = {"Z": UTC, "UTC": UTC, "GMT": UTC, "JST": timezone(timedelta(hours=9))}
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_EPOCH_SCALE = {10: 1, 13: 1_000, 16: 1_000_000}


class TimeReader:
    """Turns one time string into a datetime, or None.

    The result is naive when the text carried no offset (the caller reads it in
    ``tz``: vectorised per batch) and aware when it did (``Z``, ``+09:00``, epochs).
    """

    def __init__(self, fmt: str | None = None, day_first: bool | None = None):
        self.fmt = fmt
        self.day_first = day_first
        self._last: tuple[str, datetime | None] = ("", None)

    def __call__(self, value: str) -> datetime | None:
        if value == self._last[0]:
            return self._last[1]
        v = value.strip()
        dt: datetime | None = None
        if len(v) == 19 and v[10] == " " and v[4] == v[7] and v[4] in "/-" and not self.fmt:
            try:  # the common 'YYYY/MM/DD HH:MM:SS' without regular expressions
                dt = datetime(int(v[:4]), int(v[5:7]), int(v[8:10]),
                              int(v[11:13]), int(v[14:16]), int(v[17:19]))  # fmt: skip
            except ValueError:
                dt = None
        if dt is None:
            try:
                dt = self._parse(v)
            except (ValueError, OverflowError):
                dt = None
        self._last = (value, dt)
        return dt

    def _parse(self, v: str) -> datetime | None:
        if self.fmt:
            return datetime.strptime(v, self.fmt)
        if v.isdigit() or (v[:1].isdigit() and v.replace(".", "", 1).isdigit()):
            return _epoch(v)
        if len(v) >= 10 and v[4] == "-" and v[7] == "-":
            try:
                return datetime.fromisoformat(v)
            except ValueError:
                pass
        m = _YMD.match(v)
        if m:
            y, mo, d = int(m[1]), int(m[2]), int(m[3])
        elif m := DMY.match(v):
            a, b, y = int(m[1]), int(m[2]), int(m[3])
            d, mo = (a, b) if self.day_first else (b, a)
        elif m := _MONTH_FIRST.match(v):
            mo, d, y = _MONTHS.get(m[1].lower(), 0), int(m[2]), int(m[3])
        elif m := _DAY_FIRST.match(v):
            d, mo, y = int(m[1]), _MONTHS.get(m[2].lower(), 0), int(m[3])
        else:
            return _rfc2822(v)
        rest = v[m.end() :]
        if not rest.strip():
            return datetime(y, mo, d)
        t = _HMS.match(rest)
        if t is None:
            return _rfc2822(v)
        hour = int(t[2])
        ampm = (t[6] or "").lower()[:1] or {"午前": "a", "午後": "p"}.get(t[1] or "", "")
        if ampm and not 1 <= hour <= 12:
            return None
        if ampm:
            hour = hour % 12 + (12 if ampm == "p" else 0)
        micro = int((t[5] or "0")[:6].ljust(6, "0"))
        out = datetime(y, mo, d, hour, int(t[3]), int(t[4] or 0), micro)
        if t[7]:
            out = out.replace(tzinfo=_zone(t[7]))
        return out


def _epoch(v: str) -> datetime | None:
    if "." in v:
        return datetime.fromtimestamp(float(v), UTC)
    scale = _EPOCH_SCALE.get(len(v))
    if scale is not None:
        return _EPOCH + timedelta(microseconds=int(v) * 1_000_000 // scale)
    if len(v) == 8:
        return datetime.strptime(v, "%Y%m%d")
    if len(v) == 14:
        return datetime.strptime(v, "%Y%m%d%H%M%S")
    return None


def _zone(name: str) -> timezone | ZoneInfo:
    if name in _ZONES:
        return _ZONES[name]
    sign = -1 if name[0] == "-" else 1
    digits = name[1:].replace(":", "")
    return timezone(sign * timedelta(hours=int(digits[:2]), minutes=int(digits[2:])))


def _rfc2822(v: str) -> datetime | None:
    try:
        return parsedate_to_datetime(v)
    except (TypeError, ValueError, IndexError):
        return None


def slashed_order(value: str) -> bool | None:
    """True if this ``a/b/yyyy`` value proves day-first, False if month-first, else None."""
    m = DMY.match(value.strip())
    if m is None:
        return None
    if int(m[1]) > 12:
        return True
    if int(m[2]) > 12:
        return False
    return None
