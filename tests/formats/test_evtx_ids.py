"""RecordIds answers as the set of numbers it replaced, in a few runs for a normal log."""

from __future__ import annotations

import random
import sys

from ashiato.formats.evtx_ids import RecordIds


def _check(numbers: list[int]) -> RecordIds:
    ids, seen, top = RecordIds(), set(), 0
    for n in numbers:
        ids.add(n)
        seen.add(n)
        top = max(top, n)
        assert ids.highest() == top
    probe = range(min(numbers) - 3, max(numbers) + 4)
    assert [n in ids for n in probe] == [n in seen for n in probe]
    other = RecordIds()  # what a worker hands back, merged into what the parent read
    other.add(min(numbers) - 10)
    other.update(ids.runs())
    assert [n in other for n in probe] == [n in seen or n == min(numbers) - 10 for n in probe]
    return ids


def test_a_log_in_order_is_one_run() -> None:
    ids = _check(list(range(1, 200_001)))
    assert ids.runs() == [(1, 200_000)]
    assert sys.getsizeof(ids._others) < 1000  # no number kept one by one
    assert RecordIds().highest() == 0 and 5 not in RecordIds()


def test_gaps_repeats_and_disorder() -> None:
    rng = random.Random(14)
    # a cleared log starting again, a recovered chunk read twice, numbers out of order
    numbers = [*range(500, 900), *range(1, 300), *range(600, 700), *range(2000, 2100)]
    numbers += [rng.randrange(0, 3000) for _ in range(2000)]
    _check(numbers)
    _check([7])


def test_runs_adjacent_to_what_is_there_extend_it() -> None:
    ids = RecordIds()
    for n in range(1, 101):
        ids.add(n)
    ids.update([(101, 5_000_000)])  # a worker's range, right after the parent's
    assert ids.runs() == [(1, 5_000_000)]
    assert 4_999_999 in ids and 5_000_001 not in ids
