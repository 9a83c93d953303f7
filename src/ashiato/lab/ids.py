"""Seeded randomness and the identifiers logs are full of (GUIDs, queue ids, random names).

Every component draws from its own ``random.Random`` derived from the seed and a label, so
adding events to one part of the simulation does not shift the random stream of another, and
``missing=`` (which only suppresses writing) never changes what the remaining files contain.
String seeds are hashed with SHA-512 by ``random`` itself, so this is stable across runs and
independent of ``PYTHONHASHSEED``.
"""

from __future__ import annotations

import random
import string

_ALNUM = string.ascii_lowercase + string.digits
_HEX_UP = "0123456789ABCDEF"


def rng_for(seed: int, *labels: object) -> random.Random:
    """An independent generator for one component (labels name the component)."""
    return random.Random("ashiato-lab|" + str(seed) + "|" + "|".join(map(str, labels)))


def guid(rng: random.Random) -> str:
    """``{8-4-4-4-12}`` upper-case GUID in braces, as Windows logs print them."""
    h = "".join(rng.choice(_HEX_UP) for _ in range(32))
    return "{" + f"{h[:8]}-{h[8:12]}-{h[12:16]}-{h[16:20]}-{h[20:]}" + "}"


def hex_id(rng: random.Random, n: int) -> str:
    return "".join(rng.choice(_HEX_UP) for _ in range(n))


def alnum(rng: random.Random, n: int) -> str:
    return "".join(rng.choice(_ALNUM) for _ in range(n))


def letters(rng: random.Random, n: int) -> str:
    return "".join(rng.choice(string.ascii_lowercase) for _ in range(n))


def hashes(rng: random.Random) -> str:
    """Sysmon ``Hashes`` value (SHA1 + MD5 as the 2015 default configuration logged)."""
    return f"SHA1={hex_id(rng, 40)},MD5={hex_id(rng, 32)}"
