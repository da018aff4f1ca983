import json

import pytest

from grader import api
from grader.calibrate import verify
from grader.errors import GradeError
from grader.spec import LEVELS


def test_calibrate_records_thresholds_from_reference_runs(calibrated):
    rows = {(b.level, b.board): b for b in calibrated.store.baselines("hw99")}
    assert set(rows) == {(lv, b) for lv in LEVELS for b in ("public", "private")}
    for b in rows.values():
        # lower is better: the threshold is the reference score relaxed by the 1% slack
        assert b.threshold == pytest.approx(b.score * 1.01)
    scores = [rows[(lv, "public")].score for lv in LEVELS]
    assert scores == sorted(scores, reverse=True), "each level beats the one below"
    saved = json.loads((calibrated.calibration_dir("hw99") / "calibration.json").read_text())
    assert saved["thresholds"]["boss/private"] == pytest.approx(rows[("boss", "private")].threshold)


def test_verify_passes_and_checks_the_starter(calibrated):
    rep = api.verify(calibrated, "hw99")
    assert rep.ok, rep.problems
    starter = rep.runs["starter"]
    assert starter.public == pytest.approx(rep.runs["simple"].public)
    assert (calibrated.calibration_dir("hw99") / "starter" / "HW99.ipynb").is_file()


def test_verify_needs_calibration(course):
    with pytest.raises(GradeError, match="not calibrated yet"):
        api.verify(course, "hw99")


def test_broken_ladder_is_refused_and_nothing_recorded(course, monkeypatch):
    spec = api.assignment("hw99")
    swapped = dict(spec.baselines)
    swapped["medium"], swapped["strong"] = spec.baselines["strong"], spec.baselines["medium"]
    bad = spec.model_copy(update={"baselines": swapped})
    monkeypatch.setattr(api, "assignment", lambda hw: bad)
    with pytest.raises(GradeError, match="strong .* is not better than medium"):
        api.calibrate(course, "hw99")
    assert course.store.baselines("hw99") == []


def test_verify_detects_irreproducible_scores(calibrated, monkeypatch):
    from grader.store import Baseline

    with calibrated.store.session() as s:
        b = s.get(Baseline, ("hw99", "boss", "public", ""))  # "": the main metric
        b.score *= 0.5  # as if the recorded run had been much better than what re-runs give
    rep = verify(calibrated, api.assignment("hw99"))
    assert not rep.ok and any("boss scored" in p and "tolerance" in p for p in rep.problems)


def test_a_crashing_reference_is_reported(course, monkeypatch, tmp_path):
    spec = api.assignment("hw99")
    crash = tmp_path / "crash.py"
    crash.write_text("raise SystemExit('boom: no GPU here')\n")
    refs = dict(spec.baselines)
    refs["boss"] = refs["boss"].model_copy(update={"solution": str(crash), "args": []})
    monkeypatch.setattr(api, "assignment", lambda hw: spec.model_copy(update={"baselines": refs}))
    with pytest.raises(GradeError, match="boss: exit code 1: boom: no GPU here"):
        api.calibrate(course, "hw99")


def test_calibrate_with_the_starter_proves_the_ladder_in_one_pass(course, monkeypatch, tmp_path):
    rep = api.calibrate(course, "hw99", with_starter=True)
    assert rep.ok and "starter" in rep.runs and course.store.baselines("hw99")
    # a starter that already does the homework (the features used) is refused, nothing recorded
    spec = api.assignment("hw99")
    solved = tmp_path / "solved.py"
    solved.write_text((spec.folder / spec.starter.source).read_text().replace(
        "return np.full(len(test), train[:, -1].mean())",
        "X, y = train[:, 1:-1], train[:, -1]\n"
        "    w = np.linalg.lstsq(np.c_[X, np.ones(len(X))], y, rcond=None)[0]\n"
        "    return np.c_[test[:, 1:], np.ones(len(test))] @ w"))
    other = course.__class__.init(tmp_path / "other")
    bad = spec.model_copy(update={"starter": spec.starter.model_copy(update={"source": str(solved)})})
    monkeypatch.setattr(api, "assignment", lambda hw: bad)
    with pytest.raises(GradeError, match="unchanged starter .* already reaches medium"):
        api.calibrate(other, "hw99", with_starter=True)
    assert other.store.baselines("hw99") == []


def test_verify_all_calibrates_then_verifies_and_a_broken_homework_is_only_its_own_row(tmp_path, monkeypatch):
    """`grade verify --all`: one pass per homework — calibrate-with-starter where nothing is recorded for
    the current data, verify where it is; a homework whose reference is missing fails alone."""
    import shutil

    from click.testing import CliRunner

    from grader import catalog
    from grader.cli import main
    from grader.course import Course

    from .conftest import TOY_ROOT

    root = tmp_path / "assignments"
    shutil.copytree(TOY_ROOT / "hw99_toy", root / "hw99_toy")
    shutil.copytree(TOY_ROOT / "hw99_toy", root / "hw95_broken")
    y = root / "hw95_broken" / "assignment.yaml"
    y.write_text(y.read_text().replace("id: hw99_toy", "id: hw95_broken").replace("number: 99", "number: 95")
                 .replace("solution: tests/fixtures/toy_solution.py, args: [--level, boss]",
                          "solution: tests/fixtures/no_such_solution.py, args: [--level, boss]"))
    monkeypatch.setenv("GRADE_ASSIGNMENTS", str(root))
    catalog._load_all.cache_clear()
    c = Course.init(tmp_path / "course")

    def verify_all():
        r = CliRunner().invoke(main, ["verify", "--all", "--json", "--course", str(c.root)], catch_exceptions=False)
        return r.exit_code, {h["hw"]: h for h in json.loads(r.output)["homeworks"]}

    code, rows = verify_all()
    assert code == 1 and rows["hw99"]["mode"] == "calibrated" and rows["hw95"]["mode"] == "failed"
    assert any("no_such_solution.py" in p for p in rows["hw95"]["problems"]), rows["hw95"]
    code, rows = verify_all()
    assert rows["hw99"]["mode"] == "verified" and rows["hw99"]["problems"] == []
    r = CliRunner().invoke(main, ["verify", "--course", str(c.root)])
    assert r.exit_code == 2 and "name one homework, or pass --all" in r.output


def test_slack_and_gaps_are_measured_by_the_scores_size_also_when_it_is_negative():
    """HW12's mean rewards are negative below boss: a threshold relaxed by 1 % must lie below its score,
    and 'better by 3 %' must mean 3 % of the score's size, whatever its sign."""
    from grader.calibrate import _relax
    from grader.scoring import metrics

    higher, lower = metrics.get("mean"), metrics.get("mse")
    assert _relax(higher, -50.0, 0.01) == pytest.approx(-50.5) and _relax(higher, 50.0, 0.01) == pytest.approx(49.5)
    assert _relax(lower, 2.0, 0.01) == pytest.approx(2.02) and _relax(lower, -2.0, 0.01) == pytest.approx(-1.98)
    assert higher.reaches(-50.0, _relax(higher, -50.0, 0.01)), "a reference reaches its own level"
    assert _relax(higher, -100.0, -0.03) == pytest.approx(-97.0), "the level above must reach -97"
