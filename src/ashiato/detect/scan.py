"""The detection scan inside ``investigate``: bundled rules plus the user's own.

The bundled rules always run (no flag); ``investigate --sigma DIR`` (repeatable) and the
environment variable ``ASHIATO_SIGMA`` (folders or files separated by ``os.pathsep``) add
a user's rules, e.g. a SigmaHQ checkout, to the same run. Nothing is stored: the hits
go to :mod:`ashiato.analysis.incidents`, which groups them. ``ashiato hunt`` output
(dataset ``ashiato.detection``) is expected to be filtered out of ``events`` by the
caller, so a case that was also hunted is not counted twice.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from ashiato.detect import sigma
from ashiato.detect.hunt import bundled_rules
from ashiato.errors import QueryError

ENV = "ASHIATO_SIGMA"
MIN_LEVEL = "low"


def rule_paths(extra_rule_paths: Sequence[Path | str] = ()) -> list[Path]:
    """Bundled rules first, then ``--sigma`` paths, then ``$ASHIATO_SIGMA``; no repeats."""
    env = os.environ.get(ENV, "")
    given = [
        *(Path(p) for p in extra_rule_paths),
        *(Path(p) for p in env.split(os.pathsep) if p.strip()),
    ]
    for p in given:
        if not p.expanduser().exists():
            raise QueryError(f"--sigma / ${ENV}: {p}: no such file or folder")
    paths = [bundled_rules(), *given]
    seen: set[Path] = set()
    out = []
    for p in paths:
        key = p.expanduser().resolve()
        if key not in seen:
            seen.add(key)
            out.append(p.expanduser())
    return out


def scan(events: Any, extra_rule_paths: Sequence[Path | str] = ()) -> sigma.Result:
    """Run every rule over ``events`` (Ibis table); load problems join ``result.problems``."""
    program = sigma.compiled(rule_paths(extra_rule_paths), unique=True)
    return sigma.execute(events, program, MIN_LEVEL)
