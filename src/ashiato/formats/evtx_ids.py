"""The record numbers an EVTX reader has seen, in memory that doesn't grow with the file.

A log numbers its records one after the other, so the numbers read are kept as runs of
consecutive numbers: a 4 GB Security.evtx (~16M records) is a few runs, where a Python
set of its numbers would take ~1 GB. Numbers that come lower than the highest so far
(a recovered or merged file) are kept one by one, as before.
"""

from __future__ import annotations

from bisect import bisect_right
from collections.abc import Iterable


class RecordIds:
    """``kept=False``: the EVTX reader doesn't add the numbers it reads (a file that ends
    on a chunk boundary has no tail to read on its own, which is what they are for:
    ~0.1 µs a record saved)."""

    def __init__(self, kept: bool = True) -> None:
        self.kept = kept
        self._starts: list[int] = []  # runs, in increasing order: starts and (inclusive) ends
        self._ends: list[int] = []
        self._others: set[int] = set()  # numbers below the highest when they came

    def add(self, n: int) -> None:
        if not self._ends or n > self._ends[-1]:
            if self._ends and n == self._ends[-1] + 1:
                self._ends[-1] = n
            else:
                self._starts.append(n)
                self._ends.append(n)
        else:  # below the highest: kept unless a run holds it (a set keeps it once)
            i = bisect_right(self._starts, n) - 1
            if i < 0 or n > self._ends[i]:
                self._others.add(n)

    def __contains__(self, n: object) -> bool:
        if not isinstance(n, int):
            return False
        if n in self._others:
            return True
        i = bisect_right(self._starts, n) - 1
        return i >= 0 and n <= self._ends[i]

    def highest(self) -> int:
        """The highest number seen (0 when none): the others are all below it."""
        return self._ends[-1] if self._ends else 0

    def runs(self) -> list[tuple[int, int]]:
        """Everything seen as (first, last) runs, for another process (:meth:`update`)."""
        return [*zip(self._starts, self._ends, strict=True), *((n, n) for n in self._others)]

    def update(self, runs: Iterable[Iterable[int]]) -> None:
        for first, last in runs:
            if self._ends and first == self._ends[-1] + 1:
                self._ends[-1] = last
            elif not self._ends or first > self._ends[-1]:
                self._starts.append(first)
                self._ends.append(last)
            else:  # overlaps what is here: one by one
                for n in range(first, last + 1):
                    self.add(n)
