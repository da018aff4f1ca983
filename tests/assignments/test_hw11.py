"""HW11 end to end: the generated real_or_drawing layout, the starter notebook, the release, the ladder, the sandbox."""

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


def make(tmp_path) -> Course:
    return Course.init(tmp_path / "c-hw11", homeworks={"hw11": {"deadline": "2022-06-03T23:59:00"}})


@pytest.fixture(scope="module")
def prepared(tmp_path_factory) -> Course:
    """One course with the ci data prepared, shared by the quick tests."""
    c = make(tmp_path_factory.mktemp("hw11"))
    api.prepare(c, "hw11")
    return c


def builder():
    spec = api.assignment("hw11")
    mod_spec = importlib.util.spec_from_file_location("hw11_data_test", spec.folder / "data.py")
    module = importlib.util.module_from_spec(mod_spec)
    mod_spec.loader.exec_module(module)
    return module


def build_small(tmp_path, name, seed=7, scale="ci", n=(3, 5)):
    """The generator with small counts (options), straight into a folder."""
    root = tmp_path / name
    ctx = BuildContext(seed=seed, source="generated", edition="2022", scale=scale, shared_data=None,
                       release_dir=root / "release", hidden_dir=root / "hidden", hidden_inputs_dir=root / "hidden_inputs",
                       options={"n_source_per_class": n[0], "n_target_per_class": n[1]})
    for d in (ctx.release_dir, ctx.hidden_dir, ctx.hidden_inputs_dir):
        d.mkdir(parents=True)
    builder().build(ctx)
    return root


def rows(path):
    with open(path, newline="") as f:
        return list(csv.reader(f))


def test_generated_layout_matches_the_course(prepared):
    c = prepared
    m = api.prepare(c, "hw11")                   # the cached build
    data = c.data_dir("hw11")
    root = data / "release" / "real_or_drawing"
    assert sorted(p.name for p in root.iterdir()) == ["test_data", "train_data"]
    train = root / "train_data"
    assert sorted(p.name for p in train.iterdir()) == [str(k) for k in range(10)], "one folder per class, 0-9"
    for k in range(10):
        names = sorted(p.name for p in (train / str(k)).iterdir())
        assert names == sorted(f"{n}.bmp" for n in range(100)), f"class {k}: 100 photos {{n}}.bmp (balanced)"
    assert [p.name for p in (root / "test_data").iterdir()] == ["0"], "the drawings sit in one folder, 0"
    tests = sorted(p.name for p in (root / "test_data" / "0").iterdir())
    assert tests == [f"{i:05d}.bmp" for i in range(3000)] and m["rows"] == 3000
    with Image.open(train / "0" / "0.bmp") as im:
        assert im.format == "BMP" and im.mode == "RGB" and im.size == (32, 32)
    with Image.open(root / "test_data" / "0" / "00000.bmp") as im:
        assert im.format == "BMP" and im.mode == "L" and im.size == (28, 28)
    sample = rows(data / "release" / "sample_submission.csv")
    assert sample[0] == ["id", "label"] and [r[0] for r in sample[1:]] == [str(i) for i in range(3000)]
    answers = rows(data / "hidden" / "answers.csv")
    assert answers[0] == ["id", "label"]
    assert np.bincount([int(r[1]) for r in answers[1:]]).tolist() == [300] * 10, "the drawings are label-balanced"
    hi = data / "hidden_inputs"
    assert {p.name for p in hi.iterdir()} == {"grl_x.npy", "grl_grad.npy", "grl_lambda.npy", "probe_images.npy"}
    assert np.load(hi / "probe_images.npy").shape == (16, 28, 28)


def test_same_seed_same_bytes_and_the_domains_differ(tmp_path):
    a, b = build_small(tmp_path, "a"), build_small(tmp_path, "b")
    files = sorted(p.relative_to(a) for p in a.rglob("*") if p.is_file())
    assert files and files == sorted(p.relative_to(b) for p in b.rglob("*") if p.is_file())
    assert all((a / f).read_bytes() == (b / f).read_bytes() for f in files)
    other = build_small(tmp_path, "other", seed=8)
    first = "release/real_or_drawing/test_data/0/00000.bmp"
    assert (other / first).read_bytes() != (a / first).read_bytes()
    # A photo is colourful, a drawing is a thin white line on black.
    with Image.open(a / "release/real_or_drawing/train_data/3/0.bmp") as im:
        photo = np.asarray(im, dtype=float)
    with Image.open(a / first) as im:
        drawing = np.asarray(im, dtype=float)
    assert photo.std(axis=2).mean() > 5, "photos are in colour"
    assert (drawing > 128).mean() < 0.35 and np.median(drawing) < 20, "drawings are strokes on black"


def test_starter_notebook_mirrors_the_course_sample_code():
    spec = api.assignment("hw11")
    source = (spec.folder / spec.starter.source).read_text()
    nb = build_notebook(source)
    nbformat.validate(nb)
    code = "\n".join(c.source for c in nb.cells if c.cell_type == "code")
    for name in ("def canny", "canny(gray, 170, 300)", "def source_transform", "def target_transform",
                 "class ImageFolder", "class FeatureExtractor", "class LabelPredictor", "class DomainClassifier",
                 "class GradReverse", "def grad_reverse", "class_criterion = nn.CrossEntropyLoss()",
                 "domain_criterion = nn.BCEWithLogitsLoss()", "optimizer_F = optim.Adam(feature_extractor.parameters())",
                 "optimizer_C = optim.Adam(label_predictor.parameters())",
                 "optimizer_D = optim.Adam(domain_classifier.parameters())",
                 "def train_epoch(source_dataloader, target_dataloader, lamb)", "lamb=0.1", "for epoch in range(1)",
                 "batch_size=32", "mixed_data = torch.cat([source_data, target_data], dim=0)", "feature.detach()",
                 "'extractor_model.bin'", "'predictor_model.bin'", "'DaNN_submission.csv'",
                 "pd.DataFrame({'id': np.arange(0,len(result)), 'label': result})"):
        assert name in code, name
    imported = {a.name.split(".")[0] for n in ast.walk(ast.parse(code)) if isinstance(n, (ast.Import, ast.ImportFrom))
                for a in (n.names if isinstance(n, ast.Import) else [ast.alias(n.module or "")])}
    assert not imported & {"torchvision", "cv2", "tqdm"}, "none is in the course image"
    fe = next(n for n in ast.parse(code).body if isinstance(n, ast.ClassDef) and n.name == "FeatureExtractor")
    calls = [ast.unparse(n.func) for n in ast.walk(fe) if isinstance(n, ast.Call)]
    assert [calls.count(f"nn.{k}") for k in ("Conv2d", "BatchNorm2d", "MaxPool2d")] == [5, 5, 5]
    assert any(c.cell_type == "markdown" and "t-SNE" in c.source for c in nb.cells)
    # The simple reference is the starter's training: same seed, epochs, batch size, lambda and lr.
    ref = (catalog.REPO_ROOT / spec.baselines["simple"].solution).read_text()
    for field, value in (("seed", "0"), ("n_epochs", "1"), ("batch_size", "32"), ("lamb", "0.1"), ("lr", "1e-3")):
        m = re.search(rf"^    {field}: \w+ = ([\d.e-]+)", ref, re.M)
        assert m and float(m[1]) == float(value), f"simple.py Config.{field} differs from the starter"
    assert re.search(r"^    schedule: bool = False", ref, re.M) and re.search(r"^    self_rounds: int = 0", ref, re.M)


def test_starter_grad_reverse_is_a_gradient_reversal_layer():
    import torch

    from grader.sandbox import probelib
    from grader.notebook import write_notebook
    import tempfile, pathlib
    spec = api.assignment("hw11")
    with tempfile.TemporaryDirectory() as d:
        nb = pathlib.Path(d) / "HW11.ipynb"
        write_notebook(spec.folder / spec.starter.source, nb)
        sub, problems = probelib.load_definitions(nb)
    x = torch.randn(4, 5, requires_grad=True)
    y = sub.grad_reverse(x, 0.3)
    assert torch.equal(y, x)
    g = torch.randn(4, 5)
    y.backward(g)
    assert torch.allclose(x.grad, -0.3 * g)


def test_release_bundle_is_complete_and_clean(prepared, tmp_path):
    c = prepared
    dest = api.release(c, "hw11", tmp_path / "out")        # refuses (raises) when the scan finds a leak
    names = {p.name for p in dest.iterdir()}
    assert {"README.md", "HW11.ipynb", "real_or_drawing", "sample_submission.csv", "assignment.json", "tests"} <= names
    assert len(list((dest / "real_or_drawing" / "test_data" / "0").iterdir())) == 3000
    assert (dest / "tests" / "public" / "test_format.py").is_file()
    assert not list(dest.rglob("answers.csv")) and not list(dest.rglob("probe.py"))
    assert not list(dest.rglob("grl_*.npy")) and not list(dest.rglob("probe_images.npy"))
    from grader.release import scan_bundle
    assert scan_bundle(c, api.assignment("hw11"), dest) == []


def test_malformed_submissions_get_precise_messages(prepared):
    c = prepared
    spec = api.assignment("hw11")
    ids = np.array([int(r[0]) for r in rows(c.data_dir("hw11") / "release" / "sample_submission.csv")[1:]])
    good = "id,label\n" + "".join(f"{i},3\n" for i in ids)
    validate(good.encode(), "DaNN_submission.csv", spec.submission, ids)

    def problems(text):
        with pytest.raises(Invalid) as e:
            validate(text.encode(), "DaNN_submission.csv", spec.submission, ids)
        return str(e.value)

    assert "header is 'Id,Category'" in problems(good.replace("id,label", "Id,Category"))
    assert "line 3: 'star' in column label is not an integer" in problems(good.replace("\n1,3", "\n1,star"))
    assert "2,999 rows, expected 3,000" in problems(good.rsplit("\n", 2)[0] + "\n")


@pytest.mark.slow
def test_ladder_calibrates_with_the_starter(tmp_path):
    c = make(tmp_path)
    # One pass: calibrate runs the starter too and records nothing unless it lands between simple and
    # medium, which is what verify checks (tests/test_calibrate.py covers verify itself).
    rep = api.calibrate(c, "hw11", with_starter=True)
    assert rep.ok, rep.problems
    for board in ("public", "private"):
        scores = [getattr(rep.runs[lv], board) for lv in LEVELS]
        assert scores == sorted(scores)
    assert rep.runs["starter"].pred.read_bytes() == rep.runs["simple"].pred.read_bytes()
    print("\nHW11: " + ", ".join(f"{n} {r.public:.3f}/{r.private:.3f} ({r.seconds:.0f}s)" for n, r in rep.runs.items())
          + f"; {sum(r.seconds for n, r in rep.runs.items() if n != 'starter'):.0f} s of reference runs")


# A last cell a student might add after writing the submission: a gradient-reversal layer that forgets
# lambda (the gradient is only negated). The run's predictions are unchanged.
BROKEN_GRL = '''
class GradReverse(torch.autograd.Function):
    @staticmethod
    def forward(ctx, x, lamb):
        return x.view_as(x)

    @staticmethod
    def backward(ctx, grad_output):
        return -grad_output, None
'''


@pytest.mark.slow
def test_rerun_and_hidden_checks_in_a_sandbox(tmp_path):
    """`grade batch hw11 --rerun`: the unchanged starter reproduces its DaNN_submission.csv and earns every
    code point; a hand-edited copy is flagged with the rows that differ; a notebook whose gradient-reversal
    layer ignores lambda loses that check's points."""
    from grader.calibrate import _run_starter
    from grader.notebook import write_notebook

    backend = sandbox_backend()
    c = make(tmp_path)
    spec = api.assignment("hw11")
    api.prepare(c, "hw11")
    # One thread, as in the sandbox (execution.cpus = 1): the same arithmetic, the same predictions.
    run = _run_starter(spec, c.data_dir("hw11") / "release", tmp_path / "local", 1)
    assert not run.error, run.error
    honest = (tmp_path / "local" / "DaNN_submission.csv").read_text()
    lines = honest.splitlines()
    i, v = lines[11].split(",")
    lines[11] = f"{i},{(int(v) + 1) % 10}"
    for student, pred, extra in (("s1", honest, None), ("s2", "\n".join(lines) + "\n", None),
                                 ("s3", honest, BROKEN_GRL)):
        d = tmp_path / "class" / student
        d.mkdir(parents=True)
        (d / "DaNN_submission.csv").write_text(pred)
        write_notebook(spec.folder / spec.starter.source, d / "HW11.ipynb")
        if extra:
            add_cell(d / "HW11.ipynb", extra)
    out = {o.student: o for o in api.batch(c, "hw11", tmp_path / "class", jobs=2, rerun=True, backend=backend)}
    checks = {s: {k.test: k for k in api.open_course(c.root).store.checks("hw11", s)} for s in out}
    code_points = sum(v for v in spec.execution.points.values())
    backward = "test_grad_reverse_backward_is_minus_lambda_times_the_gradient"

    assert out["s1"].status == "scored" and out["s1"].rerun == "match", out["s1"]
    assert out["s1"].hidden_points == code_points == 2.0, checks["s1"]

    assert out["s3"].rerun == "match", out["s3"]
    assert checks["s3"][backward].status == "failed"
    assert "-1 * grad" in checks["s3"][backward].message, checks["s3"][backward].message
    assert checks["s3"]["test_grad_reverse_forward_is_the_identity"].status == "passed"
    assert out["s3"].hidden_points == code_points - spec.execution.points[backward]

    assert out["s2"].rerun == "mismatch" and f"id {i}: " in out["s2"].rerun_message, out["s2"]
    failed = sorted(k for k, r in checks["s2"].items() if r.status == "failed")
    assert failed == ["test_notebook_reproduces_the_uploaded_predictions"]
    assert f"id {i}: uploaded" in checks["s2"]["test_notebook_reproduces_the_uploaded_predictions"].message
    assert out["s2"].hidden_points == code_points - spec.execution.points["test_notebook_reproduces_the_uploaded_predictions"]
