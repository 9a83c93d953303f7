"""docs/formats.md, generated from the registry (a test keeps the file in step)."""

from __future__ import annotations

from ashiato.formats.registry import formats


def markdown() -> str:
    lines = [
        "# Formats",
        "",
        "Generated from `src/ashiato/formats/registry.py` by "
        "`python -m ashiato.formats.docs > docs/formats.md`. Formats are recognised by "
        "content, in this order (the first whose sniff accepts a file reads it); "
        "`ashiato ingest --format NAME` forces one and `ashiato formats --explain FILE` shows "
        "the decision.",
        "",
        "| name | dataset | reads | ECS fields filled |",
        "|---|---|---|---|",
    ]
    for f in formats():
        fields = ", ".join(f"`{x}`" for x in f.fields)
        lines.append(f"| `{f.name}` | `{f.dataset}` | {f.description} | {fields} |")
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    print(markdown(), end="")
