"""Detect a text file's encoding the way Japanese Windows exports need it.

Order (domain.md 6.2): byte-order mark, then UTF-16 without one (LE or BE, from where
the zero bytes sit), ISO-2022-JP (its escape sequences), strict UTF-8, then CP932
(Microsoft's Shift_JIS superset; plain ``shift_jis`` maps the wave dash differently) or
EUC-JP (old Linux syslog, Samba), then charset-normalizer's best guess. Binary content
returns ``None``.

Files mix encodings: a CP932 listing with some lines re-saved as UTF-8, a UTF-8 proxy
log with some CP932 lines. For a file detected as UTF-8 or CP932, :func:`decode_lines`
decides per line: strict UTF-8 first, else CP932 (Japanese UTF-8 usually decodes as
CP932 without an error, so the other order cannot work), and counts the lines read in
the encoding the file was not detected as ("re-decoded").
"""

from __future__ import annotations

import codecs
import re
from dataclasses import dataclass

_TEXT_CONTROL = set(range(32)) - {9, 10, 12, 13, 27}


def detect(head: bytes) -> str | None:
    """Return a Python codec name for ``head`` (the first bytes of a file), or None if binary."""
    if head.startswith(codecs.BOM_UTF8):
        return "utf-8-sig"
    if head.startswith(codecs.BOM_UTF16_LE):
        return "utf-16"
    if head.startswith(codecs.BOM_UTF16_BE):
        return "utf-16"
    if _looks_utf16le(head):
        return "utf-16-le"
    if _looks_utf16le(head[1:]):  # the zero bytes come first: big-endian
        return "utf-16-be"
    if _is_binary(head):
        return None
    if _ISO2022.search(head) and max(head, default=0) < 0x80:
        return "iso2022_jp"
    if _decodes(head, "utf-8"):
        return "utf-8"
    cp932 = _decodes(head, "cp932")
    if _decodes(head, "euc_jp") and (not cp932 or _katakana_heavy(head)):
        # EUC-JP kanji read as CP932 come out as runs of half-width katakana
        return "euc_jp"
    if cp932:
        return "cp932"
    mixed = _mixed_main(head)
    if mixed is not None:
        return mixed
    # a UTF-8 log with a few garbled lines (binary junk, a cut write) is still UTF-8:
    # the bad lines end up as rejects or with replacement characters, not the whole file
    # decoded in some single-byte code page
    if head.decode("utf-8", errors="replace").count("\ufffd") <= max(2, len(head) // 1000):
        return "utf-8"
    from charset_normalizer import from_bytes

    best = from_bytes(head).best()
    return best.encoding if best is not None else "latin-1"


_ISO2022 = re.compile(rb"\x1b\$[@B]")  # ISO-2022-JP: switch to JIS X 0208
_HALF_KANA = re.compile("[\uff61-\uff9f]")
_WIDE = re.compile("[\u3040-\u30ff\u4e00-\u9fff]")


def _katakana_heavy(head: bytes) -> bool:
    """True when CP932 reads ``head`` as mostly half-width katakana while EUC-JP reads
    kana and kanji: EUC-JP text, not CP932."""
    as_cp932 = head.decode("cp932", errors="replace")
    as_euc = head.decode("euc_jp", errors="replace")
    return len(_HALF_KANA.findall(as_cp932)) > 2 * max(1, len(_HALF_KANA.findall(as_euc))) and (
        len(_WIDE.findall(as_euc)) > len(_WIDE.findall(as_cp932))
    )


MIXED = frozenset({"utf_8", "cp932"})  # codecs whose files are decoded line by line
# a valid multi-byte UTF-8 sequence: a line without one is the same in UTF-8 and CP932
# or is not UTF-8
_UTF8_MULTI = re.compile(
    rb"[\xc2-\xdf][\x80-\xbf]|[\xe0-\xef][\x80-\xbf]{2}|[\xf0-\xf4][\x80-\xbf]{3}"
)


def mixed_main(encoding: str | None) -> str | None:
    """``utf_8`` or ``cp932`` when files in ``encoding`` are decoded line by line."""
    if encoding is None:
        return None
    try:
        name = codecs.lookup(encoding).name.replace("-", "_")
    except LookupError:
        return None
    return name if name in MIXED else None


@dataclass
class LineCounts:
    """What :func:`decode_lines` did: lines read in the other encoding, lines replaced."""

    redecoded: int = 0
    errors: int = 0


def decode_lines(body: bytes, main: str, counts: LineCounts) -> str:
    """``body`` (whole lines) as text: each line strict UTF-8, else CP932, else UTF-8
    with replacement characters. ``main`` (``utf_8`` or ``cp932``) is what the file was
    detected as; lines read otherwise are counted in ``counts``."""
    if main == "utf_8":
        try:
            return body.decode("utf-8")
        except UnicodeDecodeError:
            pass
    elif not _UTF8_MULTI.search(body) or not _any_utf8_line(body.split(b"\n")):
        # no line is UTF-8 (the usual CP932 file): one decode for the whole body
        try:
            return body.decode("cp932")
        except UnicodeDecodeError:
            pass
    out = []
    for line in body.split(b"\n"):
        if line.isascii():
            out.append(line.decode("ascii"))
            continue
        try:
            text = line.decode("utf-8")
            if main != "utf_8":
                counts.redecoded += 1
        except UnicodeDecodeError:
            try:
                text = line.decode("cp932")
                if main == "utf_8":
                    counts.redecoded += 1
            except UnicodeDecodeError:
                text = line.decode("utf-8" if main == "utf_8" else "cp932", errors="replace")
                counts.errors += 1
        out.append(text)
    return "\n".join(out)


def _mixed_main(head: bytes) -> str | None:
    """``utf-8`` or ``cp932`` (whichever holds more of the non-ASCII lines) when the lines
    of ``head`` are one or the other, but for a few broken ones; else None."""
    cut = head.rfind(b"\n")
    lines = (head[: cut if cut > 0 else len(head)]).split(b"\n")
    utf8 = cp932 = bad = 0
    for line in lines:
        if line.isascii():
            continue
        try:
            line.decode("utf-8")
            utf8 += 1
        except UnicodeDecodeError:
            try:
                line.decode("cp932")
                cp932 += 1
            except UnicodeDecodeError:
                bad += 1
    if not utf8 + cp932 or bad > max(1, (utf8 + cp932) // 20):
        return None
    return "utf-8" if utf8 >= cp932 else "cp932"


def _any_utf8_line(lines: list[bytes]) -> bool:
    for line in lines:
        if not line.isascii():
            try:
                line.decode("utf-8")
            except UnicodeDecodeError:
                continue
            return True
    return False


def _looks_utf16le(head: bytes) -> bool:
    # ASCII-heavy UTF-16LE without BOM: every second byte is zero
    sample = head[:512]
    if len(sample) < 16:
        return False
    odd_zero = sample[1::2].count(0)
    even_zero = sample[0::2].count(0)
    return odd_zero > len(sample) // 3 and even_zero < len(sample) // 20


def _is_binary(head: bytes) -> bool:
    sample = head[:4096]
    if not sample:
        return False
    if b"\x00" in sample:
        return True
    bad = sum(1 for b in sample if b in _TEXT_CONTROL)
    return bad > len(sample) // 50


def _decodes(head: bytes, codec: str) -> bool:
    # the sample may end inside a multi-byte character: let the incremental decoder
    # keep the tail instead of calling it an error
    try:
        codecs.getincrementaldecoder(codec)().decode(head, final=False)
    except UnicodeDecodeError:
        return False
    return True
