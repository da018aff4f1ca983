"""HW3 end to end: the generated Food-11 layout, the starter notebook, the release, the ladder, the sandbox."""

import ast
import csv
import importlib.util
import re

import nbformat
import numpy as np
import pytest
from PIL import Image

from grader import api, catalog
from grader.course import Course
from grader.data import BuildContext
from grader.notebook import build_notebook
from grader.scoring.validate import Invalid, validate
from grader.spec import LEVELS

from .helpers import add_cell, sandbox_backend

SPLITS = ("training", "validation", "test")


def make(tmp_path) -> Course:
    return Course.init(tmp_path / "c-hw03", homeworks={"hw03": {"deadline": "2022-03-25T23:59:00"}})


@pytest.fixture(scope="module")
def prepared(tmp_path_factory) -> Course:
    """One course with the ci data prepared, shared by the quick tests (a build takes seconds)."""
    c = make(tmp_path_factory.mktemp("hw03"))
    api.prepare(c, "hw3")
    return c


def builder():
    spec = api.assignment("hw3")
    mod_spec = importlib.util.spec_from_file_location("hw03_data_test", spec.folder / "data.py")
    module = importlib.util.module_from_spec(mod_spec)
    mod_spec.loader.exec_module(module)
    return module


def build_small(tmp_path, name, seed=7, scale="ci", n=(22, 11, 11)):
    """The generator with small counts (options), straight into a folder."""
    root = tmp_path / name
    ctx = BuildContext(seed=seed, source="generated", edition="2022", scale=scale, shared_data=None,
                       release_dir=root / "release", hidden_dir=root / "hidden", hidden_inputs_dir=root / "hidden_inputs",
                       options={"n_train": n[0], "n_valid": n[1], "n_test": n[2]})
    for d in (ctx.release_dir, ctx.hidden_dir, ctx.hidden_inputs_dir):
        d.mkdir(parents=True)
    builder().build(ctx)
    return root


def rows(path):
    with open(path, newline="") as f:
        return list(csv.reader(f))


def test_generated_layout_matches_the_course(prepared):
    c = prepared
    m = api.prepare(c, "hw3")                   # the cached build
    data = c.data_dir("hw03")
    food = data / "release" / "food11"
    assert sorted(p.name for p in food.iterdir()) == sorted(SPLITS)
    labelled = re.compile(r"^(\d+)_(\d+)\.png$")
    for split in ("training", "validation"):
        names = [p.name for p in (food / split).iterdir()]
        assert names and all(labelled.match(n) for n in names), f"{split}: names are {{label}}_{{index}}.png"
        labels = {int(labelled.match(n)[1]) for n in names}
        assert labels == set(range(11)), f"{split}: all 11 classes, labels from the file names"
    tests = sorted(p.name for p in (food / "test").iterdir())
    assert tests == [f"{i:04d}.png" for i in range(1, len(tests) + 1)], "test files 0001.png, 0002.png, ..."
    assert len(tests) == m["rows"] == 1100
    with Image.open(food / "training" / "0_0.png") as im:
        assert im.format == "PNG" and im.mode == "RGB" and im.size == (32, 32)
    sample = rows(data / "release" / "sample_submission.csv")
    assert sample[0] == ["Id", "Category"] and [r[0] for r in sample[1:]] == [t[:4] for t in tests]
    answers = rows(data / "hidden" / "answers.csv")
    assert answers[0] == ["Id", "Category"] and {int(r[1]) for r in answers[1:]} == set(range(11))
    probe = sorted((data / "hidden_inputs" / "probe").glob("*.png"))
    assert len(probe) == 16, "the hidden probe gets its own unseen photos"


def test_same_seed_same_bytes_and_full_scale_is_128(tmp_path):
    a, b = build_small(tmp_path, "a"), build_small(tmp_path, "b")
    files = sorted(p.relative_to(a) for p in a.rglob("*") if p.is_file())
    assert files and files == sorted(p.relative_to(b) for p in b.rglob("*") if p.is_file())
    assert all((a / f).read_bytes() == (b / f).read_bytes() for f in files)
    other = build_small(tmp_path, "other", seed=8)
    assert (other / "release/food11/test/0001.png").read_bytes() != (a / "release/food11/test/0001.png").read_bytes()
    full = build_small(tmp_path, "full", scale="full")
    with Image.open(full / "release" / "food11" / "test" / "0001.png") as im:
        assert im.size == (128, 128)


def test_starter_notebook_mirrors_the_course_sample_code():
    spec = api.assignment("hw3")
    source = (spec.folder / spec.starter.source).read_text()
    nb = build_notebook(source)
    nbformat.validate(nb)
    code = "\n".join(c.source for c in nb.cells if c.cell_type == "code")
    for name in ('_exp_name = "sample"', "myseed = 6666", "def test_tfm", "def train_tfm", "class FoodDataset",
                 "class Classifier", "class Residual_Network", "batch_size = 64", "n_epochs = 4", "patience = 300",
                 "torch.optim.Adam(model.parameters(), lr=0.0003, weight_decay=1e-5)", "nn.CrossEntropyLoss()",
                 "clip_grad_norm_(model.parameters(), max_norm=10)", "def pad4", '"submission.csv"',
                 'f"{_exp_name}_best.ckpt"', "TODO"):
        assert name in code, name
    imported = {a.name.split(".")[0] for n in ast.walk(ast.parse(code)) if isinstance(n, (ast.Import, ast.ImportFrom))
                for a in (n.names if isinstance(n, ast.Import) else [ast.alias(n.module or "")])}
    assert not imported & {"torchvision", "tqdm"}, "neither is in the course image"
    # Classifier: five Conv-BN-ReLU-MaxPool blocks, then a fully connected head ending in 11 classes.
    cls = next(n for n in ast.parse(code).body if isinstance(n, ast.ClassDef) and n.name == "Classifier")
    calls = [ast.unparse(n.func) for n in ast.walk(cls) if isinstance(n, ast.Call)]
    assert [calls.count(f"nn.{k}") for k in ("Conv2d", "BatchNorm2d", "MaxPool2d")] == [5, 5, 5]
    assert "nn.Linear(128, 11)" in ast.unparse(cls)
    assert any(c.cell_type == "markdown" and "Q1" in c.source for c in nb.cells)
    # The simple reference is the starter's training: same seed, epochs, batch size and optimizer.
    ref = (catalog.REPO_ROOT / spec.baselines["simple"].solution).read_text()
    for field, value in (("seed", "6666"), ("n_epochs", "4"), ("batch_size", "64"), ("lr", "0.0003"),
                         ("weight_decay", "1e-05"), ("patience", "300")):
        m = re.search(rf"^    {field}: \w+ = ([\d.e-]+)", ref, re.M)
        assert m and float(m[1]) == float(value), f"simple.py Config.{field} differs from the starter"


def test_release_bundle_is_complete_and_clean(prepared, tmp_path):
    c = prepared
    dest = api.release(c, "hw3", tmp_path / "out")        # refuses (raises) when the scan finds a leak
    names = {p.name for p in dest.iterdir()}
    assert {"README.md", "HW03.ipynb", "food11", "sample_submission.csv", "assignment.json", "tests"} <= names
    assert len(list((dest / "food11" / "test").iterdir())) == 1100
    assert (dest / "tests" / "public" / "test_format.py").is_file()
    assert not list(dest.rglob("answers.csv")) and not list(dest.rglob("probe.py"))
    from grader.release import scan_bundle
    assert scan_bundle(c, api.assignment("hw3"), dest) == []


def test_malformed_submissions_get_precise_messages(prepared):
    c = prepared
    spec = api.assignment("hw3")
    ids = np.array([r[0] for r in rows(c.data_dir("hw03") / "release" / "sample_submission.csv")[1:]], dtype=object)
    good = "Id,Category\n" + "".join(f"{i},3\n" for i in ids)
    validate(good.encode(), "submission.csv", spec.submission, ids)

    def problems(text):
        with pytest.raises(Invalid) as e:
            validate(text.encode(), "submission.csv", spec.submission, ids)
        return str(e.value)

    assert "header is 'id,label'" in problems(good.replace("Id,Category", "id,label"))
    unpadded = good.replace("\n0001,", "\n1,")
    assert "unknown id(s): '1' (line 2)" in problems(unpadded) and "'0001'" in problems(unpadded)
    assert "line 3: 'soup' in column Category is not an integer" in problems(good.replace("\n0002,3", "\n0002,soup"))
    assert "1,099 rows, expected 1,100" in problems(good.rsplit("\n", 2)[0] + "\n")


@pytest.mark.slow
def test_ladder_calibrates_with_the_starter(tmp_path):
    c = make(tmp_path)
    # One pass: calibrate runs the starter too and records nothing unless it lands between simple and
    # medium, which is what verify checks (tests/test_calibrate.py covers verify itself).
    rep = api.calibrate(c, "hw3", with_starter=True)
    assert rep.ok, rep.problems
    for board in ("public", "private"):
        scores = [getattr(rep.runs[lv], board) for lv in LEVELS]
        assert scores == sorted(scores)
        assert rep.runs["starter"].public is not None
    print("\nHW3: " + ", ".join(f"{n} {r.public:.3f}/{r.private:.3f} ({r.seconds:.0f}s)" for n, r in rep.runs.items())
          + f"; {sum(r.seconds for n, r in rep.runs.items() if n != 'starter'):.0f} s of reference runs")


# A last cell a student might add after writing the submission: an augmenting train_tfm (report Q1)
# and another Classifier, which gives 10 logits. The run's predictions are unchanged.
AFTER_SUBMISSION = '''
def train_tfm(img):
    x = test_tfm(img)
    if torch.rand(()) < 0.5:
        x = torch.flip(x, dims=[2])
    return (x * (0.8 + 0.4 * torch.rand(()))).clamp(0, 1)

class Classifier(nn.Module):
    def __init__(self):
        super().__init__()
        self.cnn = nn.Sequential(nn.Conv2d(3, 8, 3, 1, 1), nn.ReLU(), nn.AdaptiveAvgPool2d(1))
        self.fc = nn.Linear(8, 10)

    def forward(self, x):
        return self.fc(self.cnn(x).flatten(1))
'''


@pytest.mark.slow
def test_rerun_and_hidden_checks_in_a_sandbox(tmp_path):
    """`grade batch hw3 --rerun`: the unchanged starter reproduces its submission.csv and earns every
    code point; a hand-edited copy is flagged with the rows that differ; a notebook whose Classifier
    breaks loses that check's points (and its augmenting train_tfm passes the report's Q1)."""
    from grader.calibrate import _run_starter
    from grader.notebook import write_notebook

    backend = sandbox_backend()
    c = make(tmp_path)
    spec = api.assignment("hw3")
    api.prepare(c, "hw3")
    # One thread, as in the sandbox (execution.cpus = 1): the same arithmetic, the same predictions.
    run = _run_starter(spec, c.data_dir("hw03") / "release", tmp_path / "local", 1)
    assert not run.error, run.error
    honest = (tmp_path / "local" / "submission.csv").read_text()
    lines = honest.splitlines()
    i, v = lines[11].split(",")
    lines[11] = f"{i},{(int(v) + 1) % 11}"
    for student, pred, extra in (("s1", honest, None), ("s2", "\n".join(lines) + "\n", None),
                                 ("s3", honest, AFTER_SUBMISSION)):
        d = tmp_path / "class" / student
        d.mkdir(parents=True)
        (d / "submission.csv").write_text(pred)
        write_notebook(spec.folder / spec.starter.source, d / "HW03.ipynb")
        if extra:
            add_cell(d / "HW03.ipynb", extra)
    out = {o.student: o for o in api.batch(c, "hw3", tmp_path / "class", jobs=2, rerun=True, backend=backend)}
    checks = {s: {k.test: k for k in api.open_course(c.root).store.checks("hw03", s)} for s in out}
    code_points = sum(v for v in spec.execution.points.values())

    assert out["s1"].status == "scored" and out["s1"].rerun == "match", out["s1"]
    assert out["s1"].hidden_points == code_points == 2.0, checks["s1"]
    assert checks["s1"]["test_train_tfm_gives_five_distinct_outputs"].status == "failed"   # the TODO is not done

    assert out["s3"].rerun == "match", out["s3"]
    assert checks["s3"]["test_classifier_gives_11_logits_per_image"].status == "failed"
    assert "(16, 11)" in checks["s3"]["test_classifier_gives_11_logits_per_image"].message
    assert checks["s3"]["test_train_tfm_gives_five_distinct_outputs"].status == "passed"
    assert out["s3"].hidden_points == code_points - spec.execution.points["test_classifier_gives_11_logits_per_image"]

    assert out["s2"].rerun == "mismatch" and f"id {i}: " in out["s2"].rerun_message, out["s2"]
    failed = sorted(k for k, r in checks["s2"].items() if r.status == "failed")
    assert failed == ["test_notebook_reproduces_the_uploaded_predictions", "test_train_tfm_gives_five_distinct_outputs"]
    assert f"Id {i}: uploaded" in checks["s2"]["test_notebook_reproduces_the_uploaded_predictions"].message
    assert out["s2"].hidden_points == code_points - spec.execution.points["test_notebook_reproduces_the_uploaded_predictions"]
