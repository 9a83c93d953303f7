"""Signs that logs were cleared, cut or switched off (domain.md 2.5).

- ``log_cleared``: Security 1102 / System 104, with who did it and which channel.
- ``records_deleted``: EventRecordIDs missing inside one channel of one host in one EVTX
  file whose sequence is otherwise contiguous (a selective delete or corruption); a file
  sparse throughout is a filtered export, returned apart (:class:`FilteredExport`) for
  coverage to name once.
- ``logging_stopped``: a host's log (host + channel) stops inside its normal rhythm while the
  host's own address keeps talking on the network, or right after a clear.
- ``audit_policy_changed`` (4719), ``eventlog_service_shutdown`` (1100),
  ``sysmon_config_changed`` (Sysmon 16), ``sysmon_stopped`` (Sysmon 4 / 7036),
  ``log_clear_command`` (wevtutil cl, Clear-EventLog), ``clock_changed`` (4616 by a person).
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import ibis

from ashiato.analysis import fetch
from ashiato.analysis.context import Context, summary
from ashiato.analysis.identity import Identity
from ashiato.analysis.indicators import LOG_TAMPER
from ashiato.engines import json_field
from ashiato.exports import iso
from ashiato.findings import Evidence, Tampering

# files that are (or convert) one EVTX file; shipped JSON (NXLog, Winlogbeat) is not: a
# shipper drops and filters records in transit, so its RecordNumber gaps prove nothing
EVTX_FORMATS = ("evtx", "evtx_jsonl", "wevtutil_xml")
RECORD_IN_EXTRA = ("evtx_jsonl",)  # record = line number; EventRecordID in extra
# datasets that hold one channel each (formats/winevent.dataset_for): the channel as logged
_ONE_CHANNEL = {
    "windows.security": "Security",
    "windows.system": "System",
    "windows.application": "Application",
    "windows.sysmon": "Microsoft-Windows-Sysmon/Operational",
    "windows.defender": "Microsoft-Windows-Windows Defender/Operational",
}
SILENCE_MIN = timedelta(hours=2)
SILENCE_AFTER_CLEAR = timedelta(minutes=15)
NEAR_CLEAR = timedelta(minutes=10)
MIN_NETWORK = 10  # network events from the host's address that prove it was up
MIN_NETWORK_AFTER_CLEAR = 3  # fewer after a clear: the clear already says why it is quiet
SLOT = timedelta(minutes=5)
BUSY_SLOT = timedelta(hours=1)
BUSY = 0.4  # a long silence: the address busy in at least this share of its hours
RHYTHM = 20  # a silence must be this many times the source's mean interval
RHYTHM_AFTER_CLEAR = 3  # ... or, right after a clear, this many
AROUND = timedelta(hours=24)  # look this far either side of the incident window
SHUTDOWN_NEAR = timedelta(hours=2)  # 1100 right before or during the incident
MAX_GAPS = 50
MIN_RECORDS = 50  # fewer records in a channel can't show that the rest is contiguous
HOLE_EVERY = 100  # an otherwise contiguous log: at most one hole per this many records
MAX_HOLES = 3  # ... and at most this many in all
MIN_LOST = 2  # one missing ID is what an event-ID filter leaves around one unwanted event
_SERVICE_ACCOUNTS = ("local service", "network service", "system", "-")


def _seconds(ts: Any) -> Any:
    """Epoch seconds with the fraction (DuckDB's epoch() is a DOUBLE; ibis types it int)."""
    return ts.epoch_seconds().cast("float64")


def _ev(row: dict[str, Any], text: str) -> Evidence:
    return Evidence.of(row, text)


def find(ctx: Context, ident: Identity,
         window: tuple[datetime, datetime] | None) -> list[Tampering]:  # fmt: skip
    return find_all(ctx, ident, window)[0]


def find_all(ctx: Context, ident: Identity, window: tuple[datetime, datetime] | None,
             ) -> tuple[list[Tampering], list[FilteredExport]]:  # fmt: skip
    """The tampering findings, and the files that are filtered exports (for coverage)."""
    clears = log_clears(ctx)
    out = list(clears)
    out += _events(ctx, window)
    gaps, filtered = record_scan(ctx)
    out += gaps
    out += silences(ctx, ident, window, clears)
    return sorted(out, key=lambda x: (x.time or "", x.host or "", x.kind)), filtered


def log_clears(ctx: Context) -> list[Tampering]:
    t = ctx.events
    chan = json_field(t["extra"], "winlog", "user_data", "Channel")
    q = t.filter(
        (t["event.action"] == "log-cleared")
        | ((t["event.dataset"] == "windows.security") & (t["event.code"] == "1102"))
        | ((t["event.dataset"] == "windows.system") & (t["event.code"] == "104"))
    )  # fmt: skip
    q = q.mutate(_channel=chan)
    cols = [*ctx.select(q).columns, "_channel"]
    out: list[Tampering] = []
    for r in fetch.rows(ctx, q, cols, limit=500):
        channel = r["_channel"] or ("Security" if r["event.code"] == "1102" else "an event log")
        who = "\\".join(x for x in (r.get("user.domain"), r.get("user.name")) if x) or "unknown"
        text = f"{channel} log cleared on {r.get('host.name') or '?'} by {who}"
        out.append(Tampering(r.get("host.name"), iso(r["@timestamp"]), "log_cleared",
                             [_ev(r, text)]))  # fmt: skip
    return out


def _kinds(t: Any, state: bool) -> Any:
    """Each row's tampering kind (null: none); ``state``: with the two kinds that read a
    service state out of ``extra`` (Sysmon 4, System 7036)."""
    ds, code = t["event.dataset"], t["event.code"]
    sec, sysmon = ds == "windows.security", ds == "windows.sysmon"

    # json_field, not a JSON cast: Spark's unwrap fails on a row whose extra isn't JSON
    def data(key: str) -> ibis.Value:
        return json_field(t["extra"], "winlog", "event_data", key)

    cases = [
        (sec & (code == "4719"), "audit_policy_changed"),
        (sec & (code == "1100"), "eventlog_service_shutdown"),
        (sysmon & (code == "16"), "sysmon_config_changed"),
    ]
    if state:
        state_text = ibis.coalesce(data("State"), data("param2"), ibis.literal(""))
        service = ibis.coalesce(data("param1"), ibis.literal(""))
        stopped = state_text.lower().re_search("stop|停止")
        cases += [
            (sysmon & (code == "4") & stopped, "sysmon_stopped"),
            ((ds == "windows.system") & (code == "7036")
             & service.lower().re_search("sysmon|event ?log") & stopped, "sysmon_stopped"),
        ]  # fmt: skip
    cases += [
        (ibis.coalesce(t["process.command_line"].re_search(LOG_TAMPER), False),
         "log_clear_command"),
        (sec & (code == "4616")
         & ~ibis.coalesce(t["user.name"].lower().isin(list(_SERVICE_ACCOUNTS)), False)
         & ~ibis.coalesce(t["user.name"].endswith("$"), False), "clock_changed"),
    ]  # fmt: skip
    return ibis.cases(*cases, else_=ibis.null("string"))


def _events(ctx: Context, window: tuple[datetime, datetime] | None) -> list[Tampering]:
    t = ctx.events
    ds, code = t["event.dataset"], t["event.code"]
    # the rows whose kind depends on a service state in extra apart, each by a filter the
    # Parquet scan takes, so extra is read for those rows only, not for all (they are the
    # only rows the two state kinds can match)
    sysmon4, svc7036 = (ds == "windows.sysmon") & (code == "4"), (
        ds == "windows.system") & (code == "7036")  # fmt: skip
    rest = t.filter(~ibis.coalesce(sysmon4 | svc7036, False))
    q = rest.mutate(_kind=_kinds(rest, state=False))
    for part in (t.filter(sysmon4), t.filter(svc7036)):
        q = q.union(part.mutate(_kind=_kinds(part, state=True)))
    q = q.filter(q["_kind"].notnull())
    if window is not None:  # 1100 is normal at every shutdown: only near the incident
        near = q["@timestamp"].between(window[0] - SHUTDOWN_NEAR, window[1])
        q = q.filter((q["_kind"] != "eventlog_service_shutdown") | near)
    cols = [*ctx.select(q).columns, "_kind"]
    out: list[Tampering] = []
    for r in fetch.rows(ctx, q, cols, limit=500):
        out.append(Tampering(r.get("host.name"), iso(r["@timestamp"]), r["_kind"],
                             [_ev(r, f"{r['_kind']}: {summary(r)}")]))  # fmt: skip
    return out


def _evtx_evidence(ctx: Context) -> dict[str, str] | None:
    """Format by evidence id, for files that carry EventRecordIDs; None if unknown."""
    try:
        ev = ctx.events.get_backend().table("evidence")
        rows = ctx.rows(ev.select("evidence_id", "format"))
    except Exception:  # a bare events table (tests, other engines) has no evidence table
        return None
    if not rows:
        return None
    return {r["evidence_id"]: r["format"] for r in rows if r["format"] in EVTX_FORMATS}


@dataclass(frozen=True)
class FilteredExport:
    """A file whose EventRecordIDs are sparse throughout: a filtered export, not a deletion."""

    evidence_id: str
    host: str | None
    channels: tuple[str, ...]
    records: int
    id_range: int

    def note(self) -> str:
        where = f"{', '.join(self.channels) or 'events'} of {self.host or '?'}"
        return (f"{where}: filtered export: {self.records} records over an ID range of "
                f"{self.id_range}; ask for the full log")  # fmt: skip


def _record_ids(ctx: Context) -> Any | None:
    """One row per stored record of an EVTX-like file: evidence, host, channel, ID."""
    t = ctx.events
    formats = _evtx_evidence(ctx)
    if formats is None:
        src = t.filter(t["event.dataset"].startswith("windows.") & t["event.provider"].notnull()
                       & t["record"].notnull())  # fmt: skip
        rid = src["record"]
    elif not formats:
        return None
    else:
        src = t.filter(t["evidence_id"].isin(sorted(formats)))
        jsonl = sorted(e for e, f in formats.items() if f in RECORD_IN_EXTRA)
        rid = src["record"]
        if jsonl:
            in_extra = json_field(src["extra"], "winlog", "record_id", as_="int64")
            rid = ibis.cases((src["evidence_id"].isin(jsonl), in_extra), else_=rid)
    # IDs count per channel of one host: Security and System (or Windows PowerShell and
    # PowerShell/Operational) in one file each have their own sequence. A dataset of one
    # channel names it: `extra` is read only for the others (it cost ~1 s on 1.6M rows)
    ds = src["event.dataset"]
    channel = ibis.coalesce(
        ds.cases(*_ONE_CHANNEL.items(), else_=None),
        json_field(src["extra"], "winlog", "channel"),
        ds,
    )
    q = src.select("evidence_id", "event.dataset", "record", "@timestamp", _rid=rid,
                   _host=ibis.coalesce(src["host.name"], ibis.literal("")),
                   _chan=channel)  # fmt: skip
    return q.filter(q["_rid"].notnull())


def record_scan(ctx: Context) -> tuple[list[Tampering], list[FilteredExport]]:
    """EventRecordID holes inside one channel of one host in one file, and sparse files.

    A hole is a deletion (or loss) only where the sequence is otherwise contiguous: at
    most MAX_HOLES holes and one per HOLE_EVERY records, in a run of MIN_RECORDS or more,
    with fewer IDs missing than present, and MIN_LOST or more missing in all. Anything
    else with holes is a filtered export (a few records over a wide ID range: a query or
    an event-ID filter), reported once per file. Measured on the public samples in
    ../shared/data (tests/analysis/test_tampering_corpus.py): their small exports with
    one hole are exports an author filtered, so a lone missing record is not claimed.
    """
    q = _record_ids(ctx)
    if q is None:
        return [], []
    group = ["evidence_id", "_host", "_chan"]
    w = ibis.window(group_by=group, order_by="_rid")
    # the counts need the IDs alone; the previous record's line and time only where the
    # gaps are read below (a timestamp lagged over every record cost a third of it)
    ids = q.select(*group, "_rid")
    # a sequence with as many distinct IDs as its range holds has no hole: the window
    # (which sorts and holds its rows: 1.1 GB over the 20M records of a large case) runs
    # over the others alone
    rid = ids["_rid"]
    span = ids.group_by(group).aggregate(n=rid.nunique(), lo=rid.min(), hi=rid.max())
    # (such a sequence has at least one hole: its counts are the ones already made)
    holey = span.filter(span["hi"] - span["lo"] + 1 > span["n"])
    ids = ids.semi_join(holey, group)
    ids = ids.mutate(_hole=ibis.ifelse((ids["_rid"] - ids["_rid"].lag().over(w)) > 1, 1, 0))
    stats = holey.join(ids.group_by(group).aggregate(holes=ids["_hole"].sum()), group)
    dense: list[dict[str, Any]] = []
    sparse: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for r in ctx.rows(stats.order_by(group)):
        n, holes, lost = int(r["n"]), int(r["holes"]), int(r["hi"]) - int(r["lo"]) + 1 - int(r["n"])
        if (n >= MIN_RECORDS and holes <= min(MAX_HOLES, max(1, n // HOLE_EVERY))
                and MIN_LOST <= lost <= n):
            dense.append(r)
        else:
            sparse[r["evidence_id"]].append(r)
    filtered = [
        FilteredExport(ev, rs[0]["_host"] or None, tuple(sorted({r["_chan"] for r in rs})),
                       sum(int(r["n"]) for r in rs),
                       sum(int(r["hi"]) - int(r["lo"]) + 1 for r in rs))
        for ev, rs in sorted(sparse.items())
    ]  # fmt: skip
    if not dense:
        return [], filtered
    keep = ibis.literal(False)
    for r in dense[:MAX_GAPS]:
        keep = keep | ((q["evidence_id"] == r["evidence_id"]) & (q["_host"] == r["_host"])
                       & (q["_chan"] == r["_chan"]))  # fmt: skip
    q = q.filter(keep)  # whole sequences, so each record's previous one is as among all
    q = q.mutate(_prev=q["_rid"].lag().over(w), _prev_line=q["record"].lag().over(w),
                 _prev_ts=q["@timestamp"].lag().over(w))  # fmt: skip
    q = q.mutate(_hole=ibis.ifelse((q["_rid"] - q["_prev"]) > 1, 1, 0))
    gaps = q.filter((q["_rid"] - q["_prev"] - 1) >= MIN_LOST)
    out: list[Tampering] = []
    for r in ctx.rows(gaps.order_by(["evidence_id", "_rid"]), limit=MAX_GAPS):
        lost = r["_rid"] - r["_prev"] - 1
        host = r["_host"] or None
        before = dict(r, record=r["_prev_line"], **{"@timestamp": r["_prev_ts"]})
        text = (f"{lost} record(s) missing in {r['event.dataset']} of {host or '?'}"
                f" between EventRecordID {r['_prev']} ({iso(r['_prev_ts'])}) and {r['_rid']}"
                f" ({iso(r['@timestamp'])})")  # fmt: skip
        out.append(Tampering(host, iso(r["_prev_ts"]), "records_deleted",
                             [_ev(before, text), _ev(r, "next record after the gap")]))  # fmt: skip
    return out, filtered


def record_gaps(ctx: Context) -> list[Tampering]:
    """EventRecordIDs that jump inside an otherwise contiguous sequence: records deleted."""
    return record_scan(ctx)[0]


def silences(ctx: Context, ident: Identity, window: tuple[datetime, datetime] | None,
             clears: list[Tampering]) -> list[Tampering]:  # fmt: skip
    """Host logs that stop while the host's address keeps talking.

    Two thresholds: any silence of SILENCE_MIN (and RHYTHM times the source's mean interval)
    whose network traffic spans half of it; or, right after a log clear on that host, one
    of SILENCE_AFTER_CLEAR during which the traffic goes on that long.
    """
    t = ctx.events
    logs = t.filter(t["event.dataset"].startswith("windows.") & t["event.provider"].notnull()
                    & t["host.name"].notnull())  # fmt: skip
    stats = {(r["host.name"], r["event.dataset"]): r for r in ctx.rows(
        logs.group_by(["host.name", "event.dataset"]).aggregate(
            n=logs.count(), first=logs["@timestamp"].min(), last=logs["@timestamp"].max(),
            ev=logs["evidence_id"].argmax(logs["@timestamp"]),
            rec=logs["record"].argmax(logs["@timestamp"])))}
    if not stats:
        return []
    # a log that stops is compared with the network up to the end of the case
    end = ctx.rows(t.aggregate(end=t["@timestamp"].max()))[0]["end"]
    cleared = [(c.host, _dt(c.time)) for c in clears if c.host and c.time]
    # the events per minute first (a silence is minutes long, so it lies between two
    # minutes' events: from the last of one to the first of the next), then each minute
    # after the one before: a window over thousands of minutes, not millions of events
    ts = logs["@timestamp"]
    per = logs.group_by(["host.name", "event.dataset", ts.truncate("m").name("_m")]).aggregate(
        first=ts.min(), last=ts.max(), ev=logs["evidence_id"].argmin(ts),
        rec=logs["record"].argmax(ts),
    )  # fmt: skip
    w = ibis.window(group_by=["host.name", "event.dataset"], order_by="_m")
    q = per.select("host.name", "event.dataset", "ev", **{"@timestamp": per["first"]},
                   _prev=per["last"].lag().over(w), _prev_rec=per["rec"].lag().over(w))  # fmt: skip
    q = q.mutate(_gap=_seconds(q["@timestamp"]) - _seconds(q["_prev"]))
    wanted = q["_gap"] >= SILENCE_MIN.total_seconds()
    for host, ct in cleared[:100]:
        wanted = wanted | ((q["_gap"] >= SILENCE_AFTER_CLEAR.total_seconds())
                           & (q["host.name"] == host)
                           & q["_prev"].between(ct - NEAR_CLEAR, ct + NEAR_CLEAR))  # fmt: skip
    q = q.filter(wanted)
    if window is not None:
        q = q.filter((q["@timestamp"] >= window[0] - AROUND) & (q["_prev"] <= window[1] + AROUND))
    gaps: list[tuple[str, str, datetime, datetime, dict[str, Any], bool]] = [
        (r["host.name"], r["event.dataset"], r["_prev"], r["@timestamp"],
         {"evidence_id": r["ev"], "record": r["_prev_rec"]}, False)
        for r in ctx.rows(q.order_by(ibis.desc("_gap")), limit=500)
    ]  # fmt: skip
    for (host, ds), s in stats.items():  # a log that stops and never comes back
        if end - s["last"] >= SILENCE_AFTER_CLEAR and (
                window is None or s["last"] >= window[0] - AROUND):
            ref = {"evidence_id": s["ev"], "record": s["rec"]}
            gaps.append((host, ds, s["last"], end, ref, True))
    judged = []
    for host, ds, start, stop, ref, tail in gaps:
        s = stats[(host, ds)]
        mean = (s["last"] - s["first"]).total_seconds() / max(s["n"], 1)
        gap = (stop - start).total_seconds()
        after_clear = gap >= RHYTHM_AFTER_CLEAR * mean and any(
            h == host and abs(start - ct) <= NEAR_CLEAR for h, ct in cleared)  # fmt: skip
        long = stop - start >= SILENCE_MIN and gap >= RHYTHM * mean
        if after_clear or (s["n"] >= 3 and long):
            judged.append((host, ds, start, stop, ref, tail, after_clear, long))
    nets = _network_during(ctx, ident, [(host, start, stop) for host, _, start, stop, *_ in judged])
    out: list[Tampering] = []
    for (host, ds, start, stop, ref, tail, after_clear, long), net in zip(
        judged, nets, strict=True
    ):
        if net is None:
            continue
        n, slots, hi = net
        if not ((after_clear and n >= MIN_NETWORK_AFTER_CLEAR
                 and hi - start >= SILENCE_AFTER_CLEAR)
                or (long and n >= MIN_NETWORK
                    and _share(slots, start, stop, BUSY_SLOT) >= BUSY)):  # fmt: skip
            continue
        quiet = (min(stop, hi) - start).total_seconds() / 3600
        text = f"{ds} of {host} silent from {iso(start)}"
        if after_clear:
            text += " (right after a log clear)"
        text += f" while its address sent {n} network events until {iso(hi)} ({quiet:.1f} h)"
        if not tail:
            text += f"; the log resumes {iso(stop)}"
        row = dict(ref, **{"@timestamp": start, "event.dataset": ds})
        out.append(Tampering(host, iso(start), "logging_stopped", [_ev(row, text)]))
        if len(out) >= MAX_GAPS:
            break
    return out


def _dt(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00"))


def _network_during(ctx: Context, ident: Identity, silences: list[tuple[str, datetime, datetime]]
                    ) -> list[tuple[int, list[datetime], datetime] | None]:  # fmt: skip
    """Per (host, start, stop) silence: the network events from the host's address inside
    it (count, busy slots, last), or None. One query for all of them.

    The address is the one the host held when the log went quiet, and only while it held
    it (the DHCP lease), so traffic of the next PC on that address doesn't count.
    """
    spans: dict[str, list[Any]] = {"_g": [], "_ip": [], "_lo": [], "_hi": []}
    for g, (host, start, stop) in enumerate(silences):
        ips: list[str] = []
        for ip in ident.ips_of(host):
            leases = ident.leases.get(ip, [])
            held = [x for x in leases if x.host == host and x.start <= start <= x.end]
            if held:
                ips.append(ip)
                stop = min(stop, held[0].end)
            elif not leases and ident.host_at(ip, start) == host:  # no DHCP view of it
                ips.append(ip)
        for ip in dict.fromkeys(ips):
            for key, value in zip(spans, (g, ip, start, stop), strict=True):
                spans[key].append(value)
    found: dict[int, list[dict[str, Any]]] = {}
    if spans["_g"]:
        t = ctx.events
        net = t.filter(~t["event.dataset"].startswith("windows.") & t["source.ip"].notnull())
        sp = ibis.memtable(spans)
        ts = net["@timestamp"]
        j = net.join(sp, [net["source.ip"] == sp["_ip"], ts > sp["_lo"], ts < sp["_hi"]])
        j = j.mutate(_slot=((_seconds(j["@timestamp"]) - _seconds(j["_lo"]))
                            / SLOT.total_seconds()).floor())  # fmt: skip
        agg = j.group_by(["_g", "_slot"]).aggregate(n=j.count(), last=j["@timestamp"].max())
        for r in ctx.rows(agg.order_by(["_g", "_slot"])):
            found.setdefault(r["_g"], []).append(r)
    out: list[tuple[int, list[datetime], datetime] | None] = []
    for g, (_, start, _) in enumerate(silences):
        rows = found.get(g, [])
        n = sum(int(r["n"]) for r in rows)
        out.append((n, [start + int(r["_slot"]) * SLOT for r in rows], rows[-1]["last"])
                   if n else None)  # fmt: skip
    return out


def _share(slots: list[datetime], start: datetime, stop: datetime, width: timedelta) -> float:
    """Share of the ``width``-wide slots of [start, stop) that saw network traffic."""
    total = max(1, -(-(stop - start) // width))
    busy = {int((s - start) / width) for s in slots if start <= s < stop}
    return len(busy) / total
