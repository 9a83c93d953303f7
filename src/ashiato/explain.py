"""``ashiato formats --explain FILE``: how a file would be read, before ingesting it."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from ashiato.evidence.encoding import detect
from ashiato.evidence.walk import archive_kind
from ashiato.formats import registry
from ashiato.formats.base import SAMPLE_BYTES, Sample


def explain_file(path: Path) -> dict[str, Any]:
    with path.open("rb") as fh:
        head = fh.read(SAMPLE_BYTES)
    kind = archive_kind(path)
    if kind is not None:
        return {
            "file": str(path),
            "archive": kind,
            "note": "archives are unpacked and each member is detected on its own",
        }
    encoding = detect(head)
    text = None
    if encoding is not None:
        import codecs

        text = codecs.getincrementaldecoder(encoding)(errors="replace").decode(head, False)
    sample = Sample(head, text, path.name)
    fmt = registry.sniff(sample)
    candidates = []
    for f in registry.formats():
        try:
            ok = (f.binary == (text is None)) and f.sniff(sample)
        except Exception:
            ok = False
        candidates.append(f"{f.name}: {'yes' if ok else 'no'}")
    columns = None
    if fmt is not None and fmt.name == "generic_table":
        from ashiato.formats.generic_table import explain_columns

        header = sample.first_lines(1)
        if header:
            columns = explain_columns(_split_header(header[0]))
    return {
        "file": str(path),
        "encoding": encoding or "binary",
        "format": fmt.name if fmt else None,
        "dataset": fmt.dataset if fmt else None,
        "fields": list(fmt.fields) if fmt else [],
        "first lines": sample.first_lines(3),
        "columns": columns,
        "sniff answers (in registry order)": candidates,
    }


def _split_header(line: str) -> list[str]:
    import csv

    delim = max(",\t;|", key=line.count)
    return next(csv.reader([line], delimiter=delim))
