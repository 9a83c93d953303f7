"""Python's cyclic garbage collector kept out of the way of runs that make millions of
short-lived objects (rows as dicts: an ingest's records, an investigation's rows)."""

from __future__ import annotations

import contextlib
import gc
from collections.abc import Iterator

YOUNG_OBJECTS = 10_000  # the collector's first threshold meanwhile (default 700)


@contextlib.contextmanager
def few_collections() -> Iterator[None]:
    """With the default thresholds the collector ran ~2,400 times on a 4.7M-event case
    and walked the modules' objects in each full pass (1.1 s of CPU, on the one thread
    Python has), and an EVTX ingest spent ~1 % of its instructions in it. What is alive
    now (modules, classes: hundreds of thousands of objects) is left out of its passes
    and the young generation may grow to 10,000 objects first; both handed back when the
    run ends. A process forked meanwhile (an EVTX worker) inherits both."""
    before = gc.get_threshold()
    gc.freeze()
    gc.set_threshold(YOUNG_OBJECTS, *before[1:])
    try:
        yield
    finally:
        gc.set_threshold(*before)
        gc.unfreeze()
