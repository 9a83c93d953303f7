"""What the case can and can't answer: sources, gaps, tampering, clock skew, next steps.

``coverage`` returns the per-source inventory and hourly volumes across the incident
window (for the report's coverage chart), the sources whose absence limits the answers
(each with why it matters and what to collect or enable), the tampering findings
(:mod:`tampering`), clock offsets between sources (:mod:`clock_skew`) and an ordered list
of next steps for the responders.
"""

from __future__ import annotations

from collections import defaultdict
from datetime import datetime, timedelta
from typing import Any

import ibis

from ashiato.analysis import clock_skew, tampering
from ashiato.analysis.context import Context
from ashiato.analysis.identity import Identity
from ashiato.analysis.indicators import MALICIOUS_SIGNATURE, TOR_GATEWAY
from ashiato.analysis.missing import Profile, missing
from ashiato.engines import epoch_seconds
from ashiato.exports import iso
from ashiato.findings import ClockSkew, Missing, Tampering
from ashiato.i18n import msg_of, said

HOUR = timedelta(hours=1)
MAX_HOURS = 24 * 14  # the chart is for the incident, not the whole retention
PAD_BEFORE = timedelta(hours=24)
PAD_AFTER = timedelta(hours=12)
Result = tuple[dict[str, Any], list[Missing], list[Tampering], list[ClockSkew], list[str]]


def _seconds(ts: Any) -> Any:
    """Epoch seconds with the fraction, in whichever engine runs (engines.epoch_seconds)."""
    return epoch_seconds(ts)


def coverage(ctx: Context, ident: Identity, window: tuple[datetime, datetime] | None,
             infected_hosts: list[str],
             skews: list[ClockSkew] | None = None) -> Result:  # fmt: skip
    prof = Profile.load(ctx)
    sources = _sources(prof)
    cov: dict[str, Any] = {"sources": sources}
    cov.update(_hours(ctx, window, sources))
    gaps = missing(prof, window, infected_hosts)
    tamper, filtered = tampering.find_all(ctx, ident, window)
    gaps += _filtered_exports(ctx, filtered)
    if skews is None:
        skews = clock_skew.estimate(ctx)
    steps = next_steps(ctx, ident, infected_hosts, gaps, tamper, skews)
    return cov, gaps, tamper, skews, steps


def _filtered_exports(ctx: Context, filtered: list[tampering.FilteredExport]) -> list[Missing]:
    """Each filtered export once: its record IDs can't tell deletions, the full log can."""
    paths: dict[str, str] = {}
    if filtered:
        try:
            ev = ctx.events.get_backend().table("evidence")
            paths = {r["evidence_id"]: r["path"] for r in ctx.rows(
                ev.select("evidence_id", "path"))}  # fmt: skip
        except Exception:  # a bare events table has no evidence table
            paths = {}
    return [
        Missing(what=said(f"The full log behind {paths.get(f.evidence_id, f.evidence_id)}",
                          "missing.filtered.what",
                          path=paths.get(f.evidence_id, f.evidence_id)),
                why_it_matters=said(f"{f.note()}. Deleted records can't be told from filtered "
                                    "ones, and events the filter dropped are not in the case.",
                                    "missing.filtered.why", channels=f.channels, host=f.host or "?",
                                    records=f.records, id_range=f.id_range),
                advice=said("Export the whole channel from the host (wevtutil epl Security "
                            "Security.evtx) or from the SIEM without a filter.",
                            "missing.filtered.advice", command="wevtutil epl Security "
                            "Security.evtx"))
        for f in filtered
    ]  # fmt: skip


def _sources(prof: Profile) -> list[dict[str, Any]]:
    """Per dataset: events, first and last, hosts and evidence files (from the profile's
    one pass over the events)."""
    return [{**d, "first": iso(d["first"]) or None, "last": iso(d["last"]) or None}
            for d in prof.datasets]  # fmt: skip


def _hours(ctx: Context, window: tuple[datetime, datetime] | None,
           sources: list[dict[str, Any]]) -> dict[str, Any]:  # fmt: skip
    """Events per dataset per hour around the incident window (or the last 14 days of data).

    The window is padded (a day before, half a day after) so the chart shows each source's
    normal rhythm next to the incident, and clipped to the data.
    """
    lasts = [s["last"] for s in sources if s["last"]]
    firsts = [s["first"] for s in sources if s["first"]]
    if not lasts:
        return {"hours": {}, "hours_start": None, "window": None}
    first = datetime.fromisoformat(min(firsts).replace("Z", "+00:00"))
    last = datetime.fromisoformat(max(lasts).replace("Z", "+00:00"))
    if window is None:
        start, end = max(first, last - MAX_HOURS * HOUR), last
    else:
        start = min(max(first, window[0] - PAD_BEFORE), window[0])
        end = min(last, window[1] + PAD_AFTER) if last > window[0] else window[1]
    start = start.replace(minute=0, second=0, microsecond=0)
    n = max(1, min(MAX_HOURS, int((end - start) / HOUR) + 1))
    stop = start + n * HOUR
    t = ctx.events
    q = t.filter((t["@timestamp"] >= start) & (t["@timestamp"] < stop))
    q = q.mutate(_h=((_seconds(q["@timestamp"]) - start.timestamp()) / 3600).floor())
    agg = q.group_by(["event.dataset", "_h"]).aggregate(n=q.count())
    hours: dict[str, list[int]] = defaultdict(lambda: [0] * n)
    for r in ctx.rows(agg):
        hours[r["event.dataset"]][int(r["_h"])] = int(r["n"])
    for s in sources:  # every dataset gets a row, zeros included
        hours.setdefault(s["dataset"], [0] * n)
    marked = [iso(window[0]), iso(window[1])] if window else None
    return {"hours": dict(sorted(hours.items())), "hours_start": iso(start), "window": marked}


def next_steps(ctx: Context, ident: Identity, infected: list[str], gaps: list[Missing],
               tamper: list[Tampering], skews: list[ClockSkew]) -> list[str]:  # fmt: skip
    steps: list[str] = []
    if infected:
        steps.append(said(
            f"Isolate the infected hosts from the network now ({', '.join(infected)}): unplug "
            "or shut the switch port, keep them powered on so memory survives.",
            "steps.isolate", hosts=infected))
        steps.append(said(
            "Preserve evidence before it is overwritten: memory and disk images of the infected "
            "hosts; export the Security, System and Sysmon logs of those hosts and of the file "
            "server (wevtutil epl Security Security.evtx); keep proxy, firewall, mail and DHCP "
            "logs beyond their normal retention.",
            "steps.preserve", command="wevtutil epl Security Security.evtx"))  # fmt: skip
    clears = [t for t in tamper if t.kind in ("log_cleared", "log_clear_command")]
    if clears:
        who = sorted({e.summary.rsplit(" by ", 1)[-1] for t in clears for e in t.evidence
                      if " by " in e.summary})  # fmt: skip
        hosts = sorted({t.host for t in clears if t.host})
        steps.append(said(f"Logs were cleared on {', '.join(hosts) or 'some hosts'}"
                     + (f" by {', '.join(who)}" if who else "")
                     + ": treat those accounts as compromised, look for the attacker's logons "
                     "around the clear and recover older events from SIEM/forwarded copies or "
                     "Volume Shadow Copies.",
                     "steps.cleared" + (".hosts" if hosts else "") + (".by" if who else ""),
                     hosts=hosts, who=who))  # fmt: skip
    for g in gaps[:6]:
        steps.append(said(f"Collect: {g.what}. {g.advice}", "steps.collect",
                          what=msg_of(g.what) or g.what, advice=msg_of(g.advice) or g.advice))
    iocs = _iocs(ctx, ident, infected)
    if iocs:
        steps.append(said(f"Block at the proxy and firewall, and search every other client's "
                          f"logs for: {', '.join(iocs)}.", "steps.block", names=iocs))
    users = sorted({u for h in infected for u in ident.users_of(h)})
    if users:
        steps.append(said(f"Reset the passwords of the accounts used on the infected hosts "
                     f"({', '.join(users)}) and end their sessions; check where else they "
                     "logged on.", "steps.reset", users=users))  # fmt: skip
    for s in skews[:5]:
        if s.zone_error_hours:  # a misread zone: fixed by reading the file right, not NTP
            steps.append(said(f"{s.source} reads {s.zone_error_hours:+g} h off: it was "
                         "ingested in the wrong time zone. Ingest it again with --tz-for "
                         "'FILE=ZONE' (ashiato did not shift it).", "steps.zone_error",
                         source=s.source, hours=f"{s.zone_error_hours:+g}",
                         option="--tz-for 'FILE=ZONE'"))  # fmt: skip
            if abs(s.skew_seconds) <= clock_skew.REPORT_MIN:
                continue
        done = "ashiato corrected for it in this analysis; " if s.applied else ""
        steps.append(said(f"The clock of {s.source} is {s.skew_seconds:+.0f} s off: {done}"
                     "set it right (NTP), and allow for it when reading that log by "
                     "hand.", "steps.skew.corrected" if done else "steps.skew",
                     source=s.source, seconds=f"{s.skew_seconds:+.0f}"))  # fmt: skip
    if infected:
        steps.append(said("Before restoring files, make sure no infected host can reach the "
                     "file shares; restore from backups or shadow copies taken before the first "
                     "malicious activity.", "steps.restore"))  # fmt: skip
    return steps


def _iocs(ctx: Context, ident: Identity, infected: list[str]) -> list[str]:
    """Payment/C2 names the infected hosts contacted (Tor gateways, IDS C2 alerts)."""
    ips = sorted({ip for h in infected for ip in ident.ips_of(h)})
    if not ips:
        return []
    t = ctx.events
    name = ibis.coalesce(t["url.domain"], t["destination.domain"], t["dns.question.name"])
    mine = t["source.ip"].isin(ips) | t["destination.ip"].isin(ips)
    tor = ibis.coalesce(name.re_search(TOR_GATEWAY), False)
    c2 = t["rule.name"].notnull() & ibis.coalesce(t["rule.name"].re_search(MALICIOUS_SIGNATURE),
                                                  False)  # fmt: skip
    q = t.filter(mine & (tor | c2)).mutate(_name=name)
    q = q.filter(q["_name"].notnull() & (q["_name"] != ""))
    q = q.group_by("_name").aggregate(n=q.count())
    return [r["_name"] for r in ctx.rows(q.order_by([ibis.desc("n"), "_name"]), limit=10)]
