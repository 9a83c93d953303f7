"""The message catalogue: every id in both languages, nothing fuzzy, same placeholders."""

from __future__ import annotations

import re
import string

from ashiato import i18n

_JAPANESE = re.compile(r"[\u3040-\u30ff\u4e00-\u9fff]")


def _fields(text: str) -> set[str]:
    return {name for _, name, _, _ in string.Formatter().parse(text) if name}


def test_every_message_has_both_languages_and_none_is_fuzzy() -> None:
    ids: dict[str, set[str]] = {}
    for lang in i18n.LANGS:
        cat = i18n.read_catalog(lang)
        fuzzy = [m.id for m in cat if m.id and m.fuzzy]
        empty = [m.id for m in cat if m.id and not m.string]
        assert not fuzzy, f"{lang}: fuzzy entries {fuzzy}"
        assert not empty, f"{lang}: untranslated entries {empty}"
        ids[lang] = {str(m.id) for m in cat if m.id}
    assert ids["en"] == ids["ja"], {
        "only in en": sorted(ids["en"] - ids["ja"]),
        "only in ja": sorted(ids["ja"] - ids["en"]),
    }
    assert len(ids["en"]) > 150


def test_placeholders_match_and_languages_do_not_leak() -> None:
    en, ja = i18n.messages("en"), i18n.messages("ja")
    for msgid, text in en.items():
        assert _fields(text) == _fields(ja[msgid]), msgid
        assert not _JAPANESE.search(text), f"Japanese in the English text of {msgid}"
    # the Japanese sentences are Japanese: every message of the management page is
    sentences = [v for k, v in ja.items() if k.startswith("mgmt.")]
    assert sentences and all(_JAPANESE.search(v) for v in sentences)


def test_gettext_fills_named_placeholders_and_falls_back() -> None:
    assert i18n.gettext("ja", "chart_chain", host="pc-07") == "侵入経路の時系列: pc-07"
    assert i18n.gettext("en", "chart_chain", host="pc-07").endswith("pc-07")
    assert i18n.gettext("fr", "verdict_infected") == "infected"  # unknown language: English
    assert i18n.gettext("ja", "no.such.id") == "no.such.id"


def test_responders_terms_are_used() -> None:
    ja = i18n.messages("ja")
    assert ja["pz"] == "初期感染端末"
    assert ja["vector"] == "侵入経路"
    assert ja["encrypted_files"] == "暗号化されたファイル"
    assert ja["ransom_notes"] == "脅迫文"
    assert ja["tampering_kind.log_cleared"] == "ログの消去"
    assert ja["skew"] == "時刻のずれ"


def test_findings_sentences_named_by_id_are_translated_or_stay_english() -> None:
    msg = {"msg": "chart_chain", "args": {"host": "{0.__class__}<pc>"}}
    # a log value is inserted as it is, never read as a format string
    assert i18n.say("ja", "How it got in: x", msg) == "侵入経路の時系列: {0.__class__}<pc>"
    assert i18n.say("ja", "English as written", None) == "English as written"
    assert i18n.say("ja", "English as written", {"msg": "no.such.id"}) == "English as written"
    assert i18n.say("ja", "English as written", {"msg": "chart_chain", "args": {}}) == (
        "English as written"  # a placeholder without its value
    )
    said = i18n.say_all("ja", ["a", "b"], [None, msg])
    assert said == ["a", "侵入経路の時系列: {0.__class__}<pc>"]
    assert i18n.say_all("ja", ["a", "b"], [msg]) == ["a", "b"]  # misaligned ids are ignored


def test_report_uses_the_ids_beside_the_english_sentences() -> None:
    from ashiato.report.html import render

    f = {
        "schema": "ashiato.findings/1",
        "incident": {"detected": True, "summary": "1 infected host(s)",
                     "summary_msg": {"msg": "mgmt.what_infected",
                                     "args": {"n": 1, "hosts": "pc-07"}}},
        "hosts": [{"host": "pc-07", "verdict": "infected", "ips": [], "users": [],
                   "reasons": ["ransom note on the host itself"],
                   "reason_msgs": [{"msg": "tampering_kind.log_cleared", "args": {}}]}],
        "next_steps": ["Isolate now"], "next_step_msgs": [{"msg": "mgmt.today_preserve"}],
        "impact": {}, "coverage": {}, "tampering": [], "vectors": [],
    }
    html = render(f, "ja")
    assert "感染端末は 1 台です（pc-07）。" in html and "ログの消去" in html
    assert "ransom note on the host itself" not in html and "Isolate now" not in html
    assert "1 computer(s) are infected: pc-07." in render(f, "en")  # English from the catalogue
