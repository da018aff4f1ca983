"""The site's plots, drawn with matplotlib and embedded as inline SVG (nothing to fetch, crisp on phones).

    distribution   students' best scores, with the baseline thresholds as lines
    rush           submissions per hour over the last days, the deadline marked
    shakeup        public rank against private rank, the biggest movers named (after the deadline)
    passing        how many students passed each baseline on each board
"""

from __future__ import annotations

import io
from datetime import datetime

import numpy as np

from ..spec import LEVELS

COLOURS = {"simple": "#8c959f", "medium": "#0969da", "strong": "#8250df", "boss": "#cf222e"}


def _svg(fig, title: str) -> str:
    import matplotlib.pyplot as plt

    buf = io.StringIO()
    fig.savefig(buf, format="svg", bbox_inches="tight", metadata={"Title": title, "Date": None})
    plt.close(fig)
    text = buf.getvalue()
    text = text[text.index("<svg"):]  # drop the XML prologue: the SVG is inlined in HTML
    return text.replace("<svg ", f'<svg role="img" aria-label="{title}" ', 1)


def _figure(w: float = 5.0, h: float = 3.0):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    plt.rcParams.update({"svg.hashsalt": "grader", "font.size": 9})  # stable ids: the same site twice is the same bytes
    return plt.subplots(figsize=(w, h))


def distribution(scores: list[float], thresholds: dict[str, float], metric: str, title: str) -> str:
    fig, ax = _figure()
    if scores:
        ax.hist(scores, bins=min(30, max(5, len(scores) // 3)), color="#afb8c1", edgecolor="#6e7781")
    for lv in LEVELS:
        if lv in thresholds:
            ax.axvline(thresholds[lv], color=COLOURS[lv], linestyle="--", linewidth=1.5, label=f"{lv} {thresholds[lv]:.4g}")
    ax.set_xlabel(metric)
    ax.set_ylabel("students")
    if thresholds:
        ax.legend(frameon=False, fontsize=8)
    return _svg(fig, title)


def rush(times: list[datetime], deadline: datetime | None, title: str, days: int = 5) -> str:
    fig, ax = _figure()
    if times:
        t = np.array([x.timestamp() for x in times])
        end = deadline.timestamp() if deadline else t.max()
        start = max(t.min(), end - days * 86400)
        t = t[t >= start]
        hours = (t - end) / 3600.0
        ax.hist(hours, bins=max(1, int(np.ceil((end - start) / 3600 / 6))), color="#54aeff", edgecolor="#0969da")
    if deadline:
        ax.axvline(0, color="#cf222e", linewidth=1.5, label="deadline")
        ax.legend(frameon=False, fontsize=8)
    ax.set_xlabel("hours before the deadline" if deadline else "hours")
    ax.set_ylabel("submissions")
    return _svg(fig, title)


def shakeup(public_rank: dict[str, int], private_rank: dict[str, int], names: dict[str, str], title: str,
            movers: int = 3) -> str:
    fig, ax = _figure(5.0, 4.0)
    common = sorted(set(public_rank) & set(private_rank))
    if common:
        x = np.array([public_rank[s] for s in common])
        y = np.array([private_rank[s] for s in common])
        ax.scatter(x, y, s=14, color="#0969da", alpha=0.8)
        top = max(x.max(), y.max())
        ax.plot([1, top], [1, top], color="#8c959f", linewidth=1, linestyle=":")
        moved = np.argsort(-np.abs(x - y))[:movers]
        for i in moved:
            if x[i] != y[i]:
                ax.annotate(f"{names.get(common[i], common[i])} ({x[i]}→{y[i]})", (x[i], y[i]), fontsize=7,
                            xytext=(4, 4), textcoords="offset points")
        ax.invert_xaxis()
        ax.invert_yaxis()
    ax.set_xlabel("public rank")
    ax.set_ylabel("private rank")
    return _svg(fig, title)


def passing(counts: dict[str, dict[str, int]], n_students: int, title: str) -> str:
    """counts[board][level] = students passing it."""
    fig, ax = _figure()
    boards = list(counts)
    width = 0.8 / max(1, len(boards))
    idx = np.arange(len(LEVELS))
    for k, board in enumerate(boards):
        vals = [counts[board].get(lv, 0) for lv in LEVELS]
        bars = ax.bar(idx + k * width, vals, width, label=board, color=["#54aeff", "#8250df"][k % 2])
        ax.bar_label(bars, fontsize=7)
    ax.set_xticks(idx + width * (len(boards) - 1) / 2, LEVELS)
    ax.set_ylabel(f"students (of {n_students})")
    ax.legend(frameon=False, fontsize=8)
    return _svg(fig, title)
