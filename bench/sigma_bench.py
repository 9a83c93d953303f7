"""Sigma hunt benchmark: the SigmaHQ Windows rules over ~1M EVTX-derived events.

    python bench/sigma_bench.py                      # 1M events, ../shared/data defaults
    python bench/sigma_bench.py --events 250000 --rules PATH --evtx FOLDER

Real events are parsed from the EVTX samples (evtx-attack-samples: Sysmon, Security,
PowerShell...), then replicated (new evidence ids and record numbers) into a fresh case
until it holds ``--events`` rows. On that case it times, in one run:

- the baselines: ``SELECT count(*)`` over the events view (reading the Parquet files) and
  one full scan testing one field (``contains(lower(command line), ...)``);
- the hunt: loading the rules (pySigma), compiling them, running them (prepare + match),
  reported as total seconds and events/s.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

import pyarrow as pa
import pyarrow.compute as pc

ROOT = Path(__file__).resolve().parents[1]
SHARED = ROOT.parent / "shared" / "data"
sys.path.insert(0, str(ROOT / "src"))


def parse_samples(folder: Path) -> pa.Table:
    from ashiato.formats import evtx
    from ashiato.formats.testing import parse_file

    tables = []
    for path in sorted(folder.rglob("*.evtx")):
        try:
            table, _ = parse_file(evtx.FORMAT, path)
        except Exception as exc:  # a damaged sample must not stop the bench
            print(f"  skipped {path.name}: {exc}", file=sys.stderr)
            continue
        if table.num_rows:
            tables.append(table)
    return pa.concat_tables(tables)


def build_case(root: Path, sample: pa.Table, n: int) -> None:
    from ashiato.case import Case, EventWriter

    case = Case.create_or_open(root, tz="UTC")
    copies = -(-n // sample.num_rows)
    left = n
    for i in range(copies):
        part = sample.slice(0, min(left, sample.num_rows))
        left -= part.num_rows
        ev = pa.array([f"bench{i:04d}"] * part.num_rows, pa.string())
        rec = pa.array(range(1, part.num_rows + 1), pa.int64())
        part = part.set_column(part.schema.get_field_index("evidence_id"), "evidence_id", ev)
        part = part.set_column(part.schema.get_field_index("record"), "record", rec)
        ds = str(pc.min(part.column("event.dataset")).as_py() or "windows")
        writer = EventWriter(case, f"bench{i:04d}", "bench-" + ds.split(".")[0])
        writer.add(part.combine_chunks().to_batches()[0])
        writer.close()


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--events", type=int, default=1_000_000)
    ap.add_argument("--rules", type=Path, default=SHARED / "sigmahq" / "rules" / "windows")
    ap.add_argument("--evtx", type=Path, default=SHARED / "evtx-attack-samples")
    ap.add_argument("--min-level", default="informational")
    args = ap.parse_args()

    import ibis

    from ashiato.case import Case
    from ashiato.detect import sigma

    t = time.perf_counter()
    sample = parse_samples(args.evtx)
    print(f"parsed {sample.num_rows} sample events in {time.perf_counter() - t:.1f}s")
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp) / "case"
        t = time.perf_counter()
        build_case(root, sample, args.events)
        print(f"case of {args.events} events written in {time.perf_counter() - t:.1f}s")
        case = Case.open(root)
        with case.writer() as con:
            t = time.perf_counter()
            n = con.execute("SELECT count(*) FROM events").fetchone()[0]  # type: ignore[index]
            base_count = time.perf_counter() - t
            t = time.perf_counter()
            con.execute(
                """SELECT count(*) FROM events
                   WHERE contains(lower("process.command_line"), 'vssadmin')"""
            ).fetchone()
            base_scan = time.perf_counter() - t
            print(f"baseline SELECT count(*): {base_count:.2f}s ({n} rows)")
            print(f"baseline one-field scan:  {base_scan:.2f}s")

            t0 = time.perf_counter()
            rules, problems = sigma.load([args.rules])
            t_load = time.perf_counter() - t0
            events = ibis.duckdb.from_connection(con).table("events")
            t1 = time.perf_counter()
            result = sigma.hunt(events, rules, args.min_level)
            t_hunt = time.perf_counter() - t1
        total = t_load + t_hunt
        st = result.stats
        print(f"rules: {len(rules)} loaded in {t_load:.1f}s, {len(result.rules)} ran, "
              f"{len(problems) + len(result.problems)} not run")  # fmt: skip
        print(f"hunt: {t_hunt:.1f}s (prepare {st.seconds_prepare:.1f}s over "
              f"{st.rows_prepared} scoped rows in {st.scopes} scopes, match "
              f"{st.seconds_match:.1f}s in {st.queries} queries)")  # fmt: skip
        print(f"detections: {len(result.detections)}")
        print(f"TOTAL {total:.1f}s = {n / total:,.0f} events/s "
              f"({total / max(base_scan, 1e-9):.0f}x one full scan)")  # fmt: skip


if __name__ == "__main__":
    main()
