"""How long `ashiato investigate` takes on a large case, and how much memory it needs.

    python bench/investigate_bench.py --scale 40        # ~5 million events
    python bench/investigate_bench.py --scale 10 --keep bench/out

Generates a lab incident at the given scale (cached under --keep), ingests it, then
times, in child processes so each peak RSS is its own:

  baseline      one full scan of the events (SELECT count(*), count(DISTINCT source.ip))
  investigate   `python -m ashiato investigate CASE --json`

and prints events, seconds, events/s, peak RSS and the ratio to the baseline scan.
Goal (issue "investigate"): a 5-million-event case in under 60 s with peak RSS < 2 GB.
"""

from __future__ import annotations

import argparse
import os
import shutil
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


def run(cmd: list[str]) -> tuple[float, int, str]:
    """Seconds, peak RSS in MB and stdout of one child process."""
    # output goes to files: a pipe would fill up (findings are large) and block the child
    with tempfile.TemporaryFile("w+") as out_f, tempfile.TemporaryFile("w+") as err_f:
        start = time.perf_counter()
        proc = subprocess.Popen(cmd, stdout=out_f, stderr=err_f, text=True)
        _, status, usage = os.wait4(proc.pid, 0)
        elapsed = time.perf_counter() - start
        out_f.seek(0)
        err_f.seek(0)
        out, err = out_f.read(), err_f.read()
    if os.waitstatus_to_exitcode(status) != 0:
        raise SystemExit(f"{' '.join(cmd[:4])} failed:\n{err[-2000:]}")
    return elapsed, usage.ru_maxrss // 1024, out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--scale", type=int, default=40)
    ap.add_argument("--scenario", default="fileserver-encryption")
    ap.add_argument("--keep", type=Path, help="folder to keep (and reuse) the lab and case in")
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
    if args.keep is None:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
