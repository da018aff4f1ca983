"""A homework graded as the course graded its Gradescope quizzes (HW9, HW14's questions): an answer
sheet, the all-correct-options rule with points per question, no leaderboard, scores after the deadline,
the latest submission counts."""

from __future__ import annotations

import json

import pytest

from grader import api
from grader.course import Course
from grader.errors import GradeError, Refused

from .conftest import AFTER, BEFORE, at


@pytest.fixture
def quiz(tmp_path, toy) -> Course:
    c = Course.init(tmp_path / "course", homeworks={"hw97": {"deadline": "2022-02-23T23:59:00"}})
    api.prepare(c, "hw97")
    return c


def keys(course) -> dict[str, str]:
    rows = (course.data_dir("hw97") / "hidden" / "answers.csv").read_text().splitlines()[1:]
    return dict(r.split(",") for r in rows)


def send(course, student, sheet, when=BEFORE):
    return api.submit(course, "hw97", None, student, now=at(course, when), data=json.dumps(sheet).encode(),
                      filename="answers.json")


def test_scores_wait_for_the_deadline_and_the_latest_sheet_counts(quiz):
    k = keys(quiz)
    perfect = {q: list(a) for q, a in k.items()}
    half = dict(perfect, **{"cnn-1": "D" if k["cnn-1"] != "D" else "C", "bert-2": []})
    r = send(quiz, "s1", perfect)
    assert r.status == "scored" and r.public is None and "shown after the deadline" in r.message
    assert [row["public"] for row in api.status(quiz, "s1", now=at(quiz, BEFORE))] == [None]
    send(quiz, "s1", half)  # the later sheet is the one graded
    send(quiz, "s2", perfect)
    book = {row["student_id"]: row for row in api.gradebook(quiz, now=at(quiz, AFTER))}
    assert book["s1"]["hw97_points"] == pytest.approx(4 * 0.3 + 2 * 0.4 - 0.3 - 0.4)
    assert book["s2"]["hw97_points"] == pytest.approx(2.0)
    assert "hw97_points" not in {k for row in api.gradebook(quiz, now=at(quiz, BEFORE)) for k in row}
    assert api.status(quiz, "s2", now=at(quiz, AFTER))[0]["public"] is not None


def test_an_answer_needs_exactly_the_right_options(quiz):
    k = keys(quiz)
    extra_option = {q: sorted(set(a) | {"A", "B"}) if len(set(a) | {"A", "B"}) > len(a) else list(a)
                    for q, a in k.items()}
    send(quiz, "s3", extra_option)
    book = {row["student_id"]: row for row in api.gradebook(quiz, now=at(quiz, AFTER))}
    right = sum(0.3 if q.startswith("cnn") else 0.4 for q, a in k.items() if set(extra_option[q]) == set(a))
    assert book["s3"]["hw97_points"] == pytest.approx(right)


def test_malformed_sheets_are_rejected_with_their_problems(quiz):
    r = send(quiz, "s4", {"cnn-1": "Z", "cnn-9": "A"})
    assert r.status == "rejected"
    assert "5 question(s) unanswered: cnn-2, cnn-3, cnn-4, bert-1, bert-2" in r.message
    assert "1 unknown question(s): cnn-9" in r.message and 'cnn-1: "Z"' in r.message
    bad = api.submit(quiz, "hw97", None, "s4", now=at(quiz, BEFORE), data=b'{"cnn-1": ', filename="answers.json")
    assert bad.status == "rejected" and "line 1: not valid JSON" in bad.message


def test_no_ladder_and_no_boards(quiz, tmp_path):
    with pytest.raises(GradeError, match="no leaderboard and no ladder"):
        api.calibrate(quiz, "hw97")
    send(quiz, "s1", {q: "A" for q in keys(quiz)})
    with pytest.raises(Refused, match="without a leaderboard"):
        api.leaderboard(quiz, "hw97")
    assert not any("hw97" in str(p) for p in api.publish(quiz, tmp_path / "site", now=at(quiz, AFTER)))
    dest = api.release(quiz, "hw97", tmp_path / "rel")
    assert api.check("hw97", dest / "sample_submission.json", dest) == []


def test_a_quiz_spec_cannot_carry_a_ladder_or_a_non_additive_metric():
    from grader.config import validate
    from grader.spec import AssignmentSpec, load_spec

    from .conftest import TOY_ROOT

    raw = load_spec(TOY_ROOT / "hw97_toy_quiz").model_dump(exclude={"folder"})
    with pytest.raises(Exception, match="must add up"):
        validate(AssignmentSpec, {**raw, "metric": {"name": "accuracy"}}, TOY_ROOT / "x.yaml")


def test_hidden_check_points_reach_the_code_column(quiz):
    """A quiz homework with code (HW9): the batch's hidden-check points are its code column."""
    from grader.store import BatchResult

    send(quiz, "s5", {q: list(a) for q, a in keys(quiz).items()})
    with quiz.store.session() as s:
        s.add(BatchResult(hw="hw97", student_id="s5", sha256="0" * 64, status="graded", rerun_status="mismatch",
                          rerun_message="cnn-1: uploaded B, regenerated C", hidden_points=1.5))
    row = {r["student_id"]: r for r in api.gradebook(quiz, now=at(quiz, AFTER))}["s5"]
    assert row["hw97_code"] == 1.5 and row["hw97_rerun"] == "mismatch" and "cnn-1" in row["hw97_rerun_evidence"]
    assert row["hw97_total"] == pytest.approx(row["hw97_points"] + 1.5)


def test_an_edited_sheet_is_a_mismatch_with_evidence(quiz, tmp_path):
    """The rerun comparison of answer sheets: string answers, named in the evidence."""
    from grader.execution import compare

    k = {q: list(a) for q, a in keys(quiz).items()}
    edited = dict(k, **{"cnn-1": ["D"] if k["cnn-1"] != ["D"] else ["C"]})
    regenerated = tmp_path / "answers.json"
    regenerated.write_text(json.dumps(k))
    r = compare(quiz, api.assignment("hw97"), json.dumps(edited).encode(), regenerated)
    assert r.status == "mismatch" and r.rows_differ == 1, r
    assert r.examples[0][0] == "cnn-1" and isinstance(r.examples[0][1], str), r.examples
    assert compare(quiz, api.assignment("hw97"), json.dumps(k).encode(), regenerated).status == "match"
