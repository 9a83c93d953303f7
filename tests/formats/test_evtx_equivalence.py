"""EVTX speed work changes nothing: rows, rejects and record refs of every public file.

``tests/data/windows/evtx_corpus_digests.json`` holds, for every ``.evtx`` of
evtx-attack-samples, deepbluecli and evtx-parser-testfiles (damaged files included), the
SHA-256 of what ``parse_file`` gives: every column of every row in order (``record``
included) and every reject (record number, reason, raw bytes), as computed by the code
before issue 14's EVTX round (commit 3661594). A change to the mapping that is meant
changes digests: regenerate them with ``PYTHONPATH=src python
tests/formats/test_evtx_equivalence.py`` and say why in the commit.

Checked twice: in the test process, and in a process that reads evidence the way
``ashiato ingest`` does, with pandas hidden (``ashiato.nopandas``: pyarrow then converts
Python values without its pandas probe).
"""

from __future__ import annotations

import hashlib
import subprocess
import sys
from pathlib import Path

import orjson
import pytest

from ashiato.formats.evtx import FORMAT
from ashiato.formats.testing import parse_file

CORPORA = ("evtx-attack-samples", "deepbluecli", "evtx-parser-testfiles")
DIGESTS = Path(__file__).resolve().parents[1] / "data" / "windows" / "evtx_corpus_digests.json"
SHARED = Path(__file__).resolve().parents[3] / "shared" / "data"


def digests(shared: Path) -> dict[str, dict[str, object]]:
    """Per file (path under ``shared``): rows, rejects and the digest of both."""
    out: dict[str, dict[str, object]] = {}
    for corpus in CORPORA:
        for path in sorted((shared / corpus).rglob("*.evtx")):
            table, rejects = parse_file(FORMAT, path)
            h = hashlib.sha256()
            for batch in table.to_batches(max_chunksize=4096):
                # datetimes as RFC 3339 (orjson's own), bytes by their repr: both exact
                h.update(orjson.dumps(batch.to_pylist(), default=repr))
            h.update(orjson.dumps([(r.record, r.reason, r.raw.hex()) for r in rejects]))
            out[path.relative_to(shared).as_posix()] = {
                "rows": table.num_rows,
                "rejects": len(rejects),
                "sha256": h.hexdigest(),
            }
    return out


def _stored(shared: Path) -> dict[str, dict[str, object]]:
    if not all((shared / c).is_dir() for c in CORPORA):
        pytest.skip(f"needs {', '.join(CORPORA)} under ../shared/data")
    stored: dict[str, dict[str, object]] = orjson.loads(DIGESTS.read_bytes())
    return stored


Digests = dict[str, dict[str, object]]


def _differences(stored: Digests, now: Digests) -> list[str]:
    return [
        f"{name}: {stored.get(name)} -> {now.get(name)}"
        for name in sorted(set(stored) | set(now))
        if stored.get(name) != now.get(name)
    ]


@pytest.mark.corpus
def test_every_public_evtx_gives_the_rows_and_rejects_it_gave(shared: Path) -> None:
    stored = _stored(shared)
    now = digests(shared)
    assert sum(int(str(d["rejects"])) for d in now.values()) > 0  # damaged files are in
    assert not _differences(stored, now), "\n".join(_differences(stored, now)[:20])


_HIDDEN = """
import sys
from pathlib import Path
sys.path.insert(0, sys.argv[2])
from ashiato import nopandas
nopandas.hide()
import orjson
from test_evtx_equivalence import digests
sys.stdout.buffer.write(orjson.dumps(digests(Path(sys.argv[1]))))
assert "pandas" not in sys.modules
"""


@pytest.mark.corpus
def test_the_same_without_pandas(shared: Path) -> None:
    stored = _stored(shared)
    run = subprocess.run(
        [sys.executable, "-c", _HIDDEN, str(shared), str(Path(__file__).parent)],
        capture_output=True, check=False,
    )  # fmt: skip
    assert run.returncode == 0, run.stderr.decode()[-2000:]
    now = orjson.loads(run.stdout)
    assert not _differences(stored, now), "\n".join(_differences(stored, now)[:20])


if __name__ == "__main__":  # regenerate the digests (a meant change of the mapping)
    DIGESTS.write_bytes(orjson.dumps(digests(SHARED), option=orjson.OPT_INDENT_2) + b"\n")
    print(f"wrote {DIGESTS}")
