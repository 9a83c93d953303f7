"""Indicator lists (STIX 2.1, MISP, CSV/TXT) matched against every dataset of a case.

Formats read:

- **STIX 2.1** bundles (or single objects): ``indicator`` objects whose ``pattern`` is
  made of simple comparisons ``[type:property = 'value']`` joined by ``OR``; understood:
  ``ipv4-addr``/``ipv6-addr:value`` (an address or CIDR), ``domain-name:value``,
  ``url:value``, ``file:hashes.MD5|'SHA-1'|'SHA-256'`` and ``file:name``. Other
  comparisons (``AND``, ``MATCHES``, other object types) are reported, not guessed.
- **MISP** event JSON (``{"Event": ...}``, a list of them or ``{"response": [...]}``):
  attributes (also inside objects) of type ip-src/ip-dst (and ``|port``), domain,
  hostname, domain|ip, url, uri, md5, sha1, sha256, filename and filename|hash.
- **CSV/TXT**: one indicator a line (``#`` comments); in CSV the first column is the
  value, a ``type`` column (if any) says what it is and a ``description``/``comment``
  column is kept. Otherwise the type is guessed. Defanged values (``hxxp``, ``[.]``)
  are refanged.

Matching is exact where it can be, in the engine: the distinct values of the relevant
columns are fetched (a few thousand, even on big cases), compared in Python (domains
match their subdomains too, hashes are found inside ``Hashes=`` strings, IPs inside
CIDR ranges) and the matching events are then selected with ``isin``.
"""

from __future__ import annotations

import csv
import io
import ipaddress
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import orjson

from ashiato.detect.sigma.runner import KEEP
from ashiato.errors import QueryError

TYPES = ("ip", "domain", "url", "md5", "sha1", "sha256", "filename")
COLUMNS: dict[str, tuple[str, ...]] = {
    "ip": ("source.ip", "destination.ip", "host.ip"),
    "domain": ("url.domain", "destination.domain", "dns.question.name"),
    "url": ("url.original",),
    "hash": ("process.hash", "file.hash"),
    "filename": ("file.name", "process.name", "email.attachments"),
}
_HASH_LEN = {32: "md5", 40: "sha1", 64: "sha256"}
_HEX = re.compile(
    r"(?<![0-9a-fA-F])([0-9a-fA-F]{32}|[0-9a-fA-F]{40}|[0-9a-fA-F]{64})(?![0-9a-fA-F])"
)
_DOMAIN = re.compile(
    r"^(?=.{1,253}$)([a-z0-9_](?:[a-z0-9_-]{0,61}[a-z0-9])?\.)+[a-z][a-z0-9-]{1,62}$"
)
_FILE_EXT = frozenset(
    "exe dll scr pif com bat cmd ps1 vbs vbe js jse wsf wsh hta lnk jar zip rar 7z doc docx "
    "docm xls xlsx xlsm ppt pptm pdf rtf iso img msi sys tmp txt html htm png bmp url dat "
    "bin cab".split()
)


@dataclass(frozen=True)
class Indicator:
    type: str  # one of TYPES
    value: str  # normalised: lower case (except nothing: all types are case-insensitive)
    source: str
    description: str = ""
    id: str | None = None


@dataclass
class SourceSummary:
    path: str
    format: str
    indicators: int
    skipped: list[str] = field(default_factory=list)  # what could not be used, and why


@dataclass
class IocHit:
    indicator: Indicator
    event: dict[str, Any]
    column: str
    matched: str


# -- reading ------------------------------------------------------------------------------


def load(paths: Sequence[Path]) -> list[tuple[SourceSummary, list[Indicator]]]:
    out = []
    for path in paths:
        if not path.is_file():
            raise QueryError(f"{path}: no such IOC file")
        data = path.read_bytes()
        out.append(parse(data, str(path)))
    return out


def parse(data: bytes, source: str) -> tuple[SourceSummary, list[Indicator]]:
    text = data.decode("utf-8-sig", "replace")
    stripped = text.lstrip()
    if stripped[:1] in ("{", "["):
        try:
            doc = orjson.loads(stripped)
        except orjson.JSONDecodeError:
            doc = None
        if doc is not None:
            if _is_stix(doc):
                return _stix(doc, source)
            return _misp(doc, source)
    return _lines(text, source)


def _is_stix(doc: Any) -> bool:
    if isinstance(doc, dict):
        return doc.get("type") in ("bundle", "indicator") or "spec_version" in doc
    return isinstance(doc, list) and any(isinstance(o, dict) and "pattern" in o for o in doc)


_CMP = re.compile(
    r"\[\s*([a-z0-9-]+):([A-Za-z0-9_.'\- ]+?)\s*(=|!=|LIKE|MATCHES|IN|>|<|>=|<=)\s*"
    r"'((?:[^'\\]|\\.)*)'\s*\]"
)


def _stix(doc: Any, source: str) -> tuple[SourceSummary, list[Indicator]]:
    objs = doc.get("objects", [doc]) if isinstance(doc, dict) else doc
    summary = SourceSummary(source, "stix", 0)
    out: list[Indicator] = []
    for obj in objs:
        if not isinstance(obj, dict) or obj.get("type") != "indicator":
            continue
        pattern = str(obj.get("pattern") or "")
        desc = str(obj.get("description") or obj.get("name") or "")
        oid = obj.get("id")
        # only OR of single comparisons: an AND inside or across brackets is not one value
        outside = re.sub(r"'(?:[^'\\]|\\.)*'", "''", pattern)
        if re.search(r"\bAND\b|\bFOLLOWEDBY\b|\bREPEATS\b|\bWITHIN\b", outside):
            summary.skipped.append(f"{oid}: pattern with AND/FOLLOWEDBY is not a single value")
            continue
        found = _CMP.findall(pattern)
        if not found:
            summary.skipped.append(f"{oid}: pattern not understood: {pattern[:80]}")
            continue
        for otype, prop, op, value in found:
            value = value.replace("\\'", "'").replace("\\\\", "\\")
            typ = _stix_type(otype, prop.replace(" ", ""))
            if op != "=" or typ is None:
                summary.skipped.append(f"{oid}: {otype}:{prop} {op} not supported")
                continue
            ind = _make(typ, value, source, desc, str(oid) if oid else None)
            if ind is None:
                summary.skipped.append(f"{oid}: bad {typ} value {value[:60]!r}")
            else:
                out.append(ind)
    summary.indicators = len(out)
    return summary, out


def _stix_type(otype: str, prop: str) -> str | None:
    if otype in ("ipv4-addr", "ipv6-addr") and prop == "value":
        return "ip"
    if otype == "domain-name" and prop == "value":
        return "domain"
    if otype == "url" and prop == "value":
        return "url"
    if otype == "file":
        if prop == "name":
            return "filename"
        h = prop.lower().replace("'", "").replace("-", "")
        return {"hashes.md5": "md5", "hashes.sha1": "sha1", "hashes.sha256": "sha256"}.get(h)
    return None


_MISP_TYPES = {
    "ip-src": "ip", "ip-dst": "ip", "domain": "domain", "hostname": "domain", "url": "url",
    "uri": "url", "link": None, "md5": "md5", "sha1": "sha1", "sha256": "sha256",
    "filename": "filename",
}  # fmt: skip


def _misp(doc: Any, source: str) -> tuple[SourceSummary, list[Indicator]]:
    events: list[Any] = []
    if isinstance(doc, dict) and "response" in doc:
        doc = doc["response"]
    for item in doc if isinstance(doc, list) else [doc]:
        if isinstance(item, dict):
            events.append(item.get("Event", item))
    summary = SourceSummary(source, "misp", 0)
    out: list[Indicator] = []
    for ev in events:
        info = str(ev.get("info") or "")
        attrs = list(ev.get("Attribute") or [])
        for obj in ev.get("Object") or []:
            attrs.extend(obj.get("Attribute") or [])
        for a in attrs:
            out.extend(_misp_attr(a, source, info, summary))
    summary.indicators = len(out)
    return summary, out


def _misp_attr(a: dict[str, Any], source: str, info: str, summary: SourceSummary
               ) -> list[Indicator]:  # fmt: skip
    typ = str(a.get("type") or "")
    value = str(a.get("value") or "")
    desc = str(a.get("comment") or info)
    aid = str(a.get("uuid") or a.get("id") or "") or None
    pairs: list[tuple[str, str]] = []
    if "|" in typ:
        left, right = typ.split("|", 1)
        lv, _, rv = value.partition("|")
        pairs.append((left, lv))
        if right != "port":
            pairs.append((right, rv))
    else:
        pairs.append((typ, value))
    out = []
    for t, v in pairs:
        mapped = _MISP_TYPES.get(t)
        if mapped is None:
            summary.skipped.append(f"MISP type {t} not matched")
            continue
        ind = _make(mapped, v, source, desc, aid)
        if ind is not None:
            out.append(ind)
    return out


def _lines(text: str, source: str) -> tuple[SourceSummary, list[Indicator]]:
    summary = SourceSummary(source, "list", 0)
    rows = [r for r in csv.reader(io.StringIO(text)) if r and r[0].strip()
            and not r[0].lstrip().startswith("#")]  # fmt: skip
    header = [c.strip().lower() for c in rows[0]] if rows else []
    type_at = header.index("type") if "type" in header else None
    desc_at = next((header.index(k) for k in ("description", "comment", "desc") if k in header),
                   None)  # fmt: skip
    value_at = next((header.index(k) for k in ("value", "indicator", "ioc") if k in header), 0)
    if type_at is not None or desc_at is not None or "value" in header or "indicator" in header:
        rows = rows[1:]
    out: list[Indicator] = []
    for r in rows:
        raw = r[value_at].strip() if value_at < len(r) else ""
        typ = r[type_at].strip().lower() if type_at is not None and type_at < len(r) else ""
        desc = r[desc_at].strip() if desc_at is not None and desc_at < len(r) else ""
        typ = _MISP_TYPES.get(typ) or (typ if typ in TYPES else None) or guess(raw) or ""
        ind = _make(typ, raw, source, desc) if typ else None
        if ind is None:
            summary.skipped.append(f"can't tell what {raw[:60]!r} is")
        else:
            out.append(ind)
    summary.indicators = len(out)
    return summary, out


def refang(v: str) -> str:
    v = v.strip().strip("\"'")
    v = re.sub(r"^hxxp", "http", v, flags=re.I)
    return v.replace("[.]", ".").replace("(.)", ".").replace("[:]", ":").replace("[dot]", ".")


def guess(raw: str) -> str | None:
    v = refang(raw).lower()
    if not v:
        return None
    try:
        ipaddress.ip_network(v, strict=False)
        return "ip"
    except ValueError:
        pass
    if re.fullmatch(r"[0-9a-f]+", v) and len(v) in _HASH_LEN:
        return _HASH_LEN[len(v)]
    if "://" in v or ("/" in v and _DOMAIN.match(v.split("/", 1)[0])):
        return "url"
    if _DOMAIN.match(v):
        ext = v.rsplit(".", 1)[-1]
        return "filename" if ext in _FILE_EXT else "domain"
    if "." in v and "\\" not in v and "/" not in v:
        return "filename"
    return None


def _make(typ: str, raw: str, source: str, desc: str = "", iid: str | None = None
          ) -> Indicator | None:  # fmt: skip
    v = refang(raw)
    if not v:
        return None
    if typ == "ip":
        try:
            net = ipaddress.ip_network(v, strict=False)
        except ValueError:
            return None
        v = str(net.network_address) if net.num_addresses == 1 else str(net)
    elif typ == "domain":
        v = v.lower().rstrip(".")
        if v.startswith("*."):
            v = v[2:]
        if not _DOMAIN.match(v):
            return None
    elif typ in ("md5", "sha1", "sha256"):
        v = v.lower()
        if not re.fullmatch(r"[0-9a-f]+", v) or _HASH_LEN.get(len(v)) != typ:
            return None
    elif typ == "url":
        v = _url_key(v)
    elif typ == "filename":
        v = v.replace("/", "\\").rsplit("\\", 1)[-1].lower()
    else:
        return None
    return Indicator(typ, v, source, desc, iid)


def _url_key(u: str) -> str:
    """Scheme-less, host lower-cased, no trailing slash: how URLs are compared."""
    u = u.strip()
    u = re.sub(r"^[a-zA-Z][a-zA-Z0-9+.-]*://", "", u)
    host, sep, rest = u.partition("/")
    return (host.lower() + sep + rest).rstrip("/")


# -- matching -----------------------------------------------------------------------------


def match(
    events: Any, loaded: Sequence[tuple[SourceSummary, list[Indicator]]]
) -> tuple[list[IocHit], list[SourceSummary]]:
    """Every event of ``events`` (Ibis table) that shows one of the indicators."""
    inds = [i for _, lst in loaded for i in lst]
    t = events
    hits: list[IocHit] = []
    for kind, cols in COLUMNS.items():
        wanted = [i for i in inds if _kind(i.type) == kind]
        if not wanted:
            continue
        for col in cols:
            if col not in t.columns:
                continue
            values = _distinct(t, col)
            found = _match_values(kind, wanted, values)
            if not found:
                continue
            q = t.filter(t[col].isin(sorted(found))).select(
                *[c for c in KEEP if c in t.columns], _v=t[col]
            )  # fmt: skip
            for row in q.to_pyarrow().to_pylist():
                v = row.pop("_v")
                for ind in found.get(v, ()):
                    hits.append(IocHit(ind, row, col, str(v)))
    hits.sort(key=lambda h: (str(h.event.get("@timestamp")), h.indicator.value))
    return hits, [s for s, _ in loaded]


def _kind(typ: str) -> str:
    return "hash" if typ in ("md5", "sha1", "sha256") else typ


def _distinct(t: Any, col: str) -> list[str]:
    q = t.filter(t[col].notnull()).select(v=t[col].cast("string")).distinct()
    return [str(v) for v in q.to_pyarrow().column("v").to_pylist()]


def _match_values(kind: str, inds: list[Indicator], values: Iterable[str]
                  ) -> dict[str, list[Indicator]]:  # fmt: skip
    out: dict[str, list[Indicator]] = {}
    if kind == "ip":
        exact: dict[str, list[Indicator]] = {}
        nets = []
        for i in inds:
            if "/" in i.value:
                nets.append((ipaddress.ip_network(i.value), i))
            else:
                exact.setdefault(i.value, []).append(i)
        for v in values:
            found = list(exact.get(v, ()))
            if nets:
                try:
                    addr = ipaddress.ip_address(v)
                    found += [i for n, i in nets if addr.version == n.version and addr in n]
                except ValueError:
                    pass
            if found:
                out[v] = found
        return out
    table: dict[str, list[Indicator]] = {}
    for i in inds:
        table.setdefault(i.value, []).append(i)
    for v in values:
        got: list[Indicator] = []
        if kind == "domain":
            d = v.lower().rstrip(".")
            parts = d.split(".")
            for k in range(len(parts) - 1):  # the name itself and every parent domain
                got += table.get(".".join(parts[k:]), [])
        elif kind == "url":
            key = _url_key(v)
            got += table.get(key, []) or table.get(key.split("?", 1)[0], [])
        elif kind == "hash":
            for h in _HEX.findall(v):
                got += table.get(h.lower(), [])
        elif kind == "filename":
            for name in v.split(","):
                got += table.get(name.strip().replace("/", "\\").rsplit("\\", 1)[-1].lower(), [])
        if got:
            out[v] = list(dict.fromkeys(got))
    return out
