"""The numbers behind the report's charts, computed once from the case and findings.json.

Plain, JSON-ready data (times as ISO 8601 UTC strings): the HTML report draws it as
SVG, the Markdown report prints it as tables and the JSON report carries it as is.

- ``encrypted``: encrypted files per time bin and share (CASE/encrypted_files.csv, or
  the impact analysis re-run when the list is missing)
- ``smb``: bytes (or connections) each client sent to port 445 per bin, around the
  encryption window
- ``chains``: each vector's ordered evidence with the gap to the previous step
- ``coverage``: events per hour per source (findings.coverage.hours)
- ``leases``: who held which address when (DHCP), for the hosts that matter
"""

from __future__ import annotations

import csv
import math
from collections import defaultdict
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from ashiato.case import Case
from ashiato.exports import iso

MAX_BINS = 120
BIN_STEPS = (1, 2, 5, 10, 15, 30, 60, 120, 180, 360, 720, 1440)  # minutes
SMB_PORT = 445
SMB_CLIENTS = 6
LEASE_HOSTS = 16


def parse_iso(text: Any) -> datetime | None:
    """An ISO 8601 string (Z or offset) as an aware UTC datetime; None when unreadable."""
    if isinstance(text, datetime):
        return text if text.tzinfo else text.replace(tzinfo=UTC)
    if not isinstance(text, str) or not text:
        return None
    try:
        value = datetime.fromisoformat(text.strip().replace("Z", "+00:00"))
    except ValueError:
        return None
    return value.astimezone(UTC) if value.tzinfo else value.replace(tzinfo=UTC)


def bin_minutes(span: timedelta, max_bins: int = MAX_BINS) -> int:
    """The smallest round bin width that keeps ``span`` within ``max_bins`` bins."""
    minutes = max(span.total_seconds() / 60, 1)
    for step in BIN_STEPS:
        if minutes / step <= max_bins:
            return step
    return BIN_STEPS[-1] * math.ceil(minutes / BIN_STEPS[-1] / max_bins)


def floor_time(ts: datetime, minutes: int) -> datetime:
    seconds = minutes * 60
    epoch = int(ts.timestamp())
    return datetime.fromtimestamp(epoch - epoch % seconds, UTC)


def window_of(findings: dict[str, Any]) -> tuple[datetime, datetime] | None:
    win = (findings.get("impact") or {}).get("window") or {}
    start, end = parse_iso(win.get("start")), parse_iso(win.get("end"))
    if start is None or end is None:
        return None
    return start, end


def build(case: Case | None, findings: dict[str, Any]) -> dict[str, Any]:
    """Every chart's data. Without a case (findings only) the queried series are empty."""
    window = window_of(findings)
    out: dict[str, Any] = {
        "window": {"start": iso(window[0]), "end": iso(window[1])} if window else None,
        "chains": chains(findings),
        "coverage": coverage(findings),
    }
    if case is None:
        out.update(encrypted=_empty_bins(), smb=_empty_bins() | {"clients": []}, leases=[])
        return out
    ident = _identity(case)
    out["encrypted"] = encrypted(case, findings)
    out["smb"] = smb(case, findings, ident)
    out["leases"] = leases(findings, ident)
    return out


def _empty_bins() -> dict[str, Any]:
    return {"start": None, "bin_minutes": 1, "bins": 0, "series": {}}


# -- encrypted files ---------------------------------------------------------------------


def encrypted(case: Case, findings: dict[str, Any]) -> dict[str, Any]:
    """Encrypted files per bin per share, from the restore list (or the events)."""
    rows = _restore_list(case, findings)
    if rows is None:
        rows = _encrypted_from_events(case)
    points = [(t, share) for t, share in rows if t is not None]
    if not points:
        return _empty_bins() | {"total": 0, "source": "none"}
    first = min(t for t, _ in points)
    last = max(t for t, _ in points)
    step = bin_minutes(last - first)
    start = floor_time(first, step)
    n = int((last - start).total_seconds() // (step * 60)) + 1
    series: dict[str, list[int]] = {}
    for t, share in points:
        idx = int((t - start).total_seconds() // (step * 60))
        series.setdefault(share, [0] * n)[idx] += 1
    ordered = dict(sorted(series.items(), key=lambda kv: -sum(kv[1])))
    return {
        "start": iso(start),
        "bin_minutes": step,
        "bins": n,
        "series": ordered,
        "total": len(points),
        "source": "restore list" if rows is not None else "events",
    }


def _restore_list(case: Case, findings: dict[str, Any]) -> list[tuple[datetime | None, str]] | None:
    name = (findings.get("impact") or {}).get("encrypted_files_csv") or ""
    path = case.root / Path(str(name)).name  # a plain file name inside the case, never a path
    if not name or not path.is_file():
        return None
    out: list[tuple[datetime | None, str]] = []
    with path.open("r", encoding="utf-8-sig", newline="") as fh:
        for row in csv.DictReader(fh):
            out.append((parse_iso(row.get("last_write_utc")), row.get("share") or "?"))
    return out


def _encrypted_from_events(case: Case) -> list[tuple[datetime | None, str]]:
    from ashiato.analysis import impact
    from ashiato.analysis.context import Context

    con = case.ibis()
    try:
        imp = impact.analyse(Context(events=con.table("events"), tz=case.tz))
    finally:
        con.disconnect()
    out: list[tuple[datetime | None, str]] = []
    for r in imp.encrypted:
        ts = r.get("@timestamp") or r.get("file.mtime")
        out.append((parse_iso(ts), str(r.get("file.share") or r.get("host.name") or "?")))
    return out


# -- SMB volume --------------------------------------------------------------------------


def smb(case: Case, findings: dict[str, Any], ident: Any) -> dict[str, Any]:
    """What each client sent to port 445 per bin, from an hour before the window to after.

    Two sensors often see the same flow (IDS and firewall); per client and bin the larger
    of the sources is kept rather than their sum.
    """
    window = window_of(findings)
    con = case.ibis()
    try:
        t = con.table("events")
        smb_rows = t.filter((t["destination.port"] == SMB_PORT) & t["source.ip"].notnull())
        if window is not None:
            span = window[1] - window[0]
            pad = max(timedelta(hours=1), span / 2)
            lo, hi = window[0] - pad, window[1] + min(pad, timedelta(hours=1))
        else:
            bounds = (
                smb_rows.aggregate(lo=smb_rows["@timestamp"].min(), hi=smb_rows["@timestamp"].max())
                .to_pyarrow()
                .to_pylist()
            )
            if not bounds or bounds[0]["lo"] is None:
                return _empty_bins() | {"clients": [], "measure": "bytes"}
            lo, hi = bounds[0]["lo"], bounds[0]["hi"]
        step = bin_minutes(hi - lo)
        start = floor_time(lo, step)
        q = smb_rows.filter(smb_rows["@timestamp"].between(start, hi))
        q = q.mutate(
            _bin=(q["@timestamp"].epoch_seconds() - int(start.timestamp())) // (step * 60),
            _b=q["source.bytes"].fill_null(0) + q["destination.bytes"].fill_null(0),
        )
        agg = q.group_by(["source.ip", "event.dataset", "_bin"]).aggregate(
            b=q["_b"].sum(), n=q.count()
        )
        rows = agg.to_pyarrow().to_pylist()
    finally:
        con.disconnect()
    n = int((hi - start).total_seconds() // (step * 60)) + 1
    measure = "bytes" if any((r["b"] or 0) > 0 for r in rows) else "connections"
    key = "b" if measure == "bytes" else "n"
    best: dict[tuple[str, int], float] = defaultdict(float)
    for r in rows:
        idx = int(r["_bin"])
        if 0 <= idx < n:
            cell = (r["source.ip"], idx)
            best[cell] = max(best[cell], float(r[key] or 0))
    per_ip: dict[str, list[float]] = {}
    for (ip, idx), value in best.items():
        per_ip.setdefault(ip, [0.0] * n)[idx] = value
    top = sorted(per_ip.items(), key=lambda kv: -sum(kv[1]))
    clients = []
    for ip, values in top[:SMB_CLIENTS]:
        host = ident.at(ip, window[0] if window else lo).host if ident is not None else None
        clients.append({"ip": ip, "host": host, "values": values, "total": sum(values)})
    if len(top) > SMB_CLIENTS:
        rest = [sum(v[i] for _, v in top[SMB_CLIENTS:]) for i in range(n)]
        clients.append(
            {
                "ip": None,
                "host": None,
                "others": len(top) - SMB_CLIENTS,
                "values": rest,
                "total": sum(rest),
            }
        )
    return {
        "start": iso(start),
        "bin_minutes": step,
        "bins": n,
        "measure": measure,
        "clients": clients,
        "series": {},
    }


# -- the vector chain, coverage ----------------------------------------------------------


def chains(findings: dict[str, Any]) -> list[dict[str, Any]]:
    out = []
    for v in findings.get("vectors") or []:
        steps = []
        prev: datetime | None = None
        for e in v.get("chain") or []:
            ts = parse_iso(e.get("time"))
            summary = str(e.get("summary") or "")
            stage, _, rest = summary.partition(": ")
            if not rest or len(stage) > 60:
                stage, rest = "", summary
            said = e.get("summary_msg") if isinstance(e.get("summary_msg"), dict) else {}
            # the step's role by id (docs/i18n.md): the report says it in the reader's language
            step = said.get("msg") == "vector.step"
            stage_msg = (said.get("args") or {}).get("role") if step else None
            what = str((said.get("args") or {}).get("what") or "") if step else ""
            if what and summary.endswith(": " + what):  # a long role, split where it ends
                stage, rest = summary[: -len(what) - 2], what
            gap = (ts - prev).total_seconds() if ts is not None and prev is not None else None
            steps.append(
                {
                    "time": e.get("time"),
                    "gap_seconds": gap,
                    "dataset": e.get("dataset"),
                    "stage": stage,
                    "stage_msg": stage_msg,
                    "summary": rest,
                    "ref": e.get("ref"),
                }
            )
            prev = ts or prev
        out.append({"host": v.get("host"), "type": v.get("type"), "steps": steps})
    return out


def coverage(findings: dict[str, Any]) -> dict[str, Any]:
    cov = findings.get("coverage") or {}
    hours = cov.get("hours") or {}
    return {
        "hours_start": cov.get("hours_start"),
        "datasets": {str(k): [int(x or 0) for x in v] for k, v in hours.items()},
    }


# -- DHCP leases -------------------------------------------------------------------------


def _identity(case: Case) -> Any:
    from ashiato.analysis import identity
    from ashiato.analysis.context import Context

    con = case.ibis()
    try:
        return identity.build(Context(events=con.table("events"), tz=case.tz))
    finally:
        con.disconnect()


def leases(findings: dict[str, Any], ident: Any) -> list[dict[str, Any]]:
    """Leases of the hosts that matter: infected and suspicious hosts, patient zero, and
    the hosts that held one of their addresses; topped up with the busiest movers."""
    history = ident.history() if ident is not None else []
    if not history:
        return []
    focus: list[str] = []
    pz = (findings.get("patient_zero") or {}).get("host")
    if pz:
        focus.append(pz)
    for h in findings.get("hosts") or []:
        if h.get("verdict") in ("infected", "suspicious") and h["host"] not in focus:
            focus.append(h["host"])
    ips_of: dict[str, set[str]] = defaultdict(set)
    hosts_of: dict[str, set[str]] = defaultdict(set)
    for r in history:
        ips_of[r["host"]].add(r["ip"])
        hosts_of[r["ip"]].add(r["host"])
    chosen = [h for h in focus if h in ips_of]
    for h in list(chosen):
        for ip in sorted(ips_of[h]):
            for other in sorted(hosts_of[ip]):
                if other not in chosen:
                    chosen.append(other)
    movers = sorted(ips_of, key=lambda h: (-len(ips_of[h]), h))
    for h in movers:
        if len(chosen) >= LEASE_HOSTS:
            break
        if h not in chosen:
            chosen.append(h)
    chosen = chosen[:LEASE_HOSTS]
    keep = set(chosen)
    return [
        {
            "host": r["host"],
            "ip": r["ip"],
            "start": iso(r["start"]),
            "end": iso(r["end"]),
            "ref": r["ref"],
            "focus": r["host"] in focus,
            "order": chosen.index(r["host"]),
        }
        for r in history
        if r["host"] in keep
    ]
