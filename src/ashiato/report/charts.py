"""Charts as shapes for inline SVG, laid out on the server.

A chart is a list of shapes (tag, numeric or fixed attributes, text, tooltip). The
templates write them out with autoescaping on, so a label taken from a log (a share
name, a host, a URL) reaches the SVG as text, never as markup; the tags and attribute
names come from this module only. No script is needed to see a chart.
"""

from __future__ import annotations

import math
import re
import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta, tzinfo
from typing import Any

from ashiato import i18n
from ashiato.report.series import parse_iso, window_of
from ashiato.report.text import labels, vector_type

WIDTH = 960
PALETTE = (
    "#3566a0",
    "#e0863a",
    "#4f9a55",
    "#c44040",
    "#7e62b0",
    "#8f6b45",
    "#cf6aa8",
    "#6f7479",
    "#b3a433",
    "#2c9aa0",
)
OTHER = "#b8bcc2"
WINDOW_FILL = "#d9534f"
LEASE_SOLO = "#9fb0c4"
TAGS = frozenset({"rect", "line", "text", "circle", "polyline"})
_ATTR = re.compile(r"^[a-z][a-z0-9-]*$")


@dataclass
class Shape:
    tag: str
    attrs: dict[str, str]
    text: str = ""
    title: str = ""

    def __post_init__(self) -> None:
        # only this module names tags and attributes; values are escaped by the template
        if self.tag not in TAGS or not all(_ATTR.match(k) for k in self.attrs):
            raise ValueError(f"not a chart shape: {self.tag} {sorted(self.attrs)}")


@dataclass
class Chart:
    id: str
    title: str
    width: int = WIDTH
    height: int = 0
    shapes: list[Shape] = field(default_factory=list)
    empty: str = ""


def _n(value: float) -> str:
    return f"{value:.1f}".rstrip("0").rstrip(".")


def rect(x: float, y: float, w: float, h: float, fill: str, title: str = "", **kw: str) -> Shape:
    attrs = {"x": _n(x), "y": _n(y), "width": _n(max(w, 0)), "height": _n(max(h, 0))}
    attrs["fill"] = fill
    attrs.update({k.replace("_", "-"): v for k, v in kw.items()})
    return Shape("rect", attrs, title=title)


def line(x1: float, y1: float, x2: float, y2: float, stroke: str = "#999", **kw: str) -> Shape:
    attrs = {"x1": _n(x1), "y1": _n(y1), "x2": _n(x2), "y2": _n(y2), "stroke": stroke}
    attrs.update({k.replace("_", "-"): v for k, v in kw.items()})
    return Shape("line", attrs)


def text(
    x: float,
    y: float,
    value: str,
    size: int = 11,
    anchor: str = "start",
    title: str = "",
    **kw: str,
) -> Shape:
    attrs = {"x": _n(x), "y": _n(y), "font-size": str(size), "text-anchor": anchor}
    attrs.update({k.replace("_", "-"): v for k, v in kw.items()})
    return Shape("text", attrs, text=value, title=title)


def circle(cx: float, cy: float, r: float, fill: str, title: str = "") -> Shape:
    return Shape("circle", {"cx": _n(cx), "cy": _n(cy), "r": _n(r), "fill": fill}, title=title)


def polyline(points: Sequence[tuple[float, float]], stroke: str, width: float = 2) -> Shape:
    pts = " ".join(f"{_n(x)},{_n(y)}" for x, y in points)
    attrs = {"points": pts, "fill": "none", "stroke": stroke, "stroke-width": _n(width)}
    attrs["stroke-linejoin"] = "round"
    return Shape("polyline", attrs)


def text_width(value: str, size: int = 11) -> float:
    """Rough rendered width: East Asian wide characters take a full em, others ~0.6."""
    return sum(size * (1.0 if unicodedata.east_asian_width(ch) in "WF" else 0.6) for ch in value)


def clip(value: str, px: float, size: int = 11) -> str:
    if text_width(value, size) <= px:
        return value
    out = ""
    for ch in value:
        if text_width(out + ch + "…", size) > px:
            break
        out += ch
    return out + "…"


def nice_ticks(top: float, count: int = 4) -> list[float]:
    if top <= 0:
        return [0.0, 1.0]
    raw = top / count
    mag = 10 ** math.floor(math.log10(raw))
    step = next(m * mag for m in (1, 2, 2.5, 5, 10) if m * mag >= raw)
    return [i * step for i in range(math.ceil(top / step) + 1)]


def byte_ticks(top: float, count: int = 4) -> list[float]:
    """Round ticks in the unit the labels use (KB, MB, GB: powers of 1024)."""
    unit = 1.0
    while top / unit >= 1024 and unit < 1024**4:
        unit *= 1024
    return [v * unit for v in nice_ticks(top / unit, count)]


def time_ticks(
    lo: datetime, hi: datetime, most: int = 8, tz: tzinfo | None = None
) -> list[datetime]:
    """Round ticks between lo and hi, on the hours and minutes of the zone ``tz`` (UTC by
    default), as datetimes in that zone (the chart's span keeps one offset)."""
    span = max((hi - lo).total_seconds() / 60, 1)
    steps = (1, 2, 5, 10, 15, 30, 60, 120, 180, 360, 720, 1440, 2880, 10080)
    step = next((s for s in steps if span / s <= most), steps[-1])
    seconds = step * 60
    zone_ = tz or UTC
    offset = (lo.astimezone(zone_).utcoffset() or timedelta(0)).total_seconds()
    first = math.ceil((lo.timestamp() + offset) / seconds) * seconds - offset
    out, t = [], first
    while t <= hi.timestamp():
        out.append(datetime.fromtimestamp(t, zone_))
        t += seconds
    return out


def tip_time(when: datetime, tz: tzinfo | None, fmt: str = "%Y-%m-%d %H:%M") -> str:
    """A tooltip's moment: in the display zone with UTC beside it, or UTC alone."""
    if tz is None:
        return f"{when.astimezone(UTC):{fmt}} UTC"
    local = when.astimezone(tz)
    return f"{local:{fmt}} {local:%Z} ({when.astimezone(UTC):%H:%M} UTC)"


def fmt_tick(ts: datetime, previous: datetime | None) -> str:
    if previous is None or previous.date() != ts.date() or ts.hour == ts.minute == 0:
        return ts.strftime("%m-%d %H:%M")
    return ts.strftime("%H:%M")


def human_bytes(value: float) -> str:
    for unit in ("B", "KB", "MB", "GB", "TB"):
        if abs(value) < 1024 or unit == "TB":
            return f"{value:.0f} {unit}" if unit == "B" else f"{value:.1f} {unit}"
        value /= 1024
    return f"{value:.1f} TB"


def human_gap(seconds: float | None) -> str:
    if seconds is None:
        return ""
    s = round(seconds)
    if s < 60:
        return f"+{s}s"
    if s < 3600:
        return f"+{s // 60}m{s % 60:02d}s"
    if s < 86400:
        return f"+{s // 3600}h{(s % 3600) // 60:02d}m"
    return f"+{s // 86400}d{(s % 86400) // 3600:02d}h"


def _legend(
    items: Sequence[tuple[str, str]], y: float, left: float = 60
) -> tuple[list[Shape], float]:
    """Coloured squares and labels, wrapped over lines; returns shapes and the height."""
    shapes: list[Shape] = []
    x, row = left, 0
    for colour, label in items:
        label = clip(label, 260)
        w = 18 + text_width(label) + 16
        if x + w > WIDTH - 10 and x > left:
            x, row = left, row + 1
        yy = y + row * 18
        shapes.append(rect(x, yy, 11, 11, colour))
        shapes.append(text(x + 16, yy + 10, label))
        x += w
    return shapes, (row + 1) * 18 if items else 0


class _TimeAxis:
    def __init__(self, lo: datetime, hi: datetime, x0: float, x1: float,
                 tz: tzinfo | None = None) -> None:  # fmt: skip
        self.lo, self.hi, self.x0, self.x1, self.tz = lo, hi, x0, x1, tz
        self.span = max((hi - lo).total_seconds(), 1.0)

    def x(self, ts: datetime) -> float:
        frac = (ts - self.lo).total_seconds() / self.span
        return self.x0 + (self.x1 - self.x0) * min(max(frac, 0.0), 1.0)

    def draw(self, y_top: float, y_bottom: float) -> list[Shape]:
        shapes: list[Shape] = [line(self.x0, y_bottom, self.x1, y_bottom, "#666")]
        prev: datetime | None = None
        for tick in time_ticks(self.lo, self.hi, tz=self.tz):
            x = self.x(tick)
            shapes.append(line(x, y_top, x, y_bottom, "#e3e3e3"))
            shapes.append(line(x, y_bottom, x, y_bottom + 4, "#666"))
            shapes.append(text(x, y_bottom + 16, fmt_tick(tick, prev), 10, "middle", fill="#444"))
            prev = tick
        return shapes

    def band(
        self, window: tuple[datetime, datetime] | None, y0: float, y1: float, title: str
    ) -> list[Shape]:
        if window is None or window[1] < self.lo or window[0] > self.hi:
            return []
        xa, xb = self.x(window[0]), self.x(window[1])
        return [
            rect(
                xa,
                y0,
                max(xb - xa, 2),
                y1 - y0,
                WINDOW_FILL,
                title,
                fill_opacity="0.12",
                stroke=WINDOW_FILL,
                stroke_opacity="0.6",
                stroke_dasharray="4 3",
            )
        ]


def _y_axis(
    top: float, height: float, x0: float, x1: float, ticks: list[float], fmt: Any
) -> list[Shape]:
    shapes: list[Shape] = []
    peak = ticks[-1] or 1
    for v in ticks:
        y = top + height - height * v / peak
        shapes.append(line(x0, y, x1, y, "#eee" if v else "#666"))
        shapes.append(text(x0 - 6, y + 4, fmt(v), 10, "end", fill="#444"))
    return shapes


# -- 1. encrypted files per bin and share --------------------------------------------------


def encrypted_chart(data: dict[str, Any], findings: dict[str, Any], lang: str,
                    tz: tzinfo | None = None) -> Chart:  # fmt: skip
    t = labels(lang)
    step = int(data.get("bin_minutes") or 1)
    chart = Chart("chart-encrypted", t["chart_encrypted"].format(n=step), empty=t["no_encrypted"])
    series: dict[str, list[int]] = data.get("series") or {}
    start = parse_iso(data.get("start"))
    if not series or start is None:
        return chart
    names = list(series)
    if len(names) > 8:
        rest = [sum(vals) for vals in zip(*(series[n] for n in names[7:]), strict=True)]
        series = {n: series[n] for n in names[:7]} | {f"+{len(names) - 7}": rest}
        names = list(series)
    colours = {n: PALETTE[i % len(PALETTE)] for i, n in enumerate(names)}
    legend, lh = _legend([(colours[n], f"{n} ({sum(series[n]):,})") for n in names], 8)
    chart.shapes += legend
    top, height, left, right = 16 + lh, 200, 60, WIDTH - 20
    bins = int(data.get("bins") or 0)
    totals = [sum(series[n][i] for n in names) for i in range(bins)]
    ticks = nice_ticks(max(totals or [1]))
    peak = ticks[-1] or 1
    chart.shapes += _y_axis(top, height, left, right, ticks, lambda v: f"{v:g}")
    end = start + timedelta(minutes=step * bins)
    axis = _TimeAxis(start, end, left, right, tz)
    chart.shapes += axis.band(window_of(findings), top, top + height, t["encryption_window"])
    bw = (right - left) / max(bins, 1)
    for i in range(bins):
        y = top + height
        when = start + timedelta(minutes=step * i)
        for n in names:
            v = series[n][i]
            if not v:
                continue
            h = height * v / peak
            y -= h
            tip = f"{tip_time(when, tz)} · {n}: {v}"
            chart.shapes.append(
                rect(
                    left + i * bw + (0.5 if bw > 3 else 0),
                    y,
                    bw - (1 if bw > 3 else 0),
                    h,
                    colours[n],
                    tip,
                )
            )
    chart.shapes += axis.draw(top, top + height)
    chart.height = int(top + height + 30)
    return chart


# -- 2. SMB per client ------------------------------------------------------------------------


def smb_chart(data: dict[str, Any], findings: dict[str, Any], lang: str,
              tz: tzinfo | None = None) -> Chart:  # fmt: skip
    t = labels(lang)
    step = int(data.get("bin_minutes") or 1)
    measure = str(data.get("measure") or "bytes")
    chart = Chart(
        "chart-smb",
        t["chart_smb"].format(n=step, measure=t.get(measure, measure)),
        empty=t["no_smb"],
    )
    clients: list[dict[str, Any]] = data.get("clients") or []
    start = parse_iso(data.get("start"))
    bins = int(data.get("bins") or 0)
    if not clients or start is None or not bins:
        return chart
    names = []
    for c in clients:
        if c.get("others"):
            names.append(t["others"].format(n=c["others"]))
        elif c.get("host"):
            names.append(f"{c['host']} ({c['ip']})")
        else:
            names.append(str(c.get("ip")))
    colours = [
        OTHER if c.get("others") else PALETTE[i % len(PALETTE)] for i, c in enumerate(clients)
    ]
    fmt = human_bytes if measure == "bytes" else (lambda v: f"{v:g}")
    legend, lh = _legend(
        [(colours[i], f"{names[i]}: {fmt(c['total'])}") for i, c in enumerate(clients)], 8
    )
    chart.shapes += legend
    top, height, left, right = 16 + lh, 220, 70, WIDTH - 20
    top_value = max(max(c["values"]) for c in clients) or 1
    ticks = byte_ticks(top_value) if measure == "bytes" else nice_ticks(top_value)
    peak = ticks[-1] or 1
    chart.shapes += _y_axis(top, height, left, right, ticks, fmt)
    end = start + timedelta(minutes=step * bins)
    axis = _TimeAxis(start, end, left, right, tz)
    chart.shapes += axis.band(window_of(findings), top, top + height, t["encryption_window"])
    chart.shapes += axis.draw(top, top + height)
    bw = (right - left) / bins
    for i, c in enumerate(reversed(clients)):
        idx = len(clients) - 1 - i
        pts = [
            (left + (j + 0.5) * bw, top + height - height * v / peak)
            for j, v in enumerate(c["values"])
        ]
        chart.shapes.append(polyline(pts, colours[idx], 1.5 if c.get("others") else 2))
        for j, v in enumerate(c["values"]):
            if v and (bins <= 60 or v >= peak * 0.05):
                when = start + timedelta(minutes=step * j)
                chart.shapes.append(
                    circle(
                        pts[j][0],
                        pts[j][1],
                        2.5,
                        colours[idx],
                        f"{tip_time(when, tz)} · {names[idx]}: {fmt(v)}",
                    )
                )
    chart.height = int(top + height + 30)
    return chart


# -- 3. the vector chain -----------------------------------------------------------------


def chain_chart(chain: dict[str, Any], lang: str, index: int = 0,
                tz: tzinfo | None = None) -> Chart:  # fmt: skip
    """Ordered steps on the right, a to-scale time strip on the left joined by leaders."""
    t = labels(lang)
    title = t["chart_chain"].format(host=chain.get("host") or "?")
    if chain.get("type"):
        title += f" — {vector_type(lang, chain.get('type'))}"
    chart = Chart(f"chart-chain-{index}", title, empty=t["no_chain"])
    steps = [s for s in chain.get("steps") or [] if parse_iso(s.get("time"))][:40]
    if not steps:
        return chart
    times = [parse_iso(s["time"]) for s in steps]
    lo, hi = min(x for x in times if x), max(x for x in times if x)
    row, top = 24, 26
    bottom = top + row * (len(steps) - 1)
    span = max((hi - lo).total_seconds(), 1.0)
    strip_x, leader_x, dot_x = 104, 150, 158
    chart.shapes.append(rect(strip_x - 3, top - 4, 6, bottom - top + 8, "#e9edf2", rx="3"))
    chart.shapes.append(text(strip_x - 10, top + 4, _local(lo, tz, "%m-%d %H:%M:%S %Z"), 10,
                             "end", fill="#444"))  # fmt: skip
    chart.shapes.append(
        text(strip_x - 10, bottom + 4, _local(hi, tz, "%m-%d %H:%M:%S %Z"), 10, "end",
             fill="#444")
    )
    datasets: dict[str, str] = {}
    for i, (s, ts) in enumerate(zip(steps, times, strict=True)):
        assert ts is not None
        ds = str(s.get("dataset") or "")
        colour = datasets.setdefault(ds, PALETTE[len(datasets) % len(PALETTE)])
        y_prop = top + (bottom - top) * (ts - lo).total_seconds() / span
        y = top + row * i
        chart.shapes.append(line(strip_x + 3, y_prop, leader_x, y, "#b5bcc6"))
        chart.shapes.append(circle(strip_x, y_prop, 3, colour))
        said = i18n.say(lang, s.get("stage") or "", s.get("stage_msg"))
        tip = f"{s['time']} · {ds} · {said} {s.get('summary') or ''} · {s['ref']}"
        chart.shapes.append(circle(dot_x, y, 5, colour, tip))
        chart.shapes.append(text(dot_x + 12, y + 4, _local(ts, tz, "%H:%M:%S"), 11, fill="#222"))
        chart.shapes.append(
            text(dot_x + 72, y + 4, human_gap(s.get("gap_seconds")), 10, fill="#777")
        )
        chart.shapes.append(text(dot_x + 128, y + 4, clip(ds, 108, 10), 10, fill=colour))
        stage = i18n.say(lang, s.get("stage") or "", s.get("stage_msg"))
        x: float = dot_x + 244
        if stage:
            stage = clip(stage, 200)
            chart.shapes.append(text(x, y + 4, stage, 11, font_weight="bold"))
            x += text_width(stage) + 10
        chart.shapes.append(
            text(x, y + 4, clip(str(s.get("summary") or ""), WIDTH - 8 - x), 11, title=tip)
        )
    chart.height = int(bottom + 18)
    return chart


# -- 4. coverage heat map ----------------------------------------------------------------


def coverage_chart(data: dict[str, Any], findings: dict[str, Any], lang: str,
                   tz: tzinfo | None = None) -> Chart:  # fmt: skip
    t = labels(lang)
    chart = Chart("chart-coverage", t["chart_coverage"], empty=t["no_coverage"])
    rows: dict[str, list[int]] = data.get("datasets") or {}
    start = parse_iso(data.get("hours_start"))
    if not rows or start is None:
        return chart
    n = max(len(v) for v in rows.values())
    if not n:
        return chart
    group = max(1, math.ceil(n / 96))
    cols = math.ceil(n / group)
    if group > 1:
        chart.title += f" ×{group}h"
    left, top, right, rh = 190, 34, WIDTH - 20, 18
    cw = (right - left) / cols
    end = start + timedelta(hours=cols * group)
    axis = _TimeAxis(start, end, left, right, tz)
    prev: datetime | None = None
    for tick in time_ticks(start, end, 12, tz):
        x = axis.x(tick)
        chart.shapes.append(line(x, top - 6, x, top + rh * len(rows), "#ccc"))
        chart.shapes.append(text(x, top - 10, fmt_tick(tick, prev), 10, "middle", fill="#444"))
        prev = tick
    for r, (ds, values) in enumerate(rows.items()):
        y = top + r * rh
        chart.shapes.append(text(left - 8, y + 13, clip(ds, left - 14), 11, "end"))
        cells = [sum(values[i : i + group]) for i in range(0, len(values), group)]
        peak = max(cells or [0])
        for c, v in enumerate(cells):
            when = start + timedelta(hours=c * group)
            tip = f"{ds} · {tip_time(when, tz)} · {v:,}"
            fill = "#f2f2f2" if not v else _blue(math.log1p(v) / math.log1p(peak or 1))
            chart.shapes.append(
                rect(left + c * cw + 0.5, y + 1, max(cw - 1, 0.8), rh - 2, fill, tip)
            )
    chart.shapes += axis.band(
        window_of(findings), top - 2, top + rh * len(rows) + 2, t["encryption_window"]
    )
    chart.height = int(top + rh * len(rows) + 10)
    return chart


def _blue(frac: float) -> str:
    lo, hi = (0xDC, 0xE8, 0xF4), (0x1E, 0x4A, 0x86)
    f = 0.15 + 0.85 * min(max(frac, 0.0), 1.0)
    return "#" + "".join(f"{round(a + (b - a) * f):02x}" for a, b in zip(lo, hi, strict=True))


# -- 5. IP <-> host ------------------------------------------------------------------------


def leases_chart(
    leases: list[dict[str, Any]], cov: dict[str, Any], findings: dict[str, Any], lang: str,
    tz: tzinfo | None = None,
) -> Chart:
    t = labels(lang)
    chart = Chart("chart-leases", t["chart_leases"], empty=t["no_leases"])
    spans = []
    for r in leases:
        a, b = parse_iso(r.get("start")), parse_iso(r.get("end"))
        if a is not None and b is not None:
            spans.append((r, a, b))
    if not spans:
        return chart
    lo = min(a for _, a, _ in spans)
    hi = max(a for _, a, _ in spans) + timedelta(hours=12)
    hours_start = parse_iso(cov.get("hours_start"))
    hours = max((len(v) for v in (cov.get("datasets") or {}).values()), default=0)
    if hours_start is not None and hours:
        lo, hi = max(lo, hours_start), min(hi, hours_start + timedelta(hours=hours))
        if hi <= lo:
            lo, hi = hours_start, hours_start + timedelta(hours=hours)
    hosts: dict[str, tuple[int, bool]] = {}
    for r, _, _ in spans:
        hosts.setdefault(r["host"], (int(r.get("order", len(hosts))), bool(r.get("focus"))))
    order = sorted(hosts, key=lambda h: hosts[h][0])
    left, top, right, rh = 150, 10, WIDTH - 20, 22
    axis = _TimeAxis(lo, hi, left, right, tz)
    bottom = top + rh * len(order)
    chart.shapes += axis.draw(top, bottom)
    chart.shapes += axis.band(window_of(findings), top, bottom, t["encryption_window"])
    ip_colour: dict[str, str] = {}
    holders: dict[str, set[str]] = {}
    for r, _, _ in spans:
        holders.setdefault(str(r["ip"]), set()).add(r["host"])
    for i, host in enumerate(order):
        y = top + i * rh
        weight = "bold" if hosts[host][1] else "normal"
        chart.shapes.append(
            text(left - 8, y + 15, clip(host, left - 12), 11, "end", font_weight=weight)
        )
        chart.shapes.append(line(left, y + rh, right, y + rh, "#f0f0f0"))
    for r, a, b in sorted(spans, key=lambda s: s[1]):
        if b < lo or a > hi:
            continue
        ip = str(r["ip"])
        if len(holders[ip]) > 1:  # an address that changed hands: one colour per address
            colour = ip_colour.setdefault(ip, PALETTE[len(ip_colour) % len(PALETTE)])
        else:
            colour = LEASE_SOLO
        y = top + order.index(r["host"]) * rh
        xa, xb = axis.x(max(a, lo)), axis.x(min(b, hi))
        tip = f"{r['host']} ← {ip} · {r['start']} → {r['end']} · {r['ref']}"
        chart.shapes.append(
            rect(xa, y + 3, max(xb - xa, 2), rh - 6, colour, tip, fill_opacity="0.85", rx="2")
        )
        if xb - xa > text_width(ip, 10) + 6:
            ink = "#1f2328" if colour == LEASE_SOLO else "#fff"
            chart.shapes.append(text(xa + 3, y + 15, ip, 10, fill=ink, title=tip))
    chart.height = int(bottom + 30)
    return chart


def all_charts(series: dict[str, Any], findings: dict[str, Any], lang: str,
               tz: str = "UTC") -> list[Chart]:  # fmt: skip
    """``tz``: the display zone the axes and tooltips are drawn in (UTC beside it)."""
    z = _zone(tz)
    charts = [
        encrypted_chart(series.get("encrypted") or {}, findings, lang, z),
        smb_chart(series.get("smb") or {}, findings, lang, z),
    ]
    chains = series.get("chains") or []
    charts += [chain_chart(c, lang, i, z) for i, c in enumerate(chains[:4])]
    if not chains:
        charts.append(chain_chart({}, lang, 0, z))
    charts.append(coverage_chart(series.get("coverage") or {}, findings, lang, z))
    charts.append(
        leases_chart(series.get("leases") or [], series.get("coverage") or {}, findings, lang, z)
    )
    return charts


def _zone(tz: str) -> tzinfo | None:
    from ashiato.report.html import zone  # html builds on this module

    return zone(tz)


def _local(ts: datetime, tz: tzinfo | None, fmt: str) -> str:
    """``ts`` as ``fmt`` in the display zone (``%Z`` reads UTC without one)."""
    return ts.astimezone(tz or UTC).strftime(fmt)
