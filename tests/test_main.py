"""The ``ashiato`` command's entry: evidence named to ingest is hashed from the start."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

import ashiato.__main__ as entry
import ashiato.cli
from ashiato.evidence import hash_ahead


@pytest.mark.parametrize(
    ("argv", "hashed"),
    [(["ingest", "CASE", "big.evtx", "--tz", "UTC"], ["CASE", "big.evtx", "UTC"]),
     (["investigate", "big.evtx", "--case", "C"], ["big.evtx", "C"]),
     (["report", "CASE"], None),
     ([], None)],
)  # fmt: skip
def test_paths_of_an_ingest_start_hashing_before_the_cli_loads(
    monkeypatch: pytest.MonkeyPatch, argv: list[str], hashed: list[str] | None
) -> None:
    started: list[list[str]] = []
    ran: list[bool] = []
    monkeypatch.setattr(sys, "argv", ["ashiato", *argv])
    monkeypatch.setattr(hash_ahead, "start", lambda paths: started.append(list(paths)))
    monkeypatch.setattr(ashiato.cli, "main", lambda: ran.append(True))
    left: list[object] = []
    monkeypatch.setattr(entry, "leave", left.append)  # not this test process's end
    entry.main()
    assert ran == [True] and left == [0]
    assert started == ([] if hashed is None else [hashed])


def test_a_large_file_named_is_hashed_once_and_handed_over(tmp_path: Path) -> None:
    from ashiato.evidence.walk import sha256_of

    big = tmp_path / "big.bin"
    big.write_bytes(b"\x01" * (hash_ahead.MIN_BYTES + 5))
    hash_ahead.start([str(big), str(tmp_path), "Asia/Tokyo"])  # a folder, a zone: skipped
    import hashlib

    assert sha256_of(big) == hashlib.sha256(big.read_bytes()).hexdigest()
    assert hash_ahead.take(big) is None  # handed over once; the next asks hash in place


def _ashiato(*args: str, before: str = "") -> subprocess.CompletedProcess[str]:
    code = "\n".join(("import sys", "import ashiato.__main__ as m", before,
                      f"sys.argv = ['ashiato', *{args!r}]", "m.main()"))  # fmt: skip
    return subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          timeout=120, check=False)  # fmt: skip


def test_the_command_ends_as_python_would_have_ended_it(tmp_path: Path) -> None:
    # no interpreter teardown, but exit handlers, output and the status as without
    done = _ashiato("--help", before="import atexit\natexit.register(print, 'handler ran')")
    assert done.returncode == 0
    assert "ingest" in done.stdout and done.stdout.rstrip().endswith("handler ran")
    failed = _ashiato("ingest", str(tmp_path / "case"), str(tmp_path / "no such file"))
    assert failed.returncode != 0
    assert "no such file or folder" in failed.stderr and "Traceback" not in failed.stderr
    said = _ashiato("--help", before="import ashiato.cli\n"
                    "ashiato.cli.main = lambda: sys.exit('stopped: a message')")  # fmt: skip
    assert said.returncode == 1 and "stopped: a message" in said.stderr


def test_a_command_named_runs_with_only_its_own_options_built() -> None:
    # the CLI builds the named command alone; what it says is what the whole CLI said
    from typer.testing import CliRunner

    from ashiato.cli import app

    for args in (["ingest", "--help"], ["lab", "--help"], ["formats"]):
        alone = _ashiato(*args)
        whole = CliRunner().invoke(app, args, terminal_width=80, prog_name="ashiato")
        assert alone.returncode == whole.exit_code == 0, args
        assert alone.stdout.split() == whole.stdout.split(), args
