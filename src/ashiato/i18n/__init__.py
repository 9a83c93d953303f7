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
import re
from collections.abc import Callable
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


_ISO = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d(:\d\d(\.\d+)?)?(Z|[+-]\d\d:?\d\d)?$")


def msg(msgid: str, /, **args: Any) -> dict[str, Any]:
    """A sentence named by id for findings.json: ``{"msg": ID, "args": {...}}``.

    ``args`` hold values only (names, counts, ISO times, lists of values, or another
    message for a clause that is itself a sentence); the report words them. The id must
    be in both ``.po`` files: tests/i18n/test_analysis_ids.py reads every call site."""
    return {"msg": msgid, "args": args}


class Said(str):
    """An English sentence that knows its id: analyses write ``said(text, ID, **args)``
    where they wrote ``text``, so every reader of the string is unchanged, and
    :func:`companions` adds the ``X_msg`` / ``X_msgs`` keys when findings.json is written."""

    msg: dict[str, Any]

    def __new__(cls, text: str, msg: dict[str, Any]) -> Said:
        obj = super().__new__(cls, text)
        obj.msg = msg
        return obj

    def __reduce__(self) -> tuple[Any, ...]:  # dataclasses.asdict deep-copies it
        return (Said, (str(self), self.msg))


def said(text: str, msgid: str, /, **args: Any) -> Said:
    """``text`` (English, as the analysis wrote it) named by ``msgid`` with ``args``."""
    return Said(text, msg(msgid, **args))


def said_all(text: str, *parts: dict[str, Any] | None, join: str = "sentences") -> Said:
    """``text`` said as several whole sentences (see :func:`msgs`)."""
    return Said(text, msgs(*parts, join=join))


def msg_of(text: Any) -> dict[str, Any] | None:
    """The id a sentence carries (None for a plain string)."""
    return text.msg if isinstance(text, Said) else None


def companions(tree: Any) -> Any:
    """``tree`` with ``X_msg`` beside every sentence ``X`` that knows its id and
    ``X_msgs`` (one entry per item, ``null`` for a plain one) beside every list of them;
    a list ``reasons`` gets ``reason_msgs``. Keys already there are kept."""
    if isinstance(tree, list):
        return [companions(x) for x in tree]
    if isinstance(tree, Said):
        return str(tree)
    if not isinstance(tree, dict):
        return tree
    out: dict[str, Any] = {}
    for k, v in tree.items():
        out[k] = companions(v)
        if isinstance(v, Said):
            out.setdefault(f"{k}_msg", v.msg)
        elif isinstance(v, list) and any(isinstance(x, Said) for x in v):
            name = k[:-1] if isinstance(k, str) and k.endswith("s") else k
            out.setdefault(f"{name}_msgs", [msg_of(x) for x in v])
    return out


def msgs(*parts: dict[str, Any] | None, join: str = "sentences") -> dict[str, Any]:
    """Several whole sentences said as one (``join`` ``sentences`` or ``clauses``; how
    each language joins them is in the catalogue: ``join.sentences``, ``join.clauses``,
    ``join.steps`` for the steps of a chain)."""
    return {"msgs": [p for p in parts if p], "join": join}


def say(lang: str, text: Any, msg: Any = None, when: Callable[[str], str] | None = None) -> str:
    """A sentence from findings.json in ``lang``.

    Analyses write the English ``text`` and, beside it, ``msg`` = ``{"msg": ID, "args":
    {...}}`` (docs/i18n.md). The catalogue's wording of ``ID`` filled with ``args`` is
    used when it exists and its placeholders are all given; otherwise the English text,
    so a findings.json from an older analysis still reads. Only our own catalogue text
    is a format string: log values arrive as ``args`` and are inserted, never parsed.
    ``when`` formats an ISO time argument for the reader (the report's display zone).
    """
    english = "" if text is None else str(text)
    if lang not in LANGS or (lang == "en" and english):
        return english  # the analysis's own English, exactly as written
    said = render(lang, msg, when)
    return english if said is None else said


def render(lang: str, msg: Any, when: Callable[[str], str] | None = None) -> str | None:
    """The wording of a message dict in ``lang``; None when it can't be said in full."""
    if not isinstance(msg, dict):
        return None
    if isinstance(msg.get("msgs"), list):
        parts = [render(lang, m, when) for m in msg["msgs"]]
        if not parts or any(p is None for p in parts):
            return None
        kind = msg.get("join")
        kind = kind if kind in ("sentences", "clauses", "steps") else "sentences"
        return gettext(lang, f"join.{kind}.end", text=_join(lang, f"join.{kind}", parts))
    if not isinstance(msg.get("msg"), str):
        return None
    template = messages(lang).get(msg["msg"])
    args = msg.get("args") or {}
    if template is None or not isinstance(args, dict):
        return None
    values: dict[str, Any] = {}
    for k, v in args.items():
        value = _value(lang, v, when)
        if value is None:
            return None
        values[str(k)] = value
    try:
        return template.format(**values)
    except (KeyError, IndexError, ValueError, AttributeError, TypeError):
        return None


def _value(lang: str, v: Any, when: Callable[[str], str] | None) -> Any:
    """One argument as the reader sees it: a nested message said, a list joined the
    language's way, an ISO time in the display zone; names and counts as they are."""
    if isinstance(v, dict):
        return render(lang, v, when)
    if isinstance(v, list):
        items = [_value(lang, x, when) for x in v]
        if any(x is None for x in items):
            return None
        return _join(lang, "join.list", items)
    if isinstance(v, str) and when is not None and _ISO.match(v):
        return when(v)
    return "" if v is None else v


def localise(tree: Any, lang: str, when: Callable[[str], str] | None = None) -> Any:
    """A copy of findings.json with every sentence that has an id said in ``lang``
    (``X`` from ``X_msg``, a list ``X`` from its ``X_msgs``); the rest as it is. The
    report and the web UI read this, so every place that shows a sentence speaks ``lang``."""
    if isinstance(tree, list):
        return [localise(x, lang, when) for x in tree]
    if not isinstance(tree, dict):
        return tree
    out = {k: localise(v, lang, when) for k, v in tree.items()}
    for k, v in tree.items():
        if not isinstance(k, str) or k.endswith(("_msg", "_msgs")):
            continue
        if isinstance(v, str) and isinstance(tree.get(f"{k}_msg"), dict):
            out[k] = say(lang, v, tree[f"{k}_msg"], when)
        elif isinstance(v, list) and all(isinstance(x, str) for x in v):
            ids = tree.get(f"{k[:-1] if k.endswith('s') else k}_msgs")
            if isinstance(ids, list):
                out[k] = say_all(lang, v, ids, when)
    return out


def _join(lang: str, how: str, items: list[Any]) -> str:
    """Items joined by the catalogue's ``{first}…{rest}`` pattern of ``how``."""
    out = ""
    for i, x in enumerate(items):
        out = str(x) if i == 0 else gettext(lang, how, first=out, rest=x)
    return out


def say_all(
    lang: str, texts: Any, msgs: Any = None, when: Callable[[str], str] | None = None
) -> list[str]:
    """:func:`say` over a list of sentences and the list of their ids (same order)."""
    items = [t for t in texts or []]
    ids = msgs if isinstance(msgs, list) and len(msgs) == len(items) else [None] * len(items)
    return [say(lang, t, m, when) for t, m in zip(items, ids, strict=True)]
