"""Report and web UI wording in English and Japanese, from the message catalogue.

The words live in ``ashiato/i18n/locale/*/LC_MESSAGES/ashiato.po``; this module hands
them to the templates as a dict (``t.title``) and names the enumerations of
findings.json (verdicts, vector types, tampering kinds). What the analyses wrote
(reasons, next steps, summaries) still comes from findings.json in English: docs/i18n.md
says how those sentences will be named by id.
"""

from __future__ import annotations

import os
from typing import Any

from ashiato import i18n

LANGS = i18n.LANGS


def default_lang(environ: dict[str, str] | None = None) -> str:
    """``ja`` when the locale (LC_ALL, LC_MESSAGES or LANG) is Japanese, else ``en``."""
    env = os.environ if environ is None else environ
    for key in ("LC_ALL", "LC_MESSAGES", "LANG"):
        value = env.get(key)
        if value:
            return "ja" if value.lower().startswith("ja") else "en"
    return "en"


def labels(lang: str) -> dict[str, str]:
    return i18n.messages(lang)


def vector_type(lang: str, kind: Any) -> str:
    return i18n.messages(lang).get(f"vector_type.{kind}", str(kind))


def tampering_kind(lang: str, kind: Any) -> str:
    return i18n.messages(lang).get(f"tampering_kind.{kind}", str(kind))


def verdict(lang: str, value: Any) -> str:
    return labels(lang).get(f"verdict_{value}", str(value))
