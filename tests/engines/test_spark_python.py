"""Spark's Python workers run the interpreter ashiato runs in, activated or not.

PySpark starts workers with $PYSPARK_PYTHON, else "python3" from PATH; run from a
virtualenv that is not activated, that is a python without ashiato, and every task dies
with "No module named 'ashiato'" under pages of Java trace.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from ashiato.engines import spark

pytestmark = pytest.mark.slow

_CHILD = r"""
import os, sys
sys.path.insert(0, sys.argv[1])  # not PYTHONPATH: the workers must not inherit it
from ashiato.engines import spark
from ashiato.errors import Location
session = spark.session("local[1]")
# a function of ashiato's, so the workers must import ashiato to run it
got = session.sparkContext.parallelize(["a.log"], 1).map(Location).collect()
print("PYSPARK_PYTHON=" + os.environ["PYSPARK_PYTHON"])
print("RESULT=" + str(got[0]))
print("PROBE=" + str(spark.executors_missing(session.sparkContext)))
spark.stop()
"""

_PROBE = r"""
import sys
sys.path.insert(0, sys.argv[1])
from ashiato.engines import spark
session = spark.session("local[1]")
print("PROBE=" + str(spark.executors_missing(session.sparkContext)))
spark.stop()
"""


def test_local_workers_use_the_running_interpreter(tmp_path: Path) -> None:
    why = spark.available()
    if why is not None:
        pytest.skip(f"needs pyspark and Java: {why}")
    # what a shell without the venv activated has: python3 on PATH is the system one
    env = {
        k: v
        for k, v in os.environ.items()
        if k not in ("PYTHONPATH", "PYSPARK_PYTHON", "VIRTUAL_ENV", "PYENV_VERSION")
    }
    env["PATH"] = "/usr/bin:/bin"
    src = str(Path(__file__).parents[2] / "src")
    res = subprocess.run([sys.executable, "-c", _CHILD, src], env=env, cwd=tmp_path,
                         capture_output=True, text=True, timeout=300)  # fmt: skip
    assert res.returncode == 0, res.stderr[-3000:]
    assert f"PYSPARK_PYTHON={sys.executable}" in res.stdout
    assert "RESULT=a.log" in res.stdout
    assert "PROBE=None" in res.stdout


def test_executors_without_ashiato_are_named_in_one_sentence(tmp_path: Path) -> None:
    why = spark.available()
    if why is not None:
        pytest.skip(f"needs pyspark and Java: {why}")
    system = Path("/usr/bin/python3")
    check = subprocess.run([str(system), "-c", "import pyarrow"], capture_output=True)
    if not system.exists() or check.returncode == 0:
        pytest.skip("needs a python3 without pyarrow at /usr/bin/python3")
    # the user's PYSPARK_PYTHON is kept; here it is one without ashiato, as a cluster
    # node that nobody installed ashiato on
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    env["PYSPARK_PYTHON"] = str(system)
    src = str(Path(__file__).parents[2] / "src")
    res = subprocess.run([sys.executable, "-c", _PROBE, src], env=env, cwd=tmp_path,
                         capture_output=True, text=True, timeout=300)  # fmt: skip
    assert res.returncode == 0, res.stderr[-3000:]
    [line] = [ln for ln in res.stdout.splitlines() if ln.startswith("PROBE=")]
    assert f"({system})" in line and "ashiato" in line and "pyarrow" in line
    assert "install ashiato" in line and "every worker node" in line
