"""Was data taken? Egress volumes, cloud and transfer services, exfiltration tools, staging.

Per internal host and outside destination: bytes sent (``source.bytes``: firewall sent
bytes, Zeek ``orig_bytes``, proxies that log the request size) — and which network sources
in the case carry no upload size at all (Squid's native log only has the reply size), since
their silence proves nothing. Then uploads to cloud storage and file-transfer services
(MEGA, Dropbox, transfer sites, rclone's back-ends), exfiltration tools on the command line
(rclone by its shape even when renamed: ``copy``/``sync`` to a ``remote:`` with
``--transfers``/``--config``...; WinSCP, FileZilla, restic, curl uploads, MEGAcmd) and
staging (7-Zip/WinRAR archives made before the transfer). One verdict per case:
``likely`` / ``possible`` / ``cannot_be_ruled_out`` / ``no_data``, with what would settle it.
"""

from __future__ import annotations

import re
from datetime import datetime, timedelta
from typing import Any

import ibis

from ashiato.analysis import fetch
from ashiato.analysis.context import Context, summary
from ashiato.analysis.identity import Identity
from ashiato.analysis.indicators import is_internal
from ashiato.exports import iso
from ashiato.findings import Evidence
from ashiato.i18n import said

# where stolen data goes: cloud storage, file-transfer/sharing sites, rclone back-ends
TRANSFER_SERVICE = (
    r"(?i)(^|\.)(mega\.nz|mega\.co\.nz|mega\.io|megaupload\.nz|dropbox\.com|dropboxapi\.com"
    r"|dropboxusercontent\.com|pcloud\.com|box\.com|boxcloud\.com|mediafire\.com"
    r"|wetransfer\.com|we\.tl|sendspace\.com|transfer\.sh|file\.io|gofile\.io|anonfiles\.com"
    r"|temp\.sh|catbox\.moe|ufile\.io|filemail\.com|send\.vis\.ee|privatlab\.(com|net)"
    r"|backblazeb2\.com|wasabisys\.com|storjshare\.io|filebin\.net|bashupload\.com"
    r"|oshi\.at|transfernow\.net|swisstransfer\.com|gigafile\.nu|firestorage\.jp"
    r"|ux\.getuploader\.com|yadi\.sk|disk\.yandex\.[a-z]+)$"
)
# rclone (any name): a copy/sync/move to a "remote:" with rclone's own flags
RCLONE_SHAPE = (
    r"(?i)\b(copy|sync|move|copyto|moveto)\b.*\s\"?[a-z0-9_][a-z0-9_.-]*:[^\\\s]*.*"
    r"--(transfers|config|checkers|multi-thread-streams|ignore-existing|max-age|bwlimit"
    r"|no-check-certificate|auto-confirm|progress|s3-|mega-|drive-)"
)
EXFIL_TOOL = (
    r"(?i)(\\rclone\.exe|\\winscp(\.com|\.exe)\b.*\b(put|synchronize\s+remote)\b"
    r"|\\filezilla\.exe|\\fzsftp\.exe|\\restic(\.exe)?\b.*\bbackup\b|\\pscp\.exe|\\psftp\.exe"
    r"|\\megacmd|\bmega-put\b|\\megasync\.exe"
    r"|\bcurl(\.exe)?\b.*\s(-T|--upload-file|-F\s*\"?[a-z0-9_]+=@|--data-binary\s+@|-d\s+@))"
)
STAGING = (
    r"(?i)(\b7z[a-z]?(\.exe)?\"?\s+a\s|\b(win)?rar(\.exe)?\"?\s+a\s|\\7z[a-z]?\.exe\"?\s+a\s"
    r"|compress-archive\s|\btar(\.exe)?\s+-?c)"
)
ARCHIVE_EXT = ("7z", "rar", "zip", "gz", "tar", "tgz", "zst")
LARGE_UPLOAD = 100 * 1024 * 1024  # one host → one destination, over the case
LARGE_ARCHIVE = 50 * 1024 * 1024
TOTAL_GROUPS = 200_000  # (source, destination, log) sums read for the totals
TOTALS_SHOWN = 30
_RCLONE = re.compile(RCLONE_SHAPE)
_TOOL = re.compile(EXFIL_TOOL)
_SERVICE = re.compile(TRANSFER_SERVICE)


def _m(col: Any, pattern: str) -> Any:
    return ibis.coalesce(col.re_search(pattern), False)


def _dest(t: Any) -> Any:
    return ibis.coalesce(
        t["url.domain"], t["destination.domain"], t["dns.question.name"], t["destination.ip"]
    )


def byte_sources(ctx: Context) -> dict[str, list[str]]:
    """Network datasets that log the bytes a client sent, and those that don't."""
    t = ctx.events
    net = t["observer.type"].isin(["firewall", "proxy", "ids", "vpn"]) | t[
        "event.dataset"
    ].startswith("zeek.")
    q = t.filter(net & (t["destination.ip"].notnull() | t["url.original"].notnull()))
    agg = q.group_by("event.dataset").aggregate(n=q.count(), up=q["source.bytes"].notnull().sum())
    out: dict[str, list[str]] = {"with_upload_size": [], "without_upload_size": []}
    for r in ctx.rows(agg.order_by("event.dataset")):
        key = "with_upload_size" if int(r["up"] or 0) else "without_upload_size"
        out[key].append(r["event.dataset"])
    return out


def egress(ctx: Context, ident: Identity) -> list[dict[str, Any]]:
    """Bytes sent per internal source and outside destination (largest first)."""
    t = ctx.events
    q = t.filter(
        t["source.bytes"].notnull()
        & (t["source.bytes"] > 0)
        & t["source.ip"].notnull()
        & ibis.coalesce(t["observer.type"] != "vpn", True)
    ).mutate(_dest=_dest(t))
    agg = q.group_by(["source.ip", "_dest", "destination.ip"]).aggregate(
        bytes=q["source.bytes"].sum(),
        n=q.count(),
        first=q["@timestamp"].min(),
        last=q["@timestamp"].max(),
        ev=q["evidence_id"].min(),
        rec=q["record"].min(),
        ds=q["event.dataset"].min(),
    )
    out: list[dict[str, Any]] = []
    for r in ctx.rows(agg.order_by([ibis.desc("bytes"), "source.ip", "_dest"]), limit=2000):
        src, dip = r["source.ip"], r["destination.ip"]
        if not is_internal(src) or (dip and is_internal(dip)):
            continue
        dest = str(r["_dest"] or dip or "?")
        if is_internal(dest):
            continue
        res = ident.at(src, r["first"])
        out.append(
            {
                "host": res.host,
                "source_ip": src,
                "user": res.user,
                "destination": dest,
                "destination_ip": dip,
                "bytes": int(r["bytes"]),
                "connections": int(r["n"]),
                "first": iso(r["first"]),
                "last": iso(r["last"]),
                "dataset": r["ds"],
                "service": bool(_SERVICE.search(dest)),
                "ref": f"{r['ev']}:{r['rec']}",
            }
        )
        if len(out) >= 50:
            break
    return out


def site_of(dest: str) -> str:
    """The service a destination belongs to (``gfs270n121.userstorage.mega.co.nz`` ->
    ``mega.co.nz``): one upload spreads over many of a service's hosts."""
    m = _SERVICE.search(dest)
    return m.group(2).lower() if m else dest.lower()


def totals(ctx: Context, ident: Identity, named: int | None = None) -> list[dict[str, Any]]:
    """Bytes sent per internal source and outside service over the case (largest first).

    Summed over every session and host name of the service, but not across log sources: a
    firewall and a proxy that both saw the upload count it once (the larger of the two).
    ``named``: the host is looked up for the first ``named`` and every large upload to a
    service only (the findings list those; a case has thousands, each lookup costly),
    ``None`` for all; the others say ``host_unresolved``."""
    t = ctx.events
    q = t.filter(
        t["source.bytes"].notnull()
        & (t["source.bytes"] > 0)
        & t["source.ip"].notnull()
        & _dest(t).notnull()
        & ibis.coalesce(t["observer.type"] != "vpn", True)
    ).mutate(_dest=_dest(t))
    agg = q.group_by(["source.ip", "_dest", "event.dataset"]).aggregate(
        bytes=q["source.bytes"].sum(),
        n=q.count(),
        first=q["@timestamp"].min(),
        last=q["@timestamp"].max(),
    )
    per: dict[tuple[str, str, str], dict[str, Any]] = {}
    # largest first, in a fixed order: a bare limit kept whichever groups the engine
    # happened to return first (a 4.7M-event case has 24k), so totals changed run to run
    order = [ibis.desc("bytes"), "source.ip", "_dest", "event.dataset"]
    for r in ctx.rows(agg.order_by(order), limit=TOTAL_GROUPS):
        src, dest = r["source.ip"], str(r["_dest"])
        if not is_internal(src) or is_internal(dest):
            continue
        key = (src, site_of(dest), r["event.dataset"] or "")
        cur = per.setdefault(key, {"bytes": 0, "n": 0, "first": r["first"], "last": r["last"]})
        cur["bytes"] += int(r["bytes"])
        cur["n"] += int(r["n"])
        cur["first"], cur["last"] = min(cur["first"], r["first"]), max(cur["last"], r["last"])
    best: dict[tuple[str, str], tuple[str, dict[str, Any]]] = {}
    for (src, site, ds), v in per.items():
        if (src, site) not in best or v["bytes"] > best[(src, site)][1]["bytes"]:
            best[(src, site)] = (ds, v)
    out: list[dict[str, Any]] = []
    for (src, site), (ds, v) in best.items():
        out.append(
            {
                "host": None,
                "source_ip": src,
                "destination": site,
                "bytes": v["bytes"],
                "connections": v["n"],
                "first": iso(v["first"]),
                "last": iso(v["last"]),
                "dataset": ds,
                "service": bool(_SERVICE.search(site)),
            }
        )
    out.sort(key=lambda e: (-e["bytes"], e["source_ip"], e["destination"]))
    first = {(src, site): v["first"] for (src, site), (_, v) in best.items()}
    for i, e in enumerate(out):
        if named is None or i < named or (e["service"] and e["bytes"] >= LARGE_UPLOAD):
            e["host"] = ident.host_at(e["source_ip"], first[(e["source_ip"], e["destination"])])
        else:
            e["host_unresolved"] = True
    return out


def services(ctx: Context, ident: Identity) -> list[dict[str, Any]]:
    """Traffic to cloud storage and transfer services, per source and service."""
    t = ctx.events
    dest = _dest(t)
    q = t.filter(_m(dest, TRANSFER_SERVICE)).mutate(_dest=dest)
    up = ibis.coalesce(q["http.request.method"].isin(["POST", "PUT"]), False)
    agg = q.group_by(["source.ip", "_dest"]).aggregate(
        n=q.count(),
        uploads=up.sum(),
        bytes=q["source.bytes"].sum(),
        first=q["@timestamp"].min(),
        last=q["@timestamp"].max(),
        ev=q["evidence_id"].min(),
        rec=q["record"].min(),
    )
    out = []
    for r in ctx.rows(agg.order_by(["first", "source.ip", "_dest"]), limit=500):
        out.append(
            {
                "host": ident.host_at(r["source.ip"], r["first"]),
                "source_ip": r["source.ip"],
                "service": r["_dest"],
                "requests": int(r["n"]),
                "uploads": int(r["uploads"] or 0),
                "bytes": int(r["bytes"]) if r["bytes"] is not None else None,
                "first": iso(r["first"]),
                "last": iso(r["last"]),
                "ref": f"{r['ev']}:{r['rec']}",
            }
        )
    return out


def tools(ctx: Context) -> tuple[list[dict[str, Any]], list[dict[str, Any]], int]:
    """Exfiltration tools and staging archives on command lines; and how many process rows
    the case has at all (none: this part can't see anything)."""
    t = ctx.events
    cmd = ibis.coalesce(t["process.command_line"], t["process.executable"])
    has = t["process.command_line"].notnull() | t["process.executable"].notnull()
    total = ctx.rows(t.aggregate(n=has.sum()))[0]["n"] or 0
    q = t.filter(has & (_m(cmd, RCLONE_SHAPE) | _m(cmd, EXFIL_TOOL) | _m(cmd, STAGING)))
    found, staged = [], []
    for r in fetch.rows(ctx, q, limit=500):
        line = r.get("process.command_line") or r.get("process.executable") or ""
        if _RCLONE.search(line):
            what = "rclone" + ("" if re.search(r"(?i)rclone", line) else " (renamed)")
        elif _TOOL.search(line):
            what = _tool_name(line)
        else:
            staged.append(_item(r, "archive made", line))
            continue
        found.append(_item(r, what, line))
    staged += _big_archives(ctx)
    return _once(found), _once(staged), int(total)


SAME_PROCESS = timedelta(seconds=5)


def _close(a: Any, b: Any) -> bool:
    return a is not None and b is not None and bool(abs(a - b) <= SAME_PROCESS)


def _once(items: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """One item per process: Sysmon 1 and 4688 both log the same start."""
    out: list[dict[str, Any]] = []
    last: dict[tuple[Any, str], dict[str, Any]] = {}
    for it in items:
        key = (it["host"], it["command_line"])
        kept = last.get(key)
        if kept is not None and _close(it["row"].get("@timestamp"), kept["row"].get("@timestamp")):
            kept["executable"] = kept.get("executable") or it.get("executable")
            continue
        last[key] = it
        out.append(it)
    return out


def _tool_name(line: str) -> str:
    for name in ("winscp", "filezilla", "restic", "pscp", "psftp", "mega", "curl", "rclone"):
        if name in line.lower():
            return name
    return "transfer tool"


def _item(r: dict[str, Any], what: str, line: str) -> dict[str, Any]:
    return {
        "host": r.get("host.name"),
        "user": r.get("user.name"),
        "time": iso(r["@timestamp"]),
        "what": what,
        "command_line": line[:500],
        "executable": r.get("process.executable"),
        "ref": f"{r.get('evidence_id')}:{r.get('record')}",
        "row": r,
    }


def _big_archives(ctx: Context) -> list[dict[str, Any]]:
    t = ctx.events
    q = t.filter(t["file.extension"].isin(list(ARCHIVE_EXT)) & (t["file.size"] >= LARGE_ARCHIVE))
    out = []
    for r in fetch.rows(ctx, q, limit=50):
        size = int(r.get("file.size") or 0)
        out.append(
            {
                **_item(r, f"large archive ({size / 2**20:.0f} MiB)", r.get("file.path") or ""),
                "size": size,
            }
        )
    return out


def analyse(ctx: Context, ident: Identity) -> dict[str, Any]:
    src = byte_sources(ctx)
    eg = egress(ctx, ident)
    found, staged, procs = tools(ctx)
    # a tool's host is matched against every total's address (_by_tool): then all of them
    # need their host; else only those the findings show
    tot = totals(ctx, ident, None if found else TOTALS_SHOWN)
    svc = services(ctx, ident)
    _by_tool(eg + tot + svc, found)
    large = [e for e in eg if e["bytes"] >= LARGE_UPLOAD]
    svc_up = [s for s in svc if s["uploads"] or (s["bytes"] or 0) >= LARGE_UPLOAD // 10]
    reasons: list[str] = []
    for e in [e for e in tot if e["service"] and e["bytes"] >= LARGE_UPLOAD][:3]:
        reasons.append(said(
            f"{e['host'] or e['source_ip']} sent {_size(e['bytes'])} in all to "
            f"{e['destination']} over {e['connections']} session(s) ({e['first']} – {e['last']})",
            "exfil.reason.total", host=e["host"] or e["source_ip"], size=_size(e["bytes"]),
            destination=e["destination"], n=e["connections"], first=e["first"],
            last=e["last"]))  # fmt: skip
    for e in large[:5]:
        reasons.append(said(
            f"{e['host'] or e['source_ip']} sent {_size(e['bytes'])} to "
            f"{e['destination']} ({e['first']} – {e['last']})",
            "exfil.reason.large", host=e["host"] or e["source_ip"], size=_size(e["bytes"]),
            destination=e["destination"], first=e["first"], last=e["last"]))  # fmt: skip
    for s in svc[:5]:
        reasons.append(said(
            f"{s['host'] or s['source_ip']} used {s['service']}: {s['requests']} "
            f"request(s), {s['uploads']} upload(s)"
            + (f", {_size(s['bytes'])} sent" if s["bytes"] else ""),
            "exfil.reason.service" + (".sent" if s["bytes"] else ""),
            host=s["host"] or s["source_ip"], service=s["service"], requests=s["requests"],
            uploads=s["uploads"], size=_size(s["bytes"])))  # fmt: skip
    for f in found[:5]:
        reasons.append(said(
            f"{f['what']} on {f['host'] or '?'} at {f['time']}: {f['command_line'][:160]}",
            "exfil.reason.tool", what=f["what"], host=f["host"] or "?", time=f["time"],
            command=f["command_line"][:160]))  # fmt: skip
    for f in staged[:3]:
        reasons.append(said(
            f"staging on {f['host'] or '?'} at {f['time']}: {f['command_line'][:160]}",
            "exfil.reason.staging", host=f["host"] or "?", time=f["time"],
            command=f["command_line"][:160]))  # fmt: skip
    net_any = bool(src["with_upload_size"] or src["without_upload_size"])
    big_svc = any(e["service"] for e in large) or any(
        (s["bytes"] or 0) >= LARGE_UPLOAD for s in svc_up
    )
    if (found and (large or svc)) or big_svc or (svc_up and (found or staged)):
        verdict = "likely"
    elif found or large or svc or staged:
        verdict = "possible"
    elif not net_any and not procs:
        verdict = "no_data"
    else:
        verdict = "cannot_be_ruled_out"
    return {
        "verdict": verdict,
        "reasons": reasons,
        "settle": _settle(verdict, src, procs, found, large, svc),
        "egress": eg[:30],
        "totals": tot[:TOTALS_SHOWN],
        "services": svc[:50],
        "tools": [{k: v for k, v in f.items() if k != "row"} for f in found[:30]],
        "staging": [{k: v for k, v in f.items() if k != "row"} for f in staged[:30]],
        "byte_sources": src,
        "evidence": [vars(e) for e in _evidence(found + staged)],
    }


TOOL_LEAD = timedelta(minutes=10)  # a transfer tool's first connection follows its start
TOOL_RUN = timedelta(hours=12)
SLACK = timedelta(minutes=1)  # clocks of the host and the firewall differ a little


def _by_tool(items: list[dict[str, Any]], found: list[dict[str, Any]]) -> None:
    """Traffic from an address no log ties to a host, starting within minutes after a
    transfer tool started on exactly one host, came from that host (a server's static
    address with only its process log collected). ``host_basis`` says so."""
    runs = [
        (f["row"]["@timestamp"], f) for f in found if f.get("host") and f["row"].get("@timestamp")
    ]
    if not runs:
        return
    times: dict[str, list[datetime]] = {}
    for it in items:
        ip, first = it.get("source_ip"), _when(it.get("first"))
        if it.get("host") is None and ip and is_internal(ip) and first is not None:
            times.setdefault(ip, []).append(first)
    named: dict[str, set[tuple[str, datetime, str]]] = {}
    for ip, firsts in times.items():
        for t, f in runs:
            after = [x for x in firsts if x >= t - SLACK]
            if after and min(after) - t <= TOOL_LEAD:
                named.setdefault(ip, set()).add((str(f["host"]), t, str(f["what"])))
    for it in items:
        got = named.get(it.get("source_ip") or "")
        first = _when(it.get("first"))
        if it.get("host") is not None or not got or first is None:
            continue
        if len({h for h, _, _ in got}) != 1:
            continue  # tools on two hosts at once: the address names neither
        for host, t, what in sorted(got, key=lambda x: x[1], reverse=True):
            if t - SLACK <= first <= t + TOOL_RUN:
                it["host"] = host
                it["host_basis"] = (
                    f"{what} started on {host} at {iso(t)}, "
                    f"{max(0, int((first - t).total_seconds()))} s before; "
                    f"no log ties {it['source_ip']} to a host"
                )
                break


def _when(text: Any) -> datetime | None:
    if isinstance(text, datetime):
        return text
    if not text:
        return None
    try:
        return datetime.fromisoformat(str(text).replace("Z", "+00:00"))
    except ValueError:
        return None


def _evidence(items: list[dict[str, Any]]) -> list[Evidence]:
    return [Evidence.of(f["row"], f"{f['what']}: {summary(f['row'])}") for f in items[:10]]


def _size(n: int | None) -> str:
    if not n:
        return "0 B"
    for unit in ("B", "KiB", "MiB", "GiB"):
        if n < 1024 or unit == "GiB":
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n = n / 1024  # type: ignore[assignment]
    return f"{n} B"


def _settle(
    verdict: str,
    src: dict[str, list[str]],
    procs: int,
    found: list[dict[str, Any]],
    large: list[dict[str, Any]],
    svc: list[dict[str, Any]],
) -> list[str]:
    out: list[str] = []
    if not src["with_upload_size"]:
        out.append(said(
            "firewall or proxy logs with bytes sent per connection (FortiGate sentbyte, "
            "Palo Alto bytes_sent, Zeek conn orig_bytes) for the incident window: "
            "none of the network logs in the case has an upload size",
            "exfil.settle.bytes"))  # fmt: skip
    if src["without_upload_size"]:
        out.append(said(
            f"{', '.join(src['without_upload_size'])}: no upload size in these logs "
            "(Squid's native format logs only the reply size); enable a log format "
            "with request bytes (Squid %>st) or use the firewall's session log",
            "exfil.settle.no_upload_size", sources=src["without_upload_size"]))  # fmt: skip
    if not procs:
        out.append(said(
            "process creation logs (4688 with command line, Sysmon 1) of the "
            "compromised hosts: rclone/WinSCP/archivers show there", "exfil.settle.process"))
    if found or large or svc:
        out.append(said(
            "the destination account's audit (cloud-storage or transfer-service "
            "account and the rclone.conf / WinSCP.ini left on the host) and the "
            "staged archives' contents: they say what was taken", "exfil.settle.destination",
            files="rclone.conf / WinSCP.ini"))
    if verdict in ("likely", "possible"):
        out.append(said(
            "check the file lists of the staged or uploaded folders for personal "
            "data: it decides the notification duty (個人情報保護委員会への報告)",
            "exfil.settle.personal", duty="個人情報保護委員会への報告"))  # fmt: skip
    return out
