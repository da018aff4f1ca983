import json

import numpy as np

from grader import api
from grader.course import Course
from grader.data import load_answers, prepare


def test_prepare_builds_release_hidden_and_split(course):
    spec = api.assignment("hw99")
    m = prepare(course, spec)
    d = course.data_dir("hw99")
    assert sorted(p.name for p in (d / "release").iterdir()) == ["sample_submission.csv", "test.csv", "train.csv"]
    assert sorted(p.name for p in (d / "hidden").iterdir()) == ["answers.csv", "public.npy"]
    assert m["rows"] == 200 and m["public_rows"] == 100
    a = load_answers(course, spec)
    assert a.public.dtype == bool and a.public.sum() == 100 and len(a) == 200
    sample = (d / "release" / "sample_submission.csv").read_text().splitlines()
    assert sample[0] == "id,y" and len(sample) == 201


def test_cache_is_reused_and_fingerprint_is_stable(course):
    spec = api.assignment("hw99")
    m1 = prepare(course, spec)
    mtime = (course.data_dir("hw99") / "manifest.json").stat().st_mtime_ns
    assert prepare(course, spec) == m1
    assert (course.data_dir("hw99") / "manifest.json").stat().st_mtime_ns == mtime
    m2 = prepare(course, spec, force=True)
    assert m2["fingerprint"] == m1["fingerprint"], "same secret, same data"


def test_secret_decides_data_and_split(course, tmp_path):
    other = Course.init(tmp_path / "other", homeworks={"hw99": {}})
    spec = api.assignment("hw99")
    assert prepare(course, spec)["fingerprint"] != prepare(other, spec)["fingerprint"]
    assert not np.array_equal(load_answers(course, spec).public, load_answers(other, spec).public)


def test_manifest_records_how_data_was_made(course):
    prepare(course, api.assignment("hw99"))
    m = json.loads((course.data_dir("hw99") / "manifest.json").read_text())
    assert {"source", "edition", "scale", "generator", "fingerprint", "public_fraction"} <= set(m)
