"""The gradebook and its exports; hand-given points and penalties; regrades that keep them."""

from __future__ import annotations

import csv
import json

import pytest

from grader import api
from grader.errors import GradeError

from .conftest import AFTER, at
from .test_submit import sub, variant


@pytest.fixture
def graded(calibrated):
    for k, level in enumerate(["boss", "strong", "medium"]):
        api.add_student(calibrated, f"s{k}", name=f"Student {k}")
        sub(calibrated, f"s{k}", variant(calibrated, level, k))
    return calibrated


def book(course) -> dict[str, dict]:
    return {r["student_id"]: r for r in api.gradebook(course, now=at(course, AFTER))}


def test_totals_add_code_report_and_bonus_and_apply_penalties(graded):
    api.adjust(graded, "hw99", "s0", {"code": 2, "report": 3.5})
    api.adjust(graded, "hw99", "s1", {"report": 4, "bonus": 0.5, "penalty": 0.9}, reason="shared code with s2")
    api.adjust(graded, "course", "s1", {"penalty": 0.9}, reason="the course rule: semester grade × 0.9")
    b = book(graded)
    assert b["s0"]["hw99_total"] == pytest.approx(b["s0"]["hw99_leaderboard"] + 2 + 3.5)
    assert b["s1"]["hw99_total"] == pytest.approx((b["s1"]["hw99_leaderboard"] + 4 + 0.5) * 0.9)
    assert b["s1"]["total"] == pytest.approx(b["s1"]["hw99_total"] * 0.9)
    assert b["s2"]["hw99_penalty"] == 1.0 and b["s2"]["hw99_report"] == 0.0
    with pytest.raises(GradeError, match="between 0 and 1"):
        api.adjust(graded, "hw99", "s0", {"penalty": 1.5})


def test_report_scores_import_from_a_csv(graded, tmp_path):
    f = tmp_path / "gradescope.csv"
    f.write_text("Name,SID,Total Score\nStudent 0,s0,3.25\nStudent 2,s2,4\n")
    assert api.import_scores(graded, "hw99", f) == 2
    b = book(graded)
    assert (b["s0"]["hw99_report"], b["s2"]["hw99_report"], b["s1"]["hw99_report"]) == (3.25, 4.0, 0.0)
    bad = tmp_path / "bad.csv"
    bad.write_text("student_id,points\ns0,three\n")
    with pytest.raises(GradeError, match="line 2: 'three' is not a number"):
        api.import_scores(graded, "hw99", bad)


def test_the_canvas_export_is_what_canvas_imports(graded, tmp_path):
    api.gradebook(graded, tmp_path / "cool.csv", now=at(graded, AFTER), fmt="cool")
    rows = list(csv.reader((tmp_path / "cool.csv").read_text().splitlines()))
    assert rows[0][:5] == ["Student", "ID", "SIS User ID", "SIS Login ID", "Section"]
    assert rows[0][5] == "HW99 · Toy regression (hw99)"
    assert rows[1][0].strip() == "Points Possible" and float(rows[1][5]) == 4 + 2 + 4  # toy: 8 × 0.5, code, report
    by_sis = {r[2]: float(r[5]) for r in rows[2:]}
    assert by_sis == {sid: r["hw99_total"] for sid, r in book(graded).items()}


def test_gradescope_results_follow_the_autograder_format(graded, tmp_path):
    files = api.gradescope_export(graded, "hw99", tmp_path / "gs", now=at(graded, AFTER))
    assert len(files) == 3
    res = json.loads((tmp_path / "gs" / "s0" / "results.json").read_text())
    assert set(res) >= {"score", "tests", "leaderboard"}
    for t in res["tests"]:
        assert isinstance(t["name"], str) and isinstance(t["score"], float) and isinstance(t["max_score"], float)
        assert t["visibility"] in {"hidden", "after_due_date", "after_published", "visible"}
    assert res["score"] == pytest.approx(sum(t["score"] for t in res["tests"]))
    assert res["leaderboard"][0]["order"] == "asc" and isinstance(res["leaderboard"][0]["value"], float)


def test_a_regrade_after_an_answer_fix_rescores_and_keeps_hand_given_points(graded):
    api.adjust(graded, "hw99", "s0", {"report": 3.0, "penalty": 0.9})
    scores_before = {s.id: s.public_score for s in graded.store.submissions("hw99")}
    answers = graded.data_dir("hw99") / "hidden" / "answers.csv"
    rows = answers.read_text().splitlines()
    fixed = [rows[0]] + [f"{i},{float(v) + 0.5:.6f}" for i, v in (r.split(",") for r in rows[1:])]
    answers.write_text("\n".join(fixed) + "\n")  # the key had been shifted; the fix moves every answer
    changes = api.regrade(graded, "hw99", student=None)
    assert {c["student"] for c in changes} == {"s0", "s1", "s2"} and all(c["what"] == "score" for c in changes)
    after = book(graded)
    assert after["s0"]["hw99_report"] == 3.0 and after["s0"]["hw99_penalty"] == 0.9
    subs = {s.student_id: s for s in graded.store.submissions("hw99")}
    assert len(subs) == 3 and len(graded.store.events("regrade")) == 3
    assert all(subs[s].public_score != scores_before[subs[s].id] for s in subs), "scored against the fixed key"
    assert api.regrade(graded, "hw99", "s0") == [], "nothing changed since"


@pytest.mark.slow
def test_a_regrade_re_executes_rerun_entries_and_keeps_hand_given_points(calibrated, tmp_path):
    from grader.notebook import write_notebook
    from grader.sandbox.registry import available_backends

    backend = next((b for b in ("bwrap", "docker") if b in available_backends()), None)
    if backend is None:
        pytest.skip("no sandbox backend (bwrap or docker) works on this machine")
    spec = api.assignment("hw99")
    d = tmp_path / "class" / "s9"
    d.mkdir(parents=True)
    (d / "pred.csv").write_text((calibrated.calibration_dir("hw99") / "simple" / "pred.csv").read_text())
    write_notebook(spec.folder / spec.starter.source, d / "HW99.ipynb")
    (first,) = api.batch(calibrated, "hw99", tmp_path / "class", rerun=True, backend=backend)
    assert first.rerun == "match"
    api.adjust(calibrated, "hw99", "s9", {"report": 3.5, "code": 1.0}, reason="code review")
    graded_at = calibrated.store.batch_results("hw99")[0].graded_at
    api.regrade(calibrated, "hw99", "s9", backend=backend)
    (row,) = calibrated.store.batch_results("hw99")
    assert row.graded_at > graded_at and row.rerun_status == "match", "re-executed from where it was graded"
    b = book(calibrated)["s9"]
    assert (b["hw99_report"], b["hw99_code"]) == (3.5, 1.0), "hand-given points survive the regrade"


def test_a_failed_gate_check_zeroes_the_homework_unless_a_ta_decides_otherwise(graded, monkeypatch):
    """HW13's rule (over the parameter budget: 0 points), on the toy: `execution.gate` names a check; the
    students whose re-executed code failed it, or whose run never got to it, get a penalty of 0 and the
    reason in `<hw>_gate`; code that was not re-executed is not judged by the gate."""
    from grader.store import BatchResult, CheckResult

    spec = api.assignment("hw99")
    monkeypatch.setattr(spec.execution, "gate", ["test_shapes"])
    with graded.store.session() as s:
        for sid, rerun, shapes in (("s0", "match", "passed"), ("s1", "match", "failed"), ("s2", "error", None)):
            s.add(BatchResult(hw="hw99", student_id=sid, sha256=sid * 8, status="scored", rerun_status=rerun,
                              hidden_points=1.0))
            if shapes:
                s.add(CheckResult(hw="hw99", student_id=sid, test="test_shapes", status=shapes,
                                  message="AssertionError: 30001 parameters, at most 25000" if shapes == "failed"
                                  else "", points=0.5 if shapes == "passed" else 0.0, max_points=0.5))
    b = book(graded)
    assert b["s0"]["hw99_penalty"] == 1.0 and not b["s0"].get("hw99_gate")
    assert b["s0"]["hw99_total"] == pytest.approx(b["s0"]["hw99_leaderboard"] + 1.0)
    assert b["s1"]["hw99_penalty"] == 0.0 and b["s1"]["hw99_total"] == 0.0
    assert b["s1"]["hw99_gate"] == "test_shapes: failed (AssertionError: 30001 parameters, at most 25000)"
    assert b["s2"]["hw99_total"] == 0.0 and b["s2"]["hw99_gate"] == "test_shapes: did not run (error)"
    api.adjust(graded, "hw99", "s2", {"penalty": 1.0}, reason="the budget was met; the run failed on our side")
    b = book(graded)
    assert b["s2"]["hw99_penalty"] == 1.0 and b["s2"]["hw99_total"] > 0, "a TA's decision wins over the gate"


def test_a_gate_must_name_a_hidden_check():
    from grader.spec import ExecutionSpec

    ExecutionSpec(points={"test_budget": 0.5}, gate=["test_budget"])
    with pytest.raises(ValueError, match="gate: \\['test_budgte'\\] are not hidden checks"):
        ExecutionSpec(points={"test_budget": 0.5}, gate=["test_budgte"])
