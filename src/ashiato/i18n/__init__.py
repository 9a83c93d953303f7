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
