"""HW9 end to end: the generated photos, models and questions in the course's layout, the keys computed by
the reference methods (reproducibly), the quiz's grading (all correct options, 0.3 / 0.4, scores after the
deadline, the latest sheet), the starter notebook, the release scan, and the hidden code checks through a
sandbox (the unchanged starter loses them, a correct notebook earns them)."""

from __future__ import annotations

import csv
import importlib.util
import json
import sys
import time
from datetime import datetime
from pathlib import Path

import nbformat
import numpy as np
import pytest

from grader import api
from grader.course import Course
from grader.notebook import build_notebook

from .helpers import sandbox_backend

REPO = Path(__file__).resolve().parents[2]
DEADLINE = "2022-05-20T23:59:00"
BEFORE, AFTER = datetime(2022, 5, 18, 12, 0), datetime(2022, 5, 21, 12, 0)
SECTIONS = {"LIME": 4, "Saliency map": 5, "SmoothGrad": 4, "Filter explanation": 4, "Integrated Gradients": 3,
            "Attention": 4, "Embedding visualization": 3, "Embedding analysis": 3}   # the course's Q1-Q30


def load(name: str, path: Path):
    spec = importlib.util.spec_from_file_location(name, path)
    mod = importlib.util.module_from_spec(spec)
    sys.modules[name] = mod
    spec.loader.exec_module(mod)
    return mod


def make(root: Path) -> Course:
    return Course.init(root, homeworks={"hw09": {"deadline": DEADLINE}})


def at(course: Course, dt: datetime) -> datetime:
    return dt.replace(tzinfo=course.tz)


@pytest.fixture(scope="module")
def course(tmp_path_factory) -> Course:
    c = make(tmp_path_factory.mktemp("hw09") / "course")
    t0 = time.perf_counter()
    api.prepare(c, "hw9")
    print(f"\nHW9 prepare: {time.perf_counter() - t0:.1f} s wall")
    return c


@pytest.fixture(scope="module")
def ref():
    return load("hw09_explain_test", REPO / "reference_solutions" / "hw09" / "explain.py")


def keys(course: Course) -> dict[str, str]:
    with open(course.data_dir("hw09") / "hidden" / "answers.csv", newline="") as f:
        return {q: a for q, a in list(csv.reader(f))[1:]}


def test_generated_layout_matches_the_course(course, ref):
    from PIL import Image

    rel = course.data_dir("hw09") / "release"
    photos = sorted(p.name for p in (rel / "food").iterdir())
    assert photos == [f"{k}_{k}.png" for k in range(10)], "ten photos food/{label}_{index}, one per class 0-9"
    assert all(Image.open(rel / "food" / p).size == (32, 32) and Image.open(rel / "food" / p).mode == "RGB" for p in photos)
    images, labels = ref.load_food(str(rel))                       # the course's get_paths_labels order
    assert images.shape == (10, 3, 32, 32) and labels.tolist() == list(range(10))
    cnn, (bert, tok) = ref.load_cnn(str(rel)), ref.load_bert(str(rel))     # weights_only loads
    assert (cnn(images).argmax(-1) == labels).float().mean() >= 0.5, "the CNN should know most of its photos"
    fixed = json.loads((rel / "bert" / "examples.json").read_text())
    assert sorted(fixed["examples"]) == ["q1", "q2", "q3", "q4"]
    for e in fixed["examples"].values():
        assert e["context"].split()[e["answer_start"]] == e["answer"]
    assert len(fixed["sentences"]) == len(set(fixed["sentences"])) == len(fixed["select_word_index"]) == 12
    questions = json.loads((rel / "questions.json").read_text())
    assert [q["id"] for q in questions] == [f"cnn-{i:02d}" for i in range(1, 21)] + [f"bert-{i:02d}" for i in range(1, 11)]
    assert {s: sum(q["section"] == s for q in questions) for s in SECTIONS} == SECTIONS
    assert all(len(q["options"]) == 4 and "key" not in q for q in questions)
    k = keys(course)
    assert list(k) == [q["id"] for q in questions]
    assert all(a and set(a) <= set("ABCD") and a == "".join(sorted(a)) for a in k.values()), k
    assert any(len(a) > 1 for a in k.values()), "some questions have several correct options"
    assert (rel / "questions.md").read_text().count("**cnn-") == 20


def test_starter_notebook_mirrors_the_course_sample_code(ref):
    spec = api.assignment("hw9")
    src = (spec.folder / spec.starter.source).read_text()
    nb = build_notebook(src)
    nbformat.validate(nb)
    code = "\n".join(c.source for c in nb.cells if c.cell_type == "code")
    for name in ("class Classifier", "def building_block", "def stack_blocks", "class FoodDataset", "def getbatch",
                 "def get_paths_labels", "img_indices = [i for i in range(10)]", "def predict", "def segmentation",
                 "def normalize", "def compute_saliency_maps", "def smooth_grad", "layer_activations = None",
                 "def filter_explanation", "class IntegratedGradients", "def generate_images_on_linear_path",
                 "def generate_gradients", "def generate_integrated_gradients", "class BertForQuestionAnswering",
                 "def euclidean_distance", "def cosine_similarity", "METRIC = euclidean_distance",
                 "def get_select_embedding", "pairwise_distances(embeddings, metric=METRIC)", "answers.json"):
        assert name in code, name
    assert code.count("TODO") >= 5
    assert any(c.cell_type == "markdown" for c in nb.cells)
    # The notebook's models are the ones the released weights were saved from.
    from grader.sandbox.probelib import load_definitions

    path = Path(spec.folder / spec.starter.source)
    sub, problems = load_definitions(path)
    assert not problems, problems
    for mine, theirs in ((sub.Classifier(), ref.Classifier()), (sub.BertForQuestionAnswering(50), ref.BertForQuestionAnswering(50))):
        assert {k: v.shape for k, v in mine.state_dict().items()} == {k: v.shape for k, v in theirs.state_dict().items()}


def test_release_bundle_is_complete_and_clean(course, tmp_path):
    dest = api.release(course, "hw9", tmp_path / "out")            # refuses (raises) when the scan finds a leak
    names = {str(p.relative_to(dest)) for p in dest.rglob("*") if p.is_file()}
    assert {"README.md", "HW09.ipynb", "assignment.json", "checkpoint.pth", "questions.json", "questions.md",
            "sample_submission.json", "bert/model.pth", "bert/vocab.txt", "bert/examples.json",
            "food/0_0.png", "tests/public/test_format.py"} <= names
    assert not any("answers.csv" in n or "ref_" in n or "probe" in n for n in names)


def test_answer_sheets_are_graded_as_the_course_after_the_deadline(course, ref, tmp_path):
    rel = course.data_dir("hw09") / "release"
    sheet = ref.answer_sheet(str(rel))                             # the reference methods on the released files
    assert sheet == keys(course)
    wrong = dict(sheet, **{"cnn-01": "A" if sheet["cnn-01"] != "A" else "B"})   # one 0.3 question wrong

    def send(student, s, when=BEFORE):
        return api.submit(course, "hw9", None, student, now=at(course, when), data=json.dumps(s).encode(),
                          filename="answers.json")

    r = send("s1", {q: list(a) for q, a in sheet.items()})
    assert r.status == "scored" and r.public is None and "shown after the deadline" in r.message
    send("s2", sheet)
    send("s2", wrong)                                              # the latest sheet counts
    assert "hw09_points" not in {k for row in api.gradebook(course, now=at(course, BEFORE)) for k in row}
    book = {row["student_id"]: row for row in api.gradebook(course, now=at(course, AFTER))}
    assert book["s1"]["hw09_points"] == pytest.approx(10.0)
    assert book["s2"]["hw09_points"] == pytest.approx(9.7)
    late = send("s3", sheet, AFTER)
    assert late.status == "refused" and "late" in late.message

    bad = send("s4", {"cnn-01": "E", "cnn-99": "A"})
    assert bad.status == "rejected"
    assert "29 question(s) unanswered" in bad.message and "cnn-99" in bad.message and 'cnn-01: "E"' in bad.message
    broken = api.submit(course, "hw9", None, "s4", now=at(course, BEFORE), data=b'{"cnn-01": "A",', filename="answers.json")
    assert broken.status == "rejected" and "not valid JSON" in broken.message

    dest = api.release(course, "hw9", tmp_path / "bundle")
    good = tmp_path / "answers.json"
    good.write_text(json.dumps(sheet))
    assert api.check("hw9", good, dest) == []
    blank = api.check("hw9", dest / "sample_submission.json", dest)
    assert any("30 question(s) left blank" in p for p in blank), blank


@pytest.mark.slow
def test_same_secret_gives_the_same_keys_within_the_time_budget(course, tmp_path):
    import resource

    twin = make(tmp_path / "twin")
    (twin.root / "secret.key").write_text(course.secret + "\n")
    cpu0 = resource.getrusage(resource.RUSAGE_SELF).ru_utime
    t0 = time.perf_counter()
    m = api.prepare(twin, "hw9")
    wall, cpu = time.perf_counter() - t0, resource.getrusage(resource.RUSAGE_SELF).ru_utime - cpu0
    print(f"\nHW9 prepare: {wall:.1f} s wall, {cpu:.1f} s CPU")
    assert cpu < 60, "prepare must fit 60 s on 2 cores"
    assert keys(twin) == keys(course)
    assert m["fingerprint"] == api.prepare(course, "hw9")["fingerprint"]


@pytest.mark.slow
def test_rerun_and_hidden_checks_in_a_sandbox(course, ref, tmp_path):
    """`grade batch hw9 --rerun`: the unchanged starter reproduces its answers.json but fails every code
    check (its methods are TODOs); a correct notebook reproduces its sheet and earns the 2 code points;
    a sheet edited after the run is not taken as reproduced."""
    from grader.notebook import write_notebook

    backend = sandbox_backend()
    spec = api.assignment("hw9")
    rel = course.data_dir("hw09") / "release"
    k = keys(course)
    solved_src = tmp_path / "hw09_solved.py"
    tool = load("hw09_solved_tool", REPO / "tools" / "hw09_solved.py")
    solved_src.write_text(tool.solved_source(ref.answer_sheet(str(rel))))
    # What each notebook's last cell writes (the rerun regenerates it in the sandbox and compares): the
    # starter leaves every question blank, the solved notebook's ANSWERS are the reference's sheet.
    blank = json.dumps({q: "" for q in k}, indent=1)
    tampered = json.dumps(dict({q: "" for q in k}, **{"cnn-02": "C"}), indent=1)
    starter = spec.folder / spec.starter.source
    for student, src, sheet in (("b1", starter, blank), ("b2", starter, tampered), ("b3", solved_src, json.dumps(k))):
        d = tmp_path / "class" / student
        d.mkdir(parents=True)
        (d / "answers.json").write_text(sheet)
        write_notebook(src, d / "HW09.ipynb")
    t0 = time.perf_counter()
    out = {o.student: o for o in api.batch(course, "hw9", tmp_path / "class", jobs=2, rerun=True, backend=backend)}
    print(f"\nHW9 batch --rerun of 3 notebooks: {time.perf_counter() - t0:.0f} s wall")
    assert out["b1"].rerun == "match" and out["b1"].hidden_points == 0.0, out["b1"]
    assert out["b3"].rerun == "match" and out["b3"].hidden_points == pytest.approx(2.0), out["b3"]
    store = api.open_course(course.root).store
    assert sorted(c.test for c in store.checks("hw09", "b1") if c.status == "failed") == sorted(spec.execution.points)
    assert all(c.status == "passed" for c in store.checks("hw09", "b3"))
    # The edited sheet must not pass for reproduced. (grader/execution.py compare() cannot yet list the
    # differing answers of a choices sheet — str values have no .item() — so batch records it as a
    # rejected file instead of `mismatch` with evidence; see the HW9 report.)
    assert out["b2"].rerun != "match", out["b2"]
    if out["b2"].rerun == "mismatch":          # once compare() lists a choices sheet's differing answers
        assert "cnn-02" in out["b2"].rerun_message or "cnn-02" in str(out["b2"]), out["b2"]
