"""HW1 end to end: both data sources, the calibrated ladder, the starter notebook, the release scan."""

import csv

import nbformat
import pytest

from grader import api, catalog
from grader.course import Course
from grader.notebook import build_notebook
from grader.spec import LEVELS

from .helpers import sandbox_backend

SHARED = catalog.shared_data_dir()
needs_real = pytest.mark.skipif(SHARED is None or not (SHARED / "hw01_covid").is_dir(),
                                reason="the course's real HW1 files (../shared/data/hw01_covid) are absent here")


def make(tmp_path, source="generated", edition="2022") -> Course:
    return Course.init(tmp_path / f"c-{source}-{edition}",
                       homeworks={"hw01": {"deadline": "2022-02-23T23:59:00", "source": source, "edition": edition}})


def header(path):
    with open(path, newline="") as f:
        return next(csv.reader(f))


def test_generated_layout_matches_the_course(tmp_path):
    c = make(tmp_path)
    m = api.prepare(c, "hw1")
    rel = c.data_dir("hw01") / "release"
    train, test = header(rel / "covid.train.csv"), header(rel / "covid.test.csv")
    assert len(train) == 118 and len(test) == 117, "id + 37 states + 5 days × 16 features (+ target)"
    assert train[0] == "id" and train[-1].startswith("tested_positive") and train[:-1] == test
    assert m["rows"] >= 1000


@needs_real
@pytest.mark.parametrize("edition, n_cols", [("2022", 118), ("2021", 95), ("2023", 89)])
def test_real_editions_build_in_their_own_layout(tmp_path, edition, n_cols):
    c = make(tmp_path, "real", edition)
    m = api.prepare(c, "hw1")
    rel = c.data_dir("hw01") / "release"
    train = next(p for p in rel.iterdir() if "train" in p.name)
    assert len(header(train)) == n_cols
    with open(train) as f:
        n_train = sum(1 for _ in f) - 1
    assert n_train + m["rows"] == {"2022": 2699, "2021": 2700, "2023": 3009}[edition]


def test_starter_notebook_mirrors_the_course_sample_code():
    spec = api.assignment("hw1")
    nb = build_notebook((spec.folder / spec.starter.source).read_text())
    nbformat.validate(nb)
    code = "\n".join(c.source for c in nb.cells if c.cell_type == "code")
    for name in ("def same_seed", "def train_valid_split", "def predict", "class COVID19Dataset",
                 "class My_Model", "def select_feat", "def trainer", "config = {"):
        assert name in code
    assert any(c.cell_type == "markdown" for c in nb.cells)


def test_release_bundle_is_clean(tmp_path):
    c = make(tmp_path)
    dest = api.release(c, "hw1", tmp_path / "out")
    names = {p.name for p in dest.iterdir()}
    assert {"README.md", "HW01.ipynb", "covid.train.csv", "covid.test.csv", "sample_submission.csv",
            "assignment.json", "tests"} <= names


@pytest.mark.slow
@pytest.mark.parametrize("source", ["generated", pytest.param("real", marks=needs_real)])
def test_ladder_calibrates_and_verifies(tmp_path, source):
    c = make(tmp_path, source)
    cal = api.calibrate(c, "hw1")
    assert cal.ok, cal.problems
    rep = api.verify(c, "hw1")
    assert rep.ok, rep.problems
    for board in ("public", "private"):
        scores = [getattr(rep.runs[lv], board) for lv in LEVELS]
        assert scores == sorted(scores, reverse=True)
    total = sum(r.seconds for r in rep.runs.values())
    print(f"\nHW1 {source}: " + ", ".join(f"{n} {r.public:.3f}/{r.private:.3f} ({r.seconds:.0f}s)"
                                         for n, r in rep.runs.items()) + f"; {total:.0f} s of runs")


@pytest.mark.slow
def test_rerun_and_hidden_checks_on_the_starter(tmp_path):
    """`grade batch hw1 --rerun`: the unchanged starter reproduces its pred.csv and passes the hidden
    checks; a hand-edited copy of the same predictions is flagged with the rows that differ."""
    from grader.calibrate import _run_starter
    from grader.notebook import write_notebook

    backend = sandbox_backend()
    c = make(tmp_path)
    spec = api.assignment("hw1")
    api.prepare(c, "hw1")
    run = _run_starter(spec, c.data_dir("hw01") / "release", tmp_path / "local", 2)
    assert not run.error, run.error
    honest = (tmp_path / "local" / "pred.csv").read_text()
    lines = honest.splitlines()
    i, v = lines[10].split(",")
    lines[10] = f"{i},{float(v) + 1.0}"
    for student, pred in (("b1", honest), ("b2", "\n".join(lines) + "\n")):
        d = tmp_path / "class" / student
        d.mkdir(parents=True)
        (d / "pred.csv").write_text(pred)
        write_notebook(spec.folder / spec.starter.source, d / "HW01.ipynb")
    out = {o.student: o for o in api.batch(c, "hw1", tmp_path / "class", jobs=2, rerun=True, backend=backend)}
    assert out["b1"].rerun == "match" and out["b1"].hidden_points == 2.0, out["b1"]
    assert out["b2"].rerun == "mismatch" and f"id {i}" in out["b2"].rerun_message
    failed = [c.test for c in api.open_course(c.root).store.checks("hw01", "b2") if c.status == "failed"]
    assert failed == ["test_probed_model_made_the_uploaded_predictions"]
    book = {r["student_id"]: r for r in api.gradebook(c)}
    assert book["b1"]["hw01_rerun"] == "match" and book["b2"]["hw01_rerun"] == "mismatch"
