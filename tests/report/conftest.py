"""A lab incident, ingested and investigated once per session (shared with tests/web)."""

from __future__ import annotations

import shutil

import pytest

from ashiato.case import Case


def cached_lab_case(factory: pytest.TempPathFactory) -> Case:
    """The demo's incident (fileserver encryption, seed 7); built once per session in the
    session's base temp folder, where tests/web/conftest.py finds it too."""
    from ashiato import lab
    from ashiato.analysis.pipeline import investigate
    from ashiato.ingest import Options, ingest

    root = factory.getbasetemp() / "ashiato-lab-case"
    done = root / "built"
    if not done.exists():
        shutil.rmtree(root, ignore_errors=True)
        root.mkdir(parents=True)
        lab.generate("fileserver-encryption", root / "lab", seed=7)
        case = Case.create_or_open(root / "case", tz="Asia/Tokyo")
        ingest(case, [root / "lab" / "evidence"], Options(tz="Asia/Tokyo"))
        investigate(case)
        done.write_text("ok", "utf-8")
    return Case.open(root / "case")


@pytest.fixture(scope="session")
def lab_case(tmp_path_factory: pytest.TempPathFactory) -> Case:
    return cached_lab_case(tmp_path_factory)
