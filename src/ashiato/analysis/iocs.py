"""Indicators of compromise pulled out of what the attacker ran and what caught it.

Sources (each indicator keeps the events it came from as evidence refs):

- command lines of processes and services (4688, Sysmon 1, 7045/4697, PowerShell 400/800
  HostApplication) and their decoded text (``extra.decoded``, see detect/decode.py);
- PowerShell script blocks (4104), whose parts are rejoined by ``ScriptBlockId`` first so
  a URL split across two events is found whole;
- antivirus detections (file names, paths and hashes of what was caught);
- hashes of processes and files in user-writable folders (Sysmon ``Hashes``, split by
  algorithm: IMPHASH is an import-table fingerprint, not a file hash, and is dropped);
- IDS alerts (the external end of an alert) and proxy rows for the domains found above.

Which text holds indicators: URLs (``http``/``https``/``ftp``), UNC hosts, IPv4/IPv6
literals, the domains of those URLs, and program or script names from user-writable
folders or URL paths. Standalone words that merely look like domains
(``System.Net.WebClient``) are not taken. Not indicators: Microsoft schema and update
hosts, certificate revocation (CRL/OCSP), localhost and unspecified addresses.
Private/internal addresses stay, marked ``internal``, so they are kept apart.

Every indicator comes with a ``defanged`` form (``hxxp://evil[.]example``) for reports.
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Iterable
from dataclasses import asdict, dataclass, field
from datetime import datetime
from typing import Any
from urllib.parse import urlsplit

import orjson

from ashiato.analysis.context import Context, summary
from ashiato.analysis.indicators import is_internal
from ashiato.exports import iso
from ashiato.findings import Evidence

MAX_TEXTS = 20_000  # distinct command lines read per source
MAX_BLOCKS = 5_000  # script-block events read (each up to 32 KB)
MAX_IOCS = 2_000
MAX_REFS = 5

_URL = re.compile(r"(?i)\b(?:https?|ftp)://[^\s'\"<>()\[\]{}|^`,;]+")
_UNC = re.compile(r"(?<![\w\\])\\\\([a-z0-9][a-z0-9.-]*[a-z0-9])\\[^\s'\"\\]+", re.I)
_IPV4 = re.compile(r"(?<![\d.])(\d{1,3}(?:\.\d{1,3}){3})(?![\d.]*\d)")
_IPV6 = re.compile(r"(?<![\w:])((?:[0-9a-f]{1,4}:){2,7}[0-9a-f]{1,4})(?![\w:])", re.I)
_EXEC_EXT = (
    "exe dll scr pif com bat cmd ps1 psm1 vbs vbe js jse wsf wsh hta lnk jar msi sys cpl "
    "ocx sct xsl iso img zip rar 7z cab"
).split()
_WRITABLE = re.compile(
    r"(?i)(?:[a-z]:|%[a-z]+%|\$env:[a-z]+)?\\(?:[^\\\s\"'*?<>|]+\\)*?"
    r"(?:temp|tmp|appdata|downloads|public|programdata|perflogs|desktop)\\"
    r"(?:[^\\\s\"'*?<>|]+\\)*[^\\\s\"'*?<>|]+\.(?:" + "|".join(_EXEC_EXT) + r")\b"
)
_HASH_ALGOS = {"md5": 32, "sha1": 40, "sha256": 64}
_HEX = re.compile(r"^[0-9a-fA-F]+$")
# hashes of an empty file: every zero-byte file has them
_EMPTY = frozenset((
    "d41d8cd98f00b204e9800998ecf8427e",
    "da39a3ee5e6b4b0d3255bfef95601890afd80709",
    "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",
))  # fmt: skip
_TRAILING = ".,;:!?)]}'\"\\"

# hosts whose appearance says nothing about an attacker
_BENIGN_HOSTS = (
    "schemas.microsoft.com", "schemas.xmlsoap.org", "schemas.openxmlformats.org",
    "www.w3.org", "w3.org", "ns.adobe.com", "purl.org",
    "windowsupdate.com", "windowsupdate.microsoft.com", "update.microsoft.com",
    "download.microsoft.com", "go.microsoft.com", "fwlink.microsoft.com",
    "msftncsi.com", "msftconnecttest.com", "digicert.com", "verisign.com",
    "symantec.com", "globalsign.com", "globalsign.net", "entrust.net", "sectigo.com",
    "comodoca.com", "usertrust.com", "letsencrypt.org", "lencr.org", "pki.goog",
    "localhost", "localhost.localdomain",
    # documentation links in script comments and help text
    "technet.microsoft.com", "msdn.microsoft.com", "docs.microsoft.com",
    "learn.microsoft.com", "support.microsoft.com", "apache.org", "opensource.org",
)  # fmt: skip
_BENIGN_PREFIXES = ("crl.", "crl3.", "crl4.", "ocsp.", "ocsp2.", "cacerts.", "ctldl.")


@dataclass
class Ioc:
    type: str  # url | domain | ipv4 | ipv6 | md5 | sha1 | sha256 | filename
    value: str
    internal: bool = False
    sources: list[str] = field(default_factory=list)
    hosts: list[str] = field(default_factory=list)
    first_seen: str | None = None
    last_seen: str | None = None
    count: int = 0
    evidence: list[dict[str, Any]] = field(default_factory=list)
    defanged: str = ""
    context: str = ""  # a short excerpt of where it was found


def defang(value: str) -> str:
    """``http://a.b/c`` -> ``hxxp://a[.]b/c``; ``1.2.3.4`` -> ``1.2.3[.]4``."""
    out = re.sub(r"(?i)^(h)tt(ps?)://", r"\1xx\2://", value)
    out = re.sub(r"(?i)^ftp://", "fxp://", out)
    if out.count(".") and "[.]" not in out:
        scheme, sep, rest = out.partition("://")
        host_end = (
            len(rest) if not sep else next((i for i, c in enumerate(rest) if c in "/?#"), len(rest))
        )
        if sep:
            host = rest[:host_end]
            out = scheme + sep + _dot(host) + rest[host_end:]
        else:
            out = _dot(out)
    return out


def _dot(host: str) -> str:
    at = host.rfind(".")
    return host if at < 0 else host[:at] + "[.]" + host[at + 1 :]


def benign_host(host: str) -> bool:
    h = host.lower().rstrip(".")
    if h.startswith(_BENIGN_PREFIXES):
        return True
    return any(h == b or h.endswith("." + b) for b in _BENIGN_HOSTS)


def _ip_kind(value: str) -> tuple[str, bool] | None:
    """("ipv4"|"ipv6", internal) for a usable address; None for what isn't an indicator."""
    try:
        addr = ipaddress.ip_address(value)
    except ValueError:
        return None
    if addr.is_loopback or addr.is_unspecified or addr.is_multicast or addr.is_reserved:
        return None
    if addr.version == 4 and str(addr).endswith(".255"):
        return None
    internal = is_internal(str(addr)) or addr.is_private or addr.is_link_local
    return ("ipv4" if addr.version == 4 else "ipv6"), internal


def from_text(text: str) -> list[tuple[str, str]]:
    """(type, value) pairs found in a command line, a script or decoded text."""
    found: list[tuple[str, str]] = []
    hosts: set[str] = set()
    for m in _URL.finditer(text):
        url = m.group(0).rstrip(_TRAILING)
        try:
            host = (urlsplit(url).hostname or "").lower()
        except ValueError:
            continue
        if not host or benign_host(host):
            continue
        found.append(("url", url))
        hosts.add(host)
        path = urlsplit(url).path.rsplit("/", 1)[-1]
        if "." in path and path.rsplit(".", 1)[1].lower() in _EXEC_EXT:
            found.append(("filename", path))
    for m in _UNC.finditer(text):
        host = m.group(1).lower()
        if "." in host and not benign_host(host):
            hosts.add(host)
    for host in hosts:
        kind = _ip_kind(host)
        if kind:
            found.append((kind[0], host))
        elif re.fullmatch(r"[a-z0-9.-]+\.[a-z][a-z0-9-]{1,62}", host):
            found.append(("domain", host))
    for m in _IPV4.finditer(text):
        if all(int(p) <= 255 for p in m.group(1).split(".")) and _ip_kind(m.group(1)):
            found.append(("ipv4", m.group(1)))
    for m in _IPV6.finditer(text):
        v = m.group(1)
        if "::" in text[m.start() - 1 : m.end() + 1] or v.count(":") >= 5:
            if _ip_kind(v):
                found.append(("ipv6", v.lower()))
    for m in _WRITABLE.finditer(text):
        found.append(("filename", m.group(0).rsplit("\\", 1)[-1]))
    return list(dict.fromkeys(found))


def split_hashes(value: str | None) -> list[tuple[str, str]]:
    """Sysmon ``SHA1=..,MD5=..,SHA256=..,IMPHASH=..`` (or one bare hash) by algorithm."""
    if not value:
        return []
    out: list[tuple[str, str]] = []
    for part in re.split(r"[,;\s]+", value.strip()):
        algo, sep, digest = part.partition("=")
        if not sep:
            algo, digest = "", algo
        digest = digest.strip().lower()
        algo = algo.strip().lower().replace("-", "")
        if not _HEX.match(digest or "x") or set(digest) == {"0"} or digest in _EMPTY:
            continue
        if algo in _HASH_ALGOS and len(digest) == _HASH_ALGOS[algo]:
            out.append((algo, digest))
        elif not algo:
            guess = {v: k for k, v in _HASH_ALGOS.items()}.get(len(digest))
            if guess:
                out.append((guess, digest))
        # IMPHASH and other fingerprints are not file hashes
    return out


class _Collector:
    def __init__(self) -> None:
        self.items: dict[tuple[str, str], Ioc] = {}

    def add(
        self, kind: str, value: str, source: str, row: dict[str, Any], n: int = 1,
        context: str = "",
    ) -> None:  # fmt: skip
        key = (kind, value.lower() if kind not in ("url", "filename") else value)
        ioc = self.items.get(key)
        if ioc is None:
            if len(self.items) >= MAX_IOCS:
                return
            internal = False
            if kind in ("ipv4", "ipv6"):
                internal = bool((_ip_kind(value) or ("", False))[1])
            elif kind == "url":
                url_host = urlsplit(value).hostname or ""
                internal = bool((_ip_kind(url_host) or ("", False))[1])
            ioc = Ioc(kind, value, internal=internal, defanged=defang(value), context=context)
            self.items[key] = ioc
        if source not in ioc.sources:
            ioc.sources.append(source)
        host = row.get("host.name")
        if host and host not in ioc.hosts:
            ioc.hosts.append(str(host))
        first = _time(row.get("first") or row.get("@timestamp"))
        last = _time(row.get("last") or row.get("@timestamp"))
        if first and (ioc.first_seen is None or first < ioc.first_seen):
            ioc.first_seen = first
        if last and (ioc.last_seen is None or last > ioc.last_seen):
            ioc.last_seen = last
        ioc.count += n
        if len(ioc.evidence) < MAX_REFS and row.get("evidence_id") is not None:
            ev = asdict(Evidence.of(row, summary(row)))
            if ev["ref"] not in {e["ref"] for e in ioc.evidence}:
                ioc.evidence.append(ev)

    def result(self) -> list[dict[str, Any]]:
        order = {"url": 0, "domain": 1, "ipv4": 2, "ipv6": 2, "sha256": 3, "sha1": 4,
                 "md5": 5, "filename": 6}  # fmt: skip
        items = sorted(
            self.items.values(),
            key=lambda i: (i.internal, order.get(i.type, 9), i.first_seen or "", i.value),
        )
        for i in items:
            i.hosts.sort()
        return [asdict(i) for i in items]


def _time(value: Any) -> str | None:
    if isinstance(value, datetime):
        return iso(value)
    return str(value) if value else None


_ROW_COLS = ("@timestamp", "event.dataset", "event.code", "event.action", "host.name",
             "user.name", "evidence_id", "record")  # fmt: skip


def _groups(
    ctx: Context, rows: Any, keys: dict[str, Any], cols: Iterable[str], limit: int = MAX_TEXTS
) -> list[dict[str, Any]]:
    """One row per distinct key: its first event (time, evidence id, record: the same
    choice on every engine), first/last time and count, earliest groups first."""
    import ibis

    rows = rows.mutate(**keys)
    names = list(keys)
    ts = rows["@timestamp"]
    whole = ibis.window(group_by=names)
    ranked = rows.mutate(
        _rn=ibis.row_number().over(
            ibis.window(group_by=names, order_by=[ts, rows["evidence_id"], rows["record"]])
        ),
        first=ts.min().over(whole),
        last=ts.max().over(whole),
        n=rows["evidence_id"].count().over(whole),
    )
    keep = [c for c in dict.fromkeys(cols) if c in rows.columns and c not in names]
    picked = (
        ranked.filter(ranked["_rn"] == 0)
        .select(*names, *keep, "first", "last", "n")
        .order_by(["first", "evidence_id", "record"])
    )
    return ctx.rows(picked, limit=limit)


def _commands(ctx: Context, col: _Collector) -> None:
    t = ctx.events
    cmd = t["process.command_line"]
    interesting = cmd.notnull() & (
        cmd.re_search(r"(?i)(://|\\\\[a-z0-9]|\d+\.\d+\.\d+\.\d+|\\(temp|tmp|appdata|downloads|public|programdata|perflogs|desktop)\\)")
        | t["extra"].contains('"decoded"')
    )  # fmt: skip
    rows = t.filter(interesting)
    for r in _groups(ctx, rows, {"cmd": cmd}, (*_ROW_COLS, "extra", "process.hash")):
        r["@timestamp"] = r.get("first")
        source = "service" if r.get("event.action") == "service-installed" else "command_line"
        text = str(r["cmd"])
        for kind, value in from_text(text):
            col.add(kind, value, source, r, int(r["n"] or 1), text[:300])
        dec = _decoded(r.get("extra"))
        if dec:
            for kind, value in from_text(dec):
                col.add(kind, value, "decoded", r, int(r["n"] or 1), dec[:300])
        exe_writable = _WRITABLE.search(text)
        if exe_writable:
            for algo, digest in split_hashes(r.get("process.hash")):
                col.add(algo, digest, "process_hash", r, int(r["n"] or 1), text[:300])


def _decoded(extra: Any) -> str | None:
    if not extra:
        return None
    try:
        data = orjson.loads(extra)
    except orjson.JSONDecodeError:
        return None
    dec = data.get("decoded") if isinstance(data, dict) else None
    return dec if isinstance(dec, str) else None


def _script_blocks(ctx: Context, col: _Collector) -> None:
    t = ctx.events
    x = t["extra"]
    single = x.contains('"MessageTotal":1,') | x.contains('"MessageTotal":"1"')
    # parts of a split block all come (a URL may straddle two); single blocks only when
    # they hold something that looks like an indicator
    rows = t.filter(
        (t["event.code"] == "4104")
        & x.contains("ScriptBlockText")
        & (~single | x.re_search(_SCRIPT_HINT))
    )
    ordered = ctx.select(rows, (*_ROW_COLS, "extra")).order_by(
        ["@timestamp", "evidence_id", "record"]
    )
    picked = ctx.rows(ordered, limit=MAX_BLOCKS)
    blocks: dict[str, list[tuple[int, str, dict[str, Any]]]] = {}
    for r in picked:
        try:
            data = orjson.loads(r["extra"] or "{}")
        except orjson.JSONDecodeError:
            continue
        ed = (data.get("winlog") or {}).get("event_data") or {}
        text = ed.get("ScriptBlockText")
        if not isinstance(text, str):
            continue
        bid = str(ed.get("ScriptBlockId") or f"{r['evidence_id']}:{r['record']}")
        try:
            num = int(ed.get("MessageNumber") or 1)
        except (TypeError, ValueError):
            num = 1
        key = f"{r.get('host.name')}|{bid}"
        blocks.setdefault(key, []).append((num, text, {**r, "decoded": data.get("decoded")}))
    for parts in blocks.values():
        parts.sort(key=lambda p: p[0])
        whole = code_of("".join(p[1] for p in dict((p[0], p) for p in parts).values()))
        first = parts[0][2]
        for kind, value in from_text(whole):
            col.add(kind, value, "script_block", first, 1, _around(whole, value))
        for p in parts:
            dec = p[2].get("decoded")
            if isinstance(dec, str):
                for kind, value in from_text(dec):
                    col.add(kind, value, "decoded", p[2], 1, _around(dec, value))


_SCRIPT_HINT = r"(?i)((https?|ftp)://|\\\\\\\\[a-z0-9]|[0-9]{1,3}\.[0-9]{1,3}\.[0-9]{1,3}\.[0-9]{1,3}|\.(exe|dll|ps1|hta|vbs|js)\b|\"decoded\")"
_BLOCK_COMMENT = re.compile(r"<#.*?#>", re.S)
_LINE_COMMENT = re.compile(r"(?m)(^|\s)#[^\n]*")


def code_of(script: str) -> str:
    """A PowerShell script without its comments (help text is full of harmless links)."""
    return _LINE_COMMENT.sub(r"\1", _BLOCK_COMMENT.sub(" ", script))


def _around(text: str, value: str) -> str:
    at = text.find(value)
    return text[max(0, at - 80) : at + len(value) + 80] if at >= 0 else text[:300]


def _antivirus(ctx: Context, col: _Collector) -> None:
    t = ctx.events
    rows = t.filter((t["observer.type"] == "antivirus") & t["file.path"].notnull())
    cols = (*_ROW_COLS, "rule.name")
    keys = {"path": rows["file.path"], "hash": rows["file.hash"]}
    for r in _groups(ctx, rows, keys, cols):
        r["@timestamp"] = r.get("first")
        path = str(r["path"])
        name = path.replace("/", "\\").rsplit("\\", 1)[-1].split("->")[-1]
        threat = str(r.get("rule.name") or "")
        if re.fullmatch(r"[^\\/:*?\"<>|()]+\.[A-Za-z0-9]{1,8}", name):
            col.add("filename", name, "antivirus", r, int(r["n"] or 1), f"{threat} {path}"[:300])
        for algo, digest in split_hashes(r.get("hash")):
            col.add(algo, digest, "antivirus", r, int(r["n"] or 1), f"{threat} {path}"[:300])
        for kind, value in from_text(path):
            if kind != "filename":
                col.add(kind, value, "antivirus", r, int(r["n"] or 1), path[:300])


def _dropped_files(ctx: Context, col: _Collector) -> None:
    """Hashes of programs run or written in user-writable folders (Sysmon 1/6/7/11/15)."""
    t = ctx.events
    exe = t["process.executable"].fill_null("")
    path = t["file.path"].fill_null("")
    writable = (
        r"(?i)\\(temp|tmp|appdata|downloads|public|programdata|perflogs|desktop)\\"
        r"(.*\\)?[^\\]+\.(" + "|".join(_EXEC_EXT) + r")$"
    )
    # PowerShell writes and deletes a policy-test script in Temp at every start
    policy_test = r"(?i)\\__PSScriptPolicyTest_[^\\]*$"
    rows = t.filter(
        (t["process.hash"].notnull() & exe.re_search(writable))
        | (t["file.hash"].notnull() & path.re_search(writable) & ~path.re_search(policy_test))
    )
    keys = {
        "hash": rows["process.hash"].fill_null(rows["file.hash"]),
        "path": rows["file.path"].fill_null(rows["process.executable"]),
    }
    for r in _groups(ctx, rows, keys, _ROW_COLS):
        r["@timestamp"] = r.get("first")
        path_s = str(r.get("path") or "")
        for algo, digest in split_hashes(r.get("hash")):
            col.add(algo, digest, "file_hash", r, int(r["n"] or 1), path_s[:300])


def _ids(ctx: Context, col: _Collector) -> None:
    t = ctx.events
    rows = t.filter((t["observer.type"] == "ids") & t["rule.name"].notnull())
    cols = (*_ROW_COLS, "rule.name")
    keys = {
        "src": rows["source.ip"],
        "dst": rows["destination.ip"],
        "dom": rows["url.domain"],
        "url": rows["url.original"],
    }
    for r in _groups(ctx, rows, keys, cols):
        r["@timestamp"] = r.get("first")
        n = int(r["n"] or 1)
        why = str(r.get("rule.name") or "")[:300]
        for ip in (r.get("src"), r.get("dst")):
            ip_kind = _ip_kind(str(ip)) if ip else None
            if ip_kind and not ip_kind[1]:  # the outside end of an alert
                col.add(ip_kind[0], str(ip), "ids", r, n, why)
        dom = str(r.get("dom") or "").lower()
        if dom and not _ip_kind(dom) and not benign_host(dom):
            col.add("domain", dom, "ids", r, n, why)
        if r.get("url") and "://" in str(r["url"]):
            for kind, value in from_text(str(r["url"])):
                col.add(kind, value, "ids", r, n, why)


def _proxy_sightings(ctx: Context, col: _Collector) -> None:
    """Proxy rows that reached a domain already found: who else went there, and when."""
    domains = sorted(i.value for i in col.items.values() if i.type == "domain")[:500]
    if not domains:
        return
    t = ctx.events
    rows = t.filter((t["observer.type"] == "proxy") & t["url.domain"].lower().isin(domains))
    for r in _groups(ctx, rows, {"dom": rows["url.domain"].lower()}, _ROW_COLS):
        r["@timestamp"] = r.get("first")
        col.add("domain", str(r["dom"]), "proxy", r, int(r["n"] or 1))


def extract(ctx: Context) -> list[dict[str, Any]]:
    """Every indicator of the case, external first, each with its evidence refs."""
    col = _Collector()
    for step in (_commands, _script_blocks, _antivirus, _dropped_files, _ids, _proxy_sightings):
        step(ctx, col)
    return col.result()
