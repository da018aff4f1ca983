"""Leaderboard-probing defences: rounding, the Ladder, and the report of suspicious public-private gaps."""

from __future__ import annotations

import numpy as np
import pytest
import yaml

from grader import api
from grader.course import Course
from grader.probing import ladder, suspicious

from .conftest import AFTER, BEFORE, at
from .test_submit import sub, variant


def test_the_ladder_shows_only_clear_improvements():
    # lower is better (MSE): 1.0 shown; 0.99 is not better by more than 0.05; 0.9 is; 0.86 is not
    assert ladder([1.0, 0.99, 0.9, 0.86, 1.2, 0.7], higher=False, margin=0.05, digits=None) == [1.0, None, 0.9, None, None, 0.7]
    assert ladder([0.5, 0.52, 0.6], higher=True, margin=0.05, digits=2) == [0.5, None, 0.6]
    assert ladder([0.123456, None], higher=True, margin=None, digits=3) == [0.123, None]


def test_a_prober_stands_out_by_the_gap_between_boards():
    rng = np.random.default_rng(1)
    honest = [(f"s{k}", 1.0 + d, 1.0 + d + rng.normal(0, 0.02), 5) for k, d in enumerate(rng.normal(0, 0.1, 30))]
    prober = ("cheat", 0.5, 1.3, 60)  # lower is better: a public score far better than the private one
    gaps = suspicious(honest + [prober], higher=False, threshold=3.0)
    assert gaps[0].student_id == "cheat" and gaps[0].flagged
    assert not any(g.flagged for g in gaps[1:])


def _with_public_scores(course: Course, **settings) -> Course:
    cfg = yaml.safe_load(course.config_path.read_text())
    cfg["public_scores"] = settings
    course.config_path.write_text(yaml.safe_dump(cfg))
    return Course(course.root)


def test_students_see_rounded_and_laddered_scores_points_use_the_true_ones(calibrated):
    course = _with_public_scores(calibrated, digits=2, ladder_margin=0.05)
    first = sub(course, "s1", variant(course, "strong", 0))
    assert first.public == round(first.public, 2)
    close = sub(course, "s1", variant(course, "strong", 1))  # the same model again: no clear gain
    assert close.public is None and "held back" in close.message and "Ladder" in close.message
    better = sub(course, "s1", variant(course, "boss", 0))
    assert better.public is not None and better.public < first.public
    rows = api.status(course, "s1", "hw99", now=at(course, BEFORE))
    assert [r["public"] is None for r in rows] == [False, True, False]
    board = api.leaderboard(course, "hw99", "public", now=at(course, BEFORE))
    assert board.students[0].score == better.public  # shown: rounded
    true = api.leaderboard(course, "hw99", "public", now=at(course, BEFORE), shown=False)
    assert board.students[0].score == round(true.students[0].score, 2)
    assert board.students[0].points == true.students[0].points


def test_a_shown_score_never_moves_a_row_across_a_baseline(calibrated, monkeypatch):
    """However rounding or the Ladder changes what is shown (here: a perfect 0 for everyone, past every
    threshold of this lower-is-better metric), a row earns the levels its true score passes."""
    sub(calibrated, "s1", variant(calibrated, "simple", 0))
    sub(calibrated, "s2", variant(calibrated, "strong", 0))
    monkeypatch.setattr(api, "_shown_scores", lambda course, spec, subs: {s.id: 0.0 for s in subs})
    board = api.leaderboard(calibrated, "hw99", "public", now=at(calibrated, BEFORE))
    true = api.leaderboard(calibrated, "hw99", "public", now=at(calibrated, BEFORE), shown=False)
    assert {r.score for r in board.students} == {0.0}
    levels = {r.student_id: (r.levels, r.points) for r in true.students}
    assert levels["s1"][0] == ["simple"] and levels["s2"][0] == ["simple", "medium", "strong"]
    assert {r.student_id: (r.levels, r.points) for r in board.students} == levels


def test_the_probing_report_waits_for_the_deadline(calibrated):
    for k, level in enumerate(["simple", "medium", "strong", "boss", "strong"]):
        sub(calibrated, f"s{k}", variant(calibrated, level, k))
    from grader.errors import Refused
    with pytest.raises(Refused, match="after the deadline"):
        api.probing_report(calibrated, "hw99", now=at(calibrated, BEFORE))
    rows = api.probing_report(calibrated, "hw99", now=at(calibrated, AFTER))
    assert len(rows) == 5 and {"student_id", "gap", "z", "flagged"} <= set(rows[0])
