"""The web side of an infection vector: the proxy/IDS referrer chain of a drive-by.

domain.md 4.1: a page the user meant to visit → a redirect (gate) to an unrelated, often
foreign host → a landing page → a Flash/Silverlight/Java exploit → a binary-ish payload, all
within about a minute from the same client, linked by ``Referer``. Only the exploit and
payload candidates (by MIME type or URL suffix) and one short slice of requests around the
chosen anchor come back from the engine; the referrer walk runs in Python on that slice.

"Foreign" comes from an offline IP-to-country table (``iptocc``); documentation addresses
(RFC 5737) have no country, so a domain the case has never seen before the chain and that is
not under ``.jp`` counts as suspicious too.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

import ibis

from ashiato.analysis.context import Context
from ashiato.analysis.indicators import EXPLOIT_MIME, PAYLOAD_MIME, py
from ashiato.engines import EVENT_ORDER

EXPLOIT_URL = r"(?i)\.(swf|xap|jar)(\?|$)"
PAYLOAD_URL = r"(?i)\.(exe|tmp|scr|dll)(\?|$)"
CHAIN = timedelta(seconds=120)  # stages 2-5 of an exploit kit complete within about a minute
REDIRECT_LOOKBACK = timedelta(minutes=10)
MAX_HOPS = 6
WEB_COLUMNS = (
    "@timestamp", "event.dataset", "event.code", "observer.type", "source.ip", "destination.ip",
    "url.original", "url.domain", "http.request.method", "http.request.referrer",
    "http.response.status_code", "http.response.mime_type", "evidence_id", "record",
)  # fmt: skip

_EXPLOIT_MIME = py(EXPLOIT_MIME)
_PAYLOAD_MIME = py(PAYLOAD_MIME)
_EXPLOIT_URL = py(EXPLOIT_URL)
_PAYLOAD_URL = py(PAYLOAD_URL)
_HOST = py(r"^(?:[a-zA-Z][a-zA-Z0-9+.-]*://)?(?:[^@/]*@)?([^/:?#]+)")


@dataclass
class WebChain:
    """What the web logs show for one host around its infection."""

    steps: list[tuple[str, dict[str, Any]]] = field(default_factory=list)  # (role, row)
    exploit: bool = False
    payload: bool = False
    redirect: bool = False
    artifacts: list[str] = field(default_factory=list)
    requests: int = 0  # web requests from the host's addresses in the window


def _m(col: Any, pattern: str) -> Any:
    return ibis.coalesce(col.re_search(pattern), False)


def _domain(url: str | None) -> str | None:
    if not url:
        return None
    hit = _HOST.match(url)
    return hit.group(1).lower() if hit else None


def _is_exploit(r: dict[str, Any]) -> bool:
    mime, url = r.get("http.response.mime_type") or "", r.get("url.original") or ""
    return bool(_EXPLOIT_MIME.search(mime) or _EXPLOIT_URL.search(url))


def _is_payload(r: dict[str, Any]) -> bool:
    mime, url = r.get("http.response.mime_type") or "", r.get("url.original") or ""
    return bool(_PAYLOAD_MIME.search(mime) or _PAYLOAD_URL.search(url))


def country(ip: str | None) -> str | None:
    """ISO country code of a public address, None when unknown (private, RFC 5737, bad)."""
    if not ip:
        return None
    try:
        import iptocc
    except ImportError:  # optional: without it only the "new, not .jp" rule applies
        return None
    try:
        cc = iptocc.country_code(ip)
    except (ValueError, TypeError):
        return None
    return cc if isinstance(cc, str) else None


class _Domains:
    """First sighting in the case and country, per domain, for the few domains of a chain."""

    def __init__(self, ctx: Context, rows: Sequence[dict[str, Any]]) -> None:
        self.first: dict[str, datetime] = {}
        self.cc: dict[str, str | None] = {}
        names = sorted({d for r in rows if (d := r.get("url.domain"))})
        if names:
            t = ctx.events
            q = t.filter(t["url.domain"].isin(names)).group_by("url.domain").aggregate(
                first=t["@timestamp"].min())  # fmt: skip
            self.first = {r["url.domain"]: r["first"] for r in ctx.rows(q)}
        for r in rows:
            d = r.get("url.domain")
            if d and self.cc.get(d) is None:
                self.cc[d] = country(r.get("destination.ip"))

    def new(self, domain: str | None, since: datetime) -> bool:
        first = self.first.get(domain or "")
        return first is not None and first >= since

    def odd(self, domain: str | None, since: datetime) -> bool:
        """Foreign by GeoIP, or never seen before ``since`` and not a .jp name."""
        if not domain:
            return False
        cc = self.cc.get(domain)
        if cc is not None:
            return cc != "JP"
        return self.new(domain, since) and not domain.endswith(".jp")

    def label(self, domain: str | None, since: datetime) -> str:
        bits = []
        cc = self.cc.get(domain or "")
        if cc:
            bits.append(cc)
        if self.new(domain, since):
            bits.append("first seen in the case")
        return ", ".join(bits)


def web_chain(
    ctx: Context, ips: Sequence[str], lo: datetime, hi: datetime, t0: datetime
) -> WebChain:
    out = WebChain()
    if not ips:
        return out
    t = ctx.events
    web = t.filter(
        t["url.original"].notnull()
        & t["source.ip"].isin(list(ips))
        & t["@timestamp"].between(lo, hi)
        & t["rule.name"].isnull()  # IDS/UTM alerts are handled apart
    )
    out.requests = int(ctx.rows(web.aggregate(n=web.count()))[0]["n"])
    if out.requests == 0:
        return out
    cols = [c for c in WEB_COLUMNS if c in web.columns]
    mime, url = web["http.response.mime_type"], web["url.original"]
    cand_q = web.filter(_m(mime, EXPLOIT_MIME) | _m(url, EXPLOIT_URL)
                        | _m(mime, PAYLOAD_MIME) | _m(url, PAYLOAD_URL))  # fmt: skip
    cand = ctx.rows(cand_q.select(cols).order_by(EVENT_ORDER), limit=500)
    anchor = _anchor(ctx, cand, t0)
    if anchor is None:
        near = ctx.rows(
            web.filter(web["@timestamp"].between(t0 - REDIRECT_LOOKBACK, t0 + CHAIN)
                       & web["http.request.referrer"].notnull())
            .select(cols).order_by(EVENT_ORDER), limit=500)  # fmt: skip
        doms = _Domains(ctx, near)
        since = t0 - REDIRECT_LOOKBACK
        odd = [r for r in near if doms.odd(r.get("url.domain"), since)
               and _domain(r.get("http.request.referrer")) != r.get("url.domain")]  # fmt: skip
        if not odd:
            return out
        anchor = odd[-1]
    _build(ctx, web, cols, anchor, out)
    return out


def _anchor(ctx: Context, cand: list[dict[str, Any]], t0: datetime) -> dict[str, Any] | None:
    """The exploit closest before T; failing that a payload from a new or foreign domain."""
    exploits = [r for r in cand if _is_exploit(r)]
    if not exploits:
        doms = _Domains(ctx, cand)
        exploits = [r for r in cand if _is_payload(r)
                    and doms.odd(r.get("url.domain"), r["@timestamp"] - CHAIN)]  # fmt: skip
    if not exploits:
        return None
    before = [r for r in exploits if r["@timestamp"] <= t0 + CHAIN]
    return before[-1] if before else exploits[0]


def _build(ctx: Context, web: Any, cols: list[str], anchor: dict[str, Any],
           out: WebChain) -> None:  # fmt: skip
    at: datetime = anchor["@timestamp"]
    near = ctx.rows(
        web.filter((web["source.ip"] == anchor["source.ip"])
                   & web["@timestamp"].between(at - CHAIN, at + CHAIN))
        .select(cols).order_by(EVENT_ORDER), limit=400)  # fmt: skip
    proxy = [r for r in near if not _ids(r)]
    if proxy:  # the same transaction seen by proxy and IDS: keep the proxy's view,
        # with the IDS's Referer where the proxy doesn't log one (Squid's native format)
        refs = {r["url.original"]: r["http.request.referrer"] for r in near
                if _ids(r) and r.get("http.request.referrer")}  # fmt: skip
        near = [r if r.get("http.request.referrer") or r["url.original"] not in refs
                else dict(r, **{"http.request.referrer": refs[r["url.original"]]})
                for r in proxy]  # fmt: skip
        if id(anchor) not in {id(r) for r in near}:
            anchor = next((r for r in near if r["url.original"] == anchor["url.original"]),
                          anchor)  # fmt: skip
    doms = _Domains(ctx, near)
    since = at - CHAIN
    exploits = [r for r in near if _is_exploit(r)]
    first_exploit = exploits[0]["@timestamp"] if exploits else None
    payloads = [r for r in near if _is_payload(r) and not _is_exploit(r)
                and ((first_exploit is not None and r["@timestamp"] >= first_exploit)
                     or doms.odd(r.get("url.domain"), since))]  # fmt: skip
    start = exploits[0] if exploits else (payloads[0] if payloads else anchor)
    steps: dict[int, tuple[str, dict[str, Any]]] = {}
    for r in _walk_back(start, near):
        odd = doms.odd(r.get("url.domain"), since)
        role = "redirect to a new/foreign host" if odd else "page visited"
        steps[id(r)] = (role, r)
        if odd and _domain(r.get("http.request.referrer")) not in (None, r.get("url.domain")):
            out.redirect = True
    if start is anchor and id(anchor) not in steps and not exploits and not payloads:
        steps[id(anchor)] = ("redirect to a new/foreign host", anchor)
        out.redirect = True
    for r in exploits[:3]:
        steps[id(r)] = ("exploit download", r)
    for r in payloads[:3]:
        steps[id(r)] = ("payload download", r)
    for r in exploits[:3] + payloads[:3]:
        ref = _domain(r.get("http.request.referrer"))
        if doms.odd(r.get("url.domain"), since) and ref not in (None, r.get("url.domain")):
            out.redirect = True
    out.exploit, out.payload = bool(exploits), bool(payloads)
    ordered = sorted(steps.values(), key=lambda s: (s[1]["@timestamp"], s[1].get("record") or 0))
    arts: list[str] = []
    for i, (role, r) in enumerate(ordered):
        d = r.get("url.domain")
        label = doms.label(d, since)
        out.steps.append((f"{role} [{label}]" if label else role, r))
        # the page the chain starts from (often a compromised site), the odd hosts, and
        # the exploit and payload URLs to block
        if d and (i == 0 or role != "page visited" or doms.odd(d, since)):
            arts.append(d)
        if role in ("exploit download", "payload download") and r.get("url.original"):
            arts.append(r["url.original"])
    out.artifacts = list(dict.fromkeys(arts))


def _ids(r: dict[str, Any]) -> bool:
    return r.get("event.dataset") == "suricata.eve" or r.get("observer.type") == "ids"


def _walk_back(start: dict[str, Any], rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Follow ``Referer`` from ``start`` back through earlier requests (at most MAX_HOPS)."""
    chain: list[dict[str, Any]] = []
    current = start
    seen = {id(start)}
    for _ in range(MAX_HOPS):
        ref = current.get("http.request.referrer")
        if not ref or ref == "-":
            break
        when = current["@timestamp"]
        earlier = [r for r in rows if r["@timestamp"] <= when and id(r) not in seen]
        exact = [r for r in earlier if (r.get("url.original") or "").rstrip("/") == ref.rstrip("/")]
        same_host = [r for r in earlier if r.get("url.domain") == _domain(ref)]
        found = exact or same_host
        if not found:
            break
        pick = found[-1]
        chain.append(pick)
        seen.add(id(pick))
        current = pick
    return chain


def summary(role: str, r: dict[str, Any]) -> str:
    """One line per chain step: role, client, method, URL, status/type and referrer."""
    bits = [f"{role}: {r.get('source.ip') or '?'}"]
    method = r.get("http.request.method")
    bits.append(f"{method} {r.get('url.original')}" if method else str(r.get("url.original")))
    extra = [x for x in (r.get("http.response.status_code"), r.get("http.response.mime_type"))
             if x]  # fmt: skip
    if extra:
        bits.append("(" + ", ".join(str(x) for x in extra) + ")")
    ref = r.get("http.request.referrer")
    if ref and ref != "-":
        bits.append(f"referrer {ref[:120]}")
    return " ".join(bits)[:400]
