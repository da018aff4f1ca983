"""Board data files: `<out>/<hw>/{public,private}.{csv,json,md}` and `index.md`.
The HTML pages are the site's (grader/publish/site.py)."""

from __future__ import annotations

import csv
import json
from datetime import datetime
from pathlib import Path

from ..leaderboard import Board, Row

COLUMNS = ["rank", "name", "score", "entries", "last", "points", "levels"]

def _cells(r: Row) -> list[str]:
    return ["" if r.rank is None else str(r.rank), r.name, f"{r.score:.5f}", "" if r.baseline else str(r.entries),
            r.last.strftime("%Y-%m-%d %H:%M") if r.last else "", "" if r.baseline else f"{r.points:g}",
            " ".join(r.levels)]


def write_board(board: Board, spec, out: Path) -> list[Path]:
    """A board's data files: csv, json, md (the html pages are the site's, grader/publish/site.py)."""
    out.mkdir(parents=True, exist_ok=True)
    stem = out / board.board
    with open(stem.with_suffix(".csv"), "w", newline="", encoding="utf-8") as f:
        w = csv.writer(f)
        w.writerow(COLUMNS)
        w.writerows(_cells(r) for r in board.rows)
    stem.with_suffix(".json").write_text(json.dumps(
        {"hw": board.hw, "board": board.board, "metric": board.metric,
         "higher_is_better": board.higher_is_better, "rows": [r.as_dict() for r in board.rows]},
        indent=1, ensure_ascii=False), encoding="utf-8")
    md = [f"# {spec.title} — {board.board} leaderboard", "",
          f"Metric: {board.metric} ({'higher' if board.higher_is_better else 'lower'} is better)", "",
          "| " + " | ".join(COLUMNS) + " |", "|" + "---|" * len(COLUMNS)]
    for r in board.rows:
        cells = _cells(r)
        if r.baseline:
            cells = [f"*{c}*" if c else c for c in cells]
        md.append("| " + " | ".join(c.replace("|", "\\|") for c in cells) + " |")
    stem.with_suffix(".md").write_text("\n".join(md) + "\n", encoding="utf-8")
    return [stem.with_suffix(s) for s in (".csv", ".json", ".md")]


def write_index_md(entries, out: Path, course_name: str, now: datetime) -> Path:
    """index.md beside the site's index.html, for hosts that render Markdown (a course wiki, GitHub)."""
    out.mkdir(parents=True, exist_ok=True)
    md = [f"# {course_name} — leaderboards", "", f"Published {now:%Y-%m-%d %H:%M %Z}", "",
          "| homework | teams | best public | boards |", "|---|---|---|---|"]
    for spec, boards, _deadline in entries:
        pub = boards["public"]
        best = pub.students[0].score if pub.students else None
        links = " · ".join(f"[{b}]({spec.short}/{b}.md)" for b in boards)
        md.append(f"| {spec.title} | {len(pub.students)} | {'' if best is None else f'{best:.5f}'} | {links} |")
    (out / "index.md").write_text("\n".join(md) + "\n", encoding="utf-8")
    return out / "index.md"
