"""The published leaderboard site: self-contained pages in the style the class knows from Kaggle.

    <site>/index.html                 every homework: deadline, teams, best public score, baselines
    <site>/<hw>/index.html            public and private tabs (rank, name, score, entries, last submission,
                                      baselines passed, points; baseline rows highlighted; sortable), plots
    <site>/<hw>/{public,private}.html the same page opened on that tab
    <site>/students/<key>.html        with `site.student_pages`: one student's results, reachable only by its
                                      private link (the key is an HMAC of the student id with the course secret)
    <site>/assets/site.{css,js}       shipped in the package: nothing is fetched from anywhere

It opens from disk or any static host, reads on a phone, and labels follow `site.language`.
"""

from __future__ import annotations

import hashlib
import hmac
import html
import shutil
from datetime import datetime
from pathlib import Path

from ..leaderboard import Board
from ..spec import LEVELS
from . import plots
from .i18n import labels

ASSETS = Path(__file__).with_name("assets")


def _esc(x) -> str:
    return html.escape(str(x))


def page(title: str, body: str, lang: str, depth: int) -> str:
    up = "../" * depth
    return (f'<!doctype html><html lang="{lang}"><head><meta charset="utf-8">'
            f'<meta name="viewport" content="width=device-width,initial-scale=1">'
            f"<title>{_esc(title)}</title><link rel=\"stylesheet\" href=\"{up}assets/site.css\">"
            f'<script src="{up}assets/site.js" defer></script></head><body>{body}</body></html>\n')


def copy_assets(out: Path) -> list[Path]:
    dest = out / "assets"
    dest.mkdir(parents=True, exist_ok=True)
    written = []
    for f in sorted(ASSETS.iterdir()):
        shutil.copy2(f, dest / f.name)
        written.append(dest / f.name)
    return written


def _fmt(score: float | None, digits: int = 5) -> str:
    return "" if score is None else f"{score:.{digits}f}"


def board_table(board: Board, spec, L: dict, me: str | None = None) -> str:
    also = [ms.name for ms in spec.also]
    cols = ["rank", "name", "score", *also, "entries", "last", "levels", "points"]
    heads = "".join(f'<th scope="col">{_esc(L.get(c, c))}</th>' for c in cols)
    body = []
    for r in board.rows:
        cls = "baseline" if r.baseline else ("me" if me and r.student_id == me else "")
        cells = [("num", "" if r.rank is None else r.rank, r.rank if r.rank is not None else ""),
                 ("", f"{r.name}" + (f" ({L['baseline']})" if r.baseline else ""), r.name),
                 ("num", _fmt(r.score), r.score)]
        cells += [("num", _fmt(r.also.get(a), 4), r.also.get(a, "")) for a in also]
        cells += [("num", "" if r.baseline else r.entries, "" if r.baseline else r.entries),
                  ("", r.last.strftime("%Y-%m-%d %H:%M") if r.last else "", r.last.isoformat() if r.last else ""),
                  ("", " ".join(r.levels), len(r.levels)),
                  ("num", "" if r.baseline else f"{r.points:g}", "" if r.baseline else r.points)]
        tds = "".join(f'<td class="{c}" data-sort="{_esc(s)}">{_esc(v)}</td>' for c, v, s in cells)
        body.append(f'<tr class="{cls}">{tds}</tr>')
    caption = f"{L['metric']}: {board.metric} ({L['higher'] if board.higher_is_better else L['lower']})"
    if also:
        caption += f"; {L['also']}: {', '.join(also)}"
    return (f'<div class="table-wrap"><table class="sortable"><caption class="meta">{_esc(caption)}</caption>'
            f"<thead><tr>{heads}</tr></thead><tbody>{''.join(body)}</tbody></table></div>")


def _figure(svg: str, caption: str) -> str:
    return f"<figure>{svg}<figcaption>{_esc(caption)}</figcaption></figure>"


def homework_plots(spec, boards: dict[str, Board], times: list[datetime], deadline, names, L) -> str:
    public = boards["public"]
    th = {r.baseline: r.score for r in public.rows if r.baseline}
    figs = [_figure(plots.distribution([r.score for r in public.students], th, public.metric, L["distribution"]),
                    L["distribution"]),
            _figure(plots.rush(times, deadline, L["rush"]), L["rush"])]
    counts = {b: {lv: sum(lv in r.levels for r in board.students) for lv in LEVELS} for b, board in boards.items()}
    if "private" in boards:
        priv = boards["private"]
        figs.append(_figure(plots.shakeup({r.student_id: r.rank for r in public.students},
                                          {r.student_id: r.rank for r in priv.students}, names, L["shakeup"]),
                            L["shakeup"]))
    figs.append(_figure(plots.passing(counts, len(public.students), L["passing"]), L["passing"]))
    return f'<div class="plots">{"".join(figs)}</div>'


def write_homework(spec, boards: dict[str, Board], times, deadline, course_name: str, language: str,
                   names: dict[str, str], out: Path) -> list[Path]:
    """<hw>/index.html with a tab per board, and public.html / private.html opened on their tab."""
    L = labels(language)
    out.mkdir(parents=True, exist_ok=True)
    tabs, panels = [], []
    for name in ("public", "private"):
        tid, pid = f"tab-{name}", f"panel-{name}"
        tabs.append(f'<button role="tab" id="{tid}" aria-controls="{pid}" data-board="{name}">{_esc(L[name])}</button>')
        content = board_table(boards[name], spec, L) if name in boards else f'<p class="meta">{_esc(L["private_after"])}</p>'
        panels.append(f'<section role="tabpanel" id="{pid}" aria-labelledby="{tid}">{content}</section>')
    when = f"{L['deadline']}: {deadline:%Y-%m-%d %H:%M %Z}" if deadline else ""
    written = []
    for default in ("public", "private", None):
        body = (f'<nav><a href="../index.html">{_esc(L["all"])}</a></nav>'
                f"<h1>{_esc(spec.title)}</h1><p class=\"meta\">{_esc(course_name)} · {_esc(when)}</p>"
                f'<div role="tablist" aria-label="{_esc(L["boards"])}" data-default="{default or "public"}">'
                f"{''.join(tabs)}</div>{''.join(panels)}"
                f"{homework_plots(spec, boards, times, deadline, names, L)}")
        path = out / f"{default or 'index'}.html"
        path.write_text(page(f"{spec.short} · {L['leaderboards']}", body, language, 1), encoding="utf-8")
        written.append(path)
    return written


def write_index(entries, out: Path, course_name: str, language: str, now: datetime) -> Path:
    """entries: (spec, boards, deadline)."""
    L = labels(language)
    rows = []
    for spec, boards, deadline in entries:
        pub = boards["public"]
        best = pub.students[0].score if pub.students else None
        th = " · ".join(f"{r.baseline} {r.score:.4g}" for r in pub.rows if r.baseline)
        links = " · ".join(f'<a href="{spec.short}/{b}.html">{_esc(L[b])}</a>' for b in ("public", "private") if b in boards)
        due = (deadline.isoformat(), f"{deadline:%Y-%m-%d %H:%M}") if deadline else ("", "")
        rows.append(f'<tr><td data-sort="{spec.number}"><a href="{spec.short}/index.html">{_esc(spec.title)}</a></td>'
                    f'<td data-sort="{due[0]}">{due[1]}</td><td class="num">{len(pub.students)}</td>'
                    f'<td class="num">{_fmt(best)}</td><td>{_esc(th)}</td><td>{links}</td></tr>')
    heads = "".join(f'<th scope="col">{_esc(L[c])}</th>' for c in ("homework", "deadline", "teams", "best", "baselines", "boards"))
    body = (f"<h1>{_esc(course_name)} — {_esc(L['leaderboards'])}</h1>"
            f"<p class=\"meta\">{_esc(L['published'])}: {now:%Y-%m-%d %H:%M %Z}</p>"
            f'<div class="table-wrap"><table class="sortable"><thead><tr>{heads}</tr></thead>'
            f"<tbody>{''.join(rows)}</tbody></table></div>")
    path = out / "index.html"
    path.write_text(page(f"{course_name} · {L['leaderboards']}", body, language, 0), encoding="utf-8")
    return path


def student_key(secret: str, student_id: str) -> str:
    """The private part of a student's page link: unguessable without the course secret."""
    return hmac.new(secret.encode(), f"site-student|{student_id}".encode(), hashlib.sha256).hexdigest()[:32]


def write_student(student_id: str, name: str, sections: list[tuple], key: str, course_name: str, language: str,
                  out: Path) -> Path:
    """sections: (spec, {board: Row | None}, [status rows]) per homework."""
    L = labels(language)
    parts = [f"<h1>{_esc(course_name)} — {_esc(L['your_page'])}</h1><p class=\"meta\">{_esc(name)} ({_esc(student_id)})</p>"]
    for spec, rows, subs in sections:
        parts.append(f"<h2>{_esc(spec.title)}</h2>")
        for board, r in rows.items():
            if r is not None:
                parts.append(f"<p>{_esc(L[board])}: {_esc(L['rank'])} {r.rank} · {_esc(L['score'])} {_fmt(r.score)} · "
                             f"{_esc(L['levels'])}: {_esc(' '.join(r.levels) or '—')} · {_esc(L['points'])} {r.points:g}</p>")
        heads = "".join(f'<th scope="col">{_esc(L[c])}</th>' for c in ("at", "status", "public", "private", "final"))
        trs = "".join(f"<tr><td>{_esc(s['at'])}</td><td>{_esc(s['status'])}</td>"
                      f"<td class=\"num\">{_fmt(s['public'])}</td><td class=\"num\">"
                      f"{_fmt(s['private']) if s['private'] is not None else _esc(L['hidden'])}</td>"
                      f"<td>{'✓' if s['final'] else ''}</td></tr>" for s in subs if s["id"] != "")
        parts.append(f'<div class="table-wrap"><table class="sortable"><caption class="meta">{_esc(L["submissions"])}'
                     f"</caption><thead><tr>{heads}</tr></thead><tbody>{trs}</tbody></table></div>")
    out.mkdir(parents=True, exist_ok=True)
    path = out / f"{key}.html"
    path.write_text(page(L["your_page"], "".join(parts), language, 1).replace(
        "<head>", '<head><meta name="robots" content="noindex">', 1), encoding="utf-8")
    return path
