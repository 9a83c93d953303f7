"""Whole-case ingest: a lab incident's evidence (ten formats, ~150 MB per scale step of
10) through `ashiato ingest`, with one process and with worker processes.

    python bench/case_ingest_bench.py                      # scale 20 (~1.9M events)
    python bench/case_ingest_bench.py --scale 5 --runs 1   # a quick run
    python bench/case_ingest_bench.py --keep /tmp/cib      # keep (and reuse) the lab

In the same run, on the same files, in child processes:

  cat            reading every byte (the floor)
  wc -l          reading and counting lines
  python lines   a plain Python loop over the lines, splitting each on spaces
  ingest -w N    `python -m ashiato ingest CASE EVIDENCE --tz Asia/Tokyo --workers N`
                 into a fresh case (N = 1 and 2, --runs times each, interleaved)

For each: wall seconds, events/s (the case's events), CPU seconds (user + sys of the whole
process tree: workers included) and peak RSS of the whole process tree (psutil, sampled
every 20 ms). Goal (issue 14): ingest <= 10 s at scale 20 on 2 cores. The first line
prints the load average: on a shared machine wall times mean something only at low load.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import sys
import tempfile
from pathlib import Path

from _measure import run

_LINES = """
import sys
from pathlib import Path
n = 0
for p in sorted(Path(sys.argv[1]).rglob("*")):
    if p.is_file():
        with p.open("rb") as fh:
            for line in fh:
                n += len(line.split(b" ")) > 1
print(n)
"""


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--scale", type=int, default=20)
    ap.add_argument("--scenario", default="fileserver-encryption")
    ap.add_argument("--runs", type=int, default=2, help="ingest runs per worker count")
    ap.add_argument("--workers", type=int, nargs="*", default=[1, 2])
    ap.add_argument("--keep", type=Path, help="folder to keep (and reuse) the lab in")
    args = ap.parse_args()
    py = sys.executable
    work = args.keep or Path(tempfile.mkdtemp(prefix="ashiato-case-bench-"))
    work.mkdir(parents=True, exist_ok=True)
    lab = work / f"lab-{args.scenario}-{args.scale}"
    try:
        if not (lab / "truth.json").exists():
            shutil.rmtree(lab, ignore_errors=True)
            t, _, _, _ = run([py, "-m", "ashiato", "lab", "generate", args.scenario,
                              "--out", str(lab), "--scale", str(args.scale)])  # fmt: skip
            print(f"lab generate (scale {args.scale}): {t:.1f} s")
        evidence = lab / "evidence"
        files = [p for p in evidence.rglob("*") if p.is_file()]
        size = sum(p.stat().st_size for p in files)
        print(f"{os.cpu_count()} CPUs, load {', '.join(f'{x:.1f}' for x in os.getloadavg())}")
        print(f"{len(files)} files, {size / 1e6:,.0f} MB")
        rows: list[tuple[str, float, float, int]] = []
        rows.append(("cat", *run(["sh", "-c", f"find '{evidence}' -type f -exec cat {{}} + "
                                  ">/dev/null"])[:3]))  # fmt: skip
        rows.append(("wc -l", *run(["sh", "-c", f"find '{evidence}' -type f -exec wc -l {{}} + "
                                    ">/dev/null"])[:3]))  # fmt: skip
        rows.append(("python lines", *run([py, "-c", _LINES, str(evidence)])[:3]))
        events = 0
        got: dict[int, list[tuple[float, float, int]]] = {w: [] for w in args.workers}
        for _ in range(args.runs):
            for w in args.workers:
                case = work / "case"
                shutil.rmtree(case, ignore_errors=True)
                cmd = [py, "-m", "ashiato", "ingest", str(case), str(evidence), "--tz",
                       "Asia/Tokyo", "--json", "--workers", str(w)]  # fmt: skip
                t, cpu, rss, out = run(cmd)
                events = json.loads(out)["rows"]
                got[w].append((t, cpu, rss))
                print(f"  ingest --workers {w}: {t:.1f} s, {cpu:.1f} s CPU, {rss} MB")
        for w, results in got.items():
            t = statistics.median(r[0] for r in results)
            cpu = statistics.median(r[1] for r in results)
            rows.append((f"ingest -w {w}", t, cpu, max(r[2] for r in results)))
        print(f"\n{events:,} events (medians of {args.runs} ingest runs)")
        print(f"{'':16}{'wall s':>8}{'events/s':>12}{'CPU s':>8}{'peak RSS':>11}{'x cat':>8}")
        base = rows[0][1]
        for name, t, cpu, rss in rows:
            print(f"{name:16}{t:8.2f}{events / t:12,.0f}{cpu:8.2f}{rss:8} MB{t / base:8.1f}")
        best = min(r[1] for r in rows if r[0].startswith("ingest"))
        print(f"fastest ingest {best:.1f} s; goal <= 10 s at scale 20: "
              f"{'met' if best <= 10 else 'NOT met'}")  # fmt: skip
    finally:
        shutil.rmtree(work / "case", ignore_errors=True)
        if args.keep is None:
            shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
