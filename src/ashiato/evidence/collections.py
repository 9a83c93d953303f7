"""Recognise endpoint triage collections and tell which host each evidence file is from.

Responders rarely hand over loose logs from PCs: they hand over what a triage tool
collected, and the host name is then in the collection, not in every file (Prefetch,
$MFT, Amcache and the EZ tools' CSVs carry none). Two layouts are recognised from the
file names alone (``display`` strings as :class:`~ashiato.evidence.walk.Walker` yields
them; an archive member is ``<archive>!<member>``; ``\\`` and ``/`` are both accepted):

- **KAPE** target output keeps the source paths under a drive-letter folder:
  ``<tdest>/C/Windows/System32/winevt/Logs/Security.evtx``, ``<tdest>/C/Windows/prefetch/``,
  ``<tdest>/C/Windows/AppCompat/Programs/Amcache.hve``, ``<tdest>/C/$MFT``, browser
  history under ``C/Users/<user>/AppData``; shadow copies under ``<tdest>/vss<N>/C/...``.
  Module output sits in category folders: ``<mdest>/ProgramExecution/..._PECmd_Output.csv``,
  ``<mdest>/FileSystem/``, ``<mdest>/EventLogs/``... The host is the ``<tdest>``/``<mdest>``
  folder's own name when it looks like one (KAPE's ``%m`` variable), optionally with a
  timestamp before or after it (``20150910031500_PC-TKY-0341``); generic names (``tout``,
  ``output``, ``triage``...) and bare timestamps give no host.
- **Velociraptor** collections (offline collector zip or an exported flow):
  ``uploads/auto/C%3A/...``, ``uploads/ntfs/%5C%5C.%5CC%3A/$MFT``; the host is the
  ``Hostname`` (else ``Fqdn``) of ``client_info.json``, else a ``hostname``/``fqdn`` key
  of ``collection_context.json``, else the archive name ``Collection-<host>-<time>.zip``.

:func:`detect_collections` is pure (a listing, plus an optional reader for the two JSON
files); :func:`host_for` maps one display to its host with the roots found;
:func:`hosts_for_files` does both for a list of ``(display, local path)``.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import orjson

MAX_JSON_BYTES = 1 << 20

_DRIVE_CONTENT = (
    r"windows/(?:system32/(?:winevt/logs|config|tasks|sru|logfiles)|prefetch|appcompat"
    r"|inf|tasks|system32)/|\$mft$|\$extend/|\$logfile$|\$recycle\.bin/|users/|documents and "
    r"settings/|programdata/|\$boot$|inetpub/"
)
# <root>/[vssN/]<drive letter>/<known Windows content>
_KAPE_TARGET = re.compile(r"^(?P<root>(?:.*/)?)[a-z]/(?:" + _DRIVE_CONTENT + ")",
                          re.IGNORECASE)  # fmt: skip
_KAPE_CATEGORIES = (
    "ProgramExecution|FileSystem|EventLogs|Registry|FileFolderAccess|BrowserHistory"
    "|FileDeletion|LiveResponse|Communications|ExternalDevices|AccountUsage|Persistence"
    "|SRUMDatabase|SQLDatabases|NetworkUsage|Antivirus|Timelines"
)
_KAPE_MODULE = re.compile(
    rf"^(?P<root>(?:.*/)?)(?:{_KAPE_CATEGORIES})/[^/]*_(?:PECmd|MFTECmd|EvtxECmd|RECmd|"
    r"AppCompatCache|Amcache|LECmd|JLECmd|SBECmd|RBCmd|SrumECmd|SQLECmd|WxTCmd)",
    re.IGNORECASE,
)
_VELO = re.compile(r"^(?P<root>(?:.*[/!])?)uploads/(?:auto|ntfs|file|mft|lazy_ntfs|raw_reg)/",
                   re.IGNORECASE)  # fmt: skip
_VELO_META = re.compile(r"^(?P<root>(?:.*[/!])?)(?:client_info|collection_context)\.json$",
                        re.IGNORECASE)  # fmt: skip
_TS = r"\d{4}-?\d{2}-?\d{2}(?:[T_ -]?\d{2}[-:_]?\d{2}(?:[-:_]?\d{2}(?:\.\d+)?)?)?(?:Z|[+-]\d{4})?"
_TS_ONLY = re.compile(rf"^(?:{_TS}|\d+)$", re.IGNORECASE)
_HOSTLIKE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,62}$")
_VELO_ZIP = re.compile(rf"^Collection-(?P<host>.+?)(?:-{_TS})?\.zip$", re.IGNORECASE)
_GENERIC = frozenset(
    """tout tdest mout mdest kape kape_out kapeout kape_output kapeoutput output outputs out
    triage triage_output collection collections collected evidence targets target modules
    module export exports files data case cases tmp temp image images mnt mount mounted raw
    artifacts artefacts results result uploads upload auto ntfs home root users desktop
    downloads documents c d e f vss live liveresponse velociraptor offline acquisition
    acquisitions disk disks host hosts machine machines endpoint endpoints tdest_vhdx
    programexecution filesystem eventlogs registry""".split()
)


@dataclass(frozen=True)
class CollectionInfo:
    """One collection in a listing: its kind, the host (None if unknown) and its root.

    ``root`` is the normalised (``/``-separated) display prefix shared by its files.
    """

    kind: str  # "kape" or "velociraptor"
    host: str | None
    root: str


def _norm(display: str) -> str:
    return display.replace("\\", "/")


def plausible_host(name: str) -> str | None:
    """``name`` as a host name, after dropping a timestamp before or after it; None if it
    is a generic folder name, a bare timestamp or not shaped like a host name."""
    name = name.strip()
    if _TS_ONLY.match(name):
        return None
    name = re.sub(rf"^{_TS}[_ -]+", "", name, flags=re.IGNORECASE)
    name = re.sub(rf"[_ -]+{_TS}$", "", name, flags=re.IGNORECASE)
    if not name or _TS_ONLY.match(name) or name.lower() in _GENERIC:
        return None
    return name if _HOSTLIKE.match(name) else None


def _last_part(root: str) -> str:
    """The folder or archive name a root ends with."""
    parts = [p for p in re.split(r"[/!]", root) if p]
    return parts[-1] if parts else ""


def _velo_host(
    root: str, names: set[str], read: Callable[[str], bytes | None] | None
) -> str | None:
    if read is not None:
        for meta in ("client_info.json", "collection_context.json"):
            for cand in names:
                if cand.lower() == (root + meta).lower():
                    host = _json_host(read(cand))
                    if host:
                        return host
    m = _VELO_ZIP.match(_last_part(root))
    if m:
        return plausible_host(m.group("host"))
    return None


def _json_host(data: bytes | None) -> str | None:
    if not data or len(data) > MAX_JSON_BYTES:
        return None
    try:
        doc = orjson.loads(data)
    except orjson.JSONDecodeError:
        return None
    return _find_host(doc, 0)


def _find_host(doc: Any, depth: int) -> str | None:
    if not isinstance(doc, dict) or depth > 3:
        return None
    lower = {str(k).lower(): v for k, v in doc.items()}
    for key in ("hostname", "fqdn", "host"):
        value = lower.get(key)
        if isinstance(value, str) and _HOSTLIKE.match(value.strip()):
            return value.strip()
    for value in doc.values():
        found = _find_host(value, depth + 1)
        if found:
            return found
    return None


def detect_collections(
    listing: Iterable[str], read: Callable[[str], bytes | None] | None = None
) -> list[CollectionInfo]:
    """Every collection found in ``listing`` (displays or member names), longest root first.

    ``read(name)`` returns the bytes of a listed file (``client_info.json``...) or None;
    without it Velociraptor hosts come from the archive name only.
    """
    originals = {_norm(n): n for n in listing}
    roots: dict[str, str] = {}
    for n in originals:
        for kind, rx in (("velociraptor", _VELO), ("velociraptor", _VELO_META),
                         ("kape", _KAPE_TARGET), ("kape", _KAPE_MODULE)):  # fmt: skip
            m = rx.match(n)
            if m:
                # KAPE puts shadow copies in vss<N> below the same root
                root = re.sub(r"vss\d+/$", "", m.group("root"), flags=re.IGNORECASE)
                roots.setdefault(root, kind)
                break
    names = set(originals)
    out: list[CollectionInfo] = []
    for root, kind in roots.items():
        if kind == "velociraptor":
            reader = None if read is None else (lambda n: read(originals[n]))
            host = _velo_host(root, names, reader)
        else:
            host = plausible_host(_last_part(root))
        out.append(CollectionInfo(kind, host, root))
    out.sort(key=lambda c: len(c.root), reverse=True)
    return out


def detect_collection(
    listing: Iterable[str], read: Callable[[str], bytes | None] | None = None
) -> CollectionInfo | None:
    """The collection a folder or archive listing holds (the one with a host, else the
    first found); None when it is not a KAPE or Velociraptor collection."""
    found = detect_collections(listing, read)
    with_host = [c for c in found if c.host]
    best = with_host or found
    return best[0] if best else None


def host_for(display: str, root_hints: Mapping[str, str | None] | None = None) -> str | None:
    """The host an evidence file belongs to, or None.

    ``root_hints`` maps collection roots (``CollectionInfo.root``) to their host; the
    longest root that ``display`` starts with wins. Without a matching hint the display's
    own path is read (KAPE and Velociraptor layouts) as :func:`detect_collections` does.
    """
    n = _norm(display)
    if root_hints:
        for root in sorted(root_hints, key=len, reverse=True):
            if n.lower().startswith(_norm(root).lower()):
                return root_hints[root]
    found = detect_collections([display])
    return found[0].host if found else None


def hosts_for_files(files: Iterable[tuple[str, Path]]) -> dict[str, str]:
    """``{display: host}`` for the files of known collections whose host is known.

    ``files`` are ``(display, local path)`` pairs, e.g. from the walker's evidence files;
    only ``client_info.json``/``collection_context.json`` are read (at most 1 MiB each).
    """
    pairs = list(files)
    local = {d: p for d, p in pairs}

    def read(display: str) -> bytes | None:
        path = local.get(display)
        try:
            if path is None or path.stat().st_size > MAX_JSON_BYTES:
                return None
            return path.read_bytes()
        except OSError:
            return None

    hints = {c.root: c.host for c in detect_collections(local, read)}
    out: dict[str, str] = {}
    for display, _ in pairs:
        host = host_for(display, hints)
        if host:
            out[display] = host
    return out
