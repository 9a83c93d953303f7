"""Docs that are derived from code stay in step with it."""

from __future__ import annotations

from pathlib import Path

from ashiato import schema

ROOT = Path(__file__).resolve().parents[1]


def test_schema_doc_is_current() -> None:
    assert (ROOT / "docs" / "schema.md").read_text("utf-8") == schema.markdown(), (
        "run: python -m ashiato.schema > docs/schema.md"
    )
