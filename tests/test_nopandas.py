"""Ingest without pandas: neither pyarrow nor DuckDB gets to import it (ashiato.nopandas)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import duckdb

DATA = Path(__file__).resolve().parent / "data"


def _python(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, *args], capture_output=True, text=True, cwd=cwd, check=False
    )


def test_ingest_reads_evidence_without_importing_pandas(tmp_path: Path) -> None:
    log = next((DATA / "squid").glob("*.log"))
    run = _python("-X", "importtime", "-m", "ashiato", "ingest", str(tmp_path / "case"),
                  str(log), "--json", cwd=tmp_path)  # fmt: skip
    assert run.returncode == 0, run.stderr[-2000:]
    assert "pandas.core" not in run.stderr  # importtime lists every module imported
    con = duckdb.connect()
    rows = con.execute(
        f"SELECT count(*) FROM read_parquet('{tmp_path / 'case' / 'events'}/**/*.parquet')"
    ).fetchone()
    assert rows is not None and rows[0] > 0


_HIDDEN = """
import sys
from ashiato import nopandas
nopandas.hide()
import duckdb, pyarrow as pa, pyarrow.compute as pc
con = duckdb.connect()
assert con.execute("SELECT ?::VARCHAR || 'b'", ["a"]).fetchone() == ("ab",)
assert pa.array(["x", None, "y"]).to_pylist() == ["x", None, "y"]
assert pc.equal(pa.array([1, 2]), 2).to_pylist() == [False, True]
assert "pandas" not in sys.modules
try:
    import pandas
except ModuleNotFoundError as exc:
    assert "ashiato.nopandas" in str(exc), exc
else:
    raise AssertionError("pandas imported while hidden")
with nopandas.hidden():  # already hidden: left so
    pass
assert any(isinstance(f, nopandas._NoPandas) for f in sys.meta_path)
nopandas.unhide()
with nopandas.hidden():
    assert "pandas" not in sys.modules
assert pa.table({"a": [1]}).to_pandas()["a"].tolist() == [1]  # pyarrow asks again
with nopandas.hidden():  # pandas in: nothing to hide
    import pandas
print("ok")
"""


def test_hidden_pandas_fails_by_name_and_comes_back(tmp_path: Path) -> None:
    run = _python("-c", _HIDDEN, cwd=tmp_path)
    assert run.returncode == 0 and run.stdout.strip() == "ok", run.stderr[-2000:]
