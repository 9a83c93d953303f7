"""``python -m ashiato`` and the ``ashiato`` command."""

from __future__ import annotations

import atexit
import os
import sys
from typing import NoReturn

from ashiato import cores
from ashiato.evidence import hash_ahead

# commands whose positional arguments may name evidence files to read
_READERS = ("ingest", "investigate")


def main() -> None:
    # numpy, loaded with pyarrow, starts OpenBLAS's thread pool, whose threads spin a
    # while for work that never comes here (no linear algebra): ~6 % of the instructions
    # of a small file's ingest, on the core the hash and a worker process would use
    os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")
    # whether a second process pays is judged by how busy other work keeps the cores
    # from now on (cores.py), not by the lagging load average
    cores.begin()
    # the large evidence files named on the command line are hashed on the second core
    # while the CLI's libraries load (~0.3 s): the digest is ready when the file is read
    # (a 256 MB EVTX: 2.23 -> 2.14x the bare parser's time); paths that aren't large
    # files, or a path the command reads otherwise, cost nothing
    if sys.argv[1:2] and sys.argv[1] in _READERS:
        hash_ahead.start(a for a in sys.argv[2:] if not a.startswith("-"))
    from ashiato.cli import main as run

    try:
        run()
    except SystemExit as done:
        leave(done.code)
    leave(0)


def leave(code: object) -> NoReturn:
    """End the process once the command is done: as Python's own exit does (exit
    handlers run, output flushed, the same status), but without the interpreter's
    teardown, which frees every object left one by one: ~30 ms after an ingest, more
    after an investigation's millions of rows. What a command writes it closes itself;
    a thread still at work is only a hash nobody asked for (hash_ahead), cut short."""
    if code is None:
        status = 0
    elif isinstance(code, int):
        status = code
    else:  # sys.exit("message"): printed, status 1
        print(code, file=sys.stderr)
        status = 1
    atexit._run_exitfuncs()  # what the teardown would run first
    for stream in (sys.stdout, sys.stderr):
        try:
            stream.flush()
        except (OSError, ValueError):  # a closed pipe (| head): nothing more to say
            pass
    os._exit(status)


if __name__ == "__main__":
    main()
