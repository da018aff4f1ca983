"""Board files: `<out>/<hw>/{public,private}.{csv,json,md,html}`, an index, and the gradebook CSV.

The HTML is self-contained (inline CSS, no scripts, no CDN) so it opens from disk and on any static host.
"""

from __future__ import annotations

import csv
import html
import json
from datetime import datetime
from pathlib import Path

from ..leaderboard import Board, Row

COLUMNS = ["rank", "name", "score", "entries", "last", "points", "levels"]

_CSS = """body{font-family:system-ui,sans-serif;margin:2rem auto;max-width:60rem;padding:0 1rem;color:#222}
table{border-collapse:collapse;width:100%}th,td{padding:.35rem .6rem;border-bottom:1px solid #ddd;text-align:left}
th{background:#f4f4f4}tr.baseline td{background:#fff6d6;font-style:italic}td.num{text-align:right;font-variant-numeric:tabular-nums}
nav a{margin-right:1rem}caption{text-align:left;font-weight:600;margin-bottom:.5rem}"""


def _cells(r: Row) -> list[str]:
    return ["" if r.rank is None else str(r.rank), r.name, f"{r.score:.5f}", "" if r.baseline else str(r.entries),
            r.last.strftime("%Y-%m-%d %H:%M") if r.last else "", "" if r.baseline else f"{r.points:g}",
            " ".join(r.levels)]


def _page(title: str, body: str) -> str:
    return (f"<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\">"
            f"<meta name=\"viewport\" content=\"width=device-width,initial-scale=1\">"
            f"<title>{html.escape(title)}</title><style>{_CSS}</style></head><body>{body}</body></html>\n")


def write_board(board: Board, spec, out: Path, course_name: str) -> list[Path]:
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
    head = "".join(f"<th scope=\"col\">{c}</th>" for c in COLUMNS)
    body_rows = []
    for r in board.rows:
        cls = ' class="baseline"' if r.baseline else ""
        tds = "".join(f'<td class="num">{html.escape(c)}</td>' if i in (0, 2, 3, 5) else f"<td>{html.escape(c)}</td>"
                      for i, c in enumerate(_cells(r)))
        body_rows.append(f"<tr{cls}>{tds}</tr>")
    other = "private" if board.board == "public" else "public"
    body = (f"<nav><a href=\"../index.html\">All homeworks</a><a href=\"{other}.html\">{other} board</a></nav>"
            f"<h1>{html.escape(course_name)} — {html.escape(spec.title)}</h1>"
            f"<table><caption>{board.board.title()} leaderboard · {board.metric} "
            f"({'higher' if board.higher_is_better else 'lower'} is better)</caption>"
            f"<thead><tr>{head}</tr></thead><tbody>{''.join(body_rows)}</tbody></table>")
    stem.with_suffix(".html").write_text(_page(f"{spec.short} {board.board}", body), encoding="utf-8")
    return [stem.with_suffix(s) for s in (".csv", ".json", ".md", ".html")]


def write_index(entries, out: Path, course_name: str, now: datetime) -> list[Path]:
    out.mkdir(parents=True, exist_ok=True)
    md = [f"# {course_name} — leaderboards", "", f"Published {now:%Y-%m-%d %H:%M %Z}", "",
          "| homework | teams | best public | boards |", "|---|---|---|---|"]
    items = []
    for spec, boards in entries:
        pub = boards[0]
        best = pub.students[0].score if pub.students else None
        links = " · ".join(f"[{b.board}]({spec.short}/{b.board}.md)" for b in boards)
        md.append(f"| {spec.title} | {len(pub.students)} | {'' if best is None else f'{best:.5f}'} | {links} |")
        hl = " · ".join(f'<a href="{spec.short}/{b.board}.html">{b.board}</a>' for b in boards)
        items.append(f"<tr><td>{html.escape(spec.title)}</td><td class=\"num\">{len(pub.students)}</td>"
                     f"<td class=\"num\">{'' if best is None else f'{best:.5f}'}</td><td>{hl}</td></tr>")
    (out / "index.md").write_text("\n".join(md) + "\n", encoding="utf-8")
    body = (f"<h1>{html.escape(course_name)} — leaderboards</h1><table><thead><tr><th scope=\"col\">homework</th>"
            f"<th scope=\"col\">teams</th><th scope=\"col\">best public</th><th scope=\"col\">boards</th></tr></thead>"
            f"<tbody>{''.join(items)}</tbody></table>")
    (out / "index.html").write_text(_page(course_name, body), encoding="utf-8")
    return [out / "index.md", out / "index.html"]


def write_gradebook(table: list[dict], out: Path) -> Path:
    cols: list[str] = []
    for r in table:
        cols += [k for k in r if k not in cols]
    out.parent.mkdir(parents=True, exist_ok=True)
    with open(out, "w", newline="", encoding="utf-8") as f:
        w = csv.DictWriter(f, fieldnames=cols, restval=0)
        w.writeheader()
        w.writerows(table)
    return out
