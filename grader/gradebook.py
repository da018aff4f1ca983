"""The gradebook: points per student per homework, and the files other systems import.

Per homework (the course's template: leaderboard 8 × 0.5 or 1, code 2, report 4):

    <hw>_public, <hw>_private   leaderboard points on each board that is final
    <hw>_leaderboard            their sum
    <hw>_code                   code points: set by hand (`grade adjust`), else the hidden checks' points
    <hw>_report                 report points (`grade import-scores` from Gradescope, or `grade adjust`)
    <hw>_bonus                  e.g. the top-3 method report
    <hw>_penalty                a multiplier (the course's ×0.9 for a broken rule), 1 when none; 0 when a
                                gate check failed (`execution.gate`), unless set by hand
    <hw>_gate                   which gate check failed, and why (empty when none did)
    <hw>_total                  (leaderboard + code + report + bonus) × penalty
    total                       the homeworks' totals × a course-level penalty (`grade adjust course …`)

A homework without a leaderboard contributes `<hw>_points` (its latest submission's score) to its total.
Exports: `csv` (all columns), `canvas` / `cool` (NTU COOL runs Canvas: its gradebook-import CSV, one
column per homework total, with the "Points Possible" row), and Gradescope `results.json` per submission.
"""

from __future__ import annotations

import csv
import json
from pathlib import Path

from .spec import LEVELS

KINDS = ("code", "report", "bonus", "penalty")


def max_points(spec) -> float:
    if not spec.leaderboard:  # the questions' 10 points, and the hidden checks' points where there is code
        return spec.points.questions + sum(spec.execution.points.values())
    return 2 * len(LEVELS) * spec.points.per_level_per_board + spec.points.code + spec.points.report


def add_totals(rows: dict[str, dict], specs, adjustments) -> None:
    """Fill code/report/bonus/penalty/total columns from the adjustments (hw, student, kind) → value."""
    adj: dict[tuple[str, str, str], float] = {(a.hw, a.student_id, a.kind): a.value for a in adjustments}
    for sid, r in rows.items():
        grand = 0.0
        for spec in specs:
            h = spec.short
            base = r.get(f"{h}_leaderboard", 0.0) if spec.leaderboard else r.get(f"{h}_points", 0.0)
            code = adj.get((h, sid, "code"), r.get(f"{h}_hidden") or 0.0)
            report = adj.get((h, sid, "report"), 0.0)
            bonus = adj.get((h, sid, "bonus"), 0.0)
            penalty = adj.get((h, sid, "penalty"), 0.0 if r.get(f"{h}_gate") else 1.0)
            r.update({f"{h}_code": code, f"{h}_report": report, f"{h}_bonus": bonus, f"{h}_penalty": penalty,
                      f"{h}_total": round((base + code + report + bonus) * penalty, 3)})
            grand += r[f"{h}_total"]
        r["total"] = round(grand * adj.get(("course", sid, "penalty"), 1.0), 3)


def gate_failures(spec, batch_results, checks) -> dict[str, str]:
    """Students whose re-executed code failed one of the homework's gate checks → which and why.

    A gate counts only for code that was re-executed (`grade batch --rerun`); a gate check that did not
    pass — failed, errored, or never ran because the run crashed — fails the gate."""
    gate = spec.execution.gate
    if not gate:
        return {}
    outcome = {(c.student_id, c.test): c for c in checks}
    out = {}
    for b in batch_results:
        if not b.rerun_status:
            continue
        why = []
        for test in gate:
            c = outcome.get((b.student_id, test))
            if c is None:
                why.append(f"{test}: did not run ({b.rerun_status})")
            elif c.status != "passed":
                why.append(f"{test}: {c.status}" + (f" ({c.message.strip().splitlines()[0][:200]})" if c.message.strip() else ""))
        if why:
            out[b.student_id] = "; ".join(why)
    return out


def write(table: list[dict], specs, out: Path, fmt: str = "csv") -> Path:
    out.parent.mkdir(parents=True, exist_ok=True)
    if fmt == "csv":
        cols: list[str] = []
        for r in table:
            cols += [k for k in r if k not in cols]
        with open(out, "w", newline="", encoding="utf-8") as f:
            w = csv.DictWriter(f, fieldnames=cols, restval=0)
            w.writeheader()
            w.writerows(table)
        return out
    if fmt in ("canvas", "cool"):
        return _canvas(table, specs, out)
    raise ValueError(f"unknown gradebook format {fmt!r}: csv, canvas or cool")


def _canvas(table: list[dict], specs, out: Path) -> Path:
    """Canvas's gradebook import: Student, ID, SIS User ID, SIS Login ID, Section, then one column per
    assignment, and a "Points Possible" row under the header. NTU COOL is Canvas: the student id is the SIS
    User ID and the login. (Canvas matches rows by SIS User ID; its own numeric ID may stay empty.)"""
    heads = ["Student", "ID", "SIS User ID", "SIS Login ID", "Section"] + [f"{s.title} ({s.short})" for s in specs]
    with open(out, "w", newline="", encoding="utf-8") as f:
        w = csv.writer(f)
        w.writerow(heads)
        w.writerow(["    Points Possible", "", "", "", ""] + [f"{max_points(s):g}" for s in specs])
        for r in table:
            w.writerow([r.get("name") or r["student_id"], "", r["student_id"], r["student_id"], ""]
                       + [f"{r.get(f'{s.short}_total', 0):g}" for s in specs])
    return out


def gradescope_results(spec, sub, checks, thresholds_passed: dict[str, list[str]]) -> dict:
    """Gradescope's autograder `results.json` for one submission: the tests (hidden checks and the
    baselines passed per board) with score, max_score and visibility, and the leaderboard entries."""
    per = spec.points.per_level_per_board
    tests = []
    for board, passed in thresholds_passed.items():
        for lv in LEVELS:
            tests.append({"name": f"{board} leaderboard: {lv} baseline", "score": per if lv in passed else 0.0,
                          "max_score": per, "visibility": "visible" if board == "public" else "after_published"})
    for c in checks:
        tests.append({"name": c.test, "score": c.points, "max_score": c.max_points, "output": c.message[:2000],
                      "visibility": "after_due_date", "status": "passed" if c.status == "passed" else "failed"})
    board = [{"name": spec.metric.name, "value": sub.public_score,
              "order": "desc" if spec.higher_is_better else "asc"}]
    return {"score": round(sum(t["score"] for t in tests), 4), "visibility": "after_due_date",
            "stdout_visibility": "hidden", "tests": tests, "leaderboard": board}


def write_gradescope(results: dict[str, dict], out_dir: Path) -> list[Path]:
    out_dir.mkdir(parents=True, exist_ok=True)
    paths = []
    for sid, res in results.items():
        p = out_dir / sid / "results.json"
        p.parent.mkdir(parents=True, exist_ok=True)
        p.write_text(json.dumps(res, indent=1))
        paths.append(p)
    return paths
