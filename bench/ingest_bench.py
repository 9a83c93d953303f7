"""Ingest throughput of the fast text formats (Squid, FortiGate) against simple baselines.

    python bench/ingest_bench.py --lines 2000000 --format squid|fortigate|all
    python bench/ingest_bench.py --grow            # 1M, 2M, 4M lines: is memory flat?

Writes seeded synthetic logs to a temporary folder, then times on the same file:
``wc -l``; a plain-Python one-loop parser (the baseline); ``ashiato`` parsing only
(parse + normalise, nothing stored); and the whole ``ashiato ingest`` into a fresh
case (CLI in a subprocess). Peak RSS of every subprocess comes from ``os.wait4``.
See bench/README.md for the goals.
"""

from __future__ import annotations

import argparse
import os
import random
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
SRC = REPO / "src"
GOAL = 1_000_000  # lines per second through `ashiato ingest`

# -- synthetic logs ------------------------------------------------------------------

_HOSTS = ("news.example.jp", "cdn.example.com", "qzx7.redirect.example", "mail.example.org")
_CODES = (
    ("TCP_MISS", 200), ("TCP_MISS", 200), ("TCP_HIT", 200), ("TCP_DENIED", 403),
    ("TCP_REFRESH_HIT", 304), ("TCP_MISS", 404), ("TCP_TUNNEL", 200),
)  # fmt: skip
_MIMES = ("text/html", "application/octet-stream", "image/png", "-", "text/css")
_COUNTRIES = ("Japan", "United States", "Russian Federation", "Reserved", "Netherlands")


def squid_lines(n: int, rng: random.Random) -> list[str]:
    t = 1441766705.0
    out = []
    for _ in range(n):
        t += rng.random() * 0.01
        code, status = rng.choice(_CODES)
        host = rng.choice(_HOSTS)
        if code == "TCP_TUNNEL":
            method, url = "CONNECT", f"{host}:443"
        else:
            method = rng.choice(("GET", "GET", "POST"))
            url = f"http://{host}/p/{rng.randrange(100000)}.html?q={rng.randrange(999)}"
        user = rng.choice(("-", "tanaka", "suzuki"))
        peer = "-" if code == "TCP_DENIED" else f"203.0.113.{rng.randrange(255)}"
        out.append(
            f"{t:.3f} {rng.randrange(1, 5000):6d} 10.20.{rng.randrange(255)}.{rng.randrange(255)}"
            f" {code}/{status:03d} {rng.randrange(100, 500000)} {method} {url} {user}"
            f" HIER_DIRECT/{peer} {rng.choice(_MIMES)}\n"
        )
    return out


def fortigate_lines(n: int, rng: random.Random) -> list[str]:
    t = 1441766705
    out = []
    for _ in range(n):
        t += rng.random() < 0.2
        lt = time.gmtime(t + 9 * 3600)
        head = (
            f"date={lt.tm_year}-{lt.tm_mon:02d}-{lt.tm_mday:02d} "
            f'time={lt.tm_hour:02d}:{lt.tm_min:02d}:{lt.tm_sec:02d} devname="FG-TOKYO" '
            f'devid="FG100D0000000001" eventtime={t}{rng.randrange(10**9):09d} tz="+0900"'
        )
        src = f"10.20.{rng.randrange(255)}.{rng.randrange(255)}"
        dst = f"203.0.113.{rng.randrange(255)}"
        k = rng.random()
        if k < 0.85:
            out.append(
                f'{head} logid="0000000013" type="traffic" subtype="forward" level="notice" '
                f'vd="root" srcip={src} srcport={rng.randrange(1024, 65535)} srcintf="internal" '
                f'srcintfrole="lan" dstip={dst} dstport={rng.choice((80, 443, 53, 25))} '
                f'dstintf="wan1" dstintfrole="wan" sessionid={rng.randrange(10**7)} '
                f"proto={rng.choice((6, 6, 17))} "
                f'action="{rng.choice(("close", "accept", "deny", "timeout"))}" '
                f'policyid={rng.randrange(40)} policytype="policy" '
                f'service="{rng.choice(("HTTP", "HTTPS", "DNS", "SMTP"))}" '
                f'dstcountry="{rng.choice(_COUNTRIES)}" srccountry="Reserved" trandisp="snat" '
                f"transip=198.51.100.2 transport={rng.randrange(1024, 65535)} "
                f'appcat="unscanned" duration={rng.randrange(300)} '
                f"sentbyte={rng.randrange(10**6)} rcvdbyte={rng.randrange(10**7)} "
                f"sentpkt={rng.randrange(1000)} rcvdpkt={rng.randrange(1000)}\n"
            )
        elif k < 0.93:
            out.append(
                f'{head} logid="0419016384" type="utm" subtype="ips" eventtype="signature" '
                f'level="alert" vd="root" severity="high" srcip={dst} srcport=80 '
                f'srcintf="wan1" dstip={src} dstport={rng.randrange(1024, 65535)} '
                f'dstintf="internal" sessionid={rng.randrange(10**7)} '
                f'action="{rng.choice(("detected", "dropped"))}" proto=6 service="HTTP" '
                f'attack="Angler.Exploit.Kit" attackid={rng.randrange(40000, 50000)} '
                f'profile="default" ref="http://www.fortinet.example/ids/VID40001" '
                f'direction="incoming" msg="web_client: Angler.Exploit.Kit,"\n'
            )
        else:
            out.append(
                f'{head} logid="0316013056" type="utm" subtype="webfilter" eventtype="ftgd_blk" '
                f'level="warning" vd="root" policyid=3 sessionid={rng.randrange(10**7)} '
                f'user="tanaka" srcip={src} srcport={rng.randrange(1024, 65535)} '
                f'srcintf="internal" dstip={dst} dstport=80 dstintf="wan1" proto=6 '
                f'service="HTTP" hostname="qzx7.redirect.example" profile="default" '
                f'action="blocked" url="/gate.php?id={rng.randrange(99)}" sentbyte=512 '
                f'rcvdbyte=0 direction="outgoing" msg="URL belongs to a denied category" '
                f'cat=26 catdesc="Malicious Websites"\n'
            )
    return out


GENERATORS: dict[str, Callable[[int, random.Random], list[str]]] = {
    "squid": squid_lines,
    "fortigate": fortigate_lines,
}


def write_log(path: Path, fmt: str, n: int, seed: int = 42) -> None:
    rng = random.Random(seed)
    gen = GENERATORS[fmt]
    with path.open("w", encoding="utf-8", newline="") as fh:
        done = 0
        while done < n:
            step = min(200_000, n - done)
            fh.writelines(gen(step, rng))
            done += step


# -- plain-Python baselines (one loop, split-based) ------------------------------------


def baseline_squid(path: Path) -> int:
    rows = 0
    with path.open(encoding="utf-8") as fh:
        for line in fh:
            f = line.split()
            if len(f) < 10:
                continue
            code, _, status = f[3].partition("/")
            _, _, peer = f[8].partition("/")
            row = (float(f[0]), int(f[1]), f[2], code.lower(), int(status), int(f[4]),
                   f[5], f[6], f[7], peer, f[9])  # fmt: skip
            rows += row is not None
    return rows


def baseline_fortigate(path: Path) -> int:
    rows = 0
    with path.open(encoding="utf-8") as fh:
        for line in fh:
            kv: dict[str, str] = {}
            # split on '"' first: odd pieces are quoted values, even ones "k=v k=v k="
            parts = line.rstrip("\n").split('"')
            for i in range(0, len(parts), 2):
                toks = parts[i].split()
                for tok in toks:
                    k, _, v = tok.partition("=")
                    kv[k] = v
                if i + 1 < len(parts) and toks and toks[-1].endswith("="):
                    kv[toks[-1][:-1]] = parts[i + 1]
            rows += bool(kv.get("date") or kv.get("eventtime"))
    return rows


BASELINES: dict[str, Callable[[Path], int]] = {
    "squid": baseline_squid,
    "fortigate": baseline_fortigate,
}

# -- runs ----------------------------------------------------------------------------


@dataclass
class Run:
    name: str
    seconds: float
    lines: int
    rss_mb: float | None = None

    @property
    def rate(self) -> float:
        return self.lines / self.seconds if self.seconds else float("inf")


def _env() -> dict[str, str]:
    env = dict(os.environ)
    env["PYTHONPATH"] = str(SRC) + os.pathsep + env.get("PYTHONPATH", "")
    return env


def timed_child(cmd: list[str], name: str, lines: int) -> tuple[Run, str]:
    """Run ``cmd``; wall time, that child's own peak RSS (os.wait4) and its output."""
    t0 = time.perf_counter()
    with tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err:
        proc = subprocess.Popen(cmd, env=_env(), stdout=out, stderr=err)
        _, status, usage = os.wait4(proc.pid, 0)
        seconds = time.perf_counter() - t0
        out.seek(0)
        err.seek(0)
        text, errors = out.read().decode(errors="replace"), err.read().decode(errors="replace")
    if status != 0:
        raise SystemExit(f"{name} failed ({status}):\n{errors[-2000:]}")
    return Run(name, seconds, lines, usage.ru_maxrss / 1024), text  # Linux: KiB


_PARSE_ONLY = """
import sys, time
from pathlib import Path
from zoneinfo import ZoneInfo
from ashiato.evidence.encoding import detect
from importlib import import_module
from ashiato.formats.base import Source
from ashiato.normalize import finalize_batch
fmt = import_module("ashiato.formats." + sys.argv[1]).FORMAT; path = Path(sys.argv[2])
head = path.open("rb").read(65536)
src = Source(path=path, display=str(path), evidence_id="bench", encoding=detect(head),
             tz=ZoneInfo("Asia/Tokyo"), year_hint=2015)
t0 = time.perf_counter()
n = sum(finalize_batch(b, "bench", fmt.dataset).num_rows for b in fmt.parse(src))
print(n, src.rejected, time.perf_counter() - t0)
"""


_COUNT = """
import sys
from pathlib import Path
from ashiato.case import Case
with Case.open(Path(sys.argv[1])).reader() as con:
    print(*(con.execute(f"SELECT count(*) FROM {t}").fetchone()[0] for t in ("events", "rejects")))
"""


def count_case(case: Path) -> tuple[int, int]:
    """Events and rejects in the case (in a child: duckdb would grow this process)."""
    out = subprocess.run(
        [sys.executable, "-c", _COUNT, str(case)],
        env=_env(), capture_output=True, text=True, check=True,
    )  # fmt: skip
    events, rejects = out.stdout.split()
    return int(events), int(rejects)


def bench_format(fmt: str, n: int, work: Path, use_cli: bool) -> list[Run]:
    log = work / f"{fmt}-{n}.log"
    py = sys.executable
    me = str(Path(__file__).resolve())
    # the log is written and the baseline run in child processes: a forked child
    # starts with the parent's resident memory, so the parent must stay small for
    # the children's peak RSS to mean anything
    t0 = time.perf_counter()
    subprocess.run([py, me, "--_write", fmt, str(n), str(log)], env=_env(), check=True)
    size = log.stat().st_size
    print(f"\n== {fmt}: {n:,} lines, {size / 1e6:,.0f} MB (written in "
          f"{time.perf_counter() - t0:.1f} s) ==")  # fmt: skip
    runs = [timed_child(["wc", "-l", str(log)], "wc -l", n)[0]]
    runs.append(timed_child([py, me, "--_baseline", fmt, str(log)], "plain Python loop", n)[0])
    parse_run, out = timed_child([py, "-c", _PARSE_ONLY, fmt, str(log)], "ashiato parse only", n)
    runs.append(parse_run)
    # the same run without interpreter start-up and imports (about a second)
    runs.append(Run("  of which parsing", float(out.split()[2]), n, None))
    if use_cli:
        case = work / f"case-{fmt}-{n}"
        cmd = [py, "-m", "ashiato", "ingest", str(case), str(log), "--tz", "Asia/Tokyo"]
        runs.append(timed_child([*cmd, "--quiet"] if _has_quiet() else cmd, "ashiato ingest", n)[0])
        events, rejects = count_case(case)
        if (events, rejects) != (n, 0):
            print(f"  !! case holds {events:,} events and {rejects:,} rejects, expected {n:,}")
    else:
        print("  (CLI skipped: --no-cli)")
    _report(runs)
    log.unlink()
    return runs


_QUIET: bool | None = None


def _has_quiet() -> bool:
    global _QUIET
    if _QUIET is None:
        out = subprocess.run(
            [sys.executable, "-m", "ashiato", "ingest", "--help"],
            env=_env(), capture_output=True, text=True, check=False,
        )  # fmt: skip
        _QUIET = "--quiet" in out.stdout
    return _QUIET


def _report(runs: list[Run]) -> None:
    print(f"  {'':22s} {'seconds':>8s} {'lines/s':>12s} {'peak RSS':>10s}")
    for r in runs:
        rss = f"{r.rss_mb:,.0f} MB" if r.rss_mb is not None else "-"
        print(f"  {r.name:22s} {r.seconds:8.2f} {r.rate:12,.0f} {rss:>10s}")
    by = {r.name: r for r in runs}
    main = by.get("ashiato ingest") or by["ashiato parse only"]
    wc, base = by["wc -l"], by["plain Python loop"]
    print(f"  {main.name}: {main.seconds / wc.seconds:,.1f}x the time of wc -l, "
          f"{base.seconds / main.seconds:,.2f}x the speed of the plain Python loop; "
          f"goal {GOAL:,} lines/s: {'met' if main.rate >= GOAL else 'NOT met'}")  # fmt: skip


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--lines", type=int, default=1_000_000)
    ap.add_argument("--format", choices=("squid", "fortigate", "all"), default="all")
    ap.add_argument("--grow", action="store_true", help="1M, 2M, 4M lines: peak RSS of each")
    ap.add_argument("--no-cli", action="store_true", help="time parsing only, not the CLI")
    ap.add_argument("--workdir", type=Path, default=None, help="where to write (default: tmp)")
    ap.add_argument("--_write", nargs=3, help=argparse.SUPPRESS)
    ap.add_argument("--_baseline", nargs=2, help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args._write:
        fmt, n, path = args._write
        write_log(Path(path), fmt, int(n))
        return
    if args._baseline:
        fmt, path = args._baseline
        got = BASELINES[fmt](Path(path))
        print(f"  (baseline parsed {got:,} lines)", file=sys.stderr)
        return
    fmts = ["squid", "fortigate"] if args.format == "all" else [args.format]
    load = ", ".join(f"{x:.1f}" for x in os.getloadavg())
    print(f"{os.cpu_count()} CPUs, load average {load} (other work skews the figures)")
    with tempfile.TemporaryDirectory(prefix="ashiato-bench-", dir=args.workdir) as tmp:
        work = Path(tmp)
        if not args.grow:
            for fmt in fmts:
                bench_format(fmt, args.lines, work, not args.no_cli)
            return
        table: list[tuple[str, int, Run]] = []
        for fmt in fmts:
            for n in (1_000_000, 2_000_000, 4_000_000):
                runs = bench_format(fmt, n, work, not args.no_cli)
                table.append((fmt, n, runs[-1]))
        print("\n== memory by size (flat is the goal) ==")
        for fmt, n, run in table:
            print(f"  {fmt:10s} {n:>10,} lines  {run.name:18s} {run.rss_mb or 0:8,.0f} MB "
                  f"{run.rate:12,.0f} lines/s")  # fmt: skip


if __name__ == "__main__":
    main()
