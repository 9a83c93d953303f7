"""Large evidence files hashed in a thread while the rest of the run starts.

Every file is hashed (SHA-256) before it is read, to name it and to skip content the
case already holds; on a 256 MB EVTX that is ~0.17 s in which nothing else happened.
``hashlib`` and file reads let go of the GIL, so a thread hashes on the second core
while this one imports modules and opens the case. :func:`start` is called as early as
possible with the paths given on the command line (the CLI, and ``ingest.ingest``);
:func:`take` (``walk.sha256_of``) hands over a finished digest, waiting for it if need
be. The digest is the same as hashing in place: a file that changed in between (size,
modification time, inode) is hashed again by the caller, and a failed hash is too.
Standard library only: imported before anything heavy.
"""

from __future__ import annotations

import hashlib
import os
import stat
import threading
from collections.abc import Iterable
from concurrent.futures import Future
from pathlib import Path

# below this the hash costs a few ms: not worth a thread (and small files are many)
MIN_BYTES = 16 << 20
# read and hashed a block at a time without the GIL; between blocks the thread waits for
# it (up to 5 ms while imports hold it): 256 MB beside busy Python took 0.75 s in 256 KB
# blocks (hashlib.file_digest), 0.50 s in 8 MB, 0.26 s in 32 MB (0.17 s alone)
_BLOCK = 32 << 20

_Key = tuple[str, int, int, int, int]  # path, device, inode, size, mtime (ns)
_lock = threading.Lock()
_ahead: dict[_Key, Future[str]] = {}


def start(paths: Iterable[str | os.PathLike[str]]) -> None:
    """Begin hashing the large regular files among ``paths`` (folders and archives are
    left to the walker), one after another in a daemon thread."""
    todo: list[tuple[_Key, Path, Future[str]]] = []
    with _lock:
        for p in paths:
            key = _key(Path(p))
            if key is not None and key[3] >= MIN_BYTES and key not in _ahead:
                _ahead[key] = Future()
                todo.append((key, Path(p), _ahead[key]))
    if todo:
        threading.Thread(target=_hash_all, args=(todo,), name="ashiato-hash",
                         daemon=True).start()  # fmt: skip


def take(path: Path) -> str | None:
    """The hex SHA-256 of ``path`` if :func:`start` hashed it and it is unchanged since
    (waiting for the thread); None: hash it yourself."""
    key = _key(path)
    with _lock:
        future = _ahead.pop(key, None) if key is not None else None
    if future is None:
        return None
    try:
        return future.result()
    except OSError:
        return None


def _hash_all(todo: list[tuple[_Key, Path, Future[str]]]) -> None:
    for key, path, future in todo:
        if not future.set_running_or_notify_cancel():
            continue
        try:
            digest = _sha256(path)
            if _key(path) != key:  # written to meanwhile: not the file take() sees
                raise OSError(f"{path} changed while it was hashed")
        except OSError as exc:
            future.set_exception(exc)
        else:
            future.set_result(digest)


def _sha256(path: Path) -> str:
    h = hashlib.sha256()
    block = memoryview(bytearray(_BLOCK))
    with path.open("rb", buffering=0) as fh:
        while n := fh.readinto(block):
            h.update(block[:n])
    return h.hexdigest()


def _key(path: Path) -> _Key | None:
    try:
        st = path.stat()
    except OSError:
        return None
    if not stat.S_ISREG(st.st_mode):
        return None
    return (os.path.abspath(path), st.st_dev, st.st_ino, st.st_size, st.st_mtime_ns)
