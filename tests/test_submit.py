import os
import subprocess
import sys
from datetime import datetime, timedelta

import numpy as np
import pytest

from grader import api
from grader.errors import NotFound, Refused

from .conftest import AFTER, BEFORE, TOY_ROOT, at, pred_path


def variant(course, level: str, k: int) -> bytes:
    """A distinct valid file: the level's predictions nudged by k micro-units."""
    arr = np.loadtxt(pred_path(course, level), delimiter=",", skiprows=1)
    arr[:, 1] += k * 1e-6
    return ("id,y\n" + "".join(f"{int(i)},{v:.6f}\n" for i, v in arr)).encode()


def sub(course, student, data, when=BEFORE, name="pred.csv"):
    return api.submit(course, "hw99", None, student, now=at(course, when), data=data, filename=name)


def test_scored_submission_shows_public_only(calibrated):
    r = sub(calibrated, "s1", variant(calibrated, "strong", 0))
    assert r.status == "scored" and r.passed == ["simple", "medium", "strong"]
    view = r.public_view()
    assert "private" not in str(view).lower().replace("private_", "") and "private_score" not in view
    assert view["public_score"] == pytest.approx(r.public) and view["used_today"] == 1


def test_rejected_file_is_recorded_and_uses_no_slot(calibrated):
    r = sub(calibrated, "s1", b"id,y\n0,oops\n", name="bad.csv")
    assert r.status == "rejected" and "bad.csv: line 2: 'oops' in column y is not a number" in r.message
    assert r.used_today == 0
    (row,) = calibrated.store.submissions("hw99", "s1")
    assert row.status == "rejected" and not row.counted
    assert (calibrated.files_dir / row.sha256[:2] / row.sha256).read_bytes() == b"id,y\n0,oops\n"


def test_daily_limit_then_next_day(calibrated):
    results = [sub(calibrated, "s1", variant(calibrated, "medium", k)) for k in range(6)]
    assert [r.status for r in results] == ["scored"] * 5 + ["refused"]
    assert "daily limit reached: 5 of 5" in results[-1].message
    nxt = sub(calibrated, "s1", variant(calibrated, "medium", 99), when=BEFORE + timedelta(days=1))
    assert nxt.status == "scored" and nxt.used_today == 1


def test_duplicate_content_is_refused_without_a_slot(calibrated):
    data = variant(calibrated, "simple", 0)
    first, again = sub(calibrated, "s1", data), sub(calibrated, "s1", data)
    assert again.status == "refused" and f"identical to your submission #{first.id}" in again.message
    assert again.used_today == 1
    assert sub(calibrated, "s2", data).status == "scored", "another student's identical file is theirs to send"


def test_late_work_refused_unless_extended(calibrated, tmp_path):
    late = sub(calibrated, "s1", variant(calibrated, "boss", 0), when=datetime(2022, 2, 24, 0, 1))
    assert late.status == "refused" and "deadline passed" in late.message
    calibrated.config.homeworks["hw99"].extensions["s2"] = datetime(2022, 2, 26, 23, 59)
    ok = sub(calibrated, "s2", variant(calibrated, "boss", 0), when=datetime(2022, 2, 24, 0, 1))
    assert ok.status == "scored"


def test_status_hides_private_until_deadline(calibrated):
    sub(calibrated, "s1", variant(calibrated, "strong", 0))
    (before,) = api.status(calibrated, "s1", now=at(calibrated, BEFORE))
    (after,) = api.status(calibrated, "s1", now=at(calibrated, AFTER))
    assert before["private"] is None and before["public"] is not None
    assert after["private"] is not None


def test_select_finals_rules(calibrated):
    ids = [sub(calibrated, "s1", variant(calibrated, "medium", k)).id for k in range(3)]
    bad = sub(calibrated, "s1", b"id,y\n", name="empty.csv").id
    other = sub(calibrated, "s2", variant(calibrated, "boss", 0)).id
    assert api.select_finals(calibrated, "hw99", "s1", ids[:2], now=at(calibrated, BEFORE)) == ids[:2]
    assert calibrated.store.finals("hw99") == {"s1": ids[:2]}
    api.select_finals(calibrated, "hw99", "s1", ids[2:], now=at(calibrated, BEFORE))
    assert calibrated.store.finals("hw99") == {"s1": ids[2:]}, "a new selection replaces the old"
    with pytest.raises(Refused, match="at most 2"):
        api.select_finals(calibrated, "hw99", "s1", ids, now=at(calibrated, BEFORE))
    with pytest.raises(NotFound, match=f"#{other} is not one of s1's"):
        api.select_finals(calibrated, "hw99", "s1", [other], now=at(calibrated, BEFORE))
    with pytest.raises(Refused, match="only scored"):
        api.select_finals(calibrated, "hw99", "s1", [bad], now=at(calibrated, BEFORE))
    with pytest.raises(Refused, match="after the deadline"):
        api.select_finals(calibrated, "hw99", "s1", ids[:1], now=at(calibrated, AFTER))


def test_every_action_is_audited(calibrated):
    r = sub(calibrated, "s1", variant(calibrated, "strong", 0))
    api.select_finals(calibrated, "hw99", "s1", [r.id], now=at(calibrated, BEFORE))
    kinds = [e.kind for e in calibrated.store.events()]
    assert kinds[:2] == ["calibrate", "submit"] or "calibrate" in kinds
    assert "submit" in kinds and "select" in kinds
    accepted, graded = calibrated.store.events("submit")[0], calibrated.store.events("graded")[0]
    assert accepted.student_id == "s1" and accepted.detail["status"] == "queued"
    assert graded.submission_id == accepted.submission_id == r.id and graded.detail["status"] == "scored"


def test_twenty_racing_processes_never_exceed_the_daily_limit(calibrated, tmp_path):
    files = []
    for k in range(20):
        f = tmp_path / f"p{k}.csv"
        f.write_bytes(variant(calibrated, "medium", k))
        files.append(f)
    env = dict(os.environ, GRADE_ASSIGNMENTS=str(TOY_ROOT), GRADE_NOW="2022-02-20T10:00:00",
               GRADE_COURSE=str(calibrated.root))
    cmd = [sys.executable, "-c", "from grader.cli import main; main()", "submit", "hw99"]
    procs = [subprocess.Popen([*cmd, str(f), "--student", "racer"], env=env, stdout=subprocess.PIPE,
                              stderr=subprocess.PIPE) for f in files]
    codes = [p.wait(timeout=180) for p in procs]
    rows = calibrated.store.submissions("hw99", "racer")
    assert len(rows) == 20, "every attempt is recorded"
    assert sum(r.counted for r in rows) == 5
    assert sorted(r.status for r in rows) == ["refused"] * 15 + ["scored"] * 5
    assert codes.count(0) == 5
