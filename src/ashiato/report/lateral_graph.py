"""The lateral-movement graph as chart shapes (inline SVG, laid out on the server).

Hosts are nodes, coloured by verdict; each edge is an arrow coloured by technique,
labelled with it, its tooltip the edge's sentence. Columns follow the chain: a host
sits one column right of the furthest host that reached it, so the entry is on the
left. Host names and reasons come from logs: they reach the SVG only as escaped text
(see charts.py).
"""

from __future__ import annotations

import math
from typing import Any

from ashiato.report.charts import (
    OTHER,
    PALETTE,
    WIDTH,
    Chart,
    Shape,
    circle,
    clip,
    line,
    polyline,
    rect,
    text,
)

MAX_NODES = 40
ROW = 64
TOP = 40
VERDICT_FILL = {"infected": "#c44040", "suspicious": "#e0a030", "clean": "#8fb08f"}
LABELS = {
    "en": {
        "title": "Lateral movement (source → target, by technique)",
        "empty": "No lateral movement found in the evidence.",
        "infected": "infected",
        "suspicious": "suspicious",
        "clean": "clean",
        "unknown": "unknown",
        "other": "other / unknown",
    },
    "ja": {
        "title": "横展開（移動元 → 移動先、手法別）",
        "empty": "証拠の中に横展開は見つかりませんでした。",
        "infected": "感染",
        "suspicious": "要注意",
        "clean": "異常なし",
        "unknown": "不明",
        "other": "その他・不明",
    },
}


def lateral_chart(findings: dict[str, Any], lang: str = "en") -> Chart:
    t = LABELS.get(lang, LABELS["en"])
    edges = list(findings.get("lateral_movement") or [])
    chart = Chart("lateral", t["title"], empty=t["empty"])
    if not edges:
        return chart
    verdicts = {h["host"]: h["verdict"] for h in findings.get("hosts") or []}
    cols = _columns(edges)
    nodes = sorted(cols, key=lambda n: (cols[n], n))[:MAX_NODES]
    per_col: dict[int, list[str]] = {}
    for n in nodes:
        per_col.setdefault(cols[n], []).append(n)
    ncol = max(per_col) + 1
    step = (WIDTH - 160) / max(ncol - 1, 1)
    pos = {}
    for c, names in per_col.items():
        for i, n in enumerate(names):
            pos[n] = (80 + c * step if ncol > 1 else WIDTH / 2, TOP + 20 + i * ROW)
    techniques = sorted({e["technique"] for e in edges})
    colour = {k: PALETTE[i % len(PALETTE)] for i, k in enumerate(techniques)}
    shapes: list[Shape] = []
    seen: dict[tuple[str, str], int] = {}
    for e in edges:
        a, b = pos.get(e["source"]), pos.get(e["target"])
        if a is None or b is None:
            continue
        k = seen[(e["source"], e["target"])] = seen.get((e["source"], e["target"]), -1) + 1
        shapes += _arrow(a, b, colour[e["technique"]], k, e)
    for n in nodes:
        x, y = pos[n]
        v = verdicts.get(n, "unknown")
        fill = VERDICT_FILL.get(v, OTHER)
        shapes.append(circle(x, y, 11, fill, title=f"{n}: {t.get(v, v)}"))
        shapes.append(text(x, y + 26, clip(n, step - 20 if ncol > 1 else 300), 11, "middle"))
    height = TOP + 20 + max(len(v) for v in per_col.values()) * ROW
    shapes += _legend(techniques, colour, t, height)
    chart.shapes = shapes
    chart.height = height + 40
    return chart


def _columns(edges: list[dict[str, Any]]) -> dict[str, int]:
    """Column = longest chain of moves leading to the host (cycles cut)."""
    col: dict[str, int] = {}
    for e in edges:
        col.setdefault(e["source"], 0)
        col.setdefault(e["target"], 0)
    ordered = sorted(edges, key=lambda e: e.get("first") or "")
    for _ in range(len(col)):
        changed = False
        for e in ordered:
            want = col[e["source"]] + 1
            if e["source"] != e["target"] and col[e["target"]] < want <= len(col):
                col[e["target"]] = want
                changed = True
        if not changed:
            break
    return col


def _arrow(
    a: tuple[float, float], b: tuple[float, float], colour: str, k: int, e: dict[str, Any]
) -> list[Shape]:
    (x1, y1), (x2, y2) = a, b
    dx, dy = x2 - x1, y2 - y1
    d = math.hypot(dx, dy) or 1.0
    ux, uy = dx / d, dy / d
    off = 12.0 * k  # parallel edges between the same pair side by side
    ox, oy = -uy * off, ux * off
    sx, sy = x1 + ux * 14 + ox, y1 + uy * 14 + oy
    ex, ey = x2 - ux * 14 + ox, y2 - uy * 14 + oy
    dash = {} if e.get("execution") else {"stroke_dasharray": "5 3"}
    tip = f"{e['source']} → {e['target']} · {e['technique']} · {e.get('account') or '?'}"
    tip += f" · {e.get('first') or ''} · {e.get('why') or ''}"
    head = [
        (ex - ux * 9 - uy * 5, ey - uy * 9 + ux * 5),
        (ex, ey),
        (ex - ux * 9 + uy * 5, ey - uy * 9 - ux * 5),
    ]
    frac = 0.5 - 0.15 * (k % 3)  # labels of parallel edges apart along the edge
    mx, my = sx + (ex - sx) * frac, sy + (ey - sy) * frac - 4
    label = text(mx, my, str(e["technique"]), 10, "middle", title=tip, fill=colour)
    body = line(sx, sy, ex, ey, colour, stroke_width="2", **dash)
    body.title = tip
    return [body, polyline(head, colour, 2), label]


def _legend(
    techniques: list[str], colour: dict[str, str], t: dict[str, str], y: float
) -> list[Shape]:
    shapes: list[Shape] = []
    x = 20.0
    for k in techniques:
        shapes.append(rect(x, y + 4, 14, 4, colour[k]))
        shapes.append(text(x + 18, y + 10, k, 10))
        x += 30 + 7 * len(k)
    for v in ("infected", "suspicious"):
        shapes.append(circle(x + 6, y + 6, 6, VERDICT_FILL[v]))
        shapes.append(text(x + 16, y + 10, t[v], 10))
        x += 30 + 9 * len(t[v])
    return shapes
