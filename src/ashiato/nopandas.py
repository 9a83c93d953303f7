"""Keep pandas out of the processes that read evidence (``ashiato ingest``, its workers).

Nothing in ingest uses pandas, yet two libraries import it (~0.25 s of CPU and ~40 MB, a
quarter of ingesting the public EVTX corpus) only to ask whether a value is a pandas
object: pyarrow the first time it converts any Python value (``pa.array`` of a list,
``pa.scalar``, a compute function given a literal), DuckDB for every statement with
bound parameters. Both treat pandas as optional and go on without it, with the same
results for the lists, strings and numbers ingest hands them. :func:`hide` makes
``import pandas`` fail (for the rest of a worker process; :func:`hidden` for a block),
with a message that names this module, so a use of pandas in ingest shows up at once
instead of costing time.
"""

from __future__ import annotations

import importlib.abc
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any


class _NoPandas(importlib.abc.MetaPathFinder):
    """An import finder that says pandas is not installed."""

    def find_spec(self, name: str, path: Any = None, target: Any = None) -> None:
        if name == "pandas" or name.startswith("pandas."):
            raise ModuleNotFoundError(
                "pandas is hidden while evidence is read (ashiato.nopandas.hide)", name=name
            )


def hide() -> None:
    """Make ``import pandas`` fail from now on (no-op when pandas is already imported)."""
    if "pandas" in sys.modules or any(isinstance(f, _NoPandas) for f in sys.meta_path):
        return
    sys.meta_path.insert(0, _NoPandas())


def unhide() -> None:
    """Undo :func:`hide`."""
    sys.meta_path[:] = [f for f in sys.meta_path if not isinstance(f, _NoPandas)]


@contextmanager
def hidden() -> Iterator[None]:
    """pandas hidden for a block: the ``ingest`` command, which may run inside a longer
    process (tests, a notebook). pyarrow then keeps its note that there is no pandas
    until something needs pandas from it (``to_pandas``, ``Table.from_pandas``), which
    imports it as usual."""
    if "pandas" in sys.modules or any(isinstance(f, _NoPandas) for f in sys.meta_path):
        yield
        return
    hide()
    try:
        yield
    finally:
        unhide()
