"""One message catalogue for what the report, the terminal summary and the web UI say.

The catalogue is kept the gettext way: ``locale/<lang>/LC_MESSAGES/ashiato.po``, one per
language, read with Babel's ``read_po`` when first needed (no compiled ``.mo`` is kept in
the repository, so nothing can go stale). A ``msgid`` is a stable symbolic id such as
``verdict_infected`` or ``mgmt.what_ransomware``, not English text: English is a
translation like Japanese, so a test can insist that every id has both, and analyses can
later name a sentence by id with its arguments (docs/i18n.md). Placeholders are named,
Python ``str.format`` style (``{hosts}``), so a translation may reorder them.
"""

from __future__ import annotations

import functools
from importlib import resources
from typing import Any

from babel.messages.catalog import Catalog
from babel.messages.pofile import read_po

LANGS = ("en", "ja")
DOMAIN = "ashiato"


def po_path(lang: str) -> Any:
    """The ``.po`` file of ``lang`` (a Traversable inside the package)."""
    return resources.files("ashiato.i18n") / "locale" / lang / "LC_MESSAGES" / f"{DOMAIN}.po"


def read_catalog(lang: str) -> Catalog:
    with po_path(lang).open("rb") as fh:
        return read_po(fh, locale=lang, domain=DOMAIN)


@functools.cache
def messages(lang: str) -> dict[str, str]:
    """Every id → text of ``lang`` (English for a language we don't have)."""
    if lang not in LANGS:
        lang = "en"
    out: dict[str, str] = {}
    for m in read_catalog(lang):
        if m.id and isinstance(m.id, str) and isinstance(m.string, str) and m.string:
            out[m.id] = m.string
    return out


def gettext(lang: str, msgid: str, /, **args: Any) -> str:
    """The text of ``msgid`` in ``lang`` with its named placeholders filled in.

    A missing id falls back to English, then to the id itself, so a report never breaks
    over wording (the catalogue test is what keeps both languages complete)."""
    text = messages(lang).get(msgid) or messages("en").get(msgid) or msgid
    return text.format(**args) if args else text


def section(lang: str, prefix: str) -> dict[str, str]:
    """The messages whose id starts with ``prefix.``, keyed by the rest of the id."""
    cut = len(prefix) + 1
    return {k[cut:]: v for k, v in messages(lang).items() if k.startswith(prefix + ".")}


def say(lang: str, text: Any, msg: Any = None) -> str:
    """A sentence from findings.json in ``lang``.

    Analyses write the English ``text`` and, beside it, ``msg`` = ``{"msg": ID, "args":
    {...}}`` (docs/i18n.md). The catalogue's wording of ``ID`` filled with ``args`` is
    used when it exists and its placeholders are all given; otherwise the English text,
    so a findings.json from an older analysis still reads. Only our own catalogue text
    is a format string: log values arrive as ``args`` and are inserted, never parsed.
    """
    english = "" if text is None else str(text)
    if not isinstance(msg, dict) or not isinstance(msg.get("msg"), str):
        return english
    template = messages(lang).get(msg["msg"])
    args = msg.get("args") or {}
    if template is None or not isinstance(args, dict):
        return english
    try:
        return template.format(**{str(k): v for k, v in args.items()})
    except (KeyError, IndexError, ValueError, AttributeError):
        return english


def say_all(lang: str, texts: Any, msgs: Any = None) -> list[str]:
    """:func:`say` over a list of sentences and the list of their ids (same order)."""
    items = [t for t in texts or []]
    ids = msgs if isinstance(msgs, list) and len(msgs) == len(items) else [None] * len(items)
    return [say(lang, t, m) for t, m in zip(items, ids, strict=True)]
