"""``python -m ashiato`` and the ``ashiato`` command."""

from __future__ import annotations

import os
import sys

from ashiato.evidence import hash_ahead

# commands whose positional arguments may name evidence files to read
_READERS = ("ingest", "investigate")


def main() -> None:
    # numpy, loaded with pyarrow, starts OpenBLAS's thread pool, whose threads spin a
    # while for work that never comes here (no linear algebra): ~6 % of the instructions
    # of a small file's ingest, on the core the hash and a worker process would use
    os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")
    # the large evidence files named on the command line are hashed on the second core
    # while the CLI's libraries load (~0.3 s): the digest is ready when the file is read
    # (a 256 MB EVTX: 2.23 -> 2.14x the bare parser's time); paths that aren't large
    # files, or a path the command reads otherwise, cost nothing
    if sys.argv[1:2] and sys.argv[1] in _READERS:
        hash_ahead.start(a for a in sys.argv[2:] if not a.startswith("-"))
    from ashiato.cli import main as run

    run()


if __name__ == "__main__":
    main()
