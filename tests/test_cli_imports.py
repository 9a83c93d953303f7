"""The CLI starts without the heavy libraries: each command imports what it needs.

``ashiato --help`` or an ingest of one small file should not pay for Ibis, pandas,
Jinja2, the report or the analyses (~0.3 s of start-up before they were kept out). Run
in a fresh interpreter: this test process has imported everything already.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

# imported by commands that use them, never by `import ashiato.cli`
NOT_AT_IMPORT = (
    "pyarrow", "pyarrow.compute", "pyarrow.dataset", "duckdb", "numpy", "pandas", "ibis",
    "pydantic", "jinja2", "fastapi", "babel", "rich", "ashiato.case", "ashiato.ingest",
    "ashiato.analysis", "ashiato.report", "ashiato.detect", "ashiato.timeline",
)  # fmt: skip
# not even for `--help` (typer renders it with rich.markdown, and typer >= 0.29 builds
# its pydantic adapters: those are typer's)
NOT_FOR_HELP = (
    "pyarrow", "duckdb", "numpy", "pandas", "ibis", "jinja2", "fastapi", "babel",
    "ashiato.case", "ashiato.ingest", "ashiato.analysis", "ashiato.report", "ashiato.detect",
)  # fmt: skip


def _modules(code: str) -> set[str]:
    run = subprocess.run(
        [sys.executable, "-c", code + "\nimport sys\nprint('\\n'.join(sys.modules))"],
        capture_output=True, text=True, check=True, timeout=120,
    )  # fmt: skip
    return set(run.stdout.split())


def test_importing_the_cli_leaves_the_heavy_libraries_out() -> None:
    loaded = _modules("import ashiato.cli")
    assert "typer" in loaded and "ashiato.cli" in loaded  # it did import the CLI
    assert sorted(m for m in NOT_AT_IMPORT if m in loaded) == []


def test_help_leaves_the_case_store_and_analyses_out() -> None:
    code = (
        "import contextlib, io\n"
        "from ashiato.cli import app\n"
        "with contextlib.redirect_stdout(io.StringIO()) as out, contextlib.suppress(SystemExit):\n"
        "    app(['ingest', '--help'], prog_name='ashiato')\n"
        "assert 'Parse evidence into a case' in out.getvalue(), out.getvalue()\n"
    )
    loaded = _modules(code)
    assert sorted(m for m in NOT_FOR_HELP if m in loaded) == []


# nor for an ingest that prints JSON: DuckDB would import pyarrow.dataset for an Arrow
# table handed to it, pyarrow and DuckDB pandas (hidden: ashiato.nopandas)
NOT_FOR_INGEST = ("pyarrow.dataset", "pandas", "ibis", "rich", "jinja2", "ashiato.analysis")


def test_ingest_json_leaves_rich_pandas_and_pyarrow_dataset_out(tmp_path: Path) -> None:
    log = Path(__file__).parent / "data" / "squid" / "access.log"
    code = (
        "import contextlib, io\n"
        "from ashiato.cli import app\n"
        "with contextlib.redirect_stdout(io.StringIO()) as out, contextlib.suppress(SystemExit):\n"
        f"    app(['ingest', {str(tmp_path / 'case')!r}, {str(log)!r}, '--json'], prog_name='a')\n"
        f"open({str(tmp_path / 'out.json')!r}, 'w').write(out.getvalue())\n"
    )
    loaded = _modules(code)
    summary = json.loads((tmp_path / "out.json").read_text("utf-8"))
    assert summary["rows"] > 0 and summary["files"][0]["status"] == "done"  # it did ingest
    assert "duckdb" in loaded and "pyarrow.parquet" in loaded
    assert sorted(m for m in NOT_FOR_INGEST if m in loaded) == []
