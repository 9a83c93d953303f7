"""Evidence on the terminal: always text, never markup, never control sequences.

Log values are attacker-controlled: ``[link=javascript:...]`` or ``[/]`` in a URL would be
read as Rich markup (a crash or a rendered link), and an ESC from a log line would reach
the responder's terminal. :func:`visible` writes control characters (and the Unicode
controls that reorder or hide text) as ``\\x1b``-style escapes; :func:`text` wraps the
result in a Rich ``Text``, which Rich never parses for markup. Every CLI command prints
data through these.
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # imported by what makes Text: `visible` alone (CSV, JSON) needs no Rich
    from rich.text import Text

# C0 and C1 controls except tab, newline and a CR that ends a line, DEL, and the
# bidirectional/invisible format characters that can make a file name read as another
_CONTROL = re.compile(
    "[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f\u200b-\u200f\u2028-\u202e\u2060-\u2069\ufeff]|\r(?!\n)"
)
_LINE_CONTROL = re.compile("[\x00-\x1f\x7f-\x9f\u200b-\u200f\u2028-\u202e\u2060-\u2069\ufeff]")


def _escape(m: re.Match[str]) -> str:
    code = ord(m.group())
    return f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}"


def visible(value: Any, one_line: bool = False) -> str:
    """``value`` as a string whose control characters are shown, not obeyed.

    ``one_line`` escapes tab and newline too (a table cell, a file name).
    """
    if value is None:
        return ""
    return (_LINE_CONTROL if one_line else _CONTROL).sub(_escape, str(value))


def text(value: Any, style: str = "", one_line: bool = False) -> Text:
    """``value`` as Rich text: shown literally, whatever brackets it holds."""
    from rich.text import Text

    return Text(visible(value, one_line), style=style)


def line(*parts: str | tuple[str, str] | Text) -> Text:
    """Text from literal labels (``(label, style)``) and data already made :func:`text`."""
    from rich.text import Text

    out = Text()
    for part in parts:
        if isinstance(part, tuple):
            out.append(part[0], style=part[1])
        elif isinstance(part, Text):
            out.append_text(part)
        else:
            out.append(visible(part))
    return out
