"""Docs that are derived from code stay in step with it."""

from __future__ import annotations

from pathlib import Path

from ashiato import schema

ROOT = Path(__file__).resolve().parents[1]


def test_schema_doc_is_current() -> None:
    assert (ROOT / "docs" / "schema.md").read_text("utf-8") == schema.markdown(), (
        "run: python -m ashiato.schema > docs/schema.md"
    )


def test_formats_doc_is_current() -> None:
    from ashiato.formats import docs

    assert (ROOT / "docs" / "formats.md").read_text("utf-8") == docs.markdown(), (
        "run: python -m ashiato.formats.docs > docs/formats.md"
    )
