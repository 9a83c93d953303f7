"""One child process measured as a benchmark reads it: wall and CPU time, and the peak
RSS of its whole process tree (worker processes included). Shared by the ingest benches."""

from __future__ import annotations

import os
import subprocess
import tempfile
import threading
import time

import psutil


def run(cmd: list[str], env: dict[str, str] | None = None) -> tuple[float, float, int, str]:
    """Wall seconds, CPU seconds (user + sys, children waited for included), peak RSS (MB)
    of the whole process tree (sampled every 20 ms), stdout."""
    peak = 0
    done = threading.Event()

    def sample(pid: int) -> None:
        nonlocal peak
        try:
            root = psutil.Process(pid)
        except psutil.Error:
            return
        while not done.is_set():
            try:
                tree = [root, *root.children(recursive=True)]
                peak = max(peak, sum(p.memory_info().rss for p in tree))
            except psutil.Error:
                pass
            time.sleep(0.02)

    with tempfile.TemporaryFile("w+") as out_f:
        start = time.perf_counter()
        proc = subprocess.Popen(cmd, stdout=out_f, stderr=subprocess.DEVNULL, text=True, env=env)
        sampler = threading.Thread(target=sample, args=(proc.pid,), daemon=True)
        sampler.start()
        _, status, usage = os.wait4(proc.pid, 0)
        elapsed = time.perf_counter() - start
        done.set()
        sampler.join()
        out_f.seek(0)
        out = out_f.read()
    if os.waitstatus_to_exitcode(status) != 0:
        raise SystemExit(f"{' '.join(cmd[:5])} failed")
    # the sampler may miss a run shorter than its period: the largest process's own peak
    return elapsed, usage.ru_utime + usage.ru_stime, max(peak >> 20, usage.ru_maxrss // 1024), out
