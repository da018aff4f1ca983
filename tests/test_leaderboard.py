"""Kaggle's leaderboard rules, unit-tested on `grader.leaderboard.build` with fake submissions.

The toy assignment scores with mse (lower is better); a copy of its spec with accuracy covers the
higher-is-better direction.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from pathlib import Path
from zoneinfo import ZoneInfo

import pandas as pd
import pytest

from grader.leaderboard import build, frame
from grader.spec import LEVELS, load_spec

TOY = Path(__file__).parent / "fixtures" / "assignments" / "hw99_toy"
T0 = datetime(2022, 2, 20, 2, 0, tzinfo=timezone.utc)


@dataclass
class Sub:
    id: int
    student_id: str
    created_at: datetime
    public_score: float | None
    private_score: float | None
    status: str = "scored"


def at(minutes: float) -> datetime:
    return T0 + timedelta(minutes=minutes)


@pytest.fixture(scope="module")
def spec():
    return load_spec(TOY)  # mse: lower is better


@pytest.fixture(scope="module")
def acc_spec(spec):
    return spec.model_copy(update={"metric": spec.metric.model_copy(update={"name": "accuracy"})})


def board(spec, subs, finals=None, thresholds=None, names=None, which="public", n_fallback=2):
    return build(spec, subs, finals or {}, thresholds or {}, names or {}, board=which, n_fallback=n_fallback)


def ranking(b):
    """(rank, student, score, submission id) of the student rows, in board order."""
    return [(r.rank, r.student_id, r.score, r.submission_id) for r in b.students]


# ---- public board ---------------------------------------------------------------------------------

def test_public_board_is_each_students_best_public_score(spec):
    subs = [Sub(1, "a", at(0), 5.0, 1.0), Sub(2, "a", at(1), 3.0, 9.0), Sub(3, "a", at(2), 4.0, 0.5),
            Sub(4, "b", at(0), 2.0, 7.0), Sub(5, "b", at(3), 6.0, 0.1),
            Sub(6, "c", at(1), 3.5, 3.5)]
    b = board(spec, subs)
    assert b.board == "public" and b.metric == "mse" and b.higher_is_better is False
    assert ranking(b) == [(1, "b", 2.0, 4), (2, "a", 3.0, 2), (3, "c", 3.5, 6)]
    assert [r.rank for r in b.rows] == [1, 2, 3]  # no baselines without thresholds


def test_higher_is_better_ranks_the_largest_score_first(acc_spec):
    subs = [Sub(1, "a", at(0), 0.70, 0.60), Sub(2, "a", at(1), 0.80, 0.50),
            Sub(3, "b", at(0), 0.90, 0.40), Sub(4, "c", at(0), 0.75, 0.95)]
    pub = board(acc_spec, subs)
    assert pub.higher_is_better is True and pub.metric == "accuracy"
    assert ranking(pub) == [(1, "b", 0.90, 3), (2, "a", 0.80, 2), (3, "c", 0.75, 4)]
    # No finals: each student's 2 best public (a: both) compete on private; the best private wins.
    priv = board(acc_spec, subs, which="private")
    assert ranking(priv) == [(1, "c", 0.95, 4), (2, "a", 0.60, 1), (3, "b", 0.40, 3)]


def test_higher_is_better_levels_and_baselines(acc_spec):
    th = {("simple", "public"): 0.5, ("medium", "public"): 0.7, ("strong", "public"): 0.85,
          ("boss", "public"): 0.95}
    subs = [Sub(1, "a", at(0), 0.80, 0.0), Sub(2, "b", at(0), 0.85, 0.0), Sub(3, "c", at(0), 0.40, 0.0)]
    b = board(acc_spec, subs, thresholds=th)
    order = [r.baseline or r.student_id for r in b.rows]
    # Reaching a threshold exactly passes it; a baseline sorts after a student with the same score.
    assert order == ["boss", "b", "strong", "a", "medium", "simple", "c"]
    levels = {r.student_id: r.levels for r in b.students}
    assert levels == {"b": ["simple", "medium", "strong"], "a": ["simple", "medium"], "c": []}


# ---- ties -----------------------------------------------------------------------------------------

def test_tie_between_students_ranks_the_earlier_submission_first(spec):
    subs = [Sub(1, "late", at(10), 1.0, 1.0), Sub(2, "early", at(5), 1.0, 1.0)]
    assert ranking(board(spec, subs)) == [(1, "early", 1.0, 2), (2, "late", 1.0, 1)]


def test_tie_at_the_same_instant_ranks_the_lower_submission_id_first(spec):
    subs = [Sub(7, "x", at(0), 1.0, 1.0), Sub(3, "y", at(0), 1.0, 1.0)]
    assert ranking(board(spec, subs)) == [(1, "y", 1.0, 3), (2, "x", 1.0, 7)]


def test_a_students_equal_best_scores_use_the_earlier_submission(spec):
    subs = [Sub(1, "a", at(0), 4.0, 4.0), Sub(2, "a", at(1), 2.0, 2.0), Sub(3, "a", at(9), 2.0, 2.0),
            Sub(4, "b", at(5), 2.0, 2.0)]
    b = board(spec, subs)
    # a's best is #2 (the earlier of the two 2.0s), which also beats b's later 2.0.
    assert ranking(b) == [(1, "a", 2.0, 2), (2, "b", 2.0, 4)]


def test_equal_best_at_the_same_time_use_the_lower_id(spec):
    subs = [Sub(9, "a", at(0), 2.0, 2.0), Sub(4, "a", at(0), 2.0, 2.0)]
    assert ranking(board(spec, subs)) == [(1, "a", 2.0, 4)]


def test_ties_compare_instants_across_time_zones(spec):
    taipei = ZoneInfo("Asia/Taipei")
    # 10:30 in Taipei is 02:30 UTC: after "utc" at 02:10 UTC, though its wall clock reads later.
    subs = [Sub(1, "taipei", datetime(2022, 2, 20, 10, 30, tzinfo=taipei), 1.0, 1.0),
            Sub(2, "utc", datetime(2022, 2, 20, 2, 10, tzinfo=timezone.utc), 1.0, 1.0),
            Sub(3, "taipei2", datetime(2022, 2, 20, 10, 5, tzinfo=taipei), 1.0, 1.0)]
    assert [r.student_id for r in board(spec, subs).students] == ["taipei2", "utc", "taipei"]


def test_ties_are_broken_to_the_microsecond(spec):
    subs = [Sub(1, "a", T0 + timedelta(microseconds=2), 1.0, 1.0),
            Sub(2, "b", T0 + timedelta(microseconds=1), 1.0, 1.0)]
    assert [r.student_id for r in board(spec, subs).students] == ["b", "a"]


# ---- private board: finals and the fallback -------------------------------------------------------

def test_private_board_uses_the_best_private_among_selected_finals(spec):
    subs = [Sub(1, "a", at(0), 1.0, 9.0), Sub(2, "a", at(1), 2.0, 5.0), Sub(3, "a", at(2), 3.0, 0.5),
            Sub(4, "a", at(3), 8.0, 3.0),
            Sub(5, "b", at(0), 1.5, 4.0)]
    # a selected #2 and #4: #3's 0.5 was not selected and must not count; #4's 3.0 beats #2's 5.0.
    b = board(spec, subs, finals={"a": [2, 4], "b": [5]}, which="private")
    assert ranking(b) == [(1, "a", 3.0, 4), (2, "b", 4.0, 5)]


def test_a_single_selected_final_counts_even_if_worse_than_others(spec):
    subs = [Sub(1, "a", at(0), 1.0, 1.0), Sub(2, "a", at(1), 5.0, 5.0)]
    b = board(spec, subs, finals={"a": [2]}, which="private")
    assert ranking(b) == [(1, "a", 5.0, 2)]


def test_without_finals_only_the_two_best_public_submissions_count(spec):
    # Best public: #3 (1.0) and #1 (2.0). The best private, #2's 0.1, is not among them: it must not count.
    subs = [Sub(1, "a", at(0), 2.0, 7.0), Sub(2, "a", at(1), 3.0, 0.1), Sub(3, "a", at(2), 1.0, 6.0),
            Sub(4, "a", at(3), 4.0, 0.2)]
    b = board(spec, subs, which="private")
    assert ranking(b) == [(1, "a", 6.0, 3)]


def test_fallback_ties_on_public_prefer_the_earlier_submissions(spec):
    # Three equal public scores: the two earliest (#5 at minute 0, #6 at minute 1) are the fallback.
    subs = [Sub(7, "a", at(2), 1.0, 0.1), Sub(5, "a", at(0), 1.0, 4.0), Sub(6, "a", at(1), 1.0, 3.0)]
    b = board(spec, subs, which="private")
    assert ranking(b) == [(1, "a", 3.0, 6)]


def test_fallback_count_follows_n_fallback(spec):
    subs = [Sub(1, "a", at(0), 1.0, 9.0), Sub(2, "a", at(1), 2.0, 8.0), Sub(3, "a", at(2), 3.0, 1.0)]
    assert ranking(board(spec, subs, which="private", n_fallback=1)) == [(1, "a", 9.0, 1)]
    assert ranking(board(spec, subs, which="private", n_fallback=2)) == [(1, "a", 8.0, 2)]
    assert ranking(board(spec, subs, which="private", n_fallback=3)) == [(1, "a", 1.0, 3)]


def test_finals_of_one_student_do_not_affect_another(spec):
    subs = [Sub(1, "a", at(0), 1.0, 5.0), Sub(2, "a", at(1), 2.0, 6.0), Sub(3, "a", at(2), 9.0, 0.1),
            Sub(4, "b", at(0), 3.0, 2.0), Sub(5, "b", at(1), 4.0, 7.0), Sub(6, "b", at(2), 0.5, 8.0)]
    b = board(spec, subs, finals={"b": [5]}, which="private")
    # a has no finals: #1 and #2 (best public) compete, #3's 0.1 does not. b: only #5.
    assert ranking(b) == [(1, "a", 5.0, 1), (2, "b", 7.0, 5)]


def test_an_empty_finals_list_falls_back_like_no_finals(spec):
    subs = [Sub(1, "a", at(0), 1.0, 5.0), Sub(2, "a", at(1), 2.0, 4.0), Sub(3, "a", at(2), 3.0, 0.1)]
    b = board(spec, subs, finals={"a": []}, which="private")
    assert ranking(b) == [(1, "a", 4.0, 2)]


def test_private_board_ties_rank_the_earlier_submission(spec):
    subs = [Sub(1, "a", at(5), 1.0, 2.0), Sub(2, "b", at(1), 1.0, 2.0), Sub(3, "c", at(3), 1.0, 2.0)]
    b = board(spec, subs, finals={"c": [3]}, which="private")
    assert [r.student_id for r in b.students] == ["b", "c", "a"]


def test_private_tie_within_finals_uses_the_earlier(spec):
    subs = [Sub(1, "a", at(0), 1.0, 2.0), Sub(2, "a", at(1), 2.0, 2.0)]
    b = board(spec, subs, finals={"a": [2, 1]}, which="private")
    assert ranking(b) == [(1, "a", 2.0, 1)]


# ---- entries, last, rejected and refused ----------------------------------------------------------

def test_entries_and_last_submission_columns(spec):
    subs = [Sub(1, "a", at(0), 1.0, 1.0), Sub(2, "a", at(30), 5.0, 5.0), Sub(3, "a", at(10), 3.0, 3.0),
            Sub(4, "b", at(20), 2.0, 2.0)]
    rows = {r.student_id: r for r in board(spec, subs).students}
    assert rows["a"].entries == 3 and rows["b"].entries == 1
    # `last` is the latest submission, not the best one's time, as an aware UTC datetime.
    assert rows["a"].last == at(30) and rows["a"].last.utcoffset() == timedelta(0)
    assert rows["b"].last == at(20)
    d = rows["a"].as_dict()
    assert d["last"] == at(30).isoformat() and d["rank"] == 1 and d["submission_id"] == 1


def test_entries_and_last_are_the_same_on_the_private_board(spec):
    subs = [Sub(1, "a", at(0), 1.0, 1.0), Sub(2, "a", at(30), 5.0, 5.0), Sub(3, "a", at(10), 3.0, 3.0)]
    (row,) = board(spec, subs, finals={"a": [1]}, which="private").students
    assert (row.entries, row.last, row.submission_id) == (3, at(30), 1)


def test_rejected_and_refused_submissions_are_ignored(spec):
    subs = [Sub(1, "a", at(0), 3.0, 3.0),
            Sub(2, "a", at(1), None, None, status="rejected"),
            Sub(3, "a", at(50), 0.1, 0.1, status="refused"),  # a refused row never counts, even with scores
            Sub(4, "b", at(2), None, None, status="rejected"),
            Sub(5, "c", at(3), 2.0, 2.0, status="error")]
    b = board(spec, subs)
    assert ranking(b) == [(1, "a", 3.0, 1)]
    (row,) = b.students
    assert row.entries == 1 and row.last == at(0)
    assert ranking(board(spec, subs, which="private")) == [(1, "a", 3.0, 1)]


def test_a_refused_final_does_not_count(spec):
    subs = [Sub(1, "a", at(0), 3.0, 3.0), Sub(2, "a", at(1), 0.1, 0.1, status="refused")]
    assert ranking(board(spec, subs, finals={"a": [1, 2]}, which="private")) == [(1, "a", 3.0, 1)]


def test_no_submissions_gives_only_baselines(spec):
    th = {("simple", "public"): 4.0, ("strong", "public"): 1.0}
    b = board(spec, [], thresholds=th)
    assert b.students == []
    assert [(r.rank, r.baseline, r.score) for r in b.rows] == [(None, "strong", 1.0), (None, "simple", 4.0)]
    assert board(spec, [], which="private").rows == []


# ---- baselines, levels and points -----------------------------------------------------------------

THRESHOLDS = {("simple", "public"): 10.0, ("medium", "public"): 5.0, ("strong", "public"): 2.0,
              ("boss", "public"): 0.5,
              ("simple", "private"): 11.0, ("medium", "private"): 6.0, ("strong", "private"): 2.5,
              ("boss", "private"): 0.6}


def test_baselines_sit_at_their_thresholds_without_rank(spec):
    subs = [Sub(1, "a", at(0), 3.0, 3.0), Sub(2, "b", at(0), 0.2, 0.2), Sub(3, "c", at(0), 12.0, 12.0),
            Sub(4, "d", at(1), 5.0, 5.0)]
    b = board(spec, subs, thresholds=THRESHOLDS)
    assert [(r.rank, r.baseline or r.student_id, r.score) for r in b.rows] == [
        (1, "b", 0.2), (None, "boss", 0.5), (None, "strong", 2.0), (2, "a", 3.0), (3, "d", 5.0),
        (None, "medium", 5.0), (None, "simple", 10.0), (4, "c", 12.0)]
    baselines = [r for r in b.rows if r.baseline]
    assert [r.student_id for r in baselines] == ["baseline:boss", "baseline:strong", "baseline:medium",
                                                 "baseline:simple"]
    assert all(r.entries == 0 and r.last is None and r.submission_id is None and r.points == 0
               and r.levels == [] for r in baselines)
    assert [r.name for r in baselines] == [f"{lv} baseline" for lv in ("boss", "strong", "medium", "simple")]


def test_levels_passed_and_points_per_row(spec):
    per = spec.points.per_level_per_board
    subs = [Sub(1, "a", at(0), 3.0, 1.0), Sub(2, "b", at(0), 0.2, 0.7), Sub(3, "c", at(0), 12.0, 11.0),
            Sub(4, "d", at(1), 5.0, 6.5)]
    pub = {r.student_id: r for r in board(spec, subs, thresholds=THRESHOLDS).students}
    assert {s: r.levels for s, r in pub.items()} == {
        "a": ["simple", "medium"], "b": list(LEVELS), "c": [], "d": ["simple", "medium"]}  # 5.0 reaches 5.0
    assert {s: r.points for s, r in pub.items()} == {"a": 2 * per, "b": 4 * per, "c": 0.0, "d": 2 * per}
    priv = {r.student_id: r for r in board(spec, subs, thresholds=THRESHOLDS, which="private").students}
    assert {s: r.levels for s, r in priv.items()} == {
        "a": ["simple", "medium", "strong"], "b": ["simple", "medium", "strong"], "c": ["simple"],
        "d": ["simple"]}
    assert {s: r.points for s, r in priv.items()} == {"a": 3 * per, "b": 3 * per, "c": per, "d": per}


def test_points_follow_the_spec_setting(spec):
    doubled = spec.model_copy(update={"points": spec.points.model_copy(update={"per_level_per_board": 1.25})})
    (row,) = board(doubled, [Sub(1, "a", at(0), 0.1, 0.1)], thresholds=THRESHOLDS).students
    assert row.points == 4 * 1.25


def test_only_the_boards_own_thresholds_are_shown(spec):
    th = {("simple", "public"): 10.0, ("medium", "private"): 6.0}
    pub = board(spec, [Sub(1, "a", at(0), 1.0, 1.0)], thresholds=th)
    assert [r.baseline for r in pub.rows if r.baseline] == ["simple"]
    priv = board(spec, [Sub(1, "a", at(0), 1.0, 1.0)], thresholds=th, which="private")
    assert [r.baseline for r in priv.rows if r.baseline] == ["medium"]
    assert priv.students[0].levels == ["medium"]


def test_names_are_shown_and_missing_names_fall_back_to_the_id(spec):
    subs = [Sub(1, "r10922001", at(0), 1.0, 1.0), Sub(2, "r10922002", at(0), 2.0, 2.0)]
    b = board(spec, subs, names={"r10922001": "Happy Panda"})
    assert [(r.student_id, r.name) for r in b.students] == [("r10922001", "Happy Panda"),
                                                           ("r10922002", "r10922002")]


def test_a_dataframe_input_gives_the_same_board(spec):
    subs = [Sub(1, "a", at(0), 3.0, 3.0), Sub(2, "b", at(0), 1.0, 4.0), Sub(3, "a", at(1), 1.0, 2.0)]
    df = frame(subs).drop(columns="t")
    assert isinstance(df, pd.DataFrame)
    for which in ("public", "private"):
        expect = [r.as_dict() for r in board(spec, subs, which=which, thresholds=THRESHOLDS).rows]
        assert [r.as_dict() for r in board(spec, df, which=which, thresholds=THRESHOLDS).rows] == expect
