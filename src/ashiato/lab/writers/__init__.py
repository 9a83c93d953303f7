"""One module per vendor format; each turns a plain event dict into the vendor's line.

Renderers have the signature ``(state, device_ts, data) -> str | None`` (see
:class:`ashiato.lab.sink.StreamState`): ``device_ts`` already includes the device's clock
skew, ``state`` carries per-file counters.
"""

from __future__ import annotations

from collections.abc import Iterable


def csv_field(v: object, always: bool = False) -> str:
    """RFC 4180 quoting: quote when needed (or always, as PowerShell's Export-Csv does)."""
    s = "" if v is None else str(v)
    if always or any(c in s for c in ',"\n\r'):
        return '"' + s.replace('"', '""') + '"'
    return s


def csv_line(fields: Iterable[object], always: bool = False) -> str:
    return ",".join(csv_field(f, always) for f in fields)
