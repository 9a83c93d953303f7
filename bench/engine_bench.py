"""DuckDB against Spark on one large lab case: ingest and investigate, and Spark's cost per task.

    python bench/engine_bench.py                          # scale 20 (~1.9M events) x 6 = ~11M
    python bench/engine_bench.py --scale 5 --copies 2     # a quick run
    python bench/engine_bench.py --work /data/eb          # keep lab and case between runs

Steps, all in one process so both engines see the same files on the same machine:

1. ``lab.generate("fileserver-encryption", scale=K)`` (kept in --work when given);
2. ingest it with DuckDB, and again with Spark (``--engine spark``) into a second case,
   and check both hold the same events;
3. replicate the DuckDB case's Parquet parts ``--copies`` times (each copy a new evidence
   id, with its catalogue row), to reach ~10M+ events without a long generation;
4. ``investigate`` on DuckDB, then on Spark ``local[2]`` (SparkSession start timed apart),
   and check the findings are identical;
5. read Spark's own task metrics (REST API of the driver UI) for the investigate: tasks,
   task-seconds, and the cost per task (≈ per input partition), from which
   docs/scaling.md estimates N executors.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import shutil
import sys
import tempfile
import time
import urllib.request
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "src"))

import pyarrow as pa  # noqa: E402
import pyarrow.parquet as pq  # noqa: E402

from ashiato import lab  # noqa: E402
from ashiato.analysis.pipeline import investigate  # noqa: E402
from ashiato.case import Case  # noqa: E402
from ashiato.engines import spark  # noqa: E402
from ashiato.ingest import Options, ingest  # noqa: E402

TZ = "Asia/Tokyo"
SCENARIO = "fileserver-encryption"


def _t() -> float:
    return time.perf_counter()


def _rows(case: Case) -> int:
    with case.reader() as con:
        row = con.execute("SELECT count(*) FROM events").fetchone()
    return int(row[0]) if row else 0


def _events_digest(case: Case) -> tuple[Any, ...]:
    with case.reader() as con:
        row = con.execute(
            "SELECT count(*), count(DISTINCT (evidence_id, record)), sum(hash(COLUMNS(*))) "
            "FROM events"
        ).fetchone()
    return tuple(row or ())


def replicate(case: Case, copies: int) -> int:
    """Copy every Parquet part ``copies - 1`` times under new evidence ids (and catalogue)."""
    parts = [p for p in sorted(case.events_dir.glob("*/*.parquet")) if p.parent.name != "_schema"]
    parts = [p for p in parts if "#" not in p.stem and len(p.stem) == 16]
    written = 0
    with case.writer() as con:
        cols = [d[0] for d in con.execute("SELECT * FROM evidence LIMIT 0").description]
        rows = {r[0]: list(r) for r in con.execute("SELECT * FROM evidence").fetchall()}
        for k in range(1, copies):
            for part in parts:
                eid = part.stem
                new = hashlib.sha256(f"{eid}:{k}".encode()).hexdigest()[:16]
                target = part.with_name(f"{new}.parquet")
                if not target.exists():
                    table = pq.read_table(part)
                    i = table.schema.get_field_index("evidence_id")
                    table = table.set_column(i, "evidence_id", pa.array([new] * table.num_rows))
                    pq.write_table(table, target, compression="zstd", row_group_size=131_072)
                    written += table.num_rows
                if eid in rows:
                    row = dict(zip(cols, rows[eid], strict=True))
                    row.update(evidence_id=new, sha256=new * 4, path=f"{row['path']}#copy{k}")
                    con.execute(
                        f"INSERT OR REPLACE INTO evidence VALUES ({', '.join('?' * len(cols))})",
                        [row[c] for c in cols],
                    )
    return written


def _stages(ui: str | None, app: str) -> list[dict[str, Any]]:
    if not ui:
        return []
    url = f"{ui}/api/v1/applications/{app}/stages?status=complete"
    try:
        with urllib.request.urlopen(url, timeout=30) as fh:  # the local driver UI
            data: list[dict[str, Any]] = json.load(fh)
    except OSError:
        return []
    return data


def model(stages: list[dict[str, Any]], driver: float, cores: int) -> float:
    """Wall time on ``cores`` cores: the driver's share, plus per stage its tasks in waves
    of ``cores``, each wave taking the stage's mean task time (a stage can't go faster than
    one task: the floor once the cluster is wider than the stage)."""
    total = driver
    for s in stages:
        n = max(int(s["numTasks"]), 1)
        per_task = float(s["executorRunTime"]) / 1000 / n
        total += -(-n // cores) * per_task
    return total


def _plain(findings: dict[str, Any]) -> dict[str, Any]:
    findings.pop("generated", None)
    out: dict[str, Any] = json.loads(json.dumps(findings, default=str, ensure_ascii=False))
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--scale", type=int, default=20, help="lab scale (20 ≈ 1.9M events)")
    ap.add_argument("--copies", type=int, default=6, help="replicate the events this many times")
    ap.add_argument("--master", default="local[2]")
    ap.add_argument("--work", type=Path, help="keep lab and cases here (reused when present)")
    ap.add_argument("--no-spark-ingest", action="store_true", help="skip the Spark ingest")
    args = ap.parse_args()
    work = args.work or Path(tempfile.mkdtemp(prefix="ashiato-engine-bench-"))
    work.mkdir(parents=True, exist_ok=True)
    print(f"load average {os.getloadavg()[0]:.2f} on {os.cpu_count()} cores; work {work}")

    lab_dir = work / f"lab-{args.scale}"
    if not (lab_dir / "truth.json").exists():
        shutil.rmtree(lab_dir, ignore_errors=True)
        t = _t()
        lab.generate(SCENARIO, lab_dir, seed=1, scale=args.scale)
        print(f"lab {SCENARIO} scale {args.scale}: generated in {_t() - t:.1f} s")
    evidence = lab_dir / "evidence"
    size = sum(p.stat().st_size for p in evidence.rglob("*") if p.is_file())

    # the Spark session first, with its UI on, so its task metrics can be read
    t = _t()
    session = spark.session(args.master, conf={"spark.ui.enabled": "true"})
    spark_start = _t() - t
    sc = session.sparkContext

    case_dir = work / f"case-{args.scale}"
    fresh = not (case_dir / "manifest.json").exists()
    case = Case.create_or_open(case_dir, tz=TZ)
    if fresh:
        t = _t()
        rep = ingest(case, [evidence], Options(tz=TZ))
        duck_ingest = _t() - t
        print(f"ingest DuckDB: {duck_ingest:.1f} s, {rep.rows:,} events from {len(rep.files)} "
              f"files, {size / 1e6:.0f} MB ({rep.rows / duck_ingest:,.0f} events/s)")  # fmt: skip
    if not args.no_spark_ingest:
        from ashiato.engines.spark_ingest import ingest as spark_ingest

        target = work / f"spark-case-{args.scale}"
        shutil.rmtree(target, ignore_errors=True)
        t = _t()
        srep = spark_ingest(target, [evidence], Options(tz=TZ), master=args.master)
        took = _t() - t
        same = _events_digest(Case.open(target)) == _events_digest(case) if fresh else None
        print(f"ingest Spark {args.master}: {took:.1f} s, {srep.rows:,} events "
              f"({srep.rows / took:,.0f} events/s); same events as DuckDB: {same}")  # fmt: skip

    t = _t()
    added = replicate(case, args.copies)
    if added:
        print(f"replicated x{args.copies}: +{added:,} events in {_t() - t:.1f} s")
    rows = _rows(case)
    parts = spark.read_events(session, str(case.events_dir)).rdd.getNumPartitions()
    print(f"case: {rows:,} events, {parts} Spark input partitions")

    t = _t()
    on_duckdb = _plain(investigate(case, "duckdb").to_dict())
    duck = _t() - t
    print(f"investigate DuckDB: {duck:.1f} s")

    before = {s["stageId"] for s in _stages(sc.uiWebUrl, sc.applicationId)}
    t = _t()
    on_spark = _plain(investigate(case, "spark", master=args.master).to_dict())
    wall = _t() - t
    print(f"investigate Spark {args.master}: {wall:.1f} s (+{spark_start:.1f} s session start)")
    print(f"findings identical: {on_duckdb == on_spark}")

    stages = [s for s in _stages(sc.uiWebUrl, sc.applicationId) if s["stageId"] not in before]
    if stages:
        tasks = sum(int(s["numTasks"]) for s in stages)
        run_s = sum(float(s["executorRunTime"]) for s in stages) / 1000
        scans = [s for s in stages if int(s.get("inputRecords") or 0) > 0]
        scan_tasks = sum(int(s["numTasks"]) for s in scans)
        scan_s = sum(float(s["executorRunTime"]) for s in scans) / 1000
        cores = sc.defaultParallelism
        driver = max(0.0, wall - run_s / cores)
        print(
            f"Spark: {len(stages)} stages, {tasks} tasks, {run_s:.1f} task-s on {cores} cores; "
            f"scans of the events: {len(scans)} stages, {scan_tasks} tasks, {scan_s:.1f} task-s"
        )
        print(f"per task: {run_s / tasks * 1000:.0f} ms; per scan task (input partition): "
              f"{scan_s / max(scan_tasks, 1) * 1000:.0f} ms; per-query overhead "
              f"(driver, planning, scheduling): {driver:.1f} s over the run")  # fmt: skip
        for n in (1, 4, 16, 64):
            print(f"  model, {n:>2} executor(s) x 4 cores: ~{model(stages, driver, 4 * n):.0f} s")
    else:
        print("Spark task metrics unavailable (driver UI not reachable)")
    print(json.dumps({
        "events": rows, "partitions": parts, "duckdb_s": round(duck, 1),
        "spark_s": round(wall, 1), "spark_session_s": round(spark_start, 1),
        "identical": on_duckdb == on_spark,
    }))  # fmt: skip
    spark.stop()


if __name__ == "__main__":
    main()
