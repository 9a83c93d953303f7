"""Any other vendor's table export: CSV, TSV, ``;``/``|``-separated, or JSON lines.

The catch-all for mail gateways, AV consoles, EDR and cloud exports that have no format
module of their own. Columns are mapped by **header name** through the synonym table in
:mod:`ashiato.formats.synonyms` (English and Japanese, case/width/space-insensitive);
a user mapping file (``source.options["mapping"]``, see ``docs/mapping.md``) overrides it.

- Delimiter: whichever of ``,`` tab ``;`` ``|`` splits the header into the most
  recognised columns and the next lines into as many fields. JSON lines: one object per
  line, nested keys flattened with dots (``{"source": {"ip": ..}}`` -> ``source.ip``).
- The header may follow a few preamble lines (report titles); those lines are rejected
  ("before the header row") so nothing disappears silently.
- Time: the best time column (or a date column plus a time column) is read as ISO 8601
  (offset honoured), ``YYYY/MM/DD HH:MM:SS``, ``YYYY年M月D日``, ``MM/DD/YYYY`` or
  ``DD/MM/YYYY``, month names, RFC 2822, or epoch seconds/ms/us. Slashed day/month
  order is decided from the whole file: a first number above 12 anywhere means
  day-first, a second number above 12 means month-first, neither means month-first
  (US). Naive times are read in the mapping's ``tz`` or the source's zone.
- Rows whose time can't be read, or whose field count differs from the header's, are
  rejected with the column and value in the reason. Unmapped columns (and time columns
  not used) go to ``extra`` under their original header.
- ``event.action`` is lower-cased, ``DOMAIN\\user`` is split, recipient lists separated
  by ``;`` become comma separated. ``event.dataset`` is the mapping's ``dataset`` or
  ``generic.table``; no observer is assumed unless the mapping ``set``s one.
"""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

import orjson
import pyarrow as pa
import pyarrow.compute as pc

from ashiato.errors import FormatError
from ashiato.formats import vector as vx
from ashiato.formats.base import BATCH_ROWS, Format, Sample, Source
from ashiato.formats.synonyms import (
    CLOCK,
    DATE,
    DMY,
    LOOKUP,
    SCHEMA_NAMES,
    TIME,
    Lookup,
    TimeReader,
    header_key,
    load_mapping,
    slashed_order,
)
from ashiato.formats.synonyms import Mapping as UserMap
from ashiato.schema import FIELDS, TS, batch_from_columns

DELIMITERS = (",", "\t", ";", "|")
_INT_FIELDS = frozenset(f.name for f in FIELDS if pa.types.is_integer(f.type))
_SKIP = frozenset(("", "-", "N/A"))

Row = dict[str, Any]


# -- header -> plan -------------------------------------------------------------------


@dataclass(frozen=True)
class Profile:
    """How one family of tables is read: synonyms, fixed values and a per-row hook."""

    lookup: Lookup
    constants: Mapping[str, str] = field(default_factory=dict)
    finish: Callable[[Row, Row], None] | None = None
    dataset: str | None = None


@dataclass
class Plan:
    mapped: list[tuple[str, str]]  # (header, target)
    extra: list[str]  # headers kept in extra
    times: list[tuple[str, ...]]  # time sources, best first; two headers = date + time
    renamed: list[tuple[str, str]] = field(default_factory=list)  # (header, extra key)
    # derived for the row loop
    strs: list[tuple[str, str]] = field(init=False)
    ints: list[tuple[str, str]] = field(init=False)
    keep: list[tuple[str, str]] = field(init=False)  # (header, extra key)
    time_headers: list[str] = field(init=False)

    def __post_init__(self) -> None:
        self.strs = [(h, t) for h, t in self.mapped if t not in _INT_FIELDS]
        self.ints = [(h, t) for h, t in self.mapped if t in _INT_FIELDS]
        self.keep = [(h, h) for h in self.extra] + self.renamed
        self.time_headers = list(dict.fromkeys(h for group in self.times for h in group))


def resolve(headers: list[str], profile: Profile, user: UserMap | None) -> Plan:
    """Decide which header fills which column; the rest go to ``extra``."""
    best: dict[str, tuple[int, int, str]] = {}
    taken: set[str] = set()
    renamed: list[tuple[str, str]] = []
    times: list[tuple[str, ...]] = []
    if user is not None:
        for target, header in user.fields.items():
            if header in headers and target in SCHEMA_NAMES:
                best[target] = (-1, -1, header)
            elif header in headers:
                renamed.append((header, target))
            taken.add(header)
        if user.time:
            times.append(user.time)
            taken.update(user.time)
    kinds: dict[str, list[tuple[int, str]]] = {TIME: [], DATE: [], CLOCK: []}
    if user is None or user.synonyms:
        for pos, h in enumerate(headers):
            if h in taken:
                continue
            hit = profile.lookup.get(header_key(h))
            if hit is None:
                continue
            target, prio = hit
            if target in kinds:
                kinds[target].append((prio * 1000 + pos, h))
            elif target not in best or (prio, pos) < best[target][:2]:
                best[target] = (prio, pos, h)
    for kind in kinds.values():
        kind.sort()
    times += [(h,) for _, h in kinds[TIME]]
    if kinds[DATE] and kinds[CLOCK]:
        times.append((kinds[DATE][0][1], kinds[CLOCK][0][1]))
    times += [(h,) for _, h in kinds[CLOCK]] + [(h,) for _, h in kinds[DATE]]
    mapped = [(h, t) for t, (_, _, h) in best.items()]
    used = {h for h, _ in mapped} | {h for group in times for h in group} | taken
    return Plan(mapped, [h for h in headers if h not in used], times, renamed)


def recognised(plan: Plan) -> bool:
    """A header worth claiming: a time column and at least one other known column."""
    return bool(plan.times) and bool(plan.mapped)


def explain_columns(header: list[str]) -> dict[str, str]:
    """Header -> the event-schema column it fills, or ``extra`` (for ``formats --explain``)."""
    plan = resolve(_unique(header), _GENERIC, None)
    out = {h: "extra" for h in header}
    if plan.times:
        for h in plan.times[0]:
            out[h] = TIME
    for h, target in plan.mapped:
        out[h] = target
    return out


def _unique(headers: list[str]) -> list[str]:
    """Strip BOM/blanks and make duplicate header names distinct (``詳細``, ``詳細 (2)``)."""
    out: list[str] = []
    seen: set[str] = set()
    for i, raw in enumerate(headers):
        h = raw.strip().lstrip("\ufeff").strip() or f"column {i + 1}"
        name, n = h, 1
        while name in seen:
            n += 1
            name = f"{h} ({n})"
        seen.add(name)
        out.append(name)
    return out


# -- reading records --------------------------------------------------------------------


def _split(line: str, delim: str) -> list[str]:
    return next(csv.reader([line], delimiter=delim), [])


def find_header(lines: list[str], profile: Profile) -> tuple[str, int, Plan] | None:
    """(delimiter, index of the header line, plan) for the first recognisable header."""
    for idx, line in enumerate(lines[:6]):
        if line.startswith("#") or line.lstrip("\ufeff").startswith(("{", "<", "[")):
            continue
        found: tuple[int, str, Plan] | None = None
        for delim in DELIMITERS:
            if delim not in line:
                continue
            header = _unique(_split(line, delim))
            plan = resolve(header, profile, None)
            if len(header) < 2 or not recognised(plan):
                continue
            following = [_split(ln, delim) for ln in lines[idx + 1 : idx + 4] if ln.strip()]
            if following and not any(len(f) == len(header) for f in following):
                continue
            score = len(plan.mapped) + len(plan.times)
            if found is None or score > found[0]:
                found = (score, delim, plan)
        if found is not None:
            return found[1], idx, found[2]
    return None


def _csv_records(source: Source, delim: str) -> Iterator[tuple[int, list[str] | None, str]]:
    """(first line number, fields or None if unreadable, problem) per CSV record."""
    with source.text_stream() as fh:
        reader = csv.reader(fh, delimiter=delim)
        prev = 0
        while True:
            try:
                fields = next(reader)
            except StopIteration:
                return
            except csv.Error as exc:
                yield prev + 1, None, f"unreadable CSV record: {exc}"
                prev = reader.line_num
                continue
            start, prev = prev + 1, reader.line_num
            yield start, fields, ""


def _flatten(obj: Mapping[str, Any], prefix: str, out: Row) -> None:
    for k, v in obj.items():
        key = f"{prefix}{k}"
        if isinstance(v, dict):
            _flatten(v, key + ".", out)
        else:
            out[key] = v


def _sample_lines(source: Source) -> list[str]:
    with source.text_stream() as fh:
        text = fh.read(64 * 1024)
    lines = [ln.rstrip("\r") for ln in text.split("\n")]
    if len(text) == 64 * 1024 and len(lines) > 1:
        lines = lines[:-1]  # probably cut
    return [ln for ln in lines if ln.strip()]


# -- rows -> batches --------------------------------------------------------------------


def _text(v: Any) -> str | None:
    if v is None:
        return None
    if isinstance(v, str):
        s = v.strip()
        return None if s in _SKIP else s
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, list):
        if all(isinstance(x, str | int | float) for x in v):
            return ",".join(str(x) for x in v) or None
        return orjson.dumps(v).decode()
    return str(v)


def _integer(v: Any) -> int | None:
    if isinstance(v, int) and not isinstance(v, bool):
        return v
    s = str(v).strip().replace(",", "")
    if s.lstrip("-").isdigit():
        return int(s)
    return None


def _addresses(v: str) -> str:
    return ",".join(p.strip() for p in re.split(r"[;,]", v) if p.strip())


def generic_finish(row: Row, extra: Row) -> None:
    """Light normalisation every table gets (action case, DOMAIN\\user, address lists)."""
    action = row.get("event.action")
    if action:
        row["event.action"] = action.lower()
    user = row.get("user.name")
    if user and "\\" in user and "user.domain" not in row:
        dom, _, name = user.rpartition("\\")
        row["user.name"], row["user.domain"] = name, dom
    for key in ("email.to.address", "email.attachments"):
        v = row.get(key)
        if v and ";" in v:
            row[key] = _addresses(v)


class _Batch:
    """Column lists for up to ``BATCH_ROWS`` rows; times are localised per batch."""

    def __init__(self, tz: ZoneInfo) -> None:
        self.tz = tz
        self.cols: dict[str, list[Any]] = {}
        self.local: list[datetime | None] = [None] * BATCH_ROWS  # naive: read in tz
        self.aware: list[datetime | None] = [None] * BATCH_ROWS  # carried an offset
        self.n = 0

    def add(self, record: int, ts: datetime, row: Row, extra: Row) -> None:
        i = self.n
        row["record"] = record
        if ts.tzinfo is None:
            self.local[i] = ts
        else:
            self.aware[i] = ts
        cols = self.cols
        for key, value in row.items():
            if key not in SCHEMA_NAMES:
                extra[key] = value  # a profile's own key (trendmicro.file ...)
                continue
            col = cols.get(key)
            if col is None:
                col = cols[key] = [None] * BATCH_ROWS
            col[i] = value
        if extra:
            col = cols.get("extra")
            if col is None:
                col = cols["extra"] = [None] * BATCH_ROWS
            col[i] = orjson.dumps(extra, default=str).decode()
        self.n += 1

    def flush(self) -> pa.RecordBatch | None:
        if not self.n:
            return None
        n, cols = self.n, self.cols
        local, aware = self.local[:n], self.aware[:n]
        self.cols, self.n = {}, 0
        self.local, self.aware = [None] * BATCH_ROWS, [None] * BATCH_ROWS
        out: dict[str, Any] = {k: v[:n] for k, v in cols.items()}
        ts = vx.localize(pa.array(local, pa.timestamp("us")), self.tz)
        if any(a is not None for a in aware):
            ts = pc.coalesce(ts, pa.array(aware, TS))
        out["@timestamp"] = ts
        return batch_from_columns(out, n)


def parse_table(source: Source, profile: Profile) -> Iterator[pa.RecordBatch]:
    """Read a delimited or JSON-lines table with ``profile``; yield event batches."""
    user = load_mapping(source.options.get("mapping"))
    tz = ZoneInfo(user.tz) if user and user.tz else source.tz
    lines = _sample_lines(source)
    first = next((ln for ln in lines if ln.strip()), "")
    fixed: Plan | None = None
    if first.lstrip("\ufeff").startswith("{") and not (user and user.delimiter):
        records: Iterator[tuple[int, Row | None, str]] = _json_records(source)
        plan_for = _plan_cache(profile, user)
        delim = ","
    else:
        delim, fixed, header_at = _header(lines, profile, user, source)
        records = _dict_records(_csv_records(source, delim), fixed, header_at, source, delim)
        plan_for = lambda _keys: fixed  # noqa: E731 - one header for the whole file
    reader = TimeReader(user.time_format if user else None, user.day_first if user else None)
    if reader.fmt is None and reader.day_first is None:
        reader.day_first = _day_first(source, profile, user, plan_for, lines)
    finish = profile.finish
    constants = dict(profile.constants) | (user.constants if user else {})
    dataset = (user.dataset if user else None) or profile.dataset
    if dataset:
        constants["event.dataset"] = dataset
    batch = _Batch(tz)
    skip = _SKIP
    for record, rec, problem in records:  # problem: the raw line for JSON, "" for CSV
        if rec is None:
            source.reject(record, problem, problem)
            continue
        plan = fixed or plan_for(tuple(rec))
        row: Row = dict(constants)
        extra: Row = {}
        get = rec.get
        for header, target in plan.strs:
            v = get(header)
            if v.__class__ is str:
                v = v.strip()
                if v not in skip:
                    row[target] = v
            elif v is not None and (t := _text(v)) is not None:
                row[target] = t
        for header, target in plan.ints:
            v = get(header)
            num = None if v is None or v == "" else _integer(v)
            if num is not None:
                row[target] = num
            elif _text(v) is not None:
                extra[header] = v
        for header, key in plan.keep:
            v = get(header)
            if v is not None and v != "" and v != "-":
                extra[key] = v
        ts, why = _row_time(plan, rec, reader, extra)
        if ts is None:
            source.reject(record, why, problem or _csv_text(list(rec.values()), delim))
            continue
        if finish is not None:
            finish(row, extra)
        batch.add(record, ts, row, extra)
        if batch.n >= BATCH_ROWS:
            out = batch.flush()
            if out is not None:
                yield out
    out = batch.flush()
    if out is not None:
        yield out


def _row_time(plan: Plan, rec: Row, reader: TimeReader, extra: Row) -> tuple[datetime | None, str]:
    if not plan.times:
        return None, "no time column (name one with a --mapping file)"
    chosen: tuple[str, ...] | None = None
    value = ""
    lone = plan.times[0][0] if len(plan.times[0]) == 1 else None
    v = rec.get(lone) if lone is not None else None
    if v.__class__ is str and (v := v.strip()) not in _SKIP:  # the usual one time column
        ts = reader(v)
        if ts is not None:
            for h in plan.time_headers[1:]:
                if (w := _text(rec.get(h))) is not None:
                    extra[h] = w
            return ts, ""
    for group in plan.times:
        parts = [_text(rec.get(h)) for h in group]
        if parts[0] is None:
            continue
        if len(parts) == 2 and ":" in parts[0]:
            parts = parts[:1]  # the date column already carries a time of day
        elif len(parts) == 2 and parts[1] is None:
            return None, f"no time of day: column {group[1]!r} is empty"
        value = " ".join(p for p in parts if p)
        chosen = group[: len(parts)]
        break
    if chosen is None:
        return None, f"no time: column {plan.times[0][0]!r} is empty"
    for h in plan.time_headers:
        if h not in chosen and (v := _text(rec.get(h))) is not None:
            extra[h] = v
    ts = reader(value)
    if ts is None:
        what = " + ".join(repr(h) for h in chosen)
        order = ""
        if DMY.match(value):
            order = " (read as DD/MM/YYYY)" if reader.day_first else " (read as MM/DD/YYYY)"
        return None, f"can't read the time in column {what}: {value!r}{order}"
    return ts, ""


def _csv_text(fields: list[Any], delim: str) -> str:
    """One record written back as CSV (the raw text of a rejected row)."""
    out = io.StringIO()
    csv.writer(out, delimiter=delim).writerow(fields)
    return out.getvalue().rstrip("\r\n")


def _header(
    lines: list[str], profile: Profile, user: UserMap | None, source: Source
) -> tuple[str, Plan, int]:
    """(delimiter, plan, index of the header among non-blank lines) or FormatError."""
    if user is not None:
        delims = (user.delimiter,) if user.delimiter else DELIMITERS
        for idx, line in enumerate(lines[:10]):
            for delim in delims:
                header = _unique(_split(line, delim))
                plan = resolve(header, profile, user)
                if user.time and all(h in header for h in user.time):
                    return delim, plan, idx
                if not user.time and recognised(plan):
                    return delim, plan, idx
        raise FormatError(
            f"{source.display}: the mapping's time column {list(user.time)} is not in any of "
            "the first 10 lines; check the header names in the mapping file"
        )
    found = find_header(lines, profile)
    if found is None:
        raise FormatError(
            f"{source.display}: no header row with a time column and another known column "
            "in the first lines; describe the columns in a --mapping file (docs/mapping.md)"
        )
    delim, idx, plan = found
    return delim, plan, idx


def _dict_records(
    rows: Iterator[tuple[int, list[str] | None, str]],
    plan: Plan,
    header_at: int,
    source: Source,
    delim: str,
) -> Iterator[tuple[int, Row | None, str]]:
    """Records as header -> value dicts; lines before the header and bad counts rejected."""
    header: list[str] | None = None
    seen = 0
    for record, fields, problem in rows:
        if fields is None:
            yield record, None, problem
            continue
        if not fields or (len(fields) == 1 and not fields[0].strip()):
            continue  # blank line: not a record
        if header is None:
            if seen < header_at:
                seen += 1
                source.reject(
                    record, "line before the header row (not a record)", delim.join(fields)
                )
                continue
            header = _unique(fields)
            continue
        if len(fields) != len(header):
            reason = f"expected {len(header)} fields (as in the header), got {len(fields)}"
            source.reject(record, reason, _csv_text(fields, delim))
            continue
        yield record, dict(zip(header, fields, strict=True)), ""


def _json_records(source: Source) -> Iterator[tuple[int, Row | None, str]]:
    for number, line in source.lines():
        s = line.strip().lstrip("\ufeff")
        if not s:
            continue
        try:
            obj = orjson.loads(s)
        except orjson.JSONDecodeError as exc:
            source.reject(number, f"not JSON: {exc}", line)
            continue
        if not isinstance(obj, dict):
            source.reject(
                number, f"expected a JSON object per line, got {type(obj).__name__}", line
            )
            continue
        flat: Row = {}
        _flatten(obj, "", flat)
        yield number, flat, line


def _plan_cache(profile: Profile, user: UserMap | None) -> Callable[[tuple[str, ...]], Plan]:
    cache: dict[tuple[str, ...], Plan] = {}

    def plan_for(keys: tuple[str, ...]) -> Plan:
        plan = cache.get(keys)
        if plan is None:
            if len(cache) > 4096:
                cache.clear()  # objects with ever-changing keys: bound the memory
            plan = cache[keys] = resolve(list(keys), profile, user)
        return plan

    return plan_for


def _day_first(
    source: Source,
    profile: Profile,
    user: UserMap | None,
    plan_for: Callable[[tuple[str, ...]], Plan],
    lines: list[str],
) -> bool | None:
    """Scan the time column for slashed dates; only when the first one is slashed."""
    if not any(DMY.search(ln) for ln in lines[:50]):
        return None
    if lines and lines[0].lstrip("\ufeff").startswith("{"):
        records: Iterator[tuple[int, Row | None, str]] = _json_records(_quiet(source))
    else:
        delim, plan, at = _header(lines, profile, user, source)
        records = _dict_records(_csv_records(source, delim), plan, at, _quiet(source), delim)
    for _, rec, _ in records:
        if rec is None:
            continue
        plan = plan_for(tuple(rec))
        for group in plan.times[:1]:
            order = slashed_order(str(rec.get(group[0]) or ""))
            if order is not None:
                return order
    return False


def _quiet(source: Source) -> Source:
    """A copy of the source whose rejects are thrown away (for the pre-scan pass)."""
    return Source(source.path, source.display, source.evidence_id, source.encoding, source.tz)


# -- the format ---------------------------------------------------------------------------

_GENERIC = Profile(LOOKUP, finish=generic_finish)


def sniff(sample: Sample) -> bool:
    lines = sample.first_lines(12)
    if not lines:
        return False
    first = lines[0].lstrip("\ufeff")
    if first.startswith("{"):
        try:
            obj = orjson.loads(first)
        except orjson.JSONDecodeError:
            return False
        if not isinstance(obj, dict):
            return False
        flat: Row = {}
        _flatten(obj, "", flat)
        return recognised(resolve(list(flat), _GENERIC, None))
    return find_header(lines, _GENERIC) is not None


def parse(source: Source) -> Iterator[pa.RecordBatch]:
    return parse_table(source, _GENERIC)


FORMAT = Format(
    name="generic_table",
    dataset="generic.table",
    description="Any CSV/TSV/JSON-lines export with a time column, mapped by header names "
    "(English/Japanese synonyms or a --mapping file)",
    sniff=sniff,
    parse=parse,
    fields=(
        "@timestamp", "host.hostname", "host.ip", "user.name", "source.ip", "destination.ip",
        "source.port", "destination.port", "url.original", "destination.domain",
        "event.action", "email.from.address", "email.to.address", "email.subject",
        "email.attachments", "file.path", "file.size", "rule.name", "message",
    ),
)  # fmt: skip
