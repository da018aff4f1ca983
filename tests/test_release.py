import json
import shutil

import pytest

from grader import api
from grader.errors import GradeError
from grader.release import scan_bundle

from .conftest import REPO


@pytest.fixture
def bundle(course, tmp_path):
    return api.release(course, "hw99", tmp_path / "out")


def test_bundle_has_what_students_need(bundle):
    names = {p.relative_to(bundle).as_posix() for p in bundle.rglob("*") if p.is_file()}
    assert names == {"README.md", "HW99.ipynb", "train.csv", "test.csv", "sample_submission.csv",
                     "tests/public/test_format.py", "assignment.json"}
    meta = json.loads((bundle / "assignment.json").read_text())
    assert meta["submission"]["columns"] == {"id": "int", "y": "float"} and meta["daily_limit"] == 5


def test_clean_bundle_scans_clean(course, bundle):
    assert scan_bundle(course, api.assignment("hw99"), bundle) == []


def _leaks(course, bundle):
    return [f"{lk.file}: {lk.what}" for lk in scan_bundle(course, api.assignment("hw99"), bundle)]


def test_scan_finds_answers_by_content_under_any_name(course, bundle):
    hidden = course.data_dir("hw99") / "hidden"
    shutil.copy(hidden / "answers.csv", bundle / "innocent.csv")
    assert any("innocent.csv: is byte-identical to the hidden file answers.csv" in x for x in _leaks(course, bundle))


def test_scan_finds_answers_reformatted_as_a_column(course, bundle):
    # The classic mistake: the target left in the test file, under another column name.
    rows = (course.data_dir("hw99") / "hidden" / "answers.csv").read_text().splitlines()[1:]
    test = (bundle / "test.csv").read_text().splitlines()
    merged = [test[0] + ",target"] + [f"{t},{float(r.split(',')[1]):.4f}" for t, r in zip(test[1:], rows)]
    (bundle / "test.csv").write_text("\n".join(merged) + "\n")
    assert any("test.csv: column 'target' holds the hidden answer" in x for x in _leaks(course, bundle))


def test_scan_finds_secret_hidden_tests_and_references(course, bundle):
    (bundle / "notes.txt").write_text(f"key={course.secret}\n")
    shutil.copy(REPO / "tests/fixtures/assignments/hw99_toy/tests/hidden/test_hidden.py", bundle / "t.py")
    text = (REPO / "tests/fixtures/assignments/hw99_toy/data.py").read_text()
    (bundle / "gen.py").write_text("# copied\n" + text)
    leaks = _leaks(course, bundle)
    assert any("notes.txt: contains the course secret" in x for x in leaks)
    assert any("t.py: is byte-identical to tests/fixtures/assignments/hw99_toy/tests/hidden/test_hidden.py" in x
               for x in leaks)
    assert any(x.startswith("gen.py: shares") and "data.py" in x for x in leaks)


def test_release_refuses_a_leaking_bundle(course, tmp_path, monkeypatch):
    import grader.release as rel

    real_copy = rel.shutil.copy2

    def sneaky(src, dst, *a, **k):  # a data builder that puts the answers in the release
        real_copy(src, dst, *a, **k)
        if str(dst).endswith("README.md"):
            real_copy(course.data_dir("hw99") / "hidden" / "answers.csv", dst.parent / "extra.csv")

    monkeypatch.setattr(rel.shutil, "copy2", sneaky)
    with pytest.raises(GradeError, match="release refused"):
        api.release(course, "hw99", tmp_path / "out2")
    assert not (tmp_path / "out2" / "hw99").exists()
