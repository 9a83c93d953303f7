"""Detect a text file's encoding the way Japanese Windows exports need it.

Order (domain.md 6.2): byte-order mark, then strict UTF-8, then CP932 (Microsoft's
Shift_JIS superset; plain ``shift_jis`` maps the wave dash differently), then
charset-normalizer's best guess. Binary content returns ``None``.
"""

from __future__ import annotations

import codecs

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
    if _is_binary(head):
        return None
    if _decodes(head, "utf-8"):
        return "utf-8"
    if _decodes(head, "cp932"):
        return "cp932"
    # a UTF-8 log with a few garbled lines (binary junk, a cut write) is still UTF-8:
    # the bad lines end up as rejects or with replacement characters, not the whole file
    # decoded in some single-byte code page
    if head.decode("utf-8", errors="replace").count("\ufffd") <= max(2, len(head) // 1000):
        return "utf-8"
    from charset_normalizer import from_bytes

    best = from_bytes(head).best()
    return best.encoding if best is not None else "latin-1"


def _looks_utf16le(head: bytes) -> bool:
    # ASCII-heavy UTF-16LE without BOM: every second byte is zero
    sample = head[:512]
    if len(sample) < 16:
        return False
    odd_zero = sum(1 for b in sample[1::2] if b == 0)
    even_zero = sum(1 for b in sample[0::2] if b == 0)
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
