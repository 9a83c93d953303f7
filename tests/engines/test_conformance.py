"""The same case gives the same findings on DuckDB and on Spark (local[2]).

Each lab case is ingested once (DuckDB, as `ashiato ingest` does) and investigated on both
engines: every analysis (identity, impact, network, hosts and verdicts, patient zero,
vectors, coverage, tampering, clock skew) must agree, down to the evidence lists. A Spark
ingest of the same evidence must fill the catalogue as the DuckDB ingest does, and a DuckDB
read of the case it wrote must give the same findings (a slice pulled to a laptop).

Skipped, with the reason, where pyspark or Java is missing.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from ashiato import lab
from ashiato.analysis.pipeline import investigate
from ashiato.case import Case
from ashiato.engines import spark
from ashiato.ingest import Options, ingest

MASTER = "local[2]"
TZ = "Asia/Tokyo"
# ransomware on a file server after a drive-by (hosts, patient zero, impact, web vector, C2),
# and a case with cleared logs and gaps (tampering, JSON fields of `extra`, record ids)
SCENARIOS = [("fileserver-encryption", 2), ("log-tampering", 5)]

pytestmark = pytest.mark.slow


@pytest.fixture(scope="session")
def spark_session() -> Iterator[Any]:
    why = spark.available()
    if why is not None:
        pytest.skip(f"Spark conformance needs pyspark and Java: {why}")
    session = spark.session(MASTER)
    yield session
    spark.stop()


class Lab:
    def __init__(self, root: Path, scenario: str, seed: int) -> None:
        self.root = root
        self.scenario = scenario
        lab.generate(scenario, root / "lab", seed=seed)
        self.truth = json.loads((root / "lab" / "truth.json").read_text("utf-8"))
        self.case = Case.create_or_open(root / "case", tz=TZ)
        report = ingest(self.case, [self.evidence], Options(tz=TZ))
        assert all(f.status == "done" for f in report.files)

    @property
    def evidence(self) -> Path:
        return self.root / "lab" / "evidence"


@pytest.fixture(scope="module", params=SCENARIOS, ids=[f"{s}-{n}" for s, n in SCENARIOS])
def case(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Lab:
    scenario, seed = request.param
    return Lab(tmp_path_factory.mktemp(f"{scenario}-{seed}"), scenario, seed)


@pytest.fixture(scope="module")
def both(spark_session: Any, case: Lab) -> tuple[dict[str, Any], dict[str, Any]]:
    on_duckdb = _plain(investigate(case.case, "duckdb").to_dict())
    on_spark = _plain(investigate(case.case, "spark", master=MASTER).to_dict())
    return on_duckdb, on_spark


def _plain(findings: dict[str, Any]) -> dict[str, Any]:
    findings.pop("generated", None)  # the time of the run
    out: dict[str, Any] = json.loads(json.dumps(findings, default=str, ensure_ascii=False))
    return out


def _diff(a: Any, b: Any, path: str = "") -> Iterator[str]:
    if type(a) is not type(b):
        yield f"{path}: {a!r} != {b!r}"
    elif isinstance(a, dict):
        for k in sorted(set(a) | set(b)):
            yield from _diff(a.get(k), b.get(k), f"{path}.{k}")
    elif isinstance(a, list):
        if len(a) != len(b):
            yield f"{path}: {len(a)} items != {len(b)}"
        for i, (x, y) in enumerate(zip(a, b, strict=False)):
            yield from _diff(x, y, f"{path}[{i}]")
    elif a != b:
        yield f"{path}: {str(a)[:160]!r} != {str(b)[:160]!r}"


def test_hosts_and_verdicts(both: tuple[dict[str, Any], dict[str, Any]]) -> None:
    d, s = both
    assert [(h["host"], h["verdict"]) for h in d["hosts"]] == [
        (h["host"], h["verdict"]) for h in s["hosts"]
    ]
    assert d["hosts"] == s["hosts"]


def test_patient_zero_and_candidates(both: tuple[dict[str, Any], dict[str, Any]]) -> None:
    d, s = both
    assert d["patient_zero"] == s["patient_zero"]
    assert d["candidates"] == s["candidates"]


def test_vectors(both: tuple[dict[str, Any], dict[str, Any]]) -> None:
    d, s = both
    assert [(v["host"], v["type"], v["confidence"]) for v in d["vectors"]] == [
        (v["host"], v["type"], v["confidence"]) for v in s["vectors"]
    ]
    assert d["vectors"] == s["vectors"]


def test_impact_counts_and_c2(both: tuple[dict[str, Any], dict[str, Any]]) -> None:
    d, s = both
    for key in ("encrypted_files", "ransom_notes", "shares", "users", "window", "c2",
                "payment_sites", "ip_lookups", "spam", "other_infected_hosts"):  # fmt: skip
        assert d["impact"][key] == s["impact"][key], key
    assert d["impact"] == s["impact"]


def test_coverage_tampering_and_clocks(both: tuple[dict[str, Any], dict[str, Any]]) -> None:
    d, s = both
    assert d["coverage"] == s["coverage"]
    assert d["tampering"] == s["tampering"]
    assert d["clock_skew"] == s["clock_skew"]
    assert d["next_steps"] == s["next_steps"]


def test_whole_findings_identical(both: tuple[dict[str, Any], dict[str, Any]]) -> None:
    d, s = both
    diffs = list(_diff(d, s))
    assert not diffs, "\n".join(diffs[:30])


def test_findings_match_the_truth(case: Lab, both: tuple[dict[str, Any], dict[str, Any]]) -> None:
    """Not only the same answer on both engines: the right one."""
    _, s = both
    infected = {h["host"] for h in s["hosts"] if h["verdict"] == "infected"}
    assert infected == {h["host"] for h in case.truth.get("infected_hosts", [])}
    expected = case.truth.get("patient_zero")
    if expected:
        assert s["patient_zero"]["host"] == expected["host"]


# -- ingest on Spark ---------------------------------------------------------------------


def _catalogue(c: Case) -> dict[str, Any]:
    with c.reader() as con:
        return {
            "evidence": sorted(
                con.execute("SELECT * EXCLUDE (ingested_at) FROM evidence").fetchall(), key=str
            ),
            "aliases": sorted(con.execute("SELECT * FROM aliases").fetchall(), key=str),
            "rejects": sorted(con.execute("SELECT * FROM rejects").fetchall(), key=str),
            # the events as a multiset: row count, unique refs, a hash of every column
            "events": con.execute(
                "SELECT count(*), count(DISTINCT (evidence_id, record)), "
                "sum(hash(COLUMNS(*))) FROM events"
            ).fetchall(),
        }


@pytest.fixture(scope="module")
def spark_case(spark_session: Any, case: Lab) -> Case:
    from ashiato.engines.spark_ingest import ingest as spark_ingest

    target = case.root / "spark-case"
    report = spark_ingest(target, [case.evidence], Options(tz=TZ), master=MASTER)
    assert report.files and all(f.status == "done" for f in report.files), [
        (f.display, f.status, f.error) for f in report.files if f.status != "done"
    ]
    return Case.open(target)


def test_spark_ingest_fills_the_catalogue_as_duckdb(case: Lab, spark_case: Case) -> None:
    assert _catalogue(spark_case) == _catalogue(case.case)


def test_spark_ingest_layout_is_partitioned(spark_case: Case) -> None:
    parts = [p.relative_to(spark_case.events_dir) for p in spark_case.events_dir.rglob("*")]
    files = [p for p in parts if p.suffix == ".parquet" and p.parts[0] != "_schema"]
    assert files
    for p in files:
        assert len(p.parts) == 3, p
        assert p.parts[0].startswith("dataset=") and p.parts[1].startswith("day="), p
    assert not [p for p in parts if p.name.endswith(".tmp")]


def test_duckdb_reads_a_spark_ingested_case(
    spark_case: Case, both: tuple[dict[str, Any], dict[str, Any]]
) -> None:
    d, _ = both
    assert _plain(investigate(spark_case, "duckdb").to_dict()) == d


def test_spark_ingest_twice_adds_nothing(case: Lab, spark_case: Case) -> None:
    from ashiato.engines.spark_ingest import ingest as spark_ingest

    before = _catalogue(spark_case)
    report = spark_ingest(spark_case.root, [case.evidence], Options(tz=TZ), master=MASTER)
    assert {f.status for f in report.files} == {"duplicate"}
    after = _catalogue(spark_case)
    assert after["events"] == before["events"] and after["evidence"] == before["evidence"]
