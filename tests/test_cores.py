"""Idle cores judged by what other work uses now, not by the lagging load average."""

from __future__ import annotations

import pytest

from ashiato import cores

STAT = """cpu  900 0 300 5000 100 0 0 0 0 0
cpu0 400 0 100 2500 50 0 0 0 0 0
cpu1 500 0 200 2500 50 0 0 7 0 0
cpu2 9999 0 0 0 0 0 0 0 0 0
intr 12345
"""


def test_busy_time_of_the_usable_cores_only() -> None:
    # user + nice + system + irq + softirq + steal, in clock ticks (100 a second here);
    # idle and iowait are not busy; cpu2 is not ours and the total line is not a core
    assert cores.busy_seconds(STAT, {0, 1}) == pytest.approx((500 + 707) / cores._TICK)
    assert cores.busy_seconds(STAT, {0}) == pytest.approx(500 / cores._TICK)
    assert cores.busy_seconds(STAT, {5}) is None  # none of ours listed: unknown
    assert cores.busy_seconds("cpu0 1 2\n", {0}) is None  # not /proc/stat's layout
    assert cores.running(STAT + "procs_running 3\nprocs_blocked 0\n") == 3
    assert cores.running(STAT) is None


class _Machine:
    """A fake /proc/stat, clock and own CPU time, moved on by hand."""

    def __init__(self) -> None:
        self.t = 0.0
        self.busy = 0.0  # seconds, both cores
        self.mine = 0.0
        self.runnable = 1  # this process's thread
        self.mine_running = 1

    def stat(self) -> str:
        ticks = round(self.busy * cores._TICK)
        return f"cpu0 {ticks} 0 0 0 0 0 0 0\ncpu1 0 0 0 0 0 0 0 0\nprocs_running {self.runnable}\n"

    def run(self, seconds: float, mine: float, others: float) -> None:
        self.t += seconds
        self.mine += mine * seconds
        self.busy += (mine + others) * seconds


def test_other_work_is_what_the_cores_did_less_what_this_process_did(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    m = _Machine()
    monkeypatch.setattr(cores, "usable_cores", lambda: {0, 1})
    meter = cores.Meter(m.stat, lambda: m.t, lambda: m.mine, lambda: m.mine_running)
    m.run(0.05, mine=1.0, others=0.0)
    assert meter.others() is None  # too short a window to say, nothing said before
    m.run(0.25, mine=1.8, others=0.0)  # this process and its hash thread: not others
    assert meter.others() == pytest.approx(0.0, abs=0.05)
    m.run(0.5, mine=1.0, others=1.0)  # another job takes a core
    assert meter.others() == pytest.approx(0.625, abs=0.05)  # over the 0.8 s so far
    m.run(1.5, mine=1.0, others=1.0)  # the window (2.3 s) starts anew after this
    assert meter.others() == pytest.approx(0.87, abs=0.05)
    m.run(0.5, mine=1.0, others=0.0)  # the other job ended: the new window says so
    assert meter.others() == pytest.approx(0.0, abs=0.05)
    m.run(0.01, mine=1.0, others=1.0)  # too short again: the last figure stands
    assert meter.others() == pytest.approx(0.0, abs=0.05)
    # two busy loops on the two cores: this process gets two thirds of a core, the
    # cores' time says 1.33 for the others, the runnable threads say two
    m.runnable = 3
    m.run(0.5, mine=2 / 3, others=4 / 3)
    assert meter.others() == pytest.approx(2.0)

    fresh = _Machine()  # this process hashing besides its main thread: no one else's
    meter = cores.Meter(fresh.stat, lambda: fresh.t, lambda: fresh.mine,
                        lambda: fresh.mine_running)  # fmt: skip
    fresh.runnable = fresh.mine_running = 2
    fresh.run(0.5, mine=2.0, others=0.0)
    assert meter.others() == pytest.approx(0.0, abs=0.05)


def test_without_proc_stat_the_load_average_decides(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(cores, "usable_cores", lambda: {0, 1})
    monkeypatch.setattr(cores, "_METER", cores.Meter(lambda: None))
    monkeypatch.setattr(cores.os, "getloadavg", lambda: (1.25, 0.0, 0.0))
    assert cores.idle_cores() == pytest.approx(0.75)


def test_this_machine_gives_a_figure_within_its_cores() -> None:
    cores.begin()
    assert 0.0 <= cores.idle_cores() <= len(cores.usable_cores())


def test_this_process_counts_its_own_runnable_threads(monkeypatch: pytest.MonkeyPatch) -> None:
    import os

    assert cores._own_running() >= 1  # this thread, reading its own state, is running
    tasks = len(os.listdir("/proc/self/task")) if os.path.isdir("/proc/self/task") else 1
    assert cores._own_running() <= max(1, tasks)

    def gone(path: str) -> None:
        raise FileNotFoundError(path)

    monkeypatch.setattr(cores.os, "scandir", gone)
    assert cores._own_running() == 1  # no /proc: this thread only
