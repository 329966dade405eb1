"""Geometry for the dashboard's drawings, computed here and drawn as inline SVG by templates.

Pure functions of plain data: a convoy's dependency graph laid out in columns by wave (wave 0
needs nothing, each later wave needs only earlier ones), and the 24-hour activity chart.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

NODE_W = 190
NODE_H = 46
COL_GAP = 70
ROW_GAP = 14
PAD = 12
TITLE_CHARS = 24


def convoy_graph(
    beads: Sequence[dict[str, Any]],
    waves: Sequence[Sequence[str]],
    edges: Iterable[tuple[str, str]],
) -> dict[str, Any]:
    """Nodes (`id`, `title`, `status`, `held`, `x`, `y`) one column per wave, and edges as SVG
    paths from each blocker's right side to its dependent's left side."""
    by_id = {b["id"]: b for b in beads}
    nodes: dict[str, dict[str, Any]] = {}
    for col, wave in enumerate(waves):
        for row, bead_id in enumerate(wave):
            b = by_id.get(bead_id)
            if b is None:
                continue
            title = str(b.get("title", ""))
            nodes[bead_id] = {
                "id": bead_id,
                "title": title if len(title) <= TITLE_CHARS else title[: TITLE_CHARS - 1] + "…",
                "full_title": title,
                "status": b.get("status", "open"),
                "held": bool(b.get("held")),
                "wave": col,
                "x": PAD + col * (NODE_W + COL_GAP),
                "y": PAD + row * (NODE_H + ROW_GAP),
            }
    paths = []
    for dependent, blocker in edges:
        a, b = nodes.get(blocker), nodes.get(dependent)
        if a is None or b is None:
            continue
        x1, y1 = a["x"] + NODE_W, a["y"] + NODE_H / 2
        x2, y2 = b["x"], b["y"] + NODE_H / 2
        bend = max((x2 - x1) / 2, 20)
        paths.append(
            {
                "from": blocker,
                "to": dependent,
                "d": f"M{x1:g},{y1:g} C{x1 + bend:g},{y1:g} {x2 - bend:g},{y2:g} {x2 - 4:g},{y2:g}",
                "done": a["status"] == "closed",
            }
        )
    tallest = max((len(w) for w in waves), default=0)
    return {
        "nodes": list(nodes.values()),
        "edges": paths,
        "width": PAD * 2 + max(len(waves), 1) * (NODE_W + COL_GAP) - COL_GAP,
        "height": PAD * 2 + max(tallest, 1) * (NODE_H + ROW_GAP) - ROW_GAP,
        "node_w": NODE_W,
        "node_h": NODE_H,
    }


CHART_W = 480
CHART_H = 120
AXIS_H = 16


def activity_chart(counts: Sequence[int], bucket_minutes: int, start: str) -> dict[str, Any]:
    """Bars for events per bucket, scaled to the busiest bucket, with an hour label every six
    hours (UTC, from `start`, an RFC 3339 stamp)."""
    n = max(len(counts), 1)
    width = CHART_W / n
    top = max(counts, default=0) or 1
    plot_h = CHART_H - AXIS_H
    bars = []
    for i, count in enumerate(counts):
        h = round(plot_h * count / top, 1)
        bars.append(
            {"x": round(i * width, 1), "y": plot_h - h, "w": max(width - 1, 1), "h": h, "n": count}
        )
    labels = []
    hour0, minute0 = int(start[11:13]), int(start[14:16])
    per_hour = 60 // bucket_minutes
    for i in range(len(counts)):
        minutes = hour0 * 60 + minute0 + i * bucket_minutes
        if minutes % 360 == 0:
            labels.append({"x": round(i * width, 1), "text": f"{minutes // 60 % 24:02d}:00"})
    return {
        "width": CHART_W,
        "height": CHART_H,
        "plot_h": plot_h,
        "bars": bars,
        "labels": labels,
        "max": max(counts, default=0),
        "per_hour": per_hour,
    }


SPEND_LABEL_EVERY = 7
"""A day's date under every seventh bar (and the last), so labels never crowd."""


def spend_chart(days: Sequence[dict[str, Any]]) -> dict[str, Any]:
    """Bars of known USD per day (each a `Spend.to_json()`, oldest first), scaled to the
    dearest day; a day with calls of unknown cost is marked, since its bar leaves them out."""
    n = max(len(days), 1)
    width = CHART_W / n
    top = max((float(d["usd"]) for d in days), default=0.0) or 1.0
    plot_h = CHART_H - AXIS_H
    bars, labels = [], []
    for i, d in enumerate(days):
        h = round(plot_h * float(d["usd"]) / top, 1)
        x = round(i * width, 1)
        bars.append({**d, "x": x, "y": round(plot_h - h, 1), "w": max(width - 2, 1), "h": h})
        if i % SPEND_LABEL_EVERY == 0 or i == len(days) - 1:
            labels.append({"x": x, "text": str(d["key"])[5:]})  # MM-DD
    return {
        "width": CHART_W,
        "height": CHART_H,
        "plot_h": plot_h,
        "bars": bars,
        "labels": labels,
        "usd": round(sum(float(d["usd"]) for d in days), 6),
        "unknown": sum(int(d["unknown"]) for d in days),
        "dearest": round(max((float(d["usd"]) for d in days), default=0.0), 6),
    }
