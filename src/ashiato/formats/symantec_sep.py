"""Symantec Endpoint Protection risk logs: CSV exports and the client's own AV log.

**CSV exports** (SEPM console Monitors > Logs > Risk, reports, or the client's log
viewer export). Column sets differ by version and export path, so columns are mapped by **header
name**, reusing the table reader of :mod:`ashiato.formats.generic_table` with a
SEP-specific synonym table:

- ``@timestamp``: ``Event Time`` / ``Date/Time`` / ``Detection Time``, else ``Date`` (+
  ``Time`` when the date column has no time of day). Local time of the console or
  client, without offset: read in the source's zone. ``Inserted`` / ``Time Received``
  (when the manager stored the event: an offline client uploads late) stay in extra.
- ``Computer Name``/``Computer`` -> host.hostname; ``IP Address`` -> host.ip; ``MAC
  Address`` -> host.mac; ``User Name``/``User`` -> user.name (``DOMAIN\\user`` split);
  ``Risk Name``/``Virus Name`` -> rule.name; ``Risk Type``/``Category`` ->
  rule.category; ``File Path``/``Path`` -> file.path; ``SHA-256`` -> file.hash;
  ``Event Description``/``Description`` -> message; ``Server``/``Server Name`` ->
  observer.name.
- ``Actual Action``/``Action Taken`` -> event.action as logged (lower case) and
  event.outcome: failure when it says the action failed (``Quarantine failed``,
  ``Clean failed``, ``Unable to ...``), unknown for ``Left alone`` / ``No action`` /
  ``Pending ...``, success otherwise (quarantined, cleaned, deleted, blocked, access
  denied...). ``Requested Action``, ``Secondary Action``, ``Source`` (which scan
  found it) and every other column go to extra under their header.

**Client AV log** (``...\\Symantec Endpoint Protection\\...\\Logs\\AV\\*.Log``, also Symantec
AntiVirus Corporate Edition): headerless comma-separated lines whose columns are fixed
by position: 0 time as six hex octets (years since 1970, month from 0, day, hour,
minute, second: ``2A0A1E0A2F1D`` = 2012-11-30 10:47:29, the client's local time, read
in the source's zone), 1 event, 2 category, 3 logger (which scan), 4 computer, 5 user,
6 risk name, 7 file, 8/9 requested and secondary action, 10 action taken, 13
description, 34 address, 36 NT domain, 37 MAC address, 38 version. The action
codes are named (1 quarantine, 3 delete, 4 leave alone, 5 clean, 19 clean by
deletion, 20 access denied, 12 error, 23 all actions failed...) -> event.action and
event.outcome as for the exports; event, category and logger numbers and names go to
extra (``sep.event``, ``sep.category``, ``sep.logger``); event.code is the event number.
Lines whose time or numbers don't read are rejected.

event.category malware (for the client log: lines that name a risk or are in the
infection category), observer.type antivirus, observer.vendor symantec.
"""

from __future__ import annotations

import csv
import re
from collections.abc import Iterator
from datetime import datetime

import pyarrow as pa

from ashiato.formats.base import Format, Rows, Sample, Source
from ashiato.formats.generic_table import Profile, Row, find_header, parse_table
from ashiato.formats.synonyms import CLOCK, DATE, TIME, build_lookup, header_key
from ashiato.formats.tabular import split_domain_user

_TABLE: dict[str, tuple[str, ...]] = {
    TIME: ("event time", "date/time", "date and time", "detection time", "time detected"),
    DATE: ("date",),
    CLOCK: ("time",),
    "host.hostname": ("computer name", "computer", "host name", "hostname", "endpoint"),
    "host.ip": ("ip address", "ip", "computer ip address"),
    "host.mac": ("mac address",),
    "user.name": ("user name", "user", "logged on user", "current user"),
    "rule.name": ("risk name", "virus name", "risk", "threat name", "threat"),
    "rule.category": ("risk type", "category", "risk category"),
    "file.path": ("file path", "path", "file", "location"),
    "file.hash": ("sha-256", "sha256", "application hash", "hash"),
    "event.action": ("actual action", "action taken", "action"),
    "message": ("event description", "description"),
    "observer.name": ("server", "server name", "sepm server", "management server"),
}
_RISK = {header_key(h) for h in ("risk name", "virus name")}
_ACTION = {header_key(h) for h in ("actual action", "action taken", "requested action")}
_FAILED = ("fail", "unable", "could not", "cannot")
_UNDECIDED = ("left alone", "no action", "pending", "none", "logged only")


def _finish(row: Row, extra: Row) -> None:
    action = row.get("event.action")
    if action:
        low = action.lower()
        row["event.action"] = low
        if any(w in low for w in _FAILED):
            row["event.outcome"] = "failure"
        elif any(w in low for w in _UNDECIDED):
            row["event.outcome"] = "unknown"
        else:
            row["event.outcome"] = "success"
    split_domain_user(row)


_PROFILE = Profile(
    build_lookup(_TABLE, schema_names=False),  # only SEP's own column names
    constants={
        "event.category": "malware",
        "observer.type": "antivirus",
        "observer.vendor": "symantec",
    },
    finish=_finish,
)


# -- the client's AV log ----------------------------------------------------------------

_LOG_LINE = re.compile(r"^[0-9A-Fa-f]{12},\d{1,3},[1-4],\d{1,3},")
ACTIONS = {
    1: "quarantine", 2: "rename", 3: "delete", 4: "leave alone", 5: "clean",
    6: "remove macros", 7: "save file as", 8: "send to backend", 9: "restore from quarantine",
    11: "undo action", 12: "error", 13: "backup to quarantine", 14: "pending analysis",
    15: "partially fixed", 16: "terminate process required", 17: "exclude from scanning",
    18: "reboot processing", 19: "clean by deletion", 20: "access denied",
    21: "process terminated", 22: "no repair available", 23: "all actions failed",
    98: "suspicious", 99: "details pending", 100: "ids block", 101: "firewall violation",
    102: "allowed by user",
}  # fmt: skip
EVENTS = {
    2: "scan stop", 3: "scan start", 4: "pattern update", 5: "infection",
    6: "file not open", 7: "load pattern", 10: "checksum", 11: "trap", 12: "config change",
    13: "shutdown", 14: "startup", 16: "pattern download", 17: "too many viruses",
    18: "forwarded to quarantine server", 19: "scan delivered", 20: "backup",
    21: "scan abort", 22: "auto-protect load error", 23: "auto-protect load",
    24: "auto-protect unload", 25: "remove client", 26: "scan delayed", 27: "scan restart",
    45: "tamper protection", 46: "anomaly start", 47: "detection action taken",
    48: "remediation action pending", 49: "remediation action failed",
    50: "remediation action successful", 51: "anomaly finish",
}  # fmt: skip
CATEGORIES = {1: "infection", 2: "summary", 3: "pattern", 4: "security"}
LOGGERS = {
    0: "scheduled scan", 1: "manual scan", 2: "auto-protect", 3: "integrity shield",
    6: "console", 7: "vpdown", 8: "system", 9: "startup scan", 10: "idle scan",
    11: "defwatch", 12: "licensing", 13: "manual quarantine", 14: "symprotect",
    15: "reboot processing", 16: "bash", 17: "symelam", 18: "powereraser", 19: "eoc scan",
    100: "local end", 101: "client", 102: "forwarded",
}  # fmt: skip
_DONE = frozenset({1, 2, 3, 5, 6, 13, 15, 19, 20, 21, 100, 101})
_UNDONE = frozenset({12, 22, 23})


def _hex_time(text: str) -> datetime | None:
    if len(text) != 12:
        return None
    try:
        y, mo, d, h, mi, sec = (int(text[i : i + 2], 16) for i in range(0, 12, 2))
        return datetime(1970 + y, mo + 1, d, h, mi, sec)
    except ValueError:
        return None


def _number(fields: list[str], i: int) -> int | None:
    v = fields[i].strip() if i < len(fields) else ""
    return int(v) if v.isdigit() else None


def _text(fields: list[str], i: int) -> str | None:
    v = fields[i].strip() if i < len(fields) else ""
    return v or None


def _log_row(fields: list[str]) -> Row | None:
    when = _hex_time(fields[0])
    event, cat, logger = (_number(fields, i) for i in (1, 2, 3))
    if when is None or event is None or cat is None:
        return None
    risk = _text(fields, 6)
    row: Row = {
        "@timestamp": when,
        "event.code": str(event),
        "host.hostname": _text(fields, 4),
        "rule.name": risk,
        "file.path": _text(fields, 7),
        "message": _text(fields, 13),
        "host.mac": _text(fields, 37),
        "observer.type": "antivirus",
        "observer.vendor": "symantec",
        "sep.event": EVENTS.get(event, str(event)),
        "sep.category": CATEGORIES.get(cat, str(cat)),
        "sep.logger": LOGGERS.get(logger, str(logger)) if logger is not None else None,
        "nt_domain": _text(fields, 36),
        "version": _text(fields, 38),
    }
    address = _text(fields, 34)
    if address and re.fullmatch(r"[0-9.]+|[0-9a-fA-F:]+", address):
        row["host.ip"] = address
    user = _text(fields, 5)
    if user:
        row["user.name"] = user
    if risk or cat == 1:
        row["event.category"] = "malware"
    for key, i in (("requested_action", 8), ("secondary_action", 9)):
        code = _number(fields, i)
        if code is not None:
            row[key] = ACTIONS.get(code, str(code))
    taken = _number(fields, 10)
    if taken is not None:
        row["event.action"] = ACTIONS.get(taken, str(taken))
        row["event.outcome"] = (
            "success" if taken in _DONE else "failure" if taken in _UNDONE else "unknown"
        )
    return row


def _parse_log(source: Source) -> Iterator[pa.RecordBatch]:
    rows = Rows(source)
    for number, line in source.lines():
        if not line.strip():
            continue
        fields = next(csv.reader([line]), [])
        row = _log_row(fields) if len(fields) >= 14 else None
        if row is None:
            reason = (
                f"expected at least 14 comma-separated fields, got {len(fields)}"
                if len(fields) < 14
                else "time (12 hex digits), event or category does not read"
            )
            source.reject(number, reason, line)
            continue
        batch = rows.add(number, row)
        if batch is not None:
            yield batch
    batch = rows.flush()
    if batch is not None:
        yield batch


def _is_client_log(lines: list[str]) -> bool:
    hits = sum(1 for ln in lines if _LOG_LINE.match(ln.lstrip("\ufeff")))
    return bool(lines) and hits >= max(1, (len(lines) + 1) // 2)


# -- the format --------------------------------------------------------------------------


def sniff(sample: Sample) -> bool:
    if _is_client_log(sample.first_lines(10)):
        return True
    found = find_header(sample.first_lines(12), _PROFILE)
    if found is None:
        return False
    headers = {header_key(h) for h, _ in found[2].mapped} | {header_key(h) for h in found[2].extra}
    return bool(headers & _RISK) and bool(headers & _ACTION)


def parse(source: Source) -> Iterator[pa.RecordBatch]:
    head = [ln for _, ln in zip(range(10), (ln for _, ln in source.lines()), strict=False)]
    if _is_client_log([ln for ln in head if ln.strip()]):
        return _parse_log(source)
    return parse_table(source, _PROFILE)


FORMAT = Format(
    name="symantec_sep",
    dataset="symantec.sep",
    description="Symantec Endpoint Protection risk log: CSV export (Risk Name, Actual "
    "Action...) or the client's AV log (hex times)",
    sniff=sniff,
    parse=parse,
    fields=(
        "@timestamp", "host.hostname", "host.ip", "host.mac", "user.name", "user.domain",
        "rule.name", "rule.category", "file.path", "file.hash", "event.action",
        "event.outcome", "event.category", "message", "observer.name", "observer.type",
        "observer.vendor",
    ),
)  # fmt: skip
