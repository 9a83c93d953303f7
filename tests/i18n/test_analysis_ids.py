"""Every sentence an analysis names by id has that id in both languages, with a value for
each of its placeholders (read from the call sites, so a typo fails here, not in a report)."""

from __future__ import annotations

import ast
import string
from pathlib import Path

from ashiato import i18n

ANALYSIS = Path(i18n.__file__).resolve().parents[1] / "analysis"
CALLS = {"said": 1, "msg": 0}  # where the id is among the positional arguments


def _fields(text: str) -> set[str]:
    return {name for _, name, _, _ in string.Formatter().parse(text) if name}


def _sites() -> list[tuple[str, str, set[str] | None]]:
    """(file:line, id, keyword names or None when ``**args`` passes them) per literal id."""
    out = []
    for path in sorted(ANALYSIS.glob("*.py")):
        for node in ast.walk(ast.parse(path.read_text("utf-8"))):
            if not isinstance(node, ast.Call):
                continue
            name = getattr(node.func, "id", None) or getattr(node.func, "attr", None)
            at = CALLS.get(str(name))
            if at is None or len(node.args) <= at:
                continue
            arg = node.args[at]
            if isinstance(arg, ast.Constant) and isinstance(arg.value, str):
                keys = {k.arg for k in node.keywords if k.arg}
                spread = any(k.arg is None for k in node.keywords)
                out.append((f"{path.name}:{node.lineno}", arg.value, None if spread else keys))
    return out


def test_the_analyses_name_sentences_that_the_catalogue_has() -> None:
    sites = _sites()
    assert len(sites) > 150  # the call sites are found (the scan reads the right files)
    en, ja = i18n.messages("en"), i18n.messages("ja")
    problems = []
    for where, msgid, keys in sites:
        if msgid not in en or msgid not in ja:
            problems.append(f"{where}: {msgid} is not in both .po files")
        elif keys is not None and not _fields(ja[msgid]) <= keys:
            problems.append(f"{where}: {msgid} lacks {sorted(_fields(ja[msgid]) - keys)}")
    assert not problems, "\n".join(problems)


def test_a_sentence_said_in_japanese_keeps_its_english_and_log_values() -> None:
    line = i18n.said("Isolate pc-07 now.", "steps.isolate", hosts=["pc-07", "{0.__class__}"])
    assert line == "Isolate pc-07 now." and isinstance(line, str)
    tree = i18n.companions({"next_steps": [line, "plain"], "x": {"summary": line}})
    assert tree["next_step_msgs"] == [line.msg, None]
    assert tree["x"]["summary_msg"] == line.msg
    ja = i18n.localise(tree, "ja")
    assert ja["next_steps"][0].startswith("感染端末（pc-07、{0.__class__}）を今すぐ")
    assert ja["next_steps"][1] == "plain"  # a sentence without an id stays as written
    assert i18n.localise(tree, "en")["next_steps"][0] == "Isolate pc-07 now."
    nested = i18n.msg("hosts.reason.once", reason=i18n.msg("hosts.reason.spam", d="x"))
    assert i18n.render("ja", nested) == "この端末がスパムを送信しました: x。"
    broken = i18n.msg("hosts.reason.once", reason=i18n.msg("no.such.id"))
    assert i18n.say("ja", "English stays.", broken) == "English stays."
    when = i18n.msg("pz.later", host="b", time="2015-09-10T05:00:00Z", pz="a", pz_time="x")
    said = i18n.render("ja", when, lambda v: f"<{v}>")
    assert said is not None and "<2015-09-10T05:00:00Z>" in said  # the report's zone
