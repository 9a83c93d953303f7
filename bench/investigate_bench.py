"""How long `ashiato investigate` takes on a large case, and how much memory it needs.

    python bench/investigate_bench.py --scale 40        # ~5 million events
    python bench/investigate_bench.py --scale 10 --keep bench/out

Generates a lab incident at the given scale (cached under --keep), ingests it, then
times, in child processes so each peak RSS is its own:

  baseline      one full scan of the events (SELECT count(*), count(DISTINCT source.ip))
  investigate   `python -m ashiato investigate CASE --json`

and prints events, seconds, events/s, peak RSS and the ratio to the baseline scan.
Goal (issue "investigate"): a 5-million-event case in under 60 s with peak RSS < 2 GB.

    python bench/investigate_bench.py --scale 30 --keep bench/out --against OLD/src --runs 3

``--against`` also times another checkout of ashiato (its ``src`` folder, e.g. a
``git worktree`` of an earlier commit) on the same case, interleaved with this one, and
prints the medians, their CPU time (user + system, all threads: less sensitive than wall
time to other work on the machine) and the ratios new/old.
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

_SCAN = """
import sys
from pathlib import Path
from ashiato.case import Case
with Case.open(Path(sys.argv[1])).reader() as con:
    n, ips = con.execute('SELECT count(*), count(DISTINCT "source.ip") FROM events').fetchone()
print(n)
"""


def run(cmd: list[str], env: dict[str, str] | None = None) -> tuple[float, int, str]:
    """Seconds, peak RSS in MB and stdout of one child process."""
    elapsed, rss, _, out = run_cpu(cmd, env)
    return elapsed, rss, out


def run_cpu(cmd: list[str], env: dict[str, str] | None = None) -> tuple[float, int, float, str]:
    """Seconds, peak RSS in MB, CPU seconds and stdout of one child process."""
    # output goes to files: a pipe would fill up (findings are large) and block the child
    with tempfile.TemporaryFile("w+") as out_f, tempfile.TemporaryFile("w+") as err_f:
        start = time.perf_counter()
        proc = subprocess.Popen(cmd, stdout=out_f, stderr=err_f, text=True, env=env)
        _, status, usage = os.wait4(proc.pid, 0)
        elapsed = time.perf_counter() - start
        out_f.seek(0)
        err_f.seek(0)
        out, err = out_f.read(), err_f.read()
    if os.waitstatus_to_exitcode(status) != 0:
        raise SystemExit(f"{' '.join(cmd[:4])} failed:\n{err[-2000:]}")
    return elapsed, usage.ru_maxrss // 1024, usage.ru_utime + usage.ru_stime, out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--scale", type=int, default=40)
    ap.add_argument("--scenario", default="fileserver-encryption")
    ap.add_argument("--keep", type=Path, help="folder to keep (and reuse) the lab and case in")
    ap.add_argument("--against", type=Path, help="another checkout's src folder to compare with")
    ap.add_argument("--runs", type=int, default=3, help="runs of each side with --against")
    args = ap.parse_args()
    py = sys.executable
    work = args.keep or Path(tempfile.mkdtemp(prefix="ashiato-inv-bench-"))
    work.mkdir(parents=True, exist_ok=True)
    lab_dir = work / f"lab-{args.scenario}-{args.scale}"
    case = work / f"case-{args.scenario}-{args.scale}"
    print(f"{os.cpu_count()} CPUs, load average {', '.join(f'{x:.1f}' for x in os.getloadavg())}")
    if not (lab_dir / "truth.json").exists():
        shutil.rmtree(lab_dir, ignore_errors=True)
        t, rss, _ = run([py, "-m", "ashiato", "lab", "generate", args.scenario, "--out",
                         str(lab_dir), "--scale", str(args.scale)])  # fmt: skip
        print(f"lab generate (scale {args.scale}): {t:.1f} s, peak {rss} MB")
    if not (case / "manifest.json").exists():
        t, rss, _ = run([py, "-m", "ashiato", "ingest", str(case), str(lab_dir / "evidence"),
                         "--tz", "Asia/Tokyo", "--json"])  # fmt: skip
        print(f"ingest: {t:.1f} s, peak {rss} MB")
    t_scan, rss_scan, out = run([py, "-c", _SCAN, str(case)])
    events = int(out.strip())
    t_inv, rss_inv, _ = run([py, "-m", "ashiato", "investigate", str(case), "--json"])
    print(f"\n{events:,} events")
    print(f"{'':14}{'seconds':>9}{'events/s':>14}{'peak RSS':>11}")
    for name, t, rss in (("baseline scan", t_scan, rss_scan), ("investigate", t_inv, rss_inv)):
        print(f"{name:14}{t:9.2f}{events / t:14,.0f}{rss:8} MB")
    verdict = "met" if t_inv < 60 and rss_inv < 2048 else "NOT met"
    print(f"investigate = {t_inv / t_scan:.1f}x the baseline scan; goal <60 s and <2 GB: {verdict}")
    if args.against is not None:
        compare(case, args.against, args.runs)
    if args.keep is None:
        shutil.rmtree(work, ignore_errors=True)


def compare(case: Path, other_src: Path, runs: int) -> None:
    """This checkout against ``other_src`` on the same case, runs interleaved."""
    cmd = [sys.executable, "-m", "ashiato", "investigate", str(case), "--json"]
    sides = {"this": None, "other": {**os.environ, "PYTHONPATH": str(other_src.resolve())}}
    got: dict[str, list[tuple[float, int, float]]] = {k: [] for k in sides}
    for _ in range(runs):
        for name, env in sides.items():
            t, rss, cpu, _ = run_cpu(cmd, env)
            got[name].append((t, rss, cpu))
    print(f"\n{'':8}{'wall s':>9}{'cpu s':>9}{'peak MB':>9}   medians of {runs} runs")
    med = {k: [statistics.median(x[i] for x in v) for i in range(3)] for k, v in got.items()}
    for name, (t, rss, cpu) in med.items():
        print(f"{name:8}{t:9.2f}{cpu:9.2f}{rss:9.0f}")
    (t1, r1, c1), (t0, r0, c0) = med["this"], med["other"]
    print(f"this/other: wall {t1 / t0:.2f}x, cpu {c1 / c0:.2f}x, peak RSS {r1 / r0:.2f}x")


if __name__ == "__main__":
    main()
