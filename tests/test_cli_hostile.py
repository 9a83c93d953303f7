"""Evidence is text in every command: hostile names and values through the whole CLI.

Square brackets are everywhere in real logs (IPv6 literals, JSON, PowerShell) and Rich
would read them as markup; an ESC in a log line would drive the responder's terminal.
The commands are enumerated from the Typer app, so a new command is covered as soon as
it is registered: its arguments are filled by name (a case, evidence, a reference, a
query) and any other text argument gets hostile text.
"""

from __future__ import annotations

import zipfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import typer
from typer.testing import CliRunner

from ashiato.cli import app

HOSTILE = ["[/]", "[bold]", "[link=javascript:alert(1)]x[/link]", "\x1b[31m", "[::1]"]
NAME = "ev[bold]\x1b[31m[link=javascript:alert(1)]x[-link]"
runner = CliRunner(env={"COLUMNS": "400"})


# Typer ships its own copy of click: commands and parameters are looked at by duck typing
def _commands() -> Iterator[tuple[str, Any]]:
    def walk(prefix: str, cmd: Any) -> Iterator[tuple[str, Any]]:
        subs = getattr(cmd, "commands", None)
        if subs:
            for name, sub in sorted(subs.items()):
                yield from walk(f"{prefix} {name}".strip(), sub)
        else:
            yield prefix, cmd

    yield from walk("", typer.main.get_command(app))


COMMANDS = dict(_commands())


def _is_path(param: Any) -> bool:
    annotation = getattr(getattr(param, "type_descriptor", None), "annotation", None)
    return "Path" in repr(annotation) or type(getattr(param, "type", None)).__name__ == "Path"


def test_every_command_is_enumerated() -> None:
    assert {"ingest", "timeline", "sql", "show", "investigate", "report", "lab generate",
            "export", "serve"} <= set(COMMANDS)  # fmt: skip


def _access_log() -> str:
    # Apache combined format (mod_log_config), the hostile text in every field it allows
    return "".join(
        f'::1 - {h} [10/Oct/2023:13:55:{i:02d} +0900] "GET /p{h}?q={h} HTTP/1.1" 200 '
        f'{100 + i} "http://[::1]/{h}" "Mozilla/5.0 {h}"\n'
        for i, h in enumerate(HOSTILE)
    )


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path | str]:
    root = tmp_path_factory.mktemp("hostile")
    ev = root / NAME
    ev.mkdir()
    (ev / f"access{NAME}.log").write_text(_access_log(), "utf-8")
    (ev / f"unknown{NAME}.txt").write_text("[bold]\x1b[31m nothing known\n", "utf-8")
    with zipfile.ZipFile(ev / f"c{NAME}.zip", "w") as zf:
        zf.writestr(f"../{NAME}.log", "refused member\n")
    case = root / "case"
    res = runner.invoke(app, ["ingest", str(case), str(ev)])
    assert res.exit_code == 0, res.output
    res = runner.invoke(app, ["timeline", str(case), "--format", "jsonl"])
    first = res.stdout.splitlines()[2]  # the [link=...] line
    import json

    row = json.loads(first)
    assert row["user.name"] == HOSTILE[2]
    return {"root": root, "evidence": ev, "case": case,
            "ref": f"{row['evidence_id']}:{row['record']}"}  # fmt: skip


def _value(param: Any, world: dict[str, Path | str], n: int, command: str) -> str:
    name = param.name or ""
    root = Path(world["root"])
    if name == "case":
        return str(root / f"new-case-{n}" if command in ("ingest",) else world["case"])
    if name in ("evidence", "target") and command != "investigate":
        return str(world["evidence"])
    if name == "target":
        return str(world["case"])
    if name == "ref":
        return str(world["ref"])
    if name == "query":
        return "SELECT * FROM events"
    if _is_path(param):
        return str(root / f"out-{n}{NAME}")
    return HOSTILE[n % len(HOSTILE)] + NAME


def _invocations(command: str, world: dict[str, Path | str]) -> list[list[str]]:
    cmd = COMMANDS[command]
    calls = []
    for n in range(2):
        args = command.split()
        for p in cmd.params:
            if p.param_type_name == "argument":
                value = _value(p, world, n, command)
                args += [value] if n == 0 or p.name in ("case", "evidence", "target") else [
                    HOSTILE[0] + value]  # fmt: skip
            elif p.required and p.param_type_name == "option":
                args += [p.opts[0], _value(p, world, n, command)]
        calls.append(args)
    extra = {
        "formats": [["formats", "--explain", str(next(Path(world["evidence"]).glob("access*")))]],
        "report": [["report", str(world["case"]), "--format", "md", "--output", "-"],
                   ["report", str(world["case"]), "--format", "md", "--lang", "ja",
                    "--output", "-"],
                   ["report", str(world["case"]), "--format", "html", "--output", "-"],
                   ["report", str(world["case"]), "--format", "json", "--output", "-"]],
        "timeline": [["timeline", str(world["case"]), "--search", "[/]"],
                     ["timeline", str(world["case"]), "--format", "csv"]],
        "export": [["export", str(world["case"]), "--what", "iocs", "--format", "jsonl"]],
        "ingest": [["ingest", str(world["case"]), str(world["evidence"]),
                    "--password", "[bold]\x1b[31m"]],
        "demo": [["demo", "--out", str(Path(world["root"]) / f"demo{NAME}")]],
    }  # fmt: skip
    if command == "demo":  # one full run is enough (a simulated incident end to end)
        return extra["demo"]
    return calls + extra.get(command, [])


@pytest.mark.parametrize("command", sorted(COMMANDS))
def test_hostile_text_is_shown_never_obeyed(
    command: str, world: dict[str, Path | str], monkeypatch: pytest.MonkeyPatch
) -> None:
    import uvicorn

    monkeypatch.setattr(uvicorn, "run", lambda *a, **k: None)  # serve: print, don't block
    monkeypatch.chdir(Path(world["root"]))
    for args in _invocations(command, world):
        res = runner.invoke(app, args)
        shown = " ".join(a.encode("unicode_escape").decode() for a in args)
        assert res.exception is None or isinstance(res.exception, SystemExit), (
            f"{shown}: {res.exception!r}"
        )
        assert res.exit_code in (0, 1, 2), shown
        assert "MarkupError" not in res.output, shown
        assert "\x1b" not in res.output, f"{shown}: a raw ESC reached the terminal"


def test_evidence_values_print_literally(world: dict[str, Path | str]) -> None:
    res = runner.invoke(app, ["timeline", str(world["case"])])
    assert res.exit_code == 0
    for h in ("[/]", "[bold]", "[link=javascript:alert(1)]x[/link]", "\\x1b[31m", "[::1]"):
        assert h in res.stdout
    res = runner.invoke(app, ["show", str(world["case"]), str(world["ref"])])
    assert res.exit_code == 0
    assert "user.name: [link=javascript:alert(1)]x[/link]" in res.stdout
    assert "[bold]\\x1b[31m" in res.stdout  # the evidence path, escaped not obeyed
    res = runner.invoke(app, ["sql", str(world["case"]),
                              "SELECT \"user.name\" FROM events WHERE \"event.dataset\" = "
                              "'web.access' ORDER BY record"])  # fmt: skip
    assert [ln.strip(" │") for ln in res.stdout.splitlines() if ln.startswith("│")] == [
        "[/]", "[bold]", "[link=javascript:alert(1)]x[/link]", "\\x1b[31m", "[::1]"]  # fmt: skip
    res = runner.invoke(app, ["ingest", str(world["case"]), str(world["evidence"])])
    assert "not read: " in res.stdout and "leaves the archive" in res.stdout


def test_markdown_report_escapes_control_characters(world: dict[str, Path | str]) -> None:
    res = runner.invoke(app, ["report", str(world["case"]), "--format", "md", "--lang", "en",
                              "--output", "-"])  # fmt: skip
    assert res.exit_code == 0, res.output
    assert "\x1b" not in res.stdout
    assert "Evidence handed over but not read" in res.stdout
    assert "\\x1b" in res.stdout  # the refused member's name, shown escaped
