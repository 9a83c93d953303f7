"""Eric Zimmerman's MFTECmd ``$MFT`` CSV (``<stamp>_MFTECmd_$MFT_Output.csv``, domain.md 3.22).

Columns are found by header name (their order changed between MFTECmd builds). One
event per MFT entry (and per alternate data stream row):

- ``file.path`` = ``ParentPath\\FileName`` as MFTECmd wrote it (``.\\Users\\tanaka\\...``:
  the leading ``.`` is the volume root and is kept); the ``--fl`` file list's ``FullPath``
  is accepted too.
- ``@timestamp`` = ``Created0x10`` (= ``file.created``): for dropped payloads and ransom
  notes the creation time is what places the file on the timeline. ``LastModified0x10``
  is ``file.mtime``. All times are UTC (``yyyy-MM-dd HH:mm:ss.fffffff``; the 7th
  fractional digit is dropped, Arrow keeps microseconds).
- ``event.action``: ``directory``, ``alternate-data-stream`` or ``file-listed``.
- Every other column goes to ``extra`` under its MFTECmd name: the ``0x30`` ($FILE_NAME)
  times, ``SI<FN`` (timestomping hint), ``ZoneIdContents`` (download origin), ``InUse``
  (False = deleted entry), ``EntryNumber``... Numbers and booleans are typed; the rarely
  true flags (``IsDirectory``, ``HasAds``, ``IsAds``, ``SI<FN``, ``uSecZeros``,
  ``Copied``) are written only when True, ``InUse`` always.

MFT exports run to millions of rows, so the CSV is read by Arrow's streaming reader and
mapped column-wise; record numbers stay exact line numbers (quoted ``ZoneIdContents``
spans lines) by counting the line breaks inside each row.
"""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import orjson
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pcsv

from ashiato.formats.base import Format, Sample, Source
from ashiato.schema import TS, batch_from_columns

_BLOCK = 8 << 20
_MAPPED = ("parentpath", "filename", "fullpath", "extension", "filesize")
_TIMES = ("created0x10", "lastmodified0x10")
_INTS = frozenset(
    (
        "entrynumber",
        "sequencenumber",
        "parententrynumber",
        "parentsequencenumber",
        "referencecount",
        "updatesequencenumber",
        "logfilesequencenumber",
        "securityid",
        "fnattributeid",
        "otherattributeid",
    )
)
_SPARSE_FLAGS = frozenset(("isdirectory", "hasads", "isads", "si<fn", "useczeros", "copied"))
_FLAGS = _SPARSE_FLAGS | {"inuse"}
_TIME_RE = re.compile(r"^(\d{4})-(\d{2})-(\d{2})[ T](\d{2}):(\d{2}):(\d{2})(?:\.(\d{1,9}))?$")
_NULL = pa.scalar(None, pa.string())


def _sniff(sample: Sample) -> bool:
    lines = sample.first_lines(1)
    if not lines or "Created0x10" not in lines[0]:
        return False
    names = {n.strip().lower() for n in next(csv.reader([lines[0].lstrip("\ufeff")]))}
    return "created0x10" in names and ({"parentpath", "filename"} <= names or "fullpath" in names)


@dataclass
class _Lines:
    """Turns Arrow's CSV row numbers into file line numbers."""

    next_row: int = 2  # row 1 is the header
    newlines: int = 0  # line breaks inside quoted values of the rows seen so far
    skipped: list[tuple[int, str]] = field(default_factory=list)  # (row number, text)


def _parse(source: Source) -> Iterator[pa.RecordBatch]:
    header = _header(source)
    if header is None:
        return
    lower = [h.strip().lower() for h in header]
    internal = [f"c{i}" for i in range(len(header))]  # header names may repeat
    lines = _Lines()

    def invalid(row: Any) -> str:
        lines.skipped.append((row.number if row.number is not None else -1, row.text))
        return "skip"

    stream = _binary_input(source)
    try:
        reader = pcsv.open_csv(
            stream,
            read_options=pcsv.ReadOptions(
                use_threads=False, block_size=_BLOCK, skip_rows=1, column_names=internal
            ),
            parse_options=pcsv.ParseOptions(
                newlines_in_values=True, ignore_empty_lines=False, invalid_row_handler=invalid
            ),
            convert_options=pcsv.ConvertOptions(
                column_types={c: pa.binary() for c in internal},
                check_utf8=False,
                null_values=[""],  # only empty cells: a file may well be called "NA"
                strings_can_be_null=True,
                quoted_strings_can_be_null=True,
            ),
        )
        yield from _batches(reader, header, lower, lines, source)
    finally:
        stream.close()


def _batches(
    reader: pcsv.CSVStreamingReader,
    header: list[str],
    lower: list[str],
    lines: _Lines,
    source: Source,
) -> Iterator[pa.RecordBatch]:
    width = len(header)
    while True:
        try:
            raw = reader.read_next_batch()
        except StopIteration:
            break
        except pa.ArrowInvalid as exc:
            # e.g. one cell larger than the read block: say where reading stopped
            where = lines.next_row + lines.newlines
            source.reject(where, f"CSV reading stopped here, rest of file not read: {exc}", b"")
            break
        cols = [_text(raw.column(i), source) for i in range(width)]
        records = _records(cols, lines, source, width)
        keep = _not_blank(cols)
        if keep is not None:
            cols = [c.filter(keep) for c in cols]
            records = records.filter(keep)
        if len(records):
            batch = _events(header, lower, cols, records, source)
            if batch.num_rows:
                yield batch
    while lines.skipped:
        _reject_skipped(lines, source, width)


def _header(source: Source) -> list[str] | None:
    with source.text_stream() as fh:
        first = fh.readline()
    if not first.strip():
        return None
    return next(csv.reader([first.lstrip("\ufeff").rstrip("\r\n")]))


def _binary_input(source: Source) -> Any:
    if source.encoding in ("utf-8", "utf-8-sig", "ascii"):
        return pa.OSFile(str(source.path))
    # re-saved by Excel as CP932 or UTF-16: hand Arrow UTF-8, undecodable bytes replaced
    return _Utf8Reader(source.text_stream())


class _Utf8Reader(io.RawIOBase):
    """A text stream read back as UTF-8 bytes, for Arrow's reader."""

    def __init__(self, text: io.TextIOWrapper) -> None:
        self._text = text
        self._buf = b""

    def readable(self) -> bool:
        return True

    def readinto(self, b: Any) -> int:
        while len(self._buf) < len(b):
            chunk = self._text.read(1 << 20)
            if not chunk:
                break
            self._buf += chunk.encode("utf-8", "surrogatepass")
        n = min(len(b), len(self._buf))
        b[:n] = self._buf[:n]
        self._buf = self._buf[n:]
        return n

    def close(self) -> None:
        self._text.close()
        super().close()


def _text(col: pa.Array, source: Source) -> pa.Array:
    try:
        return col.cast(pa.string())
    except pa.ArrowInvalid:
        # not UTF-8 after all: replace the bad bytes, say so in the evidence table
        source.decode_errors += 1
        values = [None if v is None else v.decode("utf-8", "replace") for v in col.to_pylist()]
        return pa.array(values, pa.string())


def _records(cols: list[pa.Array], lines: _Lines, source: Source, width: int) -> pa.Array:
    """Line number of each row's first line; settles the rows Arrow skipped before them."""
    n = len(cols[0])
    nl: pa.Array = pa.repeat(pa.scalar(0, pa.int32()), n)
    for c in cols:
        if b"\n" in _values(c):  # cheap test first: most columns never hold a line break
            nl = pc.add(nl, pc.count_substring(c, "\n").fill_null(0))
    last = lines.next_row + n - 1
    if not any(num <= last for num, _ in lines.skipped):
        before = pc.subtract(pc.cumulative_sum(nl), nl)
        start = lines.next_row + lines.newlines
        records = pc.add(pa.array(range(start, start + n), pa.int64()), before.cast(pa.int64()))
        lines.next_row += n
        lines.newlines += pc.sum(nl).as_py() or 0
        return records
    # slow path: a malformed row sits among these; walk the row numbers
    out: list[int] = []
    for count in nl.to_pylist():
        while lines.skipped and lines.skipped[0][0] <= lines.next_row:
            _reject_skipped(lines, source, width)
        out.append(lines.next_row + lines.newlines)
        lines.newlines += count
        lines.next_row += 1
    return pa.array(out, pa.int64())


def _reject_skipped(lines: _Lines, source: Source, width: int) -> None:
    """Settle the first row Arrow skipped (a cut or malformed row, or a blank line)."""
    num, text = lines.skipped.pop(0)
    if num < 0:  # Arrow didn't know the row number: place it here
        num = lines.next_row
    line = num + lines.newlines
    if num >= lines.next_row:
        lines.next_row = num + 1
    if text.strip():
        got = len(next(csv.reader([text]), []))
        source.reject(line, f"expected {width} fields, got {got}", text)
    lines.newlines += text.count("\n")


def _values(arr: pa.Array) -> bytes:
    """The value bytes of a string/binary array (a superset when the array is a slice)."""
    buf = arr.buffers()[2]
    return b"" if buf is None else buf.to_pybytes()


def _not_blank(cols: list[pa.Array]) -> pa.Array | None:
    if cols[0].null_count == 0:
        return None
    blank = pc.is_null(cols[0])
    for c in cols[1:]:
        blank = pc.and_(blank, pc.is_null(c))
    return pc.invert(blank)


def _events(
    header: list[str],
    lower: list[str],
    cols: list[pa.Array],
    records: pa.Array,
    source: Source,
) -> pa.RecordBatch:
    by = {name: cols[i] for i, name in reversed(list(enumerate(lower)))}
    n = len(records)
    out: dict[str, Any] = {"record": records}

    if "fullpath" in by:
        path = by["fullpath"]
    else:
        parent, name = by.get("parentpath"), by.get("filename")
        if parent is None or name is None:
            path = parent if parent is not None else name
        else:
            path = pc.coalesce(pc.binary_join_element_wise(parent, name, "\\"), name, parent)
    if path is not None:
        out["file.path"] = path
    if "extension" in by:
        out["file.extension"] = _nullify(
            pc.utf8_lower(pc.utf8_ltrim(by["extension"], characters="."))
        )
    if "filesize" in by:
        out["file.size"] = by["filesize"]

    bad: list[pa.Array] = []
    for key, col in (("created0x10", "file.created"), ("lastmodified0x10", "file.mtime")):
        if key in by:
            ts, unread = _times(by[key])
            out[col] = ts
            if unread is not None:
                bad.append(unread)
                _reject_times(header, cols, records, unread, by[key], key, source)
    if "file.created" in out:
        out["@timestamp"] = out["file.created"]

    isdir = _flag(by.get("isdirectory"), n)
    isads = _flag(by.get("isads"), n)
    action = pc.if_else(
        isdir, "directory", pc.if_else(isads, "alternate-data-stream", "file-listed")
    )
    out["event.action"] = action
    out["event.category"] = pa.repeat(pa.scalar("file"), n)
    parts: list[tuple[str, pa.Array, str]] = []
    seen: set[str] = set()
    for i, name in enumerate(lower):
        if name in _MAPPED or name in _TIMES or name in seen:
            continue
        seen.add(name)
        parts.append((header[i].strip(), cols[i], _kind(name)))
    out["extra"] = _json_objects(parts, n)
    batch = batch_from_columns(out, n)
    if bad:
        keep = pc.invert(bad[0] if len(bad) == 1 else pc.or_(bad[0], bad[1]))
        batch = batch.filter(keep)
    return batch


def _kind(name: str) -> str:
    if name in _INTS:
        return "int"
    if name in _SPARSE_FLAGS:
        return "sparse"
    if name in _FLAGS:
        return "bool"
    return "str"


def _nullify(arr: pa.Array) -> pa.Array:
    return pc.if_else(pc.equal(arr, ""), _NULL, arr)


def _flag(arr: pa.Array | None, n: int) -> pa.Array:
    if arr is None:
        return pa.repeat(pa.scalar(False), n)
    return pc.equal(pc.ascii_lower(arr), "true").fill_null(False)


def _times(text: pa.Array) -> tuple[pa.Array, pa.Array | None]:
    """UTC timestamps from MFTECmd's text; the second array marks unreadable values."""
    cut = pc.utf8_slice_codeunits(text, 0, 26)
    try:
        return cut.cast(pa.timestamp("us")).cast(TS), None
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
        pass
    values: list[datetime | None] = []
    unread: list[bool] = []
    for value in text.to_pylist():
        ts = _py_time(value) if value else None
        values.append(ts)
        unread.append(bool(value) and ts is None)
    return pa.array(values, TS), pa.array(unread)


def _py_time(value: str) -> datetime | None:
    m = _TIME_RE.match(value.strip())
    if m is None:
        return None
    y, mo, d, h, mi, s, frac = m.groups()
    micro = int((frac or "0")[:6].ljust(6, "0"))
    try:
        return datetime(int(y), int(mo), int(d), int(h), int(mi), int(s), micro, tzinfo=UTC)
    except ValueError:
        return None


def _reject_times(
    header: list[str],
    cols: list[pa.Array],
    records: pa.Array,
    unread: pa.Array,
    values: pa.Array,
    key: str,
    source: Source,
) -> None:
    name = next(h for h in header if h.strip().lower() == key)
    for i in pc.indices_nonzero(unread).to_pylist():
        buf = io.StringIO()
        csv.writer(buf, lineterminator="").writerow([c[i].as_py() for c in cols])
        reason = f"unreadable {name} {values[i].as_py()!r} (expected yyyy-MM-dd HH:mm:ss.fffffff)"
        source.reject(records[i].as_py(), reason, buf.getvalue())


def _json_objects(parts: list[tuple[str, pa.Array, str]], n: int) -> pa.Array:
    """One JSON object per row from string columns, leaving out nulls (vectorised).

    Values are checked a column at a time so that the common case (digits, True/False,
    plain ASCII) costs one cheap kernel; anything else is escaped in full.
    """
    pieces: list[pa.Array] = []
    for key, arr, kind in parts:
        if arr.null_count == len(arr):
            continue
        flags = kind in ("bool", "sparse") and pc.all(pc.is_in(arr, _BOOLS)).as_py()
        if kind == "sparse" and flags:
            value = pc.if_else(pc.equal(arr, "True"), "true", _NULL)
        elif flags:
            value = pc.ascii_lower(arr)
        elif kind == "int" and _all_plain_ints(arr):
            value = arr
        elif kind == "int":  # odd values among the numbers: decide row by row
            plain = pc.match_substring_regex(arr, r"^(0|[1-9][0-9]{0,17})$")
            value = pc.if_else(plain, arr, _quote(arr))
        elif kind in ("bool", "sparse"):
            low = pc.ascii_lower(arr)
            value = pc.if_else(pc.is_in(arr, _BOOLS), low, _quote(arr))
        else:
            value = _quote(arr)
        prefix = "," + orjson.dumps(key).decode() + ":"
        pieces.append(pc.binary_join_element_wise(prefix, value, ""))
    if not pieces:
        return pa.nulls(n, pa.string())
    # nulls become "" first: Arrow 26's null_handling="skip" drops all-null rows
    filled = [p.fill_null("") for p in pieces]
    body = pc.binary_join_element_wise(*filled, "") if len(filled) > 1 else filled[0]
    obj = pc.binary_join_element_wise("{", pc.utf8_slice_codeunits(body, 1), "}", "")
    return pc.if_else(pc.equal(body, ""), _NULL, obj)


_BOOLS = pa.array(["True", "False"])
_ESCAPES = {"\n": "\\n", "\r": "\\r", "\t": "\\t"}
_NOT_CONTROL = bytes(range(32, 256))


def _all_plain_ints(arr: pa.Array) -> bool:
    # JSON numbers: digits, no leading zero, within int64
    if not pc.all(pc.ascii_is_decimal(arr)).as_py():
        return False
    lengths = pc.utf8_length(arr)
    if (pc.max(lengths).as_py() or 0) > 18:
        return False
    leading = pc.and_(pc.starts_with(arr, "0"), pc.greater(lengths, 1))
    return not pc.any(leading).as_py()


def _quote(arr: pa.Array) -> pa.Array:
    data = _values(arr)
    s = arr
    if b"\\" in data:
        s = pc.replace_substring(s, "\\", "\\\\")
    if b'"' in data:
        s = pc.replace_substring(s, '"', '\\"')
    if not pc.all(pc.ascii_is_printable(arr)).as_py():  # non-ASCII or control characters
        for code in sorted(set(data.translate(None, _NOT_CONTROL))):
            ch = chr(code)
            s = pc.replace_substring(s, ch, _ESCAPES.get(ch, f"\\u{code:04x}"))
    return pc.binary_join_element_wise('"', s, '"', "")


FORMAT = Format(
    name="mftecmd",
    dataset="windows.mft",
    description="MFTECmd $MFT CSV (Eric Zimmerman): one event per MFT entry, times UTC",
    sniff=_sniff,
    parse=_parse,
    fields=(
        "@timestamp",
        "event.action",
        "event.category",
        "file.path",
        "file.extension",
        "file.size",
        "file.created",
        "file.mtime",
    ),
)
