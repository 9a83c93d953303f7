"""How many cores other work leaves idle: whether a second process would pay.

The 1-minute load average lags: a minute after other work stopped it still says the
machine is busy (a benchmark right after another job read one core as taken and chose
one process), and after a minute a long ingest's own processes count in it. Here the
cores' busy time (``/proc/stat``, the cores this process may run on) less this
process's own CPU time (its threads, and its children once ended) over the last moments
tells what the others use now, and on cores they saturate the threads runnable besides
this process's tell more (Meter.others). Where ``/proc/stat`` is not there (macOS,
Windows) the load average still decides.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable
from dataclasses import dataclass

MIN_WINDOW = 0.1  # seconds: over less, the clock's ticks (10 ms) say too little
MAX_WINDOW = 2.0  # seconds: then the window starts anew, so that it stays recent
_TICK = os.sysconf("SC_CLK_TCK") if hasattr(os, "sysconf") else 100


def _proc_stat() -> str | None:
    try:
        with open("/proc/stat", encoding="ascii") as fh:
            return fh.read()
    except OSError:
        return None


@dataclass(frozen=True)
class _Sample:
    wall: float
    busy: float  # seconds the cores were busy, all processes
    own: float  # seconds of CPU this process used
    running: int  # threads runnable at that moment, this one included


def usable_cores() -> set[int]:
    """The CPUs this process may run on."""
    try:
        return set(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        return set(range(os.cpu_count() or 1))


def running(stat: str) -> int | None:
    """Threads runnable right now, machine-wide (``procs_running``), this one included."""
    for line in stat.splitlines():
        if line.startswith("procs_running "):
            value = line.split()[1]
            return int(value) if value.isdigit() else None
    return None


def busy_seconds(stat: str, cpus: set[int]) -> float | None:
    """Seconds the ``cpus`` have been busy since boot, from ``/proc/stat``'s ``cpuN``
    lines (user, nice, system, idle, iowait, irq, softirq, steal: all but idle and
    iowait; time the hypervisor gave to others counts as busy)."""
    busy = 0
    seen = False
    for line in stat.splitlines():
        name, _, rest = line.partition(" ")
        if not name.startswith("cpu") or not name[3:].isdigit() or int(name[3:]) not in cpus:
            continue
        ticks = [int(v) for v in rest.split()[:8]]
        if len(ticks) < 5:
            return None
        busy += sum(ticks) - ticks[3] - ticks[4]
        seen = True
    return busy / _TICK if seen else None


def _own_running() -> int:
    """This process's threads runnable now (a hash or a write going on besides this one)."""
    n = 0
    try:
        for task in os.scandir("/proc/self/task"):
            with open(f"{task.path}/stat", encoding="ascii", errors="replace") as fh:
                # state is the field after the parenthesised name, which may hold spaces
                n += fh.read().rpartition(")")[2].split()[:1] == ["R"]
    except OSError:
        return 1
    return max(1, n)


def _own_cpu() -> float:
    t = os.times()
    return t.user + t.system + t.children_user + t.children_system


class Meter:
    """Cores other processes keep busy, measured from one sample to the next."""

    def __init__(
        self,
        read: Callable[[], str | None] = _proc_stat,
        clock: Callable[[], float] = time.monotonic,
        own: Callable[[], float] = _own_cpu,
        own_running: Callable[[], int] = _own_running,
    ) -> None:
        self.read, self.clock, self.own, self.own_running = read, clock, own, own_running
        self.cpus = usable_cores()
        self.start = self._sample()
        self.last: float | None = None

    def _sample(self) -> _Sample | None:
        stat = self.read()
        if stat is None:
            return None
        busy = busy_seconds(stat, self.cpus)
        if busy is None:
            return None
        return _Sample(self.clock(), busy, self.own(), running(stat) or 1)

    def others(self) -> float | None:
        """Cores busy with other work (None: not known here): what the cores did since
        the window began less what this process did, or, if more, the threads other than
        this one runnable now. On cores that other work saturates, this process's share
        squeezes the first figure (two busy loops on two cores leave ~1.3 to others while
        this one runs), the second does not (this process's own runnable threads aside)."""
        now = self._sample()
        if now is None or self.start is None:
            return None
        waiting = float(max(0, now.running - self.own_running()))
        span = now.wall - self.start.wall
        if span < MIN_WINDOW:
            return None if self.last is None else max(self.last, waiting)
        self.last = max(0.0, ((now.busy - self.start.busy) - (now.own - self.start.own)) / span)
        if span > MAX_WINDOW:
            self.start = now
        return max(self.last, waiting)


_METER = Meter()  # from when first imported (or begin())


def begin() -> None:
    """Measure from now (the ashiato command calls it as it starts)."""
    global _METER
    _METER = Meter()


def idle_cores() -> float:
    """Usable cores that other work leaves idle now (this process's own work aside)."""
    cores = len(_METER.cpus)
    others = _METER.others()
    if others is None:
        try:
            others = os.getloadavg()[0]
        except (OSError, AttributeError):  # not available on this platform
            others = 0.0
    return max(0.0, cores - others)
