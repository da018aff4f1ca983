"""An image homework end to end (the toy hw98: an archive of PNGs, judged on the host by the course's
hidden models in grading.py, ranked by FID and also needing the acceptance rate, as HW6)."""

from __future__ import annotations

import numpy as np
import pytest

from grader import api, demo
from grader.course import Course
from grader.scoring.archive import write_archive

from .conftest import BEFORE, at


@pytest.fixture
def images_course(tmp_path, toy) -> Course:
    c = Course.init(tmp_path / "course", homeworks={"hw98": {"deadline": "2022-02-23T23:59:00"}})
    rep = api.calibrate(c, "hw98")
    assert rep.ok, rep.problems
    return c


def test_calibration_records_thresholds_for_every_metric(images_course):
    th = api.thresholds(images_course, api.assignment("hw98"))
    assert {k for k in th if len(k) == 3} == {(lv, b, "acceptance") for lv in ("simple", "medium", "strong", "boss")
                                              for b in ("public", "private")}
    fid = [th[(lv, "public")] for lv in ("simple", "medium", "strong", "boss")]
    assert fid == sorted(fid, reverse=True)  # lower is better, so each level's threshold is lower


def test_a_level_counts_only_when_both_metrics_hold(images_course):
    course, spec = images_course, api.assignment("hw98")
    boss = (course.calibration_dir("hw98") / "boss" / "images.tgz").read_bytes()
    r = api.submit(course, "hw98", None, "s1", now=at(course, BEFORE), data=boss, filename="images.tgz")
    assert r.status == "scored" and r.passed == ["simple", "medium", "strong", "boss"]
    assert set(r.public_view()["public_scores"]) == {"acceptance"}
    # The boss images with their bright squares dimmed: the pixels move little, but the hidden detector
    # accepts none — so the levels whose acceptance threshold is above 0 (strong, boss) fail, whatever FID.
    from grader.scoring.archive import read_members
    from grader.scoring.validate import validate

    checked = validate(boss, "images.tgz", spec.submission, np.array(sorted(read_members(boss, "x", spec.submission))))
    dark = {name: np.minimum(img, 150) for name, img in zip(checked.ids.tolist(), checked.values)}
    r2 = api.submit(course, "hw98", None, "s2", now=at(course, BEFORE), data=write_archive(dark), filename="images.tgz")
    th = api.thresholds(course, spec)
    assert r2.status == "scored" and r2.public_view()["public_scores"]["acceptance"] == 0.0
    assert r2.public <= th[("strong", "public")], "FID alone would reach strong"
    assert r2.passed == ["simple", "medium"]
    board = api.leaderboard(course, "hw98", "public")
    rows = {row.student_id: row for row in board.students}
    assert rows["s1"].levels == ["simple", "medium", "strong", "boss"] and rows["s2"].levels == ["simple", "medium"]
    assert next(row for row in board.rows if row.baseline == "boss").also["acceptance"] > 0.5


def test_a_malformed_archive_is_rejected_with_its_problem(images_course):
    r = api.submit(images_course, "hw98", None, "s3", now=at(images_course, BEFORE),
                   data=write_archive({"1.png": np.zeros((8, 8, 3), np.uint8)}), filename="images.tgz")
    assert r.status == "rejected" and "63 expected image(s) are missing" in r.message and r.used_today == 0


def test_verify_holds_and_the_starter_writes_a_valid_archive(images_course):
    rep = api.verify(images_course, "hw98")
    assert rep.ok, rep.problems
    assert rep.runs["starter"].public > rep.thresholds[("medium", "public")]  # noise: simple, not medium


def test_the_release_keeps_grading_py_back_and_ships_a_sample_archive(images_course, tmp_path):
    dest = api.release(images_course, "hw98", tmp_path / "out")
    names = {p.name for p in dest.rglob("*") if p.is_file()}
    assert "sample_submission.tgz" in names and "grading.py" not in names and "fid_reference.npy" not in names
    assert api.check("hw98", dest / "sample_submission.tgz", dest) == []


def test_the_demo_runs_an_image_homework(tmp_path, toy):
    s = demo.run(tmp_path / "course", tmp_path / "site", n_students=10, quiet=True, hw="hw98")
    assert s["statuses"]["scored"] > 15 and s["statuses"].get("rejected", 0) > 0


def test_the_homeworks_own_rule_rejects_before_scoring(images_course, tmp_path):
    dest = api.release(images_course, "hw98", tmp_path / "rel")
    sample = (dest / "sample_submission.tgz").read_bytes()  # right format, blank images
    r = api.submit(images_course, "hw98", None, "s4", now=at(images_course, BEFORE), data=sample, filename="images.tgz")
    assert r.status == "rejected" and "64 blank image(s) (a single colour): 1.png" in r.message and r.used_today == 0
