"""Helpers shared by the format tests: row views of a parsed table, samples for sniffing,
and the checks every text format repeats (fixture routing, tiny chunks + CRLF, corpus)."""

from __future__ import annotations

import codecs
from collections.abc import Callable, Iterable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import orjson
import pyarrow as pa
import pytest

from ashiato.evidence.encoding import detect
from ashiato.formats.base import SAMPLE_BYTES, Format, Sample
from ashiato.formats.testing import parse_file

DATA = Path(__file__).resolve().parents[1] / "data"
# the real public logs beside the repo; tests needing them skip where absent
SHARED = Path(__file__).resolve().parents[2].parent / "shared" / "data"

Rows = dict[int, dict[str, Any]]


# -- rows ---------------------------------------------------------------------------------


def _event(row: dict[str, Any], keep_empty_strings: bool) -> dict[str, Any]:
    if keep_empty_strings:
        ev = {k: v for k, v in row.items() if v is not None}
    else:
        ev = {k: v for k, v in row.items() if v is not None and v != ""}
    if "extra" in ev:
        ev["extra"] = orjson.loads(ev["extra"])
    return ev


def rows_by_record(table: pa.Table, *, keep_empty_strings: bool = False) -> Rows:
    """Events by record without null (and, unless kept, empty-string) columns; ``extra``
    decoded."""
    out: Rows = {}
    for row in table.to_pylist():
        ev = _event(row, keep_empty_strings)
        out[ev["record"]] = ev
    return out


def rows_in_order(table: pa.Table) -> list[dict[str, Any]]:
    """Events in table order without null columns; ``extra`` decoded."""
    return [_event(row, keep_empty_strings=True) for row in table.to_pylist()]


def plain(table: pa.Table, *, by_record: bool = False) -> list[dict[str, Any]]:
    """Rows without null or "" columns ("" and null are the same when comparing two
    parses), in table order or sorted by record."""
    rows = [{k: v for k, v in row.items() if v not in (None, "")} for row in table.to_pylist()]
    return sorted(rows, key=lambda r: r["record"]) if by_record else rows


# -- samples ------------------------------------------------------------------------------


def sample_of(path: Path) -> Sample:
    """What the registry is offered: the head, decoded incrementally when text."""
    with path.open("rb") as fh:
        head = fh.read(SAMPLE_BYTES)
    enc = detect(head)
    text = None if enc is None else codecs.getincrementaldecoder(enc)("replace").decode(head)
    return Sample(head, text, path.name)


def text_sample(path: Path, encoding: str = "utf-8") -> Sample:
    """The head of a text fixture, strictly decoded."""
    head = path.read_bytes()[:SAMPLE_BYTES]
    return Sample(head, head.decode(encoding), path.name)


def bytes_sample(data: bytes) -> Sample:
    """A sample of raw bytes (named "x"), decoded as detected; no text when binary."""
    head = data[:SAMPLE_BYTES]
    enc = detect(head)
    return Sample(head=head, text=head.decode(enc, "replace") if enc else None, name="x")


def detected_sample(path: Path) -> Sample:
    """The head of ``path`` decoded as detected (errors replaced); no text when binary."""
    head = path.read_bytes()[:SAMPLE_BYTES]
    encoding = detect(head)
    text = None if encoding is None else head.decode(encoding, errors="replace")
    return Sample(head, text, path.name)


def utf8_sample(path: Path) -> Sample:
    """The head of ``path`` strictly decoded as UTF-8; no text when it is not UTF-8."""
    head = path.read_bytes()[:SAMPLE_BYTES]
    try:
        text: str | None = head.decode("utf-8")
    except UnicodeDecodeError:
        text = None
    return Sample(head, text, path.name)


# -- checks -------------------------------------------------------------------------------


def assert_claims_no_other_fixture(
    fmt: Format, folder: str, sample: Callable[[Path], Sample] = detected_sample
) -> None:
    """``fmt`` sniffs no text fixture outside ``tests/data/<folder>`` (binary ones, with no
    text, are never offered to text formats)."""
    for other in DATA.rglob("*"):
        if other.is_file() and other.parent.name != folder:
            s = sample(other)
            if s.text is not None:
                assert not fmt.sniff(s), other


def assert_registry_routes(paths: Iterable[Path], name: str) -> None:
    """``registry.sniff`` sends every one of ``paths`` to the format ``name``."""
    from ashiato.formats import registry

    try:
        registry.formats()
    except ImportError as exc:  # another engineer's module is not there yet
        pytest.skip(f"registry incomplete: {exc}")
    for path in paths:
        fmt = registry.sniff(sample_of(path))
        assert fmt is not None and fmt.name == name, path


def assert_small_chunks_match(
    fmt: Format,
    log: Path,
    crlf: Path,
    *,
    chunk_bytes: int,
    by_record: bool = False,
    workers: int | None = None,
    **options: object,
) -> None:
    """``log`` with CRLF line ends (written to ``crlf``) read in tiny chunks (by ``workers``
    threads when given) parses to the same rows and the same rejects, in the same order."""
    crlf.write_bytes(log.read_bytes().replace(b"\n", b"\r\n"))
    whole, whole_rej = parse_file(fmt, log, **options)
    small_options = dict(options, chunk_bytes=chunk_bytes)
    if workers is not None:
        small_options["workers"] = workers
    small, small_rej = parse_file(fmt, crlf, **small_options)
    assert plain(small, by_record=by_record) == plain(whole, by_record=by_record)
    assert [(r.record, r.raw) for r in small_rej] == [(r.record, r.raw) for r in whole_rej]


def assert_claims_nothing_in_the_public_corpus(fmt: Format) -> None:
    if not SHARED.is_dir():
        pytest.skip("../shared/data not present")
    claimed = [p for p in sorted(SHARED.rglob("*")) if p.is_file() and fmt.sniff(sample_of(p))]
    assert claimed == []


# -- expected values ----------------------------------------------------------------------

# what a test's parsed fixture holds: events by record, and the rejects
Parsed = tuple[Rows, list[Any]]


def utc_of(text: str) -> datetime:
    """An ISO 8601 time with an offset, as the UTC instant the events carry."""
    return datetime.fromisoformat(text).astimezone(UTC)
