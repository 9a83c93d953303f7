"""EVTX ingest speed against the `evtx` package's own iteration, on the real samples.

    python bench/evtx_bench.py                  # ../shared/data/**/*.evtx, each copied N times
    python bench/evtx_bench.py --copies 5
    python bench/evtx_bench.py --copies 1 --folders evtx-attack-samples deepbluecli
                                                # the public corpus of issue 14 (299 files)

The public EVTX samples are small (about 40,000 records in 500 files), so each file is
copied --copies times (as distinct evidence: one byte of padding appended changes the
hash but not the records) to reach a measurable size. In the same run it times, in
child processes:

  baseline   iterating `evtx.PyEvtxParser(path).records_json()` over every file and
             decoding each record's JSON (the floor for any Python EVTX reader)
  ingest     `python -m ashiato ingest CASE FOLDER` into a fresh case

and prints records/s, the ratio, CPU seconds (user + sys, worker processes included) and
the peak RSS of the whole process tree (psutil, sampled every 20 ms). ``--workers N`` is
handed to the ingest (default: its own choice, see ``ashiato ingest --help``). Goals: >= 100,000
EVTX records/s through ingest on 2 cores (issue "foundation"); the 299 files of
evtx-attack-samples and deepbluecli, copied once, ingested in <= 1 s (issue 14).
"""

from __future__ import annotations

import argparse
import os
import shutil
import sys
import tempfile
from pathlib import Path

from _measure import run

SHARED = Path(__file__).resolve().parents[2] / "shared" / "data"

_BASELINE = """
import sys, json
from pathlib import Path
import evtx
n = 0
for p in sorted(Path(sys.argv[1]).rglob("*.evtx")):
    records = evtx.PyEvtxParser(str(p)).records_json()
    while True:
        try:
            rec = next(records)
        except StopIteration:
            break
        except Exception:
            continue
        json.loads(rec["data"])
        n += 1
print(n)
"""


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--copies", type=int, default=3)
    ap.add_argument("--folders", nargs="*", help="folders of ../shared/data (default: all)")
    ap.add_argument("--workers", type=int, help="processes the ingest reads files with")
    args = ap.parse_args()
    roots = [SHARED / f for f in args.folders] if args.folders else [SHARED]
    files = sorted(p for r in roots for p in r.rglob("*.evtx"))
    if not files:
        raise SystemExit(f"no EVTX under {SHARED}")
    work = Path(tempfile.mkdtemp(prefix="ashiato-evtx-bench-"))
    try:
        ev = work / "evidence"
        for i in range(args.copies):
            for j, f in enumerate(files):
                dst = ev / str(i) / f"{j:04d}-{f.name}"
                dst.parent.mkdir(parents=True, exist_ok=True)
                shutil.copyfile(f, dst)
                if i:
                    with dst.open("ab") as fh:  # trailing slack: new hash, same records
                        fh.write(b"\x00" * i)
        print(f"{os.cpu_count()} CPUs, load {', '.join(f'{x:.1f}' for x in os.getloadavg())}")
        t_base, cpu_base, rss_base, out = run([sys.executable, "-c", _BASELINE, str(ev)])
        records = int(out.strip())
        workers = ["--workers", str(args.workers)] if args.workers else []
        cmd = [sys.executable, "-m", "ashiato", "ingest", str(work / "case"), str(ev), "--json"]
        t_ing, cpu_ing, rss_ing, _ = run([*cmd, *workers])
        print(f"{len(files) * args.copies} files, {records:,} records")
        print(f"{'':12}{'seconds':>9}{'records/s':>12}{'CPU s':>8}{'peak RSS':>11}")
        for name, t, cpu, rss in (("evtx+json", t_base, cpu_base, rss_base),
                                  ("ingest", t_ing, cpu_ing, rss_ing)):  # fmt: skip
            print(f"{name:12}{t:9.2f}{records / t:12,.0f}{cpu:8.2f}{rss:8} MB")
        rate = records / t_ing
        verdict = "met" if rate >= 100_000 else "NOT met"
        print(f"ingest = {t_ing / t_base:.2f}x the baseline; goal 100,000 records/s: {verdict}")
        print(
            f"{len(files) * args.copies} files in {t_ing:.2f} s ({cpu_ing:.2f} s CPU); "
            f"goal for the 299-file corpus <= 1 s: {'met' if t_ing <= 1 else 'NOT met'}"
        )
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
