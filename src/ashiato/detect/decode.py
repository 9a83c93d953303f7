"""Reveal what an obfuscated command runs, so rules and IOC extraction see the real text.

Decoded at ingest (formats/winevent.py stores the result as ``extra.decoded``; Sigma
rules read it as the field ``ashiato.decoded``), because the evidence row is the one
place every later step reads, and because a UTF-16LE base64 decode can't be written
portably in SQL for DuckDB and Spark alike:

- ``powershell -EncodedCommand`` (and every prefix PowerShell accepts: ``-e``, ``-en``,
  ``-enc``..., with ``/`` or the Unicode dashes) carries base64 of UTF-16LE text;
- ``[Convert]::FromBase64String('...')`` blocks carry base64 of text or of a
  Gzip/Deflate stream (``IO.Compression.GzipStream``/``DeflateStream``);
- character-code lists - ``[char[]](73,69,88...)``, ``[string]::join('',(49,'4e',...)|
  %{[char][convert]::toint16($_,16)})``, ``[char]73+[char]69`` - the "encoding" of
  obfuscators such as Invoke-Obfuscation, in base 10, 16, 8 or 2 (the base whose reading
  is printable text wins; a list with hex digits is base 16);
- strings cut into pieces and glued back (``('ne'+'w-'+'item')``) and PowerShell's
  escape backticks (``Net.Web`Cl`ient``), when a text has many of them: the glued text;
- the decoded text is decoded again (loaders nest) up to :data:`DEPTH` levels.

Only text that decodes cleanly (mostly printable) is kept: a random base64 payload
(shellcode) is left alone rather than reported as gibberish.
"""

from __future__ import annotations

import base64
import binascii
import functools
import re
import zlib
from collections.abc import Iterator

DEPTH = 3
MAX_INPUT = 1 << 20  # 1 MiB of command text is already far beyond any real launcher
MAX_OUTPUT = 1 << 20

# -e / -en / ... / -encodedcommand, with - / – — ― or / as PowerShell accepts, at the
# start or after a space: the dash comes first and the space is looked back for, since a
# pattern that starts with a character class is skipped through in C to where the class
# matches (a quarter of the time on long script blocks)
_ENC_ARG = re.compile(
    r"(?i)[-/\u2013\u2014\u2015](?<!\S[-/\u2013\u2014\u2015])e(?:c|n|nc|nco|ncod|ncode"
    r"|ncoded|ncodedc|ncodedco|ncodedcom|ncodedcomm|ncodedcomma|ncodedcomman|ncodedcommand)?"
    r"[\s:]+['\"]?([A-Za-z0-9+/]{16,}={0,2})"
)
_B64_CALL = re.compile(
    r"(?i)frombase64string\s*\(\s*[\(\s]*['\"]+([A-Za-z0-9+/\s]{16,}={0,2})['\"]"
)
# twelve or more numbers (optionally quoted) in a comma list: a character-code array
_CODE_LIST = re.compile(r"(?:['\"]?[0-9a-fA-F]{1,8}['\"]?\s*,\s*){11,}['\"]?[0-9a-fA-F]{1,8}['\"]?")
# a code list is made of these characters alone, at least 23 of them (12 codes, 11 commas):
# the list is looked for only inside such runs, since at every position of a long script
# the list's pattern tries up to eight digits before it fails (~250 µs a script block);
# a run is tried from its start only (else each short run is read again from each position)
_CODE_RUN = re.compile(r"(?<![\s0-9a-fA-F'\",])[\s0-9a-fA-F'\",]{23,}")
# ...and the runs only where a code sits between two commas, which a list has and most
# texts lack (found from the comma: half the time of the runs on long script blocks)
_CODE_SEED = re.compile(r",[\s'\"]*[0-9a-fA-F]{1,8}[\s'\"]*,")
_CHAR_CASTS = re.compile(r"(?i)(?:\[char\]\s*\(?\s*(\d{1,3})\s*\)?\s*[+,]?\s*){8,}")
_CAST_ONE = re.compile(r"(?i)\[char\]\s*\(?\s*(\d{1,3})")
# 'ab'+'cd', "ab" + ("cd"): a join between two quoted pieces (quotes, brackets, plus)
_GLUE = re.compile(r"""['"]\)*\s*\+\s*\(*['"]""")
# a backtick before a letter that is no escape (`n, `t... are lower case): pure noise
_TICK = re.compile(r"`(?=[A-Zcdghijklmopqswxyz])")
GLUED = 8  # joins (or backticks) before a text counts as cut up on purpose...
GLUED_PER_KB = 2  # ...and this dense: a long ordinary script has a few joins here and there
_PRINTABLE = re.compile(r"[\x09\x0a\x0d\x20-\x7e\u00a0-\uffff]")


def _clean(text: str) -> str | None:
    text = text.replace("\x00", "")
    if not text.strip():
        return None
    ok = len(_PRINTABLE.findall(text[:4000]))
    return text[:MAX_OUTPUT] if ok >= 0.9 * min(len(text), 4000) else None


def _b64(value: str) -> bytes | None:
    value = re.sub(r"\s+", "", value)
    value += "=" * (-len(value) % 4)
    try:
        return base64.b64decode(value, validate=True)
    except (binascii.Error, ValueError):
        return None


def _inflate(raw: bytes) -> bytes | None:
    for wbits in (31, -15, 15):  # gzip, raw deflate (DeflateStream), zlib
        try:
            return zlib.decompressobj(wbits).decompress(raw, MAX_OUTPUT)
        except zlib.error:
            continue
    return None


def _text_of(raw: bytes, utf16_first: bool) -> str | None:
    if raw[:2] == b"\x1f\x8b" or (raw[:1] in (b"\x78",) and len(raw) > 2):
        inflated = _inflate(raw)
        if inflated is not None:
            raw = inflated
    elif not utf16_first:
        inflated = _inflate(raw)  # DeflateStream has no magic; try it quietly
        if inflated is not None and _clean(inflated.decode("utf-8", "replace")):
            raw = inflated
    encodings = ("utf-16-le", "utf-8") if utf16_first else ("utf-8", "utf-16-le")
    # UTF-16LE text of ASCII has a zero every other byte; prefer it when that is so
    if raw[1:40:2].count(0) >= len(raw[1:40:2]) * 0.8 and raw[1:40:2]:
        encodings = ("utf-16-le", "utf-8")
    for enc in encodings:
        try:
            text = raw.decode(enc)
        except UnicodeDecodeError:
            continue
        clean = _clean(text)
        if clean:
            return clean
    return None


def _codes(items: list[str]) -> str | None:
    """The text a list of character codes spells, in the base that reads as text."""
    hexy = any(re.search(r"[a-fA-F]", i) for i in items)
    for base in (16,) if hexy else (10, 16, 8, 2):
        try:
            chars = [chr(int(i, base)) for i in items]
        except ValueError:
            continue
        text = "".join(chars)
        if all(c in "\t\r\n" or 32 <= ord(c) < 127 for c in chars) and re.search(
            r"[A-Za-z]{3}", text
        ):
            return text
    return None


def _code_lists(text: str) -> Iterator[re.Match[str]]:
    """``_CODE_LIST.finditer(text)``: the same matches, each lying wholly inside a run."""
    if _CODE_SEED.search(text) is None:
        return
    for run in _CODE_RUN.finditer(text):
        yield from _CODE_LIST.finditer(text, run.start(), run.end())


def _char_codes(text: str) -> list[str]:
    out: list[str] = []
    for m in _code_lists(text):
        items = [i.strip().strip("'\"") for i in m.group(0).split(",")]
        dec = _codes(items)
        if dec:
            out.append(dec)
    for m in _char_casts(text):
        dec = _codes(_CAST_ONE.findall(m.group(0)))
        if dec:
            out.append(dec)
    return out


def _char_casts(text: str) -> Iterator[re.Match[str]]:
    """``_CHAR_CASTS.finditer(text)``, looked for only where a ``[char]`` is."""
    if "[char]" in text.lower():
        yield from _CHAR_CASTS.finditer(text)


@functools.lru_cache(maxsize=8)
def _glued(text: str) -> str | None:
    """The text with its cut-up strings joined and its backticks dropped."""
    cuts = len(_GLUE.findall(text)) + len(_TICK.findall(text))
    if cuts < GLUED or cuts * 1000 < GLUED_PER_KB * len(text):
        return None
    return _TICK.sub("", _GLUE.sub("", text))


def _once(text: str) -> list[str]:
    out: list[str] = _char_codes(text) if _chars_hidden(text) else []
    for m in _ENC_ARG.finditer(text):
        raw = _b64(m.group(1))
        if raw:
            dec = _text_of(raw, utf16_first=True)
            if dec:
                out.append(dec)
    for m in _B64_CALL.finditer(text) if "frombase64string" in text.lower() else ():
        raw = _b64(m.group(1))
        if raw:
            dec = _text_of(raw, utf16_first=False)
            if dec:
                out.append(dec)
    return out


# might_hide and decode's first layer ask these of the same text: asked again, answered
# from here (a long script block is looked through once, not twice)
@functools.lru_cache(maxsize=8)
def _chars_hidden(text: str) -> bool:
    low = text[:MAX_INPUT].lower()
    return ("[char" in low or "join" in low or "tostring" in low) and (
        next(_code_lists(text), None) is not None or next(_char_casts(text), None) is not None
    )


def might_hide(text: str | None) -> bool:
    """A cheap test run on every command line before the real work of :func:`decode`."""
    if not text or len(text) < 24:
        return False
    low = text.lower()
    if ("[char" in low or "join" in low) and _chars_hidden(text):
        return True
    if ("'+'" in text or '"+"' in text or "`" in text) and _glued(text) is not None:
        return True
    return "frombase64string" in low or (
        ("powershell" in low or "pwsh" in low or "%comspec%" in low or " -e" in low)
        and _ENC_ARG.search(text) is not None
    )


def decode(text: str | None) -> str | None:
    """Every hidden layer of ``text``, joined by newlines; None when nothing is hidden."""
    if not text or not might_hide(text):
        return None
    layers: list[str] = []
    todo = [text[:MAX_INPUT]]
    glued = _glued(todo[0])
    if glued is not None:
        layers.append(glued)
        todo.append(glued)
    for _ in range(DEPTH):
        nxt: list[str] = []
        for t in todo:
            nxt.extend(_once(t))
        if not nxt:
            break
        layers.extend(nxt)
        todo = nxt
    if not layers:
        return None
    return "\n".join(dict.fromkeys(layers))[:MAX_OUTPUT]
