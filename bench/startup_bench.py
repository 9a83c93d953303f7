"""What a run of the CLI costs before and around the work: start-up and one small file.

    python bench/startup_bench.py                       # 5 interleaved rounds
    python bench/startup_bench.py --runs 9 --against ../main/src

In the same run, in child processes, interleaved round by round (the machine is shared:
each round sees the same load):

  floor      `python -c "import evtx, orjson"`: what any Python EVTX reader pays
  --help     `python -m ashiato --help`
  one file   `python -m ashiato ingest CASE FILE --json` into a fresh case, FILE the
             smallest sample of evtx-attack-samples that holds events (a few records)

It prints the median wall and CPU seconds (user + sys) of each, their spread, the peak
RSS, and each one's CPU as a multiple of the floor. ``--against SRC`` runs the two
ashiato commands a second time per round with ``PYTHONPATH=SRC`` (another checkout's
``src``, e.g. main's) and prints those rows beside, for a before/after in one run.
Goal (issue 14): start-up and a run of one small file under 0.3 s.
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import sys
import tempfile
from pathlib import Path

from _measure import run

SHARED = Path(__file__).resolve().parents[2] / "shared" / "data"
SRC = Path(__file__).resolve().parents[1] / "src"
# the evtx-attack-samples file of issue 14's one-file timing (a few Sysmon records)
ONE = "AutomatedTestingTools/PanacheSysmon_vs_AtomicRedTeam01.evtx"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--runs", type=int, default=5)
    ap.add_argument("--against", type=Path, help="another ashiato src folder to time beside")
    ap.add_argument("--file", type=Path, default=SHARED / "evtx-attack-samples" / ONE)
    args = ap.parse_args()
    if not args.file.is_file():
        raise SystemExit(f"no {args.file}")
    trees = [("", SRC)] + ([(" (against)", args.against.resolve())] if args.against else [])
    work = Path(tempfile.mkdtemp(prefix="ashiato-startup-bench-"))
    times: dict[str, list[tuple[float, float, int]]] = {}
    try:
        print(f"{os.cpu_count()} CPUs, load {', '.join(f'{x:.1f}' for x in os.getloadavg())}")
        for i in range(args.runs):
            runs: list[tuple[str, list[str], dict[str, str] | None]] = [
                ("floor", [sys.executable, "-c", "import evtx, orjson"], None)
            ]
            for tag, src in trees:
                env = {**os.environ, "PYTHONPATH": str(src)}
                case = work / f"case-{i}{tag.strip(' ()')}"
                ingest = ["ingest", str(case), str(args.file), "--json"]
                runs.append(("--help" + tag, [sys.executable, "-m", "ashiato", "--help"], env))
                runs.append(("one file" + tag, [sys.executable, "-m", "ashiato", *ingest], env))
            for name, cmd, child_env in runs:
                wall, cpu, rss, _ = run(cmd, env=child_env)
                times.setdefault(name, []).append((wall, cpu, rss))
            for case in work.iterdir():
                shutil.rmtree(case)
        floor = statistics.median(c for _, c, _ in times["floor"])
        print(f"{args.runs} rounds; medians (min-max)")
        print(f"{'':20}{'wall s':>18}{'CPU s':>18}{'peak RSS':>10}{'CPU/floor':>11}")
        for name, got in times.items():
            walls, cpus = [w for w, _, _ in got], [c for _, c, _ in got]
            cpu = statistics.median(cpus)
            print(f"{name:20}{_spread(walls):>18}{_spread(cpus):>18}"
                  f"{max(r for _, _, r in got):7} MB{cpu / floor:10.1f}x")  # fmt: skip
        one = statistics.median(c for _, c, _ in times["one file"])
        verdict = "met" if one < 0.3 else "NOT met"
        print(f"one small file: {one:.2f} s of CPU; goal < 0.3 s: {verdict}")
    finally:
        shutil.rmtree(work, ignore_errors=True)


def _spread(values: list[float]) -> str:
    return f"{statistics.median(values):.2f} ({min(values):.2f}-{max(values):.2f})"


if __name__ == "__main__":
    main()
