"""The year of a log whose times have none (BSD syslog, Postfix, snort -y missing...).

A year-less file is parsed once with a first guess; its first and last times then say
which year fits the evidence, in this order of trust:

1. the case's other sources, which carry full dates: the year that puts the file inside
   (or nearest to) their time ranges;
2. a rotation date in the file name (``maillog-20150910``, ``messages-20151231.gz``): the
   last line is written on or before it;
3. the file's modification time, read the same way (it is the last write only when the
   copy kept it, hence last).

The file's own Dec -> Jan roll-over stays (``syslog.YearState``): only whole years move.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta

_ROTATION = re.compile(
    r"(?<!\d)(19[89]\d|20[0-4]\d)[-_.]?(0[1-9]|1[0-2])[-_.]?(0[1-9]|[12]\d|3[01])(?!\d)"
)
SEARCH = 30  # years either side of the guess
YEAR = timedelta(days=365)
SLACK = timedelta(days=2)  # a rotation date or mtime may trail the last line a little


@dataclass(frozen=True)
class YearChoice:
    shift: int  # years to add to the first guess
    basis: str  # why, for the ingest table


def rotation_date(name: str) -> date | None:
    """The date in a rotated log's name, if it holds a plausible one."""
    found = _ROTATION.findall(name)
    if not found:
        return None
    y, m, d = (int(x) for x in found[-1])
    try:
        return date(y, m, d)
    except ValueError:  # 20150231
        return None


def shifted(when: datetime, years: int) -> datetime:
    try:
        return when.replace(year=when.year + years)
    except ValueError:  # 29 February into a common year
        return when.replace(year=when.year + years, day=28)


def _distance(first: datetime, last: datetime, lo: datetime, hi: datetime) -> float:
    """Seconds between [first, last] and [lo, hi]; 0 when they overlap."""
    if last < lo:
        return (lo - last).total_seconds()
    if first > hi:
        return (first - hi).total_seconds()
    return 0.0


def choose(
    first: datetime,
    last: datetime,
    others: Sequence[tuple[datetime, datetime]],
    rotated: date | None,
    mtime: datetime | None,
) -> YearChoice:
    """How many years to move a year-less file parsed with a first guess."""
    if others:

        def gaps(k: int) -> list[float]:
            a, b = shifted(first, k), shifted(last, k)
            return [_distance(a, b, lo, hi) for lo, hi in others]

        def cost(k: int) -> tuple[float, int, int]:
            # nearest first; then the year most sources agree on: a file listing or an
            # MFT spans years of old files and fits any of them, the logs fit one
            g = gaps(k)
            return min(g), -sum(1 for x in g if x == 0), abs(k)

        k = min(range(-SEARCH, SEARCH + 1), key=cost)
        g = gaps(k)
        near = [o for o, x in zip(others, g, strict=True) if x == min(g)]
        # name the sources that pin a year, not those spanning several
        near = [o for o in near if o[1] - o[0] < YEAR] or near
        lo = min(x for x, _ in near)
        hi = max(y for _, y in near)
        return YearChoice(k, f"from the case's other sources ({lo:%Y-%m-%d} to {hi:%Y-%m-%d})")
    if rotated is not None:
        end = datetime(rotated.year, rotated.month, rotated.day, tzinfo=UTC) + timedelta(days=1)
        return YearChoice(_before(last, end), f"from the rotation date in the name ({rotated})")
    if mtime is not None:
        return YearChoice(
            _before(last, mtime), f"from the file's modification time ({mtime:%Y-%m-%d})"
        )
    return YearChoice(0, "guessed: nothing dates the file")


def _before(last: datetime, end: datetime) -> int:
    """The largest shift that puts the last line on or before ``end`` (plus slack)."""
    k = end.year - last.year + 1
    while k > -SEARCH and shifted(last, k) > end + SLACK:
        k -= 1
    return k
