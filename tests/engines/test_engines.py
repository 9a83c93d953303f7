"""Engine selection, case locations and the partitioned layout (no Spark needed here)."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import ibis
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from ashiato import engines
from ashiato.case import Case
from ashiato.engines import store
from ashiato.engines.spark_ingest import NULL_DAY, PartitionedWriter
from ashiato.errors import AshiatoError, CaseError
from ashiato.schema import EVENT_SCHEMA, batch_from_columns

UTC = dt.UTC


def test_engine_choice(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(engines.ENV_ENGINE, raising=False)
    monkeypatch.delenv(engines.ENV_MASTER, raising=False)
    assert engines.resolve(None) == "duckdb"
    assert engines.resolve("Spark") == "spark"
    monkeypatch.setenv(engines.ENV_ENGINE, "spark")
    assert engines.resolve(None) == "spark"
    assert engines.resolve("duckdb") == "duckdb"  # the option wins over the environment
    assert engines.spark_master(None) == engines.DEFAULT_MASTER
    monkeypatch.setenv(engines.ENV_MASTER, "spark://h:7077")
    assert engines.spark_master(None) == "spark://h:7077"
    assert engines.spark_master("local[2]") == "local[2]"
    with pytest.raises(AshiatoError, match="unknown engine"):
        engines.resolve("postgres")


def test_capability_table_covers_every_engine() -> None:
    assert set(engines.CAPABILITIES) == set(engines.ENGINES)
    assert engines.CAPABILITIES["spark"].remote_case
    assert not engines.CAPABILITIES["duckdb"].remote_case


@pytest.mark.parametrize(
    ("given", "expected"),
    [
        ("s3://bucket/case/", "s3://bucket/case"),
        (Path("s3://bucket/case"), "s3://bucket/case"),  # as the CLI hands it over
        (Path("hdfs://nn:8020/cases/x"), "hdfs://nn:8020/cases/x"),
        (Path("file:///tmp/case"), "file:///tmp/case"),
        ("/tmp/case", "/tmp/case"),
    ],
)
def test_case_locations(given: str | Path, expected: str) -> None:
    assert store.normalise(given) == expected


def test_spark_urls() -> None:
    assert store.spark_url("s3://b/c") == "s3a://b/c"
    assert store.spark_url("/tmp/c") == "file:///tmp/c"
    assert store.spark_url("hdfs://nn:8020/c") == "hdfs://nn:8020/c"


def test_duckdb_engine_refuses_a_remote_case() -> None:
    with pytest.raises(CaseError, match="use --engine spark"):
        engines.connect("s3://bucket/case", "duckdb")


def test_expression_helpers_on_duckdb(tmp_path: Path) -> None:
    pq.write_table(pa.table({
        "extra": ['{"winlog": {"event_data": {"State": "stopped"}, "record_id": 42}}', None],
        "ts": pa.array([dt.datetime(2015, 9, 9, 0, 0, 1, 500000, tzinfo=UTC)] * 2,
                       pa.timestamp("us", tz="UTC")),
    }), tmp_path / "t.parquet")  # fmt: skip
    t = ibis.duckdb.connect().read_parquet(tmp_path / "t.parquet")
    q = t.select(
        state=engines.json_field(t["extra"], "winlog", "event_data", "State"),
        rid=engines.json_field(t["extra"], "winlog", "record_id", as_="int64"),
        secs=engines.epoch_seconds(t["ts"]),
    )
    rows = q.to_pyarrow().to_pylist()
    assert rows[0] == {"state": "stopped", "rid": 42, "secs": 1441756801.5}
    assert rows[1]["state"] is None and rows[1]["rid"] is None


def test_spark_json_paths() -> None:
    from ashiato.engines.spark import _json_path

    assert _json_path(["winlog", "user_data", "Channel"]) == "$.winlog.user_data.Channel"
    assert _json_path(["odd key"]) == "$['odd key']"


def _batch(rows: list[tuple[str, dt.datetime | None, int]]) -> pa.RecordBatch:
    return batch_from_columns({
        "@timestamp": pa.array([r[1] for r in rows], pa.timestamp("us", tz="UTC")),
        "event.dataset": [r[0] for r in rows],
        "evidence_id": ["abcd" * 4] * len(rows),
        "record": [r[2] for r in rows],
    }, len(rows))  # fmt: skip


def test_partitioned_parts_are_read_by_the_duckdb_view(tmp_path: Path) -> None:
    case = Case.create_or_open(tmp_path / "case")
    eid = "abcd" * 4
    w = PartitionedWriter(str(case.events_dir), eid, group_rows=2, budget=3)
    w.add(_batch([
        ("squid.access", dt.datetime(2015, 9, 9, 23, 59, tzinfo=UTC), 1),
        ("squid.access", dt.datetime(2015, 9, 10, 0, 1, tzinfo=UTC), 2),
        ("windows.security", dt.datetime(2015, 9, 10, 0, 2, tzinfo=UTC), 3),
        ("windows.security", None, 4),
    ]))  # fmt: skip
    w.add(_batch([("squid.access", dt.datetime(2015, 9, 9, 1, 0, tzinfo=UTC), 5)]))
    assert not list(case.events_dir.rglob("*.parquet")) or all(
        p.parent.name == "_schema" for p in case.events_dir.rglob("*.parquet")
    ), "parts stay .tmp until the evidence file is complete"
    w.close()
    parts = sorted(str(p.relative_to(case.events_dir)) for p in case.events_dir.rglob(f"{eid}*"))
    assert parts == [
        f"dataset=squid.access/day=2015-09-09/{eid}.parquet",
        f"dataset=squid.access/day=2015-09-10/{eid}.parquet",
        f"dataset=windows.security/day=2015-09-10/{eid}.parquet",
        f"dataset=windows.security/day={NULL_DAY}/{eid}.parquet",
    ]
    with case.reader() as con:  # no catalogue row yet: what a killed ingest leaves, hidden
        assert con.execute("SELECT count(*) FROM events").fetchone() == (0,)
    with case.writer() as con:
        con.execute("INSERT INTO evidence (evidence_id, status) VALUES (?, 'done')", [eid])
    with case.reader() as con:
        got = con.execute("SELECT record FROM events ORDER BY record").fetchall()
        cols = [d[0] for d in con.execute("SELECT * FROM events LIMIT 0").description]
    assert [r[0] for r in got] == [1, 2, 3, 4, 5]
    assert cols == EVENT_SCHEMA.names  # partition folders don't become columns
    case.drop_events(eid)
    assert not list(case.events_dir.rglob(f"{eid}*"))


def test_aborted_parts_leave_nothing(tmp_path: Path) -> None:
    events = tmp_path / "events"
    w = PartitionedWriter(str(events), "ffff" * 4, group_rows=1)
    w.add(_batch([("squid.access", dt.datetime(2015, 9, 9, tzinfo=UTC), 1)]))
    assert list(events.rglob("*.tmp"))
    w.abort()
    assert not [p for p in events.rglob("*") if p.is_file()]


def test_leftovers_of_a_killed_spark_ingest_are_removed(tmp_path: Path) -> None:
    """Parts whose evidence has no catalogue row, and .tmp files, go; known parts stay."""
    from ashiato.ingest import Options, ingest

    case = Case.create_or_open(tmp_path / "case")
    orphan = case.events_dir / "dataset=squid.access" / "day=2015-09-09" / ("0123" * 4 + ".parquet")
    orphan.parent.mkdir(parents=True)
    orphan.write_bytes(b"half")
    (orphan.parent / "x.parquet.tmp").write_bytes(b"half")
    log = tmp_path / "ev" / "access.log"
    log.parent.mkdir()
    log.write_text("1441766705.000   1 10.0.0.1 TCP_MISS/200 10 GET http://a.example/ - "
                   "HIER_DIRECT/192.0.2.1 text/html\n")  # fmt: skip
    ingest(case, [log.parent], Options(tz="UTC"))
    left = [p.name for p in case.events_dir.rglob("*") if p.is_file()]
    assert orphan.name not in left and "x.parquet.tmp" not in left
    assert store.delete_events(str(case.events_dir), set(), unknown_besides=set()) >= 1


def test_analyses_get_a_memory_budget(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    case = Case.create_or_open(tmp_path / "case", tz="UTC")
    monkeypatch.setenv("ASHIATO_MEMORY_LIMIT", "512MB")
    con = engines.connect(case).backend.con
    limit, spill = con.execute(
        "SELECT current_setting('memory_limit'), current_setting('temp_directory')"
    ).fetchone()
    assert limit.startswith("488") and "ashiato-spill-" in spill  # 512 MB in MiB
    # the value goes into a SET statement: anything but a size is refused, not run
    monkeypatch.setenv("ASHIATO_MEMORY_LIMIT", "1GB'; SET threads = 1; --")
    with pytest.raises(CaseError, match="ASHIATO_MEMORY_LIMIT"):
        engines.connect(case)
