"""``ashiato lab``: a seeded simulator of ransomware incidents at a Japanese company, with truth.

Usage::

    from ashiato.lab import generate
    truth = generate("fileserver-encryption", Path("out"), seed=7, missing=["dhcp"])

``out/evidence/<source>/...`` holds the logs as the responders would receive them (vendor
formats, encodings, clocks and all), ``out/truth.json`` says what happened, and
``out/encrypted_files.csv`` lists every encrypted file. The same arguments give
byte-identical output. See ``engine.py`` for the run, ``streams.py`` for the file table.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

from ashiato.errors import AshiatoError
from ashiato.lab.engine import run
from ashiato.lab.scenarios import SCENARIOS, VARIANTS
from ashiato.lab.sources import SOURCES

__all__ = ["SCENARIOS", "SOURCES", "VARIANTS", "LabError", "generate"]


class LabError(AshiatoError, ValueError):
    """A lab request that can't be honoured (unknown scenario or source, bad scale)."""


def generate(scenario: str, out: Path, *, seed: int = 1, scale: int = 1,
             missing: Sequence[str] = (), audit: bool = True,
             variant: str | None = None) -> dict[str, Any]:
    """Simulate ``scenario`` into ``out``; returns the truth dict (also in out/truth.json).

    ``variant`` picks how much the hosts log (see ``VARIANTS``): ``full`` (the default) or,
    for the intrusion scenarios, ``default-logging`` (no Sysmon, no 4688 command lines, no
    file-share auditing: only what Windows writes out of the box).
    """
    if scenario not in SCENARIOS:
        raise LabError(f"unknown scenario {scenario!r}; choose one of: {', '.join(SCENARIOS)}")
    variant = variant or VARIANTS[scenario][0]
    if variant not in VARIANTS[scenario]:
        raise LabError(f"scenario {scenario!r} has no variant {variant!r}; choose one of: "
                       f"{', '.join(VARIANTS[scenario])}")
    if variant == "default-logging":
        audit = False  # "Detailed File Share" and SACL auditing are not on by default
    unknown = [m for m in missing if m not in SOURCES]
    if unknown:
        raise LabError(f"unknown source(s) {', '.join(unknown)}; valid: {', '.join(SOURCES)}")
    if not 1 <= scale <= 200:
        raise LabError(f"scale must be between 1 and 200, got {scale}")
    out = Path(out)
    evidence = out / "evidence"
    if evidence.exists() and any(evidence.iterdir()):
        raise LabError(f"{evidence} already holds evidence; choose an empty output folder")
    out.mkdir(parents=True, exist_ok=True)
    return run(scenario, out, seed=seed, scale=scale, missing=sorted(set(missing)), audit=audit,
               variant=variant)
